"""Branching a run: at a simulated time, every stream of the run switches to a child stream.

A simpy process cannot be copied, so a run's state at day ``T`` is reached the honest way:
by running it again from day 0 on its own seed, which replays every draw and every event
exactly up to ``T`` (the engine is deterministic given its streams). A :class:`Split` then
makes every named stream ("world", "actor:CHN", "event:incident", ...) continue as the
same-named stream of a *child* seed, so that from ``T`` on the run draws fresh, seeded
randomness while everything already on the clock at ``T`` (a prepared move, a perception
in flight, a measure's expiry) stays as the parent drew it: the state at ``T`` includes
the clock. Several splits at increasing times make a path through a tree of branches
(multilevel splitting clones a clone).

The switch happens after every ordinary event at time ``T`` (it is scheduled with a
priority below simpy's NORMAL): a move made at exactly ``T`` -- a run's first move to a
rung, where splitting branches it -- belongs to the parent's path, and so do the draws it
makes. The cost of a branch is the replay: a rerun of the parent up to ``T``
(docs/rare-events.md measures it). Without splits the engine schedules nothing more and
draws the same numbers: its answers do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from simpy.events import Event

from sim.engine.streams import stream_key

if TYPE_CHECKING:
    import simpy

    from sim.engine.world import World

#: simpy's priorities are URGENT 0 and NORMAL 1; a larger number comes later at equal times.
AFTER_NORMAL = 2

#: The spawn-key word that marks a branch's child seed (so that a child never reuses the
#: streams of the seed it was made from, nor those of an ordinary replication).
BRANCH_WORD = stream_key("branch")


@dataclass(frozen=True, slots=True)
class Split:
    """At simulated day ``day``, continue every stream of the run from ``seed``'s child."""

    day: float
    seed: np.random.SeedSequence

    def child(self) -> np.random.SeedSequence:
        """The seed whose named streams the run draws from after the split."""
        return np.random.SeedSequence(
            self.seed.entropy, spawn_key=(*self.seed.spawn_key, BRANCH_WORD)
        )


def check_splits(splits: Sequence[Split], days: float) -> None:
    """Raise ValueError unless the splits' days increase and fall inside ``[0, days)``."""
    last = -1.0
    for split in splits:
        if not 0.0 <= split.day < days:
            raise ValueError(f"a split's day must be in [0, {days}), got {split.day}")
        if split.day <= last:
            raise ValueError("the splits' days must increase")
        last = split.day


def schedule_splits(env: simpy.Environment, world: World, splits: Sequence[Split]) -> None:
    """Put each split on the clock: at its day, after the ordinary events of that instant."""
    for split in splits:
        event = Event(env)
        event._ok = True  # as a Timeout: triggered, with no value
        event._value = None
        event.callbacks.append(_reseeding(world, split))
        env.schedule(event, AFTER_NORMAL, split.day)  # type: ignore[arg-type]


def _reseeding(world: World, split: Split) -> Callable[[Event], None]:
    """The callback that switches ``world``'s streams to ``split``'s child."""

    def reseed(_event: Event) -> None:
        world.reseed(split.child())

    return reseed
