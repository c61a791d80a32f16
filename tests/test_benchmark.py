"""Tests of skmetabalance.benchmark: compare(), the summary and the CLI."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from skmetabalance import MetaBalanceClassifier
from skmetabalance.benchmark import (
    METRICS,
    MODEL_NAMES,
    RESULT_COLUMNS,
    compare,
    make_estimator,
    make_preprocessor,
    score_predictions,
    summarize,
)
from skmetabalance.benchmark.__main__ import main

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
    assert (results["fit_time"] > 0).all()


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


def test_compare_rejects_bad_input(small_binary):
    X, y = small_binary
    with pytest.raises(ValueError, match="Unknown model name 'nope'"):
        compare(["nope"], X, y)
    with pytest.raises(ValueError, match="n_repeats"):
        compare(["logreg"], X, y, n_repeats=0)
    with pytest.raises(ValueError, match="single class"):
        compare(["logreg"], X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="unique"):
        compare([("a", LogisticRegression()), ("a", LogisticRegression())], X, y)


def test_preprocessor_scales_numeric_and_one_hot_encodes_categorical():
    X = np.array([[0.0, 1.0], [2.0, 0.0], [4.0, 2.0], [6.0, 1.0]])
    out = make_preprocessor(np.array([False, True])).fit_transform(X)
    assert out.shape == (4, 4)
    np.testing.assert_allclose(out[:, 0].mean(), 0.0, atol=1e-12)
    np.testing.assert_array_equal(out[:, 1:].sum(axis=1), 1.0)
    assert make_preprocessor(None).fit_transform(X).shape == (4, 2)


def test_every_built_in_model_builds():
    for name in MODEL_NAMES:
        est = make_estimator(name)
        assert hasattr(est, "fit") and hasattr(est, "predict_proba")


def test_score_predictions_binary_and_perfect_scores():
    y = np.array([0, 0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
    scores = score_predictions(y, proba, np.array([0, 0, 0, 1, 1]), [0, 1], 1)
    assert scores == dict.fromkeys(METRICS, 1.0)
    # All rows predicted as the majority class: recall of the minority is 0.
    scores = score_predictions(y, proba, np.zeros(5, dtype=int), [0, 1], 1)
    assert scores["balanced_accuracy"] == 0.5 and scores["g_mean"] == 0.0


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


def test_cli_rejects_unknown_names(tmp_path, capsys):
    assert main(["-o", str(tmp_path), "--datasets", "nope", "--no-progress"]) == 2
    assert "Unknown data set" in capsys.readouterr().err
    assert main(["-o", str(tmp_path), "--models", "nope", "--no-progress"]) == 2


def test_cli_list(capsys):
    assert main(["--list"]) == 0
    text = capsys.readouterr().out
    assert "yeast_me2" in text and "metabalance" in text
