"""Behaviour of MetaBalanceClassifier and BalancedNetClassifier."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import SMOTE, SMOTENC, RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.base import clone
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")

FAST = dict(
    hidden_layer_sizes=(16,),
    max_iter=3,
    early_stopping=False,
    random_state=0,
    device="cpu",
)


def meta(**kw):
    # One network: these tests look at a single network's weights and fitted
    # attributes (ensembles, the class default, are tested in test_ensemble).
    return MetaBalanceClassifier(
        **{**FAST, "tasks_per_step": 4, "n_estimators": 1, **kw}
    )


def plain(**kw):
    return BalancedNetClassifier(**{**FAST, "n_estimators": 1, **kw})


SAMPLERS = {
    "none": None,
    "ros": RandomOverSampler(),
    "rus": RandomUnderSampler(),
    "smote": SMOTE(),
    "alias": "under",
    "pipeline": ImbPipeline(
        [
            ("rus", RandomUnderSampler(sampling_strategy=0.5)),
            ("ros", RandomOverSampler()),
        ]
    ),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_meta_with_samplers(binary_data, name):
    X, y = binary_data
    sampler = SAMPLERS[name]
    # undersampled sets are small: give them as many optimiser steps as the others
    clf = meta(inner_sampler=sampler, outer_sampler=sampler, max_iter=12).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], 2)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(1), 1.0)
    # the fitted network must have learned something on this separable data
    assert average_precision_score(y, proba[:, 1]) > 0.5


@pytest.mark.parametrize("name", ["ros", "rus", "smote", "pipeline"])
def test_meta_samplers_are_cloned(binary_data, name):
    X, y = binary_data
    sampler = SAMPLERS[name]
    clf = meta(inner_sampler=sampler, outer_sampler=sampler, max_iter=1).fit(X, y)
    assert clf.inner_sampler_ is not sampler
    assert clf.outer_sampler_ is not sampler
    assert clf.inner_sampler_ is not clf.outer_sampler_


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_plain_with_samplers(binary_data, name):
    X, y = binary_data
    clf = plain(sampler=SAMPLERS[name], max_iter=5).fit(X, y)
    assert average_precision_score(y, clf.predict_proba(X)[:, 1]) > 0.5


def test_smotenc_on_mixed_data():
    rng = np.random.RandomState(0)
    n = 200
    cat = rng.randint(0, 3, size=n)
    num = rng.randn(n, 3)
    y = (num[:, 0] + (cat == 2) + 0.3 * rng.randn(n) > 1.6).astype(int)
    X = np.column_stack([num, cat]).astype(float)
    sampler = SMOTENC(categorical_features=[3], k_neighbors=3)
    clf = meta(outer_sampler=sampler).fit(X, y)
    # synthetic rows of the outer set keep categorical values from the data
    X_res, _ = clone(clf.outer_sampler_).fit_resample(X, y)
    assert set(np.unique(X_res[:, 3])) <= {0.0, 1.0, 2.0}
    assert clf.predict(X).shape == (n,)


def test_unseeded_samplers_are_seeded_from_random_state(binary_data):
    X, y = binary_data
    a = meta(outer_sampler=RandomUnderSampler(), random_state=3).fit(X, y)
    b = meta(outer_sampler=RandomUnderSampler(), random_state=3).fit(X, y)
    assert a.outer_sampler_.random_state == b.outer_sampler_.random_state is not None
    np.testing.assert_array_equal(
        a.outer_sampler_.sample_indices_, b.outer_sampler_.sample_indices_
    )


def test_seeded_sampler_keeps_its_own_random_state(binary_data):
    X, y = binary_data
    c = meta(outer_sampler=RandomUnderSampler(random_state=7), random_state=3).fit(X, y)
    assert c.outer_sampler_.random_state == 7


def test_sampler_error_names_loop_and_sampler():
    X = np.random.RandomState(0).randn(40, 3)
    y = np.array([0] * 37 + [1] * 3)
    with pytest.raises(ValueError, match=r"outer sampler SMOTE.*k_neighbors"):
        meta(outer_sampler=SMOTE(k_neighbors=5)).fit(X, y)
    with pytest.raises(ValueError, match=r"inner sampler SMOTE"):
        meta(inner_sampler=SMOTE(k_neighbors=5), outer_sampler=None).fit(X, y)


@pytest.mark.parametrize("Est", [meta, plain])
def test_multiclass(multiclass_data, Est):
    X, y = multiclass_data
    clf = Est(max_iter=5).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], 3)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert clf.decision_function(X).shape == (X.shape[0], 3)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6)
    assert clf.score(X, y) > 0.6
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


def test_binary_outputs_consistent(binary_data):
    X, y = binary_data
    clf = meta().fit(X, y)
    dec = clf.decision_function(X)
    assert dec.shape == (X.shape[0],)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-dec)), rtol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(dec > 0).astype(int)])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6)


@pytest.mark.parametrize("labels", [["no", "yes"], [3, 10], [-1, 1], [False, True]])
def test_labels_are_returned_as_given(binary_data, labels):
    X, y = binary_data
    y_lab = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[y]
    clf = meta().fit(X, y_lab)
    np.testing.assert_array_equal(clf.classes_, np.unique(y_lab))
    pred = clf.predict(X)
    assert set(np.unique(pred)) <= set(np.unique(y_lab))
    # same model as with encoded labels: labels are only renamed
    ref = meta().fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), ref.predict_proba(X))


def test_string_multiclass_labels(multiclass_data):
    X, y = multiclass_data
    names = np.array(["cat", "ant", "bee"])
    clf = meta().fit(X, names[y])
    assert list(clf.classes_) == ["ant", "bee", "cat"]
    assert set(clf.predict(X)) <= set(names)


def test_pandas_input_sets_feature_names(binary_data):
    X, y = binary_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = meta().fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        from_numpy = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(df), from_numpy)


def test_cross_val_score_of_a_pipeline(binary_data):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), meta(max_iter=2))
    scores = cross_val_score(pipe, X, y, cv=3, scoring="average_precision")
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_parallel_grid_search_matches_sequential(binary_data):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), meta(max_iter=2))
    grid = GridSearchCV(
        pipe,
        {"metabalanceclassifier__first_order": [True, False]},
        cv=2,
        n_jobs=2,
        scoring="average_precision",
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 2
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    # the sequential search gives the same scores: runs are seeded, not process-dependent
    seq = clone(grid).set_params(n_jobs=1).fit(X, y)
    np.testing.assert_allclose(
        seq.cv_results_["mean_test_score"], grid.cv_results_["mean_test_score"]
    )


def test_resampling_happens_only_on_training_rows(binary_data):
    """The outer set is built from the rows passed to fit, nothing else."""
    X, y = binary_data
    clf = meta(
        outer_sampler=RandomOverSampler(), early_stopping=True, validation_fraction=0.2
    ).fit(X, y)
    idx = clf.outer_sampler_.sample_indices_
    n_train = X.shape[0] - int(np.ceil(0.2 * X.shape[0]))
    assert idx.max() < n_train


@pytest.mark.parametrize("Est", [meta, plain])
def test_pickle_round_trip(binary_data, Est):
    X, y = binary_data
    clf = Est().fit(X, y)
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf2.predict_proba(X), clf.predict_proba(X))
    assert all(p.device.type == "cpu" for p in clf2.module_.parameters())


def test_random_state_instance_is_accepted(binary_data):
    X, y = binary_data
    clf = meta(random_state=np.random.RandomState(0)).fit(X, y)
    assert np.all(np.isfinite(clf.predict_proba(X)))


def _unresampled(Est):
    return Est(outer_sampler=None) if Est is meta else Est()


@pytest.mark.parametrize("Est", [meta, plain])
def test_unit_sample_weight_equals_no_sample_weight(binary_data, Est):
    X, y = binary_data
    base = _unresampled(Est)
    a = clone(base).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    b = clone(base).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("Est", [meta, plain])
def test_upweighting_the_minority_raises_its_probability(binary_data, Est):
    X, y = binary_data
    base = _unresampled(Est)
    b = clone(base).fit(X, y).predict_proba(X)
    w = np.where(y == 1, 5.0, 1.0)
    c = clone(base).fit(X, y, sample_weight=w).predict_proba(X)
    assert c[y == 1, 1].mean() > b[y == 1, 1].mean()


def test_early_stopping_restores_best_weights(binary_data):
    X, y = binary_data
    clf = meta(max_iter=30, early_stopping=True, n_iter_no_change=3, lr=0.05).fit(X, y)
    scores = [h["valid_score"] for h in clf.history_]
    assert clf.best_validation_score_ == max(scores)
    assert (
        clf.history_[clf.best_epoch_ - 1]["valid_score"] == clf.best_validation_score_
    )
    # The validation score saturates within a few epochs on this separable data,
    # long before max_iter: the fit stops n_iter_no_change epochs after its best.
    assert clf.stopped_reason_ == "early_stopping"
    assert clf.n_iter_ == clf.best_epoch_ + 3
    # the restored weights give the best validation score again on the rows
    # the fit held out
    val = clf.validation_indices_
    assert val.shape == (int(np.ceil(0.1 * len(y))),)
    X_val, y_val = X[val], np.searchsorted(clf.classes_, y[val])
    ap = average_precision_score(y_val, clf.predict_proba(X_val)[:, 1])
    assert ap == pytest.approx(clf.best_validation_score_, abs=1e-6)


def test_history_and_steps(binary_data):
    X, y = binary_data
    clf = meta(
        max_iter=4, tasks_per_step=2, outer_batch_size=10, outer_sampler=None
    ).fit(X, y)
    assert clf.n_iter_ == 4 == len(clf.history_)
    per_epoch = int(np.ceil(X.shape[0] / 20))
    assert [h["steps"] for h in clf.history_] == [per_epoch * (i + 1) for i in range(4)]
    assert clf.n_steps_ == 4 * per_epoch
    for h in clf.history_:
        assert set(h) >= {
            "epoch",
            "train_loss",
            "inner_loss",
            "valid_score",
            "steps",
            "dur",
        }
        assert np.isfinite(h["train_loss"]) and h["dur"] > 0
    # training reduces the loss on this easy problem
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]


def test_verbose_prints_one_row_per_epoch(binary_data, capsys):
    X, y = binary_data
    meta(max_iter=2, verbose=1, early_stopping=True).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_score" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 2


def test_not_verbose_prints_nothing(binary_data, capsys):
    X, y = binary_data
    meta(max_iter=2, verbose=0, early_stopping=True).fit(X, y)
    assert capsys.readouterr().out == ""


def test_warm_start_continues(binary_data):
    X, y = binary_data
    clf = meta(max_iter=2, warm_start=True).fit(X, y)
    w1 = clf.module_[0].weight.detach().clone()
    clf.fit(X, y)
    assert clf.n_iter_ == 4 and len(clf.history_) == 4
    assert clf.history_[-1]["steps"] == 2 * clf.history_[1]["steps"]
    assert not torch.equal(w1, clf.module_[0].weight)


def test_refit_without_warm_start_starts_afresh(binary_data):
    X, y = binary_data
    cold = meta(max_iter=2, warm_start=False).fit(X, y)
    first = cold.predict_proba(X)
    cold.fit(X, y)
    assert cold.n_iter_ == 2 == len(cold.history_)
    np.testing.assert_array_equal(cold.predict_proba(X), first)


class TinyNet(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, 8), nn.GELU(), nn.LayerNorm(8))
        self.head = nn.Linear(8, n_outputs)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.mark.parametrize("first_order", [True, False])
def test_custom_module_factory(multiclass_data, first_order):
    X, y = multiclass_data
    clf = meta(module=TinyNet, first_order=first_order).fit(X, y)
    assert isinstance(clf.module_, TinyNet)
    assert clf.predict_proba(X).shape == (X.shape[0], 3)
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf2.predict(X), clf.predict(X))


def test_module_instance_is_refused(binary_data):
    X, y = binary_data
    with pytest.raises(TypeError, match="'module' parameter must be a callable"):
        meta(module=TinyNet(6, 1)).fit(X, y)


def test_module_with_wrong_output_width_is_refused(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match=r"logits of shape \(n, 1\)"):
        meta(module=lambda d, o: nn.Linear(d, 3)).fit(X, y)


def test_module_with_batch_norm_is_refused(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="BatchNorm1d"):
        meta(
            module=lambda d, o: nn.Sequential(
                nn.Linear(d, 4), nn.BatchNorm1d(4), nn.Linear(4, o)
            )
        ).fit(X, y)


def test_auto_device_is_cuda_when_available(binary_data):
    X, y = binary_data
    clf = meta(device="auto").fit(X, y)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device_.type == expected
    assert clf.get_params()["device"] == "auto"


def test_clone_and_params_round_trip():
    clf = MetaBalanceClassifier(outer_sampler=RandomUnderSampler(), tasks_per_step=9)
    c = clone(clf)
    assert c.get_params()["tasks_per_step"] == 9
    assert c.outer_sampler is not clf.outer_sampler
    c.set_params(outer_sampler__sampling_strategy=0.5)
    assert c.outer_sampler.sampling_strategy == 0.5


@cuda
@pytest.mark.parametrize("Est", [meta, plain])
def test_cuda_fit_matches_cpu_and_unpickles_on_cpu(binary_data, Est):
    X, y = binary_data
    gpu = Est(device="cuda").fit(X, y)
    assert gpu.device_.type == "cuda"
    assert next(gpu.module_.parameters()).device.type == "cuda"
    cpu = Est(device="cpu").fit(X, y)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-3)
    state = gpu.__getstate__()["_fitted_state"]
    assert all(t.device.type == "cpu" for t in state["tensors"].values())
    assert next(gpu.module_.parameters()).device.type == "cuda"  # never moved
    clone_ = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(clone_.predict_proba(X), gpu.predict_proba(X), atol=1e-6)


class PartlyFrozen(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.embed = nn.Linear(n_features, 8)
        self.embed.requires_grad_(False)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(8, n_outputs))

    def forward(self, x):
        return self.head(self.embed(x))


@pytest.mark.parametrize("Est", [meta, plain])
@pytest.mark.parametrize("first_order", [True, False])
def test_frozen_parameters_stay_fixed(binary_data, Est, first_order):
    X, y = binary_data
    kw = {"first_order": first_order} if Est is meta else {}
    clf = Est(module=PartlyFrozen, **kw).fit(X, y)
    # same seed, so the same initial weights: after 3 epochs and after 1 the
    # frozen layer must still hold them, while the trainable head moved
    clf2 = Est(module=PartlyFrozen, max_iter=1, **kw).fit(X, y)
    torch.testing.assert_close(clf.module_.embed.weight, clf2.module_.embed.weight)
    torch.testing.assert_close(clf.module_.embed.bias, clf2.module_.embed.bias)
    assert not clf.module_.embed.weight.requires_grad
    assert not torch.equal(clf.module_.head[1].weight, clf2.module_.head[1].weight)


def test_module_without_trainable_parameters_is_refused(binary_data):
    X, y = binary_data

    def frozen(d, o):
        return nn.Linear(d, o).requires_grad_(False)

    with pytest.raises(ValueError, match="no trainable parameters"):
        meta(module=frozen).fit(X, y)


def _minority_rows(X, y, n):
    few = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:n]]
    return X[few], y[few]


def test_early_stopping_is_auto_by_default():
    assert MetaBalanceClassifier().early_stopping == "auto"
    assert BalancedNetClassifier().early_stopping == "auto"


def test_early_stopping_auto_is_on_when_every_class_has_ten_rows(binary_data):
    X, y = binary_data  # 45 minority rows: a 10 % split holds about 4 of them
    on = meta(early_stopping="auto", max_iter=2).fit(X, y)
    assert all(h["valid_score"] is not None for h in on.history_)
    assert on.best_epoch_ is not None


@pytest.mark.parametrize(
    "n_minority, floor, on",
    [
        # without the floor, 10 % of the rows must hold a minority row
        (9, None, False),
        (10, None, True),
        # with it, up to 30 % of the rows are held out
        (3, 10, False),
        (4, 10, True),
        (9, 10, True),
    ],
)
def test_early_stopping_auto_is_on_when_the_split_holds_every_class(
    binary_data, n_minority, floor, on
):
    X, y = _minority_rows(*binary_data, n_minority)
    clf = meta(early_stopping="auto", validation_min_class_rows=floor, max_iter=2).fit(
        X, y
    )
    assert (clf.best_epoch_ is not None) == on
    assert all((h["valid_score"] is not None) == on for h in clf.history_)


@pytest.mark.parametrize("make", [meta, plain])
@pytest.mark.parametrize(
    "n_minority, params, share",
    [
        # 10 % would hold 4.5 minority rows: the share grows to hold 10
        (45, {"validation_min_class_rows": 10}, 10 / 45),
        (45, {"validation_min_class_rows": 5}, 5 / 45),
        # 10 % of 120 minority rows is already 12
        (120, {"validation_min_class_rows": 10}, 0.1),
        # the floor needs half the rows: capped at 30 %
        (20, {"validation_min_class_rows": 10}, 0.3),
        # a larger validation_fraction is kept
        (45, {"validation_min_class_rows": 10, "validation_fraction": 0.4}, 0.4),
        # no floor (the default): validation_fraction as given
        (45, {}, 0.1),
    ],
)
def test_validation_split_holds_a_floor_of_rarest_class_rows(
    make, n_minority, params, share
):
    n = 600
    rng = np.random.RandomState(0)
    y = np.zeros(n, dtype=int)
    y[rng.choice(n, n_minority, replace=False)] = 1
    X = rng.normal(size=(n, 5)) + y[:, None]
    clf = make(early_stopping=True, max_iter=1, **params).fit(X, y)
    val = clf.validation_indices_
    assert len(val) == int(np.ceil(share * n))
    # stratified: the rarest class keeps its share of the split
    assert np.bincount(y[val])[1] == pytest.approx(share * n_minority, abs=1)


def test_per_member_folds_hold_the_floor_of_rarest_class_rows():
    rng = np.random.RandomState(0)
    y = np.zeros(600, dtype=int)
    y[rng.choice(600, 45, replace=False)] = 1
    X = rng.normal(size=(600, 5)) + y[:, None]
    clf = plain(
        n_estimators=3,
        validation_split="per_member",
        validation_min_class_rows=10,
        early_stopping=True,
        max_iter=1,
    ).fit(X, y)
    # 10 % of 45 minority rows is 4.5; folds of about 10 / 45 of the rows
    # (four folds) hold 11 or 12 each, and stay disjoint
    folds = clf.validation_indices_
    assert all(np.bincount(y[f])[1] >= 10 for f in folds)
    assert len(np.unique(np.concatenate(folds))) == sum(len(f) for f in folds)


def test_early_stopping_true_holds_out_a_split_anyway(binary_data):
    X, y = _minority_rows(*binary_data, 9)
    forced = meta(early_stopping=True, max_iter=2).fit(X, y)
    assert forced.history_[0]["valid_score"] is not None


def test_warm_start_draws_new_batch_orders(binary_data, monkeypatch):
    import skmetabalance._classifier as clf_mod

    seeds = []
    real = clf_mod.IndexStream

    def recording(n, seed, device, **kwargs):
        seeds.append(int(seed))
        return real(n, seed, device, **kwargs)

    monkeypatch.setattr(clf_mod, "IndexStream", recording)
    X, y = binary_data
    clf = meta(max_iter=1, warm_start=True, early_stopping=True)
    clf.fit(X, y)
    first = list(seeds)
    clf.fit(X, y)
    assert len(seeds) == 2 * len(first)
    assert seeds[len(first) :] != first
    assert len(clf.history_) == 2


# ------------------------------------------------------------------ geometry
@pytest.mark.parametrize("Est", [meta, plain])
def test_auto_geometry_is_the_fixed_one_on_small_sets(binary_data, Est):
    X, y = binary_data
    a = Est(max_iter=3).fit(X, y)
    f = Est(max_iter=3, geometry="fixed").fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), f.predict_proba(X))
    assert a.geometry_ == f.geometry_
    assert a.geometry_["growth"] == 1.0 and a.geometry_["lr"] == a.lr
    assert a.n_steps_ == a.n_iter_ * a.geometry_["steps_per_epoch"]


@pytest.mark.parametrize("Est", [meta, plain])
def test_auto_geometry_epochs_shorten_as_batches_grow(Est):
    import skmetabalance._classifier as classifier

    est = Est()
    base = classifier.EPOCH_ROWS

    def epoch_rows(n):
        g = est._geometry(n)
        return g, g["steps_per_epoch"] * g["rows_per_step"]

    # Up to EPOCH_ROWS rows an epoch is one pass (the stepper counts it).
    assert est._geometry(base)["steps_per_epoch"] is None
    assert est._geometry(base)["growth"] == 1.0
    # Just past it, an epoch covers about EPOCH_ROWS rows: no jump in length.
    g, rows = epoch_rows(base + 1000)
    assert g["growth"] > 1
    assert base / g["growth"] <= rows < base / g["growth"] + g["rows_per_step"]
    assert rows > 0.95 * base
    # Batches three times as large: an epoch of a third of EPOCH_ROWS rows,
    # more than a tenth of the set.
    g, rows = epoch_rows(3 * base)
    assert g["growth"] == pytest.approx(3.0)
    assert base / 3 <= rows < base / 3 + g["rows_per_step"]
    # Batches eight times as large: a tenth of the set is the longer epoch.
    g, rows = epoch_rows(8 * base)
    assert 0.1 * 8 * base <= rows < 0.1 * 8 * base + g["rows_per_step"]
    # From ten times EPOCH_ROWS on, an epoch covers EPOCH_ROWS rows again.
    for n in (10 * base, 40 * base):
        g, rows = epoch_rows(n)
        assert base <= rows < base + g["rows_per_step"]
    # In steps, an epoch never gets longer as the rows grow (up to the
    # rounding of the batch sizes).
    sizes = np.linspace(base + 1, 12 * base, 45).astype(int)
    steps = [est._geometry(n)["steps_per_epoch"] for n in sizes]
    assert all(b <= 1.02 * a for a, b in zip(steps, steps[1:]))
    assert steps[0] == base // est._geometry(base)["rows_per_step"] and steps[-1] < 200
    assert (
        est.set_params(geometry="fixed")._geometry(3 * base)["steps_per_epoch"] is None
    )


def test_auto_geometry_grows_batches_on_large_sets(binary_data, monkeypatch):
    import skmetabalance._classifier as classifier

    X, y = binary_data
    # Pretend that sets above 4 steps of 64 rows are large: the outer set (the
    # training rows, class-balanced by the default RandomOverSampler) has ~460.
    monkeypatch.setattr(classifier, "PASS_STEPS", 4)
    monkeypatch.setattr(classifier, "EPOCH_ROWS", 256)
    clf = meta(max_iter=3, early_stopping=False).fit(X, y)
    n_outer = len(clf.outer_sampler_.sample_indices_)
    g = clf.geometry_
    assert g["growth"] == pytest.approx(n_outer / 256)
    assert g["batch_size"] == round(clf.batch_size * g["growth"])
    assert g["outer_batch_size"] == round(clf.outer_batch_size * g["growth"])
    assert g["rows_per_step"] == clf.tasks_per_step * g["outer_batch_size"]
    assert g["lr"] == pytest.approx(clf.lr * np.sqrt(g["growth"]))
    # An epoch covers EPOCH_ROWS / growth rows of the outer set (more than a
    # tenth of it here), not all of them.
    assert g["steps_per_epoch"] == int(np.ceil(256 / g["growth"] / g["rows_per_step"]))
    assert g["steps_per_epoch"] < int(np.ceil(n_outer / g["rows_per_step"]))
    assert clf.n_steps_ == 3 * g["steps_per_epoch"]
    assert clf.history_[-1]["steps"] == clf.n_steps_
    # The optimiser ran at the scaled rate, and a warm start keeps using it.
    assert clf._optimizer_state["param_groups"][0]["lr"] == pytest.approx(g["lr"])

    monkeypatch.setattr(classifier, "PASS_STEPS", 1)
    monkeypatch.setattr(classifier, "EPOCH_ROWS", 1024)
    monkeypatch.setattr(classifier, "MAX_GROWTH", 2)
    capped = plain(max_iter=1, early_stopping=False, sampler="over").fit(X, y)
    assert capped.geometry_["growth"] == 2
    assert capped.geometry_["batch_size"] == 2 * capped.batch_size
    # Below EPOCH_ROWS rows, an epoch is still one pass.
    n_train = len(capped.sampler_.sample_indices_)
    assert capped.n_steps_ == int(np.ceil(n_train / (2 * capped.batch_size)))
    fixed = plain(
        max_iter=1, early_stopping=False, sampler="over", geometry="fixed"
    ).fit(X, y)
    assert fixed.geometry_["growth"] == 1.0
    assert fixed.geometry_["batch_size"] == fixed.batch_size
    assert fixed.n_steps_ == int(np.ceil(n_train / fixed.batch_size))

    # Steps larger than the default's grow only once a pass takes more than
    # PASS_STEPS of them; smaller ones grow in the default's proportion.
    monkeypatch.setattr(classifier, "MAX_GROWTH", 64)
    large = plain(max_iter=1, early_stopping=False, sampler="over", batch_size=256).fit(
        X, y
    )
    assert large.geometry_["growth"] == pytest.approx(n_train / 256)
    small = plain(max_iter=1, early_stopping=False, sampler="over", batch_size=16)
    small.fit(X, y)
    assert small.geometry_["growth"] == pytest.approx(n_train / 64)
    assert small.geometry_["batch_size"] == round(16 * n_train / 64)
