"""Extreme but valid scenarios run without error, in bounded time, with sane records.

Each case starts from the named scenario (or, for one and twelve actors, a scenario built
here) and pushes one thing to its limit: every disposition at 0 or at 1, zero delays
everywhere, a one-day or a ten-year horizon (``MAX_DAYS``), one actor or twelve, every
incident rate at the schema's maximum.

Two bounds per case: a wall-clock alarm (``HANG_SECONDS``) that turns a hang into a
failure, and a CPU-time bound measured as a ratio to a baseline -- the unmodified named
scenario run in the same process just before -- so that load from other processes on a
shared machine does not make the test flaky. Each ratio is the scaling expected from what
the case changes (say 21 times the horizon), times a margin of about 5.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import gc
import math
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import sim
from sim.analysis import columns
from sim.errors import SimError
from sim.scenario.registry import resolve
from sim.scenario.schema import MAX_DAYS

NAME = "taiwan-flashpoint-2025"
BASE: dict[str, Any] = yaml.safe_load(resolve(NAME).read_text(encoding="utf-8"))
HANG_SECONDS = 300  # wall clock per case: minutes on a loaded 2-core machine is a hang
MAX_RATE = 3650.0  # StochasticEvent.rate_per_year's upper bound (ten a day)
ZERO = {"dist": "fixed", "days": 0}
SEED = 11


class Hang(BaseException):  # noqa: N818 - not an Exception, so nothing swallows it
    """A case ran past HANG_SECONDS of wall-clock time."""


@contextlib.contextmanager
def hang_guard(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Raise Hang in the main thread after ``seconds`` of wall-clock time."""

    def expire(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def cpu_per_run(scenario: Any, runs: int) -> tuple[Any, float]:
    """Run ``runs`` replications in this process; return the results and CPU s per run.

    The garbage of earlier tests is collected first and the collector held off while the
    clock runs: with the compiled engine a run costs a few ms, so one full collection of a
    long test session's heap (about 0.1 s) would otherwise count as the scenario's cost.
    """
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        with hang_guard():
            results = sim.run(scenario, runs=runs, seed=SEED)
        return results, (time.process_time() - start) / runs
    finally:
        gc.enable()


@pytest.fixture(scope="module")
def baseline() -> float:
    """CPU seconds per replication of the unmodified named scenario (after a warm-up)."""
    scenario = sim.load(NAME)
    sim.run(scenario, runs=2, seed=SEED)  # imports and caches out of the measurement
    _, seconds = cpu_per_run(scenario, 6)
    return seconds


def load_doc(doc: dict[str, Any], tmp_path: Path) -> Any:
    """Validate a scenario document through the loader, as a file."""
    path = tmp_path / f"{doc['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return sim.load(str(path))


def check_records(results: Any, scenario: Any, runs: int) -> None:
    """What any run of any scenario must satisfy."""
    frame = results.runs
    top = len(scenario.ladder) - 1
    classes = [c.id for c in scenario.outcomes.classes]
    assert len(frame) == runs and results.summary["runs"] == runs
    assert set(frame["outcome"]) <= set(classes)
    assert frame["peak_rung"].between(0, top).all()
    assert (frame["final_rung"] <= frame["peak_rung"]).all()
    assert frame["end_day"].between(0, scenario.days).all()
    n = len(scenario.actors)
    assert results.trajectories.shape == (runs, n * (n - 1) // 2, scenario.days + 1)
    moves = results.moves
    assert len(moves) == int(frame["n_moves"].sum())
    if len(moves):
        assert moves["day"].between(0, scenario.days).all()
        assert np.isfinite(moves["goldstein"]).all()
    for actor in scenario.actors:
        assert np.isfinite(frame[columns.cost(actor.id)]).all()


# --- documents ------------------------------------------------------------------------------


def dispositions(value: float) -> dict[str, Any]:
    """Every actor's resolve, risk tolerance and domestic pressure at ``value``."""
    doc = copy.deepcopy(BASE)
    doc["name"] = f"dispositions-{int(value)}"
    for actor in doc["actors"]:
        actor.setdefault("attributes", {}).update(
            resolve=value, risk_tolerance=value, domestic_pressure=value
        )
    return doc


def zero_delays() -> dict[str, Any]:
    """No delay anywhere: perception, response, decision, onset; no cooldowns either."""
    doc = copy.deepcopy(BASE)
    doc["name"] = "zero-delays"
    doc["dynamics"]["perception_delay"] = dict(ZERO)
    for actor in doc["actors"]:
        actor["response_delay"] = dict(ZERO)
        for lever in actor.get("levers", []):
            lever.setdefault("delays", {}).update(decision=dict(ZERO), onset_days=0)
            lever.setdefault("limits", {})["cooldown_days"] = 0
    return doc


def horizon(days: int) -> dict[str, Any]:
    """The named scenario over ``days`` days (scheduled events past the end dropped)."""
    doc = copy.deepcopy(BASE)
    doc["name"] = f"horizon-{days}"
    del doc["end"]
    doc["horizon_days"] = days
    last = doc["start"] + dt.timedelta(days=days)
    doc["events"] = [e for e in doc["events"] if e["kind"] == "stochastic" or e["date"] <= last]
    return doc


def max_rates() -> dict[str, Any]:
    """Every stochastic event at the highest rate the schema allows, with no cap."""
    doc = copy.deepcopy(BASE)
    doc["name"] = "max-rates"
    for event in doc["events"]:
        if event["kind"] == "stochastic":
            event["rate_per_year"] = MAX_RATE
            event.pop("max_occurrences", None)
    return doc


def one_actor() -> dict[str, Any]:
    """A single actor: no dyad, no lever, nothing to do."""
    return {
        "name": "one-actor",
        "title": "One actor alone",
        "start": dt.date(2025, 1, 1),
        "horizon_days": 90,
        "ladder": copy.deepcopy(BASE["ladder"]),
        "military_rung": BASE["military_rung"],
        "outcomes": copy.deepcopy(BASE["outcomes"]),
        "actors": [{"id": "SOLO", "name": "Alone"}],
    }


def quiet_pair() -> dict[str, Any]:
    """Two actors without levers: one dyad that stays at rung 0."""
    doc = one_actor()
    doc["name"] = "quiet-pair"
    doc["actors"].append({"id": "OTHER", "name": "The other"})
    return doc


POLICIES = ["logit", "reciprocal", "tit_for_tat", "random_walk", "always_escalate", "logit"]


def many_actors(n: int = 12) -> dict[str, Any]:
    """``n`` actors, every one able to act on every other, with alliances and incidents."""
    ids = [f"A{i:02d}" for i in range(n)]
    actors = [_actor(i, ids) for i in range(n)]
    relations: list[dict[str, Any]] = [
        {"kind": "alliance", "id": f"pact{k}", "patron": ids[k], "protege": ids[k + 1],
         "commitment": 0.5, "public_backing": 0.5}
        for k in range(0, n - 1, 3)
    ] + [
        {"kind": "dependence", "dependent": ids[k], "supplier": ids[(k + 1) % n],
         "sector": "trade", "share": 0.3}
        for k in range(n)
    ]  # fmt: skip
    events: list[dict[str, Any]] = [
        {"kind": "scheduled", "id": "summit", "date": dt.date(2025, 3, 1),
         "effects": [{"type": "move", "actor": ids[0], "target": ids[1], "lever": "call"}]},
        {"kind": "stochastic", "id": "incident", "rate_per_year": 12.0,
         "exposure": {"dyad": [ids[0], ids[1]], "rung_at_least": 5},
         "effects": [{"type": "move", "actor": ids[0], "target": ids[1], "lever": "incident"}]},
        {"kind": "stochastic", "id": "shock", "rate_per_year": 6.0,
         "effects": [{"type": "tension", "dyad": [ids[2], ids[3]], "delta": 0.2}]},
    ]  # fmt: skip
    return {
        "name": f"actors-{n}",
        "title": f"{n} actors, generated",
        "start": dt.date(2025, 1, 1),
        "horizon_days": 180,
        "ladder": copy.deepcopy(BASE["ladder"]),
        "military_rung": BASE["military_rung"],
        "outcomes": copy.deepcopy(BASE["outcomes"]),
        "relations": relations,
        "initial": [{"pair": [ids[k], ids[(k + 5) % n]], "tension": 0.4} for k in range(n)],
        "events": events,
        "actors": actors,
    }


def _actor(i: int, ids: list[str]) -> dict[str, Any]:
    me, others = ids[i], [x for x in ids if x != ids[i]]
    levers = [
        _lever("protest", 1, "111", -2.0, others, limits={"cooldown_days": 3}),
        _lever("threaten", 2, "130", -4.4, others),
        _lever("sanction", 3, "163", -8.0, others, sector="trade", effect={"economic": 1.0},
               cost={"per_day": 0.01}, delays={"duration_days": None}),
        _lever("drills", 5, "150", -7.2, others, limits={"cooldown_days": 14}),
        _lever("clash", 7, "190", -10.0, others, requires={"dyad_rung_at_least": 5},
               delays={"duration_days": None}),
        _lever("lift_sanction", 0, "085", 7.0, others, direction="deescalate",
               lifts=["sanction"]),
        _lever("call", 0, "041", 1.0, others, direction="deescalate",
               effect={"grievance_relief": 0.2}),
        _lever("arms", 0, "0312", 5.2, others[:2], direction="support",
               offends={others[2]: 0.3}),
    ]  # fmt: skip
    if i == 0:
        levers.append(_lever("incident", 6, "171", -9.2, [ids[1]], choosable=False))
    return {
        "id": me,
        "name": f"Actor {i}",
        "attributes": {
            "resolve": round(0.3 + 0.05 * (i % 8), 2),
            "exposure": {x: 0.05 for x in others[:3]},
            "stakes": {x: 0.5 for x in others},
        },
        "policy": {"name": POLICIES[i % len(POLICIES)]},
        "review_every_days": 5 + i % 4,
        "levers": levers,
    }


def _lever(
    ident: str, rung: int, cameo: str, goldstein: float, targets: list[str], **extra: Any
) -> dict[str, Any]:
    return {"id": ident, "name": ident.replace("_", " "), "rung": rung, "cameo": cameo,
            "goldstein": goldstein, "targets": targets, **extra}  # fmt: skip


# --- the cases ------------------------------------------------------------------------------

# name -> (document, runs, CPU ratio to the baseline per run, why that ratio)
CASES = {
    "dispositions-0": (lambda: dispositions(0.0), 4, 10, "same horizon; 0.8x measured"),
    "dispositions-1": (lambda: dispositions(1.0), 4, 10, "same horizon; 1.1x measured"),
    "zero-delays": (zero_delays, 4, 10, "same horizon, twice the moves; 1.8x measured"),
    "one-day": (lambda: horizon(1), 4, 5, "1/174 of the horizon; 0.3x measured"),
    "ten-years": (lambda: horizon(MAX_DAYS), 1, 100, "21x the horizon; 20x measured"),
    "max-rates": (max_rates, 1, 80, "about 70x the moves; 15x measured"),
    "one-actor": (one_actor, 4, 5, "nothing happens"),
    "twelve-actors": (many_actors, 2, 35, "66 dyads instead of 6; 7x measured"),
}


@pytest.fixture(scope="module")
def ran(
    baseline: float, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Any, Any, float]]]:
    """Run each case once for every test of it: name -> (scenario, results, CPU ratio)."""
    cache: dict[str, tuple[Any, Any, float]] = {}
    folder = tmp_path_factory.mktemp("extremes")

    def get(case: str) -> tuple[Any, Any, float]:
        if case not in cache:
            make, runs, _, _ = CASES[case]
            scenario = load_doc(make(), folder)
            results, seconds = cpu_per_run(scenario, runs)
            cache[case] = (scenario, results, seconds / baseline)
        return cache[case]

    yield get  # type: ignore[misc]
    shown = ", ".join(f"{c} {r:.1f}x" for c, (_, _, r) in cache.items())
    print(f"\nCPU per run / baseline ({baseline * 1000:.0f} ms): {shown}")


@pytest.mark.parametrize("case", list(CASES))
def test_extreme_scenario_runs(case: str, ran: Any) -> None:
    scenario, results, ratio = ran(case)
    check_records(results, scenario, CASES[case][1])
    limit, why = CASES[case][2], CASES[case][3]
    assert ratio <= limit, f"{case}: {ratio:.1f} x the baseline's CPU per run, over {limit} ({why})"


def test_one_day_moves_stay_in_the_day(ran: Any) -> None:
    scenario, results, _ = ran("one-day")
    assert scenario.days == 1 and results.trajectories.shape[2] == 2
    # The statement of day 0 is an exogenous move in every run.
    assert (results.runs["n_moves"] >= 1).all()
    assert (results.moves["day"] <= 1).all()


def test_one_actor_does_nothing(ran: Any) -> None:
    scenario, results, _ = ran("one-actor")
    assert (results.runs["n_moves"] == 0).all() and (results.runs["peak_rung"] == 0).all()
    assert set(results.runs["outcome"]) == {scenario.outcomes.classes[-1].id}


def test_twelve_actors_use_their_dyads(ran: Any) -> None:
    scenario, results, _ = ran("twelve-actors")
    assert len(scenario.actors) == 12 and results.trajectories.shape[1] == 66
    movers = set(results.moves["actor"])
    assert len(movers) >= 6, f"only {sorted(movers)} moved"
    touched = (np.asarray(results.trajectories).max(axis=2) > 0).sum(axis=1)
    assert (touched >= 6).all(), f"dyads above rung 0 per run: {touched}"


def test_max_rates_fire_often(ran: Any) -> None:
    """At ten arrivals a day, the arms-sale pipeline offers over a thousand cases a run.

    Each case only asks Washington whether to notify a sale (a choice, not a move), and a
    question already on the desk is answered once, so the moves stay few.
    """
    scenario, results, _ = ran("max-rates")
    cases = int(results.runs["occurred_arms_sale_notification"].sum())
    expected = MAX_RATE / 365.25 * scenario.days  # a Poisson mean: allow 4 sd below it
    assert cases > expected - 4 * math.sqrt(expected), (cases, expected)
    sales = results.moves[results.moves["lever"] == "arms_sale"]
    assert len(sales) < scenario.days  # one decision at a time, each at most one sale


# --- the edge of the calendar ---------------------------------------------------------------


def test_a_horizon_past_the_last_calendar_date_is_a_clear_error(tmp_path: Path) -> None:
    doc = quiet_pair()
    doc["start"] = dt.date(9999, 12, 1)
    doc["horizon_days"] = 60
    with pytest.raises(SimError, match="horizon"):
        load_doc(doc, tmp_path)


def test_the_last_calendar_day_is_usable(tmp_path: Path) -> None:
    """The control: a horizon that ends on 9999-12-31 exactly loads and runs."""
    doc = quiet_pair()
    doc["start"] = dt.date(9999, 11, 1)
    doc["horizon_days"] = (dt.date(9999, 12, 31) - doc["start"]).days
    scenario = load_doc(doc, tmp_path)
    with hang_guard():
        assert len(sim.run(scenario, runs=1, seed=SEED).runs) == 1
