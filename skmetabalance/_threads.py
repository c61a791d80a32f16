"""What a fit shares with the other threads of its process.

Intra-op thread settings for small dense networks on the CPU, and the fit's
own stream of torch's process-wide random generators.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import torch
from torch import nn

__all__ = [
    "one_thread",
    "small_step",
    "n_params",
    "TorchRNG",
    "untouched_global_rng",
]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


#: Multiply-adds per optimiser step (rows in the step times parameters), or per
#: forward pass at prediction time, below which the work of a dense network
#: (see ``_dense_only``) runs on one intra-op thread. Such steps are made of
#: many small operations: splitting each over threads saves little, and when
#: the machine is busy every parallel operation waits until all its threads are
#: scheduled. Measured on a two-core machine shared with other jobs, MLP
#: (64, 64) on 30 features, epochs over 100k rows: at K = 81 (32M multiply-adds
#: per step) 0.33-0.38 s on one thread, and on two 0.20 s in one run but 24.5 s
#: in another; at K = 486 (196M) 0.32 s on one thread against 10.5 s on two. In
#: an interleaved measurement two threads were 1.4x faster per step at 32M and
#: 1.6x at 96M. Robustness was preferred: only much larger steps use torch's
#: thread setting. See docs/performance.rst.
_SMALL_STEP_WORK = 1 << 30

#: Parameterised layers whose cost per row is about one multiply-add per
#: parameter, so that rows x parameters estimates the work of a network.
_DENSE_LAYERS = (nn.Linear, nn.LayerNorm, nn.GroupNorm, nn.Embedding)


@contextmanager
def one_thread(enabled):
    """Run the block on one intra-op thread, then restore the setting.

    With torch's OpenMP backend the intra-op thread count belongs to the
    calling thread, so fits running concurrently in several threads each save
    and restore their own. (torch also remembers the last value set as the
    starting value of threads that have not run a parallel operation yet; a
    thread whose first one falls inside a step elsewhere starts on one thread.)
    """
    saved = torch.get_num_threads() if enabled else 1
    if saved == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _dense_only(module):
    """Whether every layer holding parameters is dense (see ``_DENSE_LAYERS``).

    Convolutions, recurrent layers and parameters of custom modules do many
    multiply-adds per parameter and row; their work is not estimated.
    """
    for sub in module.modules():
        if isinstance(sub, _DENSE_LAYERS):
            continue
        if any(True for _ in sub.parameters(recurse=False)):
            return False
    return True


def small_step(module, work):
    """One thread for a dense CPU network doing less than ``_SMALL_STEP_WORK``.

    Networks of other kinds keep torch's thread setting: their work is not
    estimated.
    """
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    return device.type == "cpu" and work < _SMALL_STEP_WORK and _dense_only(module)


# ------------------------------------------------------------ random generators
#: Held while torch's process-wide generators carry the state of one fit (see
#: ``TorchRNG``). Reentrant: a fit may run inside another's block in one thread.
_GLOBAL_RNG_LOCK = threading.RLock()

#: Layers that draw random numbers in training mode.
_RANDOM_LAYERS = (nn.modules.dropout._DropoutNd, nn.RReLU)


def _cuda_indices(device):
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


class TorchRNG:
    """One fit's own stream of torch's process-wide random generators.

    Weight initialisation (``reset_parameters`` of torch layers, user module
    factories) and dropout under ``vmap`` draw from torch's global generators,
    which take no generator argument and are shared by every thread of the
    process. Seeding them inside ``torch.random.fork_rng`` does not isolate a
    fit: another fit running in another thread of the same process (a thread
    pool, or a Dask worker whose task seceded, e.g. inside a sampler's
    neighbour search run through joblib) reseeds or draws from them in
    between, and its ``fork_rng`` rewinds them on exit, so both fits draw
    numbers that depend on timing.

    An instance keeps the fit's generator states itself (the CPU generator and
    that of the fit's device) and puts them into the global generators only
    inside :meth:`active`, under a process-wide lock, taking them back on exit.
    Draws made inside come from this fit's stream alone, in order, whatever
    else the process runs; the global states outside are left as they were.
    """

    def __init__(self, seed, device):
        self.device = torch.device(device)
        self._cuda = _cuda_indices(self.device)
        with _GLOBAL_RNG_LOCK:
            saved = self._get()
            try:
                torch.random.default_generator.manual_seed(int(seed))
                for index in self._cuda:
                    torch.cuda.default_generators[index].manual_seed(int(seed))
                if self.device.type == "mps":
                    torch.mps.manual_seed(int(seed))
                self._states = self._get()
            finally:
                self._set(saved)

    def _get(self):
        states = [torch.get_rng_state()]
        states += [torch.cuda.get_rng_state(i) for i in self._cuda]
        if self.device.type == "mps":
            states.append(torch.mps.get_rng_state())
        return states

    def _set(self, states):
        torch.set_rng_state(states[0])
        for i, state in zip(self._cuda, states[1:]):
            torch.cuda.set_rng_state(state, i)
        if self.device.type == "mps":
            torch.mps.set_rng_state(states[-1])

    @contextmanager
    def active(self):
        """Let the block draw from this fit's stream (other fits wait)."""
        with _GLOBAL_RNG_LOCK:
            saved = self._get()
            self._set(self._states)
            try:
                yield
            finally:
                self._states = self._get()
                self._set(saved)

    def scope(self, modules=None):
        """A context factory for each training step, or each validation pass.

        ``modules`` (a network or a list of them) are the networks trained, for
        steps; None for validation passes, which run in eval mode. Steps of
        networks holding dropout-like layers run in :meth:`active`; any other
        step or pass does the first time, and afterwards only if that first
        time drew from the generators (a custom ``forward`` may call
        ``torch.rand``). Blocks that draw nothing take no lock, so fits in
        several threads keep running side by side.
        """
        if isinstance(modules, nn.Module):
            modules = [modules]
        draws = any(
            isinstance(layer, _RANDOM_LAYERS)
            for module in modules or ()
            for layer in module.modules()
        )
        return _Scope(self, True if draws else None)


class _Scope:
    def __init__(self, rng, draws):
        self._rng = rng
        self._draws = draws  # None: not known yet

    @contextmanager
    def __call__(self):
        if self._draws is False:
            yield
            return
        if self._draws:
            with self._rng.active():
                yield
            return
        before = [s.clone() for s in self._rng._states]
        with self._rng.active():
            yield
        after = self._rng._states
        self._draws = not all(torch.equal(a, b) for a, b in zip(before, after))


@contextmanager
def untouched_global_rng():
    """Run a block that draws from torch's global CPU generator, then restore it.

    ``fork_rng`` under the lock of :class:`TorchRNG`, so that the restore on
    exit cannot rewind the stream of a fit running in another thread.
    """
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        yield
