"""Seeds for replications: one independent stream per replication index.

Replication ``i`` of a run with root seed ``S`` draws from the ``i``-th child of
``SeedSequence(S)``. The child is built directly from its spawn key, so any replication
can be re-run alone, and results never depend on the order in which replications run or
on how many workers run them.
"""

from __future__ import annotations

import numpy as np


def replication_seed(root: int, index: int) -> np.random.SeedSequence:
    """Return the seed of replication ``index``: ``SeedSequence(root).spawn(index + 1)[index]``."""
    check_seed(root)
    if index < 0:
        raise ValueError(f"replication index must be >= 0, got {index}")
    # spawn() gives child i the spawn key (i,); building it directly costs O(1), not O(i).
    return np.random.SeedSequence(entropy=root, spawn_key=(index,))


def replication_rng(root: int, index: int) -> np.random.Generator:
    """Return the generator of replication ``index`` (PCG64 seeded by its SeedSequence)."""
    return np.random.default_rng(replication_seed(root, index))


def seed_key(root: int, index: int) -> str:
    """Return the printable key of a replication's seed, e.g. ``"1/17"``."""
    return f"{root}/{index}"


def check_seed(root: int) -> int:
    """Return ``root`` if it is a usable root seed (a non-negative integer), else raise."""
    if isinstance(root, bool) or not isinstance(root, int | np.integer) or root < 0:
        raise ValueError(f"a root seed must be a non-negative integer, got {root!r}")
    return int(root)
