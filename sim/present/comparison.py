"""The tables of a paired comparison (``sim compare``), from its ``summary.json`` data."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from sim.analysis.measures import sections
from sim.present.summary import labelled
from sim.present.table import Block, Format, Table, digits_for, num, pct, render, signed, times

#: The paired sections with a table of their own below (the rest get one each, generically).
SHOWN = ("outcomes", "peak_rung", "costs", "scores")


def render_comparison(summary: Mapping[str, Any]) -> str:
    """Return a paired comparison (see :mod:`sim.analysis.paired`) as plain-text tables."""
    return render(comparison_blocks(summary))


def points(x: float) -> str:
    """Format a difference of probabilities in percentage points."""
    return num(100 * x, 1) + " pts"


def comparison_blocks(summary: Mapping[str, Any]) -> list[Block | None]:
    """Return the comparison's sections: the header, one table per kind of difference."""
    scores = summary.get("scores") or {}
    costs = paired_table("Mean cost", summary["costs"].items(), num, num)
    unit = summary.get("cost_unit", "cost units")
    return [
        header(summary),
        paired_table("Outcome", summary["outcomes"].items(), pct, points),
        paired_table("Mean peak rung", [("peak rung", summary["peak_rung"])], num, num),
        Table(costs.headers, costs.rows, costs.right, note=f"in {unit}"),
        *(
            paired_table(s.title, summary[s.key].items(), num, num)
            for s in sections("paired")
            if s.key not in SHOWN and s.key in summary
        ),
        paired_table("Escalation score per run", scores.items(), num, num) if scores else None,
        paired_events_table(summary),
        f"variance reduction over the outcome probabilities: "
        f"{times(summary['variance_reduction']['outcomes'])}",
    ]


def header(summary: Mapping[str, Any]) -> str:
    """Return what was compared with what, on how many runs, and how to read the tables.

    Each arm is named with what it changed of its scenario (:func:`labelled`: ``--set``, a
    posterior), as the comparison's figure names it.
    """
    base, variant = summary["base"], summary["variant"]
    failed = summary.get("failures", {})
    head = [
        f"Paired comparison on common random numbers: {summary['runs']:,} runs per arm, "
        f"seed {summary['seed']}",
        f"  base:    {labelled(base['scenario'] + ' - ' + base['title'], summary, 'base')}",
        f"  variant: {labelled(variant['scenario'], summary, 'variant')}",
        "differences are variant minus base; SE indep. is what independent seeds would give, "
        "VR the variance reduction (SE indep. / SE paired, squared)",
    ]
    if failed.get("base") or failed.get("variant"):
        head.append(
            f"failed replications (left out of both arms): base {failed.get('base', 0)}, "
            f"variant {failed.get('variant', 0)}"
        )
    return "\n".join(head)


def paired_events_table(summary: Mapping[str, Any]) -> Table | None:
    """Return the paired differences of exogenous events and of rungs reached before them."""
    items = list((summary.get("events") or {}).items())
    for event in (summary.get("before_events") or {}).values():
        items += [(k, r) for k, r in event["rungs"].items() if r["base"] or r["variant"]]
    return paired_table("Exogenous events", items, pct, points) if items else None


def paired_table(
    title: str, items: Iterable[tuple[str, Mapping[str, Any]]], level: Format, diff: Format
) -> Table:
    """Return one table of paired differences: levels, difference, CI, SEs and VR.

    Means (``num``) get, row by row, the decimals their paired SE needs (a peak rung's
    +0.27 [+0.25, +0.30] is not +0.3 [+0.3, +0.3]); shares keep points to one decimal.
    """
    rows = []
    for key, d in items:
        label = d.get("label") or d.get("name") or key
        ci = d.get("ci95") or [None, None]
        shown, by = level, diff
        if level is num and diff is num:
            shown = by = functools.partial(num, digits=digits_for(d["se"]))
        rows.append(
            [
                label,
                shown(d["base"]),
                shown(d["variant"]),
                signed(d["difference"], by),
                f"[{signed(ci[0], by)}, {signed(ci[1], by)}]",
                by(d["se"]),
                by(d["se_independent"]),
                times(d["variance_reduction"]),
            ]
        )
    headers = [title, "base", "variant", "difference", "95% CI", "SE paired", "SE indep.", "VR"]
    return Table(headers, rows, right=(1, 2, 3, 5, 6, 7))
