"""Fit time per epoch and peak memory as rows and tasks per step grow.

Synthetic data: 30 Gaussian features, 1 % positives (shifted mean on a third of
the features), float64 as most users pass it. The sweeps use
``MetaBalanceClassifier`` with a fixed configuration (``SWEEP`` below: one
MLP (64, 64), tasks of 32 inner and 32 outer rows, RandomOverSampler outer set,
natural inner set, no early stopping, ``geometry="fixed"`` so that an epoch is
one pass at every size), so that the figures do not move with the
library's defaults; only the varied quantity changes.

* rows: 10k, 100k, 1M at K = 16, first order (1 epoch at 1M, 2 at 100k, 3 at
  10k; the time per epoch is the median of the epochs' ``history_`` durations,
  which exclude validation, resampling and tensor set-up);
* tasks per step K: 1, 9, 81, 243 at 100k rows, first and second order;
* memory: 1M rows x 50 features, 1 epoch, with the library's defaults
  (early stopping included when they turn it on); ``--no-big`` skips it.

Each configuration runs in a fresh Python process, so that peak memory is not
polluted by earlier runs. Peak RSS is the kernel's high-water mark (VmHWM),
reset just before ``fit`` (``/proc/self/clear_refs``), so it is the peak
*during fit*; the RSS before ``fit`` (Python, torch, the data) is reported
beside it; it is exact on Linux, a lower bound elsewhere. What the training
loop alone adds (after resampling and tensor set-up) shows what the steps
themselves need as K grows: a thread samples the RSS every 5 ms during
``fit``, and the loop is the span of the epochs' ``history_`` durations that
ends with ``fit`` (validation time, which they leave out, is not counted), so
a spike shorter than the sampling period can be missed. On CUDA the peak
allocated GPU memory is reported too.

Usage::

    python benchmarks/speed/scaling.py                 # about 3-5 min on 2 cores
    python benchmarks/speed/scaling.py --quick         # 10k/100k rows, K up to 81
    python benchmarks/speed/scaling.py --device cuda --out /tmp/res
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from _common import (
    MB,
    ROOT,
    RssTrace,
    apply_threads,
    base_parser,
    machine,
    peak_mb,
    print_table,
    reset_peak,
    rss_mb,
    write_csv,
)

#: The configuration of the sweeps, fixed here so that the figures do not move
#: with the library's defaults; ``tasks_per_step`` and ``first_order`` vary.
SWEEP = dict(
    n_estimators=1,
    hidden_layer_sizes=(64, 64),
    batch_size=32,
    outer_batch_size=32,
    outer_sampler="over",
    inner_sampler=None,
    early_stopping=False,
    # One pass per epoch at every size: the sweep measures how a pass scales.
    geometry="fixed",
)


def worker(args):
    """One configuration: fit once and print a JSON record on the last line."""
    import numpy as np
    import torch
    from _common import synthetic

    from skmetabalance import MetaBalanceClassifier

    apply_threads(args)
    X, y = synthetic(args.rows, args.features, dtype=np.float64, seed=0)
    # A tiny fit first, so that lazy imports and first calls are not timed.
    MetaBalanceClassifier(max_iter=1, device=args.device).fit(X[:500], y[:500])

    if args.defaults:
        clf = MetaBalanceClassifier(
            max_iter=args.epochs, random_state=0, device=args.device
        )
    else:
        clf = MetaBalanceClassifier(
            **SWEEP,
            tasks_per_step=args.tasks,
            first_order=bool(args.first_order),
            max_iter=args.epochs,
            random_state=0,
            device=args.device,
        )
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.init()
        torch.cuda.reset_peak_memory_stats()
    trace = RssTrace()
    rss_before = rss_mb()
    exact_peak = reset_peak()
    trace.start()
    t0 = time.perf_counter()
    clf.fit(X, y)
    if cuda:
        torch.cuda.synchronize()
    t1 = time.perf_counter()
    trace.stop()
    peak_fit = peak_mb()
    durations = [h["dur"] for h in clf.history_]
    # The epochs run back to back at the end of fit.
    rss_before_training, peak_training = trace.window(t1 - sum(durations))
    record = {
        "rows": args.rows,
        "features": args.features,
        "config": "library defaults" if args.defaults else "sweep",
        "tasks": clf.tasks_per_step,
        "order": "first" if clf.first_order else "second",
        "epochs": args.epochs,
        "steps_per_epoch": clf.n_steps_ // clf.n_iter_,
        "s_per_epoch": float(np.median(durations)),
        "fit_s": t1 - t0,
        "data_mb": X.nbytes / MB,
        "rss_before_fit_mb": rss_before,
        "peak_rss_during_fit_mb": peak_fit,
        "peak_minus_before_mb": peak_fit - rss_before,
        "rss_before_training_mb": rss_before_training,
        "peak_rss_training_mb": peak_training,
        "training_peak_minus_before_mb": peak_training - rss_before_training,
        "peak_exact": exact_peak,
        "cuda_max_allocated_mb": torch.cuda.max_memory_allocated() / MB if cuda else "",
        "device": args.device,
    }
    print(json.dumps(record))


def run_config(args, rows, tasks, first_order, epochs, features=30, defaults=False):
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        "--rows",
        str(rows),
        "--tasks",
        str(tasks),
        "--first-order",
        str(int(first_order)),
        "--epochs",
        str(epochs),
        "--features",
        str(features),
        "--device",
        args.device,
    ]
    if args.threads is not None:
        cmd += ["--threads", str(args.threads)]
    if defaults:
        cmd.append("--defaults")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"  rows={rows:>8d} features={features} K={record['tasks']:>3d} "
        f"{record['order']:>6s} order: {record['s_per_epoch']:7.3f} s/epoch, "
        f"peak RSS during fit {record['peak_rss_during_fit_mb']:7.0f} MB "
        f"(before fit {record['rss_before_fit_mb']:.0f} MB), training loop "
        f"+{record['training_peak_minus_before_mb']:.1f} MB",
        flush=True,
    )
    return record


COLUMNS = [
    "sweep",
    "rows",
    "features",
    "config",
    "tasks",
    "order",
    "epochs",
    "steps_per_epoch",
    "s_per_epoch",
    "us_per_row",
    "fit_s",
    "data_mb",
    "rss_before_fit_mb",
    "peak_rss_during_fit_mb",
    "peak_minus_before_mb",
    "training_peak_minus_before_mb",
    "cuda_max_allocated_mb",
    "device",
]


def main():
    parser = base_parser(__doc__.splitlines()[0], "scaling.csv")
    parser.add_argument("--quick", action="store_true", help="smaller sweep")
    parser.add_argument(
        "--repeats", type=int, default=3, help="repeats of the rows sweep (default 3)"
    )
    parser.add_argument("--no-big", action="store_true", help="skip 1M x 50")
    parser.add_argument("--worker", action="store_true", help=argparse_hidden())
    parser.add_argument("--rows", type=int, default=10_000, help=argparse_hidden())
    parser.add_argument("--tasks", type=int, default=16, help=argparse_hidden())
    parser.add_argument("--first-order", type=int, default=1, help=argparse_hidden())
    parser.add_argument("--epochs", type=int, default=1, help=argparse_hidden())
    parser.add_argument("--features", type=int, default=30, help=argparse_hidden())
    parser.add_argument("--defaults", action="store_true", help=argparse_hidden())
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    print(f"machine: {machine()}")
    rows_sweep = [(10_000, 3), (100_000, 2)] + ([] if args.quick else [(1_000_000, 1)])
    tasks_sweep = [1, 9, 81] + ([] if args.quick else [243])
    records = []
    print(f"rows sweep (K=16, first order), {args.repeats} interleaved repeats")
    runs = {rows: [] for rows, _ in rows_sweep}
    for _ in range(args.repeats):
        for rows, epochs in rows_sweep:
            runs[rows].append(run_config(args, rows, 16, True, epochs))
    for recs in runs.values():
        # The run with the median time per epoch; peak memory is the largest.
        recs = sorted(recs, key=lambda r: r["s_per_epoch"])
        rec = dict(recs[(len(recs) - 1) // 2])
        rec["peak_rss_during_fit_mb"] = max(r["peak_rss_during_fit_mb"] for r in recs)
        rec["sweep"] = "rows"
        records.append(rec)
    print("tasks sweep (100k rows)")
    for first_order in (True, False):
        for tasks in tasks_sweep:
            rec = run_config(args, 100_000, tasks, first_order, 1)
            rec["sweep"] = "tasks"
            records.append(rec)
    if not (args.quick or args.no_big):
        print("memory: 1M rows x 50 features, library defaults, 1 epoch")
        rec = run_config(args, 1_000_000, 16, True, 1, features=50, defaults=True)
        rec["sweep"] = "big"
        records.append(rec)
    for rec in records:
        rec["us_per_row"] = 1e6 * rec["s_per_epoch"] / rec["rows"]
    print()
    print_table(records, COLUMNS[:-2] + ["device"])
    by_rows = {r["rows"]: r for r in records if r["sweep"] == "rows"}
    if 100_000 in by_rows and 1_000_000 in by_rows:
        ratio = by_rows[1_000_000]["s_per_epoch"] / by_rows[100_000]["s_per_epoch"]
        print(f"time per epoch, 1M rows / 100k rows = {ratio:.2f} (linear: 10)")
    for order in ("first", "second"):
        recs = [r for r in records if r["sweep"] == "tasks" and r["order"] == order]
        if recs:
            peaks = [r["peak_rss_during_fit_mb"] for r in recs]
            extra = [r["training_peak_minus_before_mb"] for r in recs]
            print(
                f"{order}-order peak RSS during fit over K: {min(peaks):.0f}-"
                f"{max(peaks):.0f} MB (max/min = {max(peaks) / min(peaks):.3f}); "
                f"training loop adds {min(extra):.1f}-{max(extra):.1f} MB"
            )
    write_csv(records, COLUMNS, args.out, args.name)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
