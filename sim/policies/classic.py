"""Decision rules from classical models, the oracles the engine is checked against.

Each rule is an ordinary registered policy and runs through the same engine, scenarios and
ensembles as any other: a random walk on the ladder (gambler's ruin), the mixed strategy of
the war of attrition, two strategies of the iterated prisoner's dilemma, and Richardson's
arms-race reaction.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.engine.policy import Candidate, DecisionContext, Policy, register_policy
from sim.engine.spec import DEESCALATE, ESCALATE, ActorSpec

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveDays = Annotated[float, Field(gt=0.0, le=3660.0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _lifts_rung(ctx: DecisionContext, c: Candidate, rung: int) -> bool:
    """Whether a de-escalating candidate lifts an own measure standing at ``rung``."""
    return any(ctx.levers[j].rung == rung for j in c.lever.lifts)


@register_policy
class RandomWalkPolicy(Policy["RandomWalkPolicy.Params"]):
    """Climbs one rung with probability ``p_up`` at each decision, else steps one rung down.

    A null model of escalation without strategy: with absorbing ends it is the gambler's
    ruin (Feller 1968, *An Introduction to Probability Theory*, ch. XIV). A step up plays
    the escalating lever one rung above the dyad's current rung; a step down lifts the
    own measure that holds the current rung.
    """

    name = "random_walk"
    metadata: ClassVar[dict] = {"stochastic": True, "source": "Feller (1968), ch. XIV"}

    class Params(_Frozen):
        """The probability of a step up."""

        p_up: Probability = 0.5

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Step up or down from the rung of the dyad with the first target."""
        if not ctx.candidates:
            return None
        target = ctx.candidates[0].target
        rung = ctx.dyad_rung[target]
        if rng.random() < self.params.p_up:
            moves = [
                c
                for c in ctx.candidates
                if c.direction == ESCALATE and c.target == target and c.rung == rung + 1
            ]
        else:
            moves = [
                c
                for c in ctx.candidates
                if c.direction == DEESCALATE and c.target == target and _lifts_rung(ctx, c, rung)
            ]
        return moves[0] if moves else None


@register_policy
class AttritionPolicy(Policy["AttritionPolicy.Params"]):
    """Holds out for a persistence time drawn once from an exponential law, then concedes.

    The mixed evolutionarily stable strategy of the symmetric war of attrition for a prize
    ``value`` at a cost ``cost_per_day`` of holding out: persistence is exponential with
    mean value / cost (Maynard Smith 1974, J. Theor. Biol. 47:209-221; Bishop and Cannings
    1978). Conceding plays the actor's first de-escalating lever.
    """

    name = "attrition"
    metadata: ClassVar[dict] = {
        "stochastic": True,
        "source": "Maynard Smith (1974); Bishop & Cannings (1978)",
    }

    class Params(_Frozen):
        """The prize and the daily cost of holding out."""

        value: Annotated[float, Field(gt=0.0)] = 1.0
        cost_per_day: Annotated[float, Field(gt=0.0)] = 0.1

    def __init__(self, params: AttritionPolicy.Params, actor: ActorSpec, start: dt.date) -> None:
        super().__init__(params, actor, start)
        self.quit_day: float | None = None

    def wake_days(self) -> tuple[float, ...]:
        """Decide at the start, to draw the persistence time."""
        return (0.0,)

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Draw the persistence time once; concede when it has passed."""
        if self.quit_day is None:
            self.quit_day = ctx.now + rng.exponential(self.params.value / self.params.cost_per_day)
        if ctx.now < self.quit_day:
            return None
        return next((c for c in ctx.candidates if c.direction == DEESCALATE), None)

    def next_wake(self, now: float) -> float | None:
        """Wake at the planned concession."""
        return self.quit_day if self.quit_day is not None and self.quit_day > now else None


class _RoundPolicy(Policy["_RoundPolicy.Params"]):
    """A two-action repeated game: hold (a de-escalating lever) or escalate, once a round."""

    class Params(_Frozen):
        """Rounds, their length, and the chance that an intended action is flipped."""

        rounds: Annotated[int, Field(ge=1, le=100_000)] = 200
        round_days: PositiveDays = 1.0
        noise: Probability = 0.0

    def __init__(self, params: _RoundPolicy.Params, actor: ActorSpec, start: dt.date) -> None:
        super().__init__(params, actor, start)
        self.round = 0
        self.opponent_escalated = False

    def wake_days(self) -> tuple[float, ...]:
        """The first round starts on day 0."""
        return (0.0,)

    def next_wake(self, now: float) -> float | None:
        """The start of the next round, while rounds remain."""
        return self.round * self.params.round_days if self.round < self.params.rounds else None

    def intend_escalation(self) -> bool:
        """The action the strategy intends this round."""
        raise NotImplementedError

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Play this round's action (possibly flipped by noise), once per round."""
        for seen in ctx.inbox:
            self.opponent_escalated = seen.hostility > 0
        due = self.round * self.params.round_days
        if self.round >= self.params.rounds or ctx.now < due - 1e-9:
            return None
        escalate = self.intend_escalation()
        if rng.random() < self.params.noise:
            escalate = not escalate
        self.round += 1
        wanted = ESCALATE if escalate else DEESCALATE
        return next((c for c in ctx.candidates if c.direction == wanted), None)


@register_policy
class TitForTatPolicy(_RoundPolicy):
    """Holds in the first round, then does what the opponent did in the last round.

    Axelrod (1984), *The Evolution of Cooperation*: the winner of both of his tournaments.
    With ``noise``, each intended action is flipped with that probability, as in the
    ``axelrod`` library's noisy matches.
    """

    name = "tit_for_tat"
    metadata: ClassVar[dict] = {"stochastic": False, "memory_depth": 1, "source": "Axelrod (1984)"}

    def intend_escalation(self) -> bool:
        """Copy the opponent's last action (hold in the first round)."""
        return self.opponent_escalated


@register_policy
class AlwaysEscalatePolicy(_RoundPolicy):
    """Escalates every round: always-defect in the prisoner's dilemma (Axelrod 1984)."""

    name = "always_escalate"
    metadata: ClassVar[dict] = {"stochastic": False, "memory_depth": 0, "source": "Axelrod (1984)"}

    def intend_escalation(self) -> bool:
        """Always escalate."""
        return True


@register_policy
class RichardsonPolicy(Policy["RichardsonPolicy.Params"]):
    """Adjusts an arms stock by Richardson's reaction law, one Euler step at a time.

    dx/dt = reaction * y - fatigue * x + grievance, where x is the actor's stock and y the
    rival's (Richardson 1960, *Arms and Insecurity*). Every ``step_days`` the actor plays
    its building lever (a positive stock change) or its cutting lever (a negative one),
    scaled to the step. As the step shrinks the path tends to the differential equation's.
    """

    name = "richardson"
    metadata: ClassVar[dict] = {"stochastic": False, "source": "Richardson (1960)"}

    class Params(_Frozen):
        """Reaction, fatigue and grievance coefficients; the stock, the rival, the step."""

        reaction: Annotated[float, Field(ge=0.0)] = 0.5
        fatigue: Annotated[float, Field(ge=0.0)] = 1.0
        grievance: float = 0.0
        stock: str = "arms"
        rival: str = ""
        step_days: PositiveDays = 0.1

    def __init__(self, params: RichardsonPolicy.Params, actor: ActorSpec, start: dt.date) -> None:
        super().__init__(params, actor, start)
        self.next_step = 0.0

    def wake_days(self) -> tuple[float, ...]:
        """The first step is on day 0."""
        return (0.0,)

    def next_wake(self, now: float) -> float | None:
        """The next Euler step."""
        return self.next_step

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Take one Euler step of the reaction law, if one is due."""
        if ctx.now < self.next_step - 1e-9:
            return None
        p = self.params
        self.next_step = ctx.now + p.step_days
        rival = ctx.actor_ids.index(p.rival)
        x = self._stock(ctx, ctx.actor.index)
        y = self._stock(ctx, rival)
        change = (p.reaction * y - p.fatigue * x + p.grievance) * p.step_days
        return self._lever_for(ctx, change)

    def _stock(self, ctx: DecisionContext, actor: int) -> float:
        names = ctx.actors[actor].stock_names
        return ctx.stocks[actor][names.index(self.params.stock)]

    def _lever_for(self, ctx: DecisionContext, change: float) -> Candidate | None:
        k = ctx.actor.stock_names.index(self.params.stock)
        for c in ctx.candidates:
            per_unit = dict(c.lever.stock_deltas).get(k, 0.0)
            if per_unit != 0.0 and math.copysign(1.0, per_unit) == math.copysign(1.0, change):
                c.amount = abs(change / per_unit)
                return c
        return None
