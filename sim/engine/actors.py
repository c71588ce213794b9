"""Actors as simpy processes: they perceive, wait, reassess and choose through a policy.

An actor reviews its position at random times (a Poisson schedule with its review
interval as mean) and whenever it perceives a hostile move or an exogenous event prompts
it. Each decision takes a response delay (the time a government needs to agree on a
reply) and, once a lever is chosen, the lever's own decision lag before announcement.

A decision takes one of two paths. An actor whose policy has a compiled kernel (the
built-in logit, :meth:`~sim.engine.policy.Policy.kernel`) decides in one kernel call: its
open options, their features, the rule's draws, the lags and the moves played at once.
Any other policy -- a rule written in Python, the classical rules, a script, a subclass
that changes how the logit decides -- sees a :class:`DecisionContext` of
:class:`Candidate` objects as before, built from the features the kernels compute, and
draws from a numpy Generator that continues the actor's stream: the same numbers either
way.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy
from simpy.events import Timeout

from sim.engine import kernels as K
from sim.engine.policy import Candidate, DecisionContext, Perceived
from sim.engine.world import DECIDERS, NO_LEVERS

if TYPE_CHECKING:
    from sim.engine.policy import Policy
    from sim.engine.spec import ActorSpec
    from sim.engine.world import World

PLANNING_DAYS = K.PLANNING_DAYS  # how far ahead an actor counts the running cost of a measure

#: A question an exogenous event asks: (levers, target, defer, asking event).
Prompt = tuple[tuple[int, ...], int, float, str]


class ActorProcess:
    """The simpy process of one actor.

    ``rng`` (a numpy Generator) replaces the actor's stream, for tests that build an actor
    by hand; in a run the stream is seeded with the others.
    """

    def __init__(
        self, world: World, spec: ActorSpec, rng: np.random.Generator | None = None
    ) -> None:
        self.world = world
        self.spec = spec
        self.index = spec.index
        self.row = 1 + spec.index  # the actor's stream
        if rng is not None:
            world.set_stream(self.row, rng)
        kernel = world.compiled.kernels[spec.index]
        self.decider = getattr(world.k, DECIDERS[kernel]) if kernel else None
        self._policy: Policy[Any] | None = None
        self.inbox: list[Perceived] = []
        self.prompts: list[Prompt] = []  # questions the next decisions answer
        self.waiting = False  # in the wait for the next review (and response, see run)
        self.review_due = math.inf  # when that wait's review is due, if one event covers both
        self.interrupted = False
        self.pending = False  # a reason to decide arrived while deciding
        self.process = world.env.process(self.run())
        if self.decider is None:
            for day in self.policy.wake_days():
                if 0 <= day <= world.spec.days:
                    world.after(day, self.wake)

    @property
    def policy(self) -> Policy:
        """The actor's policy object (made on first use: the fast path never needs it)."""
        if self._policy is None:
            spec = self.spec
            self._policy = spec.policy_cls(spec.policy_params, spec, self.world.spec.start)
        return self._policy

    def wake(self) -> None:
        """Ask the actor to decide soon (interrupting its wait for the next review)."""
        if not self.waiting or self.world.env.now >= self.review_due:
            self.pending = True
        elif not self.interrupted:
            self.interrupted = True  # one interrupt per wait: a decision is already coming
            self.process.interrupt()

    def hear(self, lever: int, target: int, hostility: float) -> None:
        """Take in a perceived move; a hostile one, or a concession to us, is a reason to decide."""
        world = self.world
        if self.decider is None:
            user = world.spec.levers[lever].actor
            rung = world.compiled.rungs[lever]
            self.inbox.append(Perceived(world.env.now, user, target, lever, rung, hostility))
        if hostility > 0 or (
            target == self.index and world.compiled.directions[lever] == K.DEESCALATE
        ):
            self.wake()

    @property
    def prompt(self) -> Prompt | None:
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
        """Review, decide, act; forever (the run's end stops it).

        The wait for a review and the response delay that follows it are one simpy event
        when nothing cuts the wait short: the delay is drawn with the wait (it is the next
        draw of the actor's stream either way) and the event is put at the time the two
        steps would reach, bit for bit. A reason to decide before the review interrupts
        the wait, as always; one after the review, during the response delay, makes the
        next decision pending, as it did when the review was an event of its own.
        """
        world = self.world
        env, k, st, a = world.env, world.k, world.st, self.index
        while True:
            if self.pending:
                self.pending = False
                yield Timeout(env, k.response_delay(st, a))
            else:
                wait = k.review_wait(st, a)
                delay = k.response_delay(st, a)
                now = env.now
                review = now + wait
                due = review + delay
                step = due - now
                merged = now + step == due  # else the two steps, as the times demand
                self.review_due = review if merged else math.inf
                self.waiting, self.interrupted = True, False
                try:
                    yield Timeout(env, step if merged else wait)
                    cut = False
                except simpy.Interrupt:
                    cut = True
                self.waiting, self.review_due = False, math.inf
                if cut or not merged:
                    self.pending = False
                    yield Timeout(env, delay)
            if self.decider is not None:
                self.decide_fast()
            else:
                for choice in self.decide():
                    self.prepare(choice)
                self._schedule_next()

    def _next_prompt(self) -> Prompt | None:
        """Take the question this decision answers off the list (another one makes it pending)."""
        prompt = self.prompt
        if prompt is not None:
            self.prompts.pop(0)
            if self.prompts:
                self.pending = True  # another question waits for its answer
        return prompt

    def _defer(self, prompt: Prompt) -> None:
        """Nothing was chosen for a prompt: ask again ``defer`` days later, if it says so."""
        levers, target, defer, event = prompt
        if math.isfinite(defer):
            world = self.world
            world.event_log.append((world.now, event, "deferred"))
            world.after(defer, lambda: self.ask(levers, target, defer, event))

    def decide_fast(self) -> None:
        """Decide in the policy's kernel: options, features, draws, lags and plays at once."""
        world = self.world
        prompt = self._next_prompt()
        now = float(world.env.now)
        assert self.decider is not None  # only an actor with a kernel decides here
        if prompt is None:
            n = self.decider(world.st, self.index, now, False, NO_LEVERS, -1)
        else:
            levers = world.compiled.prompt_levers(prompt[0])
            n = self.decider(world.st, self.index, now, True, levers, prompt[1])
        if n < 0:
            raise OverflowError("math range error")  # where the Python rule's math.exp raised
        if n:
            world.replay(n)
        if prompt is not None and not world.io[K.IO_CHOSEN]:
            self._defer(prompt)

    def prepare(self, choice: Candidate) -> None:
        """Enact a chosen move after its decision lag, while the actor goes on deciding.

        Governments work several tracks at once: while a ministry drafts a sanction the
        foreign ministry still answers the news, so a lag holds back this move only. The
        move is not offered again until it is enacted (or found no longer available).
        """
        world = self.world
        now = float(world.env.now)
        world.replay(
            world.k.prepare(world.st, choice.lever.index, choice.target, now, choice.amount)
        )

    def _schedule_next(self) -> None:
        """Let the policy ask for its next decision time (a round, a planned quit)."""
        now = self.world.env.now
        day = self.policy.next_wake(now)
        if day is not None and now <= day <= self.world.spec.days:
            self.world.after(day - now, self.wake)

    def decide(self) -> list[Candidate]:
        """Build the decision context and let the policy choose the moves to launch.

        An exogenous prompt asks for one answer among given levers; otherwise the policy
        may launch a package of moves at once. The policy draws from a numpy Generator
        that continues the actor's stream, and the stream goes on from where it left it.
        """
        ctx = self.context()
        self.inbox = []
        rng = self.world.generator(self.row)
        try:
            prompt = self._next_prompt()  # the one the context was built for, taken off the list
            if prompt is None:
                return self.policy.choose_moves(ctx, rng)
            choice = self.policy.choose(ctx, rng) if ctx.candidates else None
        finally:
            self.world.absorb(self.row, rng)
        if choice is None:
            self._defer(prompt)
        return [] if choice is None else [choice]

    def context(self) -> DecisionContext:
        """What the policy sees now."""
        world, a = self.world, self.index
        k, spec = world.k, world.spec
        prompt = self.prompt
        now = float(world.env.now)
        if prompt is None:
            n = k.gather(world.st, a, now, False, NO_LEVERS, -1)
        else:
            n = k.gather(world.st, a, now, True, world.compiled.prompt_levers(prompt[0]), prompt[1])
        levers = spec.levers
        candidates = [
            Candidate(
                levers[int(r[K.CD_LEVER])],
                int(r[K.CD_TARGET]),
                int(r[K.CD_DIR]),
                int(r[K.CD_RUNG]),
                int(r[K.CD_JUMP]),
                r[K.CD_SEVERITY],
                r[K.CD_COST],
                r[K.CD_RISK],
                r[K.CD_OFFENSE],
                r[K.CD_GRIEVANCE],
                r[K.CD_RELIEF],
                r[K.CD_TENSION],
                r[K.CD_STAKE],
                r[K.CD_NEED],
                value=r[K.CD_VALUE],
            )  # fmt: skip
            for r in world.cand[:n].tolist()
        ]
        ctx = world.ctx.tolist()
        dyad_rung = world.dyad_rung
        others = [b.index for b in spec.actors if b.index != a]
        grievance = ctx[2:]
        stocks = world.stock_values()
        return DecisionContext(
            now=world.env.now,
            actor=self.spec,
            resolve=ctx[0],
            risk_tolerance=ctx[1],
            candidates=candidates,
            inbox=self.inbox,
            prompted=prompt is not None,
            dyad_rung={b: dyad_rung[spec.dyad_of(a, b)] for b in others},
            grievance={b: grievance[b] for b in others},
            actor_ids=spec.actor_ids,
            actors=spec.actors,
            levers=spec.levers,
            stocks=stocks,
        )
