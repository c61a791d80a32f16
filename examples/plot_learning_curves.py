"""
Learning curves and early stopping
==================================

Both estimators record one entry per epoch in ``history_``: the mean outer
(training) loss, the mean inner loss (MetaBalance only), the validation score,
the number of optimiser steps taken so far and the seconds the epoch took.

With ``early_stopping=True`` a stratified ``validation_fraction`` of the
training rows is held out. It is never resampled, so the validation score is
measured on the natural class balance. Training stops after
``n_iter_no_change`` epochs without improvement and the weights of the best
epoch are restored.
"""

# %%
# Data
# ----
#
# ``caravan`` asks which customers buy caravan insurance: 85 socio-demographic
# and product-ownership features, 6 % positives, and a signal weak enough
# that a network overfits it within a few epochs, which is where early
# stopping earns its keep.
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

X, y = load_dataset("caravan", return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Two networks with early stopping
# --------------------------------
#
# The MetaBalance network and its plain baseline, trained on the same
# oversampled (class-balanced) rows, share the network, the optimiser and the
# early-stopping rule: validation average precision (the default ``scoring``),
# a patience of 8 epochs, at most 60 epochs. ``verbose=1`` prints the
# per-epoch table; a star marks each new best epoch.
common = dict(
    n_estimators=1,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=8,
    max_iter=60,
    random_state=0,
)
meta = MetaBalanceClassifier(outer_sampler="over", verbose=1, **common)
plain = BalancedNetClassifier(sampler="over", **common)
models = {"MetaBalance": meta, "BalancedNet, oversampled": plain}
for name, net in models.items():
    pipe = make_pipeline(StandardScaler(), net).fit(X_train, y_train)
    test_ap = average_precision_score(y_test, pipe.predict_proba(X_test)[:, 1])
    print(
        f"{name}: stopped by {net.stopped_reason_} after {net.n_iter_} epochs "
        f"({net.n_steps_} steps); best epoch {net.best_epoch_}, validation AP "
        f"{net.best_validation_score_:.3f}, test AP {test_ap:.3f}"
    )

# %%
# ``history_`` as a table
# -----------------------
#
# ``history_`` is a list of dicts, so :class:`pandas.DataFrame` turns it into
# a table directly.
history = pd.DataFrame(meta.history_)
print(history.head())

# %%
# Plot the curves
# ---------------
#
# Left: the MetaBalance losses per epoch. Right: validation average precision
# of both networks against optimiser steps (an epoch is a different number of
# steps for the two estimators, so steps are the fairer axis); the restored
# epoch is marked. One split and one seed: the curves show how to read
# ``history_``, not which estimator is better.
fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4.5))
ax_loss.plot(history["epoch"], history["train_loss"], label="outer loss (train_loss)")
ax_loss.plot(history["epoch"], history["inner_loss"], label="inner loss")
ax_loss.axvline(meta.best_epoch_, color="grey", linestyle=":", label="best epoch")
ax_loss.set_xlabel("epoch")
ax_loss.set_ylabel("mean loss")
ax_loss.set_title("MetaBalance training losses")
ax_loss.legend()

for name, net in models.items():
    h = pd.DataFrame(net.history_)
    (line,) = ax_val.plot(h["steps"], h["valid_score"], label=name)
    best = h.loc[h["epoch"] == net.best_epoch_].iloc[0]
    ax_val.plot(best["steps"], best["valid_score"], "o", color=line.get_color())
ax_val.set_xscale("log")
ax_val.set_xlabel("optimiser steps (log scale)")
ax_val.set_ylabel("validation average precision")
ax_val.set_title("Early stopping (dot: restored weights)")
ax_val.legend()
plt.tight_layout()
plt.show()
