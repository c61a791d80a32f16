"""The training engine: setup, the epoch loop and its named pieces."""

import numpy as np
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from sklearn.exceptions import NotFittedError

import skmetabalance._data as data_mod
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._training import Checkpoints, EarlyStopping


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

    monkeypatch.setattr(data_mod, "to_tensors", boom)


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


def test_checkpoints_roll_one_member_back_with_its_momentum():
    nets = [_net(), _net()]
    opt = torch.optim.SGD(
        [p for n in nets for p in n.parameters()], lr=0.1, momentum=0.9
    )

    def step():
        for n in nets:
            for p in n.parameters():
                p.grad = torch.ones_like(p)
        opt.step()

    step()  # momentum buffers exist
    points = Checkpoints(nets, opt)
    points.mark(0, 1, {})
    points.mark(1, 1, {})
    w0 = {k: v.clone() for k, v in nets[0].state_dict().items()}
    m0 = [opt.state[p]["momentum_buffer"].clone() for p in nets[0].parameters()]
    step()
    w1 = {k: v.clone() for k, v in nets[1].state_dict().items()}
    points.restore(0)
    for k, v in nets[0].state_dict().items():
        assert torch.equal(v, w0[k])
    for p, m in zip(nets[0].parameters(), m0):
        assert torch.equal(opt.state[p]["momentum_buffer"], m)
    # the other member is untouched
    for k, v in nets[1].state_dict().items():
        assert torch.equal(v, w1[k])


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
