"""Fixed cost per optimiser step: the default network against a tiny one.

A step of the default MLP (64, 64) on the CPU is a few dozen small tensor
operations, and each operation costs a few microseconds whatever its size. To
see what share of a step that fixed cost is, the same fit (10,000 x 20
generated rows, 5 % positives, 3 epochs, no early stopping) is timed with the
default network and with a network of two units per layer on two of the
columns: the tiny fit does the same operations on almost no data, so its time
per step is the fixed cost. Both estimators, every member count in
``--members``, all in one process, the fits interleaved, best of
``--repeats``; a short warm-up fit first. The ``x E=1`` column is the
in-process counterpart of ``ensemble.py``'s ratio.

A second table counts the tensor operations a step dispatches (the
operations the package calls; each may run several internal ones) and times
a loop of such small operations outside the package: the per-operation
cost on tiny tensors, and what ``torch.jit.trace`` (no Python between the
operations) saves on the default sizes.

    python benchmarks/speed/overhead.py [--repeats 3] [--members 1 4 8 16]
"""

from __future__ import annotations

import collections
import time

import numpy as np
import torch
from _common import apply_threads, base_parser, machine, report
from sklearn.datasets import make_classification
from torch.utils._python_dispatch import TorchDispatchMode

from skmetabalance import BalancedNetClassifier, MetaBalanceClassifier

ESTIMATORS = {"meta": MetaBalanceClassifier, "plain": BalancedNetClassifier}


def _data():
    X, y = make_classification(
        10_000, 20, n_informative=10, weights=[0.95], random_state=0
    )
    return X.astype(np.float32), y


def _fits(cls, X, y, members, epochs):
    """The default and the tiny estimator, each warmed up once."""
    ests = {}
    for name, Xs, hidden in (
        ("default", X, (64, 64)),
        ("tiny", np.ascontiguousarray(X[:, :2]), (2, 2)),
    ):
        est = cls(
            max_iter=epochs,
            early_stopping=False,
            random_state=0,
            n_estimators=members,
            hidden_layer_sizes=hidden,
        )
        est.fit(Xs[:500], y[:500])
        ests[name] = (est, Xs)
    return ests


class _Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.__name__.split(".")[0]] += 1
        return func(*args, **(kwargs or {}))


def _ops_per_step(cls, X, y, members):
    est = cls(max_iter=1, early_stopping=False, random_state=0, n_estimators=members)
    counter = _Count()
    with counter:
        est.fit(X, y)
    total = sum(counter.ops.values())
    views = sum(
        n
        for op, n in counter.ops.items()
        if op
        in {
            "view",
            "reshape",
            "_unsafe_view",
            "t",
            "transpose",
            "unsqueeze",
            "select",
            "slice",
            "detach",
            "expand",
            "as_strided",
        }
    )
    return total / est.n_steps_, (total - views) / est.n_steps_


#: Rounds of :func:`_op_loop`, and the operations one round dispatches (views
#: excluded).
_ROUNDS = 20
_LOOP_OPS = 8


def _op_loop(a, w, b):
    for _ in range(_ROUNDS):
        h = torch.relu(torch.baddbmm(b, a, w.transpose(1, 2)))
        d = torch.bmm(h, w)
        g = d.sum(1)
        a = torch.sub(a, d, alpha=0.01)
        b = torch.add(b, g.unsqueeze(1), alpha=0.001)
        w = torch.sub(w, torch.bmm(d.transpose(1, 2), a), alpha=1e-4)
    return a, w, b


def _per_op(repeats):
    """Microseconds per operation of :func:`_op_loop`, eager and traced."""

    def best(fn, args, n=200):
        fn(*args)
        out = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                fn(*args)
            out = min(out, (time.perf_counter() - t0) / n)
        return out

    n_ops = _ROUNDS * _LOOP_OPS
    sizes = {"tiny (4 x 1 x 2)": (4, 1, 2), "default (4 x 16 x 64)": (4, 16, 64)}
    rows = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for label, (k, n, d) in sizes.items():
                args = (
                    torch.randn(k, n, d),
                    torch.randn(k, d, d),
                    torch.randn(k, 1, d),
                )
                eager = best(_op_loop, args)
                t0 = time.perf_counter()
                traced = torch.jit.trace(_op_loop, args)
                trace_s = time.perf_counter() - t0
                jit = best(traced, args)
                rows.append(
                    {
                        "tensors": label,
                        "us_per_op_eager": 1e6 * eager / n_ops,
                        "us_per_op_traced": 1e6 * jit / n_ops,
                        "traced_x_eager": jit / eager,
                        "trace_s": trace_s,
                    }
                )
    finally:
        torch.set_num_threads(threads)
    return rows


def main():
    parser = base_parser(__doc__.splitlines()[0], "overhead.csv")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--members", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    args = parser.parse_args()
    apply_threads(args)
    print(machine(), flush=True)
    X, y = _data()
    rows = []
    for key in args.estimators:
        cls = ESTIMATORS[key]
        fits = {e: _fits(cls, X, y, e, args.epochs) for e in args.members}
        best = {(e, k): float("inf") for e in args.members for k in fits[e]}
        steps = {}
        for _ in range(args.repeats):
            for e in args.members:
                for k, (est, Xs) in fits[e].items():
                    t0 = time.perf_counter()
                    est.fit(Xs, y)
                    best[e, k] = min(best[e, k], time.perf_counter() - t0)
                    steps[e, k] = est.n_steps_
        base = best[args.members[0], "default"] / steps[args.members[0], "default"]
        for e in args.members:
            per_step = best[e, "default"] / steps[e, "default"]
            fixed = best[e, "tiny"] / steps[e, "tiny"]
            calls, compute = _ops_per_step(cls, X[:2000], y[:2000], e)
            rows.append(
                {
                    "estimator": cls.__name__,
                    "members": e,
                    "ms_per_step": 1e3 * per_step,
                    "x_E1": per_step / base,
                    "tiny_ms_per_step": 1e3 * fixed,
                    "fixed_share": fixed / per_step,
                    "ops_per_step": calls,
                    "non_view_ops": compute,
                }
            )
            print(rows[-1], flush=True)
    report(f"time per step, best of {args.repeats}", rows, args)
    loop = _per_op(args.repeats)
    args.name = args.name.replace(".csv", "_ops.csv")
    report(f"{_LOOP_OPS * _ROUNDS} small operations in a loop, one thread", loop, args)


if __name__ == "__main__":
    main()
