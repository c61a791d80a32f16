"""The estimators' optimiser: SGD with (Nesterov) momentum and weight decay.

It computes what ``torch.optim.SGD(..., foreach=True)`` computes, in the same
order of operations, so results are identical to the last bit, and it keeps
the same ``state_dict`` layout, so optimiser states saved with a model load in
either. Two reasons it is written here rather than taken from ``torch.optim``:

* the first use of any ``torch.optim`` optimiser in a process imports
  ``torch._dynamo``, which costs 1.5 to 2.5 s; every fresh process (each
  ``joblib`` worker of a cross-validation, each script) paid it on its first
  fit, often more than the fit itself;
* a step of a small network is a few dozen microseconds of arithmetic, and
  ``torch.optim``'s per-step bookkeeping (grouping tensors by device and
  dtype, hooks, grad-mode switching) is a visible share of it.

The interface is the part of ``torch.optim.Optimizer`` the training loop
uses: ``param_groups``, ``state`` (parameter to ``{"momentum_buffer": t}``),
``step()``, ``state_dict()`` and ``load_state_dict()``. Any
``torch.optim.Optimizer`` can stand in for it.
"""

from __future__ import annotations

import torch

__all__ = ["SGD"]

#: Group keys of ``torch.optim.SGD`` this optimiser keeps only for the state
#: layout, at their values; the first two change the update and are checked
#: when a state is loaded, the others do not.
_FIXED = {
    "dampening": 0,
    "maximize": False,
    "foreach": True,
    "differentiable": False,
    "fused": None,
}
_CHECKED = ("dampening", "maximize")
_FREE = ("lr", "momentum", "weight_decay", "nesterov")


def _check_hyper(lr, momentum, weight_decay, nesterov):
    for name, value in (
        ("lr", lr),
        ("momentum", momentum),
        ("weight_decay", weight_decay),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not value >= 0
        ):
            raise ValueError(
                f"SGD's {name!r} must be a non-negative number; got {value!r}"
            )
    if nesterov and momentum == 0:
        raise ValueError("SGD with nesterov=True needs a momentum above 0; got 0")


class SGD:
    """Stochastic gradient descent over ``params``.

    Per parameter ``p`` with gradient ``g``: ``g += weight_decay * p``; with
    momentum, ``buf = momentum * buf + g`` (``buf = g`` at the first step) and
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; then
    ``p -= lr * g``. Parameters without a gradient are left alone, their
    momentum too.
    """

    def __init__(self, params, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        params = list(params)
        if not params:
            raise ValueError("SGD got no parameters to optimise")
        for p in params:
            if not isinstance(p, torch.Tensor):
                raise TypeError(
                    f"SGD optimises tensors; got an element of type {type(p).__name__}"
                )
        _check_hyper(lr, momentum, weight_decay, nesterov)
        # The keys in torch.optim.SGD's order, so that saved states match.
        group = dict(lr=lr, momentum=momentum, dampening=0)
        group.update(weight_decay=weight_decay, nesterov=bool(nesterov))
        group.update({k: v for k, v in _FIXED.items() if k != "dampening"})
        group["params"] = params
        self.param_groups = [group]
        self.state = {}

    # ------------------------------------------------------------------ step
    @torch.no_grad()
    def step(self):
        """One update of every parameter that has a gradient."""
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            lr, momentum = group["lr"], group["momentum"]
            weight_decay = group["weight_decay"]
            if weight_decay != 0:
                grads = torch._foreach_add(grads, params, alpha=weight_decay)
            if momentum != 0:
                bufs = [self.state.get(p, {}).get("momentum_buffer") for p in params]
                if all(b is not None for b in bufs):
                    torch._foreach_mul_(bufs, momentum)
                    torch._foreach_add_(bufs, grads, alpha=1)
                else:
                    for i, (p, buf) in enumerate(zip(params, bufs)):
                        if buf is None:
                            bufs[i] = grads[i].detach().clone()
                            self.state.setdefault(p, {})["momentum_buffer"] = bufs[i]
                        else:
                            buf.mul_(momentum).add_(grads[i], alpha=1)
                if group["nesterov"]:
                    grads = torch._foreach_add(grads, bufs, alpha=momentum)
                else:
                    grads = bufs
            torch._foreach_add_(params, grads, alpha=-lr)

    # ----------------------------------------------------------------- state
    def _all_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """``{"state": {index: entries}, "param_groups": [...]}`` as torch lays it out.

        Parameters are numbered in the order of the groups; the state's
        tensors are the optimiser's own (not copies).
        """
        index = {id(p): i for i, p in enumerate(self._all_params())}
        groups, start = [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(packed)
        state = {index[id(p)]: dict(entries) for p, entries in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Take the hyperparameters and momentum of ``state_dict``, checked."""
        try:
            saved_groups = state_dict["param_groups"]
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError(
                "an optimizer state must be a dict with 'state' and 'param_groups'; "
                f"got {type(state_dict).__name__}"
            ) from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"the optimizer state has {len(saved_groups)} parameter groups; "
                f"this optimizer has {len(self.param_groups)}"
            )
        for saved, group in zip(saved_groups, self.param_groups):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"a parameter group of the optimizer state holds "
                    f"{len(saved['params'])} parameters; this optimizer's holds "
                    f"{len(group['params'])}"
                )
            for key in _CHECKED:
                value = _FIXED[key]
                if key in saved and saved[key] != value:
                    raise ValueError(
                        f"the optimizer state has {key}={saved[key]!r}; this SGD "
                        f"supports only {key}={value!r}"
                    )
            missing = [k for k in _FREE if k not in saved]
            if missing:
                raise ValueError(f"the optimizer state's group lacks {missing}")
            _check_hyper(
                *(saved[k] for k in ("lr", "momentum", "weight_decay", "nesterov"))
            )
        where = dict(
            zip(
                (i for saved in saved_groups for i in saved["params"]),
                self._all_params(),
            )
        )
        state = {}
        for idx, entries in saved_state.items():
            if idx not in where:
                raise ValueError(
                    f"the optimizer state has an entry {idx!r} for none of the "
                    f"{len(where)} parameters"
                )
            p = where[idx]
            state[p] = {
                k: (
                    v.detach().to(device=p.device, dtype=p.dtype, copy=True)
                    if isinstance(v, torch.Tensor) and p.is_floating_point()
                    else v
                )
                for k, v in entries.items()
            }
        for saved, group in zip(saved_groups, self.param_groups):
            for key in _FREE:
                group[key] = saved[key]
        self.state = state

    @classmethod
    def like(cls, params, group):
        """An SGD over ``params`` with the hyperparameters of ``group``."""
        return cls(params, **{k: group[k] for k in _FREE})
