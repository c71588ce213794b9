"""Cross-reference checks of a scenario: every id it names must exist and fit.

Field types and ranges are checked by pydantic; this module checks what a single field
cannot know: that a lever's target is an actor, that an event's date lies inside the
horizon, that a rung is on the ladder. Each problem is reported with its dotted path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from pydantic import ValidationError

from sim.errors import closest_names

if TYPE_CHECKING:
    from sim.scenario.schema import EventCondition, Scenario

Loc = tuple[str | int, ...]


class ReferenceProblem(Exception):
    """A scenario names something that does not exist or does not fit; ``loc`` says where."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


def _fail(loc: Loc, message: str) -> None:
    raise ReferenceProblem(loc, message)


def _unique(items: Iterable[str], loc: Loc, what: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item in seen:
            _fail((*loc, i, "id"), f"duplicate {what} id '{item}'")
        seen.add(item)


def _known(name: str, known: Iterable[str], loc: Loc, what: str) -> None:
    options = sorted(known)
    if name not in options:
        close = closest_names(name, options)
        hint = f"; closest: {', '.join(close)}" if close else ""
        _fail(loc, f"unknown {what} '{name}'{hint}; expected one of {', '.join(options)}")


#: Names the results give columns of their own: an actor, lever or event with one of these
#: ids would share a column name with them (an actor ``total`` made the runs table's
#: ``rivera_total`` its score plus the run's total, and its own column went missing).
RESERVED_IDS = frozenset({"index", "total"})


def _not_reserved(ident: str, loc: Loc, what: str) -> None:
    if ident in RESERVED_IDS:
        _fail(
            loc,
            f"'{ident}' is reserved: the results use it for a column of their own "
            f"(reserved ids: {', '.join(sorted(RESERVED_IDS))}); give this {what} another id",
        )


def _check_reserved(s: Scenario) -> None:
    for i, actor in enumerate(s.actors):
        _not_reserved(actor.id, ("actors", i, "id"), "actor")
        for j, lever in enumerate(actor.levers):
            _not_reserved(lever.id, ("actors", i, "levers", j, "id"), "lever")
    for i, event in enumerate(s.events):
        _not_reserved(event.id, ("events", i, "id"), "event")


def check_references(s: Scenario) -> None:
    """Raise :class:`ReferenceProblem` at the first reference that does not resolve."""
    _check_reserved(s)
    _unique((a.id for a in s.actors), ("actors",), "actor")
    _unique((e.id for e in s.events), ("events",), "event")
    _unique((o.id for o in s.outcomes.classes), ("outcomes", "classes"), "outcome")
    _unique((r.id for r in s.relations if r.kind == "alliance"), ("relations",), "relation")
    _check_actors(s)
    _check_relations(s)
    _check_initial(s)
    _check_in_force(s)
    _check_events(s)
    _check_outcomes(s)


def _rung_ok(s: Scenario, rung: int | None, loc: Loc) -> None:
    if rung is not None and rung >= len(s.ladder):
        _fail(loc, f"rung {rung} is not on the ladder (0..{len(s.ladder) - 1})")


def _check_actors(s: Scenario) -> None:
    actor_ids = [a.id for a in s.actors]
    alliances = [r.id for r in s.relations if r.kind == "alliance"]
    for i, actor in enumerate(s.actors):
        loc: Loc = ("actors", i)
        _unique((lv.id for lv in actor.levers), (*loc, "levers"), "lever")
        for field in ("exposure", "stakes"):
            for key in getattr(actor.attributes, field):
                _known(key, actor_ids, (*loc, "attributes", field, key), "actor")
        own = [lv.id for lv in actor.levers]
        _check_policy(actor.policy.name, actor.policy.params, (*loc, "policy"), own, actor_ids)
        for j, lever in enumerate(actor.levers):
            _check_lever(s, lever, (*loc, "levers", j), actor.id, actor_ids, own, alliances)


def _check_lever(
    s: Scenario,
    lever,
    loc: Loc,
    user: str,
    actor_ids: list[str],
    own: list[str],
    alliances: list[str],
) -> None:
    _rung_ok(s, lever.rung, (*loc, "rung"))
    _rung_ok(s, lever.requires.dyad_rung_at_least, (*loc, "requires", "dyad_rung_at_least"))
    for k, target in enumerate(lever.targets):
        _known(target, actor_ids, (*loc, "targets", k), "actor")
        if target == user:
            _fail((*loc, "targets", k), f"an actor cannot target itself ('{user}')")
    for k, lifted in enumerate(lever.lifts):
        _known(lifted, own, (*loc, "lifts", k), f"lever of {user}")
    _check_tightens(s, lever, loc, user, own)
    _check_sector(s, lever, loc, user)
    _rung_ok(s, lever.requires.their_rung_at_least, (*loc, "requires", "their_rung_at_least"))
    refs: list[tuple[Loc, str]] = [
        ((*loc, "requires", "unused", k), ref) for k, ref in enumerate(lever.requires.unused)
    ]
    refs += [((*loc, "requires", "used", k), ref) for k, ref in enumerate(lever.requires.used)]
    refs += [((*loc, "reciprocates", k), ref) for k, ref in enumerate(lever.reciprocates)]
    if lever.requires.after is not None:
        after = lever.requires.after.levers
        refs += [((*loc, "requires", "after", "levers", k), ref) for k, ref in enumerate(after)]
    for where, ref in refs:
        _check_lever_ref(s, ref, where, user, own)
    for key in lever.offends:
        _known(key, actor_ids, (*loc, "offends", key), "actor")
    stocks = next(a.stocks for a in s.actors if a.id == user)
    for name in lever.effect.stock:
        _known(name, stocks, (*loc, "effect", "stock", name), f"stock of {user}")
    if lever.effect.backing is not None:
        _known(lever.effect.backing, alliances, (*loc, "effect", "backing"), "alliance")
    if lever.direction == "deescalate" and lever.goldstein < 0:
        _fail((*loc, "goldstein"), "a de-escalating move needs a Goldstein score >= 0")


def _check_lever_ref(s: Scenario, ref: str, where: Loc, user: str, own: list[str]) -> None:
    """A lever reference: the user's own lever ('retract') or another's ('JPN.retract')."""
    holder, _, name = ref.rpartition(".")
    if holder:
        _known(holder, [a.id for a in s.actors], where, "actor")
        _known(name, [lv.id for lv in s.actor(holder).levers], where, f"lever of {holder}")
    else:
        _known(name, own, where, f"lever of {user}")


def _check_sector(s: Scenario, lever, loc: Loc, user: str) -> None:  # noqa: ANN001
    """A lever's sector must be one its user supplies: else its pain silently uses exposure."""
    if lever.sector is None:
        return
    supplied = sorted(
        {r.sector for r in s.relations if r.kind == "dependence" and r.supplier == user}
    )
    if lever.sector not in supplied:
        close = closest_names(lever.sector, supplied)
        hint = f"; closest: {', '.join(close)}" if close else ""
        listed = ", ".join(supplied) or "none"
        _fail(
            (*loc, "sector"),
            f"sector '{lever.sector}' is in no dependence on {user}{hint} (sectors of the "
            f"dependences on {user}: {listed}); without one its pain falls back to trade exposure",
        )


def _check_tightens(s: Scenario, lever, loc: Loc, user: str, own: list[str]) -> None:  # noqa: ANN001
    """A step up replaces a hostile measure of the same actor that can be in force."""
    if lever.tightens is None:
        return
    where = (*loc, "tightens")
    _known(lever.tightens, own, where, f"lever of {user}")
    lower = next(lv for lv in s.actor(user).levers if lv.id == lever.tightens)
    if lower.id == lever.id:
        _fail(where, "a lever cannot tighten itself")
    if lever.direction != "escalate" or lower.direction != "escalate":
        _fail(where, "only a hostile measure can tighten another hostile measure")
    if lower.delays.duration_days == 0:
        _fail(where, f"'{lower.id}' leaves nothing in force (duration_days 0) to tighten")
    if not set(lever.targets) <= set(lower.targets):
        _fail(where, f"every target of this lever must be a target of '{lower.id}'")


def _check_policy(name: str, params: dict, loc: Loc, levers: list[str], actors: list[str]) -> None:
    import sim.policies  # noqa: F401 - registers the built-in policies
    from sim.engine.policy import policy_class

    try:
        cls = policy_class(name)
    except KeyError as err:
        _fail((*loc, "name"), str(err.args[0]))
        return
    try:
        validated = cls.Params.model_validate(params)
    except ValidationError as err:
        first = err.errors()[0]
        _fail((*loc, "params", *first["loc"]), first["msg"])
        return
    for where, message in cls.check_params(validated, set(levers), set(actors)):
        _fail((*loc, "params", *where), message)


def _check_relations(s: Scenario) -> None:
    actor_ids = [a.id for a in s.actors]
    for i, rel in enumerate(s.relations):
        loc: Loc = ("relations", i)
        ends = ("patron", "protege") if rel.kind == "alliance" else ("dependent", "supplier")
        for end in ends:
            _known(getattr(rel, end), actor_ids, (*loc, end), "actor")
        if getattr(rel, ends[0]) == getattr(rel, ends[1]):
            _fail((*loc, ends[1]), f"{ends[0]} and {ends[1]} must differ")
        if rel.kind == "alliance":
            _rung_ok(s, rel.deters_from_rung, (*loc, "deters_from_rung"))


def _check_initial(s: Scenario) -> None:
    actor_ids = [a.id for a in s.actors]
    for i, dyad in enumerate(s.initial):
        _check_pair(dyad.pair, actor_ids, ("initial", i, "pair"))
        for key in dyad.grievance:
            if key not in dyad.pair:
                _fail(("initial", i, "grievance", key), f"'{key}' is not a member of {dyad.pair}")


def _check_in_force(s: Scenario) -> None:
    """Measures in force on the start date name an actor's lasting hostile lever and a target."""
    actor_ids = [a.id for a in s.actors]
    seen: set[tuple[str, str, str]] = set()
    for i, m in enumerate(s.in_force):
        loc: Loc = ("in_force", i)
        _known(m.actor, actor_ids, (*loc, "actor"), "actor")
        levers = {lv.id: lv for lv in s.actor(m.actor).levers}
        _known(m.lever, levers, (*loc, "lever"), f"lever of {m.actor}")
        lever = levers[m.lever]
        if m.target not in lever.targets:
            _fail((*loc, "target"), f"lever '{m.lever}' cannot target '{m.target}'")
        if lever.direction == "deescalate" or lever.delays.duration_days == 0:
            _fail((*loc, "lever"), f"'{m.lever}' is not a measure that stays in force")
        if (m.actor, m.lever, m.target) in seen:
            _fail(loc, f"{m.actor}.{m.lever} on {m.target} is listed twice")
        seen.add((m.actor, m.lever, m.target))


def _check_pair(pair: tuple[str, str], actor_ids: list[str], loc: Loc) -> None:
    for k, member in enumerate(pair):
        _known(member, actor_ids, (*loc, k), "actor")
    if pair[0] == pair[1]:
        _fail(loc, "a dyad needs two different actors")


def _check_date(s: Scenario, date, loc: Loc) -> None:
    if date is not None and not s.start <= date <= s.end_date:
        _fail(loc, f"{date} lies outside the horizon {s.start} .. {s.end_date}")


def _check_events(s: Scenario) -> None:
    for i, event in enumerate(s.events):
        loc: Loc = ("events", i)
        if event.kind == "scheduled":
            _check_date(s, event.date, (*loc, "date"))
            for k, cond in enumerate(event.cancel_if):
                _check_condition(s, cond, (*loc, "cancel_if", k))
            if event.postpone is not None:
                for k, cond in enumerate(event.postpone.when):
                    _check_condition(s, cond, (*loc, "postpone", "when", k))
            if event.stake_boost is not None:
                _check_parties(s, event.stake_boost.actors, (*loc, "stake_boost", "actors"))
            _check_effects(s, event.on_cancel, (*loc, "on_cancel"))
        else:
            _check_date(s, event.window_start, (*loc, "window_start"))
            _check_date(s, event.window_end, (*loc, "window_end"))
            if event.window_start and event.window_end and event.window_end < event.window_start:
                _fail((*loc, "window_end"), "the window ends before it starts")
            if event.exposure is not None:
                _check_condition(s, event.exposure, (*loc, "exposure"))
                exp = event.exposure
                if (
                    exp.dyad is None
                    or exp.rung_at_least is None
                    or exp.tension_at_least is not None
                    or exp.moves
                ):
                    _fail(
                        (*loc, "exposure"),
                        "exposure needs a dyad and rung_at_least "
                        "(the rate counts the measures in force at or above it), "
                        "and no tension or moves",
                    )
        _check_effects(s, event.effects, (*loc, "effects"))


def _check_condition(s: Scenario, cond: EventCondition, loc: Loc) -> None:
    if cond.dyad is not None:
        _check_pair(cond.dyad, [a.id for a in s.actors], (*loc, "dyad"))
    _rung_ok(s, cond.rung_at_least, (*loc, "rung_at_least"))
    for k, ref in enumerate(cond.moves):
        _check_move_ref(s, ref, (*loc, "moves", k))
    if cond.within_days is not None and not cond.moves:
        _fail((*loc, "within_days"), "within_days needs moves to look back for")


def _check_parties(s: Scenario, parties: list[str], loc: Loc) -> None:
    for k, party in enumerate(parties):
        _known(party, [a.id for a in s.actors], (*loc, k), "actor")
    if len(set(parties)) != len(parties):
        _fail(loc, "an actor is listed twice")


def _check_effects(s: Scenario, effects: list, loc: Loc) -> None:
    actor_ids = [a.id for a in s.actors]
    for k, effect in enumerate(effects):
        eloc: Loc = (*loc, k)
        if effect.type == "tension":
            _check_pair(effect.dyad, actor_ids, (*eloc, "dyad"))
            continue
        _known(effect.actor, actor_ids, (*eloc, "actor"), "actor")
        if effect.type == "attribute":
            continue
        levers = {lv.id: lv for lv in s.actor(effect.actor).levers}
        names = [effect.lever] if effect.type == "move" else effect.levers
        for lever_id in names:
            _known(
                lever_id,
                levers,
                (*eloc, "lever" if effect.type == "move" else "levers"),
                f"lever of {effect.actor}",
            )
            if effect.target not in levers[lever_id].targets:
                _fail((*eloc, "target"), f"lever '{lever_id}' cannot target '{effect.target}'")


def _check_move_ref(s: Scenario, ref: str, loc: Loc) -> None:
    actor_id, lever_id = ref.split(".", 1)
    _known(actor_id, [a.id for a in s.actors], loc, "actor")
    _known(lever_id, [lv.id for lv in s.actor(actor_id).levers], loc, f"lever of {actor_id}")


def _check_outcomes(s: Scenario) -> None:
    _rung_ok(s, s.military_rung, ("military_rung",))
    classes = s.outcomes.classes
    for i, cls in enumerate(classes):
        loc: Loc = ("outcomes", "classes", i, "when")
        w = cls.when
        for field in ("peak_at_least", "peak_at_most", "final_at_least", "final_at_most"):
            _rung_ok(s, getattr(w, field), (*loc, field))
        if w.dyad is not None:
            _check_pair(w.dyad, [a.id for a in s.actors], (*loc, "dyad"))
        for k, ref in enumerate(w.moves):
            _check_move_ref(s, ref, (*loc, "moves", k))
        if cls.ends_run and w == type(w)():
            _fail(loc, "a class that ends the run needs a condition, or every run ends at once")
    if classes[-1].when != type(classes[-1].when)():
        _fail(
            ("outcomes", "classes", len(classes) - 1, "when"),
            "the last outcome class must have no condition, so that every run is classified",
        )
