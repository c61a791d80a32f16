"""The models of the benchmark and the preprocessing put in front of them."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

__all__ = [
    "MODEL_NAMES",
    "NETWORK_MODELS",
    "make_estimator",
    "make_preprocessor",
    "model_descriptions",
]

#: Settings shared by every network of the benchmark: the same size, optimiser,
#: epoch budget and early stopping, so that only the training strategy differs.
NETWORK_SETTINGS = {
    "early_stopping": True,
    "max_iter": 100,
}


def _metabalance():
    from .. import MetaBalanceClassifier

    return MetaBalanceClassifier(**NETWORK_SETTINGS)


def _net(**kwargs):
    from .. import BalancedNetClassifier

    return BalancedNetClassifier(**NETWORK_SETTINGS, **kwargs)


def _net_ros():
    from imblearn.over_sampling import RandomOverSampler

    return _net(sampler=RandomOverSampler())


def _net_rus():
    from imblearn.under_sampling import RandomUnderSampler

    return _net(sampler=RandomUnderSampler())


def _net_smote():
    from imblearn.over_sampling import SMOTE

    return _net(sampler=SMOTE())


def _logreg():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(class_weight="balanced", max_iter=2000)


def _brf():
    from imblearn.ensemble import BalancedRandomForestClassifier

    return BalancedRandomForestClassifier()


def _hgb():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight="balanced")


_REGISTRY = {
    "metabalance": (
        _metabalance,
        "MetaBalanceClassifier() with its defaults (natural inner set, "
        "class-balanced outer set)",
    ),
    "net_plain": (_net, "BalancedNetClassifier(), no re-balancing"),
    "net_weighted": (
        lambda: _net(class_weight="balanced"),
        "BalancedNetClassifier(class_weight='balanced')",
    ),
    "net_ros": (_net_ros, "BalancedNetClassifier(sampler=RandomOverSampler())"),
    "net_rus": (_net_rus, "BalancedNetClassifier(sampler=RandomUnderSampler())"),
    "net_smote": (_net_smote, "BalancedNetClassifier(sampler=SMOTE())"),
    "logreg": (_logreg, "LogisticRegression(class_weight='balanced')"),
    "brf": (
        _brf,
        "imblearn BalancedRandomForestClassifier() (100 trees, each on a "
        "balanced bootstrap)",
    ),
    "hgb": (
        _hgb,
        "HistGradientBoostingClassifier(class_weight='balanced')",
    ),
}

#: Names of the built-in models, in the order they are reported.
MODEL_NAMES = tuple(_REGISTRY)
#: The built-in models that are neural networks trained by skmetabalance.
NETWORK_MODELS = (
    "metabalance",
    "net_plain",
    "net_weighted",
    "net_ros",
    "net_rus",
    "net_smote",
)


def model_descriptions():
    """Map each built-in model name to a one-line description."""
    return {name: text for name, (_, text) in _REGISTRY.items()}


def make_estimator(name):
    """A fresh, unfitted estimator for the built-in model ``name``.

    The estimator is returned without preprocessing; :func:`compare` puts the
    preprocessor in front of it.
    """
    try:
        factory = _REGISTRY[name][0]
    except KeyError:
        raise ValueError(
            f"Unknown model name {name!r}; the built-in models are "
            f"{', '.join(MODEL_NAMES)}."
        ) from None
    return factory()


def make_preprocessor(categorical_features=None):
    """StandardScaler on numeric columns, one-hot encoding on categorical ones.

    Parameters
    ----------
    categorical_features : array-like of bool, of int or of str, or None
        Boolean mask, column indices or (for DataFrames) column names of the
        categorical columns. None or an empty selection scales every column.

    Returns
    -------
    preprocessor : ColumnTransformer or StandardScaler
        Unfitted; fit it on training rows only.
    """
    if categorical_features is None:
        return StandardScaler()
    cats = np.asarray(categorical_features)
    if cats.size == 0 or (cats.dtype == bool and not cats.any()):
        return StandardScaler()
    if cats.dtype == bool:
        categorical = np.flatnonzero(cats).tolist()
        numeric = np.flatnonzero(~cats).tolist()
        return ColumnTransformer(
            [
                ("numeric", StandardScaler(), numeric),
                ("categorical", _one_hot(), categorical),
            ]
        )
    # Indices or names: everything else is numeric.
    return ColumnTransformer(
        [("categorical", _one_hot(), cats.tolist())],
        remainder=StandardScaler(),
    )


def _one_hot():
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def with_preprocessing(estimator, categorical_features=None):
    """``Pipeline([("preprocess", ...), ("model", clone(estimator))])``."""
    return Pipeline(
        [
            ("preprocess", make_preprocessor(categorical_features)),
            ("model", clone(estimator)),
        ]
    )
