"""Graduated reciprocity: answer hostility in kind, forgive quiet."""

from __future__ import annotations

from typing import Annotated, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sim.engine.policy import Candidate, DecisionContext, Policy, register_policy
from sim.engine.spec import DEESCALATE, ESCALATE

Probability = Annotated[float, Field(ge=0.0, le=1.0)]


@register_policy
class ReciprocalPolicy(Policy["ReciprocalPolicy.Params"]):
    """Tit-for-tat with noise and a graduated step (Axelrod 1984; Osgood 1962, GRIT).

    When hostile moves arrived since the last decision, answer the worst offender with
    the available hostile move whose rung is closest to the offence's rung plus
    ``step`` (0: in kind; 1: one rung up), the cheapest among equals. With probability
    ``noise`` the answer is skipped (a misperception or a restraint). When nothing
    hostile arrived, lift or conciliate with probability ``forgiveness``.
    """

    name = "reciprocal"
    metadata: ClassVar[dict] = {
        "stochastic": True,
        "source": "Axelrod (1984) The Evolution of Cooperation; Osgood (1962) An Alternative "
        "to War or Surrender",
    }

    class Params(BaseModel):
        """The step above the offence, the noise, and the forgiveness of quiet."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        step: Annotated[int, Field(ge=-2, le=3)] = 0
        noise: Probability = 0.05
        forgiveness: Probability = 0.3

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Answer the worst hostility received, or forgive."""
        hostile = [p for p in ctx.inbox if p.hostility > 0]
        if hostile:
            worst = max(hostile, key=lambda p: (p.rung, p.day))
            if rng.random() < self.params.noise:
                return None
            return self._answer(ctx, worst.actor, worst.rung + self.params.step)
        if rng.random() < self.params.forgiveness:
            gentle = [c for c in ctx.candidates if c.direction == DEESCALATE]
            return min(gentle, key=lambda c: (c.grievance, c.lever.index), default=None)
        return None

    def _answer(self, ctx: DecisionContext, offender: int, rung: int) -> Candidate | None:
        options = [c for c in ctx.candidates if c.direction == ESCALATE and c.target == offender]
        return min(options, key=lambda c: (abs(c.rung - rung), c.cost, c.lever.index), default=None)
