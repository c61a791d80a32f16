"""
A custom network: a small CNN on long-tailed digit images
=========================================================

The ``module`` parameter takes any callable ``module(n_features, n_outputs)``
that returns a :class:`torch.nn.Module`: a Module subclass or a factory
function. The estimator calls it at fit time, once the width of the rows and
the number of classes are known.

Estimators, samplers, pipelines and splitters all work on 2-D tables, so an
image model receives *flattened* rows and reshapes them inside ``forward``.
This example trains a small convolutional network on a long-tailed version of
scikit-learn's 8×8 digits.
"""

# %%
# A long-tailed training set and a balanced test set
# --------------------------------------------------
#
# Forty images per digit are kept aside as a balanced test set. From the rest,
# digit ``c`` keeps ``int(138 * 0.05 ** (c / 9))`` images: 138 zeros down to 6
# nines, an imbalance ratio of 23, the long-tailed setting of image benchmarks.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score, recall_score
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

digits = load_digits()
X = (digits.data / 16.0).astype(np.float32)  # pixel intensities in [0, 1]
y = digits.target

rng = np.random.default_rng(0)
train_idx, test_idx = [], []
for c in range(10):
    rows = rng.permutation(np.flatnonzero(y == c))
    test_idx.extend(rows[:40])
    train_idx.extend(rows[40 : 40 + int(138 * 0.05 ** (c / 9))])
X_train, y_train = X[train_idx], y[train_idx]
X_test, y_test = X[test_idx], y[test_idx]
train_counts = np.bincount(y_train)
print("training images per digit:", train_counts.tolist())

# %%
# The network
# -----------
#
# Two 3×3 convolutions with max-pooling and a linear head. ``forward``
# reshapes each flattened row of 64 pixels into a 1×8×8 image. The output is
# one logit per class (for two classes the estimators expect a single logit).
#
# MetaBalance evaluates all the tasks of a step in one vectorised call
# (:func:`torch.func.vmap`), so the network must be a pure function of its
# weights and input: no batch normalisation with running statistics (use
# :class:`~torch.nn.GroupNorm` or :class:`~torch.nn.LayerNorm`) and no
# in-place updates of buffers. Dropout is fine.


class SmallCNN(nn.Module):
    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.side = int(round(n_features**0.5))
        if self.side**2 != n_features:
            raise ValueError(f"expected square images, got rows of {n_features}")
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(32 * (self.side // 4) ** 2, n_outputs)

    def forward(self, x):
        x = x.reshape(-1, 1, self.side, self.side)
        return self.head(self.features(x).flatten(1))


# %%
# Batch normalisation is refused with a message that says what to use instead:
def with_batchnorm(n_features, n_outputs):
    return nn.Sequential(
        nn.Linear(n_features, 32), nn.BatchNorm1d(32), nn.Linear(32, n_outputs)
    )


try:
    MetaBalanceClassifier(module=with_batchnorm, max_iter=1).fit(X_train, y_train)
except ValueError as err:
    print(err)

# %%
# Train
# -----
#
# MetaBalance with the natural (long-tailed) rows as its inner set and a
# class-balanced, oversampled outer set, against the same network trained
# plainly on the natural rows and on the oversampled rows.
# One network each (the class defaults train four), for a like-for-like
# comparison in a few seconds.
models = {
    "BalancedNet, natural": BalancedNetClassifier(
        module=SmallCNN, n_estimators=1, max_iter=20, lr=0.05, random_state=0
    ),
    "BalancedNet, oversampled": BalancedNetClassifier(
        module=SmallCNN,
        n_estimators=1,
        sampler="over",
        max_iter=20,
        lr=0.05,
        random_state=0,
    ),
    "MetaBalance": MetaBalanceClassifier(
        module=SmallCNN,
        n_estimators=1,
        inner_sampler=None,
        outer_sampler="over",
        max_iter=20,
        lr=0.05,
        random_state=0,
    ),
}
recalls = {}
for name, model in models.items():
    model.fit(X_train, y_train)
    pred = model.predict(X_test)
    recalls[name] = recall_score(y_test, pred, average=None)
    print(
        f"{name:>25}: balanced accuracy {balanced_accuracy_score(y_test, pred):.3f} "
        f"({model.n_steps_} optimiser steps)"
    )

print(models["MetaBalance"].module_)

# %%
# Recall per digit
# ----------------
#
# On a balanced test set, balanced accuracy is plain accuracy and the mean of
# the per-class recalls below. The tail classes (right) are where the
# training set gives the network the fewest examples. The numbers come from
# one seed and a budget of a few seconds; :doc:`/evidence` has measured
# comparisons.
fig, ax = plt.subplots(figsize=(9, 4.5))
width = 0.27
classes = np.arange(10)
for k, (name, recall) in enumerate(recalls.items()):
    ax.bar(classes + (k - 1) * width, recall, width, label=name)
ax.set_xticks(classes, [f"{c}\n({n})" for c, n in zip(classes, train_counts)])
ax.set_xlabel("digit (training images)")
ax.set_ylabel("recall on the balanced test set")
ax.set_ylim(0, 1.2)
ax.set_yticks(np.linspace(0, 1, 6))
ax.legend(loc="upper center", ncols=3)
ax.set_title("Long-tailed digits, SmallCNN")
plt.tight_layout()
plt.show()
