"""The figure of a paired comparison: variant minus base, with 95% intervals.

A comparison (:mod:`sim.experiments.compare`) runs a base and a variant scenario on common
random numbers; its ``summary.json`` holds, per outcome, for the mean peak rung and per
actor's cost, the two arms' means and their paired difference with its standard error and
95% interval. This module draws those differences (a panel whose differences are zero in
every run is left out, and the note names it); the arms themselves are ordinary results
folders (``base/`` and ``variant/``) with the ensemble figures.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.ticker import PercentFormatter

from sim.errors import UsageError
from sim.plots import style
from sim.plots.registry import figure
from sim.present.summary import labelled
from sim.results import store
from sim.results.files import SUMMARY

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["ComparisonData", "load", "paired_differences"]


@dataclass
class ComparisonData:
    """A comparison's summary, and its manifest and folder when it has one."""

    summary: dict[str, Any]
    manifest: dict[str, Any] | None = None
    path: Path | None = None

    @property
    def status(self) -> str:
        """How the comparison ended (``complete`` for one kept in memory)."""
        return str((self.manifest or {}).get("status", "complete"))


def load(results: Any) -> ComparisonData:
    """Return the :class:`ComparisonData` of a Comparison object or a comparison folder path.

    Raises:
        UsageError: if ``results`` is neither, or the folder holds no finished comparison.
    """
    if isinstance(results, ComparisonData):
        return results
    if isinstance(results, str | os.PathLike):
        return _from_folder(Path(results))
    if hasattr(results, "summary") and hasattr(results, "variant"):
        path = getattr(results, "path", None)
        return _from_folder(Path(path)) if path else ComparisonData(dict(results.summary))
    raise UsageError(
        f"expected a Comparison (what compare returns) or a comparison folder path, "
        f"got {type(results).__name__}"
    )


def _from_folder(folder: Path) -> ComparisonData:
    """Read a comparison folder's manifest and summary."""
    from sim.plots.data import read_manifest

    manifest = read_manifest(folder)
    if manifest.get("kind") != "comparison":
        raise UsageError(
            f"{folder} holds {manifest.get('kind', 'ensemble')} results, not a comparison"
        )
    if not (folder / SUMMARY).is_file():
        raise UsageError(
            f"{folder}: {SUMMARY} is missing; the comparison is "
            f"{manifest.get('status', 'unfinished')}"
        )
    return ComparisonData(store.read_summary(folder), manifest, folder)


def subtitle(cmp: ComparisonData) -> list[str]:
    """Return the subtitle lines: the variant, the base (each with what it changed), runs, seed."""
    s = cmp.summary
    runs = f"{s['runs']:,} paired runs, seed {s['seed']}"
    failed = s.get("failures") or {}
    if any(failed.values()):
        runs += f" (failed: {failed.get('base', 0)} base, {failed.get('variant', 0)} variant)"
    if cmp.status != "complete":
        runs += f" -- {cmp.status.upper()}"
    return [_arm_label(s, "variant"), f"against {_arm_label(s, 'base')}", runs]


def _arm_label(s: dict[str, Any], arm: str) -> str:
    """Return an arm as run figures name a run: title [scenario] with what it changed."""
    side = s[arm]
    return labelled(f"{side.get('title') or side['scenario']} [{side['scenario']}]", s, arm)


@dataclass(frozen=True)
class Panel:
    """One panel of paired differences: its rows, how to label and format them."""

    title: str
    labels: list[str]
    rows: list[dict[str, Any]]
    fmt: Callable[[Any], str]
    xlabel: str
    percent: bool = False


def _panels(s: dict[str, Any]) -> list[Panel]:
    """Return the panels of a comparison's summary: outcomes, peak rung, costs, scores."""
    outcomes = list(s["outcomes"].values())
    costs = list(s["costs"].values())
    scores = list((s.get("scores") or {}).values())  # Absent from older comparisons.
    unit = str(s.get("cost_unit") or "cost units").split(" (", 1)[0]
    out = [
        Panel("outcome probability", [o["label"] for o in outcomes], outcomes, _pct,
              "difference in probability (percentage points)", percent=True),
        Panel("peak rung", ["mean peak rung"], [s["peak_rung"]], _num(2),
              "difference in mean peak rung (rungs)"),
        Panel("mean cost", [c.get("name", "") for c in costs], costs, _num(1),
              f"difference in mean cost ({unit})"),
    ]  # fmt: skip
    if scores:
        out.append(
            Panel("escalation score per run", [r.get("name", "") for r in scores], scores,
                  _num(1), "difference in mean score (summed over a run's moves)")
        )  # fmt: skip
    return out


def _no_difference(panel: Panel) -> str | None:
    """Return why a panel would show nothing (the arms agreed in every run), or None.

    A paired difference of zero with no variance: every run of the variant gave what the
    same run of the base gave.
    """
    for r in panel.rows:
        if _float(r["difference"]) != 0 or _float(r.get("se")) != 0:
            return None
    return "no difference in any run"


@figure("comparison")
def paired_differences(results: Any) -> Figure:
    """Paired differences, variant minus base, of outcomes, peak rung, costs and scores."""
    cmp = load(results)
    s = cmp.summary
    shown, left_out = style.worth_drawing(_panels(s), _no_difference, lambda p: p.title)
    reduction = (s.get("variance_reduction") or {}).get("outcomes")
    notes = [
        "Dots: mean over runs of (variant run i) - (base run i), both arms on the same seeds "
        "(common random numbers); whiskers: 95% intervals of that paired mean. Filled dots: "
        "the interval excludes zero. Right: base -> variant.",
        f"Cost unit: {s.get('cost_unit') or 'cost units'}.",
        _reduction_note(reduction),
        left_out,
        style.provenance(cmp),
    ]
    rows = [len(p.rows) for p in shown]
    with style.context():
        fig = style.new_figure(
            9, 0.42 * sum(rows) + 0.55 * len(rows), "Variant against base: paired differences",
            subtitle(cmp), notes,
        )  # fmt: skip
        axes = np.atleast_1d(
            fig.subplots(len(rows), 1, height_ratios=[max(r, 1) + 0.8 for r in rows])
        )
        for ax, panel in zip(axes, shown, strict=True):
            _draw(ax, panel)
        axes[0].legend(
            handles=[
                Line2D([], [], marker="o", ls="", color=style.MAIN, label="interval excludes 0"),
                Line2D(
                    [], [], marker="o", ls="", mfc="white", color=style.MAIN, label="includes 0"
                ),
            ],
            loc="lower right",
            bbox_to_anchor=(1, 1.0),
            ncols=2,
        )
    return fig


def _draw(ax: Axes, panel: Panel) -> None:
    """Draw one panel of paired differences, first row at the top, zero marked."""
    rows, fmt = panel.rows, panel.fmt
    y = np.arange(len(rows))[::-1]
    diff = np.array([_float(r["difference"]) for r in rows])
    lo = np.array([_float(r["ci95"][0]) for r in rows])
    hi = np.array([_float(r["ci95"][1]) for r in rows])
    ax.errorbar(diff, y, xerr=[diff - lo, hi - diff], fmt="none", ecolor=style.INK, capsize=3, lw=1)
    clear = (lo > 0) | (hi < 0)
    ax.scatter(diff[clear], y[clear], color=style.MAIN, zorder=3, gid="clear")
    ax.scatter(
        diff[~clear], y[~clear], facecolor="white", edgecolor=style.MAIN, zorder=3, gid="unclear"
    )
    ax.axvline(0, color=style.MUTED, lw=0.9)
    ax.set_yticks(y, panel.labels)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    span = float(np.nanmax(np.abs(np.concatenate([lo, hi, [1e-9]]))))
    ax.set_xlim(-1.15 * span, 1.15 * span)
    ax.set_title(panel.title)
    ax.set_xlabel(panel.xlabel)
    if panel.percent:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.annotate(
        "base \N{RIGHTWARDS ARROW} variant", (1, 1), xycoords="axes fraction", xytext=(6, 2),
        textcoords="offset points", va="bottom", fontsize=8, fontweight="bold", color=style.MUTED,
    )  # fmt: skip
    for yi, r in zip(y, rows, strict=True):
        ax.annotate(
            f"{fmt(r['base'])} \N{RIGHTWARDS ARROW} {fmt(r['variant'])}",
            (1, yi), xycoords=("axes fraction", "data"), xytext=(6, 0),
            textcoords="offset points", va="center", fontsize=8, color=style.MUTED,
        )  # fmt: skip


def _float(x: Any) -> float:
    """Return a JSON number as a float (``null`` as NaN)."""
    return math.nan if x is None else float(x)


def _pct(p: Any) -> str:
    return "-" if p is None else f"{100 * float(p):.1f}%"


def _num(digits: int) -> Any:
    return lambda x: "-" if x is None else f"{float(x):,.{digits}f}"


def _reduction_note(reduction: Any) -> str:
    """Say how much pairing saved on the outcome probabilities."""
    if reduction is None or not math.isfinite(float(reduction)):
        return ""
    return (
        f"Variance reduction from pairing, over the outcomes: {float(reduction):.2f} "
        "(independent seeds would need that many times the runs for the same precision)."
    )
