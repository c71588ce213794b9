"""A chunk of replications: what workers run, and the collector that puts chunks in order.

The work of an ensemble is split into chunks of replication indices. An executor (serial,
local processes or Dask, see :mod:`sim.experiments.executors`) maps a :class:`ChunkRunner`
over the chunks and yields each chunk's compact result: its rows of the runs table
(:mod:`sim.analysis.columns`) and its moves as Arrow tables, its trajectories as int8, its
failed replications and a :class:`~sim.analysis.summary.Tally`. Run records never leave
the chunk that made them. A :class:`Collector` takes chunks in index order (buffering any
that arrive early), so the tables come out the same whatever the executor or the number
of workers, and streams them to the results folder or keeps them in memory.

Replication ``i`` always runs on :func:`~sim.results.seeding.replication_seed` ``(seed, i)``,
so it can be replayed alone, and a replication that raises replays to the same error.
"""

from __future__ import annotations

import functools
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from sim.analysis.columns import run_row, runs_schema
from sim.analysis.summary import Tally, outcome_counts
from sim.errors import UsageError
from sim.experiments.stops import interrupts_deferred
from sim.results import store
from sim.results.seeding import replication_seed, seed_key
from sim.results.tables import FAILURES_SCHEMA, MOVES_SCHEMA, ChunkTables, MemoryTables

#: Replications per chunk: small enough for a lively progress bar and little lost work on
#: Ctrl-C, large enough that per-chunk overhead (a message to a worker) does not show.
DEFAULT_CHUNK = 25

#: The signature of the engine: ``simulate(spec, seed_sequence) -> RunRecord``.
Engine = Callable[[Any, np.random.SeedSequence], Any]


def default_engine() -> Engine:
    """Return the engine's ``simulate`` (imported on first use)."""
    from sim.engine import simulate

    return simulate


# --- the tables of one replication -------------------------------------------------------------


def moves_table(spec: Any, index: int, moves: Sequence[Any]) -> pa.Table:
    """Return one replication's moves as an Arrow table in :data:`MOVES_SCHEMA`."""
    days = np.array([m.day for m in moves], dtype=float)
    start = np.datetime64(spec.start, "D")
    columns: dict[str, Any] = {
        "index": np.full(len(moves), index, dtype=np.int32),
        "date": start + np.floor(days).astype("timedelta64[D]"),
    }
    for name in MOVES_SCHEMA.names[2:]:
        columns[name] = [getattr(m, name) for m in moves]
    return pa.table(columns, schema=MOVES_SCHEMA)


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
class Chunk(ChunkTables):
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
        moves=pa.concat_tables(move_tables) if move_tables else MOVES_SCHEMA.empty_table(),
        trajectories=traj,
        tally=tally,
        failures=pa.Table.from_pylist(failures, schema=FAILURES_SCHEMA),
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
RESULT_CODE = ("engine", "policies", "scenario", "results", "analysis", "experiments")


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
        sink: store.ResultsWriter | MemoryTables,
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
