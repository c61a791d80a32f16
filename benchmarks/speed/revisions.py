"""Fit and predict speed of two revisions of the package, interleaved in one run.

Each revision is checked out into a temporary git worktree; every case runs in
a fresh process per revision, alternating between the revisions, and the
median time over the repeats is compared. Machines shared with other jobs make
absolute times noisy, so read the ratio column.

    python benchmarks/speed/revisions.py 06015a6 HEAD --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

# Each case builds its data with a fixed seed and times one public call.
CASES = {
    "meta fit, defaults (20k x 20, 3 epochs)": """
est = MetaBalanceClassifier(max_iter=3, early_stopping=False, random_state=0)
run = lambda: est.fit(X, y)
""",
    "meta fit, second order (20k x 20, 3 epochs)": """
est = MetaBalanceClassifier(max_iter=3, early_stopping=False, first_order=False,
                            random_state=0)
run = lambda: est.fit(X, y)
""",
    "meta fit, K=81 12-25-1 (20k x 20, 3 epochs)": """
est = MetaBalanceClassifier(max_iter=3, early_stopping=False, tasks_per_step=81,
                            batch_size=24, outer_batch_size=16,
                            hidden_layer_sizes=(25,), random_state=0)
run = lambda: est.fit(X, y)
""",
    "meta fit, one network, K=16 32+32 (20k x 20, 3 epochs)": """
est = MetaBalanceClassifier(max_iter=3, early_stopping=False, n_estimators=1,
                            tasks_per_step=16, batch_size=32, outer_batch_size=32,
                            inner_sampler=None, geometry="fixed", random_state=0)
run = lambda: est.fit(X, y)
""",
    "meta fit, one network, K=1 32+32, second order (20k x 20, 1 epoch)": """
est = MetaBalanceClassifier(max_iter=1, early_stopping=False, n_estimators=1,
                            tasks_per_step=1, batch_size=32, outer_batch_size=32,
                            inner_sampler=None, geometry="fixed", first_order=False,
                            random_state=0)
run = lambda: est.fit(X, y)
""",
    "plain fit, ROS (20k x 20, 3 epochs)": """
est = BalancedNetClassifier(sampler="over", max_iter=3, early_stopping=False,
                            random_state=0)
run = lambda: est.fit(X, y)
""",
    "meta fit, early stopping (20k x 20, 5 epochs)": """
est = MetaBalanceClassifier(max_iter=5, early_stopping=True, n_iter_no_change=50,
                            random_state=0)
run = lambda: est.fit(X, y)
""",
    "predict_proba (1M x 20)": """
est = MetaBalanceClassifier(max_iter=1, early_stopping=False, random_state=0)
est.fit(X, y)
X_big = np.random.RandomState(1).randn(1_000_000, 20)
run = lambda: est.predict_proba(X_big)
""",
}

_RUNNER = """
import sys, time, json
sys.path.insert(0, {path!r})
import numpy as np
from sklearn.datasets import make_classification
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
assert MetaBalanceClassifier.__module__.startswith("skmetabalance")
X, y = make_classification(20_000, 20, n_informative=10, weights=[0.95],
                           random_state=0)
{case}
run()  # warm-up
t0 = time.perf_counter()
run()
print(json.dumps(time.perf_counter() - t0))
"""


def _worktree(rev, root):
    path = Path(tempfile.mkdtemp(prefix="skmb-rev-"))
    subprocess.run(
        ["git", "-C", str(root), "worktree", "add", "--detach", str(path), rev],
        check=True,
        capture_output=True,
    )
    return path


def _time(path, case):
    code = _RUNNER.format(path=str(path), case=case)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=None)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    trees = [_worktree(args.before, root), _worktree(args.after, root)]
    try:
        names = args.cases or list(CASES)
        width = max(map(len, names))
        print(f"{'case':{width}s} {args.before:>10s} {args.after:>10s} {'ratio':>7s}")
        for name in names:
            times = ([], [])
            for _ in range(args.repeats):
                for i, tree in enumerate(trees):
                    times[i].append(_time(tree, CASES[name]))
            a, b = (statistics.median(t) for t in times)
            print(f"{name:{width}s} {a:9.3f}s {b:9.3f}s {b / a:7.2f}", flush=True)
    finally:
        for tree in trees:
            subprocess.run(
                ["git", "-C", str(root), "worktree", "remove", "--force", str(tree)],
                capture_output=True,
            )


if __name__ == "__main__":
    main()
