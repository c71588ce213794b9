"""Exogenous events across an ensemble: the runs-table columns, the summary, the comparison.

The columns are checked against the event logs of the same replications run again one by
one, the summary's shares against the columns, and the chance of a rung before an event's
day against the first-day columns; a comparison on common random numbers must give exactly
zero difference for an event that nothing in the variant can touch.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sim
from sim.analysis import columns
from sim.analysis.columns import CANCELLED, HELD, NOT_REACHED, run_events
from sim.engine.spec import EventSpec
from sim.experiments.ensemble import Results
from sim.present.comparison import comparison_blocks, render_comparison
from sim.present.summary import render_summary
from sim.present.table import Table
from sim.results.seeding import replication_seed

NAME = "taiwan-flashpoint-2025"
RUNS, SEED = 120, 11


def _event(event_id: str, scheduled: bool) -> EventSpec:
    return EventSpec(id=event_id, name=event_id, scheduled=scheduled, day=5.0, effects=())


def test_a_run_s_event_log_becomes_one_column_per_event() -> None:
    events = [_event("visit", True), _event("summit", True), _event("gone", True),
              _event("incident", False)]  # fmt: skip
    log = [(1.0, "incident", "occurred"), (5.0, "visit", "held"), (5.0, "summit", "cancelled"),
           (7.0, "incident", "occurred"), (8.0, "incident", "no effect: unavailable")]  # fmt: skip
    assert run_events(events, log) == {
        "held_visit": HELD,
        "held_summit": CANCELLED,
        "held_gone": NOT_REACHED,  # the run ended before its day
        "occurred_incident": 2,
    }


@functools.cache
def ensemble() -> Results:
    return sim.run(NAME, runs=RUNS, seed=SEED, workers=1)


def test_the_columns_are_the_event_logs_of_the_replications() -> None:
    results = ensemble()
    table = results.runs
    spec = results.spec
    for i in range(0, RUNS, 17):
        record = sim.simulate(spec, replication_seed(SEED, i))
        expected = run_events(spec.events, record.event_log)
        row = table.loc[table["index"] == i].iloc[0]
        assert {c: int(row[c]) for c in expected} == expected


def test_the_summary_counts_what_the_columns_hold() -> None:
    results = ensemble()
    table, summary = results.runs, results.summary
    visit = summary["events"]["beijing_visit"]
    status = table["held_beijing_visit"].to_numpy()
    assert visit["held"]["count"] == int((status == HELD).sum())
    assert visit["cancelled"]["count"] == int((status == CANCELLED).sum())
    assert visit["held"]["count"] + visit["cancelled"]["count"] + visit["not_reached"] == RUNS
    incidents = table["occurred_incident_east_china_sea"].to_numpy()
    block = summary["events"]["incident_east_china_sea"]
    assert block["at_least_once"]["count"] == int((incidents > 0).sum())
    assert block["per_run"]["mean"] == pytest.approx(incidents.mean())
    p = block["at_least_once"]["p"]
    assert block["at_least_once"]["se"] == pytest.approx(np.sqrt(p * (1 - p) / RUNS))


def test_the_chance_of_a_rung_before_an_event_is_read_from_first_days() -> None:
    results = ensemble()
    table, summary = results.runs, results.summary
    before = summary["before_events"]["beijing_visit"]
    day = results.spec.events[[e.id for e in results.spec.events].index("beijing_visit")].day
    assert before["date"] == "2026-04-15"
    for k, row in before["rungs"].items():
        first = table[columns.reach(int(k))].to_numpy(dtype=float)
        assert row["count"] == int((first < day).sum())
    # Independently, from the moves: a run holds rung 6 from the first hostile move at
    # rung 6 or above that stays in force (a quarantine, an incident), none of which ends
    # before it starts.
    spec, moves = results.spec, results.moves
    lasting = {(spec.actor_ids[lv.actor], lv.id) for lv in spec.levers if lv.duration > 0}
    hostile = moves[(moves["rung"] >= 6) & (moves["direction"] == "escalate")]
    pairs = zip(hostile["actor"], hostile["lever"], strict=True)
    hostile = hostile[[pair in lasting for pair in pairs]]
    before_visit = hostile.loc[hostile["day"] < day, "index"].nunique()
    assert before["rungs"]["6"]["count"] == before_visit
    assert "takaichi_statement" not in summary["before_events"]  # the day-0 trigger
    text = render_summary(summary)
    assert "Trump visits Beijing" in text and "Reached before" in text


def test_a_comparison_pairs_events_and_an_untouched_one_does_not_move() -> None:
    runs = 60
    paired = sim.compare(NAME, f"{NAME}-us-backs-japan", runs=runs, seed=SEED, workers=1)
    summary = paired.summary
    # Arms-sale notifications arrive on their own stream whatever the actors do: under
    # common random numbers both arms see exactly the same ones.
    arms = summary["events"]["arms_sale_notification"]
    assert arms["difference"] == 0.0 and arms["se"] == 0.0
    base, variant = paired.base.runs, paired.variant.runs
    crisis = summary["before_events"]["beijing_visit"]["rungs"]["6"]
    day = summary["before_events"]["beijing_visit"]["day"]
    reached = [t[columns.reach(6)].to_numpy(dtype=float) < day for t in (base, variant)]
    assert crisis["difference"] == pytest.approx(reached[1].mean() - reached[0].mean())
    # The event's row, read from the table's cells (the terminal wraps them at 100 characters).
    cells = {row[0] for b in comparison_blocks(summary) if isinstance(b, Table) for row in b.rows}
    assert "coercion by force before Trump visits Beijing" in cells
    assert "coercion by force before" in render_comparison(summary)
