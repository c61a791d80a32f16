"""Built-in network and checks on user-supplied module factories."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Sequential):
    """Fully connected ReLU network used when ``module=None``.

    Parameters
    ----------
    n_features : int
        Width of the input rows.
    n_outputs : int
        One logit for binary problems, one per class otherwise.
    hidden_layer_sizes : tuple of int
        Width of each hidden layer; ``()`` gives a linear model.
    dropout : float
        Dropout probability applied after every hidden activation.
    """

    def __init__(self, n_features, n_outputs, hidden_layer_sizes=(64, 64), dropout=0.0):
        layers = []
        width = n_features
        for h in hidden_layer_sizes:
            layers.append(nn.Linear(width, h))
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_outputs))
        super().__init__(*layers)


def build_module(factory, n_features, n_outputs, hidden_layer_sizes, dropout):
    """Instantiate the network for a fit and check what the factory returned."""
    if factory is None:
        return MLP(n_features, n_outputs, tuple(hidden_layer_sizes), float(dropout))
    if isinstance(factory, nn.Module):
        raise TypeError(
            "The 'module' parameter must be a callable (n_features, n_outputs) -> "
            "torch.nn.Module, such as a Module subclass or a factory function; got "
            f"an instance of {type(factory).__name__}. Pass the class or wrap the "
            "construction in a function."
        )
    module = factory(n_features, n_outputs)
    if not isinstance(module, nn.Module):
        raise TypeError(
            "The 'module' factory must return a torch.nn.Module; "
            f"module({n_features}, {n_outputs}) returned {type(module).__name__}."
        )
    if not any(p.requires_grad for p in module.parameters()):
        raise ValueError(
            "The network built by the 'module' factory has no trainable parameters "
            "(none with requires_grad=True); there is nothing to fit."
        )
    for name, sub in module.named_modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.track_running_stats:
            raise ValueError(
                "Modules with running batch statistics are not supported: "
                f"submodule {name!r} is {type(sub).__name__} with "
                "track_running_stats=True, whose in-place running-stat updates "
                "cannot be vectorised over tasks and make predictions depend on the "
                "batch. Use nn.GroupNorm or nn.LayerNorm instead."
            )
    return module


def check_output_shape(module, n_features, n_outputs, device):
    """Run one row through ``module`` and check the logits' shape."""
    x = torch.zeros(2, n_features, device=device)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    finally:
        module.train(was_training)
    expected = (2, n_outputs)
    ok = tuple(out.shape) == expected or (n_outputs == 1 and tuple(out.shape) == (2,))
    if not ok:
        raise ValueError(
            f"The network must map a batch of shape (n, {n_features}) to logits of "
            f"shape (n, {n_outputs}); for a batch of 2 rows it returned shape "
            f"{tuple(out.shape)}."
        )


def average_logits(logits):
    """Logits whose probabilities are the mean of the members' probabilities.

    ``logits`` is a sequence of ``(n, n_outputs)`` tensors, one per member. For
    one output (two classes) the result is the log-odds of the mean positive
    probability, ``log(p) - log(1 - p)``; for several it is the log of the mean
    class probabilities, whose softmax is that mean. Both are computed from log
    probabilities with ``logsumexp``, so that saturated members do not overflow.
    """
    z = torch.stack(list(logits))
    log_m = math.log(z.shape[0])
    if z.shape[-1] == 1:
        log_p = torch.logsumexp(F.logsigmoid(z), dim=0) - log_m
        log_q = torch.logsumexp(F.logsigmoid(-z), dim=0) - log_m
        return log_p - log_q
    return torch.logsumexp(F.log_softmax(z, dim=-1), dim=0) - log_m


class Ensemble(nn.ModuleList):
    """Ensemble members as one network.

    Its forward returns :func:`average_logits` of the members' logits, so that
    the sigmoid (one output) or softmax of its output is the members' mean
    probability: what the estimators' ``predict_proba`` returns.
    """

    def forward(self, x):
        return average_logits([member(x) for member in self])
