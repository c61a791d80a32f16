"""The seed plan: named, independent seeds from one random_state."""

import numpy as np
import pytest
import torch

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance._seeding import SeedPlan


def test_named_seeds_are_reproducible_and_distinct():
    a, b = SeedPlan(0), SeedPlan(0)
    assert a.seed("split") == b.seed("split")
    assert a.seed("init", 0) == b.seed("init", 0)
    names = [("split",), ("init", 0), ("init", 1), ("batches", 0, "outer", 0)]
    seeds = [a.seed(*n) for n in names]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**32 for s in seeds)
    assert SeedPlan(1).seed("split") != a.seed("split")


def test_a_plan_is_rebuilt_from_its_entropy():
    plan = SeedPlan(np.random.RandomState(5))
    again = SeedPlan(entropy=plan.entropy)
    assert again.seed("init", 3) == plan.seed("init", 3)


def test_a_random_state_instance_advances_between_plans():
    rng = np.random.RandomState(0)
    assert SeedPlan(rng).entropy != SeedPlan(rng).entropy


def _initial_weights(clf, X, y):
    # a learning rate so small that one epoch leaves the initial weights
    clf.set_params(lr=1e-30, max_iter=1, weight_decay=0.0, momentum=0.0)
    clf.fit(X, y)
    return [p.detach().clone() for p in clf.module_.parameters()]


@pytest.mark.parametrize(
    "a,b",
    [
        (
            MetaBalanceClassifier(inner_sampler=None, random_state=0),
            MetaBalanceClassifier(inner_sampler="under", random_state=0),
        ),
        (
            BalancedNetClassifier(sampler=None, random_state=0),
            BalancedNetClassifier(
                sampler="smote", class_weight="balanced", random_state=0
            ),
        ),
    ],
)
def test_a_change_in_one_draw_shifts_no_other(binary_data, a, b):
    # Another sampler draws differently, but the validation split and the
    # initial weights come from seeds of their own and stay the same.
    X, y = binary_data
    a.set_params(early_stopping=True)
    b.set_params(early_stopping=True)
    wa, wb = _initial_weights(a, X, y), _initial_weights(b, X, y)
    np.testing.assert_array_equal(a.validation_indices_, b.validation_indices_)
    for pa, pb in zip(wa, wb):
        torch.testing.assert_close(pa, pb, rtol=0, atol=1e-20)


def test_validation_indices_are_stored_and_kept_by_warm_start(binary_data):
    X, y = binary_data
    clf = MetaBalanceClassifier(
        early_stopping=True, max_iter=2, warm_start=True, random_state=None
    ).fit(X, y)
    first = clf.validation_indices_.copy()
    assert np.all(np.diff(first) > 0) and first.max() < len(y)
    # the held-out rows hold every class, in proportion
    assert set(np.unique(y[first])) == set(np.unique(y))
    clf.fit(X, y)
    np.testing.assert_array_equal(clf.validation_indices_, first)
    assert (
        MetaBalanceClassifier(early_stopping=False, max_iter=1)
        .fit(X, y)
        .validation_indices_
        is None
    )
