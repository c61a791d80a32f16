"""Memorisation on long-tailed Fashion-MNIST: a large CNN trained long.

The image half of the memorisation study (``memorisation.py`` has the
tabular half and the protocol). The training set is Fashion-MNIST made
long-tailed (class 0 keeps ``--n-max`` images, class 9 ``n_max /
imbalance_factor``, exponential profile in between; see
:func:`skmetabalance.datasets.load_fashion_mnist_lt`); the test set is the
original balanced one (1,000 images per class), so its accuracy is the
balanced accuracy.

Every contender is one network, :class:`LargeCNN` (about twenty times the
weights of the evidence page's ``SmallCNN``), trained for the same budget of
``--steps`` optimiser steps of 64 rows (MetaBalance: 4 tasks of 16 outer
rows), ``geometry='fixed'``, no early stopping. Every ``--every`` steps a
probe (the tabular study's, weights untouched) records:

* ``train_loss``: cross-entropy on the natural long-tailed training rows;
* ``train_tail``: mean recall of the three rarest classes (7, 8, 9) on the
  training rows, at the predicted class (arg-max);
* ``test_bacc``: balanced test accuracy; ``test_tail``: mean test recall of
  classes 7, 8, 9.

Measures per fit: final and best balanced accuracy over the run, the drop
from best to final, and the gap between training and test tail recall.
Requires the Debian package ``dataset-fashion-mnist``. Resumable::

    python benchmarks/evidence/memorisation_images.py run --imbalance-factor 100 10 \
        --seeds 0 1 --contenders plain ros la mb --jobs 2
    python benchmarks/evidence/memorisation_images.py report
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from _common import read_rows, rst_table
from fashion_mnist import SmallCNN
from memorisation import CONTENDERS, curve_json, probed_fit, run_fits

RESULTS = Path(__file__).parent / "results" / "memorisation_images.csv"
FIELDS = [
    "imbalance_factor",
    "n_max",
    "seed",
    "contender",
    "n_weights",
    "steps_budget",
    "final_bacc",
    "best_bacc",
    "train_tail",
    "test_tail",
    "train_loss",
    "fit_seconds",
    "curve",
]
TAIL = (7, 8, 9)


class LargeCNN(SmallCNN):
    """``SmallCNN`` at 32 and 64 channels, with a 128-unit hidden layer
    before the linear head.

    About 0.42M weights, twenty times ``SmallCNN`` (21k); like it, it takes
    flattened 28x28 rows and has no running statistics, so that it can be
    vectorised over MetaBalance tasks.
    """

    def __init__(self, n_features, n_outputs, width=32, hidden=128):
        super().__init__(n_features, n_outputs, width=width, hidden=hidden)


def large_cnn(n_features, n_outputs):
    """Module factory passed as ``module=``."""
    return LargeCNN(n_features, n_outputs)


def n_weights(module):
    return sum(p.numel() for p in module.parameters())


def _measure_fn(X_tr, y_tr, X_te, y_te, chunk=1000):
    x_tr = torch.as_tensor(np.asarray(X_tr, dtype=np.float32))
    x_te = torch.as_tensor(np.asarray(X_te, dtype=np.float32))
    t_tr = torch.as_tensor(y_tr, dtype=torch.long)

    def logits(net, x):
        return torch.cat([net(x[i : i + chunk]) for i in range(0, len(x), chunk)])

    def recalls(y, pred):
        return np.array([(pred[y == c] == c).mean() for c in range(10)])

    def measure(net):
        s_tr = logits(net, x_tr)
        loss = torch.nn.functional.cross_entropy(s_tr, t_tr)
        r_tr = recalls(y_tr, s_tr.argmax(1).numpy())
        r_te = recalls(y_te, logits(net, x_te).argmax(1).numpy())
        return {
            "train_loss": float(loss),
            "train_tail": float(r_tr[list(TAIL)].mean()),
            "test_bacc": float(r_te.mean()),
            "test_tail": float(r_te[list(TAIL)].mean()),
        }

    return measure


def fit_one(contender, imbalance_factor, n_max, seed, steps, every, threads=None):
    from skmetabalance.datasets import load_fashion_mnist_lt

    if threads:
        torch.set_num_threads(threads)
    data = load_fashion_mnist_lt(
        imbalance_factor=imbalance_factor, n_max=n_max, random_state=seed
    )
    common = dict(
        module=large_cnn,
        n_estimators=1,
        max_iter=1,
        early_stopping=False,
        geometry="fixed",
        device="cpu",
        random_state=seed,
    )
    measure = _measure_fn(data.X_train, data.y_train, data.X_test, data.y_test)
    est, curve, seconds = probed_fit(
        contender, seed, common, measure, steps, every, data.X_train, data.y_train
    )
    last = curve[-1]
    return dict(
        imbalance_factor=imbalance_factor,
        n_max=n_max,
        seed=seed,
        contender=contender,
        n_weights=n_weights(est.module_),
        steps_budget=steps,
        final_bacc=f"{last['test_bacc']:.6f}",
        best_bacc=f"{max(c['test_bacc'] for c in curve):.6f}",
        train_tail=f"{last['train_tail']:.6f}",
        test_tail=f"{last['test_tail']:.6f}",
        train_loss=f"{last['train_loss']:.6g}",
        fit_seconds=f"{seconds:.3f}",
        curve=curve_json(curve),
    )


def _key(r):
    return (
        float(r["imbalance_factor"]),
        int(r["n_max"]),
        int(r["seed"]),
        r["contender"],
        int(r["steps_budget"]),
    )


def run(contenders, factors, n_max, seeds, steps, every, jobs):
    unknown = sorted(set(contenders) - set(CONTENDERS))
    if unknown:
        raise SystemExit(f"unknown contenders {unknown}; known: {list(CONTENDERS)}")
    done = {_key(r) for r in read_rows(RESULTS)}
    tasks = [
        (c, f, n_max, s, steps, every)
        for s in seeds
        for f in factors
        for c in contenders
        if (float(f), n_max, s, c, steps) not in done
    ]
    print(
        f"{len(tasks)} fits to run; LargeCNN has {n_weights(LargeCNN(784, 10)):,} "
        f"weights, SmallCNN {n_weights(SmallCNN(784, 10)):,}",
        flush=True,
    )
    run_fits(fit_one, tasks, jobs, RESULTS, FIELDS)


def report(steps):
    import pandas as pd

    frame = pd.DataFrame(
        [r for r in read_rows(RESULTS) if int(r["steps_budget"]) == steps]
    )
    if frame.empty:
        raise SystemExit(f"no rows with steps_budget={steps} in {RESULTS}")
    for c in ["final_bacc", "best_bacc", "train_tail", "test_tail", "fit_seconds"]:
        frame[c] = frame[c].astype(float)
    frame["drop"] = frame["best_bacc"] - frame["final_bacc"]
    frame["tail_gap"] = frame["train_tail"] - frame["test_tail"]
    cols = ["final_bacc", "best_bacc", "drop", "test_tail", "tail_gap", "fit_seconds"]
    order = [c for c in CONTENDERS if c in set(frame["contender"])]
    for (factor, n_max), part in frame.groupby(["imbalance_factor", "n_max"]):
        seeds = sorted(int(s) for s in part["seed"].unique())
        print(
            f"\nimbalance factor {factor}, n_max {n_max}, seeds {seeds}, "
            f"{steps} steps; means over seeds (spread: max - min over seeds)"
        )
        table = (
            part.groupby("contender")[cols]
            .mean()
            .loc[[c for c in order if c in set(part["contender"])]]
        )
        spread = part.groupby("contender")["final_bacc"].agg(
            lambda s: s.max() - s.min()
        )
        table["final spread"] = spread.loc[table.index]
        print(rst_table(table.round(3), "contender"))


def curves(factor, seed, steps):
    for r in read_rows(RESULTS):
        if (float(r["imbalance_factor"]), int(r["seed"]), int(r["steps_budget"])) != (
            float(factor),
            seed,
            steps,
        ):
            continue
        points = json.loads(r["curve"])
        print(
            f"\n{r['contender']}: steps, train_loss, train_tail, test_bacc, test_tail"
        )
        for p in points:
            print(
                f"  {p['steps']:6d} {p['train_loss']:.4f} {p['train_tail']:.3f} "
                f"{p['test_bacc']:.3f} {p['test_tail']:.3f}"
            )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["run", "report", "curves"])
    parser.add_argument("--contenders", nargs="*", default=["plain", "ros", "la", "mb"])
    parser.add_argument(
        "--imbalance-factor", type=float, nargs="+", default=[100.0, 10.0]
    )
    parser.add_argument("--n-max", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "run":
        run(
            args.contenders,
            args.imbalance_factor,
            args.n_max,
            args.seeds,
            args.steps,
            args.every,
            args.jobs,
        )
    elif args.command == "report":
        report(args.steps)
    else:
        curves(args.imbalance_factor[0], args.seeds[0], args.steps)


if __name__ == "__main__":
    main()
