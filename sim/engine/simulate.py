"""One replication: build the world, start actors and events, run the clock, keep the record."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import simpy

from sim.engine.branching import Split, check_splits, schedule_splits
from sim.engine.record import RunRecord
from sim.engine.spec import RunSpec
from sim.engine.streams import stream

__all__ = ["CountingEnvironment", "Split", "simulate", "stream"]


class CountingEnvironment(simpy.Environment):
    """A simpy environment that says how many events it has scheduled (for throughput figures).

    simpy numbers every event it schedules from one counter; the count is read from it, so
    counting adds nothing to scheduling (an override of ``schedule`` would cost a Python
    call per event, a tenth of what the engine spends on one).
    """

    @property
    def events_scheduled(self) -> int:
        """The number of events scheduled so far."""
        n = next(self._eid)
        self._eid = itertools.count(n)  # put the number back: the next event gets it
        return n


def load_kernels(spec: RunSpec | None = None) -> None:
    """Import the compiled engine now (numba, and the kernels from its cache), not on a run.

    A caller that must not be interrupted inside an import calls it first: the ensemble does,
    before its folder exists (see :func:`sim.experiments.runner.start`). With ``spec`` the
    kernels are also compiled, or loaded from numba's cache, for its state.
    """
    import sim.engine.actors  # noqa: F401
    from sim.engine.world import load_calls

    if spec is not None:
        load_calls(spec)


def kernels_cached() -> bool:
    """Whether numba's cache on this machine holds the kernels.

    False before the first run, or after their source changed: the next run then compiles
    them first (half a minute to two).
    """
    from sim.engine.world import kernels_cached as cached

    return cached()


def simulate(
    spec: RunSpec, seed: np.random.SeedSequence | int, splits: Sequence[Split] = ()
) -> RunRecord:
    """Run one replication of ``spec`` and return its record.

    ``splits`` branch the run: at each split's day every stream continues from the split's
    child seed (:mod:`sim.engine.branching`). Without them the run is the replication of
    ``seed``, draw for draw.
    """
    from sim.engine.actors import ActorProcess  # imports numba: not before the first run
    from sim.engine.events import Exogenous
    from sim.engine.world import World

    seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    check_splits(splits, spec.days)
    env = CountingEnvironment()
    world = World(env, spec, seed=seed)
    try:
        actors = [ActorProcess(world, a) for a in spec.actors]
        world.actors = actors
        exogenous = Exogenous(world, actors)
        for event in spec.events:
            exogenous.start(event)
        world.after(spec.days, world.end_of_horizon)
        schedule_splits(env, world, splits)
        env.run(until=world.stop)
        world.close()
        return world.record()
    finally:
        world.release()
