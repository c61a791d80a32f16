"""
Quick start: MetaBalance on a real imbalanced data set
======================================================

This example fits a :class:`~skmetabalance.MetaBalanceClassifier` on one of
the real data sets shipped with skmetabalance and compares it with two
familiar models on the same split:

* scikit-learn's :class:`~sklearn.neural_network.MLPClassifier`, trained on the
  rows as they are;
* an imbalanced-learn pipeline that oversamples the minority class with SMOTE
  before the same MLP.

All three are ordinary scikit-learn estimators, so they go into pipelines,
cross-validation and grid searches unchanged.
"""

# %%
# Load the data
# -------------
#
# ``page_blocks0`` classifies the blocks of scanned document pages into text
# and non-text (lines, pictures, graphics); about one block in ten is
# non-text, the positive class. :func:`~skmetabalance.datasets.list_datasets`
# lists every shipped data set.
import math
import time
import warnings

import matplotlib.pyplot as plt
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import (
    PrecisionRecallDisplay,
    average_precision_score,
    balanced_accuracy_score,
)
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import MetaBalanceClassifier
from skmetabalance.datasets import list_datasets, load_dataset

print(list_datasets()[["name", "rows", "features", "minority share"]].head(10))

data = load_dataset("page_blocks0")
X, y = data.data, data.target
print(f"{X.shape[0]} rows, {X.shape[1]} features, {y.sum()} positives")

# %%
# Keep a stratified test set aside; every model sees the same training rows.
# The features span several orders of magnitude, so each model standardises
# them first.
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Three models
# ------------
#
# The MetaBalance network is the built-in MLP. Its outer set is
# class-balanced by oversampling (``outer_sampler="over"``) and its inner set
# is the training rows as they are (``inner_sampler=None``). The training
# budgets are small, so that the example runs in seconds, and comparable in
# optimiser steps (an epoch is a different number of steps for each model;
# the printout below reports them). The MLPs would warn that they have not
# converged in that budget; the warning is silenced.
models = {
    "MetaBalanceClassifier": make_pipeline(
        StandardScaler(),
        MetaBalanceClassifier(
            inner_sampler=None, outer_sampler="over", max_iter=40, random_state=0
        ),
    ),
    "MLPClassifier": make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=30, random_state=0),
    ),
    "SMOTE + MLPClassifier": make_imb_pipeline(
        StandardScaler(),
        SMOTE(random_state=0),
        MLPClassifier(hidden_layer_sizes=(64, 64), max_iter=30, random_state=0),
    ),
}

scores = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        proba = model.predict_proba(X_test)[:, 1]
        scores[name] = {
            "average precision": average_precision_score(y_test, proba),
            "balanced accuracy": balanced_accuracy_score(y_test, model.predict(X_test)),
            "fit seconds": seconds,
        }

for name, row in scores.items():
    cells = ", ".join(f"{key} {value:.3f}" for key, value in row.items())
    print(f"{name:>22}: {cells}")

net = models["MetaBalanceClassifier"][-1]
mlp = models["MLPClassifier"][-1]
# MLPClassifier's batch_size="auto" means batches of 200 rows.
mlp_steps = mlp.n_iter_ * math.ceil(len(y_train) / 200)
print(f"MetaBalance: {net.n_steps_} optimiser steps in {net.n_iter_} epochs")
print(f"MLPClassifier: {mlp_steps} optimiser steps in {mlp.n_iter_} epochs")

# %%
# Precision-recall curves
# -----------------------
#
# Average precision summarises the whole precision-recall curve and does not
# depend on a decision threshold, which is why it is the usual score on
# imbalanced data. Balanced accuracy, printed above, is measured at the default
# threshold; :ref:`sphx_glr_auto_examples_plot_operating_point.py` shows how to
# move it.
#
# One split of one data set with a tiny training budget says little about
# which model is better in general; the :doc:`/evidence` page has the
# measurements over many data sets and seeds.
fig, ax = plt.subplots(figsize=(6, 5))
for name, model in models.items():
    PrecisionRecallDisplay.from_estimator(
        model,
        X_test,
        y_test,
        name=name,
        ax=ax,
        plot_chance_level=name == "MetaBalanceClassifier",
    )
ax.set_title("page_blocks0, held-out 30 %")
ax.legend(loc="lower left")
plt.tight_layout()
plt.show()
