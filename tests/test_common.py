"""scikit-learn's estimator checks on both estimators, with small settings."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

# Small networks, few epochs and a larger learning rate keep the checks fast
# while still passing the accuracy thresholds of check_classifiers_train and
# check_class_weight_classifiers.
SMALL = dict(
    hidden_layer_sizes=(16,), max_iter=15, lr=0.1, random_state=0, device="cpu"
)

ESTIMATORS = [
    MetaBalanceClassifier(
        tasks_per_step=4, batch_size=16, outer_batch_size=16, **SMALL
    ),
    BalancedNetClassifier(batch_size=16, **SMALL),
]

_WEIGHT_REASON = (
    "minibatch SGD: a row of weight 2 and the same row repeated twice give the "
    "same expected gradient, but repetition changes the number of rows per epoch, "
    "hence the number of optimiser steps and the batch composition, so the fitted "
    "networks differ (they agree only in expectation)"
)
_SUBSET_REASON = (
    "the network computes in float32, and a BLAS matrix product rounds a row's "
    "result differently depending on the other rows (their number and, for some "
    "layer widths, the row's position), so outputs on a subset differ from those "
    "on the full set by up to ~5e-7, above the check's tolerance of 1e-7; see "
    "docs/errors.rst, Determinism"
)
_COMMON_XFAIL = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHT_REASON,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHT_REASON,
    "check_methods_subset_invariance": _SUBSET_REASON,
}
EXPECTED_FAILED = {
    "MetaBalanceClassifier": _COMMON_XFAIL,
    "BalancedNetClassifier": _COMMON_XFAIL,
}


def _expected_failed(estimator):
    return EXPECTED_FAILED.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
