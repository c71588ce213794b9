"""Engine invariants, checked with hypothesis over seeds, parameters and generated scenarios.

Whatever the parameters, a run must keep its rungs on the ladder, spend no lever beyond its
stock or maximum uses, respect cooldowns, never move backwards in time, charge no negative
or infinite cost, classify its end state by its own rules, and replay exactly from its
seed. ``check_invariants`` states all of that for one record; the tests below feed it the
named scenario under random seeds, the named scenario with perturbed parameters, and small
generated two- and three-actor scenarios. Budgets are small so the file runs in seconds.
"""

from __future__ import annotations

import copy
import functools
import math
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.engine.policy import register_policy
from sim.engine.record import RunRecord
from sim.engine.spec import OutcomeSpec, RunSpec
from sim.policies import LogitPolicy
from sim.scenario import compile_scenario
from sim.scenario.schema import Scenario

NAME = "taiwan-flashpoint-2025"
FAST = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
seeds = st.integers(min_value=0, max_value=2**63 - 1)


@functools.cache
def named_spec() -> RunSpec:
    """The named scenario, compiled once."""
    return compile_scenario(sim.load(NAME))


# --- the invariants -----------------------------------------------------------------------


def check_invariants(spec: RunSpec, record: RunRecord) -> None:
    """Assert every invariant of one run's record."""
    _check_rungs(spec, record)
    _check_time(spec, record)
    _check_moves_and_limits(spec, record)
    _check_costs(spec, record)
    _check_first_days(spec, record)
    _check_outcome(spec, record)


def _check_rungs(spec: RunSpec, record: RunRecord) -> None:
    top = spec.top_rung
    rungs = record.dyad_rungs
    assert rungs.shape == (len(spec.dyads), spec.days + 1)
    assert rungs.min() >= 0 and rungs.max() <= top
    overall = record.overall_rungs
    assert record.peak_rung == overall.max()
    assert 0 <= record.final_rung <= record.peak_rung <= top
    assert record.final_rung == overall[-1]  # the last column holds the end state


def _check_time(spec: RunSpec, record: RunRecord) -> None:
    assert 0.0 <= record.end_day <= spec.days
    days = [m.day for m in record.moves]
    assert days == sorted(days), "a move was recorded before an earlier one"
    assert all(0.0 <= day <= record.end_day for day in days)
    assert 0.0 <= record.peak_day <= record.end_day
    log_days = [day for day, _, _ in record.event_log]
    assert log_days == sorted(log_days) and all(0 <= d <= record.end_day for d in log_days)


def _check_moves_and_limits(spec: RunSpec, record: RunRecord) -> None:
    levers = {(spec.actors[lv.actor].id, lv.id): lv for lv in spec.levers}
    when: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for m in record.moves:
        lever = levers[(m.actor, m.lever)]
        assert spec.actor_ids.index(m.target) in lever.targets
        assert (m.rung, m.cameo, m.goldstein) == (lever.rung, lever.cameo, lever.goldstein)
        assert 0 <= m.rung <= spec.top_rung
        assert 0.0 <= m.magnitude and math.isfinite(m.magnitude)
        when[(m.actor, m.lever, m.target)].append(m.day)
    uses = Counter((m.actor, m.lever) for m in record.moves)
    for key, count in uses.items():
        lever = levers[key]
        if lever.max_uses >= 0:
            assert count <= lever.max_uses, f"{key} used {count} > max_uses {lever.max_uses}"
        if math.isfinite(lever.stock):
            assert count <= lever.stock, f"{key} used {count} > stock {lever.stock}"
    for (actor, lever_id, _), days in when.items():
        cooldown = levers[(actor, lever_id)].cooldown
        gaps = np.diff(days)
        assert (gaps >= cooldown - 1e-9).all(), f"{actor}.{lever_id}: gaps {gaps} < {cooldown}"


def _check_costs(spec: RunSpec, record: RunRecord) -> None:
    assert set(record.costs) == set(spec.actor_ids)
    for actor, cost in record.costs.items():
        assert math.isfinite(cost) and cost >= 0.0, f"{actor} cost {cost}"


def _check_first_days(spec: RunSpec, record: RunRecord) -> None:
    first = record.first_day_at_rung
    assert first.shape == (spec.top_rung + 1,) and first[0] == 0.0
    reached = ~np.isnan(first)
    assert reached.tolist() == [k <= record.peak_rung for k in range(len(first))]
    assert (np.diff(first[reached]) >= 0).all(), f"not non-decreasing: {first}"
    assert first[record.peak_rung] == record.peak_day
    overall = record.overall_rungs
    for k in range(1, record.peak_rung + 1):  # the daily trajectory agrees with the clock
        assert int(np.argmax(overall >= k)) == math.floor(first[k])


def _check_outcome(spec: RunSpec, record: RunRecord) -> None:
    """The outcome is the first class whose bounds hold, and only an absorbing class ends a run."""
    assert record.outcome in spec.outcome_ids
    index = {(spec.actors[lv.actor].id, lv.id): lv.index for lv in spec.levers}
    played = {index[(m.actor, m.lever)] for m in record.moves}

    def holds(outcome: OutcomeSpec) -> bool:
        if outcome.dyad < 0:
            return outcome.matches(record.peak_rung, record.final_rung, played)
        row = record.dyad_rungs[outcome.dyad]
        return outcome.matches(int(row.max()), int(row[-1]), played)

    assert record.outcome == next(o.id for o in spec.outcomes if holds(o))
    enders = [o for o in spec.outcomes if o.ends_run]
    if record.ended_early:
        assert any(holds(o) for o in enders), "the run ended early in no absorbing state"
    else:
        assert record.end_day == spec.days
        assert not any(holds(o) for o in enders), "an absorbing state did not end the run"


def same_record(a: RunRecord, b: RunRecord) -> bool:
    """Whether two records are identical: moves, trajectories, costs and end state."""
    return (
        a.moves == b.moves
        and np.array_equal(a.dyad_rungs, b.dyad_rungs)
        and np.array_equal(a.first_day_at_rung, b.first_day_at_rung, equal_nan=True)
        and a.costs == b.costs
        and (a.outcome, a.peak_rung, a.final_rung, a.end_day)
        == (b.outcome, b.peak_rung, b.final_rung, b.end_day)
        and a.event_log == b.event_log
    )


# --- the named scenario over seeds ----------------------------------------------------------


@FAST
@given(seed=seeds)
def test_named_scenario_keeps_the_invariants(seed: int) -> None:
    spec = named_spec()
    record = sim.simulate(spec, seed)
    check_invariants(spec, record)
    assert record.moves and record.moves[0].lever == "contingency_statement"  # the trigger


@FAST
@given(seed=seeds)
def test_the_same_seed_replays_and_another_seed_differs(seed: int) -> None:
    spec = named_spec()
    first, again = sim.simulate(spec, seed), sim.simulate(spec, seed)
    assert same_record(first, again)
    other = sim.simulate(spec, seed + 1)
    assert other.moves != first.moves


# --- the named scenario with perturbed parameters -----------------------------------------

probability = st.floats(0.0, 1.0)
perturbations = st.fixed_dictionaries(
    {
        "actors.CHN.attributes.resolve": probability,
        "actors.CHN.attributes.risk_tolerance": probability,
        "actors.JPN.attributes.resolve": probability,
        "actors.USA.attributes.risk_tolerance": probability,
        "dynamics.hostility_scale": st.floats(0.1, 4.0),
        "dynamics.tension_half_life_days": st.floats(1.0, 200.0),
        "actors.CHN.review_every_days": st.floats(0.5, 30.0),
        "actors.JPN.review_every_days": st.floats(0.5, 30.0),
        "events.arms_sale_notification.rate_per_year": st.floats(0.0, 30.0),
        "events.incident_east_china_sea.rate_per_year": st.floats(0.0, 100.0),
        # limits that bind: the CHN criticism is otherwise used many times a run
        "actors.CHN.levers.criticise.limits.stock": st.integers(0, 3),
        "actors.CHN.levers.threaten.limits.max_uses": st.integers(0, 2),
        "actors.JPN.levers.protest.limits.cooldown_days": st.floats(0.0, 60.0),
    }
)


@settings(FAST, max_examples=15)
@given(overrides=perturbations, seed=seeds)
def test_perturbed_named_scenario_keeps_the_invariants(overrides: dict, seed: int) -> None:
    scenario = sim.load(NAME, overrides=overrides)
    spec = compile_scenario(scenario)
    record = sim.simulate(spec, seed)
    check_invariants(spec, record)
    assert sim.simulate(spec, seed).moves == record.moves


def test_the_limits_under_test_bind_in_the_named_scenario() -> None:
    """Without the limits the levers are used more often: the limit checks can fail."""
    spec = named_spec()
    counts = Counter()
    for seed in range(10):
        counts.update((m.actor, m.lever) for m in sim.simulate(spec, seed).moves)
    assert counts[("CHN", "criticise")] > 3 * 10 and counts[("CHN", "threaten")] > 2 * 10

    limited = compile_scenario(
        sim.load(NAME, overrides={"actors.CHN.levers.criticise.limits.stock": 0})
    )
    for seed in range(5):
        assert ("CHN", "criticise") not in {
            (m.actor, m.lever) for m in sim.simulate(limited, seed).moves
        }


# --- small generated scenarios ------------------------------------------------------------

IDS = ("A", "B", "C")


def _finite(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def delays(draw: st.DrawFn) -> dict[str, Any]:
    """A delay distribution of any kind the format allows."""
    kind = draw(st.sampled_from(["fixed", "lognormal", "uniform", "exponential"]))
    if kind == "fixed":
        return {"dist": "fixed", "days": draw(_finite(0, 5))}
    if kind == "lognormal":
        return {"dist": "lognormal", "median": draw(_finite(0, 5)), "sigma": draw(_finite(0, 1.5))}
    if kind == "uniform":
        low = draw(_finite(0, 3))
        return {"dist": "uniform", "low": low, "high": low + draw(_finite(0, 3))}
    return {"dist": "exponential", "mean": draw(_finite(0, 5))}


@st.composite
def hostile_lever(draw: st.DrawFn, k: int, top: int, others: list[str]) -> dict[str, Any]:
    """An escalating lever with random costs, effects, delays and limits."""
    return {
        "id": f"h{k}",
        "name": f"hostile {k}",
        "rung": draw(st.integers(1, top)),
        "cameo": "163",
        "goldstein": -draw(_finite(0.5, 10.0)),
        "targets": draw(st.lists(st.sampled_from(others), min_size=1, unique=True)),
        "sector": "trade",
        "cost": {"upfront": draw(_finite(0, 2)), "per_day": draw(_finite(0, 0.2))},
        "effect": {"economic": draw(_finite(0, 1)), "political": draw(_finite(0, 0.3))},
        "delays": {
            "decision": draw(delays()),
            "onset_days": draw(_finite(0, 5)),
            "duration_days": draw(st.none() | st.just(0.0) | _finite(0.5, 40)),
        },
        "limits": {
            "max_uses": draw(st.none() | st.integers(0, 4)),
            "stock": draw(st.none() | st.integers(0, 4).map(float)),
            "cooldown_days": draw(_finite(0, 20)),
            "potency_decay": draw(_finite(0, 0.5)),
        },
        "requires": {"dyad_rung_at_least": draw(st.none() | st.integers(0, top))},
    }


def _policy(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {
            "name": "reciprocal",
            "params": {
                "step": draw(st.integers(-2, 3)),
                "noise": draw(_finite(0, 1)),
                "forgiveness": draw(_finite(0, 1)),
            },
        }
    weights = ("rationality", "action_cost", "grievance", "risk", "cost", "jump")
    return {"name": "logit", "params": {w: draw(_finite(0, 8)) for w in weights}}


@st.composite
def small_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A valid scenario document with two or three actors and random everything."""
    ids = list(IDS[: draw(st.integers(2, 3))])
    top = draw(st.integers(2, 6))
    days = draw(st.integers(10, 120))
    actors = []
    for me in ids:
        others = [x for x in ids if x != me]
        levers = [draw(hostile_lever(k, top, others)) for k in range(draw(st.integers(1, 4)))]
        levers.append(
            {
                "id": "ease",
                "name": "ease",
                "direction": "deescalate",
                "rung": 0,
                "cameo": "085",
                "goldstein": draw(_finite(0, 8)),
                "targets": others,
                "lifts": ["h0"] if draw(st.booleans()) else [],
                "limits": {"cooldown_days": draw(_finite(0, 20))},
            }
        )
        actors.append(
            {
                "id": me,
                "name": f"actor {me}",
                "attributes": {
                    "resolve": draw(_finite(0, 1)),
                    "risk_tolerance": draw(_finite(0, 1)),
                    "domestic_pressure": draw(_finite(0, 1)),
                    "exposure": {o: draw(_finite(0, 1)) for o in others},
                    "stakes": {o: draw(_finite(0, 1)) for o in others},
                },
                "policy": _policy(draw),
                "response_delay": draw(delays()),
                "review_every_days": draw(_finite(0.5, 20)),
                "levers": levers,
            }
        )
    a, b = ids[0], ids[1]
    first = actors[0]["levers"][0]
    events = [
        {
            "kind": "scheduled",
            "id": "trigger",
            "date": f"2025-01-{draw(st.integers(1, 10)):02d}",
            "effects": [{"type": "move", "actor": a, "target": first["targets"][0], "lever": "h0"}],
        },
        {
            "kind": "stochastic",
            "id": "shock",
            "rate_per_year": draw(_finite(0, 50)),
            "max_occurrences": draw(st.none() | st.integers(0, 5)),
            "effects": [{"type": "tension", "dyad": [a, b], "delta": draw(_finite(-1, 1))}],
        },
    ]
    classes = [{"id": "top", "when": {"peak_at_least": top}, "ends_run": draw(st.booleans())}]
    classes += [{"id": "dyad", "when": {"dyad": [a, b], "final_at_least": 1}}, {"id": "rest"}]
    return {
        "name": "generated",
        "title": "a generated scenario",
        "start": "2025-01-01",
        "horizon_days": days,
        "ladder": [{"name": f"rung {k}"} for k in range(top + 1)],
        "military_rung": draw(st.integers(1, top)),
        "dynamics": {
            "perception_delay": draw(delays()),
            "hostility_scale": draw(_finite(0.1, 3)),
            "hostility_exponent": draw(_finite(0.5, 4)),
            "tension_half_life_days": draw(_finite(1, 100)),
        },
        "relations": [  # every actor supplies someone: a lever's sector names a dependence
            {"kind": "dependence", "dependent": b, "supplier": a, "sector": "trade", "share": 0.5},
            *(
                {
                    "kind": "dependence",
                    "dependent": a,
                    "supplier": x,
                    "sector": "trade",
                    "share": 0.3,
                }
                for x in ids[1:]
            ),
        ],
        "initial": [
            {"pair": [a, b], "tension": draw(_finite(0, 1)), "grievance": {a: draw(_finite(0, 2))}}
        ],
        "actors": actors,
        "events": events,
        "outcomes": {"classes": classes},
    }


@settings(FAST, max_examples=30)
@given(document=small_scenarios(), seed=seeds)
def test_generated_scenarios_keep_the_invariants(document: dict, seed: int) -> None:
    scenario = Scenario.model_validate(document)
    spec = compile_scenario(scenario)
    record = sim.simulate(spec, seed)
    check_invariants(spec, record)
    assert same_record(record, sim.simulate(spec, seed))


@FAST
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=30.0),
            st.sampled_from(["add", "saturate", "scale", "read"]),
            st.floats(min_value=-1.0, max_value=1.0),
        ),
        max_size=30,
    )
)
def test_reading_a_fading_quantity_never_changes_it(steps: list[tuple[float, str, float]]) -> None:
    """The same changes give bitwise the same values whether or not it is read in between."""
    from sim.engine.world import Fading

    watched, unwatched = Fading(0.3, 0.05), Fading(0.3, 0.05)
    now = 0.0
    for gap, op, amount in steps:
        now += gap
        if op == "read":
            watched.at(now)
            watched.at(now + gap / 2)  # a read ahead of the clock, too
            continue
        for quantity in (watched, unwatched):
            getattr(quantity, op)(now, abs(amount) if op != "add" else amount)
    assert watched.at(now + 1.0) == unwatched.at(now + 1.0)


def test_observing_the_world_does_not_change_a_run(monkeypatch) -> None:  # noqa: ANN001
    """Runs whose every decision first reads all tensions, grievances and pressures (now and
    ahead of the clock) make bitwise the same moves as runs nobody watched: the state's
    readers are pure."""
    from sim.engine import actors, simulate

    spec, original = named_spec(), actors.ActorProcess.decide_fast

    def runs(watch: bool) -> list[tuple]:
        seen: list[tuple] = []

        def decide(self):  # noqa: ANN001, ANN202
            world, now = self.world, self.world.env.now
            if watch:
                rows = [world.tension, world.pressure, *world.grievance]
                for quantity in (q for row in rows for q in row):
                    quantity.at(now + 0.5)
                    quantity.at(now)
            seen.append((now, world.costs))
            return original(self)

        monkeypatch.setattr(actors.ActorProcess, "decide_fast", decide)
        records = [simulate(spec, seed) for seed in range(5)]
        return [seen, [[(m.day, m.lever, m.target) for m in r.moves] for r in records]]

    assert runs(watch=True) == runs(watch=False)


@register_policy
class PythonLogit(LogitPolicy):
    """The logit rule through the Python path (overriding ``choose`` leaves the kernel unused)."""

    name = "logit-python-invariants"

    def choose(self, ctx, rng):  # noqa: ANN001, ANN201
        return super().choose(ctx, rng)


def _in_python(document: dict) -> dict:
    """The same scenario with its logit actors deciding in Python, not in the kernel."""
    document = copy.deepcopy(document)
    for actor in document["actors"]:
        if actor["policy"]["name"] == "logit":
            actor["policy"]["name"] = PythonLogit.name
    return document


@pytest.mark.parametrize(
    "name",
    [
        NAME,
        "taiwan-flashpoint-2025-campaign",
        "taiwan-flashpoint-2025-lai-transit",
        "us-china-tradewar-2025",
    ],
)
def test_the_kernel_decides_as_the_python_rule_does(name: str) -> None:
    """The logit kernel (open options, features, draws) and the Python rule make one run."""
    document = sim.load(name).model_dump(mode="json")
    fast = compile_scenario(Scenario.model_validate(document))
    slow = compile_scenario(Scenario.model_validate(_in_python(document)))
    for seed in range(8):
        assert same_record(sim.simulate(fast, seed), sim.simulate(slow, seed)), seed


@settings(FAST, max_examples=30)
@given(document=small_scenarios(), seed=seeds)
def test_generated_scenarios_decide_alike_in_the_kernel_and_in_python(
    document: dict, seed: int
) -> None:
    fast = compile_scenario(Scenario.model_validate(document))
    slow = compile_scenario(Scenario.model_validate(_in_python(document)))
    assert same_record(sim.simulate(fast, seed), sim.simulate(slow, seed))
