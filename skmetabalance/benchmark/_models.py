"""The models of the benchmark and the preprocessing put in front of them."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["MODEL_NAMES", "make_estimator"]

#: Settings shared by every network of the benchmark: the same size, optimiser,
#: epoch budget and early stopping, so that only the training strategy differs.
NETWORK_SETTINGS = {
    "early_stopping": True,
    "max_iter": 100,
}

#: DataFrame column dtypes one-hot encoded when no categorical columns are named.
CATEGORICAL_DTYPES = ["category", "object", "string"]


def _metabalance():
    from .. import MetaBalanceClassifier

    return MetaBalanceClassifier(**NETWORK_SETTINGS)


def _net(**kwargs):
    from .. import BalancedNetClassifier

    return BalancedNetClassifier(**NETWORK_SETTINGS, **kwargs)


def _net_weighted():
    return _net(class_weight="balanced")


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
        _net_weighted,
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
NETWORK_MODELS = tuple(
    name for name in MODEL_NAMES if name == "metabalance" or name.startswith("net_")
)
#: One line describing each built-in model.
MODEL_DESCRIPTIONS = {name: text for name, (_, text) in _REGISTRY.items()}


def build_model(name):
    """The built-in model ``name``; the caller has checked that it exists."""
    return _REGISTRY[name][0]()


@validate_params(
    {"name": [StrOptions(set(MODEL_NAMES))]}, prefer_skip_nested_validation=True
)
def make_estimator(name):
    """A fresh, unfitted estimator for a built-in model of the benchmark.

    Parameters
    ----------
    name : str
        One of ``MODEL_NAMES``: ``'metabalance'``, ``'net_plain'``,
        ``'net_weighted'``, ``'net_ros'``, ``'net_rus'``, ``'net_smote'``,
        ``'logreg'``, ``'brf'``, ``'hgb'``.

    Returns
    -------
    estimator : estimator object
        Without preprocessing; :func:`compare` puts the preprocessor in front
        of it. The networks share ``early_stopping=True`` and ``max_iter=100``.

    Examples
    --------
    >>> from skmetabalance.benchmark import make_estimator
    >>> make_estimator("net_ros").sampler
    RandomOverSampler()
    """
    return build_model(name)


def _one_hot():
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False)


def make_preprocessor(X, categorical_features=None):
    """StandardScaler on numeric columns, one-hot encoding on categorical ones.

    ``categorical_features`` is a boolean mask, column indices or (for
    DataFrames) column names. None scales every column of an array, and
    one-hot encodes the columns of a DataFrame whose dtype is categorical,
    object or string. The result is unfitted: fit it on training rows only.
    """
    if categorical_features is None:
        if not hasattr(X, "select_dtypes"):
            return StandardScaler()
        numeric = make_column_selector(dtype_exclude=CATEGORICAL_DTYPES)
        categorical = make_column_selector(dtype_include=CATEGORICAL_DTYPES)
    else:
        cats = np.asarray(categorical_features)
        if cats.dtype != bool:
            return ColumnTransformer(
                [("categorical", _one_hot(), cats.tolist())],
                remainder=StandardScaler(),
            )
        numeric, categorical = ~cats, cats
    return ColumnTransformer(
        [
            ("numeric", StandardScaler(), numeric),
            ("categorical", _one_hot(), categorical),
        ]
    )


def with_preprocessing(estimator, preprocessor):
    """``Pipeline([("preprocess", preprocessor), ("model", clone(estimator))])``."""
    return Pipeline([("preprocess", preprocessor), ("model", clone(estimator))])
