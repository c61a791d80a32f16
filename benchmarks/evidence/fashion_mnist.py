"""Long-tailed Fashion-MNIST with a small CNN: MetaBalance against re-balancing.

The training set is Fashion-MNIST made long-tailed (class 0 keeps ``n_max``
images, class 9 ``n_max / imbalance_factor``, exponential profile in between;
see :func:`skmetabalance.datasets.load_fashion_mnist_lt`); the test set is the
original balanced one (1,000 images per class), so its accuracy is the
balanced accuracy.

Models, all with the same CNN, optimiser and number of epochs (no early
stopping, the weights after the last epoch are scored):

* ``plain``: BalancedNetClassifier() on the long-tailed rows;
* ``weighted``: BalancedNetClassifier(class_weight='balanced');
* ``ros``: BalancedNetClassifier(sampler=RandomOverSampler());
* ``metabalance``: MetaBalanceClassifier with the recommended defaults: the
  natural (long-tailed) inner set and a class-balanced (RandomOverSampler)
  outer set.

Requires the files of the Debian package ``dataset-fashion-mnist``
(``apt-get install -y dataset-fashion-mnist``). Run::

    python benchmarks/evidence/fashion_mnist.py --n-max 1000 --epochs 10 --seeds 0 1 2

and it prints a reST table of balanced test accuracy (mean ± std over seeds),
with per-class recall of the three rarest classes and the fit time.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
from _common import rst_table
from imblearn.over_sampling import RandomOverSampler
from sklearn.metrics import balanced_accuracy_score, recall_score
from torch import nn

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier
from skmetabalance.datasets import load_fashion_mnist_lt


class SmallCNN(nn.Module):
    """Two 3x3 convolution blocks (GroupNorm, ReLU, 2x2 max-pool) and a linear head.

    Takes flattened 28x28 rows, so that samplers and splitters see a table.
    GroupNorm instead of BatchNorm: no running statistics, so the network can
    be vectorised over MetaBalance tasks and predicts the same in any batch.
    ``hidden`` puts a hidden ReLU layer of that many units before the head.
    """

    def __init__(self, n_features, n_outputs, width=16, hidden=None):
        super().__init__()
        if n_features != 28 * 28:
            raise ValueError(
                f"{type(self).__name__} expects 784 features, got {n_features}."
            )
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.GroupNorm(4, width),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.GroupNorm(4, 2 * width),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        n_flat = 2 * width * 7 * 7
        if hidden is None:
            self.head = nn.Linear(n_flat, n_outputs)
        else:
            self.head = nn.Sequential(
                nn.Linear(n_flat, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs)
            )

    def forward(self, x):
        x = x.reshape(-1, 1, 28, 28)
        return self.head(self.features(x).flatten(1))


def small_cnn(n_features, n_outputs):
    """Module factory passed as ``module=``."""
    return SmallCNN(n_features, n_outputs)


#: The defaults recommended in docs/evidence.rst, spelled out: natural inner
#: set, RandomOverSampler outer set, 4 tasks of 16 + 16 rows per step.
METABALANCE = dict(
    inner_sampler=None,
    outer_sampler="auto",
    tasks_per_step=4,
    batch_size=16,
    outer_batch_size=16,
    inner_loss_weight=0.2,
)


def models(epochs, seed):
    common = dict(module=small_cnn, max_iter=epochs, device="cpu", random_state=seed)
    return {
        "plain": BalancedNetClassifier(**common),
        "weighted": BalancedNetClassifier(class_weight="balanced", **common),
        "ros": BalancedNetClassifier(sampler=RandomOverSampler(), **common),
        "metabalance": MetaBalanceClassifier(**METABALANCE, **common),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-max", type=int, default=1000)
    parser.add_argument("--imbalance-factor", type=float, default=100.0)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--csv", default=None, help="also write the raw results here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    rows = []
    for seed in args.seeds:
        data = load_fashion_mnist_lt(
            imbalance_factor=args.imbalance_factor, n_max=args.n_max, random_state=seed
        )
        if seed == args.seeds[0]:
            print(
                f"training images per class: {data.class_counts.tolist()} "
                f"({len(data.y_train)} in all); test: {len(data.y_test)} balanced"
            )
        for name, est in models(args.epochs, seed).items():
            if args.models and name not in args.models:
                continue
            t0 = time.perf_counter()
            est.fit(data.X_train, data.y_train)
            fit_time = time.perf_counter() - t0
            pred = est.predict(data.X_test)
            recall = recall_score(data.y_test, pred, average=None, labels=range(10))
            rows.append(
                {
                    "model": name,
                    "seed": seed,
                    "balanced_accuracy": balanced_accuracy_score(data.y_test, pred),
                    "recall_7": recall[7],
                    "recall_8": recall[8],
                    "recall_9": recall[9],
                    "steps": est.n_steps_,
                    "fit_time": fit_time,
                }
            )
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1))
    results = pd.DataFrame(rows)
    if args.csv:
        results.to_csv(args.csv, index=False)
    print()
    print(rst_table(summary_table(results), "model"))


def summary_table(results):
    """Mean over seeds per model, as strings (balanced accuracy with its spread)."""
    grouped = results.groupby("model", sort=False)
    means = grouped.mean(numeric_only=True)
    spread = grouped["balanced_accuracy"].std(ddof=1)
    accuracy = means["balanced_accuracy"].map("{:.3f}".format)
    return pd.DataFrame(
        {
            "balanced test accuracy": accuracy
            + spread.map(lambda s: "" if pd.isna(s) else f" ± {s:.3f}"),
            **{
                f"recall class {c}": means[f"recall_{c}"].map("{:.3f}".format)
                for c in (7, 8, 9)
            },
            "optimiser steps": means["steps"].map("{:.0f}".format),
            "fit time (s)": means["fit_time"].map("{:.0f}".format),
        }
    )


if __name__ == "__main__":
    main()
