"""Ensembles: many replications of one scenario, the entry points ``sim.run`` and resume.

Thin doors over the runner (:mod:`sim.experiments.runner`): each gathers its keyword
arguments into :class:`~sim.experiments.options.RunOptions`, loads and compiles the
scenario, chooses the executor (:func:`~sim.experiments.options.choose_executor`) and
returns :class:`Results`.

Replication ``i`` always runs on :func:`~sim.results.seeding.replication_seed`
``(seed, i)``, so :meth:`Results.trace` and ``sim trace --run i`` replay it exactly, a
replication that raises can be replayed to the same error, and an ensemble that stops (on
Ctrl-C, a dead worker, or a precision target) can be extended or resumed and still equal a
plain run of the same length.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UsageError
from sim.experiments.chunks import DEFAULT_CHUNK, Engine, default_engine
from sim.experiments.executors import Executor
from sim.experiments.options import RunOptions, choose_executor
from sim.experiments.posterior import override_paths, posterior_engine
from sim.experiments.precision import DEFAULT_MAX_RUNS, Precision
from sim.experiments.resuming import Unfinished
from sim.experiments.runner import MAX_RUNS, Finished, start
from sim.results import store
from sim.results.files import RUNS
from sim.results.seeding import replication_seed
from sim.results.tables import MemoryTables

#: Called after each chunk is aggregated with (replications done, replications planned).
Callback = Callable[[int, int], None]

__all__ = ["DEFAULT_CHUNK", "MAX_RUNS", "Results", "resume", "run", "run_compiled", "run_spec"]


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
        tables: MemoryTables | None = None,
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

    @classmethod
    def of(cls, spec: Any, seed: int, finished: Finished, engine: Engine | None) -> Results:
        """Return the results of a run that finished (or stopped) as the runner left it."""
        return cls(spec, seed, finished.summary, finished.path, finished.tables,
                   finished.status, engine)  # fmt: skip

    def _table(
        self, name: str, memory: Callable[[MemoryTables], Any], disk: Callable[[], Any]
    ) -> Any:
        if name not in self._cache:
            tables = self._tables
            self._cache[name] = memory(tables) if tables is not None else disk()
        return self._cache[name]

    @property
    def runs(self) -> pd.DataFrame:
        """One row per finished replication: index, seed key, outcome, peak, costs, ..."""
        return self._table("runs", MemoryTables.runs, lambda: store.read_runs(self._path()))

    @property
    def moves(self) -> pd.DataFrame:
        """One row per move: the replication ``index``, day, date and the fields of the move."""
        return self._table("moves", MemoryTables.moves, lambda: store.read_moves(self._path()))

    @property
    def failures(self) -> pd.DataFrame:
        """One row per replication that raised: index, seed key, error and traceback."""
        return self._table(
            "failures", MemoryTables.failures, lambda: store.read_failures(self._path())
        )

    @property
    def trajectories(self) -> np.ndarray:
        """Daily rung per finished replication and dyad, int8, ``(runs, dyads, days + 1)``."""
        return self._table(
            "trajectories",
            MemoryTables.trajectories,
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
        return store.RunsColumns(self._path() / RUNS)

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
        """Return the summary as plain-text tables (:mod:`sim.present.summary`)."""
        from sim.present.summary import render_summary

        return render_summary(self.summary)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Results({self.spec.name!r}, runs={self.summary['runs']}, seed={self.seed}{where})"


# --- the entry points -------------------------------------------------------------------------


def resolve_scenario(scenario: Any, overrides: list[str] | Mapping[str, Any] | None) -> Any:
    """Return a Scenario: load a name or path (with overrides), or pass a Scenario through."""
    if isinstance(scenario, str | os.PathLike):
        from sim.scenario import load

        given = overrides if overrides is None or isinstance(overrides, list) else dict(overrides)
        return load(os.fspath(scenario), given)
    if overrides:
        raise UsageError("overrides apply to a scenario name or path, not to a loaded Scenario")
    return scenario


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
        overrides: ``--set`` style overrides (``["a.b=1"]`` or ``{"a.b": 1}``).
        precision: run in batches until every outcome probability's 95% Wilson interval has
            a half-width of at most this (see :mod:`sim.experiments.precision`).
        max_runs: the cap on replications with ``precision`` (default 100,000).
        posterior: a calibration folder: each replication draws its parameters from its
            posterior (see :mod:`sim.experiments.posterior`); the summary says so. None:
            the scenario's own ``posterior`` if it names one.
        progress: show a progress bar (runs/s, time left) on stderr.
        workers: local worker processes; None or 1 runs them in this process, 0 starts one
            per core (``sim run``'s default), at most two per core.
        executor: 'processes' (default), 'dask', or an executor object.
        scheduler: with ``executor='dask'``, the address of a running scheduler.
        chunk_size: replications per chunk.
        command: the command line to record in the manifest (default: ``sys.argv``).
        callback: called after each chunk with (replications done, replications planned).
        name: write to ``out/<scenario>/<name>/`` instead of a fresh ``<run-id>`` folder; a
            folder of that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as this run starts).
        (See :class:`~sim.experiments.options.RunOptions` for more on each.)

    Results are the same for the same seed whatever the executor and number of workers.
    If interrupted (Ctrl-C, a signal, a worker or cluster lost, a full or unwritable disk,
    an error), every completed chunk is kept in the folder and, where the disk allows, its
    tables are written with status ``"interrupted"`` or ``"failed"``; the error raised says
    how many runs the folder holds, and :func:`resume` finishes it.
    """
    from sim.scenario import compile_scenario

    options = RunOptions(out=out, name=name, force=force, progress=progress, executor=executor,
                         workers=workers, scheduler=scheduler, chunk_size=chunk_size,
                         command=command, callback=callback)  # fmt: skip
    options.check_destination()  # before the scenario loads
    runs, target = length(runs, precision, max_runs)
    loaded = resolve_scenario(scenario, overrides)
    spec = compile_scenario(loaded)
    engine = posterior_engine(posterior, loaded, override_paths(overrides))
    chosen = choose_executor(options, runs, chunk_size)
    return run_compiled(loaded, spec, runs, seed, options, executor=chosen, engine=engine,
                        precision=target)  # fmt: skip


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


def run_compiled(
    scenario: Any,
    spec: Any,
    runs: int | None,
    seed: int,
    options: RunOptions,
    *,
    executor: Executor | None = None,
    engine: Engine | None = None,
    precision: Precision | None = None,
    folder: str | os.PathLike[str] | None = None,
) -> Results:
    """Run an ensemble of an already compiled ``spec`` (of ``scenario``) as ``options`` say.

    ``folder`` writes to exactly that new folder instead of a fresh one under ``options.out``.
    """
    finished = start(scenario, spec, runs, seed, options, executor=executor, engine=engine,
                     precision=precision, folder=folder)  # fmt: skip
    return Results.of(spec, seed, finished, engine)


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
    """Run an ensemble of an already compiled ``spec``: :func:`run_compiled` with keywords.

    The keywords are those of :func:`run` (see :class:`~sim.experiments.options.RunOptions`);
    ``folder`` writes to exactly that new folder instead of a fresh one under ``out``.
    """
    options = RunOptions(out=out, name=name, force=force, progress=progress,
                         chunk_size=chunk_size, command=command, callback=callback)  # fmt: skip
    return run_compiled(scenario, spec, runs, seed, options, executor=executor, engine=engine,
                        precision=precision, folder=folder)  # fmt: skip


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

    See :mod:`sim.experiments.resuming`: the scenario, seed, length and chunk size come
    from the folder; the keywords are those of :func:`run`.
    """
    options = RunOptions(progress=progress, executor=executor, workers=workers,
                         scheduler=scheduler, command=command, callback=callback)  # fmt: skip
    return resume_with(Path(folder), options, engine)


def resume_with(folder: Path, options: RunOptions, engine: Engine | None = None) -> Results:
    """Finish an unfinished run in ``folder`` with ``options`` (its chunk size is the folder's).

    The figures and report drawn from the attempt that stopped are removed as it starts.
    """
    unfinished = Unfinished.open(folder, engine)
    options = replace(options, chunk_size=unfinished.chunk_size)
    chosen = choose_executor(options, unfinished.remaining, unfinished.chunk_size)
    store.drop_drawings(folder)
    finished = unfinished.finish(options, chosen)
    return Results.of(unfinished.spec, unfinished.seed, finished, unfinished.engine)
