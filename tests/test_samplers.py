"""Resampling without row copies: what each kind of sampler's set is made of."""

import warnings

import numpy as np
import pytest
import torch
from imblearn.combine import SMOTEENN
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import (
    NearMiss,
    RandomUnderSampler,
    TomekLinks,
)

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._data import TrainingSet, feature_store
from skmetabalance._samplers import resample


@pytest.fixture
def rows_data():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 3)
    y = np.array([0] * 60 + [1] * 20)
    w = rng.rand(80) + 0.1
    # A training subset (as after a validation split), in the fit's order.
    rows = np.sort(rng.choice(80, 64, replace=False))
    return X, y, w, rows


def _materialise(X, res):
    """The resampled rows the set stands for, built for the comparison."""
    parts = [X[res.rows]]
    if res.new_X is not None:
        parts.append(res.new_X)
    return np.concatenate(parts)


@pytest.mark.parametrize(
    "sampler",
    [
        RandomOverSampler(random_state=0),
        RandomOverSampler(sampling_strategy=0.5, random_state=3),
        RandomUnderSampler(random_state=0),
        RandomUnderSampler(replacement=True, random_state=1),
        RandomUnderSampler(sampling_strategy={0: 30, 1: 10}, random_state=2),
    ],
    ids=["ros", "ros-half", "rus", "rus-replacement", "rus-dict"],
)
def test_label_only_samplers_draw_what_they_draw_on_the_features(rows_data, sampler):
    from sklearn.base import clone

    X, y, w, rows = rows_data
    reference = clone(sampler)
    X_ref, y_ref = reference.fit_resample(X[rows], y[rows])
    res = resample(sampler, X, rows, y[rows], w[rows], "outer")
    # The same rows, labels and weights as the sampler fitted on the features,
    # named by index and with no synthetic rows.
    assert res.new_X is None
    np.testing.assert_array_equal(res.rows, rows[reference.sample_indices_])
    np.testing.assert_array_equal(X[res.rows], X_ref)
    np.testing.assert_array_equal(res.y, y_ref)
    np.testing.assert_array_equal(res.w, w[rows][reference.sample_indices_])
    # The fitted sampler describes the real rows, not the stand-in.
    assert sampler.n_features_in_ == X.shape[1]


@pytest.mark.parametrize(
    "sampler",
    [TomekLinks(), NearMiss(n_neighbors=3)],
    ids=["tomek", "nearmiss"],
)
def test_under_samplers_are_kept_as_indices(rows_data, sampler):
    X, y, w, rows = rows_data
    res = resample(sampler, X, rows, y[rows], w[rows], "inner")
    assert res.new_X is None
    assert set(res.rows) <= set(rows)
    np.testing.assert_array_equal(res.rows, rows[sampler.sample_indices_])
    np.testing.assert_array_equal(res.w, w[rows][sampler.sample_indices_])


def test_smote_appends_only_the_synthetic_rows(rows_data):
    X, y, w, rows = rows_data
    sampler = SMOTE(k_neighbors=3, random_state=0)
    res = resample(sampler, X, rows, y[rows], w[rows], "outer")
    reference = SMOTE(k_neighbors=3, random_state=0)
    X_ref, y_ref = reference.fit_resample(X[rows], y[rows])
    np.testing.assert_array_equal(res.rows, rows)
    assert res.new_X.dtype == np.float32
    assert res.new_X.shape == (X_ref.shape[0] - rows.size, X.shape[1])
    np.testing.assert_array_equal(res.new_X, X_ref[rows.size :].astype(np.float32))
    np.testing.assert_array_equal(res.y, y_ref)
    # Original rows keep their weight; synthetic rows get their class's mean.
    np.testing.assert_array_equal(res.w[: rows.size], w[rows])
    np.testing.assert_allclose(res.w[rows.size :], w[rows][y[rows] == 1].mean())


def test_smoothed_bootstrap_is_not_taken_for_copies(rows_data):
    # RandomOverSampler with shrinkage reports sample_indices_, yet its new rows
    # are perturbed copies: they must be stored, not indexed.
    X, y, w, rows = rows_data
    sampler = RandomOverSampler(shrinkage=0.5, random_state=0)
    res = resample(sampler, X, rows, y[rows], None, "outer")
    X_ref, _ = RandomOverSampler(shrinkage=0.5, random_state=0).fit_resample(
        X[rows], y[rows]
    )
    np.testing.assert_array_equal(res.rows, rows)
    np.testing.assert_allclose(
        _materialise(X, res), X_ref.astype(np.float32), rtol=1e-6
    )
    assert not np.array_equal(res.new_X, X[rows][sampler.sample_indices_[rows.size :]])


class _ShiftingSampler:
    """Reports sample_indices_ but returns shifted rows: not a selection."""

    def fit_resample(self, X, y):
        self.sample_indices_ = np.arange(len(y))
        return X + 1.0, y


def test_indices_are_trusted_only_when_the_rows_match(rows_data):
    X, y, w, rows = rows_data
    res = resample(_ShiftingSampler(), X, rows, y[rows], w[rows], "outer")
    assert res.rows.size == 0
    np.testing.assert_allclose(res.new_X, (X[rows] + 1.0).astype(np.float32))


def test_samplers_that_rebuild_the_set_store_every_row(rows_data):
    X, y, w, rows = rows_data
    sampler = SMOTEENN(smote=SMOTE(k_neighbors=3, random_state=0), random_state=0)
    res = resample(sampler, X, rows, y[rows], None, "outer")
    X_ref, y_ref = SMOTEENN(
        smote=SMOTE(k_neighbors=3, random_state=0), random_state=0
    ).fit_resample(X[rows], y[rows])
    np.testing.assert_array_equal(_materialise(X, res), X_ref.astype(np.float32))
    np.testing.assert_array_equal(res.y, y_ref)


def test_feature_store_shares_float32_input():
    X = np.random.RandomState(0).randn(20, 4).astype(np.float32)
    store = feature_store(X, [], torch.device("cpu"))
    assert np.shares_memory(store.numpy(), X)
    X.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = feature_store(X, [], torch.device("cpu"))
    assert np.shares_memory(store.numpy(), X)
    # float64 input is converted once; extra rows follow the input rows.
    extra = np.ones((3, 4), np.float32)
    store = feature_store(X.astype(np.float64), [extra], torch.device("cpu"))
    assert store.dtype == torch.float32 and store.shape == (23, 4)
    np.testing.assert_array_equal(store[:20].numpy(), X)
    np.testing.assert_array_equal(store[20:].numpy(), extra)


def test_training_set_gathers_through_its_index():
    store = torch.arange(12, dtype=torch.float32).reshape(6, 2)
    ts = TrainingSet(store, [5, 0, 5, 2], [1, 0, 1, 0], None, binary=True)
    X, y, w = ts.gather(torch.tensor([2, 3]))
    assert len(ts) == 4
    np.testing.assert_array_equal(X.numpy(), [[10, 11], [4, 5]])
    np.testing.assert_array_equal(y.numpy(), [1, 0])
    np.testing.assert_array_equal(w.numpy(), [1, 1])


@pytest.mark.parametrize(
    "est",
    [
        MetaBalanceClassifier(max_iter=2, random_state=0),
        BalancedNetClassifier(max_iter=2, sampler="under", random_state=0),
        MetaBalanceClassifier(
            max_iter=2, n_estimators=2, validation_split="per_member", random_state=0
        ),
    ],
    ids=["meta-ros", "plain-rus", "per-member"],
)
def test_float32_and_float64_input_fit_the_same_model(binary_data, est):
    # Index-based sets train on the float32 rows either way: the float32 input
    # is used in place, the float64 one converted once.
    from sklearn.base import clone

    X, y = binary_data
    p64 = clone(est).fit(X.astype(np.float64), y).predict_proba(X)
    p32 = clone(est).fit(X.astype(np.float32), y).predict_proba(X)
    np.testing.assert_array_equal(p64, p32)


def test_sampler_failure_names_the_parameter(rows_data):
    X, y, w, rows = rows_data
    with pytest.raises(ValueError, match="'outer_sampler'"):
        resample(SMOTE(k_neighbors=50), X, rows, y[rows], None, "outer")
