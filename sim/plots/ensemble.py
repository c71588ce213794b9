"""The figures of one ensemble: outcomes, peak rung, escalation over time, levers, costs.

Each function takes a Results object (what ``sim.run`` returns), a results folder path or
an :class:`~sim.plots.data.Ensemble`, and returns a :class:`matplotlib.figure.Figure`.
Registered in the order ``sim plot`` writes them. A panel or curve with nothing to show (a
dyad that never left the bottom rung, a rung no run reached, an actor who paid nothing) is
left out and named in the note; a figure with none left raises
:class:`~sim.plots.registry.NotApplicable` (see :func:`sim.plots.style.worth_drawing`).
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import matplotlib.dates as mdates
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from sim.plots import data, style
from sim.plots.data import Ensemble, load
from sim.plots.registry import figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "costs",
    "lever_use",
    "load",
    "outcome_probabilities",
    "peak_rung",
    "rung_fan",
    "rung_fan_by_dyad",
    "time_to_rung",
]

WILSON_NOTE = (
    "Whiskers: 95% Wilson score intervals (Monte Carlo uncertainty from the number of runs)."
)


# --- outcomes and peak rung -------------------------------------------------------------------


@figure("ensemble")
def outcome_probabilities(results: Any) -> Figure:
    """Bar chart of the probability of each outcome class, with 95% interval whiskers."""
    ens = load(results)
    outcomes = ens.summary["outcomes"]
    labels = [o.get("label") or oid for oid, o in outcomes.items()]
    notes = [
        f"Bars: share of the {ens.n_runs:,} runs that ended in each outcome class "
        "(classes are checked from the top; the first that matches counts).",
        WILSON_NOTE,
        style.provenance(ens),
    ]
    with style.context():
        fig = style.new_figure(
            8, 0.7 * len(labels) + 0.7, "Outcome probabilities", style.subtitle(ens), notes
        )
        ax = fig.subplots()
        _share_bars(ax, labels, list(outcomes.values()), style.MAIN)
        _describe_rows(ax, [_outcome_descriptions(ens).get(oid, "") for oid in outcomes])
        ax.set_xlabel("probability (share of runs)")
    return fig


@figure("ensemble")
def peak_rung(results: Any) -> Figure:
    """Bar chart of the highest rung each run reached, the ladder bottom to top."""
    ens = load(results)
    dist = ens.summary["peak_rung"]["distribution"]
    labels = [ens.rung_label(d["value"]) for d in dist]
    colours = [style.ALERT if d["value"] >= ens.watch_rung else style.MAIN for d in dist]
    q = ens.summary["peak_rung"].get("quantiles", {})
    notes = [
        f"Bars: share of the {ens.n_runs:,} runs whose highest rung (over all dyads and days) "
        f"was each rung. Median peak: {ens.rung_label(int(q['q50']))}."
        if q.get("q50") is not None
        else "",
        WILSON_NOTE,
        style.provenance(ens),
    ]
    with style.context():
        fig = style.new_figure(
            8, 0.36 * len(labels) + 0.9, "Peak escalation rung", style.subtitle(ens), notes
        )
        ax = fig.subplots()
        # Reversed so the ladder reads upwards: the bottom rung at the bottom.
        _share_bars(ax, labels[::-1], dist[::-1], colours[::-1])
        ax.set_xlabel("probability (share of runs)")
        ax.set_ylabel("highest rung reached")
        ax.legend(
            handles=[
                Patch(color=style.MAIN, label=f"below rung {ens.watch_rung}"),
                Patch(color=style.ALERT, label=f"rung {ens.watch_rung} (military) and above"),
            ],
            loc="lower right",
        )
    return fig


def _share_bars(ax: Axes, labels: list[str], rows: list[dict[str, Any]], colour: Any) -> None:
    """Draw horizontal bars of shares ``p`` with ``ci95`` whiskers, first row at the top."""
    y = np.arange(len(rows))[::-1]
    p = np.array([r["p"] for r in rows], dtype=float)
    lo = np.array([r["ci95"][0] for r in rows], dtype=float)
    hi = np.array([r["ci95"][1] for r in rows], dtype=float)
    ax.barh(y, p, height=0.62, color=colour, zorder=2)
    ax.errorbar(p, y, xerr=[p - lo, hi - p], fmt="none", ecolor=style.INK, capsize=3, lw=1)
    for yi, pi, hii in zip(y, p, hi, strict=True):
        ax.text(hii + 0.012, yi, style.pct(pi, 1), va="center", fontsize=8.5, color=style.INK)
    ax.set_yticks(y, labels)
    ax.grid(axis="y", visible=False)
    style.percent_axis(ax, "x", top=min(1.0, max(0.25, float(hi.max()) + 0.12)))


def _outcome_descriptions(ens: Ensemble) -> dict[str, str]:
    """Return the outcome classes' descriptions from the recorded scenario, by id."""
    classes = ((ens.parameters or {}).get("outcomes") or {}).get("classes", [])
    return {c["id"]: c.get("description") or "" for c in classes}


def _describe_rows(ax: Axes, descriptions: list[str]) -> None:
    """Write a short grey description under each tick label of a top-down bar chart."""
    y = np.arange(len(descriptions))[::-1]
    for yi, text in zip(y, descriptions, strict=True):
        if text:
            ax.annotate(
                "\n".join(textwrap.wrap(text, 46)),
                (0, yi),
                xycoords=("axes fraction", "data"),
                xytext=(-7, -7),
                textcoords="offset points",
                ha="right",
                va="top",
                fontsize=7,
                color=style.MUTED,
            )


# --- escalation over time ---------------------------------------------------------------------


@figure("ensemble")
def rung_fan(results: Any) -> Figure:
    """Fan chart of the overall escalation rung over calendar dates: median, 50% and 90% bands."""
    ens = load(results)
    (counts,), _ = style.worth_drawing(
        [data.daily_rungs(ens)], lambda c: data.at_bottom(ens, c), lambda _: "the overall rung"
    )
    notes = [
        "Overall rung: the highest rung across all dyads at the end of each day. Bands hold the "
        "middle 50% and 90% of runs (ordinal quantiles: each edge is a rung).",
        style.provenance(ens),
    ]
    with style.context():
        fig = style.new_figure(9, 4.2, "Escalation over time", style.subtitle(ens), notes)
        ax = fig.subplots()
        _fan(ax, ens, data.rung_quantiles(counts))
        style.rung_axis(ax, ens)
        style.date_axis(ax, ens.start, ens.end)
        style.mark_events(ax, ens)
        ax.set_ylabel("overall escalation rung")
        ax.legend(loc="upper left", ncols=3)
    return fig


@figure("ensemble")
def rung_fan_by_dyad(results: Any) -> Figure:
    """Small multiples of the fan chart, one panel per dyad, on a shared ladder and calendar."""
    ens = load(results)
    counts = {dyad: data.daily_rungs(ens, dyad=i) for i, dyad in enumerate(ens.dyads)}
    dyads, left_out = style.worth_drawing(
        ens.dyads, lambda d: data.at_bottom(ens, counts[d]), ens.dyad_label
    )
    rows, cols = style.grid(len(dyads))
    notes = [
        "Each panel: one dyad's rung at the end of each day; median, and bands holding the "
        "middle 50% and 90% of runs. Dotted lines: scheduled events.",
        left_out,
        style.provenance(ens),
    ]
    with style.context():
        fig = style.new_figure(
            10, 2.3 * rows, "Escalation over time, by dyad", style.subtitle(ens), notes
        )
        axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True, sharey=True)).ravel()
        for ax, dyad in zip(axes, dyads, strict=False):
            _fan(ax, ens, data.rung_quantiles(counts[dyad]))
            ax.set_title(ens.dyad_label(dyad))
            style.rung_axis(ax, ens)  # Shared: only the outer panels show the labels.
            style.date_axis(ax, ens.start, ens.end)
            style.mark_events(ax, ens, label=False)
        for ax in axes[len(dyads) :]:
            ax.set_visible(False)
        axes[0].legend(loc="upper left", ncols=3, fontsize=7.5)
    return fig


def _fan(ax: Axes, ens: Ensemble, q: dict[str, list[Any]]) -> None:
    """Draw a fan chart of daily rung quantiles: 90% band, 50% band, median, as steps."""
    # The rung of day d holds from d to d + 1: steps, with one more edge to close the last day.
    days = np.arange(len(q["day"]) + 1)
    x = mdates.date2num(ens.dates(days))

    def edge(key: str) -> np.ndarray:
        values = np.asarray(q[key], dtype=float)
        return np.append(values, values[-1])

    ax.fill_between(
        x, edge("q05"), edge("q95"), step="post", color=style.LIGHT, alpha=0.35, lw=0,
        label="90% of runs", gid="band90",
    )  # fmt: skip
    ax.fill_between(
        x, edge("q25"), edge("q75"), step="post", color=style.MAIN, alpha=0.45, lw=0,
        label="50% of runs", gid="band50",
    )  # fmt: skip
    ax.step(x, edge("q50"), where="post", color=style.INK, lw=1.6, label="median", gid="median")


# --- time to a rung ---------------------------------------------------------------------------


@figure("ensemble")
def time_to_rung(results: Any) -> Figure:
    """Kaplan-Meier curves of the share of runs not yet at rung k, with 95% bands, per rung."""
    ens = load(results)
    rungs, left_out = style.worth_drawing(
        range(1, len(ens.rungs)), lambda k: data.untimed(ens, k), ens.rung_label
    )
    notes = [
        "Kaplan-Meier estimate of the share of runs whose overall rung has not yet reached "
        "rung k or above by each date; shaded: pointwise 95% intervals (log-log). Runs that "
        "end before reaching the rung are censored at their end.",
        left_out,
        style.provenance(ens),
    ]
    with style.context():
        fig = style.new_figure(9, 4.2, "Time to each escalation rung", style.subtitle(ens), notes)
        ax = fig.subplots()
        for colour, rung in zip(style.CYCLE, rungs, strict=False):
            _km_curve(ax, ens, rung, colour)
        style.date_axis(ax, ens.start, ens.end)
        style.mark_events(ax, ens)
        style.percent_axis(ax, "y", top=1.02)
        ax.set_ylabel("share of runs not yet at rung k")
        ax.legend(loc="best", title="rung k (reached by the horizon)", title_fontsize=8.5)
    return fig


def _km_curve(ax: Axes, ens: Ensemble, rung: int, colour: str) -> None:
    """Draw one rung's Kaplan-Meier survival steps and band, from day 0 to the horizon."""
    km = data.time_to_rung(ens, rung)
    days = np.concatenate([[0.0], km["times"], [ens.horizon_days + 1]])
    x = mdates.date2num(ens.dates(days))
    surv = np.concatenate([[1.0], km["survival"], km["survival"][-1:]])
    lower = np.concatenate([[1.0], km["lower"], km["lower"][-1:]])
    upper = np.concatenate([[1.0], km["upper"], km["upper"][-1:]])
    reached = 1.0 - surv[-1]
    ax.fill_between(x, lower, upper, step="post", color=colour, alpha=0.18, lw=0)
    label = f"{ens.rung_label(rung)} ({style.pct(reached)})"
    ax.step(x, surv, where="post", color=colour, lw=1.7, label=label, gid=f"km{rung}")


# --- levers -----------------------------------------------------------------------------------


@figure("ensemble")
def lever_use(results: Any, value: str = "share") -> Figure:
    """Heat map of lever use: share of runs in which each actor used each lever (or mean uses)."""
    ens = load(results)
    style.worth_drawing([ens.lever_uses], _unused, lambda _: "the lever heat map")
    table = data.lever_use(ens, value)
    share = value == "share"
    what = "share of runs using the lever" if share else "mean uses per run"
    cells = "share of runs in which the actor used the lever at least once" if share else what
    notes = [
        f"Cells: {cells}, over {ens.n_runs:,} runs, against any target, whether chosen or "
        "forced by an event. "
        "Hatched grey: the actor does not have that lever.",
        style.provenance(ens),
    ]
    labels = [_lever_row_label(ens, lever) for lever in table.index]
    label_in = 0.062 * max(map(len, labels), default=10)  # 8.5 pt characters, in inches.
    with style.context():
        fig = style.new_figure(
            label_in + 1.0 * len(table.columns) + 1.0, 0.24 * len(table) + 1.3, "Lever use",
            style.subtitle(ens), notes,
        )  # fmt: skip
        ax = fig.subplots()
        values = table.to_numpy(dtype=float)
        top = 1.0 if share else max(float(np.nanmax(values, initial=0.0)), 1e-9)
        image = ax.imshow(
            np.ma.masked_invalid(values), cmap=style.SEQUENTIAL, vmin=0, vmax=top, aspect="auto"
        )
        _hatch_missing(ax, values)
        _annotate_cells(ax, values, top, share)
        _mark_directions(ax, ens, list(table.index))
        ax.set_xticks(range(len(table.columns)), [ens.actors[a] for a in table.columns])
        ax.xaxis.tick_top()
        ax.set_yticks(range(len(table)), labels)
        ax.grid(False)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, location="bottom", shrink=0.6, aspect=30, pad=0.01)
        bar.set_label(what)
        if share:
            bar.ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return fig


def _unused(uses: Any) -> str | None:
    """Return why the heat map would show nothing (no lever used in any run), or None."""
    return "no actor used a lever in any run" if uses.empty else None


def _lever_row_label(ens: Ensemble, lever: str) -> str:
    """Return a heat-map row label: the lever's name, and the rung of an escalation lever."""
    rungs = {lv.rung for lv in ens.levers if lv.id == lever}
    directions = {lv.direction for lv in ens.levers if lv.id == lever}
    name = data.lever_label(ens.levers, lever)
    if directions == {"escalate"} and len(rungs) == 1:
        return f"{name} (rung {rungs.pop()})"
    return name


def _mark_directions(ax: Axes, ens: Ensemble, rows: list[str]) -> None:
    """Separate the escalation, de-escalation and support rows and name each group at the right."""
    direction = {lv.id: lv.direction for lv in ens.levers}
    names = {"escalate": "escalation", "deescalate": "de-escalation", "support": "support"}
    groups: list[tuple[str, int, int]] = []
    for i, lever in enumerate(rows):
        d = direction.get(lever, "")
        if groups and groups[-1][0] == d:
            groups[-1] = (d, groups[-1][1], i)
        else:
            groups.append((d, i, i))
    for d, first, last in groups:
        if first:
            ax.axhline(first - 0.5, color=style.INK, lw=1.2)
        ax.annotate(
            names.get(d, d), (1, (first + last) / 2), xycoords=("axes fraction", "data"),
            xytext=(6, 0), textcoords="offset points", rotation=-90, ha="left", va="center",
            fontsize=8.5, fontweight="bold", color=style.MUTED,
        )  # fmt: skip


def _hatch_missing(ax: Axes, values: np.ndarray) -> None:
    """Grey out, with a light hatch, the cells of levers an actor does not have."""
    cells = [
        [(j - 0.5, i - 0.5), (j + 0.5, i - 0.5), (j + 0.5, i + 0.5), (j - 0.5, i + 0.5)]
        for i, j in zip(*np.nonzero(np.isnan(values)), strict=True)
    ]
    # One collection, not a patch per cell: drawing stays fast with hundreds of cells.
    ax.add_collection(
        PolyCollection(
            cells,
            facecolors=style.UNAVAILABLE,
            edgecolors="#d0d0d0",
            hatch="////",
            lw=0,
            gid="unavailable",
        )  # fmt: skip
    )


def _annotate_cells(ax: Axes, values: np.ndarray, top: float, share: bool) -> None:
    """Write each available cell's value in it, white on dark cells."""
    for (i, j), v in np.ndenumerate(values):
        if np.isnan(v):
            continue
        text = style.pct(v) if share else f"{v:.2f}"
        colour = "white" if v / top > 0.55 else style.INK
        ax.text(j, i, text, ha="center", va="center", fontsize=7.5, color=colour)


# --- costs ------------------------------------------------------------------------------------


@figure("ensemble")
def costs(results: Any) -> Figure:
    """Histograms of each actor's cost over the runs, with the mean and its 95% interval."""
    ens = load(results)
    actors, left_out = style.worth_drawing(
        ens.actors, lambda a: data.costless(ens, a), lambda a: ens.actors[a]
    )
    rows, cols = style.grid(len(actors))
    notes = [
        f"Cost unit: {ens.cost_unit}.",
        "Bars: number of runs by the actor's total cost over the horizon; line: mean cost, "
        "shaded: its 95% interval (normal approximation). Each panel has its own cost scale.",
        left_out,
        style.provenance(ens),
    ]
    with style.context():
        fig = style.new_figure(9, 2.3 * rows, "Costs by actor", style.subtitle(ens), notes)
        axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
        for ax, actor in zip(axes, actors, strict=False):
            _cost_panel(ax, ens, actor)
        for ax in axes[len(actors) :]:
            ax.set_visible(False)
    return fig


def _cost_panel(ax: Axes, ens: Ensemble, actor: str) -> None:
    """Draw one actor's cost histogram with its mean and 95% CI."""
    values = data.costs(ens, actor)
    summary = ens.summary["costs"][actor]
    ax.hist(values, bins=_cost_bins(values), color=style.MAIN, alpha=0.85, lw=0, gid="hist")
    lo, hi = summary["ci95"]
    if lo is not None and hi is not None:
        ax.axvspan(lo, hi, color=style.ALERT, alpha=0.2, lw=0, gid="ci")
    ax.axvline(summary["mean"], color=style.ALERT, lw=1.6, gid="mean")
    zero = float(np.mean(values == 0)) if len(values) else 0.0
    detail = f"mean {summary['mean']:,.1f}"
    if lo is not None and hi is not None:
        detail += f" (95% CI {lo:,.1f} to {hi:,.1f})"
    if zero:
        detail += f"; no cost in {style.pct(zero)} of runs"
    ax.set_title(ens.actors[actor], pad=14)
    ax.text(0, 1.02, detail, transform=ax.transAxes, fontsize=8, color=style.MUTED, va="bottom")
    ax.set_xlabel(f"cost ({ens.cost_unit_short})")
    ax.set_ylabel("runs")


def _cost_bins(values: np.ndarray) -> list[float] | int:
    """Return histogram bins that start at zero for non-negative costs."""
    if not len(values) or float(values.max()) == float(values.min()):
        return 10
    low = min(0.0, float(values.min()))
    return np.linspace(low, float(values.max()), 31).tolist()
