"""What the evidence studies share: their per-fit files, the reST tables
they print for the docs, the paired statistics and the preprocessing."""

from __future__ import annotations

import contextlib
import csv

import numpy as np


def read_rows(path):
    """The rows of a study's per-fit CSV file (none while it does not exist)."""
    if not path.exists():
        return []
    with open(path) as fh:
        return list(csv.DictReader(fh))


@contextlib.contextmanager
def append_rows(path, fields):
    """A function appending one row to ``path`` (header written if the file is
    new), flushed at once so that an interrupted study keeps every finished fit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new_file = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        if new_file:
            writer.writeheader()

        def write(row):
            writer.writerow(row)
            fh.flush()

        yield write


def rst_table(frame, index_name="configuration", digits=3):
    """A reST simple table of a DataFrame (index as the first column)."""
    header = [index_name, *map(str, frame.columns)]
    body = []
    for idx, row in frame.iterrows():
        cells = [str(idx)]
        for v in row:
            if isinstance(v, (float, np.floating)):
                cells.append("–" if not np.isfinite(v) else f"{v:.{digits}f}")
            else:
                cells.append(str(v))
        body.append(cells)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(header, widths)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in body]
    return "\n".join([*lines, rule])


def paired_verdict(diffs, min_effect=0.005):
    """Mean, standard error and verdict of paired per-split differences.

    A mean counts as a win or a loss only beyond twice its standard error
    over the splits and at least ``min_effect``; otherwise it is a tie.
    """
    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean())
    se = float(diffs.std(ddof=1) / np.sqrt(diffs.size))
    band = max(2 * se, min_effect)
    verdict = "win" if mean > band else "loss" if mean < -band else "tie"
    return mean, se, verdict


def preprocessor(bunch):
    """``StandardScaler`` on numeric columns, one-hot on the data set's
    categorical ones (fitted on the rows a model is fitted on)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cats = np.asarray(bunch.categorical_features, dtype=bool)
    if not cats.any():
        return StandardScaler()
    return ColumnTransformer(
        [
            ("num", StandardScaler(), np.flatnonzero(~cats)),
            (
                "cat",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                np.flatnonzero(cats),
            ),
        ]
    )


def paired_stats(diffs):
    """Mean of per-set differences, its 95 % bootstrap interval over the sets
    (2,000 resamples, seed 0) and the Wilcoxon signed-rank p-value (from five
    sets on; NaN below that or when every difference is zero)."""
    from scipy.stats import wilcoxon

    p = wilcoxon(diffs).pvalue if len(diffs) >= 5 and any(diffs) else float("nan")
    rng = np.random.RandomState(0)
    boot = [np.mean(rng.choice(diffs, len(diffs))) for _ in range(2000)]
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(np.mean(diffs)), lo, hi, p


def across_sets(name_b, name_a, diffs, verdicts):
    """One line on per-set mean differences of ``name_b`` minus ``name_a``.

    The mean, its 95 % bootstrap interval over the sets, the count of per-set
    wins, ties and losses (``verdicts``), and the Wilcoxon signed-rank p-value
    (see :func:`paired_stats`).
    """
    mean, lo, hi, p = paired_stats(diffs)
    return (
        f"{name_b} vs {name_a}: mean AP difference {mean:+.4f} (95% "
        f"bootstrap over sets [{lo:+.4f}, {hi:+.4f}]), win/tie/loss "
        f"{verdicts.count('win')}/{verdicts.count('tie')}/{verdicts.count('loss')} "
        f"over {len(diffs)} sets, Wilcoxon p={p:.3f}"
    )
