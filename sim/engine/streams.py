"""Named random streams: numpy's seeding of a stream, and its state as numpy writes it.

A run draws from one PCG64 stream per purpose ("world", "actor:CHN", "event:incident"),
seeded from a child of the run's ``SeedSequence`` keyed by a hash of the purpose
(:func:`stream`). The engine keeps the streams as rows of an array that its kernels draw
from (:mod:`sim.engine.kernels`); this module assembles the entropy words the kernels mix
(as numpy's ``SeedSequence`` does) and converts a row to and from ``PCG64.state``, for the
code that draws through a numpy Generator (a policy written in Python).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

POOL = 4  # numpy's default SeedSequence pool size; other pools are seeded by numpy itself


@functools.lru_cache(maxsize=4096)
def stream_key(purpose: str) -> int:
    """The spawn-key word of a purpose: the first 4 bytes of its SHA-256, little-endian."""
    return int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "little")


def stream(seed: np.random.SeedSequence, purpose: str) -> np.random.Generator:
    """An independent generator for one purpose ("actor:CHN", "event:incident").

    Streams are keyed by name, not by position, so that two scenarios that share a run
    seed draw the same numbers for the same actor or event even when one of them adds an
    actor or an event: that is what makes common random numbers compare like with like.
    """
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, stream_key(purpose)))
    return np.random.Generator(np.random.PCG64(child))


def uint32_words(value: object) -> list[int]:
    """Numpy's ``_coerce_to_uint32_array`` for an int or a sequence of ints."""
    if isinstance(value, int | np.integer):
        n = int(value)
        if n < 0:
            raise ValueError("expected non-negative integer")
        words = [0] if n == 0 else []
        while n > 0:
            words.append(n & 0xFFFFFFFF)
            n >>= 32
        return words
    return [w for item in value for w in uint32_words(item)]  # type: ignore[attr-defined]


def entropy_prefix(seed: np.random.SeedSequence) -> np.ndarray | None:
    """The assembled entropy words of ``seed`` before a stream's key; None if unsupported.

    As ``SeedSequence.get_assembled_entropy``: the run entropy, padded with zeros to the
    pool size when a spawn key follows (a stream always adds one), then the spawn key's
    words. A seed with another pool size or a non-integer entropy is left to numpy.
    """
    if seed.pool_size != POOL or not isinstance(seed.entropy, int | np.integer):
        return None
    run = uint32_words(seed.entropy)
    run += [0] * (POOL - len(run))
    return np.array(run + uint32_words(seed.spawn_key), dtype=np.uint64)


def to_numpy_state(row: np.ndarray) -> dict:
    """The ``PCG64.state`` dict of a stream row (state, increment, buffered 32-bit word)."""
    hi, lo, inc_hi, inc_lo, has32, word = (int(x) for x in row)
    return {
        "bit_generator": "PCG64",
        "state": {"state": (hi << 64) | lo, "inc": (inc_hi << 64) | inc_lo},
        "has_uint32": has32,
        "uinteger": word,
    }


def from_numpy_state(row: np.ndarray, state: Mapping[str, Any]) -> None:
    """Write a ``PCG64.state`` dict into a stream row."""
    if state.get("bit_generator") != "PCG64":
        raise ValueError(f"streams are PCG64, not {state.get('bit_generator')}")
    s, inc = state["state"]["state"], state["state"]["inc"]
    mask = (1 << 64) - 1
    row[:] = (s >> 64, s & mask, inc >> 64, inc & mask, state["has_uint32"], state["uinteger"])
