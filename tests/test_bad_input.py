"""Bad input is refused promptly, with the right exception and a clear message.

Every case here is listed in docs/errors.rst; keep the two in step.
"""

import math
import re

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skmetabalance._classifier as classifier_module
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

FAST = dict(hidden_layer_sizes=(8,), max_iter=1, random_state=0, device="cpu")
ESTIMATORS = {
    "meta": lambda **kw: MetaBalanceClassifier(**{**FAST, "tasks_per_step": 2, **kw}),
    "plain": lambda **kw: BalancedNetClassifier(**{**FAST, **kw}),
}


@pytest.fixture(params=list(ESTIMATORS))
def make(request):
    return ESTIMATORS[request.param]


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    y = np.array([0] * 30 + [1] * 10)
    return X, y


@pytest.fixture
def fitted(data):
    X, y = data
    return ESTIMATORS["meta"]().fit(X, y)


# ----------------------------------------------------------------- X at fit
@pytest.mark.parametrize(
    "value, match",
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
)
def test_non_finite_X_at_fit(make, data, value, match):
    X, y = data
    X = X.copy()
    X[3, 2] = value
    with pytest.raises(ValueError, match=match):
        make().fit(X, y)


def test_X_beyond_float32_range_at_fit(make, data):
    X, y = data
    X = X.copy()
    X[0, 0] = 1e300  # finite in float64, inf once cast to the network's float32
    with pytest.raises(
        ValueError, match=r"X must hold values within the float32 range.*1e\+300"
    ):
        make().fit(X, y)


def test_empty_X(make):
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        make().fit(np.empty((0, 3)), np.empty(0))
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        make().fit(np.empty((10, 0)), np.arange(10) % 2)


def test_single_row(make):
    with pytest.raises(ValueError, match=r"1 sample\(s\).*minimum of 2"):
        make().fit(np.ones((1, 3)), [0])


def test_wrong_dimensions_at_fit(make, data):
    X, y = data
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        make().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="Found array with dim 3"):
        make().fit(X.reshape(40, 2, 2), y)


def test_length_mismatch(make, data):
    X, y = data
    with pytest.raises(
        ValueError, match=r"inconsistent numbers of samples: \[40, 39\]"
    ):
        make().fit(X, y[:-1])


def test_non_numeric_features_numpy(make, data):
    X, y = data
    X = X.astype(object)
    X[5, 1] = "abc"
    with pytest.raises(
        ValueError, match=r"X must hold numeric features only.*'abc'.*OneHotEncoder"
    ):
        make().fit(X, y)


def test_non_numeric_features_dataframe_names_the_column(make, data):
    X, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["colour"] = ["red", "blue"] * 20
    with pytest.raises(ValueError, match=r"non-numeric columns: \['colour'\]"):
        make().fit(df, y)


def test_non_numeric_features_at_predict(fitted, data):
    X, _ = data
    df = pd.DataFrame(X[:3].astype(object))
    df.iloc[0, 0] = "x"
    with pytest.raises(ValueError, match=r"X must hold numeric features only"):
        fitted.predict(df.to_numpy())


def test_complex_features(make, data):
    X, y = data
    with pytest.raises(ValueError, match="Complex data not supported"):
        make().fit(X.astype(complex), y)


# ------------------------------------------------------------------------ y
def test_single_class(make, data):
    X, _ = data
    with pytest.raises(
        ValueError, match=r"at least 2 classes.*got 1 class: \['only'\]"
    ):
        make().fit(X, np.array(["only"] * 40))


def test_continuous_target(make, data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        make().fit(X, np.linspace(0, 1, 40))


def test_bad_targets(make, data):
    X, y = data
    with pytest.raises(ValueError, match=r"y should be a 1d array.*\(40, 2\)"):
        make().fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        make().fit(X, np.r_[y[:-1].astype(float), np.nan])
    with pytest.raises(ValueError, match="Unknown label type"):
        make().fit(X, np.array([0] * 39 + ["a"], dtype=object))


# ------------------------------------------------------------------- sparse
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X_is_densified(make, data, fmt):
    X, y = data
    X = X.copy()
    X[X < 0.5] = 0.0
    Xs = {"csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix}[fmt](X)
    dense = make().fit(X, y)
    sparse = make().fit(Xs, y)
    np.testing.assert_array_equal(sparse.predict_proba(Xs), dense.predict_proba(X))
    np.testing.assert_array_equal(dense.predict_proba(Xs), dense.predict_proba(X))


def test_sparse_X_over_the_dense_bound(make, data, monkeypatch):
    X, y = data
    Xs = sp.csr_matrix(X)
    fitted = make().fit(Xs, y)
    # one byte short of the float32 dense copy made at predict (float64 at fit)
    limit = X.shape[0] * X.shape[1] * 4 - 1
    monkeypatch.setattr(classifier_module, "MAX_DENSE_BYTES", limit)
    msg = r"X is a sparse matrix of shape \(40, 4\) whose dense copy would take {}, more than the 639 bytes limit"
    with pytest.raises(ValueError, match=msg.format(r"1\.2 KiB")):
        make().fit(Xs, y)
    with pytest.raises(ValueError, match=msg.format("640 bytes")):
        fitted.predict_proba(Xs)
    # row blocks under the bound still work
    assert fitted.predict_proba(Xs[:20]).shape == (20, 2)


# -------------------------------------------------------------- at predict
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
@pytest.mark.parametrize(
    "method", ["predict", "predict_proba", "predict_log_proba", "decision_function"]
)
def test_non_finite_X_at_predict(fitted, data, method):
    X, _ = data
    for value, match in [
        (np.nan, "Input X contains NaN"),
        (np.inf, "Input X contains infinity"),
    ]:
        Xb = X[:5].copy()
        Xb[1, 1] = value
        with pytest.raises(ValueError, match=match):
            getattr(fitted, method)(Xb)
    Xb = X[:5].copy()
    Xb[0, 0] = 1e39  # beyond float32
    with pytest.raises(ValueError, match="too large for dtype\\('float32'\\)"):
        getattr(fitted, method)(Xb)


def test_wrong_shape_at_predict(fitted, data):
    X, _ = data
    with pytest.raises(
        ValueError, match="X has 3 features, but MetaBalanceClassifier is expecting 4"
    ):
        fitted.predict(X[:, :3])
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        fitted.predict(X[0])
    with pytest.raises(ValueError, match=r"0 sample\(s\)"):
        fitted.predict_proba(X[:0])


def test_feature_names_at_predict(data):
    X, y = data
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    clf = ESTIMATORS["plain"]().fit(df, y)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        clf.predict(df[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match=r"Feature names unseen at fit time:\n- z"):
        clf.predict(df.rename(columns={"a": "z"}))
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(X)
    plain = ESTIMATORS["plain"]().fit(X, y)
    with pytest.warns(
        UserWarning, match="X has feature names, but BalancedNetClassifier"
    ):
        plain.predict(df)


def test_warm_start_refuses_new_width_and_new_labels(data):
    X, y = data
    clf = ESTIMATORS["meta"](warm_start=True).fit(X, y)
    with pytest.raises(
        ValueError, match="X has 3 features, but MetaBalanceClassifier is expecting 4"
    ):
        clf.fit(X[:, :3], y)
    with pytest.raises(
        ValueError, match=r"warm_start=True continues.*new labels \[2\]"
    ):
        clf.fit(X, np.where(np.arange(40) < 5, 2, y))


@pytest.mark.parametrize(
    "method",
    ["predict", "predict_proba", "predict_log_proba", "decision_function", "score"],
)
def test_not_fitted(make, data, method):
    X, y = data
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        getattr(make(), method)(*args)


# --------------------------------------------------------------- parameters
COMMON_BAD_PARAMS = [
    ("max_iter", 0),
    ("max_iter", -3),
    ("max_iter", 2.5),
    ("max_iter", "10"),
    ("batch_size", 0),
    ("batch_size", 2.0),
    ("lr", 0.0),
    ("lr", -1.0),
    ("lr", math.nan),
    ("lr", math.inf),
    ("lr", "fast"),
    ("momentum", 1.0),
    ("momentum", math.nan),
    ("weight_decay", -1e-3),
    ("weight_decay", math.inf),
    ("dropout", 1.0),
    ("dropout", math.nan),
    ("tol", math.nan),
    ("tol", math.inf),
    ("validation_fraction", 0.0),
    ("validation_fraction", 1.0),
    ("validation_fraction", math.nan),
    ("validation_min_class_rows", 0),
    ("validation_min_class_rows", 2.5),
    ("n_iter_no_change", 0),
    ("early_stopping", "yes"),
    ("early_stopping", 1),
    ("warm_start", None),
    ("scoring", "not_a_metric"),
    ("scoring", 3),
    ("device", 3),
    ("random_state", "seed"),
    ("random_state", -1),
    ("verbose", -1),
    ("module", 42),
    ("hidden_layer_sizes", "wide"),
]
META_BAD_PARAMS = [
    ("inner_lr", -0.1),
    ("inner_lr", math.nan),
    ("inner_lr", math.inf),
    ("inner_steps", 0),
    ("inner_loss_weight", math.nan),
    ("inner_loss_weight", math.inf),
    ("inner_loss_weight", -1.0),
    ("first_order", "no"),
    ("tasks_per_step", 0),
    ("outer_batch_size", 0),
    ("inner_sampler", object()),
    ("outer_sampler", object()),
    ("outer_sampler", "oversample"),
]
PLAIN_BAD_PARAMS = [
    ("sampler", object()),
    ("sampler", "smote-ish"),
    ("class_weight", "even"),
    ("class_weight", [1, 2]),
]


def _check_invalid_param(est, name, value, data):
    # The message names the estimator, the parameter and the value it got.
    X, y = data
    with pytest.raises(
        InvalidParameterError,
        match=rf"The '{name}' parameter of {type(est).__name__} must be .* "
        rf"Got {re.escape(repr(value))} instead",
    ):
        est.set_params(**{name: value}).fit(X, y)


@pytest.mark.parametrize("name, value", COMMON_BAD_PARAMS)
@pytest.mark.parametrize("kind", list(ESTIMATORS))
def test_invalid_common_parameter(kind, name, value, data):
    _check_invalid_param(ESTIMATORS[kind](), name, value, data)


@pytest.mark.parametrize("name, value", META_BAD_PARAMS)
def test_invalid_meta_parameter(name, value, data):
    _check_invalid_param(ESTIMATORS["meta"](), name, value, data)


@pytest.mark.parametrize("name, value", PLAIN_BAD_PARAMS)
def test_invalid_plain_parameter(name, value, data):
    _check_invalid_param(ESTIMATORS["plain"](), name, value, data)


@pytest.mark.parametrize("caught_as", [ValueError, TypeError])
def test_invalid_parameter_is_caught_by_either_except_clause(make, data, caught_as):
    # As docs/errors.rst promises: code catching ValueError (a bad value) or
    # TypeError (a bad type) catches a bad parameter, with the full message.
    X, y = data
    est = make(lr=math.nan)
    try:
        est.fit(X, y)
    except caught_as as exc:
        message = str(exc)
    else:
        pytest.fail("fit accepted lr=nan")
    assert message.startswith(f"The 'lr' parameter of {type(est).__name__} must be")
    assert message.endswith("Got nan instead.")
    assert not hasattr(est, "module_")


@pytest.mark.parametrize("sizes", [(0,), (8, 0), (-1,), (2.5,), (True,), ("8",)])
def test_hidden_layer_sizes_must_be_positive_ints(make, data, sizes):
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"'hidden_layer_sizes' parameter must be a sequence of positive integers.*got",
    ):
        make(hidden_layer_sizes=sizes).fit(X, y)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", "CPU", "tpu:0"])
def test_unknown_device_string(make, data, device):
    X, y = data
    with pytest.raises(
        ValueError,
        match=r"The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N'.*got",
    ):
        make(device=device).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only case")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1", torch.device("cuda")])
def test_cuda_requested_without_cuda(make, data, device):
    X, y = data
    clf = make(device=device)
    with pytest.raises(
        ValueError, match=r"device='cuda(:\d)?' was requested but CUDA is not available"
    ):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_index_out_of_range(make, data):
    X, y = data
    n = torch.cuda.device_count()
    with pytest.raises(ValueError, match=rf"only {n} CUDA device"):
        make(device=f"cuda:{n}").fit(X, y)


def test_class_weight_values(data):
    X, y = data
    plain = ESTIMATORS["plain"]
    with pytest.raises(
        ValueError,
        match=r"class_weight\[0\] must be a finite non-negative number; got -1",
    ):
        plain(class_weight={0: -1}).fit(X, y)
    with pytest.raises(
        ValueError,
        match=r"class_weight\[1\] must be a finite non-negative number; got nan",
    ):
        plain(class_weight={1: math.nan}).fit(X, y)
    with pytest.raises(
        ValueError, match=r"class_weight has a key 7 that is not a class label"
    ):
        plain(class_weight={7: 1.0}).fit(X, y)


def test_early_stopping_needs_rows_per_class(make):
    X = np.random.RandomState(0).randn(30, 3)
    y = np.array([0] * 29 + [1])
    with pytest.raises(
        ValueError, match=r"early_stopping=True .*class counts \[29, 1\]"
    ):
        make(early_stopping=True).fit(X, y)


# ------------------------------------------------------------ sample_weight
@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(40), "Negative values in data passed to `sample_weight`"),
        (np.r_[np.nan, np.ones(39)], "Input sample_weight contains NaN"),
        (np.r_[np.inf, np.ones(39)], "Input sample_weight contains infinity"),
        (np.zeros(40), "at least one non-zero"),
        (np.ones(39), r"sample_weight.shape == \(39,\), expected \(40,\)"),
        (np.ones((40, 2)), "Sample weights must be 1D"),
    ],
)
def test_bad_sample_weight(make, data, weights, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        make().fit(X, y, sample_weight=weights)
