"""Numerical truth of the meta-gradient against a hand-unrolled autograd reference."""

import numpy as np
import pytest
import torch
from torch import nn

from skmetabalance._fastpath import StackEngine, make_engine
from skmetabalance._meta import FuncEngine, weighted_loss

K, B_IN, B_OUT, D = 3, 5, 4, 4


class _GenericSequential(nn.Sequential):
    """Same layers, but a forward of its own: takes the generic vmap path."""

    def forward(self, x):
        return super().forward(x)


def _net(n_outputs, path="batched"):
    torch.manual_seed(0)
    cls = nn.Sequential if path == "batched" else _GenericSequential
    net = cls(nn.Linear(D, 6), nn.Tanh(), nn.Linear(6, n_outputs)).double()
    engine = make_engine(net, n_outputs == 1)
    assert isinstance(engine, StackEngine if path == "batched" else FuncEngine)
    return net


def _batches(binary, n_classes, weighted):
    g = torch.Generator().manual_seed(1)
    x_in = torch.randn(K, B_IN, D, generator=g, dtype=torch.float64)
    x_out = torch.randn(K, B_OUT, D, generator=g, dtype=torch.float64)
    if binary:
        y_in = torch.randint(0, 2, (K, B_IN), generator=g).double()
        y_out = torch.randint(0, 2, (K, B_OUT), generator=g).double()
    else:
        y_in = torch.randint(0, n_classes, (K, B_IN), generator=g)
        y_out = torch.randint(0, n_classes, (K, B_OUT), generator=g)
    if weighted:
        w_in = torch.rand(K, B_IN, generator=g, dtype=torch.float64) + 0.5
        w_out = torch.rand(K, B_OUT, generator=g, dtype=torch.float64) + 0.5
    else:
        w_in = torch.ones(K, B_IN, dtype=torch.float64)
        w_out = torch.ones(K, B_OUT, dtype=torch.float64)
    return x_in, y_in, w_in, x_out, y_out, w_out


def _forward(params, x):
    """The network of ``_net`` written out by hand, so the reference shares no code."""
    h = torch.tanh(x @ params["0.weight"].T + params["0.bias"])
    return h @ params["2.weight"].T + params["2.bias"]


def _ref_loss(params, x, y, w, binary):
    logits = _forward(params, x)
    if binary:
        per_row = nn.functional.binary_cross_entropy_with_logits(
            logits[:, 0], y, reduction="none"
        )
    else:
        per_row = nn.functional.cross_entropy(logits, y, reduction="none")
    return (w * per_row).mean()


def _reference(net, batches, *, alpha, steps, lam, first_order, binary):
    """Per-task Python loop with torch.autograd.grad, as the method is written."""
    theta = {
        k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()
    }
    x_in, y_in, w_in, x_out, y_out, w_out = batches
    total = 0.0
    for k in range(K):
        l_in = _ref_loss(theta, x_in[k], y_in[k], w_in[k], binary)
        phi = theta
        for _ in range(steps):
            loss = _ref_loss(phi, x_in[k], y_in[k], w_in[k], binary)
            names = list(phi)
            grads = torch.autograd.grad(
                loss, [phi[n] for n in names], create_graph=not first_order
            )
            phi = {n: phi[n] - alpha * g for n, g in zip(names, grads)}
        l_out = _ref_loss(phi, x_out[k], y_out[k], w_out[k], binary)
        total = total + l_out + lam * l_in
    total = total / K
    grads = torch.autograd.grad(total, list(theta.values()))
    return dict(zip(theta, grads))


def _ours(net, batches, *, alpha, steps, lam, first_order, binary):
    params = {k: v.detach() for k, v in net.named_parameters()}
    grads, _, _ = make_engine(net, binary).meta_grad(
        params,
        {},
        batches,
        first_order=first_order,
        inner_lr=alpha,
        inner_steps=steps,
        inner_loss_weight=lam,
    )
    return grads


PATHS = ["batched", "vmap"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("binary,n_classes", [(True, 2), (False, 4)])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("first_order", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_meta_grad_matches_unrolled_reference(
    path, binary, n_classes, steps, first_order, weighted
):
    net = _net(1 if binary else n_classes, path)
    batches = _batches(binary, n_classes, weighted)
    kw = dict(alpha=0.3, steps=steps, lam=0.1, first_order=first_order, binary=binary)
    ref = _reference(net, batches, **kw)
    ours = _ours(net, batches, **kw)
    assert set(ref) == set(ours)
    for name in ref:
        torch.testing.assert_close(ours[name], ref[name], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("binary,n_classes", [(True, 2), (False, 3)])
def test_first_order_differs_from_second_order(path, binary, n_classes):
    net = _net(1 if binary else n_classes, path)
    batches = _batches(binary, n_classes, False)
    kw = dict(alpha=0.5, steps=1, lam=0.01, binary=binary)
    fo = _ours(net, batches, first_order=True, **kw)
    so = _ours(net, batches, first_order=False, **kw)
    diff = max((fo[k] - so[k]).abs().max().item() for k in fo)
    scale = max(so[k].abs().max().item() for k in so)
    assert diff > 1e-4 * scale


@pytest.mark.parametrize("path", PATHS)
def test_zero_inner_lr_is_outer_plus_weighted_inner_gradient(path):
    net = _net(1, path)
    batches = _batches(True, 2, True)
    x_in, y_in, w_in, x_out, y_out, w_out = batches
    lam = 0.25
    for first_order in (True, False):
        ours = _ours(
            net,
            batches,
            alpha=0.0,
            steps=1,
            lam=lam,
            first_order=first_order,
            binary=True,
        )
        theta = {
            k: v.detach().clone().requires_grad_(True)
            for k, v in net.named_parameters()
        }
        total = (
            sum(
                _ref_loss(theta, x_out[k], y_out[k], w_out[k], True)
                + lam * _ref_loss(theta, x_in[k], y_in[k], w_in[k], True)
                for k in range(K)
            )
            / K
        )
        expected = dict(zip(theta, torch.autograd.grad(total, list(theta.values()))))
        for name in expected:
            torch.testing.assert_close(
                ours[name], expected[name], rtol=1e-9, atol=1e-11
            )


@pytest.mark.parametrize("path", PATHS)
def test_reported_losses_are_task_means(path):
    net = _net(3, path)
    batches = _batches(False, 3, False)
    engine = make_engine(net, False)
    params = {k: v.detach() for k, v in net.named_parameters()}
    for first_order in (True, False):
        _, l_out, l_in = engine.meta_grad(
            params,
            {},
            batches,
            first_order=first_order,
            inner_lr=0.0,
            inner_steps=1,
            inner_loss_weight=0.0,
        )
        x_in, y_in, w_in, x_out, y_out, w_out = batches
        exp_in = (
            sum(_ref_loss(params, x_in[k], y_in[k], w_in[k], False) for k in range(K))
            / K
        )
        exp_out = (
            sum(
                _ref_loss(params, x_out[k], y_out[k], w_out[k], False) for k in range(K)
            )
            / K
        )
        torch.testing.assert_close(l_in, exp_in)
        torch.testing.assert_close(l_out, exp_out)


def test_weighted_loss_weights_rows():
    logits = torch.tensor([[2.0], [-1.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 1.0], dtype=torch.float64)
    w = torch.tensor([0.0, 2.0], dtype=torch.float64)
    expected = 2.0 * nn.functional.softplus(torch.tensor(1.0, dtype=torch.float64)) / 2
    torch.testing.assert_close(weighted_loss(logits, y, w, True), expected)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("binary,n_classes", [(True, 2), (False, 3)])
def test_plain_grad_matches_autograd(path, binary, n_classes):
    net = _net(1 if binary else n_classes, path)
    x_in, y_in, w_in, _, _, _ = _batches(binary, n_classes, True)
    x, y, w = x_in[0], y_in[0], w_in[0]
    params = {k: v.detach() for k, v in net.named_parameters()}
    grads, loss = make_engine(net, binary).plain_grad(params, {}, x, y, w)
    theta = {
        k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()
    }
    ref_loss = _ref_loss(theta, x, y, w, binary)
    ref = dict(zip(theta, torch.autograd.grad(ref_loss, list(theta.values()))))
    torch.testing.assert_close(loss, ref_loss.detach())
    for name in ref:
        torch.testing.assert_close(grads[name], ref[name], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("first_order", [True, False])
def test_task_chunks_give_the_same_gradient(monkeypatch, path, first_order):
    import skmetabalance._meta as meta_mod

    net = _net(3, path)
    batches = _batches(False, 3, True)
    kw = dict(alpha=0.2, steps=1, lam=0.05, first_order=first_order, binary=False)
    whole = _ours(net, batches, **kw)
    # a tiny element budget forces one task per chunk
    monkeypatch.setattr(meta_mod, "_TASK_CHUNK_ELEMENTS", 1)
    assert (
        meta_mod._task_chunks({k: v for k, v in net.named_parameters()}, batches, 1)
        is not None
    )
    chunked = _ours(net, batches, **kw)
    for name in whole:
        torch.testing.assert_close(chunked[name], whole[name], rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------- ensemble members
M = 3


def _member_nets(n_outputs, path):
    """``M`` networks of the same shape with different weights."""
    nets = []
    for m in range(M):
        torch.manual_seed(10 + m)
        cls = nn.Sequential if path == "batched" else _GenericSequential
        nets.append(cls(nn.Linear(D, 6), nn.Tanh(), nn.Linear(6, n_outputs)).double())
    return nets


def _member_batches(binary, n_classes):
    per_member = [_batches(binary, n_classes, True) for _ in range(M)]
    # different rows for every member
    per_member = [
        tuple(t.roll(m, dims=1) if t.dim() > 1 else t for t in b)
        for m, b in enumerate(per_member)
    ]
    return per_member, tuple(torch.stack(ts) for ts in zip(*per_member))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("binary,n_classes", [(True, 2), (False, 3)])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("first_order", [True, False])
def test_member_meta_grads_equal_separate_networks(
    path, binary, n_classes, steps, first_order
):
    nets = _member_nets(1 if binary else n_classes, path)
    per_member, stacked_batches = _member_batches(binary, n_classes)
    kw = dict(
        first_order=first_order, inner_lr=0.3, inner_steps=steps, inner_loss_weight=0.1
    )
    engine = make_engine(nets[0], binary)
    names = [k for k, _ in nets[0].named_parameters()]
    stacked = {
        k: torch.stack([dict(n.named_parameters())[k].detach() for n in nets])
        for k in names
    }
    grads, l_out, l_in = engine.meta_grad(stacked, {}, stacked_batches, members=M, **kw)
    assert l_out.shape == (M,) and l_in.shape == (M,)
    for m, net in enumerate(nets):
        params = {k: v.detach() for k, v in net.named_parameters()}
        ref, ref_out, ref_in = engine.meta_grad(params, {}, per_member[m], **kw)
        for k in names:
            torch.testing.assert_close(grads[k][m], ref[k], rtol=1e-9, atol=1e-11)
        torch.testing.assert_close(l_out[m], ref_out)
        torch.testing.assert_close(l_in[m], ref_in)
        # and both agree with the hand-unrolled reference
        unrolled = _reference(
            net,
            per_member[m],
            alpha=0.3,
            steps=steps,
            lam=0.1,
            first_order=first_order,
            binary=binary,
        )
        for k in names:
            torch.testing.assert_close(grads[k][m], unrolled[k], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("binary,n_classes", [(True, 2), (False, 3)])
def test_member_plain_grads_equal_separate_networks(path, binary, n_classes):
    nets = _member_nets(1 if binary else n_classes, path)
    per_member, stacked_batches = _member_batches(binary, n_classes)
    x, y, w = (t[:, 0] for t in stacked_batches[:3])
    engine = make_engine(nets[0], binary)
    names = [k for k, _ in nets[0].named_parameters()]
    stacked = {
        k: torch.stack([dict(n.named_parameters())[k].detach() for n in nets])
        for k in names
    }
    grads, loss = engine.plain_grad(stacked, {}, x, y, w, members=M)
    assert loss.shape == (M,)
    for m, net in enumerate(nets):
        params = {k: v.detach() for k, v in net.named_parameters()}
        ref, ref_loss = engine.plain_grad(params, {}, x[m], y[m], w[m])
        torch.testing.assert_close(loss[m], ref_loss)
        for k in names:
            torch.testing.assert_close(grads[k][m], ref[k], rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("path", PATHS)
def test_member_task_chunks_give_the_same_gradient(monkeypatch, path):
    import skmetabalance._meta as meta_mod

    nets = _member_nets(3, path)
    _, stacked_batches = _member_batches(False, 3)
    engine = make_engine(nets[0], False)
    stacked = {
        k: torch.stack([dict(n.named_parameters())[k].detach() for n in nets])
        for k, _ in nets[0].named_parameters()
    }
    kw = dict(first_order=True, inner_lr=0.2, inner_steps=1, inner_loss_weight=0.05)
    whole = engine.meta_grad(stacked, {}, stacked_batches, members=M, **kw)
    monkeypatch.setattr(meta_mod, "_TASK_CHUNK_ELEMENTS", 1)
    chunked = engine.meta_grad(stacked, {}, stacked_batches, members=M, **kw)
    for k in whole[0]:
        torch.testing.assert_close(chunked[0][k], whole[0][k], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(chunked[1], whole[1])


def _wide_net(n_outputs, bias):
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Linear(D, 9, bias=bias),
        nn.ReLU(),
        nn.Linear(9, 9, bias=bias),
        nn.Tanh(),
        nn.Linear(9, n_outputs),
    ).double()


@pytest.mark.parametrize("binary,n_classes", [(True, 2), (False, 3)])
@pytest.mark.parametrize("members", [None, 2])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("loss", [None, "focal", "vs"])
def test_factored_look_ahead_equals_per_task_weights(
    monkeypatch, binary, n_classes, members, bias, loss
):
    """The first-order step that keeps adapted weights as factors computes
    what the per-task weights give, for single networks and members, any loss."""
    from skmetabalance import _fastpath
    from skmetabalance.losses import fit_loop_loss, make_loss

    net = _wide_net(1 if binary else n_classes, bias)
    engine = make_engine(net, binary)
    g = torch.Generator().manual_seed(5)
    lead = (K,) if members is None else (members, K)
    b_in = 2  # small enough for the 9 x 9 layer to be factored
    x_in = torch.randn(*lead, b_in, D, generator=g, dtype=torch.float64)
    x_out = torch.randn(*lead, B_OUT, D, generator=g, dtype=torch.float64)
    if binary:
        y_in = torch.randint(0, 2, (*lead, b_in), generator=g).double()
        y_out = torch.randint(0, 2, (*lead, B_OUT), generator=g).double()
    else:
        y_in = torch.randint(0, n_classes, (*lead, b_in), generator=g)
        y_out = torch.randint(0, n_classes, (*lead, B_OUT), generator=g)
    w_in = torch.rand(*lead, b_in, generator=g, dtype=torch.float64) + 0.5
    w_out = torch.rand(*lead, B_OUT, generator=g, dtype=torch.float64) + 0.5
    batches = (x_in, y_in, w_in, x_out, y_out, w_out)
    params = {k: v.detach() for k, v in net.named_parameters()}
    if members is not None:
        params = {
            k: torch.stack([v + 0.1 * torch.randn_like(v) for _ in range(members)])
            for k, v in params.items()
        }
    terms = (None, None)
    if loss is not None:
        counts = torch.tensor([[30.0] + [5.0] * (n_classes - 1)], dtype=torch.float64)
        fitted = fit_loop_loss(
            make_loss(loss),
            counts,
            np.arange(n_classes),
            binary,
            10,
            torch.device("cpu"),
            "outer_loss",
            dtype=torch.float64,
        )
        fitted.start_epoch(fitted.switch or 0)
        t = fitted.terms(None if members is None else list(range(members)))
        terms = (t, t)
    kw = dict(
        members=members,
        first_order=True,
        inner_lr=0.3,
        inner_steps=1,
        inner_loss_weight=0.2,
        losses=terms,
    )
    monkeypatch.setattr(_fastpath, "_FACTOR_ELEMENTS", 0)
    assert engine._use_factors(params, batches)
    factored = engine.meta_grad(params, {}, batches, **kw)
    monkeypatch.setattr(engine, "one_step_factored", False)
    assert not engine._use_factors(params, batches)
    per_task = engine.meta_grad(params, {}, batches, **kw)
    assert set(factored[0]) == set(per_task[0])
    for name, value in per_task[0].items():
        torch.testing.assert_close(factored[0][name], value, rtol=1e-9, atol=1e-12)
    for ours, ref in zip(factored[1:], per_task[1:]):
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-12)
