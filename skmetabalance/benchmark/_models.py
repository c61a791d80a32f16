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


def _net_la():
    return _net(loss="logit_adjusted")


def _net_focal():
    return _net(loss="focal")


def _net_ldam_drw():
    return _net(loss="ldam_drw")


def _net_vs():
    return _net(loss="vs")


def _net_cb():
    return _net(loss="cb")


def _logreg():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(class_weight="balanced", max_iter=2000)


def _brf():
    from imblearn.ensemble import BalancedRandomForestClassifier

    return BalancedRandomForestClassifier()


def _hgb():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(class_weight="balanced")


#: The optional package of the anchor models, and how to install it.
ANCHOR_PACKAGE = "pytabkit"
ANCHOR_INSTALL = 'pip install "skmetabalance[anchors]"'


def _pytabkit_class(model, class_name):
    """``pytabkit.<class_name>``, or an ImportError that says how to get it."""
    try:
        import pytabkit
    except ImportError as exc:
        raise ImportError(
            f"Model {model!r} needs the optional package {ANCHOR_PACKAGE}, which is "
            f"not installed; install it with {ANCHOR_INSTALL} (or pip install "
            f"{ANCHOR_PACKAGE})."
        ) from exc
    return getattr(pytabkit, class_name)


def _tabm():
    return _pytabkit_class("tabm", "TabM_D_Classifier")()


def _realmlp():
    return _pytabkit_class("realmlp", "RealMLP_TD_Classifier")()


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
    "net_la": (
        _net_la,
        "BalancedNetClassifier(loss='logit_adjusted'): logit-adjusted loss, "
        "tau=1 (balanced softmax)",
    ),
    "net_focal": (
        _net_focal,
        "BalancedNetClassifier(loss='focal'): focal loss, gamma=2",
    ),
    "net_ldam_drw": (
        _net_ldam_drw,
        "BalancedNetClassifier(loss='ldam_drw'): LDAM margins (largest 0.5), "
        "class-balanced weights (beta=0.9999) from epoch 81 of 100",
    ),
    "net_vs": (
        _net_vs,
        "BalancedNetClassifier(loss='vs'): vector-scaling loss, gamma=0.3, tau=1",
    ),
    "net_cb": (
        _net_cb,
        "BalancedNetClassifier(loss='cb'): class-balanced weights, effective "
        "number with beta=0.999",
    ),
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
    "tabm": (
        _tabm,
        "pytabkit TabM_D_Classifier() with its defaults: TabM, 32 weight-sharing "
        "MLPs of 3 x 512 units, quantile-transformed inputs, AdamW (lr 2e-3, "
        "batch 256), early stopping (patience 16) on the classification error of "
        "a random, unstratified 20 % validation split of the training rows, best "
        "weights restored; no re-balancing",
    ),
    "realmlp": (
        _realmlp,
        "pytabkit RealMLP_TD_Classifier() with its defaults: 3 x 256 SELU MLP "
        "with numeric embeddings, robust scaling and smooth clipping, label "
        "smoothing, 256 epochs on a cosine-log schedule, keeping the epoch with "
        "the lowest classification error on a random, unstratified 20 % "
        "validation split of the training rows; no re-balancing",
    ),
}

#: Names of the built-in models, in the order they are reported.
MODEL_NAMES = tuple(_REGISTRY)
#: Strong tabular networks from pytabkit, run only when asked for by name:
#: they need the optional package and take minutes per fit on a few CPU cores.
ANCHOR_MODELS = ("tabm", "realmlp")
#: The built-in models run when no selection is given.
DEFAULT_MODELS = tuple(name for name in MODEL_NAMES if name not in ANCHOR_MODELS)
#: The built-in models that are neural networks trained by skmetabalance.
NETWORK_MODELS = tuple(
    name for name in MODEL_NAMES if name == "metabalance" or name.startswith("net_")
)
#: The parameter that sets the epoch budget of each built-in neural network.
EPOCH_PARAMETERS = {
    **dict.fromkeys(NETWORK_MODELS, "max_iter"),
    **dict.fromkeys(ANCHOR_MODELS, "n_epochs"),
}
#: One line describing each built-in model.
MODEL_DESCRIPTIONS = {name: text for name, (_, text) in _REGISTRY.items()}


def anchors_available():
    """Whether the optional package of the anchor models can be imported."""
    import importlib.util

    return importlib.util.find_spec(ANCHOR_PACKAGE) is not None


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
        the loss-balanced networks ``'net_la'``, ``'net_focal'``,
        ``'net_ldam_drw'``, ``'net_vs'``, ``'net_cb'``, ``'logreg'``,
        ``'brf'``, ``'hgb'``, and the anchors ``'tabm'`` and
        ``'realmlp'`` (pytabkit's ``TabM_D_Classifier()`` and
        ``RealMLP_TD_Classifier()`` with their defaults), which need the
        optional package pytabkit: ``pip install "skmetabalance[anchors]"``.

    Returns
    -------
    estimator : estimator object
        Without preprocessing; :func:`compare` puts the preprocessor in front
        of it. The skmetabalance networks share ``early_stopping=True`` and
        ``max_iter=100``; the anchors hold out their own validation split.

    Raises
    ------
    ImportError
        For ``'tabm'`` or ``'realmlp'`` when pytabkit is not installed.

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
