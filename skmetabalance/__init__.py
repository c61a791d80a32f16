"""Neural networks for class-imbalanced data, trained with MetaBalance.

Scikit-learn compatible estimators wrapping a PyTorch network:

* :class:`MetaBalanceClassifier` trains with the MetaBalance meta-learning loop
  (Bansal et al., 2021), an inner and an outer set resampled by
  imbalanced-learn samplers.
* :class:`BalancedNetClassifier` trains the same network plainly on one
  resampled or re-weighted set, the baseline to compare against.
"""

from ._classifier import BalancedNetClassifier, MetaBalanceClassifier
from ._persistence import load_model, save_model

__version__ = "0.2.0.dev0"

__all__ = [
    "MetaBalanceClassifier",
    "BalancedNetClassifier",
    "save_model",
    "load_model",
    "__version__",
]
