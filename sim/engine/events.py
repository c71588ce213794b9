"""Exogenous events as simpy processes: the calendar, and hazards that arrive at random."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import simpy

from sim.engine.spec import ConditionSpec, EffectSpec, EventSpec

if TYPE_CHECKING:
    import numpy as np

    from sim.engine.actors import ActorProcess
    from sim.engine.world import World

# The attributes an attribute effect changes, by the schema's names (World.change_attribute).
ATTRIBUTES = {"resolve": 0, "risk_tolerance": 1, "domestic_pressure": 2}


class Exogenous:
    """Applies event effects to the world and its actors."""

    def __init__(self, world: World, actors: list[ActorProcess]) -> None:
        self.world = world
        self.actors = actors

    def start(self, event: EventSpec, rng: np.random.Generator | None = None) -> None:
        """Put one event on the clock (``rng`` replaces its stream, for tests)."""
        index = self.world.spec.events.index(event)
        row = 1 + len(self.world.spec.actors) + index  # the event's stream
        if rng is not None:
            self.world.set_stream(row, rng)
        if event.scheduled:
            ScheduledProcess(self, event, row)
        else:
            StochasticProcess(self, event, row, index)

    def holds(self, cond: ConditionSpec) -> bool:
        """Whether a condition holds now."""
        return self.world.condition_holds(cond)

    def log(self, event: EventSpec, what: str) -> None:
        """Note in the run's event log what became of an event."""
        self.world.event_log.append((self.world.now, event.id, what))

    def apply(self, effects: tuple[EffectSpec, ...], event: EventSpec) -> None:
        """Apply each effect in turn."""
        for effect in effects:
            APPLIERS[effect.kind](self, effect, event)

    def _apply_move(self, effect: EffectSpec, event: EventSpec) -> None:
        world = self.world
        lever = world.spec.levers[effect.levers[0]]
        # a repeat renews a measure still in force; an unavailable move has no effect
        if not world.event_move(lever.index, effect.target, world.source_code(f"event:{event.id}")):
            self.log(event, f"no effect: {lever.id} unavailable")

    def _apply_prompt(self, effect: EffectSpec, event: EventSpec) -> None:
        self.actors[effect.actor].ask(effect.levers, effect.target, effect.defer, event.id)

    def _apply_tension(self, effect: EffectSpec, event: EventSpec) -> None:
        self.world.shift_tension(effect.dyad, effect.delta)

    def _apply_attribute(self, effect: EffectSpec, event: EventSpec) -> None:
        self.world.change_attribute(ATTRIBUTES[effect.attribute], effect.actor, effect.delta)


#: How each kind of effect the schema accepts is applied: one entry per effect ``type``
#: (tests/test_mechanics.py checks the two lists against each other).
APPLIERS: dict[str, Callable[[Exogenous, EffectSpec, EventSpec], None]] = {
    "move": Exogenous._apply_move,
    "prompt": Exogenous._apply_prompt,
    "tension": Exogenous._apply_tension,
    "attribute": Exogenous._apply_attribute,
}


class ScheduledProcess:
    """A dated event that outside causes or triggers can postpone, and conditions cancel.

    Before its day, postponements arrive as a Poisson process at the event's outside rate
    (other crises, domestic politics, scheduling). On its day, a cancelling condition
    cancels it; else a postponing condition postpones it; else it is held. A postponement
    moves its day later by a delay drawn from the event's rule; once the event has been postponed
    its allowed number of times, the next postponement cancels it. In the run-up to the
    event (from ``boost_lead`` days before its current day until it is held or cancelled)
    its parties value calm with each other more.
    """

    def __init__(self, exo: Exogenous, event: EventSpec, row: int) -> None:
        self.exo, self.event, self.row = exo, event, row
        self.day = event.day
        self.postponed = 0
        self.boosted = False
        self.process = exo.world.env.process(self.run())

    def run(self):  # noqa: ANN201 - a simpy generator
        """Wait for the day, slipping as postponements come; then hold or cancel the event."""
        env, event = self.exo.world.env, self.event
        pending = True
        while pending:
            now = env.now
            runup = self.day - event.boost_lead
            self._boost(now >= runup)
            hazard = self._next_hazard(now)
            wake, why = min((self.day, 0), (hazard, 1), (runup if runup > now else math.inf, 2))
            yield env.timeout(wake - now)
            if why == 0:
                pending = self._on_the_day()
            elif why == 1:
                pending = self._slip("postponed")

    def _next_hazard(self, now: float) -> float:
        rate = self.event.postpone_rate
        if rate <= 0 or now >= self.day:
            return math.inf
        return now + self.exo.world.draw_exponential(self.row, 1.0 / rate)

    def _on_the_day(self) -> bool:
        """Hold, cancel or postpone the event; whether it is still pending afterwards."""
        exo, event = self.exo, self.event
        if any(exo.holds(c) for c in event.cancel_if):
            return self._cancel()
        if any(exo.holds(c) for c in event.postpone_when):
            return self._slip("postponed")
        self._boost(False)
        exo.log(event, "held")
        exo.apply(event.effects, event)
        return False

    def _slip(self, what: str) -> bool:
        """Postpone the event (or cancel it past its allowed postponements)."""
        event = self.event
        if self.postponed >= event.postpone_max or event.postpone_delay is None:
            return self._cancel()
        self.postponed += 1
        # a slip only ever moves it later
        self.day += self.exo.world.draw_delay(self.row, event.postpone_delay)
        self.exo.log(event, what)
        return True

    def _cancel(self) -> bool:
        self._boost(False)
        self.exo.log(self.event, "cancelled")
        self.exo.apply(self.event.on_cancel, self.event)
        return False

    def _boost(self, on: bool) -> None:
        event = self.event
        if on != self.boosted and event.boost_actors and event.boost_value > 0:
            self.exo.world.boost_stakes(event.boost_actors, event.boost_value, on)
            self.boosted = on


class StochasticProcess:
    """A Poisson arrival process in a window, its rate optionally scaled by exposure.

    With exposure the rate is the base rate times the number of hostile measures in force
    at or above a rung in a dyad. When that number changes the waiting time is drawn
    afresh, which is exact for a Poisson process because it is memoryless.
    """

    def __init__(self, exo: Exogenous, event: EventSpec, row: int, index: int) -> None:
        self.exo = exo
        self.event = event
        self.row = row
        self.waiting = False
        world = exo.world
        self.count = 0.0
        if event.exposure is not None:
            world.watch(world.compiled.tables.watchers[index], self)
        self.process = world.env.process(self.run())

    def _multiplier(self) -> float:
        exposure = self.event.exposure
        if exposure is None:
            return 1.0
        return self.exo.world.exposure_count(exposure.dyad, exposure.rung_at_least)

    def exposure_changed(self, count: float) -> None:
        """The measures in the watched dyad changed: ``count`` is the exposure now."""
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
            wait = self.exo.world.draw_exponential(self.row, 1.0 / rate) if rate > 0 else math.inf
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
