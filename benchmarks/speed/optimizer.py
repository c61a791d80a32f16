"""The estimators' SGD against ``torch.optim.SGD``: first fit in a process and later fits.

Each child process fits one setting twice with one optimiser: the package's
own SGD, or ``torch.optim.SGD(..., foreach=True)`` put in its place through
``_make_optimizer`` (what the estimators used before; the two give identical
weights). The first fit in a process pays one-time costs; the second shows
the steady state. Children alternate between the two optimisers within each
repeat; medians are reported with the ratio own / torch. Settings:

* ``small``: ``MetaBalanceClassifier()`` on breast cancer (569 x 30, its
  defaults: four members, early stopping);
* ``small_net``: ``BalancedNetClassifier()`` on the same rows;
* ``default_10k``: ``MetaBalanceClassifier(n_estimators=1, max_iter=3,
  early_stopping=False)`` on 10,000 x 20 generated rows, 5 % positives
  (888 optimiser steps).

    python benchmarks/speed/optimizer.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics

from _common import run_child

SETTINGS = {
    "small": ("MetaBalanceClassifier", {}, "cancer"),
    "small_net": ("BalancedNetClassifier", {}, "cancer"),
    "default_10k": (
        "MetaBalanceClassifier",
        dict(n_estimators=1, max_iter=3, early_stopping=False),
        "generated",
    ),
}

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
import torch
import skmetabalance
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.preprocessing import StandardScaler
imported = time.perf_counter() - t0
cls_name, params, data, which = json.loads(sys.argv[1])
if data == "cancer":
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
else:
    X, y = make_classification(10_000, 20, n_informative=10, weights=[0.95],
                               random_state=0)
cls = getattr(skmetabalance, cls_name)
if which == "torch":
    class WithTorchSGD(cls):
        def _make_optimizer(self, stepper, state, lr):
            return torch.optim.SGD(stepper.parameters(), lr=lr,
                                   momentum=self.momentum,
                                   nesterov=self.momentum > 0,
                                   weight_decay=self.weight_decay, foreach=True)
    WithTorchSGD.__name__ = cls.__name__
    cls = WithTorchSGD
times = []
for _ in range(2):
    est = cls(random_state=0, **params)
    t = time.perf_counter()
    est.fit(X, y)
    times.append(time.perf_counter() - t)
print(json.dumps([imported, *times, est.n_steps_]))
"""


def _run(cls, params, data, which):
    return run_child(_CHILD, [cls, params, data, which])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--settings", nargs="*", default=list(SETTINGS))
    args = parser.parse_args(argv)
    print(
        f"{'setting':12s} {'optimiser':9s} {'first s':>8s} {'second s':>9s} "
        f"{'steps':>6s}"
    )
    for name in args.settings:
        cls, params, data = SETTINGS[name]
        runs = {"own": [], "torch": []}
        for _ in range(args.repeats):
            for which in runs:
                runs[which].append(_run(cls, params, data, which))
        med = {
            which: [statistics.median(r[i] for r in rs) for i in (1, 2)]
            for which, rs in runs.items()
        }
        for which, rs in runs.items():
            print(
                f"{name:12s} {which:9s} {med[which][0]:8.3f} {med[which][1]:9.3f} "
                f"{rs[-1][3]:6d}"
            )
        print(
            f"{name:12s} {'own/torch':9s} {med['own'][0] / med['torch'][0]:8.2f} "
            f"{med['own'][1] / med['torch'][1]:9.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
