"""Resuming: an interrupted or failed ensemble finished in its folder, as if it never stopped.

The scenario, seed, length (or precision target) and chunk size come from the folder's
manifest; the chunks its journal saved are kept -- however the previous attempt ended, even
killed while resuming -- and the rest are run by the runner. The final files are identical
to those of an uninterrupted run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.analysis.columns import runs_schema
from sim.analysis.summary import Tally, outcome_counts
from sim.errors import UsageError
from sim.experiments.chunks import Collector, Engine, code_fingerprint
from sim.experiments.executors import Executor
from sim.experiments.options import RunOptions, entered
from sim.experiments.posterior import kept as kept_posterior
from sim.experiments.posterior import posterior_engine
from sim.experiments.precision import Precision, Schedule
from sim.experiments.runner import Ensemble, Finished, Plan, checked_plan, load_engine
from sim.results import store
from sim.results.files import BRANCH, FORMAT_VERSION, MANIFEST
from sim.results.tables import ChunkTables


@dataclass
class Unfinished:
    """A results folder that can be resumed: its manifest, scenario, spec, engine and plan."""

    path: Path
    manifest: dict[str, Any]
    scenario: Any
    spec: Any
    engine: Engine | None
    plan: Plan

    @classmethod
    def open(cls, folder: Path, engine: Engine | None = None) -> Unfinished:
        """Check that a folder can be resumed and rebuild what it runs (raise if it cannot)."""
        from sim.scenario import compile_scenario

        manifest = _resumable_manifest(folder)
        if (folder / BRANCH).is_file():
            raise UsageError(
                f"{folder}: its runs are branches of another run ({BRANCH}); a branched run "
                "cannot be resumed yet: its completed runs are kept, run the branch again"
            )
        scenario = recorded_scenario(folder, manifest)
        spec = compile_scenario(scenario)
        kept = kept_posterior(folder)
        if engine is None and kept is not None:
            engine = posterior_engine(kept, scenario)
        chunk_size = int(manifest["chunk_size"])
        precision = Precision.from_json(manifest["precision"]) if manifest["precision"] else None
        runs = None if precision else int(manifest["runs"])
        plan = checked_plan(runs, precision, spec, chunk_size)
        return cls(folder, manifest, scenario, spec, engine, plan)

    @property
    def seed(self) -> int:
        """The run's root seed."""
        return int(self.manifest["seed"])

    @property
    def chunk_size(self) -> int:
        """The run's chunk size (a resume cuts the chunks the same way)."""
        return int(self.manifest["chunk_size"])

    @property
    def remaining(self) -> int | None:
        """About how many runs are left, to choose the executor (None: a precision target).

        Only a hint: the journal, read when the folder is reopened, says what is there.
        """
        if self.plan.runs is None:
            return None
        return self.plan.runs - int(self.manifest.get("runs_completed") or 0)

    def finish(self, options: RunOptions, executor: Executor) -> Finished:
        """Run what is missing on ``executor``; a cluster that cannot start changes nothing."""
        spec, plan = self.spec, self.plan
        load_engine(spec, executor)
        with entered(executor):
            restored = _Restored(spec, keep_counts=plan.schedule is not None)
            writer = store.ResultsWriter.reopen(
                self.path, runs_schema(spec), len(spec.dyads), spec.days, restored.add
            )
            done = writer.completed
            try:
                collector = Collector(
                    writer, restored.tally, done, restored.outcomes, restored.failed
                )
                if plan.schedule is not None:
                    restored.replay(plan.schedule, done)
            except BaseException:
                writer.abort()
                raise
            started = dt.datetime.fromisoformat(self.manifest["started"])
            ens = Ensemble(self.scenario, spec, self.seed, plan, collector, options,
                           engine=self.engine, started=started, resumed_from=done,
                           overrides=self.manifest.get("overrides") or ())  # fmt: skip
            return ens.execute(executor)


def _resumable_manifest(path: Path) -> dict[str, Any]:
    """Return the manifest of a folder that can be resumed, or raise a UsageError."""
    if not (path / MANIFEST).is_file():
        raise UsageError(f"{path}: not a results folder (no {MANIFEST})")
    manifest = store.read_manifest(path)
    status = manifest.get("status")
    if manifest.get("format_version") != FORMAT_VERSION or "chunk_size" not in manifest:
        raise UsageError(f"{path}: written by another version of sim; it cannot be resumed")
    if status == "complete":
        raise UsageError(f"{path}: this run is already complete")
    if status == "running" and store.being_written(path, manifest.get("process")):
        pid = manifest["process"]["pid"]
        raise UsageError(f"{path}: this run is still running (process {pid})")
    return manifest


def recorded_scenario(path: Path, manifest: Mapping[str, Any]) -> Any:
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

    def add(self, chunk: ChunkTables) -> None:
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
