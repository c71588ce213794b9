"""A calibration's folder: its plan, its tables of generations and particles, and reading it.

``calibration-<id>/`` holds ``calibration.json`` (the plan: the spec, the window, the
statistics, the scenario as calibrated), ``abc.db`` (pyabc's history), ``generations``
and ``particles.parquet``, ``scales.json`` (the adaptive distance's scale weights of each
generation), ``check.parquet`` (the predictive check), ``summary.json`` and
``manifest.json`` (names in :mod:`sim.results.files`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibration import effective_sample_size
from sim.errors import UsageError
from sim.experiments.calibration_problem import Problem, parameter_names, prepare
from sim.experiments.calibration_spec import CalibrationSpec, build_spec
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
from sim.scenario.labels import parameter_labels

#: The files a calibration folder holds (``--force`` replaces only such folders).
FILES = (PLAN, DATABASE, GENERATIONS, PARTICLES, CHECK, SCALES, MANIFEST, SUMMARY)


# --- the folder -------------------------------------------------------------------------------


def plan_document(problem: Problem) -> dict[str, Any]:
    """Return the content of ``calibration.json``: everything the calibration is, resolved."""
    return {
        "format_version": CALIBRATION_FORMAT,
        "kind": "calibration",
        "scenario": problem.name,
        "title": problem.title,
        "spec": problem.spec.model_dump(mode="json"),
        "window": window(problem),
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


def window(problem: Problem) -> dict[str, Any]:
    """Return the record's window a calibration scores: first and last day, and its length."""
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
        scenario: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.summary = summary
        self.generations = generations
        self.particles = particles
        self.check = check
        self.path = path
        self.status = status
        self.integer: list[str] = []  # the calibrated fields that hold integers
        # each parameter's label by path, from the scenario as calibrated (its document)
        self.labels = parameter_labels(scenario or {}, spec.parameters)

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
        """Return the summary as plain-text tables (:mod:`sim.present.calibration`)."""
        from sim.present.calibration import render_summary

        return render_summary(self.summary, self.labels, self.changes)

    @property
    def changes(self) -> dict[str, Any]:
        """What the calibration fixed of its scenario (its ``set``), as a run's summary says it.

        In the form :func:`sim.present.summary.variation` reads.
        """
        return {"overrides": dict(self.spec.set)}

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        gens = len(self.generations)
        return f"Calibration({self.summary.get('scenario')!r}, generations={gens}{where})"


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Open a calibration folder written earlier."""
    folder = Path(path)
    plan = read_plan(folder)
    spec = build_spec(plan["spec"], str(folder / PLAN))
    summary = store.read_json(folder / SUMMARY) if (folder / SUMMARY).is_file() else {}
    manifest_file = folder / MANIFEST
    manifest = store.read_json(manifest_file) if manifest_file.is_file() else {}
    generations = read_or_empty(folder / GENERATIONS)
    particles = read_or_empty(folder / PARTICLES)
    check = pd.read_parquet(folder / CHECK) if (folder / CHECK).is_file() else None
    status = manifest.get("status", "unknown")
    result = Calibration(spec, summary, generations, particles, check, folder, status,
                         plan.get("scenario_document"))  # fmt: skip
    result.integer = list(plan.get("integer_parameters", []))
    return result


def read_or_empty(path: Path) -> pd.DataFrame:
    """Read a table of the folder, or return an empty one when it is not written yet."""
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()
