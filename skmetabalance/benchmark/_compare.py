"""Repeated stratified train/test evaluation with a per-fit result cache."""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import re
import sys
import warnings
from dataclasses import dataclass
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.metrics import average_precision_score, make_scorer, roc_auc_score
from sklearn.model_selection import StratifiedShuffleSplit, cross_validate
from sklearn.preprocessing import label_binarize
from sklearn.utils._param_validation import Interval, RealNotInt, validate_params

from ._models import (
    DEFAULT_MODELS,
    MODEL_NAMES,
    build_model,
    make_preprocessor,
    with_preprocessing,
)

__all__ = ["compare"]

#: Metrics computed on every test split, the first one is the main metric.
METRICS = ("average_precision", "roc_auc", "balanced_accuracy", "g_mean")

#: Columns of the DataFrame returned by :func:`compare`.
RESULT_COLUMNS = [
    "dataset",
    "model",
    "split",
    *METRICS,
    "fit_time",
    "score_time",
    "n_train",
    "n_test",
    "n_test_minority",
    "n_iter",
    "n_steps",
    "error",
    "cached",
]

#: Bumped whenever the way a result is computed changes, to invalidate caches.
_CACHE_FORMAT = 2


# -------------------------------------------------------------------- scoring
def _macro_average_precision(y_true, proba, *, labels):
    """Macro average precision over the one-vs-rest problems of present classes."""
    Y = label_binarize(y_true, classes=labels)
    present = Y.sum(axis=0) > 0
    return average_precision_score(Y[:, present], proba[:, present], average="macro")


def _binary_roc_auc(y_true, y_score, *, pos_label):
    """ROC AUC of the scores of ``pos_label``."""
    return roc_auc_score(np.asarray(y_true) == pos_label, y_score)


def _scorers(classes, positive):
    """The scorers of :data:`METRICS`, by name.

    For two classes, ``positive`` (the minority class) is the class scored by
    average precision and ROC AUC; for more, both are macro averages over
    one-vs-rest problems. Both binary scorers name ``pos_label``: scored
    together, they share one ``predict_proba`` column.
    """
    from imblearn.metrics import geometric_mean_score

    proba = "predict_proba"
    if classes.size == 2:
        ap = make_scorer(
            average_precision_score, response_method=proba, pos_label=positive
        )
        auc = make_scorer(_binary_roc_auc, response_method=proba, pos_label=positive)
    else:
        ap = make_scorer(
            _macro_average_precision, response_method=proba, labels=classes
        )
        auc = make_scorer(
            roc_auc_score, response_method=proba, multi_class="ovr", labels=classes
        )
    return {
        "average_precision": ap,
        "roc_auc": auc,
        "balanced_accuracy": "balanced_accuracy",
        "g_mean": make_scorer(
            geometric_mean_score, labels=classes, average="multiclass"
        ),
    }


# ------------------------------------------------------------------ the tasks
@dataclass
class _Task:
    """One fit of one model on the training rows of one split."""

    dataset: str
    model: str
    split: int
    seed: int
    estimator: object
    X: object
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    positive: object
    scoring: dict
    key: str
    cache_file: Path | None = None


def _safe_name(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))[:80] or "_"


def _set_nested(estimator, suffix, value, only_if_none):
    """Set every parameter named ``suffix`` (at any depth) to ``value``."""
    params = estimator.get_params(deep=True)
    updates = {
        k: value
        for k in params
        if (k == suffix or k.endswith("__" + suffix))
        and (not only_if_none or params[k] is None)
    }
    if updates:
        estimator.set_params(**updates)
    return estimator


def _set_device(estimator, device):
    """Set every ``device`` parameter (at any depth) to ``device``.

    pytabkit's models take ``device=None`` where skmetabalance takes
    ``'auto'`` (CUDA when available, else the CPU); they get None for 'auto'.
    """
    params = estimator.get_params(deep=True)
    updates = {}
    for key in params:
        if key != "device" and not key.endswith("__device"):
            continue
        owner = params[key[: -len("__device")]] if "__" in key else estimator
        from_pytabkit = type(owner).__module__.startswith("pytabkit")
        updates[key] = None if from_pytabkit and device == "auto" else device
    if updates:
        estimator.set_params(**updates)
    return estimator


def _builtin(name):
    if name not in MODEL_NAMES:
        raise ValueError(
            f"Unknown model name {name!r} in estimators; the built-in models are "
            f"{', '.join(MODEL_NAMES)}."
        )
    return build_model(name)


def _named_estimators(estimators):
    """``{name: estimator}`` from any of the forms :func:`compare` accepts."""
    if estimators is None:
        return {name: build_model(name) for name in DEFAULT_MODELS}
    items = estimators.items() if isinstance(estimators, dict) else estimators
    named = {}
    for item in items:
        if isinstance(item, str):
            name, est = item, item
        elif isinstance(item, tuple) and len(item) == 2:
            name, est = item
        else:
            name, est = type(item).__name__, item
        est = _builtin(est) if isinstance(est, str) else est
        if not hasattr(est, "fit"):
            raise TypeError(
                f"estimators must hold estimators, built-in model names or "
                f"(name, estimator) pairs; got {item!r} for {name!r}."
            )
        if str(name) in named:
            raise ValueError(
                f"Two estimators are named {name!r}; names must be unique."
            )
        named[str(name)] = est
    if not named:
        raise ValueError("estimators is empty; pass at least one estimator.")
    return named


def _check_categorical(X, categorical_features):
    if categorical_features is None:
        return None
    cats = np.asarray(categorical_features)
    if cats.dtype == bool and cats.shape != (X.shape[1],):
        raise ValueError(
            "categorical_features as a boolean mask must have one entry per "
            f"feature ({X.shape[1]}); got shape {cats.shape}."
        )
    if cats.dtype.kind in "US" or cats.dtype == object:
        columns = [str(c) for c in getattr(X, "columns", [])]
        missing = [c for c in cats.tolist() if c not in columns]
        if missing:
            raise ValueError(
                f"categorical_features names columns {missing} that X does not "
                "have; names need a DataFrame X."
            )
    return cats


def plan_tasks(
    estimators,
    X,
    y,
    *,
    dataset_name="data",
    categorical_features=None,
    n_repeats=3,
    test_size=0.3,
    random_state=0,
    preprocess=True,
    device=None,
    cache_dir=None,
):
    """The (model, split) fits of one data set, each with its cache key."""
    if not hasattr(X, "iloc"):
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D; got an array of shape {X.shape}.")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(
            f"y must be 1-D with one label per row of X ({X.shape[0]}); got shape "
            f"{y.shape}."
        )
    classes, counts = np.unique(y, return_counts=True)
    if classes.size < 2:
        raise ValueError("y has a single class; compare needs two or more.")
    positive = classes[np.argmin(counts)]
    scoring = _scorers(classes, positive)
    cats = _check_categorical(X, categorical_features)
    named = _named_estimators(estimators)
    # Split r is the one train_test_split(stratify=y) makes with seed
    # random_state + r, so that adding splits leaves the earlier ones as they are.
    splits = []
    for r in range(n_repeats):
        seed = random_state + r
        splitter = StratifiedShuffleSplit(1, test_size=test_size, random_state=seed)
        train, test = next(splitter.split(np.zeros((len(y), 1)), y))
        splits.append((seed, np.sort(train), np.sort(test)))
    from .. import __version__

    data_key = joblib.hash((X, y))
    tasks = []
    for name, est in named.items():
        if preprocess:
            model = with_preprocessing(est, make_preprocessor(X, cats))
        else:
            model = clone(est)
        if device is not None:
            _set_device(model, device)
        for r, (seed, train, test) in enumerate(splits):
            key = joblib.hash(
                {
                    "format": _CACHE_FORMAT,
                    "version": __version__,
                    "model": name,
                    "estimator": model,
                    "dataset": dataset_name,
                    "data": data_key,
                    "split": r,
                    "seed": seed,
                    "test_size": test_size,
                }
            )
            cache_file = None
            if cache_dir is not None:
                folder = Path(cache_dir) / _safe_name(dataset_name) / _safe_name(name)
                cache_file = folder / f"split{r}-{key[:16]}.json"
            tasks.append(
                _Task(
                    dataset=dataset_name,
                    model=name,
                    split=r,
                    seed=seed,
                    estimator=model,
                    X=X,
                    y=y,
                    train=train,
                    test=test,
                    positive=positive,
                    scoring=scoring,
                    key=key,
                    cache_file=cache_file,
                )
            )
    return tasks


# ----------------------------------------------------------------- one fit
def _final_step(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _int_or_nan(value):
    if isinstance(value, Integral) and not isinstance(value, bool):
        return int(value)
    return math.nan


_WARMED_UP = set()


def _warm_up(model):
    """Fit tiny networks once per process and device, outside the timed fits.

    The first fit of a process pays for lazy imports and first-call set-up of
    torch (seconds); without this it would be charged to whichever network
    happens to run first.
    """
    final = _final_step(model)
    if not type(final).__module__.startswith("skmetabalance"):
        return
    device = str(getattr(final, "device", "auto"))
    if device in _WARMED_UP:
        return
    _WARMED_UP.add(device)
    from .. import BalancedNetClassifier, MetaBalanceClassifier

    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 4))
    y = np.r_[np.zeros(48, dtype=int), np.ones(16, dtype=int)]
    for cls in (BalancedNetClassifier, MetaBalanceClassifier):
        try:
            cls(max_iter=1, device=device, random_state=0).fit(X, y).predict_proba(X)
        except Exception:  # the timed fit will report the problem
            return


@contextlib.contextmanager
def _global_rng_kept():
    """Restore the global random states of numpy, random and torch on exit.

    Some estimators (pytabkit's TabM) seed the global generators inside fit;
    the caller's generators are left as they were.
    """
    numpy_state = np.random.get_state()  # noqa: NPY002 (the caller's state)
    python_state = random.getstate()
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    try:
        with torch.random.fork_rng(devices=cuda):
            yield
    finally:
        np.random.set_state(numpy_state)  # noqa: NPY002
        random.setstate(python_state)


def _fit_and_score(task):
    """Fit one model on one split and score it on the split's test rows."""
    record = {
        "dataset": task.dataset,
        "model": task.model,
        "split": task.split,
        **dict.fromkeys(METRICS, math.nan),
        "fit_time": math.nan,
        "score_time": math.nan,
        "n_train": int(task.train.size),
        "n_test": int(task.test.size),
        "n_test_minority": int(np.sum(task.y[task.test] == task.positive)),
        "n_iter": math.nan,
        "n_steps": math.nan,
        "error": "",
    }
    model = _set_nested(clone(task.estimator), "random_state", task.seed, True)
    # pytabkit's models otherwise use every physical core, whatever joblib
    # gave this worker process.
    _set_nested(model, "n_threads", torch.get_num_threads(), only_if_none=True)
    with warnings.catch_warnings(), _global_rng_kept():
        warnings.simplefilter("ignore")
        try:
            _warm_up(model)
            out = cross_validate(
                model,
                task.X,
                task.y,
                cv=[(task.train, task.test)],
                scoring=task.scoring,
                return_estimator=True,
                error_score="raise",
            )
        except Exception as exc:  # recorded, reported, never cached
            record["error"] = f"{type(exc).__name__}: {exc}"[:500]
            return record
    final = _final_step(out["estimator"][0])
    record.update({m: float(out[f"test_{m}"][0]) for m in METRICS})
    record["fit_time"] = float(out["fit_time"][0])
    record["score_time"] = float(out["score_time"][0])
    record["n_iter"] = _int_or_nan(getattr(final, "n_iter_", None))
    record["n_steps"] = _int_or_nan(getattr(final, "n_steps_", None))
    return record


# ---------------------------------------------------------------------- cache
def _read_cache(task):
    if task.cache_file is None or not task.cache_file.is_file():
        return None
    try:
        record = json.loads(task.cache_file.read_text())
    except (OSError, ValueError):
        return None
    if record.pop("key", None) != task.key:
        return None
    record.pop("description", None)
    return {k: (math.nan if v is None else v) for k, v in record.items()}


def _write_cache(task, record):
    if task.cache_file is None or record["error"]:
        return
    task.cache_file.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        **{
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in record.items()
        },
        "key": task.key,
        "description": repr(task.estimator)[:2000],
    }
    tmp = task.cache_file.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, task.cache_file)


# ------------------------------------------------------------------ execution
class _Progress:
    """tqdm when it is installed and wanted, else a line per finished fit."""

    def __init__(self, total, enabled, initial=0):
        self.enabled = enabled
        self.total = total
        self.done = initial
        self.bar = None
        if not enabled:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total, initial=initial, unit="fit", dynamic_ncols=True)

    def update(self, record):
        self.done += 1
        if not self.enabled:
            return
        text = f"{record['dataset']} {record['model']} split {record['split']}"
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.update(1)
            return
        score = record["average_precision"]
        status = f"AP {score:.3f}" if not record["error"] else "failed"
        print(
            f"[{self.done}/{self.total}] {text}: {status} ({record['fit_time']:.1f} s)",
            file=sys.stderr,
            flush=True,
        )

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _indexed(i, task):
    return i, _fit_and_score(task)


def execute(tasks, *, n_jobs=None, progress=False):
    """Run the fits that are not cached yet; return every result as a DataFrame.

    Fits run in ``n_jobs`` joblib worker processes, each of which joblib
    limits to ``cores // n_jobs`` threads.
    """
    records, todo = [], []
    for task in tasks:
        record = _read_cache(task)
        if record is None:
            todo.append(task)
        else:
            records.append({**record, "cached": True})
    n_jobs = max(1, min(joblib.effective_n_jobs(n_jobs), len(todo)))
    bar = _Progress(len(tasks), progress and bool(todo), initial=len(records))
    try:
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        for i, record in parallel(
            joblib.delayed(_indexed)(i, task) for i, task in enumerate(todo)
        ):
            _write_cache(todo[i], record)
            records.append({**record, "cached": False})
            bar.update(record)
    finally:
        bar.close()
    return _to_frame(records, tasks)


def _to_frame(records, tasks):
    frame = pd.DataFrame.from_records(records).reindex(columns=RESULT_COLUMNS)
    datasets = list(dict.fromkeys(t.dataset for t in tasks))
    models = list(dict.fromkeys(t.model for t in tasks))
    order = frame.assign(
        _d=frame["dataset"].map(datasets.index), _m=frame["model"].map(models.index)
    ).sort_values(["_d", "_m", "split"], kind="stable")
    frame = frame.loc[order.index].reset_index(drop=True)
    frame["error"] = frame["error"].fillna("").astype(str)
    frame["cached"] = frame["cached"].astype(bool)
    for col in ("split", "n_train", "n_test", "n_test_minority"):
        frame[col] = frame[col].astype(int)
    return frame


@validate_params(
    {
        "estimators": [dict, list, tuple, None],
        "X": ["array-like"],
        "y": ["array-like"],
        "categorical_features": ["array-like", None],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "test_size": [Interval(RealNotInt, 0, 1, closed="neither")],
        "random_state": [Interval(Integral, 0, None, closed="left")],
        "preprocess": ["boolean"],
        "device": [str, None],
        "n_jobs": [Integral, None],
        "cache_dir": [str, os.PathLike, None],
        "dataset_name": [str],
        "progress": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def compare(
    estimators,
    X,
    y,
    *,
    categorical_features=None,
    n_repeats=3,
    test_size=0.3,
    random_state=0,
    preprocess=True,
    device=None,
    n_jobs=None,
    cache_dir=None,
    dataset_name="data",
    progress=False,
):
    """Compare classifiers on repeated stratified train/test splits.

    Every estimator is fitted on the training rows of each split (by default
    behind a preprocessor fitted on those rows only) and scored on the held-out
    rows with average precision, ROC AUC, balanced accuracy and the geometric
    mean of the per-class recalls (G-mean), through
    :func:`sklearn.model_selection.cross_validate`.

    Parameters
    ----------
    estimators : dict, list or None
        ``{name: estimator}``, a list of ``(name, estimator)`` pairs,
        estimators or names of built-in models (``'metabalance'``,
        ``'net_plain'``, ``'net_weighted'``, ``'net_ros'``, ``'net_rus'``,
        ``'net_smote'``, the loss-balanced ``'net_la'``, ``'net_focal'``,
        ``'net_ldam_drw'``, ``'net_vs'``, ``'net_cb'``, ``'logreg'``,
        ``'brf'``, ``'hgb'``, and the anchors ``'tabm'`` and ``'realmlp'``,
        which need the optional package pytabkit:
        ``pip install "skmetabalance[anchors]"``). None runs every built-in
        model except the anchors.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Features. Categorical columns are named by ``categorical_features``.
    y : array-like of shape (n_samples,)
        Class labels, two classes or more. For two classes the rarer one is the
        positive class of average precision and ROC AUC; for more classes both
        are macro averages of one-vs-rest scores.
    categorical_features : array-like of bool, int or str, default=None
        Boolean mask, indices or DataFrame column names of categorical
        columns. None treats every column as numeric, except columns of a
        DataFrame with a categorical, object or string dtype.
    n_repeats : int, default=3
        Number of stratified train/test splits.
    test_size : float, default=0.3
        Share of the rows in each test split.
    random_state : int, default=0
        Split ``r`` uses seed ``random_state + r`` for the split, and the same
        seed for every unset ``random_state`` inside the estimator, so that
        results are reproducible and can be cached. Every unset ``n_threads``
        (pytabkit's models) is set to the threads of the worker process
        (``torch.get_num_threads()``, which joblib limits to ``cores // n_jobs``).
    preprocess : bool, default=True
        Put each estimator behind ``StandardScaler`` (numeric columns) and
        ``OneHotEncoder`` (categorical columns) fitted on the training rows.
        Set False for estimators that are complete pipelines.
    device : str or None, default=None
        Sets every ``device`` parameter inside the estimators (e.g. 'cpu',
        'cuda', 'auto'; pytabkit's models get None for 'auto', their name for
        the same choice); None leaves them as they are.
    n_jobs : int or None, default=None
        Fits run in parallel processes (joblib); None means 1, -1 all cores.
        joblib limits each process to ``cores // n_jobs`` threads.
    cache_dir : str, path or None, default=None
        Folder for one small JSON file per (model, data set, split,
        configuration). Finished fits found there are read instead of being
        refitted, so an interrupted comparison resumes. Failed fits are not
        cached.
    dataset_name : str, default='data'
        Name of the data set in the results and the cache.
    progress : bool, default=False
        Show a progress bar (tqdm, else one line per fit on stderr).

    Returns
    -------
    results : pandas.DataFrame
        One row per (model, split) with the columns ``dataset``, ``model``,
        ``split``, ``average_precision``, ``roc_auc``, ``balanced_accuracy``,
        ``g_mean``, ``fit_time`` and ``score_time`` (seconds to fit, and to
        predict and score the test rows), ``n_train``, ``n_test``,
        ``n_test_minority`` (test rows of the rarest class), ``n_iter`` and
        ``n_steps`` (epochs and optimiser steps of the skmetabalance networks,
        else NaN; ``n_iter`` also holds the iterations of estimators that
        report an integer ``n_iter_``), ``error`` (empty, or why the fit
        failed; its scores are then NaN) and ``cached``.

    Raises
    ------
    ImportError
        When ``estimators`` names ``'tabm'`` or ``'realmlp'`` and pytabkit is
        not installed (before any fit starts).

    See Also
    --------
    summarize : One row per model: mean scores, rank, time.
    score_table : Data sets x models table of mean ± std.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skmetabalance import MetaBalanceClassifier
    >>> from skmetabalance.benchmark import compare
    >>> X, y = make_classification(n_samples=400, weights=[0.9], random_state=0)
    >>> results = compare(
    ...     {"metabalance": MetaBalanceClassifier(max_iter=5),
    ...      "logreg": LogisticRegression(class_weight="balanced")},
    ...     X, y, n_repeats=2)
    >>> results.groupby("model")["average_precision"].mean().shape
    (2,)
    """
    tasks = plan_tasks(
        estimators,
        X,
        y,
        dataset_name=dataset_name,
        categorical_features=categorical_features,
        n_repeats=n_repeats,
        test_size=test_size,
        random_state=random_state,
        preprocess=preprocess,
        device=device,
        cache_dir=cache_dir,
    )
    return execute(tasks, n_jobs=n_jobs, progress=progress)
