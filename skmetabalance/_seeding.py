"""The seed plan: every random draw of a fit from named children of one seed.

A fit draws randomness in several places: the validation split, unseeded
samplers, the initial weights of every ensemble member, batch orders, dropout
masks. Each draw takes its seed from :meth:`SeedPlan.seed` under a name of its
own (``plan.seed("split")``, ``plan.seed("init", member)``, ...), derived with
:class:`numpy.random.SeedSequence` from one root entropy. Adding, removing or
reordering one draw therefore never shifts any other.
"""

from __future__ import annotations

import zlib

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["SeedPlan"]


def _word(part):
    """A 32-bit word naming one part of a seed's key (stable across processes)."""
    if isinstance(part, (int, np.integer)) and not isinstance(part, bool):
        return int(part) & 0xFFFFFFFF
    return zlib.crc32(str(part).encode("utf-8"))


class SeedPlan:
    """Named, independent seeds derived from one ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        An int gives a reproducible plan. A RandomState instance is drawn from
        once, so that repeated fits with the same instance differ; None draws
        from numpy's global RandomState, as scikit-learn does.
    entropy : int, default=None
        Rebuild a plan made earlier (its :attr:`entropy`); ``random_state`` is
        then ignored.
    """

    def __init__(self, random_state=None, *, entropy=None):
        if entropy is None:
            if isinstance(random_state, (int, np.integer)):
                entropy = int(random_state)
            else:
                # None is numpy's global RandomState, as in scikit-learn.
                rng = check_random_state(random_state)
                entropy = int(rng.randint(np.iinfo(np.int32).max))
        #: The root entropy: store it to make the same plan again.
        self.entropy = int(entropy)

    def seed(self, *key):
        """A seed in ``[0, 2**32)`` for the draw named ``key``."""
        words = tuple(_word(part) for part in key)
        sequence = np.random.SeedSequence(self.entropy, spawn_key=words)
        return int(sequence.generate_state(1, dtype=np.uint32)[0])
