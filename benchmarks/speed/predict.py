"""Rows per second of ``predict_proba`` on 1M rows.

A ``MetaBalanceClassifier`` (MLP (64, 64); one network, or ``--members``
networks: 4 is the estimator's default) is fitted briefly on 20k synthetic
rows with 30 features, then ``predict_proba`` is timed on 1M rows of the same
kind, passed as float64 (what most users pass) and as float32. Each repeat is
one call on the full 1M rows; the median is reported.

Usage::

    python benchmarks/speed/predict.py                     # 1M rows, 5 repeats
    python benchmarks/speed/predict.py --members 4         # the default ensemble
    python benchmarks/speed/predict.py --rows 200000 --threads 1 --out /tmp/res
"""

from __future__ import annotations

import numpy as np
from _common import (
    apply_threads,
    base_parser,
    interleaved,
    machine,
    median,
    report,
    synthetic,
)

from skmetabalance import MetaBalanceClassifier


def main():
    parser = base_parser(__doc__.splitlines()[0], "predict.csv")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--members", type=int, default=1)
    args = parser.parse_args()
    apply_threads(args)

    X_train, y_train = synthetic(20_000, args.features, seed=1)
    clf = MetaBalanceClassifier(
        max_iter=1, n_estimators=args.members, random_state=0, device=args.device
    )
    clf.fit(X_train, y_train)
    X64, _ = synthetic(args.rows, args.features, seed=2, dtype=np.float64)
    X32 = X64.astype(np.float32)
    print(f"machine: {machine()}")
    print(
        f"model: {args.members} x MLP {clf.hidden_layer_sizes} on "
        f"{args.features} features, "
        f"device {clf.device_}; {args.rows} rows per call"
    )

    fns = {
        "predict_proba float64 input": lambda: clf.predict_proba(X64),
        "predict_proba float32 input": lambda: clf.predict_proba(X32),
    }
    times, note = interleaved(fns, args.repeats, warmup=True)
    proba = clf.predict_proba(X64)
    assert proba.shape == (args.rows, 2) and np.allclose(proba.sum(1), 1.0)

    rows = []
    for name, ts in times.items():
        t = median(ts)
        rows.append(
            {
                "call": name,
                "rows": args.rows,
                "features": args.features,
                "hidden": "x".join(map(str, clf.hidden_layer_sizes)),
                "members": args.members,
                "median_s": t,
                "rows_per_s": args.rows / t,
                "best_rows_per_s": args.rows / min(ts),
                "repeats": args.repeats,
                "device": str(clf.device_),
            }
        )
    report(f"predict_proba, {note}", rows, args, floatfmt="{:,.3f}")


if __name__ == "__main__":
    main()
