"""Loss-side balancing: formulas, gradients, both engines, statistics per loop."""

import math
import pickle

import numpy as np
import pytest
import torch
from imblearn.over_sampling import RandomOverSampler
from sklearn.base import clone
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GridSearchCV
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._fastpath import StackEngine, make_engine
from skmetabalance._meta import FuncEngine
from skmetabalance.losses import (
    LOSS_ALIASES,
    CrossEntropy,
    EffectiveNumber,
    FocalLoss,
    LDAMLoss,
    LogitAdjustedLoss,
    VSLoss,
    fit_loop_loss,
    loss_rows,
    make_loss,
)

F = nn.functional
COUNTS = {2: np.array([40.0, 7.0]), 4: np.array([50.0, 20.0, 9.0, 3.0])}

# Every kind of term: additive, margins, multiplicative, focal (gamma above and
# below 1), weights of each form and their combinations.
LOSSES = [
    CrossEntropy(),
    CrossEntropy(class_weight="balanced"),
    CrossEntropy(class_weight=EffectiveNumber(0.9)),
    FocalLoss(gamma=2.0),
    FocalLoss(gamma=0.5, class_weight="balanced"),
    LogitAdjustedLoss(tau=1.0),
    LogitAdjustedLoss(tau=0.5, class_weight="balanced"),
    LDAMLoss(max_margin=0.5, scale=2.0),
    LDAMLoss(class_weight=EffectiveNumber(0.99)),
    VSLoss(gamma=0.3, tau=1.0),
    VSLoss(gamma=0.2, tau=0.5, class_weight="balanced"),
]
IDS = [repr(loss) for loss in LOSSES]


# ----------------------------------------------------- the formulas, by hand
def _weights(loss, counts, n_classes):
    """Final normalised class weights (alpha and class_weight), by hand."""
    w = np.ones(n_classes)
    cw = loss.class_weight
    if cw == "balanced":
        w = counts.sum() / (n_classes * counts)
    elif isinstance(cw, EffectiveNumber):
        w = (1 - cw.beta) / (1 - cw.beta**counts)
    if isinstance(loss, FocalLoss) and loss.alpha is not None:
        w = w * np.array([1 - loss.alpha, loss.alpha])
    return w * counts.sum() / (w * counts).sum()


def _reference_rows(loss, z, y, counts):
    """Per-row loss written from the papers' formulas (no shared code)."""
    n_classes = counts.shape[0]
    prior = counts / counts.sum()
    w = torch.as_tensor(_weights(loss, counts, n_classes), dtype=z.dtype)
    if n_classes == 2:
        s = z[..., 0]
        yb = y
        if isinstance(loss, LogitAdjustedLoss):
            s = s + loss.tau * math.log(prior[1] / prior[0])
        elif isinstance(loss, LDAMLoss):
            m = counts**-0.25
            m = m * loss.max_margin / m.max()
            s = loss.scale * torch.where(yb > 0.5, s - m[1], s + m[0])
        elif isinstance(loss, VSLoss):
            a = (counts / counts.max()) ** loss.gamma
            s = torch.where(yb > 0.5, a[1] * s, a[0] * s) + loss.tau * math.log(
                prior[1] / prior[0]
            )
        p1 = torch.sigmoid(s)
        p_t = torch.where(yb > 0.5, p1, 1 - p1)
        rows = -torch.log(p_t)
        if isinstance(loss, FocalLoss):
            rows = (1 - p_t) ** loss.gamma * rows
        return rows * torch.where(yb > 0.5, w[1], w[0])
    onehot = F.one_hot(y, n_classes).to(z.dtype)
    zt = z
    if isinstance(loss, LogitAdjustedLoss):
        zt = z + loss.tau * torch.as_tensor(np.log(prior), dtype=z.dtype)
    elif isinstance(loss, LDAMLoss):
        m = counts**-0.25
        m = torch.as_tensor(m * loss.max_margin / m.max(), dtype=z.dtype)
        zt = loss.scale * (z - onehot * m)
    elif isinstance(loss, VSLoss):
        a = torch.as_tensor((counts / counts.max()) ** loss.gamma, dtype=z.dtype)
        zt = a * z + loss.tau * torch.as_tensor(np.log(prior), dtype=z.dtype)
    p_t = (torch.softmax(zt, -1) * onehot).sum(-1)
    rows = -torch.log(p_t)
    if isinstance(loss, FocalLoss):
        rows = (1 - p_t) ** loss.gamma * rows
    return rows * w[y]


def _terms(loss, counts, dtype=torch.float64):
    n_classes = counts.shape[0]
    classes = np.arange(n_classes)
    loss._check_params(classes, n_classes == 2)
    fitted = fit_loop_loss(
        loss,
        counts[None],
        classes,
        n_classes == 2,
        10,
        torch.device("cpu"),
        "outer_loss",
        dtype=dtype,
    )
    fitted.start_epoch(fitted.switch or 0)
    return fitted.terms(None)


def _logits(n_classes, shape=(3, 5)):
    g = torch.Generator().manual_seed(3)
    z = 2 * torch.randn(*shape, 1 if n_classes == 2 else n_classes, generator=g)
    z = z.double().requires_grad_(True)
    if n_classes == 2:
        y = torch.randint(0, 2, shape, generator=g).double()
    else:
        y = torch.randint(0, n_classes, shape, generator=g)
    return z, y


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("loss", LOSSES, ids=IDS)
def test_rows_match_the_papers_formulas_and_gradients(loss, n_classes):
    counts = COUNTS[n_classes]
    z, y = _logits(n_classes)
    rows, dz = loss_rows(z, y, _terms(loss, counts), n_classes == 2)
    ref = _reference_rows(loss, z, y, counts)
    torch.testing.assert_close(rows, ref, rtol=1e-10, atol=1e-12)
    (ref_dz,) = torch.autograd.grad(ref.sum(), z)
    torch.testing.assert_close(dz, ref_dz, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 4])
def test_focal_gradient_is_finite_where_the_true_class_is_certain(n_classes):
    # gamma < 1 makes (1 - p_t) ** (gamma - 1) blow up as p_t -> 1.
    counts = COUNTS[n_classes]
    z, y = _logits(n_classes)
    z = (z.detach() * 0).requires_grad_(True)
    with torch.no_grad():
        if n_classes == 2:
            z[..., 0] = torch.where(y > 0.5, 60.0, -60.0)
        else:
            z.scatter_(-1, y.unsqueeze(-1), 60.0)
    terms = _terms(FocalLoss(gamma=0.5), counts)
    rows, dz = loss_rows(z, y, terms, n_classes == 2)
    assert torch.isfinite(rows).all() and torch.isfinite(dz).all()
    (second,) = torch.autograd.grad(dz.sum(), z)
    assert torch.isfinite(second).all()


def test_equivalences():
    counts = COUNTS[4]
    z, y = _logits(4)
    ce, _ = loss_rows(z, y, None, False)
    for same in (
        FocalLoss(gamma=0.0),
        LogitAdjustedLoss(tau=0.0),
        LDAMLoss(max_margin=0.0),
        VSLoss(gamma=0.0, tau=0.0),
        CrossEntropy(class_weight=EffectiveNumber(beta=0.0)),
    ):
        torch.testing.assert_close(loss_rows(z, y, _terms(same, counts), False)[0], ce)
    # balanced softmax is logit adjustment at tau = 1; VS without its
    # multiplicative term is logit adjustment
    la = loss_rows(z, y, _terms(LogitAdjustedLoss(tau=1.0), counts), False)[0]
    bs = loss_rows(z, y, _terms(make_loss("balanced_softmax"), counts), False)[0]
    vs = loss_rows(z, y, _terms(VSLoss(gamma=0.0, tau=1.0), counts), False)[0]
    torch.testing.assert_close(la, bs)
    torch.testing.assert_close(la, vs)
    # logit adjustment on a balanced set is cross-entropy
    flat = np.full(4, 12.0)
    torch.testing.assert_close(
        loss_rows(z, y, _terms(LogitAdjustedLoss(), flat), False)[0], ce
    )
    # effective-number weights approach inverse frequencies as beta -> 1
    cb = _terms(CrossEntropy(class_weight=EffectiveNumber(1 - 1e-9)), counts)
    bal = _terms(CrossEntropy(class_weight="balanced"), counts)
    torch.testing.assert_close(cb.tables["w"], bal.tables["w"], rtol=1e-5, atol=0)


def test_class_weights_have_mean_one_over_the_set():
    counts = COUNTS[4]
    for loss in (
        CrossEntropy(class_weight="balanced"),
        CrossEntropy(class_weight={0: 1.0, 3: 10.0}),
        FocalLoss(alpha={1: 4.0}),
        CrossEntropy(class_weight=EffectiveNumber(0.99)),
    ):
        w = _terms(loss, counts).tables["w"].numpy()
        assert (w * counts).sum() == pytest.approx(counts.sum())


def test_every_alias_builds_its_loss():
    for name in LOSS_ALIASES:
        assert make_loss(name).get_params() is not None
    assert make_loss("balanced_softmax").tau == 1.0
    drw = make_loss("ldam_drw")
    assert isinstance(drw, LDAMLoss) and drw.defer_weights == 0.8
    assert isinstance(drw.class_weight, EffectiveNumber)


def test_deferred_weights_switch_on_at_their_epoch():
    counts = COUNTS[2][None]
    loss = CrossEntropy(class_weight="balanced", defer_weights=0.5)
    fitted = fit_loop_loss(
        loss, counts, np.arange(2), True, 10, torch.device("cpu"), "loss"
    )
    assert fitted.switch == 6
    torch.testing.assert_close(fitted.terms(None).tables["w"], torch.ones(2))
    assert not fitted.start_epoch(5)
    assert fitted.start_epoch(6)
    w = fitted.terms(None).tables["w"].numpy()
    assert w[1] / w[0] == pytest.approx(40 / 7, rel=1e-5)


# ------------------------------------------- the meta-gradient, both engines
K, B_IN, B_OUT, D, M = 3, 5, 4, 4, 2


class _GenericSequential(nn.Sequential):
    def forward(self, x):
        return super().forward(x)


def _nets(n_outputs, path, n=1):
    nets = []
    for m in range(n):
        torch.manual_seed(20 + m)
        cls = nn.Sequential if path == "batched" else _GenericSequential
        nets.append(cls(nn.Linear(D, 6), nn.Tanh(), nn.Linear(6, n_outputs)).double())
    engine = make_engine(nets[0], n_outputs == 1)
    assert isinstance(engine, StackEngine if path == "batched" else FuncEngine)
    return nets, engine


def _batches(n_classes, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in (B_IN, B_OUT):
        x = torch.randn(K, b, D, generator=g, dtype=torch.float64)
        if n_classes == 2:
            y = torch.randint(0, 2, (K, b), generator=g).double()
        else:
            y = torch.randint(0, n_classes, (K, b), generator=g)
        w = torch.rand(K, b, generator=g, dtype=torch.float64) + 0.5
        out += [x, y, w]
    return tuple(out)


def _unrolled(net, batches, loss_in, loss_out, counts_in, counts_out, first_order):
    """Per-task loop with autograd on the papers' formulas."""
    theta = {
        k: v.detach().clone().requires_grad_(True) for k, v in net.named_parameters()
    }
    x_in, y_in, w_in, x_out, y_out, w_out = batches
    fn = torch.func.functional_call

    def loss(p, x, y, w, spec, counts):
        return (_reference_rows(spec, fn(net, p, (x,)), y, counts) * w).mean()

    total = 0.0
    for k in range(K):
        l_in = loss(theta, x_in[k], y_in[k], w_in[k], loss_in, counts_in)
        grads = torch.autograd.grad(
            l_in, list(theta.values()), create_graph=not first_order, retain_graph=True
        )
        phi = {n: theta[n] - 0.3 * g for n, g in zip(theta, grads)}
        l_out = loss(phi, x_out[k], y_out[k], w_out[k], loss_out, counts_out)
        total = total + l_out + 0.1 * l_in
    grads = torch.autograd.grad(total / K, list(theta.values()))
    return dict(zip(theta, grads))


PAIRS = [
    (CrossEntropy(), LogitAdjustedLoss(tau=1.0)),
    (LogitAdjustedLoss(tau=0.7), CrossEntropy(class_weight="balanced")),
    (FocalLoss(gamma=2.0), LDAMLoss(max_margin=0.5, scale=2.0)),
    (VSLoss(gamma=0.3, tau=1.0), FocalLoss(gamma=0.5, class_weight="balanced")),
]


@pytest.mark.parametrize("path", ["batched", "vmap"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("first_order", [True, False])
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[0]!r}/{p[1]!r}")
def test_meta_grad_with_losses_matches_unrolled_reference(
    path, n_classes, first_order, pair
):
    counts_in = np.array([30.0, 6.0, 2.0])[:n_classes]
    counts_out = np.array([10.0, 9.0, 8.0])[:n_classes]
    loss_in, loss_out = pair
    (net,), engine = _nets(1 if n_classes == 2 else n_classes, path)
    batches = _batches(n_classes, 1)
    params = {k: v.detach() for k, v in net.named_parameters()}
    grads, _, _ = engine.meta_grad(
        params,
        {},
        batches,
        first_order=first_order,
        inner_lr=0.3,
        inner_steps=1,
        inner_loss_weight=0.1,
        losses=(_terms(loss_in, counts_in), _terms(loss_out, counts_out)),
    )
    ref = _unrolled(net, batches, loss_in, loss_out, counts_in, counts_out, first_order)
    for k in ref:
        torch.testing.assert_close(grads[k], ref[k], rtol=1e-9, atol=1e-11)


def _member_terms(loss, counts_rows):
    n_classes = counts_rows.shape[1]
    classes = np.arange(n_classes)
    fitted = fit_loop_loss(
        loss,
        counts_rows,
        classes,
        n_classes == 2,
        10,
        torch.device("cpu"),
        "outer_loss",
        dtype=torch.float64,
    )
    return fitted.terms(list(range(counts_rows.shape[0])))


@pytest.mark.parametrize("path", ["batched", "vmap"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("first_order", [True, False])
def test_members_with_their_own_statistics_equal_separate_networks(
    path, n_classes, first_order
):
    # Members whose sets differ have their own class tables.
    counts = np.array([[30.0, 6.0, 2.0], [20.0, 9.0, 4.0]])[:, :n_classes]
    loss_in, loss_out = VSLoss(gamma=0.3), LDAMLoss(class_weight="balanced")
    nets, engine = _nets(1 if n_classes == 2 else n_classes, path, n=M)
    per_member = [_batches(n_classes, 5 + m) for m in range(M)]
    stacked_batches = tuple(torch.stack(ts) for ts in zip(*per_member))
    names = [k for k, _ in nets[0].named_parameters()]
    stacked = {
        k: torch.stack([dict(n.named_parameters())[k].detach() for n in nets])
        for k in names
    }
    kw = dict(
        first_order=first_order, inner_lr=0.3, inner_steps=1, inner_loss_weight=0.1
    )
    grads, _, _ = engine.meta_grad(
        stacked,
        {},
        stacked_batches,
        members=M,
        losses=(_member_terms(loss_in, counts), _member_terms(loss_out, counts)),
        **kw,
    )
    plain, plain_loss = engine.plain_grad(
        stacked,
        {},
        *(t[:, 0] for t in stacked_batches[3:]),
        members=M,
        loss=_member_terms(loss_out, counts),
    )
    for m, net in enumerate(nets):
        ref = _unrolled(
            net, per_member[m], loss_in, loss_out, counts[m], counts[m], first_order
        )
        for k in names:
            torch.testing.assert_close(grads[k][m], ref[k], rtol=1e-9, atol=1e-11)
        p = {
            k: v.detach().clone().requires_grad_(True)
            for k, v in net.named_parameters()
        }
        x, y, w = (t[0] for t in per_member[m][3:])
        value = (
            _reference_rows(
                loss_out, torch.func.functional_call(net, p, (x,)), y, counts[m]
            )
            * w
        ).mean()
        ref_plain = torch.autograd.grad(value, list(p.values()))
        torch.testing.assert_close(plain_loss[m], value.detach())
        for k, g in zip(p, ref_plain):
            torch.testing.assert_close(plain[k][m], g, rtol=1e-9, atol=1e-11)


# --------------------------------------------------------------- estimators
def _small(cls, **kw):
    base = dict(
        hidden_layer_sizes=(8,),
        max_iter=3,
        random_state=0,
        device="cpu",
        n_estimators=1,
    )
    base.update(kw)
    return cls(**base)


def _flat(n_features, n_outputs):
    return nn.Sequential(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_outputs))


class _FlatGeneric(nn.Sequential):
    def forward(self, x):
        return super().forward(x)


def _flat_generic(n_features, n_outputs):
    return _FlatGeneric(nn.Linear(n_features, 8), nn.ReLU(), nn.Linear(8, n_outputs))


@pytest.mark.parametrize(
    "cls,kw",
    [
        (
            MetaBalanceClassifier,
            dict(inner_loss=VSLoss(), outer_loss="focal", first_order=True),
        ),
        (
            MetaBalanceClassifier,
            dict(inner_loss="logit_adjusted", outer_loss="ldam_drw", first_order=False),
        ),
        (BalancedNetClassifier, dict(loss="ldam_drw")),
        (BalancedNetClassifier, dict(loss=FocalLoss(alpha={1: 3.0}))),
    ],
    ids=["meta-first", "meta-second", "plain-drw", "plain-focal"],
)
@pytest.mark.parametrize("n_estimators", [1, 2])
def test_both_engines_give_the_same_probabilities(
    binary_data, multiclass_data, cls, kw, n_estimators
):
    for X, y in (binary_data, multiclass_data):
        if (
            kw.get("loss") is not None
            and isinstance(kw["loss"], FocalLoss)
            and len(np.unique(y)) > 2
        ):
            kw = dict(loss=FocalLoss(alpha={1: 3.0, 2: 2.0}))
        common = dict(n_estimators=n_estimators, max_iter=4, **kw)
        batched = _small(cls, module=_flat, **common).fit(X, y)
        generic = _small(cls, module=_flat_generic, **common).fit(X, y)
        np.testing.assert_allclose(
            batched.predict_proba(X), generic.predict_proba(X), rtol=2e-4, atol=2e-5
        )


def test_statistics_come_from_the_set_each_loop_sees(binary_data):
    X, y = binary_data
    natural = np.bincount(y).astype(float)
    clf = _small(
        MetaBalanceClassifier,
        early_stopping=False,
        inner_loss="logit_adjusted",
        outer_loss="logit_adjusted",
    ).fit(X, y)
    np.testing.assert_allclose(clf.class_counts_["inner"], natural)
    assert clf.class_counts_["outer"][0] == clf.class_counts_["outer"][1]
    assert isinstance(clf.inner_loss_, LogitAdjustedLoss)
    # sample weights count
    w = np.where(y == 1, 2.0, 1.0)
    clf_w = clone(clf).fit(X, y, sample_weight=w)
    expected = np.bincount(y, weights=w / w.mean())
    np.testing.assert_allclose(clf_w.class_counts_["inner"], expected)


def test_logit_adjustment_on_a_balanced_outer_set_is_a_no_op(binary_data):
    X, y = binary_data
    kw = dict(outer_sampler=RandomOverSampler(), early_stopping=False)
    plain = _small(MetaBalanceClassifier, **kw).fit(X, y)
    la_out = _small(MetaBalanceClassifier, outer_loss="logit_adjusted", **kw).fit(X, y)
    np.testing.assert_allclose(
        plain.predict_proba(X), la_out.predict_proba(X), atol=1e-6
    )
    # on the natural inner set it is not
    la_in = _small(MetaBalanceClassifier, inner_loss="logit_adjusted", **kw).fit(X, y)
    assert np.abs(plain.predict_proba(X) - la_in.predict_proba(X)).max() > 1e-3


def test_balanced_weights_on_a_balanced_set_change_nothing(multiclass_data):
    X, y = multiclass_data
    kw = dict(sampler="over", early_stopping=False)
    plain = _small(BalancedNetClassifier, **kw).fit(X, y)
    weighted = _small(
        BalancedNetClassifier, loss=CrossEntropy(class_weight="balanced"), **kw
    ).fit(X, y)
    np.testing.assert_allclose(
        plain.predict_proba(X), weighted.predict_proba(X), atol=1e-6
    )


def test_loss_class_weight_equals_the_estimators_class_weight(binary_data):
    X, y = binary_data
    a = _small(BalancedNetClassifier, class_weight="balanced").fit(X, y)
    b = _small(BalancedNetClassifier, loss=CrossEntropy(class_weight="balanced")).fit(
        X, y
    )
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)


def test_grid_search_reaches_loss_parameters(binary_data):
    X, y = binary_data
    clf = _small(MetaBalanceClassifier, outer_loss=LogitAdjustedLoss(), max_iter=2)
    assert "outer_loss__tau" in clf.get_params()
    search = GridSearchCV(
        clf,
        {"outer_loss__tau": [0.5, 2.0], "inner_loss": ["ce", "focal"]},
        cv=2,
        scoring="average_precision",
    ).fit(X, y)
    assert search.best_estimator_.outer_loss.tau in (0.5, 2.0)
    # the estimator's own loss object is never modified by fit
    assert clf.outer_loss.tau == 1.0
    assert search.best_estimator_.outer_loss_ is not search.best_estimator_.outer_loss


def test_deferred_weights_hold_early_stopping_until_they_switch(binary_data):
    X, y = binary_data
    kw = dict(early_stopping=True, n_iter_no_change=1, max_iter=30)
    now = CrossEntropy(class_weight="balanced")
    early = _small(BalancedNetClassifier, loss=now, **kw).fit(X, y)
    assert early.n_iter_ < 8
    later = CrossEntropy(class_weight="balanced", defer_weights=8)
    clf = _small(BalancedNetClassifier, loss=later, **kw).fit(X, y)
    # no member stops before the weights switch on at epoch 8
    assert clf.n_iter_ >= 8


@pytest.mark.parametrize("cls", [MetaBalanceClassifier, BalancedNetClassifier])
def test_prior_correction_keeps_the_ranking_and_moves_the_probabilities(
    binary_data, cls
):
    X, y = binary_data
    kw = (
        dict(outer_sampler="over")
        if cls is MetaBalanceClassifier
        else dict(sampler="over")
    )
    clf = _small(cls, max_iter=8, **kw).fit(X, y)
    corrected = clone(clf).set_params(prior_correction=True).fit(X, y)
    p, q = clf.predict_proba(X)[:, 1], corrected.predict_proba(X)[:, 1]
    assert average_precision_score(y, p) == pytest.approx(average_precision_score(y, q))
    assert roc_auc_score(y, p) == pytest.approx(roc_auc_score(y, q))
    # trained toward a balanced set, the network over-states the minority
    assert p.mean() > q.mean()
    assert abs(q.mean() - y.mean()) < abs(p.mean() - y.mean())
    np.testing.assert_allclose(corrected.class_prior_, np.bincount(y) / y.size)
    # the correction is the prior shift of the logits
    shift = np.log(corrected.class_prior_) - np.log(corrected.trained_prior_)
    np.testing.assert_allclose(
        corrected.decision_function(X), clf.decision_function(X) + shift[1] - shift[0]
    )


def test_prior_correction_of_a_plain_network_is_a_no_op(multiclass_data):
    X, y = multiclass_data
    kw = dict(early_stopping=False)
    clf = _small(BalancedNetClassifier, prior_correction=True, **kw).fit(X, y)
    np.testing.assert_allclose(clf.trained_prior_, clf.class_prior_)
    la = _small(BalancedNetClassifier, loss="logit_adjusted", **kw).fit(X, y)
    np.testing.assert_allclose(la.trained_prior_, np.full(3, 1 / 3))


def test_fitted_losses_and_priors_survive_pickling_and_save_model(
    binary_data, tmp_path
):
    from skmetabalance import load_model, save_model

    X, y = binary_data
    clf = _small(
        MetaBalanceClassifier, inner_loss="vs", prior_correction=True, n_estimators=2
    ).fit(X, y)
    back = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_allclose(back.class_counts_["inner"], clf.class_counts_["inner"])
    assert isinstance(back.inner_loss_, VSLoss)
    path = tmp_path / "model"
    save_model(clf, path)
    loaded = load_model(path)
    np.testing.assert_allclose(loaded.trained_prior_, clf.trained_prior_)
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X))


def test_per_member_statistics(binary_data):
    X, y = binary_data
    clf = _small(
        MetaBalanceClassifier,
        n_estimators=3,
        early_stopping=True,
        validation_split="per_member",
        inner_loss="logit_adjusted",
    ).fit(X, y)
    counts = clf.class_counts_["inner"]
    assert isinstance(counts, list) and len(counts) == 3
    for m, held in enumerate(clf.validation_indices_):
        keep = np.setdiff1d(np.arange(y.size), held)
        np.testing.assert_allclose(counts[m], np.bincount(y[keep]))


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(outer_loss="hinge"), r"'outer_loss' parameter .* must be a str among"),
        (dict(inner_loss=object()), r"'inner_loss' parameter .* instance of"),
        (
            dict(outer_loss=CrossEntropy(class_weight={7: 2.0})),
            r"'outer_loss'.*'class_weight' parameter of CrossEntropy has a key 7",
        ),
        (dict(inner_loss=FocalLoss(gamma=-1.0)), r"'gamma' parameter of FocalLoss.*-1"),
        (
            dict(outer_loss=LogitAdjustedLoss(tau=float("inf"))),
            r"'tau' parameter of LogitAdjustedLoss must be a finite number",
        ),
        (
            dict(outer_loss=CrossEntropy(class_weight=EffectiveNumber(1.0))),
            r"'beta' parameter of EffectiveNumber must be a finite number in \[0.0, 1.0\)",
        ),
        (
            dict(outer_loss=CrossEntropy(class_weight=EffectiveNumber(-0.1))),
            r"'beta' parameter",
        ),
        (dict(outer_loss=CrossEntropy(defer_weights=3)), r"defer_weights.*None"),
        (
            dict(outer_loss=CrossEntropy(class_weight="balanced", defer_weights=0)),
            r"'defer_weights'.*an int >= 1",
        ),
        (dict(outer_loss=LDAMLoss(scale=0.0)), r"'scale' parameter of LDAMLoss"),
        (
            dict(outer_loss=CrossEntropy(class_weight="bal")),
            r"'class_weight' parameter",
        ),
        (dict(outer_loss=FocalLoss(alpha=1.5)), r"'alpha' parameter of FocalLoss"),
        (
            dict(outer_loss=CrossEntropy(class_weight="balanced", defer_weights=50)),
            r"defer_weights.*epoch 50.*max_iter=3",
        ),
    ],
)
def test_bad_losses_are_named_at_fit(binary_data, kw, match):
    X, y = binary_data
    clf = _small(MetaBalanceClassifier, **kw)
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")


def test_float_alpha_needs_two_classes(multiclass_data):
    X, y = multiclass_data
    with pytest.raises(ValueError, match=r"'loss'.*alpha=0.25 for 3 classes"):
        _small(BalancedNetClassifier, loss=FocalLoss(alpha=0.25)).fit(X, y)


def test_two_class_weights_are_refused(binary_data):
    X, y = binary_data
    clf = _small(
        BalancedNetClassifier,
        class_weight="balanced",
        loss=CrossEntropy(class_weight="balanced"),
    )
    with pytest.raises(ValueError, match="class_weight and the class_weight of 'loss'"):
        clf.fit(X, y)


def test_a_loop_without_a_class_is_named(multiclass_data):
    from imblearn.under_sampling import RandomUnderSampler

    X, y = multiclass_data
    # the inner sampler drops class 2 entirely
    sampler = RandomUnderSampler(sampling_strategy={0: 30, 1: 30, 2: 0})
    clf = _small(
        MetaBalanceClassifier, inner_sampler=sampler, inner_loss="logit_adjusted"
    )
    with pytest.raises(ValueError, match=r"inner_loss=.*no rows of class 2"):
        clf.fit(X, y)
    assert not hasattr(clf, "module_")
    # plain cross-entropy needs no counts
    _small(MetaBalanceClassifier, inner_sampler=sampler).fit(X, y)
