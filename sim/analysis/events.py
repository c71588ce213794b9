"""Exogenous events across an ensemble: was the summit held, how often did incidents occur.

An analyst's question is often tied to a scheduled event ("a military crisis before the
April visit?", "is the visit still held?") or to random ones (incidents at sea, arms-sale
notifications). Each replication's event log becomes one column per event in the runs
table (see :mod:`sim.analysis.columns`): for a scheduled event whether it was held,
cancelled, or not reached (the run ended before its day); for a random event how many times
it occurred. The summary (:func:`events_block`) gives each share with its Wilson interval
and Monte Carlo standard error, and for each scheduled event the probability of having
reached each rung from the first military one up before its day (:func:`before_events`).
A scheduled event that can slip also has a ``postponed_<id>`` column: how many times it
was postponed (an event postponed past the horizon is "not reached").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from sim.analysis import columns, stats
from sim.analysis.columns import CANCELLED, HELD, NOT_REACHED


def events_block(spec: Any, runs: Any) -> dict[str, dict[str, Any]]:
    """The ``events`` section of a summary: one entry per exogenous event, in spec order.

    Runs tables written before events were recorded have no event columns; their events are
    left out (an empty section), never guessed.
    """
    out: dict[str, dict[str, Any]] = {}
    for e in getattr(spec, "events", ()):
        name = columns.event(e)
        if name not in runs:
            continue
        values = np.asarray(runs[name], dtype=np.int64)
        if e.scheduled:
            out[e.id] = _scheduled(spec, e, values)
            slips = columns.postponed(e)
            if slips in runs:
                out[e.id].update(_postponed(np.asarray(runs[slips], dtype=np.int64)))
        else:
            out[e.id] = _random(e, values)
    return out


def _scheduled(spec: Any, event: Any, status: np.ndarray) -> dict[str, Any]:
    n = len(status)
    return {
        "name": event.name,
        "kind": "scheduled",
        "day": event.day,
        "date": _date(spec.start, event.day),
        "held": stats.proportion(int((status == HELD).sum()), n),
        "cancelled": stats.proportion(int((status == CANCELLED).sum()), n),
        "not_reached": int((status == NOT_REACHED).sum()),
    }


def _postponed(slips: np.ndarray) -> dict[str, Any]:
    """How often a scheduled event slipped: at least once, and postponements per run."""
    n = len(slips)
    return {
        "postponed": stats.proportion(int((slips > 0).sum()), n),
        "postponements_per_run": stats.mean_se(slips.astype(float)),
    }


def _random(event: Any, counts: np.ndarray) -> dict[str, Any]:
    n = len(counts)
    return {
        "name": event.name,
        "kind": "random",
        "at_least_once": stats.proportion(int((counts > 0).sum()), n),
        "per_run": stats.mean_se(counts.astype(float)),
    }


def before_events(spec: Any, runs: Any, reach: Mapping[int, str]) -> dict[str, dict[str, Any]]:
    """For each scheduled event: the chance of having reached each rung before its day.

    ``reach`` maps rungs (from the first military rung up) to their runs-table column of
    first days. Every run is observed up to the event's day (the horizon comes after it, and
    a run that ends early ends in an absorbing state), so the share of runs whose first day
    at the rung is before the event's day is the probability itself, with a Wilson interval.
    (If a scenario ends runs early in a state below the rung -- a concession -- this is the
    chance of reaching the rung before both the event and that end.)
    """
    out: dict[str, dict[str, Any]] = {}
    n = len(runs)
    for event in milestones(getattr(spec, "events", ()), spec.days):
        rungs = {}
        for rung, name in reach.items():
            reached = int(np.count_nonzero(reached_before(runs[name], event.day)))
            rungs[str(rung)] = {"rung": rung, "name": spec.rung_names[rung],
                                **stats.proportion(reached, n)}  # fmt: skip
        out[event.id] = {"name": event.name, "day": event.day,
                         "date": _date(spec.start, event.day), "rungs": rungs}  # fmt: skip
    return out


def milestones(events: Iterable[Any], days: float) -> list[Any]:
    """The scheduled events that have a "before": after day 0 (the trigger), within ``days``."""
    return [e for e in events if e.scheduled and 0 < e.day <= days]


def reached_before(first_days: Any, day: float) -> np.ndarray:
    """Per run, whether a rung was first reached before ``day`` (NaN: never reached)."""
    return np.asarray(first_days, dtype=float) < day


def _date(start: dt.date, day: float) -> str:
    return (start + dt.timedelta(days=int(day))).isoformat()
