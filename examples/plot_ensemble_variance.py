"""
One network or an ensemble: the spread from seed to seed
========================================================

On a small imbalanced data set one network's result depends on chance: which
rows its batches draw, where its weights start, the epoch at which early
stopping happens to see its few minority validation rows score best. Training
several networks and averaging their probabilities removes much of that
chance. ``n_estimators`` trains the members together, as one batched
computation, so four members cost far less than four fits.

This example fits single networks and four-member ensembles with several
seeds on the same split and compares the spread of their test scores.
"""

# %%
# Data
# ----
#
# ``yeast_me2`` has 1,484 proteins of which 51 belong to the minority
# localisation class: the test quarter holds 13 of them, the validation split
# of the training rows only a handful.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

X, y = load_dataset("yeast_me2", return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Single networks and ensembles, seed after seed
# ----------------------------------------------
#
# Everything but ``random_state`` is fixed; ``n_estimators=4`` trains four
# members, each with its own initial weights, batch order and early stopping.
seeds = range(4)
scores = {1: [], 4: []}
seconds = {1: 0.0, 4: 0.0}
for members in scores:
    for seed in seeds:
        clf = make_pipeline(
            StandardScaler(),
            MetaBalanceClassifier(n_estimators=members, max_iter=30, random_state=seed),
        )
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds[members] += time.perf_counter() - start
        proba = clf.predict_proba(X_test)[:, 1]
        scores[members].append(average_precision_score(y_test, proba))

for members, values in scores.items():
    print(
        f"n_estimators={members}: test AP {np.mean(values):.3f} "
        f"(standard deviation {np.std(values):.3f} over {len(values)} seeds), "
        f"{seconds[members] / len(values):.1f} s per fit"
    )

# %%
# The spread
# ----------
#
# Each dot is one fit; the black bars are the means. Compare the spread of
# the two rows: how much the result depends on the seed.
fig, ax = plt.subplots(figsize=(6, 3.2))
for row, values in enumerate(scores.values()):
    ax.scatter(values, np.full(len(values), row), s=50, alpha=0.7)
    ax.plot([np.mean(values)] * 2, [row - 0.25, row + 0.25], color="black")
ax.set_yticks([0, 1], ["one network", "4-member ensemble"])
ax.set_ylim(-0.6, 1.6)
ax.set_xlabel("test average precision")
ax.set_title("yeast_me2: four seeds each")
fig.tight_layout()
plt.show()
