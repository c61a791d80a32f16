"""Stress check: a grid search on fresh Dask clusters gives the local scores.

Runs one grid search sequentially in this process, then the same search on
``--clusters`` fresh ``LocalCluster(n_workers, threads_per_worker)`` clusters
through joblib's Dask backend, and compares the score of every fit exactly.
Fits share a worker process when a worker has several threads, and also with
one thread: SMOTE's neighbour search goes through joblib, so a task secedes
inside it and the worker starts the next fit beside it. Exits with status 1
when any fit differs.

    python benchmarks/reliability/stress_dask_fresh_clusters.py --clusters 10
    python benchmarks/reliability/stress_dask_fresh_clusters.py --workers 1 \
        --threads-per-worker 2 --dropout 0.2
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import joblib
import numpy as np
from distributed import Client, LocalCluster
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import skmetabalance
from skmetabalance import MetaBalanceClassifier


def search(dropout):
    return GridSearchCV(
        MetaBalanceClassifier(max_iter=3, dropout=dropout, random_state=0),
        {
            "outer_sampler": [RandomOverSampler(random_state=0), SMOTE(random_state=0)],
            "inner_lr": [0.01, 0.1],
        },
        scoring="average_precision",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        refit=False,
        n_jobs=-1,
    )


def split_scores(fitted):
    res = fitted.cv_results_
    return np.array([res[f"split{i}_test_score"] for i in range(fitted.n_splits_)]).T


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    # The workers import the package this process imported.
    root = str(Path(skmetabalance.__file__).resolve().parents[1])
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [root, os.environ.get("PYTHONPATH")])
    )
    X, y = make_classification(2000, 10, weights=[0.95], random_state=0)
    t0 = time.perf_counter()
    with joblib.parallel_config(backend="sequential"):
        ref = split_scores(search(args.dropout).fit(X, y))
    print(f"sequential: {time.perf_counter() - t0:.1f} s, {ref.size} fits")
    bad = 0
    for run in range(args.clusters):
        t0 = time.perf_counter()
        with (
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=args.threads_per_worker,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster),
            joblib.parallel_config(backend="dask"),
        ):
            got = split_scores(search(args.dropout).fit(X, y))
        diff = np.abs(got - ref)
        where = [(int(c), int(f)) for c, f in zip(*np.nonzero(diff))]
        bad += bool(where)
        print(
            f"cluster {run + 1:2d}: {time.perf_counter() - t0:5.1f} s, "
            f"max |diff| {diff.max():.2e}, differing (candidate, fold): {where}"
        )
    print(
        f"{args.workers} worker(s) x {args.threads_per_worker} thread(s), "
        f"dropout={args.dropout}"
    )
    verdict = "FAIL" if bad else "OK"
    print(f"{verdict}: {bad} of {args.clusters} fresh clusters differed")
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
