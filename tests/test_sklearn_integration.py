"""HTML repr, set_output pipelines, metadata routing and feature-name checks."""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.metrics import get_scorer
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

SMALL = dict(max_iter=2, hidden_layer_sizes=(8,), random_state=0)
DOCS = "https://skmetabalance.readthedocs.io/en/latest/generated/skmetabalance.{}.html"


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=100, n_features=5, n_informative=3, weights=[0.75], random_state=0
    )
    return X, y


@pytest.fixture(scope="module")
def frame(data):
    X, y = data
    return pd.DataFrame(X, columns=["age", "income", "debt", "tenure", "score"]), y


# ------------------------------------------------------------------ HTML repr
@pytest.mark.parametrize("cls", [MetaBalanceClassifier, BalancedNetClassifier])
def test_html_repr_links_to_our_api_docs(cls, data):
    est = cls(**SMALL)
    link = DOCS.format(cls.__name__)
    assert est._get_doc_link() == link
    html = est._repr_html_()
    assert cls.__name__ in html
    assert f'href="{link}"' in html
    assert not re.search(r'href="https://scikit-learn\.org', html)
    # Nested in a pipeline, our step links to us and the scaler to scikit-learn.
    pipe_html = make_pipeline(StandardScaler(), cls(**SMALL))._repr_html_()
    assert link in pipe_html
    assert re.search(r'href="https://scikit-learn\.org[^"]*StandardScaler', pipe_html)
    # The fitted estimator still renders, with its parameters.
    fitted = clone(est).fit(*data)
    assert re.search(r"max_iter", fitted._repr_html_())


# ---------------------------------------------------------------- set_output
def test_pandas_output_pipeline_passes_feature_names(data):
    X, y = data
    pipe = Pipeline(
        [("scale", StandardScaler()), ("clf", MetaBalanceClassifier(**SMALL))]
    ).set_output(transform="pandas")
    pipe.fit(X, y)
    clf = pipe.named_steps["clf"]
    np.testing.assert_array_equal(clf.feature_names_in_, [f"x{i}" for i in range(5)])
    # Same model as fitting the scaled numpy array: the names change nothing else.
    Xs = StandardScaler().fit_transform(X)
    direct = MetaBalanceClassifier(**SMALL).fit(Xs, y)
    np.testing.assert_array_equal(pipe.predict_proba(X), direct.predict_proba(Xs))


def test_column_transformer_pandas_output_names(frame):
    df, y = frame
    df = df.assign(region=np.where(np.arange(len(df)) % 3 == 0, "north", "south"))
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income", "debt", "tenure", "score"]),
            ("cat", OneHotEncoder(sparse_output=False), ["region"]),
        ]
    )
    pipe = make_pipeline(pre, BalancedNetClassifier(**SMALL)).set_output(
        transform="pandas"
    )
    pipe.fit(df, y)
    names = list(pipe[-1].feature_names_in_)
    assert names[:2] == ["num__age", "num__income"]
    assert names[-2:] == ["cat__region_north", "cat__region_south"]
    assert pipe.predict(df).shape == (len(df),)


# ---------------------------------------------------------- metadata routing
def _weights(n):
    w = np.ones(n)
    w[np.random.RandomState(3).rand(n) < 0.3] = 0.0
    return w


def test_sample_weight_routed_through_pipeline(data):
    X, y = data
    w = _weights(len(y))
    Xs = StandardScaler().fit_transform(X)
    weighted = MetaBalanceClassifier(**SMALL).fit(Xs, y, sample_weight=w)
    plain = MetaBalanceClassifier(**SMALL).fit(Xs, y)
    assert not np.allclose(weighted.predict_proba(Xs), plain.predict_proba(Xs))
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            MetaBalanceClassifier(**SMALL).set_fit_request(sample_weight=True),
        )
        pipe.fit(X, y, sample_weight=w)
        np.testing.assert_array_equal(pipe.predict_proba(X), weighted.predict_proba(Xs))
        # Not requested: the weights are refused rather than silently dropped.
        unset = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            MetaBalanceClassifier(**SMALL),
        )
        with pytest.raises(ValueError, match="sample_weight"):
            unset.fit(X, y, sample_weight=w)
    # Without routing, the classic step__param syntax reaches fit as well.
    classic = make_pipeline(StandardScaler(), MetaBalanceClassifier(**SMALL))
    classic.fit(X, y, metabalanceclassifier__sample_weight=w)
    np.testing.assert_array_equal(classic.predict_proba(X), weighted.predict_proba(Xs))


def test_sample_weight_routed_through_grid_search(data):
    X, y = data
    w = _weights(len(y))
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(
            BalancedNetClassifier(**SMALL).set_fit_request(sample_weight=True),
            {"lr": [0.01, 0.2]},
            cv=StratifiedKFold(2, shuffle=True, random_state=0),
            scoring=get_scorer("roc_auc").set_score_request(sample_weight=True),
        ).fit(X, y, sample_weight=w)
    best = BalancedNetClassifier(**SMALL, **search.best_params_)
    expected = clone(best).fit(X, y, sample_weight=w).predict_proba(X)
    np.testing.assert_array_equal(search.best_estimator_.predict_proba(X), expected)
    assert not np.allclose(clone(best).fit(X, y).predict_proba(X), expected)


def test_uniform_weights_equal_no_weights(data):
    # Weights are normalised to mean one, so a constant weight changes nothing.
    X, y = data
    a = MetaBalanceClassifier(**SMALL).fit(X, y, sample_weight=np.full(len(y), 2.0))
    b = MetaBalanceClassifier(**SMALL).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6)


# ------------------------------------------------------------- feature names
@pytest.fixture(scope="module")
def fitted_on_frame(frame):
    df, y = frame
    return MetaBalanceClassifier(**SMALL).fit(df, y)


def test_matching_names_predict_silently(fitted_on_frame, frame):
    df, _ = frame
    np.testing.assert_array_equal(fitted_on_frame.feature_names_in_, df.columns)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fitted_on_frame.predict_proba(df)


@pytest.mark.parametrize(
    "change",
    [
        lambda df: df.rename(columns={"debt": "loans"}),
        lambda df: df[["income", "age", "debt", "tenure", "score"]],
    ],
    ids=["renamed", "reordered"],
)
def test_mismatched_names_raise(fitted_on_frame, frame, change):
    df, _ = frame
    with pytest.raises(ValueError, match="feature names should match"):
        fitted_on_frame.predict(change(df))


def test_missing_or_unexpected_names_warn(fitted_on_frame, frame, data):
    df, y = frame
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        fitted_on_frame.predict(df.to_numpy())
    on_array = MetaBalanceClassifier(**SMALL).fit(*data)
    assert not hasattr(on_array, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        on_array.predict(df)
