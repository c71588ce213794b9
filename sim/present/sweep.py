"""The tables of a parameter sweep (``sim sweep``): its points and its Sobol ranking.

The points table is shown as a matrix per outcome of interest for a two-parameter grid,
else as a list of points (the first :data:`ROWS_SHOWN`); a Sobol design adds its ranked
indices, one table per outcome. The design's properties come from the sweep's registry
entry (:class:`sim.experiments.designs.Design`), passed in by the caller. Parameters are
shown by their labels (:mod:`sim.scenario.labels`); the heading's parameters table says
each label's path once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.measures import Measure
from sim.present.summary import labelled
from sim.present.table import Block, Table, num, pct, render
from sim.results.files import POINTS
from sim.scenario.labels import legend_text

#: Rows of a long points table shown on the terminal (the rest are in points.parquet).
ROWS_SHOWN = 40


def render_sweep(
    name: str,
    spec: Any,
    design: Any,
    points: pd.DataFrame,
    metrics: Sequence[Measure],
    sensitivity: pd.DataFrame | None = None,
    labels: Mapping[str, str] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> str:
    """Return a sweep's points (and the Sobol ranking, if any) as plain-text tables.

    ``spec`` is the sweep's spec (its parameters and one-line outline), ``design`` its
    design's registry entry, ``metrics`` the outcomes of interest, ``labels`` each
    parameter's label by path (:func:`sim.scenario.labels.parameter_labels`; default: the
    paths) and ``changes`` what the sweep changed of its scenario at every point, as
    :func:`sim.present.summary.variation` reads it (its ``set`` and posterior).
    """
    labels = labels or {}
    blocks = points_blocks(name, spec, design, points, metrics, labels=labels, changes=changes)
    if sensitivity is not None:
        blocks += ranking_blocks(design, sensitivity, metrics, labels)
    return render(blocks)


def ranking_name(design: Any) -> str:
    """Return what a design's ranking of the parameters is called."""
    return "Morris screening" if design.morris else "Sobol indices"


def ranking_blocks(
    design: Any, table: pd.DataFrame, metrics: Sequence[Measure], labels: Mapping[str, str]
) -> list[Block]:
    """Return the design's ranking of the parameters: Morris effects, or Sobol indices."""
    ranked = morris_blocks if design.morris else sensitivity_blocks
    return ranked(table, {m.name: m.label for m in metrics}, labels)


def points_blocks(
    name: str,
    spec: Any,
    design: Any,
    points: pd.DataFrame,
    metrics: Sequence[Measure],
    shown: int = ROWS_SHOWN,
    labels: Mapping[str, str] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> list[Block]:
    """Return the heading, then the points: a matrix per outcome of a 2-parameter grid, or a list.

    The heading names the scenario and what the sweep changed of it, the design, and the
    swept parameters by label with their values and paths. A Saltelli design's points
    matter through their indices: only a taste of them is shown.
    """
    labels = labels or {}
    names = [labels.get(p, p) for p in spec.paths]
    head = heading(name, spec, labels, changes or {})
    if points.empty:
        return [head + "\nno point finished"]
    if not design.sampled and len(spec.paths) == 2:
        return [head, *(matrix(points, spec.paths, m, names) for m in metrics)]
    rows = shown // 4 if design.has_indices else shown
    return [head, long_table(points, spec.paths, metrics, rows, names)]


def heading(name: str, spec: Any, labels: Mapping[str, str], changes: Mapping[str, Any]) -> str:
    """Return a sweep's heading: scenario (and its changes), design, and its parameters."""
    swept = parameters_table({p.path: p.describe() for p in spec.parameters}, labels, "values")
    return f"{labelled(name, changes)}\n{spec.outline()}\n\n{swept.text()}"


def parameters_table(values: Mapping[str, str], labels: Mapping[str, str], what: str) -> Table:
    """Return the parameters by label with their ``what`` (values, prior), and their paths.

    The note under it gives each label's path, once, for ``--set`` and ``--param``.
    """
    rows = [[labels.get(path, path), text] for path, text in values.items()]
    note = legend_text({path: labels.get(path, path) for path in values})
    return Table(["Parameter", what], rows, note=note)


def cell(row: Mapping[str, Any], metric: Measure) -> str:
    """Return a metric at a point: a share with its Wilson interval in %, or a mean."""
    value = row[metric.point_column]
    if metric.share:
        lo, hi = (row[c] for c in metric.point_bounds)
        return f"{pct(value)} [{100 * lo:.1f}, {100 * hi:.1f}]"
    return num(value, 2)


def matrix(
    points: pd.DataFrame, paths: Sequence[str], metric: Measure, names: Sequence[str] = ()
) -> Table:
    """Return one outcome over a two-parameter grid: rows the first, columns the second.

    ``names`` are the parameters' labels (default: their paths).
    """
    rows_key, cols_key = paths
    rows_name, cols_name = names or paths
    cols = list(dict.fromkeys(points[cols_key].tolist()))
    cells = {(r[rows_key], r[cols_key]): cell(r, metric) for r in points.to_dict("records")}
    body = []
    for r in dict.fromkeys(points[rows_key].tolist()):
        body.append([show(r), *(cells.get((r, c), "-") for c in cols)])
    kind = "95% Wilson interval, in %" if metric.share else "mean over the runs"
    title = f"{metric.label} ({kind}): rows {rows_name}, columns {cols_name}"
    headers = [rows_name, *(show(c) for c in cols)]
    return Table(headers, body, right=range(len(headers)), title=title)


def long_table(
    points: pd.DataFrame,
    paths: Sequence[str],
    metrics: Sequence[Measure],
    shown: int,
    names: Sequence[str] = (),
) -> Table:
    """Return the first ``shown`` points: their values and outcomes of interest.

    ``names`` head the parameters' columns (their labels; default: their paths).
    """
    headers = ["point", *(names or paths), *(m.label for m in metrics)]
    body = []
    for row in points.head(shown).to_dict("records"):
        body.append(
            [str(row["point"]), *(show(row[p]) for p in paths), *(cell(row, m) for m in metrics)]
        )
    more = f"... {len(points) - shown} more points in {POINTS}" if len(points) > shown else ""
    title = "Points (95% Wilson intervals, in %)"
    return Table(headers, body, right=range(len(headers)), title=title, note=more)


def show(value: Any) -> str:
    """Return a parameter value as a cell: numbers to four significant digits."""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def render_sensitivity(
    table: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    parameters: Mapping[str, str] | None = None,
) -> str:
    """Return the ranked Sobol indices as plain-text tables, one per outcome.

    ``labels`` name the outcomes, ``parameters`` the parameters (by path; default: paths).
    """
    blocks = sensitivity_blocks(table, labels or {}, parameters)
    return render(blocks) if blocks else ""


def sensitivity_blocks(
    table: pd.DataFrame, labels: Mapping[str, str], parameters: Mapping[str, str] | None = None
) -> list[Block]:
    """Return the ranked Sobol indices of each outcome, one table (or a line) each.

    ``labels`` name the outcomes, ``parameters`` the parameters (by path; default: paths).
    """
    named = parameters or {}
    blocks: list[Block] = []
    for outcome, rows in table.groupby("outcome", sort=False):
        title = f"Sobol indices of {labels.get(str(outcome), outcome)}"
        if rows["ST"].isna().all():
            none = "the outcome does not vary over the design: no index is defined"
            blocks.append(f"{title}\n  {none}")
            continue
        body = [
            [str(r.rank), named.get(r.parameter, r.parameter), f"{r.ST:.3f}",
             ci(r.ST_lo, r.ST_hi), f"{r.S1:.3f}", ci(r.S1_lo, r.S1_hi)]
            for r in rows.itertuples(index=False)
        ]  # fmt: skip
        headers = ["rank", "parameter", "total ST", "95% CI", "first S1", "95% CI"]
        title += " (ranked by total index; 95% bootstrap intervals)"
        blocks.append(Table(headers, body, right=(0, 2, 4), title=title))
    return blocks


def morris_blocks(
    table: pd.DataFrame, labels: Mapping[str, str], parameters: Mapping[str, str] | None = None
) -> list[Block]:
    """Return the ranked Morris screening of each outcome, one table (or a line) each.

    ``labels`` name the outcomes, ``parameters`` the parameters (by path; default: paths).
    """
    named = parameters or {}
    blocks: list[Block] = []
    for outcome, rows in table.groupby("outcome", sort=False):
        title = f"Morris screening of {labels.get(str(outcome), outcome)}"
        if rows["mu_star"].isna().all():
            blocks.append(
                f"{title}\n  the outcome does not vary over the design: no effect is defined"
            )
            continue
        body = [
            [str(r.rank), named.get(r.parameter, r.parameter), f"{r.mu_star:.3f}",
             ci(r.mu_star_lo, r.mu_star_hi), f"{r.sigma:.3f}", ci(r.sigma_lo, r.sigma_hi)]
            for r in rows.itertuples(index=False)
        ]  # fmt: skip
        headers = ["rank", "parameter", "mu*", "95% CI", "sigma", "95% CI"]
        title += " (ranked by mu*; elementary effects per unit of each range; 95% bootstrap)"
        blocks.append(Table(headers, body, right=(0, 2, 4), title=title))
    return blocks


def ci(lo: float, hi: float) -> str:
    """Return an index's interval, e.g. ``[0.120, 0.340]``."""
    return f"[{lo:.3f}, {hi:.3f}]"
