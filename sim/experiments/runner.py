"""The runner: an ensemble's plan run chunk by chunk on an executor, saved however it ends.

Every entry point that runs replications (``sim.run`` and its resume, each arm of
``sim.compare``, each point of ``sim.sweep``, the backtest) runs them here: an
:class:`Ensemble` extends its :class:`Plan` batch by batch, maps the chunk runner
(:mod:`sim.experiments.chunks`) over the chunks, and hands them to the collector, which
streams them to the results folder or keeps them in memory. Whatever stops a run -- Ctrl-C,
a signal, a lost worker or cluster, a full or unwritable disk, an error -- the completed
chunks stay in the folder's journal, the tables, summary and manifest are written if they
can be (with the status of :func:`~sim.experiments.stops.stop_status`), and the error
raised says what the folder holds and how to finish it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from sim.analysis.columns import runs_schema
from sim.analysis.summary import Tally, build_summary, failure_summary, lever_names
from sim.errors import SimWarning, UsageError
from sim.experiments.chunks import (
    DEFAULT_CHUNK,
    ChunkRunner,
    Collector,
    Engine,
    ScenarioSource,
    chunk_indices,
    code_fingerprint,
)
from sim.experiments.executors import Executor, SerialExecutor, WorkerLost, results_of
from sim.experiments.options import RunOptions, describe, entered
from sim.experiments.posterior import keep as keep_posterior
from sim.experiments.precision import Precision, Schedule
from sim.experiments.stops import (
    MachineFault,
    machine_problem,
    signals_outside_compiled_code,
    stop_if_signalled,
    stop_status,
    where,
)
from sim.results import disk, store
from sim.results.files import BRANCH, CHUNKS, FORMAT_VERSION, MANIFEST, RUNS, SUMMARY
from sim.results.manifest import build_manifest, ensemble_files, now
from sim.results.seeding import check_seed
from sim.results.tables import MemoryTables

#: How many failed replications the summary lists (all of them are in failures.parquet).
FAILURE_EXAMPLES = 5


@dataclass(frozen=True)
class Finished:
    """What a run left: its summary, its folder (or its tables in memory) and its status."""

    summary: dict[str, Any]
    path: Path | None
    tables: MemoryTables | None
    status: str


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
        options: RunOptions,
        *,
        engine: Engine | None,
        started: dt.datetime,
        resumed_from: int | None = None,
        fresh: bool = False,
        overrides: Sequence[str] = (),
    ) -> None:
        self.scenario = scenario
        # The --set the scenario was loaded with, as given (a resumed one: its manifest's).
        self.overrides = list(overrides) or list(getattr(scenario, "overrides", ()))
        self.spec = spec
        self.seed = seed
        self.plan = plan
        self.collector = collector
        self.options = options
        self.chunk_size = DEFAULT_CHUNK if options.chunk_size is None else options.chunk_size
        self.engine = engine
        self.started = started
        self.resumed_from = resumed_from
        self.runner = ChunkRunner(spec, seed, engine, ScenarioSource.of(scenario, spec))
        self._clock = time.perf_counter()
        self._done_at_start = collector.completed
        self.executor_name = "serial"
        self.fresh = fresh  # The folder was made for this run: nothing in it to keep.
        self._removed = False  # Set when a run that never started took its folder away.
        self._save_failure: BaseException | None = None
        self._space_checked = False

    @property
    def writer(self) -> store.ResultsWriter | None:
        """The results folder's writer, None in memory."""
        sink = self.collector.sink
        return sink if isinstance(sink, store.ResultsWriter) else None

    def execute(self, executor: Executor) -> Finished:
        """Run the plan on ``executor`` (entered by the caller); save what completed, however.

        Whatever stops the run -- Ctrl-C, a signal, a lost worker or cluster, a full or
        unwritable disk, an error -- the completed chunks stay in the folder's journal, the
        tables and summary are written if they can be, and the error raised says what the
        folder holds, read back from it after the attempt, and how to finish it.
        """
        self.executor_name = describe(executor)
        try:
            if self.writer is not None:
                self._start_writing()
            try:
                with _progress_bar(self.options.progress, self) as bar:
                    with signals_outside_compiled_code():  # a Ctrl-C in a kernel is not lost
                        self._run_plan(executor, bar)
            except BaseException as exc:
                if self._never_started(exc):
                    raise
                self._save_after(exc)
                raise
            return self.finish("complete", None)
        except BaseException as exc:
            if self._removed:
                raise
            told = self._told(exc)
            if told is exc:
                raise
            raise told from exc

    def _never_started(self, exc: BaseException) -> bool:
        """Remove a fresh folder in which not one replication ran before ``exc`` failed the run.

        A 'failed' folder of 0 runs holds nothing to keep or resume (issue 18): the error
        says that nothing was run and the folder is gone. An interrupted one is kept (its
        resume runs the plan as asked).
        """
        writer = self.writer
        if writer is None or not self.fresh or self.collector.completed or self.collector.failed:
            return False
        if stop_status(exc)[0] != "failed":
            return False
        writer.abort()
        shutil.rmtree(writer.path, ignore_errors=True)
        self._removed = True
        exc.add_note(f"nothing was run, so no results folder was kept ({writer.path} removed)")
        return True

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

    def _run_plan(self, executor: Executor, bar: Any) -> None:
        """Extend the ensemble batch by batch until the plan says stop."""
        collector = self.collector
        target = self.plan.first_target(collector.completed, collector.outcomes)
        while target is not None:
            bar.total = target
            bar.refresh()
            self.extend(executor, target, bar)
            target = self.plan.next_target(collector.completed, collector.outcomes)

    def extend(self, executor: Executor, target: int, bar: Any) -> None:
        """Run replications ``completed .. target - 1``."""
        collector, callback = self.collector, self.options.callback
        chunks = chunk_indices(target - collector.completed, self.chunk_size, collector.completed)
        with results_of(executor.map(self.runner, chunks)) as results:
            for chunk in results:
                added = collector.add(chunk)
                bar.update(added)
                if added and not self._space_checked:
                    self._check_space()
                if callback is not None and added:
                    callback(collector.completed, target)
                stop_if_signalled()  # a Ctrl-C that something swallowed stops the run here
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
        planned, precision = self.plan.runs, self.plan.precision
        if planned is None:
            assert precision is not None  # a plan holds a number of runs or a precision
            planned = precision.max_runs
        need = per_run * (planned - writer.completed)
        free = disk.free_space(writer.path)
        if need > free:
            warnings.warn(
                f"{writer.path}: the rest of this run needs about {_size(need)} on the disk "
                f"({_size(per_run)} a run) and {_size(free)} is free; if the disk fills up, "
                f"the completed runs are kept and '{self._finish_command()}' finishes them",
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

    def finish(self, status: str, error: str | None) -> Finished:
        """Build the summary of what completed, publish the folder if any, say what it holds.

        A complete folder then loses its journal: its tables hold everything, on the disk.
        """
        sink = self.collector.sink
        if isinstance(sink, MemoryTables):
            failures = sink.failures()
            summary = self.summary(sink.runs(), failures.head(FAILURE_EXAMPLES).to_dict("records"))
            return Finished(summary, None, sink, status)
        try:
            sink.publish()
            examples = store.read_failures(sink.path).head(FAILURE_EXAMPLES).to_dict("records")
            with store.RunsColumns(sink.path / RUNS) as runs:
                summary = self.summary(runs, examples)
            store.write_json(sink.path / SUMMARY, summary)
            self.write_manifest(status, error)
        except BaseException as failed:
            self._save_failure = failed
            sink.abort()
            # The manifest said 'running': a Ctrl-C while the summary of the last chunk is
            # built would leave it so, with every run in the journal. Say how it stopped
            # (a run already stopping keeps its own reason), and drop a summary of an
            # earlier attempt, which the tables just published no longer match.
            stopped = stop_status(failed) if status == "complete" else (status, error)
            with contextlib.suppress(BaseException):
                (sink.path / SUMMARY).unlink(missing_ok=True)
                self.write_manifest(*stopped)
            raise
        if status == "complete":
            with contextlib.suppress(OSError):  # A journal left in a complete folder is harmless.
                sink.journal.remove()
                disk.sync_folder(sink.path)
        else:
            sink.journal.close()
        return Finished(summary, sink.path, None, status)

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
            saved += f" (in its {CHUNKS} only{self._why_no_tables(exc)})"
        finish = f"finish them with: {self._finish_command()}"
        problem = machine_problem(exc)
        if problem is not None:
            what = f"{problem.what}{where(exc)}"
            return MachineFault(f"{what}; {saved}; {problem.remedy}, then {finish}")
        if isinstance(exc, WorkerLost):
            return type(exc)(f"{exc}; {saved}; {finish}")
        exc.add_note(f"{saved}; {finish}")
        return exc

    def _finish_command(self) -> str:
        """The command that finishes this run if it stops (a comparison's for its arms)."""
        path = self.writer.path if self.writer is not None else "DIR"
        return self.options.finish_with or f"sim run --resume {path}"

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
        if self.overrides:  # runs of a scenario changed by --set say so (issue 18, item 2)
            summary["overrides"] = self.overrides
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
            "overrides": self.overrides,
            "chunk_size": self.chunk_size,
            "precision": self.plan.precision.to_json() if self.plan.precision else None,
            "replications_failed": self.collector.failed,
            "resumed_from": self.resumed_from,
            "executor": self.executor_name,
            "code_fingerprint": code_fingerprint(),
            "process": store.this_process(running),
            "timing": None
            if running
            else {
                "seconds": round(seconds, 3),
                "replications": session,
                "per_second": round(session / seconds, 2) if seconds > 0 else None,
            },
        }
        head = {
            "format_version": FORMAT_VERSION,
            "scenario": self.scenario.name,
            "title": self.scenario.title,
            "content_hash": self.scenario.content_hash(),
            "seed": self.seed,
            "runs": self.plan.planned,
            "runs_completed": done,
        }
        manifest = build_manifest(
            head,
            status=status,
            error=error,
            command=self.options.command,
            started=self.started,
            finished=None if running else now(),
            tail={
                **extra,
                "files": ensemble_files(self.spec),
                "parameters": self.scenario.model_dump(mode="json"),
            },
        )
        store.write_json(writer.path / MANIFEST, manifest)


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


# --- starting a run ---------------------------------------------------------------------------

#: The most replications one run may plan (``--runs``, ``--max-runs``): the moves table
#: numbers replications as 32-bit integers. Chunks are made as they are needed, so memory
#: does not grow with the number planned.
MAX_RUNS = 1_000_000_000


def checked_plan(runs: int | None, precision: Precision | None, spec: Any, chunk_size: int) -> Plan:
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


def start(
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
) -> Finished:
    """Run a fresh ensemble of a compiled ``spec`` (of ``scenario``) as the options say.

    ``folder`` writes to exactly that new folder (a comparison's arm) instead of a fresh
    one under ``options.out``. The executor is entered before any folder exists, so workers
    and clusters that cannot start leave nothing behind.
    """
    chunk_size = DEFAULT_CHUNK if options.chunk_size is None else options.chunk_size
    plan = checked_plan(runs, precision, spec, chunk_size)
    if folder is None:
        options.check_destination()
    try:
        seed = check_seed(seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    started = now()
    executor = executor or SerialExecutor()
    load_engine(spec, executor)
    with entered(executor):
        sink = _new_sink(spec, options, started, folder)
        if isinstance(sink, store.ResultsWriter):
            keep_posterior(sink.path, engine)  # so that a resumed run draws the same
            branched = getattr(engine, "branched_from", None)
            if branched:  # a branched run is not resumed as an ordinary one (see resuming)
                store.write_json(sink.path / BRANCH, branched)
        collector = Collector(sink, Tally(spec.days, len(spec.rung_names)))
        ens = Ensemble(scenario, spec, seed, plan, collector, options, engine=engine,
                       started=started, fresh=True)  # fmt: skip
        return ens.execute(executor)


def load_engine(spec: Any, executor: Executor) -> None:
    """Load the compiled engine before a run's folder exists; compile it first, if need be.

    The engine (numba, and scipy through it) is imported before any folder exists, as
    workers start before it: a Ctrl-C landing in an import that runs ``exec`` sets CPython's
    unhandled-interrupt flag, and the process then dies by SIGINT (-2, not 130) although the
    interrupt was handled and the runs saved. Where numba's cache does not hold the kernels
    yet, they are compiled here, once (the engine says so), so that worker processes load
    them from the cache instead of each compiling them at once; where it holds them, a
    process that runs the replications itself loads them now, and workers their own.
    """
    from sim.engine import kernels_cached, load_kernels

    if isinstance(executor, SerialExecutor) or not kernels_cached():
        load_kernels(spec)


def _new_sink(
    spec: Any, options: RunOptions, started: dt.datetime, folder: str | os.PathLike[str] | None
) -> store.ResultsWriter | MemoryTables:
    """Return where a fresh run's chunks go: a new folder's writer, or tables in memory."""
    schema, n_dyads = runs_schema(spec), len(spec.dyads)
    if folder is not None:
        Path(folder).mkdir(parents=True)
        return _new_writer(Path(folder), schema, n_dyads, spec.days)
    if options.out is not None:
        path = store.create_run_dir(
            Path(options.out), spec.name, started, name=options.name, force=options.force
        )
        return _new_writer(path, schema, n_dyads, spec.days)
    return MemoryTables(schema, n_dyads, spec.days)
