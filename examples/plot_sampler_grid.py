"""
Choosing the inner and outer samplers with a grid search
========================================================

MetaBalance sees the training rows through two samplers: the *inner* sampler
builds the set the inner gradient step adapts to, the *outer* sampler builds
the set the adapted weights are scored on. Which pair works best depends on
the data, so treat the pair as a hyperparameter and choose it by
cross-validation, like any other.

Both parameters accept ``None`` (the rows as they are), the shortcuts
``"over"``, ``"under"`` and ``"smote"``, or any imbalanced-learn sampler
object, so :class:`~sklearn.model_selection.GridSearchCV` can search over them
directly.
"""

# %%
# Data and model
# --------------
#
# ``yeast_me2`` is a small protein-localisation data set in which about 3.4 %
# of the rows are positive. The model standardises the features and trains a
# MetaBalance network. Each optimiser step draws ``tasks_per_step=16`` outer
# batches of ``outer_batch_size=32`` rows, 512 outer rows in all.
import matplotlib.pyplot as plt
import numpy as np
from imblearn.under_sampling import TomekLinks
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

X, y = load_dataset("yeast_me2", return_X_y=True)
print(f"{X.shape[0]} rows, {int(y.sum())} positives")

model = make_pipeline(
    StandardScaler(),
    MetaBalanceClassifier(tasks_per_step=16, outer_batch_size=32, random_state=0),
)

# %%
# The grid
# --------
#
# Three inner samplers (the natural rows, random undersampling, and an
# imbalanced-learn object, :class:`~imblearn.under_sampling.TomekLinks`, that
# removes majority rows on the class boundary) against three outer samplers.
# Average precision is scored on three stratified folds.
#
# ``max_iter`` counts epochs, and an epoch is one pass over the *outer* set.
# In a training fold of about 990 rows (34 positives), oversampling (or SMOTE)
# makes an outer set of about 1,900 rows, 4 steps per epoch, while
# undersampling leaves about 70 rows, a single step. Equal ``max_iter`` would
# give the undersampled cells a quarter of the training, so the grid is given
# as two parts that both come to 24 optimiser steps: 6 epochs for the large
# outer sets and 24 for the small one.
inner = [None, "under", TomekLinks()]
outer = ["over", "under", "smote"]
prefix = "metabalanceclassifier__"
search = GridSearchCV(
    model,
    param_grid=[
        {
            prefix + "inner_sampler": inner,
            prefix + "outer_sampler": ["over", "smote"],
            prefix + "max_iter": [6],
        },
        {
            prefix + "inner_sampler": inner,
            prefix + "outer_sampler": ["under"],
            prefix + "max_iter": [24],
        },
    ],
    scoring="average_precision",
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X, y)
print("best pair:", search.best_params_)
print(f"best cross-validated average precision: {search.best_score_:.3f}")
best = search.best_estimator_[-1]
print(f"refitted on all rows: {best.n_steps_} optimiser steps in {best.n_iter_} epochs")

# %%
# The grid as a heat map
# ----------------------
#
# Rows are inner samplers, columns outer samplers; each cell shows the mean
# average precision over the folds and its standard deviation. With three folds
# and a few dozen positives the standard deviations are as large as most
# differences between cells, so a grid like this one ranks the pairs only
# roughly; repeated cross-validation
# (:class:`~sklearn.model_selection.RepeatedStratifiedKFold`) narrows it down at
# a proportional cost. Compare the rows too: where changing the inner sampler
# barely moves the score, the inner set matters little at these ``inner_lr``
# and ``inner_loss_weight`` values. The :doc:`/evidence` page reports how
# sampler pairs compare over the benchmark data sets.


def label(sampler):
    if sampler is None:
        return "None"
    return sampler if isinstance(sampler, str) else type(sampler).__name__


results = search.cv_results_
mean = np.empty((len(inner), len(outer)))
std = np.empty_like(mean)
for params, m, s in zip(
    results["params"], results["mean_test_score"], results["std_test_score"]
):
    i = [label(v) for v in inner].index(label(params[prefix + "inner_sampler"]))
    j = outer.index(params[prefix + "outer_sampler"])
    mean[i, j], std[i, j] = m, s

fig, ax = plt.subplots(figsize=(6, 4.5))
image = ax.imshow(mean, cmap="viridis")
for i in range(len(inner)):
    for j in range(len(outer)):
        dark = mean[i, j] < mean.min() + 0.6 * (mean.max() - mean.min())
        ax.text(
            j,
            i,
            f"{mean[i, j]:.3f}\n± {std[i, j]:.3f}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
ax.set_xticks(range(len(outer)), [label(s) for s in outer])
ax.set_yticks(range(len(inner)), [label(s) for s in inner])
ax.set_xlabel("outer_sampler")
ax.set_ylabel("inner_sampler")
ax.set_title("yeast_me2: cross-validated average precision")
fig.colorbar(image, ax=ax, label="mean average precision")
plt.tight_layout()
plt.show()
