"""What ``prior_correction`` does to the scores that depend on the probabilities.

The correction is applied at prediction time, so each fit is scored twice:
``prior_correction=False`` and ``True`` on the same fitted network. Protocol:
the quality study's held-out sets (``quality.py sets``) and its five
stratified 70/30 train/test splits; the test rows are scored. Models: the
default ``MetaBalanceClassifier()`` (a class-balanced outer set), and one
network of ``BalancedNetClassifier`` over-sampled, class-weighted and
logit-adjusted; behind the study's preprocessing, seeded by the split.

Scores: average precision and ROC AUC (which the correction cannot change:
the check that it does not), log loss, Brier score, balanced accuracy, and
the mean predicted probability of the positive class against its share of
the test rows (``mean p`` vs ``prevalence``).

    python benchmarks/evidence/prior_correction.py run --jobs 2
    python benchmarks/evidence/prior_correction.py report
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from _common import append_rows, paired_stats, preprocessor, read_rows, rst_table
from quality import HELD_OUT, N_SPLITS, _split
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.pipeline import make_pipeline

RESULTS = Path(__file__).parent / "results" / "prior_correction.csv"
SCORES = ["ap", "roc_auc", "log_loss", "brier", "balanced_accuracy", "mean_p"]
FIELDS = [
    "dataset",
    "split",
    "model",
    "corrected",
    *SCORES,
    "prevalence",
    "fit_seconds",
]

MODELS = {
    "metabalance": ("MetaBalanceClassifier", {}),
    "net_ros": ("BalancedNetClassifier", {"sampler": "over", "n_estimators": 1}),
    "net_weighted": (
        "BalancedNetClassifier",
        {"class_weight": "balanced", "n_estimators": 1},
    ),
    "net_la": ("BalancedNetClassifier", {"loss": "logit_adjusted", "n_estimators": 1}),
}


def _scores(y, p):
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "ap": average_precision_score(y, p),
        "roc_auc": roc_auc_score(y, p),
        "log_loss": log_loss(y, p, labels=[0, 1]),
        "brier": brier_score_loss(y, p),
        "balanced_accuracy": balanced_accuracy_score(y, p > 0.5),
        "mean_p": float(p.mean()),
    }


def _fit_one(model, dataset, split, threads=None):
    import skmetabalance
    from skmetabalance.datasets import load_dataset

    if threads:
        import torch

        torch.set_num_threads(threads)
    bunch = load_dataset(dataset)
    X, y = bunch.data, bunch.target
    tr, te = _split(y, split, "test")
    cls_name, params = MODELS[model]
    est = getattr(skmetabalance, cls_name)(random_state=split, **params)
    pipe = make_pipeline(preprocessor(bunch), est)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X[tr], y[tr])
    seconds = time.perf_counter() - t0
    rows = []
    for corrected in (False, True):
        est.set_params(prior_correction=corrected)
        p = pipe.predict_proba(X[te])[:, 1]
        row = dict(dataset=dataset, split=split, model=model, corrected=int(corrected))
        row.update({k: f"{v:.6f}" for k, v in _scores(y[te], p).items()})
        row.update(prevalence=f"{y[te].mean():.6f}", fit_seconds=f"{seconds:.3f}")
        rows.append(row)
    return rows


def run(models, jobs):
    from joblib import Parallel, delayed

    done = {(r["dataset"], int(r["split"]), r["model"]) for r in read_rows(RESULTS)}
    tasks = [
        (m, d, s)
        for d in HELD_OUT
        for s in range(N_SPLITS)
        for m in models
        if (d, s, m) not in done
    ]
    print(f"{len(tasks)} fits to run", flush=True)
    with append_rows(RESULTS, FIELDS) as write:
        results = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(_fit_one)(*t, threads=1 if jobs > 1 else None) for t in tasks
        )
        for rows in results:
            for row in rows:
                write(row)
            print(rows[0]["dataset"], rows[0]["split"], rows[0]["model"], flush=True)


def report():
    import pandas as pd

    frame = pd.DataFrame(read_rows(RESULTS))
    for col in [*SCORES, "prevalence"]:
        frame[col] = frame[col].astype(float)
    frame["corrected"] = frame["corrected"].astype(int)
    frame["mean_p - prevalence"] = frame["mean_p"] - frame["prevalence"]
    cols = [*SCORES[:-1], "mean_p - prevalence"]
    out = {}
    for model, part in frame.groupby("model"):
        # per-set means over splits, then the mean over sets
        per_set = part.groupby(["corrected", "dataset"])[cols].mean()
        n_sets = per_set.loc[0].shape[0]
        for corrected in (0, 1):
            label = f"{model}{' corrected' if corrected else ''}"
            out[label] = per_set.loc[corrected].mean()
        diff = per_set.loc[1] - per_set.loc[0]
        stats = []
        for c in cols:
            mean, lo, hi, _ = paired_stats(diff[c].to_numpy())
            stats.append(f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]")
        out[f"{model}: change"] = pd.Series(stats, index=cols)
        out[f"{model}: sets"] = pd.Series([n_sets] * len(cols), index=cols)
    table = pd.DataFrame(out).T
    print(rst_table(table, "model"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report"])
    parser.add_argument("--models", nargs="*", default=list(MODELS))
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.models, args.jobs)
    else:
        report()


if __name__ == "__main__":
    main()
