"""
Choosing the operating point: thresholds and calibration
========================================================

A MetaBalance network trained on a *class-balanced* outer set (here
``outer_sampler="over"``) learns probabilities that describe a world in which
the classes are about equally common: they overstate the minority class on
the real, imbalanced data, and the default decision threshold of 0.5 is
rarely the one a project needs.

Neither is a defect to fix inside the model. scikit-learn has two
meta-estimators that work on top of any fitted classifier:

* :class:`~sklearn.model_selection.TunedThresholdClassifierCV` picks the
  decision threshold that maximises a metric of your choice;
* :class:`~sklearn.calibration.CalibratedClassifierCV` maps the scores to
  probabilities that match the observed class frequencies.

Both need rows the network was not trained on, so the data are split three
ways: training, tuning and test.
"""

# %%
# Data and a fitted model
# -----------------------
#
# ``satimage`` labels satellite image pixels; the positive class, damp grey
# soil, is about one pixel in ten.
import matplotlib.pyplot as plt
from sklearn.calibration import CalibratedClassifierCV, CalibrationDisplay
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import (
    PrecisionRecallDisplay,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
)
from sklearn.model_selection import TunedThresholdClassifierCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skmetabalance import MetaBalanceClassifier
from skmetabalance.datasets import load_dataset

X, y = load_dataset("satimage", return_X_y=True)
X_rest, X_test, y_rest, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
X_train, X_tune, y_train, y_tune = train_test_split(
    X_rest, y_rest, test_size=1 / 3, stratify=y_rest, random_state=0
)
print(f"train {len(y_train)}, tune {len(y_tune)}, test {len(y_test)} rows")

model = make_pipeline(
    StandardScaler(),
    MetaBalanceClassifier(outer_sampler="over", max_iter=20, random_state=0),
)
model.fit(X_train, y_train)

# %%
# Tune the threshold
# ------------------
#
# ``cv="prefit"`` with ``refit=False`` keeps the fitted model as it is and only
# searches the threshold, on the tuning rows. Here the threshold maximises the
# F1 score; any scorer works (a cost-sensitive one, recall at a minimum
# precision, ...).
tuned = TunedThresholdClassifierCV(model, scoring="f1", cv="prefit", refit=False)
tuned.fit(X_tune, y_tune)
print(f"tuned threshold: {tuned.best_threshold_:.3f}")

# %%
# Calibrate the probabilities
# ---------------------------
#
# :class:`~sklearn.frozen.FrozenEstimator` stops ``CalibratedClassifierCV``
# from refitting the network; Platt's sigmoid is fitted on the tuning rows.
calibrated = CalibratedClassifierCV(FrozenEstimator(model), method="sigmoid")
calibrated.fit(X_tune, y_tune)

p_raw = model.predict_proba(X_test)[:, 1]
p_cal = calibrated.predict_proba(X_test)[:, 1]
print(
    f"mean predicted probability: raw {p_raw.mean():.3f}, calibrated {p_cal.mean():.3f}"
)
print(f"share of positives in the test set: {y_test.mean():.3f}")
print(
    f"Brier score: raw {brier_score_loss(y_test, p_raw):.4f}, "
    f"calibrated {brier_score_loss(y_test, p_cal):.4f}"
)

# %%
# Three operating points on the test set
# --------------------------------------
#
# The sigmoid is monotone, so calibration does not change the ranking of the
# rows (the precision-recall curve is the same) but moves the point that a
# 0.5 threshold selects on it; the tuned threshold moves it to where F1 peaks
# on the tuning rows. Both were fitted on the tuning rows only, so the test
# scores are honest estimates.
points = {
    "raw model, threshold 0.5": model.predict(X_test),
    f"tuned threshold {tuned.best_threshold_:.2f}": tuned.predict(X_test),
    "calibrated, threshold 0.5": calibrated.predict(X_test),
}
for name, pred in points.items():
    print(
        f"{name:>28}: precision {precision_score(y_test, pred):.3f}, "
        f"recall {recall_score(y_test, pred):.3f}, F1 {f1_score(y_test, pred):.3f}"
    )

fig, (ax_pr, ax_cal) = plt.subplots(1, 2, figsize=(11, 4.8))
PrecisionRecallDisplay.from_predictions(
    y_test, p_raw, name="MetaBalance", ax=ax_pr, plot_chance_level=True
)
for (name, pred), marker in zip(points.items(), ["o", "*", "s"]):
    ax_pr.plot(
        recall_score(y_test, pred),
        precision_score(y_test, pred),
        marker=marker,
        markersize=12,
        linestyle="none",
        label=name,
    )
ax_pr.set_title("Precision-recall curve and operating points")
ax_pr.legend(loc="lower left")

CalibrationDisplay.from_predictions(
    y_test, p_raw, n_bins=10, strategy="quantile", name="raw", ax=ax_cal
)
CalibrationDisplay.from_predictions(
    y_test, p_cal, n_bins=10, strategy="quantile", name="calibrated", ax=ax_cal
)
ax_cal.set_title("Reliability on the test set")
ax_cal.set_xlim(0, 1)
ax_cal.set_ylim(0, 1)
ax_cal.set_aspect("equal")
ax_cal.legend(loc="upper left")
plt.tight_layout()
plt.show()
