"""The full table of one scoring profile (``sim run --score PROFILE``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sim.present.table import Table, interval, num

_TITLES = {
    "ladder": "Ladder score: peak and final rung per run",
    "goldstein": "Goldstein score: sum of the Goldstein scores of a run's moves (negative is "
    "conflictual)",
    "rivera": "Escalation score of Rivera et al. (2024): de-escalation -2, status quo 0, "
    "posturing 4, non-violent escalation 12, violent escalation 28, nuclear 60, summed over "
    "a run's moves",
}


def render(summary: Mapping[str, Any], names: Mapping[str, str] | None = None) -> str:
    """Return a profile's statistics as a plain-text table (mean, SE, 95% CI, quantiles)."""
    return score_table(summary, names).text() + "\n"


def score_table(summary: Mapping[str, Any], names: Mapping[str, str] | None = None) -> Table:
    """Return a profile's statistics (:func:`sim.analysis.scoring.summarize`) as a table."""
    names = names or {}
    rows = []
    for column, s in summary["scores"].items():
        q = s["quantiles"]
        rows.append(
            [
                _label(column, names),
                num(s["mean"], 2),
                num(s["se"], 2),
                interval(s["ci95"], lambda x: num(x, 2)),
                num(q["q05"], 1),
                num(q["q50"], 1),
                num(q["q95"], 1),
            ]
        )
    headers = ["score", "mean", "SE", "95% CI", "q05", "median", "q95"]
    title = f"{_TITLES[summary['profile']]}; {summary['runs']:,} runs"
    return Table(headers, rows, right=(1, 2, 4, 5, 6), title=title)


def _label(column: str, names: Mapping[str, str]) -> str:
    """Return a readable row label: actor names for actor columns, as is otherwise."""
    if column in names:
        return names[column]
    return column.replace("_", " ")
