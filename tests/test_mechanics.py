"""The mechanics that make coercion credible: each one on a small world, rule by rule.

Standing offences and grievance floors, easing that needs a concession (or costs face),
measures stepped up within a sector, answers that need a provocation, choices offered by a
pipeline and deferred, a patron that feels blows to its ally, and scheduled events that slip.
Each test drives a :class:`World` (or a whole run) directly, so that a broken rule fails here
with its name, not as a shifted ensemble figure.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.simulate import simulate, stream
from sim.engine.world import Fading, World
from sim.scenario import ScenarioError, compile_scenario
from sim.scenario.references import ReferenceProblem
from sim.scenario.schema import Scenario

LADDER = [
    {"name": n} for n in ("calm", "protest", "threat", "sanction", "embargo", "drill", "crisis")
]
WAIT = {"name": "scripted"}  # a policy that never moves unless scripted


def lever(id_: str, rung: int, goldstein: float, **extra: Any) -> dict[str, Any]:
    """A lever of the small worlds (CAMEO 163 for hostile moves, 085 for easing)."""
    cameo = extra.pop("cameo", "163" if goldstein < 0 else "085")
    base = {"id": id_, "name": id_, "rung": rung, "cameo": cameo, "goldstein": goldstein}
    base["targets"] = extra.pop("targets", ["B"])
    return {**base, **extra}


def world_doc(a_levers: list[dict], b_levers: list[dict], **extra: Any) -> dict[str, Any]:
    """Two actors (A coerces B) with scripted, motionless policies; zero perception delay."""
    doc = {
        "name": "mechanics",
        "title": "A small world for one rule",
        "start": "2025-01-01",
        "horizon_days": 200,
        "ladder": copy.deepcopy(LADDER),
        "military_rung": 5,
        "dynamics": {"perception_delay": {"dist": "fixed", "days": 0}},
        "outcomes": {"classes": [{"id": "crisis", "when": {"peak_at_least": 6}}, {"id": "rest"}]},
        "actors": [
            {"id": "A", "name": "Coercer", "policy": WAIT, "levers": a_levers},
            {"id": "B", "name": "Target", "policy": WAIT, "levers": b_levers},
        ],
    }
    doc.update(extra)
    return doc


def spec_of(doc: dict[str, Any]):  # noqa: ANN201
    return compile_scenario(Scenario.model_validate(doc))


def make_world(doc: dict[str, Any]) -> tuple[simpy.Environment, World, Any]:
    spec = spec_of(doc)
    env = simpy.Environment()
    return env, World(env, spec, np.random.default_rng(0)), spec


def idx(spec: Any, actor: str, lever_id: str) -> Any:
    a = spec.actor_ids.index(actor)
    return next(lv for lv in spec.levers if lv.actor == a and lv.id == lever_id)


STATEMENT = lever("statement", 2, -7.0, cameo="138", effect={"standing": 0.4},
                  delays={"duration_days": None}, choosable=False)  # fmt: skip
RETRACT = lever("retract", 0, 5.0, cameo="0832", direction="deescalate", targets=["A"],
                lifts=["statement"], effect={"grievance_relief": 0.9})  # fmt: skip


# --- standing offences --------------------------------------------------------------------


def test_a_standing_offence_keeps_the_grievance_at_its_floor_until_it_is_lifted() -> None:
    """While the statement stands the offended grievance fades to 0.4, not to 0; then to 0."""
    statement = {**STATEMENT, "targets": ["A"]}
    env, world, spec = make_world(world_doc([], [statement, RETRACT]))
    a, b = spec.actor_ids.index("A"), spec.actor_ids.index("B")
    world.play(idx(spec, "B", "statement"), a, "test")
    env.run(until=1)
    grievance = world.grievance[a][b]
    assert grievance.at(env.now) > 0.4
    env.run(until=400)
    assert grievance.at(env.now) == pytest.approx(0.4, abs=1e-6)  # a year on: at the floor
    assert grievance.at(env.now) >= 0.4
    world.play(idx(spec, "B", "retract"), a, "test")
    env.run(until=401)
    assert grievance.at(env.now) < 0.05  # the retraction lifted it and relieved the rest
    env.run(until=600)
    assert grievance.at(env.now) < 0.01


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 50),
            st.sampled_from(["add", "saturate", "scale", "floor"]),
            st.floats(-1, 1),
        ),
        max_size=25,
    )
)
def test_a_fading_quantity_never_goes_below_its_floor(steps: list) -> None:  # noqa: ANN001
    value, now = Fading(0.3, math.log(2) / 10), 0.0
    for gap, op, x in steps:
        now += gap
        if op == "add":
            value.add(now, x)
        elif op == "saturate":
            value.saturate(now, abs(x))
        elif op == "scale":
            value.scale(now, abs(x))
        else:
            value.set_floor(now, abs(x))
        for later in (now, now + 1.0, now + 1e6):
            assert value.at(later) >= value.floor - 1e-12


# --- easing needs a concession, or costs face ----------------------------------------------


def easing_world() -> tuple[simpy.Environment, World, Any]:
    ban = lever("ban", 3, -8.0, delays={"duration_days": None})
    lift_formal = lever("lift_ban", 0, 7.0, direction="deescalate", lifts=["ban"],
                        requires={"used": ["B.retract"]})  # fmt: skip
    advisory = lever("advisory", 2, -4.0, cameo="160", delays={"duration_days": None})
    lift_informal = lever("lift_advisory", 0, 7.0, direction="deescalate", lifts=["advisory"],
                          reciprocates=["B.retract"], cost={"audience": 2.0})  # fmt: skip
    a_levers = [ban, lift_formal, advisory, lift_informal]
    return make_world(world_doc(a_levers, [{**STATEMENT, "targets": ["A"]}, RETRACT]))


def test_lifting_a_ban_needs_the_concession_it_was_imposed_for() -> None:
    env, world, spec = easing_world()
    a, b = (spec.actor_ids.index(x) for x in "AB")
    world.play(idx(spec, "A", "ban"), b, "test")
    lift = idx(spec, "A", "lift_ban")
    assert not world.available(lift, b)  # the ban is in force, but Japan has not retracted
    world.play(idx(spec, "B", "statement"), a, "test")
    world.play(idx(spec, "B", "retract"), a, "test")
    assert world.available(lift, b)
    world.play(lift, b, "test")
    assert world.dyad_rung[spec.dyad_of(a, b)] == 0


def test_backing_down_for_nothing_costs_face_and_after_a_concession_it_does_not() -> None:
    for conceded, audience in ((False, 2.0), (True, 0.0)):
        env, world, spec = easing_world()
        a, b = (spec.actor_ids.index(x) for x in "AB")
        world.play(idx(spec, "A", "advisory"), b, "test")
        if conceded:
            world.play(idx(spec, "B", "statement"), a, "test")
            world.play(idx(spec, "B", "retract"), a, "test")
        before = world.costs[a]
        world.play(idx(spec, "A", "lift_advisory"), b, "test")
        assert world.costs[a] - before == pytest.approx(audience)


# --- measures that tighten ------------------------------------------------------------------


def tightening_world() -> tuple[simpy.Environment, World, Any]:
    advisory = lever("advisory", 2, -4.0, cameo="160", sector="tourism",
                     effect={"economic": 1.0}, delays={"duration_days": None})  # fmt: skip
    tour_ban = lever("tour_ban", 3, -8.0, sector="tourism", tightens="advisory",
                     effect={"economic": 2.0}, delays={"duration_days": None})  # fmt: skip
    ease = lever("ease", 0, 7.0, direction="deescalate", lifts=["advisory", "tour_ban"])
    doc = world_doc([advisory, tour_ban, ease], [])
    doc["relations"] = [
        {"kind": "dependence", "dependent": "B", "supplier": "A", "sector": "tourism", "share": 0.5}
    ]
    return make_world(doc)


def test_a_tightened_measure_needs_the_lower_step_and_replaces_it() -> None:
    env, world, spec = tightening_world()
    b = spec.actor_ids.index("B")
    advisory, tour_ban = idx(spec, "A", "advisory"), idx(spec, "A", "tour_ban")
    assert not world.available(tour_ban, b)  # nothing to step up yet
    world.play(advisory, b, "test")
    env.run(until=10)
    assert world.available(tour_ban, b)
    world.play(tour_ban, b, "test")
    assert (advisory.index, b) not in world.in_force  # replaced ...
    assert (tour_ban.index, b) in world.in_force  # ... by the step up
    dyad = spec.dyad_of(0, b)
    assert world.dyad_rung[dyad] == 3
    assert [m.lever.id for m in world.measures[dyad]] == ["tour_ban"]
    env.run(until=20)
    world.close()
    # ten days of the advisory's pain (1 * 0.5), then ten of the ban's (2 * 0.5)
    assert world.costs[b] == pytest.approx(10 * 0.5 + 10 * 1.0)
    assert world.rung_log[dyad] == [(0.0, 0), (0.0, 2), (10.0, 3)]  # no dip between steps


def test_a_step_up_of_a_missing_or_lasting_nothing_lever_is_refused() -> None:
    advisory = lever("advisory", 2, -4.0, cameo="160", delays={"duration_days": 0})
    step = lever("step", 3, -8.0, tightens="advisory")
    with pytest.raises(ReferenceProblem, match="leaves nothing in force"):
        Scenario.model_validate(world_doc([advisory, step], []))
    with pytest.raises(ReferenceProblem, match="unknown lever of A 'advisry'"):
        Scenario.model_validate(world_doc([advisory, {**step, "tightens": "advisry"}], []))


# --- answers: to a provocation, to a recent move ------------------------------------------------


def test_an_alert_answers_a_drill_and_is_no_first_move() -> None:
    drill = lever("drill", 5, -7.2, cameo="150", delays={"duration_days": 7})
    alert = lever("alert", 5, -7.2, cameo="154", targets=["A"],
                  requires={"their_rung_at_least": 5}, delays={"duration_days": 7})  # fmt: skip
    env, world, spec = make_world(world_doc([drill], [alert]))
    a, b = (spec.actor_ids.index(x) for x in "AB")
    alert_spec = idx(spec, "B", "alert")
    assert not world.available(alert_spec, a)
    world.play(idx(spec, "A", "drill"), b, "test")
    assert world.available(alert_spec, a)
    env.run(until=8)  # the drill is over
    assert not world.available(alert_spec, a)


def test_sanctions_on_the_firms_of_a_sale_answer_the_sale_within_their_window() -> None:
    sale = lever("sale", 0, 5.2, cameo="0312", direction="support", targets=["A"],
                 delays={"duration_days": 0})  # fmt: skip
    sanction = lever(
        "sanction", 3, -8.0, requires={"after": {"levers": ["B.sale"], "within_days": 30}}
    )
    env, world, spec = make_world(world_doc([sanction], [sale]))
    a, b = (spec.actor_ids.index(x) for x in "AB")
    sanction_spec = idx(spec, "A", "sanction")
    assert not world.available(sanction_spec, b)
    env.run(until=5)
    world.play(idx(spec, "B", "sale"), a, "test")
    assert world.available(sanction_spec, b)
    env.run(until=36)
    assert not world.available(sanction_spec, b)  # 31 days on: no longer an answer


# --- the patron ------------------------------------------------------------------------------


def patron_doc(backing: float) -> dict[str, Any]:
    doc = world_doc([lever("ban", 3, -8.0, delays={"duration_days": None})], [])
    doc["actors"].append({"id": "P", "name": "Patron", "policy": WAIT})
    doc["relations"] = [
        {"kind": "alliance", "id": "treaty", "patron": "P", "protege": "B", "commitment": 0.8,
         "public_backing": backing, "offense_share": 0.5}
    ]  # fmt: skip
    return doc


def test_the_patron_feels_a_blow_to_its_ally_through_its_commitment_and_more_when_backing() -> None:
    felt = []
    for backing in (0.0, 1.0):
        env, world, spec = make_world(patron_doc(backing))
        a, b, p = (spec.actor_ids.index(x) for x in "ABP")
        world.play(idx(spec, "A", "ban"), b, "test")
        env.run(until=1)
        felt.append(world.grievance[p][a].at(env.now))
        assert world.tension[spec.dyad_of(a, p)].at(env.now) > 0
    assert 0 < felt[0] < felt[1]


# --- the initial state ----------------------------------------------------------------------------


def test_measures_in_force_on_the_start_date_can_be_eased_and_need_not_hold_the_rung() -> None:
    controls = lever("controls", 4, -8.0, choosable=False, sector="chips",
                     effect={"economic": 1.0}, delays={"duration_days": None})  # fmt: skip
    ease = lever("ease_controls", 0, 7.0, direction="deescalate", lifts=["controls"])
    doc = world_doc([controls, ease], [])
    doc["in_force"] = [{"actor": "A", "lever": "controls", "target": "B", "holds_rung": False}]
    doc["relations"] = [
        {"kind": "dependence", "dependent": "B", "supplier": "A", "sector": "chips", "share": 0.5}
    ]
    env, world, spec = make_world(doc)
    b = spec.actor_ids.index("B")
    assert (idx(spec, "A", "controls").index, b) in world.in_force
    assert world.overall_rung() == 0  # the status quo, not part of the crisis's rung
    assert world.available(idx(spec, "A", "ease_controls"), b)
    env.run(until=10)
    world.play(idx(spec, "A", "ease_controls"), b, "test")
    world.close()
    assert world.costs[b] == pytest.approx(10 * 0.5)


# --- a pipeline of choices -------------------------------------------------------------------


def pipeline_doc(stake_boost: float) -> dict[str, Any]:
    """B's arms-sale pipeline offers a sale every few days; A resents sales; a summit looms."""
    sale = lever("sale", 0, 5.2, cameo="0312", direction="support", targets=["C"],
                 offends={"A": 0.3}, choosable=False, value=0.9,
                 delays={"duration_days": 30})  # fmt: skip
    doc = world_doc([], [sale])
    doc["actors"][1]["policy"] = {"name": "logit"}
    doc["actors"][1]["attributes"] = {"stakes": {"A": 0.7}}
    doc["actors"].append({"id": "C", "name": "Protege", "policy": WAIT})
    doc["relations"] = [
        {"kind": "alliance", "id": "tra", "patron": "B", "protege": "C", "commitment": 0.4}
    ]
    doc["events"] = [
        {"kind": "stochastic", "id": "pipeline", "rate_per_year": 12.0,
         "effects": [{"type": "prompt", "actor": "B", "target": "C", "levers": ["sale"],
                      "defer_days": 30}]},
        {"kind": "scheduled", "id": "summit", "date": "2025-07-01",
         "stake_boost": {"actors": ["A", "B"], "value": stake_boost, "lead_days": 180},
         "effects": [{"type": "tension", "dyad": ["A", "B"], "delta": -0.1}]},
    ]  # fmt: skip
    return doc


def test_a_held_back_sale_comes_up_again_and_a_summit_holds_sales_back() -> None:
    """Cases not notified are deferred (and asked again); a summit ahead defers more of them."""
    notified, deferred = {}, {}
    for boost in (0.0, 0.3):
        spec = spec_of(pipeline_doc(boost))
        records = [simulate(spec, np.random.SeedSequence(s)) for s in range(40)]
        sales = [m for r in records for m in r.moves if m.lever == "sale" and m.day < 181]
        notified[boost] = len(sales)
        deferred[boost] = sum(w == "deferred" for r in records for _, _, w in r.event_log)
        offered = sum(w == "occurred" for r in records for _, _, w in r.event_log)
        assert notified[boost] < offered  # some cases are held back ...
        assert deferred[boost] > 0  # ... and come up again
    assert notified[0.3] < notified[0.0]  # the summit's shadow: fewer sales before it
    assert deferred[0.3] > deferred[0.0]


def test_a_withheld_sale_leaves_the_summit_partners_tension_where_it_was() -> None:
    spec = spec_of(pipeline_doc(0.3))
    a, b, c = (spec.actor_ids.index(x) for x in "ABC")
    tensions = []
    for notify in (True, False):
        env = simpy.Environment()
        world = World(env, spec, np.random.default_rng(0))
        if notify:
            world.play(idx(spec, "B", "sale"), c, "test")
        env.run(until=2)
        tensions.append(world.tension[spec.dyad_of(a, b)].at(env.now))
    assert tensions[0] > tensions[1] == 0.0


def test_a_question_already_on_the_desk_is_not_asked_twice() -> None:
    spec = spec_of(pipeline_doc(0.0))
    env = simpy.Environment()
    world = World(env, spec, np.random.default_rng(0))
    from sim.engine.actors import ActorProcess

    actor = ActorProcess(world, spec.actors[1], stream(np.random.SeedSequence(1), "actor:B"))
    sale = idx(spec, "B", "sale").index
    actor.ask((sale,), 2, 30.0, "pipeline")
    actor.ask((sale,), 2, 30.0, "pipeline")
    assert len(actor.prompts) == 1


# --- scheduled events that slip ------------------------------------------------------------


def summit_doc(rate: float, when: list | None = None, max_times: int = 2) -> dict[str, Any]:
    transit = lever("transit", 0, 2.8, cameo="043", direction="support", targets=["B"],
                    delays={"duration_days": 14})  # fmt: skip
    doc = world_doc([transit], [])
    doc["actors"][0]["policy"] = {"name": "scripted", "params": {"moves": [
        {"lever": "transit", "target": "B", "day": 50}]}}  # fmt: skip
    doc["events"] = [
        {"kind": "scheduled", "id": "summit", "date": "2025-04-11",  # day 100
         "postpone": {"rate_per_year": rate, "when": when or [], "max_times": max_times,
                      "delay": {"dist": "fixed", "days": 20}},
         "effects": [{"type": "tension", "dyad": ["A", "B"], "delta": -0.1}]}
    ]  # fmt: skip
    return doc


def fate(doc: dict[str, Any], seeds: int = 200) -> list[list[tuple[float, str]]]:
    spec = spec_of(doc)
    return [
        [(day, what) for day, e, what in simulate(spec, np.random.SeedSequence(s)).event_log
         if e == "summit"]
        for s in range(seeds)
    ]  # fmt: skip


def test_a_postponed_event_is_held_later_or_not_at_all() -> None:
    logs = fate(summit_doc(rate=3.0))  # about 0.56 postponements expected before day 100
    slipped = [log for log in logs if log and log[0][1] == "postponed"]
    assert slipped and len(slipped) < len(logs)
    for log in logs:
        whats = [w for _, w in log]
        assert whats.count("postponed") <= 2
        assert whats[-1] in ("held", "cancelled", "postponed")
        if "held" in whats:  # each slip moves the planned day 20 days later, never earlier
            held = next(day for day, w in log if w == "held")
            assert held == pytest.approx(100 + 20 * whats.count("postponed"))
        if whats.count("postponed") == 2 and "cancelled" in whats:
            assert whats.index("cancelled") == 2  # a third slip cancels
    # the share postponed at least once is the Poisson chance of an arrival in 100 days,
    # give or take later slips of a postponed date (which only add): 4 SE below it
    p = 1 - math.exp(-3.0 / 365.25 * 100)
    se = math.sqrt(p * (1 - p) / len(logs))
    assert len(slipped) / len(logs) > p - 4 * se


def test_a_transit_shortly_before_the_summit_puts_it_off() -> None:
    when = [{"moves": ["A.transit"], "within_days": 60}]
    for log in fate(summit_doc(rate=0.0, when=when), seeds=3):
        assert log == [(100.0, "postponed"), (120.0, "held")]  # day 50 is within 60 days of 100
    for log in fate(summit_doc(rate=0.0, when=[{"moves": ["A.transit"], "within_days": 30}]), 3):
        assert log == [(100.0, "held")]


def test_a_stake_boost_lasts_until_the_event_and_is_restored_after() -> None:
    doc = pipeline_doc(0.3)
    spec = spec_of(doc)
    env = simpy.Environment()
    world = World(env, spec, np.random.default_rng(0))
    from sim.engine.events import Exogenous

    Exogenous(world, []).start(spec.events[1], np.random.default_rng(1))
    a, b = spec.actor_ids.index("A"), spec.actor_ids.index("B")
    env.run(until=0.5)
    assert world.stakes[b][a] == pytest.approx(0.7)  # the run-up starts on day 1
    env.run(until=2)
    assert world.stakes[b][a] == pytest.approx(0.7 + 0.3)
    assert world.stakes[a][b] == pytest.approx(0.3)  # A's own stake in B was 0: now the boost
    env.run(until=200)  # the summit on day 181 has been held
    assert world.stakes[b][a] == pytest.approx(0.7) and world.stakes[a][b] == 0.0


# --- the schema names what it accepts, and the engine applies it ---------------------------


def test_an_attribute_effect_on_domestic_pressure_is_applied() -> None:
    """The schema's name (domestic_pressure) reaches the world's list (it used to crash)."""
    doc = world_doc([], [])
    doc["events"] = [
        {"kind": "scheduled", "id": "election", "date": "2025-01-10",
         "effects": [{"type": "attribute", "actor": "B", "attribute": "domestic_pressure",
                      "delta": 0.2}]}
    ]  # fmt: skip
    spec = spec_of(doc)
    env = simpy.Environment()
    world = World(env, spec, np.random.default_rng(0))
    from sim.engine.events import Exogenous

    Exogenous(world, []).start(spec.events[0], np.random.default_rng(1))
    env.run(until=20)
    assert world.domestic[1] == pytest.approx(0.7)


def test_every_effect_and_attribute_the_schema_accepts_has_its_applier() -> None:
    """The schema's vocabularies and the engine's tables name the same things."""
    from typing import get_args

    from sim.engine.events import APPLIERS, ATTRIBUTES
    from sim.scenario.schema import AttributeEffect, Effect

    kinds = {get_args(m.model_fields["type"].annotation)[0] for m in get_args(get_args(Effect)[0])}
    assert kinds == set(APPLIERS)
    assert set(get_args(AttributeEffect.model_fields["attribute"].annotation)) == set(ATTRIBUTES)


def test_the_schema_accepts_the_engine_directions_and_no_other() -> None:
    from typing import get_args

    from sim.engine.spec import DIRECTIONS, Direction
    from sim.scenario.schema import Lever

    assert get_args(Lever.model_fields["direction"].annotation) == tuple(d.word for d in Direction)
    assert all(DIRECTIONS[d.word] is d for d in Direction)


def test_the_schema_accepts_the_engine_delay_shapes_and_no_other() -> None:
    from typing import get_args

    from sim.engine.spec import DelayKind
    from sim.scenario.schema import Delay

    assert get_args(Delay.model_fields["dist"].annotation) == tuple(k.word for k in DelayKind)


def test_a_hostility_override_sets_what_the_target_feels() -> None:
    speech = lever("speech", 1, -2.0, cameo="111", effect={"hostility": 0.6})
    env, world, spec = make_world(world_doc([speech], []))
    assert world.hostility(idx(spec, "A", "speech")) == 0.6


def test_bad_references_of_the_new_fields_are_refused_with_their_path() -> None:
    bad = [
        ({"requires": {"used": ["B.nothing"]}}, "unknown lever of B 'nothing'"),
        ({"reciprocates": ["C.x"]}, "unknown actor 'C'"),
        ({"requires": {"their_rung_at_least": 9}}, "rung 9 is not on the ladder"),
    ]
    for extra, message in bad:
        with pytest.raises(ReferenceProblem, match=message):
            Scenario.model_validate(world_doc([lever("x", 1, -2.0, **extra)], []))
    doc = world_doc([lever("x", 1, -2.0)], [])
    doc["in_force"] = [{"actor": "A", "lever": "x", "target": "A"}]
    with pytest.raises(ReferenceProblem, match="cannot target 'A'"):
        Scenario.model_validate(doc)


def test_a_named_scenario_file_with_a_bad_reference_names_file_and_line(tmp_path) -> None:  # noqa: ANN001
    text = tmp_path / "t.yaml"
    import yaml

    doc = world_doc([lever("x", 1, -2.0, tightens="y")], [])
    text.write_text(yaml.safe_dump(doc))
    import sim

    with pytest.raises(ScenarioError, match=r"t\.yaml:\d+: actors\.A\.levers\.x\.tightens"):
        sim.load(text)
