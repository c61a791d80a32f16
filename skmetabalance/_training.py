"""The training engine shared by both estimators.

An estimator hands the engine a *stepper*: an object that knows how many
optimiser steps make one epoch and how to put gradients into the module's
parameters for one step. Everything else (the epoch loop, validation and early
stopping, history, the progress table, non-finite losses and interruption) is
the same for every estimator.
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import torch
from sklearn.exceptions import ConvergenceWarning

from ._meta import make_loss_fn, meta_grad, plain_grad
from ._threads import n_params, one_thread, small_step

__all__ = ["MetaStepper", "PlainStepper", "run_epochs"]


def _detached_params(module):
    # Detached views share storage with the parameters, so they follow every
    # in-place optimiser update without being rebuilt. Only trainable
    # parameters: frozen ones (requires_grad=False) are constants of the step.
    return {k: p.detach() for k, p in module.named_parameters() if p.requires_grad}


def _constants(module):
    """Buffers plus frozen parameters: passed to the network, never adapted."""
    consts = dict(module.named_buffers())
    consts.update(
        (k, p.detach()) for k, p in module.named_parameters() if not p.requires_grad
    )
    return consts


def _trainable(module):
    return [(k, p) for k, p in module.named_parameters() if p.requires_grad]


def _set_grads(params, grads):
    # The gradients are fresh tensors every step, so they are handed to the
    # parameters as they are: no zeroing and no copy.
    for name, p in params:
        p.grad = grads[name]


class _Stepper:
    """What every stepper holds: the network, its loss and its parameters."""

    def __init__(self, module, binary):
        self.module = module
        self.loss_fn = make_loss_fn(module, binary)
        self.params = _detached_params(module)
        self.buffers = _constants(module)
        self._grad_targets = _trainable(module)

    def _use_one_thread(self, rows):
        """One intra-op thread for steps of ``rows`` rows through a small network."""
        return small_step(self.module, rows * n_params(self.module))


class MetaStepper(_Stepper):
    """One MetaBalance optimiser step: ``K`` tasks computed together."""

    def __init__(
        self,
        module,
        binary,
        inner_data,
        outer_data,
        inner_stream,
        outer_stream,
        *,
        tasks_per_step,
        inner_batch_size,
        outer_batch_size,
        inner_lr,
        inner_steps,
        inner_loss_weight,
        first_order,
    ):
        super().__init__(module, binary)
        self.inner_data = inner_data
        self.outer_data = outer_data
        self.inner_stream = inner_stream
        self.outer_stream = outer_stream
        self.K = int(tasks_per_step)
        self.b_in = int(min(inner_batch_size, inner_data[0].shape[0]))
        self.b_out = int(min(outer_batch_size, outer_data[0].shape[0]))
        self.kwargs = dict(
            inner_lr=float(inner_lr),
            inner_steps=int(inner_steps),
            inner_loss_weight=float(inner_loss_weight),
        )
        self.first_order = bool(first_order)
        rows = self.K * (self.b_in * self.kwargs["inner_steps"] + self.b_out)
        self._one_thread = self._use_one_thread(rows)

    @property
    def steps_per_epoch(self):
        n_out = self.outer_data[0].shape[0]
        return max(1, math.ceil(n_out / (self.K * self.b_out)))

    def _gather(self, data, stream, b):
        idx = stream.take(self.K * b)
        return tuple(
            t.index_select(0, idx).reshape(self.K, b, *t.shape[1:]) for t in data
        )

    def step(self):
        with one_thread(self._one_thread):
            batches = self._gather(self.inner_data, self.inner_stream, self.b_in)
            batches += self._gather(self.outer_data, self.outer_stream, self.b_out)
            grads, l_out, l_in = meta_grad(
                self.loss_fn,
                self.params,
                self.buffers,
                batches,
                first_order=self.first_order,
                **self.kwargs,
            )
        _set_grads(self._grad_targets, grads)
        return l_out.detach(), l_in.detach()


class PlainStepper(_Stepper):
    """One plain minibatch step on a single (resampled or weighted) set."""

    def __init__(self, module, binary, data, stream, *, batch_size):
        super().__init__(module, binary)
        self.data = data
        self.stream = stream
        self.b = int(min(batch_size, data[0].shape[0]))
        self._one_thread = self._use_one_thread(self.b)

    @property
    def steps_per_epoch(self):
        return max(1, math.ceil(self.data[0].shape[0] / self.b))

    def step(self):
        with one_thread(self._one_thread):
            idx = self.stream.take(self.b)
            x, y, w = (t.index_select(0, idx) for t in self.data)
            grads, loss = plain_grad(self.loss_fn, self.params, self.buffers, x, y, w)
        _set_grads(self._grad_targets, grads)
        return loss.detach(), None


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class _Table:
    """Compact per-epoch progress table printed when ``verbose`` is set."""

    def __init__(self, has_inner, has_valid):
        cols = [("epoch", 6), ("train_loss", 11)]
        if has_inner:
            cols.append(("inner_loss", 11))
        if has_valid:
            cols.append(("valid_score", 12))
            cols.append(("best", 5))
        cols += [("steps", 8), ("dur", 7)]
        self.cols = cols
        self.printed_header = False

    def row(self, rec, is_best):
        if not self.printed_header:
            print("  ".join(f"{name:>{w}}" for name, w in self.cols))
            print("  ".join("-" * w for _, w in self.cols))
            self.printed_header = True
        cells = []
        for name, w in self.cols:
            if name == "epoch":
                cells.append(f"{rec['epoch']:>{w}d}")
            elif name == "best":
                cells.append(f"{'*' if is_best else '':>{w}}")
            elif name == "steps":
                cells.append(f"{rec['steps']:>{w}d}")
            elif name == "dur":
                cells.append(f"{rec['dur']:>{w - 1}.2f}s")
            else:
                val = rec.get(name)
                cells.append(f"{'nan' if val is None else f'{val:.4f}':>{w}}")
        print("  ".join(cells), flush=True)


def run_epochs(
    module,
    optimizer,
    stepper,
    *,
    max_iter,
    validate,
    n_iter_no_change,
    tol,
    verbose,
    history,
    steps_done,
    best=None,
):
    """Train for up to ``max_iter`` epochs, appending one dict per epoch to ``history``.

    Parameters
    ----------
    validate : callable or None
        Returns the validation score (higher is better) of the module's current
        weights; None disables early stopping.
    best : dict or None
        ``{"score", "state", "epoch"}`` carried over from a warm start.

    Returns
    -------
    info : dict
        ``steps_done``, ``best`` (the best-score record), ``stopped`` (one of
        ``"max_iter"``, ``"early_stopping"``, ``"non_finite"``, ``"interrupted"``).
    """
    module.train()
    table = (
        _Table(isinstance(stepper, MetaStepper), validate is not None)
        if verbose
        else None
    )
    best = best or {"score": -math.inf, "state": None, "epoch": None}
    no_improve = 0
    first_epoch = len(history) + 1
    stopped = "max_iter"
    n_steps = stepper.steps_per_epoch
    prev = None  # (epoch, weights, optimiser state, best) as the last epoch began
    for epoch in range(first_epoch, first_epoch + max_iter):
        t0 = time.perf_counter()
        start_state = _snapshot(module)
        # A deep copy: the optimiser updates its momentum buffers in place.
        start_opt = copy.deepcopy(optimizer.state_dict())
        try:
            out_sum = torch.zeros((), device=next(iter(stepper.params.values())).device)
            in_sum = out_sum.clone()
            for i in range(n_steps):
                l_out, l_in = stepper.step()
                if i == 0:
                    # The loss at the weights the epoch started from (the inner
                    # loss for a meta step, whose outer loss is at adapted weights).
                    start_loss = (l_out if l_in is None else l_in).clone()
                optimizer.step()
                out_sum += l_out
                if l_in is not None:
                    in_sum += l_in
            train_loss = out_sum.item() / n_steps
            inner_loss = in_sum.item() / n_steps if l_in is not None else None
        except KeyboardInterrupt:
            module.load_state_dict(start_state)
            optimizer.load_state_dict(start_opt)
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
        params_finite = all(torch.isfinite(p).all() for p in module.parameters())
        if not (math.isfinite(train_loss) and params_finite) or (
            inner_loss is not None and not math.isfinite(inner_loss)
        ):
            start_value = start_loss.item()
            start_ok = math.isfinite(start_value)
            if not start_ok and prev is not None and prev[0] == epoch - 1:
                # The weights this epoch started from already gave a non-finite
                # loss: go back one more epoch, to weights whose loss was finite.
                _, start_state, start_opt, best = prev
                history.pop()
                steps_done -= n_steps
                kept_epoch = epoch - 2
            else:
                kept_epoch = epoch - 1
            module.load_state_dict(start_state)
            optimizer.load_state_dict(start_opt)
            kept = (
                f"the weights of epoch {kept_epoch} were restored"
                if kept_epoch > 0
                else "the initial weights were restored"
            )
            if prev is None and not start_value < 1e3:
                # Cross-entropy at sensible starting weights is about log(n_classes).
                cause = (
                    f"The loss was already {start_value:.3g} at the weights training "
                    "started from, so the features are probably too large or badly "
                    "scaled: standardise them (e.g. StandardScaler in a Pipeline)."
                )
            elif inner_loss is not None and math.isfinite(inner_loss):
                cause = (
                    "The inner loss stayed finite, so 'inner_lr' (or 'lr') is "
                    "probably too large: lower it, or standardise the features."
                )
            else:
                cause = (
                    "The learning rate 'lr' is probably too large: lower it, or "
                    "standardise the features (e.g. StandardScaler in a Pipeline)."
                )
            warnings.warn(
                f"The training loss became non-finite during epoch {epoch}; training "
                f"stopped and {kept}. {cause}",
                ConvergenceWarning,
                stacklevel=4,
            )
            stopped = "non_finite"
            break
        prev = (epoch, start_state, start_opt, best)
        steps_done += n_steps
        rec = {
            "epoch": epoch,
            "train_loss": train_loss,
            "inner_loss": inner_loss,
            "valid_score": None,
            "steps": steps_done,
            "dur": None,
        }
        is_best = False
        if validate is not None:
            score = float(validate())
            module.train()
            rec["valid_score"] = score
            if score > best["score"] + tol or best["state"] is None:
                best = {"score": score, "state": _snapshot(module), "epoch": epoch}
                no_improve = 0
                is_best = True
            else:
                no_improve += 1
        rec["dur"] = time.perf_counter() - t0
        history.append(rec)
        if table is not None:
            table.row(rec, is_best)
        if validate is not None and no_improve >= n_iter_no_change:
            stopped = "early_stopping"
            break
    return {"steps_done": steps_done, "best": best, "stopped": stopped}
