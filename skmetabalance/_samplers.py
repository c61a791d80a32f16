"""Sampler handling: validation, cloning, seeding and weight bookkeeping."""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np
from sklearn.base import clone

__all__ = ["make_sampler", "resample", "Resampled"]

_ALIASES = {
    "auto": ("imblearn.over_sampling", "RandomOverSampler"),
    "over": ("imblearn.over_sampling", "RandomOverSampler"),
    "under": ("imblearn.under_sampling", "RandomUnderSampler"),
    "smote": ("imblearn.over_sampling", "SMOTE"),
}
#: Names accepted as string shortcuts for a sampler parameter.
SAMPLER_ALIASES = tuple(_ALIASES)


def _from_alias(name):
    import importlib

    module, cls = _ALIASES[name]
    return getattr(importlib.import_module(module), cls)()


def _seed_unset(sampler, seed_for):
    """Give every unset ``random_state`` inside ``sampler`` its own named seed.

    ``seed_for(key)`` returns the seed of the parameter path ``key`` (e.g.
    ``"random_state"`` or ``"steps__0__random_state"``), so each nested sampler
    gets a seed that does not depend on how many others there are.
    """
    try:
        params = sampler.get_params(deep=True)
    except Exception:  # not a BaseEstimator: leave it alone
        return sampler
    updates = {
        key: seed_for(key)
        for key, value in params.items()
        if value is None and (key == "random_state" or key.endswith("__random_state"))
    }
    if updates:
        sampler.set_params(**updates)
    return sampler


def make_sampler(sampler, seed_for):
    """Clone (or build from its alias) the sampler of one fit and seed it.

    ``sampler`` has passed the estimator's parameter validation: None, an alias
    or an object with ``fit_resample``. Objects that ``sklearn.base.clone``
    cannot handle are deep-copied.
    """
    if sampler is None:
        return None
    if isinstance(sampler, str):
        sampler = _from_alias(sampler)
    else:
        try:
            sampler = clone(sampler)
        except TypeError:
            sampler = copy.deepcopy(sampler)
    return _seed_unset(sampler, seed_for)


def _describe(sampler):
    text = repr(sampler)
    return text if len(text) <= 200 else text[:197] + "..."


class Resampled(NamedTuple):
    """One resampled training set, described without copying kept rows.

    ``rows`` index the rows of the fit's input that the set takes as they are
    (repeats allowed, in the sampler's order); ``new_X`` holds, in float32,
    the rows the sampler synthesised (None when there are none), which come
    after them.
    ``y`` and ``w`` follow that order: ``rows`` first, then ``new_X``.
    """

    rows: np.ndarray
    new_X: np.ndarray | None
    y: np.ndarray
    w: np.ndarray | None

    @property
    def n(self):
        return self.y.shape[0]


def _draws_from_labels(sampler):
    """True for samplers whose output rows are input rows chosen from ``y`` alone.

    RandomOverSampler without shrinkage and RandomUnderSampler pick rows by
    their labels and their random state only; the features never enter.
    Subclasses are excluded: they may override the draw.
    """
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    kind = type(sampler)
    if kind is RandomUnderSampler:
        return True
    return kind is RandomOverSampler and getattr(sampler, "shrinkage", 0) is None


#: Rows compared at a time when checking a sampler's output against its input.
_CHUNK = 65536


def _same_rows(A, B_of, n):
    """Whether ``A[:n]`` equals ``B_of(slice)`` chunk by chunk (no full copy)."""
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        if not np.array_equal(A[start:stop], B_of(start, stop)):
            return False
    return True


def resample(sampler, X, rows, y, sample_weight, loop):
    """Resample the training rows ``X[rows]`` and carry ``sample_weight`` along.

    ``y`` and ``sample_weight`` hold the labels and weights of ``rows``. The
    result names kept rows by their index in ``X`` and copies only rows the
    sampler synthesised, so a set drawn by an index-based sampler costs index
    arrays, not rows. Samplers that choose rows from the labels alone
    (RandomOverSampler, RandomUnderSampler) are fitted on a one-column
    stand-in of the rows, which gives the same draw without building the
    resampled features at all.

    Weights follow rows when the sampler reports ``sample_indices_`` (every
    imbalanced-learn under-sampler and RandomOverSampler). For samplers that
    synthesise rows, rows returned unchanged at the head of the output keep their
    weight, and every other row gets the mean weight of its class in the input.

    Returns
    -------
    Resampled
    """
    if sampler is None:
        return Resampled(rows, None, y, sample_weight)
    name = type(sampler).__name__
    # ``loop`` is "inner", "outer" (MetaBalance) or "sampler" (the plain baseline).
    param = "sampler" if loop == "sampler" else f"{loop}_sampler"
    loop = "" if loop == "sampler" else f" {loop}"
    n = rows.shape[0]
    by_labels = _draws_from_labels(sampler)
    X_fit = np.zeros((n, 1), dtype=X.dtype) if by_labels else X[rows]
    try:
        X_res, y_res = sampler.fit_resample(X_fit, y)
    except Exception as exc:
        raise ValueError(
            f"The{loop} sampler {_describe(sampler)} failed on {n} training "
            f"rows with class counts {_counts(y)}: {type(exc).__name__}: {exc}. "
            f"Check that every class has enough rows for this sampler (for example "
            f"lower k_neighbors / n_neighbors), or pass a different '{param}'."
        ) from exc
    if by_labels:
        # The fitted sampler describes the rows it stood in for.
        sampler.n_features_in_ = X.shape[1]
    if hasattr(X_res, "toarray"):
        X_res = X_res.toarray()
    X_res = np.asarray(X_res)
    y_res = np.asarray(y_res)
    if X_res.dtype.kind not in "fiub":
        try:
            X_res = X_res.astype(X.dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"The{loop} sampler {name} returned features of dtype {X_res.dtype} "
                f"that cannot be read as numbers ({exc}). Pass a different '{param}'."
            ) from exc
    if X_res.ndim != 2 or X_res.shape[0] == 0 or X_res.shape[0] != y_res.shape[0]:
        raise ValueError(
            f"The{loop} sampler {name} returned an unusable set: X of shape "
            f"{X_res.shape} and y of shape {y_res.shape}. Pass a different "
            f"'{param}'."
        )
    labels = np.unique(y)
    try:
        known = y_res.ndim == 1 and bool(np.isin(y_res, labels).all())
    except (TypeError, ValueError):
        known = False
    if not known:
        raise ValueError(
            f"The{loop} sampler {name} returned labels that were not among the "
            f"labels it was given ({labels.tolist()!r}); got y of shape "
            f"{y_res.shape} and dtype {y_res.dtype}. Samplers must keep the labels. "
            f"Pass a different '{param}'."
        )
    y_res = y_res.astype(y.dtype, copy=False)
    if X_res.shape[1] != X_fit.shape[1]:
        raise ValueError(
            f"The{loop} sampler {name} changed the number of features from "
            f"{X_fit.shape[1]} to {X_res.shape[1]}; samplers must return rows of the "
            f"same width. Pass a different '{param}'."
        )
    if np.unique(y_res).size < 2:
        raise ValueError(
            f"The{loop} sampler {name} returned rows of a single class "
            f"({_counts(y_res)}); a classifier needs at least two. Pass a different "
            f"'{param}' or check its sampling_strategy."
        )
    if not by_labels and not np.isfinite(X_res).all():
        raise ValueError(
            f"The{loop} sampler {name} returned non-finite feature values (NaN or "
            f"inf). Pass a different '{param}'."
        )
    indices = getattr(sampler, "sample_indices_", None)
    if indices is not None:
        indices = np.asarray(indices)
        if indices.shape != (X_res.shape[0],) or not (
            by_labels
            or _same_rows(X_res, lambda a, b: X_fit[indices[a:b]], len(indices))
        ):
            # Not a plain selection of input rows (e.g. a smoothed bootstrap).
            indices = None
    if indices is not None:
        w_res = None if sample_weight is None else sample_weight[indices]
        return Resampled(rows[indices], None, y_res, w_res)
    # Rows returned unchanged at the head of the output keep their identity.
    head = 0
    if (
        X_res.shape[0] >= n
        and np.array_equal(y_res[:n], y)
        and _same_rows(X_res, lambda a, b: X_fit[a:b], n)
    ):
        head = n
    X_fit = None  # freed before the new rows are copied
    w_res = None
    if sample_weight is not None:
        w_res = np.empty(X_res.shape[0], dtype=sample_weight.dtype)
        for c in labels:
            w_res[y_res == c] = sample_weight[y == c].mean()
        w_res[:head] = sample_weight[:head]
    # A float32 copy (the precision the network computes in) of the new rows
    # only: the sampler's output is freed on return.
    new_X = np.ascontiguousarray(X_res[head:], dtype=np.float32)
    return Resampled(rows[:head], new_X, y_res, w_res)


def _counts(y):
    values, counts = np.unique(y, return_counts=True)
    return {
        v.item() if hasattr(v, "item") else v: int(c) for v, c in zip(values, counts)
    }
