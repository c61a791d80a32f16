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

import torch.nn.functional as F
from torch.func import functional_call, grad, grad_and_value, vmap

__all__ = ["weighted_loss", "make_loss_fn", "FuncEngine", "chunked_over_tasks"]


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


#: Estimated elements of per-task tensors (adapted weights, inner gradients,
#: activations) one chunk of tasks may hold: a step processes its tasks in
#: chunks of this size, so that its memory stops growing with
#: ``tasks_per_step`` (about 120 tasks per chunk for the default MLP on 30
#: features; the published 12-25-1 setting runs K = 81 in one chunk). Measured
#: on 2 CPU cores: chunking at this size costs no time, and makes K = 243 a
#: little faster (smaller working set).
_TASK_CHUNK_ELEMENTS = 1 << 22


def _task_chunks(params, batches, inner_steps, task_dim=0):
    """Slices of the task dimension, each holding a bounded number of elements.

    With ensemble members (``task_dim=1``) the parameters and batches carry a
    leading member dimension, and a chunk holds that many tasks per member.
    """
    n_tasks = batches[0].shape[task_dim]
    n_params = sum(p.numel() for p in params.values())
    rows = (batches[0].numel() + batches[3].numel()) // n_tasks
    per_task = (inner_steps + 2) * n_params + 8 * rows
    size = max(1, _TASK_CHUNK_ELEMENTS // per_task)
    if size >= n_tasks:
        return None
    return [slice(i, min(i + size, n_tasks)) for i in range(0, n_tasks, size)]


def chunked_over_tasks(fn, params, batches, members, inner_steps):
    """``fn(params, batches)`` over bounded chunks of tasks, results averaged.

    ``fn`` returns gradients and losses that are means over the tasks it is
    given; the chunks' results are combined with weights proportional to their
    number of tasks, which gives the mean over all tasks.
    """
    task_dim = 0 if members is None else 1
    chunks = _task_chunks(params, batches, inner_steps, task_dim)
    if chunks is None:
        return fn(params, batches)
    n_tasks = batches[0].shape[task_dim]
    grads = l_out = l_in = None
    for sl in chunks:
        share = (sl.stop - sl.start) / n_tasks
        index = sl if task_dim == 0 else (slice(None), sl)
        g, lo, li = fn(params, tuple(b[index] for b in batches))
        if grads is None:
            grads = {k: v * share for k, v in g.items()}
            l_out, l_in = lo * share, li * share
        else:
            for k, v in g.items():
                grads[k].add_(v, alpha=share)
            l_out, l_in = l_out + lo * share, l_in + li * share
    return grads, l_out, l_in


def _vmap_first_order(
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
    """:func:`meta_grad` (first order) for any module: one ``vmap`` over tasks."""
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


def _vmap_second_order(
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
    """:func:`meta_grad` (second order) for any module: one ``vmap`` over tasks."""
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


class FuncEngine:
    """Meta and plain gradients of any network, with ``torch.func``.

    One ``vmap`` over the tasks of a step evaluates every task's loss with
    ``functional_call``; ensemble members add a second ``vmap`` over the
    member dimension of the weights and batches. Dropout draws different masks
    for every task and member.
    """

    def __init__(self, module, binary):
        self.loss_fn = make_loss_fn(module, binary)

    def meta_grad(
        self,
        params,
        buffers,
        batches,
        *,
        members=None,
        first_order,
        inner_lr,
        inner_steps,
        inner_loss_weight,
    ):
        """Meta-gradient of one step, averaged over its tasks.

        ``batches`` is the tuple ``(x_in, y_in, w_in, x_out, y_out, w_out)``,
        each with a leading task dimension: ``x_in`` is ``(K, b_in, d)``,
        ``x_out`` is ``(K, b_out, d)`` and so on. With ``members=M`` the
        parameters, buffers and batches carry one more leading dimension of
        ``M`` ensemble members, and each member gets the meta-gradient of its
        own tasks.

        With ``first_order=True`` the factor ``I - alpha * H`` of the exact
        gradient is dropped, so the gradient of task ``k`` is
        ``grad L(phi_k; B_out^k) + lam * grad L(theta; B_in^k)``; otherwise the
        gradient flows through the adapted weights ``phi_k`` back to ``theta``.

        Returns
        -------
        grads : dict of Tensor
            Mean meta-gradient over tasks, shaped like ``params``.
        outer_loss : Tensor
            Mean outer loss ``L(phi_k; B_out^k)`` over tasks: a scalar, or one
            per member.
        inner_loss : Tensor
            Mean inner loss ``L(theta; B_in^k)`` over tasks, likewise.
        """
        one = _vmap_first_order if first_order else _vmap_second_order
        kwargs = dict(
            inner_lr=inner_lr,
            inner_steps=inner_steps,
            inner_loss_weight=inner_loss_weight,
        )
        loss_fn = self.loss_fn

        def run(p, b):
            if members is None:
                return one(loss_fn, p, buffers, *b, **kwargs)
            per_member = vmap(
                lambda pm, bm, *bb: one(loss_fn, pm, bm, *bb, **kwargs),
                randomness="different",
            )
            return per_member(p, buffers, *b)

        return chunked_over_tasks(run, params, batches, members, inner_steps)

    def plain_grad(self, params, buffers, x, y, w, *, members=None):
        """Gradient and value of the plain (non-meta) loss on one batch.

        With ``members=M`` everything carries a leading member dimension.
        """
        gv = grad_and_value(self.loss_fn)
        if members is None:
            return gv(params, buffers, x, y, w)
        return vmap(gv, randomness="different")(params, buffers, x, y, w)
