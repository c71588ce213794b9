"""Actors as simpy processes: they perceive, wait, reassess and choose through a policy.

An actor reviews its position at random times (a Poisson schedule with its review
interval as mean) and whenever it perceives a hostile move or an exogenous event prompts
it. Each decision takes a response delay (the time a government needs to agree on a
reply) and, once a lever is chosen, the lever's own decision lag before announcement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import simpy

from sim.engine.policy import Candidate, DecisionContext, Perceived
from sim.engine.spec import DEESCALATE, ESCALATE, SUPPORT, ActorSpec, LeverSpec

if TYPE_CHECKING:
    import numpy as np

    from sim.engine.world import World

PLANNING_DAYS = 60.0  # how far ahead an actor counts the running cost of a measure


class ActorProcess:
    """The simpy process of one actor."""

    def __init__(self, world: World, spec: ActorSpec, rng: np.random.Generator) -> None:
        self.world = world
        self.spec = spec
        self.rng = rng
        self.policy = spec.policy_cls(spec.policy_params, spec, world.spec.start)
        self.inbox: list[Perceived] = []
        self.prompt: tuple[tuple[int, ...], int] | None = None
        self.waiting = False  # in the wait for the next review
        self.interrupted = False
        self.pending = False  # a reason to decide arrived while deciding
        env = world.env
        self.process = env.process(self.run())
        for day in self.policy.wake_days():
            if 0 <= day <= world.spec.days:
                world.after(day, self.wake)

    def wake(self) -> None:
        """Ask the actor to decide soon (interrupting its wait for the next review)."""
        if not self.waiting:
            self.pending = True
        elif not self.interrupted:
            self.interrupted = True  # one interrupt per wait: a decision is already coming
            self.process.interrupt()

    def hear(self, perceived: Perceived) -> None:
        """Take in a perceived move; a hostile one is a reason to decide."""
        self.inbox.append(perceived)
        if perceived.hostility > 0:
            self.wake()

    def ask(self, levers: tuple[int, ...], target: int) -> None:
        """An exogenous event asks the actor to choose among ``levers`` on ``target``."""
        self.prompt = (levers, target)
        self.wake()

    def run(self):  # noqa: ANN201 - a simpy generator
        """Review, decide, act; forever (the run's end stops it)."""
        env = self.world.env
        while True:
            if not self.pending:
                self.waiting, self.interrupted = True, False
                try:
                    yield env.timeout(self.rng.exponential(self.spec.review_every))
                except simpy.Interrupt:
                    pass
                self.waiting = False
            self.pending = False
            yield env.timeout(self.spec.response_delay.sample(self.rng))
            choice = self.decide()
            if choice is not None:
                yield env.timeout(choice.lever.decision.sample(self.rng))
                if self.world.available(choice.lever, choice.target):
                    self.world.play(choice.lever, choice.target, "policy")

    def decide(self) -> Candidate | None:
        """Build the decision context and let the policy choose."""
        prompted = self.prompt is not None
        ctx = self.context()
        self.inbox = []
        self.prompt = None
        if prompted and not ctx.candidates:
            return None
        return self.policy.choose(ctx, self.rng)

    def context(self) -> DecisionContext:
        """What the policy sees now."""
        world, a = self.world, self.spec.index
        if self.prompt is not None:
            levers, target = self.prompt
            pairs = [(world.spec.levers[i], target) for i in levers]
        else:
            pairs = [
                (world.spec.levers[i], t)
                for i in self.spec.levers
                for t in world.spec.levers[i].targets
                if world.spec.levers[i].choosable
            ]
        candidates = [features(world, lv, t) for lv, t in pairs if world.available(lv, t)]
        others = [b.index for b in world.spec.actors if b.index != a]
        return DecisionContext(
            now=world.now,
            actor=self.spec,
            resolve=world.effective_resolve(a),
            risk_tolerance=world.risk_tolerance[a],
            candidates=candidates,
            inbox=self.inbox,
            prompted=self.prompt is not None,
            dyad_rung={b: world.rung_between(a, b) for b in others},
            grievance={b: world.grievance[a][b].at(world.now) for b in others},
            actor_ids=world.spec.actor_ids,
        )


def features(world: World, lever: LeverSpec, target: int) -> Candidate:
    """Compute what a policy weighs about playing ``lever`` on ``target`` now."""
    spec, a, now = world.spec, lever.actor, world.now
    dyad_rung = world.rung_between(a, target)
    severity = lever.rung / max(1, spec.top_rung)
    stakes = spec.actors[a].stakes
    offense = sum(stakes[k] * w for k, w in world.offended(lever, target))
    if lever.direction == ESCALATE:
        offense += stakes[target] * severity
    return Candidate(
        lever=lever,
        target=target,
        direction=lever.direction,
        rung=lever.rung,
        jump=lever.rung - dyad_rung if lever.direction == ESCALATE else 0,
        severity=severity,
        cost=expected_cost(world, lever),
        risk=_risk(world, lever, target),
        offense=offense,
        grievance=world.grievance[a][target].at(now),
        relief=_relief(world, lever, target) if lever.direction == DEESCALATE else 0.0,
        tension=world.tension_between(a, target),
        stake=stakes[target],
        need=_need(world, a, target) if lever.direction == SUPPORT else 0.0,
    )


def expected_cost(world: World, lever: LeverSpec) -> float:
    """Upfront cost plus the running cost over the planning horizon (or the duration)."""
    days = min(lever.duration, PLANNING_DAYS, max(0.0, world.spec.days - world.now))
    return lever.cost_upfront + lever.cost_per_day * days


def _risk(world: World, lever: LeverSpec, target: int) -> float:
    """Escalation risk: convex in the rung, raised on military rungs by the target's patrons."""
    if lever.direction != ESCALATE:
        return 0.0
    spec = world.spec
    risk = lever.risk
    if lever.rung >= spec.military_rung:
        for al in spec.alliances:
            if al.protege == target and al.patron != lever.actor:
                credibility = al.commitment * (0.5 + 0.5 * world.backing[al.index])
                risk *= 1.0 + al.deterrence * credibility
    return risk


def _relief(world: World, lever: LeverSpec, target: int) -> float:
    """Pain per day a de-escalating move may end.

    That is its own running costs, and the target's measures on the user, which a
    conciliatory move invites the target to lift.
    """
    own = sum(
        world.in_force[(j, target)].cost_rate for j in lever.lifts if (j, target) in world.in_force
    )
    theirs = sum(
        m.pain_rate
        for m in world.in_force.values()
        if m.actor == target and m.target == lever.actor
    )
    return own + theirs


def _need(world: World, patron: int, protege: int) -> float:
    """How much a protege under pressure needs its patron: commitment times its worst tension."""
    spec, now = world.spec, world.now
    commitment = max(
        (al.commitment for al in spec.alliances if al.patron == patron and al.protege == protege),
        default=0.0,
    )
    worst = max(
        (
            world.tension[spec.dyad_of(protege, k)].at(now)
            for k in range(len(spec.actors))
            if k not in (patron, protege)
        ),
        default=0.0,
    )
    return commitment * worst
