"""Training length on mid-size data: the epoch rule of ``geometry='auto'`` against variants.

On sets where ``geometry='auto'`` grows the batches, an epoch (the unit of
validation and of ``n_iter_no_change``) covers only part of a pass. This
script fits the default estimator and variants that change only how many
steps an epoch takes, on the generated sets of ``large_data.py`` (the same
data, cached in the same place), and compares them paired by seed: test AP,
fit time, steps and epochs. Variants:

* ``default``: the package as it is;
* ``previous``: the rule of earlier versions, an epoch of 131,072 rows on
  every set larger than that (ten epochs of patience then cover 1.3M rows
  whatever the size of the set);
* ``epoch_32768``: epochs of 32,768 rows on every set larger than that, a
  shorter patience also where the batches do not grow.

Every fit runs in a fresh process, one after another; the variants of one
seed run back to back, so that their time ratio is taken on the same machine
state. ::

    python benchmarks/speed/geometry.py --rows 285000 --seeds 0 1 2
    python benchmarks/speed/geometry.py --rows 100000 --variants default epoch_32768
    python benchmarks/speed/geometry.py --rows 285000 --features 20 --model plain
"""

from __future__ import annotations

import itertools
import statistics
import tempfile
from pathlib import Path

import numpy as np
from _common import ROOT, base_parser, machine, print_table, run_child, write_csv

VARIANTS = ("default", "previous", "epoch_32768")

_CHILD = """
import json, math, sys, time, warnings
rows, positive, features, model, seed, variant, cache, speed = json.loads(sys.argv[1])
sys.path.insert(0, speed)
from large_data import data
from sklearn.metrics import average_precision_score
import skmetabalance._classifier as C
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

original = C._BaseNetClassifier._geometry

def patched(self, n_rows):
    g = original(self, n_rows)
    if variant == "previous" and self.geometry == "auto" and n_rows > C.EPOCH_ROWS:
        g["steps_per_epoch"] = math.ceil(C.EPOCH_ROWS / g["rows_per_step"])
    elif variant == "epoch_32768" and n_rows > 32768:
        g["steps_per_epoch"] = math.ceil(32768 / g["rows_per_step"])
    return g

if variant != "default":
    C._BaseNetClassifier._geometry = patched
X_tr, X_te, y_tr, y_te = data(rows, positive, cache, features)
cls = MetaBalanceClassifier if model == "meta" else BalancedNetClassifier
# A tiny fit first, so that lazy imports and first calls are not timed.
cls(max_iter=1).fit(X_tr[:500], y_tr[:500])
est = cls(random_state=seed)
t0 = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    est.fit(X_tr, y_tr)
seconds = time.perf_counter() - t0
ap = average_precision_score(y_te, est.predict_proba(X_te)[:, 1])
print(json.dumps([seconds, ap, est.n_steps_, est.n_iter_,
                  est.geometry_["steps_per_epoch"], est.geometry_["rows_per_step"]]))
"""


def main():
    parser = base_parser(__doc__.splitlines()[0], "geometry.csv")
    parser.add_argument("--rows", type=int, nargs="+", default=[285_000])
    parser.add_argument("--positive", type=float, nargs="+", default=[0.01])
    parser.add_argument("--features", type=int, nargs="+", default=[50])
    parser.add_argument(
        "--model", nargs="+", default=["meta"], choices=["meta", "plain"]
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--variants", nargs="+", default=["default", "previous"], choices=VARIANTS
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skmetabalance_large_data",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    print(machine(), flush=True)
    speed = str(ROOT / "benchmarks" / "speed")
    records = []
    shapes = itertools.product(args.rows, args.positive, args.features, args.model)
    for shape, seed, variant in itertools.product(shapes, args.seeds, args.variants):
        # Variants of one seed run back to back (the product's last factor).
        rows, positive, features, model = shape
        out = run_child(_CHILD, [*shape, seed, variant, str(args.cache), speed])
        seconds, ap, steps, epochs, per_epoch, per_step = out
        records.append(
            dict(
                rows=rows,
                positive=positive,
                features=features,
                model=model,
                seed=seed,
                variant=variant,
                fit_s=seconds,
                ap=ap,
                steps=steps,
                epochs=epochs,
                steps_per_epoch=per_epoch,
                rows_per_step=per_step,
            )
        )
        print(
            f"  {rows:>8d} rows, {positive:g} positive, {features} cols, {model}, "
            f"seed {seed}, {variant:<12s} fit {seconds:6.1f} s, AP {ap:.4f}, "
            f"{steps} steps ({epochs} epochs of {per_epoch})",
            flush=True,
        )
    print()
    print(f"against {args.variants[0]}, paired by seed: AP difference, time ratio")
    table = paired(records, args.variants)
    print_table(table, list(table[0]), floatfmt="{:.4f}")
    write_csv(records, list(records[0]), args.out, args.name)


def paired(records, variants):
    """Per shape and variant: mean AP, its paired difference to the first
    variant (mean and sd over seeds), median fit time, time ratio and steps."""
    shape = ("rows", "positive", "features", "model")
    base = variants[0]
    table = []
    for key in sorted({tuple(r[k] for k in shape) for r in records}):
        by = {
            (r["variant"], r["seed"]): r
            for r in records
            if tuple(r[k] for k in shape) == key
        }
        for variant in variants:
            seeds = sorted(s for v, s in by if v == variant and (base, s) in by)
            runs = [by[variant, s] for s in seeds]
            diffs = [by[variant, s]["ap"] - by[base, s]["ap"] for s in seeds]
            table.append(
                dict(
                    zip(shape, key),
                    variant=variant,
                    ap=float(np.mean([r["ap"] for r in runs])),
                    ap_diff=float(np.mean(diffs)),
                    ap_diff_sd=float(np.std(diffs, ddof=1))
                    if len(diffs) > 1
                    else np.nan,
                    fit_s=statistics.median(r["fit_s"] for r in runs),
                    time_ratio=statistics.median(
                        by[variant, s]["fit_s"] / by[base, s]["fit_s"] for s in seeds
                    ),
                    steps=statistics.median(r["steps"] for r in runs),
                    seeds=len(seeds),
                )
            )
    return table


if __name__ == "__main__":
    main()
