"""The figures of a calibration: prior against posterior, pairs, epsilon, the predictive check.

A calibration (:mod:`sim.experiments.calibrate`) leaves weighted particles per generation,
a generations table (epsilon, acceptance, ESS) and a predictive check (the record's place
among runs drawn from the judgment, the prior and the posterior). Each figure takes the
:class:`~sim.experiments.calibrate.Calibration` that ``sim.calibrate`` returns or a
calibration folder.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import UsageError
from sim.plots import style
from sim.plots.registry import NotApplicable, figure
from sim.present.summary import labelled
from sim.scenario.labels import legend_note

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "epsilon_schedule",
    "load",
    "pairwise_posterior",
    "predictive_check",
    "prior_posterior",
]

#: The arms of the predictive check and their colours.
ARM_COLOURS = {"judgment": style.OKABE_ITO["black"], "prior": style.OKABE_ITO["orange"],
               "posterior": style.OKABE_ITO["blue"]}  # fmt: skip


def load(results: Any) -> Any:
    """Return the Calibration of a Calibration object or a calibration folder path."""
    from sim.experiments.calibration_folder import Calibration, load_calibration

    if isinstance(results, Calibration):
        return results
    if isinstance(results, str | os.PathLike):
        return load_calibration(Path(results))
    raise UsageError(
        f"expected a Calibration or a calibration folder, got {type(results).__name__}"
    )


def _subtitle(cal: Any) -> list[str]:
    """Return the subtitle: the scenario (and its fixed overrides) against the record, runs."""
    s = cal.summary
    window = s.get("window", {})
    scenario = labelled(str(s.get("scenario")), cal.changes)
    line = f"{scenario} against {Path(str(s.get('timeline', ''))).name}"
    if window:
        line += f", {window['start']} to {window['end']}"
    runs = (
        f"{s.get('generations', 0)} generations of {s.get('population')}, "
        f"{s.get('simulations', 0):,} simulations, seed {s.get('seed')}"
    )
    if cal.status != "complete":
        runs += f" -- {str(cal.status).upper()}"
    return [line, runs]


@figure("calibration")
def prior_posterior(results: Any) -> Figure:
    """Each parameter's prior density against its posterior (the last generation's particles)."""
    cal = load(results)
    values, weights = cal.posterior()
    priors = cal.spec.parameters
    judged = {p["path"]: p.get("judgment") for p in cal.summary.get("parameters", [])}
    n = len(priors)
    with style.context():
        fig = style.new_figure(
            4.0 * min(n, 3), 2.6 * -(-n // 3), "Prior and posterior of each parameter",
            _subtitle(cal),
            ["Grey line: the prior's density; bars: the weighted posterior particles; dashed: "
             "the scenario's own (judgment) value; shaded: the central 90% credible interval.",
             legend_note(cal.labels)],
        )  # fmt: skip
        axes = np.atleast_1d(fig.subplots(-(-n // 3), min(n, 3))).ravel()
        for ax, prior in zip(axes, priors, strict=False):
            x = values[prior.path].to_numpy()
            dist = prior.frozen()
            lo, hi = prior.support
            grid = np.linspace(lo, hi, 200)
            ax.hist(x, bins=25, range=(lo, hi), weights=weights, density=True,
                    color=style.MAIN, alpha=0.75)  # fmt: skip
            ax.plot(grid, dist.pdf(grid), color=style.MUTED, lw=1.5)
            q = np.interp([0.05, 0.95], np.cumsum(weights[np.argsort(x)]), np.sort(x))
            ax.axvspan(q[0], q[1], color=style.MAIN, alpha=0.12, lw=0)
            if judged.get(prior.path) is not None:
                ax.axvline(judged[prior.path], color=style.INK, ls="--", lw=1)
            ax.set_title(textwrap.fill(cal.labels.get(prior.path, prior.path), 44), fontsize=9)
            ax.set_yticks([])
        for ax in axes[n:]:
            ax.set_visible(False)
    return fig


@figure("calibration")
def pairwise_posterior(results: Any) -> Figure:
    """The last generation's particles for every pair of parameters, sized by weight."""
    cal = load(results)
    values, weights = cal.posterior()
    paths = cal.paths
    if len(paths) < 2:
        raise NotApplicable("a pairwise posterior needs two parameters or more")
    k = len(paths)
    with style.context():
        fig = style.new_figure(
            2.6 * k, 2.4 * k, "Posterior of each pair of parameters", _subtitle(cal),
            ["Each dot a particle of the last generation, its area proportional to its weight; "
             "the diagonal holds each parameter's weighted histogram.", legend_note(cal.labels)],
        )  # fmt: skip
        axes = np.atleast_2d(fig.subplots(k, k, squeeze=False))
        size = 400 * weights / weights.max() / max(1, np.sqrt(len(weights)))
        for i, a in enumerate(paths):
            for j, b in enumerate(paths):
                ax = axes[i, j]
                if i == j:
                    ax.hist(values[a], bins=20, weights=weights, color=style.MAIN, alpha=0.75)
                    ax.set_yticks([])
                else:
                    ax.scatter(values[b], values[a], s=size, color=style.MAIN, alpha=0.4, lw=0)
                if i == k - 1:
                    ax.set_xlabel(textwrap.fill(cal.labels.get(b, b), 28), fontsize=8)
                if j == 0 and i != j:
                    ax.set_ylabel(textwrap.fill(cal.labels.get(a, a), 28), fontsize=8)
    return fig


@figure("calibration")
def epsilon_schedule(results: Any) -> Figure:
    """Epsilon, acceptance rate and effective sample size per generation."""
    cal = load(results)
    gens = cal.generations
    if gens.empty:
        raise NotApplicable("no generation finished yet")
    with style.context():
        fig = style.new_figure(
            9, 2.8, "Epsilon, acceptance and ESS per generation", _subtitle(cal),
            ["Epsilon: the distance a simulation had to come within to be accepted (the "
             "distance's scales are refitted each generation, so epsilons compare only "
             "roughly); acceptance: accepted over simulated; ESS: effective sample size of "
             "the weighted particles."],
        )  # fmt: skip
        left, mid, right = fig.subplots(1, 3)
        g = gens["generation"].to_numpy()
        left.plot(g, gens["epsilon"], marker="o", color=style.MAIN)
        left.set_title("epsilon")
        mid.plot(g, gens["acceptance"], marker="o", color=style.MAIN)
        style.percent_axis(mid, "y", top=max(0.05, float(gens["acceptance"].max()) * 1.1))
        mid.set_title("acceptance rate")
        right.plot(g, gens["ess"], marker="o", color=style.MAIN)
        right.set_ylim(0, float(cal.summary.get("population") or gens["ess"].max()) * 1.05)
        right.set_title("effective sample size")
        for ax in (left, mid, right):
            ax.set_xlabel("generation")
            ax.set_xticks(g)
    return fig


@figure("calibration")
def predictive_check(results: Any) -> Figure:
    """Where each observed statistic falls among runs of the judgment, the prior, the posterior."""
    cal = load(results)
    rows = [r for r in cal.summary.get("check") or [] if r.get("in_record", True)]
    if not rows:
        raise NotApplicable("this calibration ran no predictive check")
    arms = [a for a in ARM_COLOURS if a in rows[0]]
    with style.context():
        fig = style.new_figure(
            8, 0.22 * len(rows) + 1.0, "Predictive check: the record among simulated runs",
            _subtitle(cal),
            ["Randomized PIT of each statistic the record shows: 0.5 = the median run, near 0 "
             "= the record is earlier or lower than nearly every run, near 1 later or higher. "
             "Grey band: the central 90%."],
        )  # fmt: skip
        ax = fig.subplots()
        y = np.arange(len(rows))[::-1]
        ax.axvspan(0.05, 0.95, color=style.MUTED, alpha=0.12, lw=0)
        for k, arm in enumerate(arms):
            pits = [r[arm]["pit"] for r in rows]
            ax.scatter(pits, y + (k - 1) * 0.2, color=ARM_COLOURS[arm], s=14, label=arm)
        ax.set_yticks(y, [r["statistic"] for r in rows], fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_xlabel("PIT of the record")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncols=len(arms), fontsize=8)
    return fig
