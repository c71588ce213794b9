"""The runs table: one row per finished replication, its columns declared once, here.

Each :class:`Family` of :data:`COLUMNS` says which columns it adds for a compiled run spec
(their names, in order, with their dtypes) and how one replication's record yields their
values. The chunks of an ensemble build their rows with :func:`run_row`, the store writes
them in the Arrow schema :func:`runs_schema`, and every reader -- the summary, the paired
comparison, a sweep's points (through :mod:`sim.analysis.measures`) -- names a column with
the functions below (:func:`cost`, :func:`reach`, :func:`event` ...), never by spelling it.

A new column is a new family (or a new name in one), added to :data:`COLUMNS`.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sim.analysis.rivera import rivera_weight
from sim.results.seeding import seed_key

if TYPE_CHECKING:
    import pyarrow as pa

# --- the names of the columns that come one per actor, rung, event or score -------------------


def cost(actor: str) -> str:
    """The column holding ``actor``'s cost."""
    return f"cost_{actor}"


def moves(actor: str) -> str:
    """The column holding ``actor``'s number of moves."""
    return f"moves_{actor}"


def reach(rung: int) -> str:
    """The column holding the first day the overall rung reached ``rung`` (NaN: never)."""
    return f"first_day_rung_{rung}"


def dyad(actor: str, target: str) -> str:
    """The name of a directed dyad in the score columns, e.g. ``USA->CHN``."""
    return f"{actor}->{target}"


#: The scoring profiles computed from a run's moves, each with columns of its own.
MOVE_PROFILES = ("goldstein", "rivera")


def score_parts(profile: str, actor_ids: Sequence[str]) -> list[str]:
    """The parts a move-based profile scores: the total, then per directed dyad or per actor."""
    if profile == "goldstein":
        return ["total", *(dyad(a, b) for a in actor_ids for b in actor_ids if a != b)]
    return ["total", *actor_ids]


def score(profile: str, part: str = "total") -> str:
    """The column of one part of a move-based profile: ``goldstein_total``, ``rivera_USA``."""
    return f"{profile}_{part}"


def score_columns(actor_ids: Sequence[str]) -> list[str]:
    """The columns of every move-based score, in order."""
    return [score(p, part) for p in MOVE_PROFILES for part in score_parts(p, actor_ids)]


# What a scheduled event's column holds.
HELD, CANCELLED, NOT_REACHED = 1, 0, -1


def event(e: Any) -> str:
    """The column of an event: ``held_<id>`` (scheduled) or ``occurred_<id>`` (random)."""
    return f"held_{e.id}" if e.scheduled else f"occurred_{e.id}"


def postponed(e: Any) -> str:
    """The column counting a scheduled event's postponements."""
    return f"postponed_{e.id}"


def can_slip(e: Any) -> bool:
    """Whether a scheduled event can be postponed (it then has a postponements column)."""
    return bool(e.scheduled and getattr(e, "postpone_max", 0) > 0)


# --- the families -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """One finished replication, as its row is made: its index, seed key and record."""

    index: int
    seed_key: str
    record: Any


@dataclass(frozen=True)
class Family:
    """Columns of the runs table: their names and dtypes for a spec, their values of a run."""

    what: str
    dtypes: Callable[[Any], dict[str, str]]
    values: Callable[[Any, Run], dict[str, Any]]


def _identity(spec: Any, run: Run) -> dict[str, Any]:
    return {"index": run.index, "seed_key": run.seed_key}


_END_STATE = {
    "outcome": "string",
    "peak_rung": "int8",
    "peak_day": "float64",
    "final_rung": "int8",
    "end_day": "float64",
    "ended_early": "bool",
}


def _end_state(spec: Any, run: Run) -> dict[str, Any]:
    r = run.record
    return {
        "outcome": r.outcome,
        "peak_rung": int(r.peak_rung),
        "peak_day": float(r.peak_day),
        "final_rung": int(r.final_rung),
        "end_day": float(r.end_day),
        "ended_early": bool(r.ended_early),
    }


def _costs(spec: Any, run: Run) -> dict[str, Any]:
    return {cost(a): float(run.record.costs.get(a, 0.0)) for a in spec.actor_ids}


def _moves(spec: Any, run: Run) -> dict[str, Any]:
    counts = Counter(m.actor for m in run.record.moves)
    return {moves(a): counts.get(a, 0) for a in spec.actor_ids}


def _counts(spec: Any, run: Run) -> dict[str, Any]:
    return {"n_moves": len(run.record.moves), "simpy_events": int(run.record.events_scheduled)}


def _rungs(spec: Any) -> range:
    """The rungs above the bottom one, each with its first-day column."""
    return range(1, len(spec.rung_names))


def _reach(spec: Any, run: Run) -> dict[str, Any]:
    return {reach(k): float(run.record.first_day_at_rung[k]) for k in _rungs(spec)}


def _scores(spec: Any, run: Run) -> dict[str, Any]:
    return run_scores(spec.actor_ids, run.record.moves)


def run_scores(actor_ids: Sequence[str], moves: Iterable[Any]) -> dict[str, float]:
    """Return the move-based scores of one run's moves (``MoveRecord``) as their columns.

    ``goldstein_total`` and ``goldstein_<A>-><B>`` sum the Goldstein scores of the moves,
    ``rivera_total`` and ``rivera_<A>`` their Rivera et al. (2024) weights; runs without
    moves score 0.
    """
    out = dict.fromkeys(score_columns(actor_ids), 0.0)
    for m in moves:
        weight = float(rivera_weight(m.cameo))
        out["goldstein_total"] += m.goldstein
        out[score("goldstein", dyad(m.actor, m.target))] += m.goldstein
        out["rivera_total"] += weight
        out[score("rivera", m.actor)] += weight
    return out


def event_dtypes(events: Iterable[Any]) -> dict[str, str]:
    """The columns of ``events`` with their dtypes, in the events' order."""
    out: dict[str, str] = {}
    for e in events:
        out[event(e)] = "int8" if e.scheduled else "int32"
        if can_slip(e):
            out[postponed(e)] = "int16"
    return out


def run_events(
    events: Sequence[Any], event_log: Iterable[tuple[float, str, str]]
) -> dict[str, int]:
    """One replication's event columns, from its event log of (day, event id, what)."""
    row = {event(e): NOT_REACHED if e.scheduled else 0 for e in events}
    row.update({postponed(e): 0 for e in events if can_slip(e)})
    by_id = {e.id: e for e in events}
    for _, event_id, what in event_log:
        found = by_id.get(event_id)
        if found is None:
            continue
        column = event(found)
        if what == "held":
            row[column] = HELD
        elif what == "cancelled":
            row[column] = CANCELLED
        elif what == "occurred":
            row[column] += 1
        elif what == "postponed" and can_slip(found):
            row[postponed(found)] += 1
    return row


def _events(spec: Any) -> Sequence[Any]:
    return getattr(spec, "events", ())


#: The columns of the runs table, family by family, in order.
COLUMNS: tuple[Family, ...] = (
    Family("identity", lambda spec: {"index": "int64", "seed_key": "string"}, _identity),
    Family("end state", lambda spec: dict(_END_STATE), _end_state),
    Family("costs", lambda spec: {cost(a): "float64" for a in spec.actor_ids}, _costs),
    Family("moves", lambda spec: {moves(a): "int64" for a in spec.actor_ids}, _moves),
    Family("counts", lambda spec: {"n_moves": "int64", "simpy_events": "int64"}, _counts),
    Family("first days", lambda spec: {reach(k): "float64" for k in _rungs(spec)}, _reach),
    Family("scores", lambda spec: dict.fromkeys(score_columns(spec.actor_ids), "float64"), _scores),
    Family(
        "events",
        lambda spec: event_dtypes(_events(spec)),
        lambda spec, run: run_events(_events(spec), run.record.event_log),
    ),
)


# --- the table --------------------------------------------------------------------------------


def run_dtypes(spec: Any) -> dict[str, str]:
    """Return every column of the runs table with its dtype, in order.

    Two columns of one name are refused: a loaded scenario cannot make them (its ids are
    checked against the reserved ones), a spec made by hand can.
    """
    dtypes: dict[str, str] = {}
    twice: set[str] = set()
    for family in COLUMNS:
        for name, dtype in family.dtypes(spec).items():
            if name in dtypes:
                twice.add(name)
            dtypes[name] = dtype
    if twice:
        raise ValueError(f"the runs table would have two columns named {', '.join(sorted(twice))}")
    return dtypes


def run_columns(spec: Any) -> list[str]:
    """Return the columns of the runs table, in order."""
    return list(run_dtypes(spec))


def run_row(spec: Any, root: int, index: int, record: Any) -> dict[str, Any]:
    """Return the runs-table row of replication ``index`` of root seed ``root``."""
    run = Run(index, seed_key(root, index), record)
    row: dict[str, Any] = {}
    for family in COLUMNS:
        row.update(family.values(spec, run))
    return row


def runs_schema(spec: Any) -> pa.Schema:
    """Return the Arrow schema of the runs table (with pandas metadata, so dtypes round-trip)."""
    return _schema(tuple(run_dtypes(spec).items()))


@functools.lru_cache(maxsize=16)
def _schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    """Return the Arrow schema of an empty DataFrame with these (name, dtype) columns."""
    import pandas as pd
    import pyarrow as pa

    empty = pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns})
    return pa.Schema.from_pandas(empty, preserve_index=False)
