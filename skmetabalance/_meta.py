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

from torch.func import functional_call, grad, grad_and_value, vmap

from .losses import LossTerms, loss_rows

__all__ = ["weighted_loss", "make_loss_fn", "FuncEngine", "chunked_over_tasks"]


def weighted_loss(logits, target, weight, binary, terms=None):
    """Weighted mean loss over a batch.

    Parameters
    ----------
    logits : Tensor of shape (n,) for binary problems or (n, n_classes)
    target : Tensor of shape (n,)
        Float 0/1 targets when ``binary`` else int64 class codes.
    weight : Tensor of shape (n,)
        Row weights; the loss is ``mean(weight * per_row_loss)``.
    binary : bool
        One logit (binary form of the loss) if True, else one logit per class.
    terms : skmetabalance.losses.LossTerms or None
        The loop's loss (None: cross-entropy); see
        :func:`skmetabalance.losses.loss_rows`, which computes the row losses.
    """
    z = logits.reshape(-1, 1) if binary else logits
    per_row, _ = loss_rows(z, target, terms, binary, with_grad=False)
    return (per_row * weight).mean()


def make_loss_fn(module, binary, gamma=0.0, scale=1.0):
    """Return ``loss(params, buffers, x, y, w, tables=None)`` evaluating ``module``.

    ``gamma`` and ``scale`` are the constants of a loop's loss and ``tables``
    its class tables (see :class:`skmetabalance.losses.LossTerms`); without
    tables the loss is cross-entropy.
    """

    def loss(params, buffers, x, y, w, tables=None):
        logits = functional_call(module, (params, buffers), (x,))
        terms = None if tables is None else LossTerms(gamma, scale, tables)
        return weighted_loss(logits, y, w, binary, terms)

    return loss


def _bind(loss_fn, tables):
    """``loss_fn`` with the class tables of one loop (and member) fixed."""
    if tables is None:
        return loss_fn
    return lambda p, b, x, y, w: loss_fn(p, b, x, y, w, tables)


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
    loss_in,
    loss_out,
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
    inner_gv = grad_and_value(loss_in)
    outer_gv = grad_and_value(loss_out)

    def one_task(x_i, y_i, w_i, x_o, y_o, w_o):
        g0, l0 = inner_gv(params, buffers, x_i, y_i, w_i)
        phi = _axpy(params, g0, inner_lr)
        for _ in range(inner_steps - 1):
            g, _ = inner_gv(phi, buffers, x_i, y_i, w_i)
            phi = _axpy(phi, g, inner_lr)
        g_out, l_out = outer_gv(phi, buffers, x_o, y_o, w_o)
        total = {k: g_out[k] + inner_loss_weight * g0[k] for k in g_out}
        return total, l_out, l0

    per_task, l_out, l_in = vmap(one_task, randomness="different")(
        x_in, y_in, w_in, x_out, y_out, w_out
    )
    grads = {k: v.mean(0) for k, v in per_task.items()}
    return grads, l_out.mean(), l_in.mean()


def _vmap_second_order(
    loss_in,
    loss_out,
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
    inner_gv = grad_and_value(loss_in)

    def task_loss(p, x_i, y_i, w_i, x_o, y_o, w_o):
        # grad_and_value keeps both outputs differentiable with respect to the
        # outer transform, so the inner loss at theta is not computed twice.
        g, l0 = inner_gv(p, buffers, x_i, y_i, w_i)
        phi = _axpy(p, g, inner_lr)
        for _ in range(inner_steps - 1):
            g, _ = inner_gv(phi, buffers, x_i, y_i, w_i)
            phi = _axpy(phi, g, inner_lr)
        l_out = loss_out(phi, buffers, x_o, y_o, w_o)
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
        self.module = module
        self.binary = binary
        self.loss_fn = make_loss_fn(module, binary)

    def _loss_fn(self, terms):
        """The loss function of one loop, and its class tables (or None)."""
        if terms is None:
            return self.loss_fn, None
        fn = make_loss_fn(self.module, self.binary, terms.gamma, terms.scale)
        return fn, terms.tables

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
        losses=(None, None),
    ):
        """Meta-gradient of one step, averaged over its tasks.

        ``batches`` is the tuple ``(x_in, y_in, w_in, x_out, y_out, w_out)``,
        each with a leading task dimension: ``x_in`` is ``(K, b_in, d)``,
        ``x_out`` is ``(K, b_out, d)`` and so on. With ``members=M`` the
        parameters, buffers and batches carry one more leading dimension of
        ``M`` ensemble members, and each member gets the meta-gradient of its
        own tasks.

        ``losses`` holds the inner and the outer loop's
        :class:`~skmetabalance.losses.LossTerms` (None: cross-entropy); with
        members their tables carry a leading member dimension.

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
        (fn_in, tab_in), (fn_out, tab_out) = (self._loss_fn(t) for t in losses)

        def run(p, b):
            if members is None:
                return one(
                    _bind(fn_in, tab_in),
                    _bind(fn_out, tab_out),
                    p,
                    buffers,
                    *b,
                    **kwargs,
                )

            def member(pm, bm, t_in, t_out, *bb):
                return one(
                    _bind(fn_in, t_in), _bind(fn_out, t_out), pm, bm, *bb, **kwargs
                )

            dims = (0, 0, None if tab_in is None else 0, None if tab_out is None else 0)
            per_member = vmap(
                member, in_dims=dims + (0,) * len(b), randomness="different"
            )
            return per_member(p, buffers, tab_in, tab_out, *b)

        return chunked_over_tasks(run, params, batches, members, inner_steps)

    def plain_grad(self, params, buffers, x, y, w, *, members=None, loss=None):
        """Gradient and value of the plain (non-meta) loss on one batch.

        With ``members=M`` everything carries a leading member dimension.
        ``loss`` is the set's :class:`~skmetabalance.losses.LossTerms` (None:
        cross-entropy).
        """
        fn, tables = self._loss_fn(loss)
        if members is None:
            return grad_and_value(_bind(fn, tables))(params, buffers, x, y, w)

        def member(p, b, x_m, y_m, w_m, t):
            return grad_and_value(_bind(fn, t))(p, b, x_m, y_m, w_m)

        dims = (0, 0, 0, 0, 0, None if tables is None else 0)
        return vmap(member, in_dims=dims, randomness="different")(
            params, buffers, x, y, w, tables
        )
