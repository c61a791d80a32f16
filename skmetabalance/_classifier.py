"""MetaBalanceClassifier and BalancedNetClassifier."""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import _data
from ._data import IndexStream, resolve_device
from ._fastpath import make_engine
from ._inference import forward_logits
from ._modules import Ensemble, average_logits, build_module, check_output_shape
from ._optim import SGD
from ._samplers import SAMPLER_ALIASES, make_sampler, resample
from ._seeding import SeedPlan
from ._threads import TorchRNG
from ._training import EarlyStopping, MetaStepper, PlainStepper, train
from .losses import LOSS_ALIASES, BaseLoss, fit_loop_loss, make_loss, trained_prior

__all__ = ["MetaBalanceClassifier", "BalancedNetClassifier"]

#: Optimiser steps a pass may take with ``geometry='auto'`` before the batches
#: grow, for steps of at least :data:`BASE_ROWS` rows ...
PASS_STEPS = 2048
#: ... the rows of a step of the default batch sizes (smaller steps grow from
#: the same set size, ``PASS_STEPS * BASE_ROWS`` rows, in the same proportion).
BASE_ROWS = 64
#: Most rows an epoch covers with ``geometry='auto'`` (a larger set takes
#: several epochs to pass over). It equals ``PASS_STEPS * BASE_ROWS``: with the
#: default batch sizes, batches grow and epochs stop covering a whole pass
#: from the same size on. Once the batches grow ``g``-fold, an epoch covers
#: ``EPOCH_ROWS / g`` rows, but at least :data:`MIN_EPOCH_SHARE` of the set.
EPOCH_ROWS = PASS_STEPS * BASE_ROWS
#: Smallest share of the set an epoch covers once batches grow (up to
#: ``EPOCH_ROWS`` rows): ten epochs, the default patience, see a whole pass.
MIN_EPOCH_SHARE = 0.1
#: Largest factor by which ``geometry='auto'`` grows the batches.
MAX_GROWTH = 64

#: Largest share of the rows ``validation_min_class_rows`` makes early stopping
#: hold out (70 % of the rows are always left to train on).
_MAX_VALIDATION_SHARE = 0.3

#: Largest dense copy (bytes) made of a sparse input matrix.
MAX_DENSE_BYTES = 4 * 1024**3


def _format_bytes(n):
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _densify(X, name="X"):
    if not sp.issparse(X):
        return X
    n_bytes = X.shape[0] * X.shape[1] * X.dtype.itemsize
    if n_bytes > MAX_DENSE_BYTES:
        raise ValueError(
            f"{name} is a sparse matrix of shape {X.shape} whose dense copy would take "
            f"{_format_bytes(n_bytes)}, more than the {_format_bytes(MAX_DENSE_BYTES)}"
            " limit (skmetabalance._classifier.MAX_DENSE_BYTES). Reduce its width "
            "(e.g. TruncatedSVD or feature selection) before this estimator, or pass "
            "it in smaller row blocks to predict."
        )
    return X.toarray()


def _check_numeric(X):
    """Refuse input holding values that cannot be read as floats, naming them."""
    if sp.issparse(X):
        return
    if hasattr(X, "columns") and hasattr(X, "dtypes"):
        columns = [
            (col, X[col])
            for col, dtype in zip(X.columns, X.dtypes)
            if getattr(dtype, "kind", "O") not in "biufc"
        ]
        where = "non-numeric columns"
    else:
        arr = X if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
        if arr.dtype.kind in "biufc":  # complex input gets scikit-learn's error
            return
        columns = [(None, arr)]
        where = None
    bad, reason = [], None
    for col, values in columns:
        try:
            np.asarray(values, dtype=np.float64)
        except ValueError as exc:  # a TypeError (e.g. a dict) propagates as it is
            bad.append(col)
            reason = reason or exc
    if bad:
        named = f" ({where}: {bad[:10]!r})" if where else ""
        raise ValueError(
            f"X must hold numeric features only{named}; got a value that cannot be "
            f"converted to float ({reason}). Encode string or categorical columns "
            "first, e.g. with OneHotEncoder or OrdinalEncoder in a ColumnTransformer."
        )


def _validate_numeric(estimator, X, y="no_validation", **kwargs):
    """``validate_data`` accepting sparse input, refusing non-numeric values."""
    _check_numeric(X)
    return validate_data(estimator, X, y, accept_sparse=("csr", "csc", "coo"), **kwargs)


def _finite_logits(logits, warn=True):
    """Make float64 logits safe for softmax and sigmoid.

    Infinite logits are clipped to +-1e300 (which keeps their order and gives
    the limiting probabilities); a row holding NaN, which only an overflowing
    network produces, is replaced by zeros (uniform probabilities).
    """
    nan_rows = torch.isnan(logits).any(dim=1)
    if bool(nan_rows.any()):
        if warn:
            warnings.warn(
                f"The network returned NaN outputs for {int(nan_rows.sum())} of "
                f"{logits.shape[0]} rows (its activations overflowed, typically on "
                "extreme feature values); their class probabilities are set to "
                "uniform. Standardise the features.",
                RuntimeWarning,
                stacklevel=3,
            )
        logits = logits.masked_fill(nan_rows[:, None], 0.0)
    return logits.clamp(-1e300, 1e300)


class _Prefit(ClassifierMixin, BaseEstimator):
    """Stand-in estimator that returns precomputed probabilities to a scorer."""

    def __init__(self, proba=None, classes=None):
        self.proba = proba
        self.classes = classes

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted
        return self

    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.proba

    def decision_function(self, X):
        if self.proba.shape[1] == 2:
            return self.proba[:, 1]
        return self.proba

    def predict(self, X):
        return self.classes[np.argmax(self.proba, axis=1)]


def _proba_from_logits(logits, n_outputs):
    """Class probabilities from finite float64 logits."""
    if n_outputs == 1:
        p = torch.sigmoid(logits[:, 0])
        return torch.stack([1.0 - p, p], dim=1)
    return torch.softmax(logits, dim=1)


def _members_of(module):
    """The ensemble members of a fitted ``module_`` (one network is one member)."""
    return list(module) if isinstance(module, Ensemble) else [module]


@dataclass
class _FitRun:
    """What :meth:`_BaseNetClassifier._setup` prepares for one fit."""

    classes: np.ndarray
    n_outputs: int
    device: torch.device
    plan: SeedPlan
    fit_index: int
    validation_indices: np.ndarray | None
    samplers: dict
    losses: dict
    class_counts: dict
    class_prior: np.ndarray
    trained_prior: np.ndarray
    geometry: dict
    optimizer: SGD
    stepper: object
    early_stopping: EarlyStopping | None
    history: list
    steps_done: int


class _BaseNetClassifier(ClassifierMixin, BaseEstimator):
    """Shared machinery: validation, devices, the engine, prediction, pickling."""

    # Links the HTML repr (notebooks) to our API pages rather than scikit-learn's.
    _doc_link_module = "skmetabalance"
    _doc_link_template = (
        "https://skmetabalance.readthedocs.io/en/latest/generated/"
        "skmetabalance.{estimator_name}.html"
    )

    _parameter_constraints: dict = {
        "module": [callable, None],
        "hidden_layer_sizes": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "geometry": [StrOptions({"auto", "fixed"})],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation_min_class_rows": [Interval(Integral, 1, None, closed="left"), None],
        "validation_split": [StrOptions({"shared", "per_member"})],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "prior_correction": ["boolean"],
    }

    # ------------------------------------------------------------------ fit
    def _check_hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        try:
            sizes = tuple(sizes)
        except TypeError:
            sizes = None
        if sizes is None or not all(
            isinstance(h, (Integral, np.integer)) and not isinstance(h, bool) and h > 0
            for h in sizes
        ):
            raise ValueError(
                "The 'hidden_layer_sizes' parameter must be a sequence of positive "
                f"integers (layer widths), e.g. (64, 64); got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(h) for h in sizes)

    def _validate_fit_input(self, X, y, sample_weight, reset):
        X, y = _validate_numeric(
            self,
            X,
            y,
            dtype=(np.float64, np.float32),
            ensure_min_samples=2,
            reset=reset,
        )
        X = _densify(X)
        limit = float(np.finfo(np.float32).max)
        if X.dtype == np.float64 and (X.max() > limit or X.min() < -limit):
            raise ValueError(
                f"X must hold values within the float32 range (|x| <= {limit:.3g}), "
                "in which the network computes; got values as large as "
                f"{max(abs(X.max()), abs(X.min())):.3g} in magnitude. Rescale the "
                "features, e.g. with StandardScaler in a Pipeline."
            )
        check_classification_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            total = sample_weight.sum()
            if not total > 0:
                raise ValueError(
                    "sample_weight must have a positive sum; got weights that are all "
                    "zero."
                )
            sample_weight = sample_weight / sample_weight.mean()
        return X, y, sample_weight

    def _encode_labels(self, y, continuing):
        """The classes of this fit and ``y`` as codes ``0..n_classes-1``."""
        if not continuing:
            classes = np.unique(y)
            if classes.size < 2:
                raise ValueError(
                    "The target y needs at least 2 classes to fit a classifier; got 1 "
                    f"class: {classes.tolist()!r}."
                )
            return classes, np.searchsorted(classes, y)
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if unseen.size:
            raise ValueError(
                "warm_start=True continues an earlier fit whose classes were "
                f"{self.classes_.tolist()!r}; y contains new labels "
                f"{unseen.tolist()!r}. Set warm_start=False to refit."
            )
        return self.classes_, np.searchsorted(self.classes_, y)

    def _validation_share(self, n_rarest):
        """The share of rows early stopping holds out, for a rarest class of
        ``n_rarest`` rows: ``validation_fraction``, or more (up to
        ``_MAX_VALIDATION_SHARE``) where that holds fewer than
        ``validation_min_class_rows`` rows of the rarest class."""
        share = self.validation_fraction
        floor = self.validation_min_class_rows
        if floor is not None and n_rarest > 0:
            share = max(share, min(floor / n_rarest, _MAX_VALIDATION_SHARE))
        return float(share)

    def _validation_indices(self, y, n_classes, plan):
        """Sorted indices of the rows each member holds out, or None.

        One array shared by every member, or, with
        ``validation_split="per_member"`` and several members, one array per
        member: disjoint stratified folds of the share held out (see
        ``_validation_share``) each (when ``n_estimators`` times that share
        exceeds 1, members share folds in turn).
        """
        if self.early_stopping is False:
            return None
        counts = np.bincount(y, minlength=n_classes)
        share = self._validation_share(counts.min())
        n_val = int(np.ceil(share * y.shape[0]))
        if self.early_stopping == "auto":
            # On when the split can be expected to hold every class at least once.
            if counts.min() * share < 1 or counts.min() < 2:
                return None
        elif counts.min() < 2 or n_val < n_classes:
            raise ValueError(
                f"early_stopping=True holds out a stratified {share:.3g} of the rows "
                f"(validation_fraction={self.validation_fraction}, "
                f"validation_min_class_rows={self.validation_min_class_rows}), "
                "which needs at least 2 rows per class and at least one validation "
                f"row per class; got class counts {counts.tolist()} for {y.shape[0]} "
                "rows. Raise validation_fraction, collect more minority rows or set "
                "early_stopping=False."
            )
        rows = np.arange(y.shape[0])
        if self.validation_split == "shared" or self.n_estimators == 1:
            _, val = train_test_split(
                rows,
                test_size=share,
                stratify=y,
                random_state=plan.seed("split"),
            )
            return np.sort(val)
        n_folds = max(2, min(int(round(1 / share)), counts.min()))
        folds = StratifiedKFold(
            n_folds, shuffle=True, random_state=plan.seed("split", "folds")
        )
        held = [np.sort(val) for _, val in folds.split(rows, y)]
        return [held[m % n_folds] for m in range(self.n_estimators)]

    def _make_validate(self, X, y, val_idx, n_outputs, device):
        """``validate(modules, active)``: per-member scores and the ensemble's.

        With shared validation rows the ensemble's score is that of the
        members' averaged probabilities; with one fold per member, each member
        is scored on its own fold and the ensemble's score is their mean.
        """
        scorer = check_scoring(self, scoring=self.scoring or "average_precision")
        codes = np.arange(max(n_outputs, 2))
        shared = not isinstance(val_idx, list)
        folds = [val_idx] if shared else val_idx
        parts = []
        for idx in folds:
            X_v = np.ascontiguousarray(X[idx], dtype=np.float32)
            # The scorer sees the rows the network scores (on the CPU, the
            # same memory).
            X_t = torch.as_tensor(X_v, device=device)
            parts.append((X_t, X_v, y[idx]))
        settled = {}  # probabilities and score of members that no longer train

        def proba_of(module, X_t):
            logits = _finite_logits(forward_logits(module, X_t, n_outputs), warn=False)
            return _proba_from_logits(logits, n_outputs).cpu().numpy()

        def validate(modules, active):
            probas, scores, own = [], [], []
            for m, module in enumerate(modules):
                X_t, X_v, y_v = parts[0 if shared else m]
                if m in active:
                    settled.pop(m, None)
                    proba = proba_of(module, X_t)
                    score = scorer(_Prefit(proba, codes), X_v, y_v)
                    scores.append(score)
                else:
                    if m not in settled:
                        proba = proba_of(module, X_t)
                        settled[m] = (proba, scorer(_Prefit(proba, codes), X_v, y_v))
                    proba, score = settled[m]
                    scores.append(None)
                probas.append(proba)
                own.append(score)
            if len(modules) == 1:
                return scores, scores[0]
            if not shared:
                return scores, float(np.mean(own))
            _, X_v, y_v = parts[0]
            return scores, scorer(_Prefit(np.mean(probas, axis=0), codes), X_v, y_v)

        return validate

    def _build_members(self, n_features, n_outputs, device, seed_for=None):
        """The ``n_estimators`` networks of a fit, checked, on ``device``.

        ``seed_for(member)`` seeds each member's initial weights; without it
        the weights are drawn from torch's global generator (they are about to
        be overwritten by loaded ones).
        """
        hidden = self._check_hidden_layer_sizes()
        members = []
        for m in range(self.n_estimators):
            if seed_for is None:
                module = build_module(
                    self.module, n_features, n_outputs, hidden, self.dropout
                )
            else:
                with TorchRNG(seed_for(m), device).active():
                    module = build_module(
                        self.module, n_features, n_outputs, hidden, self.dropout
                    )
            module = module.to(device=device, dtype=torch.float32)
            check_output_shape(module, n_features, n_outputs, device)
            members.append(module)
        return members

    def _geometry(self, n_rows):
        """Batch sizes, learning rate and epoch length of a fit.

        ``n_rows`` is the size of the set an epoch passes over. With
        ``geometry='auto'``, on a set of more than ``PASS_STEPS * max(rows per
        step, BASE_ROWS)`` rows the batches grow in proportion to the rows (at
        most :data:`MAX_GROWTH` times) and the learning rate with the square
        root of that growth; with more than :data:`EPOCH_ROWS` rows, an epoch
        covers that many rows of the set rather than all of them, and once
        the batches grow ``g``-fold, ``EPOCH_ROWS / g`` rows, but at least
        :data:`MIN_EPOCH_SHARE` of the set (and at most ``EPOCH_ROWS``).
        """
        growth = 1.0
        given = self._rows_per_step({k: getattr(self, k) for k in self._BATCH_PARAMS})
        threshold = PASS_STEPS * max(given, BASE_ROWS)
        if self.geometry == "auto" and n_rows > threshold:
            growth = min(n_rows / threshold, MAX_GROWTH)
        sizes = {
            name: max(1, round(getattr(self, name) * growth))
            for name in self._BATCH_PARAMS
        }
        rows = self._rows_per_step(sizes)
        # None: one pass over the set (the stepper counts it).
        steps_per_epoch = None
        if self.geometry == "auto" and n_rows > EPOCH_ROWS:
            epoch_rows = EPOCH_ROWS
            if growth > 1:
                # Larger batches at a larger rate reach their best sooner: a
                # shorter epoch makes the patience wait for less.
                epoch_rows = min(
                    EPOCH_ROWS, max(EPOCH_ROWS / growth, MIN_EPOCH_SHARE * n_rows)
                )
            steps_per_epoch = math.ceil(epoch_rows / rows)
        return {
            "growth": growth,
            **sizes,
            "rows_per_step": rows,
            "lr": self.lr * math.sqrt(growth),
            "steps_per_epoch": steps_per_epoch,
        }

    def _make_optimizer(self, stepper, state, lr):
        """SGD over the tensors the stepper trains, resuming ``state``."""
        optimizer = SGD(
            stepper.parameters(),
            lr=lr,
            momentum=self.momentum,
            nesterov=self.momentum > 0,
            weight_decay=self.weight_decay,
        )
        if state is not None:
            stepper.weights.import_state(optimizer, state)
            # The saved state carries the old hyperparameters: use the current ones.
            for group in optimizer.param_groups:
                group.update(
                    lr=lr,
                    momentum=self.momentum,
                    nesterov=self.momentum > 0,
                    weight_decay=self.weight_decay,
                )
        return optimizer

    def _continuation(self):
        """Whether this fit continues the last one (``warm_start``), checked."""
        continuing = self.warm_start and self.__sklearn_is_fitted__()
        if continuing and len(_members_of(self.module_)) != self.n_estimators:
            raise ValueError(
                f"warm_start=True continues an earlier fit of "
                f"{len(_members_of(self.module_))} ensemble members; got "
                f"n_estimators={self.n_estimators}. Set warm_start=False to refit."
            )
        return continuing

    def _seed_plan(self, continuing):
        """The fit's seed plan and the index of this fit among continued ones.

        A continued fit keeps the plan (so the validation split) of the first
        one, and draws new batch orders, dropout masks and sampler seeds.
        """
        if continuing and hasattr(self, "_seed_entropy"):
            return SeedPlan(entropy=self._seed_entropy), self._n_fits
        if continuing:
            # A model pickled by version 0.1 carries no seed plan: start one.
            return SeedPlan(self.random_state), len(self.history_)
        return SeedPlan(self.random_state), 0

    def _resample_members(self, X, y, sample_weight, classes, val_idx, plan, fit_index):
        """Each member's resampled sets (all rows but its validation rows).

        Returns the list of per-member ``{set name: Resampled}`` and the fitted
        samplers (one per member where members resample their own rows).
        """
        held = (
            [None]
            if val_idx is None
            else (val_idx if isinstance(val_idx, list) else [val_idx])
        )
        n_rows = y.shape[0]
        per_member = []
        for m, idx in enumerate(held):
            if idx is None:
                rows = np.arange(n_rows)
            else:
                keep = np.ones(n_rows, dtype=bool)
                keep[idx] = False
                rows = np.flatnonzero(keep)
            w_m = None if sample_weight is None else sample_weight[rows]
            # Shared rows keep the seeds of a single network's fit.
            key = () if len(held) == 1 else (m,)
            per_member.append(
                self._resample(
                    X,
                    rows,
                    y[rows],
                    w_m,
                    classes,
                    lambda *k, key=key: plan.seed("sampler", fit_index, *key, *k),
                )
            )
        samplers = per_member[0][1]
        if len(per_member) > 1:
            samplers = {k: [s[k] for _, s in per_member] for k in samplers}
        return [member_sets for member_sets, _ in per_member], samplers

    @staticmethod
    def _class_counts(sets, n_classes):
        """Weighted class counts of every set, one row per member: ``(M, C)``."""
        return {
            name: np.stack(
                [
                    np.bincount(
                        member_sets[name].y,
                        weights=member_sets[name].w,
                        minlength=n_classes,
                    )
                    for member_sets in sets
                ]
            )
            for name in sets[0]
        }

    def _check_losses(self, classes):
        """Validate every loss parameter; the fresh loss objects, by set name."""
        binary = classes.size == 2
        losses = {}
        for name, param in self._LOSS_PARAMS.items():
            loss = make_loss(getattr(self, param))
            try:
                loss._check_params(classes, binary)
            except ValueError as exc:
                raise ValueError(f"Invalid '{param}' ({loss!r}): {exc}") from None
            losses[name] = loss
        return losses

    def _loop_losses(self, losses, counts, classes, device):
        """Each loop's loss fitted to the class counts of the set it sees."""
        return {
            name: fit_loop_loss(
                loss,
                counts[name],
                classes,
                classes.size == 2,
                self.max_iter,
                device,
                self._LOSS_PARAMS[name],
            )
            for name, loss in losses.items()
        }

    @staticmethod
    def _training_sets(X, sets, n_outputs, device):
        """Every set as indices into one float32 feature store; and set sizes.

        The store holds the input rows (shared with X when it is float32
        already), then the rows samplers synthesised. With one fold per member,
        the members' sets are stored one after another and each member's
        batches are drawn from its own rows. ``sets`` is emptied as it goes.
        """
        n_rows = X.shape[0]
        names = list(sets[0])
        extra, index, end = [], {}, n_rows
        for name in names:
            index[name] = []
            for member_sets in sets:
                rows, new_X = member_sets[name].rows, member_sets[name].new_X
                if new_X is not None and new_X.shape[0]:
                    rows = np.concatenate([rows, np.arange(end, end + new_X.shape[0])])
                    end += new_X.shape[0]
                    extra.append(new_X)
                index[name].append(rows)
        store = _data.feature_store(X, extra, device)
        del X, extra
        tensors, sizes = {}, {}
        for name in names:
            parts = [member_sets.pop(name) for member_sets in sets]
            sizes[name] = [part.n for part in parts]
            tensors[name] = _data.TrainingSet(
                store,
                np.concatenate(index.pop(name)),
                np.concatenate([part.y for part in parts]),
                None if parts[0].w is None else np.concatenate([p.w for p in parts]),
                binary=n_outputs == 1,
            )
            del parts
        return tensors, sizes

    @staticmethod
    def _index_streams(sizes, n_members, plan, fit_index, device):
        """``streams(name)``: each member's batch-index stream over set ``name``."""

        def streams(name):
            counts = sizes[name] * (n_members if len(sizes[name]) == 1 else 1)
            starts = np.concatenate([[0], np.cumsum(sizes[name])[:-1]])
            starts = np.resize(starts, n_members)
            return [
                IndexStream(
                    counts[m],
                    plan.seed("batches", fit_index, name, m),
                    device,
                    offset=int(starts[m]),
                )
                for m in range(n_members)
            ]

        return streams

    def _priors(self, y, sample_weight, n_classes, counts, loop_losses):
        """The class prior of the fit's rows and the one the network trains toward."""
        data = np.bincount(y, weights=sample_weight, minlength=n_classes)
        trained = None
        for name, loop in loop_losses.items():
            q = trained_prior(loop, counts[name]).mean(axis=0)
            q = q * self._loop_share(name)
            trained = q if trained is None else trained + q
        return data / data.sum(), trained / trained.sum()

    def _setup(self, X, y, sample_weight):
        """Everything a fit needs before its first epoch.

        Nothing is assigned to the estimator here: a fit interrupted while
        resampling or building tensors leaves a fitted estimator as it was.
        """
        self._check_hidden_layer_sizes()
        continuing = self._continuation()
        X, y, sample_weight = self._validate_fit_input(
            X, y, sample_weight, reset=not continuing
        )
        classes, y = self._encode_labels(y, continuing)
        n_outputs = 1 if classes.size == 2 else classes.size
        losses = self._check_losses(classes)
        plan, fit_index = self._seed_plan(continuing)
        device = resolve_device(self.device)

        val_idx = self._validation_indices(y, classes.size, plan)
        validate = None
        if val_idx is not None:
            validate = self._make_validate(X, y, val_idx, n_outputs, device)
        sets, samplers = self._resample_members(
            X, y, sample_weight, classes, val_idx, plan, fit_index
        )
        counts = self._class_counts(sets, classes.size)
        loop_losses = self._loop_losses(losses, counts, classes, device)
        class_prior, trained = self._priors(
            y, sample_weight, classes.size, counts, loop_losses
        )
        n_features = X.shape[1]
        if continuing:
            members = [m.to(device) for m in _members_of(self.module_)]
        else:
            members = self._build_members(
                n_features, n_outputs, device, lambda m: plan.seed("init", m)
            )
        tensors, sizes = self._training_sets(X, sets, n_outputs, device)
        del X, sets
        streams = self._index_streams(sizes, len(members), plan, fit_index, device)

        geometry = self._geometry(max(sizes[self._EPOCH_SET]))
        stepper = self._make_stepper(
            members,
            make_engine(members[0], n_outputs == 1),
            tensors,
            streams,
            geometry,
            loop_losses,
        )
        geometry["steps_per_epoch"] = stepper.steps_per_epoch
        optimizer = self._make_optimizer(
            stepper, self._optimizer_state if continuing else None, geometry["lr"]
        )
        return _FitRun(
            classes=classes,
            n_outputs=n_outputs,
            device=device,
            plan=plan,
            fit_index=fit_index,
            validation_indices=val_idx,
            samplers=samplers,
            losses={self._LOSS_PARAMS[k] + "_": v for k, v in losses.items()},
            class_counts={
                k: v[0] if v.shape[0] == 1 else list(v) for k, v in counts.items()
            },
            class_prior=class_prior,
            trained_prior=trained,
            geometry=geometry,
            optimizer=optimizer,
            stepper=stepper,
            early_stopping=(
                None
                if validate is None
                else EarlyStopping(
                    validate, len(members), self.n_iter_no_change, self.tol
                )
            ),
            history=list(self.history_) if continuing else [],
            steps_done=self.n_steps_ if continuing else 0,
        )

    def _finish(self, run, result):
        """Best weights back in place, and the fitted attributes set."""
        members = run.stepper.modules
        best = [None] * len(members)
        for m, module in enumerate(members):
            if run.early_stopping is not None:
                run.early_stopping.restore_best(m, module)
                if run.early_stopping.best[m]["state"] is not None:
                    best[m] = run.early_stopping.best[m]
            module.eval()
        run.stepper.weights.release()
        epochs = [None if b is None else b["epoch"] for b in best]
        scores = [None if b is None else b["score"] for b in best]
        for name, sampler in run.samplers.items():
            setattr(self, name, sampler)
        for name, loss in run.losses.items():
            setattr(self, name, loss)
        self.class_counts_ = run.class_counts
        self.class_prior_ = run.class_prior
        self.trained_prior_ = run.trained_prior
        self.classes_ = run.classes
        self.n_outputs_ = run.n_outputs
        self.device_ = run.device
        self.module_ = members[0] if len(members) == 1 else Ensemble(members)
        self.validation_indices_ = run.validation_indices
        self.geometry_ = run.geometry
        self.history_ = run.history
        self.n_steps_ = result.steps_done
        self.best_epoch_ = epochs[0] if len(best) == 1 else epochs
        self.best_validation_score_ = scores[0] if len(best) == 1 else scores
        self.stopped_reason_ = result.stopped
        self._optimizer_state = run.stepper.weights.export_state(run.optimizer)
        self._seed_entropy = run.plan.entropy
        self._n_fits = run.fit_index + 1
        # Set last: a fit interrupted before this point leaves no estimator
        # that looks fitted (see __sklearn_is_fitted__).
        self.n_iter_ = len(run.history)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the network.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training rows. Sparse input is densified (up to 4 GiB).
        y : array-like of shape (n_samples,)
            Class labels: any labels scikit-learn accepts, two classes or more.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative row weights, normalised to mean 1. They follow rows
            through samplers (see the user guide for samplers that synthesise
            rows).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        run = self._setup(X, y, sample_weight)
        result = train(
            run.stepper,
            run.optimizer,
            max_iter=self.max_iter,
            early_stopping=run.early_stopping,
            history=run.history,
            steps_done=run.steps_done,
            verbose=self.verbose,
            rng=TorchRNG(run.plan.seed("training", run.fit_index), run.device),
        )
        self._finish(run, result)
        return self

    # ------------------------------------------------------------- predict
    def _logits(self, X):
        """Float64 logits whose sigmoid / softmax are the predicted probabilities."""
        check_is_fitted(self)
        X = _validate_numeric(self, X, dtype=np.float32, reset=False)
        X = _densify(X)
        logits = [
            forward_logits(m, X, self.n_outputs_) for m in _members_of(self.module_)
        ]
        logits = (
            logits[0]
            if len(logits) == 1
            else average_logits([_finite_logits(z) for z in logits])
        )
        if self.prior_correction:
            logits = logits + self._prior_shift()
        return logits

    def _prior_shift(self):
        """What ``prior_correction`` adds to the logits (float64, per output)."""
        if not hasattr(self, "trained_prior_"):
            raise ValueError(
                "prior_correction=True needs the class priors of the fit "
                "(class_prior_, trained_prior_), which this estimator, fitted by "
                "an earlier version, lacks. Refit it, or set prior_correction=False."
            )
        shift = np.log(self.class_prior_) - np.log(self.trained_prior_)
        if self.n_outputs_ == 1:
            shift = shift[1:] - shift[:1]
        return torch.as_tensor(shift, dtype=torch.float64)

    def decision_function(self, X):
        """Raw network outputs (logits) for the rows of ``X``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Rows with the features seen during fit (the same columns, by name,
            when fitted on a DataFrame). Sparse input is densified.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, the logit of ``classes_[1]`` for each row,
            positive where ``classes_[1]`` is predicted. For more classes, one
            logit per class, in the order of ``classes_``. Float64; a network whose
            activations overflow gives infinite or NaN values here, which
            :meth:`predict_proba` turns into valid probabilities. With
            ``n_estimators > 1`` these are the logits of the members' averaged
            probabilities (the log-odds of the mean probability of
            ``classes_[1]``, or the log of the mean class probabilities), so
            that their sigmoid or softmax is :meth:`predict_proba` exactly.
        """
        logits = self._logits(X).numpy()
        return logits[:, 0] if self.n_outputs_ == 1 else logits

    def predict_proba(self, X):
        """Class probabilities for the rows of ``X``.

        The sigmoid of the logit for two classes, the softmax of the logits for
        more; with ``n_estimators > 1``, the mean of the members' probabilities.
        Rows for which the network returns NaN (an overflowing network)
        get uniform probabilities, with a ``RuntimeWarning``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Rows with the features seen during fit (the same columns, by name,
            when fitted on a DataFrame). Sparse input is densified.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``;
            each row sums to 1.
        """
        return _proba_from_logits(
            _finite_logits(self._logits(X)), self.n_outputs_
        ).numpy()

    def predict_log_proba(self, X):
        """Log of the class probabilities for the rows of ``X``.

        Computed from the logits (log-sigmoid or log-softmax), so that
        probabilities too small for :meth:`predict_proba` to resolve keep a
        finite logarithm.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Rows with the features seen during fit (the same columns, by name,
            when fitted on a DataFrame). Sparse input is densified.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Natural logarithm of the probability of each class, columns in the
            order of ``classes_``.
        """
        logits = _finite_logits(self._logits(X))
        if self.n_outputs_ == 1:
            z = logits[:, 0]
            out = torch.stack(
                [torch.nn.functional.logsigmoid(-z), torch.nn.functional.logsigmoid(z)],
                dim=1,
            )
            return out.numpy()
        return torch.log_softmax(logits, dim=1).numpy()

    def predict(self, X):
        """Predict the class of each row of ``X``.

        The class of largest probability: for two classes, ``classes_[1]``
        where its logit is positive.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Rows with the features seen during fit (the same columns, by name,
            when fitted on a DataFrame). Sparse input is densified.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, values of ``classes_`` (the labels given to
            ``fit``, not their indices).
        """
        logits = _finite_logits(self._logits(X))
        if self.n_outputs_ == 1:
            idx = (logits[:, 0] > 0).long().numpy()
        else:
            idx = logits.argmax(dim=1).numpy()
        return self.classes_[idx]

    # ------------------------------------------------------------ pickling
    def _get_fitted_state(self):
        """The fitted state: CPU ``tensors``, JSON-able ``meta`` and ``objects``.

        The one description of what a fitted estimator holds, used by pickling
        and by :func:`~skmetabalance.save_model`; see ``skmetabalance._state``.
        """
        from ._state import get_fitted_state

        return get_fitted_state(self)

    def _set_fitted_state(self, state):
        """Rebuild the network and restore a state from :meth:`_get_fitted_state`."""
        from ._state import set_fitted_state

        set_fitted_state(self, state)

    def __getstate__(self):
        from ._state import STATE_ATTRIBUTES

        # A copy: on Python >= 3.11 the base returns the live __dict__ itself.
        state = dict(super().__getstate__())
        for name in STATE_ATTRIBUTES:
            state.pop(name, None)
        # CPU tensors and plain values: a model trained on a GPU unpickles on a
        # machine without one, and the live network is never moved.
        if self.__sklearn_is_fitted__():
            state["_fitted_state"] = self._get_fitted_state()
        return state

    def __setstate__(self, state):
        state = dict(state)
        fitted = state.pop("_fitted_state", None)
        super().__setstate__(state)
        if fitted is not None:
            self._set_fitted_state(fitted)

    def __sklearn_is_fitted__(self):
        # n_iter_ is set last in fit, so a fit interrupted before training (e.g.
        # while resampling) does not leave an estimator that looks fitted.
        return hasattr(self, "module_") and hasattr(self, "n_iter_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_BASE_DOC_PARAMS = """
    module : callable, default=None
        None builds the built-in ReLU MLP from ``hidden_layer_sizes`` and
        ``dropout``. Otherwise a callable ``module(n_features, n_outputs)``
        returning a :class:`torch.nn.Module` that maps float32 rows of width
        ``n_features`` to ``n_outputs`` logits (1 for two classes, else one per
        class): a Module subclass or a factory function, never an instance.
        Image models receive flattened rows and reshape inside ``forward``.
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Widths of the hidden layers of the built-in MLP.
    dropout : float, default=0.0
        Dropout after each hidden activation of the built-in MLP.
"""


class MetaBalanceClassifier(_BaseNetClassifier):
    """Neural network trained with the MetaBalance meta-learning loop.

    Each optimiser step averages ``tasks_per_step`` tasks. A task draws an
    inner batch from the *inner set* (training rows resampled by
    ``inner_sampler``) and an outer batch from the *outer set* (rows resampled
    by ``outer_sampler``), takes ``inner_steps`` plain gradient steps of size
    ``inner_lr`` on the inner batch, and is scored by the outer loss at the
    adapted weights plus ``inner_loss_weight`` times the inner loss at the
    current weights (Bansal et al., 2021, arXiv:2106.09643). All tasks of a step
    are computed in one vectorised call.

    Parameters
    ----------
    {base}
    inner_sampler : sampler, str or None, default=None
        Resamples the training rows into the inner set. None keeps the rows as
        they are; a string is a shortcut ('over' RandomOverSampler, 'under'
        RandomUnderSampler, 'smote' SMOTE, 'auto' = 'over'); otherwise any object
        with ``fit_resample`` (every imbalanced-learn sampler, SMOTENC, sampler
        pipelines). Cloned at fit into ``inner_sampler_`` and seeded from
        ``random_state`` when its own ``random_state`` is None.
    outer_sampler : sampler, str or None, default='auto'
        Resamples the training rows into the outer set; same forms as
        ``inner_sampler``. 'auto' is RandomOverSampler (class-balanced).
    inner_loss : str or loss object, default='ce'
        Loss-side balancing of the inner loop: an alias ('ce', 'focal',
        'logit_adjusted', 'balanced_softmax', 'ldam', 'ldam_drw', 'vs', 'cb')
        or an object of :mod:`skmetabalance.losses`. Cloned at fit into
        ``inner_loss_``. Class counts and priors come from the inner set
        (after ``inner_sampler``), so that a logit adjustment of a natural
        inner set acts while one of a balanced set does nothing.
    outer_loss : str or loss object, default='ce'
        Loss-side balancing of the outer loop, likewise, with counts from the
        outer set; cloned into ``outer_loss_``.
    inner_lr : float, default=0.01
        Step size of the inner gradient steps (``0`` disables the look-ahead).
    inner_steps : int, default=1
        Number of inner gradient steps per task.
    inner_loss_weight : float, default=0.2
        Weight of the inner loss at the current weights in each task loss. The
        research code used 0.01; on the bundled suite 0.2 scored best on
        validation splits (see the evidence page).
    first_order : bool, default=True
        Drop the second-order term of the meta-gradient (cheaper; see the user
        guide for the measured difference).
    tasks_per_step : int, default=4
        Tasks averaged in one optimiser step. With the default batch sizes a
        step sees 64 outer rows, as a step of :class:`BalancedNetClassifier`
        does, so both take the same number of steps per epoch. The research
        code used 81 tasks, which leaves small data sets with very few steps.
    batch_size : int, default=16
        Rows per inner batch (on sets of up to 131,072 outer rows with the
        default sizes; see ``geometry``).
    outer_batch_size : int, default=16
        Rows per outer batch (likewise). One epoch is one pass over the outer
        set, i.e. ``ceil(n_outer / (tasks_per_step * outer_batch_size))``
        optimiser steps, except on larger sets with ``geometry='auto'``.
    {training}

    Attributes
    ----------
    {fitted}
    inner_sampler_ : sampler, list or None
        The fitted clone of ``inner_sampler`` (None when it is None); with
        ``validation_split='per_member'`` and several members, one per member.
    outer_sampler_ : sampler, list or None
        The fitted clone of ``outer_sampler`` (None when it is None); with
        ``validation_split='per_member'`` and several members, one per member.
    inner_loss_ : loss object
        The clone of ``inner_loss`` used (an alias built into its object).
    outer_loss_ : loss object
        The clone of ``outer_loss`` used.
    history_ : list of dict
        One record per epoch: ``epoch``, ``train_loss`` (mean outer loss),
        ``inner_loss`` (mean inner loss), ``valid_score`` (None without early
        stopping), ``steps`` (optimiser steps so far) and ``dur`` (seconds).
        {history}

    See Also
    --------
    BalancedNetClassifier : The same network trained plainly on one resampled set.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmetabalance import MetaBalanceClassifier
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> clf = MetaBalanceClassifier(max_iter=5, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **_BaseNetClassifier._parameter_constraints,
        "inner_sampler": [
            None,
            StrOptions(set(SAMPLER_ALIASES)),
            HasMethods(["fit_resample"]),
        ],
        "outer_sampler": [
            None,
            StrOptions(set(SAMPLER_ALIASES)),
            HasMethods(["fit_resample"]),
        ],
        "inner_lr": [Interval(Real, 0, None, closed="left")],
        "inner_steps": [Interval(Integral, 1, None, closed="left")],
        "inner_loss_weight": [Interval(Real, 0, None, closed="left")],
        "first_order": ["boolean"],
        "tasks_per_step": [Interval(Integral, 1, None, closed="left")],
        "outer_batch_size": [Interval(Integral, 1, None, closed="left")],
        "inner_loss": [StrOptions(set(LOSS_ALIASES)), BaseLoss],
        "outer_loss": [StrOptions(set(LOSS_ALIASES)), BaseLoss],
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(64, 64),
        dropout=0.0,
        inner_sampler=None,
        outer_sampler="auto",
        inner_loss="ce",
        outer_loss="ce",
        inner_lr=0.01,
        inner_steps=1,
        inner_loss_weight=0.2,
        first_order=True,
        tasks_per_step=4,
        batch_size=16,
        outer_batch_size=16,
        lr=0.02,
        momentum=0.9,
        weight_decay=5e-4,
        max_iter=100,
        geometry="auto",
        n_estimators=4,
        early_stopping="auto",
        validation_fraction=0.1,
        validation_min_class_rows=None,
        validation_split="shared",
        n_iter_no_change=10,
        tol=0.0,
        scoring=None,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        prior_correction=False,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.inner_sampler = inner_sampler
        self.outer_sampler = outer_sampler
        self.inner_loss = inner_loss
        self.outer_loss = outer_loss
        self.inner_lr = inner_lr
        self.inner_steps = inner_steps
        self.inner_loss_weight = inner_loss_weight
        self.first_order = first_order
        self.tasks_per_step = tasks_per_step
        self.batch_size = batch_size
        self.outer_batch_size = outer_batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.geometry = geometry
        self.n_estimators = n_estimators
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_min_class_rows = validation_min_class_rows
        self.validation_split = validation_split
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scoring = scoring
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.prior_correction = prior_correction

    def _resample(self, X, rows, y, w, classes, seed_for):
        samplers = {
            "inner_sampler_": make_sampler(
                self.inner_sampler, lambda key: seed_for("inner", key)
            ),
            "outer_sampler_": make_sampler(
                self.outer_sampler, lambda key: seed_for("outer", key)
            ),
        }
        sets = {
            "inner": resample(samplers["inner_sampler_"], X, rows, y, w, "inner"),
            "outer": resample(samplers["outer_sampler_"], X, rows, y, w, "outer"),
        }
        return sets, samplers

    _EPOCH_SET = "outer"
    _BATCH_PARAMS = ("batch_size", "outer_batch_size")
    _LOSS_PARAMS = {"inner": "inner_loss", "outer": "outer_loss"}

    def _rows_per_step(self, sizes):
        return self.tasks_per_step * sizes["outer_batch_size"]

    def _loop_share(self, name):
        return self.inner_loss_weight if name == "inner" else 1.0

    def _make_stepper(self, members, engine, tensors, streams, geometry, losses):
        inner, outer = tensors["inner"], tensors["outer"]
        return MetaStepper(
            members,
            engine,
            inner,
            outer,
            streams("inner"),
            streams("outer"),
            tasks_per_step=self.tasks_per_step,
            inner_batch_size=geometry["batch_size"],
            outer_batch_size=geometry["outer_batch_size"],
            inner_lr=self.inner_lr,
            inner_steps=self.inner_steps,
            inner_loss_weight=self.inner_loss_weight,
            first_order=self.first_order,
            epoch_steps=geometry["steps_per_epoch"],
            inner_loss=losses["inner"],
            outer_loss=losses["outer"],
        )


class BalancedNetClassifier(_BaseNetClassifier):
    """The same network and engine trained plainly on one resampled set.

    The honest baseline for :class:`MetaBalanceClassifier`: identical network,
    optimiser, validation and early stopping, trained by minibatch SGD on the
    rows returned by ``sampler`` and/or re-weighted by ``class_weight``.

    Parameters
    ----------
    {base}
    sampler : sampler, str or None, default=None
        Resamples the training rows once at fit; None keeps them as they are.
        A string is a shortcut ('over' RandomOverSampler, 'under'
        RandomUnderSampler, 'smote' SMOTE, 'auto' = 'over'); otherwise any
        object with ``fit_resample`` (every imbalanced-learn sampler, SMOTENC,
        sampler pipelines). Cloned at fit into ``sampler_`` and seeded from
        ``random_state`` when its own ``random_state`` is None.
    class_weight : dict, 'balanced' or None, default=None
        Per-class loss weights multiplied into the row weights: a dict maps
        class labels to non-negative weights (classes left out weigh 1).
        'balanced' is computed on the rows trained on (after resampling).
        The same weights as ``loss=CrossEntropy(class_weight=...)``; setting
        both is an error.
    loss : str or loss object, default='ce'
        Loss-side balancing: an alias ('ce', 'focal', 'logit_adjusted',
        'balanced_softmax', 'ldam', 'ldam_drw', 'vs', 'cb') or an object of
        :mod:`skmetabalance.losses`. Cloned at fit into ``loss_``. Class
        counts and priors come from the rows trained on (after ``sampler``,
        weighted by ``class_weight`` and ``sample_weight``).
    batch_size : int, default=64
        Rows per minibatch (on sets of up to 131,072 rows; see ``geometry``);
        one epoch is one pass over the training set, i.e.
        ``ceil(n_train / batch_size)`` optimiser steps, except on larger sets
        with ``geometry='auto'``.
    {training}

    Attributes
    ----------
    {fitted}
    sampler_ : sampler, list or None
        The fitted clone of ``sampler`` (None when it is None); with
        ``validation_split='per_member'`` and several members, one per member.
    loss_ : loss object
        The clone of ``loss`` used (an alias built into its object).
    history_ : list of dict
        One record per epoch: ``epoch``, ``train_loss`` (mean training loss),
        ``inner_loss`` (always None: there is no inner loop), ``valid_score``
        (None without early stopping), ``steps`` (optimiser steps so far) and
        ``dur`` (seconds).
        {history}

    See Also
    --------
    MetaBalanceClassifier : The meta-learning estimator.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skmetabalance import BalancedNetClassifier
    >>> X, y = make_classification(n_samples=500, weights=[0.9], random_state=0)
    >>> clf = BalancedNetClassifier(class_weight="balanced", max_iter=5,
    ...                             random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **_BaseNetClassifier._parameter_constraints,
        "sampler": [
            None,
            StrOptions(set(SAMPLER_ALIASES)),
            HasMethods(["fit_resample"]),
        ],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "loss": [StrOptions(set(LOSS_ALIASES)), BaseLoss],
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(64, 64),
        dropout=0.0,
        sampler=None,
        class_weight=None,
        loss="ce",
        batch_size=64,
        lr=0.02,
        momentum=0.9,
        weight_decay=5e-4,
        max_iter=100,
        geometry="auto",
        n_estimators=4,
        early_stopping="auto",
        validation_fraction=0.1,
        validation_min_class_rows=None,
        validation_split="shared",
        n_iter_no_change=10,
        tol=0.0,
        scoring=None,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        prior_correction=False,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.dropout = dropout
        self.sampler = sampler
        self.class_weight = class_weight
        self.loss = loss
        self.batch_size = batch_size
        self.lr = lr
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.geometry = geometry
        self.n_estimators = n_estimators
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_min_class_rows = validation_min_class_rows
        self.validation_split = validation_split
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scoring = scoring
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.prior_correction = prior_correction

    def _class_weights(self, y, classes):
        """Row weights of ``class_weight`` for the encoded labels ``y``, or None."""
        if self.class_weight is None:
            return None
        if self.class_weight == "balanced":
            return compute_sample_weight("balanced", y)
        codes = {}
        for label, weight in self.class_weight.items():
            pos = np.searchsorted(classes, label)
            if pos >= len(classes) or classes[pos] != label:
                raise ValueError(
                    f"class_weight has a key {label!r} that is not a class label; "
                    f"classes are {classes.tolist()!r}."
                )
            if not (np.isfinite(weight) and weight >= 0):
                raise ValueError(
                    f"class_weight[{label!r}] must be a finite non-negative number; "
                    f"got {weight!r}."
                )
            codes[int(pos)] = weight
        return compute_sample_weight(
            {c: codes.get(c, 1.0) for c in range(len(classes))}, y
        )

    def _resample(self, X, rows, y, w, classes, seed_for):
        sampler = make_sampler(self.sampler, lambda key: seed_for("sampler", key))
        train = resample(sampler, X, rows, y, w, "sampler")
        cw = self._class_weights(train.y, classes)
        if cw is not None:
            w_r = cw if train.w is None else train.w * cw
            train = train._replace(w=w_r / w_r.mean())
        return {"train": train}, {"sampler_": sampler}

    _EPOCH_SET = "train"
    _BATCH_PARAMS = ("batch_size",)
    _LOSS_PARAMS = {"train": "loss"}

    def _rows_per_step(self, sizes):
        return sizes["batch_size"]

    def _loop_share(self, name):
        return 1.0

    def _check_losses(self, classes):
        losses = super()._check_losses(classes)
        if self.class_weight is not None and losses["train"].class_weight is not None:
            raise ValueError(
                "class_weight and the class_weight of 'loss' would both weigh the "
                f"classes; got class_weight={self.class_weight!r} and "
                f"loss={self.loss!r}. Set one of them."
            )
        return losses

    def _make_stepper(self, members, engine, tensors, streams, geometry, losses):
        return PlainStepper(
            members,
            engine,
            tensors["train"],
            streams("train"),
            batch_size=geometry["batch_size"],
            epoch_steps=geometry["steps_per_epoch"],
            loss=losses["train"],
        )


_TRAINING_DOC_PARAMS = """
    lr : float, default=0.02
        Learning rate of the SGD optimiser (Nesterov momentum).
    momentum : float, default=0.9
        SGD momentum; Nesterov momentum is used when positive.
    weight_decay : float, default=5e-4
        L2 penalty of the optimiser.
    max_iter : int, default=100
        Maximum number of epochs.
    geometry : {'auto', 'fixed'}, default='auto'
        How batches, learning rate and epochs follow the size of the training
        set. 'fixed': batches of the sizes given, ``lr`` as given, and an epoch
        is one pass over the set. 'auto': the same while a pass over the set
        an epoch counts takes at most 2,048 steps of at least 64 rows (131,072
        rows with the default batch sizes). On a larger set every batch grows
        in proportion to its rows (at most 64 times), ``lr`` is multiplied by
        the square root of that growth, and an epoch covers part of a pass
        (the next epoch continues where it stopped): ``131072 / growth`` rows,
        but at least a tenth of the set (ten epochs of patience then see a
        whole pass) and at most 131,072 rows. A large set then trains in a
        bounded number of optimiser steps of larger batches. What a fit used
        is in ``geometry_``.
    n_estimators : int, default={n_estimators}
        Number of networks trained together as an ensemble. Members differ in
        their initial weights, batch order and dropout masks, share the
        validation split, and each has its own optimiser state and early
        stopping (a member that stops costs nothing more). ``predict_proba``
        averages the members' probabilities. Members are computed as one
        batched computation, so with small batches ``n`` members cost much
        less than ``n`` fits. Four members won over one outside the
        split-to-split noise on the 17 selection sets of the quality study, for
        both estimators (see the evidence page). On the CPU they take two to
        three times the fit time of one network on data sets of a few thousand
        rows (about three times at a million rows for
        ``MetaBalanceClassifier``); pass 1 for one network.
    early_stopping : bool or 'auto', default='auto'
        Hold out a stratified share of the rows (``validation_fraction``, or
        more with ``validation_min_class_rows``; never resampled), score it
        after each epoch, stop after ``n_iter_no_change`` epochs without
        improvement by more than ``tol``, and restore the best weights. 'auto'
        does so whenever the validation split can be expected to hold every
        class, i.e. when the smallest class times the share held out is at
        least one row (10 rows at the default fraction), and trains for
        ``max_iter`` epochs otherwise.
    validation_fraction : float, default=0.1
        Share of rows held out for validation when early stopping is on.
    validation_min_class_rows : int or None, default=None
        Rows of the smallest class the validation split should hold. Where
        ``validation_fraction`` of that class is fewer rows, the share held
        out grows until it holds this many, up to 30 % of the rows (so at most
        ``0.3 * n`` rows of a class of ``n``; 'auto' early stopping then
        starts from 4 rows of the smallest class rather than 10). A handful of
        minority rows makes the validation score, and so the restored epoch,
        largely chance. On the small selection sets of the quality study, 10
        won over None for one network (``n_estimators=1``) and tied for the
        default four (see the evidence page, *Stage 3*). None holds out
        exactly ``validation_fraction``.
    validation_split : {'shared', 'per_member'}, default='shared'
        Which rows ensemble members hold out. 'shared': every member holds out
        the same rows. 'per_member' (with ``n_estimators > 1``): each member
        holds out its own stratified fold of the share held out, disjoint from
        the others' while ``n_estimators`` times that share is at most 1, and
        is resampled and trained on the rest, so that together the members
        train on every row; each member is scored on its own fold. Each member resamples its own rows: index arrays for
        samplers that pick rows, a copy of the new rows for samplers that
        synthesise them.
    n_iter_no_change : int, default=10
        Patience of early stopping: epochs without improvement before training
        stops.
    tol : float, default=0.0
        Minimum score improvement that resets the patience.
    scoring : str, callable or None, default=None
        Validation metric for early stopping; None means 'average_precision'
        (macro-averaged over classes for more than two).
    device : str or torch.device, default='auto'
        'auto' uses CUDA when available, else the CPU; or 'cpu', 'cuda',
        'cuda:N'. Resolved at fit into ``device_``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, batch order, the validation split
        and unseeded samplers. Global random states are left untouched.
    verbose : int, default=0
        Print a per-epoch table when positive.
    warm_start : bool, default=False
        Continue from the weights and optimiser state of the previous fit.
    prior_correction : bool, default=False
        Report probabilities (and logits and predictions) under the class
        prior of the rows given to fit (``class_prior_``) rather than the
        prior the network was trained toward (``trained_prior_``): a
        re-balanced outer set or class weights make a network over-state the
        minority, and the correction adds ``log(class_prior_) -
        log(trained_prior_)`` to the logits (Saerens et al., 2002). It leaves
        the ranking of rows, so average precision and ROC AUC, unchanged.
        Use it for calibrated probabilities (log loss, Brier score, expected
        counts, cost-based thresholds); leave it off to predict the class that
        serves balanced accuracy. Validation scores of early stopping are
        those of the uncorrected network.
"""

_FITTED_DOC_ATTRS = """
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Feature names, when X had string column names.
    n_outputs_ : int
        Number of network outputs: 1 for two classes, else the number of
        classes.
    module_ : torch.nn.Module
        The trained network (in eval mode), on ``device_``. With
        ``n_estimators > 1``, an ``nn.ModuleList`` of the members whose forward
        returns the logits of their averaged probabilities (see
        :meth:`decision_function`).
    device_ : torch.device
        Device used for training.
    class_counts_ : dict
        Weighted class counts (``sample_weight`` counted) of the set each loop
        trained on, after resampling: ``{'inner': ..., 'outer': ...}`` for
        :class:`MetaBalanceClassifier`, ``{'train': ...}`` for
        :class:`BalancedNetClassifier`; arrays of shape (n_classes,), or with
        ``validation_split='per_member'`` and several members a list of one
        per member. The losses' priors and counts are computed from them.
    class_prior_ : ndarray of shape (n_classes,)
        Class prior of the rows given to fit (``sample_weight`` counted).
    trained_prior_ : ndarray of shape (n_classes,)
        The class prior the network's logits were trained toward: each loop's
        class mass (counts times final class weights, divided by
        ``prior ** tau`` for a logit adjustment), the inner loop counted with
        ``inner_loss_weight``. LDAM margins, VS scales and the focal factor
        have no prior and are left out. See ``prior_correction``.
"""

_HISTORY_DOC_ATTRS = """
        With ``n_estimators > 1`` the losses are means over the members still
        training, ``valid_score`` is the score of the members' averaged
        probabilities, and each record also holds ``active`` (members still
        training), ``member_train_loss`` and ``member_valid_score`` (one entry
        per member, None once it has stopped).
    geometry_ : dict
        The training geometry of the last fit (see ``geometry``): ``growth``
        (the factor the batches grew by; 1.0 when they did not), the batch
        sizes used, ``rows_per_step``, ``lr`` and ``steps_per_epoch``.
    n_iter_ : int
        Number of epochs run.
    n_steps_ : int
        Number of optimiser steps taken.
    validation_indices_ : ndarray of shape (n_validation,), list or None
        Rows of the ``X`` given to ``fit`` held out for early stopping (sorted);
        None when no rows were held out. With ``validation_split='per_member'``
        and several members, a list with each member's rows.
    best_epoch_ : int, list of int or None
        Epoch of the restored weights; None without early stopping. With
        ``n_estimators > 1``, a list with one entry per member.
    best_validation_score_ : float, list of float or None
        Validation score of the restored weights; None without early stopping.
        With ``n_estimators > 1``, a list with one entry per member.
    stopped_reason_ : str
        Why training stopped: 'max_iter', 'early_stopping', 'non_finite' (the
        loss overflowed; the last finite weights are kept, with a
        ``ConvergenceWarning``) or 'interrupted' (``KeyboardInterrupt``; the last
        completed epoch is kept).
"""


def _default_of(cls, name):
    """The default of ``cls``'s parameter ``name``, as the docstring shows it."""
    return repr(inspect.signature(cls).parameters[name].default)


def _fill_docstring(cls, **fields):
    """Put the shared blocks in place of ``cls``'s docstring placeholders.

    Each placeholder is indented like the text around it, so the block that
    replaces it drops its own leading indentation.
    """
    fields = {"{" + key + "}": value for key, value in fields.items()}
    blocks = {
        "{base}": _BASE_DOC_PARAMS,
        "{training}": _TRAINING_DOC_PARAMS,
        "{fitted}": _FITTED_DOC_ATTRS,
        "{history}": _HISTORY_DOC_ATTRS,
    }
    doc = cls.__doc__
    for placeholder, block in blocks.items():
        doc = doc.replace(placeholder, block.strip())
    for placeholder, text in fields.items():
        doc = doc.replace(placeholder, text)
    cls.__doc__ = doc


for _cls in (MetaBalanceClassifier, BalancedNetClassifier):
    _fill_docstring(_cls, n_estimators=_default_of(_cls, "n_estimators"))
del _cls
