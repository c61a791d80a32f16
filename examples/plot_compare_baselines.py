"""
Comparing against baselines on your own data
============================================

Whether MetaBalance helps depends on the data. Before adopting it, compare it
on *your* data with the plain network and with the classic answers to class
imbalance. :func:`skmetabalance.benchmark.compare` does that in one call: it
fits every estimator on repeated stratified train/test splits, behind a
preprocessor fitted on the training rows only, and scores the held-out rows
with average precision, ROC AUC, balanced accuracy and G-mean.
"""

# %%
# Your data
# ---------
#
# Any table works: a numpy array, or a :class:`pandas.DataFrame` whose
# categorical, string or object columns are one-hot encoded automatically.
# Here the Lending Club loans stand in for your data: 22 features, five of
# them categorical, and about 5 % bad loans (charged off, defaulted or late).
# A stratified sample of 3,000 loans keeps the example fast.
import matplotlib.pyplot as plt
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance.benchmark import compare, summarize
from skmetabalance.datasets import load_dataset

data = load_dataset("lending_club", as_frame=True)
X, _, y, _ = train_test_split(
    data.data, data.target, train_size=3000, stratify=data.target, random_state=0
)
print(X.dtypes.value_counts())
print(f"{len(y)} rows, {int(y.sum())} bad loans")

# %%
# The contenders
# --------------
#
# MetaBalance with its defaults (an ensemble of four networks); the same
# network trained plainly with balanced class weights and on undersampled rows
# (the honest baselines: same network, optimiser and ensemble of four); and a
# class-weighted logistic regression. Any scikit-learn
# compatible classifier can join, including imbalanced-learn pipelines. The
# networks get 15 epochs each so that the example runs in seconds; an epoch is
# a different number of optimiser steps for each (the ``n_steps`` column
# below).
estimators = {
    "MetaBalance": MetaBalanceClassifier(max_iter=15),
    "net, balanced weights": BalancedNetClassifier(
        class_weight="balanced", max_iter=15
    ),
    "net, undersampled": BalancedNetClassifier(sampler="under", max_iter=15),
    "logistic regression": LogisticRegression(
        class_weight="balanced", solver="liblinear"
    ),
}

# %%
# Run the comparison
# ------------------
#
# Three splits with 30 % of the rows held out each. ``compare`` seeds every
# unset ``random_state`` from the split, so the results are reproducible; a
# ``cache_dir`` would let an interrupted comparison resume.
results = compare(estimators, X, y, n_repeats=3, test_size=0.3, random_state=0)
columns = ["model", "split", "average_precision", "roc_auc", "n_steps", "fit_time"]
print(results[columns].to_string())

# %%
# ``summarize`` turns the rows into one line per model: the mean of each
# score, the rank by mean average precision (averaged over data sets when the
# results hold several), the number of data sets won and the mean fit time.
print(summarize(results).to_string())

# %%
# Plot the scores per split
# -------------------------
#
# Each dot is one split, the bar the mean; the minority class share is the
# average precision of a random ranking. With 3 splits and about 47 bad loans
# per test split, differences smaller than the spread of the dots are noise:
# raise ``n_repeats`` before drawing conclusions. The :doc:`/evidence` page
# runs the same comparison over all the shipped data sets.
models = list(estimators)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, metric in zip(axes, ["average_precision", "roc_auc"]):
    for i, name in enumerate(models):
        scores = results.loc[results["model"] == name, metric]
        ax.barh(i, scores.mean(), color="lightsteelblue")
        ax.plot(scores, [i] * len(scores), "o", color="navy")
    ax.set_xlabel(metric.replace("_", " "))
axes[0].axvline(y.mean(), color="grey", linestyle="--", label="random ranking")
axes[0].legend(loc="lower right")
axes[1].axvline(0.5, color="grey", linestyle="--")
axes[0].set_yticks(range(len(models)), models)
axes[0].invert_yaxis()
fig.suptitle("Lending Club sample: scores on 3 held-out splits")
plt.tight_layout()
plt.show()
