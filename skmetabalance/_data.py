"""Devices, the feature store, training sets and index streams of a fit."""

from __future__ import annotations

import re
import warnings

import numpy as np
import torch

__all__ = ["resolve_device", "feature_store", "TrainingSet", "IndexStream"]

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


def feature_store(X, extra, device):
    """One float32 tensor of the fit's rows ``X`` followed by the ``extra`` rows.

    On the CPU, with no extra rows, a float32 C-contiguous ``X`` is shared, not
    copied: the training sets index into it and training never writes to it.
    """
    if extra:
        X32 = np.empty(
            (X.shape[0] + sum(e.shape[0] for e in extra), X.shape[1]), np.float32
        )
        X32[: X.shape[0]] = X
        end = X.shape[0]
        for e in extra:
            X32[end : end + e.shape[0]] = e
            end += e.shape[0]
    else:
        X32 = np.ascontiguousarray(X, dtype=np.float32)
    if device.type != "cpu":
        return torch.as_tensor(X32, device=device)
    with warnings.catch_warnings():
        # Read-only input (e.g. a memory map) is shared all the same, as
        # nothing writes to it.
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(X32)


class TrainingSet:
    """The rows of one training set: indices into a feature store, with targets.

    ``index[i]`` is the store row of the set's ``i``-th row, ``y[i]`` and
    ``w[i]`` its target and weight. Sets of several ensemble members are
    stored one after another, each member drawing positions in its own range.
    """

    def __init__(self, store, index, y, w, binary):
        device = store.device
        self.store = store
        self.index = torch.as_tensor(np.asarray(index, dtype=np.int64), device=device)
        dtype = np.float32 if binary else np.int64
        self.y = torch.as_tensor(np.asarray(y, dtype=dtype), device=device)
        if w is None:
            self.w = torch.ones(self.y.shape[0], dtype=torch.float32, device=device)
        else:
            self.w = torch.as_tensor(np.asarray(w, dtype=np.float32), device=device)

    def __len__(self):
        return self.y.shape[0]

    def gather(self, positions):
        """Features, targets and weights of the rows at ``positions``."""
        rows = self.index.index_select(0, positions)
        return (
            self.store.index_select(0, rows),
            self.y.index_select(0, positions),
            self.w.index_select(0, positions),
        )


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
