"""Devices, tensors and index streams for in-memory training data."""

from __future__ import annotations

import re

import numpy as np
import torch

__all__ = ["resolve_device", "to_tensors", "IndexStream"]

_DEVICE_RE = re.compile(r"^(auto|cpu|cuda|mps|cuda:\d+)$")


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    ``"auto"`` picks CUDA when available, else the CPU. Asking for a CUDA device
    that is not present raises a ValueError rather than failing later.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_RE.match(device):
        raise ValueError(
            "The 'device' parameter must be 'auto', 'cpu', 'cuda', 'cuda:N' or a "
            f"torch.device; got {device!r}."
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available "
                "(torch.cuda.is_available() is False). Use device='cpu' or 'auto'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    if dev.type == "mps" and not (
        hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    ):
        raise ValueError(f"device={device!r} was requested but MPS is not available.")
    return dev


def to_tensors(X, y, w, device, binary):
    """Move one training set to ``device`` as float32 features, targets, weights."""
    Xt = torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32), device=device)
    if binary:
        yt = torch.as_tensor(np.asarray(y, dtype=np.float32), device=device)
    else:
        yt = torch.as_tensor(np.asarray(y, dtype=np.int64), device=device)
    if w is None:
        wt = torch.ones(Xt.shape[0], dtype=torch.float32, device=device)
    else:
        wt = torch.as_tensor(np.asarray(w, dtype=np.float32), device=device)
    return Xt, yt, wt


class IndexStream:
    """An endless sequence of random permutations of ``range(n)``.

    ``take(m)`` returns the next ``m`` indices (plus ``offset``, for rows stored
    after other sets in one tensor), continuing across permutation
    boundaries, so every row is seen once per pass. Permutations come from a CPU
    generator seeded once, so the sequence is the same on every device; each
    permutation is moved to the device once, when it is drawn, so that taking
    batches moves nothing between host and device.
    """

    def __init__(self, n, seed, device, offset=0):
        self.n = int(n)
        self.offset = int(offset)
        self.device = device
        self._gen = torch.Generator(device="cpu")
        self._gen.manual_seed(int(seed))
        self._buf = torch.empty(0, dtype=torch.int64, device=device)

    def take(self, m):
        if self._buf.numel() < m:
            parts = [self._buf]
            have = self._buf.numel()
            while have < m:
                perm = torch.randperm(self.n, generator=self._gen)
                if self.offset:
                    perm += self.offset
                parts.append(perm.to(self.device))
                have += self.n
            self._buf = torch.cat(parts)
        out, self._buf = self._buf[:m], self._buf[m:]
        return out
