"""The estimators' SGD against torch.optim.SGD, its state and its errors."""

import subprocess
import sys
import textwrap

import pytest
import torch

from skmetabalance._optim import SGD


def _params(seed):
    g = torch.Generator().manual_seed(seed)
    shapes = [(7, 5), (7,), (3, 7), (3,)]
    return [torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes]


def _grads(params, step, skip=None):
    g = torch.Generator().manual_seed(100 + step)
    for i, p in enumerate(params):
        p.grad = None if i == skip else torch.randn(p.shape, generator=g)


HYPER = [
    dict(lr=0.1),
    dict(lr=0.05, weight_decay=1e-3),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.1, momentum=0.9, nesterov=True),
    dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=5e-4),
]


@pytest.mark.parametrize("hyper", HYPER)
def test_steps_equal_torch_sgd_bit_for_bit(hyper):
    ours_p, ref_p = _params(0), _params(0)
    ours = SGD(ours_p, **hyper)
    ref = torch.optim.SGD(ref_p, foreach=True, **hyper)
    for step in range(6):
        # One parameter has no gradient at some steps: it and its momentum stay.
        skip = 1 if step in (0, 3) else None
        for params in (ours_p, ref_p):
            _grads(params, step, skip)
        ours.step()
        ref.step()
        for a, b in zip(ours_p, ref_p):
            assert torch.equal(a, b)
    ours_sd, ref_sd = ours.state_dict(), ref.state_dict()
    assert ours_sd["param_groups"] == ref_sd["param_groups"]
    assert ours_sd["state"].keys() == ref_sd["state"].keys()
    for idx, entries in ref_sd["state"].items():
        assert torch.equal(
            ours_sd["state"][idx]["momentum_buffer"], entries["momentum_buffer"]
        )


def test_states_load_across_torch_and_ours():
    hyper = dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    first = _params(1)
    ref = torch.optim.SGD(first, foreach=True, **hyper)
    for step in range(3):
        _grads(first, step)
        ref.step()
    saved = ref.state_dict()
    ours_p = [torch.nn.Parameter(p.detach().clone()) for p in first]
    ours = SGD(ours_p, lr=1.0)  # the loaded hyperparameters replace these
    ours.load_state_dict(saved)
    assert ours.param_groups[0]["lr"] == 0.1
    assert ours.param_groups[0]["nesterov"] is True
    for step in range(3, 6):
        _grads(first, step)
        _grads(ours_p, step)
        ref.step()
        ours.step()
    for a, b in zip(ours_p, first):
        assert torch.equal(a, b)
    back = torch.optim.SGD(
        [torch.nn.Parameter(p.detach().clone()) for p in ours_p], lr=1.0
    )
    back.load_state_dict(ours.state_dict())
    assert back.param_groups[0]["momentum"] == 0.9


def test_loaded_momentum_is_a_copy():
    params = _params(2)
    opt = SGD(params, lr=0.1, momentum=0.9)
    _grads(params, 0)
    opt.step()
    saved = opt.state_dict()
    other = SGD(_params(2), lr=0.1, momentum=0.9)
    other.load_state_dict(saved)
    kept = saved["state"][0]["momentum_buffer"].clone()
    _grads(other.param_groups[0]["params"], 1)
    other.step()
    assert torch.equal(saved["state"][0]["momentum_buffer"], kept)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lr=-0.1), "'lr' must be a non-negative number; got -0.1"),
        (dict(lr=0.1, momentum=float("nan")), "'momentum' must be a non-negative"),
        (dict(lr=0.1, weight_decay="0"), "'weight_decay' must be a non-negative"),
        (dict(lr=0.1, nesterov=True), "nesterov=True needs a momentum above 0"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD(_params(0), **kwargs)


def test_bad_params():
    with pytest.raises(ValueError, match="no parameters"):
        SGD([], lr=0.1)
    with pytest.raises(TypeError, match="optimises tensors; got an element of type"):
        SGD([1.0], lr=0.1)


def test_bad_states_are_refused():
    opt = SGD(_params(0), lr=0.1, momentum=0.9)
    good = opt.state_dict()
    with pytest.raises(ValueError, match="must be a dict with 'state'"):
        opt.load_state_dict([1, 2])
    fewer = {
        "state": {},
        "param_groups": [dict(good["param_groups"][0], params=[0, 1])],
    }
    with pytest.raises(
        ValueError, match="holds 2 parameters; this optimizer's holds 4"
    ):
        opt.load_state_dict(fewer)
    two = {"state": {}, "param_groups": good["param_groups"] * 2}
    with pytest.raises(
        ValueError, match="has 2 parameter groups; this optimizer has 1"
    ):
        opt.load_state_dict(two)
    stray = {
        "state": {9: {"momentum_buffer": torch.zeros(3)}},
        "param_groups": good["param_groups"],
    }
    with pytest.raises(ValueError, match="entry 9 for none of the 4 parameters"):
        opt.load_state_dict(stray)
    maximize = {
        "state": {},
        "param_groups": [dict(good["param_groups"][0], maximize=True)],
    }
    with pytest.raises(ValueError, match="maximize=True; this SGD supports only"):
        opt.load_state_dict(maximize)
    group = dict(good["param_groups"][0])
    del group["lr"]
    with pytest.raises(ValueError, match=r"lacks \['lr'\]"):
        opt.load_state_dict({"state": {}, "param_groups": [group]})
    # Nothing of the refused states was taken.
    assert opt.param_groups[0]["lr"] == 0.1 and opt.state == {}


def test_a_fit_does_not_import_torch_dynamo():
    # Importing torch._dynamo (which any torch.optim optimiser does on first use)
    # costs seconds in every fresh process.
    code = textwrap.dedent(
        """
        import sys
        from sklearn.datasets import make_classification
        from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
        X, y = make_classification(300, 5, weights=[0.8], random_state=0)
        est = MetaBalanceClassifier(max_iter=2, n_estimators=2, random_state=0)
        est.fit(X, y).predict_proba(X)
        est.set_params(warm_start=True).fit(X, y)
        BalancedNetClassifier(max_iter=2, random_state=0).fit(X, y)
        print("torch._dynamo" in sys.modules)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "False"
