"""The world of one run: its state in compiled kernels, its events on the simpy clock.

The state (tension, grievance, domestic pressure, measures in force, rungs, costs, moves)
lives in arrays that :mod:`sim.engine.kernels` reads and changes; this class is the bridge
between those kernels and simpy. A kernel that plays a move or ends a measure cannot put
events on the clock, so it leaves commands, and :meth:`World.replay` turns them into simpy
events in the order the kernel left them: a perception after its delay, an expiry, a
prepared move's enactment, a word to an exposure watcher, the run's end.

Quantities that fade (tension, grievance, domestic pressure) decay exponentially towards a
floor and are stored with the time of their last change, so that reading one is O(1) and
nothing ticks daily. A dyad's rung is the highest rung of the hostile measures in force
between its two members, so it climbs when a move is announced and falls when measures
expire or are lifted. The properties at the end (``grievance``, ``in_force``, ...) show the
state as Python objects, for tests and for looking inside a run; they copy, and are slow.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from simpy.events import NORMAL, Timeout

from sim.engine import kernels as K
from sim.engine.record import MoveRecord, RunRecord, moves_from_rows
from sim.engine.spec import ConditionSpec, LeverSpec, RunSpec
from sim.engine.streams import entropy_prefix, from_numpy_state, stream, to_numpy_state
from sim.engine.tables import Compiled, compiled
from sim.errors import SimWarning

if TYPE_CHECKING:
    import simpy


class Hearer(Protocol):
    """What the world tells a perceived move to (an actor's process)."""

    def hear(self, lever: int, target: int, hostility: float) -> None:
        """Take in a perceived move."""


class Watcher(Protocol):
    """What the world tells when the measures of a dyad change (an event's process)."""

    def exposure_changed(self, count: float) -> None:
        """The exposure of the watched dyad is now ``count``."""


#: Each kernel Python calls, and its arguments' types: S the state, i int64, f float64,
#: b bool, I an int64 array, U a uint64 array. Compiled once per process for these types,
#: the kernels are then called through their entry points, which skip numba's dispatch
#: (about 0.1 us a call instead of 0.5-1 us).
SIGNATURES = {
    "reset": "SUU",
    "start": "S",
    "handles": "S",
    "play": "Siifif",
    "available": "Siif",
    "lift": "Siif",
    "event_move": "Siifi",
    "perceive": "Siiiff",
    "expire": "Sif",
    "prepare": "Siiff",
    "enact": "Siiff",
    "gather": "SifbIi",
    "decide_logit": "SifbIi",
    "review_wait": "Si",
    "response_delay": "Si",
    "draw_exponential": "Sif",
    "draw_delay": "Siifff",
    "tension_at": "Sif",
    "grievance_at": "Siif",
    "pressure_at": "Sif",
    "effective_resolve": "Sif",
    "shift_tension": "Siff",
    "condition_holds": "Sif",
    "exposure_count": "Sii",
    "change_attribute": "Siif",
    "set_stake": "Siif",
    "watch": "Si",
    "set_stopped": "S",
    "close": "Sf",
    "daily_rungs": "Sif",
    "moves": "S",
    "outcome_state": "S",
    "snapshot": "S",
}
#: The decision kernels of built-in policies, by :meth:`Policy.kernel` name.
DECIDERS = {"logit": "decide_logit"}
NO_LEVERS = np.zeros(0, dtype=np.int64)
PERCEIVE, EXPIRE, ENACT, WATCH = K.CMD_PERCEIVE, K.CMD_EXPIRE, K.CMD_ENACT, K.CMD_WATCH
_CALLS: SimpleNamespace | None = None


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) until the block ends, then deliver it.

    Loading kernels runs Python inside llvmlite's ctypes callbacks, where a
    KeyboardInterrupt is printed and dropped ("Exception ignored ...") rather than raised:
    a Ctrl-C in the first second of a run would be lost.
    """
    held = threading.current_thread() is threading.main_thread() and hasattr(
        signal, "pthread_sigmask"
    )
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


#: What a process says before it compiles the kernels that numba's cache does not hold.
COMPILING = (
    "compiling the engine's kernels for this machine, once: half a minute to two before the "
    "first run starts (numba caches them; later runs load them in seconds; a Ctrl-C "
    "takes effect when the compiling ends)"
)


def kernel_calls(state: Any) -> SimpleNamespace:
    """The kernels' entry points, compiled (or loaded from numba's cache) on first use.

    A process that must compile them first says so (:data:`COMPILING`, a
    :class:`~sim.errors.SimWarning`): nothing else happens for up to two minutes.
    """
    global _CALLS
    if _CALLS is None:
        if not kernels_cached():
            warnings.warn(COMPILING, SimWarning, stacklevel=2)
        with interrupts_held():
            _CALLS = _compile_calls(state)
    return _CALLS


def load_calls(spec: RunSpec) -> None:
    """Compile the kernels in this process, or load them from numba's cache, for ``spec``."""
    if _CALLS is None:
        table = compiled(spec)
        state, handles = table.acquire()
        kernel_calls(state)
        table.release(state, handles)


def kernels_cached() -> bool:
    """Whether this process holds the kernels or numba's cache holds them for this machine.

    True when it cannot tell. An index with no entry is what numba reads where nothing was
    compiled yet, or where the kernels' source changed since (numba's ``_load_index``); an
    index whose entries name another CPU (a cache shared over a network, an image built
    elsewhere) is a cache this machine cannot load. The attributes are numba's own, of the
    release pyproject.toml pins.
    """
    if _CALLS is not None:
        return True
    try:
        return all(_cached_here(getattr(K, name)) for name in SIGNATURES)
    except Exception:  # numba's internals moved, or an unreadable index: say nothing
        return True


def _cached_here(dispatcher: Any) -> bool:
    """Whether a kernel's cache index holds an entry compiled for this machine's CPU.

    numba keys each entry by (signature, the CPU's ``magic_tuple``, the code's hashes).
    """
    machine = dispatcher.targetctx.codegen().magic_tuple()
    return any(key[1] == machine for key in dispatcher._cache._cache_file._load_index())


def _compile_calls(state: Any) -> SimpleNamespace:
    """Compile (or load) each kernel of :data:`SIGNATURES` for the state's type."""
    import numba
    from numba import types

    codes = {
        "S": numba.typeof(state),
        "i": types.int64,
        "f": types.float64,
        "b": types.boolean,
        "I": types.Array(types.int64, 1, "C"),
        "U": types.Array(types.uint64, 1, "C"),
    }
    calls = SimpleNamespace()
    for name, signature in SIGNATURES.items():
        dispatcher = getattr(K, name)
        entry = dispatcher.compile(tuple(codes[c] for c in signature))
        setattr(calls, name, entry if callable(entry) else dispatcher)
    return calls


class Fading:
    """A non-negative quantity that decays exponentially at ``rate`` per day, towards a floor.

    One quantity on its own, computed by the kernels' own functions (``fading_*``), for
    tests and for reasoning about the arithmetic: the world keeps its quantities in arrays.
    Reading is pure: the value at ``now`` is computed from the last change, never stored;
    only the changes (add, saturate, scale, a new floor) move the reference point. The
    floor (0 unless set) is what a standing offence keeps it at: the value fades towards
    it, never below, and no change takes it below.
    """

    def __init__(self, value: float, rate: float) -> None:
        self._v, self._s, self._fl = np.array([value]), np.zeros(1), np.zeros(1)
        self.rate = rate

    @property
    def floor(self) -> float:
        """The level the quantity fades towards."""
        return float(self._fl[0])

    def _args(self) -> tuple:
        return self._v, self._s, self._fl, 0, self.rate

    def at(self, now: float) -> float:
        """The value at time ``now``."""
        return K.fading_at(*self._args(), float(now))

    def set_floor(self, now: float, floor: float) -> None:
        """Fade towards ``floor`` from now on (raising the value to it if it is below)."""
        K.fading_set_floor(*self._args(), float(now), float(floor))

    def add(self, now: float, amount: float, ceiling: float = math.inf) -> None:
        """Add ``amount`` (may be negative), keeping the value in [0, ceiling]."""
        K.fading_add(*self._args(), float(now), float(amount), float(ceiling))

    def shift(self, now: float, delta: float) -> None:
        """Raise a level in [0, 1] towards 1 by ``delta`` of the gap, or lower it by ``-delta``."""
        K.fading_shift(*self._args(), float(now), float(delta))

    def saturate(self, now: float, share: float) -> None:
        """Close ``share`` of the gap to 1 (a level in [0, 1] that each blow raises less)."""
        K.fading_saturate(*self._args(), float(now), float(share))

    def scale(self, now: float, factor: float) -> None:
        """Multiply the value by ``factor``."""
        K.fading_scale(*self._args(), float(now), float(factor))


class Call(Timeout):
    """A timeout whose one callback, ``fn(event)``, reads its ``args`` (a kernel's command)."""

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable, args: Any) -> None:
        # As Timeout.__init__, with the callback in place (this is made ~300 times a run).
        if delay < 0:
            raise ValueError(f"Negative delay {delay}")
        self.env = env
        self.callbacks = [fn]
        self._value = None
        self._delay = delay
        self._ok = True
        self.args = args
        env.schedule(self, NORMAL, delay)


@dataclass(frozen=True, slots=True)
class FadingView:
    """One fading quantity of a live world, read on demand: ``view.at(now)``."""

    world: World
    kind: str  # "tension", "grievance" or "pressure"
    i: int
    j: int = -1

    def at(self, now: float) -> float:
        """The value at ``now`` (pure: reading changes nothing)."""
        k, st = self.world.k, self.world.st
        if self.kind == "tension":
            return k.tension_at(st, self.i, float(now))
        if self.kind == "grievance":
            return k.grievance_at(st, self.i, self.j, float(now))
        return k.pressure_at(st, self.i, float(now))


@dataclass(frozen=True, slots=True)
class MeasureView:
    """A measure in force, as Python sees it (a copy)."""

    lever: LeverSpec
    target: int
    dyad: int
    onset: float
    end: float
    pain_rate: float
    cost_rate: float
    holds_rung: bool

    @property
    def actor(self) -> int:
        """The measure's user."""
        return self.lever.actor


class World:
    """The state of one run in compiled kernels, and its bridge to the simpy clock.

    ``rng`` (a numpy Generator) replaces the world's stream of perception delays, for tests
    that build a world by hand; :func:`sim.engine.simulate.simulate` seeds every stream
    from the run's seed instead.
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: RunSpec,
        rng: np.random.Generator | None = None,
        seed: np.random.SeedSequence | None = None,
    ) -> None:
        self.env = env
        self.spec = spec
        if _CALLS is None:
            with interrupts_held():  # the first world of a process loads the kernels
                self.compiled: Compiled = compiled(spec)
                self.st, handles = self.compiled.acquire()
        else:
            self.compiled = compiled(spec)
            self.st, handles = self.compiled.acquire()
        self.rs, self.cmd, self.cand, self.ctx, self.io, self.sf = handles
        self.k = k = kernel_calls(self.st)
        self._perceive, self._expire, self._enact = k.perceive, k.expire, k.enact
        self._seed(seed)
        if rng is not None:
            self.set_stream(0, rng)
        self.stop = env.event()
        self.event_log: list[tuple[float, str, str]] = []
        self.actors: Sequence[Hearer] | None = None  # who hears perceived moves
        self.watchers: dict[int, Watcher] = {}
        self.sources = self.compiled.sources  # copied before a new source is added
        self.stake_boosts: list[tuple[tuple[int, ...], float]] = []
        self.replay(k.start(self.st))  # measures in force on the start date

    def _seed(self, seed: np.random.SeedSequence | None) -> None:
        """Seed every stream from ``seed`` (numpy's seeding, in the kernel when it can)."""
        keys, k = self.compiled.keys, self.k
        prefix = entropy_prefix(seed) if seed is not None else None
        if prefix is not None:
            k.reset(self.st, prefix, keys)
            return
        k.reset(self.st, np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.uint64))
        self._seed_in_python(seed if seed is not None else np.random.SeedSequence(0))

    def _seed_in_python(self, seed: np.random.SeedSequence) -> None:
        """Seed every stream through numpy (a seed the kernels cannot seed from)."""
        for row, purpose in enumerate(self.compiled.purposes):
            self.set_stream(row, stream(seed, purpose))

    def reseed(self, seed: np.random.SeedSequence) -> None:
        """Continue every stream from the same-named stream of ``seed`` (a branch's child).

        The rest of the state is kept: see :mod:`sim.engine.branching`.
        """
        prefix = entropy_prefix(seed)
        if prefix is not None:
            K.seed_rows(self.rs, prefix, self.compiled.keys)
            return
        self._seed_in_python(seed)

    # --- streams ---------------------------------------------------------------------------

    def set_stream(self, row: int, rng: np.random.Generator) -> None:
        """Continue stream ``row`` from a numpy Generator's state."""
        from_numpy_state(self.rs[row], rng.bit_generator.state)

    def generator(self, row: int) -> np.random.Generator:
        """A numpy Generator at stream ``row``'s state (hand it back with :meth:`absorb`)."""
        gen = np.random.Generator(np.random.PCG64())
        gen.bit_generator.state = to_numpy_state(self.rs[row])
        return gen

    def absorb(self, row: int, gen: np.random.Generator) -> None:
        """Stream ``row`` continues where ``gen`` (from :meth:`generator`) left off."""
        self.set_stream(row, gen)

    def draw_delay(self, row: int, delay: Any) -> float:
        """A :class:`~sim.engine.spec.DelaySpec` drawn from stream ``row``."""
        return self.k.draw_delay(self.st, row, delay.kind, delay.a, delay.b, delay.cap)

    def draw_exponential(self, row: int, scale: float) -> float:
        """An exponential draw of mean ``scale`` from stream ``row``."""
        return self.k.draw_exponential(self.st, row, scale)

    # --- the clock ---------------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The current simulated day."""
        return self.env.now

    def after(self, delay: float, callback: Callable[[], None]) -> None:
        """Call ``callback`` after ``delay`` days of simulated time."""
        event = Timeout(self.env, delay)
        event.callbacks.append(lambda _event: callback())

    def replay(self, n: int) -> None:
        """Turn the ``n`` commands a kernel left into simpy events and calls, in order."""
        if not n:
            return
        env = self.env
        for kind, delay, a, b, c, x in self.cmd[:n].tolist():
            if kind == PERCEIVE:
                Call(env, delay, self._perceived, (int(a), int(b), int(c), x))
            elif kind == EXPIRE:
                Call(env, delay, self._expired, int(a))
            elif kind == ENACT:
                Call(env, delay, self._enacted, (int(a), int(b), x))
            elif kind == WATCH:
                self.watchers[int(a)].exposure_changed(x)
            else:
                self.stop.succeed()

    def _perceived(self, event: Call) -> None:
        lever, target, perceiver, hostility = event.args
        self._perceive(self.st, lever, target, perceiver, hostility, self.env.now)
        if self.actors is not None:
            self.actors[perceiver].hear(lever, target, hostility)

    def _expired(self, event: Call) -> None:
        n = self._expire(self.st, event.args, self.env.now)
        if n:
            self.replay(n)

    def _enacted(self, event: Call) -> None:
        lever, target, amount = event.args
        n = self._enact(self.st, lever, target, self.env.now, amount)
        if n:
            self.replay(n)

    def end_of_horizon(self) -> None:
        """The horizon is reached: stop the run unless it has stopped already."""
        if not self.stop.triggered:
            self.k.set_stopped(self.st)
            self.stop.succeed()

    # --- moves --------------------------------------------------------------------------------

    def source_code(self, source: str) -> int:
        """The number under which a move's source ("policy", "event:x", ...) is recorded."""
        try:
            return self.sources.index(source)
        except ValueError:
            self.sources = [*self.sources, source]  # the spec's list is shared by its runs
            return len(self.sources) - 1

    def available(self, lever: LeverSpec, target: int) -> bool:
        """Whether ``lever`` can be played on ``target`` now (limits and preconditions)."""
        return self.k.available(self.st, lever.index, target, float(self.env.now))

    def play(self, lever: LeverSpec, target: int, source: str, amount: float = 1.0) -> None:
        """Announce a move and apply its effects (``amount`` scales stock changes)."""
        code = self.source_code(source)
        self.replay(self.k.play(self.st, lever.index, target, float(self.env.now), code, amount))

    def lift(self, lever_index: int, target: int) -> None:
        """End an own measure before its time (a lift, an easing, a retraction)."""
        self.replay(self.k.lift(self.st, lever_index, target, float(self.env.now)))

    def event_move(self, lever: int, target: int, source: int) -> bool:
        """An event's move: renew it if in force, play it if available; whether it was."""
        n = self.k.event_move(self.st, lever, target, float(self.env.now), source)
        self.replay(n if n >= 0 else -1 - n)
        return n >= 0

    def close(self) -> None:
        """Charge the running costs of every measure still in force at the end."""
        self.k.close(self.st, float(self.env.now))

    # --- exogenous changes ---------------------------------------------------------------------

    def condition_holds(self, cond: ConditionSpec) -> bool:
        """Whether an event's condition holds now."""
        c = self.compiled.tables.conditions[cond]
        return self.k.condition_holds(self.st, c, float(self.env.now))

    def exposure_count(self, dyad: int, rung: int) -> float:
        """The hostile measures at or above ``rung`` in force in a dyad, by hazard weight."""
        return self.k.exposure_count(self.st, dyad, rung)

    def watch(self, watcher: int, process: Watcher) -> None:
        """Tell ``process`` whenever its dyad's measures change (watcher number ``watcher``)."""
        self.watchers[watcher] = process
        self.k.watch(self.st, watcher)

    def shift_tension(self, dyad: int, delta: float) -> None:
        """Shift a dyad's tension (an event's effect)."""
        self.k.shift_tension(self.st, dyad, float(self.env.now), delta)

    def change_attribute(self, which: int, actor: int, delta: float) -> None:
        """Change resolve (0), risk tolerance (1) or domestic pressure (2), within [0, 1]."""
        self.k.change_attribute(self.st, which, actor, delta)

    def boost_stakes(self, parties: tuple[int, ...], value: float, on: bool) -> None:
        """Raise (or, with ``on`` false, restore) the parties' stakes in calm with each other."""
        entry = (parties, value)
        if on:
            self.stake_boosts.append(entry)
        else:
            self.stake_boosts.remove(entry)
        for a in parties:
            for b in parties:
                if a != b:
                    boosts = self.stake_boosts
                    extra = sum(v for group, v in boosts if a in group and b in group)
                    base = self.spec.actors[a].stakes[b]
                    self.k.set_stake(self.st, a, b, min(1.0, base + extra))

    def hostility(self, lever: LeverSpec) -> float:
        """How hostile a move feels to its target (:func:`sim.engine.tables.move_hostility`)."""
        return float(self.compiled.tables.arrays["lv_f"][lever.index, K.LF_HOSTILITY])

    # --- the record ---------------------------------------------------------------------------

    def record(self) -> RunRecord:
        """The run's record (call :meth:`close` first)."""
        spec, k, st = self.spec, self.k, self.st
        dyad_rung, dyad_peak, first, costs, stocks, played = k.outcome_state(st)
        final = max(dyad_rung.tolist(), default=0)
        peak = int(self.io[K.IO_PEAK])
        lever_ids, lever_f = k.moves(st)
        return RunRecord(
            outcome=classify(
                spec, peak, final, dyad_peak, dyad_rung, set(np.flatnonzero(played).tolist())
            ),
            peak_rung=peak,
            peak_day=float(self.sf[K.SF_PEAK_DAY]),
            final_rung=final,
            end_day=self.env.now,
            ended_early=bool(self.io[K.IO_ENDED_EARLY]),
            costs=dict(zip(spec.actor_ids, costs.tolist(), strict=True)),
            moves=moves_from_rows(
                lever_ids.tolist(),
                lever_f.tolist(),
                self.compiled.tables.lever_rows,
                spec.actor_ids,
                self.sources,
            ),
            dyads=spec.dyad_ids,
            dyad_rungs=k.daily_rungs(st, spec.days, float(self.env.now)),
            first_day_at_rung=first,
            events_scheduled=getattr(self.env, "events_scheduled", 0),
            event_log=self.event_log,
            stocks=_stocks(spec, stocks.tolist()),
        )

    def release(self) -> None:
        """Give the run's state back for the next run (the world is unusable after this)."""
        self.compiled.release(self.st, (self.rs, self.cmd, self.cand, self.ctx, self.io, self.sf))

    # --- the state as Python objects (copies: for tests and for looking inside a run) ---------

    @property
    def dyad_rung(self) -> list[int]:
        """The current rung of each dyad."""
        return self.k.outcome_state(self.st)[0].tolist()

    def overall_rung(self) -> int:
        """The highest rung over all dyads."""
        return max(self.dyad_rung, default=0)

    def stock_values(self) -> tuple[tuple[float, ...], ...]:
        """Each actor's continuous stocks, in the order of its stock names."""
        values, out, i = self.k.outcome_state(self.st)[4].tolist(), [], 0
        for a in self.spec.actors:
            out.append(tuple(values[i : i + len(a.stock_names)]))
            i += len(a.stock_names)
        return tuple(out)

    @property
    def costs(self) -> list[float]:
        """Each actor's costs so far."""
        return self.k.outcome_state(self.st)[3].tolist()

    @property
    def tension(self) -> list[FadingView]:
        """Each dyad's tension."""
        return [FadingView(self, "tension", d) for d in range(len(self.spec.dyads))]

    @property
    def grievance(self) -> list[list[FadingView]]:
        """``grievance[holder][against]``."""
        n = len(self.spec.actors)
        return [[FadingView(self, "grievance", h, a) for a in range(n)] for h in range(n)]

    @property
    def pressure(self) -> list[FadingView]:
        """Each actor's domestic pressure."""
        return [FadingView(self, "pressure", a) for a in range(len(self.spec.actors))]

    def _snapshot(self) -> tuple:
        return self.k.snapshot(self.st)

    @property
    def stakes(self) -> list[list[float]]:
        """``stakes[a][b]``: the value ``a`` puts on calm with ``b`` (with events' boosts)."""
        n = len(self.spec.actors)
        return self._snapshot()[7].reshape(n, n).tolist()

    @property
    def resolve(self) -> list[float]:
        """Each actor's base resolve (events may change it)."""
        return self._snapshot()[8].tolist()

    @property
    def risk_tolerance(self) -> list[float]:
        """Each actor's risk tolerance."""
        return self._snapshot()[9].tolist()

    @property
    def domestic(self) -> list[float]:
        """Each actor's domestic-pressure attribute."""
        return self._snapshot()[10].tolist()

    @property
    def backing(self) -> list[float]:
        """Each alliance's public backing now."""
        return self._snapshot()[11].tolist()

    def _measure(self, m: int, m_i: np.ndarray, m_f: np.ndarray) -> MeasureView:
        return MeasureView(
            self.spec.levers[int(m_i[m, K.MI_LEVER])],
            int(m_i[m, K.MI_TARGET]),
            int(m_i[m, K.MI_DYAD]),
            float(m_f[m, K.MF_ONSET]),
            float(m_f[m, K.MF_END]),
            float(m_f[m, K.MF_PAIN]),
            float(m_f[m, K.MF_COST]),
            bool(m_i[m, K.MI_HOLDS]),
        )

    @property
    def in_force(self) -> dict[tuple[int, int], MeasureView]:
        """Measures in force by (lever, target), in the order they were imposed."""
        snap = self._snapshot()
        m_i, m_f, order, inf_m = snap[12], snap[13], snap[14], snap[15]
        n = len(self.spec.actors)
        return {
            (int(key) // n, int(key) % n): self._measure(int(inf_m[key]), m_i, m_f) for key in order
        }

    @property
    def measures(self) -> list[list[MeasureView]]:
        """The hostile measures that hold each dyad's rung, in the order they were imposed."""
        snap = self._snapshot()
        m_i, m_f, dm, dm_n = snap[12], snap[13], snap[16], snap[17]
        return [
            [self._measure(int(m), m_i, m_f) for m in dm[d, : dm_n[d]]] for d in range(len(dm_n))
        ]

    @property
    def rung_log(self) -> list[list[tuple[float, int]]]:
        """Each dyad's rung changes as (day, rung), starting with (0.0, 0)."""
        snap = self._snapshot()
        rl_i, rl_t = snap[18], snap[19]
        out: list[list[tuple[float, int]]] = [[] for _ in self.spec.dyads]
        for (d, rung), day in zip(rl_i.tolist(), rl_t.tolist(), strict=True):
            out[d].append((day, rung))
        return out

    @property
    def moves(self) -> list[MoveRecord]:
        """The moves so far."""
        lever_ids, lever_f = self.k.moves(self.st)
        rows = self.compiled.tables.lever_rows
        return moves_from_rows(
            lever_ids.tolist(), lever_f.tolist(), rows, self.spec.actor_ids, self.sources
        )


def classify(
    spec: RunSpec,
    peak: int,
    final: int,
    dyad_peak: np.ndarray,
    dyad_rung: np.ndarray,
    played: set[int],
) -> str:
    """The id of the first outcome class whose bounds hold for the run."""
    for outcome in spec.outcomes:
        if outcome.dyad < 0:
            high, last = peak, final
        else:
            high, last = int(dyad_peak[outcome.dyad]), int(dyad_rung[outcome.dyad])
        if outcome.matches(high, last, played):
            return outcome.id
    raise AssertionError("the scenario's last outcome class catches every run")


def _stocks(spec: RunSpec, values: list[float]) -> dict[str, dict[str, float]]:
    out, i = {}, 0
    for a in spec.actors:
        if a.stock_names:
            out[a.id] = dict(zip(a.stock_names, values[i : i + len(a.stock_names)], strict=True))
        i += len(a.stock_names)
    return out
