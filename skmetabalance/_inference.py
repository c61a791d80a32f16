"""Prediction: a network's logits for rows, in passes of a fixed number of rows."""

from __future__ import annotations

import numpy as np
import torch

from ._threads import _dense_only, n_params, one_thread, small_step

__all__ = [
    "PREDICT_ROWS",
    "PREDICT_ROWS_CPU_DENSE",
    "forward_logits",
    "prediction_pass",
]

#: Rows per forward pass at prediction time: large passes keep a GPU busy,
#: and networks whose work is not estimated (see ``_threads._dense_only``)
#: run each pass on torch's threads, where fewer, larger passes wait less for
#: threads on a busy machine.
PREDICT_ROWS = 65536

#: Rows per pass for dense networks on the CPU: the activations of a few
#: thousand rows stay in cache. Measured with the default MLP on 30 features,
#: one thread: 5.9M rows/s in passes of 4096 rows, 1.7M rows/s in passes of
#: 65536.
PREDICT_ROWS_CPU_DENSE = 4096


def _device_of(module):
    return next((p.device for p in module.parameters()), torch.device("cpu"))


def prediction_pass(module):
    """Rows per forward pass for ``module``, and whether a pass uses one thread."""
    if _device_of(module).type != "cpu" or not _dense_only(module):
        return PREDICT_ROWS, False
    rows = PREDICT_ROWS_CPU_DENSE
    return rows, small_step(module, rows * n_params(module))


def forward_logits(module, X, n_outputs):
    """Logits of ``module`` in eval mode for the rows of ``X``.

    Parameters
    ----------
    module : torch.nn.Module
        Maps float32 rows to ``n_outputs`` logits per row; its training mode
        is restored afterwards.
    X : ndarray or Tensor of shape (n_samples, n_features)
        Rows on any device; they are copied to the module's device as float32
        one pass (see :func:`prediction_pass`) at a time, so a large array is
        never converted whole.
    n_outputs : int

    Returns
    -------
    logits : Tensor of shape (n_samples, n_outputs)
        Float64, on the CPU.
    """
    n = X.shape[0]
    out = torch.empty(n, n_outputs, dtype=torch.float64)
    if n == 0:
        return out
    device = _device_of(module)
    rows, one = prediction_pass(module)
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode(), one_thread(one):
            for start in range(0, n, rows):
                chunk = _as_float32(X[start : start + rows], device)
                m = chunk.shape[0]
                logits = module(chunk).reshape(m, n_outputs)
                out[start : start + m] = logits.double().cpu()
    finally:
        module.train(was_training)
    return out


def _as_float32(rows, device):
    if isinstance(rows, torch.Tensor):
        return rows.to(device=device, dtype=torch.float32)
    rows = np.ascontiguousarray(rows, dtype=np.float32)
    return torch.from_numpy(rows).to(device)
