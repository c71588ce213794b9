"""The world of one run: tension, grievance, measures in force, rungs, costs and moves.

Quantities that fade (tension, grievance, domestic pressure) decay exponentially and are
stored with the time of their last update, so that reading one is O(1) and nothing ticks
daily. A dyad's rung is the highest rung of the hostile measures in force between its
two members, so it climbs when a move is announced and falls when measures expire or
are lifted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from sim.engine.record import MoveRecord
from sim.engine.spec import DEESCALATE, ESCALATE, SUPPORT, AllianceSpec, LeverSpec, RunSpec

if TYPE_CHECKING:
    import simpy

DIRECTION_NAMES = {ESCALATE: "escalate", DEESCALATE: "deescalate", SUPPORT: "support"}


class Fading:
    """A non-negative quantity that decays exponentially at ``rate`` per day, towards a floor.

    Reading it is pure: the value at ``now`` is computed from the last change, never
    stored, so that reading the state (a policy weighing options, a trace) cannot change
    the floats of a run; only the changes (add, saturate, scale, a new floor) move the
    reference point. The floor (0 unless set) is what a standing offence keeps it at: the
    value fades towards it, never below, and no change takes it below.
    """

    __slots__ = ("value", "since", "rate", "floor")

    def __init__(self, value: float, rate: float) -> None:
        self.value = value  # at time ``since``
        self.since = 0.0
        self.rate = rate
        self.floor = 0.0

    def at(self, now: float) -> float:
        """The value at time ``now``."""
        if now == self.since:
            return self.value
        floor = self.floor
        return floor + (self.value - floor) * math.exp(-self.rate * (now - self.since))

    def _set(self, now: float, value: float) -> None:
        self.value, self.since = max(value, self.floor), now

    def set_floor(self, now: float, floor: float) -> None:
        """Fade towards ``floor`` from now on (raising the value to it if it is below)."""
        value = self.at(now)
        self.floor = floor
        self._set(now, value)

    def add(self, now: float, amount: float, ceiling: float = math.inf) -> None:
        """Add ``amount`` (may be negative), keeping the value in [0, ceiling]."""
        self._set(now, min(ceiling, max(0.0, self.at(now) + amount)))

    def shift(self, now: float, delta: float) -> None:
        """Raise a level in [0, 1] towards 1 by ``delta`` of the gap, or lower it by ``-delta``."""
        if delta > 0:
            self.saturate(now, delta)
        else:
            self.add(now, delta, 1.0)

    def saturate(self, now: float, share: float) -> None:
        """Close ``share`` of the gap to 1 (a level in [0, 1] that each blow raises less)."""
        self._set(now, 1.0 - (1.0 - self.at(now)) * (1.0 - min(1.0, max(0.0, share))))

    def scale(self, now: float, factor: float) -> None:
        """Multiply the value by ``factor``."""
        self._set(now, self.at(now) * factor)


def lever_actor(spec: RunSpec, lever: int) -> int:
    """The actor who holds a lever (by global index)."""
    return spec.levers[lever].actor


def move_hostility(spec: RunSpec, lever: LeverSpec) -> float:
    """How hostile a move feels to its target: ``scale * (-Goldstein / 10) ^ exponent``.

    A lever may set its own hostility instead (a statement on sovereignty rankles more than
    its Goldstein score says); conciliatory and supporting moves are not hostile to their
    target.
    """
    if lever.direction != ESCALATE:
        return 0.0
    if lever.hostility >= 0:
        return lever.hostility
    return spec.hostility_scale * (abs(lever.goldstein) / 10.0) ** spec.hostility_exponent


def patron_share(alliance: AllianceSpec, backing: float) -> float:
    """The share of a hostile move on its protege that a patron takes as aimed at itself.

    A patron feels a blow to its ally through its commitment even on the sidelines, and
    more when it has backed the ally publicly: ``offense_share * commitment * (0.5 + 0.5 *
    backing)``, the same weighing of commitment and backing as extended deterrence's.
    """
    return alliance.offense_share * alliance.commitment * (0.5 + 0.5 * backing)


class Measure:
    """A move in force: it holds its dyad's rung and costs its user and target per day."""

    __slots__ = (
        "lever",
        "actor",
        "target",
        "dyad",
        "start",
        "onset",
        "end",
        "pain_rate",
        "cost_rate",
        "ended",
        "backing",
        "holds_rung",
    )

    def __init__(
        self,
        lever: LeverSpec,
        target: int,
        dyad: int,
        now: float,
        pain_rate: float,
        holds_rung: bool = True,
    ) -> None:
        self.lever = lever
        self.actor = lever.actor
        self.target = target
        self.dyad = dyad
        self.start = now
        self.onset = now + lever.onset
        self.end = now + lever.onset + lever.duration
        self.pain_rate = pain_rate
        self.cost_rate = lever.cost_per_day
        self.ended = False
        self.backing = lever.backing
        self.holds_rung = holds_rung and lever.direction == ESCALATE

    def days_in_force(self, until: float) -> float:
        """Days between onset and ``until`` (or the end, if earlier)."""
        return max(0.0, min(self.end, until) - self.onset)


class World:
    """The mutable state of one run, and the rules by which moves change it."""

    def __init__(self, env: simpy.Environment, spec: RunSpec, rng: np.random.Generator) -> None:
        self.env = env
        self.spec = spec
        self.rng = rng  # perception delays
        n = len(spec.actors)
        self.tension = [Fading(v, spec.tension_decay) for v in spec.initial_tension]
        self.grievance = [[Fading(0.0, spec.grievance_decay) for _ in range(n)] for _ in range(n)]
        for holder, against, amount in spec.initial_grievance:
            self.grievance[holder][against].value = amount
        self.pressure = [Fading(0.0, spec.pressure_decay) for _ in range(n)]
        self.stake_base = [list(a.stakes) for a in spec.actors]
        self.stakes = [list(a.stakes) for a in spec.actors]  # with the boosts of events
        self.stake_boosts: list[tuple[tuple[int, ...], float]] = []
        self.resolve = [a.resolve for a in spec.actors]
        self.risk_tolerance = [a.risk_tolerance for a in spec.actors]
        self.domestic = [a.domestic_pressure for a in spec.actors]
        self.backing = [al.backing for al in spec.alliances]
        # (alliance, resolve boost) of each actor's patrons, for effective_resolve
        self.boosts = [
            [(al.index, al.resolve_boost) for al in spec.alliances if al.protege == a]
            for a in range(n)
        ]
        self.uses = [0] * len(spec.levers)
        self.stock = [lv.stock for lv in spec.levers]
        self.potency = [1.0] * len(spec.levers)
        self.last_used = [-math.inf] * len(spec.levers)
        self.costs = [0.0] * n
        self.moves: list[MoveRecord] = []
        self.measures: list[list[Measure]] = [[] for _ in spec.dyads]
        self.in_force: dict[tuple[int, int], Measure] = {}  # (lever, target) -> measure
        self.dyad_rung = [0] * len(spec.dyads)
        self.dyad_peak = [0] * len(spec.dyads)
        self.rung_log: list[list[tuple[float, int]]] = [[(0.0, 0)] for _ in spec.dyads]
        self.first_at_rung = [math.nan] * len(spec.rung_names)
        self.first_at_rung[0] = 0.0
        self.peak, self.peak_day = 0, 0.0
        self.stop = env.event()
        self.ended_early = False
        self.enders = [o for o in spec.outcomes if o.ends_run]
        self.played: set[int] = set()  # levers played at least once
        self.stocks = [list(a.stock_initial) for a in spec.actors]
        self.perceivers: list[Callable[[int, int, int, float, float], None]] = []
        self.exposure_watchers: list[list[Callable[[], None]]] = [[] for _ in spec.dyads]
        self.event_log: list[tuple[float, str, str]] = []
        for lever, target, holds in spec.initial_measures:
            self._impose(spec.levers[lever], target, spec.dyad_of(lever_actor(spec, lever), target),
                         holds_rung=holds)  # fmt: skip

    # --- reading the state --------------------------------------------------------------

    @property
    def now(self) -> float:
        """The current simulated day."""
        return self.env.now

    def rung_between(self, a: int, b: int) -> int:
        """The current rung of the dyad between actors a and b."""
        return self.dyad_rung[self.spec.dyad_of(a, b)]

    def overall_rung(self) -> int:
        """The highest rung over all dyads."""
        return max(self.dyad_rung, default=0)

    def tension_between(self, a: int, b: int) -> float:
        """The current tension of the dyad between actors a and b."""
        return self.tension[self.spec.dyad_of(a, b)].at(self.now)

    def effective_resolve(self, a: int) -> float:
        """Resolve raised by domestic pressure and by an ally's public backing."""
        backing = self.backing
        boost = sum(share * backing[alliance] for alliance, share in self.boosts[a])
        return min(1.0, self.resolve[a] + self.pressure[a].at(self.env.now) + boost)

    def boost_stakes(self, parties: tuple[int, ...], value: float, on: bool) -> None:
        """Raise (or, with ``on`` false, restore) the parties' stakes in calm with each other."""
        entry = (parties, value)
        if on:
            self.stake_boosts.append(entry)
        else:
            self.stake_boosts.remove(entry)
        for a in parties:
            for b in parties:
                if a != b:
                    boosts = self.stake_boosts
                    extra = sum(v for group, v in boosts if a in group and b in group)
                    self.stakes[a][b] = min(1.0, self.stake_base[a][b] + extra)

    def their_rung(self, a: int, b: int) -> int:
        """The highest rung of the crisis measures ``b`` holds in force against ``a``."""
        return max(
            (m.lever.rung for m in self.measures[self.spec.dyad_of(a, b)] if m.actor == b),
            default=0,
        )

    def used_within(self, levers: tuple[int, ...], days: float) -> bool:
        """Whether one of ``levers`` was used (by its actor, on anyone) in the last ``days``."""
        now, last = self.now, self.last_used
        return any(now - last[j] <= days for j in levers)

    def reciprocated(self, lever: LeverSpec) -> bool:
        """Whether a concession this conciliatory move answers has been made."""
        return any(self.uses[j] for j in lever.reciprocates)

    def exposure_count(self, dyad: int, rung: int) -> float:
        """The hostile measures at or above ``rung`` in force in a dyad, by hazard weight."""
        return sum(m.lever.hazard_weight for m in self.measures[dyad] if m.lever.rung >= rung)

    def condition_holds(
        self,
        dyad: int,
        rung_at_least: int,
        tension_at_least: float,
        moves: tuple[int, ...] = (),
        within: float = math.inf,
    ) -> bool:
        """Whether a dyad (or, with dyad -1, the world) is at least this high and tense.

        With ``moves``, one of them must also have been made within ``within`` days.
        """
        if moves and not self.used_within(moves, within):
            return False
        if dyad < 0:
            rung = self.overall_rung()
            tension = max((t.at(self.now) for t in self.tension), default=0.0)
        else:
            rung, tension = self.dyad_rung[dyad], self.tension[dyad].at(self.now)
        return rung >= rung_at_least and tension >= tension_at_least

    # --- moves ------------------------------------------------------------------------

    def available(self, lever: LeverSpec, target: int) -> bool:
        """Whether ``lever`` can be played on ``target`` now (limits and preconditions)."""
        i = lever.index
        if lever.max_uses >= 0 and self.uses[i] >= lever.max_uses:
            return False
        if self.stock[i] < 1.0:
            return False
        if lever.cooldown > 0 and self.env.now < self.last_used[i] + lever.cooldown:
            return False
        if lever.direction != DEESCALATE and (i, target) in self.in_force:
            return False  # already in force against this target
        if lever.lifts and not any((j, target) in self.in_force for j in lever.lifts):
            return False  # nothing of ours to lift
        if lever.req_rung >= 0 and self.rung_between(lever.actor, target) < lever.req_rung:
            return False
        if lever.req_unused and any(self.uses[j] for j in lever.req_unused):
            return False  # e.g. no refusing to retract what was retracted
        if not self._answers_hold(lever, target):
            return False
        return (
            lever.req_tension < 0 or self.tension_between(lever.actor, target) >= lever.req_tension
        )

    def _answers_hold(self, lever: LeverSpec, target: int) -> bool:
        """The preconditions that make a move an answer: to a measure, a concession, a move."""
        if lever.tightens >= 0 and (lever.tightens, target) not in self.in_force:
            return False  # nothing in force to step up
        if lever.req_used and not any(self.uses[j] for j in lever.req_used):
            return False  # e.g. no lifting before the other side has conceded
        if (
            lever.req_their_rung >= 0
            and self.their_rung(lever.actor, target) < lever.req_their_rung
        ):
            return False  # e.g. an alert answers a drill
        return not lever.req_after or self.used_within(lever.req_after, lever.req_after_days)

    def play(self, lever: LeverSpec, target: int, source: str, amount: float = 1.0) -> None:
        """Announce a move and apply its immediate effects (``amount`` scales stock changes)."""
        now, a = self.now, lever.actor
        self._record(lever, target, source, amount)
        self._spend(lever)
        self.played.add(lever.index)
        for k, delta in lever.stock_deltas:
            self.stocks[a][k] += delta * amount
        dyad = self.spec.dyad_of(a, target)
        if lever.cost_audience > 0 and not self.reciprocated(lever):
            self.costs[a] += lever.cost_audience  # backing down for nothing
        if lever.direction == ESCALATE:
            self._satisfy(lever, target)
        if lever.tightens >= 0:
            self._replace(lever.tightens, target)
        if lever.direction == DEESCALATE:
            for j in lever.lifts:
                self.lift(j, target)
        if lever.duration > 0 and (lever.direction == ESCALATE or lever.backing >= 0):
            self._impose(lever, target, dyad)
        if lever.direction != SUPPORT:
            self.tension[dyad].shift(now, lever.tension)
        for k, weight in self.offended(lever, target):
            self.tension[self.spec.dyad_of(a, k)].shift(now, abs(lever.tension) * weight)
        self._notify(lever, target)
        self._check_end()

    def _check_end(self) -> None:
        """End the run when the state matches an absorbing outcome class."""
        if self.stop.triggered:
            return
        for outcome in self.enders:
            if outcome.dyad < 0:
                peak, current = self.peak, self.overall_rung()
            else:
                peak, current = self.dyad_peak[outcome.dyad], self.dyad_rung[outcome.dyad]
            if outcome.matches(peak, current, self.played):
                self.ended_early = True
                self.stop.succeed()
                return

    def _record(self, lever: LeverSpec, target: int, source: str, amount: float) -> None:
        spec = self.spec
        self.moves.append(
            MoveRecord(
                day=self.now,
                actor=spec.actors[lever.actor].id,
                target=spec.actors[target].id,
                lever=lever.id,
                rung=lever.rung,
                cameo=lever.cameo,
                goldstein=lever.goldstein,
                magnitude=lever.magnitude * self.potency[lever.index] * amount,
                direction=DIRECTION_NAMES[lever.direction],
                source=source,
            )
        )

    def _spend(self, lever: LeverSpec) -> None:
        i = lever.index
        self.uses[i] += 1
        self.stock[i] = max(0.0, self.stock[i] - 1.0)
        self.last_used[i] = self.now
        self.costs[lever.actor] += lever.cost_upfront

    def _satisfy(self, lever: LeverSpec, target: int) -> None:
        """Acting on a grievance discharges part of it: the honour-satisfied effect."""
        share = self.spec.response_satisfaction * lever.rung / max(1, self.spec.top_rung)
        self.grievance[lever.actor][target].scale(self.now, 1.0 - share)

    def pain_rate(self, lever: LeverSpec, target: int) -> float:
        """Economic pain per day the lever inflicts on ``target`` at its current potency."""
        if lever.economic == 0.0:
            return 0.0
        user = lever.actor
        share = self.spec.dependence.get((lever.sector or "", target, user))
        if share is None:
            share = self.spec.actors[target].exposure[user]
        return lever.economic * share * self.potency[lever.index]

    def _impose(self, lever: LeverSpec, target: int, dyad: int, holds_rung: bool = True) -> None:
        pain = self.pain_rate(lever, target)
        measure = Measure(lever, target, dyad, self.now, pain, holds_rung)
        self.potency[lever.index] *= 1.0 - lever.potency_decay
        self.in_force[(lever.index, target)] = measure
        if lever.backing >= 0:
            self.backing[lever.backing] = lever.backing_level
        if lever.standing > 0:
            self._set_standing(target, lever.actor)
        if measure.holds_rung:
            self.measures[dyad].append(measure)
            self._set_rung(dyad)
        if math.isfinite(measure.end):
            self.after(measure.end - self.now, lambda: self._expire(measure))

    def _set_standing(self, holder: int, against: int) -> None:
        """The holder's grievance floor: the highest standing offence of ``against`` in force."""
        floor = max(
            (
                m.lever.standing
                for m in self.in_force.values()
                if m.actor == against and m.target == holder
            ),
            default=0.0,
        )
        self.grievance[holder][against].set_floor(self.now, floor)

    def _replace(self, lower: int, target: int) -> None:
        """A tightened measure replaces the lower step (its rung is set by the new one)."""
        measure = self.in_force.get((lower, target))
        if measure is not None:
            measure.end = self.now
            self._end(measure, set_rung=False)

    def _expire(self, measure: Measure) -> None:
        if not measure.ended:
            self._end(measure)

    def lift(self, lever_index: int, target: int) -> None:
        """End an own measure before its time (a lift, an easing, a retraction)."""
        measure = self.in_force.get((lever_index, target))
        if measure is not None:
            measure.end = self.now
            self._end(measure)

    def _end(self, measure: Measure, set_rung: bool = True) -> None:
        measure.ended = True
        self._accrue(measure, self.now)
        del self.in_force[(measure.lever.index, measure.target)]
        if measure.backing >= 0:
            self.backing[measure.backing] = self.spec.alliances[measure.backing].backing
        if measure.lever.standing > 0:
            self._set_standing(measure.target, measure.actor)
        if measure.holds_rung:
            self.measures[measure.dyad].remove(measure)
            if set_rung:
                self._set_rung(measure.dyad)

    def _accrue(self, measure: Measure, until: float) -> None:
        days = measure.days_in_force(until)
        self.costs[measure.actor] += measure.cost_rate * days
        self.costs[measure.target] += measure.pain_rate * days

    def close(self) -> None:
        """Charge the running costs of every measure still in force at the end."""
        for measure in list(self.in_force.values()):
            self._accrue(measure, self.now)

    def _set_rung(self, dyad: int) -> None:
        rung = max((m.lever.rung for m in self.measures[dyad]), default=0)
        for watcher in self.exposure_watchers[dyad]:
            watcher()
        if rung == self.dyad_rung[dyad]:
            return
        now = self.now
        self.dyad_rung[dyad] = rung
        self.rung_log[dyad].append((now, rung))
        self.dyad_peak[dyad] = max(self.dyad_peak[dyad], rung)
        for k in range(1, rung + 1):
            if math.isnan(self.first_at_rung[k]):
                self.first_at_rung[k] = now
        if rung > self.peak:
            self.peak, self.peak_day = rung, now
        if self.enders:
            self._check_end()

    # --- perception -------------------------------------------------------------------

    def offended(self, lever: LeverSpec, target: int) -> list[tuple[int, float]]:
        """Third parties that resent the move, with the hostility they perceive.

        A lever's ``offends`` weights are hostilities in their own right (a transit by
        Taiwan's president angers Beijing whatever its Goldstein score between Washington
        and Taipei); a patron feels a share of a hostile move on its protege
        (:func:`patron_share`: through its commitment, more with public backing).
        """
        spec = self.spec
        weights = {k: spec.hostility_scale * w for k, w in lever.offends}
        if lever.direction == ESCALATE:
            own = self.hostility(lever)
            for al in spec.alliances:
                if al.protege == target and al.patron != lever.actor:
                    share = own * patron_share(al, self.backing[al.index])
                    weights[al.patron] = weights.get(al.patron, 0.0) + share
        weights.pop(lever.actor, None)
        weights.pop(target, None)
        return [(k, w) for k, w in weights.items() if w > 0]

    def hostility(self, lever: LeverSpec) -> float:
        """How hostile a move feels to its target (:func:`move_hostility`)."""
        return move_hostility(self.spec, lever)

    def _notify(self, lever: LeverSpec, target: int) -> None:
        audience = [(target, self.hostility(lever)), *self.offended(lever, target)]
        for perceiver, hostility in audience:
            delay = self.spec.perception_delay.sample(self.rng)
            self.after(delay, self._perceive_later(lever, target, perceiver, hostility))

    def _perceive_later(
        self, lever: LeverSpec, target: int, perceiver: int, hostility: float
    ) -> Callable[[], None]:
        def perceive() -> None:
            self.perceive(lever, target, perceiver, hostility)

        return perceive

    def perceive(self, lever: LeverSpec, target: int, perceiver: int, hostility: float) -> None:
        """A perceiver takes in a move: grievance, domestic pressure, and a reason to act."""
        now, user = self.now, lever.actor
        grievance = self.grievance[perceiver][user]
        if hostility > 0:
            share = hostility * (0.5 + self.domestic[perceiver])
            grievance.saturate(now, share)
            if lever.direction == SUPPORT and perceiver != target:
                # who resents a favour resents its beneficiary too (an arms sale, a transit)
                self.grievance[perceiver][target].saturate(now, share)
        if perceiver == target and lever.grievance_relief > 0:
            grievance.scale(now, 1.0 - lever.grievance_relief)
        if perceiver == target and lever.political > 0:
            self.pressure[target].add(now, lever.political * self.domestic[target], 1.0)
        for listener in self.perceivers:
            listener(perceiver, user, lever.index, target, hostility)

    # --- scheduling -------------------------------------------------------------------

    def after(self, delay: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` after ``delay`` days of simulated time."""
        event = self.env.timeout(delay)
        event.callbacks.append(lambda _event: callback())
