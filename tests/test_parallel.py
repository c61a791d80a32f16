"""Scale-out: joblib (loky, threads), Dask and Ray backends, and the guarantees they
rely on: a fit gives the same result whatever runs beside it in its process."""

import json
import os
import pickle
import subprocess
import sys
import threading
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from imblearn.over_sampling import SMOTE, RandomOverSampler
from joblib.externals.loky import get_reusable_executor
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.metrics import average_precision_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.neighbors import NearestNeighbors
from torch import nn

import skmetabalance
from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

ROOT = str(Path(__file__).resolve().parents[1])
# Worker processes must import the package this process imported.
PACKAGE_ROOT = str(Path(skmetabalance.__file__).resolve().parents[1])
# Dropout makes every training step draw random numbers, so a fit whose draws
# were shifted by another fit in the same process shows in its scores.
SMALL = dict(
    max_iter=2, hidden_layer_sizes=(8,), tasks_per_step=4, dropout=0.2, random_state=0
)
# SMOTE's neighbour search with a tree goes through joblib; under the Dask
# backend the worker thread then secedes and the worker starts the next fit
# beside it, in a second thread of the same process.
GRID = {
    "outer_sampler": [
        RandomOverSampler(random_state=0),
        SMOTE(
            k_neighbors=NearestNeighbors(n_neighbors=4, algorithm="kd_tree"),
            random_state=0,
        ),
    ],
    "lr": [0.01, 0.2],
}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, weights=[0.75], random_state=0
    )
    return X.astype(np.float32), y


def _search(n_jobs=-1):
    return GridSearchCV(
        MetaBalanceClassifier(**SMALL),
        GRID,
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="roc_auc",
        n_jobs=n_jobs,
    )


def _cross_validate(X, y, n_jobs):
    return cross_validate(
        MetaBalanceClassifier(**SMALL),
        X,
        y,
        cv=StratifiedKFold(2, shuffle=True, random_state=1),
        scoring="average_precision",
        n_jobs=n_jobs,
    )["test_score"]


@pytest.fixture(scope="module")
def reference(data):
    """The same search and cross-validation run sequentially in this process."""
    X, y = data
    with joblib.parallel_config(backend="sequential"):
        search = _search().fit(X, y)
        scores = _cross_validate(X, y, None)
    return search, scores


def _scores(search):
    res = search.cv_results_
    n_splits = search.n_splits_
    return np.array([res[f"split{i}_test_score"] for i in range(n_splits)])


def _assert_same_search(search, ref):
    # Every fit's score, exactly: a mean can hide two differences.
    np.testing.assert_array_equal(_scores(search), _scores(ref))
    assert search.best_params_ == ref.best_params_
    np.testing.assert_array_equal(
        search.best_estimator_.predict_proba(np.eye(5, dtype=np.float32)),
        ref.best_estimator_.predict_proba(np.eye(5, dtype=np.float32)),
    )


# ------------------------------------------------------------ joblib backends
def test_same_search_with_two_threads(data, reference):
    X, y = data
    ref_search, _ = reference
    with joblib.parallel_config(backend="threading"):
        search = _search(n_jobs=2).fit(X, y)
    _assert_same_search(search, ref_search)


def test_same_search_on_loky(data, reference):
    X, y = data
    ref_search, _ = reference
    with joblib.parallel_config(backend="loky"):
        search = _search(n_jobs=2).fit(X, y)
    _assert_same_search(search, ref_search)


# ---------------------------------------------------------------------- Dask
@contextmanager
def _worker_pythonpath():
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [PACKAGE_ROOT, old]))
    try:
        yield
    finally:
        if old is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture(params=[(2, 1), (1, 2)], ids=lambda p: f"{p[0]}x{p[1]}threads")
def fresh_dask_client(request):
    """A new cluster for each test: its workers start with no fit behind them.

    Two workers of one thread each (fits share a process only when a task
    secedes), then one worker of two threads (Dask's usual layout: fits run
    side by side in threads of one process).
    """
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask")
    n_workers, threads = request.param
    with (
        _worker_pythonpath(),
        distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=threads,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_same_search_and_cross_validate_on_fresh_dask_cluster(
    fresh_dask_client, data, reference
):
    from distributed import get_task_stream

    X, y = data
    ref_search, ref_scores = reference
    with (
        get_task_stream(fresh_dask_client) as stream,
        joblib.parallel_config(backend="dask"),
    ):
        search = _search().fit(X, y)
        scores = _cross_validate(X, y, -1)
    assert len(stream.data) >= len(ref_search.cv_results_["params"]) * 2
    _assert_same_search(search, ref_search)
    np.testing.assert_array_equal(scores, ref_scores)
    # The fits ran in the worker processes, on this package, with the thread
    # setting Dask gives each worker.
    workers = fresh_dask_client.run(
        lambda: (
            sys.modules["skmetabalance"].__file__,
            torch.get_num_threads(),
            os.environ.get("OMP_NUM_THREADS"),
            os.getpid(),
        )
    )
    assert len(workers) == len(fresh_dask_client.scheduler_info()["workers"])
    for path, threads, omp, pid in workers.values():
        assert path == skmetabalance.__file__
        assert omp is not None and threads == int(omp)
        assert pid != os.getpid()


# ----------------------------------------------------------------------- Ray
@pytest.fixture(scope="module")
def ray_backend():
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    # Ray workers are fresh interpreters: let them import this checkout.
    env = {"PYTHONPATH": os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")])}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env},
    )
    register_ray()
    try:
        yield ray
    finally:
        ray.shutdown()


def test_grid_search_on_ray(ray_backend, data, reference):
    X, y = data
    ref_search, _ = reference
    with joblib.parallel_config(backend="ray"):
        search = _search().fit(X, y)
    _assert_same_search(search, ref_search)


# ---------------------------------------------------------------------- loky
def _fit_in_worker(X, y):
    """Runs inside a loky worker started under a thread limit.

    Fits once under the limit and once after setting a thread count of the
    worker's own, and reports the count before and after each fit.
    """
    limit = torch.get_num_threads()
    proba_limit = MetaBalanceClassifier(**SMALL).fit(X, y).predict_proba(X)
    after_limit = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        proba_own = MetaBalanceClassifier(**SMALL).fit(X, y).predict_proba(X)
        after_own = torch.get_num_threads()
    finally:
        torch.set_num_threads(limit)  # the worker may be reused
    return os.getpid(), (limit, after_limit), (3, after_own), proba_limit, proba_own


def test_fit_in_loky_worker_keeps_thread_setting_and_result(data):
    X, y = data
    expected = MetaBalanceClassifier(**SMALL).fit(X, y).predict_proba(X)
    try:
        with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
            out = joblib.Parallel(n_jobs=2)(
                joblib.delayed(_fit_in_worker)(X, y) for _ in range(2)
            )
    finally:
        get_reusable_executor().shutdown(wait=True)  # leave no idle workers behind
    for pid, under_limit, own_setting, proba_limit, proba_own in out:
        assert pid != os.getpid()
        before, after = under_limit
        assert after == before
        before, after = own_setting
        assert after == before
        # the thread count does not change the fitted model
        np.testing.assert_array_equal(proba_limit, expected)
        np.testing.assert_array_equal(proba_own, expected)


def test_fit_leaves_parent_thread_count_alone(data):
    X, y = data
    before = torch.get_num_threads()
    MetaBalanceClassifier(**SMALL).fit(X, y)
    BalancedNetClassifier(max_iter=1, hidden_layer_sizes=(4,), random_state=0).fit(X, y)
    assert torch.get_num_threads() == before


# ------------------------------------------------------------------- threads
class _DropoutNet(nn.Module):
    """A custom network (trained through ``vmap``) that draws in every step."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.hidden = nn.Linear(n_features, 8)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(8, n_outputs)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.hidden(x))))


def _thread_configs():
    return [
        MetaBalanceClassifier(**{**SMALL, "max_iter": 3, "random_state": 1}),
        BalancedNetClassifier(
            _DropoutNet, sampler="over", max_iter=3, batch_size=16, random_state=2
        ),
    ]


def _outcome(est, X):
    """Probabilities, and the loss of every epoch (early stopping may restore
    the weights of an earlier epoch, whose probabilities hide later draws)."""
    return est.predict_proba(X), [rec["train_loss"] for rec in est.history_]


def _run_in_threads(fns):
    """Start ``fns`` together in threads; return their results or raise."""
    barrier = threading.Barrier(len(fns))
    out, errors = [None] * len(fns), []

    def run(i):
        try:
            barrier.wait(timeout=60)
            out[i] = fns[i]()
        except BaseException as exc:  # reported in the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    return out


def test_concurrent_fits_in_two_threads_match_fits_alone(data):
    X, y = data
    alone = [_outcome(est.fit(X, y), X) for est in _thread_configs()]
    for _ in range(2):
        together = _run_in_threads(
            [lambda est=est: _outcome(est.fit(X, y), X) for est in _thread_configs()]
        )
        for got, expected in zip(together, alone):
            np.testing.assert_array_equal(got[0], expected[0])
            assert got[1] == expected[1]


def test_torch_rng_streams_do_not_mix_and_leave_the_global_state():
    from skmetabalance._threads import TorchRNG

    def draws(seed, n):
        gen = torch.Generator().manual_seed(seed)
        return [torch.rand(3, generator=gen) for _ in range(n)]

    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, second = TorchRNG(1, "cpu"), TorchRNG(2, "cpu")
    got = {1: [], 2: []}
    for _ in range(3):  # alternating blocks, as two fits in two threads
        for seed, rng in ((1, first), (2, second)):
            with rng.active():
                got[seed].append(torch.rand(3))
    for seed in (1, 2):
        torch.testing.assert_close(got[seed], draws(seed, 3), rtol=0, atol=0)
    assert torch.equal(torch.get_rng_state(), before)


_HOOKS = {}


def _hooked_score(role, estimator, X, y):
    """Validation scorer that runs this module's hook for ``role`` at each call."""
    hook = _HOOKS.get(role)
    if hook is not None:
        hook()
    return average_precision_score(y, estimator.predict_proba(X)[:, 1])


def test_fit_paused_while_another_fit_runs_in_another_thread(data):
    """A deterministic interleaving of two fits in two threads.

    Fit A, at its second validation pass, starts fit B in a second thread and
    waits until B reaches its own second validation pass, where B waits for A
    to finish. Each must draw the numbers (initial weights, dropout masks) it
    draws alone. This is what a Dask worker does when a task secedes (inside a
    sampler's neighbour search, say) and the worker starts the next fit.
    """
    X, y = data
    # One network each: the hooks count validation passes, one score per pass.
    common = dict(max_iter=3, early_stopping=True, random_state=5, n_estimators=1)
    a = MetaBalanceClassifier(
        **{**SMALL, **common}, scoring=partial(_hooked_score, "a")
    )
    b = BalancedNetClassifier(
        _DropoutNet, **common, scoring=partial(_hooked_score, "b")
    )
    alone = [_outcome(clone(est).fit(X, y), X) for est in (a, b)]

    b_waits, a_done = threading.Event(), threading.Event()
    calls = {"a": 0, "b": 0}
    result = {}

    def fit_b():
        try:
            result["b"] = _outcome(b.fit(X, y), X)
        except BaseException as exc:  # reported in the calling thread
            result["b"] = exc

    def in_a():
        calls["a"] += 1
        if calls["a"] == 2:
            result["thread"] = threading.Thread(target=fit_b)
            result["thread"].start()
            assert b_waits.wait(timeout=120)

    def in_b():
        calls["b"] += 1
        if calls["b"] == 2:
            b_waits.set()
            assert a_done.wait(timeout=120)

    _HOOKS.update(a=in_a, b=in_b)
    try:
        got_a = _outcome(a.fit(X, y), X)
    finally:
        a_done.set()
        if "thread" in result:
            result["thread"].join(timeout=300)
        _HOOKS.clear()
    assert calls == {"a": 3, "b": 3}
    assert isinstance(result.get("b"), tuple), result.get("b")
    for got, expected in zip((got_a, result["b"]), alone):
        np.testing.assert_array_equal(got[0], expected[0])
        assert got[1] == expected[1]


# ---------------------------------------------------------------- guarantees
@pytest.mark.parametrize("cls", [MetaBalanceClassifier, BalancedNetClassifier])
def test_unfitted_estimators_pickle_small_without_tensors(cls, data):
    X, y = data
    est = cls(max_iter=1, hidden_layer_sizes=(4,), random_state=0)
    payload = pickle.dumps(est)
    assert len(payload) < 2000
    assert b"_rebuild" not in payload and b"torch" not in payload
    fitted = clone(est).fit(X, y)
    assert len(pickle.dumps(fitted)) > len(payload)  # fitted state is in there
    again = clone(fitted)
    assert not hasattr(again, "module_") and not hasattr(again, "device_")
    assert pickle.dumps(again) == payload
    assert fitted.get_params() == est.get_params()  # device stays 'auto'


_NO_CUDA_SCRIPT = r"""
import json, pickle, sys
import torch

calls = []

def counting(name, fn):
    def wrapper(*args, **kwargs):
        calls.append(name)
        return fn(*args, **kwargs)
    return wrapper

for name in ("is_available", "device_count", "current_device", "init",
             "_lazy_init", "set_device", "get_device_properties", "synchronize"):
    if hasattr(torch.cuda, name):
        setattr(torch.cuda, name, counting(name, getattr(torch.cuda, name)))

import numpy as np
from sklearn.base import clone
import skmetabalance

ests = [skmetabalance.MetaBalanceClassifier(max_iter=1, hidden_layer_sizes=(4,),
                                            random_state=0),
        skmetabalance.BalancedNetClassifier(max_iter=1, random_state=0)]
for est in ests:
    est.set_params(lr=0.05)
    est.get_params(deep=True)
    c = pickle.loads(pickle.dumps(clone(est)))
    repr(c)
    c._repr_html_()
before = list(calls)
initialized = torch.cuda.is_initialized()
rng = np.random.RandomState(0)
X = rng.normal(size=(40, 3)).astype("float32")
y = (X[:, 0] > 0.5).astype(int)
fitted = ests[0].fit(X, y)
print(json.dumps({"before": before, "initialized": initialized,
                  "after": calls, "device": str(fitted.device_)}))
"""


def test_no_cuda_touched_before_fit_and_device_chosen_in_fit():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", _NO_CUDA_SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["before"] == []
    assert report["initialized"] is False
    assert "is_available" in report["after"]  # device='auto' resolved inside fit
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert report["device"].startswith(expected)
