"""Ensembles of networks trained in one fit (``n_estimators``)."""

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._modules import Ensemble


class _Generic(nn.Module):
    """A small MLP with a forward of its own: trained by the generic engine."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_outputs)
        )

    def forward(self, x):
        return self.net(x)


def _make(cls, **kw):
    base = dict(
        hidden_layer_sizes=(8,),
        max_iter=3,
        random_state=0,
        device="cpu",
        n_estimators=1,
    )
    base.update(kw)
    return cls(**base)


ESTIMATORS = [MetaBalanceClassifier, BalancedNetClassifier]


@pytest.mark.parametrize(
    "cls,extra",
    [
        (MetaBalanceClassifier, {"first_order": True}),
        (MetaBalanceClassifier, {"first_order": False}),
        (BalancedNetClassifier, {}),
    ],
    ids=["meta-first-order", "meta-second-order", "plain"],
)
@pytest.mark.parametrize("module", [None, _Generic], ids=["batched", "generic"])
def test_member_zero_is_the_single_network_fit(binary_data, cls, extra, module):
    # Member m takes the seeds a single fit would take as member m, so member 0
    # of an ensemble is the one-network fit (up to float rounding of batched
    # products).
    X, y = binary_data
    kw = dict(module=module, early_stopping=True, n_iter_no_change=100, **extra)
    single = _make(cls, **kw).fit(X, y)
    ens = _make(cls, n_estimators=3, **kw).fit(X, y)
    assert isinstance(ens.module_, Ensemble) and len(ens.module_) == 3
    for p, q in zip(ens.module_[0].parameters(), single.module_.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(ens.validation_indices_, single.validation_indices_)
    # members differ from each other
    w = [m_.state_dict() for m_ in ens.module_]
    assert not all(torch.equal(w[0][k], w[1][k]) for k in w[0])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_predict_proba_is_the_mean_of_the_members(multiclass_data, binary_data, cls):
    for X, y in (binary_data, multiclass_data):
        clf = _make(cls, n_estimators=3).fit(X, y)
        X_t = torch.as_tensor(X, dtype=torch.float32)
        with torch.no_grad():
            if len(clf.classes_) == 2:
                member = [torch.sigmoid(m(X_t)[:, 0]).double() for m in clf.module_]
                p1 = torch.stack(member).mean(0).numpy()
                expected = np.column_stack([1 - p1, p1])
            else:
                member = [torch.softmax(m(X_t).double(), 1) for m in clf.module_]
                expected = torch.stack(member).mean(0).numpy()
        proba = clf.predict_proba(X)
        np.testing.assert_allclose(proba, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(proba.sum(1), 1.0)
        np.testing.assert_allclose(
            np.exp(clf.predict_log_proba(X)), proba, rtol=1e-6, atol=1e-12
        )
        assert np.array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])


def test_decision_function_is_the_log_odds_of_the_mean_probability(binary_data):
    X, y = binary_data
    clf = _make(MetaBalanceClassifier, n_estimators=4).fit(X, y)
    d = clf.decision_function(X)
    p = clf.predict_proba(X)[:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-d)), p, rtol=1e-6, atol=1e-12)
    assert np.array_equal(d > 0, clf.predict(X) == clf.classes_[1])
    # the fitted module computes the same thing on its own
    with torch.no_grad():
        out = clf.module_(torch.as_tensor(X, dtype=torch.float32))[:, 0].numpy()
    np.testing.assert_allclose(out, d, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_members_stop_early_on_their_own(binary_data, cls):
    X, y = binary_data
    clf = _make(
        cls, n_estimators=4, max_iter=60, early_stopping=True, n_iter_no_change=2
    ).fit(X, y)
    assert len(clf.best_epoch_) == 4 == len(clf.best_validation_score_)
    actives = [rec["active"] for rec in clf.history_]
    assert actives == sorted(actives, reverse=True)  # a stopped member stays stopped
    assert actives[-1] < 4 or clf.n_iter_ == 60
    for m in range(4):
        scores = [rec["member_valid_score"][m] for rec in clf.history_]
        seen = [s for s in scores if s is not None]
        assert clf.best_validation_score_[m] == max(seen)
        assert scores[clf.best_epoch_[m] - 1] == clf.best_validation_score_[m]
        # once stopped, a member is no longer scored or trained
        stopped = scores.index(None) if None in scores else len(scores)
        assert all(s is None for s in scores[stopped:])
        losses = [rec["member_train_loss"][m] for rec in clf.history_]
        assert all(v is None for v in losses[stopped:])
    assert clf.stopped_reason_ in ("early_stopping", "max_iter")


def test_stopped_members_keep_their_best_weights(binary_data):
    X, y = binary_data
    clf = _make(
        MetaBalanceClassifier,
        n_estimators=3,
        max_iter=40,
        early_stopping=True,
        n_iter_no_change=2,
        lr=0.05,
    ).fit(X, y)
    val = clf.validation_indices_
    y_val = np.searchsorted(clf.classes_, y[val])
    from sklearn.metrics import average_precision_score

    X_val = torch.as_tensor(X[val], dtype=torch.float32)
    for m, member in enumerate(clf.module_):
        with torch.no_grad():
            p = torch.sigmoid(member(X_val)[:, 0].double()).numpy()
        assert average_precision_score(y_val, p) == pytest.approx(
            clf.best_validation_score_[m], abs=1e-6
        )


def test_warm_start_continues_every_member(binary_data):
    X, y = binary_data
    clf = _make(MetaBalanceClassifier, n_estimators=2, warm_start=True).fit(X, y)
    before = [m.state_dict()["0.weight"].clone() for m in clf.module_]
    clf.fit(X, y)
    assert clf.n_iter_ == 6
    for m, w in zip(clf.module_, before):
        assert not torch.equal(m.state_dict()["0.weight"], w)
    clf.set_params(n_estimators=3)
    with pytest.raises(ValueError, match="2 ensemble members; got n_estimators=3"):
        clf.fit(X, y)


def test_pickle_round_trip_of_an_ensemble(binary_data):
    X, y = binary_data
    clf = _make(BalancedNetClassifier, n_estimators=3).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert len(again.module_) == 3


def test_one_member_is_a_plain_network(binary_data):
    X, y = binary_data
    clf = _make(MetaBalanceClassifier).fit(X, y)
    assert isinstance(clf.module_, nn.Sequential)
    assert not isinstance(clf.module_, Ensemble)
    assert isinstance(clf.best_epoch_, (int, type(None)))


@pytest.mark.parametrize("Est", [MetaBalanceClassifier, BalancedNetClassifier])
def test_default_is_an_ensemble_of_four(Est, binary_data):
    X, y = binary_data
    assert Est().n_estimators == 4
    clf = Est(
        hidden_layer_sizes=(8,), max_iter=3, random_state=0, early_stopping=True
    ).fit(X, y)
    assert isinstance(clf.module_, Ensemble) and len(clf.module_) == 4
    assert len(clf.best_epoch_) == 4 and len(clf.best_validation_score_) == 4
    members = [
        torch.sigmoid(member(torch.as_tensor(X, dtype=torch.float32))).detach()
        for member in clf.module_
    ]
    mean = torch.stack(members).mean(0).squeeze(-1).double().numpy()
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], mean, rtol=1e-5, atol=1e-6)


def test_save_load_round_trip_of_an_ensemble(binary_data, tmp_path):
    from skmetabalance import load_model, save_model

    X, y = binary_data
    clf = _make(
        MetaBalanceClassifier, n_estimators=3, early_stopping=True, warm_start=True
    ).fit(X, y)
    path = tmp_path / "ensemble.safetensors"
    save_model(clf, path)
    again = load_model(path)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    assert again.best_epoch_ == clf.best_epoch_
    np.testing.assert_array_equal(again.validation_indices_, clf.validation_indices_)
    # a warm start after loading continues as the original does
    clf.fit(X, y)
    again.fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    assert again.n_iter_ == clf.n_iter_ == 6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_ensemble_matches_cpu_and_unpickles_on_cpu(binary_data):
    X, y = binary_data
    kw = dict(n_estimators=3, early_stopping=False)
    cpu = _make(MetaBalanceClassifier, device="cpu", **kw).fit(X, y)
    gpu = _make(MetaBalanceClassifier, device="cuda", **kw).fit(X, y)
    assert all(p.is_cuda for p in gpu.module_.parameters())
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-3)
    state = gpu._get_fitted_state()
    assert all(t.device.type == "cpu" for t in state["tensors"].values())
    again = pickle.loads(pickle.dumps(gpu))
    assert all(not p.is_cuda for p in again.module_.parameters())
    np.testing.assert_allclose(again.predict_proba(X), gpu.predict_proba(X), atol=1e-6)


class _Tied(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.a = nn.Linear(n_features, n_features)
        self.b = nn.Linear(n_features, n_features)
        self.b.weight = self.a.weight  # one parameter under two names
        self.out = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        return self.out(torch.relu(self.b(torch.relu(self.a(x)))))


def test_tied_parameters_are_refused_for_ensembles(binary_data):
    X, y = binary_data
    _make(MetaBalanceClassifier, module=_Tied).fit(X, y)  # one network is fine
    with pytest.raises(ValueError, match="n_estimators > 1 needs networks without"):
        _make(MetaBalanceClassifier, module=_Tied, n_estimators=2).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_per_member_validation_folds_are_disjoint_and_stratified(binary_data, cls):
    X, y = binary_data
    clf = _make(
        cls,
        n_estimators=3,
        early_stopping=True,
        validation_split="per_member",
        max_iter=5,
    ).fit(X, y)
    folds = clf.validation_indices_
    assert len(folds) == 3
    for i, a in enumerate(folds):
        assert len(a) == pytest.approx(0.1 * len(y), abs=1)
        assert set(np.unique(y[a])) == set(np.unique(y))
        for b in folds[i + 1 :]:
            assert np.intersect1d(a, b).size == 0
    # every member is scored on its own fold: its best score is reproduced there
    from sklearn.metrics import average_precision_score

    for m, member in enumerate(clf.module_):
        X_v = torch.as_tensor(X[folds[m]], dtype=torch.float32)
        with torch.no_grad():
            p = torch.sigmoid(member(X_v)[:, 0].double()).numpy()
        y_v = np.searchsorted(clf.classes_, y[folds[m]])
        assert average_precision_score(y_v, p) == pytest.approx(
            clf.best_validation_score_[m], abs=1e-6
        )
    sampler = clf.outer_sampler_ if cls is MetaBalanceClassifier else clf.sampler_
    assert sampler is None or len(sampler) == 3


def test_per_member_folds_survive_persistence_and_warm_start(binary_data, tmp_path):
    from skmetabalance import load_model, save_model

    X, y = binary_data
    clf = _make(
        MetaBalanceClassifier,
        n_estimators=2,
        early_stopping=True,
        validation_split="per_member",
        warm_start=True,
    ).fit(X, y)
    path = tmp_path / "folds.safetensors"
    save_model(clf, path)
    again = load_model(path)
    for a, b in zip(again.validation_indices_, clf.validation_indices_):
        np.testing.assert_array_equal(a, b)
    clf.fit(X, y)
    for a, b in zip(again.validation_indices_, clf.validation_indices_):
        np.testing.assert_array_equal(a, b)
    again.fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)


def test_one_member_ignores_per_member_split(binary_data):
    X, y = binary_data
    a = _make(MetaBalanceClassifier, early_stopping=True).fit(X, y)
    b = _make(
        MetaBalanceClassifier, early_stopping=True, validation_split="per_member"
    ).fit(X, y)
    np.testing.assert_array_equal(a.validation_indices_, b.validation_indices_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
