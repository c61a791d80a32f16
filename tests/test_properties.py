"""Property-based tests: random shapes, class counts, label types and samplers.

For any such input, ``fit`` either succeeds and every prediction method gives
well-formed output, or it raises one of the documented errors (a ValueError
naming the sampler, for sampler trouble). See docs/errors.rst.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TINY = dict(hidden_layer_sizes=(4,), max_iter=1, device="cpu")
SAMPLERS = {
    "none": lambda: None,
    "over": RandomOverSampler,
    "under": RandomUnderSampler,
    "smote": SMOTE,  # default k_neighbors=5: needs 6 rows in every minority class
}


LABEL_NAMES = ["a", "b", "zz", "fraud", "ok", "Ω", "class 10", "10", "2", "-1", " "]


def make_problem(kind, counts, n_features, seed, scale):
    """Gaussian blobs with ``counts[i]`` rows of the i-th label of ``kind``."""
    n_classes = len(counts)
    rng = np.random.RandomState(seed)
    if kind == "int":
        labels = np.arange(n_classes)
    elif kind == "sparse_int":
        labels = rng.choice(2001, n_classes, replace=False) - 1000
    elif kind == "str":
        labels = rng.choice(np.array(LABEL_NAMES), n_classes, replace=False)
    else:
        labels = np.array([True, False])
    y = np.repeat(labels, counts)
    order = rng.permutation(len(y))
    y = y[order]
    centres = rng.randn(n_classes, n_features) * 2
    codes = np.repeat(np.arange(n_classes), counts)[order]
    X = (centres[codes] + rng.randn(len(y), n_features)) * scale
    return X, y, np.asarray(counts), seed


@st.composite
def problems(draw):
    kind = draw(st.sampled_from(["int", "sparse_int", "str", "bool"]))
    n_classes = 2 if kind == "bool" else draw(st.integers(2, 6))
    counts = draw(st.lists(st.integers(2, 25), min_size=n_classes, max_size=n_classes))
    n_features = draw(st.integers(1, 6))
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([1e-2, 1.0, 1e2]))
    return make_problem(kind, counts, n_features, seed, scale)


# Explicit cases, so that every label kind and both SMOTE outcomes are always run.
EXAMPLES = [
    (make_problem("str", [2, 7, 13], 3, 5, 1.0), "smote"),
    (make_problem("str", [6, 9, 3, 20], 2, 6, 1e2), "over"),
    (make_problem("sparse_int", [4, 2, 9, 25, 3, 6], 4, 7, 1.0), "under"),
    (make_problem("sparse_int", [8, 25], 1, 8, 1e-2), "smote"),
    (make_problem("bool", [6, 20], 2, 9, 1.0), "smote"),
    (make_problem("int", [2, 2], 1, 10, 1.0), "none"),
]


def _check_fitted(clf, X, y):
    expected_classes = np.unique(y)
    np.testing.assert_array_equal(clf.classes_, expected_classes)
    assert clf.classes_.dtype.kind == y.dtype.kind
    proba = clf.predict_proba(X)
    assert proba.shape == (X.shape[0], len(expected_classes))
    assert np.all(np.isfinite(proba))
    assert np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    log_proba = clf.predict_log_proba(X)
    assert not np.any(np.isnan(log_proba))
    pred = clf.predict(X)
    assert pred.shape == (X.shape[0],)
    assert np.all(np.isin(pred, clf.classes_))
    # predict is the arg-max of predict_proba, in the order of classes_
    strict = np.sort(proba, axis=1)
    clear = strict[:, -1] - strict[:, -2] > 1e-9
    np.testing.assert_array_equal(
        pred[clear], clf.classes_[proba[clear].argmax(axis=1)]
    )
    scores = clf.decision_function(X)
    assert scores.shape == (
        (X.shape[0],) if len(expected_classes) == 2 else proba.shape
    )


def _fit_or_documented_error(clf, X, y, counts, sampler_name, prefix):
    # SMOTE() oversamples every class smaller than the largest, and needs
    # k_neighbors + 1 = 6 rows in each of them.
    needs_neighbours = sampler_name == "smote" and bool(
        np.any((counts < counts.max()) & (counts <= 5))
    )
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # ConvergenceWarning on unlucky scales is allowed
        try:
            clf.fit(X, y)
        except ValueError as exc:
            # The only failure these inputs may cause is SMOTE without enough
            # neighbours in a minority class, reported naming loop and sampler.
            assert needs_neighbours, f"unexpected error: {exc}"
            msg = str(exc)
            assert msg.startswith(f"{prefix} SMOTE("), msg
            assert "k_neighbors" in msg
            event("SMOTE refused: too few neighbours")
            return False
    assert not needs_neighbours, "SMOTE should have refused a class of <= 5 rows"
    _check_fitted(clf, X, y)
    event(f"fitted, labels of kind {y.dtype.kind}, {len(counts)} classes")
    return True


@SETTINGS
@given(
    problem=problems(),
    sampler_name=st.sampled_from(list(SAMPLERS)),
    inner=st.booleans(),
)
@example(problem=EXAMPLES[0][0], sampler_name=EXAMPLES[0][1], inner=False)
@example(problem=EXAMPLES[1][0], sampler_name=EXAMPLES[1][1], inner=False)
@example(problem=EXAMPLES[2][0], sampler_name=EXAMPLES[2][1], inner=False)
@example(problem=EXAMPLES[3][0], sampler_name=EXAMPLES[3][1], inner=False)
@example(problem=EXAMPLES[4][0], sampler_name=EXAMPLES[4][1], inner=False)
@example(problem=EXAMPLES[5][0], sampler_name=EXAMPLES[5][1], inner=False)
def test_meta_fit_is_well_formed_or_fails_as_documented(problem, sampler_name, inner):
    X, y, counts, seed = problem
    sampler = SAMPLERS[sampler_name]()
    params = (
        {"inner_sampler": sampler, "outer_sampler": None}
        if inner
        else {"outer_sampler": sampler}
    )
    clf = MetaBalanceClassifier(**TINY, tasks_per_step=2, random_state=seed, **params)
    loop = "inner" if inner else "outer"
    _fit_or_documented_error(clf, X, y, counts, sampler_name, f"The {loop} sampler")


@SETTINGS
@given(
    problem=problems(),
    sampler_name=st.sampled_from(list(SAMPLERS)),
    class_weight=st.sampled_from([None, "balanced"]),
)
@example(problem=EXAMPLES[0][0], sampler_name=EXAMPLES[0][1], class_weight=None)
@example(problem=EXAMPLES[1][0], sampler_name=EXAMPLES[1][1], class_weight=None)
@example(problem=EXAMPLES[2][0], sampler_name=EXAMPLES[2][1], class_weight=None)
@example(problem=EXAMPLES[3][0], sampler_name=EXAMPLES[3][1], class_weight=None)
@example(problem=EXAMPLES[4][0], sampler_name=EXAMPLES[4][1], class_weight=None)
@example(problem=EXAMPLES[5][0], sampler_name=EXAMPLES[5][1], class_weight=None)
def test_plain_fit_is_well_formed_or_fails_as_documented(
    problem, sampler_name, class_weight
):
    X, y, counts, seed = problem
    clf = BalancedNetClassifier(
        **TINY,
        sampler=SAMPLERS[sampler_name](),
        class_weight=class_weight,
        random_state=seed,
    )
    fitted = _fit_or_documented_error(clf, X, y, counts, sampler_name, "The sampler")
    if fitted:
        # predictions for a row do not depend on the other rows (up to the
        # rounding of float32 matrix products of different sizes)
        np.testing.assert_allclose(
            clf.predict_proba(X[:3]), clf.predict_proba(X)[:3], atol=1e-6
        )


@pytest.mark.parametrize("Est", [MetaBalanceClassifier, BalancedNetClassifier])
def test_smote_boundary_is_exactly_k_neighbors(Est):
    # 6 minority rows are enough for SMOTE(k_neighbors=5); 5 are not.
    rng = np.random.RandomState(0)
    key = "outer_sampler" if Est is MetaBalanceClassifier else "sampler"
    for n_minority, ok in [(6, True), (5, False)]:
        X = rng.randn(30 + n_minority, 3)
        y = np.array([0] * 30 + [1] * n_minority)
        clf = Est(**TINY, random_state=0, **{key: SMOTE()})
        if ok:
            _check_fitted(clf.fit(X, y), X, y)
        else:
            with pytest.raises(ValueError, match=r"sampler SMOTE\(.*k_neighbors"):
                clf.fit(X, y)
