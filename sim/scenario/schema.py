"""The scenario format: pydantic models that validate a scenario once, at the boundary.

A scenario names its actors and their levers, the relations between them, the exogenous
events of its calendar, the escalation ladder and the rules that classify a run's end
state. Everything the engine needs is checked here, so that the compiled run spec can be
trusted without further checks in the hot loop.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0.0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*$", max_length=64)]
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,63}")


def _lever_ref(ref: str) -> str:
    """Check a lever reference: the actor's own lever ('retract') or another's ('JPN.retract')."""
    parts = ref.split(".")
    if len(parts) > 2 or not all(_NAME.fullmatch(part) for part in parts):
        raise ValueError(
            f"expected a lever id ('retract') or ACTOR.lever ('JPN.retract'), not '{ref}'"
        )
    return ref


# A lever of the same actor ("retract") or of another, qualified by its actor ("JPN.retract").
LeverRef = Annotated[str, AfterValidator(_lever_ref)]


def _cameo_root(code: str) -> str:
    """Check that a CAMEO code's two-digit root is one of CAMEO's twenty (01 to 20)."""
    if not 1 <= int(code[:2]) <= 20:
        raise ValueError(f"CAMEO root codes run from 01 to 20; '{code}' starts with {code[:2]}")
    return code


# Scoring maps every move to a category through its root, so an unknown root is an error here.
CameoCode = Annotated[str, Field(pattern=r"^[0-9]{2,4}$"), AfterValidator(_cameo_root)]
Goldstein = Annotated[float, Field(ge=-10.0, le=10.0, allow_inf_nan=False)]

MAX_DAYS = 3660  # ten years: far past any crisis horizon, short enough to bound a run


class Strict(BaseModel):
    """Base model: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# --- delays -----------------------------------------------------------------------------


class Delay(Strict):
    """A random delay in days.

    ``fixed`` is a constant; ``lognormal`` has the given median and log-scale sigma (the
    usual shape of government response times: most fast, a long tail); ``uniform`` lies
    between ``low`` and ``high``; ``exponential`` has the given mean.
    """

    dist: Literal["fixed", "lognormal", "uniform", "exponential"] = "fixed"
    days: NonNegative = 0.0
    median: NonNegative = 1.0
    sigma: Annotated[float, Field(ge=0.0, le=3.0)] = 0.5
    low: NonNegative = 0.0
    high: NonNegative = 0.0
    mean: NonNegative = 1.0
    cap: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = 365.0

    @model_validator(mode="after")
    def _check_bounds(self) -> Delay:
        if self.dist == "uniform" and self.high < self.low:
            raise ValueError("a uniform delay needs high >= low")
        return self


# --- the ladder and outcomes --------------------------------------------------------------


class Rung(Strict):
    """One step of the escalation ladder; its index in the ladder is its level."""

    name: str = Field(min_length=1, max_length=80)
    description: str = ""


MoveRef = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*\.[A-Za-z][A-Za-z0-9_\-]*$")]


class OutcomeCondition(Strict):
    """Bounds on the run's peak and final rung (overall, or of one dyad), and moves made.

    All given bounds must hold; with ``moves``, at least one of the listed moves
    (``ACTOR.lever``) must have been made.
    """

    peak_at_least: int | None = Field(default=None, ge=0)
    peak_at_most: int | None = Field(default=None, ge=0)
    final_at_least: int | None = Field(default=None, ge=0)
    final_at_most: int | None = Field(default=None, ge=0)
    dyad: tuple[Ident, Ident] | None = None
    moves: list[MoveRef] = Field(default_factory=list, max_length=256)


class OutcomeClass(Strict):
    """An end state: the first class whose condition holds classifies the run."""

    id: Ident
    label: str = ""
    description: str = ""
    when: OutcomeCondition = OutcomeCondition()
    ends_run: bool = Field(
        default=False,
        description="End the run as soon as the condition holds (the current rung standing "
        "for the final one): an absorbing state such as armed conflict.",
    )


class Outcomes(Strict):
    """How a run's end state is classified, in order, the last class catching all."""

    classes: list[OutcomeClass] = Field(min_length=1)


# --- levers -----------------------------------------------------------------------------


class LeverCost(Strict):
    """What using a lever costs its user, in the scenario's cost units."""

    upfront: NonNegative = 0.0
    per_day: NonNegative = Field(default=0.0, description="While the measure is in force.")
    audience: NonNegative = Field(
        default=0.0,
        description="Audience cost of backing down for nothing (Fearon 1994): paid on top of "
        "upfront when the move is made while none of the lever's `reciprocates` has been made.",
    )


class LeverEffect(Strict):
    """What a lever does to its target and to the world.

    ``economic`` is pain per day in force, scaled by the target's dependence on the user
    (a dependence relation for the lever's sector, else the target's trade exposure).
    ``political`` is a one-off jolt of domestic pressure on the target. ``tension`` is
    added to the dyad's tension (negative for cooperative moves); when absent it is
    derived from the Goldstein score. ``grievance_relief`` removes that share of the
    target's grievance against the user (an apology, a retraction, a call).
    ``backing`` sets the public backing of an alliance to ``backing_level`` while the measure
    is in force. ``standing`` makes the move a standing offence: while it is in force the
    target's grievance against the user cannot fade below that level (an unretracted
    statement keeps rankling until it is retracted).
    """

    economic: NonNegative = 0.0
    political: NonNegative = 0.0
    tension: Annotated[float, Field(ge=-1.0, le=1.0)] | None = None
    grievance_relief: Probability = 0.0
    backing: Ident | None = None
    backing_level: Probability = Field(
        default=1.0,
        description="The public backing the lever sets while in force: 1 a presidential "
        "statement, less a spokesperson's or an ambassador's.",
    )
    hostility: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="How hostile the target finds the move, instead of the hostility derived "
        "from its Goldstein score (a statement on sovereignty rankles more than its score says).",
    )
    standing: Probability = Field(
        default=0.0,
        description="A standing offence: while in force, the target's grievance against the "
        "user stays at or above this level.",
    )
    stock: dict[Ident, Finite] = Field(
        default_factory=dict,
        description="Change to the user's continuous stocks per unit of the move's amount.",
    )


class LeverDelays(Strict):
    """Decision lag before announcement, onset after it, and how long it stays in force."""

    decision: Delay = Delay()
    onset_days: Annotated[float, Field(ge=0.0, le=MAX_DAYS)] = 0.0
    duration_days: Annotated[float, Field(ge=0.0, le=MAX_DAYS)] | None = Field(
        default=14.0,
        description="Days in force; null keeps it until lifted; 0 leaves nothing in force.",
    )


class LeverLimits(Strict):
    """What limits a lever: uses, a stock that depletes, a cooldown, fading potency."""

    max_uses: int | None = Field(default=None, ge=0, le=10_000)
    stock: NonNegative | None = Field(
        default=None, description="Units available; each use spends one."
    )
    cooldown_days: Annotated[float, Field(ge=0.0, le=MAX_DAYS)] = 0.0
    potency_decay: Probability = Field(
        default=0.0, description="Share of potency lost per use (the target adapts)."
    )


class RecentMoves(Strict):
    """Moves made (by anyone, on anyone) within the last ``within_days`` days."""

    levers: list[LeverRef] = Field(min_length=1, max_length=64)
    within_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)]


class LeverRequires(Strict):
    """Preconditions on the dyad between the user and the target, and on moves made."""

    dyad_rung_at_least: int | None = Field(default=None, ge=0)
    tension_at_least: Probability | None = None
    their_rung_at_least: int | None = Field(
        default=None,
        ge=0,
        description="The target holds a hostile measure at or above this rung against the "
        "user: the move answers one (an alert answers a drill), it is not a first move.",
    )
    used: list[LeverRef] = Field(
        default_factory=list,
        description="At least one of these levers has been used (a concession, a deal): "
        "lifting a measure may need the target to have given something first.",
    )
    after: RecentMoves | None = Field(
        default=None,
        description="Available only within some days after one of these moves was made "
        "(sanctions on the firms of an arms sale answer the sale).",
    )
    unused: list[LeverRef] = Field(
        default_factory=list,
        description="Levers that must not have been used yet, the actor's own ('retract') or "
        "another's ('JPN.retract'): once one has been (a statement retracted), this lever is "
        "no longer available (refusing to retract it, demanding its retraction).",
    )


class Lever(Strict):
    """A kind of move an actor can make: its coding, costs, effects, delays and limits."""

    id: Ident
    name: str = Field(min_length=1, max_length=120)
    direction: Literal["escalate", "deescalate", "support"] = Field(
        default="escalate",
        description="escalate: hostile to the target, counts for the dyad's rung; "
        "deescalate: conciliatory (retract, ease, lift, call, summit); "
        "support: cooperation with the target that third parties may resent (arms sales).",
    )
    rung: int = Field(ge=0, description="The ladder rung the move signals.")
    cameo: CameoCode
    goldstein: Goldstein
    magnitude: NonNegative = 1.0
    unit: str = ""
    sector: Ident | None = None
    risk: Probability | None = Field(
        default=None,
        description="Escalation risk the user sees in the move; default (rung / top rung)^2. "
        "Lower for grey-zone tools (coast-guard patrols) than their rung suggests.",
    )
    targets: list[Ident] = Field(min_length=1)
    cost: LeverCost = LeverCost()
    effect: LeverEffect = LeverEffect()
    delays: LeverDelays = LeverDelays()
    limits: LeverLimits = LeverLimits()
    requires: LeverRequires = LeverRequires()
    lifts: list[Ident] = Field(
        default_factory=list, description="Own measures this move ends (retract, ease, lift)."
    )
    tightens: Ident | None = Field(
        default=None,
        description="An own measure this one steps up: available only while that measure is in "
        "force on the target, and it replaces it (an advisory, then a ban on group tours).",
    )
    reciprocates: list[LeverRef] = Field(
        default_factory=list,
        description="The concessions or deals this conciliatory move answers; made while none "
        "of them has been, it costs the user its `cost.audience`.",
    )
    offends: dict[Ident, Probability] = Field(
        default_factory=dict, description="Third parties that take the move as aimed at them."
    )
    choosable: bool = Field(
        default=True, description="False for moves only exogenous events make (incidents)."
    )
    hazard_weight: Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False)] = Field(
        default=1.0,
        description="Weight of this measure, while in force, in the exposure of incident "
        "hazards (a static deployment on one's own soil adds none, white hulls less than "
        "warships).",
    )
    value: Annotated[float, Field(ge=-5.0, le=5.0, allow_inf_nan=False)] = Field(
        default=0.0,
        description="What the move is worth to its user in itself, apart from its effects (a "
        "legal obligation, a constituency): added to its utility under the logit policy.",
    )
    source: str = Field(default="", description="Where the values come from: a fact or 'judgment'.")


# --- actors -----------------------------------------------------------------------------


class Attributes(Strict):
    """An actor's dispositions, each in [0, 1]."""

    resolve: Probability = 0.5
    risk_tolerance: Probability = 0.5
    domestic_pressure: Probability = 0.5
    exposure: dict[Ident, Probability] = Field(
        default_factory=dict, description="Trade exposure to each partner."
    )
    stakes: dict[Ident, Probability] = Field(
        default_factory=dict, description="Value placed on calm relations with each partner."
    )


class PolicyRef(Strict):
    """A registered decision rule and its parameters (checked by the rule's own model)."""

    name: Ident
    params: dict[str, Any] = Field(default_factory=dict)


class Actor(Strict):
    """A government that perceives moves, reassesses and chooses moves through its policy."""

    id: Ident
    name: str = Field(min_length=1, max_length=80)
    attributes: Attributes = Attributes()
    policy: PolicyRef = PolicyRef(name="logit")
    response_delay: Delay = Delay(dist="lognormal", median=2.0, sigma=0.6)
    review_every_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = 7.0
    stocks: dict[Ident, Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="Continuous quantities the actor adjusts through its levers (arms, reserves).",
    )
    levers: list[Lever] = Field(default_factory=list)


# --- relations --------------------------------------------------------------------------


class Alliance(Strict):
    """A security commitment of a patron to a protege (a treaty, the Taiwan Relations Act).

    Public backing, from 0 (on the sidelines) to 1 (open support), raises the protege's
    resolve and the risk an adversary sees in military moves against the protege, and
    makes hostile moves against the protege offend the patron.
    """

    kind: Literal["alliance"] = "alliance"
    id: Ident
    patron: Ident
    protege: Ident
    commitment: Probability = Field(description="Credibility of the commitment to fight.")
    public_backing: Probability = 0.0
    resolve_boost: Probability = Field(
        default=0.2, description="Added to the protege's resolve at full backing."
    )
    deterrence: NonNegative = Field(
        default=1.0, description="Weight of the patron in an adversary's military risk."
    )
    offense_share: Probability = Field(
        default=0.5,
        description="Share of a hostile move on the protege the patron feels, times its "
        "commitment and (0.5 + 0.5 * backing).",
    )
    deters_from_rung: int | None = Field(
        default=None,
        ge=0,
        description="The lowest rung on which the commitment deters (default: the military "
        "rung); grey-zone moves below it are not deterred (the stability-instability paradox).",
    )
    source: str = ""


class Dependence(Strict):
    """A dependent actor's reliance on a supplier for one sector (rare earths, seafood)."""

    kind: Literal["dependence"] = "dependence"
    dependent: Ident
    supplier: Ident
    sector: Ident
    share: Probability
    source: str = ""


Relation = Annotated[Alliance | Dependence, Field(discriminator="kind")]


# --- exogenous events -----------------------------------------------------------------


class MoveEffect(Strict):
    """Make ``actor`` play ``lever`` on ``target`` (an arms-sale notification, an incident)."""

    type: Literal["move"] = "move"
    actor: Ident
    target: Ident
    lever: Ident


class PromptEffect(Strict):
    """Make ``actor`` decide now among ``levers`` or doing nothing (a transit request)."""

    type: Literal["prompt"] = "prompt"
    actor: Ident
    levers: list[Ident] = Field(min_length=1)
    target: Ident
    defer_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] | None = Field(
        default=None,
        description="If the actor makes none of the moves, ask again after this many days: the "
        "case stays in the pipeline (an arms sale held back until after a summit).",
    )


class TensionEffect(Strict):
    """Shift the tension of a dyad."""

    type: Literal["tension"] = "tension"
    dyad: tuple[Ident, Ident]
    delta: Annotated[float, Field(ge=-1.0, le=1.0)]


class AttributeEffect(Strict):
    """Add ``delta`` to an actor's resolve, risk tolerance or domestic pressure (clipped)."""

    type: Literal["attribute"] = "attribute"
    actor: Ident
    attribute: Literal["resolve", "risk_tolerance", "domestic_pressure"]
    delta: Annotated[float, Field(ge=-1.0, le=1.0)]


Effect = Annotated[
    MoveEffect | PromptEffect | TensionEffect | AttributeEffect, Field(discriminator="type")
]


class EventCondition(Strict):
    """A test of a dyad's state, or of moves made lately (cancelling or postponing an event)."""

    dyad: tuple[Ident, Ident] | None = Field(default=None, description="None: the overall rung.")
    rung_at_least: int | None = Field(default=None, ge=0)
    tension_at_least: Probability | None = None
    moves: list[MoveRef] = Field(
        default_factory=list,
        max_length=64,
        description="Holds if one of these moves (ACTOR.lever) was made within `within_days` "
        "(ever, without it): a transit by Taiwan's president before a summit.",
    )
    within_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] | None = None


class Postponement(Strict):
    """How a scheduled event slips: an outside hazard, triggers, and the new date's delay.

    Before the event, postponements arrive at random at ``rate_per_year`` (other crises,
    domestic politics, scheduling: causes outside the scenario); on its day, any condition
    of ``when`` that holds postpones it too. Each postponement moves the date by a delay
    drawn from ``delay``; after ``max_times`` postponements the next one cancels it.
    """

    rate_per_year: NonNegative = Field(default=0.0, le=365.0)
    when: list[EventCondition] = Field(default_factory=list)
    delay: Delay = Delay(dist="uniform", low=14.0, high=60.0)
    max_times: int = Field(default=2, ge=0, le=100)


class StakeBoost(Strict):
    """In the run-up to an event its parties value calm with each other more (summit diplomacy)."""

    actors: list[Ident] = Field(min_length=2, max_length=64)
    value: Probability = Field(description="Added to each party's stake in calm with the others.")
    lead_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = Field(
        description="From this many days before the event until it is held or cancelled."
    )


class ScheduledEvent(Strict):
    """An event fixed in the calendar, which a condition can cancel (the Beijing visit)."""

    kind: Literal["scheduled"] = "scheduled"
    id: Ident
    name: str = ""
    date: dt.date
    effects: list[Effect] = Field(min_length=1)
    cancel_if: list[EventCondition] = Field(
        default_factory=list, description="Any condition that holds cancels the event."
    )
    on_cancel: list[Effect] = Field(default_factory=list)
    postpone: Postponement | None = None
    stake_boost: StakeBoost | None = None
    source: str = ""


class StochasticEvent(Strict):
    """An event that arrives at random (Poisson) within a window.

    ``rate_per_year`` is the base rate. When ``exposure`` is given the rate applies per
    measure in force at or above ``exposure.rung_at_least`` in that dyad, weighted by the
    measure's lever's ``hazard_weight`` (the hazard of an
    incident at sea grows with the ships and drills out there), and is zero without any.
    """

    kind: Literal["stochastic"] = "stochastic"
    id: Ident
    name: str = ""
    rate_per_year: NonNegative = Field(le=3650.0)
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    max_occurrences: int | None = Field(default=None, ge=0, le=10_000)
    exposure: EventCondition | None = None
    effects: list[Effect] = Field(min_length=1)
    source: str = ""


Event = Annotated[ScheduledEvent | StochasticEvent, Field(discriminator="kind")]


# --- world dynamics and the initial state ---------------------------------------------------


class Dynamics(Strict):
    """World-level constants of the model (each a judgment the scenario states)."""

    tension_half_life_days: Positive = 30.0
    grievance_half_life_days: Positive = 21.0
    pressure_half_life_days: Positive = 30.0
    perception_delay: Delay = Delay(dist="uniform", low=0.0, high=1.0)
    hostility_scale: Positive = Field(
        default=1.0,
        description="Scale of the hostility of a move: scale * (-Goldstein/10)^exponent.",
    )
    hostility_exponent: Annotated[float, Field(ge=0.5, le=4.0)] = Field(
        default=1.0, description="Above 1, verbal moves rankle little and force a lot."
    )
    response_satisfaction: Probability = Field(
        default=0.35, description="Share of grievance a full-severity response discharges."
    )


class DyadState(Strict):
    """A dyad's state on the start date."""

    pair: tuple[Ident, Ident]
    tension: Probability = 0.0
    grievance: dict[Ident, NonNegative] = Field(
        default_factory=dict, description="Each member's grievance against the other."
    )


class MeasureInForce(Strict):
    """A measure already in force on the start date (the truce's tariffs, chip controls).

    It is in force from day 0 with its lever's duration still to run, costs and pains as
    any measure, and can be lifted or tightened. With ``holds_rung`` false it is part of
    the status quo the crisis starts from and does not count for its dyad's rung.
    """

    actor: Ident
    lever: Ident
    target: Ident
    holds_rung: bool = True
    source: str = ""


class Source(Strict):
    """A citation the scenario's parameters rest on."""

    id: Ident
    citation: str = Field(min_length=1)
    url: str = ""


# --- the scenario -----------------------------------------------------------------------


class Scenario(Strict):
    """A complete, validated scenario."""

    # exactly one of end or horizon_days, said in the JSON Schema too (for editors)
    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        frozen=False,
        json_schema_extra={"oneOf": [{"required": ["end"]}, {"required": ["horizon_days"]}]},
    )

    name: Ident
    title: str = Field(min_length=1, max_length=200)
    description: str = ""
    sources: list[Source] = Field(default_factory=list)
    start: dt.date
    end: dt.date | None = None
    horizon_days: int | None = Field(default=None, ge=1, le=MAX_DAYS)
    cost_unit: str = Field(default="cost units", description="What one unit of cost means.")
    ladder: list[Rung] = Field(min_length=2, max_length=32)
    military_rung: int = Field(
        ge=1,
        description="The first military rung: summaries time its first crossing, and an "
        "adversary's patron deters moves from it up.",
    )
    dynamics: Dynamics = Dynamics()
    actors: list[Actor] = Field(min_length=1, max_length=64)
    relations: list[Relation] = Field(default_factory=list)
    initial: list[DyadState] = Field(default_factory=list)
    in_force: list[MeasureInForce] = Field(
        default_factory=list, description="Measures already in force on the start date."
    )
    events: list[Event] = Field(default_factory=list)
    outcomes: Outcomes
    posterior: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="A calibration folder (sim calibrate) whose posterior every run draws its "
        "calibrated parameters from, as with sim run --posterior: a folder on the scenario "
        "search path such as posteriors/NAME, or a path.",
    )

    @property
    def days(self) -> int:
        """The horizon in days from the start date."""
        if self.end is not None:
            return (self.end - self.start).days
        assert self.horizon_days is not None  # guaranteed by the validator
        return self.horizon_days

    @property
    def end_date(self) -> dt.date:
        """The last simulated calendar date."""
        return self.start + dt.timedelta(days=self.days)

    def content_hash(self) -> str:
        """A stable hash of the resolved scenario (what was run, not how it was written)."""
        data = self.model_dump(mode="json")
        if data.get("posterior") is None:  # hashes as before scenarios could name a posterior
            data.pop("posterior", None)
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def actor(self, actor_id: str) -> Actor:
        """The actor with this id."""
        return next(a for a in self.actors if a.id == actor_id)

    @model_validator(mode="after")
    def _check_horizon(self) -> Scenario:
        from sim.scenario.references import ReferenceProblem

        # raised with a location, so that the error names the line of the field at fault
        if self.end is None and self.horizon_days is None:
            raise ReferenceProblem(("start",), "give an end (a date) or horizon_days (days)")
        if self.end is not None and self.horizon_days is not None:
            raise ReferenceProblem(("horizon_days",), "give end or horizon_days, not both")
        # the span is between two fields, either of which may be at fault: no single line
        if not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"the horizon must be 1..{MAX_DAYS} days after start, not {self.days}")
        if self.start > dt.date.max - dt.timedelta(days=self.days):
            raise ValueError("the horizon runs past the last calendar date (9999-12-31)")
        return self

    @model_validator(mode="after")
    def _check_references(self) -> Scenario:
        from sim.scenario.references import check_references

        check_references(self)
        return self
