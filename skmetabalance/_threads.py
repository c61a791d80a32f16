"""Intra-op thread settings for small dense networks on the CPU."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["one_thread", "small_step", "prediction_chunks", "n_params"]


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

#: Rows per forward pass when predicting on the CPU: the activations of a few
#: thousand rows stay in cache. Measured with the default MLP on 30 features,
#: one thread: 5.9M rows/s in chunks of 4096 rows, 1.7M rows/s in chunks of
#: 65536.
_CPU_PREDICT_ROWS = 4096


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


def prediction_chunks(module, rows):
    """Rows per forward pass for prediction, and whether to use one thread.

    ``rows`` is the chunk size used off the CPU (large chunks keep a GPU busy).
    """
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    if device.type != "cpu" or not _dense_only(module):
        return rows, False
    return _CPU_PREDICT_ROWS, small_step(module, _CPU_PREDICT_ROWS * n_params(module))
