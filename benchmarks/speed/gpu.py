"""GPU checks and speed table, in one run on a CUDA machine.

1. The CUDA tests of the suite (``pytest -k "cuda or device"`` over the test
   files that hold them).
2. CPU-vs-CUDA agreement: the same seeded short fit on both devices gives
   probabilities within ``--tolerance``; a CUDA-fitted model pickled and saved
   with ``save_model`` predicts the same in a process that sees no GPU.
3. Speed: time per optimiser step of a meta step against one plain
   forward/backward over the same rows, ``n_estimators`` 1 against 8, the
   epoch time of default fits on 1M x 50 rows (the row-adaptive and the fixed
   geometry) and a whole default fit there, and peak GPU memory. Step
   times come from ``history_`` (epochs after the first, which pays for CUDA's
   warm-up).

    python benchmarks/speed/gpu.py [--skip-tests] [--rows 1000000]

Without CUDA it runs the same code on the CPU with small sizes, as a check of
the script itself (``--dry-run``).
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_classification

from skmetabalance import (
    BalancedNetClassifier,
    MetaBalanceClassifier,
    save_model,
)

ROOT = Path(__file__).resolve().parents[2]
TEST_FILES = [
    "tests/test_classifier.py",
    "tests/test_bad_input.py",
    "tests/test_persistence.py",
    "tests/test_ensemble.py",
]


def _data(rows, features, seed=0, positives=0.05):
    X, y = make_classification(
        rows,
        features,
        n_informative=max(2, features // 2),
        weights=[1 - positives],
        flip_y=0.01,
        random_state=seed,
    )
    X = (X - X.mean(0)) / X.std(0)
    return X.astype(np.float32), y


def run_tests():
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    cmd += TEST_FILES + ["-k", "cuda or device"]
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT).returncode


def agreement(device, tolerance):
    X, y = _data(2000, 10)
    worst = 0.0
    for cls, kw in (
        (MetaBalanceClassifier, {}),
        (MetaBalanceClassifier, dict(first_order=False, n_estimators=3)),
        (BalancedNetClassifier, dict(sampler="over")),
    ):
        common = dict(max_iter=3, early_stopping=False, random_state=0, **kw)
        cpu = cls(device="cpu", **common).fit(X, y).predict_proba(X)
        est = cls(device=device, **common).fit(X, y)
        gpu = est.predict_proba(X)
        diff = float(np.abs(cpu - gpu).max())
        worst = max(worst, diff)
        print(f"  {cls.__name__} {kw}: max |p_cpu - p_{device}| = {diff:.2e}")
        with tempfile.TemporaryDirectory() as tmp:
            pkl, st, xs, ps = (
                Path(tmp) / n for n in ("m.pkl", "m.st", "x.npy", "p.npy")
            )
            pkl.write_bytes(pickle.dumps(est))
            save_model(est, st)
            np.save(xs, X)
            np.save(ps, gpu)
            code = (
                "import pickle, numpy as np, torch\n"
                "from skmetabalance import load_model\n"
                "assert not torch.cuda.is_available()\n"
                f"X, p = np.load({str(xs)!r}), np.load({str(ps)!r})\n"
                f"a = pickle.loads(open({str(pkl)!r}, 'rb').read()).predict_proba(X)\n"
                f"b = load_model({str(st)!r}).predict_proba(X)\n"
                "print(float(np.abs(a - p).max()), float(np.abs(b - p).max()))\n"
            )
            env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
            out = subprocess.run(
                [sys.executable, "-c", code],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            a, b = (float(v) for v in out.stdout.split())
            print(f"    unpickled / loaded on a CPU-only process: {a:.2e} / {b:.2e}")
            worst = max(worst, a, b)
    verdict = "PASS" if worst <= tolerance else "FAIL"
    print(f"  agreement {verdict}: worst {worst:.2e}, tolerance {tolerance:.0e}")
    return worst <= tolerance


def _step_seconds(est, X, y):
    """Median seconds per optimiser step over the epochs after the first."""
    est.fit(X, y)
    per_epoch = [rec["dur"] for rec in est.history_[1:]]
    steps = est.history_[0]["steps"]
    return float(np.median(per_epoch)) / steps, est.n_steps_


def _sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def speed(device, rows, epochs):
    X, y = _data(20_000, 50)
    print(f"\n  {'case':58s} {'s/step':>9s} {'ratio':>6s}")

    def row(name, seconds, ref):
        print(f"  {name:58s} {seconds * 1e3:8.3f}ms {seconds / ref:6.2f}", flush=True)

    common = dict(device=device, max_iter=epochs, early_stopping=False, random_state=0)
    for k, b in ((4, 16), (16, 64), (81, 64)):
        meta, _ = _step_seconds(
            MetaBalanceClassifier(
                tasks_per_step=k, batch_size=b, outer_batch_size=b, **common
            ),
            X,
            y,
        )
        # one plain step over the same rows: K * (inner + outer) rows
        plain, _ = _step_seconds(
            BalancedNetClassifier(sampler="over", batch_size=2 * k * b, **common), X, y
        )
        row(f"plain forward/backward, {2 * k * b} rows", plain, plain)
        row(f"meta step, K={k}, {b}+{b} rows (first order)", meta, plain)
        second, _ = _step_seconds(
            MetaBalanceClassifier(
                tasks_per_step=k,
                batch_size=b,
                outer_batch_size=b,
                first_order=False,
                **common,
            ),
            X,
            y,
        )
        row(f"meta step, K={k}, {b}+{b} rows (second order)", second, plain)
    for cls, kw in (
        (MetaBalanceClassifier, {}),
        (BalancedNetClassifier, {"sampler": "over"}),
    ):
        one, _ = _step_seconds(cls(n_estimators=1, **kw, **common), X, y)
        row(f"{cls.__name__} defaults, n_estimators=1", one, one)
        for e in (8, 16):
            many, _ = _step_seconds(cls(n_estimators=e, **kw, **common), X, y)
            row(f"{cls.__name__} defaults, n_estimators={e}", many, one)

    print(f"\n  {rows:,} x 50 rows (1 % positives)")
    X, y = _data(rows, 50, positives=0.01)
    one = {**common, "max_iter": 1}
    for name, est in (
        ("MetaBalanceClassifier(), one epoch", MetaBalanceClassifier(**one)),
        (
            "MetaBalanceClassifier(geometry='fixed'), one epoch (a pass)",
            MetaBalanceClassifier(geometry="fixed", **one),
        ),
        (
            "MetaBalanceClassifier(tasks_per_step=16, batch 256+256), one epoch",
            MetaBalanceClassifier(
                tasks_per_step=16, batch_size=256, outer_batch_size=256, **one
            ),
        ),
        (
            "BalancedNetClassifier(sampler='over'), one epoch",
            BalancedNetClassifier(sampler="over", **one),
        ),
        (
            "MetaBalanceClassifier(), whole default fit (early stopping)",
            MetaBalanceClassifier(device=device, random_state=0),
        ),
    ):
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        _sync(device)
        t0 = time.perf_counter()
        est.fit(X, y)
        _sync(device)
        total = time.perf_counter() - t0
        peak = (
            torch.cuda.max_memory_allocated() / 2**20
            if device.startswith("cuda")
            else float("nan")
        )
        epoch = float(np.median([h["dur"] for h in est.history_]))
        print(
            f"  {name:66s} fit {total:7.2f}s, epoch {epoch:7.2f}s, "
            f"{est.n_iter_} epochs, {est.n_steps_} steps of "
            f"{est.geometry_['rows_per_step']} rows, peak GPU memory {peak:8.1f} MiB",
            flush=True,
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=1e-3)
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    if not cuda and not args.dry_run:
        parser.error("no CUDA device: use --dry-run to check the script on the CPU")
    if cuda:
        print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
    ok = True
    if not args.skip_tests:
        ok &= run_tests() == 0
    print("\nCPU vs", device)
    ok &= agreement(device, args.tolerance)
    print("\nspeed on", device)
    speed(device, args.rows, args.epochs)
    print("\nALL CHECKS PASSED" if ok else "\nSOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
