"""Scale-out: joblib (loky), Dask and Ray backends, and the guarantees they rely on."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from joblib.externals.loky import get_reusable_executor
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

ROOT = str(Path(__file__).resolve().parents[1])
SMALL = dict(max_iter=2, hidden_layer_sizes=(8,), tasks_per_step=4, random_state=0)
GRID = {"lr": [0.01, 0.2]}


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=90, n_features=5, n_informative=3, weights=[0.75], random_state=0
    )
    return X.astype(np.float32), y


def _search():
    return GridSearchCV(
        MetaBalanceClassifier(**SMALL),
        GRID,
        cv=StratifiedKFold(2, shuffle=True, random_state=0),
        scoring="roc_auc",
        n_jobs=-1,
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


def _assert_same_search(search, ref):
    assert search.best_params_ == ref.best_params_
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        search.best_estimator_.predict_proba(np.eye(5, dtype=np.float32)),
        ref.best_estimator_.predict_proba(np.eye(5, dtype=np.float32)),
    )


# ---------------------------------------------------------------------- Dask
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def test_grid_search_and_cross_validate_on_dask(dask_client, data, reference):
    from distributed import get_task_stream

    X, y = data
    ref_search, ref_scores = reference
    with get_task_stream(dask_client) as stream, joblib.parallel_config(backend="dask"):
        search = _search().fit(X, y)
        scores = _cross_validate(X, y, -1)
    assert len(stream.data) >= len(ref_search.cv_results_["params"]) * 2
    _assert_same_search(search, ref_search)
    np.testing.assert_array_equal(scores, ref_scores)
    # The fits ran in the worker processes, each with one torch thread.
    workers = dask_client.run(
        lambda: (
            "skmetabalance" in sys.modules,
            torch.get_num_threads(),
            os.environ.get("OMP_NUM_THREADS"),
            os.getpid(),
        )
    )
    assert len(workers) == 2
    for loaded, threads, omp, pid in workers.values():
        assert loaded and omp is not None and threads == int(omp)
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
