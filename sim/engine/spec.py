"""The compiled run spec: plain, immutable data the engine reads in its hot loop.

A :class:`RunSpec` is made once per scenario by :func:`sim.scenario.compile_scenario` and
shared by every replication. Actors, levers, dyads and alliances are referred to by
integer index; nothing here is validated again.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class DelayKind(enum.IntEnum):
    """The shape of a delay distribution.

    The one list: the schema's ``dist`` accepts its words, the kernels read its codes
    (tests/test_mechanics.py holds them together).
    """

    FIXED = 0
    LOGNORMAL = 1
    UNIFORM = 2
    EXPONENTIAL = 3

    @property
    def word(self) -> str:
        """The scenario format's name of the shape ("lognormal", ...)."""
        return self.name.lower()


FIXED, LOGNORMAL, UNIFORM, EXPONENTIAL = DelayKind
#: Delay shapes by the scenario format's word.
DELAY_KINDS = {k.word: k for k in DelayKind}


class Direction(enum.IntEnum):
    """Which way a lever moves its dyad: up the ladder, down it, or beside an ally.

    The one list of directions: the schema's ``direction`` field accepts its words
    (tests/test_mechanics.py holds them together), the spec and the kernels read its codes,
    the figures its words and order (escalation first).
    """

    ESCALATE = 0
    DEESCALATE = 1
    SUPPORT = 2

    @property
    def word(self) -> str:
        """The scenario format's name of the direction ("escalate", ...)."""
        return self.name.lower()


ESCALATE, DEESCALATE, SUPPORT = Direction
#: Directions by the scenario format's word.
DIRECTIONS = {d.word: d for d in Direction}


@dataclass(frozen=True, slots=True)
class DelaySpec:
    """A delay distribution in days: kind, two parameters and a cap."""

    kind: DelayKind
    a: float = 0.0
    b: float = 0.0
    cap: float = math.inf

    def sample(self, rng: np.random.Generator) -> float:
        """Draw one delay."""
        if self.kind == FIXED:
            return self.a
        if self.kind == LOGNORMAL:
            value = self.a * math.exp(self.b * rng.standard_normal()) if self.a > 0 else 0.0
        elif self.kind == UNIFORM:
            value = self.a + (self.b - self.a) * rng.random()
        else:
            value = rng.exponential(self.a) if self.a > 0 else 0.0
        return min(value, self.cap)


@dataclass(frozen=True, slots=True)
class LeverSpec:
    """A lever of one actor, with every quantity the engine needs."""

    index: int
    id: str
    name: str
    actor: int
    direction: Direction
    rung: int
    cameo: str
    goldstein: float
    magnitude: float
    sector: str | None
    risk: float  # escalation risk the user sees, before deterrence
    targets: tuple[int, ...]
    cost_upfront: float
    cost_per_day: float
    economic: float
    political: float
    tension: float
    grievance_relief: float
    backing: int  # alliance index, or -1
    decision: DelaySpec
    onset: float
    duration: float  # math.inf: in force until lifted
    max_uses: int  # -1: unlimited
    stock: float  # math.inf: unlimited
    cooldown: float
    potency_decay: float
    req_rung: int  # -1: none
    req_tension: float  # -1: none
    lifts: tuple[int, ...]  # global lever indices
    stock_deltas: tuple[tuple[int, float], ...]  # (user's stock index, change per unit amount)
    offends: tuple[tuple[int, float], ...]
    choosable: bool
    req_unused: tuple[int, ...] = ()  # global indices of levers that must not have been used
    req_used: tuple[int, ...] = ()  # one of these must have been used (a concession)
    req_their_rung: int = -1  # the target holds a hostile measure at least this high on us
    req_after: tuple[int, ...] = ()  # one of these was used within req_after_days
    req_after_days: float = 0.0
    tightens: int = -1  # the global index of the own measure this one steps up
    reciprocates: tuple[int, ...] = ()  # concessions that spare the audience cost
    cost_audience: float = 0.0
    standing: float = 0.0  # grievance floor the target keeps while this is in force
    backing_level: float = 1.0  # backing set while in force (with backing >= 0)
    value: float = 0.0  # worth of the move to its user in itself (utility units)
    hazard_weight: float = 1.0  # weight in the exposure of incident hazards while in force
    hostility: float = -1.0  # the target's hostility, instead of the Goldstein one (-1: derive)


@dataclass(frozen=True, slots=True)
class ActorSpec:
    """An actor: dispositions, policy, timing and the indices of its levers."""

    index: int
    id: str
    name: str
    resolve: float
    risk_tolerance: float
    domestic_pressure: float
    exposure: tuple[float, ...]  # by actor index
    stakes: tuple[float, ...]  # by actor index
    policy_cls: Any  # a registered Policy subclass
    policy_params: Any  # its validated Params instance
    response_delay: DelaySpec
    review_every: float
    levers: tuple[int, ...]
    stock_names: tuple[str, ...] = ()
    stock_initial: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class AllianceSpec:
    """A patron's commitment to a protege."""

    index: int
    id: str
    patron: int
    protege: int
    commitment: float
    backing: float
    resolve_boost: float
    deterrence: float
    offense_share: float
    deters_from: int = 0  # the lowest rung extended deterrence weighs on


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """A test on a dyad (index) or, with dyad -1, on the overall rung; or on recent moves."""

    dyad: int
    rung_at_least: int  # -1: no test
    tension_at_least: float  # -1: no test
    moves: tuple[int, ...] = ()  # global lever indices; the test holds if one was used...
    within: float = math.inf  # ... within this many days


@dataclass(frozen=True, slots=True)
class EffectSpec:
    """An event's effect: kind is 'move', 'prompt', 'tension' or 'attribute'."""

    kind: str
    actor: int = -1
    target: int = -1
    levers: tuple[int, ...] = ()
    dyad: int = -1
    attribute: str = ""
    delta: float = 0.0
    defer: float = math.inf  # prompts: ask again after this many days if nothing was chosen


@dataclass(frozen=True, slots=True)
class EventSpec:
    """A scheduled or stochastic exogenous event."""

    id: str
    name: str
    scheduled: bool
    day: float  # scheduled events
    effects: tuple[EffectSpec, ...]
    cancel_if: tuple[ConditionSpec, ...] = ()
    on_cancel: tuple[EffectSpec, ...] = ()
    rate_per_day: float = 0.0
    window: tuple[float, float] = (0.0, math.inf)
    max_occurrences: int = -1
    exposure: ConditionSpec | None = None
    postpone_rate: float = 0.0  # per day, before the event
    postpone_when: tuple[ConditionSpec, ...] = ()
    postpone_delay: DelaySpec | None = None
    postpone_max: int = 0
    boost_actors: tuple[int, ...] = ()  # parties whose stakes in each other rise before it
    boost_value: float = 0.0
    boost_lead: float = 0.0


@dataclass(frozen=True, slots=True)
class OutcomeSpec:
    """An end-state class and its bounds on the peak and final rung."""

    id: str
    label: str
    dyad: int  # -1: the overall rung
    peak_lo: int
    peak_hi: int
    final_lo: int
    final_hi: int
    ends_run: bool
    moves: frozenset[int] = frozenset()  # global lever indices; empty: no condition on moves

    def matches(self, peak: int, final: int, played: set[int] | frozenset[int]) -> bool:
        """Whether a run with this peak and final rung, having played these levers, belongs."""
        return (
            self.peak_lo <= peak <= self.peak_hi
            and self.final_lo <= final <= self.final_hi
            and (not self.moves or not self.moves.isdisjoint(played))
        )


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything one replication needs, compiled from a validated scenario."""

    name: str
    title: str
    start: dt.date
    days: int
    rung_names: tuple[str, ...]
    military_rung: int
    actors: tuple[ActorSpec, ...]
    levers: tuple[LeverSpec, ...]
    alliances: tuple[AllianceSpec, ...]
    dependence: dict[tuple[str, int, int], float]  # (sector, dependent, supplier) -> share
    dyads: tuple[tuple[int, int], ...]
    events: tuple[EventSpec, ...]
    outcomes: tuple[OutcomeSpec, ...]
    initial_tension: tuple[float, ...]  # by dyad
    initial_grievance: tuple[tuple[int, int, float], ...]  # (holder, against, amount)
    initial_measures: tuple[tuple[int, int, bool], ...]  # (lever, target, holds rung)
    tension_decay: float  # per day
    grievance_decay: float
    pressure_decay: float
    perception_delay: DelaySpec
    hostility_scale: float
    hostility_exponent: float
    response_satisfaction: float
    cost_unit: str = "cost units"
    dyad_index: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def actor_ids(self) -> tuple[str, ...]:
        """Actor ids in index order."""
        return tuple(a.id for a in self.actors)

    @property
    def actor_names(self) -> dict[str, str]:
        """Actor display names by id."""
        return {a.id: a.name for a in self.actors}

    @property
    def dyad_ids(self) -> tuple[tuple[str, str], ...]:
        """Dyads as pairs of actor ids."""
        return tuple((self.actors[i].id, self.actors[j].id) for i, j in self.dyads)

    @property
    def outcome_ids(self) -> tuple[str, ...]:
        """Outcome class ids, in classification order."""
        return tuple(o.id for o in self.outcomes)

    @property
    def outcome_labels(self) -> dict[str, str]:
        """Outcome labels by id."""
        return {o.id: o.label or o.id for o in self.outcomes}

    @property
    def watch_rung(self) -> int:
        """The rung whose first crossing summaries time: the first military rung."""
        return self.military_rung

    @property
    def top_rung(self) -> int:
        """The highest rung of the ladder."""
        return len(self.rung_names) - 1

    def dyad_of(self, a: int, b: int) -> int:
        """The index of the dyad between actors a and b."""
        return self.dyad_index[(a, b) if a < b else (b, a)]
