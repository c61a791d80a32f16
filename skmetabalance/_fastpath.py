"""The batched gradient engine for plain stacks of linear layers.

``vmap`` over tasks pays a Python and dispatch cost per operation that
dominates the step of the small tabular networks this package targets. For an
``nn.Sequential`` of ``Linear`` layers and element-wise activations the whole
meta step is a handful of batched matrix products: the inner gradient of every
task at the shared weights comes from one forward pass over all inner rows and
one ``bmm`` per layer, the adapted weights carry a leading task dimension, and
the outer pass uses ``baddbmm``. The backward passes are written out (they are
the formulas autograd uses), so the first-order step runs without autograd. For
the second-order step the same hand-written inner gradient is built from
differentiable operations, and one reverse pass through it gives the exact
meta-gradient (no double backward).

Ensemble members add one more leading dimension: with ``M`` members the weights
are ``(M, ...)`` and the batches ``(M, K, b, d)``. Member and task dimensions
are folded into one batch dimension of the same products, so ``M`` members and
``K`` tasks cost about what ``M * K`` tasks of one network cost.

:class:`StackEngine` has the interface of :class:`skmetabalance._meta.FuncEngine`
and is chosen for a network once, when training starts
(:func:`make_engine`); it computes what the generic engine computes, up to
float rounding (tests/test_meta.py checks both against a reference).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._meta import FuncEngine, chunked_over_tasks
from .losses import loss_rows

__all__ = ["StackEngine", "make_engine"]

_ACTIVATIONS = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Identity: "id"}

#: Elements of the per-task adapted weight matrices of a chunk of tasks (all
#: tasks and members, all layers) above which the first-order step keeps the
#: large layers' ones as factors (see ``StackEngine._factored``). Measured on
#: 2 CPU cores, default MLP (64, 64), K = 4, 16 + 16 rows, fit time in one
#: process: with 16 members on 50 features (473k elements) factors made the
#: fit 1.39x faster, where the copies outgrow the caches; on 20 features (352k)
#: 1.16x slower, and with 8 members (176k-236k) within 3 % either way.
_FACTOR_ELEMENTS = 3 << 17


def _layer_plan(module, binary):
    """The layer list of a plain stack, or None when the network is anything else.

    A stack qualifies when it is an ``nn.Sequential`` (or a subclass that keeps
    its ``forward``) of ``Linear``, ``ReLU``, ``Tanh``, ``Identity`` and inactive
    ``Dropout`` layers, holds no buffers or frozen parameters and has no forward
    hooks, so that the layer list computes exactly what ``module(x)`` does.
    """
    if not isinstance(module, nn.Sequential):
        return None
    if type(module).forward is not nn.Sequential.forward:
        return None
    if any(True for _ in module.buffers()):
        return None
    if not all(p.requires_grad for p in module.parameters()):
        return None
    if any(m._forward_hooks or m._forward_pre_hooks for m in module.modules()):
        return None
    layers = []
    last_out = None
    for child_name, sub in module.named_children():
        kind = type(sub)
        if kind is nn.Linear:
            bias = f"{child_name}.bias" if sub.bias is not None else None
            layers.append(("linear", f"{child_name}.weight", bias))
            last_out = sub.out_features
        elif kind in _ACTIVATIONS:
            layers.append((_ACTIVATIONS[kind],))
        elif kind is nn.Dropout:
            # Dropout that draws masks needs the generic engine's randomness.
            if sub.p > 0:
                return None
            layers.append(("id",))
        else:
            return None
    if last_out is None or (binary and last_out != 1):
        return None
    return tuple(layers)


def make_engine(module, binary):
    """The gradient engine for ``module``: batched for plain stacks, else generic."""
    layers = _layer_plan(module, binary)
    if layers is None:
        return FuncEngine(module, binary)
    return StackEngine(layers, binary)


def _fold(t, members):
    """Merge the member and task dimensions ``(M, K, ...)`` into ``(M * K, ...)``."""
    return t if members is None else t.reshape(-1, *t.shape[2:])


class StackEngine:
    """Meta and plain gradients of a plain stack, all tasks and members at once.

    Weights are *shared* (no leading dimension: one network), *per member*
    ``(M, ...)`` or *per task* ``(T, ...)``. A forward pass takes rows shaped
    ``(G, n, d)`` whose leading dimension matches the weights' (any leading
    shape for shared weights).
    """

    #: Whether the first-order step with one look-ahead step keeps the adapted
    #: weights of large layers as factors (see :meth:`_factored`).
    one_step_factored = True

    def __init__(self, layers, binary):
        self.layers = layers
        self.binary = binary
        self.first_linear = next(
            i for i, layer in enumerate(layers) if layer[0] == "linear"
        )

    # ------------------------------------------------------------ pieces
    def forward(self, params, x, batched):
        """Logits of ``x`` and the activations the backward pass needs."""
        saved = []
        h = x
        for layer in self.layers:
            kind = layer[0]
            if kind == "linear":
                saved.append(h)
                weight = params[layer[1]]
                bias = params[layer[2]] if layer[2] is not None else None
                if not batched:
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

    def loss(self, z, y, w, terms=None, groups=None, with_grad=True):
        """Weighted mean losses per batch row group ``(T,)`` and ``d loss / d z``.

        ``z`` is ``(T, n, n_outputs)``, ``y`` and ``w`` are ``(T, n)``. ``terms``
        is the loop's :class:`~skmetabalance.losses.LossTerms` (None:
        cross-entropy); with ``groups`` members folded into ``T`` its tables
        hold one row per member.
        """
        n = z.shape[1]
        if terms is not None and groups is not None:
            shape = (groups, z.shape[0] // groups)
            per_row, dz = loss_rows(
                z.reshape(*shape, *z.shape[1:]),
                y.reshape(*shape, n),
                terms.expand(lambda t: t[:, None, None, :]),
                self.binary,
                with_grad,
            )
            per_row = per_row.reshape(y.shape)
            dz = None if dz is None else dz.reshape(z.shape)
        else:
            per_row, dz = loss_rows(z, y, terms, self.binary, with_grad)
        if dz is not None:
            dz = dz * (w / n).unsqueeze(-1)
        return (per_row * w).mean(1), dz

    def backward(self, params, saved, dz, batched, groups, record=None):
        """Parameter gradients from ``dz``, summed within each of ``groups`` groups.

        ``groups=None`` sums over everything (gradients shaped like shared
        weights); otherwise the rows are split into ``groups`` equal consecutive
        groups and each gets its own gradient (a leading dimension). A dict
        ``record`` receives, for each linear layer ``i``, its input and output
        gradient ``(h, d)`` as they are.
        """
        grads = {}
        d = dz
        for i in range(len(self.layers) - 1, self.first_linear - 1, -1):
            layer = self.layers[i]
            kind = layer[0]
            if kind == "linear":
                h = saved[i]
                if record is not None:
                    record[i] = (h, d)
                if groups is None:
                    grads[layer[1]] = torch.mm(
                        d.reshape(-1, d.shape[-1]).t(), h.reshape(-1, h.shape[-1])
                    )
                    if layer[2] is not None:
                        grads[layer[2]] = d.reshape(-1, d.shape[-1]).sum(0)
                else:
                    dg = d.reshape(groups, -1, d.shape[-1])
                    hg = h.reshape(groups, -1, h.shape[-1])
                    # In a second-order graph the operand passed transposed to
                    # bmm gets a transposed gradient in the reverse pass, which
                    # sends the element-wise kernels after it down a slow
                    # strided path (measured: 1.3x slower steps). Transpose the
                    # smaller of the two operands that need a gradient.
                    if dg.requires_grad and not (
                        hg.requires_grad and hg.shape[-1] > dg.shape[-1]
                    ):
                        g = torch.bmm(hg.transpose(1, 2), dg).transpose(1, 2)
                    else:
                        g = torch.bmm(dg.transpose(1, 2), hg)
                    grads[layer[1]] = g
                    if layer[2] is not None:
                        grads[layer[2]] = dg.sum(1)
                if i > self.first_linear:
                    weight = params[layer[1]]
                    d = torch.bmm(d, weight) if batched else torch.matmul(d, weight)
            elif kind == "relu":
                # What autograd runs for relu: one kernel, no bool mask.
                d = torch.ops.aten.threshold_backward(d, saved[i], 0)
            elif kind == "tanh":
                d = torch.ops.aten.tanh_backward(d, saved[i])
        return grads

    # ---------------------------------------------------- at the weights theta
    def _at_theta(self, params, x, y, w, members, terms, with_grad=True):
        """Losses per task at theta, and gradients per task or per member.

        ``x`` is ``(K, b, d)`` for one network, ``(M, K, b, d)`` for members.
        """
        b = x.shape[-2]
        if members is None:
            z, saved = self.forward(params, x, batched=False)
            rows = z
        else:
            m = x.shape[0]
            z, saved = self.forward(params, x.reshape(m, -1, x.shape[-1]), True)
            rows = z.reshape(-1, b, z.shape[-1])
        groups = None if members is None else x.shape[0]
        losses, dz = self.loss(
            rows, _fold(y, members), _fold(w, members), terms, groups, with_grad
        )
        if dz is not None:
            dz = dz.reshape(z.shape)
        return losses, dz, saved

    def _theta_grads(self, params, saved, dz, members, groups):
        return self.backward(params, saved, dz, members is not None, groups)

    def _adapt(self, params, x_in, y_in, w_in, members, inner_lr, inner_steps, terms):
        """Inner losses at theta, their per-task gradients and the adapted weights."""
        n_tasks = x_in.shape[-3] * (1 if members is None else x_in.shape[0])
        groups = None if members is None else x_in.shape[0]
        l_in, dz, saved = self._at_theta(params, x_in, y_in, w_in, members, terms)
        g0 = self._theta_grads(params, saved, dz, members, n_tasks)
        if members is None:
            phi = {k: torch.sub(p, g0[k], alpha=inner_lr) for k, p in params.items()}
        else:
            k_tasks = x_in.shape[1]
            phi = {
                k: torch.sub(
                    p.unsqueeze(1),
                    g0[k].reshape(p.shape[0], k_tasks, *p.shape[1:]),
                    alpha=inner_lr,
                ).reshape(-1, *p.shape[1:])
                for k, p in params.items()
            }
        x_t, y_t, w_t = (_fold(t, members) for t in (x_in, y_in, w_in))
        for _ in range(inner_steps - 1):
            z, saved = self.forward(phi, x_t, batched=True)
            _, dz = self.loss(z, y_t, w_t, terms, groups)
            g = self.backward(phi, saved, dz, True, n_tasks)
            phi = {k: torch.sub(p, g[k], alpha=inner_lr) for k, p in phi.items()}
        return l_in, g0, phi

    @staticmethod
    def _task_mean(t, members, k_tasks):
        if members is None:
            return t.mean(0)
        return t.reshape(-1, k_tasks, *t.shape[1:]).mean(1)

    # ------------------------------------------- one look-ahead step, factored
    def _factored(self, weight, b_in):
        """Whether the tasks' adapted weights of a layer may be kept as factors.

        One look-ahead step moves a weight matrix by ``-inner_lr * d.T @ h``,
        a product of the ``b_in`` inner rows' output gradients ``d`` and
        inputs ``h``. The outer pass can use those factors,
        ``a @ phi.T = a @ W.T - inner_lr * (a @ h.T) @ d``, in place of a
        per-task copy of the matrix, when the factors are the smaller.
        """
        n_out, n_in = weight.shape[-2:]
        return b_in * (n_in + n_out) < n_in * n_out

    def _use_factors(self, params, batches):
        """Whether this step keeps adapted weights as factors.

        The factored step takes more, smaller products; it pays only when the
        per-task copies of the weight matrices would outgrow the caches
        (:data:`_FACTOR_ELEMENTS`) and some layer is large enough to factor.
        """
        if not self.one_step_factored:
            return False
        x_in = batches[0]
        n_tasks = x_in.shape[:-2].numel()
        weights = [params[layer[1]] for layer in self.layers if layer[0] == "linear"]
        per_task = sum(w.shape[-2:].numel() for w in weights)
        return n_tasks * per_task > _FACTOR_ELEMENTS and any(
            self._factored(w, x_in.shape[-2]) for w in weights
        )

    def _first_order_one_step(self, params, batches, members, inner_lr, lam, losses):
        """The first-order step with one look-ahead step, members or not.

        Computes what the general path computes (the outer gradient at each
        task's adapted weights, plus ``lam`` times the inner gradient at
        theta, both averaged over tasks), with the adapted weights of the
        large layers kept as factors (see :meth:`_factored`).
        """
        x_in, y_in, w_in, x_out, y_out, w_out = batches
        t_in, t_out = losses
        single = members is None
        if single:
            # One network is one member: the member dimension added here is
            # taken off the gradients at the end.
            params = {k: p.unsqueeze(0) for k, p in params.items()}
            x_in, y_in, w_in, x_out, y_out, w_out = (t.unsqueeze(0) for t in batches)
        m, k_tasks, b_in = x_in.shape[0], x_in.shape[1], x_in.shape[2]
        n_tasks = m * k_tasks
        # Loss tables carry a member dimension only for members.
        groups = None if single else m
        z, saved = self.forward(params, x_in.reshape(m, -1, x_in.shape[-1]), True)
        l_in, dz = self.loss(
            z.reshape(n_tasks, b_in, -1),
            y_in.reshape(n_tasks, b_in),
            w_in.reshape(n_tasks, b_in),
            t_in,
            groups,
        )
        dz = dz.reshape(z.shape)
        # Inner backward: the task-mean inner gradient per member, and each
        # linear layer's inputs and output gradients per task.
        factors = {}
        g_in = self.backward(params, saved, dz, True, m, record=factors)
        g_in = {k: g.div_(k_tasks) for k, g in g_in.items()}
        factors = {
            i: tuple(t.reshape(n_tasks, b_in, t.shape[-1]) for t in pair)
            for i, pair in factors.items()
        }
        # Adapted weights: per-task copies for the small layers.
        phi = {}
        for i, (h, d) in factors.items():
            layer = self.layers[i]
            if self._factored(params[layer[1]], b_in):
                continue
            w_name, b_name = layer[1], layer[2]
            step = torch.bmm(d.transpose(1, 2), h).reshape(
                m, k_tasks, *params[w_name].shape[1:]
            )
            phi[w_name] = torch.sub(
                params[w_name].unsqueeze(1), step, alpha=inner_lr
            ).reshape(n_tasks, *params[w_name].shape[1:])
            if b_name is not None:
                phi[b_name] = torch.sub(
                    params[b_name].unsqueeze(1),
                    d.sum(1).reshape(m, k_tasks, -1),
                    alpha=inner_lr,
                ).reshape(n_tasks, -1)
        # Outer forward at the adapted weights.
        b_out = x_out.shape[2]
        a = x_out.reshape(n_tasks, b_out, x_out.shape[-1])
        inputs = {}
        for i, layer in enumerate(self.layers):
            kind = layer[0]
            if kind == "linear":
                inputs[i] = a
                w_name, b_name = layer[1], layer[2]
                if w_name in phi:
                    weight_t = phi[w_name].transpose(1, 2)
                    if b_name is None:
                        a = torch.bmm(a, weight_t)
                    else:
                        a = torch.baddbmm(phi[b_name].unsqueeze(1), a, weight_t)
                    continue
                h, d = factors[i]
                per_member = a.reshape(m, k_tasks * b_out, a.shape[-1])
                weight_t = params[w_name].transpose(1, 2)
                if b_name is None:
                    base = torch.bmm(per_member, weight_t)
                else:
                    base = torch.baddbmm(
                        params[b_name].unsqueeze(1), per_member, weight_t
                    )
                base = base.reshape(n_tasks, b_out, -1)
                mix = torch.bmm(a, h.transpose(1, 2))
                if b_name is not None:
                    mix = mix.add_(1.0)
                a = torch.baddbmm(base, mix, d, alpha=-inner_lr)
            elif kind == "relu":
                a = torch.relu(a)
                inputs[i] = a
            elif kind == "tanh":
                a = torch.tanh(a)
                inputs[i] = a
        l_out, dz = self.loss(
            a,
            y_out.reshape(n_tasks, b_out),
            w_out.reshape(n_tasks, b_out),
            t_out,
            groups,
        )
        # Outer backward, gradients summed over each member's tasks.
        grads = {}
        d = dz / k_tasks
        for i in range(len(self.layers) - 1, self.first_linear - 1, -1):
            layer = self.layers[i]
            kind = layer[0]
            if kind == "linear":
                w_name, b_name = layer[1], layer[2]
                h_out = inputs[i]
                dg = d.reshape(m, k_tasks * b_out, d.shape[-1])
                hg = h_out.reshape(m, k_tasks * b_out, h_out.shape[-1])
                grads[w_name] = torch.baddbmm(
                    g_in[w_name], dg.transpose(1, 2), hg, alpha=1.0, beta=lam
                )
                if b_name is not None:
                    grads[b_name] = torch.add(dg.sum(1), g_in[b_name], alpha=lam)
                if i > self.first_linear:
                    if w_name in phi:
                        d = torch.bmm(d, phi[w_name])
                    else:
                        h, d_in = factors[i]
                        base = torch.bmm(dg, params[w_name]).reshape(n_tasks, b_out, -1)
                        mix = torch.bmm(d, d_in.transpose(1, 2))
                        d = torch.baddbmm(base, mix, h, alpha=-inner_lr)
            elif kind == "relu":
                d = torch.ops.aten.threshold_backward(d, inputs[i], 0)
            elif kind == "tanh":
                d = torch.ops.aten.tanh_backward(d, inputs[i])
        l_out = l_out.reshape(m, k_tasks).mean(1)
        l_in = l_in.reshape(m, k_tasks).mean(1)
        if single:
            grads = {k: g[0] for k, g in grads.items()}
            l_out, l_in = l_out[0], l_in[0]
        return grads, l_out, l_in

    # ---------------------------------------------------------- engine calls
    def _first_order(
        self, params, batches, members, *, inner_lr, inner_steps, lam, losses
    ):
        if inner_steps == 1 and inner_lr != 0 and self._use_factors(params, batches):
            with torch.no_grad():
                return self._first_order_one_step(
                    params, batches, members, inner_lr, lam, losses
                )
        x_in, y_in, w_in, x_out, y_out, w_out = batches
        t_in, t_out = losses
        k_tasks = x_in.shape[-3]
        groups = None if members is None else x_in.shape[0]
        with torch.no_grad():
            if inner_lr == 0:
                # phi_k = theta: every task shares the weights, no per-task copies.
                l_in, dz, saved = self._at_theta(
                    params, x_in, y_in, w_in, members, t_in
                )
                g_in = self._theta_grads(params, saved, dz / k_tasks, members, groups)
                l_out, dz, saved = self._at_theta(
                    params, x_out, y_out, w_out, members, t_out
                )
                g_out = self._theta_grads(params, saved, dz / k_tasks, members, groups)
            else:
                l_in, g0, phi = self._adapt(
                    params, x_in, y_in, w_in, members, inner_lr, inner_steps, t_in
                )
                g_in = {k: self._task_mean(v, members, k_tasks) for k, v in g0.items()}
                x_o, y_o, w_o = (_fold(t, members) for t in (x_out, y_out, w_out))
                z, saved = self.forward(phi, x_o, batched=True)
                l_out, dz = self.loss(z, y_o, w_o, t_out, groups)
                g_out = self.backward(phi, saved, dz / k_tasks, True, groups)
            grads = {k: torch.add(g_out[k], g_in[k], alpha=lam) for k in params}
        return (
            grads,
            self._task_mean(l_out, members, k_tasks),
            self._task_mean(l_in, members, k_tasks),
        )

    def _second_order(
        self, params, batches, members, *, inner_lr, inner_steps, lam, losses
    ):
        x_in, y_in, w_in, x_out, y_out, w_out = batches
        t_in, t_out = losses
        k_tasks = x_in.shape[-3]
        groups = None if members is None else x_in.shape[0]
        theta = {k: v.detach().requires_grad_(True) for k, v in params.items()}
        with torch.enable_grad():
            if inner_lr == 0:
                l_in, _, _ = self._at_theta(
                    theta, x_in, y_in, w_in, members, t_in, False
                )
                l_out, _, _ = self._at_theta(
                    theta, x_out, y_out, w_out, members, t_out, False
                )
            else:
                l_in, _, phi = self._adapt(
                    theta, x_in, y_in, w_in, members, inner_lr, inner_steps, t_in
                )
                x_o, y_o, w_o = (_fold(t, members) for t in (x_out, y_out, w_out))
                z, _ = self.forward(phi, x_o, batched=True)
                l_out, _ = self.loss(z, y_o, w_o, t_out, groups, with_grad=False)
            per_member = self._task_mean(l_out + lam * l_in, members, k_tasks)
            # Members are independent: the sum differentiates each by its own loss.
            grads = torch.autograd.grad(per_member.sum(), list(theta.values()))
        return (
            dict(zip(theta, grads)),
            self._task_mean(l_out.detach(), members, k_tasks),
            self._task_mean(l_in.detach(), members, k_tasks),
        )

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
        """See :meth:`skmetabalance._meta.FuncEngine.meta_grad`."""
        fn = self._first_order if first_order else self._second_order

        def run(p, b):
            return fn(
                p,
                b,
                members,
                inner_lr=inner_lr,
                inner_steps=inner_steps,
                lam=inner_loss_weight,
                losses=losses,
            )

        return chunked_over_tasks(run, params, batches, members, inner_steps)

    def plain_grad(self, params, buffers, x, y, w, *, members=None, loss=None):
        """See :meth:`skmetabalance._meta.FuncEngine.plain_grad`."""
        with torch.no_grad():
            if members is None:
                z, saved = self.forward(params, x.unsqueeze(0), batched=False)
                value, dz = self.loss(z, y.unsqueeze(0), w.unsqueeze(0), loss)
                return self.backward(params, saved, dz, False, None), value[0]
            z, saved = self.forward(params, x, batched=True)
            value, dz = self.loss(z, y, w, loss, x.shape[0])
            return self.backward(params, saved, dz, True, x.shape[0]), value
