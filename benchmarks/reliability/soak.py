"""Soak: many consecutive fits in one process leave nothing behind.

Runs ``--fits`` fits (200 by default) of both estimators with parameters that
vary from fit to fit: binary and multiclass data, samplers, first and second
order, early stopping on and off, dropout, ensembles, warm starts and a custom
module factory, on small data and few epochs. After each fit (and a predict)
it records the resident memory, open file descriptors and live threads
(Python's, and the process's own, which include torch's thread pools).

It prints the memory curve compactly and a verdict on growth after warm-up
(the least-squares slope over the last half of the fits), and checks that
torch's thread count, its default dtype, the global numpy, torch and Python
random states, the open file descriptors and the live Python threads are the
same after the last fit as before the first, and that the process's threads
(thread pools start on first use) did not change over the last half. Exits
with status 1 on a failed check.

    python benchmarks/reliability/soak.py
"""

import argparse
import gc
import itertools
import random
import threading
import time
import warnings

import numpy as np
import psutil
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from sklearn.datasets import make_classification
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

#: Growth over the last half of the fits above which the verdict is a leak.
MAX_SLOPE_MIB_PER_100_FITS = 1.0


class TinyNet(nn.Module):
    """A custom module factory: LayerNorm, GELU and dropout."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_features, 12), nn.LayerNorm(12), nn.GELU(), nn.Dropout(0.1)
        )
        self.head = nn.Linear(12, n_outputs)

    def forward(self, x):
        return self.head(self.body(x))


def datasets():
    X2, y2 = make_classification(300, 8, n_informative=5, weights=[0.9], random_state=0)
    X3, y3 = make_classification(
        360, 8, n_informative=5, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=1
    )
    return {"binary": (X2, y2), "multiclass": (X3, y3)}


def configs():
    """An endless, varied sequence of (estimator, data name)."""
    samplers = [None, RandomOverSampler(), RandomUnderSampler(), SMOTE(k_neighbors=3)]
    for i in itertools.count():
        data = "binary" if i % 2 == 0 else "multiclass"
        sampler = samplers[i % len(samplers)]
        early = [True, False, "auto"][i % 3]
        common = dict(max_iter=2 + i % 3, early_stopping=early, random_state=i)
        kind = i % 5
        if kind == 0:
            est = MetaBalanceClassifier(
                hidden_layer_sizes=(16,), outer_sampler=sampler, **common
            )
        elif kind == 1:
            est = MetaBalanceClassifier(
                hidden_layer_sizes=(8, 8),
                inner_sampler=sampler,
                first_order=False,
                dropout=0.2,
                **common,
            )
        elif kind == 2:
            est = BalancedNetClassifier(TinyNet, sampler=sampler, **common)
        elif kind == 3:
            est = BalancedNetClassifier(
                hidden_layer_sizes=(16,),
                class_weight="balanced",
                n_estimators=3,
                **common,
            )
        else:
            est = MetaBalanceClassifier(
                TinyNet, outer_sampler=sampler, warm_start=True, **common
            )
        yield est, data


def global_state():
    return {
        "torch threads": torch.get_num_threads(),
        "default dtype": torch.get_default_dtype(),
        "numpy RNG": np.random.get_state()[1].tobytes(),  # noqa: NPY002
        "torch RNG": torch.get_rng_state().numpy().tobytes(),
        "python RNG": random.getstate(),
    }


def slope(y):
    """Least-squares slope of ``y`` per step."""
    x = np.arange(len(y), dtype=float)
    return float(np.polyfit(x, np.asarray(y, dtype=float), 1)[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=200)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    proc = psutil.Process()
    data = datasets()
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    random.seed(1)
    before = global_state()
    fds0, threads0 = proc.num_fds(), threading.active_count()
    os_threads0 = proc.num_threads()
    rss, fds, threads, os_threads = [], [], [], []
    t0 = time.perf_counter()
    for est, name in itertools.islice(configs(), args.fits):
        X, y = data[name]
        est.fit(X, y)
        if est.warm_start:
            est.fit(X, y)  # continue the same fit
        est.predict_proba(X[:50])
        del est
        gc.collect()
        rss.append(proc.memory_info().rss / 2**20)
        fds.append(proc.num_fds())
        threads.append(threading.active_count())
        os_threads.append(proc.num_threads())
    seconds = time.perf_counter() - t0

    n = len(rss)
    print(f"{n} fits in {seconds:.0f} s ({seconds / n:.2f} s per fit)")
    step = max(1, n // 20)
    curve = " ".join(f"{rss[i]:.0f}" for i in range(0, n, step))
    print(f"resident memory (MiB) every {step} fits: {curve} | last {rss[-1]:.0f}")
    half = rss[n // 2 :]
    growth = slope(half) * 100
    print(
        f"after warm-up: first half +{rss[n // 2 - 1] - rss[0]:.1f} MiB, "
        f"last half slope {growth:+.2f} MiB per 100 fits "
        f"(range {min(half):.1f}-{max(half):.1f} MiB)"
    )
    print(
        f"file descriptors {fds0} -> {fds[-1]} (max {max(fds)}); "
        f"Python threads {threads0} -> {threads[-1]} (max {max(threads)}); "
        f"process threads {os_threads0} -> {os_threads[-1]} "
        f"(halfway {os_threads[n // 2]}, max {max(os_threads)})"
    )
    after = global_state()
    failures = [key for key in before if before[key] != after[key]]
    if growth > MAX_SLOPE_MIB_PER_100_FITS:
        failures.append(f"memory grows {growth:.2f} MiB per 100 fits")
    if fds[-1] != fds0:
        failures.append("file descriptors")
    if threads[-1] != threads0:
        failures.append("threads")
    if os_threads[-1] != os_threads[n // 2]:
        failures.append("process threads changed over the last half")
    for key in before:
        same = "unchanged" if key not in failures else "CHANGED"
        print(f"{key}: {same}")
    print("OK" if not failures else f"FAIL: {failures}")
    raise SystemExit(1 if failures else 0)


if __name__ == "__main__":
    main()
