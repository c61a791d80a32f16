"""Early stopping on few minority rows: which criterion picks the better epoch?

With the default 10 % validation split, a small data set holds only a handful
of minority rows there (3 to 6 on ``yeast_me2``), and the per-epoch validation
average precision jumps from epoch to epoch, so the restored epoch is partly
chance. This study measures criteria that need no new code, against the
default, under the validation protocol of ``ensemble_size.py``:

* data: the selection sets of ``ensemble_size.py`` (the held-out third is not
  touched) with at most 11,000 rows, where early stopping sees the fewest
  minority rows (``letter_img`` and ``shuttle`` are left out for time);
* five repeated stratified 70/30 splits per set; the training rows are split
  again (stratified 75/25) and models are scored on that validation part with
  average precision; the test rows are never used;
* candidates (``MetaBalanceClassifier`` behind the usual preprocessing,
  ``random_state`` = split): ``ap`` (the default: validation average
  precision, 10 % held out), ``logloss`` (``scoring='neg_log_loss'``, a
  smoother criterion that every validation row informs), ``auc``
  (``scoring='roc_auc'``), ``val20`` (``validation_fraction=0.2``: twice the
  minority rows in the split, fewer to train on);
* per-fit results go to ``results/early_stopping.csv``; a rerun skips the rows
  that exist. A per-set mean difference is a win or loss only beyond twice its
  standard error over the splits and at least 0.005 AP.

    python benchmarks/evidence/early_stopping.py run
    python benchmarks/evidence/early_stopping.py report
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import (
    across_sets,
    append_rows,
    paired_verdict,
    preprocessor,
    read_rows,
)
from ensemble_size import N_SPLITS, SELECTION
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline

from skmetabalance import MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

RESULTS = Path(__file__).parent / "results" / "early_stopping.csv"
FIELDS = [
    "dataset",
    "split",
    "candidate",
    "ap",
    "fit_seconds",
    "n_iter",
    "best_epoch",
    "val_minority",
]
CANDIDATES = {
    "ap": {},
    "logloss": {"scoring": "neg_log_loss"},
    "auc": {"scoring": "roc_auc"},
    "val20": {"validation_fraction": 0.2},
}
MAX_ROWS = 11_000
MIN_EFFECT = 0.005


def _sets():
    sizes = {name: load_dataset(name).data.shape[0] for name in SELECTION}
    return sorted((n for n in SELECTION if sizes[n] <= MAX_ROWS), key=sizes.get)


def run(candidates):
    done = {(r["dataset"], int(r["split"]), r["candidate"]) for r in read_rows(RESULTS)}
    with append_rows(RESULTS, FIELDS) as write:
        for name in _sets():
            bunch = load_dataset(name)
            X, y = bunch.data, bunch.target
            splitter = StratifiedShuffleSplit(N_SPLITS, test_size=0.3, random_state=0)
            for split, (dev, _) in enumerate(splitter.split(X, y)):
                tr, va = train_test_split(
                    dev, test_size=0.25, stratify=y[dev], random_state=split
                )
                for label in candidates:
                    if (name, split, label) in done:
                        continue
                    # One network: the default when these results were
                    # measured.
                    net = MetaBalanceClassifier(
                        early_stopping=True,
                        n_estimators=1,
                        random_state=split,
                        **CANDIDATES[label],
                    )
                    model = make_pipeline(preprocessor(bunch), net)
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model.fit(X[tr], y[tr])
                    seconds = time.perf_counter() - t0
                    ap = average_precision_score(
                        y[va], model.predict_proba(X[va])[:, 1]
                    )
                    held = y[tr][net.validation_indices_]
                    minority = int(min(np.unique(held, return_counts=True)[1]))
                    row = dict(
                        dataset=name,
                        split=split,
                        candidate=label,
                        ap=f"{ap:.6f}",
                        fit_seconds=f"{seconds:.3f}",
                        n_iter=net.n_iter_,
                        best_epoch=net.best_epoch_,
                        val_minority=minority,
                    )
                    write(row)
                    print(row, flush=True)


def report():
    rows = read_rows(RESULTS)
    by = {(r["dataset"], int(r["split"]), r["candidate"]): r for r in rows}
    labels = [c for c in CANDIDATES if any(r["candidate"] == c for r in rows)]
    sets = [n for n in _sets() if any(r["dataset"] == n for r in rows)]
    print("validation AP, mean over splits (minority rows in the default split)")
    print(f"{'dataset':16s}" + "".join(f"{c:>10s}" for c in labels) + "  minority")
    for name in sets:
        cells = []
        for c in labels:
            aps = [float(by[k]["ap"]) for k in by if k[0] == name and k[2] == c]
            cells.append(f"{np.mean(aps):10.4f}" if aps else " " * 10)
        mins = [int(by[k]["val_minority"]) for k in by if k[0] == name and k[2] == "ap"]
        print(
            f"{name:16s}" + "".join(cells) + f"  {min(mins, default=0)}-"
            f"{max(mins, default=0)}"
        )
    for c in labels:
        if c == "ap":
            continue
        diffs, verdicts = [], []
        for name in sets:
            d = [
                float(by[(name, s, c)]["ap"]) - float(by[(name, s, "ap")]["ap"])
                for s in range(N_SPLITS)
                if (name, s, c) in by and (name, s, "ap") in by
            ]
            if len(d) < 2:
                continue
            mean, _, verdict = paired_verdict(d, MIN_EFFECT)
            diffs.append(mean)
            verdicts.append(verdict)
        if not diffs:
            continue
        print(across_sets(c, "ap", diffs, verdicts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.candidates)
    report()


if __name__ == "__main__":
    main()
