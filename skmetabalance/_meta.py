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

from functools import partial

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, grad_and_value, vmap

__all__ = [
    "weighted_loss",
    "make_loss_fn",
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
    """Return ``loss(params, buffers, x, y, w)`` evaluating ``module`` functionally.

    When ``module`` is a plain stack of linear layers and element-wise
    activations (the built-in MLP, or an ``nn.Sequential`` of ``Linear``,
    ``ReLU``, ``Tanh``, ``Identity`` and ``Dropout`` layers), the returned
    function carries a layer plan that lets the meta-gradients below run all
    tasks as batched matrix products with hand-written backward passes instead
    of ``vmap``. The results are the same up to float rounding.
    """

    def loss(params, buffers, x, y, w):
        logits = functional_call(module, (params, buffers), (x,))
        return weighted_loss(logits, y, w, binary)

    loss._stack = _StackPlan.from_module(module, binary)
    return loss


def _axpy(params, grads, alpha):
    return {k: p - alpha * grads[k] for k, p in params.items()}


def _axpy_fused(params, grads, alpha):
    # ``p - alpha * g`` in one kernel (broadcasts shared weights over tasks).
    return {k: torch.sub(p, grads[k], alpha=alpha) for k, p in params.items()}


# --------------------------------------------------------------------------
# Batched fast path for plain stacks of linear layers.
#
# ``vmap`` over tasks pays a large Python/dispatch cost per operation, which
# dominates the step for the small tabular networks this package targets. For
# a stack of Linear layers and element-wise activations the whole step can be
# written as a handful of batched matrix products: the inner gradient of every
# task at the shared weights comes from one forward pass over all K * b_in
# rows and one ``bmm`` per layer, the adapted weights carry a leading task
# dimension, and the outer pass uses ``baddbmm``. The backward passes are
# written out (they are the same formulas autograd uses), so the first-order
# step runs without autograd at all. For the second-order step the same
# hand-written inner gradient is built from differentiable operations and one
# reverse pass through it gives the exact meta-gradient (no double backward).

_STACK_ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Identity: "id"}


class _StackPlan:
    """Layer plan of an ``nn.Sequential`` of Linear layers and activations."""

    def __init__(self, module, layers, names, binary):
        self.module = module
        self.layers = layers
        self.names = names
        self.binary = binary
        self.first_linear = next(
            i for i, layer in enumerate(layers) if layer[0] == "linear"
        )
        self.dropouts = [layer[1] for layer in layers if layer[0] == "dropout"]
        self.submodules = list(module.modules())

    @classmethod
    def from_module(cls, module, binary):
        if not isinstance(module, nn.Sequential):
            return None
        if type(module).forward is not nn.Sequential.forward:
            return None
        if any(True for _ in module.buffers()):
            return None
        layers = []
        names = set()
        last_out = None
        for child_name, sub in module.named_children():
            kind = type(sub)
            if kind is nn.Linear:
                bias = f"{child_name}.bias" if sub.bias is not None else None
                layers.append(("linear", f"{child_name}.weight", bias))
                names.add(f"{child_name}.weight")
                if bias is not None:
                    names.add(bias)
                last_out = sub.out_features
            elif kind in _STACK_ACTIVATIONS:
                layers.append((_STACK_ACTIVATIONS[kind],))
            elif kind is nn.Dropout:
                layers.append(("dropout", sub))
            else:
                return None
        if last_out is None or (binary and last_out != 1):
            return None
        if names != {name for name, _ in module.named_parameters()}:
            return None
        return cls(module, tuple(layers), names, binary)

    def usable(self, params, buffers):
        """Whether the fast path computes exactly what ``functional_call`` would."""
        if buffers or params.keys() != self.names:
            return False
        if any(d.training and d.p > 0 for d in self.dropouts):
            return False
        if nn.modules.module._global_forward_hooks or (
            nn.modules.module._global_forward_pre_hooks
        ):
            return False
        return not any(
            m._forward_hooks or m._forward_pre_hooks for m in self.submodules
        )

    def forward(self, params, x, per_task):
        """Logits of ``x`` (K, b, d); weights carry a task dimension if ``per_task``."""
        saved = []
        h = x
        for layer in self.layers:
            kind = layer[0]
            if kind == "linear":
                saved.append(h)
                weight = params[layer[1]]
                bias = params[layer[2]] if layer[2] is not None else None
                if not per_task:
                    h = F.linear(h, weight, bias)
                elif bias is None:
                    h = torch.bmm(h, weight.transpose(1, 2))
                else:
                    h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            elif kind == "relu":
                h = torch.relu(h)
                saved.append(h)
            elif kind == "tanh":
                h = torch.tanh(h)
                saved.append(h)
            else:
                saved.append(None)
        return h, saved

    def loss(self, z, y, w, with_grad=True):
        """Per-task weighted mean losses (K,) and their gradients w.r.t. ``z``."""
        n = z.shape[1]
        if self.binary:
            z1 = z.squeeze(-1)
            per_row = F.binary_cross_entropy_with_logits(z1, y, reduction="none")
            dz = (
                ((torch.sigmoid(z1) - y) * (w / n)).unsqueeze(-1) if with_grad else None
            )
        else:
            n_classes = z.shape[-1]
            per_row = F.cross_entropy(
                z.reshape(-1, n_classes), y.reshape(-1), reduction="none"
            ).reshape(y.shape)
            if with_grad:
                dz = torch.softmax(z, dim=-1) - F.one_hot(y, n_classes).to(z.dtype)
                dz = dz * (w / n).unsqueeze(-1)
            else:
                dz = None
        return (per_row * w).mean(1), dz

    def backward(self, params, saved, dz, per_task, per_task_grads):
        """Parameter gradients from ``dz``: one per task, or summed over tasks."""
        grads = {}
        d = dz
        for i in range(len(self.layers) - 1, self.first_linear - 1, -1):
            layer = self.layers[i]
            kind = layer[0]
            if kind == "linear":
                h = saved[i]
                if per_task_grads:
                    # In a second-order graph the operand passed transposed to
                    # bmm gets a transposed gradient in the reverse pass, which
                    # sends the element-wise kernels after it down a slow
                    # strided path (measured: 1.3x slower steps). Transpose the
                    # smaller of the two operands that need a gradient.
                    if d.requires_grad and not (
                        h.requires_grad and h.shape[-1] > d.shape[-1]
                    ):
                        g = torch.bmm(h.transpose(1, 2), d).transpose(1, 2)
                    else:
                        g = torch.bmm(d.transpose(1, 2), h)
                    grads[layer[1]] = g
                    if layer[2] is not None:
                        grads[layer[2]] = d.sum(1)
                else:
                    grads[layer[1]] = torch.mm(
                        d.reshape(-1, d.shape[-1]).t(), h.reshape(-1, h.shape[-1])
                    )
                    if layer[2] is not None:
                        grads[layer[2]] = d.sum((0, 1))
                if i > self.first_linear:
                    weight = params[layer[1]]
                    d = torch.bmm(d, weight) if per_task else torch.matmul(d, weight)
            elif kind == "relu":
                # What autograd runs for relu: one kernel, no bool mask.
                d = torch.ops.aten.threshold_backward(d, saved[i], 0)
            elif kind == "tanh":
                d = torch.ops.aten.tanh_backward(d, saved[i])
        return grads

    def _adapt(self, params, x_in, y_in, w_in, inner_lr, inner_steps):
        """Inner losses at theta, and the adapted weights phi (task dimension first)."""
        z, saved = self.forward(params, x_in, per_task=False)
        l_in, dz = self.loss(z, y_in, w_in)
        g0 = self.backward(params, saved, dz, per_task=False, per_task_grads=True)
        phi = _axpy_fused(params, g0, inner_lr)
        for _ in range(inner_steps - 1):
            z, saved = self.forward(phi, x_in, per_task=True)
            _, dz = self.loss(z, y_in, w_in)
            g = self.backward(phi, saved, dz, per_task=True, per_task_grads=True)
            phi = _axpy_fused(phi, g, inner_lr)
        return l_in, g0, phi

    def first_order(
        self,
        params,
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
        n_tasks = x_in.shape[0]
        with torch.no_grad():
            if inner_lr == 0:
                # phi_k = theta: every task shares the weights, no per-task copies.
                z, saved = self.forward(params, x_in, per_task=False)
                l_in, dz = self.loss(z, y_in, w_in)
                g_in = self.backward(params, saved, dz / n_tasks, False, False)
                z, saved = self.forward(params, x_out, per_task=False)
                l_out, dz = self.loss(z, y_out, w_out)
                g_out = self.backward(params, saved, dz / n_tasks, False, False)
            else:
                l_in, g0, phi = self._adapt(
                    params, x_in, y_in, w_in, inner_lr, inner_steps
                )
                g_in = {k: v.mean(0) for k, v in g0.items()}
                z, saved = self.forward(phi, x_out, per_task=True)
                l_out, dz = self.loss(z, y_out, w_out)
                g_out = self.backward(phi, saved, dz / n_tasks, True, False)
            grads = {
                k: torch.add(g_out[k], g_in[k], alpha=inner_loss_weight) for k in params
            }
        return grads, l_out.mean(), l_in.mean()

    def second_order(
        self,
        params,
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
        theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        with torch.enable_grad():
            if inner_lr == 0:
                z, _ = self.forward(theta, x_in, per_task=False)
                l_in, _ = self.loss(z, y_in, w_in, with_grad=False)
                z, _ = self.forward(theta, x_out, per_task=False)
            else:
                l_in, _, phi = self._adapt(
                    theta, x_in, y_in, w_in, inner_lr, inner_steps
                )
                z, _ = self.forward(phi, x_out, per_task=True)
            l_out, _ = self.loss(z, y_out, w_out, with_grad=False)
            total = (l_out + inner_loss_weight * l_in).mean()
            grads = torch.autograd.grad(total, list(theta.values()))
        return dict(zip(theta, grads)), l_out.detach().mean(), l_in.detach().mean()

    def plain(self, params, x, y, w):
        with torch.no_grad():
            z, saved = self.forward(params, x.unsqueeze(0), per_task=False)
            loss, dz = self.loss(z, y.unsqueeze(0), w.unsqueeze(0))
            grads = self.backward(params, saved, dz, False, False)
        return {k: grads[k] for k in params}, loss[0]


def _stack_plan(loss_fn, params, buffers):
    plan = getattr(loss_fn, "_stack", None)
    if plan is not None and plan.usable(params, buffers):
        return plan
    return None


#: Estimated elements of per-task tensors (adapted weights, inner gradients,
#: activations) one chunk of tasks may hold: a step processes its tasks in
#: chunks of this size, so that its memory stops growing with
#: ``tasks_per_step`` (about 120 tasks per chunk for the default MLP on 30
#: features; the published 12-25-1 setting runs K = 81 in one chunk). Measured
#: on 2 CPU cores: chunking at this size costs no time, and makes K = 243 a
#: little faster (smaller working set).
_TASK_CHUNK_ELEMENTS = 1 << 22


def _task_chunks(params, batches, inner_steps):
    """Slices of the task dimension, each holding a bounded number of elements."""
    n_tasks = batches[0].shape[0]
    n_params = sum(p.numel() for p in params.values())
    rows = batches[0][0].numel() + batches[3][0].numel()
    per_task = (inner_steps + 2) * n_params + 8 * rows
    size = max(1, _TASK_CHUNK_ELEMENTS // per_task)
    if size >= n_tasks:
        return None
    return [slice(i, min(i + size, n_tasks)) for i in range(0, n_tasks, size)]


def _chunked(fn, params, batches, kwargs):
    chunks = _task_chunks(params, batches, kwargs["inner_steps"])
    if chunks is None:
        return fn(*batches, **kwargs)
    n_tasks = batches[0].shape[0]
    grads = l_out = l_in = None
    for sl in chunks:
        share = (sl.stop - sl.start) / n_tasks
        g, lo, li = fn(*(b[sl] for b in batches), **kwargs)
        if grads is None:
            grads = {k: v * share for k, v in g.items()}
            l_out, l_in = lo * share, li * share
        else:
            for k, v in g.items():
                grads[k].add_(v, alpha=share)
            l_out, l_in = l_out + lo * share, l_in + li * share
    return grads, l_out, l_in


def _dispatch(first_order, loss_fn, params, buffers, batches, kwargs):
    """Run the batched fast path when the network allows it, else ``vmap``."""
    plan = _stack_plan(loss_fn, params, buffers)
    if plan is not None:
        fn = partial(plan.first_order if first_order else plan.second_order, params)
    else:
        vmapped = _vmap_first_order if first_order else _vmap_second_order
        fn = partial(vmapped, loss_fn, params, buffers)
    return _chunked(fn, params, batches, kwargs)


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


def meta_grad(
    loss_fn,
    params,
    buffers,
    batches,
    *,
    first_order,
    inner_lr,
    inner_steps,
    inner_loss_weight,
):
    """Meta-gradient of one step, averaged over its tasks.

    ``batches`` is the tuple ``(x_in, y_in, w_in, x_out, y_out, w_out)``, each
    with a leading task dimension: ``x_in`` is ``(K, b_in, d)``, ``x_out`` is
    ``(K, b_out, d)`` and so on.

    With ``first_order=True`` the factor ``I - alpha * H`` of the exact
    gradient is dropped, so the gradient of task ``k`` is
    ``grad L(phi_k; B_out^k) + lam * grad L(theta; B_in^k)``; otherwise the
    gradient flows through the adapted weights ``phi_k`` back to ``theta``.
    Plain stacks of linear layers take the batched path, every other network
    one ``vmap`` over tasks.

    Returns
    -------
    grads : dict of Tensor
        Mean meta-gradient over tasks, shaped like ``params``.
    outer_loss : Tensor
        Mean outer loss ``L(phi_k; B_out^k)`` over tasks (scalar).
    inner_loss : Tensor
        Mean inner loss ``L(theta; B_in^k)`` over tasks (scalar).
    """
    kwargs = dict(
        inner_lr=inner_lr, inner_steps=inner_steps, inner_loss_weight=inner_loss_weight
    )
    return _dispatch(first_order, loss_fn, params, buffers, batches, kwargs)


def plain_grad(loss_fn, params, buffers, x, y, w):
    """Gradient and value of the plain (non-meta) loss on one batch."""
    plan = _stack_plan(loss_fn, params, buffers)
    if plan is not None:
        return plan.plain(params, x, y, w)
    return grad_and_value(loss_fn)(params, buffers, x, y, w)
