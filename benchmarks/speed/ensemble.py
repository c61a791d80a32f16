"""Fit time and peak memory of ensembles (``n_estimators``) in one run.

For each network setting and each number of members E, one fit with a fixed
number of epochs runs in a fresh process (so that its peak resident memory is
its own); the E values alternate within each repeat and the median time is
reported with its ratio to E = 1. Before the timed fit, each process runs one
short fit of the same estimator on 500 rows, so that the time is of the fit
itself and not of the imports and first-use costs every fresh process pays
once (``--cold`` times the first fit instead). Settings:

* ``default``: ``MetaBalanceClassifier()`` (MLP 64-64, K = 4, 16 + 16 rows) on
  10,000 x 20 generated rows with 5 % positives;
* ``loan``: the published loan-default setting (12-25-1 network, K = 81, 24 + 16
  rows, SGD lr 0.02) on 8,000 x 12 generated rows with 5 % positives;
* ``plain``: ``BalancedNetClassifier(sampler="over")`` on the default rows.

    python benchmarks/speed/ensemble.py [--repeats 3] [--epochs 5] [--cold]
"""

from __future__ import annotations

import argparse
import statistics

from _common import run_child

SETTINGS = {
    "default": (
        "MetaBalanceClassifier",
        {},
        (10_000, 20),
    ),
    "loan": (
        "MetaBalanceClassifier",
        dict(
            hidden_layer_sizes=(25,),
            tasks_per_step=81,
            batch_size=24,
            outer_batch_size=16,
            inner_loss_weight=0.01,
            outer_sampler="smote",
        ),
        (8_000, 12),
    ),
    "plain": ("BalancedNetClassifier", dict(sampler="over"), (10_000, 20)),
}

_CHILD = """
import json, resource, sys, time
from sklearn.datasets import make_classification
import skmetabalance
cls, params, shape, epochs, members, warm = json.loads(sys.argv[1])
X, y = make_classification(shape[0], shape[1], n_informative=shape[1] // 2,
                           weights=[0.95], random_state=0)
make = lambda **kw: getattr(skmetabalance, cls)(early_stopping=False,
                                                random_state=0, **params, **kw)
if warm:
    make(max_iter=1, n_estimators=members).fit(X[:500], y[:500])
est = make(max_iter=epochs, n_estimators=members)
t0 = time.perf_counter()
est.fit(X, y)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps([seconds, peak, est.n_steps_]))
"""


def _run(cls, params, shape, epochs, members, warm):
    return run_child(_CHILD, [cls, params, shape, epochs, members, warm])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--members", type=int, nargs="*", default=[1, 2, 4, 8, 16])
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    parser.add_argument(
        "--cold",
        action="store_true",
        help="time the first fit of each process (imports included)",
    )
    args = parser.parse_args(argv)
    print(f"{'setting':8s} {'E':>3s} {'fit s':>8s} {'x E=1':>6s} {'peak MB':>8s} steps")
    for name in args.settings:
        cls, params, shape = SETTINGS[name]
        times = {e: [] for e in args.members}
        peaks = {e: [] for e in args.members}
        steps = {}
        for _ in range(args.repeats):
            for e in args.members:
                seconds, peak, n_steps = _run(
                    cls, params, shape, args.epochs, e, not args.cold
                )
                times[e].append(seconds)
                peaks[e].append(peak)
                steps[e] = n_steps
        base = statistics.median(times[args.members[0]])
        for e in args.members:
            t = statistics.median(times[e])
            print(
                f"{name:8s} {e:3d} {t:8.2f} {t / base:6.2f} {max(peaks[e]):8.0f} "
                f"{steps[e]}",
                flush=True,
            )


if __name__ == "__main__":
    main()
