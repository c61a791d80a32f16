"""Pure functional pieces of the MetaBalance meta step.

Nothing here knows about scikit-learn, estimators or optimisers: every function
takes parameters and batches as tensors and returns tensors. The estimator owns
the training loop and the optimiser state.

Notation (see the user guide): for task ``k`` an inner batch ``B_in^k`` and an
outer batch ``B_out^k`` are drawn; ``inner_steps`` plain gradient steps of size
``alpha`` on the inner loss adapt the shared weights ``theta`` into
``phi_k``; the task loss is ``L(phi_k; B_out^k) + lam * L(theta; B_in^k)``. The
meta loss is the mean of the task losses over the ``K`` tasks of one step, all
starting from the same ``theta``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, grad_and_value, vmap

__all__ = [
    "weighted_loss",
    "make_loss_fn",
    "meta_grad_first_order",
    "meta_grad_second_order",
    "meta_grad",
    "plain_grad",
]


def weighted_loss(logits, target, weight, binary):
    """Weighted mean loss over a batch.

    Parameters
    ----------
    logits : Tensor of shape (n,) for binary problems or (n, n_classes)
    target : Tensor of shape (n,)
        Float 0/1 targets when ``binary`` else int64 class codes.
    weight : Tensor of shape (n,)
        Row weights; the loss is ``mean(weight * per_row_loss)``.
    binary : bool
        Binary cross-entropy on one logit if True, else softmax cross-entropy.
    """
    if binary:
        per_row = F.binary_cross_entropy_with_logits(
            logits.reshape(-1), target, reduction="none"
        )
    else:
        per_row = F.cross_entropy(logits, target, reduction="none")
    return (per_row * weight).mean()


def make_loss_fn(module, binary):
    """Return ``loss(params, buffers, x, y, w)`` evaluating ``module`` functionally."""

    def loss(params, buffers, x, y, w):
        logits = functional_call(module, (params, buffers), (x,))
        return weighted_loss(logits, y, w, binary)

    return loss


def _axpy(params, grads, alpha):
    return {k: p - alpha * grads[k] for k, p in params.items()}


def meta_grad_first_order(
    loss_fn,
    params,
    buffers,
    x_in,
    y_in,
    w_in,
    x_out,
    y_out,
    w_out,
    *,
    inner_lr,
    inner_steps,
    inner_loss_weight,
):
    """First-order meta-gradient averaged over the tasks of one step.

    The batches carry a leading task dimension: ``x_in`` is ``(K, b_in, d)``,
    ``x_out`` is ``(K, b_out, d)`` and so on. The factor ``I - alpha * H`` of
    the second-order gradient is dropped, so the gradient of task ``k`` is
    ``grad L(phi_k; B_out^k) + lam * grad L(theta; B_in^k)``.

    Returns
    -------
    grads : dict of Tensor
        Mean meta-gradient over tasks, shaped like ``params``.
    outer_loss : Tensor
        Mean outer loss ``L(phi_k; B_out^k)`` over tasks (scalar).
    inner_loss : Tensor
        Mean inner loss ``L(theta; B_in^k)`` over tasks (scalar).
    """
    inner_gv = grad_and_value(loss_fn)

    def one_task(x_i, y_i, w_i, x_o, y_o, w_o):
        g0, l0 = inner_gv(params, buffers, x_i, y_i, w_i)
        phi = _axpy(params, g0, inner_lr)
        for _ in range(inner_steps - 1):
            g, _ = inner_gv(phi, buffers, x_i, y_i, w_i)
            phi = _axpy(phi, g, inner_lr)
        g_out, l_out = inner_gv(phi, buffers, x_o, y_o, w_o)
        total = {k: g_out[k] + inner_loss_weight * g0[k] for k in g_out}
        return total, l_out, l0

    per_task, l_out, l_in = vmap(one_task, randomness="different")(
        x_in, y_in, w_in, x_out, y_out, w_out
    )
    grads = {k: v.mean(0) for k, v in per_task.items()}
    return grads, l_out.mean(), l_in.mean()


def meta_grad_second_order(
    loss_fn,
    params,
    buffers,
    x_in,
    y_in,
    w_in,
    x_out,
    y_out,
    w_out,
    *,
    inner_lr,
    inner_steps,
    inner_loss_weight,
):
    """Exact (second-order) meta-gradient averaged over the tasks of one step.

    Same arguments and return values as :func:`meta_grad_first_order`; the
    gradient flows through the adapted weights ``phi_k`` back to ``theta``.
    """
    inner_gv = grad_and_value(loss_fn)

    def task_loss(p, x_i, y_i, w_i, x_o, y_o, w_o):
        # grad_and_value keeps both outputs differentiable with respect to the
        # outer transform, so the inner loss at theta is not computed twice.
        g, l0 = inner_gv(p, buffers, x_i, y_i, w_i)
        phi = _axpy(p, g, inner_lr)
        for _ in range(inner_steps - 1):
            g, _ = inner_gv(phi, buffers, x_i, y_i, w_i)
            phi = _axpy(phi, g, inner_lr)
        l_out = loss_fn(phi, buffers, x_o, y_o, w_o)
        return l_out + inner_loss_weight * l0, (l_out, l0)

    def meta_loss(p):
        total, (l_out, l_in) = vmap(
            task_loss, in_dims=(None, 0, 0, 0, 0, 0, 0), randomness="different"
        )(p, x_in, y_in, w_in, x_out, y_out, w_out)
        return total.mean(), (l_out.mean(), l_in.mean())

    grads, (l_out, l_in) = grad(meta_loss, has_aux=True)(params)
    return grads, l_out, l_in


def meta_grad(loss_fn, params, buffers, batches, *, first_order, **kwargs):
    """Dispatch to the first- or second-order meta-gradient.

    ``batches`` is the tuple ``(x_in, y_in, w_in, x_out, y_out, w_out)``.
    """
    fn = meta_grad_first_order if first_order else meta_grad_second_order
    return fn(loss_fn, params, buffers, *batches, **kwargs)


def plain_grad(loss_fn, params, buffers, x, y, w):
    """Gradient and value of the plain (non-meta) loss on one batch."""
    return grad_and_value(loss_fn)(params, buffers, x, y, w)
