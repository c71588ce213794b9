"""Figures of exploring: a Morris screening (mu* against sigma) and a PRIM box.

``morris_screening`` is a sweep figure (``sim plot`` draws it for a Morris design);
``prim_tradeoff`` and ``prim_box`` draw what ``sim discover`` found
(:class:`sim.analysis.discovery.Discovery`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.plots import style
from sim.plots.registry import NotApplicable, figure
from sim.plots.sweep_data import load, paths_note, subtitle
from sim.scenario.labels import legend_note

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure("sweep")
def morris_screening(results: Any) -> Figure:
    """Each parameter's mu* against its sigma, per outcome, with 95% bootstrap intervals."""
    data = load(results)
    table = data.results.sensitivity
    if data.spec.design != "morris" or table is None or table.empty:
        raise NotApplicable("morris_screening draws finished Morris designs")
    labels = {m.name: m.label for m in data.metrics}
    outcomes = list(dict.fromkeys(table["outcome"]))
    notes = [
        "mu*: the mean absolute change of the outcome when the parameter alone moves by the "
        "design's jump (per unit of its range): how much it matters. sigma: how much that "
        "change depends on the other parameters (interactions, non-linearity). Whiskers: 95% "
        f"bootstrap intervals over the {data.spec.points} trajectories. Near the origin: a "
        "parameter that can be fixed.",
        paths_note(data),
        style.provenance(data),
    ]
    with style.context():
        fig = style.new_figure(6.4, 3.6 * len(outcomes), "Morris screening", subtitle(data), notes)
        axes = fig.subplots(len(outcomes), 1, squeeze=False)[:, 0]
        for ax, outcome in zip(axes, outcomes, strict=True):
            rows = table[table["outcome"] == outcome]
            ax.set_title(labels.get(outcome, outcome), loc="left")
            if rows["mu_star"].isna().all():
                ax.text(0.5, 0.5, "the outcome does not vary over the design",
                        transform=ax.transAxes, ha="center", color=style.MUTED)  # fmt: skip
                continue
            x, y = rows["mu_star"].to_numpy(float), rows["sigma"].to_numpy(float)
            xerr = [x - rows["mu_star_lo"].to_numpy(float), rows["mu_star_hi"].to_numpy(float) - x]
            yerr = [y - rows["sigma_lo"].to_numpy(float), rows["sigma_hi"].to_numpy(float) - y]
            ax.errorbar(x, y, xerr=np.maximum(xerr, 0), yerr=np.maximum(yerr, 0), fmt="o",
                        color=style.MAIN, ecolor=style.LIGHT, capsize=2)  # fmt: skip
            for path, xi, yi in zip(rows["parameter"], x, y, strict=True):
                ax.annotate(data.label(path), (xi, yi), xytext=(4, 3), textcoords="offset points",
                            fontsize=7.5, color=style.INK)  # fmt: skip
            top = float(np.nanmax([x.max(), y.max()])) * 1.15 or 1.0
            ax.plot([0, top], [0, top], color=style.MUTED, lw=0.8, ls=":")  # sigma = mu*
            ax.set_xlim(0, top)
            ax.set_ylim(0, top)
            ax.set_xlabel("mu* (mean absolute elementary effect)")
            ax.set_ylabel("sigma")
    return fig


def prim_tradeoff(found: Any) -> Figure:
    """PRIM's peeling trajectory: coverage against density, the chosen box marked."""
    peel = found.trajectory
    notes = [
        "Each dot is a box of the peeling trajectory: coverage is the share of all cases of "
        "interest inside it, density the share of its points that are cases. The chosen box "
        "is ringed; colour: how many parameters it restricts.",
    ]
    with style.context():
        fig = style.new_figure(6.0, 3.6, "Scenario discovery (PRIM)", found.subtitle(), notes)
        ax = fig.subplots()
        dots = ax.scatter(peel["coverage"], peel["density"], c=peel["res_dim"], cmap="viridis")
        chosen = peel.iloc[found.box_index]
        ax.scatter([chosen["coverage"]], [chosen["density"]], s=140, facecolors="none",
                   edgecolors=style.ALERT, linewidths=1.5)  # fmt: skip
        fig.colorbar(dots, ax=ax, label="parameters restricted")
        ax.set_xlabel("coverage")
        ax.set_ylabel("density")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
    return fig


def prim_box(found: Any) -> Figure:
    """The chosen box: each restricted parameter's range inside its full range."""
    limits = found.limits
    notes = [
        "Grey: the parameter's range over the points; blue: the box's restriction.",
        legend_note({p: found.label(p) for p in limits["parameter"]}),
    ]
    with style.context():
        fig = style.new_figure(
            6.0, 0.5 * len(limits) + 0.9, "The chosen PRIM box", found.subtitle(), notes
        )
        ax = fig.subplots()
        for i, row in enumerate(limits.itertuples(index=False)):
            y = len(limits) - 1 - i
            span = row.max_all - row.min_all or 1.0
            ax.barh(y, 1.0, left=0.0, color=style.UNAVAILABLE, height=0.5)
            lo, hi = (row.min - row.min_all) / span, (row.max - row.min_all) / span
            ax.barh(y, hi - lo, left=lo, color=style.MAIN, height=0.5)
            ax.text(1.02, y, f"{row.min:.3g} .. {row.max:.3g}  (p = {row.qp:.2g})",
                    va="center", fontsize=8)  # fmt: skip
        ax.set_yticks(range(len(limits))[::-1], [found.label(p) for p in limits["parameter"]])
        ax.set_xlim(0, 1.6)
        ax.set_xticks([0, 1], ["range min", "range max"])
    return fig


def write_discovery_figures(found: Any, folder: Path, fmt: str = "png") -> list[Path]:
    """Write the trade-off curve and the box of a discovery into ``folder/figures/``."""
    from sim.results.files import FIGURES_DIR
    from sim.results.store import atomic_path

    target = folder / FIGURES_DIR
    target.mkdir(parents=True, exist_ok=True)
    key = found.key.replace(">=", "-ge-")
    stem = "discover-" + "".join(c if c.isalnum() or c == "-" else "_" for c in key)
    written = []
    for name, draw in (("tradeoff", prim_tradeoff), ("box", prim_box)):
        path = target / f"{stem}-{name}.{fmt}"
        with atomic_path(path) as tmp:
            draw(found).savefig(tmp, format=fmt)
        written.append(path)
    return written
