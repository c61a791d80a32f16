"""Large data: the default networks against gradient boosting, time, memory and AP.

Data, generated once per size and cached (``--cache``): ``make_classification(
n, f, n_informative=2 * f // 5, n_redundant=f // 5, weights=[1 - p],
flip_y=0.01, class_sep=0.8, random_state=0)`` with ``p`` the positive share
(1 % and 0.2 %) and ``f`` the columns (``--features``, 50 by default),
split 80/20 (stratified, seed 0), standardised on the training rows and
stored as float32.

Models, each fitted on the training rows and scored on the test rows with
average precision (AP). ``n_iter`` is each model's ``n_iter_``: epochs for
the networks, boosting iterations for HGB (its early stopping sets them, and
with them its time):

* ``metabalance``: ``MetaBalanceClassifier()`` (its defaults: the row-adaptive
  geometry, early stopping, four members);
* ``metabalance_1`` (on request, ``--models``): ``MetaBalanceClassifier(
  n_estimators=1)``, one network, the default when the figures of the
  performance page were measured;
* ``net_ros``: ``BalancedNetClassifier(sampler=RandomOverSampler())`` (its
  defaults: four members);
* ``net_ros_1`` (on request): the same with ``n_estimators=1``, one network,
  the default when the figures of the performance page were measured;
* ``hgb``: ``HistGradientBoostingClassifier(class_weight="balanced")``;
* ``metabalance_fixed`` (on request, ``--models``): ``MetaBalanceClassifier(
  geometry="fixed")``, the small-step geometry of 64 outer rows per step and
  one pass per epoch, to check that the large-data geometry keeps its AP. It
  takes minutes per fit at 1M rows;
* ``metabalance_smote`` (on request): ``MetaBalanceClassifier(
  outer_sampler=SMOTE())``, the memory of a sampler that synthesises rows.

Networks and HGB get ``random_state=seed`` for each ``--seeds`` value; the
data and its split stay fixed. Every fit runs in a fresh Python process,
one after another on the same cores, so that each peak memory is its own and
the ratios to HGB compare fits taken on the same machine state. Peak memory is
the kernel's RSS high-water mark during ``fit`` (reset just before it; exact
on Linux), less the RSS before ``fit`` (Python, torch and the data already
loaded): what the fit itself adds. ``x_mb`` is the size of the training rows
in float32 (what the network trains on); ``--dtype float64`` passes them to
``fit`` as float64, as most users do.

Usage::

    python benchmarks/speed/large_data.py                      # ~40 min on 2 cores
    python benchmarks/speed/large_data.py --rows 100000 --positive 0.01 --seeds 0
    python benchmarks/speed/large_data.py --models metabalance metabalance_fixed hgb
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import (
    MB,
    ROOT,
    apply_threads,
    base_parser,
    machine,
    peak_mb,
    print_table,
    reset_peak,
    rss_mb,
    write_csv,
)

MODELS = ("metabalance", "net_ros", "hgb")


def make_estimator(name, seed, device):
    from imblearn.over_sampling import RandomOverSampler
    from sklearn.ensemble import HistGradientBoostingClassifier

    from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

    if name == "metabalance":
        return MetaBalanceClassifier(random_state=seed, device=device)
    if name == "metabalance_1":
        return MetaBalanceClassifier(n_estimators=1, random_state=seed, device=device)
    if name == "metabalance_fixed":
        return MetaBalanceClassifier(geometry="fixed", random_state=seed, device=device)
    if name == "metabalance_smote":
        from imblearn.over_sampling import SMOTE

        return MetaBalanceClassifier(
            outer_sampler=SMOTE(random_state=seed), random_state=seed, device=device
        )
    if name in ("net_ros", "net_ros_1"):
        one = {"n_estimators": 1} if name == "net_ros_1" else {}
        return BalancedNetClassifier(
            sampler=RandomOverSampler(random_state=seed),
            random_state=seed,
            device=device,
            **one,
        )
    if name == "hgb":
        return HistGradientBoostingClassifier(
            class_weight="balanced", random_state=seed
        )
    raise ValueError(f"unknown model {name!r}")


def data(rows, positive, cache, features=50):
    """Training and test rows of one size, generated once and cached."""
    shape = "" if features == 50 else f"_{features}f"
    path = Path(cache) / f"large_{rows}_{positive}{shape}.npz"
    if not path.exists():
        from sklearn.datasets import make_classification
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import StandardScaler

        X, y = make_classification(
            rows,
            features,
            n_informative=(2 * features) // 5,
            n_redundant=features // 5,
            weights=[1 - positive],
            flip_y=0.01,
            class_sep=0.8,
            random_state=0,
        )
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.2, stratify=y, random_state=0
        )
        scaler = StandardScaler().fit(X_tr)
        np.savez(
            path,
            X_tr=scaler.transform(X_tr).astype(np.float32),
            X_te=scaler.transform(X_te).astype(np.float32),
            y_tr=y_tr,
            y_te=y_te,
        )
    d = np.load(path)
    return d["X_tr"], d["X_te"], d["y_tr"], d["y_te"]


def worker(args):
    """One fit: print a JSON record on the last line."""
    from sklearn.metrics import average_precision_score

    from skmetabalance import MetaBalanceClassifier

    apply_threads(args)
    X_tr, X_te, y_tr, y_te = data(
        args.rows[0], args.positive[0], args.cache, args.features
    )
    X_tr = X_tr.astype(args.dtype, copy=False)
    # A tiny fit first, so that lazy imports and first calls are not timed.
    MetaBalanceClassifier(max_iter=1, device=args.device).fit(X_tr[:500], y_tr[:500])
    est = make_estimator(args.model, args.seeds[0], args.device)
    rss_before = rss_mb()
    exact = reset_peak()
    t0 = time.perf_counter()
    est.fit(X_tr, y_tr)
    fit_s = time.perf_counter() - t0
    peak = peak_mb()
    ap = average_precision_score(y_te, est.predict_proba(X_te)[:, 1])
    record = {
        "rows": args.rows[0],
        "positive": args.positive[0],
        "features": args.features,
        "model": args.model,
        "seed": args.seeds[0],
        "fit_s": fit_s,
        "ap": ap,
        "dtype": args.dtype,
        "x_mb": X_tr.size * 4 / MB,
        "fit_peak_mb": peak - rss_before,
        "peak_exact": exact,
        "epochs": getattr(est, "n_iter_", None),
        "steps": getattr(est, "n_steps_", None),
        "rows_per_step": getattr(est, "geometry_", {}).get("rows_per_step"),
    }
    print(json.dumps(record))


def run_one(args, rows, positive, model, seed):
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--rows",
        str(rows),
        "--positive",
        str(positive),
        "--features",
        str(args.features),
        "--model",
        model,
        "--seeds",
        str(seed),
        "--cache",
        str(args.cache),
        "--device",
        args.device,
        "--dtype",
        args.dtype,
    ]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"  rows={rows:>8d} positive={positive:<6g} {model:<18s} seed={seed}: "
        f"fit {record['fit_s']:7.1f} s, n_iter_ {record['epochs']}, "
        f"AP {record['ap']:.4f}, fit peak "
        f"+{record['fit_peak_mb']:.0f} MB (X {record['x_mb']:.0f} MB)",
        flush=True,
    )
    return record


def summarise(records):
    """Median over seeds per (rows, positive, model), with ratios to HGB."""
    import pandas as pd

    frame = pd.DataFrame(records)
    keys = ["rows", "positive", "model"]
    table = (
        frame.groupby(keys, sort=False)
        .agg(
            fit_s=("fit_s", "median"),
            ap=("ap", "mean"),
            ap_sd=("ap", "std"),
            fit_peak_mb=("fit_peak_mb", "median"),
            x_mb=("x_mb", "first"),
            steps=("steps", "median"),
            n_iter=("epochs", "median"),
            seeds=("seed", "count"),
        )
        .reset_index()
    )
    hgb = table[table.model == "hgb"].set_index(["rows", "positive"])["fit_s"]
    table["time_vs_hgb"] = [
        fit / hgb.get((r, p), np.nan)
        for r, p, fit in zip(table.rows, table.positive, table.fit_s)
    ]
    table["peak_vs_x"] = table.fit_peak_mb / table.x_mb
    return table


def main():
    parser = base_parser(__doc__.splitlines()[0], "large_data.csv")
    parser.add_argument("--worker", action="store_true", help=argparse_hidden())
    parser.add_argument("--model", default=None, help=argparse_hidden())
    parser.add_argument(
        "--rows", type=int, nargs="+", default=[100_000, 285_000, 1_000_000]
    )
    parser.add_argument("--positive", type=float, nargs="+", default=[0.01, 0.002])
    parser.add_argument(
        "--features",
        type=int,
        default=50,
        help="columns of the generated rows, 40 %% informative and 20 %% "
        "redundant (default: %(default)s)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--models",
        nargs="+",
        default=list(MODELS),
        choices=[
            *MODELS,
            "metabalance_1",
            "net_ros_1",
            "metabalance_fixed",
            "metabalance_smote",
        ],
        help="models to fit (default: %(default)s); 'metabalance_fixed' is slow "
        "at 1M rows",
    )
    parser.add_argument(
        "--dtype",
        default="float32",
        choices=["float32", "float64"],
        help="dtype of the training rows given to fit (default: %(default)s)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skmetabalance_large_data",
        help="where the generated data sets are kept between runs",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    if args.worker:
        worker(args)
        return
    print(machine(), flush=True)
    models = args.models
    records = []
    for rows in args.rows:
        for positive in args.positive:
            data(
                rows, positive, args.cache, args.features
            )  # generated outside the timed fits
            for seed in args.seeds:
                for model in models:
                    records.append(run_one(args, rows, positive, model, seed))
    table = summarise(records)
    print()
    print("median fit seconds and fit peak memory over seeds; AP mean and sd")
    print_table(table.to_dict("records"), list(table.columns))
    write_csv(records, list(records[0]), args.out, args.name)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
