"""Sweep points: what each point's runs come to, and the outcomes of interest of a sweep.

A sweep runs an ensemble at every point of a design; each point's runs table becomes one
row of the points table: the runs that finished and failed, then every measure the
:mod:`sim.analysis.measures` sections mark ``points`` (a share with its 95% Wilson
interval, ``p_<x>``, ``p_<x>_lo``, ``p_<x>_hi``; a mean with its standard error,
``<x>_mean``, ``<x>_se``, and the quantiles a measure asks for). The outcomes of interest
(``--outcome``) name such measures: they are what the tables, the figures and the Sobol
indices of a sweep show.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.analysis import stats
from sim.analysis.measures import Measure, find, measures
from sim.errors import SimError


def point_row(runs: Any, spec: Any, planned: int) -> dict[str, Any]:
    """Return a point's statistics: outcome probabilities with Wilson intervals, peaks, costs.

    ``runs`` holds the replications that finished and ``planned`` how many were run; the
    difference raised (see the failures table). The statistics are over the finished ones.

    Raises:
        ValueError: if a run's outcome is not one of the spec's classes (never dropped).
    """
    n = len(runs)
    row: dict[str, Any] = {"runs": n, "failed": planned - n}
    outcomes = np.asarray(runs["outcome"], dtype=object).astype(str)
    unknown = sorted(set(outcomes) - set(spec.outcome_ids))
    if unknown:
        raise ValueError(f"outcomes not declared by the scenario: {unknown}")
    for measure in measures(spec, "points"):
        row.update(point_values(measure, measure.values(runs), n))
    return row


def point_values(measure: Measure, values: np.ndarray, n: int) -> dict[str, Any]:
    """Return the points-table cells of one measure over a point's ``n`` runs."""
    if measure.share:
        count = int(values.sum())
        lo, hi = stats.wilson_interval(count, n)
        lo_column, hi_column = measure.point_bounds
        return {measure.stem: count / n if n else float("nan"), lo_column: lo, hi_column: hi}
    moments = stats.mean_se(values)
    out = {measure.point_column: moments["mean"], measure.point_se: moments["se"]}
    for key, value in stats.quantiles(values, measure.quantiles).items():
        out[f"{measure.stem}_{key}"] = value
    return out


class OutcomeError(SimError):
    """An outcome of interest that names no measure of the scenario."""


def outcomes_of_interest(names: Sequence[str], spec: Any) -> list[Measure]:
    """Return the measures the names stand for (every outcome class when none are named).

    Raises:
        OutcomeError: naming what the scenario could have measured instead.
    """
    names = list(names) or list(spec.outcome_ids)
    found = []
    for name in names:
        measure = find(name, spec)
        if measure is None:
            numeric = [m.name for m in measures(spec, "points") if not m.share]
            top = len(spec.rung_names) - 1
            raise OutcomeError(
                f"outcome '{name}': not an outcome of {spec.name}; expected one of "
                f"{', '.join(spec.outcome_ids)}, peak>=K (K in 1..{top}) or {', '.join(numeric)}"
            )
        found.append(measure)
    return found
