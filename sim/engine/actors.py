"""Actors as simpy processes: they perceive, wait, reassess and choose through a policy.

An actor reviews its position at random times (a Poisson schedule with its review
interval as mean) and whenever it perceives a hostile move or an exogenous event prompts
it. Each decision takes a response delay (the time a government needs to agree on a
reply) and, once a lever is chosen, the lever's own decision lag before announcement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import simpy

from sim.engine.policy import Candidate, DecisionContext, Perceived
from sim.engine.spec import DEESCALATE, ESCALATE, SUPPORT, ActorSpec, LeverSpec, RunSpec
from sim.engine.world import move_hostility, patron_share

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
        self.options = actor_options(world.spec, spec.index)
        self.others = [b.index for b in world.spec.actors if b.index != spec.index]
        self.other_dyads = [(b, world.spec.dyad_of(spec.index, b)) for b in self.others]
        self.inbox: list[Perceived] = []
        # (levers, target, defer, asking event): questions the next decisions answer
        self.prompts: list[tuple[tuple[int, ...], int, float, str]] = []
        self.waiting = False  # in the wait for the next review
        self.interrupted = False
        self.pending = False  # a reason to decide arrived while deciding
        self.preparing: set[tuple[int, int]] = set()  # (lever, target) chosen, not yet enacted
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
        """Take in a perceived move; a hostile one, or a concession to us, is a reason to decide."""
        self.inbox.append(perceived)
        conciliatory = (
            perceived.target == self.spec.index
            and self.world.spec.levers[perceived.lever].direction == DEESCALATE
        )
        if perceived.hostility > 0 or conciliatory:
            self.wake()

    @property
    def prompt(self) -> tuple[tuple[int, ...], int, float, str] | None:
        """The exogenous question the next decision answers, if any."""
        return self.prompts[0] if self.prompts else None

    def ask(
        self, levers: tuple[int, ...], target: int, defer: float = math.inf, event: str = ""
    ) -> None:
        """An exogenous event asks the actor to choose among ``levers`` on ``target``.

        If the actor makes none of the moves and ``defer`` is finite, it is asked again
        ``defer`` days later: the case stays in the pipeline (and the event's log says so).
        A question already waiting for an answer is not queued twice: one decision answers
        both (two arms-sale cases on the desk are one decision to notify or not).
        """
        if any(p[0] == levers and p[1] == target for p in self.prompts):
            return
        self.prompts.append((levers, target, defer, event))
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
            for choice in self.decide():
                self.prepare(choice, choice.lever.decision.sample(self.rng))
            self._schedule_next()

    def prepare(self, choice: Candidate, lag: float) -> None:
        """Enact a chosen move after its decision lag, while the actor goes on deciding.

        Governments work several tracks at once: while a ministry drafts a sanction the
        foreign ministry still answers the news, so a lag holds back this move only. The
        move is not offered again until it is enacted (or found no longer available).
        """
        if lag <= 0:
            self._enact(choice)
            return
        self.preparing.add(preparing_key(choice.lever, choice.target))
        self.world.after(lag, lambda: self._enact(choice))

    def _enact(self, choice: Candidate) -> None:
        """Play a prepared move if it is still available (a cooldown or a limit may bar it)."""
        self.preparing.discard(preparing_key(choice.lever, choice.target))
        if self.world.available(choice.lever, choice.target):
            self.world.play(choice.lever, choice.target, "policy", choice.amount)

    def _schedule_next(self) -> None:
        """Let the policy ask for its next decision time (a round, a planned quit)."""
        now = self.world.env.now
        day = self.policy.next_wake(now)
        if day is not None and now <= day <= self.world.spec.days:
            self.world.after(day - now, self.wake)

    def decide(self) -> list[Candidate]:
        """Build the decision context and let the policy choose the moves to launch.

        An exogenous prompt asks for one answer among given levers; otherwise the policy
        may launch a package of moves at once.
        """
        prompt = self.prompt
        ctx = self.context()
        self.inbox = []
        if prompt is None:
            return self.policy.choose_moves(ctx, self.rng)
        self.prompts.pop(0)
        if self.prompts:
            self.pending = True  # another question waits for its answer
        choice = self.policy.choose(ctx, self.rng) if ctx.candidates else None
        levers, target, defer, event = prompt
        if choice is None and math.isfinite(defer):
            self.world.event_log.append((self.world.now, event, "deferred"))
            self.world.after(defer, lambda: self.ask(levers, target, defer, event))
        return [] if choice is None else [choice]

    def context(self) -> DecisionContext:
        """What the policy sees now."""
        world, a, now = self.world, self.spec.index, self.world.env.now
        if self.prompt is not None:
            levers, target, _, _ = self.prompt
            options = [Option(world.spec, world.spec.levers[i], target) for i in levers]
        else:
            options = self.options
        # each actor's grievance and each dyad's tension, read once for every option
        grievance = [g.at(now) for g in world.grievance[a]]
        tension = [t.at(now) for t in world.tension]
        candidates = [features(world, o, now, grievance, tension) for o in self._open(options, now)]
        others = self.others
        return DecisionContext(
            now=now,
            actor=self.spec,
            resolve=world.effective_resolve(a),
            risk_tolerance=world.risk_tolerance[a],
            candidates=candidates,
            inbox=self.inbox,
            prompted=self.prompt is not None,
            dyad_rung={b: world.dyad_rung[d] for b, d in self.other_dyads},
            grievance={b: grievance[b] for b in others},
            actor_ids=world.spec.actor_ids,
            actors=world.spec.actors,
            levers=world.spec.levers,
            stocks=tuple(map(tuple, world.stocks)),
        )

    def _open(self, options: Sequence[Option], now: float) -> list[Option]:
        """The options that can be chosen now: not in preparation, and available.

        The common limits are checked inline (this loop runs for every option of every
        decision); anything else goes through :meth:`World.available`.
        """
        world, preparing = self.world, self.preparing
        in_force, last_used = world.in_force, world.last_used
        open_now = []
        for o in options:
            if preparing and o.held in preparing:
                continue
            check = o.check
            if check == UNLESS_IN_FORCE:
                if o.key in in_force:
                    continue
            elif check == COOLDOWN:
                if now < last_used[o.key[0]] + o.lever.cooldown or o.key in in_force:
                    continue
            elif check == FULL_CHECK and not world.available(o.lever, o.target):
                continue
            open_now.append(o)
        return open_now


# How an option's availability is checked: most levers have no limit or precondition but
# "not already in force" and perhaps a cooldown, and the decision loop checks those inline.
ALWAYS, UNLESS_IN_FORCE, COOLDOWN, FULL_CHECK = range(4)

_OPTIONS: dict[int, tuple[RunSpec, tuple[tuple[Option, ...], ...]]] = {}


def actor_options(spec: RunSpec, actor: int) -> tuple[Option, ...]:
    """An actor's choosable options, built once per spec (they depend on nothing else)."""
    entry = _OPTIONS.get(id(spec))
    if entry is None or entry[0] is not spec:  # holding the spec keeps its id from reuse
        if len(_OPTIONS) >= 8:
            _OPTIONS.clear()
        per_actor = tuple(
            tuple(
                Option(spec, lv, t)
                for lv in (spec.levers[i] for i in a.levers)
                if lv.choosable
                for t in lv.targets
            )
            for a in spec.actors
        )
        entry = _OPTIONS[id(spec)] = (spec, per_actor)
    return entry[1][actor]


def preparing_key(lever: LeverSpec, target: int) -> tuple[int, int]:
    """Return what a move in preparation holds back from the actor's next decisions.

    That is the lever on every target if its limits are the lever's (a cooldown, a number
    of uses, a stock: a second use would be barred when it came due), else the lever on
    this target only.
    """
    whole = lever.cooldown > 0 or lever.max_uses >= 0 or lever.stock != math.inf
    return (lever.index, -1 if whole else target)


class Option:
    """The parts of a candidate move that do not change during a run, computed once."""

    __slots__ = (
        "lever",
        "target",
        "dyad",
        "severity",
        "offends",
        "patrons",
        "deterrents",
        "commitment",
        "rivals",
        "direction",
        "rung",
        "risk",
        "key",
        "held",
        "check",
        "fixed_cost",
    )

    def __init__(self, spec: RunSpec, lever: LeverSpec, target: int) -> None:
        a = lever.actor
        escalate = lever.direction == ESCALATE
        self.lever, self.target = lever, target
        self.dyad = spec.dyad_of(a, target)
        self.severity = lever.rung / max(1, spec.top_rung)
        # hostility felt by third parties the lever names (weighed by the user's stakes in
        # them at decision time, which events can raise)
        scale = spec.hostility_scale
        self.offends = tuple((k, w * scale) for k, w in lever.offends if k not in (a, target))
        # patrons of the target, who feel a share of a hostile move on it (patron_share)
        hostility = move_hostility(spec, lever)
        self.patrons = tuple(
            (al, hostility)
            for al in spec.alliances
            if escalate and al.protege == target and al.patron not in (a, target)
        )
        self.deterrents = tuple(
            (al.index, al.deterrence * al.commitment)
            for al in spec.alliances
            if escalate and lever.rung >= al.deters_from and al.protege == target and al.patron != a
        )
        self.commitment = max(
            (al.commitment for al in spec.alliances if al.patron == a and al.protege == target),
            default=0.0,
        )
        self.rivals = tuple(
            spec.dyad_of(target, k) for k in range(len(spec.actors)) if k not in (a, target)
        )
        self.direction, self.rung = lever.direction, lever.rung
        self.risk = lever.risk if escalate else 0.0
        self.key = (lever.index, target)  # as in World.in_force
        self.held = preparing_key(lever, target)
        self.check = availability_check(lever)
        # the expected cost, when it does not depend on the day (no running cost)
        self.fixed_cost = lever.cost_upfront if lever.cost_per_day == 0.0 else None


def availability_check(lever: LeverSpec) -> int:
    """Which check :meth:`ActorProcess._open` needs for a lever (see World.available)."""
    limited = (
        lever.max_uses >= 0
        or lever.stock != math.inf
        or lever.lifts
        or lever.req_rung >= 0
        or lever.req_unused
        or lever.req_tension >= 0
        or lever.req_used
        or lever.req_their_rung >= 0
        or lever.req_after
        or lever.tightens >= 0
    )
    if limited or (lever.direction == DEESCALATE and lever.cooldown > 0):
        return FULL_CHECK
    if lever.cooldown > 0:
        return COOLDOWN  # and not in force
    return ALWAYS if lever.direction == DEESCALATE else UNLESS_IN_FORCE


def features(
    world: World, option: Option, now: float, grievance: list[float], tension: list[float]
) -> Candidate:
    """Compute what a policy weighs about playing an option now.

    ``grievance`` is the user's grievance against each actor now, ``tension`` each dyad's.
    """
    lever, target, direction = option.lever, option.target, option.direction
    stakes = world.stakes[lever.actor]
    risk = option.risk
    if option.deterrents:
        backing = world.backing
        for alliance, weight in option.deterrents:
            risk *= 1.0 + weight * (0.5 + 0.5 * backing[alliance])
    offense = stakes[target] * option.severity if direction == ESCALATE else 0.0
    for k, hostility in option.offends:
        offense += stakes[k] * hostility
    for al, hostility in option.patrons:
        offense += stakes[al.patron] * hostility * patron_share(al, world.backing[al.index])
    need = 0.0
    if direction == SUPPORT and option.rivals:
        need = option.commitment * max(tension[d] for d in option.rivals)
    cost = option.fixed_cost
    if lever.cost_audience > 0 and not world.reciprocated(lever):
        cost = (expected_cost(world, lever, now) if cost is None else cost) + lever.cost_audience
    return Candidate(
        lever,
        target,
        direction,
        option.rung,
        option.rung - world.dyad_rung[option.dyad] if direction == ESCALATE else 0,
        option.severity,
        expected_cost(world, lever, now) if cost is None else cost,
        risk,
        offense,
        grievance[target],
        _relief(world, lever, target) if direction == DEESCALATE else 0.0,
        tension[option.dyad],
        stakes[target],
        need,
        value=lever.value,
    )


def expected_cost(world: World, lever: LeverSpec, now: float) -> float:
    """Upfront cost plus the running cost over the planning horizon (or the duration)."""
    if lever.cost_per_day == 0.0:
        return lever.cost_upfront
    days = min(lever.duration, PLANNING_DAYS, max(0.0, world.spec.days - now))
    return lever.cost_upfront + lever.cost_per_day * days


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
