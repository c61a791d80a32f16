import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy generator, fresh for each test."""
    return np.random.RandomState(0)


@pytest.fixture
def binary_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        weights=[0.85],
        class_sep=1.5,
        random_state=0,
    )
    return X, y


@pytest.fixture
def multiclass_data():
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=360,
        n_features=6,
        n_informative=4,
        n_classes=3,
        n_clusters_per_class=1,
        weights=[0.6, 0.3, 0.1],
        class_sep=1.5,
        random_state=0,
    )
    return X, y
