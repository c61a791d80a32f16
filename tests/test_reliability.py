"""Guarantees under trouble: sampler failures, divergence, interruption,
mutation of inputs, global state and determinism.

Every case here is listed in docs/errors.rst; keep the two in step.
"""

import copy
import os
import random
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from torch import nn

import skmetabalance._training as training
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._modules import MLP

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0, device="cpu")


def meta(**kw):
    return MetaBalanceClassifier(
        **{**FAST, "tasks_per_step": 2, "outer_batch_size": 16, "n_estimators": 1, **kw}
    )


def plain(**kw):
    return BalancedNetClassifier(**{**FAST, "batch_size": 32, "n_estimators": 1, **kw})


MAKERS = {"meta": meta, "plain": plain}


@pytest.fixture(params=list(MAKERS))
def make(request):
    return MAKERS[request.param]


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(120, 5)
    y = (X[:, 0] + 0.5 * rng.randn(120) > 0.8).astype(int)
    return X, y


@pytest.fixture
def data3():
    rng = np.random.RandomState(1)
    X = rng.randn(120, 5)
    y = np.digitize(X[:, 0] + 0.3 * rng.randn(120), [-0.4, 0.6])
    return X, y


def _well_formed(clf, X):
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], len(clf.classes_))
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    assert not np.any(np.isnan(clf.predict_log_proba(X)))
    assert np.all(np.isin(clf.predict(X), clf.classes_))
    return proba


def _param_copy(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ------------------------------------------------------------ sampler trouble
class Raises:
    def fit_resample(self, X, y):
        raise RuntimeError("resampling exploded")


class ReturnsEmpty:
    def fit_resample(self, X, y):
        return X[:0], y[:0]


class ReturnsOneClass:
    def fit_resample(self, X, y):
        return X[y == 0], y[y == 0]


class ReturnsNaN:
    def fit_resample(self, X, y):
        X = X.copy()
        X[0, 0] = np.nan
        return X, y


class ReturnsNewLabels:
    def fit_resample(self, X, y):
        return X, np.where(y == 0, 0, 9)


class ReturnsStrings:
    def fit_resample(self, X, y):
        return np.full(X.shape, "x", dtype=object), y


class ReturnsOtherWidth:
    def fit_resample(self, X, y):
        return X[:, :2], y


SAMPLER_TROUBLE = [
    (
        SMOTE(),
        r"failed on 60 training rows with class counts \{0: 57, 1: 3\}.*n_neighbors.*lower k_neighbors",
    ),
    (Raises(), r"failed on .*RuntimeError: resampling exploded"),
    (ReturnsEmpty(), r"ReturnsEmpty returned an unusable set: X of shape \(0, 4\)"),
    (
        ReturnsOneClass(),
        r"ReturnsOneClass returned rows of a single class \(\{0: 57\}\)",
    ),
    (ReturnsNaN(), r"ReturnsNaN returned non-finite feature values"),
    (
        ReturnsNewLabels(),
        r"ReturnsNewLabels returned labels that were not among the labels it was given",
    ),
    (
        ReturnsStrings(),
        r"ReturnsStrings returned features of dtype object that cannot be read as numbers",
    ),
    (
        ReturnsOtherWidth(),
        r"ReturnsOtherWidth changed the number of features from 4 to 2",
    ),
]


@pytest.fixture
def tiny_minority():
    X = np.random.RandomState(0).randn(60, 4)
    y = np.array([0] * 57 + [1] * 3)
    return X, y


@pytest.mark.parametrize(
    "sampler, match", SAMPLER_TROUBLE, ids=lambda v: type(v).__name__
)
@pytest.mark.parametrize("loop", ["inner", "outer"])
def test_sampler_trouble_names_loop_sampler_and_remedy(
    tiny_minority, sampler, match, loop
):
    X, y = tiny_minority
    other = "outer" if loop == "inner" else "inner"
    clf = meta(**{f"{loop}_sampler": sampler, f"{other}_sampler": None})
    with pytest.raises(
        ValueError, match=rf"^The {loop} sampler .*{match}.*'{loop}_sampler'"
    ):
        clf.fit(X, y)


@pytest.mark.parametrize("loop", ["inner", "outer"])
def test_sampler_exception_is_chained(tiny_minority, loop):
    X, y = tiny_minority
    other = "outer" if loop == "inner" else "inner"
    clf = meta(**{f"{loop}_sampler": Raises(), f"{other}_sampler": None})
    with pytest.raises(ValueError) as info:
        clf.fit(X, y)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert str(info.value.__cause__) == "resampling exploded"


@pytest.mark.parametrize(
    "sampler, match", SAMPLER_TROUBLE, ids=lambda v: type(v).__name__
)
def test_sampler_trouble_in_plain_estimator(tiny_minority, sampler, match):
    X, y = tiny_minority
    with pytest.raises(
        ValueError, match=rf"^The sampler .*{match}.*a different 'sampler'"
    ):
        plain(sampler=sampler).fit(X, y)


def test_smote_with_enough_neighbours_works(tiny_minority):
    X, y = tiny_minority
    clf = meta(outer_sampler=SMOTE(k_neighbors=2)).fit(X, y)
    _well_formed(clf, X)


def test_sampler_returning_lists_and_object_arrays_is_accepted(tiny_minority):
    class Lists:
        def fit_resample(self, X, y):
            return X.tolist(), y.tolist()

    class Objects:
        def fit_resample(self, X, y):
            return X.astype(object), y.astype(float)

    X, y = tiny_minority
    for sampler in (Lists(), Objects()):
        _well_formed(plain(sampler=sampler).fit(X, y), X)


def test_keyboard_interrupt_in_sampler_propagates_and_leaves_unfitted(tiny_minority):
    class Interrupts:
        def fit_resample(self, X, y):
            raise KeyboardInterrupt

    X, y = tiny_minority
    clf = plain(sampler=Interrupts())
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


# --------------------------------------------------------- numerical trouble
def _fit_recording_convergence_warnings(clf, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    return [w for w in caught if issubclass(w.category, ConvergenceWarning)]


def _kept_weights_are_finite(clf, X):
    assert clf.n_iter_ == len(clf.history_)
    assert all(np.isfinite(r["train_loss"]) for r in clf.history_)
    assert all(torch.isfinite(p).all() for p in clf.module_.parameters())
    # The kept weights had a finite loss on the training rows...
    assert np.all(np.isfinite(clf.decision_function(X)))
    # ...and the probabilities are well formed.
    _well_formed(clf, X)


# On these unit-scale features both estimators train without trouble at lr=0.1
# to 10 and diverge within three epochs from lr=100 on (measured over several
# seeds); 1e8 overflows in the first epoch.
@pytest.mark.parametrize("lr", [1e3, 1e5, 1e8])
@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
def test_divergent_learning_rate_stops_with_one_warning(
    make, data, data3, lr, multiclass
):
    X, y = data3 if multiclass else data
    clf = make(lr=lr, max_iter=6)
    conv = _fit_recording_convergence_warnings(clf, X, y)
    assert clf.stopped_reason_ == "non_finite"
    assert len(conv) == 1
    msg = str(conv[0].message)
    assert "became non-finite during epoch" in msg
    assert "'lr'" in msg
    assert clf.n_iter_ < 6
    _kept_weights_are_finite(clf, X)


@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
def test_moderate_learning_rate_trains_without_warning(make, data, data3, multiclass):
    X, y = data3 if multiclass else data
    clf = make(lr=0.1, max_iter=6)
    conv = _fit_recording_convergence_warnings(clf, X, y)
    assert clf.stopped_reason_ == "max_iter"
    assert conv == []
    assert clf.n_iter_ == 6
    _kept_weights_are_finite(clf, X)


def test_huge_learning_rate_diverges_and_warns_with_epoch(make, data):
    X, y = data
    with pytest.warns(
        ConvergenceWarning,
        match=r"non-finite during epoch \d+; training stopped.*'lr' is probably too large",
    ):
        clf = make(lr=1e30).fit(X, y)
    assert clf.stopped_reason_ == "non_finite"
    _well_formed(clf, X)


@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
def test_extreme_features_keep_initial_weights(make, data, data3, multiclass):
    X, y = data3 if multiclass else data
    X = X * 1e30
    initial = []

    def factory(n_features, n_outputs):
        module = MLP(n_features, n_outputs, (8,))
        initial.append(_param_copy(module))
        return module

    with pytest.warns(
        ConvergenceWarning,
        match=r"during epoch 1; .*initial weights were restored.*features are probably too large",
    ):
        clf = make(module=factory).fit(X, y)
    assert clf.stopped_reason_ == "non_finite"
    assert clf.n_iter_ == 0 and clf.history_ == []
    assert _same_weights(_param_copy(clf.module_), initial[0])
    _well_formed(clf, X)


# Scoring the validation rows at overflowing weights used to crash the fit with
# "Input contains NaN". At lr=1e2 and 1e4 at least one epoch completes before
# the loss overflows; at 1e8 the first step already overflows.
def _diverge_with_early_stopping(make, X, y, lr):
    with pytest.warns(ConvergenceWarning):
        clf = make(
            lr=lr, max_iter=6, early_stopping=True, validation_fraction=0.25
        ).fit(X, y)
    assert clf.stopped_reason_ == "non_finite"
    _well_formed(clf, X)
    return clf


@pytest.mark.parametrize("lr", [1e2, 1e4])
def test_divergence_with_early_stopping_keeps_the_best_epoch(make, data3, lr):
    X, y = data3
    clf = _diverge_with_early_stopping(make, X, y, lr)
    assert 1 <= clf.n_iter_ < 6
    assert 1 <= clf.best_epoch_ <= clf.n_iter_
    best = clf.history_[clf.best_epoch_ - 1]["valid_score"]
    assert (
        clf.best_validation_score_
        == best
        == max(r["valid_score"] for r in clf.history_)
    )


def test_divergence_in_the_first_epoch_with_early_stopping(make, data3):
    X, y = data3
    clf = _diverge_with_early_stopping(make, X, y, 1e8)
    assert clf.n_iter_ == 0 and clf.history_ == []
    assert clf.best_epoch_ is None


def test_warm_start_after_divergence_uses_the_new_learning_rate(make, data):
    X, y = data
    with pytest.warns(ConvergenceWarning):
        clf = make(lr=1e30, warm_start=True).fit(X, y)
    kept = clf.n_iter_
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.set_params(lr=0.01, max_iter=2).fit(X, y)
    assert clf.stopped_reason_ == "max_iter"
    assert clf.n_iter_ == kept + 2 == len(clf.history_)
    _well_formed(clf, X)


class Overflowing(nn.Module):
    """Linear logits, except rows flagged by a huge first feature, whose logits
    are inf / -inf / NaN as an overflowing network would give."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        out = self.linear(x)
        flag = x[:, :1]
        special = torch.full_like(out, float("nan"))
        special = torch.where(flag > 2e30, torch.full_like(out, float("inf")), special)
        if out.shape[1] > 1:
            # +inf for the first logit, -inf for the others
            special = torch.where(
                (flag > 2e30) & (torch.arange(out.shape[1], device=x.device) > 0),
                torch.full_like(out, float("-inf")),
                special,
            )
        return torch.where(flag.abs() > 1e30, special, out)


@pytest.mark.parametrize("multiclass", [False, True], ids=["binary", "multiclass"])
def test_predict_proba_is_finite_when_logits_are_not(make, data, data3, multiclass):
    X, y = data3 if multiclass else data
    clf = make(module=Overflowing).fit(X, y)
    Xe = X[:6].copy()
    Xe[:3, 0] = 3e30  # logits +inf (and -inf for the other classes)
    Xe[3:, 0] = 1.5e30  # logits NaN
    logits = clf.decision_function(Xe)
    assert np.isinf(logits[:3]).all() and np.isnan(logits[3:]).all()
    with pytest.warns(RuntimeWarning, match="NaN outputs for 3 of 6 rows.*uniform"):
        proba = _well_formed(clf, Xe)
    # +inf logit: all the mass on that class; NaN logits: uniform
    np.testing.assert_array_equal(proba[:3].argmax(1), 1 if not multiclass else 0)
    np.testing.assert_allclose(proba[:3].max(1), 1.0)
    np.testing.assert_allclose(proba[3:], 1.0 / len(clf.classes_))
    with pytest.warns(RuntimeWarning):
        pred = clf.predict(Xe)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])


# -------------------------------------------------------------- interruption
def _interrupt_on_call(monkeypatch, cls, n):
    calls = {"n": 0}
    original = cls.step

    def step(self):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(cls, "step", step)
    return calls


@pytest.mark.parametrize("kind", list(MAKERS))
def test_interrupt_keeps_last_completed_epoch(kind, data, monkeypatch):
    X, y = data
    make = MAKERS[kind]
    reference = make(max_iter=2).fit(X, y)
    steps_per_epoch = reference.n_steps_ // 2
    stepper = training.MetaStepper if kind == "meta" else training.PlainStepper
    _interrupt_on_call(monkeypatch, stepper, 2 * steps_per_epoch + 1)
    with pytest.warns(
        UserWarning,
        match=r"interrupted during epoch 3; .*epoch \(2\) and history_ up to epoch 2.*warm_start=True",
    ):
        clf = make(max_iter=5).fit(X, y)
    assert clf.stopped_reason_ == "interrupted"
    assert clf.n_iter_ == 2 == len(clf.history_)
    assert clf.n_steps_ == reference.n_steps_
    # exactly the weights (and momentum) of a fit that stopped after epoch 2
    assert _same_weights(_param_copy(clf.module_), _param_copy(reference.module_))
    for a, b in zip(
        clf._optimizer_state["state"].values(),
        reference._optimizer_state["state"].values(),
    ):
        assert torch.equal(a["momentum_buffer"], b["momentum_buffer"])
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))

    # warm_start continues from there
    monkeypatch.undo()
    before = _param_copy(clf.module_)
    clf.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert clf.stopped_reason_ == "max_iter"
    assert [r["epoch"] for r in clf.history_] == [1, 2, 3, 4]
    assert clf.n_steps_ == 2 * reference.n_steps_
    assert not _same_weights(_param_copy(clf.module_), before)
    _well_formed(clf, X)


def test_interrupt_from_module_forward_then_warm_start(data):
    X, y = data

    class Flaky(nn.Module):
        calls = 0
        fail_at = None

        def __init__(self, n_features, n_outputs):
            super().__init__()
            self.linear = nn.Linear(n_features, n_outputs)

        def forward(self, x):
            Flaky.calls += 1
            if Flaky.calls == Flaky.fail_at:
                raise KeyboardInterrupt
            return self.linear(x)

    # 120 rows, batch 32: 4 steps (forwards) per epoch, plus one shape check
    Flaky.fail_at = 1 + 4 + 2
    with pytest.warns(UserWarning, match="interrupted during epoch 2"):
        clf = plain(module=Flaky, max_iter=4).fit(X, y)
    assert clf.n_iter_ == 1 and clf.stopped_reason_ == "interrupted"
    assert clf.predict_proba(X).shape == (120, 2)
    weights = _param_copy(clf.module_)
    clf.set_params(warm_start=True, max_iter=2).fit(X, y)
    assert clf.n_iter_ == 3 and clf.stopped_reason_ == "max_iter"
    assert not _same_weights(_param_copy(clf.module_), weights)


def test_interrupt_in_first_epoch_keeps_initial_weights(make, data, monkeypatch):
    X, y = data
    initial = []

    def factory(n_features, n_outputs):
        module = MLP(n_features, n_outputs, (8,))
        initial.append(_param_copy(module))
        return module

    _interrupt_on_call(monkeypatch, training.MetaStepper, 1)
    _interrupt_on_call(monkeypatch, training.PlainStepper, 1)
    with pytest.warns(
        UserWarning,
        match="interrupted during epoch 1; the estimator keeps the initial weights",
    ):
        clf = make(module=factory).fit(X, y)
    assert clf.n_iter_ == 0 and clf.history_ == [] and clf.n_steps_ == 0
    assert _same_weights(_param_copy(clf.module_), initial[0])
    _well_formed(clf, X)


# ---------------------------------------------------- inputs are not mutated
def _configs():
    return [
        meta(),
        meta(
            inner_sampler=SMOTE(k_neighbors=3),
            outer_sampler=RandomUnderSampler(),
            early_stopping=True,
        ),
        plain(sampler=RandomOverSampler(), class_weight="balanced"),
        plain(sampler="smote", early_stopping=True, validation_fraction=0.2),
    ]


@pytest.mark.parametrize("layout", ["C64", "F64", "C32", "readonly"])
def test_numpy_inputs_are_not_mutated(data, layout):
    X, y = data
    X = {
        "C64": X,
        "F64": np.asfortranarray(X),
        "C32": X.astype(np.float32),
        "readonly": X.copy(),
    }[layout]
    w = np.random.RandomState(2).rand(X.shape[0])
    if layout == "readonly":
        for a in (X, y, w):
            a.flags.writeable = False
    X0, y0, w0 = X.copy(order="K"), y.copy(), w.copy()
    for clf in _configs():
        clf.fit(X, y, sample_weight=w)
        clf.predict_proba(X)
        clf.predict(X)
        clf.decision_function(X)
        clf.score(X, y, sample_weight=w)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(w, w0)
    assert X.dtype == X0.dtype and X.flags.f_contiguous == X0.flags.f_contiguous


def test_pandas_inputs_are_not_mutated(data):
    X, y = data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    df["f4"] = df["f4"].astype(np.float32)
    ys = pd.Series(np.where(y == 1, "fraud", "ok"), name="label", index=df.index + 100)
    df.index = ys.index
    w = pd.Series(np.linspace(0.5, 2.0, len(y)), index=df.index)
    df0, ys0, w0 = df.copy(deep=True), ys.copy(deep=True), w.copy(deep=True)
    for clf in _configs():
        clf.fit(df, ys, sample_weight=w)
        clf.predict_proba(df)
        assert set(clf.predict(df)) <= {"fraud", "ok"}
    pd.testing.assert_frame_equal(df, df0)
    pd.testing.assert_series_equal(ys, ys0)
    pd.testing.assert_series_equal(w, w0)


# --------------------------------------------------------- no global state
def test_no_global_state_changes(data):
    X, y = data
    np.random.seed(11)  # noqa: NPY002
    torch.manual_seed(11)
    random.seed(11)
    np_state = np.random.get_state()  # noqa: NPY002
    torch_state = torch.get_rng_state()
    py_state = random.getstate()
    threads = torch.get_num_threads()
    dtype = torch.get_default_dtype()
    deterministic = torch.are_deterministic_algorithms_enabled()
    grad = torch.is_grad_enabled()
    cuda_device = torch.cuda.current_device() if torch.cuda.is_available() else None
    for clf in _configs():
        clf.set_params(dropout=0.3)
        clf.fit(X, y)
        clf.predict_proba(X)
    state = np.random.get_state()  # noqa: NPY002
    assert (
        state[0] == np_state[0]
        and np.array_equal(state[1], np_state[1])
        and state[2:] == np_state[2:]
    )
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert random.getstate() == py_state
    assert torch.get_num_threads() == threads
    assert torch.get_default_dtype() == dtype
    assert torch.are_deterministic_algorithms_enabled() == deterministic
    assert torch.is_grad_enabled() == grad
    if cuda_device is not None:
        assert torch.cuda.current_device() == cuda_device


def test_random_state_none_draws_from_the_numpy_global_rng(data):
    # random_state=None behaves like scikit-learn: it draws from numpy's global
    # RNG (so the global state advances) and is reproducible after np.random.seed.
    X, y = data
    np.random.seed(3)  # noqa: NPY002
    a = meta(random_state=None).fit(X, y).predict_proba(X)
    np.random.seed(3)  # noqa: NPY002
    b = meta(random_state=None).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


# -------------------------------------------------------------- determinism
# Kept free of imbalanced-learn so that each process starts quickly.
_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(150, 5)
    y = np.where(X[:, 0] + 0.5 * rng.randn(150) > 0.8, "rare", "common")
    common = dict(hidden_layer_sizes=(8,), dropout=0.2, max_iter=3, random_state=7,
                  device="cpu")
    a = MetaBalanceClassifier(outer_sampler=None, tasks_per_step=3, **common)
    b = BalancedNetClassifier(class_weight="balanced", early_stopping=True, **common)
    out = np.hstack([a.fit(X, y).predict_proba(X), b.fit(X, y).predict_proba(X)])
    np.save(sys.argv[1], out)
    """
)


def test_same_seed_gives_bitwise_identical_probabilities_across_processes(tmp_path):
    paths = [tmp_path / f"proba{i}.npy" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(path)],
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": str(i + 1)},
            cwd=tmp_path,
        )
        for i, path in enumerate(paths)
    ]
    for proc in procs:
        assert proc.wait(timeout=300) == 0
    first, second = (np.load(path) for path in paths)
    assert first.shape == (150, 4) and np.all(np.isfinite(first))
    assert first.tobytes() == second.tobytes()


def test_same_seed_gives_identical_fits_in_process(make, data):
    X, y = data
    a = make(dropout=0.2, random_state=3).fit(X, y)
    b = make(dropout=0.2, random_state=3).fit(X, y)
    assert a.predict_proba(X).tobytes() == b.predict_proba(X).tobytes()
    assert [r["train_loss"] for r in a.history_] == [
        r["train_loss"] for r in b.history_
    ]
    c = make(dropout=0.2, random_state=4).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_clone_refits_identically(make, data):
    from sklearn.base import clone

    X, y = data
    a = make(random_state=9).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    # refitting the same object (warm_start=False) starts afresh
    c = copy.deepcopy(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), c.predict_proba(X))


# ------------------------------------------------------------ safe loading
def test_tampered_model_file_is_refused(data, tmp_path):
    from skmetabalance import load_model, save_model

    X, y = data
    clf = meta().fit(X, y)
    path = tmp_path / "model.safetensors"
    save_model(clf, path)
    np.testing.assert_array_equal(
        load_model(path).predict_proba(X), clf.predict_proba(X)
    )
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0xFF  # flip bits in the last weight tensor
    bad = tmp_path / "tampered.safetensors"
    bad.write_bytes(bytes(raw))
    with pytest.raises(
        ValueError, match="not a valid skmetabalance model file.*hash does not match"
    ):
        load_model(bad)


# ------------------------------------------------------------ prediction passes
class _NormNet(nn.Module):
    """A custom network: LayerNorm and GELU between linear layers."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_features, 12), nn.LayerNorm(12), nn.GELU()
        )
        self.head = nn.Linear(12, n_outputs)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.mark.parametrize("factory", [MLP, _NormNet])
def test_forward_logits_runs_fixed_passes_and_restores_state(factory):
    from skmetabalance._inference import forward_logits, prediction_pass

    torch.manual_seed(0)
    module = factory(7, 3)
    rows = prediction_pass(module)[0]
    X = np.random.RandomState(0).randn(rows + 300, 7)
    X32 = torch.as_tensor(X, dtype=torch.float32)
    threads = torch.get_num_threads()
    got = forward_logits(module, X, 3)
    assert got.dtype == torch.float64 and got.shape == (X.shape[0], 3)
    assert module.training and torch.get_num_threads() == threads
    # One forward pass per block of ``rows`` rows, in eval mode, in float32.
    module.eval()
    with torch.no_grad():
        expected = torch.cat([module(X32[:rows]), module(X32[rows:])]).double()
    module.train()
    assert torch.equal(got, expected)
    # A float32 tensor gives the bits of the float64 array it was made from.
    assert torch.equal(forward_logits(module, X32, 3), got)
    assert forward_logits(module, X[:0], 3).shape == (0, 3)


def test_predictions_on_parts_agree_with_the_whole_to_float32_rounding(data3):
    # Not bit for bit: a float32 matrix product over other rows may round
    # differently (see docs/errors.rst, Determinism).
    X, y = data3
    clf = plain(module=_NormNet).fit(X, y)
    whole = clf.predict_proba(X)
    parts = np.concatenate([clf.predict_proba(X[i : i + 7]) for i in range(0, 120, 7)])
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-6)
