"""The figures of a parameter sweep: response curves, a heat map and Sobol indices.

A sweep (:mod:`sim.experiments.sweep`) runs an ensemble at every point of a design; its
``points.parquet`` holds each point's outcome probabilities with 95% Wilson intervals (and
means with standard errors), its ``sensitivity.parquet`` the Sobol indices of a Sobol
design. The figures draw those numbers:

- :func:`sweep_response`: every outcome of interest against every swept parameter. A
  one-parameter grid shows the points themselves; a grid of several parameters shows each
  parameter's *marginal*: the runs of every point with that value pooled, so the other
  parameters are averaged over; LHS and Sobol designs show the points, scattered, and a
  binned mean when there are enough of them.
- :func:`sweep_heatmap`: one outcome per panel over a two-parameter grid.
- :func:`sobol_indices`: ranked first-order and total indices with their bootstrap intervals.

A figure that does not fit a design (a heat map of a Latin hypercube) raises
:class:`~sim.plots.registry.NotApplicable`, which :func:`~sim.plots.registry.write_figures`
takes as "skip this one".
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    PercentFormatter,
)

from sim.analysis.measures import Measure
from sim.experiments.designs import design
from sim.plots import style
from sim.plots.registry import NotApplicable, figure
from sim.plots.sweep_data import (
    TREND_BIN_POINTS,
    TREND_MIN_BINS,
    SweepData,
    binned_trend,
    bounds,
    heat_table,
    horizon_note,
    is_numeric,
    load,
    marginal,
    parameter_values,
    paths_note,
    scenario_value,
    subtitle,
)

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SweepData", "load", "marginal", "sobol_indices", "sweep_heatmap", "sweep_response"]


#: Heat-map panels drawn at most (one per outcome of interest); the rest are in the tables.
MAX_HEATMAP_PANELS = 6


def _label(value: Any) -> str:
    """Return a parameter value as a tick label."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def axis_label(label: str, inches: float) -> str:
    """Return a parameter's label as an axis label, broken between words where too long."""
    return textwrap.fill(label, max(int(inches * 13), 12))  # 8.5 pt characters


def _wrapped(title: str, inches: float) -> str:
    """Return a panel title broken into lines that fit ``inches`` (10 pt bold type)."""
    return textwrap.fill(title, max(int(inches * 11), 16))


def _percent_ticks(axis: Any, top: float) -> None:
    """Tick a share axis at round percentages (never 2.5% shown as "2%")."""
    axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
    axis.set_major_formatter(PercentFormatter(1.0, decimals=0 if top >= 0.05 else 1))


def _format(metric: Measure, value: float) -> str:
    """Return a metric's value as text: a percentage (one decimal below 10%) or a number."""
    if not math.isfinite(value):
        return "not run"
    if metric.share:
        return f"{100 * value:.1f}%" if 0 < value < 0.1 else f"{100 * value:.0f}%"
    return f"{value:.2f}"


# --- the response figure ----------------------------------------------------------------------


@figure("sweep")
def sweep_response(results: Any) -> Figure:
    """Each outcome of interest against each swept parameter, with 95% intervals."""
    data = load(results)
    metrics, left_out = style.worth_drawing(
        data.metrics, lambda metric: _never(data, metric), lambda metric: metric.label
    )
    paths = data.paths
    sampled = design(data.spec.design).sampled
    # One row per outcome and a column per parameter; a single parameter's outcomes wrap.
    ncols = len(paths) if len(paths) > 1 else min(len(metrics), 3)
    nrows = len(metrics) if len(paths) > 1 else -(-len(metrics) // ncols)
    width = max(min(3.1 * ncols + 1.4, 17.0), 7.0)
    with style.context():
        fig = style.new_figure(
            width, 2.05 * nrows + 0.5, "Outcomes against each swept parameter", subtitle(data),
            [*_response_notes(data), left_out],
        )  # fmt: skip
        several = len(paths) > 1
        grid = fig.subplots(
            nrows, ncols, squeeze=False, sharex="col" if several else True,
            sharey="row" if several else False,
        )  # fmt: skip
        panels = [(m, p) for m in metrics for p in paths]
        for k, (ax, (metric, path)) in enumerate(zip(grid.ravel(), panels, strict=False)):
            (_draw_scatter if sampled else _draw_curve)(ax, data, path, metric)
            _mark_scenario(ax, data, path, label=k < ncols)
            _y_axis(ax, data, metric, first=k % ncols == 0 or not several)
            if not several:
                ax.set_title(_wrapped(metric.label, 3.1), loc="left")
            elif path == paths[0]:  # One title a row, which may run over the empty ones.
                ax.set_title(metric.label, loc="left")
            _x_axis(ax, data, path, (width - 1.2) / ncols, label=k + ncols >= len(panels))
        for ax in grid.ravel()[len(panels) :]:
            ax.set_visible(False)
        _legend(fig, sampled, data)
    return fig


def _never(data: SweepData, metric: Measure) -> str | None:
    """Why a probability that is 0 at every point is not drawn (None when it is drawn).

    A band pinned to 0 in every panel says nothing the points table does not; the table
    keeps its intervals, whose upper ends show how small "never" can be said to be.
    """
    if metric.share and not data.points[metric.point_column].to_numpy(dtype=float).any():
        return "0 at every point; the points table gives their intervals"
    return None


def _response_notes(data: SweepData) -> list[str]:
    """Say what the lines, bands and dots of the response figure are."""
    spec, others = data.spec, len(data.paths) - 1
    interval = (
        "Intervals: 95% Wilson for probabilities, mean +/- 1.96 standard errors for means "
        "(Monte Carlo uncertainty from the runs)."
    )
    if design(spec.design).sampled:
        what = (
            "Dots: each point of the design, whiskers its 95% interval. Line (when the design "
            f"has {TREND_MIN_BINS * TREND_BIN_POINTS}+ points): mean of the points in "
            "equal-count bins of the parameter, which averages over the other parameters' "
            "ranges (the marginal effect; no interval drawn)."
        )
    elif others == 0:
        what = (
            "Line: the outcome at each value (one point of the grid each); band: its 95% interval."
        )
    else:
        pooling = (
            "a replication's runs at the pooled points count as one cluster, since every point "
            "ran the same seeds"
            if spec.common_random_numbers
            else "every run independent"
        )
        averaged = f"the other {others} parameters are" if others > 1 else "the other parameter is"
        what = (
            "Each panel is a marginal: at each value of its parameter the runs of all points "
            f"with that value are pooled, so {averaged} averaged over the grid's values. "
            f"Band: 95% interval of the pooled estimate ({pooling})."
        )
        if len(data.points) < spec.n_points:
            what += (
                f" Only {len(data.points)} of {spec.n_points} points finished: a value pools "
                "the finished points that have it, so two values may average over different "
                "values of the others."
            )
    marks = "Dotted line: the scenario's own value."
    return [what, interval, marks, horizon_note(data), paths_note(data), style.provenance(data)]


def _draw_curve(ax: Axes, data: SweepData, path: str, metric: Measure) -> None:
    """Draw a grid's line and band: the points themselves, or a marginal of several parameters."""
    if len(data.paths) == 1:
        points = data.points
        if is_numeric(points[path]):
            points = points.sort_values(path, kind="stable")
        x_values = points[path].tolist()
        y = points[metric.point_column].to_numpy(dtype=float)
        lo, hi = bounds(points, metric)
    else:
        table = marginal(data, path, metric)
        x_values, y = table["value"].tolist(), table["estimate"].to_numpy(dtype=float)
        lo, hi = table["lo"].to_numpy(dtype=float), table["hi"].to_numpy(dtype=float)
    x = _positions(data, path, x_values)
    ax.fill_between(x, lo, hi, color=style.LIGHT, alpha=0.45, lw=0, gid="band")
    ax.plot(x, y, color=style.MAIN, marker="o", ms=3.5, lw=1.6, gid="estimate")


def _draw_scatter(ax: Axes, data: SweepData, path: str, metric: Measure) -> None:
    """Draw a sampled design's points with their intervals, and the binned trend."""
    points = data.points
    x = points[path].to_numpy(dtype=float)
    y = points[metric.point_column].to_numpy(dtype=float)
    lo, hi = bounds(points, metric)
    many = len(points) > 60
    ax.errorbar(
        x, y, yerr=[y - lo, hi - y], fmt="none", ecolor=style.LIGHT, elinewidth=0.8,
        alpha=0.5 if many else 0.9, gid="point_ci",
    )  # fmt: skip
    ax.scatter(x, y, s=6 if many else 14, color=style.MAIN, alpha=0.6 if many else 0.9, lw=0,
               gid="points", zorder=3)  # fmt: skip
    trend = binned_trend(x, y, points["runs"].to_numpy(dtype=float))
    if len(trend):
        ax.plot(trend["x"], trend["y"], color=style.ALERT, lw=1.8, marker="s", ms=3.5,
                gid="trend", zorder=4)  # fmt: skip
    if data.parameter(path).dist == "loguniform":
        ax.set_xscale("log")
        # Plain numbers at 1, 2, 5 x 10^k: a sampled range spans a decade or two at most.
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())


def _mark_scenario(ax: Axes, data: SweepData, path: str, label: bool) -> None:
    """Draw the base scenario's own value of the parameter as a dotted line, if in the design."""
    value = scenario_value(data, path)
    if value is None:
        return
    if is_numeric(data.results.design[path]):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return
        x = float(value)
    elif value in parameter_values(data, path):
        x = float(parameter_values(data, path).index(value))
    else:
        return
    ax.axvline(x, color=style.MUTED, ls=":", lw=1.1, gid="scenario_value", zorder=1)
    if label:
        ax.annotate(
            f"scenario: {_label(value)}", (x, 1), xycoords=("data", "axes fraction"),
            xytext=(3, -3), textcoords="offset points", ha="left", va="top", fontsize=7.5,
            color=style.MUTED,
        )  # fmt: skip


def _positions(data: SweepData, path: str, values: list[Any]) -> np.ndarray:
    """Return x positions: numbers as they are, other values at 0, 1, 2 ... in design order."""
    if is_numeric(data.results.design[path]):
        return np.asarray(values, dtype=float)
    order = parameter_values(data, path)
    return np.array([order.index(v) for v in values], dtype=float)


def _x_axis(ax: Axes, data: SweepData, path: str, inches: float, label: bool) -> None:
    """Put the values of a parameter that are not numbers on the x axis; name it if ``label``."""
    if not is_numeric(data.results.design[path]):
        values = parameter_values(data, path)
        ax.set_xticks(range(len(values)), [_label(v) for v in values])
    if label:
        ax.set_xlabel(axis_label(data.label(path), inches), fontsize=8.5)
        ax.tick_params(axis="x", labelbottom=True)


def _y_axis(ax: Axes, data: SweepData, metric: Measure, first: bool) -> None:
    """Show probabilities as percentages from 0; label the first column with the unit."""
    if metric.share:
        top = max(float(np.nanmax(bounds(data.points, metric)[1], initial=0.0)), 0.01)
        _percent_ticks(ax.yaxis, top)
        ax.set_ylim(0, min(1.0, top * 1.08))
    if first:
        ax.set_ylabel(data.unit(metric))


def _legend(fig: Figure, sampled: bool, data: SweepData) -> None:
    """Put a small legend at the top right, level with the headline, above the panels."""
    handles: list[Artist]
    if sampled:
        handles = [
            Line2D([], [], color=style.MAIN, marker="o", ls="", ms=4, label="point"),
            Line2D([], [], color=style.LIGHT, lw=1, label="95% interval"),
            Line2D([], [], color=style.ALERT, lw=1.8, marker="s", ms=3.5, label="binned mean"),
        ]
    else:
        what = "estimate" if len(data.paths) == 1 else "marginal estimate"
        handles = [
            Line2D([], [], color=style.MAIN, marker="o", ms=3.5, label=what),
            Patch(color=style.LIGHT, alpha=0.45, label="95% interval"),
        ]
    fig.legend(handles=handles, loc="outside upper right", ncols=len(handles))


# --- the heat map -----------------------------------------------------------------------------


@figure("sweep")
def sweep_heatmap(results: Any) -> Figure:
    """Heat map of each outcome of interest over a two-parameter grid, one panel per outcome."""
    data = load(results)
    spec = data.spec
    if design(spec.design).sampled or len(spec.paths) != 2:
        raise NotApplicable(
            f"sweep_heatmap draws two-parameter grids; this is a {spec.design} design of "
            f"{len(spec.paths)} parameter{'s' if len(spec.paths) != 1 else ''} "
            "(see sweep_response)"
        )
    worth, never = style.worth_drawing(
        data.metrics, lambda metric: _never(data, metric), lambda metric: metric.label
    )
    metrics = worth[:MAX_HEATMAP_PANELS]
    rows, cols = (parameter_values(data, p) for p in data.paths)
    cells = "share of the runs at the point" if metrics[0].share else "value at the point"
    notes = [
        f"Cells: each outcome at each point of the grid ({spec.runs:,} runs a point; the "
        f"{cells}; colours scaled per panel). Outlined: the scenario's own values. 95% "
        "intervals: see sweep_response, points.parquet or the 'sim sweep' tables.",
        never,
        _left_out(worth, len(metrics)),
        "Grey cells: points that did not finish." if len(data.points) < spec.n_points else "",
        horizon_note(data),
        paths_note(data),
        style.provenance(data),
    ]
    ncols = min(len(metrics), 3 if len(metrics) != 4 else 2)
    nrows = -(-len(metrics) // ncols)
    panel_w, panel_h = 0.62 * len(cols) + 1.9, 0.36 * len(rows) + 1.4
    with style.context():
        fig = style.new_figure(
            max(panel_w * ncols, 6.5), panel_h * nrows, "Outcomes over the grid",
            subtitle(data), notes,
        )  # fmt: skip
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
        for k, (ax, metric) in enumerate(zip(axes, metrics, strict=False)):
            _heat_panel(fig, ax, data, metric, rows, cols)
            if k % ncols == 0:
                ax.set_ylabel(axis_label(data.label(data.paths[0]), panel_h - 1), fontsize=8.5)
            if k + ncols >= len(metrics):
                ax.set_xlabel(axis_label(data.label(data.paths[1]), panel_w - 0.8), fontsize=8.5)
            _outline_scenario(ax, data, rows, cols)
        for ax in axes[len(metrics) :]:
            ax.set_visible(False)
    return fig


def _left_out(metrics: list[Measure], shown: int) -> str:
    """Say which outcomes of interest have no panel for want of room."""
    rest = metrics[shown:]
    if not rest:
        return ""
    return f"Not drawn ({len(rest)} more outcomes): {', '.join(m.label for m in rest)}."


def _heat_panel(
    fig: Figure, ax: Axes, data: SweepData, metric: Measure, rows: list[Any], cols: list[Any]
) -> None:
    """Draw one outcome's cells, annotated, with its own colour bar."""
    _, _, matrix = heat_table(data, metric)
    finite = matrix[np.isfinite(matrix)]
    if not finite.size:  # every run of every point failed: nothing to scale, all grey
        finite = np.zeros(1)
    low = 0.0 if metric.share else float(finite.min())
    # A colour scale of at least 1 point (or 0.01): an outcome that never happens is white.
    top = max(float(finite.max()), low + 0.01)
    cmap = style.SEQUENTIAL.with_extremes(bad=style.UNAVAILABLE)
    image = ax.imshow(
        np.ma.masked_invalid(matrix), cmap=cmap, vmin=low, vmax=top, aspect="auto",
        origin="lower", gid="cells",
    )  # fmt: skip
    for (i, j), v in np.ndenumerate(matrix):
        dark = math.isfinite(v) and (v - low) / (top - low) > 0.55
        ax.text(j, i, _format(metric, v), ha="center", va="center", fontsize=8.5,
                color="white" if dark else style.INK)  # fmt: skip
    ax.set_xticks(range(len(cols)), [_label(c) for c in cols])
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows])
    ax.set_title(_wrapped(metric.label, ax.get_position().width * fig.get_figwidth()), loc="left")
    ax.grid(False)
    ax.tick_params(length=0)
    bar = fig.colorbar(image, ax=ax, shrink=0.85, aspect=18, pad=0.02)
    if metric.share:
        _percent_ticks(bar.ax.yaxis, top)
    else:
        bar.set_label(data.unit(metric))


def _outline_scenario(ax: Axes, data: SweepData, rows: list[Any], cols: list[Any]) -> None:
    """Outline the cell of the base scenario's own values, when the grid has it."""
    r, c = (scenario_value(data, p) for p in data.paths)
    if r in rows and c in cols:
        i, j = rows.index(r), cols.index(c)
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec=style.ALERT, lw=2,
                               gid="scenario_cell", zorder=3, clip_on=False))  # fmt: skip


# --- Sobol indices ----------------------------------------------------------------------------


@figure("sweep")
def sobol_indices(results: Any) -> Figure:
    """Ranked first-order and total Sobol indices of each outcome, with 95% bootstrap intervals."""
    data = load(results)
    table = data.results.sensitivity
    if not design(data.spec.design).sobol or table is None or table.empty:
        why = (
            "has no Sobol indices (it did not finish)"
            if design(data.spec.design).sobol
            else f"is a {data.spec.design} design"
        )
        raise NotApplicable(f"sobol_indices draws Sobol designs; this sweep {why}")
    labels = {m.name: m.label for m in data.metrics}
    outcomes = list(dict.fromkeys(table["outcome"]))
    d = len(data.paths)
    notes = [
        "Total index ST (dark): the share of the outcome's variance over the design that the "
        "parameter explains, alone or with others; first-order S1 (light): alone. Whiskers: "
        f"95% bootstrap intervals ({data.spec.bootstrap:,} resamples of the "
        f"{data.spec.points:,} base points). Ranked by ST. Estimates below 0 or above 1 are "
        "sampling noise: more base points narrow them.",
        horizon_note(data),
        paths_note(data),
        style.provenance(data),
    ]
    label_in = 0.062 * max(len(data.label(p)) for p in data.paths)
    with style.context():
        fig = style.new_figure(
            label_in + 6.2, (0.42 * d + 0.75) * len(outcomes), "Sobol sensitivity indices",
            subtitle(data), notes,
        )  # fmt: skip
        axes = fig.subplots(len(outcomes), 1, squeeze=False, sharex=True)[:, 0]
        for ax, outcome in zip(axes, outcomes, strict=True):
            rows = table[table["outcome"] == outcome].sort_values("rank")
            _sobol_panel(ax, rows, labels.get(outcome, outcome), data.labels)
        _sobol_limits(axes[-1], table)
        axes[-1].set_xlabel("Sobol index (share of the outcome's variance over the design)")
        axes[0].legend(
            handles=[Patch(color=style.MAIN, label="total ST"),
                     Patch(color=style.LIGHT, label="first-order S1")],
            loc="lower right", bbox_to_anchor=(1, 1.02), ncols=2,
        )  # fmt: skip
    return fig


def _sobol_panel(ax: Axes, rows: pd.DataFrame, label: str, names: dict[str, str]) -> None:
    """Draw one outcome's ranked bars, rank 1 at the top, ST above S1; ``names``: labels."""
    y = np.arange(len(rows))[::-1].astype(float)
    ax.set_yticks(y, [names.get(p, p) for p in rows["parameter"]])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.axvline(0, color=style.MUTED, lw=0.8)
    ax.axvline(1, color=style.MUTED, lw=0.8, ls=":")  # All of the variance.
    ax.set_title(label, loc="left")
    if rows["ST"].isna().all():
        ax.text(0.5, 0.5, "the outcome does not vary over the design: no index is defined",
                transform=ax.transAxes, ha="center", va="center", color=style.MUTED)  # fmt: skip
        return
    for key, shift, colour in (("ST", 0.19, style.MAIN), ("S1", -0.19, style.LIGHT)):
        value = rows[key].to_numpy(dtype=float)
        lo, hi = rows[f"{key}_lo"].to_numpy(dtype=float), rows[f"{key}_hi"].to_numpy(dtype=float)
        bars = ax.barh(y + shift, value, height=0.36, color=colour)
        for bar in bars:
            bar.set_gid(key)
        whisk = ax.errorbar(value, y + shift, xerr=[value - lo, hi - value], fmt="none",
                            ecolor=style.INK, elinewidth=0.9, capsize=2)  # fmt: skip
        whisk.lines[2][0].set_gid(f"{key}_ci")
    for yi, st in zip(y, rows["ST"].to_numpy(dtype=float), strict=True):
        ax.annotate(f"ST {st:.2f}", (1, yi + 0.19), xycoords=("axes fraction", "data"),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=7.5,
                    color=style.MUTED)  # fmt: skip


def _sobol_limits(ax: Axes, table: pd.DataFrame) -> None:
    """Fit every panel's x axis (shared) to the indices and their intervals, 0 and 1 in view."""
    ends = table[["ST_lo", "ST_hi", "S1_lo", "S1_hi", "ST", "S1"]].to_numpy(dtype=float)
    finite = ends[np.isfinite(ends)]
    low = min(0.0, float(finite.min(initial=0.0)))
    high = max(1.0, float(finite.max(initial=1.0)))
    pad = 0.03 * (high - low)
    ax.set_xlim(low - pad, high + pad)
