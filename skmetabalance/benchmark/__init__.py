"""Benchmark MetaBalance against re-balanced networks and classic models.

:func:`compare` runs any estimators on your data over repeated stratified
train/test splits and returns one row per (model, split) with average
precision, ROC AUC, balanced accuracy, G-mean and fit time. :func:`summarize`
turns such results into one row per model (mean scores, mean rank, time),
:func:`score_table` into a data sets x models table, and :func:`plot_scores`
into a figure. :func:`make_estimator` builds the built-in models named in
``MODEL_NAMES``.

``python -m skmetabalance.benchmark`` (or the ``skmetabalance-benchmark``
command, or :func:`run_benchmark`) runs the built-in models on the data sets
shipped in :mod:`skmetabalance.datasets` and writes ``results.csv``,
``summary.md`` and ``scores.png``; see ``--help``.
"""

from ._cli import run_benchmark
from ._compare import compare
from ._models import MODEL_NAMES, make_estimator
from ._report import plot_scores, score_table, summarize

__all__ = [
    "compare",
    "summarize",
    "score_table",
    "plot_scores",
    "run_benchmark",
    "make_estimator",
    "MODEL_NAMES",
]
