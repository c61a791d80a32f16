"""
Crossing samplers with balancing losses
=======================================

Class imbalance can be met on the data side, by re-sampling the training rows,
or on the loss side, by re-weighting the rows or adjusting the logits the loss
sees. :class:`~skmetabalance.BalancedNetClassifier` takes both, as ``sampler``
and ``loss``, and :class:`~skmetabalance.MetaBalanceClassifier` takes a loss
for each of its loops (``inner_loss``, ``outer_loss``). This example crosses
three samplers with six losses for the plain network, adds MetaBalance with
each loss in its inner loop, and scores every cell by average precision on one
held-out test split.

The losses compute their class counts and priors from the set their loop
sees, *after* its sampler. That one rule explains much of the grid.
"""

# %%
# Data and split
# --------------
#
# ``yeast_me2`` is a small protein-localisation data set in which about 3.4 %
# of the rows are positive. One stratified split holds out 30 % of the rows
# for testing. The networks stop early on a validation share of the training
# rows (10 %, never resampled), so every cell below is one fit of one network
# with ``random_state=0``.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance.datasets import load_dataset
from skmetabalance.losses import CrossEntropy

X, y = load_dataset("yeast_me2", return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, stratify=y, test_size=0.3, random_state=0
)
print(f"train: {len(y_train)} rows, {int(y_train.sum())} positives")
print(f"test: {len(y_test)} rows, {int(y_test.sum())} positives")

# %%
# The losses
# ----------
#
# With two classes the network has one logit ``s``, and each loss is a binary
# cross-entropy on an adjusted logit, times a class weight. Write ``n_0``,
# ``n_1`` for the class counts of the loop's set and ``pi_0``, ``pi_1`` for its
# priors.
#
# * ``"ce"``: plain binary cross-entropy on ``s``.
# * ``CrossEntropy(class_weight="balanced")``: weights ``N / (2 n_c)``, so a
#   positive row weighs ``n_0 / n_1`` times a negative one (about 28 on the
#   natural rows); the weights are normalised to mean 1 over the set.
# * ``"logit_adjusted"``: the loss sees ``s + log(pi_1 / pi_0)``, a shift of
#   about -3.3 on the natural rows, so the network's own logit ``s`` learns
#   to sit about 3.3 higher, as if the classes were balanced. Predictions use
#   ``s``.
# * ``"focal"``: cross-entropy times ``(1 - p_t) ** 2``, where ``p_t`` is the
#   probability of the true class: rows already classified well weigh little.
#   It uses no class statistics.
# * ``"vs"``: the logit of each row is multiplied by ``(n_y / n_max) ** 0.3``
#   for its true class ``y`` (it shrinks the positives' logits) and shifted
#   like the logit adjustment.
# * ``"ldam_drw"``: margins proportional to ``n_c ** -1/4`` (0.5 for the
#   rarer class): positives train on ``s - m_1``, negatives on ``s + m_0``.
#   Class-balanced weights (:class:`~skmetabalance.losses.EffectiveNumber`)
#   switch on late, at epoch ``floor(0.8 * max_iter) + 1`` (49 here), and early
#   stopping holds until then.
losses = {
    "ce": "ce",
    "balanced weights": CrossEntropy(class_weight="balanced"),
    "logit_adjusted": "logit_adjusted",
    "focal": "focal",
    "vs": "vs",
    "ldam_drw": "ldam_drw",
}

# %%
# The grid
# --------
#
# Rows are the samplers of the plain network: the natural rows (``None``),
# random oversampling (``"over"``) and random undersampling (``"under"``);
# the last two make the training set class-balanced. A last row is
# MetaBalance with its defaults, a natural inner set and an oversampled outer
# set, with each loss as its ``inner_loss`` (the outer loss stays ``"ce"``).
# Every network is a single one (``n_estimators=1``) trained for at most 60
# epochs, behind a :class:`~sklearn.preprocessing.StandardScaler`.
samplers = {"None": None, "over": "over", "under": "under"}
settings = dict(n_estimators=1, max_iter=60, early_stopping=True, random_state=0)


def score_on_test(model):
    model.fit(X_train, y_train)
    return average_precision_score(y_test, model.predict_proba(X_test)[:, 1])


ap = pd.DataFrame(index=[*samplers, "MetaBalance"], columns=list(losses), dtype=float)
steps = ap.copy()
counts = {}
for row, sampler in samplers.items():
    for column, loss in losses.items():
        net = BalancedNetClassifier(sampler=sampler, loss=loss, **settings)
        ap.loc[row, column] = score_on_test(make_pipeline(StandardScaler(), net))
        steps.loc[row, column] = net.n_steps_
    counts[row] = net.class_counts_["train"]
for column, loss in losses.items():
    net = MetaBalanceClassifier(inner_loss=loss, **settings)
    ap.loc["MetaBalance", column] = score_on_test(make_pipeline(StandardScaler(), net))
    steps.loc["MetaBalance", column] = net.n_steps_
counts["MetaBalance inner"] = net.class_counts_["inner"]
counts["MetaBalance outer"] = net.class_counts_["outer"]

print("class counts (negatives, positives) of the set each loop trained on:")
for name, c in counts.items():
    print(f"  {name}: {c.astype(int).tolist()}")
print("\ntest average precision:")
print(ap.round(3).to_string())
print("\noptimiser steps:")
print(steps.astype(int).to_string())

# %%
# Statistics come from the set each loop sees
# -------------------------------------------
#
# On a class-balanced set ``pi_1 / pi_0 = 1`` and ``n_0 = n_1``: the logit
# adjustment shifts by ``log 1 = 0``, the "balanced" weights are all 1, and the
# VS factors are all 1 with a zero shift. These three losses are then plain
# cross-entropy, and with the same seed they train the same network, so their
# cells in the ``over`` and ``under`` rows equal the ``"ce"`` cell to the last
# digit. The focal loss does not depend on the class counts, and LDAM's margins
# are equal but not zero on a balanced set, so their cells differ. On the
# natural rows and in MetaBalance's natural inner set every loss acts. The
# check below lists the cells equal to the ``"ce"`` cell of their row.
for row in ap.index:
    same = [c for c in losses if c != "ce" and ap.loc[row, c] == ap.loc[row, "ce"]]
    print(f"{row}: equal to 'ce': {', '.join(same) or 'none'}")

# %%
# The grid as a heat map
# ----------------------
#
# Each cell is the test average precision; a random ranking scores the share
# of positives, about 0.034. Read the rows with their training in mind: an
# epoch is one pass over the set a network trains on, so the undersampled
# networks (64 rows, a single step per epoch) get far fewer optimiser steps
# than the others (see the table of steps above), and the early-stopping epoch
# of every cell rests on the 4 positives of the validation share. Three
# digits can also hide a difference: the check above tells the cells that are
# the same network from those that merely round alike.
#
# In the run shown here, plain cross-entropy on the natural rows has the
# highest test average precision: on the natural rows every balancing loss
# scored below it, and all but ``"ldam_drw"`` (held to epoch 49) stopped after
# fewer steps. The focal loss scores below ``"ce"`` in every row of the plain
# network, and the inner loss moves MetaBalance's score little. With 15
# positives in the test split, one split of one data set ranks the cells only
# roughly: it shows how the parameters combine, not which combination is best. The :doc:`/evidence` page reports the study of samplers
# and losses over many data sets.
fig, ax = plt.subplots(figsize=(9, 4.5))
image = ax.imshow(ap.to_numpy(), cmap="viridis")
low, high = np.nanmin(ap.to_numpy()), np.nanmax(ap.to_numpy())
for i, row in enumerate(ap.index):
    for j, column in enumerate(ap.columns):
        value = ap.loc[row, column]
        dark = value < low + 0.6 * (high - low)
        ax.text(
            j,
            i,
            f"{value:.3f}",
            ha="center",
            va="center",
            color="white" if dark else "black",
        )
ax.axhline(len(samplers) - 0.5, color="white", linewidth=3)
ax.set_xticks(range(len(losses)), list(losses), rotation=20)
ax.set_yticks(range(len(ap.index)), [*samplers, "MetaBalance\n(inner_loss)"])
ax.set_xlabel("loss (inner_loss for MetaBalance)")
ax.set_ylabel("sampler")
ax.set_title("yeast_me2: test average precision")
fig.colorbar(image, ax=ax, label="average precision")
plt.tight_layout()
plt.show()
