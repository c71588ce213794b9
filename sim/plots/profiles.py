"""The figures of an ensemble's scoring profiles: ladder, Goldstein and Rivera et al. 2024.

Every ``summary.json`` holds, per profile, the distribution of each score over the runs
(mean with its 95% interval, and the 5/25/50/75/95% quantiles; see
:mod:`sim.analysis.scoring`). Each figure draws one profile as rows of quantile bars: a
thin line from the 5% to the 95% quantile, a thick one from 25% to 75%, a tick at the
median and a dot at the mean with its interval. The ladder's rows are the peak and final
rung; Goldstein's the total and each directed dyad; Rivera's the total and each actor. A
row that is 0 in every run is left out and named in the note; a profile with no row left
is not drawn (see :func:`sim.plots.style.worth_drawing`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sim.analysis.scoring import check_profile
from sim.plots import style
from sim.plots.data import Ensemble, load
from sim.plots.registry import NotApplicable, figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["scores", "scores_goldstein", "scores_ladder", "scores_rivera"]

HEADLINES = {
    "ladder": "Ladder score: peak and final rung per run",
    "goldstein": "Goldstein score per run, by directed dyad",
    "rivera": "Escalation score of Rivera et al. (2024) per run, by actor",
}

DEFINITIONS = {
    "ladder": "The scenario's own ladder: the highest rung a run reached over all dyads and "
    "days, and the rung it ended on.",
    "goldstein": "Sum of the Goldstein (1992) scores of a run's moves, from -10 (most "
    "conflictual) to +10 (most cooperative) per move; negative totals are conflictual. "
    "Rows: the total, then each directed dyad (actor -> target) that ever moved.",
    "rivera": "Sum over a run's moves of the Rivera et al. (2024) weights of their CAMEO "
    "categories: de-escalation -2, status quo 0, posturing 4, non-violent escalation 12, "
    "violent escalation 28, nuclear 60. Rows: the total, then each actor's own moves.",
}

QUANTILE_NOTE = (
    "Thin line: 5-95% of runs; thick: 25-75%; tick across it: median; dot and whisker: "
    "mean with its 95% interval (Monte Carlo uncertainty)."
)


def scores(results: Any, profile: str = "rivera") -> Figure:
    """Quantile bars of every score of one profile (``ladder``, ``goldstein`` or ``rivera``).

    Raises:
        UsageError: for an unknown profile.
        NotApplicable: for results whose summary has no scores of the profile (folders
            written before scores were part of every summary): ``sim plot`` and ``sim
            report`` skip the figure and draw the others.
    """
    check_profile(profile)
    ens = load(results)
    block = (ens.summary.get("scores") or {}).get(profile)
    if block is None:
        raise NotApplicable(
            f"these results hold no '{profile}' scores (made by an older sim); "
            "run the ensemble again to get them"
        )
    rows, left_out = style.worth_drawing(
        block["scores"].items(),
        lambda row: _never_scored(ens, profile, row[1]),
        lambda row: _label(row[0], ens.actors),
    )
    notes = [DEFINITIONS[profile], QUANTILE_NOTE, left_out, style.provenance(ens)]
    labels, stats = [_label(column, ens.actors) for column, _ in rows], [s for _, s in rows]
    # Rungs read upwards, as on the other ladder figures; scores read across.
    height = 0.36 * len(ens.rungs) + 0.6 if profile == "ladder" else 0.42 * len(rows) + 0.9
    with style.context():
        fig = style.new_figure(8.5, height, HEADLINES[profile], style.subtitle(ens), notes)
        ax = fig.subplots()
        draw = _quantile_columns if profile == "ladder" else _quantile_rows
        draw(ax, labels, stats)
        _score_axis(ax, ens, profile)
    return fig


@figure("ensemble")
def scores_ladder(results: Any) -> Figure:
    """The ladder profile: distributions of the peak and the final rung."""
    return scores(results, "ladder")


@figure("ensemble")
def scores_goldstein(results: Any) -> Figure:
    """The Goldstein profile: summed Goldstein score, in total and per directed dyad."""
    return scores(results, "goldstein")


@figure("ensemble")
def scores_rivera(results: Any) -> Figure:
    """The Rivera et al. (2024) profile: escalation score, in total and per actor."""
    return scores(results, "rivera")


def _label(column: str, names: dict[str, str]) -> str:
    """Return a row's label: actor names for actor and dyad columns."""
    if column in ("peak_rung", "final_rung"):
        return column.replace("_", " ")
    if "->" in column:
        actor, target = column.split("->")
        return f"{names.get(actor, actor)} \N{RIGHTWARDS ARROW} {names.get(target, target)}"
    return names.get(column, column)


def _never_scored(ens: Ensemble, profile: str, stats: dict[str, Any]) -> str | None:
    """Return why a row would show nothing (the score was 0 in every run), or None.

    A component of no moves (an actor or dyad that never moved), a total of runs without a
    scored move, a ladder score of runs that never left the bottom rung.
    """
    q = stats["quantiles"]
    if stats["mean"] != 0 or q["q05"] != 0 or q["q95"] != 0 or stats.get("sd", 0) != 0:
        return None
    if profile == "ladder":
        return f"at {ens.rung_label(0)} in every run"
    return "scored 0 in every run"


def _quantile_rows(ax: Axes, labels: list[str], rows: list[dict[str, Any]]) -> None:
    """Draw one horizontal quantile bar per row, the first at the top."""
    y = np.arange(len(rows))[::-1]
    for yi, s in zip(y, rows, strict=True):
        q = s["quantiles"]
        ax.hlines(yi, q["q05"], q["q95"], color=style.MAIN, lw=1.6, zorder=2, gid="q05-q95")
        ax.hlines(yi, q["q25"], q["q75"], color=style.MAIN, lw=7, zorder=2, gid="q25-q75")
        ax.vlines(q["q50"], yi - 0.17, yi + 0.17, color="white", lw=2, zorder=3, gid="median")
        lo, hi = s["ci95"]
        ax.errorbar(
            s["mean"], yi, xerr=[[s["mean"] - lo], [hi - s["mean"]]], fmt="o", ms=5,
            color=style.ALERT, ecolor=style.INK, capsize=3, lw=1, zorder=4, gid="mean",
        )  # fmt: skip
        ax.text(q["q95"], yi + 0.22, f" mean {s['mean']:,.1f}", fontsize=8, color=style.INK)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(rows) - 0.3)
    ax.grid(axis="y", visible=False)


def _quantile_columns(ax: Axes, labels: list[str], rows: list[dict[str, Any]]) -> None:
    """Draw one vertical quantile bar per row, left to right (for rungs, which read upwards)."""
    x = np.arange(len(rows))
    for xi, s in zip(x, rows, strict=True):
        q = s["quantiles"]
        ax.vlines(xi, q["q05"], q["q95"], color=style.MAIN, lw=1.6, zorder=2, gid="q05-q95")
        # A bar with an edge: when a quarter to three quarters of runs share one rung, the
        # box has no height and its edge still shows where they are.
        ax.bar(
            xi, q["q75"] - q["q25"], 0.14, q["q25"], color=style.MAIN, ec=style.MAIN, lw=2,
            gid="q25-q75",
        )  # fmt: skip
        ax.hlines(q["q50"], xi - 0.1, xi + 0.1, color=style.INK, lw=2, zorder=3, gid="median")
        lo, hi = s["ci95"]
        ax.errorbar(
            xi + 0.16, s["mean"], yerr=[[s["mean"] - lo], [hi - s["mean"]]], fmt="o", ms=5,
            color=style.ALERT, ecolor=style.INK, capsize=3, lw=1, zorder=4, gid="mean",
        )  # fmt: skip
        ax.text(xi + 0.24, s["mean"], f"mean {s['mean']:.2f}", fontsize=8, va="center")
    ax.set_xticks(x, labels)
    ax.set_xlim(-0.6, len(rows) - 0.2)
    ax.grid(axis="x", visible=False)


def _score_axis(ax: Axes, ens: Ensemble, profile: str) -> None:
    """Label the value axis in the profile's units (the ladder's rungs by name)."""
    if profile == "ladder":
        style.rung_axis(ax, ens)
        ax.set_ylabel("rung")
        return
    if profile == "goldstein":
        ax.axvline(0, color=style.MUTED, lw=0.8, zorder=1)
        ax.set_xlabel("summed Goldstein score per run (negative: conflictual)")
        return
    ax.set_xlabel("summed Rivera et al. (2024) escalation score per run")
