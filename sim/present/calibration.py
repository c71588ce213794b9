"""The tables of a calibration (``sim calibrate``): the posterior against the prior, the check."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.calibration import ARMS
from sim.present.summary import labelled
from sim.present.sweep import parameters_table as sweep_parameters_table
from sim.present.sweep import render_sensitivity
from sim.present.table import Table, aligned, render
from sim.scenario.labels import legend_text


def render_summary(
    summary: Mapping[str, Any],
    labels: Mapping[str, str] | None = None,
    changes: Mapping[str, Any] | None = None,
) -> str:
    """Return a calibration's summary as text: how it ran, the posterior, the check.

    ``labels`` name the parameters by path (default: their paths); ``changes`` say what the
    calibration fixed of its scenario (its ``set``), as :func:`sim.present.summary.variation`
    reads it.
    """
    blocks = [header(summary, changes), parameters_table(summary, labels), check_table(summary)]
    return render(blocks)


def header(summary: Mapping[str, Any], changes: Mapping[str, Any] | None = None) -> str:
    """Return what was calibrated (with its fixed overrides) to what, how it ran and stopped."""
    window = summary["window"]
    scenario = f"{summary.get('title') or summary['scenario']} ({summary['scenario']})"
    lines = [
        f"Calibration of {labelled(scenario, changes or {})} to {summary['timeline']}",
        f"window {window['start']} to {window['end']} ({window['days']} days); "
        f"{summary['statistics']['count']} statistics ({summary['statistics']['level']} level); "
        f"{summary.get('horizon', '')}",
    ]
    if summary.get("generations"):
        lines.append(
            f"{summary['generations']} generations of {summary['population']}, "
            f"{summary['simulations']:,} simulations, final epsilon {summary['epsilon']:.4g}, "
            f"acceptance {summary['acceptance']:.1%}, ESS {summary['ess']:.0f}; "
            f"stopped: {summary.get('stop_reason') or summary['status']}"
        )
    return "\n".join(lines)


def parameters_table(
    summary: Mapping[str, Any], labels: Mapping[str, str] | None = None
) -> Table | None:
    """Return each parameter's judgment, prior and posterior (mean, median, 90% interval).

    Parameters are named by ``labels`` (default: their paths); the note gives their paths.
    """
    named = labels or {}
    rows = []
    for p in summary.get("parameters", []):
        post, prior = p["posterior"], p["prior"]
        judged = "-" if p["judgment"] is None else f"{p['judgment']:.4g}"
        label = named.get(p["path"], p["path"])
        width = (post["hi"] - post["lo"]) / max(prior["hi"] - prior["lo"], 1e-300)
        rows.append(
            [label, judged, p["prior_text"], f"{prior['lo']:.3g} .. {prior['hi']:.3g}",
             f"{post['mean']:.3g}", f"{post['median']:.3g}",
             f"{post['lo']:.3g} .. {post['hi']:.3g}", f"{width:.2f}"]
        )  # fmt: skip
    if not rows:
        return None
    headers = ["parameter", "judgment", "prior", "prior 90%", "post. mean", "median",
               "posterior 90%", "width ratio"]  # fmt: skip
    note = legend_text({p["path"]: named.get(p["path"], p["path"]) for p in summary["parameters"]})
    return Table(headers, rows, right=(1, 4, 5, 7), note=note)


def check_table(summary: Mapping[str, Any]) -> Table | None:
    """Return the predictive check of the statistics in the record (the rest are counted)."""
    if not summary.get("check"):
        return None
    arms = [a for a in ARMS if a in summary["check"][0]]
    shown = [r for r in summary["check"] if r.get("in_record", True)]
    hidden = len(summary["check"]) - len(shown)
    table = predictive_table(shown, arms)
    if not hidden:
        return table
    note = (
        f"({hidden} statistics of kinds the scenario makes and the record lacks are in "
        "summary.json, under check)"
    )
    return Table(table.headers, table.rows, table.right, title=table.title, note=note)


def predictive_table(rows: Sequence[Mapping[str, Any]], arms: Sequence[str]) -> Table:
    """Return the predictive check as a table: observed value, and per arm PIT and 90% range."""
    headers = ["statistic", "observed"]
    for arm in arms:
        headers += [f"{arm} PIT", f"{arm} 90%"]
    body = []
    for row in rows:
        cells = [row["statistic"], f"{row['observed']:g}"]
        for arm in arms:
            a = row[arm]
            cells += [f"{a['pit']:.2f}", f"{a['lo']:g} .. {a['hi']:g}"]
        body.append(cells)
    note = (
        "Predictive check: where the record falls among runs drawn from each arm "
        "(PIT 0.5 = the median run, near 0 or 1 = outside nearly all runs); first days are "
        "days since the start, the window's length + 1 meaning never"
    )
    return Table(headers, body, right=range(1, len(headers)), title=note)


# --- a calibration's screen (python -m sim.experiments.calibration_screen) ---------------------


def render_screen(screen: Any) -> str:
    """Return a screen as text: how it ran, the distance's indices, then the others' matrix.

    ``screen`` is a :class:`sim.experiments.calibration_screen.Screen`.
    """
    problem, labels = screen.problem, screen.labels
    scenario = labelled(problem.name, {"overrides": problem.spec.set})
    head = (
        f"Sobol screen of {scenario} against {problem.spec.timeline}: "
        f"{len(problem.priors)} parameters over their priors, {screen.points} base points "
        f"({screen.values.shape[0]} design points), {screen.runs} runs a point on common "
        f"seeds, {screen.simulations:,} simulations in {screen.seconds:.0f} s; "
        f"{len(problem.plan.names)} statistics, {problem.horizon_note}\n"
    )
    priors = sweep_parameters_table({p.path: p.describe() for p in problem.priors}, labels, "prior")
    text = head + "\n" + priors.text() + "\n\n" + render_sensitivity(screen.headline, None, labels)
    if not screen.others.empty:
        text += "\n" + _index_matrix(screen.others, problem.spec.paths, labels)
    return text


def _index_matrix(table: pd.DataFrame, paths: Sequence[str], labels: Mapping[str, str]) -> str:
    """Return the total indices of many outcomes as one matrix: outcome by parameter (label)."""
    short = [f"p{j}" for j in range(len(paths))]
    rows = []
    for outcome, group in table.groupby("outcome", sort=False):
        st = group.set_index("parameter")["ST"]
        rows.append([str(outcome), *(_index_cell(st.get(p)) for p in paths)])
    legend = "\n".join(f"  {s} = {labels.get(p, p)}" for s, p in zip(short, paths, strict=True))
    return (
        "Total Sobol index ST of each statistic's mean (intervals in the JSON)\n"
        + aligned(["statistic", *short], rows, right=tuple(range(1, len(paths) + 1)))
        + "\n"
        + legend
        + "\n"
    )


def _index_cell(value: float | None) -> str:
    """Return an index to two decimals; "-" where it is missing or not finite."""
    return "-" if value is None or not np.isfinite(value) else f"{value:.2f}"
