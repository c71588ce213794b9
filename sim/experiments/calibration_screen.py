"""Which parameters to calibrate: Sobol indices of a calibration's distance to its record.

A record can only inform the parameters that move the statistics it is compared on. Before
a calibration, its candidate parameters are screened over their priors: a Saltelli design
(SALib, :func:`sim.experiments.designs.saltelli_sample`) mapped to each prior by its inverse
CDF, ``runs`` replications per point on common seeds (the same seeds at every point, so a
point's mean is a deterministic function of the parameters and differences between points
are not noise), the calibration's own statistics of each run
(:class:`sim.analysis.calibration.StatisticPlan`, window and horizon as the calibration
simulates them), and Sobol indices with bootstrap intervals
(:func:`sim.experiments.sensitivity.sobol_indices`) of

- ``distance``: a point's mean distance to the record, the calibration's weighted p-norm
  with its scale function fitted on every run of the design (as pyabc fits the first
  generation's scales on the prior sample) and its user weights;
- ``moves``: a point's mean number of moves of the kinds the record shows (its tempo);
- each chosen statistic (by default the counts of the kinds the record shows).

A parameter whose total index ``ST`` on the distance is near zero cannot be learnt from the
record: calibrating it returns its prior. ::

    python -m sim.experiments.calibration_screen calibrations/taiwan-nov7-25-screen
        --points 256 --runs 8 --workers 2 --out screen/    (one command line)
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.abc_smc import Scale, quiet_pyabc
from sim.experiments.calibration_problem import Problem, prepare, stopped_at
from sim.experiments.calibration_spec import TAIL, resolve_spec

#: Spawn key of the screen's replications (the same seeds at every point of the design).
SCREEN_KEY = 0x534352  # "SCR"

#: The outcome of the tempo: moves of the record's kinds in the window, per run.
MOVES = "moves"

#: The distance's two parts: over the statistics of kinds the record shows, and of the kinds
#: the scenario makes and the record lacks (observed count 0).
RECORDED = "distance: record's kinds"
UNOBSERVED = "distance: unobserved kinds"

#: The outcomes shown with their intervals (the others as a matrix of total indices).
HEADLINE = ("distance", RECORDED, UNOBSERVED, MOVES)


@dataclass
class PointRuns:
    """Simulates the statistics of design points: the callable executors map over points."""

    problem: Problem
    values: np.ndarray  # (points, parameters)
    runs: int
    seed: int

    def __call__(self, points: Sequence[int]) -> tuple[int, np.ndarray]:
        """Return the first point and the statistics, shape ``(points, runs, statistics)``."""
        from sim.engine import simulate

        model = self.problem.model()
        out = np.empty((len(points), self.runs, len(model.plan.names)))
        for a, i in enumerate(points):
            spec = stopped_at(model.variants.spec(list(self.values[i])), model.days)
            for r in range(self.runs):
                seed = np.random.SeedSequence(self.seed, spawn_key=(SCREEN_KEY, r))
                out[a, r] = model.plan.of_moves(simulate(spec, seed).moves)
        return points[0], out


def design(problem: Problem, points: int, seed: int) -> np.ndarray:
    """Return the Saltelli design over the priors, shape ``(points * (d + 2), d)``."""
    from sim.experiments.designs import design_rng, saltelli_sample

    priors = problem.priors
    unit = saltelli_sample(len(priors), points, False, design_rng(seed))
    unit = np.clip(unit, TAIL, 1 - TAIL)  # an unbounded prior's inverse CDF is infinite at 0, 1
    return np.column_stack([p.frozen().ppf(unit[:, j]) for j, p in enumerate(priors)])


def distances(
    problem: Problem, statistics: np.ndarray, only: Sequence[bool] | None = None
) -> np.ndarray:
    """Return each run's distance to the record, shape ``statistics.shape[:-1]``.

    The calibration's distance: pyabc's p-norm of the weighted differences, each statistic's
    weight its user weight over its scale fitted on every run given (a zero scale, every run
    alike, leaves the statistic out, as pyabc's adaptive distance does), bounded as the
    calibration bounds it (``max_weight_ratio``). ``only`` restricts
    the norm to some statistics (the weights are those of the whole distance).
    """
    from sim.analysis.calibration import statistic_weights

    spec = problem.spec
    observed = problem.plan.observed
    flat = statistics.reshape(-1, len(observed))
    weights = statistic_weights(problem.plan.names, spec.statistics.weights)
    scale = None if spec.distance.scale == "none" else Scale(spec.distance.scale)
    if scale is not None:
        ids = [f"s:{i}" for i in range(len(observed))]
        scales = np.asarray(scale(samples=flat, s0=observed, s_ids=ids), dtype=float)
        inverse = np.zeros_like(scales)
        kept = ~np.isclose(scales, 0)
        inverse[kept] = 1 / scales[kept]
        if spec.distance.max_weight_ratio is not None and kept.any():
            from pyabc.distance.util import bound_weights

            inverse = bound_weights(inverse, spec.distance.max_weight_ratio)
        weights = weights * inverse
    if only is not None:
        weights = np.where(np.asarray(only, dtype=bool), weights, 0.0)
    p = spec.distance.p
    terms = np.abs(weights * (flat - observed))
    d = terms.max(axis=1) if np.isinf(p) else (terms**p).sum(axis=1) ** (1 / p)
    return d.reshape(statistics.shape[:-1])


@dataclass
class Screen:
    """The outcome of a screen: the design, each point's outcomes and the Sobol indices."""

    problem: Problem
    values: np.ndarray  # (points, parameters)
    outcomes: dict[str, np.ndarray]  # outcome -> its value at each point
    statistics: np.ndarray  # (points, runs, statistics): every run's statistics
    table: pd.DataFrame  # sim.experiments.sensitivity's columns
    runs: int
    points: int
    seed: int
    seconds: float

    @property
    def simulations(self) -> int:
        """The simulations the screen ran."""
        return int(self.values.shape[0] * self.runs)

    def frame(self) -> pd.DataFrame:
        """Return the design: one row per point, its parameter values and outcomes."""
        frame = pd.DataFrame(self.values, columns=self.problem.spec.paths)
        for name, y in self.outcomes.items():
            frame[name] = y
        return frame

    @property
    def labels(self) -> dict[str, str]:
        """Each parameter's label by path, from the scenario as screened."""
        from sim.scenario.labels import parameter_labels

        return parameter_labels(self.problem.data, self.problem.spec.parameters)

    @property
    def headline(self) -> pd.DataFrame:
        """The indices of the distance and of the record's totals (the rows shown first)."""
        return self.table[self.table["outcome"].isin(HEADLINE)]

    @property
    def others(self) -> pd.DataFrame:
        """The indices of every other statistic."""
        return self.table[~self.table["outcome"].isin(HEADLINE)]

    def render(self) -> str:
        """Return the screen as text (:func:`sim.present.calibration.render_screen`)."""
        from sim.present.calibration import render_screen

        return render_screen(self)

    def save(self, folder: Path) -> None:
        """Write the screen into a folder: screen.json, design.parquet, statistics.npy."""
        folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.to_json(), indent=1) + "\n"
        (folder / "screen.json").write_text(text, encoding="utf-8")
        self.frame().to_parquet(folder / "design.parquet")
        np.save(folder / "statistics.npy", self.statistics, allow_pickle=False)

    def to_json(self) -> dict[str, Any]:
        """Return the screen as JSON data: settings, priors and every index with its interval."""
        from sim.results import store

        return store.jsonable(
            {
                "scenario": self.problem.name,
                "timeline": self.problem.spec.timeline,
                "points": self.points,
                "design_points": int(self.values.shape[0]),
                "runs": self.runs,
                "seed": self.seed,
                "simulations": self.simulations,
                "seconds": round(self.seconds, 1),
                "horizon": self.problem.horizon_note,
                "priors": {p.path: p.describe() for p in self.problem.priors},
                "judgment": dict(zip(self.problem.spec.paths, self.problem.judgment, strict=True)),
                "indices": self.table.to_dict("records"),
            }
        )


def chosen_statistics(problem: Problem, patterns: Sequence[str] | None) -> list[str]:
    """Return the statistics to index: those matching a pattern, or the record's counts."""
    names = problem.plan.names
    if patterns is None:
        return [s.name for s in problem.plan.statistics if s.in_record and s.measure == "count"]
    return [n for n in names if any(fnmatch.fnmatchcase(n, pat) for pat in patterns)]


def screen(
    target: Any,
    *,
    points: int = 64,
    runs: int = 16,
    seed: int | None = None,
    index: Sequence[str] | None = None,
    resamples: int = 1000,
    workers: int | None = None,
    executor: Any = None,
    progress: bool = False,
    **fields: Any,
) -> Screen:
    """Return the Sobol screen of a calibration's parameters over their priors.

    Args:
        target: a calibration, as for :func:`sim.experiments.calibrate.calibrate` (a file,
            a spec, or a scenario with ``timeline`` and ``parameters`` in ``fields``).
        points: Saltelli base points (a power of two; ``points * (d + 2)`` are simulated).
        runs: replications a point, on the same seeds at every point.
        seed: seeds the design, the replications and the bootstrap (default: the
            calibration's).
        index: shell patterns of the statistics to index besides the distance and the
            tempo (default: the counts of the kinds the record shows).
        resamples: bootstrap resamples of the intervals.
        workers: local worker processes (None or 1: this process).
        executor: 'processes' (default), 'dask', or an executor object.
        progress: a progress bar of the simulations on stderr.
        **fields: calibration fields that override the target's (``parameters``, ``set``,
            ``statistics``, ``distance``...).
    """
    from sim.analysis.sensitivity import sobol_indices
    from sim.experiments.options import RunOptions, choose_executor, entered
    from sim.experiments.runner import load_engine
    from sim.experiments.stops import signals_outside_compiled_code, stop_if_signalled

    problem = prepare(resolve_spec(target, fields))
    seed = problem.spec.seed if seed is None else seed
    values = design(problem, points, seed)
    chosen = chosen_statistics(problem, index)
    chunk = max(1, min(8, len(values) // (4 * max(1, workers or 1))))
    chunks = [range(i, min(i + chunk, len(values))) for i in range(0, len(values), chunk)]
    runner = PointRuns(problem, values, runs, seed)
    chosen_executor = choose_executor(RunOptions(executor=executor, workers=workers), None, 1)
    load_engine(problem.model().variants.base_spec(), chosen_executor)
    started = time.perf_counter()  # the simulations' time, not the compiling's
    not_lost = signals_outside_compiled_code()  # a Ctrl-C in a kernel is not lost
    with entered(chosen_executor) as ex, _bar(progress, len(values) * runs) as bar, not_lost:
        parts = {}
        for first, stats in ex.map(runner, chunks):
            parts[first] = stats
            stop_if_signalled()  # a Ctrl-C that something swallowed stops the screen here
            bar.update(stats.shape[0] * runs)
    stats = np.concatenate([parts[c[0]] for c in chunks])  # (points, runs, statistics)
    seconds = time.perf_counter() - started
    with quiet_pyabc():  # its scale functions log every biased statistic
        outcomes = _outcomes(problem, stats, chosen)
    table = sobol_indices(problem.spec.paths, outcomes, resamples=resamples, seed=seed)
    return Screen(problem, values, outcomes, stats, table, runs, points, seed, seconds)


def _bar(progress: bool, total: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit="sim", file=sys.stderr, disable=not progress, leave=False)


def _outcomes(problem: Problem, stats: np.ndarray, chosen: Sequence[str]) -> dict[str, np.ndarray]:
    """Return each outcome's mean over a point's runs: distances, tempo, chosen statistics."""
    names = problem.plan.names
    seen = [s.in_record for s in problem.plan.statistics]
    counts = [
        i for i, s in enumerate(problem.plan.statistics) if s.in_record and s.measure == "count"
    ]
    outcomes = {"distance": distances(problem, stats).mean(axis=1)}
    if not all(seen):  # the distance in two parts: what the record shows, what it lacks
        outcomes[RECORDED] = distances(problem, stats, seen).mean(axis=1)
        outcomes[UNOBSERVED] = distances(problem, stats, [not x for x in seen]).mean(axis=1)
    outcomes[MOVES] = stats[:, :, counts].sum(axis=2).mean(axis=1)
    for name in chosen:
        outcomes[name] = stats[:, :, names.index(name)].mean(axis=1)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    """Run a screen from the command line and print it (and write its JSON if asked)."""
    parser = argparse.ArgumentParser(
        prog="python -m sim.experiments.calibration_screen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("calibration", help="a calibration file or name (calibrations/NAME)")
    parser.add_argument("--points", type=int, default=64, help="Saltelli base points")
    parser.add_argument("--runs", type=int, default=16, help="replications a point")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--statistic", action="append", default=None, help="pattern to index")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="write screen.json (settings and every index), design.parquet (each point's values "
        "and outcomes) and statistics.npy (every run's statistics) into this folder",
    )
    args = parser.parse_args(argv)
    from sim.errors import SimError

    try:
        found = screen(
            args.calibration, points=args.points, runs=args.runs, seed=args.seed,
            index=args.statistic, resamples=args.resamples, workers=args.workers,
            progress=sys.stderr.isatty(),
        )  # fmt: skip
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(found.render(), end="")
    if args.out is not None:
        found.save(args.out)
    return 0


def total_indices(screen: Screen, outcome: str = "distance") -> Mapping[str, float]:
    """Return each parameter's total index on an outcome (NaN when undefined)."""
    rows = screen.table[screen.table["outcome"] == outcome]
    return dict(zip(rows["parameter"], rows["ST"], strict=True))


if __name__ == "__main__":
    raise SystemExit(main())
