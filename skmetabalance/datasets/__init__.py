"""Real class-imbalanced data sets for benchmarks and examples.

The tabular data sets are real data sets (from the UCI and KEEL repositories,
R packages and the IJCNN 2007 Agnostic Learning vs. Prior Knowledge challenge)
shipped inside skmetabalance, so they load offline; :func:`list_datasets` lists
them and :func:`load_dataset` loads one. They form two groups, the ``"suite"``
and the ``"study"`` sets (the ``group`` column of :func:`list_datasets`).
Binary sets use the target 1 for the minority (positive) class. In the
source repository, ``benchmarks/tools/build_datasets.py`` rebuilds the shipped
files from the packages that distribute them and verifies them (``--check``).

:func:`load_fashion_mnist_lt` builds a long-tailed Fashion-MNIST image task
from the original files on disk (not shipped; see its documentation).
"""

from ._base import list_datasets, load_dataset
from ._fashion import load_fashion_mnist_lt

__all__ = ["list_datasets", "load_dataset", "load_fashion_mnist_lt"]
