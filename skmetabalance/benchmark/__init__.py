"""Benchmark MetaBalance against re-balanced networks and classic models.

:func:`compare` runs any estimators on your data over repeated stratified
train/test splits and returns one row per (model, split) with average
precision, ROC AUC, balanced accuracy, G-mean and fit time. :func:`summarize`
turns such results into one row per model (mean scores, mean rank, time).

``python -m skmetabalance.benchmark`` (or the ``skmetabalance-benchmark``
command) runs the built-in models on the data sets shipped in
:mod:`skmetabalance.datasets` and writes ``results.csv``, ``summary.md`` and
``scores.png``; see ``--help``.
"""

from ._cli import FULL_REPEATS, QUICK_DATASETS, QUICK_REPEATS, main, run_benchmark
from ._compare import METRICS, RESULT_COLUMNS, compare, score_predictions
from ._models import (
    MODEL_NAMES,
    NETWORK_MODELS,
    make_estimator,
    make_preprocessor,
    model_descriptions,
)
from ._report import plot_scores, score_table, summarize

__all__ = [
    "compare",
    "summarize",
    "score_table",
    "plot_scores",
    "run_benchmark",
    "main",
    "make_estimator",
    "make_preprocessor",
    "model_descriptions",
    "score_predictions",
    "METRICS",
    "RESULT_COLUMNS",
    "MODEL_NAMES",
    "NETWORK_MODELS",
    "QUICK_DATASETS",
    "QUICK_REPEATS",
    "FULL_REPEATS",
]
