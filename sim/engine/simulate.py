"""One replication: build the world, start actors and events, run the clock, keep the record."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import simpy

from sim.engine.actors import ActorProcess
from sim.engine.events import Exogenous
from sim.engine.policy import Perceived
from sim.engine.record import RunRecord
from sim.engine.spec import RunSpec
from sim.engine.world import World


class CountingEnvironment(simpy.Environment):
    """A simpy environment that counts the events it schedules (for throughput figures)."""

    def __init__(self) -> None:
        super().__init__()
        self.events_scheduled = 0

    def schedule(self, event: simpy.Event, priority: int = 1, delay: float = 0) -> None:
        """Schedule an event, counting it."""
        self.events_scheduled += 1
        super().schedule(event, priority, delay)  # type: ignore[arg-type]


def stream(seed: np.random.SeedSequence, purpose: str) -> np.random.Generator:
    """An independent generator for one purpose ("actor:CHN", "event:incident").

    Streams are keyed by name, not by position, so that two scenarios that share a run
    seed draw the same numbers for the same actor or event even when one of them adds an
    actor or an event: that is what makes common random numbers compare like with like.
    """
    key = int.from_bytes(hashlib.sha256(purpose.encode()).digest()[:4], "little")
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key))
    return np.random.Generator(np.random.PCG64(child))


def simulate(spec: RunSpec, seed: np.random.SeedSequence | int) -> RunRecord:
    """Run one replication of ``spec`` and return its record."""
    seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    env = CountingEnvironment()
    world = World(env, spec, stream(seed, "world"))
    actors = [ActorProcess(world, a, stream(seed, f"actor:{a.id}")) for a in spec.actors]
    world.perceivers.append(_deliver_to(world, actors))
    exogenous = Exogenous(world, actors)
    for event in spec.events:
        exogenous.start(event, stream(seed, f"event:{event.id}"))
    world.after(spec.days, lambda: None if world.stop.triggered else world.stop.succeed())
    env.run(until=world.stop)
    world.close()
    return _record(world)


def _deliver_to(world: World, actors: list[ActorProcess]):  # noqa: ANN202
    def deliver(perceiver: int, user: int, lever: int, target: int, hostility: float) -> None:
        rung = world.spec.levers[lever].rung
        actors[perceiver].hear(Perceived(world.now, user, target, lever, rung, hostility))

    return deliver


def _record(world: World) -> RunRecord:
    spec = world.spec
    final = world.overall_rung()
    return RunRecord(
        outcome=classify(world, final),
        peak_rung=world.peak,
        peak_day=world.peak_day,
        final_rung=final,
        end_day=world.now,
        ended_early=world.ended_early,
        costs={a.id: world.costs[a.index] for a in spec.actors},
        moves=world.moves,
        dyads=spec.dyad_ids,
        dyad_rungs=daily_rungs(world.rung_log, spec.days, world.now),
        first_day_at_rung=np.array(world.first_at_rung, dtype=float),
        events_scheduled=world.env.events_scheduled,
        event_log=world.event_log,
        stocks={
            a.id: dict(zip(a.stock_names, world.stocks[a.index], strict=True))
            for a in spec.actors
            if a.stock_names
        },
    )


def classify(world: World, final: int) -> str:
    """The id of the first outcome class whose bounds hold for the run."""
    for outcome in world.spec.outcomes:
        if outcome.dyad < 0:
            peak, last = world.peak, final
        else:
            peak, last = world.dyad_peak[outcome.dyad], world.dyad_rung[outcome.dyad]
        if outcome.matches(peak, last, world.played):
            return outcome.id
    raise AssertionError("the scenario's last outcome class catches every run")


def daily_rungs(logs: list[list[tuple[float, int]]], days: int, end: float) -> np.ndarray:
    """The highest rung each dyad held during each calendar day, int8 (dyads, days + 1).

    Days after an early end keep the rung the run ended on (the end state is absorbing).
    """
    out = np.zeros((len(logs), days + 1), dtype=np.int8)
    for d, log in enumerate(logs):
        for (t0, rung), (t1, _) in zip(log, [*log[1:], (math.inf, 0)], strict=True):
            if rung == 0:
                continue
            first = int(math.floor(t0))
            last = days if math.isinf(t1) or t1 >= end else int(math.ceil(t1)) - 1
            row = out[d, first : max(first, last) + 1]
            np.maximum(row, rung, out=row)
    return out
