"""Quantal-response choice over the available levers."""

from __future__ import annotations

import datetime as dt
import math
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.engine.policy import Candidate, DecisionContext, Policy, register_policy
from sim.engine.spec import DEESCALATE, ESCALATE

if TYPE_CHECKING:
    from sim.engine.spec import ActorSpec

Weight = Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False)]


@register_policy
class LogitPolicy(Policy["LogitPolicy.Params"]):
    """Logit (quantal response) choice among waiting and every available move.

    Each move gets a utility. The actor acts with the logit probability of its best
    move against waiting (utility 0), then draws a move with probability proportional to
    ``exp(rationality * utility)`` (McKelvey and Palfrey 1995, quantal response
    equilibria; McFadden 1974, conditional logit). The two stages keep a long menu of
    similar moves from inflating the chance of acting at all. Escalating moves are worth the
    actor's resolve times its grievance against the target, more so the severer the
    move, less their cost, their escalation risk (weighed by risk aversion), the offence
    they give valued third parties, and any climb of more than one rung above the dyad's
    rung (graduated escalation: Kahn 1965, *On Escalation*). De-escalating moves are
    worth the calm they buy and the pain they may end, less the face lost while a
    grievance stands. Support for a protege is worth its need, less the offence given.
    Every move carries an action cost, the inertia of governments, larger for severer
    moves (a statement is easier to agree on than a sanction): without a motive, waiting
    wins. With ``package`` above 1 a decision may launch several moves of different levers
    (a campaign's package of measures): after each move drawn, the actor acts again with
    the logit probability of the best remaining move against waiting.
    """

    name = "logit"
    metadata: ClassVar[dict] = {
        "stochastic": True,
        "source": "McKelvey & Palfrey (1995) Games Econ. Behav. 10:6-38; Kahn (1965)",
    }

    class Params(BaseModel):
        """Weights of the utility terms and the rationality of the choice."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        rationality: Weight = 3.0
        action_cost: Weight = 0.8
        grievance: Weight = 4.5
        cost: Weight = 0.5
        risk: Weight = 3.0
        offense: Weight = 2.0
        jump: Weight = 0.3
        calm: Weight = 1.5
        relief: Weight = 1.0
        face: Weight = 2.0
        support: Weight = 2.0
        package: int = Field(
            default=1,
            ge=1,
            le=10,
            description="Most moves one decision launches: after each move drawn, the actor "
            "acts again with the logit probability of the best remaining move (another lever) "
            "against waiting, so a strong motive launches a package of measures at once.",
        )

    #: The methods that make the rule: a subclass that overrides one decides in Python.
    RULE: ClassVar[tuple[str, ...]] = (
        "choose",
        "choose_moves",
        "utility",
        "_weighed",
        "_draw",
        "wake_days",
        "next_wake",
    )

    @classmethod
    def kernel(cls) -> str | None:
        """The engine's logit kernel, unless a subclass changes how the rule decides.

        A subclass that only changes parameters (its ``Params`` defaults) keeps the kernel:
        that is how a policy of one's own gets the fast path.
        """
        own = all(getattr(cls, name) is getattr(LogitPolicy, name) for name in cls.RULE)
        return "logit" if own else None

    @classmethod
    def kernel_params(cls, params: BaseModel) -> tuple[float, ...]:
        """The weights, rationality and package size in the order the kernel reads them."""
        from sim.engine import kernels as k

        order = {
            k.P_RATIONALITY: "rationality",
            k.P_ACTION_COST: "action_cost",
            k.P_GRIEVANCE: "grievance",
            k.P_COST: "cost",
            k.P_RISK: "risk",
            k.P_OFFENSE: "offense",
            k.P_JUMP: "jump",
            k.P_CALM: "calm",
            k.P_RELIEF: "relief",
            k.P_FACE: "face",
            k.P_SUPPORT: "support",
            k.P_PACKAGE: "package",
        }
        return tuple(float(getattr(params, order[i])) for i in range(len(order)))

    def __init__(self, params: LogitPolicy.Params, actor: ActorSpec, start: dt.date) -> None:
        super().__init__(params, actor, start)
        # The weights as plain attributes: read a dozen times per option of every decision,
        # where a pydantic model's attribute costs three times as much.
        self.weights = SimpleNamespace(**params.model_dump())

    def utility(self, c: Candidate, ctx: DecisionContext) -> float:
        """The utility of playing candidate ``c``."""
        p = self.weights
        return c.value + self._weighed(c, ctx, p)

    def _weighed(self, c: Candidate, ctx: DecisionContext, p: SimpleNamespace) -> float:
        """The weighted terms of a candidate's utility, by direction."""
        if c.direction == ESCALATE:
            return (
                p.grievance * ctx.resolve * c.grievance * (0.5 + c.severity)
                - p.cost * c.cost
                - p.risk * (1.0 - ctx.risk_tolerance) * c.risk
                - p.offense * c.offense
                - p.jump * (c.jump - 1 if c.jump > 1 else 0)  # climbs beyond one rung
                - p.action_cost * (0.5 + c.severity)
            )
        if c.direction == DEESCALATE:
            return (
                p.calm * c.stake * c.tension
                + p.relief * c.relief
                - p.face * ctx.resolve * c.grievance
                - p.cost * c.cost
                - p.action_cost * 0.5
            )
        return p.support * c.need - p.offense * c.offense - p.cost * c.cost - p.action_cost * 0.5

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Act with the logit probability of the best move against waiting, then draw a move."""
        if not ctx.candidates:
            return None
        utilities = [self.utility(c, ctx) for c in ctx.candidates]
        return self._draw(ctx.candidates, utilities, rng)

    def choose_moves(self, ctx: DecisionContext, rng: np.random.Generator) -> list[Candidate]:
        """Draw up to ``package`` moves of distinct levers, each as :meth:`choose` draws one.

        With ``package`` 1 this is :meth:`choose` exactly, draw for draw (and a subclass
        that overrides :meth:`choose` is obeyed).
        """
        if self.params.package == 1:
            return super().choose_moves(ctx, rng)
        candidates = ctx.candidates
        utilities = [self.utility(c, ctx) for c in candidates]
        chosen: list[Candidate] = []
        while candidates and len(chosen) < self.params.package:
            pick = self._draw(candidates, utilities, rng)
            if pick is None:
                break
            chosen.append(pick)
            kept = [i for i, c in enumerate(candidates) if c.lever.index != pick.lever.index]
            candidates = [candidates[i] for i in kept]
            utilities = [utilities[i] for i in kept]
        return chosen

    def _draw(
        self, candidates: list[Candidate], utilities: list[float], rng: np.random.Generator
    ) -> Candidate | None:
        """The two-stage logit draw: act or wait, then which move."""
        lam = self.weights.rationality
        best = max(utilities)
        if rng.random() >= 1.0 / (1.0 + math.exp(-lam * best)):
            return None
        # plain floats: for a dozen options numpy's call overhead outweighs its speed
        weights = [math.exp(lam * (u - best)) for u in utilities]
        threshold = rng.random() * sum(weights)
        for candidate, weight in zip(candidates, weights, strict=True):
            threshold -= weight
            if threshold < 0.0:
                return candidate
        return candidates[-1]
