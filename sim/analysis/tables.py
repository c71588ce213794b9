"""Plain-text tables for the terminal: an ensemble's summary and one run's chronicle.

Everything here works on the JSON data of ``summary.json`` (or a run record and its spec)
and returns a string; nothing is printed and no heavy library is imported.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

#: Levers listed per actor in the summary table.
LEVERS_SHOWN = 4


# --- formatting helpers -----------------------------------------------------------------------


def pct(p: float | None, digits: int = 1) -> str:
    """Format a probability as a percentage; a dash when undefined."""
    if p is None or math.isnan(p):
        return "-"
    return f"{100 * p:.{digits}f}%"


def num(x: float | None, digits: int = 1) -> str:
    """Format a number with a thousands separator; a dash when undefined."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:,.{digits}f}"


def interval(ci: Sequence[float | None] | None, fmt: Any = pct) -> str:
    """Format a two-sided interval, e.g. ``[10.2%, 14.1%]``."""
    if not ci:
        return "-"
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Return an aligned text table; columns listed in ``right`` are right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


# --- the summary ------------------------------------------------------------------------------


def render_summary(summary: Mapping[str, Any]) -> str:
    """Return the whole summary as plain-text sections, one blank line apart."""
    sections = [
        header(summary),
        outcomes_table(summary),
        peak_table(summary),
        watch_rung_text(summary),
        time_to_rung_table(summary),
        events_table(summary),
        before_events_table(summary),
        costs_table(summary),
        scores_table(summary),
        levers_text(summary),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def header(summary: Mapping[str, Any]) -> str:
    """Return the title block: scenario, runs, seed and dates."""
    title = summary.get("title") or summary["scenario"]
    early = summary.get("ended_early", 0)
    lines = [
        f"{title} ({summary['scenario']})",
        f"{summary['runs']:,} runs, seed {summary['seed']}, "
        f"{summary['start']} to {summary['end']} ({summary.get('horizon_days', '?')} days); "
        f"{early:,} ended early",
    ]
    failed = summary.get("failures") or {}
    if failed.get("count"):
        lines.append(failures_text(summary))
    if summary.get("precision"):
        lines.append(precision_text(summary["precision"]))
    return "\n".join(lines)


def failures_text(summary: Mapping[str, Any]) -> str:
    """Return how many replications raised, with the first ones and how to replay them."""
    failed = summary["failures"]
    lines = [
        f"{failed['count']:,} of {failed['replications']:,} replications failed "
        f"({pct(failed.get('share'), 2)}) and are left out of every figure below; "
        "failures.parquet lists them all"
    ]
    for e in failed.get("examples", []):
        lines.append(
            f"  replication {e['index']} [{e['seed_key']}]: {e['error']}  "
            f"(replay: sim trace {summary['scenario']} --seed {summary['seed']} --run {e['index']})"
        )
    return "\n".join(lines)


def precision_text(precision: Mapping[str, Any]) -> str:
    """Return what the precision target achieved, and how many runs it took."""
    widest = pct(precision.get("max_half_width"), 2)
    target = pct(precision["target"], 2)
    runs = f"{precision['replications']:,}"
    if precision.get("met"):
        return (
            f"precision: every outcome's 95% interval is within +/-{target} "
            f"(widest +/-{widest}) after {runs} runs"
        )
    if precision.get("capped"):
        return (
            f"precision NOT reached: stopped at the cap of {precision['max_runs']:,} runs "
            f"with the widest 95% interval at +/-{widest} (target +/-{target})"
        )
    return f"precision: not reached yet after {runs} runs (widest +/-{widest}, target +/-{target})"


def outcomes_table(summary: Mapping[str, Any]) -> str:
    """Return outcome probabilities with 95% Wilson intervals and Monte Carlo SEs."""
    rows = [
        [
            o.get("label") or oid,
            pct(o["p"]),
            interval(o["ci95"]),
            pct(o.get("se"), 2),
            f"{o['count']:,}",
        ]
        for oid, o in summary["outcomes"].items()
    ]
    headers = ["Outcome", "p", "95% CI (Wilson)", "MC SE", "runs"]
    return table(headers, rows, right=(1, 3, 4))


def peak_table(summary: Mapping[str, Any]) -> str:
    """Return the distribution of the peak rung, with rung names, mean and median."""
    peak = summary["peak_rung"]
    rows = [
        [
            f"{d['value']} {d['name']}",
            pct(d["p"]),
            interval(d.get("ci95")),
            pct(d.get("se"), 2),
            f"{d['count']:,}",
        ]
        for d in peak["distribution"]
    ]
    text = table(["Peak rung", "p", "95% CI", "MC SE", "runs"], rows, right=(1, 3, 4))
    median = peak.get("quantiles", {}).get("q50")
    moments = f"mean peak rung {num(peak['mean'], 2)} (SE {num(peak['se'], 2)})"
    return f"{text}\n{moments}, median {num(median, 0)}"


def watch_rung_text(summary: Mapping[str, Any]) -> str:
    """Return the days until the first military signalling (Kaplan-Meier median)."""
    w = summary.get("days_to_watch_rung")
    if not w:
        return ""
    title = f"Days until first {w['name']} (rung {w['rung']} or above)"
    if w["median"] is None:
        median = "not reached by half the runs within the horizon"
    else:
        median = f"median {num(w['median'], 0)} days"
        ci = w.get("median_ci95")
        if ci:
            hi = "not reached" if ci[1] is None else num(ci[1], 0)
            median += f" (95% CI {num(ci[0], 0)} to {hi})"
    counts = (
        f"reached in {w['events']:,} of {w['n']:,} runs "
        f"({pct(w.get('p_by_end'))} by the horizon, SE {pct(w.get('p_by_end_se'), 2)}, "
        "Kaplan-Meier); "
        f"{w['censored']:,} censored at their end day"
    )
    return f"{title}\n  {median}\n  {counts}"


def time_to_rung_table(summary: Mapping[str, Any]) -> str:
    """Return, for every rung, the Kaplan-Meier share reaching it by the horizon and when."""
    rows = []
    for k, w in summary.get("time_to_rung", {}).items():
        if not w["events"]:
            continue
        ci = w.get("median_ci95")
        span = "-" if not ci else f"{num(ci[0], 0)} to {'-' if ci[1] is None else num(ci[1], 0)}"
        rows.append(
            [
                f"{k} {w['name']}",
                pct(w.get("p_by_end")),
                pct(w.get("p_by_end_se"), 2),
                num(w["median"], 0),
                span,
            ]
        )
    if not rows:
        return ""
    headers = ["Time to rung (Kaplan-Meier)", "by horizon", "SE", "median day", "95% CI"]
    return table(headers, rows, right=(1, 2, 3))


#: The columns of the events tables (text and HTML).
EVENT_HEADERS = ["Exogenous event", "", "p", "95% CI", "MC SE"]
BEFORE_HEADERS = ["Reached before", "rung", "p", "95% CI", "MC SE"]


def events_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """Rows: whether each scheduled event was held, how often each random one occurred."""
    rows = []
    for e in (summary.get("events") or {}).values():
        for what, share in _event_shares(e):
            rows.append([e["name"], what, pct(share["p"]), interval(share["ci95"]),
                         pct(share["se"], 2)])  # fmt: skip
    return rows


def _event_shares(e: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """What became of one event, as (what, share) pairs: held, cancelled, postponed."""
    if e["kind"] != "scheduled":
        return [(f"at least once (mean {num(e['per_run']['mean'], 2)} a run)", e["at_least_once"])]
    held = f"held (planned {e['date']})"
    if e["not_reached"]:
        held += f"; {e['not_reached']:,} runs ended or slipped past the horizon first"
    out = [(held, e["held"])]
    if e["cancelled"]["count"]:
        out.append(("cancelled", e["cancelled"]))
    if "postponed" in e:
        mean = num(e["postponements_per_run"]["mean"], 2)
        out.append((f"postponed at least once (mean {mean} a run)", e["postponed"]))
    return out


def before_events_rows(summary: Mapping[str, Any]) -> list[list[str]]:
    """Rows: the chance of each military rung (reached at least once) before each event."""
    rows = []
    for e in (summary.get("before_events") or {}).values():
        for r in e["rungs"].values():
            if r["count"]:
                rows.append([f"{e['name']} ({e['date']})", f"{r['rung']} {r['name']}",
                             pct(r["p"]), interval(r["ci95"]), pct(r["se"], 2)])  # fmt: skip
    return rows


def events_table(summary: Mapping[str, Any]) -> str:
    """Return whether each scheduled event was held, and how often each random one occurred."""
    rows = events_rows(summary)
    return table(EVENT_HEADERS, rows, right=(2, 4)) if rows else ""


def before_events_table(summary: Mapping[str, Any]) -> str:
    """Return the chance of each military rung before each scheduled event's day."""
    rows = before_events_rows(summary)
    return table(BEFORE_HEADERS, rows, right=(2, 4)) if rows else ""


def costs_table(summary: Mapping[str, Any]) -> str:
    """Return the mean cost per actor with its standard error and 95% CI."""
    names = summary.get("actors", {})
    rows = [
        [names.get(a, a), num(c["mean"]), num(c["se"], 2), interval(c["ci95"], num)]
        for a, c in summary["costs"].items()
    ]
    unit = summary.get("cost_unit", "cost units")
    text = table(["Cost per actor", "mean", "SE", "95% CI"], rows, right=(1, 2))
    return f"{text}\nin {unit}"


#: The headline score of each profile in the summary's scores table: (column, row label).
SCORE_ROWS = {
    "ladder": ("peak_rung", "ladder: peak rung"),
    "goldstein": ("total", "Goldstein: sum over moves"),
    "rivera": ("total", "Rivera et al. 2024: sum over moves"),
}


def scores_table(summary: Mapping[str, Any]) -> str:
    """Return each scoring profile's headline score per run: mean, SE, 95% CI, median."""
    scores = summary.get("scores") or {}
    rows = []
    for profile, (column, label) in SCORE_ROWS.items():
        s = scores.get(profile, {}).get("scores", {}).get(column)
        if s is not None:
            median = s["quantiles"]["q50"]
            rows.append(
                [label, num(s["mean"]), num(s["se"], 2), interval(s["ci95"], num), num(median)]
            )
    if not rows:
        return ""
    text = table(
        ["Escalation score per run", "mean", "SE", "95% CI", "median"], rows, right=(1, 2, 4)
    )
    return f"{text}\nper dyad and per actor: sim run ... --score goldstein|rivera"


def levers_text(summary: Mapping[str, Any], shown: int = LEVERS_SHOWN) -> str:
    """Return each actor's most used levers: share of runs using them, mean uses per run."""
    names = summary.get("actors", {})
    rows = []
    for actor, levers in summary.get("levers", {}).items():
        for i, lv in enumerate(levers[:shown]):
            who = names.get(actor, actor) if i == 0 else ""
            rows.append(
                [
                    who,
                    lv.get("name") or lv["lever"],
                    pct(lv["share_runs"], 0),
                    pct(lv.get("share_runs_se"), 1),
                    num(lv["mean_uses"], 2),
                    num(lv.get("mean_uses_se"), 2),
                ]
            )
    if not rows:
        return ""
    headers = ["Most used levers", "lever", "runs using", "SE", "uses/run", "SE"]
    return table(headers, rows, right=(2, 3, 4, 5))


# --- a comparison -----------------------------------------------------------------------------


def signed(x: float | None, fmt: Any) -> str:
    """Format a difference with its sign."""
    if x is None or math.isnan(x):
        return "-"
    return ("+" if x >= 0 else "") + fmt(x)


def times(x: float | None) -> str:
    """Format a variance-reduction factor, e.g. ``3.2x``; a dash when undefined."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:,.1f}x"


def render_comparison(summary: Mapping[str, Any]) -> str:
    """Return a paired comparison (see :mod:`sim.experiments.compare`) as plain-text tables."""
    base, variant = summary["base"], summary["variant"]
    changed = "; ".join(variant.get("overrides", []))
    name = variant["scenario"] + (f" with {changed}" if changed else "")
    failed = summary.get("failures", {})
    head = [
        f"Paired comparison on common random numbers: {summary['runs']:,} runs per arm, "
        f"seed {summary['seed']}",
        f"  base:    {base['scenario']} - {base['title']}",
        f"  variant: {name}",
        "differences are variant minus base; SE indep. is what independent seeds would give, "
        "VR the variance reduction (SE indep. / SE paired, squared)",
    ]
    if failed.get("base") or failed.get("variant"):
        head.append(
            f"failed replications (left out of both arms): base {failed.get('base', 0)}, "
            f"variant {failed.get('variant', 0)}"
        )
    pts = lambda x: num(100 * x, 1) + " pts"  # noqa: E731 - a one-line formatter
    scores = summary.get("scores") or {}
    sections = [
        "\n".join(head),
        _paired_table("Outcome", summary["outcomes"].items(), pct, pts),
        _paired_table("Mean peak rung", [("peak rung", summary["peak_rung"])], num, num),
        _paired_table("Mean cost", summary["costs"].items(), num, num)
        + f"\nin {summary.get('cost_unit', 'cost units')}",
        _paired_table("Escalation score per run", scores.items(), num, num) if scores else "",
        _paired_events_table(summary, pct, pts),
        f"variance reduction over the outcome probabilities: "
        f"{times(summary['variance_reduction']['outcomes'])}",
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _paired_events_table(summary: Mapping[str, Any], level: Any, diff: Any) -> str:
    """Return the paired differences of exogenous events and of rungs reached before them."""
    items = list((summary.get("events") or {}).items())
    for event in (summary.get("before_events") or {}).values():
        items += [(k, r) for k, r in event["rungs"].items() if r["base"] or r["variant"]]
    return _paired_table("Exogenous events", items, level, diff) if items else ""


def _paired_table(title: str, items: Any, level: Any, diff: Any) -> str:
    """Return one table of paired differences: levels, difference, CI, SEs and VR."""
    rows = []
    for key, d in items:
        label = d.get("label") or d.get("name") or key
        ci = d.get("ci95") or [None, None]
        rows.append(
            [
                label,
                level(d["base"]),
                level(d["variant"]),
                signed(d["difference"], diff),
                f"[{signed(ci[0], diff)}, {signed(ci[1], diff)}]",
                diff(d["se"]),
                diff(d["se_independent"]),
                times(d["variance_reduction"]),
            ]
        )
    headers = [title, "base", "variant", "difference", "95% CI", "SE paired", "SE indep.", "VR"]
    return table(headers, rows, right=(1, 2, 3, 5, 6, 7))


# --- one run ----------------------------------------------------------------------------------


def move_line(
    move: Any, start: dt.date, actors: Mapping[str, str], levers: Mapping[tuple[str, str], str]
) -> str:
    """Return one move in plain language.

    For example ``2025-11-14 China -> Japan: travel advisory (rung 2, CAMEO 160)``.
    """
    date = start + dt.timedelta(days=int(move.day))
    name = levers.get((move.actor, move.lever), move.lever.replace("_", " "))
    line = (
        f"{date.isoformat()} {actors.get(move.actor, move.actor)} -> "
        f"{actors.get(move.target, move.target)}: {name} (rung {move.rung}, CAMEO {move.cameo})"
    )
    if move.source != "policy":
        line += f" [{move.source.replace(':', ' ', 1)}]"
    return line


def event_line(day: float, event: str, what: str, start: dt.date, names: Mapping[str, str]) -> str:
    """Return one exogenous event, e.g. ``2026-04-01 event: Beijing visit (cancelled)``."""
    date = start + dt.timedelta(days=int(day))
    return f"{date.isoformat()} event: {names.get(event, event)} ({what})"


def render_trace(
    record: Any,
    spec: Any,
    levers: Mapping[tuple[str, str], str],
    heading: str = "",
) -> str:
    """Return a dated chronicle of one run's moves followed by its end state."""
    actors = dict(getattr(spec, "actor_names", {}))
    events = {e.id: e.name or e.id for e in getattr(spec, "events", ())}
    # (day, 0) for events sorts an event before the moves it causes at the same instant.
    entries = [(m.day, 1, move_line(m, spec.start, actors, levers)) for m in record.moves]
    entries += [
        (day, 0, event_line(day, event, what, spec.start, events))
        for day, event, what in getattr(record, "event_log", ())
    ]
    entries.sort(key=lambda e: (e[0], e[1]))
    lines = [heading] if heading else []
    lines += [text for _, _, text in entries] or ["(no moves)"]
    lines += ["", end_state(record, spec, actors)]
    return "\n".join(lines) + "\n"


def end_state(record: Any, spec: Any, actors: Mapping[str, str]) -> str:
    """Return the end state of one run: outcome, peak and final rung, dyads and costs."""
    rungs = spec.rung_names
    day = spec.start + dt.timedelta(days=int(record.end_day))
    peak_date = spec.start + dt.timedelta(days=int(record.peak_day))
    labels = dict(getattr(spec, "outcome_labels", {}))
    why = "ended early" if record.ended_early else "reached the horizon"
    lines = [
        f"End state on {day.isoformat()} (day {record.end_day:g}, {why}): "
        f"{labels.get(record.outcome, record.outcome)}",
        f"  peak rung {record.peak_rung} ({rungs[record.peak_rung]}) on {peak_date.isoformat()}; "
        f"final rung {record.final_rung} ({rungs[record.final_rung]})",
    ]
    last = min(int(record.end_day), record.dyad_rungs.shape[1] - 1)
    ids = spec.actor_ids
    for (a, b), series in zip(record.dyads, record.dyad_rungs, strict=True):
        a, b = (a, b) if isinstance(a, str) else (ids[a], ids[b])
        r = int(series[last])
        lines.append(f"  {actors.get(a, a)} - {actors.get(b, b)}: rung {r} ({rungs[r]})")
    costs = ", ".join(f"{actors.get(a, a)} {num(c)}" for a, c in record.costs.items())
    lines.append(f"  costs ({getattr(spec, 'cost_unit', 'cost units')}): {costs}")
    lines.append(f"  {len(record.moves)} moves, {record.events_scheduled:,} simulation events")
    return "\n".join(lines)
