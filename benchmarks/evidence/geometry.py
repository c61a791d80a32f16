"""Does the row-adaptive geometry keep the quality of the small-step one?

``geometry='auto'`` (the default) trains exactly as ``geometry='fixed'`` on
sets of up to 32,768 rows in the set an epoch passes over; beyond, batches and
learning rate grow and, past 131,072 rows, an epoch covers part of a pass. Of
the bundled data sets only ``shuttle`` and ``shuttle_fraud`` are large enough
for a fit on their training rows to change. This study fits both geometries
on them, for ``MetaBalanceClassifier()`` and
``BalancedNetClassifier(sampler=RandomOverSampler())``.

Protocol (nothing here looks at a test split):

* Five repeated stratified 70/30 train/test splits per set (seed ``r``), as the
  benchmark command splits them; the test rows are dropped.
* The training rows are split again, stratified 75/25 (seed ``r``); models are
  fitted on the first part (``StandardScaler`` in front) and scored on the
  second with average precision.
* Per-fit results go to ``results/geometry.csv``, one row per (set, split,
  model, geometry); a rerun skips the rows that exist.
* A per-set mean difference counts as a win or loss only beyond twice its
  standard error over the splits and at least 0.005 AP; otherwise it is a tie.

    python benchmarks/evidence/geometry.py run
    python benchmarks/evidence/geometry.py report
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from pathlib import Path

import numpy as np
from _common import paired_verdict
from imblearn.over_sampling import RandomOverSampler
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

RESULTS = Path(__file__).parent / "results" / "geometry.csv"
FIELDS = [
    "dataset",
    "split",
    "model",
    "geometry",
    "ap",
    "fit_seconds",
    "n_iter",
    "n_steps",
    "rows_per_step",
]
DATASETS = ("shuttle", "shuttle_fraud")
MODELS = ("metabalance", "net_ros")
GEOMETRIES = ("fixed", "auto")
N_SPLITS = 5
MIN_EFFECT = 0.005


def _estimator(model, geometry, seed):
    if model == "metabalance":
        net = MetaBalanceClassifier(geometry=geometry, random_state=seed)
    else:
        net = BalancedNetClassifier(
            sampler=RandomOverSampler(random_state=seed),
            geometry=geometry,
            random_state=seed,
        )
    return make_pipeline(StandardScaler(), net)


def _rows():
    if not RESULTS.exists():
        return []
    with open(RESULTS) as fh:
        return list(csv.DictReader(fh))


def run():
    done = {(r["dataset"], int(r["split"]), r["model"], r["geometry"]) for r in _rows()}
    new_file = not RESULTS.exists()
    with open(RESULTS, "a", newline="") as fh:
        writer = csv.DictWriter(fh, FIELDS)
        if new_file:
            writer.writeheader()
        for name in DATASETS:
            bunch = load_dataset(name)
            X, y = np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target)
            for split in range(N_SPLITS):
                X_dev, _, y_dev, _ = train_test_split(
                    X, y, test_size=0.3, stratify=y, random_state=split
                )
                X_tr, X_va, y_tr, y_va = train_test_split(
                    X_dev, y_dev, test_size=0.25, stratify=y_dev, random_state=split
                )
                for model in MODELS:
                    for geometry in GEOMETRIES:
                        if (name, split, model, geometry) in done:
                            continue
                        est = _estimator(model, geometry, split)
                        t0 = time.perf_counter()
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            est.fit(X_tr, y_tr)
                        seconds = time.perf_counter() - t0
                        net = est[-1]
                        row = {
                            "dataset": name,
                            "split": split,
                            "model": model,
                            "geometry": geometry,
                            "ap": round(
                                average_precision_score(
                                    y_va, est.predict_proba(X_va)[:, 1]
                                ),
                                6,
                            ),
                            "fit_seconds": round(seconds, 3),
                            "n_iter": net.n_iter_,
                            "n_steps": net.n_steps_,
                            "rows_per_step": net.geometry_["rows_per_step"],
                        }
                        writer.writerow(row)
                        fh.flush()
                        print(row, flush=True)


def report():
    rows = _rows()
    by = {(r["dataset"], int(r["split"]), r["model"], r["geometry"]): r for r in rows}
    print(
        f"{'dataset':14s} {'model':12s} {'fixed AP':>9s} {'auto AP':>9s} "
        f"{'diff':>8s} {'se':>7s} {'verdict':>8s} {'fixed s':>8s} {'auto s':>8s} "
        f"{'rows/step':>10s}"
    )
    for name in DATASETS:
        for model in MODELS:
            pairs = [
                (by[(name, s, model, "fixed")], by[(name, s, model, "auto")])
                for s in range(N_SPLITS)
                if (name, s, model, "fixed") in by and (name, s, model, "auto") in by
            ]
            if len(pairs) < 2:
                continue
            d = [float(a["ap"]) - float(f["ap"]) for f, a in pairs]
            mean, se, verdict = paired_verdict(d, MIN_EFFECT)

            def avg(key, which, pairs=pairs):
                return np.mean([float(p[which][key]) for p in pairs])

            print(
                f"{name:14s} {model:12s} {avg('ap', 0):9.4f} {avg('ap', 1):9.4f} "
                f"{mean:+8.4f} {se:7.4f} {verdict:>8s} {avg('fit_seconds', 0):8.1f} "
                f"{avg('fit_seconds', 1):8.1f} {pairs[0][1]['rows_per_step']:>10s}"
                f"  ({len(pairs)} splits)"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report"])
    args = parser.parse_args(argv)
    if args.command == "run":
        run()
    report()


if __name__ == "__main__":
    main()
