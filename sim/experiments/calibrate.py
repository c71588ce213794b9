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

Seeding. pyabc's own parallel samplers reseed every worker from the operating system
(``np.random.seed()`` in ``multicore_evaluation_parallel.work`` and in ``eps_mixin``), so
their results never repeat. :class:`SeededSampler` implements pyabc's sampler interface
instead: evaluation ``k`` of generation ``t`` (the ``k``-th proposal: its perturbation,
its simulation and its acceptance) draws from ``SeedSequence(seed, (t + 1, k))`` whichever
worker runs it, and the sample is the evaluations ``0 .. K`` where ``K`` is the ``n``-th
acceptance in that order (the rule of pyabc's evaluation-parallel samplers, which avoids a
bias towards fast simulations). A population therefore depends on the seed alone, not on
the executor or the number of workers; only the speculative evaluations past ``K`` that
are thrown away, and the timings, differ.

Resuming. Every generation is one ``ABCSMC.run`` on a history loaded from the folder's
database (``ABCSMC.load``), so an interrupted calibration resumed from its last stored
generation follows exactly the path the uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibration import (
    StatisticPlan,
    effective_sample_size,
    posterior_row,
    predictive_check,
    prior_row,
    record_statistics,
    render_check,
    select,
    statistic_weights,
)
from sim.errors import UsageError
from sim.experiments import store
from sim.experiments.calibration_spec import (
    CalibrationError,
    CalibrationSpec,
    Prior,
    build_spec,
    resolve_spec,
)
from sim.experiments.variants import Variants, get_steps, resolve_steps

#: Bump when the layout of a calibration folder changes incompatibly.
CALIBRATION_FORMAT = 1

PLAN = "calibration.json"
DATABASE = "abc.db"
GENERATIONS = "generations.parquet"
PARTICLES = "particles.parquet"
CHECK = "check.parquet"
SCALES = "scales.json"

#: The files a calibration folder holds (``--force`` replaces only such folders).
FILES = (PLAN, DATABASE, GENERATIONS, PARTICLES, CHECK, SCALES, store.MANIFEST, store.SUMMARY)

#: Spawn keys of the streams apart from the evaluations' ((t + 1, k)): the predictive check
#: ("PPC") and the check of the shortened horizon ("HOR").
CHECK_KEY = 0x505043
HORIZON_KEY = 0x484F52

#: Replications on which a shortened horizon must give the same moves in the window.
HORIZON_CHECKS = 16

#: The sum-statistics key of the model's output: one array, in the plan's order.
KEY = "s"

#: The arms of the predictive check, in the order they are shown.
ARMS = ("judgment", "prior", "posterior")


# --- the problem: checked, before anything runs ----------------------------------------------


@dataclass
class Problem:
    """A checked calibration: the base document, the statistics, the priors, the horizon."""

    spec: CalibrationSpec
    name: str
    title: str
    data: dict[str, Any]  # the base scenario (with the fixed overrides)
    full_days: int
    simulated_days: int
    horizon_note: str
    plan: StatisticPlan
    integer: list[str]
    judgment: list[float | None]
    start: dt.date
    outside: dict[str, list[int]] = field(default_factory=dict)

    @property
    def priors(self) -> list[Prior]:
        """The priors, in parameter order."""
        return list(self.spec.parameters)

    def model(self) -> ScenarioModel:
        """Return the pyabc model: parameter values in, the plan's statistics out."""
        days = self.simulated_days if self.simulated_days < self.full_days else None
        return ScenarioModel(self.data, self.spec.paths, self.integer, self.plan, days)


def prepare(spec: CalibrationSpec, scenario_data: Mapping[str, Any] | None = None) -> Problem:
    """Check a calibration against its scenario and record, before anything is simulated.

    (The only runs are the few that check a shortened horizon.)
    Bad input fails here with a message naming the file or field: an unknown path, a prior
    that reaches outside the field's valid values, a record row naming an actor the
    scenario lacks, an unknown statistic.
    """
    from sim.analysis.backtest import read_timeline, record_window
    from sim.scenario import compile_scenario

    rows = read_timeline(spec.timeline)
    base = _base_document(spec, scenario_data)
    compiled = compile_scenario(_validated(base, "the scenario with its fixed overrides"))
    rows = _checked_actors(rows, compiled, spec)
    integer = _check_priors(spec, base)
    window = record_window(rows, compiled, spec.until)
    statistics, observations = record_statistics(
        rows, compiled, window, spec.statistics.level, spec.statistics.unobserved
    )
    chosen = select(
        statistics, spec.statistics.include, spec.statistics.exclude, spec.statistics.measures
    )
    if not chosen:
        raise CalibrationError("no statistics left after include/exclude and measures")
    plan = StatisticPlan(
        chosen, window, spec.statistics.level, sorted(k.label for k in observations.unmodelled)
    )
    statistic_weights(plan.names, spec.statistics.weights)  # unknown patterns fail now
    judgment = [_judgment(base, p) for p in spec.paths]
    days, note = _horizon(spec, base, compiled, plan, integer)
    return Problem(
        spec=spec,
        name=compiled.name,
        title=str(base.get("title", "")),
        data=base,
        full_days=compiled.days,
        simulated_days=days,
        horizon_note=note,
        plan=plan,
        integer=integer,
        judgment=judgment,
        start=compiled.start,
        outside={
            "actors": [r.line for r in observations.outside_actors],
            "window": [r.line for r in observations.outside_window],
        },
    )


def _base_document(spec: CalibrationSpec, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the scenario document with the fixed overrides set (loaded once, here)."""
    from sim.scenario.paths import PathError

    if data is None:
        from sim.scenario import load

        data = load(spec.scenario).model_dump(mode="json")
    base = dict(data)
    try:
        steps = {p: resolve_steps(base, p) for p in [*spec.set, *spec.paths]}
    except PathError as err:
        raise CalibrationError("calibration parameter " + str(err).removeprefix("--set ")) from None
    from sim.experiments.variants import with_values

    return with_values(base, [(steps[p], v) for p, v in spec.set.items()])


def _validated(data: Mapping[str, Any], what: str) -> Any:
    """Return the Scenario of a document, or raise a CalibrationError saying what is wrong."""
    from sim.experiments.variants import VariantError

    try:
        return Variants(data, []).scenario([])
    except VariantError as err:
        raise CalibrationError(f"{what}: {err}".replace(": : ", ": ")) from None


def _checked_actors(rows: list[Any], spec: Any, calibration: CalibrationSpec) -> list[Any]:
    """Drop rows of ignored actors; refuse rows naming an actor the scenario lacks."""
    ignored = set(calibration.ignore_actors)
    known = set(spec.actor_ids)
    stray = sorted(ignored - known - {a for r in rows for a in (*r.actors, *r.targets)})
    if stray:
        raise CalibrationError(f"ignore_actors: {', '.join(stray)} appear in neither record")
    kept, unknown = [], {}
    for row in rows:
        named = set(row.actors) | set(row.targets)
        if named & ignored:
            continue
        for actor in sorted(named - known):
            unknown.setdefault(actor, []).append(row.line)
        kept.append(row)
    if unknown:
        lines = "; ".join(
            f"{a} on line{'s' if len(ls) > 1 else ''} {', '.join(map(str, ls[:6]))}"
            for a, ls in unknown.items()
        )
        raise CalibrationError(
            f"{calibration.timeline}: the record names actors that {spec.name} lacks ({lines}); "
            f"the scenario has {', '.join(spec.actor_ids)}. Drop those rows with "
            f"--ignore-actor {' --ignore-actor '.join(unknown)} (ignore_actors: in a "
            "calibration file)"
        )
    return kept


def _check_priors(spec: CalibrationSpec, base: dict[str, Any]) -> list[str]:
    """Check that each field is a number valid over its prior's support; return the int ones.

    An integer field's runs take rounded values (:class:`Variants`), so its prior's ends are
    checked rounded.
    """
    integer = []
    for prior in spec.parameters:
        steps = resolve_steps(base, prior.path)
        current = get_steps(base, steps)
        if isinstance(current, bool) or not isinstance(current, int | float | None):
            raise CalibrationError(
                f"calibration parameter {prior.path}: holds {current!r}, not a number; only "
                "numeric fields can be calibrated"
            )
        field = _policy_field(base, steps)
        whole = _is_int(current) or (field is not None and field.annotation is int)
        low, high = prior.support
        for value, end in ((low, "low"), (high, "high")):
            shown = f"{value:g}" + (f", rounded to {round(value)}" if whole else "")
            what = (
                f"calibration parameter {prior.path}: prior {prior.describe()} reaches "
                f"{shown} (its {end} end)"
            )
            variants = Variants(base, [prior.path], [prior.path] if whole else [])
            scenario = _validated(variants.document([value]), what)
            whole = whole or _is_int(get_steps(scenario.model_dump(mode="json"), steps))
        if whole:
            integer.append(prior.path)
    return sorted(set(integer))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _policy_field(base: Mapping[str, Any], steps: Sequence[str | int]) -> Any:
    """Return the pydantic field of a policy parameter (``actors.X.policy.params.NAME``), or None.

    A policy's parameters are a free mapping in the scenario, checked by the rule's own
    model: a parameter left at its default is absent from the document, and an integer one
    reads back as whatever number was set. The rule's model knows its default and its type.
    """
    from sim.engine.policy import policy_class

    if len(steps) != 5 or steps[0] != "actors" or tuple(steps[2:4]) != ("policy", "params"):
        return None
    policy = get_steps(base, tuple(steps[:3]))
    try:
        return policy_class(policy["name"]).Params.model_fields.get(str(steps[4]))
    except (KeyError, TypeError):  # no such policy: the scenario's validation says so
        return None


def _judgment(base: Mapping[str, Any], path: str) -> float | None:
    """Return a calibrated field's value in the scenario (a policy parameter's default if unset)."""
    steps = resolve_steps(base, path)
    value = get_steps(base, steps)
    if value is None:
        field = _policy_field(base, steps)
        value = None if field is None else field.default
    return _number(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- a shorter horizon: moves within the window do not depend on what comes after -----------


def _horizon(
    spec: CalibrationSpec, base: dict[str, Any], compiled: Any, plan: StatisticPlan, integer: list
) -> tuple[int, str]:
    """Return the days to simulate and a note of why.

    Actors weigh the running cost of a measure over at most ``PLANNING_DAYS`` ahead (or to
    the horizon), so stopping the clock that long after the window leaves every decision in
    the window, and every draw (streams are keyed by name), as it was. The run spec keeps
    everything else of the full scenario (events after the stop, such as a summit whose
    run-up and outside hazard reach back into the window, stay scheduled; they are simply
    not reached). That is checked, not assumed: a few replications with both horizons must
    make the same moves in the window, else the full horizon is kept.
    """
    from sim.engine.actors import PLANNING_DAYS

    days = compiled.days
    if not spec.truncate:
        return days, "full horizon (truncate: false)"
    stop = int(plan.window + math.ceil(PLANNING_DAYS) + 1)
    if stop >= days:
        return days, "full horizon (the window and the planning look-ahead fill it)"
    try:
        values = [[_judgment(base, p) for p in spec.paths]]
        values.append([float(p.frozen().median()) for p in spec.parameters])
        for vals in values:
            if any(v is None for v in vals):
                continue
            if not _same_window(base, stop, spec.paths, integer, vals, plan):
                return days, "full horizon (a shortened run made other moves in the window)"
    except (CalibrationError, ValueError, TypeError) as err:
        return days, f"full horizon (cannot shorten: {err})"
    return (
        stop,
        (
            f"shortened to {stop} days (the window and {PLANNING_DAYS:g} days of planning "
            f"look-ahead; checked on {HORIZON_CHECKS} replications)"
        ),
    )


def stopped_at(spec: Any, days: int | None) -> Any:
    """Return a compiled run spec whose clock stops after ``days`` (None: as it is)."""
    import dataclasses

    if days is None or days >= spec.days:
        return spec
    return dataclasses.replace(spec, days=int(days))


def _same_window(
    data: dict[str, Any],
    stop: int,
    paths: Sequence[str],
    integer: Sequence[str],
    values: Sequence[float],
    plan: StatisticPlan,
) -> bool:
    """Whether runs stopped after ``stop`` days make the full runs' moves up to the window."""
    from sim.engine import simulate
    from sim.experiments.variants import VariantError

    try:
        full = Variants(data, paths, integer).spec(values)
    except VariantError as err:
        raise CalibrationError(str(err)) from None
    specs = [full, stopped_at(full, stop)]
    for i in range(HORIZON_CHECKS):
        seed = np.random.SeedSequence(HORIZON_KEY, spawn_key=(i,))
        moves = [
            [m for m in simulate(s, seed).moves if math.floor(m.day) <= plan.window] for s in specs
        ]
        if moves[0] != moves[1]:
            return False
    return True


# --- the model pyabc simulates ---------------------------------------------------------------


def parameter_names(n: int) -> list[str]:
    """Return pyabc's names of the parameters (``p0``, ``p1``...: paths hold dots)."""
    return [f"p{i}" for i in range(n)]


class ScenarioModel:
    """pyabc's model: parameter values in, the statistics of one simulated run out.

    The run's seed is drawn from numpy's global generator, which the sampler seeds for
    every evaluation, so a run depends on the calibration's seed and its place alone.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        paths: Sequence[str],
        integer: Sequence[str],
        plan: Any,
        days: int | None = None,
    ) -> None:
        self.variants = Variants(data, paths, integer)
        self.plan = plan
        self.days = days  # stop the clock here (None: the scenario's horizon)
        self.names = parameter_names(len(paths))

    def __call__(self, parameters: Mapping[str, float]) -> dict[str, np.ndarray]:
        """Return the statistics of one run at pyabc's parameter values."""
        values = [float(parameters[n]) for n in self.names]
        seed = np.random.SeedSequence(int(np.random.randint(0, 2**62)))
        return {KEY: self.statistics(values, seed)}

    def statistics(self, values: Sequence[float], seed: np.random.SeedSequence) -> np.ndarray:
        """Return the statistics of one run at ``values`` with ``seed``."""
        from sim.engine import simulate

        record = simulate(stopped_at(self.variants.spec(values), self.days), seed)
        return self.plan.of_moves(record.moves)


# --- the sampler: pyabc's interface, seeded per evaluation ----------------------------------


def evaluation_seed(seed: int, t: int, k: int) -> np.ndarray:
    """Return the numpy seed of evaluation ``k`` of generation ``t`` (-1: the prior sample)."""
    return np.random.SeedSequence(seed, spawn_key=(t + 1, k)).generate_state(4)


@dataclass
class Evaluate:
    """Evaluates a batch of pyabc proposals: the callable executors map over id ranges.

    ``function`` is pyabc's simulate function of the generation (a partial of pyabc's own
    functions over picklable parts), so a process pool or Dask can take it as it is.
    """

    seed: int
    t: int
    function: Callable[[], Any]

    def __call__(self, ids: Sequence[int]) -> tuple[int, list[Any]]:
        """Return the first id and the particles of the evaluations ``ids``."""
        out = []
        for k in ids:
            state = evaluation_seed(self.seed, self.t, k)
            np.random.seed(state)
            random.seed(int(state[0]))
            out.append(self.function())
        return ids[0], out


def _make_sampler_class() -> type:
    """Return :class:`SeededSampler` (built on first use: pyabc is slow to import)."""
    import pyabc

    class SeededSampler(pyabc.sampler.Sampler):
        """pyabc sampler whose populations depend on the seed only (see the module doc)."""

        def __init__(self, seed: int, executor: Any, batch: int, bar: Any = None) -> None:
            super().__init__()
            self.seed = seed
            self.executor = executor
            self.batch = batch
            self.bar = bar
            self.wasted_ = 0

        def sample_until_n_accepted(
            self,
            n: int,
            simulate_one: Callable[[], Any],
            t: int,
            *,
            max_eval: float = np.inf,
            all_accepted: bool = False,
            ana_vars: Any = None,
        ) -> Any:
            del all_accepted, ana_vars  # the order of ids already decides everything
            parallel = getattr(self.executor, "workers", 1) > 1
            evaluate = Evaluate(self.seed, t, simulate_one)
            batch = self.batch if parallel else 1
            kept, evaluated, accepted, ok = _ordered_until(
                self.executor.map(evaluate, _id_ranges(batch)), n, max_eval, self.bar
            )
            sample = self._create_empty_sample()
            for particle in kept:
                sample.append(particle)
            sample.ok = ok
            self.nr_evaluations_ = len(kept)
            self.wasted_ = evaluated - len(kept)
            return sample

    return SeededSampler


def _id_ranges(batch: int) -> Iterator[range]:
    """Yield consecutive ranges of evaluation ids, without end."""
    for first in itertools.count(0, batch):
        yield range(first, first + batch)


def _ordered_until(
    results: Iterator[tuple[int, list[Any]]], n: int, max_eval: float, bar: Any
) -> tuple[list[Any], int, int, bool]:
    """Take batch results in any order; return the evaluations up to the n-th acceptance.

    Returns (the kept evaluations in id order, evaluations received, accepted, whether n
    were accepted within ``max_eval`` evaluations).
    """
    waiting: dict[int, list[Any]] = {}
    kept: list[Any] = []
    evaluated = accepted = 0
    with contextlib.closing(iter(results)) as stream:
        for first, particles in stream:
            waiting[first] = particles
            evaluated += len(particles)
            while len(kept) in waiting:
                for particle in waiting.pop(len(kept)):
                    kept.append(particle)
                    if particle.accepted:
                        accepted += 1
                        if bar is not None:
                            bar.update(1)
                    if accepted >= n:
                        return kept, evaluated, accepted, True
                    if len(kept) >= max_eval:
                        return kept, evaluated, accepted, False
    return kept, evaluated, accepted, False  # pragma: no cover - the id stream never ends


# --- pyabc's pieces ---------------------------------------------------------------------------


#: pyabc's scale functions, by the names a calibration file uses.
SCALE_FUNCTIONS = {
    "rmsd": "root_mean_square_deviation",
    "sd": "standard_deviation",
    "mad": "median_absolute_deviation",
    "cmad": "combined_median_absolute_deviation",
}


class Scale:
    """pyabc's scale function of a name, by reference: the distance then pickles.

    (pyabc's own are closures of a checking decorator, which a process pool cannot send.)
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.__name__ = SCALE_FUNCTIONS[name]

    def __call__(self, **kwargs: Any) -> np.ndarray:
        """Return the scales of the samples (pyabc's keyword interface)."""
        from pyabc.distance import scale

        return getattr(scale, self.__name__)(**kwargs)


def scale_function(name: str) -> Scale | None:
    """Return pyabc's scale function of a name (None: no adaptive scale)."""
    return Scale(name) if name in SCALE_FUNCTIONS else None


def build_abc(problem: Problem, sampler: Any, scales: Sequence[float] | None = None) -> Any:
    """Return a pyabc ABCSMC for the problem: priors, model, distance, epsilon, sampler.

    ``scales`` are the adaptive distance's scale weights for the generation about to run,
    as the last run fitted them on every evaluation of its generation (accepted or not);
    None lets pyabc fit them (on the prior sample at the start).
    """
    import pyabc

    spec = problem.spec
    names = parameter_names(len(spec.parameters))
    priors = {}
    for name, prior in zip(names, spec.parameters, strict=True):
        dist, args, kwargs = prior.scipy_call()
        priors[name] = pyabc.RV(dist, *args, **kwargs)
    weights = statistic_weights(problem.plan.names, spec.statistics.weights)
    fixed = {f"{KEY}:{i}": float(w) for i, w in enumerate(weights)}
    scale = scale_function(spec.distance.scale)
    if scale is None:
        distance = pyabc.PNormDistance(p=spec.distance.p, fixed_weights=fixed)
    else:
        initial = None if scales is None else {f"{KEY}:{i}": float(w) for i, w in enumerate(scales)}
        distance = pyabc.AdaptivePNormDistance(
            p=spec.distance.p,
            initial_scale_weights=initial,
            fixed_weights=fixed,
            scale_function=scale,
            max_scale_weight_ratio=spec.distance.max_weight_ratio,
            all_particles_for_scale=True,  # Prangle (2017): scales of the whole sample
        )
    return pyabc.ABCSMC(
        models=problem.model(),
        parameter_priors=pyabc.Distribution(**priors),
        distance_function=distance,
        population_size=spec.population,
        transitions=pyabc.MultivariateNormalTransition(),
        eps=pyabc.QuantileEpsilon(alpha=spec.quantile),
        sampler=sampler,
    )


@contextlib.contextmanager
def quiet_pyabc() -> Iterator[None]:
    """Silence pyabc's INFO logging (our progress says what matters) for the block."""
    loggers = [logging.getLogger(n) for n in ("ABC", "ABC.History", "ABC.Sampler", "ABC.Distance")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


# --- the folder -------------------------------------------------------------------------------


def plan_document(problem: Problem) -> dict[str, Any]:
    """Return the content of ``calibration.json``: everything the calibration is, resolved."""
    return {
        "format_version": CALIBRATION_FORMAT,
        "kind": "calibration",
        "scenario": problem.name,
        "title": problem.title,
        "spec": problem.spec.model_dump(mode="json"),
        "window": _window(problem),
        "horizon": {
            "scenario_days": problem.full_days,
            "simulated_days": problem.simulated_days,
            "note": problem.horizon_note,
        },
        "statistics": problem.plan.describe(),
        "unmodelled_kinds": problem.plan.excluded,
        "outside_lines": problem.outside,
        "integer_parameters": problem.integer,
        "judgment": dict(zip(problem.spec.paths, problem.judgment, strict=True)),
        # the scenario as calibrated (fixed overrides in), so the
        # folder alone resumes even if the scenario file changes
        "scenario_document": problem.data,
    }


def _window(problem: Problem) -> dict[str, Any]:
    end = problem.start + dt.timedelta(days=problem.plan.window)
    return {"start": problem.start.isoformat(), "end": end.isoformat(), "days": problem.plan.window}


def problem_from_plan(plan: Mapping[str, Any], spec: CalibrationSpec | None = None) -> Problem:
    """Rebuild the problem of a folder from its plan (the stored scenario, not the file)."""
    spec = spec or build_spec(plan["spec"], PLAN)
    document = plan["scenario_document"]
    problem = prepare(spec.model_copy(update={"set": {}, "truncate": False}), document)
    problem.spec = spec
    problem.full_days = int(plan["horizon"]["scenario_days"])
    problem.simulated_days = int(plan["horizon"]["simulated_days"])
    problem.horizon_note = plan["horizon"]["note"]
    problem.judgment = [plan["judgment"][p] for p in spec.paths]
    return problem


def read_plan(folder: Path) -> dict[str, Any]:
    """Read a calibration folder's plan, or explain why this is not a calibration folder."""
    path = Path(folder) / PLAN
    if not path.is_file():
        raise UsageError(f"{folder}: not a calibration folder (no {PLAN})")
    plan = store.read_json(path)
    if plan.get("format_version") != CALIBRATION_FORMAT:
        raise UsageError(f"{folder}: written by another version of sim (calibration format)")
    return plan


def generations_frame(history: Any, seed: int) -> pd.DataFrame:
    """Return one row per stored generation: epsilon, simulations, acceptance, ESS, time."""
    populations = history.get_all_populations()
    rows = []
    for row in populations.to_dict("records"):
        t = int(row["t"])
        if t < 0:
            continue
        _, weights = history.get_distribution(m=0, t=t)
        rows.append(
            {
                "generation": t,
                "epsilon": float(row["epsilon"]),
                "simulations": int(row["samples"]),
                "accepted": int(row["particles"]),
                "acceptance": int(row["particles"]) / max(1, int(row["samples"])),
                "ess": effective_sample_size(weights),
                "seconds": float(row.get("wall_time") or 0.0),
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        prior_sample = int(populations.loc[populations["t"] < 0, "samples"].sum())
        frame["simulations_total"] = prior_sample + frame["simulations"].cumsum()
    return frame


def particles_frame(history: Any, paths: Sequence[str]) -> pd.DataFrame:
    """Return every stored generation's particles: generation, weight, distance, values."""
    frames = []
    names = parameter_names(len(paths))
    for t in range(history.max_t + 1):
        population = history.get_population(t=t)
        rows = [
            {
                "generation": t,
                "weight": float(p.weight),
                "distance": float(p.distance),
                **{path: float(p.parameter[n]) for path, n in zip(paths, names, strict=True)},
            }
            for p in population.particles
        ]
        frames.append(pd.DataFrame(rows))
    if not frames:
        return pd.DataFrame(columns=["generation", "weight", "distance", *paths])
    frame = pd.concat(frames, ignore_index=True)
    for _, group in frame.groupby("generation"):
        frame.loc[group.index, "weight"] = group["weight"] / group["weight"].sum()
    return frame


# --- results ----------------------------------------------------------------------------------


class Calibration:
    """A calibration's outcome: its generations, particles, summary and predictive check."""

    def __init__(
        self,
        spec: CalibrationSpec,
        summary: dict[str, Any],
        generations: pd.DataFrame,
        particles: pd.DataFrame,
        check: pd.DataFrame | None,
        path: Path | None,
        status: str,
    ) -> None:
        self.spec = spec
        self.summary = summary
        self.generations = generations
        self.particles = particles
        self.check = check
        self.path = path
        self.status = status
        self.integer: list[str] = []  # the calibrated fields that hold integers

    @property
    def paths(self) -> list[str]:
        """The calibrated paths."""
        return self.spec.paths

    def posterior(self, generation: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
        """Return a generation's particles (default: the last) and their normalized weights."""
        if self.particles.empty:
            raise UsageError("this calibration holds no generation yet")
        last = int(self.particles["generation"].max()) if generation is None else generation
        rows = self.particles[self.particles["generation"] == last]
        weights = rows["weight"].to_numpy(dtype=float)
        return rows[self.paths].reset_index(drop=True), weights / weights.sum()

    def table(self) -> str:
        """Return the summary as plain-text tables."""
        return render_summary(self.summary)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        gens = len(self.generations)
        return f"Calibration({self.summary.get('scenario')!r}, generations={gens}{where})"


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Open a calibration folder written earlier."""
    folder = Path(path)
    plan = read_plan(folder)
    spec = build_spec(plan["spec"], str(folder / PLAN))
    summary = store.read_json(folder / store.SUMMARY) if (folder / store.SUMMARY).is_file() else {}
    manifest_file = folder / store.MANIFEST
    manifest = store.read_json(manifest_file) if manifest_file.is_file() else {}
    generations = _read_or_empty(folder / GENERATIONS)
    particles = _read_or_empty(folder / PARTICLES)
    check = pd.read_parquet(folder / CHECK) if (folder / CHECK).is_file() else None
    status = manifest.get("status", "unknown")
    result = Calibration(spec, summary, generations, particles, check, folder, status)
    result.integer = list(plan.get("integer_parameters", []))
    return result


def _read_or_empty(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


# --- running ----------------------------------------------------------------------------------

#: Called after each generation with its row of the generations table.
Callback = Callable[[Mapping[str, Any]], None]


@dataclass
class Run:
    """One calibration being run: where it writes, how it reports, when it stops."""

    problem: Problem
    folder: Path
    command: str | None
    started: dt.datetime
    progress: bool
    callback: Callback | None
    resumed_from: int | None = None
    clock: float = field(default_factory=time.perf_counter)
    executor_name: str = "serial"
    stop_reason: str | None = None
    wasted: int = 0
    notes: list[str] = field(default_factory=list)

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
    store.check_destination(out, name, force)
    if resume is not None:
        if target is not None or timeline is not None or set(fields) - {"stop"}:
            raise UsageError(
                "resume takes the calibration from its folder: give only stop rules with it"
            )
        return _resume(Path(resume), fields.get("stop"), workers, executor, scheduler,
                       progress, command, callback)  # fmt: skip
    if timeline is not None:
        fields["timeline"] = os.fspath(timeline)
    spec = resolve_spec(target, fields)
    problem = prepare(spec)
    started = dt.datetime.now(dt.UTC)
    with contextlib.ExitStack() as stack:
        if out is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sim-abc-")))
        else:
            folder = store.create_run_dir(
                Path(out), problem.name, started, "calibrate", name=name, force=force,
                prefix="calibration-",
            )  # fmt: skip
        store.write_json(folder / PLAN, {**plan_document(problem), "started": started.isoformat()})
        run = Run(problem, folder, command, started, progress, callback)
        result = _execute(run, workers, executor, scheduler, fresh=True)
        if out is None:
            result.path = None
        return result


def _resume(
    folder: Path,
    stop: Mapping[str, Any] | None,
    workers: int | None,
    executor: Any,
    scheduler: str | None,
    progress: bool,
    command: str | None,
    callback: Callback | None,
) -> Calibration:
    """Continue a calibration from its last stored generation."""
    plan = read_plan(folder)
    manifest_path = folder / store.MANIFEST
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
    started = dt.datetime.fromisoformat(plan.get("started") or manifest.get("started"))
    run = Run(problem, folder, command, started, progress, callback)
    return _execute(run, workers, executor, scheduler, fresh=False)


def _execute(
    run: Run, workers: int | None, executor: Any, scheduler: str | None, *, fresh: bool
) -> Calibration:
    """Run the generations and the predictive check; save what was done however it ends."""
    from sim.experiments.ensemble import choose_executor

    chosen = choose_executor(executor, workers, scheduler, None, 1)
    run.executor_name = _describe(chosen)
    _write_manifest(run, "running", None)
    try:
        with quiet_pyabc(), _entered(chosen):
            _generations(run, chosen, fresh)
            check = _predictive(run, chosen)
    except BaseException as exc:
        stopped = isinstance(exc, KeyboardInterrupt)
        status = "interrupted" if stopped else "failed"
        error = None if stopped else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            _finish(run, status, error, None)
            exc.add_note(
                f"the generations done are saved in {run.folder}; continue with: "
                f"sim calibrate --resume {run.folder}"
            )
        raise
    return _finish(run, "complete", None, check)


def _entered(executor: Any) -> contextlib.AbstractContextManager[Any]:
    return executor if hasattr(executor, "__enter__") else contextlib.nullcontext(executor)


def _describe(executor: Any) -> str:
    name = type(executor).__name__.removesuffix("Executor").lower() or "custom"
    workers = getattr(executor, "workers", None)
    return f"{name} ({workers} workers)" if workers else name


def batch_size(population: int, workers: int) -> int:
    """Return evaluations per task: small enough to waste little past the last acceptance."""
    return max(1, min(25, population // (8 * max(1, workers))))


def _generations(run: Run, executor: Any, fresh: bool) -> None:
    """Run generation after generation, each from the stored history, until a rule stops."""
    import pyabc
    from tqdm import tqdm

    spec = run.problem.spec
    sampler_class = _make_sampler_class()
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
    particles = _read_or_empty(run.folder / PARTICLES)
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
    generations = _read_or_empty(folder / GENERATIONS)
    particles = _read_or_empty(folder / PARTICLES)
    summary = build_summary(run, generations, particles, check, status)
    store.write_json(folder / store.SUMMARY, summary)
    _write_manifest(run, status, error)
    result = Calibration(run.problem.spec, summary, generations, particles, check, folder, status)
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
        "window": _window(problem),
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
        values, weights = _last(particles, spec.paths)
        for j, prior in enumerate(spec.parameters):
            summary["parameters"].append(
                {
                    "path": prior.path,
                    "prior_text": prior.describe(),
                    "judgment": problem.judgment[j],
                    "prior": prior_row(prior.frozen()),
                    "posterior": posterior_row(values[:, j], weights),
                }
            )
    summary["seconds_this_session"] = round(seconds, 1)
    if check is not None:
        summary["check"] = check_rows(check, problem.plan, spec.seed)
    return store.jsonable(summary)


def _last(particles: pd.DataFrame, paths: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    last = particles[particles["generation"] == particles["generation"].max()]
    return last[list(paths)].to_numpy(dtype=float), last["weight"].to_numpy(dtype=float)


def _write_manifest(run: Run, status: str, error: str | None) -> None:
    """Write the manifest: what ran, with which settings and versions, and how it ended."""
    import pyabc

    running = status == "running"
    manifest = {
        "format_version": CALIBRATION_FORMAT,
        "kind": "calibration",
        "scenario": run.problem.name,
        "status": status,
        "error": error,
        "stop_reason": run.stop_reason,
        "spec": run.problem.spec.model_dump(mode="json"),
        "executor": run.executor_name,
        "resumed_from_generation": run.resumed_from,
        "evaluations_discarded": run.wasted,
        "notes": run.notes,
        "package_version": store.package_version(),
        "git": store.git_commit(),
        "environment": {**store.environment(), "pyabc": pyabc.__version__},
        "command": run.command if run.command is not None else " ".join(sys.argv),
        "started": run.started.isoformat(timespec="seconds"),
        "finished": None if running else dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "process": {"pid": os.getpid(), "host": _host()} if running else None,
        "files": {
            "plan": PLAN,
            "history": f"{DATABASE} (pyabc's History: ABCSMC.load('sqlite:///.../{DATABASE}', 1))",
            "generations": GENERATIONS,
            "particles": PARTICLES,
            "check": CHECK,
            "scales": f"{SCALES} (the adaptive distance's scale weights of each generation)",
            "summary": store.SUMMARY,
        },
    }
    store.write_json(run.folder / store.MANIFEST, manifest)


def _host() -> str:
    import socket

    return socket.gethostname()


# --- text -------------------------------------------------------------------------------------


def render_summary(summary: Mapping[str, Any]) -> str:
    """Return a calibration's summary as text: how it ran, the posterior, the check."""
    from sim.analysis.tables import table

    window = summary["window"]
    lines = [
        f"Calibration of {summary.get('title') or summary['scenario']} ({summary['scenario']}) "
        f"to {summary['timeline']}",
        f"window {window['start']} to {window['end']} ({window['days']} days); "
        f"{summary['statistics']['count']} statistics ({summary['statistics']['level']} level); "
        f"{summary.get('horizon', '')}",
    ]
    if summary.get("generations"):
        lines.append(
            f"{summary['generations']} generations of {summary['population']}, "
            f"{summary['simulations']:,} simulations, final epsilon {summary['epsilon']:.4g}, "
            f"acceptance {summary['acceptance']:.1%}, ESS {summary['ess']:.0f}; "
            f"stopped: {summary.get('stop_reason') or summary['status']}"
        )
    text = "\n".join(lines) + "\n"
    rows = []
    for p in summary.get("parameters", []):
        post, prior = p["posterior"], p["prior"]
        judged = "-" if p["judgment"] is None else f"{p['judgment']:.4g}"
        rows.append(
            [
                p["path"],
                judged,
                p["prior_text"],
                f"{prior['lo']:.3g} .. {prior['hi']:.3g}",
                f"{post['mean']:.3g}",
                f"{post['median']:.3g}",
                f"{post['lo']:.3g} .. {post['hi']:.3g}",
                f"{(post['hi'] - post['lo']) / max(prior['hi'] - prior['lo'], 1e-300):.2f}",
            ]
        )
    if rows:
        headers = [
            "parameter",
            "judgment",
            "prior",
            "prior 90%",
            "post. mean",
            "median",
            "posterior 90%",
            "width ratio",
        ]
        text += "\n" + table(headers, rows, right=(1, 4, 5, 7)) + "\n"
    if summary.get("check"):
        arms = [a for a in ARMS if a in summary["check"][0]]
        shown = [r for r in summary["check"] if r.get("in_record", True)]
        text += "\n" + render_check(shown, arms) + "\n"
        hidden = len(summary["check"]) - len(shown)
        if hidden:
            text += (
                f"({hidden} statistics of kinds the scenario makes and the record lacks are in "
                "summary.json, under check)\n"
            )
    return text
