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

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

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

    dist: Literal["fixed", "lognormal", "uniform", "exponential"] = Field(
        default="fixed",
        description="The delay's shape: fixed (always `days`), lognormal (`median`, `sigma`: "
        "most draws short, a long tail, the usual shape of government response times), "
        "uniform (between `low` and `high`) or exponential (`mean`, memoryless). Default fixed.",
    )
    days: NonNegative = Field(
        default=0.0, description="fixed: the delay in days, 0 or more. Default 0: at once."
    )
    median: NonNegative = Field(
        default=1.0,
        description="lognormal: the median delay in days, 0 or more (half the draws are "
        "shorter); 0 makes every draw 0. Default 1.",
    )
    sigma: Annotated[float, Field(ge=0.0, le=3.0)] = Field(
        default=0.5,
        description="lognormal: the spread of the delay's logarithm, 0 to 3. 0 always gives "
        "the median; 0.5 puts 90% of draws between 0.44 and 2.3 times it. Default 0.5.",
    )
    low: NonNegative = Field(
        default=0.0, description="uniform: the shortest delay in days, 0 or more. Default 0."
    )
    high: NonNegative = Field(
        default=0.0,
        description="uniform: the longest delay in days, at least `low` (uniform from 21 to "
        "120 days: `{dist: uniform, low: 21, high: 120}`). Default 0.",
    )
    mean: NonNegative = Field(
        default=1.0,
        description="exponential: the mean delay in days, 0 or more; 0 makes every draw 0. "
        "Default 1.",
    )
    cap: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = Field(
        default=365.0,
        description="No lognormal, uniform or exponential draw is longer than this many days "
        "(above 0, at most 3660): it cuts the long tail of a lognormal or exponential delay; a "
        "fixed delay is its `days` whatever the cap. Default 365.",
    )

    @model_validator(mode="after")
    def _check_bounds(self) -> Delay:
        if self.dist == "uniform" and self.high < self.low:
            raise ValueError("a uniform delay needs high >= low")
        return self


# --- the ladder and outcomes --------------------------------------------------------------


class Rung(Strict):
    """One step of the escalation ladder; its index in the ladder is its level."""

    name: str = Field(
        min_length=1,
        max_length=80,
        description="What the rung is called, 1 to 80 characters, as tables and figures show "
        "it (`military signalling`).",
    )
    description: str = Field(
        default="",
        description="The moves that sit on this rung, for the reader (`drills, patrols, "
        "deployments (CAMEO 150, 154)`); the model does not read it.",
    )


MoveRef = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_\-]*\.[A-Za-z][A-Za-z0-9_\-]*$")]


class OutcomeCondition(Strict):
    """Bounds on the run's peak and final rung (overall, or of one dyad), and moves made.

    All given bounds must hold; with ``moves``, at least one of the listed moves
    (``ACTOR.lever``) must have been made.
    """

    peak_at_least: int | None = Field(
        default=None,
        ge=0,
        description="The highest rung the run reached (overall, or of `dyad`) is at least "
        "this rung of the ladder, counted from 0 (`6`: a military crisis at some point). "
        "Unset: no lower bound.",
    )
    peak_at_most: int | None = Field(
        default=None,
        ge=0,
        description="The highest rung the run reached is at most this rung. Unset: no upper bound.",
    )
    final_at_least: int | None = Field(
        default=None,
        ge=0,
        description="The rung at the run's end (the highest of the hostile measures still in "
        "force) is at least this rung (`3`: coercion still in force). Unset: no lower bound.",
    )
    final_at_most: int | None = Field(
        default=None,
        ge=0,
        description="The rung at the run's end is at most this rung. Unset: no upper bound.",
    )
    dyad: tuple[Ident, Ident] | None = Field(
        default=None,
        description="Two actor ids (`[CHN, JPN]`): the rung bounds apply to this dyad's rung. "
        "Unset: to the overall rung, the highest over all dyads.",
    )
    moves: list[MoveRef] = Field(
        default_factory=list,
        max_length=256,
        description="Moves written ACTOR.lever (`[USA.back_japan]`), at most 256: at least one "
        "of them was made during the run. Empty (default): no condition on moves.",
    )


class OutcomeClass(Strict):
    """An end state: the first class whose condition holds classifies the run."""

    id: Ident = Field(
        description="The class's name in tables, JSON and `--outcome` (`military_crisis`); "
        "unique among the classes."
    )
    label: str = Field(
        default="",
        description="A readable name for tables and figures (`military crisis`). Default: the id.",
    )
    description: str = Field(default="", description="What the class means, for the reader.")
    when: OutcomeCondition = Field(
        default=OutcomeCondition(),
        description="The condition a run must meet to fall in this class; every bound given "
        "must hold. Empty (default): every run meets it, as the last class must.",
    )
    ends_run: bool = Field(
        default=False,
        description="End the run as soon as the condition holds (the current rung standing "
        "for the final one): an absorbing state such as armed conflict.",
    )


class Outcomes(Strict):
    """How a run's end state is classified, in order, the last class catching all."""

    classes: list[OutcomeClass] = Field(
        min_length=1,
        description="The end states, tried in order: a run falls in the first whose "
        "condition holds (armed conflict, military crisis, coercive standoff, de-escalated). "
        "At least one; the last must have no condition, so that every run is classified.",
    )


# --- levers -----------------------------------------------------------------------------


class LeverCost(Strict):
    """What using a lever costs its user, in the scenario's cost units."""

    upfront: NonNegative = Field(
        default=0.0,
        description="Paid once by the user when the move is made, in the scenario's "
        "`cost_unit`, 0 or more (a quarantine: 3). Default 0.",
    )
    per_day: NonNegative = Field(
        default=0.0,
        description="Paid by the user for each day the measure is in force (from its onset), "
        "in `cost_unit` per day, 0 or more (retaliatory tariffs: 0.2). A decision weighs it "
        "over at most 60 days ahead, or the duration if shorter. Default 0.",
    )
    audience: NonNegative = Field(
        default=0.0,
        description="Audience cost of backing down for nothing (Fearon 1994), in `cost_unit`, "
        "0 or more: paid on top of upfront when the move is made while none of the lever's "
        "`reciprocates` has been made (dropping an advisory without a retraction: 2). "
        "Default 0.",
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

    economic: NonNegative = Field(
        default=0.0,
        description="Pain inflicted on the target per day in force, in `cost_unit` per day at "
        "full dependence, 0 or more: multiplied by the target's share in the dependence of the "
        "lever's `sector` on the user (else by its `exposure` to the user) and by the lever's "
        "remaining potency. A seafood ban of 1 on a target 20% dependent costs it 0.2 a day. "
        "Default 0: no pain.",
    )
    political: NonNegative = Field(
        default=0.0,
        description="A one-off jolt of domestic pressure on the target when it perceives the "
        "move, 0 or more, times the target's `domestic_pressure` (the pressure stays in [0, 1], "
        "adds to its effective resolve and fades with `pressure_half_life_days`). Default 0.",
    )
    tension: Annotated[float, Field(ge=-1.0, le=1.0)] | None = Field(
        default=None,
        description="Change of the dyad's tension when the move is made, -1 to 1: a positive "
        "value closes that share of the gap to 1, a negative one lowers tension by that much "
        "(a summit: -0.3). Unset: -goldstein / 40 (a -8 sanction closes 20% of the gap). "
        "Support moves leave the dyad's tension alone.",
    )
    grievance_relief: Probability = Field(
        default=0.0,
        description="Share of the target's grievance against the user that the move removes "
        "when perceived, 0 to 1 (a call: 0.2, a retraction: 0.9). Default 0.",
    )
    backing: Ident | None = Field(
        default=None,
        description="The id of an alliance whose public backing the move sets to "
        "`backing_level` while it is in force (`us_japan_treaty`: the patron speaks up for "
        "its protege). Unset: none.",
    )
    backing_level: Probability = Field(
        default=1.0,
        description="The public backing the lever sets while in force, 0 to 1: 1 a "
        "presidential statement, less a spokesperson's or an ambassador's (0.3). Default 1.",
    )
    hostility: Annotated[float, Field(ge=0.0, le=3.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="How hostile the target finds the move, 0 to 3, instead of the hostility "
        "derived from its Goldstein score (a statement on sovereignty rankles more than its "
        "score says: 0.6). Unset: hostility_scale * (-goldstein / 10) ^ hostility_exponent.",
    )
    standing: Probability = Field(
        default=0.0,
        description="A standing offence, 0 to 1: while the move is in force, the target's "
        "grievance against the user fades towards this level, never below it (an unretracted "
        "statement: 0.3, until a retraction lifts it). Default 0: it fades to 0.",
    )
    stock: dict[Ident, Finite] = Field(
        default_factory=dict,
        description="Change to the user's `stocks`, by stock name, per unit of the move's "
        "amount (`{missiles: -1}`). Default: none.",
    )


class LeverDelays(Strict):
    """Decision lag before announcement, onset after it, and how long it stays in force."""

    decision: Delay = Field(
        default=Delay(),
        description="Days from choosing the move to announcing it (a statement at once, a "
        "sanction days, a deployment weeks: `{dist: lognormal, median: 5, sigma: 0.5}`). The "
        "actor goes on deciding meanwhile; the move is made only if still available when it "
        "comes due. Default: fixed 0.",
    )
    onset_days: Annotated[float, Field(ge=0.0, le=MAX_DAYS)] = Field(
        default=0.0,
        description="Days from the announcement until the measure bites, 0 to 3660 (tariffs "
        "effective a week later: 7): its pain and running cost start then, its rung counts "
        "from the announcement. Default 0.",
    )
    duration_days: Annotated[float, Field(ge=0.0, le=MAX_DAYS)] | None = Field(
        default=14.0,
        description="Days in force after the onset, 0 to 3660; null keeps it until lifted "
        "(a ban); 0 leaves nothing in force (a one-off act). Default 14.",
    )


class LeverLimits(Strict):
    """What limits a lever: uses, a stock that depletes, a cooldown, fading potency."""

    max_uses: int | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="Most times the lever can be used in a run, on any target, 0 to 10000 "
        "(a retraction: 1). Unset: no limit.",
    )
    stock: NonNegative | None = Field(
        default=None,
        description="Units available at the start, 0 or more; each use spends one, and the "
        "lever is unavailable below one. Unset: unlimited.",
    )
    cooldown_days: Annotated[float, Field(ge=0.0, le=MAX_DAYS)] = Field(
        default=0.0,
        description="Days after a use before the lever can be used again, on any target, 0 to "
        "3660 (a drill every other week at most: 14). Default 0.",
    )
    potency_decay: Probability = Field(
        default=0.0,
        description="Share of potency lost each time the measure is imposed, 0 to 1 (the "
        "target adapts): with 0.3 the second use inflicts 70% of the first's pain, the third "
        "49%. Default 0.",
    )


class RecentMoves(Strict):
    """Moves made (by anyone, on anyone) within the last ``within_days`` days."""

    levers: list[LeverRef] = Field(
        min_length=1,
        max_length=64,
        description="The moves looked for, 1 to 64: the user's own lever (`arms_sale`) or "
        "another actor's (`USA.arms_sale`), made on anyone.",
    )
    within_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = Field(
        description="How many days back one of them may have been made, above 0 and at most "
        "3660 (45: within six weeks of a sale)."
    )


class LeverRequires(Strict):
    """Preconditions on the dyad between the user and the target, and on moves made."""

    dyad_rung_at_least: int | None = Field(
        default=None,
        ge=0,
        description="The dyad of user and target stands at this rung or higher (a quarantine "
        "only once there is military signalling: 5). Unset: no condition.",
    )
    tension_at_least: Probability | None = Field(
        default=None,
        description="The tension of the dyad of user and target is at least this, 0 to 1. "
        "Unset: no condition.",
    )
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

    id: Ident = Field(
        description="The lever's name, unique within its actor, used in every reference to it "
        "(`lifts`, `requires`, events, `ACTOR.lever`): `seafood_ban`."
    )
    name: str = Field(
        min_length=1,
        max_length=120,
        description="What the move is, in words, 1 to 120 characters, as traces and tables "
        "show it (`seafood import suspension`).",
    )
    direction: Literal["escalate", "deescalate", "support"] = Field(
        default="escalate",
        description="escalate: hostile to the target, counts for the dyad's rung; "
        "deescalate: conciliatory (retract, ease, lift, call, summit); "
        "support: cooperation with the target that third parties may resent (arms sales).",
    )
    rung: int = Field(
        ge=0,
        description="The ladder rung the move signals, counted from 0: while a hostile measure "
        "is in force its dyad stands at least at this rung (a seafood ban: 3, targeted "
        "economic coercion). Conciliatory and support moves usually 0.",
    )
    cameo: CameoCode = Field(
        description="The move's CAMEO event code as text, 2 to 4 digits with a root from 01 "
        'to 20 (`"163"` sanctions, `"0312"` intent to cooperate militarily; see '
        "shared/domain/cameo-levers.csv). Quote it in YAML so that a leading zero stays. "
        "Escalation scores and backtests read it."
    )
    goldstein: Goldstein = Field(
        description="The move's Goldstein (1992) score, -10 (force) to +10 (the most "
        "cooperative), from the coding table (sanctions -8, a call +1): it sets the move's "
        "hostility and, unless `effect.tension` is given, its change of tension."
    )
    magnitude: NonNegative = Field(
        default=1.0,
        description="The size of the move in `unit`, 0 or more (a 10-point tariff: 10), "
        "recorded with each move (times its remaining potency); the model's effects do not "
        "read it. Default 1.",
    )
    unit: str = Field(
        default="",
        description="What `magnitude` counts, for the reader (`tariff points`). Default: none.",
    )
    sector: Ident | None = Field(
        default=None,
        description="The sector whose dependence scales the move's economic pain: one that "
        "the target depends on the user for (a `dependence` relation with this supplier and "
        "sector: `rare_earths`). Unset: the target's trade `exposure` to the user scales it.",
    )
    risk: Probability | None = Field(
        default=None,
        description="Escalation risk the user sees in the move, 0 to 1; default (rung / top "
        "rung)^2. Lower for grey-zone tools (coast-guard patrols: 0.05) than their rung "
        "suggests. A patron's deterrence multiplies it (see `deterrence`).",
    )
    targets: list[Ident] = Field(
        min_length=1,
        description="The actors the move can be made against, at least one (`[JPN, USA]`); "
        "each is a separate option, and a measure in force on one does not bar the others.",
    )
    cost: LeverCost = Field(
        default=LeverCost(),
        description="What the move costs its user: upfront, per day in force, and the "
        "audience cost of backing down for nothing. Default: free.",
    )
    effect: LeverEffect = Field(
        default=LeverEffect(),
        description="What the move does: economic pain, political pressure, tension, relief "
        "of grievance, an alliance's backing, a standing offence. Default: only the tension "
        "and hostility its Goldstein score implies.",
    )
    delays: LeverDelays = Field(
        default=LeverDelays(),
        description="The decision lag, the onset and the duration in force. Default: "
        "announced at once, in force 14 days.",
    )
    limits: LeverLimits = Field(
        default=LeverLimits(),
        description="Uses, a stock, a cooldown, fading potency. Default: no limit.",
    )
    requires: LeverRequires = Field(
        default=LeverRequires(),
        description="Preconditions for the move to be available: a rung, a tension, moves "
        "made or not made. Default: none.",
    )
    lifts: list[Ident] = Field(
        default_factory=list,
        description="Ids of the user's own measures this conciliatory move ends on its target "
        "(`[travel_advisory, group_tour_ban]`); the move is available only while one of them "
        "is in force there. Default: none.",
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
        default_factory=dict,
        description="Third parties that take the move as aimed at them, by actor id, with the "
        "weight of the offence, 0 to 1 (a transit by Taiwan's president: `{CHN: 0.7}`): each "
        "perceives hostility_scale times it against the user (and, for support moves, "
        "against the beneficiary). Default: none.",
    )
    choosable: bool = Field(
        default=True,
        description="false for moves only exogenous events make (incidents at sea, a status "
        "quo measure); the actor's policy never offers them. Default true.",
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
    source: str = Field(
        default="",
        description="Where the values come from: a source id, a fact, or 'judgment'.",
    )


# --- actors -----------------------------------------------------------------------------


class Attributes(Strict):
    """An actor's dispositions, each in [0, 1]."""

    resolve: Probability = Field(
        default=0.5,
        description="Determination, 0 to 1: it weighs the grievance that drives hostile moves "
        "and the face that conciliatory ones lose. Domestic pressure and a patron's public "
        "backing add to it. Default 0.5.",
    )
    risk_tolerance: Probability = Field(
        default=0.5,
        description="Acceptance of escalation risk, 0 to 1: a move's risk is weighed by "
        "1 - risk_tolerance (0.3: economic and grey-zone pressure preferred to military risk). "
        "Default 0.5.",
    )
    domestic_pressure: Probability = Field(
        default=0.5,
        description="How much domestic opinion amplifies offences, 0 to 1: a perceived "
        "hostile move closes hostility * (0.5 + domestic_pressure) of the gap between the "
        "grievance and 1, and scales the pressure that `political` effects add. Default 0.5.",
    )
    exposure: dict[Ident, Probability] = Field(
        default_factory=dict,
        description="Trade exposure to each partner, by actor id, 0 to 1 (`{USA: 0.11}`): it "
        "scales the pain of a partner's economic measure whose sector the actor has no "
        "dependence for. A partner left out counts 0: such measures cost nothing.",
    )
    stakes: dict[Ident, Probability] = Field(
        default_factory=dict,
        description="Value placed on calm relations with each partner, by actor id, 0 to 1 "
        "(`{USA: 0.8}`): it weighs the offence a move gives that partner and the calm a "
        "conciliatory move buys with it. A partner left out counts 0.",
    )


class PolicyRef(Strict):
    """A registered decision rule and its parameters (checked by the rule's own model)."""

    name: Ident = Field(
        description="The registered decision rule: logit (quantal response, the default), "
        "reciprocal (graduated tit-for-tat), scripted (moves on dates), the oracles' "
        "random_walk, attrition, tit_for_tat, always_escalate, richardson, or one registered "
        "with sim.register_policy."
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The rule's parameters, checked by the rule's own model (logit: "
        "rationality, action_cost, grievance, cost, risk, offense, jump, calm, relief, face, "
        "support, package; `{face: 5.0}`). Default: the rule's defaults.",
    )


class Actor(Strict):
    """A government that perceives moves, reassesses and chooses moves through its policy."""

    id: Ident = Field(
        description="The actor's short name, unique, used in every reference (`CHN`; "
        "`targets: [JPN]`; `JPN.retract_statement`)."
    )
    name: str = Field(
        min_length=1, max_length=80, description="The actor's full name, 1 to 80 characters."
    )
    attributes: Attributes = Field(
        default=Attributes(),
        description="Dispositions (resolve, risk tolerance, domestic pressure, each 0 to 1) "
        "and per-partner exposure and stakes. Default: 0.5 each, no exposure, no stakes.",
    )
    policy: PolicyRef = Field(
        default=PolicyRef(name="logit"),
        description="The decision rule and its parameters. Default: logit with its default "
        "weights.",
    )
    response_delay: Delay = Field(
        default=Delay(dist="lognormal", median=2.0, sigma=0.6),
        description="Days from a reason to decide (a review, a perceived hostile move or "
        "concession, a prompt) to the decision: a government's time to agree on a reply. "
        "Default: lognormal, median 2 days, sigma 0.6.",
    )
    review_every_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = Field(
        default=7.0,
        description="Mean days between the actor's own reviews of its position (random, "
        "exponential intervals), above 0 and at most 3660; it also decides whenever it "
        "perceives a hostile move or is prompted. Default 7; 2 for a campaign reviewed every "
        "other day.",
    )
    stocks: dict[Ident, Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description="Continuous quantities the actor adjusts through its levers, by name, "
        "with their values on the start date (`{missiles: 40}`); levers change them through "
        "`effect.stock`. Default: none.",
    )
    levers: list[Lever] = Field(
        default_factory=list,
        description="The moves the actor can make. Default: none (an actor that only "
        "receives moves).",
    )


# --- relations --------------------------------------------------------------------------


class Alliance(Strict):
    """A security commitment of a patron to a protege (a treaty, the Taiwan Relations Act).

    Public backing, from 0 (on the sidelines) to 1 (open support), raises the protege's
    resolve and the risk an adversary sees in military moves against the protege, and
    makes hostile moves against the protege offend the patron.
    """

    kind: Literal["alliance"] = Field(
        default="alliance", description="alliance: this relation is a security commitment."
    )
    id: Ident = Field(
        description="The alliance's name, unique among alliances, used by a lever's "
        "`effect.backing` and in `--set` paths (`relations.us_japan_treaty.public_backing`)."
    )
    patron: Ident = Field(description="The actor id of the protector (`USA`).")
    protege: Ident = Field(description="The actor id of the protected (`JPN`), not the patron.")
    commitment: Probability = Field(
        description="Credibility of the commitment to fight, 0 to 1 (a treaty that covers the "
        "territory: 0.8; strategic ambiguity: 0.4). Required."
    )
    public_backing: Probability = Field(
        default=0.0,
        description="The patron's public backing of the protege on the start date, 0 (on the "
        "sidelines) to 1 (open support); levers with `effect.backing` change it while in "
        "force. Default 0.",
    )
    resolve_boost: Probability = Field(
        default=0.2,
        description="Added to the protege's resolve at full backing (times the backing), "
        "0 to 1. Default 0.2.",
    )
    deterrence: NonNegative = Field(
        default=1.0,
        description="Weight of the patron in an adversary's risk of a move against the "
        "protege from `deters_from_rung` up, 0 or more: the move's risk is multiplied by "
        "1 + deterrence * commitment * (0.5 + 0.5 * backing). Default 1; 0 deters nothing.",
    )
    offense_share: Probability = Field(
        default=0.5,
        description="Share of a hostile move on the protege the patron feels as aimed at "
        "itself, 0 to 1, times its commitment and (0.5 + 0.5 * backing). Default 0.5.",
    )
    deters_from_rung: int | None = Field(
        default=None,
        ge=0,
        description="The lowest rung on which the commitment deters (default: the military "
        "rung); grey-zone moves below it are not deterred (the stability-instability paradox).",
    )
    source: str = Field(
        default="", description="Where the values come from: a source id, a fact, or 'judgment'."
    )


class Dependence(Strict):
    """A dependent actor's reliance on a supplier for one sector (rare earths, seafood)."""

    kind: Literal["dependence"] = Field(
        default="dependence", description="dependence: this relation is a supply dependence."
    )
    dependent: Ident = Field(description="The actor id that depends on the supplier (`JPN`).")
    supplier: Ident = Field(description="The actor id it depends on (`CHN`), not the dependent.")
    sector: Ident = Field(
        description="The sector's name (`rare_earths`): the supplier's levers with this "
        "`sector` inflict their economic pain on the dependent scaled by `share`."
    )
    share: Probability = Field(
        description="How much the dependent relies on the supplier in this sector, 0 to 1 "
        "(0.7: 70% of its rare-earth imports). Required."
    )
    source: str = Field(
        default="", description="Where the share comes from: a source id, a fact, or 'judgment'."
    )


Relation = Annotated[Alliance | Dependence, Field(discriminator="kind")]


# --- exogenous events -----------------------------------------------------------------


class MoveEffect(Strict):
    """Make ``actor`` play ``lever`` on ``target`` (an arms-sale notification, an incident)."""

    type: Literal["move"] = Field(default="move", description="move: the event makes a move.")
    actor: Ident = Field(description="The actor id who makes the move.")
    target: Ident = Field(
        description="The actor id the move is made against, one of the lever's targets."
    )
    lever: Ident = Field(
        description="The id of the lever of `actor` played (often `choosable: false`, a move "
        "only events make). A measure already in force is renewed; if the lever is "
        "unavailable (a limit, a precondition), nothing happens and the event log says so."
    )


class PromptEffect(Strict):
    """Make ``actor`` decide now among ``levers`` or doing nothing (a transit request)."""

    type: Literal["prompt"] = Field(
        default="prompt", description="prompt: the event asks an actor to decide."
    )
    actor: Ident = Field(description="The actor id asked to decide.")
    levers: list[Ident] = Field(
        min_length=1,
        description="The ids of the levers of `actor` to choose among, or make none, at "
        "least one (`[permit_transit, deny_transit]`).",
    )
    target: Ident = Field(description="The actor id the moves would be made against.")
    defer_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] | None = Field(
        default=None,
        description="If the actor makes none of the moves, ask again after this many days: the "
        "case stays in the pipeline (an arms sale held back until after a summit).",
    )


class TensionEffect(Strict):
    """Shift the tension of a dyad."""

    type: Literal["tension"] = Field(
        default="tension", description="tension: the event shifts a dyad's tension."
    )
    dyad: tuple[Ident, Ident] = Field(
        description="The two actor ids whose tension shifts (`[USA, CHN]`)."
    )
    delta: Annotated[float, Field(ge=-1.0, le=1.0)] = Field(
        description="The shift, -1 to 1: a positive value closes that share of the gap to 1, "
        "a negative one lowers tension by that much (a cancelled visit sours relations: 0.2)."
    )


class AttributeEffect(Strict):
    """Add ``delta`` to an actor's resolve, risk tolerance or domestic pressure (clipped)."""

    type: Literal["attribute"] = Field(
        default="attribute", description="attribute: the event changes a disposition."
    )
    actor: Ident = Field(description="The actor id whose disposition changes.")
    attribute: Literal["resolve", "risk_tolerance", "domestic_pressure"] = Field(
        description="Which disposition: resolve, risk_tolerance or domestic_pressure."
    )
    delta: Annotated[float, Field(ge=-1.0, le=1.0)] = Field(
        description="Added to it, -1 to 1; the result is kept within [0, 1] (an election "
        "won on a hard line: 0.1 to resolve)."
    )


Effect = Annotated[
    MoveEffect | PromptEffect | TensionEffect | AttributeEffect, Field(discriminator="type")
]


class EventCondition(Strict):
    """A test of a dyad's state, or of moves made lately (cancelling or postponing an event)."""

    dyad: tuple[Ident, Ident] | None = Field(
        default=None,
        description="Two actor ids (`[USA, CHN]`): the test reads this dyad's rung and "
        "tension. Unset: the overall rung (the highest over all dyads) and the highest "
        "tension of any dyad.",
    )
    rung_at_least: int | None = Field(
        default=None,
        ge=0,
        description="The rung (of the dyad, or overall) is at least this rung of the ladder, "
        "counted from 0 (4: strategic coercion in force). Unset: no bound.",
    )
    tension_at_least: Probability | None = Field(
        default=None,
        description="The tension (of the dyad, or the highest) is at least this, 0 to 1. "
        "Unset: no bound.",
    )
    moves: list[MoveRef] = Field(
        default_factory=list,
        max_length=64,
        description="Holds if one of these moves (ACTOR.lever) was made within `within_days` "
        "(ever, without it): a transit by Taiwan's president before a summit.",
    )
    within_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] | None = Field(
        default=None,
        description="With `moves`: how many days back one of them may have been made, above "
        "0 and at most 3660 (60). Unset: ever.",
    )


class Postponement(Strict):
    """How a scheduled event slips: an outside hazard, triggers, and the new date's delay.

    Before the event, postponements arrive at random at ``rate_per_year`` (other crises,
    domestic politics, scheduling: causes outside the scenario); on its day, any condition
    of ``when`` that holds postpones it too. Each postponement moves the date by a delay
    drawn from ``delay``; after ``max_times`` postponements the next one cancels it.
    """

    rate_per_year: NonNegative = Field(
        default=0.0,
        le=365.0,
        description="Postponements from outside causes, a year, before the event's day, 0 to "
        "365 (a Poisson rate: 0.35 is about one chance in seven over five months). Default 0: "
        "none.",
    )
    when: list[EventCondition] = Field(
        default_factory=list,
        description="Conditions tested on the event's day: any that holds postpones it (a "
        "transit by Taiwan's president in the last 60 days). Default: none.",
    )
    delay: Delay = Field(
        default=Delay(dist="uniform", low=14.0, high=60.0),
        description="How many days each postponement moves the date. Default: uniform, 14 "
        "to 60 days.",
    )
    max_times: int = Field(
        default=2,
        ge=0,
        le=100,
        description="Postponements allowed, 0 to 100; the next one cancels the event (2: a "
        "third slip is a cancellation). Default 2.",
    )


class StakeBoost(Strict):
    """In the run-up to an event its parties value calm with each other more (summit diplomacy)."""

    actors: list[Ident] = Field(
        min_length=2,
        max_length=64,
        description="The parties, 2 to 64 actor ids (`[USA, CHN]`): each values calm with "
        "each of the others more.",
    )
    value: Probability = Field(
        description="Added to each party's stake in calm with the others, 0 to 1 (a stake "
        "stays at most 1): 0.3 for a summit both sides want."
    )
    lead_days: Annotated[float, Field(gt=0.0, le=MAX_DAYS)] = Field(
        description="The boost lasts from this many days before the event (its current date, "
        "postponements included) until it is held or cancelled, above 0 and at most 3660."
    )


class ScheduledEvent(Strict):
    """An event fixed in the calendar, which a condition can cancel (the Beijing visit)."""

    kind: Literal["scheduled"] = Field(
        default="scheduled", description="scheduled: an event due on a date."
    )
    id: Ident = Field(
        description="The event's name, unique among events: the runs table has `held_<id>` "
        "and `postponed_<id>`, and `--set` paths use it (`events.beijing_visit.date`)."
    )
    name: str = Field(default="", description="What the event is, in words. Default: the id.")
    date: dt.date = Field(
        description="The day it is due (YYYY-MM-DD), within the horizon; postponements move "
        "it later, past the horizon if far enough."
    )
    effects: list[Effect] = Field(
        min_length=1,
        description="What happens when it is held, at least one effect: a move (type: move), "
        "a question to an actor (prompt), a shift of tension (tension) or of a disposition "
        "(attribute).",
    )
    cancel_if: list[EventCondition] = Field(
        default_factory=list,
        description="Conditions tested on the event's day: any that holds cancels the event "
        "(`{dyad: [USA, CHN], rung_at_least: 4}`). Default: none.",
    )
    on_cancel: list[Effect] = Field(
        default_factory=list,
        description="Effects applied if it is cancelled (a tension rise). Default: none.",
    )
    postpone: Postponement | None = Field(
        default=None,
        description="How it can slip: an outside hazard, conditions on its day, the delay of "
        "each slip and how many are allowed. Unset: it never slips.",
    )
    stake_boost: StakeBoost | None = Field(
        default=None,
        description="Its parties value calm with each other more in its run-up (summit "
        "diplomacy). Unset: no boost.",
    )
    source: str = Field(
        default="", description="Where the date and rules come from: a source id or a fact."
    )


class StochasticEvent(Strict):
    """An event that arrives at random (Poisson) within a window.

    ``rate_per_year`` is the base rate. When ``exposure`` is given the rate applies per
    measure in force at or above ``exposure.rung_at_least`` in that dyad, weighted by the
    measure's lever's ``hazard_weight`` (the hazard of an
    incident at sea grows with the ships and drills out there), and is zero without any.
    """

    kind: Literal["stochastic"] = Field(
        default="stochastic", description="stochastic: an event that arrives at random."
    )
    id: Ident = Field(
        description="The event's name, unique among events: the runs table has "
        "`occurred_<id>`, and `--set` paths use it (`events.incident_east_china_sea."
        "rate_per_year`)."
    )
    name: str = Field(default="", description="What the event is, in words. Default: the id.")
    rate_per_year: NonNegative = Field(
        le=3650.0,
        description="Arrivals a year, 0 to 3650 (three arms-sale cases a year: 3); with "
        "`exposure`, per weighted measure in force. Required.",
    )
    window_start: dt.date | None = Field(
        default=None,
        description="The first date it can arrive (YYYY-MM-DD), within the horizon. Default: "
        "the start date.",
    )
    window_end: dt.date | None = Field(
        default=None,
        description="The last date it can arrive, within the horizon and not before "
        "`window_start`. Default: the end of the horizon.",
    )
    max_occurrences: int | None = Field(
        default=None,
        ge=0,
        le=10_000,
        description="Most arrivals in a run, 0 to 10000 (a one-off request: 1). Unset: no limit.",
    )
    exposure: EventCondition | None = Field(
        default=None,
        description="Makes the rate a hazard per measure: a dyad and rung_at_least only "
        "(`{dyad: [CHN, JPN], rung_at_least: 5}`). The rate is multiplied by the hostile "
        "measures in force in that dyad at or above that rung, each weighted by its lever's "
        "`hazard_weight`, and is zero without any. Unset: the plain rate.",
    )
    effects: list[Effect] = Field(
        min_length=1,
        description="What happens at each arrival, at least one effect (a move, a prompt, a "
        "tension shift, a change of disposition).",
    )
    source: str = Field(
        default="", description="Where the rate comes from: a source id, a fact, or 'judgment'."
    )


Event = Annotated[ScheduledEvent | StochasticEvent, Field(discriminator="kind")]


# --- world dynamics and the initial state ---------------------------------------------------


class Dynamics(Strict):
    """World-level constants of the model (each a judgment the scenario states)."""

    tension_half_life_days: Positive = Field(
        default=30.0,
        description="Days for a dyad's tension to halve without new moves, above 0 (45: it "
        "fades over about two months). Default 30.",
    )
    grievance_half_life_days: Positive = Field(
        default=21.0,
        description="Days for a grievance to halve, above 0, towards the floor of any "
        "standing offence in force. Default 21.",
    )
    pressure_half_life_days: Positive = Field(
        default=30.0, description="Days for domestic pressure to halve, above 0. Default 30."
    )
    perception_delay: Delay = Field(
        default=Delay(dist="uniform", low=0.0, high=1.0),
        description="Days from a move to its perception by each actor that perceives it (its "
        "target, offended third parties, the target's patrons). Default: uniform, 0 to 1 day.",
    )
    hostility_scale: Positive = Field(
        default=1.0,
        description="Scale of the hostility of a move, above 0: scale * (-Goldstein/10) ^ "
        "exponent; it also multiplies a lever's `offends` weights. Default 1.",
    )
    hostility_exponent: Annotated[float, Field(ge=0.5, le=4.0)] = Field(
        default=1.0,
        description="Exponent of that hostility, 0.5 to 4: above 1, verbal moves rankle "
        "little and sanctions and force a lot (2: a -2 criticism weighs 0.04, a -8 sanction "
        "0.64). Default 1.",
    )
    response_satisfaction: Probability = Field(
        default=0.35,
        description="Share of grievance a top-rung response discharges, 0 to 1: a hostile "
        "move discharges this times its rung / the top rung of its user's grievance against "
        "the target (0.8 on a ladder of 0 to 8: a rung-3 move discharges 30%). Default 0.35.",
    )


class DyadState(Strict):
    """A dyad's state on the start date."""

    pair: tuple[Ident, Ident] = Field(description="The two actor ids (`[USA, CHN]`).")
    tension: Probability = Field(
        default=0.0,
        description="The dyad's tension on the start date, 0 to 1 (residual distrust after a "
        "truce: 0.3). Default 0.",
    )
    grievance: dict[Ident, NonNegative] = Field(
        default_factory=dict,
        description="Each member's grievance against the other on the start date, by actor "
        "id, 0 or more (`{CHN: 0.4}`; grievance lives in [0, 1]). Default: none.",
    )


class MeasureInForce(Strict):
    """A measure already in force on the start date (the truce's tariffs, chip controls).

    It is in force from day 0 with its lever's duration still to run, costs and pains as
    any measure, and can be lifted or tightened. With ``holds_rung`` false it is part of
    the status quo the crisis starts from and does not count for its dyad's rung.
    """

    actor: Ident = Field(description="The actor id whose measure it is (`USA`).")
    lever: Ident = Field(
        description="The id of that actor's lever: a measure that stays in force (not "
        "conciliatory, duration not 0; often `choosable: false`)."
    )
    target: Ident = Field(description="The actor id it is in force against, one of its targets.")
    holds_rung: bool = Field(
        default=True,
        description="Whether it counts for its dyad's rung. false: part of the status quo "
        "the crisis starts from (the truce's chip controls). Default true.",
    )
    source: str = Field(
        default="", description="Where it comes from: a source id, a fact, or 'judgment'."
    )


class Source(Strict):
    """A citation the scenario's parameters rest on."""

    id: Ident = Field(
        description="The source's short name, cited in `source` fields and comments (`brief`)."
    )
    citation: str = Field(min_length=1, description="The full reference, not empty.")
    url: str = Field(default="", description="A link, if any (text only: never fetched).")


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

    name: Ident = Field(
        description="The scenario's name in results folders and summaries "
        "(`results/<name>/`); by convention the file's stem, which `sim run NAME` looks up."
    )
    title: str = Field(
        min_length=1,
        max_length=200,
        description="One line, 1 to 200 characters, shown by `sim list` and in reports.",
    )
    description: str = Field(default="", description="What the scenario is about, in prose.")
    sources: list[Source] = Field(
        default_factory=list, description="Citations the values rest on. Default: none."
    )
    start: dt.date = Field(description="Day 0 of every run (YYYY-MM-DD).")
    end: dt.date | None = Field(
        default=None,
        description="The last simulated date (YYYY-MM-DD), 1 to 3660 days after start. Give "
        "this or `horizon_days`, not both.",
    )
    horizon_days: int | None = Field(
        default=None,
        ge=1,
        le=MAX_DAYS,
        description="The horizon in days after start, 1 to 3660. Give this or `end`, not both.",
    )
    cost_unit: str = Field(
        default="cost units",
        description="What one unit of cost means, for tables and reports (`pain-days`). "
        "Default 'cost units'.",
    )
    ladder: list[Rung] = Field(
        min_length=2,
        max_length=32,
        description="The escalation ladder, 2 to 32 rungs, from calm (rung 0) up: every "
        "lever's `rung` and every rung bound counts along it.",
    )
    military_rung: int = Field(
        ge=1,
        description="The first military rung: summaries time its first crossing, and an "
        "adversary's patron deters moves from it up.",
    )
    dynamics: Dynamics = Field(
        default=Dynamics(),
        description="World-level constants: half-lives, the perception delay, the hostility "
        "of moves. Default: each constant's default.",
    )
    actors: list[Actor] = Field(
        min_length=1,
        max_length=64,
        description="The governments, 1 to 64, each with dispositions, a policy and levers.",
    )
    relations: list[Relation] = Field(
        default_factory=list,
        description="Alliances (`kind: alliance`) and dependences (`kind: dependence`). "
        "Default: none.",
    )
    initial: list[DyadState] = Field(
        default_factory=list,
        description="Tension and grievance of dyads on the start date. Default: all calm.",
    )
    in_force: list[MeasureInForce] = Field(
        default_factory=list,
        description="Measures already in force on the start date, each for its lever's "
        "duration (the truce's tariffs and chip controls). Default: none.",
    )
    events: list[Event] = Field(
        default_factory=list,
        description="Exogenous events: on a date (`kind: scheduled`) or at random "
        "(`kind: stochastic`). Default: none.",
    )
    outcomes: Outcomes = Field(description="The rules that classify a run's end state.")
    posterior: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="A calibration folder (sim calibrate) whose posterior every run draws its "
        "calibrated parameters from, as with sim run --posterior: a folder on the scenario "
        "search path such as posteriors/NAME, or a path. Default: none (the scenario's own "
        "values).",
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

    # The --set overrides sim.load applied, as given: not part of the scenario's document or
    # hash (what was run), but how its outputs name it (issue 18, item 2).
    _overrides: list[str] = PrivateAttr(default_factory=list)

    @property
    def overrides(self) -> list[str]:
        """The ``--set`` overrides ``sim.load`` applied to the file, as given (``a.b=1``)."""
        return list(self._overrides)

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
            raise ReferenceProblem(
                ("horizon_days",),
                "give end or horizon_days, not both (to change the horizon of a scenario "
                "that gives an end, change end, or clear it: end=null)",
            )
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
