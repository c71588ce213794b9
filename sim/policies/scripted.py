"""Moves at fixed dates, for replays of history and for tests."""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.engine.policy import Candidate, DecisionContext, Policy, register_policy
from sim.engine.spec import ActorSpec


class ScriptedMove(BaseModel):
    """One scripted move: on a day (after the start) or a date, a lever on a target."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lever: str
    target: str
    day: float | None = Field(default=None, ge=0.0)
    date: dt.date | None = None

    @model_validator(mode="after")
    def _one_time(self) -> ScriptedMove:
        if (self.day is None) == (self.date is None):
            raise ValueError("give exactly one of day or date")
        return self


@register_policy
class ScriptedPolicy(Policy["ScriptedPolicy.Params"]):
    """Plays the listed moves on their dates and nothing else (a replay, or a test fixture).

    A move that is unavailable on its date (a limit, a precondition) is skipped, as a
    government cannot do what its instruments do not allow.
    """

    name = "scripted"
    metadata: ClassVar[dict] = {"stochastic": False, "source": "replay of a dated event record"}

    class Params(BaseModel):
        """The moves to play."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        moves: list[ScriptedMove] = Field(default_factory=list)

    def __init__(self, params: ScriptedPolicy.Params, actor: ActorSpec, start: dt.date) -> None:
        super().__init__(params, actor, start)
        self.queue = sorted((self._day(m), i, m) for i, m in enumerate(params.moves))

    def _day(self, move: ScriptedMove) -> float:
        if move.day is not None:
            return move.day
        assert move.date is not None  # the model validator requires one of day and date
        return float((move.date - self.start).days)

    @classmethod
    def check_params(
        cls, params: ScriptedPolicy.Params, lever_ids: set[str], actor_ids: set[str]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Every scripted lever must be the actor's and every target an actor."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, move in enumerate(params.moves):
            if move.lever not in lever_ids:
                problems.append(
                    (
                        ("moves", i, "lever"),
                        f"unknown lever '{move.lever}'; "
                        f"expected one of {', '.join(sorted(lever_ids))}",
                    )
                )
            if move.target not in actor_ids:
                problems.append((("moves", i, "target"), f"unknown actor '{move.target}'"))
        return problems

    def wake_days(self) -> tuple[float, ...]:
        """The scripted days: the actor decides on each."""
        return tuple(day for day, _, _ in self.queue)

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Play the earliest due move, if it is available."""
        while self.queue and self.queue[0][0] <= ctx.now:
            _, _, move = self.queue.pop(0)
            for c in ctx.candidates:
                if c.lever.id == move.lever and ctx.actor_ids[c.target] == move.target:
                    return c
        return None
