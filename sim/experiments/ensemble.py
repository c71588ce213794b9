"""Ensembles: many replications of one scenario, aggregated as they arrive.

The work is split into chunks of replication indices. An executor maps
:func:`simulate_chunk` over the chunks and yields each chunk's compact result: its rows of
the runs table, its moves as an Arrow table, its trajectories and a :class:`Tally`. Run
records never leave the chunk that made them. A :class:`Collector` takes chunks in index
order (buffering any that arrive early), so the tables come out the same whatever the
executor or the number of workers, and streams them to the results folder when there is
one.

Replication ``i`` always runs on :func:`~sim.experiments.seeding.replication_seed`
``(seed, i)``, so :meth:`Results.trace` and ``sim trace --run i`` replay it exactly.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.analysis.summary import (
    Tally,
    build_summary,
    cost_column,
    moves_column,
    reach_column,
)
from sim.errors import UsageError
from sim.experiments import store
from sim.experiments.seeding import check_seed, replication_seed, seed_key

#: Replications per chunk for the serial executor: small enough for a lively progress bar,
#: large enough that per-chunk overhead does not show.
DEFAULT_CHUNK = 25


# --- one chunk of replications ----------------------------------------------------------------


@dataclass(slots=True)
class Chunk:
    """The compact result of a contiguous block of replications ``first .. first + n - 1``."""

    first: int
    rows: list[dict[str, Any]]
    moves: pa.Table
    trajectories: np.ndarray  # (n, dyads, days + 1) int8
    tally: Tally

    def __len__(self) -> int:
        return len(self.rows)


#: The signature of the engine: ``simulate(spec, seed_sequence) -> RunRecord``.
Engine = Callable[[Any, np.random.SeedSequence], Any]


def default_engine() -> Engine:
    """Return the engine's ``simulate`` (imported on first use)."""
    from sim.engine import simulate

    return simulate


def simulate_chunk(
    spec: Any, root: int, indices: Sequence[int], engine: Engine | None = None
) -> Chunk:
    """Run the replications ``indices`` (contiguous, ascending) and return their compact result."""
    simulate = engine or default_engine()
    tally = Tally(spec.days, len(spec.rung_names))
    rows, move_tables, trajectories = [], [], []
    for index in indices:
        record = simulate(spec, replication_seed(root, index))
        rows.append(run_row(spec, root, index, record))
        move_tables.append(moves_table(spec, index, record.moves))
        trajectories.append(record.dyad_rungs)
        tally.add_record(record)
    shape = (0, len(spec.dyads), spec.days + 1)
    traj = np.stack(trajectories).astype(np.int8) if trajectories else np.empty(shape, np.int8)
    moves = pa.concat_tables(move_tables) if move_tables else store.MOVES_SCHEMA.empty_table()
    return Chunk(indices[0] if indices else 0, rows, moves, traj, tally)


def run_row(spec: Any, root: int, index: int, record: Any) -> dict[str, Any]:
    """Return the runs-table row of one replication."""
    row: dict[str, Any] = {
        "index": index,
        "seed_key": seed_key(root, index),
        "outcome": record.outcome,
        "peak_rung": int(record.peak_rung),
        "peak_day": float(record.peak_day),
        "final_rung": int(record.final_rung),
        "end_day": float(record.end_day),
        "ended_early": bool(record.ended_early),
    }
    for actor in spec.actor_ids:
        row[cost_column(actor)] = float(record.costs.get(actor, 0.0))
    counts = _count_by_actor(record.moves)
    for actor in spec.actor_ids:
        row[moves_column(actor)] = counts.get(actor, 0)
    row["n_moves"] = len(record.moves)
    row["simpy_events"] = int(record.events_scheduled)
    for rung in range(1, len(spec.rung_names)):
        row[reach_column(rung)] = float(record.first_day_at_rung[rung])
    return row


def _count_by_actor(moves: Iterable[Any]) -> dict[str, int]:
    """Return the number of moves of each actor."""
    counts: dict[str, int] = {}
    for m in moves:
        counts[m.actor] = counts.get(m.actor, 0) + 1
    return counts


def moves_table(spec: Any, index: int, moves: Sequence[Any]) -> pa.Table:
    """Return one replication's moves as an Arrow table in :data:`store.MOVES_SCHEMA`."""
    days = np.array([m.day for m in moves], dtype=float)
    start = np.datetime64(spec.start, "D")
    columns: dict[str, Any] = {
        "index": np.full(len(moves), index, dtype=np.int32),
        "date": start + np.floor(days).astype("timedelta64[D]"),
    }
    for name in store.MOVES_SCHEMA.names[2:]:
        columns[name] = [getattr(m, name) for m in moves]
    return pa.table(columns, schema=store.MOVES_SCHEMA)


# --- executors --------------------------------------------------------------------------------


class Executor(Protocol):
    """Maps a chunk function over chunks of replication indices, yielding chunk results.

    Results may come back in any order; the collector restores index order.
    """

    def map(
        self, fn: Callable[[Sequence[int]], Chunk], chunks: Iterable[Sequence[int]]
    ) -> Iterator[Chunk]:
        """Yield ``fn(chunk)`` for every chunk."""
        ...


class SerialExecutor:
    """Runs chunks one after another in this process."""

    def map(
        self, fn: Callable[[Sequence[int]], Chunk], chunks: Iterable[Sequence[int]]
    ) -> Iterator[Chunk]:
        """Yield ``fn(chunk)`` for every chunk, in order."""
        for chunk in chunks:
            yield fn(chunk)


def chunk_indices(runs: int, size: int, start: int = 0) -> list[range]:
    """Split replications ``start .. start + runs - 1`` into contiguous ranges of ``size``."""
    return [range(i, min(i + size, start + runs)) for i in range(start, start + runs, size)]


# --- collecting -------------------------------------------------------------------------------


class Collector:
    """Aggregates chunks in replication-index order, in memory or streamed to a results folder."""

    def __init__(self, spec: Any, runs: int, writer: store.ResultsWriter | None) -> None:
        self.spec = spec
        self.writer = writer
        self.rows: list[dict[str, Any]] = []
        self.tally = Tally(spec.days, len(spec.rung_names))
        self._moves: list[pa.Table] = []
        self._pending: dict[int, Chunk] = {}
        shape = (runs, len(spec.dyads), spec.days + 1)
        self._traj = writer.trajectories.array if writer else np.zeros(shape, np.int8)

    @property
    def completed(self) -> int:
        """The number of replications aggregated so far (always a prefix 0 .. n - 1)."""
        return len(self.rows)

    def add(self, chunk: Chunk) -> int:
        """Take a chunk; aggregate it and any chunks it unblocks. Return replications added."""
        self._pending[chunk.first] = chunk
        added = 0
        while self.completed in self._pending:
            ready = self._pending.pop(self.completed)
            self._aggregate(ready)
            added += len(ready)
        return added

    def _aggregate(self, chunk: Chunk) -> None:
        """Fold one in-order chunk into the tables and the tally."""
        expected = self._traj.shape[1:]
        if chunk.trajectories.shape[1:] != expected:
            raise ValueError(
                f"trajectories of shape {chunk.trajectories.shape[1:]}, expected {expected}"
            )
        self._traj[chunk.first : chunk.first + len(chunk)] = chunk.trajectories
        if self.writer:
            self.writer.moves.write(chunk.moves)
        else:
            self._moves.append(chunk.moves)
        self.rows.extend(chunk.rows)
        self.tally.merge(chunk.tally)

    def runs_frame(self) -> pd.DataFrame:
        """Return the runs table of the completed replications."""
        frame = pd.DataFrame(self.rows, columns=runs_columns(self.spec))
        return frame.astype(runs_dtypes(self.spec))

    def moves_frame(self) -> pd.DataFrame:
        """Return the in-memory moves table (only without a results folder)."""
        table = pa.concat_tables(self._moves) if self._moves else store.MOVES_SCHEMA.empty_table()
        return table.to_pandas()

    def trajectories(self) -> np.ndarray:
        """Return the in-memory trajectories of the completed replications."""
        return self._traj[: self.completed]


def runs_columns(spec: Any) -> list[str]:
    """Return the columns of the runs table, in order."""
    fixed = ["index", "seed_key", "outcome", "peak_rung", "peak_day", "final_rung", "end_day"]
    return [
        *fixed,
        "ended_early",
        *(cost_column(a) for a in spec.actor_ids),
        *(moves_column(a) for a in spec.actor_ids),
        "n_moves",
        "simpy_events",
        *(reach_column(k) for k in range(1, len(spec.rung_names))),
    ]


def runs_dtypes(spec: Any) -> dict[str, str]:
    """Return the dtype of every column of the runs table (so empty tables keep their types)."""
    dtypes = {
        "index": "int64",
        "seed_key": "string",
        "outcome": "string",
        "peak_rung": "int8",
        "peak_day": "float64",
        "final_rung": "int8",
        "end_day": "float64",
        "ended_early": "bool",
        "n_moves": "int64",
        "simpy_events": "int64",
    }
    dtypes.update({cost_column(a): "float64" for a in spec.actor_ids})
    dtypes.update({moves_column(a): "int64" for a in spec.actor_ids})
    dtypes.update({reach_column(k): "float64" for k in range(1, len(spec.rung_names))})
    return dtypes


# --- results ----------------------------------------------------------------------------------


class Results:
    """The results of an ensemble: summary, tables and trajectories, and a way to replay a run.

    With a results folder, the moves and trajectories are read from disk when first asked
    for (trajectories memory-mapped), so a large ensemble does not have to fit in memory.
    """

    def __init__(
        self,
        spec: Any,
        seed: int,
        summary: dict[str, Any],
        runs: pd.DataFrame,
        path: Path | None = None,
        moves: pd.DataFrame | None = None,
        trajectories: np.ndarray | None = None,
        status: str = "complete",
        engine: Engine | None = None,
    ) -> None:
        self.spec = spec
        self.engine = engine
        self.seed = seed
        self.summary = summary
        self.runs = runs
        self.path = path
        self.status = status
        self._moves = moves
        self._trajectories = trajectories

    @property
    def moves(self) -> pd.DataFrame:
        """One row per move: the replication ``index``, day, date and the fields of the move."""
        if self._moves is None:
            self._moves = store.read_moves(self._require_path())
        return self._moves

    @property
    def trajectories(self) -> np.ndarray:
        """Daily rung per replication and dyad, int8, shape ``(runs, dyads, days + 1)``."""
        if self._trajectories is None:
            self._trajectories = store.read_trajectories(self._require_path())
        return self._trajectories

    def _require_path(self) -> Path:
        if self.path is None:
            raise UsageError("these results hold no folder to read from")
        return self.path

    def trace(self, index: int) -> Any:
        """Re-run replication ``index`` alone and return its full :class:`RunRecord`."""
        simulate = self.engine or default_engine()
        if not 0 <= index < max(len(self.runs), 1):
            raise UsageError(f"replication {index} is not in 0..{len(self.runs) - 1}")
        return simulate(self.spec, replication_seed(self.seed, index))

    def table(self) -> str:
        """Return the summary as plain-text tables."""
        from sim.analysis.tables import render_summary

        return render_summary(self.summary)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Results({self.spec.name!r}, runs={len(self.runs)}, seed={self.seed}{where})"


# --- the entry point --------------------------------------------------------------------------


def resolve_scenario(scenario: Any, overrides: list[str] | Mapping[str, Any] | None) -> Any:
    """Return a Scenario: load a name or path (with overrides), or pass a Scenario through."""
    if isinstance(scenario, str | os.PathLike):
        from sim.scenario import load

        return load(os.fspath(scenario), _override_arg(overrides))
    if overrides:
        raise UsageError("overrides apply to a scenario name or path, not to a loaded Scenario")
    return scenario


def _override_arg(
    overrides: list[str] | Mapping[str, Any] | None,
) -> list[str] | dict[str, Any] | None:
    """Return overrides in the form the loader takes (a list, a dict or None)."""
    if overrides is None or isinstance(overrides, list):
        return overrides
    return dict(overrides)


def lever_names(spec: Any) -> dict[tuple[str, str], str]:
    """Return the display name of every lever, keyed by (actor id, lever id)."""
    ids = spec.actor_ids
    return {(ids[lv.actor], lv.id): lv.name for lv in getattr(spec, "levers", ())}


def run(
    scenario: Any,
    runs: int = 1000,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    command: str | None = None,
) -> Results:
    """Run ``runs`` replications of a scenario and return their :class:`Results`.

    Args:
        scenario: a Scenario, or the name or path of one (``overrides`` then apply).
        runs: the number of replications.
        seed: the root seed; replication ``i`` uses ``SeedSequence(seed).spawn(i + 1)[i]``.
        out: a results root; the run is written to ``out/<scenario>/<run-id>/``. None keeps
            everything in memory and writes nothing.
        progress: show a progress bar on stderr.
        overrides: ``--set`` style overrides (``["a.b=1"]`` or ``{"a.b": 1}``).
        executor: maps chunks of replications; serial in this process by default.
        chunk_size: replications per chunk.
        command: the command line to record in the manifest (default: ``sys.argv``).

    If interrupted (Ctrl-C or an error), whatever completed is still written, with status
    ``"interrupted"`` or ``"failed"`` in the manifest, before the exception propagates.
    """
    from sim.scenario import compile_scenario

    scenario = resolve_scenario(scenario, overrides)
    spec = compile_scenario(scenario)
    return run_spec(
        scenario,
        spec,
        runs,
        seed,
        out,
        progress,
        executor=executor,
        chunk_size=chunk_size,
        command=command,
    )


def run_spec(
    scenario: Any,
    spec: Any,
    runs: int,
    seed: int,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    executor: Executor | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    command: str | None = None,
    engine: Engine | None = None,
) -> Results:
    """Run an ensemble of an already compiled ``spec`` (of ``scenario``); see :func:`run`."""
    if runs < 1:
        raise UsageError(f"the number of runs must be at least 1, got {runs}")
    if chunk_size < 1:
        raise UsageError(f"the chunk size must be at least 1, got {chunk_size}")
    try:
        seed = check_seed(seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    started = _now()
    writer = None
    if out is not None:
        writer = store.ResultsWriter.create(
            Path(out), spec.name, started, runs, len(spec.dyads), spec.days
        )
    collector = Collector(spec, runs, writer)
    fn = functools.partial(simulate_chunk, spec, seed, engine=engine)
    chunks = chunk_indices(runs, chunk_size)
    finish = functools.partial(
        _finish, scenario, spec, seed, runs, collector, writer, started, engine=engine
    )
    try:
        _drive(executor or SerialExecutor(), fn, chunks, collector, progress, runs)
        if collector.completed != runs:
            # An executor that lost a chunk must not pass for a complete run.
            raise RuntimeError(f"the executor returned {collector.completed} of {runs} runs")
    except BaseException as exc:
        # Keep what completed: a long run that dies still leaves its first replications.
        interrupted = isinstance(exc, KeyboardInterrupt)
        status = "interrupted" if interrupted else "failed"
        partial = finish(status, None if interrupted else f"{type(exc).__name__}: {exc}", command)
        if partial.path is not None:
            exc.add_note(f"{len(partial.runs)} of {runs} runs saved in {partial.path}")
        raise
    return finish("complete", None, command)


def _drive(
    executor: Executor,
    fn: Callable[[Sequence[int]], Chunk],
    chunks: list[range],
    collector: Collector,
    progress: bool,
    total: int,
) -> None:
    """Feed every chunk the executor yields to the collector, with an optional progress bar."""
    import sys

    from tqdm import tqdm

    with tqdm(total=total, unit="run", file=sys.stderr, disable=not progress, leave=False) as bar:
        for chunk in executor.map(fn, chunks):
            bar.update(collector.add(chunk))


def _finish(
    scenario: Any,
    spec: Any,
    seed: int,
    runs: int,
    collector: Collector,
    writer: store.ResultsWriter | None,
    started: dt.datetime,
    status: str,
    error: str | None,
    command: str | None,
    engine: Engine | None = None,
) -> Results:
    """Build the summary of what completed, write the folder if there is one, return Results."""
    frame = collector.runs_frame()
    summary = store.jsonable(
        build_summary(
            spec,
            frame,
            collector.tally,
            seed=seed,
            title=scenario.title,
            scenario_hash=scenario.content_hash(),
            lever_names=lever_names(spec),
        )
    )
    if writer is None:
        moves, traj = collector.moves_frame(), collector.trajectories()
        return Results(spec, seed, summary, frame, None, moves, traj, status, engine)
    manifest = store.build_manifest(
        scenario=scenario,
        seed=seed,
        runs=runs,
        completed=collector.completed,
        spec=spec,
        command=command,
        started=started,
        finished=_now(),
        status=status,
        error=error,
    )
    writer.finish(frame, summary, manifest)
    return Results(spec, seed, summary, frame, writer.path, status=status, engine=engine)


def _now() -> dt.datetime:
    """Return the current UTC time."""
    return dt.datetime.now(dt.UTC)
