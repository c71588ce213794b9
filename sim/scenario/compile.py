"""Compile a validated :class:`Scenario` into the plain :class:`RunSpec` the engine reads."""

from __future__ import annotations

import math

from sim.engine.policy import policy_class
from sim.engine.spec import (
    DELAY_KINDS,
    DIRECTIONS,
    ActorSpec,
    AllianceSpec,
    ConditionSpec,
    DelaySpec,
    EffectSpec,
    EventSpec,
    LeverSpec,
    OutcomeSpec,
    RunSpec,
)
from sim.scenario.schema import Actor, Delay, EventCondition, Lever, Scenario

_TENSION_PER_GOLDSTEIN = 0.025  # a -8 move adds 0.2 tension: a judgment, see docs/model.md


def _half_life(days: float) -> float:
    return math.log(2.0) / days


def delay_spec(d: Delay) -> DelaySpec:
    """The engine's form of a delay."""
    params = {
        "fixed": (d.days, 0.0),
        "lognormal": (d.median, d.sigma),
        "uniform": (d.low, d.high),
        "exponential": (d.mean, 0.0),
    }[d.dist]
    return DelaySpec(DELAY_KINDS[d.dist], *params, cap=d.cap)


class _Index:
    """Name-to-index maps for one scenario."""

    def __init__(self, s: Scenario) -> None:
        self.actor = {a.id: i for i, a in enumerate(s.actors)}
        self.lever: dict[tuple[str, str], int] = {}
        for a in s.actors:
            for lv in a.levers:
                self.lever[(a.id, lv.id)] = len(self.lever)
        self.alliance = {
            r.id: i for i, r in enumerate(r for r in s.relations if r.kind == "alliance")
        }
        n = len(s.actors)
        self.dyads = tuple((i, j) for i in range(n) for j in range(i + 1, n))
        self.dyad = {pair: k for k, pair in enumerate(self.dyads)}

    def dyad_of(self, a: str, b: str) -> int:
        i, j = sorted((self.actor[a], self.actor[b]))
        return self.dyad[(i, j)]


def compile_scenario(s: Scenario) -> RunSpec:
    """Turn a validated scenario into a run spec (ids become indices, rates per day)."""
    import sim.policies  # noqa: F401 - registers the built-in policies

    idx = _Index(s)
    levers = tuple(_lever(s, a, lv, idx) for a in s.actors for lv in a.levers)
    return RunSpec(
        name=s.name,
        title=s.title,
        start=s.start,
        days=s.days,
        rung_names=tuple(r.name for r in s.ladder),
        military_rung=s.military_rung,
        actors=tuple(_actor(s, a, idx) for a in s.actors),
        levers=levers,
        alliances=tuple(_alliances(s, idx)),
        dependence={
            (r.sector, idx.actor[r.dependent], idx.actor[r.supplier]): r.share
            for r in s.relations
            if r.kind == "dependence"
        },
        dyads=idx.dyads,
        dyad_index=idx.dyad,
        events=tuple(_event(s, e, idx) for e in s.events),
        outcomes=tuple(_outcome(s, o, idx) for o in s.outcomes.classes),
        initial_tension=_initial_tension(s, idx),
        initial_grievance=_initial_grievance(s, idx),
        initial_measures=tuple(
            (idx.lever[(m.actor, m.lever)], idx.actor[m.target], m.holds_rung) for m in s.in_force
        ),
        tension_decay=_half_life(s.dynamics.tension_half_life_days),
        grievance_decay=_half_life(s.dynamics.grievance_half_life_days),
        pressure_decay=_half_life(s.dynamics.pressure_half_life_days),
        perception_delay=delay_spec(s.dynamics.perception_delay),
        hostility_scale=s.dynamics.hostility_scale,
        hostility_exponent=s.dynamics.hostility_exponent,
        response_satisfaction=s.dynamics.response_satisfaction,
        cost_unit=s.cost_unit,
    )


def _by_actor(values: dict[str, float], idx: _Index) -> tuple[float, ...]:
    out = [0.0] * len(idx.actor)
    for key, value in values.items():
        out[idx.actor[key]] = value
    return tuple(out)


def _actor(s: Scenario, a: Actor, idx: _Index) -> ActorSpec:
    cls = policy_class(a.policy.name)
    return ActorSpec(
        index=idx.actor[a.id],
        id=a.id,
        name=a.name,
        resolve=a.attributes.resolve,
        risk_tolerance=a.attributes.risk_tolerance,
        domestic_pressure=a.attributes.domestic_pressure,
        exposure=_by_actor(a.attributes.exposure, idx),
        stakes=_by_actor(a.attributes.stakes, idx),
        policy_cls=cls,
        policy_params=cls.Params.model_validate(a.policy.params),
        response_delay=delay_spec(a.response_delay),
        review_every=a.review_every_days,
        levers=tuple(idx.lever[(a.id, lv.id)] for lv in a.levers),
        stock_names=tuple(a.stocks),
        stock_initial=tuple(a.stocks.values()),
    )


def _lever(s: Scenario, a: Actor, lv: Lever, idx: _Index) -> LeverSpec:
    tension = lv.effect.tension
    if tension is None:
        tension = -lv.goldstein * _TENSION_PER_GOLDSTEIN
    lim = lv.limits
    return LeverSpec(
        index=idx.lever[(a.id, lv.id)],
        id=lv.id,
        name=lv.name,
        actor=idx.actor[a.id],
        direction=DIRECTIONS[lv.direction],
        rung=lv.rung,
        cameo=lv.cameo,
        goldstein=lv.goldstein,
        magnitude=lv.magnitude,
        sector=lv.sector,
        risk=lv.risk if lv.risk is not None else (lv.rung / (len(s.ladder) - 1)) ** 2,
        targets=tuple(idx.actor[t] for t in lv.targets),
        cost_upfront=lv.cost.upfront,
        cost_per_day=lv.cost.per_day,
        economic=lv.effect.economic,
        political=lv.effect.political,
        tension=tension,
        grievance_relief=lv.effect.grievance_relief,
        backing=idx.alliance[lv.effect.backing] if lv.effect.backing else -1,
        decision=delay_spec(lv.delays.decision),
        onset=lv.delays.onset_days,
        duration=lv.delays.duration_days if lv.delays.duration_days is not None else math.inf,
        max_uses=lim.max_uses if lim.max_uses is not None else -1,
        stock=lim.stock if lim.stock is not None else math.inf,
        cooldown=lim.cooldown_days,
        potency_decay=lim.potency_decay,
        req_rung=lv.requires.dyad_rung_at_least
        if lv.requires.dyad_rung_at_least is not None
        else -1,
        req_tension=lv.requires.tension_at_least
        if lv.requires.tension_at_least is not None
        else -1.0,
        lifts=tuple(idx.lever[(a.id, j)] for j in lv.lifts),
        stock_deltas=tuple((list(a.stocks).index(k), d) for k, d in lv.effect.stock.items()),
        offends=tuple((idx.actor[k], w) for k, w in lv.offends.items()),
        choosable=lv.choosable,
        req_unused=_refs(a.id, lv.requires.unused, idx),
        req_used=_refs(a.id, lv.requires.used, idx),
        req_their_rung=_or(lv.requires.their_rung_at_least, -1),
        req_after=_refs(a.id, lv.requires.after.levers, idx) if lv.requires.after else (),
        req_after_days=lv.requires.after.within_days if lv.requires.after else 0.0,
        tightens=idx.lever[(a.id, lv.tightens)] if lv.tightens else -1,
        reciprocates=_refs(a.id, lv.reciprocates, idx),
        cost_audience=lv.cost.audience,
        standing=lv.effect.standing,
        backing_level=lv.effect.backing_level,
        value=lv.value,
        hazard_weight=lv.hazard_weight,
        hostility=_or(lv.effect.hostility, -1.0),
    )


def _or(value, default):  # noqa: ANN001, ANN202
    return default if value is None else value


def _refs(actor: str, refs: list[str], idx: _Index) -> tuple[int, ...]:
    """Global lever indices of lever references made by ``actor``'s lever."""
    return tuple(idx.lever[_lever_key(actor, ref)] for ref in refs)


def _lever_key(actor: str, ref: str) -> tuple[str, str]:
    """Return the (actor, lever) key of a lever reference, own ('x') or qualified ('JPN.x')."""
    holder, _, name = ref.rpartition(".")
    return (holder or actor, name)


def _alliances(s: Scenario, idx: _Index) -> list[AllianceSpec]:
    alliances = [r for r in s.relations if r.kind == "alliance"]
    return [
        AllianceSpec(
            index=i,
            id=r.id,
            patron=idx.actor[r.patron],
            protege=idx.actor[r.protege],
            commitment=r.commitment,
            backing=r.public_backing,
            resolve_boost=r.resolve_boost,
            deterrence=r.deterrence,
            offense_share=r.offense_share,
            deters_from=_or(r.deters_from_rung, s.military_rung),
        )
        for i, r in enumerate(alliances)
    ]


def _day(s: Scenario, date) -> float:  # noqa: ANN001
    return float((date - s.start).days)


def _actor_lever(ref: str) -> tuple[str, str]:
    """An ``ACTOR.LEVER`` reference as its pair (the references check made it one)."""
    actor, lever = ref.split(".", 1)
    return actor, lever


def _condition(c: EventCondition, idx: _Index) -> ConditionSpec:
    return ConditionSpec(
        dyad=idx.dyad_of(*c.dyad) if c.dyad else -1,
        rung_at_least=c.rung_at_least if c.rung_at_least is not None else -1,
        tension_at_least=c.tension_at_least if c.tension_at_least is not None else -1.0,
        moves=tuple(idx.lever[_actor_lever(ref)] for ref in c.moves),
        within=_or(c.within_days, math.inf),
    )


def _effect(e, idx: _Index) -> EffectSpec:  # noqa: ANN001
    if e.type == "tension":
        return EffectSpec("tension", dyad=idx.dyad_of(*e.dyad), delta=e.delta)
    actor = idx.actor[e.actor]
    if e.type == "attribute":
        return EffectSpec("attribute", actor=actor, attribute=e.attribute, delta=e.delta)
    names = [e.lever] if e.type == "move" else e.levers
    return EffectSpec(
        e.type,
        actor=actor,
        target=idx.actor[e.target],
        levers=tuple(idx.lever[(e.actor, n)] for n in names),
        defer=_or(getattr(e, "defer_days", None), math.inf),
    )


def _event(s: Scenario, e, idx: _Index) -> EventSpec:  # noqa: ANN001
    effects = tuple(_effect(x, idx) for x in e.effects)
    if e.kind == "scheduled":
        post, boost = e.postpone, e.stake_boost
        return EventSpec(
            id=e.id,
            name=e.name or e.id,
            scheduled=True,
            day=_day(s, e.date),
            effects=effects,
            cancel_if=tuple(_condition(c, idx) for c in e.cancel_if),
            on_cancel=tuple(_effect(x, idx) for x in e.on_cancel),
            postpone_rate=post.rate_per_year / 365.25 if post else 0.0,
            postpone_when=tuple(_condition(c, idx) for c in post.when) if post else (),
            postpone_delay=delay_spec(post.delay) if post else None,
            postpone_max=post.max_times if post else 0,
            boost_actors=tuple(idx.actor[a] for a in boost.actors) if boost else (),
            boost_value=boost.value if boost else 0.0,
            boost_lead=boost.lead_days if boost else 0.0,
        )
    window = (
        _day(s, e.window_start) if e.window_start else 0.0,
        _day(s, e.window_end) if e.window_end else float(s.days),
    )
    return EventSpec(
        id=e.id,
        name=e.name or e.id,
        scheduled=False,
        day=0.0,
        effects=effects,
        rate_per_day=e.rate_per_year / 365.25,
        window=window,
        max_occurrences=e.max_occurrences if e.max_occurrences is not None else -1,
        exposure=_condition(e.exposure, idx) if e.exposure else None,
    )


def _outcome(s: Scenario, o, idx: _Index) -> OutcomeSpec:  # noqa: ANN001
    w, top = o.when, len(s.ladder) - 1

    def bound(value: int | None, default: int) -> int:
        return default if value is None else value

    return OutcomeSpec(
        id=o.id,
        label=o.label or o.id,
        dyad=idx.dyad_of(*w.dyad) if w.dyad else -1,
        peak_lo=bound(w.peak_at_least, 0),
        peak_hi=bound(w.peak_at_most, top),
        final_lo=bound(w.final_at_least, 0),
        final_hi=bound(w.final_at_most, top),
        ends_run=o.ends_run,
        moves=frozenset(idx.lever[tuple(ref.split(".", 1))] for ref in w.moves),
    )


def _initial_tension(s: Scenario, idx: _Index) -> tuple[float, ...]:
    out = [0.0] * len(idx.dyads)
    for d in s.initial:
        out[idx.dyad_of(*d.pair)] = d.tension
    return tuple(out)


def _initial_grievance(s: Scenario, idx: _Index) -> tuple[tuple[int, int, float], ...]:
    out = []
    for d in s.initial:
        for holder, amount in d.grievance.items():
            other = d.pair[1] if holder == d.pair[0] else d.pair[0]
            out.append((idx.actor[holder], idx.actor[other], amount))
    return tuple(out)
