"""How many ensemble members? ``n_estimators`` under a validation protocol.

Protocol (bundled binary data sets):

* The sets are split once, by a fixed rule made before any result was seen
  (``SELECTION`` / ``HELD_OUT`` below: a seeded permutation of the sorted
  names, the last third held out of every choice).
* Five repeated stratified 70/30 train/test splits per set. On selection sets
  the training rows are split again (stratified 75/25) and models are scored on
  that validation part only; the test rows are never touched there. On held-out
  sets the models are fitted on the training rows and scored on the test rows.
* Every model is a ``StandardScaler`` (one-hot for categorical columns) in
  front of ``MetaBalanceClassifier(n_estimators=E, random_state=split)``;
  candidates are named by E, with an ``f`` when the members hold out their
  own validation folds (``validation_split="per_member"``): ``1``, ``4``,
  ``4f``, ``8``.
* Per-fit results go to ``results/ensemble_size.csv``, one row per
  (set, split, E, part); a rerun skips the rows that exist, so the study
  resumes anywhere and every table is re-derived from the file.

    python benchmarks/evidence/ensemble_size.py run [--members 1 4 4f]
    python benchmarks/evidence/ensemble_size.py report
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
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedShuffleSplit, train_test_split
from sklearn.pipeline import make_pipeline

from skmetabalance import MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

RESULTS = Path(__file__).parent / "results" / "ensemble_size.csv"
FIELDS = ["dataset", "split", "members", "part", "ap", "fit_seconds", "n_iter"]
BINARY_SETS = sorted(
    [
        "abalone_19",
        "car_eval_4",
        "caravan",
        "lending_club",
        "letter_img",
        "optical_digits",
        "page_blocks0",
        "pen_digits",
        "satimage",
        "shuttle",
        "shuttle_fraud",
        "wine_quality",
        "yeast_me2",
    ]
)
_ORDER = np.random.RandomState(2026).permutation(len(BINARY_SETS))
HELD_OUT = sorted(BINARY_SETS[i] for i in _ORDER[-(len(BINARY_SETS) // 3) :])
SELECTION = sorted(set(BINARY_SETS) - set(HELD_OUT))
N_SPLITS = 5
#: A per-set mean difference counts as a win or loss only beyond this band:
#: twice its standard error over the splits, and at least this much AP.
MIN_EFFECT = 0.005


def _candidate(label):
    """``n_estimators`` and ``validation_split`` of a candidate's label."""
    folds = label.endswith("f")
    return int(label.rstrip("f")), "per_member" if folds else "shared"


def _pipeline(bunch, label, seed):
    pre = preprocessor(bunch)
    members, split = _candidate(label)
    net = MetaBalanceClassifier(
        n_estimators=members, validation_split=split, random_state=seed
    )
    return make_pipeline(pre, net)


def _done():
    rows = read_rows(RESULTS)
    keys = {(r["dataset"], int(r["split"]), r["members"], r["part"]) for r in rows}
    return keys, rows


def run(members):
    done, _ = _done()
    with append_rows(RESULTS, FIELDS) as write:
        # Cheap sets first, so that partial runs cover as many sets as possible.
        for name in sorted(BINARY_SETS, key=lambda n: load_dataset(n).data.shape[0]):
            bunch = load_dataset(name)
            X, y = bunch.data, bunch.target
            part = "test" if name in HELD_OUT else "validation"
            splitter = StratifiedShuffleSplit(N_SPLITS, test_size=0.3, random_state=0)
            for split, (tr, te) in enumerate(splitter.split(X, y)):
                if part == "validation":
                    tr, te = train_test_split(
                        tr, test_size=0.25, stratify=y[tr], random_state=split
                    )
                for e in members:
                    if (name, split, str(e), part) in done:
                        continue
                    model = _pipeline(bunch, e, split)
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model.fit(X[tr], y[tr])
                    seconds = time.perf_counter() - t0
                    ap = average_precision_score(
                        y[te], model.predict_proba(X[te])[:, 1]
                    )
                    row = dict(
                        dataset=name,
                        split=split,
                        members=e,
                        part=part,
                        ap=f"{ap:.6f}",
                        fit_seconds=f"{seconds:.3f}",
                        n_iter=model[-1].n_iter_,
                    )
                    write(row)
                    print(row, flush=True)


def _compare(rows, a, b, part):
    """Per-set paired differences of E=b minus E=a on ``part``."""
    by = {}
    for r in rows:
        if r["part"] == part:
            by[(r["dataset"], int(r["split"]), r["members"])] = float(r["ap"])
    out = []
    for name in sorted({k[0] for k in by}):
        d = [
            by[(name, s, b)] - by[(name, s, a)]
            for s in range(N_SPLITS)
            if (name, s, a) in by and (name, s, b) in by
        ]
        if len(d) < 2:
            continue
        mean, se, verdict = paired_verdict(d, MIN_EFFECT)
        out.append((name, len(d), mean, se, verdict))
    return out


def report():
    _, rows = _done()
    members = sorted({r["members"] for r in rows}, key=lambda m: (_candidate(m), m))
    for part in ("validation", "test"):
        sets = SELECTION if part == "validation" else HELD_OUT
        print(
            f"\n{part} AP ({'selection' if part == 'validation' else 'held-out'} sets)"
        )
        print(f"{'dataset':16s}" + "".join(f"  E={e:<3s} AP  fit s" for e in members))
        for name in sets:
            cells = []
            for e in members:
                sel = [
                    r
                    for r in rows
                    if r["dataset"] == name and r["part"] == part and r["members"] == e
                ]
                if sel:
                    ap = np.mean([float(r["ap"]) for r in sel])
                    sec = np.mean([float(r["fit_seconds"]) for r in sel])
                    cells.append(f"  {ap:.3f}({len(sel)}) {sec:5.1f}")
                else:
                    cells.append(" " * 19)
            print(f"{name:16s}" + "".join(cells))
        pairs = [(a, b) for a in members for b in members if a == "1" and b != a]
        pairs += [("4", "4f")] if {"4", "4f"} <= set(members) else []
        for a, b in pairs:
            comp = _compare(rows, a, b, part)
            if not comp:
                continue
            diffs = [c[2] for c in comp]
            verdicts = [c[4] for c in comp]
            print(across_sets(f"E={b}", f"E={a}", diffs, verdicts))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--members", nargs="*", default=["1", "4", "4f"])
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.members)
    report()


if __name__ == "__main__":
    main()
