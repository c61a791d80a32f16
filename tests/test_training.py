"""The training engine: setup, the epoch loop and its named pieces."""

import numpy as np
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from sklearn.exceptions import NotFittedError

import skmetabalance._data as data_mod
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._training import Checkpoints, EarlyStopping, _StackedParameters


class _InterruptingSampler(RandomOverSampler):
    """Raises KeyboardInterrupt from inside ``fit_resample`` when armed."""

    armed = False

    def fit_resample(self, X, y, **params):
        if type(self).armed:
            raise KeyboardInterrupt
        return super().fit_resample(X, y, **params)


def _fitted_state(clf):
    weights = {k: v.clone() for k, v in clf.module_.state_dict().items()}
    opt = {
        i: {k: v.clone() for k, v in s.items() if isinstance(v, torch.Tensor)}
        for i, s in clf._optimizer_state["state"].items()
    }
    return weights, opt, [dict(r) for r in clf.history_], clf.n_iter_, clf.n_steps_


def _assert_same_state(a, b):
    for k in a[0]:
        assert torch.equal(a[0][k], b[0][k])
    assert a[1].keys() == b[1].keys()
    for i in a[1]:
        for k in a[1][i]:
            assert torch.equal(a[1][i][k], b[1][i][k])
    assert a[2:] == b[2:]


def _interrupt_in_sampler(monkeypatch):
    monkeypatch.setattr(_InterruptingSampler, "armed", True)


def _interrupt_in_tensors(monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data_mod, "feature_store", boom)


WHERE = [_interrupt_in_sampler, _interrupt_in_tensors]


def _estimators():
    return [
        MetaBalanceClassifier(
            outer_sampler=_InterruptingSampler(), max_iter=2, random_state=0
        ),
        BalancedNetClassifier(
            sampler=_InterruptingSampler(), max_iter=2, random_state=0
        ),
    ]


@pytest.mark.parametrize("where", WHERE, ids=["sampler", "tensors"])
@pytest.mark.parametrize("index", [0, 1], ids=["meta", "plain"])
def test_interrupted_warm_start_leaves_the_model_as_it_was(
    binary_data, monkeypatch, where, index
):
    X, y = binary_data
    clf = _estimators()[index].set_params(warm_start=True).fit(X, y)
    before = _fitted_state(clf)
    proba = clf.predict_proba(X)
    where(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    _assert_same_state(before, _fitted_state(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.parametrize("where", WHERE, ids=["sampler", "tensors"])
@pytest.mark.parametrize("index", [0, 1], ids=["meta", "plain"])
def test_interrupted_first_fit_leaves_the_estimator_unfitted(
    binary_data, monkeypatch, where, index
):
    X, y = binary_data
    clf = _estimators()[index]
    where(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "module_") and not hasattr(clf, "history_")


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)
    )


class _Members:
    """The part of a stepper that Checkpoints uses: networks and their weights."""

    def __init__(self, nets):
        self.modules = nets
        self.weights = _StackedParameters(nets)


def _members_and_optimizer():
    members = _Members([_net(), _net()])
    opt = torch.optim.SGD(members.weights.parameters(), lr=0.1, momentum=0.9)
    return members, opt


def _step(members, opt):
    for p in members.weights.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    members.weights.after_update(opt)


def test_members_hold_views_of_the_stacked_weights():
    members, opt = _members_and_optimizer()
    before = [n[0].weight.detach().clone() for n in members.modules]
    _step(members, opt)
    for net, w in zip(members.modules, before):
        assert not torch.equal(net[0].weight, w)  # the update reached the member
    members.weights.release()
    stacked = members.weights.stacks["0.weight"]
    assert members.modules[0][0].weight.data_ptr() != stacked.data_ptr()


def test_checkpoints_roll_one_member_back_with_its_momentum():
    members, opt = _members_and_optimizer()
    _step(members, opt)  # momentum buffers exist
    points = Checkpoints(members, opt)
    points.mark(0, 1, {})
    points.mark(1, 1, {})
    w0 = {k: v.clone() for k, v in members.modules[0].state_dict().items()}
    m0 = members.weights.momentum(0, opt)
    _step(members, opt)
    w1 = {k: v.clone() for k, v in members.modules[1].state_dict().items()}
    points.restore(0)
    for k, v in members.modules[0].state_dict().items():
        assert torch.equal(v, w0[k])
    for k, v in members.weights.momentum(0, opt).items():
        assert torch.equal(v, m0[k])
    # the other member is untouched
    for k, v in members.modules[1].state_dict().items():
        assert torch.equal(v, w1[k])


def test_a_frozen_member_no_longer_moves():
    members, opt = _members_and_optimizer()
    _step(members, opt)
    members.weights.freeze(1, opt)
    w1 = {k: v.clone() for k, v in members.modules[1].state_dict().items()}
    w0 = {k: v.clone() for k, v in members.modules[0].state_dict().items()}
    _step(members, opt)
    for k, v in members.modules[1].state_dict().items():
        assert torch.equal(v, w1[k])
    assert not torch.equal(members.modules[0].state_dict()["0.weight"], w0["0.weight"])


def test_early_stopping_counts_patience_per_member():
    nets = [_net(), _net()]
    scores = iter([[0.5, 0.5], [0.6, 0.4], [0.7, 0.4], [0.7, None], [0.65, None]])

    def validate(modules, active):
        s = next(scores)
        return s, 0.0

    stopping = EarlyStopping(validate, 2, patience=2, tol=0.0)
    stops, active = [], [0, 1]
    for epoch in range(1, 6):
        _, _, improved, stop = stopping.update(epoch, nets, active)
        stops.append(stop)
        active = [m for m in active if m not in stop]
    assert stops == [[], [], [1], [], [0]]
    assert [b["epoch"] for b in stopping.best] == [3, 1]
    assert [b["score"] for b in stopping.best] == [0.7, 0.5]


def test_warm_start_of_a_model_without_a_seed_plan(binary_data):
    # Models pickled by version 0.1 carry no seed plan; continuing one starts a
    # plan of its own instead of failing.
    X, y = binary_data
    clf = MetaBalanceClassifier(max_iter=2, warm_start=True, random_state=0).fit(X, y)
    del clf._seed_entropy, clf._n_fits
    clf.fit(X, y)
    assert clf.n_iter_ == 4 and clf._n_fits == 3
