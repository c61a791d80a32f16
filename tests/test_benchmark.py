"""Tests of skmetabalance.benchmark: compare(), the summary and the CLI."""

import ast
import importlib.util
import json
import math
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, check_scoring
from sklearn.pipeline import make_pipeline

import skmetabalance.benchmark
from skmetabalance import MetaBalanceClassifier
from skmetabalance.benchmark import (
    MODEL_NAMES,
    compare,
    make_estimator,
    plot_scores,
    score_table,
    summarize,
)
from skmetabalance.benchmark.__main__ import main
from skmetabalance.benchmark._compare import (
    METRICS,
    RESULT_COLUMNS,
    _named_estimators,
    _scorers,
    plan_tasks,
)
from skmetabalance.benchmark._models import (
    ANCHOR_MODELS,
    DEFAULT_MODELS,
    make_preprocessor,
)

TINY_NET = dict(max_iter=2, hidden_layer_sizes=(8,), tasks_per_step=4, device="cpu")


@pytest.fixture
def small_binary():
    X, y = make_classification(
        n_samples=240, n_features=5, n_informative=3, weights=[0.85], random_state=0
    )
    return X, y


class _Failing(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("boom")


class _Fixed(ClassifierMixin, BaseEstimator):
    """Predicts the probabilities it is given, whatever the rows."""

    def __init__(self, proba=None):
        self.proba = proba

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return self.classes_[self.proba.argmax(axis=1)]


def test_public_api():
    assert sorted(skmetabalance.benchmark.__all__) == [
        "MODEL_NAMES",
        "compare",
        "make_estimator",
        "plot_scores",
        "run_benchmark",
        "score_table",
        "summarize",
    ]


def test_compare_returns_documented_columns(small_binary):
    X, y = small_binary
    results = compare(
        {"mb": MetaBalanceClassifier(**TINY_NET), "lr": LogisticRegression()},
        X,
        y,
        n_repeats=2,
    )
    assert list(results.columns) == RESULT_COLUMNS
    assert len(results) == 4
    assert results["model"].tolist() == ["mb", "mb", "lr", "lr"]
    assert results["split"].tolist() == [0, 1, 0, 1]
    assert (results["error"] == "").all()
    assert not results["cached"].any()
    scores = results[list(METRICS)].to_numpy()
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    assert (results["n_train"] + results["n_test"] == len(y)).all()
    assert (results["n_test_minority"] == round(0.3 * np.sum(y == 1))).all()
    # Networks report epochs and optimiser steps; other models no steps.
    mb = results[results["model"] == "mb"]
    assert (mb["n_iter"] == 2).all() and (mb["n_steps"] >= 2).all()
    assert results.loc[results["model"] == "lr", "n_steps"].isna().all()
    assert (results["fit_time"] > 0).all() and (results["score_time"] > 0).all()


def test_compare_is_reproducible_and_splits_differ(small_binary):
    X, y = small_binary
    est = {"mb": MetaBalanceClassifier(**TINY_NET)}
    a = compare(est, X, y, n_repeats=2, random_state=3)
    b = compare(est, X, y, n_repeats=2, random_state=3)
    np.testing.assert_array_equal(a["average_precision"], b["average_precision"])
    assert a["average_precision"].iloc[0] != a["average_precision"].iloc[1]


def test_compare_cache_resumes_and_tracks_configuration(tmp_path, small_binary):
    X, y = small_binary
    est = {"mb": MetaBalanceClassifier(**TINY_NET), "lr": LogisticRegression()}
    first = compare(est, X, y, n_repeats=2, cache_dir=tmp_path)
    files = sorted(tmp_path.rglob("*.json"))
    assert len(files) == 4
    record = json.loads(files[0].read_text())
    assert set(RESULT_COLUMNS) - {"cached"} <= set(record)

    second = compare(est, X, y, n_repeats=3, cache_dir=tmp_path)
    assert second["cached"].tolist() == [True, True, False, True, True, False]
    pd.testing.assert_frame_equal(
        first.drop(columns="cached"),
        second[second["split"] < 2].reset_index(drop=True).drop(columns="cached"),
    )
    # A changed parameter is a different configuration: refitted.
    changed = {"mb": MetaBalanceClassifier(**{**TINY_NET, "inner_lr": 0.05})}
    third = compare(changed, X, y, n_repeats=1, cache_dir=tmp_path)
    assert not third["cached"].any()
    # Different data under the same name is not mistaken for cached results.
    fourth = compare(est, X[::-1], y[::-1], n_repeats=1, cache_dir=tmp_path)
    assert not fourth["cached"].any()


def test_compare_records_failures_without_caching(tmp_path, small_binary):
    X, y = small_binary
    results = compare(
        [("bad", _Failing()), "logreg"], X, y, n_repeats=1, cache_dir=tmp_path
    )
    bad = results[results["model"] == "bad"].iloc[0]
    assert "RuntimeError: boom" in bad["error"]
    assert all(math.isnan(bad[m]) for m in METRICS)
    assert results.loc[results["model"] == "logreg", "error"].item() == ""
    assert not list((tmp_path / "data" / "bad").glob("*.json"))


def test_compare_multiclass_and_categorical():
    rng = np.random.RandomState(0)
    X, y = make_classification(
        n_samples=300,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        weights=[0.6, 0.3, 0.1],
        random_state=0,
    )
    X = np.c_[X, rng.randint(0, 3, size=len(y))]
    mask = np.array([False] * 4 + [True])
    results = compare(
        {"logreg": LogisticRegression(), "mb": MetaBalanceClassifier(**TINY_NET)},
        X,
        y,
        categorical_features=mask,
        n_repeats=1,
    )
    assert (results["error"] == "").all()
    assert np.isfinite(results[list(METRICS)].to_numpy()).all()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"estimators": ["nope"]}, ValueError, "Unknown model name 'nope'"),
        ({"estimators": [3]}, TypeError, "estimators must hold estimators"),
        ({"estimators": []}, ValueError, "estimators is empty"),
        (
            {"estimators": [("a", LogisticRegression()), ("a", LogisticRegression())]},
            ValueError,
            "unique",
        ),
        ({"estimators": "logreg"}, ValueError, "'estimators' parameter of compare"),
        ({"n_repeats": 0}, ValueError, "'n_repeats' parameter of compare"),
        ({"test_size": 1.0}, ValueError, "'test_size' parameter of compare"),
        ({"random_state": None}, ValueError, "'random_state' parameter of compare"),
        ({"y": "zeros"}, ValueError, "single class"),
        ({"y": "short"}, ValueError, "y must be 1-D with one label per row"),
        ({"X": "1-D"}, ValueError, "X must be 2-D"),
        ({"categorical_features": [True]}, ValueError, "one entry per feature"),
        ({"categorical_features": ["a"]}, ValueError, "need a DataFrame X"),
    ],
)
def test_compare_rejects_bad_input(small_binary, kwargs, error, match):
    X, y = small_binary
    data = {
        "zeros": np.zeros(len(y)),
        "short": y[:-1],
        "1-D": X[:, 0],
    }
    kwargs = {k: data.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    kwargs = {"estimators": ["logreg"], "X": X, "y": y, **kwargs}
    with pytest.raises(error, match=match):
        compare(**kwargs)


def test_preprocessor_scales_numeric_and_one_hot_encodes_categorical():
    X = np.array([[0.0, 1.0], [2.0, 0.0], [4.0, 2.0], [6.0, 1.0]])
    for cats in (np.array([False, True]), [1]):
        out = make_preprocessor(X, cats).fit_transform(X)
        assert out.shape == (4, 4)
        scaled = out[:, 0] if isinstance(cats, np.ndarray) else out[:, -1]
        np.testing.assert_allclose(scaled.mean(), 0.0, atol=1e-12)
        onehot = out[:, 1:] if isinstance(cats, np.ndarray) else out[:, :-1]
        np.testing.assert_array_equal(onehot.sum(axis=1), 1.0)
    assert make_preprocessor(X).fit_transform(X).shape == (4, 2)
    # A DataFrame's string and categorical columns are one-hot encoded.
    frame = pd.DataFrame(
        {"x": X[:, 0], "s": list("abab"), "c": pd.Categorical(list("uuvv"))}
    )
    out = make_preprocessor(frame).fit_transform(frame)
    assert out.shape == (4, 5)
    np.testing.assert_allclose(out[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_array_equal(out[:, 1:].sum(axis=1), 2.0)


def test_every_built_in_model_builds():
    assert MODEL_NAMES == (*DEFAULT_MODELS, *ANCHOR_MODELS)
    assert ANCHOR_MODELS == ("tabm", "realmlp")
    for name in DEFAULT_MODELS:
        est = make_estimator(name)
        assert hasattr(est, "fit") and hasattr(est, "predict_proba")
    with pytest.raises(ValueError, match="'name' parameter of make_estimator"):
        make_estimator("nope")


HAS_PYTABKIT = importlib.util.find_spec("pytabkit") is not None


@pytest.fixture
def without_pytabkit(monkeypatch):
    """Make ``import pytabkit`` fail, as it does where it is not installed."""
    for module in [m for m in sys.modules if m.split(".")[0] == "pytabkit"]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "pytabkit", None)
    monkeypatch.setattr(
        skmetabalance.benchmark._models, "anchors_available", lambda: False
    )
    monkeypatch.setattr(
        skmetabalance.benchmark._cli, "anchors_available", lambda: False
    )


@pytest.mark.parametrize("name", ["tabm", "realmlp"])
def test_anchor_without_pytabkit_says_what_to_install(
    without_pytabkit, small_binary, name
):
    install = r'pip install "skmetabalance\[anchors\]" \(or pip install pytabkit\)'
    match = f"Model '{name}' needs the optional package pytabkit, .*{install}"
    with pytest.raises(ImportError, match=match):
        make_estimator(name)
    X, y = small_binary
    # compare() fails before fitting anything.
    with pytest.raises(ImportError, match=match):
        compare(["logreg", name], X, y, n_repeats=1)


def test_default_models_leave_the_anchors_out(without_pytabkit):
    assert list(_named_estimators(None)) == list(DEFAULT_MODELS)
    assert not set(ANCHOR_MODELS) & set(DEFAULT_MODELS)


def test_cli_anchor_without_pytabkit(without_pytabkit, tmp_path, capsys):
    base = ["-o", str(tmp_path), "-d", "yeast_me2", "--no-progress"]
    # "all" includes the anchors, so it needs pytabkit too.
    for models in ("logreg,realmlp", "all"):
        assert main([*base, "--models", models]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: Model '")
        assert 'pip install "skmetabalance[anchors]"' in err
    assert not (tmp_path / "results.csv").exists()
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "tabm" in out and "realmlp" in out and "not installed" in out


class _NeedsThreads(ClassifierMixin, BaseEstimator):
    """Fails unless ``n_threads`` was set to the threads torch may use."""

    def __init__(self, n_threads=None):
        self.n_threads = n_threads

    def fit(self, X, y):
        import torch

        if self.n_threads != torch.get_num_threads():
            raise ValueError(f"n_threads={self.n_threads}")
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.tile([0.5, 0.5], (len(X), 1))

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_compare_sets_unset_n_threads_to_the_worker_threads(small_binary):
    X, y = small_binary
    results = compare({"t": _NeedsThreads()}, X, y, n_repeats=1)
    assert results["error"].tolist() == [""]
    results = compare({"t": _NeedsThreads(n_threads=10_000)}, X, y, n_repeats=1)
    assert "ValueError: n_threads=10000" in results["error"].item()


@pytest.mark.skipif(not HAS_PYTABKIT, reason="pytabkit is not installed")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_device_auto_is_none_for_pytabkit(small_binary):
    X, y = small_binary
    estimators = {
        "tabm": make_estimator("tabm"),
        "mb": make_pipeline(MetaBalanceClassifier()),
    }
    for device, expected in (("auto", None), ("cuda", "cuda"), ("cpu", "cpu")):
        tasks = plan_tasks(estimators, X, y, n_repeats=1, device=device)
        params = [t.estimator.get_params() for t in tasks]
        assert params[0]["model__device"] == expected
        assert params[1]["model__metabalanceclassifier__device"] == device


@pytest.mark.skipif(not HAS_PYTABKIT, reason="pytabkit is not installed")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_anchors_smoke_fit_through_compare(small_binary):
    X, y = small_binary
    # The smallest budgets pytabkit takes: one epoch, a small TabM.
    estimators = {
        "tabm": make_estimator("tabm").set_params(n_epochs=1, tabm_k=2, d_block=16),
        "realmlp": make_estimator("realmlp").set_params(n_epochs=1),
    }
    import torch

    np.random.seed(7)
    random.seed(7)
    numpy_state = np.random.get_state()[1].copy()
    python_state = random.getstate()
    torch_state = torch.get_rng_state()
    results = compare(estimators, X, y, n_repeats=2, device="cpu")
    assert list(results.columns) == RESULT_COLUMNS
    assert results["model"].tolist() == ["tabm", "tabm", "realmlp", "realmlp"]
    assert results["split"].tolist() == [0, 1, 0, 1]
    assert (results["error"] == "").all(), results["error"].tolist()
    scores = results[list(METRICS)].to_numpy()
    assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1).all()
    assert (results["fit_time"] > 0).all() and (results["score_time"] > 0).all()
    assert (results["n_train"] + results["n_test"] == len(y)).all()
    # Seeded from the split: a rerun gives the same scores.
    again = compare(estimators, X, y, n_repeats=2, device="cpu")
    np.testing.assert_array_equal(again[list(METRICS)], results[list(METRICS)])
    # TabM seeds the global generators inside fit; compare() restores them.
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)
    assert random.getstate() == python_state
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_scorers_binary_minority_is_positive():
    # The minority class is "a" (2 rows), the first column of predict_proba.
    y = np.array(["a", "b", "b", "a", "b"])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
    est = _Fixed(proba).fit(None, y)
    scores = check_scoring(est, scoring=_scorers(np.unique(y), "a"))(est, None, y)
    assert list(scores) == list(METRICS)
    assert scores["average_precision"] == average_precision_score(y == "a", proba[:, 0])
    assert scores["average_precision"] < 1.0
    assert scores["roc_auc"] == pytest.approx(4 / 6)
    # Perfect probabilities score 1 everywhere.
    perfect = np.where((y == "a")[:, None], [0.8, 0.2], [0.2, 0.8])
    est = _Fixed(perfect).fit(None, y)
    scores = check_scoring(est, scoring=_scorers(np.unique(y), "a"))(est, None, y)
    assert scores == dict.fromkeys(METRICS, 1.0)
    # All rows predicted as the majority class: recall of the minority is 0.
    est = _Fixed(np.tile([0.4, 0.6], (5, 1))).fit(None, y)
    scores = check_scoring(est, scoring=_scorers(np.unique(y), "a"))(est, None, y)
    assert scores["balanced_accuracy"] == 0.5 and scores["g_mean"] == 0.0


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_average_precision_multiclass_skips_absent_classes():
    y = np.array([0, 0, 1, 1])  # class 2 is absent from these rows
    proba = np.array(
        [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]]
    )
    est = _Fixed(proba).fit(None, np.array([0, 1, 2]))
    scores = check_scoring(est, scoring=_scorers(np.arange(3), 2))(est, None, y)
    assert scores["average_precision"] == 1.0


def test_summarize_ranks_models():
    rows = []
    for d, scores in {"a": (0.9, 0.5, 0.7), "b": (0.2, 0.4, 0.3)}.items():
        for m, s in zip(("x", "y", "z"), scores):
            rows.append(
                {
                    "dataset": d,
                    "model": m,
                    "split": 0,
                    **dict.fromkeys(METRICS, s),
                    "fit_time": 1.0,
                    "error": "",
                    "cached": False,
                }
            )
    table = summarize(pd.DataFrame(rows))
    assert table.loc["x", "mean_rank"] == 2.0  # 1st on a, 3rd on b
    assert table.loc["y", "mean_rank"] == 2.0  # 3rd on a, 1st on b
    assert table.loc["z", "mean_rank"] == 2.0
    assert table["wins"].tolist() == [1, 1, 0]
    np.testing.assert_allclose(table.loc["x", "average_precision"], 0.55)

    # A model that failed on a data set has no mean there and is ranked last.
    frame = pd.DataFrame(rows)
    failed = (frame["dataset"] == "b") & (frame["model"] == "y")
    frame.loc[failed, list(METRICS)] = np.nan
    frame.loc[failed, "error"] = "ValueError: boom"
    table = summarize(frame)
    assert np.isnan(table.loc["y", "average_precision"])
    assert table.loc["y", "mean_rank"] == 3.0
    assert table.loc["y", "n_failed"] == 1
    strings = score_table(frame)
    assert strings.loc["b", "y"] == "failed" and strings.loc["a", "x"] == "0.900"

    with pytest.raises(ValueError, match="'metric' parameter of summarize"):
        summarize(frame, metric="accuracy")
    with pytest.raises(TypeError, match="'results' parameter of score_table"):
        score_table(rows)


def test_plot_scores_writes_an_image(tmp_path, small_binary):
    pytest.importorskip("matplotlib")
    X, y = small_binary
    results = compare(["logreg"], X, y, n_repeats=2)
    path = plot_scores(results, tmp_path / "scores.png", metric="roc_auc")
    assert path == tmp_path / "scores.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "bench"
    argv = [
        "--output",
        str(out),
        "--datasets",
        "yeast_me2",
        "--repeats",
        "1",
        "--models",
        "metabalance,net_plain,logreg",
        "--max-iter",
        "2",
        "--n-jobs",
        "1",
        "--no-progress",
    ]
    assert main(argv) == 0
    results = pd.read_csv(out / "results.csv")
    assert results["model"].tolist() == ["metabalance", "net_plain", "logreg"]
    assert (results["dataset"] == "yeast_me2").all()
    assert not results["cached"].any()
    assert results.loc[results["model"] != "logreg", "n_iter"].tolist() == [2, 2]
    summary = (out / "summary.md").read_text()
    assert "| yeast_me2 |" in summary and "mean rank" in summary
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "3 fit(s) run, 0 read from the cache" in capsys.readouterr().out

    cache_files = sorted((out / "cache").rglob("*.json"))
    stamps = [f.stat().st_mtime_ns for f in cache_files]
    assert len(cache_files) == 3
    assert main(argv) == 0
    assert "0 fit(s) run, 3 read from the cache" in capsys.readouterr().out
    again = pd.read_csv(out / "results.csv")
    assert again["cached"].all()
    np.testing.assert_array_equal(
        again["average_precision"], results["average_precision"]
    )
    assert [f.stat().st_mtime_ns for f in cache_files] == stamps


def test_cli_rejects_unknown_names_and_bad_values(tmp_path, capsys):
    assert main(["-o", str(tmp_path), "--datasets", "nope", "--no-progress"]) == 2
    assert "Unknown data set" in capsys.readouterr().err
    assert main(["-o", str(tmp_path), "--models", "nope", "--no-progress"]) == 2
    assert "Unknown model" in capsys.readouterr().err
    assert main(["-o", str(tmp_path), "--repeats", "0", "--no-progress"]) == 2
    assert "'repeats' parameter of run_benchmark" in capsys.readouterr().err


def test_cli_list(capsys):
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    assert "yeast_me2" in text and "metabalance" in text


SCRIPTS = Path(__file__).resolve().parents[1] / "benchmarks"


def _private_uses(tree):
    """Imports of private skmetabalance names, and assignments into the package."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names = []
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules = [node.module or ""]
            names = [alias.name for alias in node.names]
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [
                ast.unparse(t)
                for t in targets
                if isinstance(t, ast.Attribute)
                and ast.unparse(t).startswith("skmetabalance")
            ]
            continue
        else:
            continue
        for module in modules:
            if module.split(".")[0] != "skmetabalance":
                continue
            parts = module.split(".") + names
            found += [module for part in parts if part.startswith("_")]
    return found


@pytest.mark.skipif(not SCRIPTS.is_dir(), reason="no benchmarks/ folder")
def test_scripts_use_the_public_api_only():
    scripts = sorted(SCRIPTS.rglob("*.py"))
    assert {p.parent.name for p in scripts} == {
        "speed",
        "evidence",
        "reliability",
        "tools",
    }
    for path in scripts:
        assert _private_uses(ast.parse(path.read_text())) == [], path
    # The check itself catches both kinds of use.
    bad = "from skmetabalance._meta import meta_grad\nskmetabalance.x.run = f\n"
    assert _private_uses(ast.parse(bad)) == [
        "skmetabalance._meta",
        "skmetabalance.x.run",
    ]
