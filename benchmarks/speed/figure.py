"""Draw docs/_static/performance_summary.png from the speed scripts' CSV files.

Left: fit time of the published loan-default setting, for every contender of
``meta_step.py`` and ``vs_plain.py``. Right: time per epoch against rows from
``scaling.py``, with the linear trend through the 100k-row point.

Usage::

    python benchmarks/speed/figure.py                    # reads benchmarks/speed/results
    python benchmarks/speed/figure.py --results /tmp/res --out /tmp/summary.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import pandas as pd
from _common import DEFAULT_OUT, ROOT

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_summary(results_dir, out_png):
    results_dir = Path(results_dir)
    meta = pd.read_csv(results_dir / "meta_step.csv")
    plain = pd.read_csv(results_dir / "vs_plain.csv")
    scaling = pd.read_csv(results_dir / "scaling.csv")
    scaling = scaling[scaling["sweep"] == "rows"]

    bars = [
        (f"straightforward loop, {r.order} order", r.reference_s)
        for r in meta.itertuples()
    ]
    bars += [
        (r.estimator, r.fit_s)
        for r in plain.itertuples()
        if not r.estimator.startswith("MetaBalance")
    ]
    bars += [
        (f"MetaBalanceClassifier, {r.order} order", r.ours_s) for r in meta.itertuples()
    ]
    epochs = meta["epochs"].iloc[0]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = [b[0] for b in bars]
    values = [float(b[1]) for b in bars]
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

    rows = scaling["rows"].astype(int).tolist()
    per_epoch = scaling["s_per_epoch"].astype(float).tolist()
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "_static" / "performance_summary.png",
    )
    cli = parser.parse_args()
    plot_summary(cli.results, cli.out)


if __name__ == "__main__":
    main()
