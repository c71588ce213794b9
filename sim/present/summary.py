"""The tables of an ensemble's summary (``sim run``), from the JSON data of ``summary.json``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.analysis.measures import sections
from sim.present.table import Block, Table, interval, num, pct, render, wrapped

#: Levers listed per actor in the summary table.
LEVERS_SHOWN = 4


def render_summary(summary: Mapping[str, Any], *, scores_shown: bool = False) -> str:
    """Return the whole summary as plain-text sections, one blank line apart.

    ``scores_shown``: a profile's full scores table follows (``--score``), so the scores
    table does not say how to ask for it.
    """
    return render(summary_blocks(summary, scores_shown=scores_shown))


def summary_blocks(summary: Mapping[str, Any], *, scores_shown: bool = False) -> list[Block | None]:
    """Return the summary's sections in order: the header, then tables and paragraphs."""
    return [
        header(summary),
        outcomes_table(summary),
        peak_table(summary),
        watch_rung_text(summary),
        time_to_rung_table(summary),
        events_table(summary),
        before_events_table(summary),
        costs_table(summary),
        *mean_tables(summary),
        scores_table(summary, hint=not scores_shown),
        levers_table(summary),
    ]


def variation(summary: Mapping[str, Any], arm: str | None = None) -> str:
    """Return what a run changed of its named scenario, as every output names it ('': nothing).

    ``--set a.b=1, c=2`` for its overrides, ``posterior of NAME`` when its parameters were
    drawn from a calibration: the terminal header, the figures' subtitle and the report's
    title all say it (issue 18, item 2), so a run of a changed scenario never wears the
    named scenario's label alone. A sweep and a calibration say theirs with the same words:
    ``summary`` is then ``{"overrides": spec.set, "posterior": {"calibration": folder}}``.
    With ``arm`` (``"base"`` or ``"variant"``), ``summary`` is a comparison's and the words
    are that arm's: its overrides, and the posterior it drew from (see :func:`arm_posterior`).
    A branched run (``--from``) says which run and day it branched from.
    """
    own = summary if arm is None else summary[arm]
    parts = []
    overrides = own.get("overrides")
    if overrides:  # a run's as given (a.b=1), or a sweep's or calibration's set: {a.b: 1}
        given = overrides.items() if isinstance(overrides, Mapping) else None
        shown = [f"{k}={v}" for k, v in given] if given is not None else map(str, overrides)
        parts.append("--set " + ", ".join(shown))
    block = summary.get("posterior") if arm is None else arm_posterior(summary, arm)
    if block and block.get("calibration"):
        parts.append(f"posterior of {shown_path(block['calibration'])}")
    branched = summary.get("branched_from") if arm is None else None
    if branched:
        parts.append(
            f"--from replication {branched['replication']} of {branched['folder']} "
            f"at day {branched['day']:g}"
        )
    return "; ".join(parts)


def shown_path(path: str) -> str:
    """Return a folder's path as shown to a reader: from the working directory if within it.

    Results keep absolute paths (a folder is read from anywhere); a header or a subtitle
    reads better as ``scenarios/posteriors/NAME/CALIBRATION`` than from the filesystem root.
    """
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:  # elsewhere, or a relative path already
        return path


def labelled(name: str, summary: Mapping[str, Any], arm: str | None = None) -> str:
    """Return a scenario's label followed by what the run changed of it (see :func:`variation`)."""
    changed = variation(summary, arm)
    return f"{name} with {changed}" if changed else name


def arm_posterior(comparison: Mapping[str, Any], arm: str) -> Mapping[str, Any] | None:
    """Return the posterior block one arm of a comparison drew from (None: it drew from none).

    Given ``--posterior``, both arms draw from it (the block names no ``arms``); otherwise
    the block is that of the arms in its ``arms``, and ``other_arms`` holds the blocks of
    arms whose scenarios name another posterior.
    """
    block = comparison.get("posterior")
    if not block:
        return None
    if "arms" not in block or arm in block["arms"]:
        return block
    return (block.get("other_arms") or {}).get(arm)


def header(summary: Mapping[str, Any]) -> str:
    """Return the title block: scenario (and what the run changed of it), runs, seed, dates."""
    title = summary.get("title") or summary["scenario"]
    early = summary.get("ended_early", 0)
    lines = [
        labelled(f"{title} ({summary['scenario']})", summary),
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


def outcomes_table(summary: Mapping[str, Any]) -> Table:
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
    return Table(["Outcome", "p", "95% CI (Wilson)", "MC SE", "runs"], rows, right=(1, 3, 4))


def peak_table(summary: Mapping[str, Any]) -> Table:
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
    median = peak.get("quantiles", {}).get("q50")
    moments = f"mean peak rung {num(peak['mean'], 2)} (SE {num(peak['se'], 2)})"
    note = f"{moments}, median {num(median, 0)}"
    return Table(["Peak rung", "p", "95% CI", "MC SE", "runs"], rows, right=(1, 3, 4), note=note)


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


def time_to_rung_table(summary: Mapping[str, Any]) -> Table | None:
    """Return, for every rung, the Kaplan-Meier share reaching it by the horizon and when."""
    rows = []
    for k, w in summary.get("time_to_rung", {}).items():
        if not w["events"]:
            continue
        rows.append(
            [
                f"{k} {w['name']}",
                pct(w.get("p_by_end")),
                pct(w.get("p_by_end_se"), 2),
                num(w["median"], 0),
                median_span(w.get("median_ci95")),
            ]
        )
    if not rows:
        return None
    headers = ["Time to rung (Kaplan-Meier)", "by horizon", "SE", "median day", "95% CI"]
    open_ended = any(row[-1].startswith(">=") for row in rows)
    note = "'>= d': the interval's upper end lies beyond the horizon" if open_ended else ""
    return Table(headers, rows, right=(1, 2, 3), note=note)


def median_span(ci: Sequence[float | None] | None) -> str:
    """Return a median day's 95% interval: ``12 to 30``, ``>= 12`` (no upper end), or ``-``."""
    if not ci or ci[0] is None:
        return "-"
    if ci[1] is None:  # the survival curve never falls below the bound within the horizon
        return f">= {num(ci[0], 0)}"
    return f"{num(ci[0], 0)} to {num(ci[1], 0)}"


def events_table(summary: Mapping[str, Any]) -> Table | None:
    """Return whether each scheduled event was held, and how often each random one occurred."""
    rows = []
    for e in (summary.get("events") or {}).values():
        for what, share in _event_shares(e):
            rows.append([e["name"], what, pct(share["p"]), interval(share["ci95"]),
                         pct(share["se"], 2)])  # fmt: skip
    headers = ["Exogenous event", "", "p", "95% CI", "MC SE"]
    return Table(headers, rows, right=(2, 4)) if rows else None


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


def before_events_table(summary: Mapping[str, Any]) -> Table | None:
    """Return the chance of each military rung (reached at least once) before each event."""
    rows = []
    for e in (summary.get("before_events") or {}).values():
        for r in e["rungs"].values():
            if r["count"]:
                rows.append([f"{e['name']} ({e['date']})", f"{r['rung']} {r['name']}",
                             pct(r["p"]), interval(r["ci95"]), pct(r["se"], 2)])  # fmt: skip
    headers = ["Reached before", "rung", "p", "95% CI", "MC SE"]
    return Table(headers, rows, right=(2, 4)) if rows else None


def costs_table(summary: Mapping[str, Any]) -> Table:
    """Return the mean cost per actor with its standard error and 95% CI."""
    table = mean_table("Cost per actor", summary["costs"], summary.get("actors", {}))
    unit = summary.get("cost_unit", "cost units")
    return Table(table.headers, table.rows, table.right, note=f"in {unit}")


def mean_table(title: str, block: Mapping[str, Any], names: Mapping[str, str]) -> Table:
    """Return a section of means (one per actor, say): mean, SE, 95% CI."""
    rows = [
        [names.get(key, key), num(m["mean"]), num(m["se"], 2), interval(m["ci95"], num)]
        for key, m in block.items()
    ]
    return Table([title, "mean", "SE", "95% CI"], rows, right=(1, 2))


def mean_tables(summary: Mapping[str, Any]) -> list[Table]:
    """Return a table for each section of means the summary has beyond the costs."""
    names = summary.get("actors", {})
    return [
        mean_table(s.title, summary[s.key], names)
        for s in sections("summary")
        if s.key != "costs" and s.key in summary
    ]


#: The headline score of each profile in the summary's scores table: (column, row label).
SCORE_ROWS = {
    "ladder": ("peak_rung", "ladder: peak rung"),
    "goldstein": ("total", "Goldstein: sum over moves"),
    "rivera": ("total", "Rivera et al. 2024: sum over moves"),
}


def scores_table(summary: Mapping[str, Any], hint: bool = True) -> Table | None:
    """Return each scoring profile's headline score per run: mean, SE, 95% CI, median.

    ``hint``: its note says how to see a profile per dyad and per actor.
    """
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
        return None
    headers = ["Escalation score per run", "mean", "SE", "95% CI", "median"]
    note = "per dyad and per actor: sim run ... --score goldstein|rivera" if hint else ""
    return Table(headers, rows, right=(1, 2, 4), note=note)


def levers_table(summary: Mapping[str, Any], shown: int | None = LEVERS_SHOWN) -> Table | None:
    """Return each actor's most used levers (the first ``shown``; None: all the summary has)."""
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
        return None
    headers = ["Most used levers", "lever", "runs using", "SE", "uses/run", "SE"]
    return Table(headers, rows, right=(2, 3, 4, 5))


def posterior_text(block: Mapping[str, Any]) -> str:
    """Return the posterior block of a summary (a run over a calibration) as a few lines.

    A comparison whose arms draw from their own scenarios' posteriors names the arms.
    """
    arms = block.get("arms")
    where = f"In the {' and '.join(arms)} arm{'s' if len(arms) > 1 else ''}, p" if arms else "P"
    lines = [
        f"{where}arameters drawn from the posterior of {shown_path(block['calibration'])} "
        f"({block['particles']} particles, {block['distinct_particles_drawn']} distinct drawn; "
        f"{block['draw']}):"
    ]
    for path, p in block["parameters"].items():
        name = f"{p['label']} ({path})" if p.get("label") else path  # the path, for --set
        lines.append(f"  {name}: mean {p['mean']:.3g}, 90% of draws {p['lo']:.3g} .. {p['hi']:.3g}")
    text = wrapped("\n".join(lines)) + "\n"
    for arm, other in (block.get("other_arms") or {}).items():
        text += posterior_text({**other, "arms": [arm]})
    return text
