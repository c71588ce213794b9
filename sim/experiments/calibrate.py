"""Calibration: a posterior over scenario parameters from a dated record, by pyabc's ABC-SMC.

The inference is pyabc's ABC-SMC (Toni et al. 2009; Klinger, Rickert and Hasenauer 2018):
a population of parameter values drawn from the priors, then generation after generation
values perturbed by a multivariate normal kernel fitted to the last population, each
simulated once and accepted when the distance between its statistics and the record's is
below an epsilon that falls to a quantile of the last distances; importance weights keep
the accepted values a sample of the ABC posterior. The statistics are those of
:mod:`sim.analysis.calibration` (first day and count of each kind of move in the record's
window); the distance is pyabc's adaptive weighted p-norm, each statistic divided by a
scale fitted on the last population (Prangle 2017) and multiplied by the user's weight.

The pieces: the problem checked before anything runs
(:mod:`~sim.experiments.calibration_problem`), pyabc's sampler, distance and ABCSMC
(:mod:`~sim.experiments.abc_smc`, which says how every evaluation is seeded so that a
population depends on the seed alone, whatever the executor), the folder
(:mod:`~sim.experiments.calibration_folder`); this module runs the generations and the
predictive check and writes the summary and the manifest.

Resuming. Every generation is one ``ABCSMC.run`` on a history loaded from the folder's
database (``ABCSMC.load``), so an interrupted calibration resumed from its last stored
generation follows exactly the path the uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibration import (
    ARMS,
    StatisticPlan,
    posterior_row,
    predictive_check,
    prior_row,
)
from sim.errors import UsageError
from sim.experiments.abc_smc import batch_size, build_abc, make_sampler_class, quiet_pyabc
from sim.experiments.calibration_folder import (
    FILES,
    Calibration,
    generations_frame,
    load_calibration,
    particles_frame,
    plan_document,
    problem_from_plan,
    read_or_empty,
    read_plan,
    window,
)
from sim.experiments.calibration_problem import KEY, Problem, ScenarioModel, prepare, stopped_at
from sim.experiments.calibration_spec import CalibrationSpec, build_spec, resolve_spec
from sim.experiments.options import RunOptions, choose_executor, describe, entered
from sim.experiments.runner import load_engine
from sim.experiments.stops import signals_outside_compiled_code, stop_status
from sim.results import store
from sim.results.files import (
    CALIBRATION_FORMAT,
    CHECK,
    DATABASE,
    GENERATIONS,
    MANIFEST,
    PARTICLES,
    SCALES,
    SUMMARY,
)
from sim.results.files import CALIBRATION_PLAN as PLAN
from sim.results.manifest import build_manifest, now

__all__ = [
    "FILES",
    "Calibration",
    "Problem",
    "batch_size",
    "build_summary",
    "calibrate",
    "check_rows",
    "load_calibration",
    "predictive_draws",
    "prepare",
    "read_plan",
    "stopped_at",
]

#: Spawn key of the predictive check's streams ("PPC"), apart from the evaluations'.
CHECK_KEY = 0x505043


# --- running ----------------------------------------------------------------------------------

#: Called after each generation with its row of the generations table.
Callback = Callable[[Mapping[str, Any]], None]


@dataclass
class Run:
    """One calibration being run: where it writes, how it reports, when it stops."""

    problem: Problem
    folder: Path
    options: RunOptions
    started: dt.datetime
    resumed_from: int | None = None
    clock: float = field(default_factory=time.perf_counter)
    executor_name: str = "serial"
    stop_reason: str | None = None
    wasted: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def progress(self) -> bool:
        """Whether to show a progress bar and a line after each generation."""
        return self.options.progress

    @property
    def callback(self) -> Callback | None:
        """What to call after each generation with its row (None: nothing)."""
        return self.options.callback

    @property
    def database(self) -> str:
        """The SQLAlchemy address of the pyabc history."""
        return "sqlite:///" + str(self.folder / DATABASE)


def calibrate(
    target: Any = None,
    timeline: str | os.PathLike[str] | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    name: str | None = None,
    force: bool = False,
    resume: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor: Any = None,
    scheduler: str | None = None,
    progress: bool = False,
    command: str | None = None,
    callback: Callback | None = None,
    **fields: Any,
) -> Calibration:
    """Calibrate scenario parameters to a dated record and return the posterior.

    The posterior is the same for any executor and number of workers (see the module doc).

    Args:
        target: a calibration file (path or name such as ``calibrations/NAME``), a
            :class:`CalibrationSpec` or its fields as a mapping, or a scenario name or path
            (then give ``timeline`` and ``parameters``); None with ``resume``.
        timeline: the record, a timeline CSV (``sim backtest``'s format).
        out: a results root; the calibration is written to ``out/<scenario>/calibration-<id>/``
            (or ``<name>``). None keeps the results in memory (the history in a temporary
            folder, removed at the end).
        resume: a calibration folder to finish (its plan is run; ``stop`` fields may change).
        name: write to ``out/<scenario>/<name>/``; refused if it exists unless ``force``.
        force: replace an existing folder ``name`` that holds sim results.
        workers: local worker processes (None or 1: this process).
        executor: 'processes' (default), 'dask', or an executor object.
        scheduler: with ``executor='dask'``, a running scheduler's address.
        command: the command line to record in the manifest (default: ``sys.argv``).
        progress: a progress bar per generation and a line after each on stderr.
        callback: called after each generation with its row (a mapping).
        **fields: fields of the calibration (see :class:`CalibrationSpec`): ``parameters``
            (path to prior, e.g. ``{"actors.CHN.attributes.resolve": "uniform(0.4, 0.95)"}``),
            ``population``, ``seed``, ``stop`` ({"generations": 8, ...}), ``statistics``,
            ``distance``, ``set``, ``check``, ``until``, ``ignore_actors``...
    """
    options = RunOptions(out=out, name=name, force=force, progress=progress, executor=executor,
                         workers=workers, scheduler=scheduler, command=command,
                         callback=callback)  # fmt: skip
    options.check_destination()
    if resume is not None:
        if target is not None or timeline is not None or set(fields) - {"stop"}:
            raise UsageError(
                "resume takes the calibration from its folder: give only stop rules with it"
            )
        return _resume(Path(resume), fields.get("stop"), options)
    if timeline is not None:
        fields["timeline"] = os.fspath(timeline)
    problem = prepare(resolve_spec(target, fields))
    started = now()
    with contextlib.ExitStack() as stack:
        if out is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim-abc-")))
        else:
            folder = store.create_run_dir(
                Path(out), problem.name, started, "calibrate", name=name, force=force,
                prefix="calibration-",
            )  # fmt: skip
        store.write_json(folder / PLAN, {**plan_document(problem), "started": started.isoformat()})
        result = _execute(Run(problem, folder, options, started), fresh=True)
        if out is None:
            result.path = None
        return result


def _resume(folder: Path, stop: Mapping[str, Any] | None, options: RunOptions) -> Calibration:
    """Continue a calibration from its last stored generation."""
    plan = read_plan(folder)
    manifest_path = folder / MANIFEST
    manifest = store.read_json(manifest_path) if manifest_path.is_file() else {}
    if manifest.get("status") == "running" and store.process_alive(manifest.get("process")):
        raise UsageError(f"{folder}: this calibration is still running ({manifest['process']})")
    spec = build_spec(plan["spec"], str(folder / PLAN))
    if stop:
        spec = build_spec({**spec.model_dump(), "stop": {**spec.stop.model_dump(), **stop}})
        store.write_json(folder / PLAN, {**plan, "spec": spec.model_dump(mode="json")})
    if not (folder / DATABASE).is_file():
        raise UsageError(f"{folder}: no {DATABASE}; the calibration never started: start it anew")
    problem = problem_from_plan(plan, spec)
    started = dt.datetime.fromisoformat(str(plan.get("started") or manifest.get("started")))
    store.drop_drawings(folder)
    return _execute(Run(problem, folder, options, started), fresh=False)


def _execute(run: Run, *, fresh: bool) -> Calibration:
    """Run the generations and the predictive check; save what was done however it ends."""
    chosen = choose_executor(run.options, caller="calibrate()")
    run.executor_name = describe(chosen)
    _write_manifest(run, "running", None)
    try:
        load_engine(run.problem.model().variants.base_spec(), chosen)
        with quiet_pyabc(), entered(chosen), signals_outside_compiled_code():
            _generations(run, chosen, fresh)
            check = _predictive(run, chosen)
    except BaseException as exc:
        status, error = stop_status(exc)  # as for every run
        with contextlib.suppress(Exception):
            _finish(run, status, error, None)
            exc.add_note(
                f"the generations done are saved in {run.folder}; continue with: "
                f"sim calibrate --resume {run.folder}"
            )
        raise
    return _finish(run, "complete", None, check)


def _generations(run: Run, executor: Any, fresh: bool) -> None:
    """Run generation after generation, each from the stored history, until a rule stops."""
    import pyabc
    from tqdm import tqdm

    spec = run.problem.spec
    sampler_class = make_sampler_class()
    workers = getattr(executor, "workers", 1)
    history = pyabc.History(run.database) if not fresh else None
    scales = _read_scales(run.folder)
    if history is not None:
        history.id = 1
        run.resumed_from = int(history.max_t) + 1
        run.stop_reason = _stop_reason(run, generations_frame(history, spec.seed), None)
    while run.stop_reason is None:
        bar = tqdm(
            total=spec.population, unit="accepted", file=sys.stderr, leave=False,
            disable=not run.progress, desc=f"generation {_next_t(history)}",
        )  # fmt: skip
        with bar:
            sampler = sampler_class(spec.seed, executor, batch_size(spec.population, workers), bar)
            t = _next_t(history)
            abc = build_abc(run.problem, sampler, scales.get(t))
            if history is None:
                abc.new(run.database, {KEY: run.problem.plan.observed})
            else:
                abc.load(run.database, 1)
                if t not in scales and _adaptive(spec):
                    run.notes.append(
                        f"generation {t}: scales refitted on the stored population (its other "
                        "evaluations were lost with the interruption), so not as uninterrupted"
                    )
            before = int(abc.history.max_t)
            history = abc.run(max_nr_populations=1, min_acceptance_rate=spec.stop.min_acceptance)
            run.wasted += sampler.wasted_
            fitted = getattr(abc.distance_function, "scale_weights", {}).get(t + 1)
            if fitted is not None and int(history.max_t) > before:
                scales[t + 1] = [float(w) for w in fitted]
                store.write_json(run.folder / SCALES, {str(k): v for k, v in scales.items()})
        generations = generations_frame(history, spec.seed)
        added = int(history.max_t) > before
        row = generations.iloc[-1].to_dict() if added else None
        _save_generations(run, history, generations)
        if row is not None:
            _report(run, generations)
            if run.callback is not None:
                run.callback(row)
        run.stop_reason = _stop_reason(run, generations, None if added else "min_acceptance")


def _adaptive(spec: CalibrationSpec) -> bool:
    return spec.distance.scale != "none"


def _read_scales(folder: Path) -> dict[int, list[float]]:
    """Return the stored scale weights of each generation that has them."""
    path = folder / SCALES
    return {int(k): v for k, v in store.read_json(path).items()} if path.is_file() else {}


def _next_t(history: Any) -> int:
    return 0 if history is None else int(history.max_t) + 1


def _stop_reason(run: Run, generations: pd.DataFrame, forced: str | None) -> str | None:
    """Return why the calibration stops now, or None to go on."""
    stop = run.problem.spec.stop
    if forced:
        return f"acceptance below {stop.min_acceptance:g}"
    if generations.empty:
        return None
    eps = generations["epsilon"].to_numpy()
    total = _total(generations)
    if len(generations) >= stop.generations:
        return f"{stop.generations} generations"
    if eps[-1] <= stop.min_epsilon:
        return f"epsilon {eps[-1]:.4g} <= {stop.min_epsilon:g}"
    if stop.max_simulations is not None and total >= stop.max_simulations:
        return f"{total:,} simulations >= {stop.max_simulations:,}"
    if stop.minutes is not None and time.perf_counter() - run.clock >= 60 * stop.minutes:
        return f"{stop.minutes:g} minutes"
    if stop.stable is not None and len(eps) >= 2 and eps[-2] > 0:
        drop = (eps[-2] - eps[-1]) / eps[-2]
        if drop < stop.stable:
            return f"epsilon stable (fell {drop:.1%} < {stop.stable:.0%})"
    return None


def _total(generations: pd.DataFrame) -> int:
    """Return the simulations so far, the prior sample's included."""
    return int(generations["simulations_total"].iloc[-1]) if len(generations) else 0


def _report(run: Run, generations: pd.DataFrame) -> None:
    """Print a line about the generation just done: epsilon, acceptance, ESS, time left."""
    if not run.progress:
        return
    row = generations.iloc[-1]
    stop = run.problem.spec.stop
    left = stop.generations - len(generations)
    seconds = float(row["seconds"])
    total = _total(generations)
    eta = f"at most {left} more generation{'s' if left != 1 else ''}"
    if left:
        eta += f", about {_duration(seconds * left)} at this one's pace or more"
    print(
        f"generation {int(row['generation'])}: epsilon {row['epsilon']:.4g}, accepted "
        f"{int(row['accepted'])} of {int(row['simulations']):,} ({row['acceptance']:.1%}), "
        f"ESS {row['ess']:.0f}, {_duration(seconds)} "
        f"({row['simulations'] / max(seconds, 1e-9):.0f} sims/s); {total:,} simulations in all; "
        f"{eta}",
        file=sys.stderr,
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def _save_generations(run: Run, history: Any, generations: pd.DataFrame) -> None:
    """Write the generations and particles tables and a 'running' manifest."""
    store.write_table(run.folder / GENERATIONS, generations)
    store.write_table(run.folder / PARTICLES, particles_frame(history, run.problem.spec.paths))
    _write_manifest(run, "running", None)


# --- the predictive check ---------------------------------------------------------------------


@dataclass
class Predict:
    """Simulates the statistics of predictive runs: the callable executors map over runs."""

    model: ScenarioModel
    values: np.ndarray  # (runs, parameters)
    arm: int
    seed: int

    def __call__(self, runs: Sequence[int]) -> tuple[int, np.ndarray]:
        """Return the first run and the statistics of the runs ``runs``."""
        out = [
            self.model.statistics(
                list(self.values[i]),
                np.random.SeedSequence(self.seed, spawn_key=(CHECK_KEY, self.arm, i)),
            )
            for i in runs
        ]
        return runs[0], np.array(out)


def predictive_draws(run: Run, particles: pd.DataFrame) -> dict[str, np.ndarray]:
    """Return each arm's parameter values: the judgment, prior draws, posterior draws."""
    spec = run.problem.spec
    n = spec.check
    rng = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(CHECK_KEY,)))
    draws: dict[str, np.ndarray] = {}
    if all(v is not None for v in run.problem.judgment):
        draws["judgment"] = np.tile(np.array(run.problem.judgment, dtype=float), (n, 1))
    draws["prior"] = np.column_stack(
        [p.frozen().rvs(size=n, random_state=rng) for p in spec.parameters]
    )
    last = particles[particles["generation"] == particles["generation"].max()]
    weights = last["weight"].to_numpy(dtype=float)
    picks = rng.choice(len(last), size=n, p=weights / weights.sum())
    draws["posterior"] = last[spec.paths].to_numpy(dtype=float)[picks]
    return draws


def _predictive(run: Run, executor: Any) -> pd.DataFrame | None:
    """Simulate the record's statistics under each arm; None when no check is asked for."""
    spec = run.problem.spec
    particles = read_or_empty(run.folder / PARTICLES)
    if spec.check == 0 or particles.empty:
        return None
    model = run.problem.model()
    frames = []
    for arm, values in predictive_draws(run, particles).items():
        fn = Predict(model, values, ARMS.index(arm), spec.seed)
        chunks = [range(i, min(i + 25, len(values))) for i in range(0, len(values), 25)]
        parts = dict(executor.map(fn, chunks))
        stats = np.concatenate([parts[c[0]] for c in chunks])
        frame = pd.DataFrame(stats, columns=run.problem.plan.names)
        frame.insert(0, "run", np.arange(len(values)))
        frame.insert(0, "arm", arm)
        for j, path in enumerate(spec.paths):
            frame[f"value:{path}"] = values[:, j]
        frames.append(frame)
    check = pd.concat(frames, ignore_index=True)
    store.write_table(run.folder / CHECK, check)
    return check


def check_rows(check: pd.DataFrame, plan: StatisticPlan, seed: int) -> list[dict[str, Any]]:
    """Return the predictive check's rows from the simulated statistics of each arm."""
    names = plan.names
    arms = {
        arm: check.loc[check["arm"] == arm, list(names)].to_numpy(dtype=float)
        for arm in ARMS
        if (check["arm"] == arm).any()
    }
    in_record = [s.in_record for s in plan.statistics]
    return predictive_check(names, plan.observed, arms, seed, in_record)


# --- finishing: summary and manifest --------------------------------------------------------


def _finish(run: Run, status: str, error: str | None, check: pd.DataFrame | None) -> Calibration:
    """Write the summary and the manifest (last); return the calibration's results."""
    folder = run.folder
    generations = read_or_empty(folder / GENERATIONS)
    particles = read_or_empty(folder / PARTICLES)
    summary = build_summary(run, generations, particles, check, status)
    store.write_json(folder / SUMMARY, summary)
    _write_manifest(run, status, error)
    result = Calibration(run.problem.spec, summary, generations, particles, check, folder, status,
                         run.problem.data)  # fmt: skip
    result.integer = list(run.problem.integer)
    return result


def build_summary(
    run: Run,
    generations: pd.DataFrame,
    particles: pd.DataFrame,
    check: pd.DataFrame | None,
    status: str,
) -> dict[str, Any]:
    """Return the summary: each parameter's posterior against its prior, how it ran, the check."""
    problem = run.problem
    spec = problem.spec
    seconds = time.perf_counter() - run.clock
    summary: dict[str, Any] = {
        "scenario": problem.name,
        "title": problem.title,
        "timeline": spec.timeline,
        "window": window(problem),
        "status": status,
        "stop_reason": run.stop_reason,
        "seed": spec.seed,
        "population": spec.population,
        "generations": len(generations),
        "parameters": [],
        "statistics": {"level": problem.plan.level, "count": len(problem.plan.names)},
        "horizon": problem.horizon_note,
    }
    if not generations.empty:
        total = _total(generations)
        last = generations.iloc[-1]
        summary.update(
            {
                "simulations": total,
                "epsilon": float(last["epsilon"]),
                "acceptance": float(last["acceptance"]),
                "ess": float(last["ess"]),
                "epsilons": [float(e) for e in generations["epsilon"]],
            }
        )
        summary["parameters"] = parameter_rows(problem, particles)
    summary["seconds_this_session"] = round(seconds, 1)
    if check is not None:
        summary["check"] = check_rows(check, problem.plan, spec.seed)
    return store.jsonable(summary)


def parameter_rows(problem: Problem, particles: pd.DataFrame) -> list[dict[str, Any]]:
    """Return each parameter's judgment, prior and posterior (of the last generation)."""
    spec = problem.spec
    values, weights = _last(particles, spec.paths)
    return [
        {
            "path": prior.path,
            "prior_text": prior.describe(),
            "judgment": problem.judgment[j],
            "prior": prior_row(prior.frozen()),
            "posterior": posterior_row(values[:, j], weights),
        }
        for j, prior in enumerate(spec.parameters)
    ]


def _last(particles: pd.DataFrame, paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    last = particles[particles["generation"] == particles["generation"].max()]
    return last[list(paths)].to_numpy(dtype=float), last["weight"].to_numpy(dtype=float)


def _write_manifest(run: Run, status: str, error: str | None) -> None:
    """Write the manifest: what ran, with which settings and versions, and how it ended."""
    import pyabc

    running = status == "running"
    head = {"format_version": CALIBRATION_FORMAT, "kind": "calibration",
            "scenario": run.problem.name}  # fmt: skip
    how = {
        "stop_reason": run.stop_reason,
        "spec": run.problem.spec.model_dump(mode="json"),
        "executor": run.executor_name,
        "resumed_from_generation": run.resumed_from,
        "evaluations_discarded": run.wasted,
        "notes": run.notes,
    }
    files = {
        "plan": PLAN,
        "history": f"{DATABASE} (pyabc's History: ABCSMC.load('sqlite:///.../{DATABASE}', 1))",
        "generations": GENERATIONS,
        "particles": PARTICLES,
        "check": CHECK,
        "scales": f"{SCALES} (the adaptive distance's scale weights of each generation)",
        "summary": SUMMARY,
    }
    process = store.this_process(running)
    manifest = build_manifest(
        head, status=status, error=error, run=how, command=run.options.command,
        started=run.started, finished=None if running else now(),
        libraries={"pyabc": pyabc.__version__}, tail={"process": process, "files": files},
    )  # fmt: skip
    store.write_json(run.folder / MANIFEST, manifest)
