"""Ensembles: many replications of one scenario, aggregated as they arrive.

The work is split into chunks of replication indices. An executor (serial, local processes
or Dask, see :mod:`sim.experiments.executors`) maps a :class:`ChunkRunner` over the chunks
and yields each chunk's compact result: its rows of the runs table and its moves as Arrow
tables, its trajectories as int8, its failed replications and a :class:`Tally`. Run
records never leave the chunk that made them. A :class:`Collector` takes chunks in index
order (buffering any that arrive early), so the tables come out the same whatever the
executor or the number of workers, and streams them to the results folder.

Replication ``i`` always runs on :func:`~sim.experiments.seeding.replication_seed`
``(seed, i)``, so :meth:`Results.trace` and ``sim trace --run i`` replay it exactly, a
replication that raises can be replayed to the same error, and an ensemble that stops (on
Ctrl-C, a dead worker, or a precision target) can be extended or resumed and still equal a
plain run of the same length.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import shutil
import socket
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.analysis import events, scoring
from sim.analysis.summary import (
    Tally,
    build_summary,
    cost_column,
    failure_summary,
    moves_column,
    outcome_counts,
    reach_column,
)
from sim.errors import SimWarning, UsageError
from sim.experiments import store
from sim.experiments.executors import (
    Executor,
    SerialExecutor,
    WorkerLost,
    make_executor,
)
from sim.experiments.posterior import keep as keep_posterior
from sim.experiments.posterior import kept as kept_posterior
from sim.experiments.posterior import override_paths, posterior_engine
from sim.experiments.precision import DEFAULT_MAX_RUNS, Precision, Schedule
from sim.experiments.seeding import check_seed, replication_seed, seed_key
from sim.experiments.stops import (
    MachineFault,
    interrupts_deferred,
    machine_problem,
    stop_status,
    where,
)

#: Replications per chunk: small enough for a lively progress bar and little lost work on
#: Ctrl-C, large enough that per-chunk overhead (a message to a worker) does not show.
DEFAULT_CHUNK = 25

#: How many failed replications the summary lists (all of them are in failures.parquet).
FAILURE_EXAMPLES = 5

#: The most replications one run may plan (``--runs``, ``--max-runs``): the moves table
#: numbers replications as 32-bit integers. Chunks are made as they are needed, so memory
#: does not grow with the number planned.
MAX_RUNS = 1_000_000_000

#: The signature of the engine: ``simulate(spec, seed_sequence) -> RunRecord``.
Engine = Callable[[Any, np.random.SeedSequence], Any]

#: The file of a branched run's folder saying where it branched from (sim.experiments.branch).
BRANCH_FILE = "branch.json"

#: Called after each chunk is aggregated with (replications done, replications planned).
Callback = Callable[[int, int], None]


def default_engine() -> Engine:
    """Return the engine's ``simulate`` (imported on first use)."""
    from sim.engine import simulate

    return simulate


# --- the runs table ---------------------------------------------------------------------------


def runs_columns(spec: Any) -> list[str]:
    """Return the columns of the runs table, in order (two of one name are refused)."""
    fixed = ["index", "seed_key", "outcome", "peak_rung", "peak_day", "final_rung", "end_day"]
    columns = [
        *fixed,
        "ended_early",
        *(cost_column(a) for a in spec.actor_ids),
        *(moves_column(a) for a in spec.actor_ids),
        "n_moves",
        "simpy_events",
        *(reach_column(k) for k in range(1, len(spec.rung_names))),
        *scoring.run_score_columns(spec.actor_ids),
        *events.event_dtypes(getattr(spec, "events", ())),
    ]
    twice = sorted(c for c, n in Counter(columns).items() if n > 1)
    if twice:  # A loaded scenario cannot get here (reserved ids); a spec made by hand can.
        raise ValueError(f"the runs table would have two columns named {', '.join(twice)}")
    return columns


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
    dtypes.update(dict.fromkeys(scoring.run_score_columns(spec.actor_ids), "float64"))
    dtypes.update(events.event_dtypes(getattr(spec, "events", ())))
    return dtypes


def runs_schema(spec: Any) -> pa.Schema:
    """Return the Arrow schema of the runs table (with pandas metadata, so dtypes round-trip)."""
    dtypes = runs_dtypes(spec)
    return _schema(tuple((c, dtypes[c]) for c in runs_columns(spec)))


@functools.lru_cache(maxsize=16)
def _schema(columns: tuple[tuple[str, str], ...]) -> pa.Schema:
    """Return the Arrow schema of an empty DataFrame with these (name, dtype) columns."""
    empty = pd.DataFrame({name: pd.Series([], dtype=dtype) for name, dtype in columns})
    return pa.Schema.from_pandas(empty, preserve_index=False)


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
    counts = Counter(m.actor for m in record.moves)
    for actor in spec.actor_ids:
        row[moves_column(actor)] = counts.get(actor, 0)
    row["n_moves"] = len(record.moves)
    row["simpy_events"] = int(record.events_scheduled)
    for rung in range(1, len(spec.rung_names)):
        row[reach_column(rung)] = float(record.first_day_at_rung[rung])
    row.update(scoring.run_scores(spec.actor_ids, record.moves))
    row.update(events.run_events(getattr(spec, "events", ()), record.event_log))
    return row


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


def failure_row(root: int, index: int, exc: BaseException) -> dict[str, Any]:
    """Return the failures-table row of a replication that raised ``exc``."""
    return {
        "index": index,
        "seed_key": seed_key(root, index),
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(exc)),
    }


# --- one chunk of replications ----------------------------------------------------------------


@dataclass
class Chunk(store.ChunkTables):
    """The compact result of a chunk: its tables, and the :class:`Tally` of its runs."""

    tally: Tally

    def __len__(self) -> int:
        return self.count


def simulate_chunk(
    spec: Any, root: int, indices: Sequence[int], engine: Engine | None = None
) -> Chunk:
    """Run the replications ``indices`` (contiguous, ascending) and return their compact result.

    A replication that raises an ``Exception`` is recorded as a failure and the chunk goes
    on; Ctrl-C and other ``BaseException`` stop it.
    """
    simulate = engine or default_engine()
    tally = Tally(spec.days, len(spec.rung_names))
    rows, move_tables, trajectories, failures = [], [], [], []
    for index in indices:
        try:
            record = simulate(spec, replication_seed(root, index))
        except Exception as exc:  # A bad replication must not sink the ensemble.
            failures.append(failure_row(root, index, exc))
            continue
        rows.append(run_row(spec, root, index, record))
        move_tables.append(moves_table(spec, index, record.moves))
        trajectories.append(record.dyad_rungs)
        tally.add_record(record)
    shape = (0, len(spec.dyads), spec.days + 1)
    traj = np.stack(trajectories).astype(np.int8) if trajectories else np.empty(shape, np.int8)
    return Chunk(
        first=indices[0] if len(indices) else 0,
        count=len(indices),
        runs=pa.Table.from_pylist(rows, schema=runs_schema(spec)),
        moves=pa.concat_tables(move_tables) if move_tables else store.MOVES_SCHEMA.empty_table(),
        trajectories=traj,
        tally=tally,
        failures=pa.Table.from_pylist(failures, schema=store.FAILURES_SCHEMA),
    )


@dataclass(frozen=True)
class ScenarioSource:
    """A scenario in plain form for a worker: its JSON, content hash and policy modules.

    ``code`` is the fingerprint of the ``sim`` sources the run started with: a worker whose
    code differs (a file edited during a long run, another version on a cluster node) would
    silently give other results, so it refuses to run.
    """

    json: str
    content_hash: str
    modules: tuple[str, ...] = ()
    code: str = ""

    @classmethod
    def of(cls, scenario: Any, spec: Any) -> ScenarioSource | None:
        """Return the source of a validated Scenario, None for anything else."""
        if not hasattr(scenario, "model_dump_json") or not hasattr(scenario, "content_hash"):
            return None
        modules = {a.policy_cls.__module__ for a in getattr(spec, "actors", ())}
        # A policy defined in a script's __main__ is re-registered when spawn re-imports it.
        modules.discard("__main__")
        return cls(
            scenario.model_dump_json(),
            scenario.content_hash(),
            tuple(sorted(modules)),
            code_fingerprint(),
        )


#: The subpackages of ``sim`` whose code a worker runs: what can change a run's results
#: (figures, the report and the command line cannot, and may be edited during a run).
RESULT_CODE = ("engine", "policies", "scenario", "experiments", "analysis")


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Return a hash of the sources that make results (:data:`RESULT_CODE`), once per process."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for package in RESULT_CODE:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def compiled(source: ScenarioSource) -> Any:
    """Return the run spec of a scenario source: validated and compiled once per process."""
    import importlib
    import json

    import sim.policies  # noqa: F401 - registers the built-in policies
    from sim.engine.policy import registered_policies
    from sim.scenario import compile_scenario
    from sim.scenario.schema import Scenario

    if source.code and source.code != code_fingerprint():
        raise UsageError(
            "the sim source files in this worker differ from those the run started with "
            "(edited during the run, or another version on this machine): results would "
            "differ; restart Python (the notebook's kernel) and start the run again"
        )
    for module in source.modules:
        importlib.import_module(module)  # Registers the scenario's own policies.
    wanted = {a["policy"]["name"] for a in json.loads(source.json)["actors"]}
    missing = sorted(wanted - set(registered_policies()))
    if missing:
        raise UsageError(
            f"policy {', '.join(missing)} is not registered in a worker process: define "
            "custom policies in an importable module (workers import it), or run with "
            "workers=1 (--workers 1)"
        )
    scenario = Scenario.model_validate_json(source.json)
    if scenario.content_hash() != source.content_hash:
        raise RuntimeError("the scenario changed on its way to a worker (content hash differs)")
    return compile_scenario(scenario)


class ChunkRunner:
    """Runs chunks of replications of one scenario: the function executors map.

    In this process it holds the compiled spec. Pickled, to reach a worker process or a
    Dask worker, it travels as the scenario's JSON (:class:`ScenarioSource`), which the
    worker validates and compiles once (on the first chunk, so an error is reported as
    that chunk's error rather than killing the worker) and caches.
    """

    def __init__(
        self,
        spec: Any,
        seed: int,
        engine: Engine | None = None,
        source: ScenarioSource | None = None,
    ) -> None:
        self._spec = spec
        self.seed = seed
        self.engine = engine
        self.source = source

    @property
    def spec(self) -> Any:
        """The compiled run spec."""
        if self._spec is None:
            assert self.source is not None
            self._spec = compiled(self.source)
        return self._spec

    def __call__(self, indices: Sequence[int]) -> Chunk:
        """Run the replications ``indices`` and return their chunk."""
        return simulate_chunk(self.spec, self.seed, indices, self.engine)

    def __reduce__(self) -> tuple[Any, ...]:
        if self.source is None:  # A spec that is not a Scenario's (tests, custom engines).
            return (ChunkRunner, (self._spec, self.seed, self.engine))
        return (ChunkRunner, (None, self.seed, self.engine, self.source))


def chunk_indices(runs: int, size: int, start: int = 0) -> Iterator[range]:
    """Split replications ``start .. start + runs - 1`` into contiguous ranges of ``size``.

    The ranges are made one at a time as they are taken, never as a list: a plan of a
    billion replications costs no more memory than one of a thousand.
    """
    return (range(i, min(i + size, start + runs)) for i in range(start, start + runs, size))


# --- collecting -------------------------------------------------------------------------------


class Collector:
    """Aggregates chunks in replication-index order into a results folder or memory.

    ``completed`` is always a prefix ``0 .. completed - 1`` of the replications; chunks that
    arrive early wait (at most the executor's window of them) until the gap before them fills.
    """

    def __init__(
        self,
        sink: store.ResultsWriter | store.MemoryTables,
        tally: Tally,
        completed: int = 0,
        outcomes: Counter[str] | None = None,
        failed: int = 0,
    ) -> None:
        self.sink = sink
        self.tally = tally
        self.completed = completed
        self.outcomes: Counter[str] = outcomes or Counter()
        self.failed = failed
        self._pending: dict[int, Chunk] = {}

    def add(self, chunk: Chunk) -> int:
        """Take a chunk; aggregate it and any chunks it unblocks. Return replications added."""
        if chunk.first < self.completed or chunk.first in self._pending:
            raise RuntimeError(f"chunk at replication {chunk.first} arrived twice")
        self._pending[chunk.first] = chunk
        added = 0
        while self.completed in self._pending:
            ready = self._pending.pop(self.completed)
            self._aggregate(ready)
            added += len(ready)
        return added

    def _aggregate(self, chunk: Chunk) -> None:
        """Fold one in-order chunk into the tables and the counters, whole or not at all."""
        outcomes = outcome_counts(chunk.runs.column("outcome").to_pandas())
        # Ctrl-C between writing the rows and counting them would save a folder whose
        # manifest and tables disagree; it takes effect once the chunk is in.
        with interrupts_deferred():
            self.sink.append(chunk)
            self.tally.merge(chunk.tally)
            self.outcomes.update(outcomes)
            self.failed += chunk.failures.num_rows
            self.completed += chunk.count


# --- results ----------------------------------------------------------------------------------


class Results:
    """The results of an ensemble: summary, tables and trajectories, and a way to replay a run.

    With a results folder the tables are read from disk when first asked for (trajectories
    memory-mapped), so a large ensemble never has to fit in memory.
    """

    def __init__(
        self,
        spec: Any,
        seed: int,
        summary: dict[str, Any],
        path: Path | None = None,
        tables: store.MemoryTables | None = None,
        status: str = "complete",
        engine: Engine | None = None,
    ) -> None:
        self.spec = spec
        self.engine = engine
        self.seed = seed
        self.summary = summary
        self.path = path
        self.status = status
        self._tables = tables
        self._cache: dict[str, Any] = {}

    def _table(self, name: str, memory: Callable[[], Any], disk: Callable[[], Any]) -> Any:
        if name not in self._cache:
            self._cache[name] = memory() if self._tables is not None else disk()
        return self._cache[name]

    @property
    def runs(self) -> pd.DataFrame:
        """One row per finished replication: index, seed key, outcome, peak, costs, ..."""
        tables = self._tables
        return self._table("runs", lambda: tables.runs(), lambda: store.read_runs(self._path()))

    @property
    def moves(self) -> pd.DataFrame:
        """One row per move: the replication ``index``, day, date and the fields of the move."""
        tables = self._tables
        return self._table("moves", lambda: tables.moves(), lambda: store.read_moves(self._path()))

    @property
    def failures(self) -> pd.DataFrame:
        """One row per replication that raised: index, seed key, error and traceback."""
        tables = self._tables
        return self._table(
            "failures", lambda: tables.failures(), lambda: store.read_failures(self._path())
        )

    @property
    def trajectories(self) -> np.ndarray:
        """Daily rung per finished replication and dyad, int8, ``(runs, dyads, days + 1)``."""
        tables = self._tables
        return self._table(
            "trajectories",
            lambda: tables.trajectories(),
            lambda: store.read_trajectories(self._path()),
        )

    @property
    def replications(self) -> int:
        """The replications run, finished or failed."""
        return int(self.summary["replications"])

    @property
    def precision(self) -> dict[str, Any] | None:
        """What the precision target achieved, None for a run of a fixed length."""
        return self.summary.get("precision")

    def columns(self) -> Any:
        """Return the runs table, or its columns on demand when it is on disk."""
        if self._tables is not None:
            return self.runs
        return store.RunsColumns(self._path() / store.RUNS)

    def _path(self) -> Path:
        if self.path is None:
            raise UsageError("these results hold no folder to read from")
        return self.path

    def trace(self, index: int) -> Any:
        """Re-run replication ``index`` alone and return its full :class:`RunRecord`.

        A replication that failed raises its error again.
        """
        simulate = self.engine or default_engine()
        if not 0 <= index < max(self.replications, 1):
            raise UsageError(f"replication {index} is not in 0..{self.replications - 1}")
        return simulate(self.spec, replication_seed(self.seed, index))

    def table(self) -> str:
        """Return the summary as plain-text tables."""
        from sim.analysis.tables import render_summary

        return render_summary(self.summary)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Results({self.spec.name!r}, runs={self.summary['runs']}, seed={self.seed}{where})"


# --- an ensemble in progress ------------------------------------------------------------------


@dataclass
class Plan:
    """How long to run: a fixed number of replications, or until a precision is reached."""

    runs: int | None = None
    schedule: Schedule | None = None

    @property
    def precision(self) -> Precision | None:
        """The precision target, None for a fixed number of runs."""
        return None if self.schedule is None else self.schedule.precision

    def first_target(self, done: int, counts: Mapping[str, int]) -> int | None:
        """Return the replications to reach first (None: nothing left to do)."""
        if self.schedule is None:
            assert self.runs is not None
            return self.runs if done < self.runs else None
        if self.schedule.batches and done < self.schedule.batches[-1]:
            return self.schedule.batches[-1]  # Resuming in the middle of a batch.
        return self.schedule.advance(done, counts)

    def next_target(self, done: int, counts: Mapping[str, int]) -> int | None:
        """Return the next boundary after reaching one (None: stop)."""
        return None if self.schedule is None else self.schedule.advance(done, counts)

    @property
    def planned(self) -> int:
        """The replications planned so far."""
        if self.schedule is None:
            return self.runs or 0
        return self.schedule.batches[-1] if self.schedule.batches else 0


class Ensemble:
    """One ensemble being run: its scenario, seed, plan, collector and where it writes."""

    def __init__(
        self,
        scenario: Any,
        spec: Any,
        seed: int,
        plan: Plan,
        collector: Collector,
        *,
        chunk_size: int,
        engine: Engine | None,
        command: str | None,
        started: dt.datetime,
        resumed_from: int | None = None,
        fresh: bool = False,
    ) -> None:
        self.scenario = scenario
        self.spec = spec
        self.seed = seed
        self.plan = plan
        self.collector = collector
        self.chunk_size = chunk_size
        self.engine = engine
        self.command = command
        self.started = started
        self.resumed_from = resumed_from
        self.runner = ChunkRunner(spec, seed, engine, ScenarioSource.of(scenario, spec))
        self._clock = time.perf_counter()
        self._done_at_start = collector.completed
        self.executor_name = "serial"
        self.fresh = fresh  # The folder was made for this run: nothing in it to keep.
        self._save_failure: BaseException | None = None
        self._space_checked = False

    @property
    def writer(self) -> store.ResultsWriter | None:
        """The results folder's writer, None in memory."""
        sink = self.collector.sink
        return sink if isinstance(sink, store.ResultsWriter) else None

    def execute(self, executor: Executor, progress: bool, callback: Callback | None) -> Results:
        """Run the plan on ``executor`` (entered by the caller); save what completed, however.

        Whatever stops the run -- Ctrl-C, a signal, a lost worker or cluster, a full or
        unwritable disk, an error -- the completed chunks stay in the folder's journal, the
        tables and summary are written if they can be, and the error raised says what the
        folder holds, read back from it after the attempt, and how to finish it.
        """
        self.executor_name = _describe(executor)
        try:
            if self.writer is not None:
                self._start_writing()
            try:
                with _progress_bar(progress, self) as bar:
                    self._run_plan(executor, bar, callback)
            except BaseException as exc:
                self._save_after(exc)
                raise
            return self.finish("complete", None)
        except BaseException as exc:
            told = self._told(exc)
            if told is exc:
                raise
            raise told from exc

    def _start_writing(self) -> None:
        """Write the manifest as 'running'; a new folder that cannot even hold that goes."""
        writer = self.writer
        assert writer is not None
        try:
            self.write_manifest("running", None)
        except OSError as exc:
            if not self.fresh:
                raise
            writer.abort()
            raise _abandoned(writer.path, exc) from exc

    def _run_plan(self, executor: Executor, bar: Any, callback: Callback | None) -> None:
        """Extend the ensemble batch by batch until the plan says stop."""
        collector = self.collector
        target = self.plan.first_target(collector.completed, collector.outcomes)
        while target is not None:
            bar.total = target
            bar.refresh()
            self.extend(executor, target, bar, callback)
            target = self.plan.next_target(collector.completed, collector.outcomes)

    def extend(self, executor: Executor, target: int, bar: Any, callback: Callback | None) -> None:
        """Run replications ``completed .. target - 1``."""
        collector = self.collector
        chunks = chunk_indices(target - collector.completed, self.chunk_size, collector.completed)
        with contextlib.closing(iter(executor.map(self.runner, chunks))) as results:
            for chunk in results:
                added = collector.add(chunk)
                bar.update(added)
                if added and not self._space_checked:
                    self._check_space()
                if callback is not None and added:
                    callback(collector.completed, target)
        if collector.completed != target:
            # An executor that lost a chunk must not pass for a complete run.
            raise RuntimeError(f"the executor returned {collector.completed} of {target} runs")

    def _check_space(self) -> None:
        """Once a chunk is saved, warn if the disk looks too small for the rest of the run.

        The run goes on either way (the estimate may be wrong, others may free space): when
        the disk fills, what completed is kept and the message says how to finish it.
        """
        self._space_checked = True
        writer = self.writer
        if writer is None or not writer.completed:
            return
        per_run = DISK_PER_JOURNAL_BYTE * writer.journal.size / writer.completed
        planned = self.plan.runs if self.plan.runs is not None else self.plan.precision.max_runs
        need = per_run * (planned - writer.completed)
        free = store.free_space(writer.path)
        if need > free:
            warnings.warn(
                f"{writer.path}: the rest of this run needs about {_size(need)} on the disk "
                f"({_size(per_run)} a run) and {_size(free)} is free; if the disk fills up, "
                "the completed runs are kept and 'sim run --resume' finishes them",
                SimWarning,
                stacklevel=2,
            )

    def _save_after(self, exc: BaseException) -> None:
        """Write the tables of what completed after ``exc`` stopped the run; never mask ``exc``.

        A failure here (a full disk, a second Ctrl-C) is kept for the message: the journal
        holds every completed chunk whether or not the tables could be written.
        """
        if self.writer is None:
            return  # Nothing to save in memory.
        status, error = stop_status(exc)
        with contextlib.suppress(BaseException):  # finish keeps why, for the message
            self.finish(status, error)

    def finish(self, status: str, error: str | None) -> Results:
        """Build the summary of what completed, publish the folder if any, return Results.

        A complete folder then loses its journal: its tables hold everything, on the disk.
        """
        sink, spec = self.collector.sink, self.spec
        if isinstance(sink, store.MemoryTables):
            failures = sink.failures()
            summary = self.summary(sink.runs(), failures.head(FAILURE_EXAMPLES).to_dict("records"))
            return Results(spec, self.seed, summary, None, sink, status, self.engine)
        try:
            sink.publish()
            examples = store.read_failures(sink.path).head(FAILURE_EXAMPLES).to_dict("records")
            with store.RunsColumns(sink.path / store.RUNS) as runs:
                summary = self.summary(runs, examples)
            store.write_json(sink.path / store.SUMMARY, summary)
            self.write_manifest(status, error)
        except BaseException as failed:
            self._save_failure = failed
            sink.abort()
            raise
        if status == "complete":
            with contextlib.suppress(OSError):  # A journal left in a complete folder is harmless.
                sink.journal.remove()
                store.sync_folder(sink.path)
        else:
            sink.journal.close()
        return Results(spec, self.seed, summary, sink.path, None, status, self.engine)

    def _told(self, exc: BaseException) -> BaseException:
        """Return the error that tells how ``exc`` ended the run and what the folder holds.

        What is saved is read back from the folder (:func:`store.saved`), never taken from
        what this process believes it wrote. A fault of the machine becomes one
        :class:`MachineFault`; a lost worker or cluster keeps its type; anything else
        (Ctrl-C, a signal, an error) gets the same words as a note.
        """
        writer = self.writer
        if writer is None or isinstance(exc, MachineFault):
            return exc
        try:
            on_disk = store.saved(writer.path)
        except OSError as unreadable:  # The disk that failed may not read either.
            exc.add_note(f"the runs saved in {writer.path} could not be counted: {unreadable}")
            return exc
        saved = f"{on_disk.runs} of {self.plan.planned} runs saved in {writer.path}"
        if not on_disk.tables:
            saved += f" (in its {store.CHUNKS} only{self._why_no_tables(exc)})"
        finish = f"finish them with: sim run --resume {writer.path}"
        problem = machine_problem(exc)
        if problem is not None:
            what = f"{problem.what}{where(exc)}"
            return MachineFault(f"{what}; {saved}; {problem.remedy}, then {finish}")
        if isinstance(exc, WorkerLost):
            return type(exc)(f"{exc}; {saved}; {finish}")
        exc.add_note(f"{saved}; {finish}")
        return exc

    def _why_no_tables(self, exc: BaseException) -> str:
        """Say why the tables do not show what the journal holds (nothing if ``exc`` says it)."""
        failed = self._save_failure
        if failed is exc:
            return ""
        if failed is None:
            return ": the tables were not written"
        if isinstance(failed, KeyboardInterrupt):
            return ": interrupted again while the tables were written"
        problem = machine_problem(failed)
        return f": the tables could not be written: {problem.what if problem else failed}"

    def summary(self, runs: Any, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """Return the summary (JSON data) of the replications completed."""
        collector = self.collector
        summary = build_summary(
            self.spec,
            runs,
            collector.tally,
            seed=self.seed,
            title=self.scenario.title,
            scenario_hash=self.scenario.content_hash(),
            lever_names=lever_names(self.spec),
            failures=failure_summary(collector.failed, collector.completed, examples),
        )
        schedule = self.plan.schedule
        if schedule is not None:
            summary["precision"] = schedule.precision.report(
                collector.completed, collector.outcomes, self.spec.outcome_ids, schedule.batches
            )
        posterior = getattr(self.engine, "posterior", None)
        if posterior is not None:  # runs over a calibration's posterior say so
            summary["posterior"] = posterior.summary_block(self.seed, collector.completed)
        branched = getattr(self.engine, "branched_from", None)
        if branched:  # branches of a run say where they branched from
            summary["branched_from"] = branched
        return store.jsonable(summary)

    def write_manifest(self, status: str, error: str | None) -> None:
        """Write the manifest (first as 'running', last with the final status)."""
        writer = self.writer
        assert writer is not None
        done = writer.completed  # What the journal holds (the collector agrees).
        seconds = time.perf_counter() - self._clock
        session = done - self._done_at_start
        running = status == "running"
        extra = {
            "chunk_size": self.chunk_size,
            "precision": self.plan.precision.to_json() if self.plan.precision else None,
            "replications_failed": self.collector.failed,
            "resumed_from": self.resumed_from,
            "executor": self.executor_name,
            "code_fingerprint": code_fingerprint(),
            "process": {"pid": os.getpid(), "host": socket.gethostname()} if running else None,
            "timing": None
            if running
            else {
                "seconds": round(seconds, 3),
                "replications": session,
                "per_second": round(session / seconds, 2) if seconds > 0 else None,
            },
        }
        manifest = store.build_manifest(
            scenario=self.scenario,
            seed=self.seed,
            runs=self.plan.planned,
            completed=done,
            spec=self.spec,
            command=self.command,
            started=self.started,
            finished=None if running else _now(),
            status=status,
            error=error,
            extra=extra,
        )
        store.write_json(writer.path / store.MANIFEST, manifest)


def _abandoned(path: Path, exc: OSError) -> MachineFault:
    """Remove a folder made for a run that could not even start writing it; say so.

    A folder without its manifest is not a results folder (``--resume`` refuses it), and
    nothing in it is worth keeping: it was made a moment ago, and no run has completed.
    """
    shutil.rmtree(path, ignore_errors=True)
    problem = machine_problem(exc)
    return MachineFault(
        f"{problem.what if problem else exc}{where(exc)}: could not start writing the results "
        f"in {path}; nothing was run and the folder was removed"
    )


def _new_writer(path: Path, schema: pa.Schema, n_dyads: int, days: int) -> store.ResultsWriter:
    """Open the writer of a folder just made, or remove the folder if the disk refuses."""
    try:
        return store.ResultsWriter(path, schema, n_dyads, days)
    except OSError as exc:
        raise _abandoned(path, exc) from exc


#: The disk a run takes per byte of its journal: the journal, and the tables written beside
#: it as the run goes (measured: 1.18 of the journal for the named scenario, whose
#: trajectories the journal compresses; 0.49 for the two-actor test fixture).
DISK_PER_JOURNAL_BYTE = 2.2


def _size(n: float) -> str:
    """Return a number of bytes as a short size: 3.4 MB, 1.2 GB."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError  # pragma: no cover


def _describe(executor: Any) -> str:
    """Return a short description of an executor for the manifest."""
    name = type(executor).__name__.removesuffix("Executor").lower() or "custom"
    workers = getattr(executor, "workers", None)
    return f"{name} ({workers} workers)" if workers else name


def _entered(executor: Any) -> contextlib.AbstractContextManager[Any]:
    """Return the executor as a context manager (a plain ``map`` object needs none)."""
    if hasattr(executor, "__enter__"):
        return executor
    return contextlib.nullcontext(executor)


def _progress_bar(progress: bool, ens: Ensemble) -> Any:
    """Return a tqdm bar on stderr (runs/s and time left), disabled when not wanted."""
    import sys

    from tqdm import tqdm

    return tqdm(
        total=ens.plan.planned or None,
        initial=ens.collector.completed,
        unit="run",
        desc=ens.spec.name,
        file=sys.stderr,
        disable=not progress,
        leave=False,
        dynamic_ncols=True,
    )


# --- the entry points -------------------------------------------------------------------------


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


def choose_executor(
    executor: Executor | str | None,
    workers: int | None,
    scheduler: str | None,
    runs: int | None,
    chunk_size: int,
) -> Executor:
    """Return the executor to use: the one given, or one made from ``executor`` and ``workers``.

    With neither, replications run in this process. ``workers=0`` means every core, as
    ``--workers 0`` does. A job of a single chunk runs in this process too: a pool would
    only add its start-up time; and no more workers start than there are chunks.
    """
    if executor is not None and not isinstance(executor, str):
        if workers is not None or scheduler is not None:
            raise UsageError("give workers and scheduler to the executor, not to run()")
        return executor
    if executor is None and workers is None:
        return SerialExecutor()
    if executor in (None, "processes") and runs is not None and runs <= chunk_size:
        return SerialExecutor()
    chunks = None if runs is None else -(-runs // chunk_size)
    return make_executor(executor, workers, scheduler, chunks)


def run(
    scenario: Any,
    runs: int | None = None,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    workers: int | None = None,
    executor: Executor | str | None = None,
    scheduler: str | None = None,
    precision: float | None = None,
    max_runs: int | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    command: str | None = None,
    callback: Callback | None = None,
    name: str | None = None,
    force: bool = False,
    posterior: str | os.PathLike[str] | None = None,
) -> Results:
    """Run replications of a scenario and return their :class:`Results`.

    Args:
        scenario: a Scenario, or the name or path of one (``overrides`` then apply).
        runs: the number of replications (default 1000; not with ``precision``).
        seed: the root seed; replication ``i`` uses ``SeedSequence(seed).spawn(i + 1)[i]``.
        out: a results root; the run is written to ``out/<scenario>/<run-id>/``. None keeps
            everything in memory and writes nothing.
        progress: show a progress bar (runs/s, time left) on stderr.
        overrides: ``--set`` style overrides (``["a.b=1"]`` or ``{"a.b": 1}``).
        workers: local worker processes; None or 1 runs them in this process, 0 starts one
            per core (``sim run``'s default), at most two per core. Pools use the 'spawn'
            start method, safe in notebooks; a script that runs in parallel needs the
            ``if __name__ == "__main__":`` guard. Workers never outlive this process.
        executor: 'processes' (default), 'dask', or an executor object.
        scheduler: with ``executor='dask'``, the address of a running scheduler; without
            one a LocalCluster is started.
        precision: run in batches until every outcome probability's 95% Wilson interval has
            a half-width of at most this (see :mod:`sim.experiments.precision`).
        max_runs: the cap on replications with ``precision`` (default 100,000).
        chunk_size: replications per chunk.
        command: the command line to record in the manifest (default: ``sys.argv``).
        callback: called after each chunk with (replications done, replications planned).
        name: write to ``out/<scenario>/<name>/`` instead of a fresh ``<run-id>`` folder; a
            folder of that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as this run starts).
        posterior: a calibration folder: each replication draws its parameters from its
            posterior (see :mod:`sim.experiments.posterior`); the summary says so. None:
            the scenario's own ``posterior`` if it names one.

    Results are the same for the same seed whatever the executor and number of workers.
    If interrupted (Ctrl-C, a signal, a worker or cluster lost, a full or unwritable disk,
    an error), every completed chunk is kept in the folder and, where the disk allows, its
    tables are written with status ``"interrupted"`` or ``"failed"``; the error raised says
    how many runs the folder holds, and :func:`resume` finishes it.
    """
    from sim.scenario import compile_scenario

    store.check_destination(out, name, force)  # before the scenario loads
    runs, target = length(runs, precision, max_runs)
    scenario = resolve_scenario(scenario, overrides)
    spec = compile_scenario(scenario)
    engine = posterior_engine(posterior, scenario, override_paths(overrides))
    chosen = choose_executor(executor, workers, scheduler, runs, chunk_size)
    return run_spec(
        scenario,
        spec,
        runs,
        seed,
        out,
        progress,
        executor=chosen,
        chunk_size=chunk_size,
        command=command,
        precision=target,
        callback=callback,
        name=name,
        force=force,
        engine=engine,
    )


def length(
    runs: int | None, precision: float | None, max_runs: int | None
) -> tuple[int | None, Precision | None]:
    """Return how long to run: ``runs`` (default 1000), or ``precision`` capped at ``max_runs``."""
    if precision is None:
        if max_runs is not None:
            raise UsageError("--max-runs goes with --precision")
        return (1000 if runs is None else runs), None
    if runs is not None:
        raise UsageError("give a number of runs or a precision, not both")
    if max_runs is not None and max_runs > MAX_RUNS:
        raise UsageError(f"--max-runs {max_runs:,}: at most {MAX_RUNS:,} runs")
    return None, Precision(precision, DEFAULT_MAX_RUNS if max_runs is None else max_runs)


def run_spec(
    scenario: Any,
    spec: Any,
    runs: int | None,
    seed: int,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    executor: Executor | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    command: str | None = None,
    engine: Engine | None = None,
    precision: Precision | None = None,
    folder: str | os.PathLike[str] | None = None,
    callback: Callback | None = None,
    name: str | None = None,
    force: bool = False,
) -> Results:
    """Run an ensemble of an already compiled ``spec`` (of ``scenario``); see :func:`run`.

    ``folder`` writes to exactly that new folder instead of a fresh one under ``out``.
    """
    plan = _checked_plan(runs, precision, spec, chunk_size)
    store.check_destination(out, name, force)
    try:
        seed = check_seed(seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    started = _now()
    schema = runs_schema(spec)
    n_dyads = len(spec.dyads)
    executor = executor or SerialExecutor()
    if isinstance(executor, SerialExecutor):
        # The engine (numba, and scipy through it) is imported before any folder exists, as
        # workers start before it: a Ctrl-C landing in an import that runs ``exec`` sets
        # CPython's unhandled-interrupt flag, and the process then dies by SIGINT (-2, not
        # 130) although the interrupt was handled and the runs saved.
        from sim.engine import load_kernels

        load_kernels()
    with _entered(executor):  # Workers and clusters start (or fail) before any folder exists.
        sink: store.ResultsWriter | store.MemoryTables
        if folder is not None:
            Path(folder).mkdir(parents=True)
            sink = _new_writer(Path(folder), schema, n_dyads, spec.days)
        elif out is not None:
            path = store.create_run_dir(Path(out), spec.name, started, name=name, force=force)
            sink = _new_writer(path, schema, n_dyads, spec.days)
        else:
            sink = store.MemoryTables(schema, n_dyads, spec.days)
        if isinstance(sink, store.ResultsWriter):
            keep_posterior(sink.path, engine)  # so that a resumed run draws the same
            branched = getattr(engine, "branched_from", None)
            if branched:  # a branched run is not resumed as an ordinary one (see resume)
                store.write_json(sink.path / BRANCH_FILE, branched)
        collector = Collector(sink, Tally(spec.days, len(spec.rung_names)))
        ens = Ensemble(
            scenario,
            spec,
            seed,
            plan,
            collector,
            chunk_size=chunk_size,
            engine=engine,
            command=command,
            started=started,
            fresh=True,
        )
        return ens.execute(executor, progress, callback)


def _checked_plan(
    runs: int | None, precision: Precision | None, spec: Any, chunk_size: int
) -> Plan:
    """Return the plan of a run after checking its arguments."""
    if chunk_size < 1:
        raise UsageError(f"the chunk size must be at least 1, got {chunk_size}")
    if precision is not None:
        if runs is not None:
            raise UsageError("give a number of runs or a precision, not both")
        return Plan(schedule=Schedule(precision, tuple(spec.outcome_ids), chunk_size))
    if runs is None or runs < 1:
        raise UsageError(f"the number of runs must be at least 1, got {runs}")
    if runs > MAX_RUNS:
        raise UsageError(f"--runs {runs:,}: at most {MAX_RUNS:,} runs in one folder")
    return Plan(runs=runs)


def resume(
    folder: str | os.PathLike[str],
    progress: bool = False,
    *,
    workers: int | None = None,
    executor: Executor | str | None = None,
    scheduler: str | None = None,
    command: str | None = None,
    callback: Callback | None = None,
    engine: Engine | None = None,
) -> Results:
    """Finish an interrupted or failed run in its folder, as if it had never stopped.

    The scenario, seed, length (or precision target) and chunk size come from the folder's
    manifest; the chunks its journal saved are kept -- however the previous attempt ended,
    even killed while resuming -- and the rest are run. The final files are identical to
    those of an uninterrupted run.
    """
    path = Path(folder)
    manifest = _resumable_manifest(path)
    if (path / BRANCH_FILE).is_file():
        raise UsageError(
            f"{path}: its runs are branches of another run ({BRANCH_FILE}); a branched run "
            "cannot be resumed yet: its completed runs are kept, run the branch again"
        )
    scenario = _manifest_scenario(path, manifest)
    from sim.scenario import compile_scenario

    spec = compile_scenario(scenario)
    kept = kept_posterior(path)
    if engine is None and kept is not None:
        engine = posterior_engine(kept, scenario)
    chunk_size = int(manifest["chunk_size"])
    precision = Precision.from_json(manifest["precision"]) if manifest["precision"] else None
    runs = None if precision else int(manifest["runs"])
    plan = _checked_plan(runs, precision, spec, chunk_size)
    # Only to choose the executor: the journal, read below, says what is really there.
    hint = None if plan.runs is None else plan.runs - int(manifest.get("runs_completed") or 0)
    chosen = choose_executor(executor, workers, scheduler, hint, chunk_size)
    with _entered(chosen):  # A cluster that cannot be reached leaves the folder untouched.
        restored = _Restored(spec, keep_counts=plan.schedule is not None)
        writer = store.ResultsWriter.reopen(
            path, runs_schema(spec), len(spec.dyads), spec.days, restored.add
        )
        done = writer.completed
        try:
            collector = Collector(writer, restored.tally, done, restored.outcomes, restored.failed)
            if plan.schedule is not None:
                restored.replay(plan.schedule, done)
        except BaseException:
            writer.abort()
            raise
        ens = Ensemble(
            scenario,
            spec,
            int(manifest["seed"]),
            plan,
            collector,
            chunk_size=chunk_size,
            engine=engine,
            command=command,
            started=dt.datetime.fromisoformat(manifest["started"]),
            resumed_from=done,
        )
        return ens.execute(chosen, progress, callback)


def _resumable_manifest(path: Path) -> dict[str, Any]:
    """Return the manifest of a folder that can be resumed, or raise a UsageError."""
    if not (path / store.MANIFEST).is_file():
        raise UsageError(f"{path}: not a results folder (no {store.MANIFEST})")
    manifest = store.read_manifest(path)
    status = manifest.get("status")
    if manifest.get("format_version") != store.FORMAT_VERSION or "chunk_size" not in manifest:
        raise UsageError(f"{path}: written by another version of sim; it cannot be resumed")
    if status == "complete":
        raise UsageError(f"{path}: this run is already complete")
    if status == "running" and store.being_written(path, manifest.get("process")):
        pid = manifest["process"]["pid"]
        raise UsageError(f"{path}: this run is still running (process {pid})")
    return manifest


def _manifest_scenario(path: Path, manifest: Mapping[str, Any]) -> Any:
    """Return the Scenario recorded in a manifest, checked against its content hash."""
    from pydantic import ValidationError

    from sim.scenario.schema import Scenario

    try:
        scenario = Scenario.model_validate(manifest["parameters"])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UsageError(
            f"{path}: the recorded scenario does not validate here ({where}: {first['msg']}); "
            "a custom policy must be registered (imported) before resuming"
        ) from None
    if scenario.content_hash() != manifest["content_hash"]:
        raise UsageError(
            f"{path}: the recorded scenario no longer validates to the same content "
            f"(hash {scenario.content_hash()} != {manifest['content_hash']}); the schema "
            "or its defaults changed since the run started"
        )
    recorded = manifest.get("code_fingerprint")
    if recorded is not None and recorded != code_fingerprint():
        raise UsageError(
            f"{path}: the sim code that makes results changed since this run started "
            f"(fingerprint {code_fingerprint()} != {recorded}); resuming would join runs of "
            "two engines: start a new run instead"
        )
    return scenario


class _Restored:
    """What a resumed run rebuilds from the chunks its journal saved, one chunk at a time."""

    def __init__(self, spec: Any, keep_counts: bool) -> None:
        self.tally = Tally(spec.days, len(spec.rung_names))
        self.outcomes: Counter[str] = Counter()
        self.failed = 0
        # An adaptive run replays its batch boundaries from the outcome counts at each one;
        # every boundary is the end of a chunk (chunks are cut at the boundaries).
        self.counts_at: dict[int, Counter[str]] | None = {} if keep_counts else None

    def add(self, chunk: store.ChunkTables) -> None:
        """Count one saved chunk."""
        self.tally.add_trajectories(chunk.trajectories)
        self.tally.add_moves(chunk.moves.select(["index", "actor", "lever"]).to_pandas())
        self.outcomes.update(outcome_counts(chunk.runs.column("outcome").to_pandas()))
        self.failed += chunk.failures.num_rows
        if self.counts_at is not None:
            self.counts_at[chunk.end] = Counter(self.outcomes)

    def replay(self, schedule: Schedule, done: int) -> None:
        """Replay an adaptive run's batch boundaries up to the one in progress at ``done``."""
        assert self.counts_at is not None
        target = schedule.advance(0, Counter())
        while target is not None and target <= done:
            counts = self.counts_at.get(target)
            if counts is None:
                raise RuntimeError(f"no saved chunk ends at the batch boundary {target}")
            target = schedule.advance(target, counts)


def _now() -> dt.datetime:
    """Return the current UTC time."""
    return dt.datetime.now(dt.UTC)
