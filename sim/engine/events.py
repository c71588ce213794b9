"""Exogenous events as simpy processes: the calendar, and hazards that arrive at random."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import simpy

from sim.engine.spec import ConditionSpec, EffectSpec, EventSpec

if TYPE_CHECKING:
    import numpy as np

    from sim.engine.actors import ActorProcess
    from sim.engine.world import World


class Exogenous:
    """Applies event effects to the world and its actors."""

    def __init__(self, world: World, actors: list[ActorProcess]) -> None:
        self.world = world
        self.actors = actors

    def start(self, event: EventSpec, rng: np.random.Generator) -> None:
        """Put one event on the clock."""
        if event.scheduled:
            self.world.after(event.day, lambda: self._fire_scheduled(event))
        else:
            StochasticProcess(self, event, rng)

    def _fire_scheduled(self, event: EventSpec) -> None:
        if any(self.holds(c) for c in event.cancel_if):
            self.log(event, "cancelled")
            self.apply(event.on_cancel, event)
        else:
            self.log(event, "held")
            self.apply(event.effects, event)

    def holds(self, cond: ConditionSpec) -> bool:
        """Whether a condition holds now."""
        return self.world.condition_holds(cond.dyad, cond.rung_at_least, cond.tension_at_least)

    def log(self, event: EventSpec, what: str) -> None:
        """Note in the run's event log what became of an event."""
        self.world.event_log.append((self.world.now, event.id, what))

    def apply(self, effects: tuple[EffectSpec, ...], event: EventSpec) -> None:
        """Apply each effect in turn."""
        for effect in effects:
            getattr(self, f"_apply_{effect.kind}")(effect, event)

    def _apply_move(self, effect: EffectSpec, event: EventSpec) -> None:
        world = self.world
        lever = world.spec.levers[effect.levers[0]]
        world.lift(lever.index, effect.target)  # a repeat renews a measure still in force
        if world.available(lever, effect.target):
            world.play(lever, effect.target, f"event:{event.id}")
        else:
            self.log(event, f"no effect: {lever.id} unavailable")

    def _apply_prompt(self, effect: EffectSpec, event: EventSpec) -> None:
        self.actors[effect.actor].ask(effect.levers, effect.target)

    def _apply_tension(self, effect: EffectSpec, event: EventSpec) -> None:
        self.world.tension[effect.dyad].shift(self.world.now, effect.delta)

    def _apply_attribute(self, effect: EffectSpec, event: EventSpec) -> None:
        values = getattr(self.world, effect.attribute)
        values[effect.actor] = min(1.0, max(0.0, values[effect.actor] + effect.delta))


class StochasticProcess:
    """A Poisson arrival process in a window, its rate optionally scaled by exposure.

    With exposure the rate is the base rate times the number of hostile measures in force
    at or above a rung in a dyad. When that number changes the waiting time is drawn
    afresh, which is exact for a Poisson process because it is memoryless.
    """

    def __init__(self, exo: Exogenous, event: EventSpec, rng: np.random.Generator) -> None:
        self.exo = exo
        self.event = event
        self.rng = rng
        self.waiting = False
        world = exo.world
        self.count = 0
        if event.exposure is not None:
            world.exposure_watchers[event.exposure.dyad].append(self._exposure_changed)
        self.process = world.env.process(self.run())

    def _multiplier(self) -> int:
        exposure = self.event.exposure
        if exposure is None:
            return 1
        return self.exo.world.exposure_count(exposure.dyad, exposure.rung_at_least)

    def _exposure_changed(self) -> None:
        count = self._multiplier()
        if count != self.count:
            self.count = count
            if self.waiting:
                self.waiting = False
                self.process.interrupt()

    def run(self):  # noqa: ANN201 - a simpy generator
        """Wait for the window, then for each arrival until the window or the cap ends."""
        env, event = self.exo.world.env, self.event
        start, end = event.window
        if start > env.now:
            yield env.timeout(start - env.now)
        occurred = 0
        self.count = self._multiplier()
        while event.max_occurrences < 0 or occurred < event.max_occurrences:
            rate = event.rate_per_day * self.count
            wait = self.rng.exponential(1.0 / rate) if rate > 0 else math.inf
            if env.now + wait > end and math.isinf(end) and math.isinf(wait):
                return
            self.waiting = True
            try:
                yield env.timeout(min(wait, end - env.now))
            except simpy.Interrupt:
                continue
            self.waiting = False
            if env.now >= end:
                return
            occurred += 1
            self.exo.log(event, "occurred")
            self.exo.apply(event.effects, event)
