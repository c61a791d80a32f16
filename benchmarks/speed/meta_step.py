"""MetaBalanceClassifier.fit against a straightforward implementation.

The yardstick, :class:`StraightforwardMetaBalance`, is the same algorithm
written the way it is usually written: resampling inside ``fit``, a
``DataLoader`` over a ``TensorDataset`` for each set, a Python loop over the
``K`` tasks of a step, ``torch.autograd.grad(create_graph=True)`` for the
second-order term, and one ``backward`` per task accumulating the meta-gradient.

Both fit the published loan-default setting (12 standardised numeric features
of ``lending_club``, network 12 -> 25 -> 1, K = 81 tasks per step, inner batch
24, outer batch 16, inner lr 0.01, lambda 0.01, SGD lr 0.02 with Nesterov
momentum 0.9 and weight decay 5e-4, SMOTE outer set, natural inner set) for the
same number of epochs and optimiser steps. Before timing, one optimiser step of
each is run from the same initial weights on the same batches and the updated
weights are compared (:func:`check_one_step`), so the timings are of identical
work. A third contender
is MetaBalanceClassifier with the same network given as a custom module
(:class:`WrappedNet`), which takes the generic ``torch.func.vmap`` path that
any user-supplied network takes.

Usage::

    python benchmarks/speed/meta_step.py                 # 5 epochs, 3 repeats
    python benchmarks/speed/meta_step.py --epochs 10 --repeats 5 --out /tmp/res

Both run on one intra-op thread by default (``--threads``): the reference's
operations are tiny, and on a busy machine splitting them over threads made it
several times slower; MetaBalanceClassifier picks one thread for small steps by
itself, so the default only protects the reference.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from _common import (
    PUBLISHED,
    apply_threads,
    base_parser,
    interleaved,
    loan_data,
    machine,
    median,
    report,
    sync,
)
from imblearn.over_sampling import SMOTE
from torch import nn
from torch.func import functional_call
from torch.utils.data import DataLoader, TensorDataset

from skmetabalance import MetaBalanceClassifier


class StraightforwardMetaBalance:
    """MetaBalance written plainly: a per-task loop over DataLoader batches."""

    def __init__(
        self,
        *,
        max_iter=5,
        first_order=True,
        inner_sampler=None,
        outer_sampler=None,
        random_state=0,
        device="cpu",
        **settings,
    ):
        # The published configuration, with ``settings`` overriding any of it.
        cfg = {**PUBLISHED, **settings}
        self.hidden = cfg["hidden_layer_sizes"][0]
        self.tasks_per_step = cfg["tasks_per_step"]
        self.batch_size = cfg["batch_size"]
        self.outer_batch_size = cfg["outer_batch_size"]
        self.inner_lr = cfg["inner_lr"]
        self.inner_loss_weight = cfg["inner_loss_weight"]
        self.lr = cfg["lr"]
        self.momentum = cfg["momentum"]
        self.weight_decay = cfg["weight_decay"]
        self.max_iter = max_iter
        self.first_order = first_order
        self.inner_sampler = inner_sampler
        self.outer_sampler = outer_sampler
        self.random_state = random_state
        self.device = device

    def make_model(self, n_features):
        return nn.Sequential(
            nn.Linear(n_features, self.hidden), nn.ReLU(), nn.Linear(self.hidden, 1)
        ).to(self.device)

    def make_optimizer(self, model):
        return torch.optim.SGD(
            model.parameters(),
            lr=self.lr,
            momentum=self.momentum,
            nesterov=True,
            weight_decay=self.weight_decay,
        )

    def task_loss(self, model, x_in, y_in, x_out, y_out):
        params = dict(model.named_parameters())
        l_in = F.binary_cross_entropy_with_logits(model(x_in).squeeze(1), y_in)
        grads = torch.autograd.grad(
            l_in,
            list(params.values()),
            create_graph=not self.first_order,
            retain_graph=True,
        )
        fast = {n: p - self.inner_lr * g for (n, p), g in zip(params.items(), grads)}
        logits = functional_call(model, fast, (x_out,)).squeeze(1)
        l_out = F.binary_cross_entropy_with_logits(logits, y_out)
        return l_out + self.inner_loss_weight * l_in

    def meta_step(self, model, optimizer, inner_batches, outer_batches):
        optimizer.zero_grad()
        n_tasks = len(inner_batches)
        for (x_in, y_in), (x_out, y_out) in zip(inner_batches, outer_batches):
            loss = self.task_loss(model, x_in, y_in, x_out, y_out) / n_tasks
            loss.backward()
        optimizer.step()

    @staticmethod
    def _batches(loader):
        while True:
            yield from loader

    def _loader(self, X, y, batch_size, generator):
        dataset = TensorDataset(
            torch.tensor(X, dtype=torch.float32, device=self.device),
            torch.tensor(y, dtype=torch.float32, device=self.device),
        )
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=True,
            drop_last=True,
            generator=generator,
        )

    def fit(self, X, y):
        X_in, y_in = X, y
        if self.inner_sampler is not None:
            X_in, y_in = self.inner_sampler.fit_resample(X, y)
        X_out, y_out = self.outer_sampler.fit_resample(X, y)
        generator = torch.Generator().manual_seed(self.random_state)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            model = self.make_model(X.shape[1])
        optimizer = self.make_optimizer(model)
        inner = self._batches(self._loader(X_in, y_in, self.batch_size, generator))
        outer = self._batches(
            self._loader(X_out, y_out, self.outer_batch_size, generator)
        )
        K = self.tasks_per_step
        steps = max(1, math.ceil(len(y_out) / (K * self.outer_batch_size)))
        model.train()
        for _ in range(self.max_iter):
            for _ in range(steps):
                inner_batches = [next(inner) for _ in range(K)]
                outer_batches = [next(outer) for _ in range(K)]
                self.meta_step(model, optimizer, inner_batches, outer_batches)
        self.model_ = model
        self.n_steps_ = steps * self.max_iter
        return self


class WrappedNet(nn.Module):
    """The same 12 -> 25 -> 1 network behind a forward of its own.

    MetaBalanceClassifier runs plain ``nn.Sequential`` stacks of Linear layers
    and activations (its built-in MLP) through batched matrix products; any
    other module goes through the generic ``torch.func.vmap`` path. This
    wrapper measures that path.
    """

    def __init__(self, n_features, n_outputs, hidden=25):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs)
        )

    def forward(self, X):
        return self.net(X)


def starting_from(state, hidden):
    """A module factory: the 12 -> 25 -> 1 ReLU stack with the given weights."""

    def factory(n_features, n_outputs):
        net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs)
        )
        net.load_state_dict(state)
        return net

    return factory


def _task_batches(X, y, n_tasks, device):
    """``(X, y)`` as ``n_tasks`` consecutive batches of equal size."""
    Xt = torch.tensor(X, dtype=torch.float32, device=device)
    yt = torch.tensor(y, dtype=torch.float32, device=device)
    return list(zip(Xt.chunk(n_tasks), yt.chunk(n_tasks)))


def check_one_step(X, y, device, first_order, seed=0):
    """One optimiser step of both from the same weights on the same batches.

    MetaBalanceClassifier takes one step when one epoch is one step, and the
    batches it draws then hold every row; the check uses that, through the
    public API only (a ``module`` factory gives both the same initial
    weights), twice:

    * the look-ahead: K = 1 task whose inner batch is every row and whose
      outer batch is every row of the SMOTE outer set, at the published
      inner_lr and lambda;
    * the tasks: K = 81 tasks of 24 inner and 24 outer rows that together are
      1,944 rows (no sampler), with inner_lr = 0, where the step does not
      depend on which rows form which task.

    Returns the largest absolute difference between the updated weights, and
    the largest absolute weight change of the step (for scale).
    """
    cfg = PUBLISHED
    hidden = cfg["hidden_layer_sizes"][0]
    X_out, y_out = SMOTE(random_state=seed).fit_resample(X, y)
    K = cfg["tasks_per_step"]
    rows = np.sort(np.random.default_rng(seed).choice(len(y), K * 24, replace=False))
    setups = [
        # (inner rows, outer rows, estimator settings)
        (
            (X, y),
            (X_out, y_out),
            dict(
                tasks_per_step=1,
                batch_size=len(y),
                outer_batch_size=len(y_out),
                outer_sampler=SMOTE(random_state=seed),
            ),
        ),
        (
            (X[rows], y[rows]),
            (X[rows], y[rows]),
            dict(batch_size=24, outer_batch_size=24, inner_lr=0.0, outer_sampler=None),
        ),
    ]
    diff = change = 0.0
    for (X_in, y_in), (X_o, y_o), settings in setups:
        settings = {**cfg, **settings}
        k = settings["tasks_per_step"]
        ref = StraightforwardMetaBalance(
            inner_lr=settings["inner_lr"], first_order=first_order, device=device
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            ref_model = ref.make_model(X.shape[1])
        start = {k_: v.detach().clone() for k_, v in ref_model.state_dict().items()}

        ours = MetaBalanceClassifier(
            starting_from(start, hidden),
            **{n: v for n, v in settings.items() if n != "hidden_layer_sizes"},
            inner_sampler=None,
            first_order=first_order,
            max_iter=1,
            random_state=seed,
            device=device,
        ).fit(X_in, y_in)
        assert ours.n_steps_ == 1, ours.n_steps_

        ref.meta_step(
            ref_model,
            ref.make_optimizer(ref_model),
            _task_batches(X_in, y_in, k, device),
            _task_batches(X_o, y_o, k, device),
        )
        state = ours.module_.state_dict()
        ref_state = ref_model.state_dict()
        diff = max(
            diff,
            *((state[n].cpu() - ref_state[n].cpu()).abs().max().item() for n in state),
        )
        change = max(
            change, *((ref_state[n] - start[n]).abs().max().item() for n in state)
        )
    return diff, change


def main():
    parser = base_parser(__doc__.splitlines()[0], "meta_step.csv", default_threads=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    apply_threads(args)
    device = args.device

    X, y, data_name = loan_data()
    print(f"machine: {machine()}")
    print(
        f"data: {data_name}: {X.shape[0]} rows, {X.shape[1]} features, "
        f"{int(y.sum())} positives"
    )

    checks = {}
    for first_order in (True, False):
        diff, change = check_one_step(X, y, device, first_order)
        order = "first" if first_order else "second"
        checks[order] = (diff, change)
        print(
            f"one-step check ({order} order): max |ours - reference| = {diff:.2e} "
            f"(largest weight change of the step {change:.2e})"
        )
        if not diff <= 1e-5 * max(1.0, change) + 1e-6:
            raise SystemExit("the reference and MetaBalanceClassifier disagree")

    def ours(first_order, epochs, module=None):
        def fit():
            clf = MetaBalanceClassifier(
                module,
                **PUBLISHED,
                inner_sampler=None,
                outer_sampler=SMOTE(),
                first_order=first_order,
                max_iter=epochs,
                random_state=0,
                device=device,
            ).fit(X, y)
            sync(device)
            return clf

        return fit

    def reference(first_order, epochs):
        def fit():
            est = StraightforwardMetaBalance(
                first_order=first_order,
                max_iter=epochs,
                outer_sampler=SMOTE(random_state=0),
                device=device,
            ).fit(X, y)
            sync(device)
            return est

        return fit

    steps_ours = ours(True, 1)().n_steps_
    steps_ref = reference(True, 1)().n_steps_
    assert steps_ours == steps_ref, (steps_ours, steps_ref)
    for fo in (True, False):  # warm-up: first-call costs out of the timings
        ours(fo, 1)()
        ours(fo, 1, WrappedNet)()
        reference(fo, 1)()

    fns = {}
    for fo in (True, False):
        order = "first" if fo else "second"
        fns[f"reference, {order} order"] = reference(fo, args.epochs)
        fns[f"MetaBalanceClassifier, {order} order"] = ours(fo, args.epochs)
        fns[f"generic vmap path, {order} order"] = ours(fo, args.epochs, WrappedNet)
    times, note = interleaved(fns, args.repeats, warmup=False)

    rows = []
    for fo in (True, False):
        order = "first" if fo else "second"
        t_ref = median(times[f"reference, {order} order"])
        t_ours = median(times[f"MetaBalanceClassifier, {order} order"])
        t_generic = median(times[f"generic vmap path, {order} order"])
        rows.append(
            {
                "order": order,
                "epochs": args.epochs,
                "steps": steps_ours * args.epochs,
                "reference_s": t_ref,
                "ours_s": t_ours,
                "speedup": t_ref / t_ours,
                "generic_path_s": t_generic,
                "generic_speedup": t_ref / t_generic,
                "ref_ms_per_step": 1e3 * t_ref / (steps_ours * args.epochs),
                "ours_ms_per_step": 1e3 * t_ours / (steps_ours * args.epochs),
                "max_abs_diff_one_step": checks[order][0],
                "repeats": args.repeats,
                "device": device,
            }
        )
    report(f"fit time, {note}", rows, args)


if __name__ == "__main__":
    main()
