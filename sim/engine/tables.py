"""A compiled spec as arrays: what the kernels read, built once per :class:`RunSpec`.

Every actor, lever, dyad and alliance is already an integer index in the spec; here each
kind becomes a pair of 2-D arrays, one of floats and one of ints, whose columns are named
by constants of :mod:`sim.engine.kernels` (``lv_f[i, K.LF_COOLDOWN]``). Lists that vary in
length (the levers a lever lifts, the third parties an option offends) are ranges
``[lo, hi)`` into two shared arrays, ``ragged_i`` and ``ragged_f``, filled in step so that
an entry is an (int, float) pair. An *option* is a lever on a target, numbered
``lever * n_actors + target``; its parts that never change during a run (severity, who it
offends, the patrons that deter it) are computed here once, as the engine's ``Option``
objects used to be. :func:`compiled` keeps the result per spec, with a pool of run states
that successive runs reuse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.engine import kernels as K
from sim.engine.spec import (
    DEESCALATE,
    ESCALATE,
    ConditionSpec,
    LeverSpec,
    RunSpec,
)


class Ragged:
    """Collects the (int, float) entries of variable-length lists into two arrays."""

    def __init__(self) -> None:
        self.ints: list[int] = []
        self.floats: list[float] = []

    def add(self, pairs: Any) -> tuple[int, int]:
        """Append ``(int, float)`` pairs (or bare ints); return their range ``(lo, hi)``."""
        lo = len(self.ints)
        for pair in pairs:
            i, x = pair if isinstance(pair, tuple) else (pair, 0.0)
            self.ints.append(int(i))
            self.floats.append(float(x))
        return lo, len(self.ints)


@dataclass
class Tables:
    """The arrays of one spec (numpy), and what Python needs to turn results into records."""

    arrays: dict[str, np.ndarray]
    conditions: dict[ConditionSpec, int]
    watchers: list[int]  # per event index: its exposure watcher id, or -1
    lever_rows: list[tuple[str, str, int, str, float, str]]  # actor id, lever id, rung, ...
    n_options: int
    fast: list[bool] = field(default_factory=list)  # per actor: its policy has a kernel


def move_hostility(spec: RunSpec, lever: LeverSpec) -> float:
    """How hostile a move feels to its target: ``scale * (|Goldstein| / 10) ^ exponent``.

    A lever may set its own hostility instead (a statement on sovereignty rankles more than
    its Goldstein score says); conciliatory and supporting moves are not hostile to their
    target.
    """
    if lever.direction != ESCALATE:
        return 0.0
    if lever.hostility >= 0:
        return lever.hostility
    return spec.hostility_scale * (abs(lever.goldstein) / 10.0) ** spec.hostility_exponent


def whole_lever(lever: LeverSpec) -> bool:
    """Whether a move in preparation holds back the lever on every target, not one.

    That is when its limits are the lever's (a cooldown, a number of uses, a stock): a
    second use would be barred when it came due.
    """
    return lever.cooldown > 0 or lever.max_uses >= 0 or lever.stock != math.inf


def availability_check(lever: LeverSpec) -> int:
    """How the decision loop checks a lever's availability (see ``kernels.gather``).

    Most levers have no limit or precondition but "not already in force" and perhaps a
    cooldown, which the loop checks itself; the rest go through ``kernels.available``.
    """
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
        return K.CHECK_FULL
    if lever.cooldown > 0:
        return K.CHECK_COOLDOWN  # and not in force
    return K.CHECK_ALWAYS if lever.direction == DEESCALATE else K.CHECK_UNLESS_IN_FORCE


def build(spec: RunSpec, fast: list[bool], policy_params: np.ndarray) -> Tables:
    """The arrays of ``spec``; ``fast`` and ``policy_params``: which actors decide in a kernel."""
    n, ragged = len(spec.actors), Ragged()
    conditions = _conditions(spec)
    watchers = _watchers(spec)
    arrays = {
        **_levers(spec, ragged),
        **_options(spec, ragged),
        **_actors(spec, ragged),
        **_alliances(spec),
        **_world(spec, len(watchers[1])),
    }
    arrays.update(_outcomes(spec, ragged))
    arrays.update(_condition_arrays(conditions, ragged))
    arrays["wt_i"] = np.array(watchers[1], dtype=np.int64).reshape(-1, K.NWT)
    arrays["fast"] = np.array(fast, dtype=np.bool_)
    arrays["policy_f"] = policy_params.astype(np.float64).reshape(n, K.POLICY_PARAMS)
    arrays["ragged_i"] = np.array(ragged.ints, dtype=np.int64)
    arrays["ragged_f"] = np.array(ragged.floats, dtype=np.float64)
    rows = [
        (spec.actors[lv.actor].id, lv.id, lv.rung, lv.cameo, lv.goldstein, lv.direction.word)
        for lv in spec.levers
    ]
    return Tables(arrays, conditions, watchers[0], rows, len(spec.levers) * n, fast)


def _world(spec: RunSpec, n_watchers: int) -> dict[str, np.ndarray]:
    n, levers = len(spec.actors), len(spec.levers)
    w_i = np.zeros(K.NWI, dtype=np.int64)
    w_i[[K.WI_ACTORS, K.WI_LEVERS, K.WI_DYADS, K.WI_ALLIANCES]] = (
        n, levers, len(spec.dyads), len(spec.alliances)
    )  # fmt: skip
    w_i[K.WI_RUNGS], w_i[K.WI_TOP], w_i[K.WI_DAYS] = len(spec.rung_names), spec.top_rung, spec.days
    w_i[K.WI_PERC_KIND] = spec.perception_delay.kind
    w_i[K.WI_ENDERS] = sum(o.ends_run for o in spec.outcomes)
    w_i[K.WI_STREAMS] = 1 + n + len(spec.events)
    w_i[K.WI_WATCHERS] = n_watchers
    # commands one kernel call may leave: a package of up to 10 moves, each lifting levers
    # (each lift tells the watchers), imposing, and being perceived by every other actor
    per_move = levers * (n_watchers + 1) + n + len(spec.alliances) + 8
    w_i[K.WI_CMD_CAP] = 256 + (10 + len(spec.initial_measures)) * per_move
    # room for every option of an actor (a lever may list a target twice) or of a prompt
    options = [
        sum(len(lv.targets) for lv in (spec.levers[i] for i in a.levers) if lv.choosable)
        for a in spec.actors
    ]
    prompts = [len(x.levers) for e in spec.events for x in (*e.effects, *e.on_cancel)]
    w_i[K.WI_CAND_CAP] = max(1, *options, *prompts)
    w_f = np.zeros(K.NWF, dtype=np.float64)
    w_f[K.WF_TENSION_DECAY] = spec.tension_decay
    w_f[K.WF_GRIEVANCE_DECAY] = spec.grievance_decay
    w_f[K.WF_PRESSURE_DECAY] = spec.pressure_decay
    w_f[K.WF_SATISFACTION] = spec.response_satisfaction
    delay = spec.perception_delay
    w_f[K.WF_PERC_A], w_f[K.WF_PERC_B], w_f[K.WF_PERC_CAP] = delay.a, delay.b, delay.cap
    dyad_of = np.full((max(n, 1), max(n, 1)), -1, dtype=np.int64)
    for (a, b), d in spec.dyad_index.items():
        dyad_of[a, b] = dyad_of[b, a] = d
    grievance = np.zeros(n * n, dtype=np.float64)
    for holder, against, amount in spec.initial_grievance:
        grievance[holder * n + against] = amount  # a later entry for the pair replaces one
    measures = np.array(spec.initial_measures, dtype=np.int64).reshape(-1, 3)
    return {
        "w_i": w_i,
        "w_f": w_f,
        "dyad_of": dyad_of,
        "dyad_ab": np.array(spec.dyads, dtype=np.int64).reshape(-1, 2),
        "init_tension": np.array(spec.initial_tension, dtype=np.float64).reshape(-1),
        "init_grievance": grievance,
        "init_measures": measures,
        "stakes0": np.array([a.stakes for a in spec.actors], dtype=np.float64).reshape(-1),
    }


def _levers(spec: RunSpec, ragged: Ragged) -> dict[str, np.ndarray]:
    n = len(spec.actors)
    lv_i = np.zeros((len(spec.levers), K.NLI), dtype=np.int64)
    lv_f = np.zeros((len(spec.levers), K.NLF), dtype=np.float64)
    pain = np.zeros(len(spec.levers) * n, dtype=np.float64)
    for lv in spec.levers:
        i = lv.index
        lv_i[i, :K.LI_LIFTS] = (
            lv.actor, lv.direction, lv.rung, lv.backing, lv.max_uses, lv.req_rung,
            lv.req_their_rung, lv.tightens, whole_lever(lv), lv.decision.kind,
        )  # fmt: skip
        lv_i[i, K.LI_LIFTS : K.LI_LIFTS_END + 1] = ragged.add(lv.lifts)
        lv_i[i, K.LI_UNUSED : K.LI_UNUSED_END + 1] = ragged.add(lv.req_unused)
        lv_i[i, K.LI_USED : K.LI_USED_END + 1] = ragged.add(lv.req_used)
        lv_i[i, K.LI_AFTER : K.LI_AFTER_END + 1] = ragged.add(lv.req_after)
        lv_i[i, K.LI_RECIP : K.LI_RECIP_END + 1] = ragged.add(lv.reciprocates)
        lv_i[i, K.LI_STOCKD : K.LI_STOCKD_END + 1] = ragged.add(lv.stock_deltas)
        lv_i[i, K.LI_CHECK] = availability_check(lv)
        lv_f[i] = (
            lv.magnitude, lv.risk, lv.cost_upfront, lv.cost_per_day, lv.economic, lv.political,
            lv.tension, lv.grievance_relief, lv.backing_level, lv.onset, lv.duration, lv.stock,
            lv.cooldown, lv.potency_decay, lv.req_tension, lv.req_after_days, lv.cost_audience,
            lv.standing, lv.value, lv.hazard_weight, move_hostility(spec, lv), lv.decision.a,
            lv.decision.b, lv.decision.cap,
        )  # fmt: skip
        for target in range(n):
            pain[i * n + target] = _pain_share(spec, lv, target)
    return {"lv_i": lv_i, "lv_f": lv_f, "pain_share": pain}


def _pain_share(spec: RunSpec, lever: LeverSpec, target: int) -> float:
    """``economic * share``: a lever's pain per day on a target at full potency.

    The share is that of a dependence of the target on the user in the lever's sector, or
    else the target's exposure to the user; the potency at imposition multiplies it.
    """
    if lever.economic == 0.0:
        return 0.0
    share = spec.dependence.get((lever.sector or "", target, lever.actor))
    if share is None:
        share = spec.actors[target].exposure[lever.actor]
    return lever.economic * share


def _options(spec: RunSpec, ragged: Ragged) -> dict[str, np.ndarray]:
    """Every lever on every other actor (a prompt may offer one outside its targets)."""
    n = len(spec.actors)
    op_i = np.zeros((len(spec.levers) * n, K.NOI), dtype=np.int64)
    op_f = np.zeros((len(spec.levers) * n, K.NOF), dtype=np.float64)
    for lv in spec.levers:
        for target in range(n):
            o = lv.index * n + target
            op_i[o, K.OI_LEVER], op_i[o, K.OI_TARGET] = lv.index, target
            if target == lv.actor:
                continue
            _option(spec, lv, target, op_i[o], op_f[o], ragged)
    return {"op_i": op_i, "op_f": op_f}


def _option(
    spec: RunSpec, lv: LeverSpec, target: int, ints: np.ndarray, floats: np.ndarray, ragged: Ragged
) -> None:
    """The static parts of one option (as ``Option.__init__`` computed them)."""
    a, escalate = lv.actor, lv.direction == ESCALATE
    hostility = move_hostility(spec, lv)
    scale = spec.hostility_scale
    ints[K.OI_DYAD], ints[K.OI_VALID] = spec.dyad_of(a, target), 1
    ints[K.OI_FIXED] = lv.cost_per_day == 0.0
    floats[K.OF_SEVERITY] = lv.rung / max(1, spec.top_rung)
    floats[K.OF_RISK] = lv.risk if escalate else 0.0
    floats[K.OF_COMMITMENT] = max(
        (al.commitment for al in spec.alliances if al.patron == a and al.protege == target),
        default=0.0,
    )
    offends = [(k, w * scale) for k, w in lv.offends if k not in (a, target)]
    patrons = [
        (al.index, hostility)
        for al in spec.alliances
        if escalate and al.protege == target and al.patron not in (a, target)
    ]
    deterrents = [
        (al.index, al.deterrence * al.commitment)
        for al in spec.alliances
        if escalate and lv.rung >= al.deters_from and al.protege == target and al.patron != a
    ]
    rivals = [spec.dyad_of(target, k) for k in range(len(spec.actors)) if k not in (a, target)]
    ints[K.OI_OFFENDS : K.OI_OFFENDS_END + 1] = ragged.add(offends)
    ints[K.OI_PATRONS : K.OI_PATRONS_END + 1] = ragged.add(patrons)
    ints[K.OI_DETER : K.OI_DETER_END + 1] = ragged.add(deterrents)
    ints[K.OI_RIVALS : K.OI_RIVALS_END + 1] = ragged.add(rivals)
    ints[K.OI_HEARD : K.OI_HEARD_END + 1] = ragged.add(_heard_terms(spec, lv, target))


def _heard_terms(spec: RunSpec, lv: LeverSpec, target: int) -> list[tuple[int, float]]:
    """Who besides the target takes offence at the move, as terms the kernel sums in order.

    The engine's ``offended`` built a dict: the lever's ``offends`` weights first (times
    the hostility scale), then, for a hostile move, each patron of the target adding its
    share of the move's hostility (which depends on the alliance's backing at the time).
    A term ``(k, w)`` with ``k >= 0`` starts third party ``k`` at weight ``w``; a term
    ``(-1 - alliance, 0)`` adds that alliance's share to the party last started. Parties
    are in the dict's order; the user and the target are left out, as the dict's pops did.
    """
    order: list[int] = []
    base: dict[int, float] = {}
    for k, w in lv.offends:
        if k not in base:
            order.append(k)
        base[k] = spec.hostility_scale * w
    shares: dict[int, list[int]] = {}
    if lv.direction == ESCALATE:
        for al in spec.alliances:
            if al.protege == target and al.patron != lv.actor:
                if al.patron not in base:
                    order.append(al.patron)
                    base[al.patron] = 0.0
                shares.setdefault(al.patron, []).append(al.index)
    terms: list[tuple[int, float]] = []
    for k in order:
        if k in (lv.actor, target):
            continue
        terms.append((k, base[k]))
        terms.extend((-1 - al, 0.0) for al in shares.get(k, []))
    return terms


def _actors(spec: RunSpec, ragged: Ragged) -> dict[str, np.ndarray]:
    n = len(spec.actors)
    ac_i = np.zeros((n, K.NAI), dtype=np.int64)
    ac_f = np.zeros((n, K.NAF), dtype=np.float64)
    stock = 0
    for a in spec.actors:
        options = [
            lv.index * n + t
            for lv in (spec.levers[i] for i in a.levers)
            if lv.choosable
            for t in lv.targets
        ]
        boosts = [(al.index, al.resolve_boost) for al in spec.alliances if al.protege == a.index]
        d = a.response_delay
        ac_i[a.index, K.AI_RESP_KIND] = d.kind
        ac_i[a.index, K.AI_OPTIONS : K.AI_OPTIONS_END + 1] = ragged.add(options)
        ac_i[a.index, K.AI_BOOSTS : K.AI_BOOSTS_END + 1] = ragged.add(boosts)
        ac_i[a.index, K.AI_STOCKS], ac_i[a.index, K.AI_STOCKS_END] = (
            stock,
            stock + len(a.stock_names),
        )
        stock += len(a.stock_names)
        ac_f[a.index] = (
            a.resolve, a.risk_tolerance, a.domestic_pressure, a.review_every, d.a, d.b, d.cap
        )  # fmt: skip
    initial = [x for a in spec.actors for x in a.stock_initial]
    return {"ac_i": ac_i, "ac_f": ac_f, "stocks0": np.array(initial, dtype=np.float64)}


def _alliances(spec: RunSpec) -> dict[str, np.ndarray]:
    al_i = np.zeros((len(spec.alliances), K.NALI), dtype=np.int64)
    al_f = np.zeros((len(spec.alliances), K.NALF), dtype=np.float64)
    for al in spec.alliances:
        al_i[al.index] = (al.patron, al.protege)
        al_f[al.index] = (al.commitment, al.backing, al.offense_share)
    return {"al_i": al_i, "al_f": al_f}


def _outcomes(spec: RunSpec, ragged: Ragged) -> dict[str, np.ndarray]:
    enders = [o for o in spec.outcomes if o.ends_run]
    en_i = np.zeros((len(enders), K.NEI), dtype=np.int64)
    for e, o in enumerate(enders):
        en_i[e, : K.EI_MOVES] = (o.dyad, o.peak_lo, o.peak_hi, o.final_lo, o.final_hi)
        en_i[e, K.EI_MOVES : K.EI_MOVES_END + 1] = ragged.add(sorted(o.moves))
    return {"en_i": en_i}


def _conditions(spec: RunSpec) -> dict[ConditionSpec, int]:
    """Every condition of every event, numbered (equal conditions share a number)."""
    out: dict[ConditionSpec, int] = {}
    for event in spec.events:
        for cond in (*event.cancel_if, *event.postpone_when):
            out.setdefault(cond, len(out))
        if event.exposure is not None:
            out.setdefault(event.exposure, len(out))
    return out


def _condition_arrays(conditions: dict[ConditionSpec, int], ragged: Ragged) -> dict[str, Any]:
    cd_i = np.zeros((len(conditions), K.NCI), dtype=np.int64)
    cd_f = np.zeros((len(conditions), K.NCF), dtype=np.float64)
    for cond, c in conditions.items():
        cd_i[c, : K.CI_MOVES] = (cond.dyad, cond.rung_at_least)
        cd_i[c, K.CI_MOVES : K.CI_MOVES_END + 1] = ragged.add(cond.moves)
        cd_f[c] = (cond.tension_at_least, cond.within)
    return {"cd_i": cd_i, "cd_f": cd_f}


def _watchers(spec: RunSpec) -> tuple[list[int], list[tuple[int, int]]]:
    """The stochastic events whose rate follows exposure: ids per event, (dyad, rung) each."""
    ids: list[int] = []
    rows: list[tuple[int, int]] = []
    for event in spec.events:
        if event.scheduled or event.exposure is None:
            ids.append(-1)
            continue
        ids.append(len(rows))
        rows.append((event.exposure.dyad, event.exposure.rung_at_least))
    return ids, rows


# --- a spec ready to run ---------------------------------------------------------------------


class Compiled:
    """A spec's arrays as the kernels read them, its stream keys, and reusable run states."""

    def __init__(self, spec: RunSpec) -> None:
        from sim.engine.streams import stream_key

        self.spec = spec
        self.kernels = [a.policy_cls.kernel() for a in spec.actors]
        params = np.zeros((len(spec.actors), K.POLICY_PARAMS))
        for a in spec.actors:
            values = a.policy_cls.kernel_params(a.policy_params) if self.kernels[a.index] else ()
            params[a.index, : len(values)] = values
        self.tables = build(spec, [k is not None for k in self.kernels], params)
        self.ref = K.make_tables(*(self.tables.arrays[name] for name in K.TABLE_FIELDS))
        purposes = ["world", *(f"actor:{a.id}" for a in spec.actors)]
        purposes += [f"event:{e.id}" for e in spec.events]
        self.purposes = tuple(purposes)  # the streams' names, by row
        self.keys = np.array([stream_key(p) for p in purposes], dtype=np.uint64)
        self.actor_ids = spec.actor_ids
        self.directions = [lv.direction for lv in spec.levers]
        self.rungs = [lv.rung for lv in spec.levers]
        self.sources = ["policy", *(f"event:{e.id}" for e in spec.events)]
        self._free: list[Any] = []
        self._prompts: dict[tuple[int, ...], np.ndarray] = {}

    def prompt_levers(self, levers: tuple[int, ...]) -> np.ndarray:
        """A prompt's levers as the int64 array the decision kernels take (made once)."""
        array = self._prompts.get(levers)
        if array is None:
            array = self._prompts[levers] = np.array(levers, dtype=np.int64)
        return array

    def acquire(self) -> tuple[Any, tuple[np.ndarray, ...]]:
        """A run state not in use, and the arrays of it that Python reads.

        A new state is made when every one is in use (threads, or a run inside a run).
        """
        try:
            return self._free.pop()
        except IndexError:
            state = K.new_state(self.ref)
            return state, K.handles(state)

    def release(self, state: Any, handles: tuple[np.ndarray, ...]) -> None:
        """Give a state back once its run is recorded."""
        if len(self._free) < 4:
            self._free.append((state, handles))


_COMPILED: dict[int, tuple[RunSpec, Compiled]] = {}


def compiled(spec: RunSpec) -> Compiled:
    """The arrays of a spec, built once (the entry holds the spec, so its id is not reused)."""
    entry = _COMPILED.get(id(spec))
    if entry is None or entry[0] is not spec:
        if len(_COMPILED) >= 8:
            _COMPILED.clear()
        entry = _COMPILED[id(spec)] = (spec, Compiled(spec))
    return entry[1]
