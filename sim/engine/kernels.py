"""The engine's compiled kernels: the world's state as arrays and the rules that change it.

simpy stays the clock: actors and exogenous events are simpy processes, and every move,
perception, expiry and prepared move is a simpy event, exactly as before. What an event
*does* happens here, in numba-compiled functions over a :class:`StateRef` (a numba
structref holding the spec's arrays, :class:`TablesRef`, and the run's state): a decision
(the open options, their features, the logit's two-stage draw), a play (costs, measures in
force, rungs, tension, who perceives it and when), a perception, an expiry. A kernel
cannot schedule simpy events, so it leaves *commands* in ``cmd`` -- perceive this move
after that delay, expire this measure, enact this prepared move, tell an exposure watcher,
stop the run -- in the order the engine used to schedule them, and
:class:`sim.engine.world.World` turns them into simpy events in that order. Same events,
same order, same floats: the kernels are ports, operation for operation, of the Python
engine they replace (commit c82909b when written; b9fdcdc when merged, after the scenarios
changed), and the golden summaries did not move.

Everything numba compiles lives in this one module on purpose: numba's on-disk cache
checks only the file a function is defined in, so a kernel in another file could load
stale copies of the functions it calls from here. The column numbers of the arrays are
constants here for the same reason (numba freezes globals at compile time); the builder
of the arrays, :mod:`sim.engine.tables`, imports them.

Random numbers are numpy's: a named stream is a row of ``rs`` holding a PCG64 state, the
draws are numpy's algorithms (PCG64's ``next_double``, and numba's translations of numpy's
ziggurats for normal and exponential draws), and a row is seeded as numpy seeds
``PCG64(SeedSequence(...))``. ``tests/test_rng.py`` checks them against numpy draw for
draw. numba can take numpy Generators into compiled code and draws the same numbers, but
unboxing one costs about 6 us a call, and a state holding them would change its compiled
type with the number of streams.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np
from numba.core import types
from numba.core.extending import overload
from numba.experimental import structref

# numba imports these (and, through linalg, scipy.linalg) the first time it loads a kernel
# from its cache. Importing them with the engine keeps that import out of a running ensemble:
# scipy's import runs ``exec``, and a Ctrl-C landing inside an ``exec`` sets CPython's
# "unhandled KeyboardInterrupt" flag, so the process died by SIGINT (exit -2, not 130) after
# sim had handled the interrupt and saved its runs (tests/test_resume.py caught it).
from numba.np import arraymath, arrayobj, linalg  # noqa: F401
from numba.np.random import distributions as _dist
from numba.np.random import generator_core as _core

from sim.engine import spec as _spec

# --- constants (numba freezes them; see the module docstring) ---------------------------------

ESCALATE, DEESCALATE, SUPPORT = 0, 1, 2
FIXED, LOGNORMAL, UNIFORM, EXPONENTIAL = 0, 1, 2, 3
assert (ESCALATE, DEESCALATE, SUPPORT) == (_spec.ESCALATE, _spec.DEESCALATE, _spec.SUPPORT)
assert (FIXED, LOGNORMAL, UNIFORM, EXPONENTIAL) == (
    _spec.FIXED,
    _spec.LOGNORMAL,
    _spec.UNIFORM,
    _spec.EXPONENTIAL,
)
PLANNING_DAYS = 60.0  # how far ahead an actor counts the running cost of a measure
POLICY_PARAMS = 16  # room for a fast policy's parameters, per actor
SOURCE_POLICY = 0  # the move source code of a policy's moves

# world: w_i, w_f
(WI_ACTORS, WI_LEVERS, WI_DYADS, WI_ALLIANCES, WI_RUNGS, WI_TOP, WI_DAYS, WI_PERC_KIND,
 WI_ENDERS, WI_STREAMS, WI_CMD_CAP, WI_CAND_CAP, WI_WATCHERS, NWI) = range(14)  # fmt: skip
(WF_TENSION_DECAY, WF_GRIEVANCE_DECAY, WF_PRESSURE_DECAY, WF_SATISFACTION, WF_PERC_A,
 WF_PERC_B, WF_PERC_CAP, NWF) = range(8)  # fmt: skip
# levers: lv_i, lv_f
(LI_ACTOR, LI_DIR, LI_RUNG, LI_BACKING, LI_MAX_USES, LI_REQ_RUNG, LI_REQ_THEIR, LI_TIGHTENS,
 LI_WHOLE, LI_DEC_KIND, LI_LIFTS, LI_LIFTS_END, LI_UNUSED, LI_UNUSED_END, LI_USED,
 LI_USED_END, LI_AFTER, LI_AFTER_END, LI_RECIP, LI_RECIP_END, LI_STOCKD, LI_STOCKD_END,
 LI_CHECK, NLI) = range(24)  # fmt: skip
# how the decision loop checks a lever's availability (most need no full check)
CHECK_ALWAYS, CHECK_UNLESS_IN_FORCE, CHECK_COOLDOWN, CHECK_FULL = range(4)
(LF_MAGNITUDE, LF_RISK, LF_COST_UP, LF_COST_DAY, LF_ECONOMIC, LF_POLITICAL, LF_TENSION,
 LF_RELIEF, LF_BACKING_LEVEL, LF_ONSET, LF_DURATION, LF_STOCK, LF_COOLDOWN, LF_POTENCY_DECAY,
 LF_REQ_TENSION, LF_AFTER_DAYS, LF_AUDIENCE, LF_STANDING, LF_VALUE, LF_HAZARD, LF_HOSTILITY,
 LF_DEC_A, LF_DEC_B, LF_DEC_CAP, NLF) = range(25)  # fmt: skip
# options, a lever on a target (lever * n_actors + target): op_i, op_f
(OI_LEVER, OI_TARGET, OI_DYAD, OI_VALID, OI_FIXED, OI_OFFENDS, OI_OFFENDS_END, OI_PATRONS,
 OI_PATRONS_END, OI_DETER, OI_DETER_END, OI_RIVALS, OI_RIVALS_END, OI_HEARD, OI_HEARD_END,
 NOI) = range(16)  # fmt: skip
OF_SEVERITY, OF_RISK, OF_COMMITMENT, NOF = range(4)
# actors: ac_i, ac_f
(AI_RESP_KIND, AI_OPTIONS, AI_OPTIONS_END, AI_BOOSTS, AI_BOOSTS_END, AI_STOCKS, AI_STOCKS_END,
 NAI) = range(8)  # fmt: skip
(AF_RESOLVE, AF_RISK_TOLERANCE, AF_DOMESTIC, AF_REVIEW, AF_RESP_A, AF_RESP_B, AF_RESP_CAP,
 NAF) = range(8)  # fmt: skip
# alliances: al_i, al_f
ALI_PATRON, ALI_PROTEGE, NALI = range(3)
ALF_COMMITMENT, ALF_BACKING, ALF_OFFENSE_SHARE, NALF = range(4)
# absorbing outcomes (en_i), event conditions (cd_i, cd_f), exposure watchers (wt_i)
EI_DYAD, EI_PEAK_LO, EI_PEAK_HI, EI_FINAL_LO, EI_FINAL_HI, EI_MOVES, EI_MOVES_END, NEI = range(8)
CI_DYAD, CI_RUNG, CI_MOVES, CI_MOVES_END, NCI = range(5)
CF_TENSION, CF_WITHIN, NCF = range(3)
WT_DYAD, WT_RUNG, NWT = range(3)
# the logit's parameters in policy_f (sim.policies.logit.LogitPolicy.fast_params)
(P_RATIONALITY, P_ACTION_COST, P_GRIEVANCE, P_COST, P_RISK, P_OFFENSE, P_JUMP, P_CALM,
 P_RELIEF, P_FACE, P_SUPPORT, P_PACKAGE, NP) = range(13)  # fmt: skip

# the run's state: measures (m_i, m_f), counters (io), scalars (sf), candidates (cand)
MI_LEVER, MI_TARGET, MI_DYAD, MI_ENDED, MI_HOLDS, NMI = range(6)
MF_ONSET, MF_END, MF_PAIN, MF_COST, NMF = range(5)
(IO_NCMD, IO_NMEASURES, IO_NINF, IO_NRL, IO_NMV, IO_PEAK, IO_STOPPED, IO_ENDED_EARLY,
 IO_CHOSEN, NIO) = range(10)  # fmt: skip
SF_PEAK_DAY, SF_RESOLVE, SF_RISK_TOLERANCE, NSF = range(4)
(CD_LEVER, CD_TARGET, CD_DIR, CD_RUNG, CD_JUMP, CD_SEVERITY, CD_COST, CD_RISK, CD_OFFENSE,
 CD_GRIEVANCE, CD_RELIEF, CD_TENSION, CD_STAKE, CD_NEED, CD_VALUE, NCD) = range(16)  # fmt: skip
# commands: (kind, delay, a, b, c, x)
C_KIND, C_DELAY, C_A, C_B, C_C, C_X, NC = range(7)
CMD_PERCEIVE, CMD_EXPIRE, CMD_ENACT, CMD_WATCH, CMD_STOP = 1, 2, 3, 4, 5
OVERFLOW = -1  # a decision kernel's answer when math.exp overflowed, as Python's raised

# --- random streams: numpy's PCG64 and SeedSequence ------------------------------------------

U64 = np.uint64
_M32 = U64(0xFFFFFFFF)
_MULT_HI = U64(2549297995355413924)  # PCG_DEFAULT_MULTIPLIER_128, high and low words
_MULT_LO = U64(4865540595714422341)
_S1, _S11, _S16, _S32, _S58, _S63 = U64(1), U64(11), U64(16), U64(32), U64(58), U64(63)
_ZERO, _ONE = U64(0), U64(1)
_INIT_A, _MULT_A = U64(0x43B0D7E5), U64(0x931E8875)  # numpy's SeedSequence constants
_INIT_B, _MULT_B = U64(0x8B51F9DD), U64(0x58F38DED)
_MIX_L, _MIX_R = U64(0xCA01F9DD), U64(0x4973F715)
POOL = 4
S_HI, S_LO, I_HI, I_LO, HAS32, UINT32, NS = range(7)  # a stream row


@nb.njit(cache=True)
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    a_lo, a_hi = a & _M32, a >> _S32
    b_lo, b_hi = b & _M32, b >> _S32
    p0, p1, p2, p3 = a_lo * b_lo, a_lo * b_hi, a_hi * b_lo, a_hi * b_hi
    mid = (p0 >> _S32) + (p1 & _M32) + (p2 & _M32)
    return p3 + (p1 >> _S32) + (p2 >> _S32) + (mid >> _S32)


@nb.njit(cache=True)
def _step(rs, row):
    """One LCG step: state = state * multiplier + increment (mod 2**128)."""
    hi, lo = rs[row, S_HI], rs[row, S_LO]
    new_lo = lo * _MULT_LO
    new_hi = _mulhi(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
    out_lo = new_lo + rs[row, I_LO]
    carry = _ONE if out_lo < new_lo else _ZERO
    rs[row, S_LO] = out_lo
    rs[row, S_HI] = new_hi + rs[row, I_HI] + carry


@nb.njit(cache=True)
def next64(rs, row):
    """PCG64's next 64-bit output: the XSL-RR of the stepped state."""
    _step(rs, row)
    hi, lo = rs[row, S_HI], rs[row, S_LO]
    x = hi ^ lo
    rot = hi >> _S58
    return (x >> rot) | (x << ((U64(64) - rot) & _S63))


@nb.njit(cache=True)
def random(rs, row):
    """``Generator.random()``: a double in [0, 1) from the top 53 bits."""
    return np.float64(next64(rs, row) >> _S11) * (1.0 / 9007199254740992.0)


def _is_stream(bitgen: types.Type) -> bool:
    """Whether a numba type is the ``(rs, row)`` pair the stubs below are overloaded for."""
    return (
        isinstance(bitgen, types.BaseTuple)
        and len(bitgen) == 2
        and isinstance(bitgen[0], types.Array)
        and bitgen[0].dtype == types.uint64
    )


@overload(_core.next_uint64)
def _next_uint64(bitgen):
    if _is_stream(bitgen):
        return lambda bitgen: next64(bitgen[0], bitgen[1])
    return None


@overload(_core.next_double)
def _next_double(bitgen):
    if _is_stream(bitgen):
        return lambda bitgen: random(bitgen[0], bitgen[1])
    return None


@nb.njit(cache=True)
def standard_normal(rs, row):
    """``Generator.standard_normal()`` (numpy's 256-step ziggurat, as numba translates it)."""
    return _dist.random_standard_normal((rs, row))


@nb.njit(cache=True)
def exponential(rs, row, scale):
    """``Generator.exponential(scale)``: ``scale`` times a standard exponential (ziggurat)."""
    return scale * _dist.random_standard_exponential((rs, row))


@nb.njit(cache=True)
def pymin(a, b):
    """Python's ``min(a, b)``: ``b`` only if it is smaller (ties keep ``a``)."""
    return b if b < a else a


@nb.njit(cache=True)
def pymax(a, b):
    """Python's ``max(a, b)``: ``b`` only if it is larger (ties keep ``a``)."""
    return b if b > a else a


@nb.njit(cache=True)
def sample_delay(rs, row, kind, a, b, cap):
    """A delay drawn as :meth:`sim.engine.spec.DelaySpec.sample` draws it (same draws)."""
    if kind == FIXED:
        return a
    if kind == LOGNORMAL:
        value = a * math.exp(b * standard_normal(rs, row)) if a > 0 else 0.0
    elif kind == UNIFORM:
        value = a + (b - a) * random(rs, row)
    else:
        value = exponential(rs, row, a) if a > 0 else 0.0
    return pymin(value, cap)


@nb.njit(cache=True)
def _hashmix(value, hash_const):
    """Numpy's ``hashmix``: the mixed value and the next hash constant."""
    value = (value ^ hash_const) & _M32
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _S16), hash_const


@nb.njit(cache=True)
def _mix(x, y):
    result = ((_MIX_L * x) - (_MIX_R * y)) & _M32
    return result ^ (result >> _S16)


@nb.njit(cache=True)
def _pool(entropy):
    """``SeedSequence.mix_entropy``: assembled entropy words into a pool of 4 words."""
    pool = np.zeros(POOL, dtype=np.uint64)
    hash_const = _INIT_A
    for i in range(POOL):
        word = entropy[i] if i < len(entropy) else _ZERO
        pool[i], hash_const = _hashmix(word, hash_const)
    for i_src in range(POOL):
        for i_dst in range(POOL):
            if i_src != i_dst:
                mixed, hash_const = _hashmix(pool[i_src], hash_const)
                pool[i_dst] = _mix(pool[i_dst], mixed)
    for i_src in range(POOL, len(entropy)):
        for i_dst in range(POOL):
            mixed, hash_const = _hashmix(entropy[i_src], hash_const)
            pool[i_dst] = _mix(pool[i_dst], mixed)
    return pool


@nb.njit(cache=True)
def _generate_state(pool):
    """``SeedSequence.generate_state(4, np.uint64)``: 8 words, paired little-endian."""
    hash_const = _INIT_B
    words = np.zeros(8, dtype=np.uint64)
    for i in range(8):
        value = (pool[i % POOL] ^ hash_const) & _M32
        hash_const = (hash_const * _MULT_B) & _M32
        value = (value * hash_const) & _M32
        words[i] = value ^ (value >> _S16)
    out = np.zeros(4, dtype=np.uint64)
    for k in range(4):
        out[k] = words[2 * k] | (words[2 * k + 1] << _S32)
    return out


@nb.njit(cache=True)
def _set_seed(rs, row, seed):
    """PCG64's ``pcg64_set_seed``: state 0, increment 2 * seq + 1, step, add, step."""
    rs[row, S_HI], rs[row, S_LO] = _ZERO, _ZERO
    rs[row, I_HI] = (seed[2] << _S1) | (seed[3] >> _S63)
    rs[row, I_LO] = (seed[3] << _S1) | _ONE
    _step(rs, row)
    lo = rs[row, S_LO] + seed[1]
    carry = _ONE if lo < seed[1] else _ZERO
    rs[row, S_LO] = lo
    rs[row, S_HI] = rs[row, S_HI] + seed[0] + carry
    _step(rs, row)
    rs[row, HAS32], rs[row, UINT32] = _ZERO, _ZERO


@nb.njit(cache=True)
def seed_rows(rs, prefix, keys):
    """Seed row ``r`` as ``PCG64(SeedSequence(entropy, spawn_key=(*spawn, keys[r])))``.

    ``prefix`` holds the assembled entropy words of the run's seed
    (:func:`sim.engine.streams.entropy_prefix`); each stream appends its own key word.
    """
    entropy = np.empty(len(prefix) + 1, dtype=np.uint64)
    entropy[: len(prefix)] = prefix
    for r in range(len(keys)):
        entropy[len(prefix)] = keys[r]
        _set_seed(rs, r, _generate_state(_pool(entropy)))


# --- the compiled types ---------------------------------------------------------------------

TABLE_FIELDS = (
    "w_i", "w_f", "dyad_of", "dyad_ab", "init_tension", "init_grievance", "init_measures",
    "stakes0", "lv_i", "lv_f", "pain_share", "op_i", "op_f", "ac_i", "ac_f", "stocks0", "al_i",
    "al_f", "en_i", "cd_i", "cd_f", "wt_i", "fast", "policy_f", "ragged_i", "ragged_f",
)  # fmt: skip
STATE_FIELDS = (
    "t", "rs", "ten_v", "ten_s", "ten_fl", "gr_v", "gr_s", "gr_fl", "pr_v", "pr_s", "pr_fl",
    "stakes", "resolve", "risk_tolerance", "domestic", "backing", "uses", "stock", "potency",
    "last_used", "played", "costs", "stocks", "prep", "m_i", "m_f", "inf_m", "inf_order", "dm",
    "dm_n", "dyad_rung", "dyad_peak", "first_at", "rl_i", "rl_t", "mv_i", "mv_f", "cmd", "cand",
    "cand_o", "util", "weights", "picks", "ctx", "gr_now", "ten_now", "heard_k", "heard_w",
    "io", "sf", "watch_on",
)  # fmt: skip


@structref.register
class TablesType(types.StructRef):
    """The numba type of a spec's arrays."""

    def preprocess_fields(self, fields):  # noqa: D102
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


@structref.register
class StateType(types.StructRef):
    """The numba type of a run's state."""

    def preprocess_fields(self, fields):  # noqa: D102
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class TablesRef(structref.StructRefProxy):
    """A spec's arrays as kernels read them (built by :func:`sim.engine.tables.compiled`)."""


class StateRef(structref.StructRefProxy):
    """A run's state (reset and reused from one run to the next)."""


structref.define_proxy(TablesRef, TablesType, list(TABLE_FIELDS))
structref.define_proxy(StateRef, StateType, list(STATE_FIELDS))


@nb.njit(cache=True)
def make_tables(
    w_i, w_f, dyad_of, dyad_ab, init_tension, init_grievance, init_measures, stakes0, lv_i,
    lv_f, pain_share, op_i, op_f, ac_i, ac_f, stocks0, al_i, al_f, en_i, cd_i, cd_f, wt_i,
    fast, policy_f, ragged_i, ragged_f,
):  # fmt: skip
    """The spec's arrays as one compiled object (arguments in :data:`TABLE_FIELDS` order)."""
    return TablesRef(
        w_i, w_f, dyad_of, dyad_ab, init_tension, init_grievance, init_measures, stakes0, lv_i,
        lv_f, pain_share, op_i, op_f, ac_i, ac_f, stocks0, al_i, al_f, en_i, cd_i, cd_f, wt_i,
        fast, policy_f, ragged_i, ragged_f,
    )  # fmt: skip


@nb.njit(cache=True)
def new_state(t):
    """A run's state for the spec ``t``, allocated once and reset before each run."""
    w = t.w_i
    n, levers, dyads = w[WI_ACTORS], w[WI_LEVERS], w[WI_DYADS]
    f64, i64, b = np.float64, np.int64, np.bool_
    return StateRef(
        t,
        np.zeros((w[WI_STREAMS], NS), dtype=np.uint64),
        np.zeros(dyads, f64), np.zeros(dyads, f64), np.zeros(dyads, f64),
        np.zeros(n * n, f64), np.zeros(n * n, f64), np.zeros(n * n, f64),
        np.zeros(n, f64), np.zeros(n, f64), np.zeros(n, f64),
        np.zeros(n * n, f64), np.zeros(n, f64), np.zeros(n, f64), np.zeros(n, f64),
        np.zeros(w[WI_ALLIANCES], f64),
        np.zeros(levers, i64), np.zeros(levers, f64), np.zeros(levers, f64),
        np.zeros(levers, f64), np.zeros(levers, b),
        np.zeros(n, f64), np.zeros(len(t.stocks0), f64),
        np.zeros(levers * (n + 1), b),
        np.zeros((64, NMI), i64), np.zeros((64, NMF), f64),
        np.full(levers * n, -1, i64), np.zeros(levers * n, i64),
        np.zeros((dyads, max(8, levers)), i64), np.zeros(dyads, i64),
        np.zeros(dyads, i64), np.zeros(dyads, i64), np.zeros(w[WI_RUNGS], f64),
        np.zeros((256, 2), i64), np.zeros(256, f64),
        np.zeros((256, 3), i64), np.zeros((256, 2), f64),
        np.zeros((w[WI_CMD_CAP], NC), f64),
        np.zeros((w[WI_CAND_CAP], NCD), f64), np.zeros(w[WI_CAND_CAP], i64),
        np.zeros(w[WI_CAND_CAP], f64), np.zeros(w[WI_CAND_CAP], f64),
        np.zeros(w[WI_CAND_CAP], i64),
        np.zeros(2 + n, f64), np.zeros(n, f64), np.zeros(dyads, f64),
        np.zeros(n + w[WI_ALLIANCES] + 1, i64), np.zeros(n + w[WI_ALLIANCES] + 1, f64),
        np.zeros(NIO, i64), np.zeros(NSF, f64), np.zeros(w[WI_WATCHERS], b),
    )  # fmt: skip


@nb.njit(cache=True)
def reset(st, prefix, keys):
    """Make ``st`` the state at day 0 of a run seeded by ``prefix`` (None: keep ``rs``).

    Initial measures are imposed by :func:`start`, which leaves commands.
    """
    t = st.t
    n = t.w_i[WI_ACTORS]
    if len(keys) > 0:
        seed_rows(st.rs, prefix, keys)
    st.ten_v[:] = t.init_tension
    st.ten_s[:] = 0.0
    st.ten_fl[:] = 0.0
    st.gr_v[:] = t.init_grievance
    st.gr_s[:] = 0.0
    st.gr_fl[:] = 0.0
    st.pr_v[:] = 0.0
    st.pr_s[:] = 0.0
    st.pr_fl[:] = 0.0
    st.stakes[:] = t.stakes0
    for a in range(n):
        st.resolve[a] = t.ac_f[a, AF_RESOLVE]
        st.risk_tolerance[a] = t.ac_f[a, AF_RISK_TOLERANCE]
        st.domestic[a] = t.ac_f[a, AF_DOMESTIC]
    for k in range(len(st.backing)):
        st.backing[k] = t.al_f[k, ALF_BACKING]
    st.uses[:] = 0
    st.stock[:] = t.lv_f[:, LF_STOCK]
    st.potency[:] = 1.0
    st.last_used[:] = -np.inf
    st.played[:] = False
    st.costs[:] = 0.0
    st.stocks[:] = t.stocks0
    st.prep[:] = False
    st.inf_m[:] = -1
    st.dm_n[:] = 0
    st.dyad_rung[:] = 0
    st.dyad_peak[:] = 0
    st.first_at[:] = np.nan
    st.first_at[0] = 0.0
    st.io[:] = 0
    st.sf[:] = 0.0
    st.watch_on[:] = False
    for d in range(len(st.dyad_rung)):  # every dyad's rung log starts at (0.0, 0)
        _log_rung(st, d, 0.0, 0)


@nb.njit(cache=True)
def start(st):
    """Impose the measures in force on the start date (at day 0); returns the commands left."""
    t = st.t
    st.io[IO_NCMD] = 0
    for j in range(len(t.init_measures)):
        lever, target, holds = t.init_measures[j, 0], t.init_measures[j, 1], t.init_measures[j, 2]
        dyad = t.dyad_of[t.lv_i[lever, LI_ACTOR], target]
        _impose(st, 0.0, lever, target, dyad, holds != 0)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def handles(st):
    """The arrays Python reads and writes in place (never reallocated)."""
    return st.rs, st.cmd, st.cand, st.ctx, st.io, st.sf


# --- growing arrays -------------------------------------------------------------------------


@nb.njit(cache=True)
def _grown(a):
    out = np.zeros((2 * a.shape[0],) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out


@nb.njit(cache=True)
def _grown_cols(a):
    out = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


@nb.njit(cache=True)
def _command(st, kind, delay, a, b, c, x):
    k = st.io[IO_NCMD]
    if k >= len(st.cmd):
        raise RuntimeError("too many commands for one kernel call (engine bug)")
    row = st.cmd[k]
    row[C_KIND], row[C_DELAY], row[C_A], row[C_B], row[C_C], row[C_X] = kind, delay, a, b, c, x
    st.io[IO_NCMD] = k + 1


@nb.njit(cache=True)
def _log_rung(st, dyad, now, rung):
    k = st.io[IO_NRL]
    if k >= len(st.rl_t):
        st.rl_i = _grown(st.rl_i)
        st.rl_t = _grown(st.rl_t)
    st.rl_i[k, 0], st.rl_i[k, 1], st.rl_t[k] = dyad, rung, now
    st.io[IO_NRL] = k + 1


# --- fading quantities: value at a time, fading towards a floor ------------------------------


@nb.njit(cache=True)
def fading_at(v, s, fl, i, rate, now):
    """The value at ``now`` of quantity ``i`` (``v`` at time ``s``, fading to ``fl``).

    Reading is pure: nothing is stored, so reads cannot change the floats of a run.
    """
    if now == s[i]:
        return v[i]
    floor = fl[i]
    return floor + (v[i] - floor) * math.exp(-rate * (now - s[i]))


@nb.njit(cache=True)
def _fset(v, s, fl, i, now, value):
    v[i] = pymax(value, fl[i])
    s[i] = now


@nb.njit(cache=True)
def fading_saturate(v, s, fl, i, rate, now, share):
    """Close ``share`` of the gap to 1 (a level in [0, 1] that each blow raises less)."""
    at = fading_at(v, s, fl, i, rate, now)
    _fset(v, s, fl, i, now, 1.0 - (1.0 - at) * (1.0 - pymin(1.0, pymax(0.0, share))))


@nb.njit(cache=True)
def fading_add(v, s, fl, i, rate, now, amount, ceiling):
    """Add ``amount`` (may be negative), keeping the value in [0, ceiling]."""
    at = fading_at(v, s, fl, i, rate, now)
    _fset(v, s, fl, i, now, pymin(ceiling, pymax(0.0, at + amount)))


@nb.njit(cache=True)
def fading_scale(v, s, fl, i, rate, now, factor):
    """Multiply the value by ``factor``."""
    _fset(v, s, fl, i, now, fading_at(v, s, fl, i, rate, now) * factor)


@nb.njit(cache=True)
def fading_shift(v, s, fl, i, rate, now, delta):
    """Raise a level in [0, 1] towards 1 by ``delta`` of the gap, or lower it by ``-delta``."""
    if delta > 0:
        fading_saturate(v, s, fl, i, rate, now, delta)
    else:
        fading_add(v, s, fl, i, rate, now, delta, 1.0)


@nb.njit(cache=True)
def fading_set_floor(v, s, fl, i, rate, now, floor):
    """Fade towards ``floor`` from now on (raising the value to it if it is below)."""
    value = fading_at(v, s, fl, i, rate, now)
    fl[i] = floor
    _fset(v, s, fl, i, now, value)


@nb.njit(cache=True)
def tension_at(st, d, now):
    """Tension of dyad ``d`` now."""
    return fading_at(st.ten_v, st.ten_s, st.ten_fl, d, st.t.w_f[WF_TENSION_DECAY], now)


@nb.njit(cache=True)
def grievance_at(st, holder, against, now):
    """Grievance of ``holder`` against ``against`` now."""
    i = holder * st.t.w_i[WI_ACTORS] + against
    return fading_at(st.gr_v, st.gr_s, st.gr_fl, i, st.t.w_f[WF_GRIEVANCE_DECAY], now)


@nb.njit(cache=True)
def pressure_at(st, a, now):
    """Domestic pressure on actor ``a`` now."""
    return fading_at(st.pr_v, st.pr_s, st.pr_fl, a, st.t.w_f[WF_PRESSURE_DECAY], now)


@nb.njit(cache=True)
def shift_tension(st, d, now, delta):
    """Shift the tension of dyad ``d`` (:func:`fading_shift`)."""
    rate = st.t.w_f[WF_TENSION_DECAY]
    fading_shift(st.ten_v, st.ten_s, st.ten_fl, d, rate, now, delta)


@nb.njit(cache=True)
def _scale_grievance(st, i, now, factor):
    fading_scale(st.gr_v, st.gr_s, st.gr_fl, i, st.t.w_f[WF_GRIEVANCE_DECAY], now, factor)


@nb.njit(cache=True)
def _saturate_grievance(st, i, now, share):
    fading_saturate(st.gr_v, st.gr_s, st.gr_fl, i, st.t.w_f[WF_GRIEVANCE_DECAY], now, share)


# --- reading the state ------------------------------------------------------------------------


@nb.njit(cache=True)
def overall_rung(st):
    """The highest rung over all dyads."""
    best = 0
    for d in range(len(st.dyad_rung)):
        if d == 0 or st.dyad_rung[d] > best:
            best = st.dyad_rung[d]
    return best


@nb.njit(cache=True)
def effective_resolve(st, a, now):
    """Resolve raised by domestic pressure and by an ally's public backing."""
    t = st.t
    boost = 0.0
    for j in range(t.ac_i[a, AI_BOOSTS], t.ac_i[a, AI_BOOSTS_END]):
        boost += t.ragged_f[j] * st.backing[t.ragged_i[j]]
    return pymin(1.0, st.resolve[a] + pressure_at(st, a, now) + boost)


@nb.njit(cache=True)
def _used_within(st, lo, hi, days, now):
    """Whether one of the levers ``ragged_i[lo:hi]`` was used in the last ``days``."""
    for j in range(lo, hi):
        if now - st.last_used[st.t.ragged_i[j]] <= days:
            return True
    return False


@nb.njit(cache=True)
def _any_used(st, lo, hi):
    for j in range(lo, hi):
        if st.uses[st.t.ragged_i[j]] != 0:
            return True
    return False


@nb.njit(cache=True)
def _in_force(st, lever, target):
    return st.inf_m[lever * st.t.w_i[WI_ACTORS] + target] >= 0


@nb.njit(cache=True)
def exposure_count(st, d, rung):
    """The hostile measures at or above ``rung`` in force in dyad ``d``, by hazard weight."""
    t = st.t
    total = 0.0
    for j in range(st.dm_n[d]):
        lever = st.m_i[st.dm[d, j], MI_LEVER]
        if t.lv_i[lever, LI_RUNG] >= rung:
            total += t.lv_f[lever, LF_HAZARD]
    return total


@nb.njit(cache=True)
def condition_holds(st, c, now):
    """Whether event condition ``c`` holds: a dyad (or the world) high and tense enough.

    With moves, one of them must also have been made within the condition's days.
    """
    t = st.t
    lo, hi = t.cd_i[c, CI_MOVES], t.cd_i[c, CI_MOVES_END]
    if hi > lo and not _used_within(st, lo, hi, t.cd_f[c, CF_WITHIN], now):
        return False
    d = t.cd_i[c, CI_DYAD]
    if d < 0:
        rung = overall_rung(st)
        tension = 0.0
        for k in range(len(st.ten_v)):
            value = tension_at(st, k, now)
            if k == 0 or value > tension:
                tension = value
    else:
        rung, tension = st.dyad_rung[d], tension_at(st, d, now)
    return rung >= t.cd_i[c, CI_RUNG] and tension >= t.cd_f[c, CF_TENSION]


@nb.njit(cache=True)
def available(st, lever, target, now):
    """Whether ``lever`` can be played on ``target`` now (limits and preconditions).

    The arrays are read into locals and the checks written in closures, which numba
    inlines: this runs for most options of every decision (see ``gather``).
    """
    t = st.t
    n = t.w_i[WI_ACTORS]
    lv_i, lv_f, ri = t.lv_i, t.lv_f, t.ragged_i
    uses, last_used, inf_m = st.uses, st.last_used, st.inf_m

    def in_force(j):
        return inf_m[j * n + target] >= 0

    def any_used(lo, hi):
        for j in range(lo, hi):
            if uses[ri[j]] != 0:
                return True
        return False

    def used_within(lo, hi, days):
        for j in range(lo, hi):
            if now - last_used[ri[j]] <= days:
                return True
        return False

    def their_rung(d, holder):
        """The highest rung of the crisis measures ``holder`` keeps in force in dyad ``d``."""
        dm, m_i = st.dm, st.m_i
        best = 0
        for j in range(st.dm_n[d]):
            m = m_i[dm[d, j], MI_LEVER]
            if lv_i[m, LI_ACTOR] == holder and lv_i[m, LI_RUNG] > best:
                best = lv_i[m, LI_RUNG]
        return best

    if lv_i[lever, LI_MAX_USES] >= 0 and uses[lever] >= lv_i[lever, LI_MAX_USES]:
        return False
    if st.stock[lever] < 1.0:
        return False
    cooldown = lv_f[lever, LF_COOLDOWN]
    if cooldown > 0 and now < last_used[lever] + cooldown:
        return False
    if lv_i[lever, LI_DIR] != DEESCALATE and in_force(lever):
        return False  # already in force against this target
    lo, hi = lv_i[lever, LI_LIFTS], lv_i[lever, LI_LIFTS_END]
    if hi > lo:
        lifted = False
        for j in range(lo, hi):
            if in_force(ri[j]):
                lifted = True
                break
        if not lifted:
            return False  # nothing of ours to lift
    dyad = t.dyad_of[lv_i[lever, LI_ACTOR], target]
    if lv_i[lever, LI_REQ_RUNG] >= 0 and st.dyad_rung[dyad] < lv_i[lever, LI_REQ_RUNG]:
        return False
    if any_used(lv_i[lever, LI_UNUSED], lv_i[lever, LI_UNUSED_END]):
        return False  # e.g. no refusing to retract what was retracted
    # the preconditions that make a move an answer: to a measure, a concession, a move
    if lv_i[lever, LI_TIGHTENS] >= 0 and not in_force(lv_i[lever, LI_TIGHTENS]):
        return False  # nothing in force to step up
    lo, hi = lv_i[lever, LI_USED], lv_i[lever, LI_USED_END]
    if hi > lo and not any_used(lo, hi):
        return False  # e.g. no lifting before the other side has conceded
    needed = lv_i[lever, LI_REQ_THEIR]
    if needed >= 0 and their_rung(dyad, target) < needed:
        return False  # e.g. an alert answers a drill
    lo, hi = lv_i[lever, LI_AFTER], lv_i[lever, LI_AFTER_END]
    if hi > lo and not used_within(lo, hi, lv_f[lever, LF_AFTER_DAYS]):
        return False
    required = lv_f[lever, LF_REQ_TENSION]
    return required < 0 or tension_at(st, dyad, now) >= required


# --- measures in force --------------------------------------------------------------------------


@nb.njit(cache=True)
def _pain_rate(st, lever, target):
    """Economic pain per day the lever inflicts on ``target`` at its current potency."""
    t = st.t
    if t.lv_f[lever, LF_ECONOMIC] == 0.0:
        return 0.0
    return t.pain_share[lever * t.w_i[WI_ACTORS] + target] * st.potency[lever]


@nb.njit(cache=True)
def _impose(st, now, lever, target, dyad, holds_rung):
    """Put a move in force: it holds its dyad's rung and costs its user and target per day."""
    t = st.t
    li, lf = t.lv_i[lever], t.lv_f[lever]
    pain = _pain_rate(st, lever, target)
    m = st.io[IO_NMEASURES]
    if m >= len(st.m_f):
        st.m_i = _grown(st.m_i)
        st.m_f = _grown(st.m_f)
    st.io[IO_NMEASURES] = m + 1
    holds = holds_rung and li[LI_DIR] == ESCALATE
    st.m_i[m, MI_LEVER], st.m_i[m, MI_TARGET], st.m_i[m, MI_DYAD] = lever, target, dyad
    st.m_i[m, MI_ENDED], st.m_i[m, MI_HOLDS] = 0, 1 if holds else 0
    st.m_f[m, MF_ONSET] = now + lf[LF_ONSET]
    st.m_f[m, MF_END] = now + lf[LF_ONSET] + lf[LF_DURATION]
    st.m_f[m, MF_PAIN], st.m_f[m, MF_COST] = pain, lf[LF_COST_DAY]
    st.potency[lever] *= 1.0 - lf[LF_POTENCY_DECAY]
    _put_in_force(st, lever * t.w_i[WI_ACTORS] + target, m)
    if li[LI_BACKING] >= 0:
        st.backing[li[LI_BACKING]] = lf[LF_BACKING_LEVEL]
    if lf[LF_STANDING] > 0:
        _set_standing(st, now, target, li[LI_ACTOR])
    if holds:
        n = st.dm_n[dyad]
        if n >= st.dm.shape[1]:
            st.dm = _grown_cols(st.dm)
        st.dm[dyad, n] = m
        st.dm_n[dyad] = n + 1
        _set_rung(st, now, dyad)
    end = st.m_f[m, MF_END]
    if math.isfinite(end):
        _command(st, CMD_EXPIRE, end - now, m, 0, 0, 0.0)


@nb.njit(cache=True)
def _put_in_force(st, key, m):
    """``in_force[key] = m`` with a dict's order: a new key goes last, a replaced one stays."""
    if st.inf_m[key] < 0:
        n = st.io[IO_NINF]
        st.inf_order[n] = key
        st.io[IO_NINF] = n + 1
    st.inf_m[key] = m


@nb.njit(cache=True)
def _del_in_force(st, key):
    """``del in_force[key]``, keeping the order of the others."""
    if st.inf_m[key] < 0:
        raise KeyError("a measure ended twice (engine bug)")
    st.inf_m[key] = -1
    n = st.io[IO_NINF]
    j = 0
    while st.inf_order[j] != key:
        j += 1
    for k in range(j, n - 1):
        st.inf_order[k] = st.inf_order[k + 1]
    st.io[IO_NINF] = n - 1


@nb.njit(cache=True)
def _set_standing(st, now, holder, against):
    """The holder's grievance floor: the highest standing offence of ``against`` in force."""
    t = st.t
    floor, found = 0.0, False
    for j in range(st.io[IO_NINF]):
        m = st.inf_m[st.inf_order[j]]
        lever = st.m_i[m, MI_LEVER]
        if t.lv_i[lever, LI_ACTOR] == against and st.m_i[m, MI_TARGET] == holder:
            standing = t.lv_f[lever, LF_STANDING]
            if not found or standing > floor:
                floor, found = standing, True
    i = holder * t.w_i[WI_ACTORS] + against
    rate = t.w_f[WF_GRIEVANCE_DECAY]
    fading_set_floor(st.gr_v, st.gr_s, st.gr_fl, i, rate, now, floor)


@nb.njit(cache=True)
def _end(st, now, m, set_rung):
    """End a measure: charge its running costs, restore backing and floors, drop its rung."""
    t = st.t
    lever, target, dyad = st.m_i[m, MI_LEVER], st.m_i[m, MI_TARGET], st.m_i[m, MI_DYAD]
    st.m_i[m, MI_ENDED] = 1
    _accrue(st, m, now)
    _del_in_force(st, lever * t.w_i[WI_ACTORS] + target)
    alliance = t.lv_i[lever, LI_BACKING]
    if alliance >= 0:
        st.backing[alliance] = t.al_f[alliance, ALF_BACKING]
    if t.lv_f[lever, LF_STANDING] > 0:
        _set_standing(st, now, target, t.lv_i[lever, LI_ACTOR])
    if st.m_i[m, MI_HOLDS]:
        n = st.dm_n[dyad]
        j = 0
        while st.dm[dyad, j] != m:
            j += 1
        for k in range(j, n - 1):
            st.dm[dyad, k] = st.dm[dyad, k + 1]
        st.dm_n[dyad] = n - 1
        if set_rung:
            _set_rung(st, now, dyad)


@nb.njit(cache=True)
def _accrue(st, m, until):
    """Charge a measure's running cost to its user and its pain to its target, up to ``until``."""
    t = st.t
    days = pymax(0.0, pymin(st.m_f[m, MF_END], until) - st.m_f[m, MF_ONSET])
    lever = st.m_i[m, MI_LEVER]
    st.costs[t.lv_i[lever, LI_ACTOR]] += st.m_f[m, MF_COST] * days
    st.costs[st.m_i[m, MI_TARGET]] += st.m_f[m, MF_PAIN] * days


@nb.njit(cache=True)
def _lift(st, now, lever, target, set_rung):
    """End an own measure before its time (a lift, an easing, a retraction, a step up)."""
    m = st.inf_m[lever * st.t.w_i[WI_ACTORS] + target]
    if m >= 0:
        st.m_f[m, MF_END] = now
        _end(st, now, m, set_rung)


@nb.njit(cache=True)
def expire(st, m, now):
    """A measure's time is up (it may have been lifted already); returns the commands left."""
    st.io[IO_NCMD] = 0
    if not st.m_i[m, MI_ENDED]:
        _end(st, now, m, True)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def _set_rung(st, now, dyad):
    """A dyad's rung is the highest of its hostile measures in force; log it when it moves."""
    t = st.t
    rung = 0
    for j in range(st.dm_n[dyad]):
        r = t.lv_i[st.m_i[st.dm[dyad, j], MI_LEVER], LI_RUNG]
        if j == 0 or r > rung:
            rung = r
    for w in range(len(st.watch_on)):  # the exposure watchers, in the order they came
        if st.watch_on[w] and t.wt_i[w, WT_DYAD] == dyad:
            _command(st, CMD_WATCH, 0.0, w, 0, 0, exposure_count(st, dyad, t.wt_i[w, WT_RUNG]))
    if rung == st.dyad_rung[dyad]:
        return
    st.dyad_rung[dyad] = rung
    _log_rung(st, dyad, now, rung)
    st.dyad_peak[dyad] = max(st.dyad_peak[dyad], rung)
    for k in range(1, rung + 1):
        if math.isnan(st.first_at[k]):
            st.first_at[k] = now
    if rung > st.io[IO_PEAK]:
        st.io[IO_PEAK] = rung
        st.sf[SF_PEAK_DAY] = now
    if t.w_i[WI_ENDERS] > 0:
        _check_end(st)


@nb.njit(cache=True)
def _check_end(st):
    """End the run when the state matches an absorbing outcome class."""
    t = st.t
    if st.io[IO_STOPPED]:
        return
    for e in range(t.w_i[WI_ENDERS]):
        ei = t.en_i[e]
        d = ei[EI_DYAD]
        if d < 0:
            peak, current = st.io[IO_PEAK], overall_rung(st)
        else:
            peak, current = st.dyad_peak[d], st.dyad_rung[d]
        if not (ei[EI_PEAK_LO] <= peak <= ei[EI_PEAK_HI]):
            continue
        if not (ei[EI_FINAL_LO] <= current <= ei[EI_FINAL_HI]):
            continue
        lo, hi = ei[EI_MOVES], ei[EI_MOVES_END]
        if hi > lo:
            played = False
            for j in range(lo, hi):
                if st.played[t.ragged_i[j]]:
                    played = True
            if not played:
                continue
        st.io[IO_ENDED_EARLY] = 1
        st.io[IO_STOPPED] = 1
        _command(st, CMD_STOP, 0.0, 0, 0, 0, 0.0)
        return


@nb.njit(cache=True)
def set_stopped(st):
    """The run's stop event has been triggered from outside (the horizon)."""
    st.io[IO_STOPPED] = 1


# --- moves ----------------------------------------------------------------------------------------


@nb.njit(cache=True)
def play(st, lever, target, now, source, amount):
    """Announce a move and apply its effects (``amount`` scales stock changes); commands left."""
    st.io[IO_NCMD] = 0
    _play(st, now, lever, target, source, amount)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def _play(st, now, lever, target, source, amount):
    t = st.t
    li, lf = t.lv_i[lever], t.lv_f[lever]
    a, direction = li[LI_ACTOR], li[LI_DIR]
    _record(st, now, lever, target, source, lf[LF_MAGNITUDE] * st.potency[lever] * amount)
    st.uses[lever] += 1  # spend
    st.stock[lever] = pymax(0.0, st.stock[lever] - 1.0)
    st.last_used[lever] = now
    st.costs[a] += lf[LF_COST_UP]
    st.played[lever] = True
    base = t.ac_i[a, AI_STOCKS]
    for j in range(li[LI_STOCKD], li[LI_STOCKD_END]):
        st.stocks[base + t.ragged_i[j]] += t.ragged_f[j] * amount
    dyad = t.dyad_of[a, target]
    if lf[LF_AUDIENCE] > 0 and not _any_used(st, li[LI_RECIP], li[LI_RECIP_END]):
        st.costs[a] += lf[LF_AUDIENCE]  # backing down for nothing
    if direction == ESCALATE:  # acting on a grievance discharges part of it
        share = t.w_f[WF_SATISFACTION] * li[LI_RUNG] / max(1, t.w_i[WI_TOP])
        _scale_grievance(st, a * t.w_i[WI_ACTORS] + target, now, 1.0 - share)
    if li[LI_TIGHTENS] >= 0:  # the step up replaces the lower step (its rung set below)
        _lift(st, now, li[LI_TIGHTENS], target, False)
    if direction == DEESCALATE:
        for j in range(li[LI_LIFTS], li[LI_LIFTS_END]):
            _lift(st, now, t.ragged_i[j], target, True)
    if lf[LF_DURATION] > 0 and (direction == ESCALATE or li[LI_BACKING] >= 0):
        _impose(st, now, lever, target, dyad, True)
    if direction != SUPPORT:
        shift_tension(st, dyad, now, lf[LF_TENSION])
    heard = _offended(st, lever, target)
    for j in range(heard):
        k = st.heard_k[j]
        shift_tension(st, t.dyad_of[a, k], now, abs(lf[LF_TENSION]) * st.heard_w[j])
    _notify(st, lever, target, heard)
    _check_end(st)


@nb.njit(cache=True)
def _record(st, now, lever, target, source, magnitude):
    k = st.io[IO_NMV]
    if k >= len(st.mv_f):
        st.mv_i = _grown(st.mv_i)
        st.mv_f = _grown(st.mv_f)
    st.mv_i[k, 0], st.mv_i[k, 1], st.mv_i[k, 2] = lever, target, source
    st.mv_f[k, 0], st.mv_f[k, 1] = now, magnitude
    st.io[IO_NMV] = k + 1


@nb.njit(cache=True)
def _patron_share(st, alliance):
    """The share of a hostile move on its protege that a patron takes as aimed at itself.

    ``offense_share * commitment * (0.5 + 0.5 * backing)``: through its commitment even on
    the sidelines, and more when it has backed the ally publicly.
    """
    t = st.t
    af = t.al_f[alliance]
    return af[ALF_OFFENSE_SHARE] * af[ALF_COMMITMENT] * (0.5 + 0.5 * st.backing[alliance])


@nb.njit(cache=True)
def _offended(st, lever, target):
    """Third parties that resent the move and the hostility they perceive, into ``heard_*``.

    The terms are :func:`sim.engine.tables._heard_terms`: a party's own weight, then the
    shares its alliances add (hostile moves on a protege). Returns how many resent it.
    """
    t = st.t
    o = lever * t.w_i[WI_ACTORS] + target
    own = t.lv_f[lever, LF_HOSTILITY]
    n, key, weight = 0, -1, 0.0
    for j in range(t.op_i[o, OI_HEARD], t.op_i[o, OI_HEARD_END]):
        code = t.ragged_i[j]
        if code >= 0:
            if key >= 0 and weight > 0:
                st.heard_k[n], st.heard_w[n] = key, weight
                n += 1
            key, weight = code, t.ragged_f[j]
        else:
            weight = weight + own * _patron_share(st, -1 - code)
    if key >= 0 and weight > 0:
        st.heard_k[n], st.heard_w[n] = key, weight
        n += 1
    return n


@nb.njit(cache=True)
def _notify(st, lever, target, heard):
    """Schedule the move's perception by its target and by those it offends."""
    t = st.t
    wf = t.w_f
    kind = t.w_i[WI_PERC_KIND]
    a, b, cap = wf[WF_PERC_A], wf[WF_PERC_B], wf[WF_PERC_CAP]
    delay = sample_delay(st.rs, 0, kind, a, b, cap)
    _command(st, CMD_PERCEIVE, delay, lever, target, target, t.lv_f[lever, LF_HOSTILITY])
    for j in range(heard):
        delay = sample_delay(st.rs, 0, kind, a, b, cap)
        _command(st, CMD_PERCEIVE, delay, lever, target, st.heard_k[j], st.heard_w[j])


@nb.njit(cache=True)
def perceive(st, lever, target, perceiver, hostility, now):
    """A perceiver takes in a move: grievance and domestic pressure (the wake-up is Python's)."""
    t = st.t
    n = t.w_i[WI_ACTORS]
    lf = t.lv_f[lever]
    user = t.lv_i[lever, LI_ACTOR]
    i = perceiver * n + user
    if hostility > 0:
        share = hostility * (0.5 + st.domestic[perceiver])
        _saturate_grievance(st, i, now, share)
        if t.lv_i[lever, LI_DIR] == SUPPORT and perceiver != target:
            # who resents a favour resents its beneficiary too (an arms sale, a transit)
            _saturate_grievance(st, perceiver * n + target, now, share)
    if perceiver == target and lf[LF_RELIEF] > 0:
        _scale_grievance(st, i, now, 1.0 - lf[LF_RELIEF])
    if perceiver == target and lf[LF_POLITICAL] > 0:
        rate = t.w_f[WF_PRESSURE_DECAY]
        amount = lf[LF_POLITICAL] * st.domestic[target]
        fading_add(st.pr_v, st.pr_s, st.pr_fl, target, rate, now, amount, 1.0)


@nb.njit(cache=True)
def event_move(st, lever, target, now, source):
    """An event's move: renew it if in force, then play it if it is available.

    Returns the commands left, or -1 if the move was unavailable (no commands then).
    """
    st.io[IO_NCMD] = 0
    _lift(st, now, lever, target, True)  # a repeat renews a measure still in force
    if not available(st, lever, target, now):
        return -1 - st.io[IO_NCMD]
    _play(st, now, lever, target, source, 1.0)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def lift(st, lever, target, now):
    """End an own measure before its time; returns the commands left."""
    st.io[IO_NCMD] = 0
    _lift(st, now, lever, target, True)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def close(st, now):
    """Charge the running costs of every measure still in force at the end."""
    for j in range(st.io[IO_NINF]):
        _accrue(st, st.inf_m[st.inf_order[j]], now)


# --- decisions: open options and their features ------------------------------------------------
#
# The decision path is the engine's hottest code (every open option of every decision), so
# ``gather`` takes the arrays it reads into local variables once and works on them in
# closures, which numba inlines: a call to a compiled function that takes arrays, or that
# reads a structref's fields, pays reference counting on each (about 0.1 us a call, more
# than the work of an option).


@nb.njit(cache=True)
def gather(st, a, now, prompted, prompt_levers, prompt_target):
    """List the open options of actor ``a`` with their features into ``cand``; return how many.

    An exogenous prompt offers its levers on its target; otherwise the actor's choosable
    options. An option is open when it is not in preparation and is available (the common
    limits are checked here, anything else by :func:`available`). Also leaves in ``ctx`` the
    actor's effective resolve, risk tolerance and grievance against each actor.
    """
    t = st.t
    n = t.w_i[WI_ACTORS]
    lv_i, lv_f, op_i, op_f, ri, rf = t.lv_i, t.lv_f, t.op_i, t.op_f, t.ragged_i, t.ragged_f
    al_i, al_f = t.al_i, t.al_f
    uses, last_used, inf_m, inf_order, prep = st.uses, st.last_used, st.inf_m, st.inf_order, st.prep
    m_i, m_f = st.m_i, st.m_f
    stakes, backing, dyad_rung, cand, cand_o = (
        st.stakes,
        st.backing,
        st.dyad_rung,
        st.cand,
        st.cand_o,
    )
    gr_now, ten_now = st.gr_now, st.ten_now
    n_inf = st.io[IO_NINF]
    days = t.w_i[WI_DAYS]
    gr_v, gr_s, gr_fl, ten_v, ten_s, ten_fl = (
        st.gr_v,
        st.gr_s,
        st.gr_fl,
        st.ten_v,
        st.ten_s,
        st.ten_fl,
    )
    gr_rate, ten_rate = t.w_f[WF_GRIEVANCE_DECAY], t.w_f[WF_TENSION_DECAY]
    for b in range(n):  # each actor's grievance and each dyad's tension, read once
        i = a * n + b
        if now == gr_s[i]:
            gr_now[b] = gr_v[i]
        else:
            gr_now[b] = gr_fl[i] + (gr_v[i] - gr_fl[i]) * math.exp(-gr_rate * (now - gr_s[i]))
    for d in range(len(ten_now)):
        if now == ten_s[d]:
            ten_now[d] = ten_v[d]
        else:
            ten_now[d] = ten_fl[d] + (ten_v[d] - ten_fl[d]) * math.exp(-ten_rate * (now - ten_s[d]))

    def in_force(lever, target):
        return inf_m[lever * n + target] >= 0

    def is_open(lever, target):
        whole = lv_i[lever, LI_WHOLE] != 0
        if prep[lever * (n + 1) + (n if whole else target)]:
            return False  # in preparation
        check = lv_i[lever, LI_CHECK]
        if check == CHECK_UNLESS_IN_FORCE:
            return not in_force(lever, target)
        if check == CHECK_COOLDOWN:
            cooling = now < last_used[lever] + lv_f[lever, LF_COOLDOWN]
            return not (cooling or in_force(lever, target))
        if check == CHECK_FULL:
            return available(st, lever, target, now)
        return True

    def patron_share(al):
        return al_f[al, ALF_OFFENSE_SHARE] * al_f[al, ALF_COMMITMENT] * (0.5 + 0.5 * backing[al])

    def reciprocated(lever):
        for j in range(lv_i[lever, LI_RECIP], lv_i[lever, LI_RECIP_END]):
            if uses[ri[j]] != 0:
                return True
        return False

    def expected_cost(lever):
        if lv_f[lever, LF_COST_DAY] == 0.0:
            return lv_f[lever, LF_COST_UP]
        left = pymax(0.0, days - now)
        horizon = pymin(pymin(lv_f[lever, LF_DURATION], PLANNING_DAYS), left)
        return lv_f[lever, LF_COST_UP] + lv_f[lever, LF_COST_DAY] * horizon

    def relief(lever, target):
        own = 0.0  # the running costs of own measures it lifts ...
        for j in range(lv_i[lever, LI_LIFTS], lv_i[lever, LI_LIFTS_END]):
            m = inf_m[ri[j] * n + target]
            if m >= 0:
                own += m_f[m, MF_COST]
        theirs = 0.0  # ... and the pain of the target's measures on the user
        user = lv_i[lever, LI_ACTOR]
        for j in range(n_inf):
            m = inf_m[inf_order[j]]
            if lv_i[m_i[m, MI_LEVER], LI_ACTOR] == target and m_i[m, MI_TARGET] == user:
                theirs += m_f[m, MF_PAIN]
        return own + theirs

    def features(o, k):
        """What a policy weighs about option ``o`` now, into ``cand[k]`` (``features``)."""
        lever, target = op_i[o, OI_LEVER], op_i[o, OI_TARGET]
        direction = lv_i[lever, LI_DIR]
        mine = a * n
        risk = op_f[o, OF_RISK]
        for j in range(op_i[o, OI_DETER], op_i[o, OI_DETER_END]):
            risk *= 1.0 + rf[j] * (0.5 + 0.5 * backing[ri[j]])
        severity = op_f[o, OF_SEVERITY]
        offense = stakes[mine + target] * severity if direction == ESCALATE else 0.0
        for j in range(op_i[o, OI_OFFENDS], op_i[o, OI_OFFENDS_END]):
            offense += stakes[mine + ri[j]] * rf[j]
        for j in range(op_i[o, OI_PATRONS], op_i[o, OI_PATRONS_END]):
            al = ri[j]
            offense += stakes[mine + al_i[al, ALI_PATRON]] * rf[j] * patron_share(al)
        need = 0.0
        lo, hi = op_i[o, OI_RIVALS], op_i[o, OI_RIVALS_END]
        if direction == SUPPORT and hi > lo:
            worst = ten_now[ri[lo]]
            for j in range(lo + 1, hi):
                worst = pymax(worst, ten_now[ri[j]])
            need = op_f[o, OF_COMMITMENT] * worst
        known = op_i[o, OI_FIXED] != 0
        cost = lv_f[lever, LF_COST_UP]
        if lv_f[lever, LF_AUDIENCE] > 0 and not reciprocated(lever):
            cost = (cost if known else expected_cost(lever)) + lv_f[lever, LF_AUDIENCE]
            known = True
        rung = lv_i[lever, LI_RUNG]
        cand[k, CD_LEVER], cand[k, CD_TARGET], cand[k, CD_DIR] = lever, target, direction
        cand[k, CD_RUNG] = rung
        cand[k, CD_JUMP] = rung - dyad_rung[op_i[o, OI_DYAD]] if direction == ESCALATE else 0
        cand[k, CD_SEVERITY] = severity
        cand[k, CD_COST] = cost if known else expected_cost(lever)
        cand[k, CD_RISK], cand[k, CD_OFFENSE], cand[k, CD_GRIEVANCE] = risk, offense, gr_now[target]
        cand[k, CD_RELIEF] = relief(lever, target) if direction == DEESCALATE else 0.0
        cand[k, CD_TENSION], cand[k, CD_STAKE] = ten_now[op_i[o, OI_DYAD]], stakes[mine + target]
        cand[k, CD_NEED], cand[k, CD_VALUE] = need, lv_f[lever, LF_VALUE]

    count = 0
    if (
        len(prompt_levers) if prompted else t.ac_i[a, AI_OPTIONS_END] - t.ac_i[a, AI_OPTIONS]
    ) > len(cand):
        raise RuntimeError("more options than the candidate table holds (engine bug)")
    if prompted:
        for j in range(len(prompt_levers)):
            o = prompt_levers[j] * n + prompt_target
            if is_open(prompt_levers[j], prompt_target):
                features(o, count)
                cand_o[count] = o
                count += 1
    else:
        for j in range(t.ac_i[a, AI_OPTIONS], t.ac_i[a, AI_OPTIONS_END]):
            o = ri[j]
            if is_open(op_i[o, OI_LEVER], op_i[o, OI_TARGET]):
                features(o, count)
                cand_o[count] = o
                count += 1
    ctx = st.ctx
    ctx[0] = effective_resolve(st, a, now)
    ctx[1] = st.risk_tolerance[a]
    ctx[2 : 2 + n] = gr_now
    return count


@nb.njit(cache=True)
def _held(st, lever, target):
    """The key of what a move in preparation holds back: the lever, or it on this target."""
    n = st.t.w_i[WI_ACTORS]
    whole = st.t.lv_i[lever, LI_WHOLE] != 0
    return lever * (n + 1) + (n if whole else target)


# --- choices: preparing and enacting them -------------------------------------------------------


@nb.njit(cache=True)
def prepare(st, lever, target, now, amount):
    """A chosen move waits for its lever's decision lag; returns the commands left.

    The lag is drawn from the actor's stream. With no lag the move is enacted now;
    otherwise it is held back from the actor's next decisions and an ENACT command says when.
    """
    st.io[IO_NCMD] = 0
    _prepare(st, now, lever, target, amount)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def _prepare(st, now, lever, target, amount):
    t = st.t
    li, lf = t.lv_i[lever], t.lv_f[lever]
    row = 1 + li[LI_ACTOR]
    lag = sample_delay(st.rs, row, li[LI_DEC_KIND], lf[LF_DEC_A], lf[LF_DEC_B], lf[LF_DEC_CAP])
    if lag <= 0:
        _enact(st, now, lever, target, amount)
        return
    st.prep[_held(st, lever, target)] = True
    _command(st, CMD_ENACT, lag, lever, target, 0, amount)


@nb.njit(cache=True)
def enact(st, lever, target, now, amount):
    """Play a prepared move if it is still available; returns the commands left."""
    st.io[IO_NCMD] = 0
    _enact(st, now, lever, target, amount)
    return st.io[IO_NCMD]


@nb.njit(cache=True)
def _enact(st, now, lever, target, amount):
    st.prep[_held(st, lever, target)] = False
    if available(st, lever, target, now):
        _play(st, now, lever, target, SOURCE_POLICY, amount)


@nb.njit(cache=True)
def hold(st, lever, target, held):
    """Mark a move as in preparation (or not): for moves a Python policy prepares itself."""
    st.prep[_held(st, lever, target)] = held


# --- the logit (quantal response) decision, the fast path of sim.policies.logit ------------------


@nb.njit(cache=True)
def decide_logit(st, a, now, prompted, prompt_levers, prompt_target):
    """One decision of a logit actor, start to finish: options, utilities, draws, lags, plays.

    The rule is :class:`sim.policies.logit.LogitPolicy`'s, operation for operation: each
    open option's utility, then the two-stage draw (act with the logit probability of the
    best move against waiting, then a move with probability proportional to
    ``exp(rationality * utility)``). A prompt is answered with one move at most
    (``choose``); otherwise up to ``package`` moves of distinct levers are drawn
    (``choose_moves``). Returns the number of commands left, or :data:`OVERFLOW`; the
    number of moves chosen (0: wait) is left in ``io[IO_CHOSEN]``.
    """
    p = st.t.policy_f[a]
    count = gather(st, a, now, prompted, prompt_levers, prompt_target)
    io = st.io
    io[IO_NCMD], io[IO_CHOSEN] = 0, 0
    if count == 0:
        return 0
    cand, util, weights, picks, rs = st.cand, st.util, st.weights, st.picks, st.rs
    resolve, risk_tolerance = st.ctx[0], st.ctx[1]
    row, lam = 1 + a, p[P_RATIONALITY]

    def utility(k):
        """:meth:`sim.policies.logit.LogitPolicy.utility` of candidate ``k``."""
        direction, severity, cost = cand[k, CD_DIR], cand[k, CD_SEVERITY], cand[k, CD_COST]
        if direction == ESCALATE:
            jump = cand[k, CD_JUMP]
            weighed = (
                p[P_GRIEVANCE] * resolve * cand[k, CD_GRIEVANCE] * (0.5 + severity)
                - p[P_COST] * cost
                - p[P_RISK] * (1.0 - risk_tolerance) * cand[k, CD_RISK]
                - p[P_OFFENSE] * cand[k, CD_OFFENSE]
                - p[P_JUMP] * (jump - 1 if jump > 1 else 0.0)  # climbs beyond one rung
                - p[P_ACTION_COST] * (0.5 + severity)
            )
        elif direction == DEESCALATE:
            weighed = (
                p[P_CALM] * cand[k, CD_STAKE] * cand[k, CD_TENSION]
                + p[P_RELIEF] * cand[k, CD_RELIEF]
                - p[P_FACE] * resolve * cand[k, CD_GRIEVANCE]
                - p[P_COST] * cost
                - p[P_ACTION_COST] * 0.5
            )
        else:
            weighed = (
                p[P_SUPPORT] * cand[k, CD_NEED]
                - p[P_OFFENSE] * cand[k, CD_OFFENSE]
                - p[P_COST] * cost
                - p[P_ACTION_COST] * 0.5
            )
        return cand[k, CD_VALUE] + weighed

    def draw(alive):
        """The two-stage draw over ``picks[:alive]``: an index, -1 to wait, -2 on overflow."""
        best = util[picks[0]]
        for j in range(1, alive):
            if util[picks[j]] > best:
                best = util[picks[j]]
        u = random(rs, row)
        x = -lam * best
        e = math.exp(x)
        if math.isinf(e) and not math.isinf(x):
            return -2  # where Python's math.exp raised OverflowError
        if u >= 1.0 / (1.0 + e):
            return -1
        total = 0.0
        for j in range(alive):
            weights[j] = math.exp(lam * (util[picks[j]] - best))
            total += weights[j]
        threshold = random(rs, row) * total
        for j in range(alive):
            threshold -= weights[j]
            if threshold < 0.0:
                return picks[j]
        return picks[alive - 1]

    for k in range(count):
        util[k] = utility(k)
        picks[k] = k
    package = 1 if prompted else int(p[P_PACKAGE])
    chosen = np.empty(max(1, package), dtype=np.int64)
    n_chosen, alive = 0, count
    while alive > 0 and n_chosen < package:
        pick = draw(alive)
        if pick == -2:
            return OVERFLOW
        if pick < 0:
            break
        chosen[n_chosen] = pick
        n_chosen += 1
        kept = 0  # the next move of a package is another lever
        for j in range(alive):
            if cand[picks[j], CD_LEVER] != cand[pick, CD_LEVER]:
                picks[kept] = picks[j]
                kept += 1
        alive = kept
    for j in range(n_chosen):
        k = chosen[j]
        _prepare(st, now, int(cand[k, CD_LEVER]), int(cand[k, CD_TARGET]), 1.0)
    io[IO_CHOSEN] = n_chosen
    return io[IO_NCMD]


# --- odds and ends Python needs -----------------------------------------------------------------


@nb.njit(cache=True)
def draw_exponential(st, row, scale):
    """``Generator.exponential(scale)`` from stream ``row``."""
    return exponential(st.rs, row, scale)


@nb.njit(cache=True)
def draw_delay(st, row, kind, a, b, cap):
    """A delay from stream ``row`` (:func:`sample_delay`)."""
    return sample_delay(st.rs, row, kind, a, b, cap)


@nb.njit(cache=True)
def response_delay(st, a):
    """Actor ``a``'s response delay, from its stream."""
    ai, af = st.t.ac_i[a], st.t.ac_f[a]
    kind = ai[AI_RESP_KIND]
    return sample_delay(st.rs, 1 + a, kind, af[AF_RESP_A], af[AF_RESP_B], af[AF_RESP_CAP])


@nb.njit(cache=True)
def review_wait(st, a):
    """Actor ``a``'s wait for its next review (exponential with its mean interval)."""
    return exponential(st.rs, 1 + a, st.t.ac_f[a, AF_REVIEW])


@nb.njit(cache=True)
def change_attribute(st, which, a, delta):
    """An attribute effect: resolve (0), risk tolerance (1) or domestic pressure (2), in [0, 1]."""
    values = st.resolve if which == 0 else st.risk_tolerance if which == 1 else st.domestic
    values[a] = pymin(1.0, pymax(0.0, values[a] + delta))


@nb.njit(cache=True)
def set_stake(st, a, b, value):
    """Set ``a``'s stake in calm with ``b`` (a summit's boost, or its end)."""
    st.stakes[a * st.t.w_i[WI_ACTORS] + b] = value


@nb.njit(cache=True)
def watch(st, w):
    """Exposure watcher ``w`` (a stochastic event's process) now listens to its dyad."""
    st.watch_on[w] = True


@nb.njit(cache=True)
def daily_rungs(st, days, end):
    """The highest rung each dyad held during each calendar day, int8 (dyads, days + 1).

    Days after an early end keep the rung the run ended on (the end state is absorbing).
    """
    dyads = len(st.dyad_rung)
    out = np.zeros((dyads, days + 1), dtype=np.int8)
    n = st.io[IO_NRL]
    for k in range(n):
        d, rung = st.rl_i[k, 0], st.rl_i[k, 1]
        if rung == 0:
            continue
        t1 = np.inf
        for j in range(k + 1, n):  # the next entry of the same dyad
            if st.rl_i[j, 0] == d:
                t1 = st.rl_t[j]
                break
        first = int(math.floor(st.rl_t[k]))
        last = days if math.isinf(t1) or t1 >= end else int(math.ceil(t1)) - 1
        for day in range(first, max(first, last) + 1):
            if rung > out[d, day]:
                out[d, day] = rung
    return out


@nb.njit(cache=True)
def moves(st):
    """The run's moves: (lever, target, source) and (day, magnitude) rows."""
    n = st.io[IO_NMV]
    return st.mv_i[:n].copy(), st.mv_f[:n].copy()


@nb.njit(cache=True)
def outcome_state(st):
    """What classifying and recording a run needs: peak and final rungs, costs, stocks."""
    return (
        st.dyad_rung.copy(),
        st.dyad_peak.copy(),
        st.first_at.copy(),
        st.costs.copy(),
        st.stocks.copy(),
        st.played.copy(),
    )


@nb.njit(cache=True)
def snapshot(st):
    """The mutable state for introspection and tests (slow; copies)."""
    return (
        st.ten_v.copy(), st.ten_s.copy(), st.gr_v.copy(), st.gr_s.copy(), st.gr_fl.copy(),
        st.pr_v.copy(), st.pr_s.copy(), st.stakes.copy(), st.resolve.copy(),
        st.risk_tolerance.copy(), st.domestic.copy(), st.backing.copy(),
        st.m_i[: st.io[IO_NMEASURES]].copy(), st.m_f[: st.io[IO_NMEASURES]].copy(),
        st.inf_order[: st.io[IO_NINF]].copy(), st.inf_m.copy(), st.dm.copy(), st.dm_n.copy(),
        st.rl_i[: st.io[IO_NRL]].copy(), st.rl_t[: st.io[IO_NRL]].copy(),
    )  # fmt: skip
