"""Repeated stratified train/test evaluation with a per-fit result cache."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import label_binarize

from ._models import MODEL_NAMES, make_estimator, with_preprocessing

__all__ = ["compare", "METRICS", "RESULT_COLUMNS"]

#: Metrics computed on every test split, the first one is the main metric.
METRICS = ("average_precision", "roc_auc", "balanced_accuracy", "g_mean")

#: Columns of the DataFrame returned by :func:`compare`.
RESULT_COLUMNS = [
    "dataset",
    "model",
    "split",
    *METRICS,
    "fit_time",
    "predict_time",
    "n_train",
    "n_test",
    "n_test_minority",
    "n_iter",
    "n_steps",
    "error",
    "cached",
]

#: Bumped whenever the way a result is computed changes, to invalidate caches.
_CACHE_FORMAT = 1


# ----------------------------------------------------------------- fingerprints
def _describe(value):
    """A JSON-able description of a parameter value, stable across processes."""
    if hasattr(value, "get_params") and not isinstance(value, type):
        params = value.get_params(deep=False)
        return {
            "class": f"{type(value).__module__}.{type(value).__qualname__}",
            "params": {k: _describe(v) for k, v in sorted(params.items())},
        }
    if isinstance(value, (str, bool, int, float)) or value is None:
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value
    if isinstance(value, (np.integer, np.floating, np.bool_)):
        return value.item()
    if isinstance(value, np.ndarray):
        return {"array": value.tolist()}
    if isinstance(value, (list, tuple)):
        return [_describe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _describe(v) for k, v in sorted(value.items(), key=str)}
    if callable(value):
        name = getattr(value, "__qualname__", type(value).__qualname__)
        return f"{getattr(value, '__module__', '?')}.{name}"
    return repr(value)


def _digest(obj):
    text = json.dumps(obj, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _data_digest(X, y):
    h = hashlib.sha256()
    if isinstance(X, pd.DataFrame):
        h.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
        h.update(json.dumps([str(c) for c in X.columns]).encode())
    else:
        h.update(np.ascontiguousarray(X).tobytes())
        h.update(str(np.shape(X)).encode())
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        h.update(y.astype(np.float64).tobytes())
    else:
        h.update("\x00".join(map(str, y.tolist())).encode())
    return h.hexdigest()


def _safe_name(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name))[:80] or "_"


# ------------------------------------------------------------------ the tasks
@dataclass
class _Task:
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
    key: str
    cache_file: Path | None = None
    meta: dict = field(default_factory=dict)


def _take(X, idx):
    return X.iloc[idx] if hasattr(X, "iloc") else X[idx]


def _split_indices(y, test_size, seed):
    idx = np.arange(len(y))
    train, test = train_test_split(
        idx, test_size=test_size, stratify=y, random_state=seed
    )
    return np.sort(train), np.sort(test)


def _set_nested(estimator, suffix, value, only_if_none):
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


def _normalise_estimators(estimators):
    if estimators is None:
        return {name: make_estimator(name) for name in MODEL_NAMES}
    if isinstance(estimators, dict):
        items = list(estimators.items())
    else:
        items = []
        for item in estimators:
            if isinstance(item, str):
                items.append((item, make_estimator(item)))
            elif isinstance(item, tuple) and len(item) == 2:
                items.append(item)
            elif hasattr(item, "fit"):
                items.append((type(item).__name__, item))
            else:
                raise TypeError(
                    "estimators must be None, a dict {name: estimator} or a list of "
                    "built-in model names, (name, estimator) pairs or estimators; "
                    f"got an item {item!r}."
                )
    out = {}
    for name, est in items:
        if isinstance(est, str):
            est = make_estimator(est)
        if not hasattr(est, "fit"):
            raise TypeError(
                f"The estimator for {name!r} has no fit method; got {type(est).__name__}."
            )
        if name in out:
            raise ValueError(
                f"Two estimators are named {name!r}; names must be unique."
            )
        out[str(name)] = est
    if not out:
        raise ValueError("estimators is empty; pass at least one estimator.")
    return out


def _check_categorical(X, categorical_features):
    n_features = X.shape[1]
    if categorical_features is None:
        if isinstance(X, pd.DataFrame):
            mask = np.array(
                [
                    isinstance(dt, pd.CategoricalDtype)
                    or pd.api.types.is_object_dtype(dt)
                    or pd.api.types.is_string_dtype(dt)
                    for dt in X.dtypes
                ],
                dtype=bool,
            )
            return mask if mask.any() else None
        return None
    cats = np.asarray(categorical_features)
    if cats.dtype == bool:
        if cats.shape != (n_features,):
            raise ValueError(
                "categorical_features as a boolean mask must have one entry per "
                f"feature ({n_features}); got shape {cats.shape}."
            )
        return cats
    if cats.dtype.kind in "iu":
        mask = np.zeros(n_features, dtype=bool)
        mask[cats] = True
        return mask
    if isinstance(X, pd.DataFrame):
        columns = [str(c) for c in X.columns]
        missing = [c for c in cats.tolist() if c not in columns]
        if missing:
            raise ValueError(f"categorical_features names unknown columns {missing}.")
        return np.isin(columns, cats.tolist())
    raise ValueError(
        "categorical_features must be a boolean mask, integer indices, or column "
        f"names with a DataFrame X; got {categorical_features!r}."
    )


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
    if not isinstance(n_repeats, (int, np.integer)) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")
    if not isinstance(random_state, (int, np.integer)):
        raise ValueError(
            "random_state must be an int (splits and seeds are derived from it so "
            f"that results can be cached); got {random_state!r}."
        )
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
    values, counts = np.unique(y, return_counts=True)
    if values.size < 2:
        raise ValueError("y has a single class; compare needs two or more.")
    positive = values[np.argmin(counts)]
    mask = _check_categorical(X, categorical_features)
    estimators = _normalise_estimators(estimators)
    data_key = _data_digest(X, y)
    from .. import __version__

    tasks = []
    for name, est in estimators.items():
        model = with_preprocessing(est, mask) if preprocess else clone(est)
        if device is not None:
            _set_nested(model, "device", device, only_if_none=False)
        fingerprint = _describe(model)
        for r in range(int(n_repeats)):
            seed = int(random_state) + r
            train, test = _split_indices(y, test_size, seed)
            key = _digest(
                {
                    "format": _CACHE_FORMAT,
                    "version": __version__,
                    "model": name,
                    "estimator": fingerprint,
                    "dataset": dataset_name,
                    "data": data_key,
                    "split": r,
                    "seed": seed,
                    "test_size": test_size,
                }
            )
            cache_file = None
            if cache_dir is not None:
                cache_file = (
                    Path(cache_dir)
                    / _safe_name(dataset_name)
                    / _safe_name(name)
                    / f"split{r}-{key[:16]}.json"
                )
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
                    key=key,
                    cache_file=cache_file,
                )
            )
    return tasks


# -------------------------------------------------------------------- scoring
def _g_mean(y_true, y_pred, labels):
    from imblearn.metrics import geometric_mean_score

    return geometric_mean_score(y_true, y_pred, labels=labels, average="multiclass")


def score_predictions(y_true, proba, y_pred, classes, positive):
    """The four metrics from predicted probabilities and labels.

    For two classes, ``positive`` (the minority class) is the class scored by
    average precision and ROC AUC; for more, both are macro averages over
    one-vs-rest problems.
    """
    classes = np.asarray(classes)
    scores = {
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "g_mean": _g_mean(y_true, y_pred, classes),
    }
    if classes.size == 2:
        col = int(np.flatnonzero(classes == positive)[0])
        target = (np.asarray(y_true) == positive).astype(int)
        scores["average_precision"] = average_precision_score(target, proba[:, col])
        scores["roc_auc"] = roc_auc_score(target, proba[:, col])
    else:
        Y = label_binarize(y_true, classes=classes)
        present = Y.sum(axis=0) > 0
        scores["average_precision"] = average_precision_score(
            Y[:, present], proba[:, present], average="macro"
        )
        scores["roc_auc"] = roc_auc_score(
            y_true, proba, multi_class="ovr", average="macro", labels=classes
        )
    return {m: float(scores[m]) for m in METRICS}


@contextmanager
def _limit_threads(n_threads):
    if not n_threads:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        torch.set_num_threads(old)


def _final_step(model):
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _int_or_nan(value):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
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
            est = cls(max_iter=1, device=device, random_state=0).fit(X, y)
            est.predict_proba(X)
        except Exception:  # the timed fit will report the problem
            return


def _fit_and_score(task, n_threads):
    """Fit one model on one split and score it on the split's test rows."""
    record = {
        "dataset": task.dataset,
        "model": task.model,
        "split": task.split,
        **dict.fromkeys(METRICS, math.nan),
        "fit_time": math.nan,
        "predict_time": math.nan,
        "n_train": int(task.train.size),
        "n_test": int(task.test.size),
        "n_test_minority": int(np.sum(task.y[task.test] == task.positive)),
        "n_iter": math.nan,
        "n_steps": math.nan,
        "error": "",
    }
    X_train, y_train = _take(task.X, task.train), task.y[task.train]
    X_test, y_test = _take(task.X, task.test), task.y[task.test]
    model = _set_nested(clone(task.estimator), "random_state", task.seed, True)
    with _limit_threads(n_threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            _warm_up(model)
            t0 = time.perf_counter()
            model.fit(X_train, y_train)
            t1 = time.perf_counter()
            proba = model.predict_proba(X_test)
            y_pred = model.predict(X_test)
            t2 = time.perf_counter()
            final = _final_step(model)
            record.update(
                score_predictions(
                    y_test, np.asarray(proba), y_pred, final.classes_, task.positive
                )
            )
            record["fit_time"] = t1 - t0
            record["predict_time"] = t2 - t1
            record["n_iter"] = _int_or_nan(getattr(final, "n_iter_", None))
            record["n_steps"] = _int_or_nan(getattr(final, "n_steps_", None))
        except Exception as exc:  # recorded, reported, never cached
            record["error"] = f"{type(exc).__name__}: {exc}"[:500]
    return record


# ---------------------------------------------------------------------- cache
def _read_cache(task):
    if task.cache_file is None or not task.cache_file.is_file():
        return None
    try:
        record = json.loads(task.cache_file.read_text())
    except (OSError, ValueError):
        return None
    if record.get("key") != task.key:
        return None
    record.pop("key", None)
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


def _effective_n_jobs(n_jobs, n_tasks):
    from joblib import cpu_count

    cores = cpu_count()
    if n_jobs is None:
        n_jobs = 1
    elif n_jobs < 0:
        n_jobs = max(1, cores + 1 + n_jobs)
    return max(1, min(int(n_jobs), max(n_tasks, 1))), cores


def execute(tasks, *, n_jobs=None, progress=False, n_threads=None):
    """Run the fits that are not cached yet; return every result as a DataFrame.

    Returns
    -------
    results : DataFrame
        Columns :data:`RESULT_COLUMNS`; ``cached`` is True for results read from
        the cache.
    """
    records = []
    todo = []
    for task in tasks:
        record = _read_cache(task)
        if record is None:
            todo.append(task)
        else:
            record["cached"] = True
            records.append(record)
    n_jobs, cores = _effective_n_jobs(n_jobs, len(todo))
    if n_threads is None:
        n_threads = max(1, cores // n_jobs)
    bar = _Progress(len(tasks), progress and bool(todo), initial=len(records))
    try:
        if n_jobs == 1:
            results = (_fit_and_score(task, n_threads) for task in todo)
            for task, record in zip(todo, results):
                _write_cache(task, record)
                record["cached"] = False
                records.append(record)
                bar.update(record)
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
            results = parallel(
                delayed(_with_index)(i, task, n_threads) for i, task in enumerate(todo)
            )
            for i, record in results:
                _write_cache(todo[i], record)
                record["cached"] = False
                records.append(record)
                bar.update(record)
    finally:
        bar.close()
    return _to_frame(records, tasks)


def _with_index(i, task, n_threads):
    return i, _fit_and_score(task, n_threads)


def _to_frame(records, tasks):
    frame = pd.DataFrame.from_records(records)
    for col in RESULT_COLUMNS:
        if col not in frame:
            frame[col] = pd.Series(dtype=float)
    frame = frame[RESULT_COLUMNS]
    order = {}
    for task in tasks:
        order.setdefault(task.dataset, len(order))
    models = {}
    for task in tasks:
        models.setdefault(task.model, len(models))
    frame = frame.assign(
        _d=frame["dataset"].map(order), _m=frame["model"].map(models)
    ).sort_values(["_d", "_m", "split"], kind="stable")
    frame = frame.drop(columns=["_d", "_m"]).reset_index(drop=True)
    frame["error"] = frame["error"].fillna("").astype(str)
    frame["cached"] = frame["cached"].astype(bool)
    for col in ("split", "n_train", "n_test", "n_test_minority"):
        frame[col] = frame[col].astype(int)
    return frame


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
    mean of the per-class recalls (G-mean).

    Parameters
    ----------
    estimators : dict, list or None
        ``{name: estimator}``, a list of ``(name, estimator)`` pairs,
        estimators or names of built-in models (``'metabalance'``,
        ``'net_plain'``, ``'net_weighted'``, ``'net_ros'``, ``'net_rus'``,
        ``'net_smote'``, ``'logreg'``, ``'brf'``, ``'hgb'``). None runs every
        built-in model.
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
        results are reproducible and can be cached.
    preprocess : bool, default=True
        Put each estimator behind ``StandardScaler`` (numeric columns) and
        ``OneHotEncoder`` (categorical columns) fitted on the training rows.
        Set False for estimators that are complete pipelines.
    device : str or None, default=None
        Sets every ``device`` parameter inside the estimators (e.g. 'cpu',
        'cuda'); None leaves them as they are.
    n_jobs : int or None, default=None
        Fits run in parallel processes (joblib); None means 1, -1 all cores.
        Each process uses ``cores // n_jobs`` threads.
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
        ``g_mean``, ``fit_time`` and ``predict_time`` (seconds), ``n_train``,
        ``n_test``, ``n_test_minority`` (test rows of the rarest class),
        ``n_iter`` and ``n_steps`` (epochs and optimiser steps of the
        skmetabalance networks, else NaN; ``n_iter`` also holds the
        iterations of estimators that report an integer ``n_iter_``),
        ``error`` (empty, or why the fit failed; its scores are then NaN) and
        ``cached``.

    See Also
    --------
    skmetabalance.benchmark.summarize : Mean, spread and rank tables.

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
