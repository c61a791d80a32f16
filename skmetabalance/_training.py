"""The training engine shared by both estimators.

An estimator hands the engine a *stepper*: an object that knows how many
optimiser steps make one epoch and how to put gradients into the networks'
parameters for one step. Everything else is the same for every estimator and
lives here as small named pieces around one loop (:func:`train`):

* :class:`Checkpoints` keeps each member's weights and optimiser state at the
  start of the last two epochs, for rolling back an interrupted or diverged
  epoch;
* :class:`EarlyStopping` scores the validation rows, keeps each member's best
  weights and says which members stop;
* :class:`ProgressTable` prints one line per epoch when ``verbose`` is set.

Ensemble members are trained together: the stepper stacks the parameters of
the members still training along a leading dimension, computes every member's
gradient in one call of the gradient engine, and hands each member its own
slice. Members share the optimiser (SGD is element-wise, so one optimiser over
all parameters is one optimiser per member); a member that has stopped has no
gradient, so the optimiser leaves it alone, and it no longer costs anything.
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from dataclasses import dataclass

import torch
from sklearn.exceptions import ConvergenceWarning
from torch import nn

from ._optim import SGD
from ._threads import n_params, one_thread, small_step

__all__ = [
    "MetaStepper",
    "PlainStepper",
    "Checkpoints",
    "EarlyStopping",
    "ProgressTable",
    "train",
]


# ------------------------------------------------------------------- parameters
def _momentum_of(optimizer, p):
    state = optimizer.state.get(p)
    return None if not state else state.get("momentum_buffer")


class _OwnParameters:
    """One network: the optimiser updates the network's own parameters."""

    def __init__(self, modules):
        self.modules = modules
        self.targets = [
            (k, p) for k, p in modules[0].named_parameters() if p.requires_grad
        ]
        # Detached views share storage with the parameters, so they follow
        # every in-place optimiser update without being rebuilt.
        self._views = {k: p.detach() for k, p in self.targets}

    def parameters(self):
        return [p for _, p in self.targets]

    def values(self):
        return self._views

    def set_grads(self, grads):
        # The gradients are fresh tensors every step, so they are handed to the
        # parameters as they are: no zeroing and no copy.
        for name, p in self.targets:
            p.grad = grads[name]

    def after_update(self, optimizer):
        pass

    def freeze(self, m, optimizer):
        for _, p in self.targets:
            p.grad = None

    def momentum(self, m, optimizer):
        out = {}
        for k, p in self.targets:
            buf = _momentum_of(optimizer, p)
            out[k] = None if buf is None else buf.clone()
        return out

    def set_momentum(self, m, optimizer, saved):
        for k, p in self.targets:
            if saved[k] is None:
                optimizer.state.pop(p, None)
            else:
                optimizer.state[p] = {"momentum_buffer": saved[k].clone()}

    def export_state(self, optimizer):
        return optimizer.state_dict()

    def import_state(self, optimizer, state):
        optimizer.load_state_dict(state)

    def release(self):
        pass


def _rebind(module, name, param):
    owner = module
    *path, leaf = name.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, leaf, param)


class _StackedParameters:
    """Ensemble members whose parameters live in one stacked tensor per name.

    The optimiser updates one ``(n_members, ...)`` tensor per parameter name;
    each member's network holds views of its slice, so it always sees its
    current weights. A member that stops keeps its weights: its gradient slice
    is zero and its slice (weights and momentum) is put back after each update.
    """

    def __init__(self, modules):
        self.modules = modules
        self.names = [k for k, p in modules[0].named_parameters() if p.requires_grad]
        self.stacks = {}
        for k in self.names:
            stack = torch.stack([m.get_parameter(k).detach() for m in modules])
            self.stacks[k] = nn.Parameter(stack)
            for i, m in enumerate(modules):
                _rebind(m, k, nn.Parameter(self.stacks[k].data[i]))
        self._frozen = {}
        self._active = None  # indices of the members still training, once one stops

    @staticmethod
    def supports(modules):
        """Whether every member's parameters can be rebound to stacked views."""
        m = modules[0]
        shared = len(list(m.named_parameters(remove_duplicate=False)))
        return shared == len(list(m.named_parameters()))

    def parameters(self):
        return list(self.stacks.values())

    def values(self):
        if self._active is None:
            return {k: p.detach() for k, p in self.stacks.items()}
        return {
            k: p.detach().index_select(0, self._active) for k, p in self.stacks.items()
        }

    def set_grads(self, grads):
        for k, p in self.stacks.items():
            if self._active is None:
                p.grad = grads[k]
            else:
                p.grad = torch.zeros_like(p).index_copy_(0, self._active, grads[k])

    def after_update(self, optimizer):
        # Weight decay and momentum move a stopped member's slice too: put it back.
        for m, (weights, momentum) in self._frozen.items():
            for k, p in self.stacks.items():
                p.data[m].copy_(weights[k])
                buf = _momentum_of(optimizer, p)
                if buf is not None:
                    buf[m].copy_(momentum[k])

    def freeze(self, m, optimizer):
        weights = {k: p.data[m].clone() for k, p in self.stacks.items()}
        momentum = {}
        for k, p in self.stacks.items():
            buf = _momentum_of(optimizer, p)
            momentum[k] = torch.zeros_like(p.data[m]) if buf is None else buf[m].clone()
        self._frozen[m] = (weights, momentum)
        active = [i for i in range(len(self.modules)) if i not in self._frozen]
        device = self.stacks[self.names[0]].device
        self._active = torch.tensor(active, device=device)

    def momentum(self, m, optimizer):
        out = {}
        for k, p in self.stacks.items():
            buf = _momentum_of(optimizer, p)
            out[k] = None if buf is None else buf[m].clone()
        return out

    def set_momentum(self, m, optimizer, saved):
        for k, p in self.stacks.items():
            buf = _momentum_of(optimizer, p)
            if buf is not None:
                buf[m].copy_(0.0 if saved[k] is None else saved[k])

    def _per_member_optimizer(self, optimizer):
        params = [m.get_parameter(k) for m in self.modules for k in self.names]
        return SGD.like(params, optimizer.param_groups[0]), params

    def export_state(self, optimizer):
        """The optimiser state as one SGD over every member's parameters would hold."""
        per_member, params = self._per_member_optimizer(optimizer)
        for i, p in enumerate(params):
            buf = _momentum_of(optimizer, self.stacks[self.names[i % len(self.names)]])
            if buf is not None:
                member = i // len(self.names)
                per_member.state[p] = {"momentum_buffer": buf[member].clone()}
        return per_member.state_dict()

    def import_state(self, optimizer, state):
        per_member, params = self._per_member_optimizer(optimizer)
        per_member.load_state_dict(state)
        for k, stack in self.stacks.items():
            bufs = [_momentum_of(per_member, m.get_parameter(k)) for m in self.modules]
            if all(b is not None for b in bufs):
                optimizer.state[stack] = {"momentum_buffer": torch.stack(bufs)}

    def release(self):
        """Give every member parameters of its own again (no shared storage)."""
        for m in self.modules:
            for k in self.names:
                _rebind(m, k, nn.Parameter(m.get_parameter(k).detach().clone()))


# --------------------------------------------------------------------- steppers
class _Stepper:
    """The members' networks, their gradient engine and their batch streams."""

    def __init__(self, modules, engine, epoch_steps=None, losses=()):
        self.modules = list(modules)
        # The loops' fitted losses (skmetabalance.losses.LoopLoss or None).
        self.losses = tuple(losses)
        # Steps per epoch; None for one pass over the set an epoch counts.
        self.epoch_steps = epoch_steps
        self.engine = engine
        self.active = list(range(len(self.modules)))
        # Frozen parameters and buffers are constants of the step, passed to
        # the network but never adapted.
        self._constants = []
        for m in self.modules:
            consts = dict(m.named_buffers())
            consts.update(
                (k, p.detach()) for k, p in m.named_parameters() if not p.requires_grad
            )
            self._constants.append(consts)
        self.stacked = len(self.modules) > 1
        if not self.stacked:
            self.weights = _OwnParameters(self.modules)
        elif _StackedParameters.supports(self.modules):
            self.weights = _StackedParameters(self.modules)
        else:
            raise ValueError(
                "n_estimators > 1 needs networks without shared (tied) parameters; "
                "the network built by 'module' registers one parameter under "
                "several names. Use n_estimators=1."
            )

    def parameters(self):
        """The tensors the optimiser updates."""
        return self.weights.parameters()

    def _use_one_thread(self, rows):
        """One intra-op thread for steps of ``rows`` rows through a small network."""
        module = self.modules[0]
        return small_step(module, rows * n_params(module) * len(self.modules))

    def _params(self):
        """Parameters and constants of the active members, stacked if several."""
        params = self.weights.values()
        if not self.stacked:
            return params, self._constants[0]
        consts = {
            name: torch.stack([self._constants[m][name] for m in self.active])
            for name in self._constants[0]
        }
        return params, consts

    def _set_grads(self, grads):
        self.weights.set_grads(grads)

    def after_update(self, optimizer):
        """Called after each optimiser step."""
        self.weights.after_update(optimizer)

    def _members(self):
        return len(self.active) if self.stacked else None

    def _terms(self, loss):
        """The loss terms of one loop for the members still training."""
        if loss is None:
            return None
        return loss.terms(self.active if self.stacked else None)

    def start_epoch(self, epoch):
        """Before the ``epoch``-th epoch of a fit (from 1): deferred weights.

        Returns True when some loop's deferred class weights switch on now.
        """
        switched = [loss.start_epoch(epoch) for loss in self.losses if loss is not None]
        return any(switched)

    @property
    def switch_epoch(self):
        """The latest epoch of a fit at which deferred weights switch on, or None."""
        epochs = [
            loss.switch for loss in self.losses if loss is not None and loss.switch
        ]
        return max(epochs) if epochs else None

    def _gather(self, data, streams, b, tasks):
        """Rows of one batch per task (and member), drawn through the streams."""
        n = (tasks or 1) * b
        if not self.stacked:
            idx = streams[0].take(n)
            lead = (tasks, b) if tasks else (b,)
        else:
            idx = torch.stack([streams[m].take(n) for m in self.active])
            idx = idx.reshape(-1)
            lead = (len(self.active), tasks, b) if tasks else (len(self.active), b)
        return tuple(t.reshape(*lead, *t.shape[1:]) for t in data.gather(idx))

    def deactivate(self, member, optimizer):
        """Stop training ``member``: its weights stay as they are now."""
        self.active.remove(member)
        self.weights.freeze(member, optimizer)


class MetaStepper(_Stepper):
    """One MetaBalance optimiser step: ``K`` tasks (times members) computed together."""

    def __init__(
        self,
        modules,
        engine,
        inner_data,
        outer_data,
        inner_streams,
        outer_streams,
        *,
        tasks_per_step,
        inner_batch_size,
        outer_batch_size,
        inner_lr,
        inner_steps,
        inner_loss_weight,
        first_order,
        epoch_steps=None,
        inner_loss=None,
        outer_loss=None,
    ):
        super().__init__(modules, engine, epoch_steps, (inner_loss, outer_loss))
        self.inner_loss, self.outer_loss = inner_loss, outer_loss
        self.inner_data = inner_data
        self.outer_data = outer_data
        self.inner_streams = inner_streams
        self.outer_streams = outer_streams
        self.K = int(tasks_per_step)
        self.b_in = int(min(inner_batch_size, *(s.n for s in inner_streams)))
        self.b_out = int(min(outer_batch_size, *(s.n for s in outer_streams)))
        self.kwargs = dict(
            first_order=bool(first_order),
            inner_lr=float(inner_lr),
            inner_steps=int(inner_steps),
            inner_loss_weight=float(inner_loss_weight),
        )
        rows = self.K * (self.b_in * self.kwargs["inner_steps"] + self.b_out)
        self.one_thread = self._use_one_thread(rows)

    has_inner_loss = True

    @property
    def steps_per_epoch(self):
        if self.epoch_steps is not None:
            return self.epoch_steps
        n_out = max(s.n for s in self.outer_streams)
        return max(1, math.ceil(n_out / (self.K * self.b_out)))

    def step(self):
        """Gradients of one step into the parameters; per-member (outer, inner) losses."""
        params, consts = self._params()
        batches = self._gather(self.inner_data, self.inner_streams, self.b_in, self.K)
        batches += self._gather(self.outer_data, self.outer_streams, self.b_out, self.K)
        grads, l_out, l_in = self.engine.meta_grad(
            params,
            consts,
            batches,
            members=self._members(),
            losses=(self._terms(self.inner_loss), self._terms(self.outer_loss)),
            **self.kwargs,
        )
        self._set_grads(grads)
        return l_out.detach().reshape(-1), l_in.detach().reshape(-1)


class PlainStepper(_Stepper):
    """One plain minibatch step on a single (resampled or weighted) set."""

    has_inner_loss = False

    def __init__(
        self, modules, engine, data, streams, *, batch_size, epoch_steps=None, loss=None
    ):
        super().__init__(modules, engine, epoch_steps, (loss,))
        self.loss = loss
        self.data = data
        self.streams = streams
        self.b = int(min(batch_size, *(s.n for s in streams)))
        self.one_thread = self._use_one_thread(self.b)

    @property
    def steps_per_epoch(self):
        if self.epoch_steps is not None:
            return self.epoch_steps
        return max(1, math.ceil(max(s.n for s in self.streams) / self.b))

    def step(self):
        """Gradients of one step into the parameters; per-member losses."""
        params, consts = self._params()
        x, y, w = self._gather(self.data, self.streams, self.b, 0)
        grads, loss = self.engine.plain_grad(
            params,
            consts,
            x,
            y,
            w,
            members=self._members(),
            loss=self._terms(self.loss),
        )
        self._set_grads(grads)
        return loss.detach().reshape(-1), None


# ------------------------------------------------------------------ checkpoints
def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class Checkpoints:
    """Each member's weights and optimiser state as the last two epochs began.

    The optimiser's state (SGD's momentum) is copied for the member's own
    parameters only, so that members roll back independently.
    """

    def __init__(self, stepper, optimizer):
        self.stepper = stepper
        self.optimizer = optimizer
        n = len(stepper.modules)
        self.current = [None] * n
        self.previous = [None] * n

    def mark(self, m, epoch, extra):
        """Record member ``m`` as epoch ``epoch`` begins (``extra``: its bookkeeping)."""
        self.previous[m] = self.current[m]
        self.current[m] = {
            "weights": _snapshot(self.stepper.modules[m]),
            "momentum": self.stepper.weights.momentum(m, self.optimizer),
            "epoch": epoch,
            **extra,
        }

    def restore(self, m, which="current"):
        """Put member ``m`` back to a checkpoint and return that checkpoint."""
        point = self.current[m] if which == "current" else self.previous[m]
        self.stepper.modules[m].load_state_dict(point["weights"])
        self.stepper.weights.set_momentum(m, self.optimizer, point["momentum"])
        return point


# --------------------------------------------------------------- early stopping
class EarlyStopping:
    """Validation scores, each member's best weights, and when members stop.

    Parameters
    ----------
    validate : callable
        ``validate(modules, active)`` returns the validation score (higher is
        better) of each active module, and that of the members' averaged
        probabilities.
    n_members : int
    patience : int
        Epochs without an improvement larger than ``tol`` after which a member
        stops.
    tol : float
    """

    def __init__(self, validate, n_members, patience, tol):
        self.validate = validate
        self.patience = patience
        self.tol = tol
        self.best = [
            {"score": -math.inf, "state": None, "epoch": None} for _ in range(n_members)
        ]
        self.no_improve = [0] * n_members
        # No member stops before this epoch (deferred class weights switch on).
        self.hold_until = None

    def restart_patience(self):
        """Start every member's patience afresh (deferred weights just switched on)."""
        self.no_improve = [0] * len(self.no_improve)

    def bookkeeping(self, m):
        """Member ``m``'s record, kept with its checkpoints for rollback."""
        return {"best": self.best[m], "no_improve": self.no_improve[m]}

    def rewind(self, m, point):
        self.best[m] = point["best"]
        self.no_improve[m] = point["no_improve"]

    def update(self, epoch, modules, active):
        """Score every member; return the scores, who improved and who stops."""
        scores, ensemble = self.validate(modules, active)
        improved, stop = [], []
        for m in active:
            score = float(scores[m])
            best = self.best[m]
            if score > best["score"] + self.tol or best["state"] is None:
                self.best[m] = {
                    "score": score,
                    "state": _snapshot(modules[m]),
                    "epoch": epoch,
                }
                self.no_improve[m] = 0
                improved.append(m)
            else:
                self.no_improve[m] += 1
                held = self.hold_until is not None and epoch < self.hold_until
                if self.no_improve[m] >= self.patience and not held:
                    stop.append(m)
        return scores, ensemble, improved, stop

    def restore_best(self, m, module):
        """Load member ``m``'s best weights, if any epoch was scored."""
        if self.best[m]["state"] is not None:
            module.load_state_dict(self.best[m]["state"])


# ---------------------------------------------------------------- progress table
class ProgressTable:
    """Compact per-epoch table printed when ``verbose`` is set.

    ``columns`` name entries of the history records; a last column ``best``
    marks the epochs that improved the validation score when ``marker`` is set.
    """

    _INTEGERS = ("epoch", "steps", "active")

    def __init__(self, columns, marker):
        self.columns = [(name, max(len(name), 6)) for name in columns]
        if marker:
            self.columns.append(("best", 4))
        self.printed_header = False

    def row(self, record, marker=""):
        if not self.printed_header:
            print("  ".join(f"{name:>{w}}" for name, w in self.columns))
            print("  ".join("-" * w for _, w in self.columns))
            self.printed_header = True
        cells = []
        for name, w in self.columns:
            value = marker if name == "best" else record.get(name)
            if name == "best":
                text = value
            elif value is None:
                text = "nan"
            elif name == "dur":
                text = f"{value:.2f}s"
            else:
                text = format(value, "d" if name in self._INTEGERS else ".4f")
            cells.append(f"{text:>{w}}")
        print("  ".join(cells), flush=True)


# -------------------------------------------------------------------- the loop
@dataclass
class TrainResult:
    """What :func:`train` reports back to the estimator."""

    steps_done: int
    stopped: str


def _non_finite(values):
    return ~torch.isfinite(values)


def _diverged_cause(first_epoch, start_value, inner_finite):
    if first_epoch and not start_value < 1e3:
        # Cross-entropy at sensible starting weights is about log(n_classes).
        return (
            f"The loss was already {start_value:.3g} at the weights training "
            "started from, so the features are probably too large or badly "
            "scaled: standardise them (e.g. StandardScaler in a Pipeline)."
        )
    if inner_finite:
        return (
            "The inner loss stayed finite, so 'inner_lr' (or 'lr') is "
            "probably too large: lower it, or standardise the features."
        )
    return (
        "The learning rate 'lr' is probably too large: lower it, or "
        "standardise the features (e.g. StandardScaler in a Pipeline)."
    )


def _run_epoch(stepper, optimizer, n_steps, scope):
    """One epoch of steps; per-member mean losses and the losses it started from.

    A small dense step runs on one intra-op thread (``stepper.one_thread``),
    its optimiser update included: the stacked parameters of several members
    are large enough for torch to split the update over threads, which on a
    busy machine waits for every thread to be scheduled.
    """
    with one_thread(stepper.one_thread):
        return _epoch_steps(stepper, optimizer, n_steps, scope)


def _epoch_steps(stepper, optimizer, n_steps, scope):
    out_sum = in_sum = start = None
    for i in range(n_steps):
        with scope():
            l_out, l_in = stepper.step()
        if i == 0:
            # The loss at the weights the epoch started from (the inner loss for
            # a meta step, whose outer loss is at adapted weights).
            start = (l_out if l_in is None else l_in).clone()
        optimizer.step()
        stepper.after_update(optimizer)
        out_sum = l_out.clone() if out_sum is None else out_sum + l_out
        if l_in is not None:
            in_sum = l_in.clone() if in_sum is None else in_sum + l_in
    # Means in float64, as the recorded losses are.
    return (
        out_sum.double() / n_steps,
        None if in_sum is None else in_sum.double() / n_steps,
        start,
    )


def _params_finite(module):
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def train(
    stepper,
    optimizer,
    *,
    max_iter,
    early_stopping,
    history,
    steps_done,
    verbose,
    rng=None,
):
    """Train the stepper's members for up to ``max_iter`` epochs.

    One record per epoch is appended to ``history``. A member stops when early
    stopping says so (its best weights are loaded at once) or when its loss
    becomes non-finite (it is put back to the weights of the last epoch whose
    loss was finite, with a ConvergenceWarning). A KeyboardInterrupt puts every
    member back to the start of the interrupted epoch and ends training with a
    UserWarning.

    ``rng`` (a :class:`~skmetabalance._threads.TorchRNG`) gives the random
    draws of steps and validation passes (dropout) the fit's own stream; None
    leaves them to torch's global generators.

    Returns
    -------
    TrainResult
    """
    modules = stepper.modules
    step_scope = eval_scope = contextlib.nullcontext
    if rng is not None:
        step_scope, eval_scope = rng.scope(modules), rng.scope()
    n_members = len(modules)
    checkpoints = Checkpoints(stepper, optimizer)
    reason = ["max_iter"] * n_members
    table = None
    if verbose:
        cols = ["epoch", "train_loss"]
        cols += ["inner_loss"] if stepper.has_inner_loss else []
        cols += ["valid_score"] if early_stopping is not None else []
        cols += ["active"] if n_members > 1 else []
        table = ProgressTable(cols + ["steps", "dur"], early_stopping is not None)
    for m in modules:
        m.train()
    n_steps = stepper.steps_per_epoch
    first_epoch = len(history) + 1
    if early_stopping is not None and stepper.switch_epoch is not None:
        early_stopping.hold_until = first_epoch - 1 + stepper.switch_epoch
    stopped = "max_iter"
    for epoch in range(first_epoch, first_epoch + max_iter):
        t0 = time.perf_counter()
        if stepper.start_epoch(epoch - first_epoch + 1) and early_stopping is not None:
            early_stopping.restart_patience()
        active = list(stepper.active)
        for m in active:
            extra = early_stopping.bookkeeping(m) if early_stopping else {}
            checkpoints.mark(m, epoch, extra)
        try:
            out_loss, in_loss, start = _run_epoch(
                stepper, optimizer, n_steps, step_scope
            )
        except KeyboardInterrupt:
            for m in active:
                checkpoints.restore(m)
            kept = (
                f"the weights of the last completed epoch ({epoch - 1})"
                if epoch > 1
                else "the initial weights"
            )
            warnings.warn(
                f"Training interrupted during epoch {epoch}; the estimator keeps {kept} "
                f"and history_ up to epoch {epoch - 1}. Call fit again with "
                "warm_start=True to continue.",
                UserWarning,
                stacklevel=4,
            )
            stopped = "interrupted"
            break
        bad = _non_finite(out_loss)
        if in_loss is not None:
            bad |= _non_finite(in_loss)
        for j, m in enumerate(active):
            if not bool(bad[j]) and not _params_finite(modules[m]):
                bad[j] = True
        diverged = [m for j, m in enumerate(active) if bool(bad[j])]
        for m in diverged:
            j = active.index(m)
            start_value = float(start[j])
            point = checkpoints.current[m]
            if not math.isfinite(start_value) and checkpoints.previous[m] is not None:
                # The weights this epoch started from already gave a non-finite
                # loss: go back one more epoch, to weights whose loss was finite.
                point = checkpoints.restore(m, "previous")
                if n_members == 1:
                    history.pop()
                    steps_done -= n_steps
            else:
                checkpoints.restore(m)
            if early_stopping is not None:
                early_stopping.rewind(m, point)
            kept_epoch = point["epoch"] - 1
            kept = (
                f"the weights of epoch {kept_epoch} were restored"
                if kept_epoch > 0
                else "the initial weights were restored"
            )
            who = f" of ensemble member {m}" if n_members > 1 else ""
            inner_ok = in_loss is not None and math.isfinite(float(in_loss[j]))
            cause = _diverged_cause(epoch == first_epoch, start_value, inner_ok)
            warnings.warn(
                f"The training loss{who} became non-finite during epoch {epoch}; "
                f"training stopped and {kept}. {cause}",
                ConvergenceWarning,
                stacklevel=4,
            )
            reason[m] = "non_finite"
            stepper.deactivate(m, optimizer)
        if not stepper.active:
            stopped = "non_finite"
            break
        steps_done += n_steps
        kept = [j for j, m in enumerate(active) if m in stepper.active]
        rec = {
            "epoch": epoch,
            "train_loss": float(out_loss[kept].mean()),
            "inner_loss": None if in_loss is None else float(in_loss[kept].mean()),
            "valid_score": None,
            "steps": steps_done,
            "dur": None,
        }
        if n_members > 1:
            rec["active"] = len(stepper.active)
            rec["member_train_loss"] = [None] * n_members
            for j, m in enumerate(active):
                if m in stepper.active:
                    rec["member_train_loss"][m] = float(out_loss[j])
        marker = ""
        if early_stopping is not None:
            with eval_scope():
                scores, ensemble, improved, stop = early_stopping.update(
                    epoch, modules, list(stepper.active)
                )
            for m in modules:
                m.train()
            rec["valid_score"] = float(ensemble)
            if n_members > 1:
                rec["member_valid_score"] = [
                    float(s) if m in stepper.active else None
                    for m, s in enumerate(scores)
                ]
                marker = str(len(improved)) if improved else ""
            else:
                marker = "*" if improved else ""
            for m in stop:
                reason[m] = "early_stopping"
                early_stopping.restore_best(m, modules[m])
                stepper.deactivate(m, optimizer)
        rec["dur"] = time.perf_counter() - t0
        history.append(rec)
        if table is not None:
            table.row(rec, marker)
        if not stepper.active:
            stopped = "early_stopping"
            break
    if stopped == "max_iter" and "non_finite" in reason:
        stopped = "non_finite"
    return TrainResult(steps_done=steps_done, stopped=stopped)
