"""A parameter sweep as its figures read it: the results, the points, marginals and notes.

:func:`load` takes a :class:`~sim.experiments.sweep.SweepResults` or a sweep folder and
gives a :class:`SweepData`; the functions below it derive what a figure draws -- each
point's 95% interval, the marginal of a parameter over a grid of several (runs pooled, as
clusters under common random numbers), a sampled design's binned trend, a two-parameter
grid's matrix -- with numpy and pandas only, so tests can check a figure against the same
numbers computed independently. The figures are :mod:`sim.plots.sweep`'s.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.analysis.measures import Measure
from sim.errors import UsageError
from sim.experiments.designs import design
from sim.experiments.sweep import SweepResults, load_sweep
from sim.present.summary import labelled
from sim.results import store
from sim.results.files import MANIFEST
from sim.scenario.labels import legend_note

#: Points per bin of a sampled design's binned trend (at least), and the fewest and most bins:
#: a design of under 3 x 8 points gets no trend, since a bin of few points is mostly noise.
TREND_BIN_POINTS, TREND_MIN_BINS, TREND_MAX_BINS = 8, 3, 8


# --- the sweep, as the figures read it --------------------------------------------------------


@dataclass
class SweepData:
    """A sweep's results and, when it has a folder, its manifest."""

    results: SweepResults
    manifest: dict[str, Any] | None = None

    @property
    def path(self) -> Path | None:
        """The sweep's folder (None for a sweep kept in memory)."""
        return self.results.path

    @property
    def status(self) -> str:
        """How the sweep ended: ``complete``, ``interrupted`` or ``failed``."""
        return str(self.results.status)

    @property
    def spec(self) -> Any:
        """The sweep's :class:`~sim.experiments.sweep_spec.SweepSpec`."""
        return self.results.spec

    @property
    def paths(self) -> list[str]:
        """The swept parameter paths, in order."""
        return list(self.spec.paths)

    @property
    def points(self) -> pd.DataFrame:
        """One row per finished point (see ``points.parquet``)."""
        return self.results.points

    @property
    def metrics(self) -> list[Measure]:
        """The outcomes of interest."""
        return list(self.results.metrics)

    @property
    def scenario(self) -> Any:
        """The base scenario (a validated Scenario)."""
        return self.results.plan.base.scenario

    @property
    def labels(self) -> dict[str, str]:
        """Each swept parameter's label by path (from the sweep's stored scenario)."""
        return self.results.labels

    def label(self, path: str) -> str:
        """Return a swept parameter's label, as its axes and bars name it."""
        return self.results.labels.get(path, path)

    def parameter(self, path: str) -> Any:
        """Return the :class:`~sim.experiments.sweep_spec.Parameter` swept at ``path``."""
        return next(p for p in self.spec.parameters if p.path == path)

    def unit(self, metric: Measure) -> str:
        """Return what a metric is measured in, for an axis label."""
        if metric.share:
            return "probability"
        if metric.unit == "cost":
            return str(self.scenario.cost_unit).split(" (", 1)[0]
        return metric.unit


def load(results: Any) -> SweepData:
    """Return the :class:`SweepData` of a SweepResults object or a sweep folder path.

    Raises:
        UsageError: if ``results`` is neither, if the folder holds no sweep, or if no point
            of the sweep has finished.
    """
    if isinstance(results, SweepData):
        return results
    if isinstance(results, SweepResults):
        manifest = _manifest(results.path) if results.path is not None else None
        return _checked(SweepData(results, manifest))
    if isinstance(results, str | os.PathLike):
        return _checked(_from_folder(Path(results)))
    raise UsageError(
        f"expected a SweepResults (what sim.sweep returns) or a sweep folder path, "
        f"got {type(results).__name__}"
    )


def _from_folder(folder: Path) -> SweepData:
    """Read a sweep folder; say what is wrong if it is not a finished (or stopped) sweep."""
    from sim.experiments.sweep_spec import SWEEP_PLAN

    if not folder.is_dir():
        raise UsageError(f"{folder}: no such results folder")
    manifest = _manifest(folder)
    if manifest is None and (folder / SWEEP_PLAN).is_file():
        raise UsageError(
            f"{folder}: the sweep has no {MANIFEST} yet: it is still running, or it "
            f"died before saving its tables; finish it with: sim sweep --resume {folder}"
        )
    if manifest is None:
        from sim.plots.data import read_manifest

        read_manifest(folder)  # Raises with the message that fits (e.g. names inner folders).
    assert manifest is not None
    if manifest.get("kind") != "sweep":
        raise UsageError(f"{folder} holds {manifest.get('kind', 'ensemble')} results, not a sweep")
    return SweepData(load_sweep(folder), manifest)


def _manifest(folder: Path) -> dict[str, Any] | None:
    """Return a folder's manifest, or None when it has none."""
    path = Path(folder) / MANIFEST
    return store.read_json(path) if path.is_file() else None


def _checked(data: SweepData) -> SweepData:
    """Return ``data`` if at least one point finished, else raise a UsageError."""
    if data.points.empty:
        where = f"{data.path}: " if data.path else ""
        resume = f"; finish it with: sim sweep --resume {data.path}" if data.path else ""
        raise UsageError(
            f"{where}no point of the sweep has finished (status: {data.status}), so there is "
            f"nothing to show{resume}"
        )
    return data


# --- what the figures draw --------------------------------------------------------------------


def is_numeric(values: pd.Series) -> bool:
    """Whether a parameter's values are numbers (booleans, names and JSON text are not)."""
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def parameter_values(data: SweepData, path: str) -> list[Any]:
    """Return the distinct values of a parameter over the design: sorted numbers, else in order."""
    column = data.results.design[path]
    if is_numeric(column):
        return sorted(pd.unique(column).tolist())
    return list(dict.fromkeys(column.tolist()))


def bounds(points: pd.DataFrame, metric: Measure) -> tuple[np.ndarray, np.ndarray]:
    """Return the 95% interval of a metric at each point: Wilson, or mean +/- 1.96 SE."""
    if metric.share:
        lo, hi = (points[c].to_numpy(dtype=float) for c in metric.point_bounds)
        return lo, hi
    mean = points[metric.point_column].to_numpy(dtype=float)
    se = points[metric.point_se].to_numpy(dtype=float)
    return mean - stats.Z95 * se, mean + stats.Z95 * se


def run_values(data: SweepData, metric: Measure) -> pd.DataFrame:
    """Return each finished replication's value of a metric: ``point``, ``index``, ``value``."""
    runs = data.results.runs
    values = metric.values(runs)  # the one definition of a run's value of a metric
    return pd.DataFrame(
        {"point": runs["point"].to_numpy(), "index": runs["index"].to_numpy(), "value": values}
    )


def marginal(data: SweepData, path: str, metric: Measure) -> pd.DataFrame:
    """Return a metric averaged over every other parameter, at each value of ``path``.

    The runs of every point with that value are pooled: the estimate is the share (or mean)
    over all of them. The 95% interval is a Wilson interval for probabilities and a normal
    one for means. With independent seeds every run is independent and the Wilson interval
    is that of the pooled counts. With common random numbers replication ``i`` drew the
    same numbers at every point, so its runs at the pooled points are correlated; they
    count as one cluster, and the variance of the pooled share comes from the spread of
    the clusters (the ratio estimator of cluster sampling). For a probability the Wilson
    interval then takes the effective number of runs ``p (1 - p) / variance``, between
    the number of replications (runs identical at every pooled point) and the number of
    runs (runs independent); at ``p`` of 0 or 1 it takes the number of replications.

    Returns a frame with ``value``, ``estimate``, ``lo``, ``hi``, ``points``, ``runs`` and
    ``effective_runs`` (probabilities; NaN for means), one row per value of ``path``.
    """
    values = run_values(data, metric)
    at_point = data.points.set_index("point")[path]
    values["x"] = values["point"].map(at_point)
    crn = bool(data.spec.common_random_numbers)
    rows = []
    for x in parameter_values(data, path):
        group = values[values["x"] == x]
        if group.empty:
            continue
        # With independent seeds every run is a cluster of its own.
        cluster = group["index"].to_numpy() if crn else np.arange(len(group))
        row = _pooled(group["value"].to_numpy(dtype=float), cluster, metric.share)
        rows.append({"value": x, "points": int(group["point"].nunique()), **row})
    return pd.DataFrame(rows)


def _pooled(values: np.ndarray, cluster: np.ndarray, probability: bool) -> dict[str, float]:
    """Return the pooled estimate of ``values`` and its 95% interval, runs grouped by cluster."""
    n = values.size
    estimate = float(values.mean())
    _, which = np.unique(cluster, return_inverse=True)
    sums = np.bincount(which, weights=values)
    sizes = np.bincount(which).astype(float)
    g = sums.size
    # Variance of the ratio estimator sum(c_i) / sum(m_i) over independent clusters.
    variance = float(((sums - estimate * sizes) ** 2).sum()) / n**2
    if probability:
        spread = estimate * (1 - estimate)
        effective = spread / variance if spread > 0 and variance > 0 else (g if spread == 0 else n)
        effective = min(max(effective, g), n)
        lo, hi = stats.wilson_bounds(np.array([estimate]), effective)[0]
    else:
        effective = math.nan
        se = math.sqrt(variance * g / (g - 1)) if g > 1 else math.nan  # As stats.mean_se: ddof 1.
        lo, hi = estimate - stats.Z95 * se, estimate + stats.Z95 * se
    return {"estimate": estimate, "lo": lo, "hi": hi, "runs": n, "effective_runs": effective}


def binned_trend(x: np.ndarray, y: np.ndarray, runs: np.ndarray) -> pd.DataFrame:
    """Return the runs-weighted mean of ``y`` in equal-count bins of ``x``: ``x``, ``y``, ``n``.

    In an LHS or Sobol design the other parameters are drawn independently of this one, so
    a bin's mean estimates the outcome at these values averaged over the others' ranges.
    Empty when the design has too few points for :data:`TREND_MIN_BINS` bins of
    :data:`TREND_BIN_POINTS` points.
    """
    bins = min(TREND_MAX_BINS, x.size // TREND_BIN_POINTS)
    if bins < TREND_MIN_BINS:
        return pd.DataFrame(columns=["x", "y", "n"])
    codes = pd.qcut(x, bins, labels=False, duplicates="drop")
    frame = pd.DataFrame({"bin": codes, "x": x, "wy": y * runs, "runs": runs})
    grouped = frame.groupby("bin")
    out = pd.DataFrame(
        {
            "x": grouped["x"].mean(),
            "y": grouped["wy"].sum() / grouped["runs"].sum(),
            "n": grouped.size(),
        }
    )
    return out.reset_index(drop=True)


def heat_table(data: SweepData, metric: Measure) -> tuple[list[Any], list[Any], np.ndarray]:
    """Return a two-parameter grid's values of a metric: row values, column values, matrix.

    Rows are the first parameter's values, columns the second's; cells of points that did
    not finish are NaN.
    """
    rows_key, cols_key = data.paths
    rows, cols = parameter_values(data, rows_key), parameter_values(data, cols_key)
    matrix = np.full((len(rows), len(cols)), np.nan)
    for r in data.points.to_dict("records"):
        matrix[rows.index(r[rows_key]), cols.index(r[cols_key])] = r[metric.point_column]
    return rows, cols, matrix


# --- titles and notes -------------------------------------------------------------------------


def subtitle(data: SweepData) -> list[str]:
    """Return the subtitle lines: the sweep and scenario, then design, runs, seed and status.

    The scenario's line names what the sweep changed of it at every point (its ``set``, a
    posterior), in the words of a run's (:func:`sim.present.summary.labelled`).
    """
    spec, points = data.spec, data.points
    scenario = data.scenario
    title = spec.title or scenario.title
    crn = "common random numbers" if spec.common_random_numbers else "independent seeds"
    line = (
        f"{design(spec.design).label} design, {spec.n_points:,} points x {spec.runs:,} runs, "
        f"seed {spec.seed}, {crn}"
    )
    failed = int(points["failed"].sum()) if "failed" in points else 0
    if failed:
        line += f" ({failed:,} failed runs left out)"
    if data.status != "complete":
        line += f" -- {data.status.upper()}: only {len(points):,} of {spec.n_points:,} points done"
    return [labelled(f"{title} [{scenario.name}]", data.results.changes), line]


def paths_note(data: SweepData) -> str:
    """Say each parameter label's path once, as --set and --param take it."""
    return legend_note(data.labels)


def horizon_note(data: SweepData) -> str:
    """Say when the outcomes are read: at the scenario's horizon."""
    s = data.scenario
    return (
        f"Outcomes are those of each run at the horizon, {s.end_date:%d %b %Y} "
        f"(runs simulate {s.start:%d %b %Y} to {s.end_date:%d %b %Y})."
    )


def scenario_value(data: SweepData, path: str) -> Any:
    """Return the base scenario's own value at a swept path (None if it has none there)."""
    from sim.experiments.sweep_plan import get_path
    from sim.scenario.paths import parse_path

    return get_path(data.results.plan.base.data, parse_path(path))
