"""Helpers shared by the ``bench_*.py`` scripts: data, timing, tables, CSV.

The scripts are meant to be run from the repository root, e.g.
``python benchmarks/bench_meta_step.py``; they put the repository root on
``sys.path`` so that the working-tree package is the one measured.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_OUT = ROOT / "benchmarks" / "results"

#: The twelve numeric ``lending_club`` columns used for the loan-default
#: setting of the MetaBalance paper (12 -> 25 -> 1 network).
LENDING_CLUB_COLUMNS = [
    "funded_amnt",
    "int_rate",
    "annual_inc",
    "delinq_2yrs",
    "inq_last_6mths",
    "revol_util",
    "open_il_6m",
    "open_il_12m",
    "total_bal_il",
    "all_util",
    "inq_last_12m",
    "total_il_high_credit_limit",
]

#: The published loan-default configuration (Bansal et al., 2021).
PUBLISHED = dict(
    hidden_layer_sizes=(25,),
    tasks_per_step=81,
    batch_size=24,
    outer_batch_size=16,
    inner_lr=0.01,
    inner_loss_weight=0.01,
    lr=0.02,
    momentum=0.9,
    weight_decay=5e-4,
    early_stopping=False,
)


def base_parser(description, default_name, default_threads=None):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--threads",
        type=int,
        default=default_threads,
        help="torch intra-op threads for the whole run (default: "
        + ("torch's default" if default_threads is None else str(default_threads))
        + ")",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory for the CSV file (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--name",
        default=default_name,
        help=f"CSV file name (default: {default_name})",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device: 'cpu' (default) or 'cuda', 'cuda:N'",
    )
    return parser


def apply_threads(args):
    """Set torch's intra-op threads from ``--threads`` (this process only)."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)


def loan_data():
    """The loan-default table: 12 standardised numeric features, 0/1 target.

    Prefers ``lending_club`` from :mod:`skmetabalance.datasets`; falls back to
    the first 12 columns of sklearn's breast-cancer table when it is missing.

    Returns
    -------
    X : ndarray of shape (n, 12), float64
    y : ndarray of shape (n,), int
    name : str
    """
    from sklearn.preprocessing import StandardScaler

    try:
        from skmetabalance.datasets import load_dataset

        X, y = load_dataset("lending_club", as_frame=True, return_X_y=True)
        X = X[LENDING_CLUB_COLUMNS].to_numpy(dtype=np.float64)
        y = np.asarray(y, dtype=np.int64)
        name = "lending_club (12 numeric features)"
    except (ImportError, ValueError, KeyError, OSError):
        from sklearn.datasets import load_breast_cancer

        X, y = load_breast_cancer(return_X_y=True)
        X = X[:, :12]
        y = 1 - y  # malignant (the minority) as the positive class
        name = "breast_cancer (first 12 features; lending_club unavailable)"
    return StandardScaler().fit_transform(X), y, name


def synthetic(n_rows, n_features=30, positive_share=0.01, seed=0, dtype=np.float64):
    """Gaussian rows, ``positive_share`` of them positive with a shifted mean."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n_rows) < positive_share).astype(np.int64)
    y[:2] = [0, 1]  # both classes present even for tiny n
    X = rng.standard_normal((n_rows, n_features), dtype=np.float32).astype(
        dtype, copy=False
    )
    X[y == 1, : n_features // 3] += 1.0
    return X, y


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def interleaved(named_fns, repeats, warmup=True, verbose=True):
    """Time callables round-robin ``repeats`` times; return {name: [seconds]}.

    Interleaving spreads load changes of a shared machine over all contenders,
    so ratios of medians taken in one run are fair even when absolute times
    drift.
    """
    times = {name: [] for name in named_fns}
    if warmup:
        for fn in named_fns.values():
            fn()
    for r in range(repeats):
        for name, fn in named_fns.items():
            t, _ = timed(fn)
            times[name].append(t)
            if verbose:
                print(f"  repeat {r + 1}/{repeats}  {name:<34s} {t:8.3f} s", flush=True)
    return times


def median(values):
    return statistics.median(values)


def machine():
    """A one-line description of the machine and library versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"({torch.get_num_threads()} intra-op threads), Python "
        f"{platform.python_version()}"
    )


def load_average():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def print_table(rows, columns, floatfmt="{:.3f}"):
    """Print ``rows`` (list of dicts) as an aligned text table."""

    def fmt(v):
        if isinstance(v, float):
            if v != 0 and abs(v) < 1e-3:
                return f"{v:.1e}"
            return floatfmt.format(v)
        return str(v)

    cells = [[fmt(r.get(c, "")) for c in columns] for r in rows]
    widths = [
        max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)
    ]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths)))


def write_csv(rows, columns, out_dir, name):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / name
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {path}")
    return path


def sync(device):
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def plot_summary(results_dir, out_png):
    """Draw the figure of docs/performance.rst from the benchmarks' CSV files.

    Left: fit time of the published loan-default setting, for every contender
    of ``bench_meta_step.py`` and ``bench_vs_plain.py``. Right: time per epoch
    against rows from ``bench_scaling.py``, with the linear trend through the
    100k-row point.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results_dir = Path(results_dir)

    def read(name):
        with open(results_dir / name, newline="") as fh:
            return list(csv.DictReader(fh))

    meta = read("meta_step.csv")
    plain = read("vs_plain.csv")
    scaling = [r for r in read("scaling.csv") if r["sweep"] == "rows"]

    bars = []
    for r in meta:
        bars.append(
            (f"straightforward loop, {r['order']} order", float(r["reference_s"]))
        )
    for r in plain:
        if not r["estimator"].startswith("MetaBalance"):
            bars.append((r["estimator"], float(r["fit_s"])))
    for r in meta:
        bars.append((f"MetaBalanceClassifier, {r['order']} order", float(r["ours_s"])))
    epochs = meta[0]["epochs"]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [b[0] for b in bars]
    values = [b[1] for b in bars]
    colors = ["#1f77b4" if n.startswith("MetaBalance") else "#bbbbbb" for n in names]
    ax1.barh(range(len(bars)), values, color=colors)
    ax1.set_yticks(range(len(bars)), names, fontsize=8)
    ax1.invert_yaxis()
    ax1.set_xscale("log")
    ax1.set_xlabel(f"fit time, {epochs} epochs (s, log scale)")
    ax1.set_title("Loan-default setting (K = 81), 1 thread", fontsize=10)
    for i, v in enumerate(values):
        ax1.text(v * 1.1, i, f"{v:.2f} s", va="center", fontsize=7)
    ax1.set_xlim(min(values) / 2, max(values) * 6)

    rows = [int(r["rows"]) for r in scaling]
    per_epoch = [float(r["s_per_epoch"]) for r in scaling]
    ax2.loglog(rows, per_epoch, "o-", color="#1f77b4", label="measured")
    if 100_000 in rows:
        t100 = per_epoch[rows.index(100_000)]
        ax2.loglog(
            rows,
            [t100 * n / 100_000 for n in rows],
            "--",
            color="#888888",
            label="linear through 100k",
        )
    ax2.set_xlabel("rows (30 features, 1 % positives)")
    ax2.set_ylabel("seconds per epoch")
    ax2.set_title("MLP (64, 64), K = 16, batches of 32, first order", fontsize=10)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    print(f"wrote {out_png}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Draw docs/_static/performance_summary.png from the CSV files."
    )
    parser.add_argument("--results", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "_static" / "performance_summary.png",
    )
    cli = parser.parse_args()
    plot_summary(cli.results, cli.out)
