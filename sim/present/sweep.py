"""The tables of a parameter sweep (``sim sweep``): its points and its Sobol ranking.

The points table is shown as a matrix per outcome of interest for a two-parameter grid,
else as a list of points (the first :data:`ROWS_SHOWN`); a Sobol design adds its ranked
indices, one table per outcome. The design's properties come from the sweep's registry
entry (:class:`sim.experiments.designs.Design`), passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.measures import Measure
from sim.present.table import Block, Table, num, pct, render
from sim.results.files import POINTS

#: Rows of a long points table shown on the terminal (the rest are in points.parquet).
ROWS_SHOWN = 40


def render_sweep(
    name: str,
    spec: Any,
    design: Any,
    points: pd.DataFrame,
    metrics: Sequence[Measure],
    sensitivity: pd.DataFrame | None = None,
) -> str:
    """Return a sweep's points (and the Sobol ranking, if any) as plain-text tables.

    ``spec`` is the sweep's spec (its paths and one-line description), ``design`` its
    design's registry entry, ``metrics`` the outcomes of interest.
    """
    blocks = points_blocks(name, spec, design, points, metrics)
    if sensitivity is not None:
        ranked = morris_blocks if design.morris else sensitivity_blocks
        blocks += ranked(sensitivity, {m.name: m.label for m in metrics})
    return render(blocks)


def points_blocks(
    name: str,
    spec: Any,
    design: Any,
    points: pd.DataFrame,
    metrics: Sequence[Measure],
    shown: int = ROWS_SHOWN,
) -> list[Block]:
    """Return the points as blocks: a matrix per outcome for a two-parameter grid, else a list.

    A Saltelli design's points matter through their indices: only a taste of them is shown.
    """
    head = f"{name}: {spec.describe()}"
    if points.empty:
        return [head + "\nno point finished"]
    if not design.sampled and len(spec.paths) == 2:
        return [head, *(matrix(points, spec.paths, m) for m in metrics)]
    return [
        head,
        long_table(points, spec.paths, metrics, shown // 4 if design.has_indices else shown),
    ]


def cell(row: Mapping[str, Any], metric: Measure) -> str:
    """Return a metric at a point: a share with its Wilson interval in %, or a mean."""
    value = row[metric.point_column]
    if metric.share:
        lo, hi = (row[c] for c in metric.point_bounds)
        return f"{pct(value)} [{100 * lo:.1f}, {100 * hi:.1f}]"
    return num(value, 2)


def matrix(points: pd.DataFrame, paths: Sequence[str], metric: Measure) -> Table:
    """Return one outcome over a two-parameter grid: rows the first, columns the second."""
    rows_key, cols_key = paths
    cols = list(dict.fromkeys(points[cols_key].tolist()))
    cells = {(r[rows_key], r[cols_key]): cell(r, metric) for r in points.to_dict("records")}
    body = []
    for r in dict.fromkeys(points[rows_key].tolist()):
        body.append([show(r), *(cells.get((r, c), "-") for c in cols)])
    kind = "95% Wilson interval, in %" if metric.share else "mean over the runs"
    title = f"{metric.label} ({kind}): rows {rows_key}, columns {cols_key}"
    headers = [rows_key.rsplit(".", 1)[-1], *(show(c) for c in cols)]
    return Table(headers, body, right=range(len(headers)), title=title)


def long_table(
    points: pd.DataFrame, paths: Sequence[str], metrics: Sequence[Measure], shown: int
) -> Table:
    """Return the first ``shown`` points: their values and outcomes of interest."""
    headers = ["point", *paths, *(m.label for m in metrics)]
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


def render_sensitivity(table: pd.DataFrame, labels: Mapping[str, str] | None = None) -> str:
    """Return the ranked Sobol indices as plain-text tables, one per outcome."""
    blocks = sensitivity_blocks(table, labels or {})
    return render(blocks) if blocks else ""


def sensitivity_blocks(table: pd.DataFrame, labels: Mapping[str, str]) -> list[Block]:
    """Return the ranked Sobol indices of each outcome, one table (or a line) each."""
    blocks: list[Block] = []
    for outcome, rows in table.groupby("outcome", sort=False):
        title = f"Sobol indices of {labels.get(str(outcome), outcome)}"
        if rows["ST"].isna().all():
            none = "the outcome does not vary over the design: no index is defined"
            blocks.append(f"{title}\n  {none}")
            continue
        body = [
            [str(r.rank), r.parameter, f"{r.ST:.3f}", ci(r.ST_lo, r.ST_hi), f"{r.S1:.3f}",
             ci(r.S1_lo, r.S1_hi)]
            for r in rows.itertuples(index=False)
        ]  # fmt: skip
        headers = ["rank", "parameter", "total ST", "95% CI", "first S1", "95% CI"]
        title += " (ranked by total index; 95% bootstrap intervals)"
        blocks.append(Table(headers, body, right=(0, 2, 4), title=title))
    return blocks


def morris_blocks(table: pd.DataFrame, labels: Mapping[str, str]) -> list[Block]:
    """Return the ranked Morris screening of each outcome, one table (or a line) each."""
    blocks: list[Block] = []
    for outcome, rows in table.groupby("outcome", sort=False):
        title = f"Morris screening of {labels.get(str(outcome), outcome)}"
        if rows["mu_star"].isna().all():
            blocks.append(
                f"{title}\n  the outcome does not vary over the design: no effect is defined"
            )
            continue
        body = [
            [str(r.rank), r.parameter, f"{r.mu_star:.3f}", ci(r.mu_star_lo, r.mu_star_hi),
             f"{r.sigma:.3f}", ci(r.sigma_lo, r.sigma_hi)]
            for r in rows.itertuples(index=False)
        ]  # fmt: skip
        headers = ["rank", "parameter", "mu*", "95% CI", "sigma", "95% CI"]
        title += " (ranked by mu*; elementary effects per unit of each range; 95% bootstrap)"
        blocks.append(Table(headers, body, right=(0, 2, 4), title=title))
    return blocks


def ci(lo: float, hi: float) -> str:
    """Return an index's interval, e.g. ``[0.120, 0.340]``."""
    return f"[{lo:.3f}, {hi:.3f}]"
