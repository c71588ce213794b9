"""Decision rules: the base class, what a rule sees, and the registry of rules by name.

The engine lists the moves an actor can make now as :class:`Candidate` objects with their
features already computed (severity, cost, risk, offence to third parties, grievance,
relief). A policy only maps candidates to a choice, so each rule stays a small class.
A user registers a rule from their own code with :func:`register_policy`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np

    from sim.engine.spec import ActorSpec, LeverSpec


@dataclass(slots=True)
class Candidate:
    """One move an actor could make now, with the features a rule weighs.

    ``severity`` is the move's rung over the top rung; ``jump`` how far it climbs above
    the dyad's current rung; ``cost`` the user's expected cost; ``risk`` the escalation
    risk the user sees (higher on military rungs against a protected target); ``offense``
    the stake-weighted offence it gives third parties; ``grievance`` the user's grievance
    against the target; ``relief`` for de-escalating moves, the pain per day it may end
    (own measures' running costs, and the target's measures on the user); ``tension`` the
    dyad's tension now; ``stake`` the value the user puts on calm with the target;
    ``need`` for support moves, how much a protege under pressure needs it.
    """

    lever: LeverSpec
    target: int
    direction: int  # ESCALATE, DEESCALATE or SUPPORT (sim.engine.spec)
    rung: int
    jump: int
    severity: float
    cost: float
    risk: float
    offense: float
    grievance: float
    relief: float
    tension: float
    stake: float
    need: float
    amount: float = 1.0  # a policy may scale the move (stock changes, recorded magnitude)
    value: float = 0.0  # the move's worth to its user in itself (the lever's ``value``)


@dataclass(slots=True)
class Perceived:
    """A move as an actor perceived it: who, against whom, how hostile to the perceiver."""

    day: float
    actor: int
    target: int
    lever: int
    rung: int
    hostility: float


@dataclass(slots=True)
class DecisionContext:
    """What a policy sees when its actor decides."""

    now: float
    actor: ActorSpec
    resolve: float  # effective: base, domestic pressure and allied backing
    risk_tolerance: float
    candidates: list[Candidate]
    inbox: list[Perceived]  # perceived since the last decision
    prompted: bool  # an exogenous event asks for a decision among these candidates only
    dyad_rung: dict[int, int]  # by target actor index
    grievance: dict[int, float]  # by target actor index
    actor_ids: tuple[str, ...]  # ids by actor index
    actors: tuple[ActorSpec, ...] = ()  # every actor, by index (stock names, levers)
    levers: tuple[LeverSpec, ...] = ()  # every lever, by global index
    stocks: tuple[tuple[float, ...], ...] = ()  # continuous stocks, by actor index


#: The type of a rule's parameters: its own pydantic ``Params`` model.
ParamsT = TypeVar("ParamsT", bound=BaseModel)


class Policy(Generic[ParamsT]):
    """Base class of decision rules, generic over the type of their parameters.

    Subclasses set ``name``, ``metadata`` (at least ``stochastic`` and ``source``, the
    literature the rule comes from), a pydantic ``Params`` model, and ``choose``; they name
    the model as the type argument (``class Rule(Policy["Rule.Params"])``), so that
    ``self.params`` has its fields' types. A rule without parameters is a ``Policy[Any]``
    (or plain ``Policy``).
    """

    name: ClassVar[str] = ""
    metadata: ClassVar[dict[str, Any]] = {}

    class Params(BaseModel):
        """Parameters of the rule (none by default)."""

        model_config = ConfigDict(extra="forbid", frozen=True)

    def __init__(self, params: ParamsT, actor: ActorSpec, start: dt.date) -> None:
        self.params: ParamsT = params
        self.actor = actor
        self.start = start  # the calendar date of day 0

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Return the candidate to play, or None to wait."""
        raise NotImplementedError

    def choose_moves(self, ctx: DecisionContext, rng: np.random.Generator) -> list[Candidate]:
        """Return the moves one decision launches: none, or the one :meth:`choose` picks.

        A rule that launches packages of measures at once (a campaign) overrides this.
        """
        choice = self.choose(ctx, rng)
        return [] if choice is None else [choice]

    @classmethod
    def check_params(
        cls, params: ParamsT, lever_ids: set[str], actor_ids: set[str]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """Problems with references in validated params, as (location, message) pairs."""
        return []

    @classmethod
    def kernel(cls) -> str | None:
        """The name of the engine's compiled kernel that makes this rule's decisions, if any.

        The engine decides for an actor with a kernel entirely in compiled code (its open
        options, their features, the rule, the draws), never building a
        :class:`DecisionContext`: that is the fast path. Only built-in rules have a kernel
        (the logit's, ``"logit"``), because a kernel is compiled together with the engine's
        own (``sim/engine/kernels.py``) over the engine's private arrays; a rule written in
        Python takes the ordinary path, unchanged, and so does a subclass of a built-in rule
        that overrides how it decides. The default is None: no kernel.
        """
        return None

    @classmethod
    def kernel_params(cls, params: ParamsT) -> tuple[float, ...]:
        """The parameters the rule's kernel reads, in the kernel's order (see :meth:`kernel`)."""
        return ()

    def wake_days(self) -> tuple[float, ...]:
        """Days at which the actor must decide regardless of its review schedule."""
        return ()

    def next_wake(self, now: float) -> float | None:
        """After a decision: a day at which to decide again, or None for the usual schedule."""
        return None


_REGISTRY: dict[str, type[Policy[Any]]] = {}
P = TypeVar("P", bound=type[Policy[Any]])


def register_policy(cls: P) -> P:
    """Register a policy class under its ``name`` (usable as a class decorator)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty 'name' to be registered")
    if not cls.__doc__:
        raise ValueError(f"{cls.__name__} needs a docstring saying where its rule comes from")
    _REGISTRY[cls.name] = cls
    return cls


def policy_class(name: str) -> type[Policy[Any]]:
    """The policy registered under ``name``; KeyError lists the registered names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise KeyError(f"unknown policy '{name}'; registered policies: {known}") from None


def registered_policies() -> dict[str, type[Policy[Any]]]:
    """A copy of the registry."""
    return dict(_REGISTRY)
