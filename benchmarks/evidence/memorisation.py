"""Memorisation: over-parameterised networks trained long, measured as they train.

MetaBalance's claim is that a network trained on a re-sampled or re-weighted
objective memorises the few minority rows, and that the meta loop avoids
that. This study trains networks large enough to fit every training row, for
a fixed budget of optimiser steps that is the same for every contender, with
no early stopping, and records at regular step intervals:

* ``train_loss``: binary cross-entropy of the network on the natural
  training rows (the same loss for every contender, whatever it trains on);
* ``train_recall``: recall of the minority (positive) training rows at the
  network's own threshold (probability 0.5);
* ``test_ap``, ``test_bacc``, ``test_recall``: average precision, balanced
  accuracy and minority recall on the test rows.

Measures per fit (``report``): the final test AP, the best test AP over the
run, the drop from best to final (what memorising costs), and the gap
between training and test minority recall at the end. Paired statistics over
sets (means over seeds first), as in the quality study; a difference inside
the noise band is a tie.

Protocol: the quality study's sets and splits (``quality.py``): the
selection sets choose anything chosen here, the held-out sets report; the
first ``--splits`` of its five stratified 70/30 train/test splits; every
model behind the study's preprocessing and seeded by the split. Every
contender is one network (``n_estimators=1``) of ``--width`` x ``--depth``
ReLU units, ``geometry='fixed'``, 64 rows per optimiser step (MetaBalance: 4
tasks of 16 outer rows), and trains for ``--steps`` steps (rounded up to a
whole epoch).

The per-step measurements come from a probe that evaluates the networks
every ``--every`` steps, between epochs, without touching their weights, the
optimiser or any random stream; it needs one private hook of the estimators
(``_setup``), which makes the contenders instrumented copies of the public
estimators, not something a user would write.

    python benchmarks/evidence/memorisation.py run --contenders plain ros mb --jobs 2
    python benchmarks/evidence/memorisation.py report [--reference mb] \
        [--careful mb_e4 net_ros_e4]   # early-stopped quality rows, same splits
    python benchmarks/evidence/memorisation.py curves --sets vowel0
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _common import (
    append_rows,
    paired_stats,
    paired_verdict,
    preprocessor,
    read_rows,
)
from quality import HELD_OUT, SELECTION, _split
from sklearn.metrics import average_precision_score, balanced_accuracy_score

RESULTS = Path(__file__).parent / "results" / "memorisation.csv"
FIELDS = [
    "dataset",
    "split",
    "contender",
    "width",
    "depth",
    "steps_budget",
    "final_ap",
    "best_ap",
    "final_bacc",
    "train_recall",
    "test_recall",
    "train_loss",
    "fit_seconds",
    "curve",
]
MIN_EFFECT = 0.005

#: Contenders: the estimator and its parameters (on top of the common ones).
CONTENDERS = {
    "plain": ("net", {}),
    "weighted": ("net", {"class_weight": "balanced"}),
    "ros": ("net", {"sampler": "ros"}),
    "smote": ("net", {"sampler": "smote"}),
    "la": ("net", {"loss": "logit_adjusted"}),
    "ldam_drw": ("net", {"loss": "ldam_drw"}),
    "vs": ("net", {"loss": "vs"}),
    "mb": ("mb", {}),
    "mb_rus_in": ("mb", {"inner_sampler": "rus"}),
    "mb_ilr01_so": ("mb", {"inner_lr": 0.1, "first_order": False}),
    "mb_ilr03_so": ("mb", {"inner_lr": 0.3, "first_order": False}),
    "mb_ilr03_fo": ("mb", {"inner_lr": 0.3, "first_order": True}),
    "mb_in_la": ("mb", {"inner_loss": "logit_adjusted"}),
    "mb_nat_vs": ("mb", {"outer_sampler": None, "outer_loss": "vs"}),
}


def _sampler(name, seed):
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    kinds = {"ros": RandomOverSampler, "rus": RandomUnderSampler, "smote": SMOTE}
    return kinds[name](random_state=seed)


class _Probe(list):
    """A ``history_`` list that measures the networks as epochs are appended."""

    def __init__(self, modules, measure, every):
        super().__init__()
        self.modules, self.measure, self.every = modules, measure, every
        self.curve = []
        self._next = every

    def append(self, record):
        super().append(record)
        if record["steps"] >= self._next:
            self._next = record["steps"] + self.every
            self.curve.append({"steps": record["steps"], **self._evaluate()})

    def _evaluate(self):
        was = [m.training for m in self.modules]
        for m in self.modules:
            m.eval()
        try:
            with torch.no_grad():
                return self.measure(self.modules[0])
        finally:
            for m, t in zip(self.modules, was):
                m.train(t)


def _instrumented(cls, budget, every, measure):
    """``cls`` training for ``budget`` steps and probing every ``every`` steps."""

    class Probed(cls):
        def _setup(self, X, y, sample_weight):
            run = super()._setup(X, y, sample_weight)
            # The step budget in whole epochs of this fit's geometry; set up
            # again, so that what depends on max_iter (deferred weights)
            # follows it.
            self.max_iter = math.ceil(budget / run.stepper.steps_per_epoch)
            run = super()._setup(X, y, sample_weight)
            run.history = self.probe_ = _Probe(run.stepper.modules, measure, every)
            return run

    Probed.__name__ = cls.__name__
    return Probed


def _measure_fn(X_tr, y_tr, X_te, y_te):
    """Scores of a network on the (preprocessed) training and test rows."""
    x_tr = torch.as_tensor(np.asarray(X_tr, dtype=np.float32))
    x_te = torch.as_tensor(np.asarray(X_te, dtype=np.float32))
    t_tr = torch.as_tensor(y_tr, dtype=torch.float32)

    def measure(net):
        s_tr = net(x_tr)[:, 0]
        p_te = torch.sigmoid(net(x_te)[:, 0]).double().numpy()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(s_tr, t_tr)
        pos = y_tr == 1
        return {
            "train_loss": float(loss),
            "train_recall": float((s_tr.numpy()[pos] > 0).mean()),
            "test_ap": average_precision_score(y_te, p_te),
            "test_bacc": balanced_accuracy_score(y_te, p_te > 0.5),
            "test_recall": float((p_te[y_te == 1] > 0.5).mean()),
        }

    return measure


def probed_fit(contender, seed, common, measure, steps, every, X, y):
    """Fit ``contender`` (seeded by ``seed``, on top of the ``common``
    parameters) for ``steps`` steps, probed by ``measure`` every ``every``.

    Returns the fitted estimator, its curve (ending with the weights the fit
    ends with) and the fit seconds.
    """
    from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

    kind, params = CONTENDERS[contender]
    params = dict(params)
    for key in ("sampler", "inner_sampler", "outer_sampler"):
        if params.get(key) in ("ros", "rus", "smote"):
            params[key] = _sampler(params[key], seed)
    base = MetaBalanceClassifier if kind == "mb" else BalancedNetClassifier
    est = _instrumented(base, steps, every, measure)(**common, **params)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    seconds = time.perf_counter() - t0
    curve = est.probe_.curve
    if not curve or curve[-1]["steps"] != est.n_steps_:
        # The weights the fit ends with (the module is in eval mode after fit).
        with torch.no_grad():
            curve.append({"steps": est.n_steps_, **measure(est.module_)})
    return est, curve, seconds


def curve_json(curve):
    """A probe curve as one compact JSON cell."""
    return json.dumps(
        [{k: round(v, 5) for k, v in c.items()} for c in curve], separators=(",", ":")
    )


def run_fits(fit, tasks, jobs, results, fields):
    """Run ``fit(*task)`` for every task, ``jobs`` at a time (one thread
    each when more than one), appending each row to ``results`` as it ends."""
    from joblib import Parallel, delayed

    with append_rows(results, fields) as write:
        rows = Parallel(n_jobs=jobs, return_as="generator_unordered")(
            delayed(fit)(*t, threads=1 if jobs > 1 else None) for t in tasks
        )
        for row in rows:
            write(row)
            print({k: v for k, v in row.items() if k != "curve"}, flush=True)


def fit_one(contender, dataset, split, width, depth, steps, every, threads=None):
    from skmetabalance.datasets import load_dataset

    if threads:
        torch.set_num_threads(threads)
    bunch = load_dataset(dataset)
    X, y = bunch.data, bunch.target
    tr, te = _split(y, split, "test")
    pre = preprocessor(bunch).fit(X[tr])
    X_tr, X_te = pre.transform(X[tr]), pre.transform(X[te])
    common = dict(
        hidden_layer_sizes=(width,) * depth,
        n_estimators=1,
        early_stopping=False,
        geometry="fixed",
        random_state=split,
    )
    measure = _measure_fn(X_tr, y[tr], X_te, y[te])
    _, curve, seconds = probed_fit(
        contender, split, common, measure, steps, every, X_tr, y[tr]
    )
    last = curve[-1]
    return dict(
        dataset=dataset,
        split=split,
        contender=contender,
        width=width,
        depth=depth,
        steps_budget=steps,
        final_ap=f"{last['test_ap']:.6f}",
        best_ap=f"{max(c['test_ap'] for c in curve):.6f}",
        final_bacc=f"{last['test_bacc']:.6f}",
        train_recall=f"{last['train_recall']:.6f}",
        test_recall=f"{last['test_recall']:.6f}",
        train_loss=f"{last['train_loss']:.6g}",
        fit_seconds=f"{seconds:.3f}",
        curve=curve_json(curve),
    )


def _key(r):
    return (
        r["dataset"],
        int(r["split"]),
        r["contender"],
        int(r["width"]),
        int(r["depth"]),
        int(r["steps_budget"]),
    )


def run(contenders, sets, splits, width, depth, steps, every, jobs):
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"unknown contenders {unknown}; known: {list(CONTENDERS)}")
    done = {_key(r) for r in read_rows(RESULTS)}
    tasks = [
        (c, d, s, width, depth, steps, every)
        for d in sets
        for s in range(splits)
        for c in contenders
        if (d, s, c, width, depth, steps) not in done
    ]
    print(f"{len(tasks)} fits to run", flush=True)
    run_fits(fit_one, tasks, jobs, RESULTS, FIELDS)


def _frame(sets, width, depth, steps):
    import pandas as pd

    rows = [
        r
        for r in read_rows(RESULTS)
        if r["dataset"] in sets
        and (int(r["width"]), int(r["depth"]), int(r["steps_budget"]))
        == (width, depth, steps)
    ]
    frame = pd.DataFrame(rows)
    for c in ["final_ap", "best_ap", "final_bacc", "train_recall", "test_recall"]:
        frame[c] = frame[c].astype(float)
    frame["drop"] = frame["best_ap"] - frame["final_ap"]
    frame["recall_gap"] = frame["train_recall"] - frame["test_recall"]
    return frame


def _across_line(name, diffs, better, worse):
    """One line on per-set mean differences: their mean, 95 % bootstrap
    interval and Wilcoxon p over the sets, and the per-set verdict counts."""
    mean, lo, hi, p = paired_stats(diffs)
    return (
        f"  {name:14s} mean diff {mean:+.4f} [{lo:+.4f}, {hi:+.4f}] over "
        f"{len(diffs)} sets; better on {better}, worse on {worse}, tie on "
        f"{len(diffs) - better - worse}; Wilcoxon p={p:.3f}"
    )


def report(sets, width, depth, steps, reference):
    from _common import rst_table

    frame = _frame(sets, width, depth, steps)
    cols = ["final_ap", "best_ap", "drop", "final_bacc", "train_recall", "recall_gap"]
    per_set = frame.groupby(["contender", "dataset"])[cols].mean()
    complete = [
        c for c in frame["contender"].unique() if per_set.loc[c].shape[0] == len(sets)
    ]
    table = per_set.loc[complete].groupby("contender").mean()
    order = [c for c in CONTENDERS if c in table.index]
    table = table.loc[order]
    splits = sorted(int(s) for s in frame["split"].unique())
    print(
        f"{len(sets)} sets, splits {splits}, {depth} x {width} units, {steps} steps; "
        "means over sets of per-set means over splits"
    )
    print(rst_table(table, "contender"))
    if reference not in table.index:
        return
    for metric in ("final_ap", "best_ap", "drop"):
        print(f"\npaired against {reference}, {metric} (per-set mean differences):")
        for c in order:
            if c == reference:
                continue
            diffs, verdicts = [], []
            for d in sets:
                a = frame[(frame.contender == reference) & (frame.dataset == d)]
                b = frame[(frame.contender == c) & (frame.dataset == d)]
                common = sorted(set(a["split"]) & set(b["split"]))
                if len(common) < 2:
                    continue
                da = a.set_index("split").loc[common, metric]
                db = b.set_index("split").loc[common, metric]
                mean, _, verdict = paired_verdict(list(db - da), MIN_EFFECT)
                diffs.append(mean)
                verdicts.append(verdict)
            if not diffs:
                continue
            sign = -1 if metric == "drop" else 1  # a smaller drop is a win
            wins = sum(v == ("win" if sign > 0 else "loss") for v in verdicts)
            losses = sum(v == ("loss" if sign > 0 else "win") for v in verdicts)
            print(_across_line(c, diffs, wins, losses))


def against_quality(sets, width, depth, steps, careful):
    """Each long-trained contender's final AP against early-stopped models of
    the quality study (its ``quality.csv`` rows) on the same test splits."""
    from quality import RESULTS as QUALITY

    frame = _frame(sets, width, depth, steps)
    quality = [r for r in read_rows(QUALITY) if r["part"] == "test"]
    ap = {
        (r["candidate"], r["dataset"], int(r["split"])): float(r["ap"]) for r in quality
    }
    for name in careful:
        print(f"\nfinal AP against {name} (early-stopped, quality.csv), same splits:")
        for c in [c for c in CONTENDERS if c in set(frame["contender"])]:
            diffs, verdicts = [], []
            for d in sets:
                part = frame[(frame.contender == c) & (frame.dataset == d)]
                pairs = [
                    (float(r.final_ap), ap[(name, d, int(r.split))])
                    for r in part.itertuples()
                    if (name, d, int(r.split)) in ap
                ]
                if len(pairs) < 2:
                    continue
                mean, _, verdict = paired_verdict([a - b for a, b in pairs], MIN_EFFECT)
                diffs.append(mean)
                verdicts.append(verdict)
            if len(diffs) < len(sets):
                continue
            print(_across_line(c, diffs, verdicts.count("win"), verdicts.count("loss")))


def curves(sets, width, depth, steps, contenders):
    """Per-contender test AP and training minority recall along the steps."""
    frame = _frame(sets, width, depth, steps)
    for d in sets:
        print(f"\n{d}")
        for c in contenders or CONTENDERS:
            part = frame[(frame.dataset == d) & (frame.contender == c)]
            if part.empty:
                continue
            curve = json.loads(part.iloc[0]["curve"])
            text = " ".join(
                f"{p['steps']}:{p['test_ap']:.2f}/{p['train_recall']:.2f}"
                for p in curve
            )
            print(f"  {c:12s} (steps: test AP / train recall) {text}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "report", "curves"])
    parser.add_argument("--contenders", nargs="*", default=None)
    parser.add_argument("--sets", nargs="*", default=None)
    parser.add_argument("--part", choices=["selection", "held_out"], default="held_out")
    parser.add_argument("--splits", type=int, default=2)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--reference", default="mb")
    parser.add_argument(
        "--careful",
        nargs="*",
        default=["mb_e4", "net_ros_e4"],
        help="report: quality-study models (early-stopped) to pair the final AP with",
    )
    args = parser.parse_args(argv)
    sets = args.sets or (HELD_OUT if args.part == "held_out" else SELECTION)
    if args.command == "run":
        run(
            args.contenders or list(CONTENDERS),
            sets,
            args.splits,
            args.width,
            args.depth,
            args.steps,
            args.every,
            args.jobs,
        )
    elif args.command == "report":
        report(sets, args.width, args.depth, args.steps, args.reference)
        if args.careful:
            against_quality(sets, args.width, args.depth, args.steps, args.careful)
    else:
        curves(sets, args.width, args.depth, args.steps, args.contenders)


if __name__ == "__main__":
    main()
