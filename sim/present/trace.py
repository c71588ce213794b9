"""One replication as a dated chronicle (``sim trace``): its moves, events and end state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sim.present.table import num, wrapped


def move_line(
    move: Any, start: dt.date, actors: Mapping[str, str], levers: Mapping[tuple[str, str], str]
) -> str:
    """Return one move in plain language.

    For example ``2025-11-14 China -> Japan: travel advisory (rung 2, CAMEO 160)``.
    """
    date = start + dt.timedelta(days=int(move.day))
    name = levers.get((move.actor, move.lever), move.lever.replace("_", " "))
    line = (
        f"{date.isoformat()} {actors.get(move.actor, move.actor)} -> "
        f"{actors.get(move.target, move.target)}: {name} (rung {move.rung}, CAMEO {move.cameo})"
    )
    if move.source != "policy":
        line += f" [{move.source.replace(':', ' ', 1)}]"
    return line


def event_line(day: float, event: str, what: str, start: dt.date, names: Mapping[str, str]) -> str:
    """Return one exogenous event, e.g. ``2026-04-01 event: Beijing visit (cancelled)``."""
    date = start + dt.timedelta(days=int(day))
    return f"{date.isoformat()} event: {names.get(event, event)} ({what})"


def render_trace(
    record: Any,
    spec: Any,
    levers: Mapping[tuple[str, str], str],
    heading: str = "",
) -> str:
    """Return a dated chronicle of one run's moves followed by its end state."""
    actors = dict(getattr(spec, "actor_names", {}))
    events = {e.id: e.name or e.id for e in getattr(spec, "events", ())}
    # (day, 0) for events sorts an event before the moves it causes at the same instant.
    entries = [(m.day, 1, move_line(m, spec.start, actors, levers)) for m in record.moves]
    entries += [
        (day, 0, event_line(day, event, what, spec.start, events))
        for day, event, what in getattr(record, "event_log", ())
    ]
    entries.sort(key=lambda e: (e[0], e[1]))
    lines = [wrapped(line) for line in heading.splitlines()]  # each of its lines wrapped
    # A long line goes on under its text, not under its date.
    lines += [wrapped(text, hang=len("2025-11-07 ")) for _, _, text in entries] or ["(no moves)"]
    lines += ["", wrapped(end_state(record, spec, actors))]
    return "\n".join(lines) + "\n"


def end_state(record: Any, spec: Any, actors: Mapping[str, str]) -> str:
    """Return the end state of one run: outcome, peak and final rung, dyads and costs."""
    rungs = spec.rung_names
    day = spec.start + dt.timedelta(days=int(record.end_day))
    peak_date = spec.start + dt.timedelta(days=int(record.peak_day))
    labels = dict(getattr(spec, "outcome_labels", {}))
    why = "ended early" if record.ended_early else "reached the horizon"
    lines = [
        f"End state on {day.isoformat()} (day {record.end_day:g}, {why}): "
        f"{labels.get(record.outcome, record.outcome)}",
        f"  peak rung {record.peak_rung} ({rungs[record.peak_rung]}) on {peak_date.isoformat()}; "
        f"final rung {record.final_rung} ({rungs[record.final_rung]})",
    ]
    last = min(int(record.end_day), record.dyad_rungs.shape[1] - 1)
    ids = spec.actor_ids
    for (a, b), series in zip(record.dyads, record.dyad_rungs, strict=True):
        a, b = (a, b) if isinstance(a, str) else (ids[a], ids[b])
        r = int(series[last])
        lines.append(f"  {actors.get(a, a)} - {actors.get(b, b)}: rung {r} ({rungs[r]})")
    costs = ", ".join(f"{actors.get(a, a)} {num(c)}" for a, c in record.costs.items())
    lines.append(f"  costs ({getattr(spec, 'cost_unit', 'cost units')}): {costs}")
    lines.append(f"  {len(record.moves)} moves, {record.events_scheduled:,} simulation events")
    return "\n".join(lines)
