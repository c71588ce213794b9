"""Parameter sweeps: an ensemble at every point of a design, tidy tables, resumable.

The entry point, :func:`sweep`, checks the sweep and makes its design
(:mod:`sim.experiments.sweep_plan`), runs each missing point's replications through
:func:`sim.experiments.ensemble.run` with whatever executor the caller gives (serial,
processes, Dask: the sweep does not care), and writes the folder
(:mod:`sim.experiments.sweep_folder`). What each point's runs come to is
:mod:`sim.analysis.points`'s; the tables :mod:`sim.present.sweep`'s.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.measures import Measure
from sim.analysis.paired import paired_difference
from sim.errors import UsageError
from sim.experiments import designs
from sim.experiments.chunks import DEFAULT_CHUNK
from sim.experiments.options import RunOptions, choose_executor, entered
from sim.experiments.stops import signals_outside_compiled_code, stop_if_signalled, stop_status
from sim.experiments.sweep_folder import (
    Folder,
    open_folder,
    read_runs,
    stored_scenario,
    write_manifest,
)
from sim.experiments.sweep_plan import (
    Base,
    Kind,
    Plan,
    _assignment,
    outcomes,
    point_seed,
    point_values,
    points_frame,
    prepare,
    sensitivity_frame,
    with_posterior,
)
from sim.experiments.sweep_spec import build_spec, resolve_spec
from sim.results import store
from sim.results.files import DESIGN, FAILURES_DIR, MANIFEST, POINTS, SENSITIVITY, SWEEP_PLAN
from sim.results.manifest import now
from sim.scenario.labels import parameter_labels

__all__ = ["SweepResults", "load_sweep", "prepare", "sweep"]


class SweepResults:
    """A sweep's tables as pandas DataFrames, and ways to look closer at any point.

    ``design`` has one row per point (its parameter values); ``points`` one row per finished
    point (values, outcome probabilities with ``_lo``/``_hi`` Wilson 95% bounds, peak-rung
    statistics, mean costs); ``runs`` one row per replication with its ``point``;
    ``sensitivity`` the ranked Sobol indices (Sobol designs, else None).
    """

    def __init__(
        self,
        plan: Plan,
        points: pd.DataFrame,
        sensitivity: pd.DataFrame | None,
        *,
        path: Path | None,
        status: str,
        runs: pd.DataFrame | None = None,
        failures: pd.DataFrame | None = None,
    ) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.design = plan.design
        self.points = points
        self.sensitivity = sensitivity
        self.path = path
        self.status = status
        self._runs = runs
        self._failures = failures
        self._labels: dict[str, str] | None = None

    @property
    def runs(self) -> pd.DataFrame:
        """One row per replication of every finished point, with a ``point`` column."""
        if self._runs is None:
            assert self.path is not None
            self._runs = read_runs(self.path)
        return self._runs

    @property
    def failures(self) -> pd.DataFrame:
        """One row per replication that raised (point, index, seed key, error, traceback)."""
        if self._failures is None:
            folder = self.path / FAILURES_DIR if self.path else None
            files = sorted(folder.glob("point-*.parquet")) if folder and folder.is_dir() else []
            frames = [pd.read_parquet(f) for f in files]
            self._failures = (
                pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["point"])
            )
        return self._failures

    @property
    def metrics(self) -> list[Measure]:
        """The outcomes of interest."""
        return self.plan.metrics

    def scenario_at(self, point: int) -> Any:
        """Return the validated scenario of a point (to run it again with every table)."""
        self._check_point(point)
        values = point_values(self.design, point, self.spec.paths)
        return self.plan.base.at(values, f"point {point}")

    def trace(self, point: int, index: int) -> Any:
        """Re-run replication ``index`` of ``point`` alone and return its full RunRecord."""
        from sim.engine import simulate
        from sim.results.seeding import replication_seed
        from sim.scenario import compile_scenario

        if not 0 <= index < self.spec.runs:
            raise UsageError(f"replication {index} is not in 0..{self.spec.runs - 1}")
        spec = compile_scenario(self.scenario_at(point))
        return simulate(spec, replication_seed(point_seed(self.spec, point), index))

    def difference(self, a: int, b: int, outcome: str) -> dict[str, float]:
        """Return the outcome at point ``b`` minus at point ``a``, paired by replication.

        ``outcome`` is an outcome of interest (a class id, ``peak>=K``, ``peak_rung_mean`` or
        ``cost_<ACTOR>_mean``). With common random numbers, replication ``i`` of both points
        drew the same numbers, so the difference of each pair is the parameters' doing alone
        and its 95% interval is much narrower than that of two independent estimates; with
        independent seeds it is the usual one. The interval is a comparison's
        (:func:`~sim.analysis.paired.paired_difference`): Newcombe's for a probability,
        normal from the pairs' standard error for a mean.
        """
        self._check_point(a)
        self._check_point(b)
        (metric,) = outcomes([outcome], self.plan.base)
        runs = self.runs
        pairs = pd.merge(
            per_run(runs[runs["point"] == a], metric),
            per_run(runs[runs["point"] == b], metric),
            on="index",
            suffixes=("_a", "_b"),
        )
        paired = paired_difference(
            pairs["value_a"].to_numpy(), pairs["value_b"].to_numpy(), share=metric.share
        )
        return {
            "difference": paired["difference"],
            "se": paired["se"],
            "ci95": paired["ci95"],
            "pairs": paired["n"],
        }

    def _check_point(self, point: int) -> None:
        if not 0 <= point < len(self.design):
            raise UsageError(f"point {point} is not in 0..{len(self.design) - 1}")

    @property
    def labels(self) -> dict[str, str]:
        """Each swept parameter's label by path, from the sweep's own (stored) scenario."""
        if self._labels is None:
            self._labels = parameter_labels(self.plan.base.scenario, self.spec.parameters)
        return dict(self._labels)

    @property
    def changes(self) -> dict[str, Any]:
        """What the sweep changed of its scenario at every point: its ``set``, its posterior.

        In the form :func:`sim.present.summary.variation` reads (a run's summary's).
        """
        posterior = self.plan.posterior
        return {
            "overrides": dict(self.spec.set),
            "posterior": {"calibration": posterior.source} if posterior is not None else None,
        }

    def table(self) -> str:
        """Return the points (and the sensitivity ranking) as plain-text tables."""
        from sim.present.sweep import render_sweep

        name = self.plan.base.outline.name
        design = designs.design(self.spec.design)
        return render_sweep(name, self.spec, design, self.points, self.metrics, self.sensitivity,
                            self.labels, self.changes)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Return the sweep's plan, points and sensitivity as plain JSON data."""
        sens = self.sensitivity
        return store.jsonable(
            {
                "scenario": self.plan.base.outline.name,
                "path": str(self.path) if self.path else None,
                "status": self.status,
                "spec": self.spec.model_dump(mode="json"),
                "outcomes": {m.name: m.point_column for m in self.metrics},
                "points": self.points.to_dict("records"),
                "sensitivity": None if sens is None else sens.to_dict("records"),
            }
        )

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"SweepResults({self.plan.base.outline.name!r}, {self.spec.design}, "
            f"points={len(self.points)}/{len(self.design)}, runs={self.spec.runs}{where})"
        )


def per_run(runs: pd.DataFrame, metric: Measure) -> pd.DataFrame:
    """Return each replication's value of a metric: ``index`` and ``value``."""
    return pd.DataFrame({"index": runs["index"].to_numpy(), "value": metric.values(runs)})


# --- the entry point ----------------------------------------------------------------------------


def sweep(
    target: Any = None,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
    command: str | None = None,
    name: str | None = None,
    force: bool = False,
    posterior: Any = None,
    **fields: Any,
) -> SweepResults:
    """Run a parameter sweep and return its tables.

    Args:
        target: a :class:`SweepSpec`, the path or name of a sweep file, a scenario (a name,
            a path, or a loaded Scenario) to sweep with ``parameters``, or None with
            ``resume`` (the folder's own plan is run).
        out: a results root; the sweep is written to ``out/<scenario>/sweep-<id>/``. None
            keeps everything in memory.
        resume: a sweep folder to finish: only its missing points run. Its plan must match
            the one given, if any.
        executor: 'processes' (default), 'dask', or an executor object (anything with
            ``map(fn, chunks)``, see :mod:`sim.experiments.executors`); one executor, and
            so one pool of workers, serves every point.
        workers: local worker processes (default and 1: this process; 0: every core).
        scheduler: with ``executor='dask'``, the address of a running scheduler.
        chunk_size: replications per chunk (default: enough chunks per point to keep every
            worker busy, at most the ensemble's default).
        progress: show a progress bar on stderr.
        command: the command line to record in the manifest (default: ``sys.argv``).
        name: write to ``out/<scenario>/<name>/`` instead of a fresh ``sweep-<id>`` folder; a
            folder of that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as the sweep starts).
        posterior: a calibration folder: every point's replications draw the calibrated
            parameters from its posterior (see :mod:`sim.experiments.posterior`).
        **fields: fields of :class:`SweepSpec` that set or override the target's:
            ``parameters`` (``{path: "0.3:0.9:7"}``, ``{path: [0, 1]}`` or
            ``{path: {"low": 0, "high": 1}}``), ``design``, ``points``, ``runs``, ``seed``,
            ``common_random_numbers``, ``outcomes``, ``set``, ``second_order``, ``bootstrap``.
    """
    options = RunOptions(out=out, name=name, force=force, progress=progress, executor=executor,
                         workers=workers, scheduler=scheduler, chunk_size=chunk_size,
                         command=command)  # fmt: skip
    options.check_destination()
    if resume is not None and (name is not None or force):
        raise UsageError("--resume DIR finishes that folder: give no --name or --force")
    folder = Folder(Path(resume)) if resume is not None else None
    spec, scenario = resolve_spec(target, fields, folder.path if folder else None)
    if target is None and folder is not None:
        scenario = stored_scenario(folder.path)  # Finish what was started, as it was started.
    plan = prepare(spec, scenario)
    with_posterior(plan, posterior, folder.path if folder else None)
    chosen = choose_executor(options, caller="sweep()")
    chunk = chunk_size or default_chunk(spec.runs, getattr(chosen, "workers", 1))
    return execute(plan, folder, chosen, replace(options, chunk_size=chunk))


def default_chunk(runs: int, workers: int) -> int:
    """Return a chunk size that gives each worker about two chunks of every point."""
    return max(1, min(DEFAULT_CHUNK, -(-runs // (2 * max(1, workers)))))


def execute(plan: Plan, folder: Folder | None, executor: Any, options: RunOptions) -> SweepResults:
    """Run the missing points of a checked plan, in memory or into a (new or resumed) folder."""
    if folder is None and options.out is None:
        return _in_memory(plan, executor, options)
    started = now()
    folder = open_folder(plan, options.out, folder, started, options.name, options.force)
    todo = [p for p in range(plan.spec.n_points) if p not in folder.finished_points()]
    with _recording(plan, folder, started, options.command, len(todo)):
        run_points(plan, todo, folder.write_point, executor, options)
    return finish(plan, folder, "complete", started, options.command, len(todo))


def _in_memory(plan: Plan, executor: Any, options: RunOptions) -> SweepResults:
    """Run every point of a plan and keep the tables in memory."""
    runs: dict[int, pd.DataFrame] = {}
    failures: list[pd.DataFrame] = []

    def keep(point: int, frame: pd.DataFrame, failed: pd.DataFrame) -> None:
        runs[point] = frame
        if len(failed):
            failures.append(failed)

    run_points(plan, range(plan.spec.n_points), keep, executor, options)
    points = points_frame(plan, runs)
    return SweepResults(
        plan,
        points,
        sensitivity_frame(plan, points),
        path=None,
        status="complete",
        runs=pd.concat([runs[p] for p in sorted(runs)], ignore_index=True),
        failures=pd.concat(failures, ignore_index=True) if failures else None,
    )


def run_points(
    plan: Plan,
    points: Sequence[int],
    on_point: Callable[[int, pd.DataFrame, pd.DataFrame], None],
    executor: Any,
    options: RunOptions,
) -> None:
    """Run the ensembles of ``points`` in order; pass each one's runs and failures on.

    One executor serves every point: one that owns workers starts them once.
    """
    from tqdm import tqdm

    from sim.experiments.ensemble import run

    extra: dict[str, Any] = {} if options.chunk_size is None else {"chunk_size": options.chunk_size}
    total = len(points) * plan.spec.runs
    bar = tqdm(total=total, unit="run", file=sys.stderr, disable=not options.progress,
               leave=False)  # fmt: skip
    with bar, entered(executor), signals_outside_compiled_code():
        for point in points:
            values = point_values(plan.design, point, plan.spec.paths)
            scenario = plan.base.at(values, f"point {point} ({_assignment(values)})")
            results = run(scenario, runs=plan.spec.runs, seed=point_seed(plan.spec, point),
                          executor=executor, posterior=plan.posterior, **extra)  # fmt: skip
            on_point(point, _with_point(results.runs, point), _with_point(results.failures, point))
            stop_if_signalled()  # a Ctrl-C that something swallowed stops the sweep here
            bar.update(plan.spec.runs)


def _with_point(frame: pd.DataFrame, point: int) -> pd.DataFrame:
    """Return a copy of a table with a first column ``point``."""
    frame = frame.copy()
    frame.insert(0, "point", np.int64(point))
    return frame


@contextlib.contextmanager
def _recording(
    plan: Plan, folder: Folder, started: dt.datetime, command: str | None, todo: int
) -> Iterator[None]:
    """On an interruption or an error, write the tables of what finished, then re-raise."""
    try:
        yield
    except BaseException as exc:
        status, error = stop_status(exc)  # As for an ensemble.
        done = finish(plan, folder, status, started, command, todo, error)
        exc.add_note(
            f"{len(done.points)} of {plan.spec.n_points} points saved in {folder.path}; "
            f"finish with: sim sweep --resume {folder.path}"
        )
        raise


def finish(
    plan: Plan,
    folder: Folder,
    status: str,
    started: dt.datetime,
    command: str | None,
    ran: int,
    error: str | None = None,
) -> SweepResults:
    """Write the points table, the sensitivity table and the manifest (last)."""
    runs = {p: folder.read_point(p) for p in sorted(folder.finished_points())}
    points = points_frame(plan, runs)
    store.write_table(folder.path / POINTS, points)
    sensitivity = sensitivity_frame(plan, points) if status == "complete" else None
    if sensitivity is not None:
        store.write_table(folder.path / SENSITIVITY, sensitivity)
    write_manifest(plan, folder, status=status, ran=ran, started=started, command=command,
                   error=error)  # fmt: skip
    return SweepResults(plan, points, sensitivity, path=folder.path, status=status)


def load_sweep(path: str | os.PathLike[str]) -> SweepResults:
    """Open a sweep folder written earlier and return its tables."""
    folder = Folder(Path(path))
    document = folder.read_plan()
    spec = build_spec(document["spec"], str(folder.path / SWEEP_PLAN))
    base = Base(stored_scenario(folder.path), spec.set)
    kinds = [Kind(p["path"], p["kind"]) for p in document["parameters"]]
    design = pd.read_parquet(folder.path / DESIGN)
    plan = Plan(spec, base, kinds, design, outcomes(spec.outcomes, base))
    if document.get("posterior"):  # what every point's replications drew from
        from sim.experiments.posterior import Posterior

        plan.posterior = Posterior.from_json(document["posterior"])
    points = (
        pd.read_parquet(folder.path / POINTS)
        if (folder.path / POINTS).is_file()
        else points_frame(plan, {})
    )
    sens_path = folder.path / SENSITIVITY
    sensitivity = pd.read_parquet(sens_path) if sens_path.is_file() else None
    manifest_path = folder.path / MANIFEST
    status = store.read_json(manifest_path)["status"] if manifest_path.is_file() else "unknown"
    return SweepResults(plan, points, sensitivity, path=folder.path, status=status)
