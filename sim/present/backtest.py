"""The tables of a backtest (``sim backtest``): first dates, counts, coverage, misses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sim.analysis.backtest import Backtest, KindResult, Verdict
from sim.present.summary import labelled
from sim.present.table import Block, Table, pct, render


def render_backtest(bt: Backtest) -> str:
    """Return the backtest as text: header, first dates, counts, coverage, scores, misses."""
    return render(backtest_blocks(bt))


def backtest_blocks(bt: Backtest) -> list[Block | None]:
    """Return the backtest's sections: header, tables of first dates and counts, the rest."""
    return [
        _header(bt),
        _first_table(bt),
        _count_table(bt),
        _summary_text(bt),
        _unobserved_table(bt),
        _excluded_text(bt),
    ]


def _header(bt: Backtest) -> str:
    obs = bt.observations
    scored = sum(o.count for o in obs.kinds.values())
    return (
        f"Backtest of {bt.title or bt.scenario} ({labelled(bt.scenario, bt.changed)}) "
        f"against {bt.timeline}\n"
        f"{bt.runs:,} runs, seed {bt.seed}, scored from {bt.start.isoformat()} to "
        f"{bt.date(bt.days)} ({bt.days} days); {scored} observed moves in {len(obs.kinds)} "
        "kinds scored\n"
        "PIT: randomized rank of the record in the ensemble (0.5 = the median run); "
        "'never' = no such move by the end of the scored window"
    )


def _mark(v: Verdict, level: float) -> str:
    return "yes" if v.covered(level) else "no"


def _first_table(bt: Backtest) -> Table:
    """Return the first dates table; a window within one year writes its dates as "Nov 14"."""
    date, year = _date_format(bt)
    rows = []
    for r in bt.observed:
        v = r.first
        assert v is not None
        lo50, hi50 = v.intervals[0.5]
        lo90, hi90 = v.intervals[0.9]
        rows.append(
            [
                r.kind.label,
                date(v.observed),
                date(v.median),
                f"{date(lo50)} .. {date(hi50)}",
                f"{date(lo90)} .. {date(hi90)}",
                pct(r.p_never, 0),
                f"{v.pit:.2f}",
                _mark(v, 0.5),
                _mark(v, 0.9),
                f"{v.crps:.1f}",
            ]
        )
    headers = [
        f"First date{year}",
        "observed",
        "median",
        "50% interval",
        "90% interval",
        "never",
        "PIT",
        "in 50%",
        "in 90%",
        "CRPS days",
    ]
    return Table(headers, rows, right=(5, 6, 9))


def _date_format(bt: Backtest) -> tuple[Callable[[float], str], str]:
    """Return how the first dates table writes a day, and what its key column's header adds.

    Within one calendar year the year goes to the header and a day reads "Nov 14": the
    table then fits in 100 characters instead of being cut in two between its intervals.
    """
    if dt.date.fromisoformat(bt.date(bt.days)).year != bt.start.year:
        return bt.date, ""

    def short(day: float) -> str:
        text = bt.date(day)  # the one reading of a day: ISO, or 'never' past the window
        if text == "never":
            return text
        when = dt.date.fromisoformat(text)
        return f"{when:%b} {when.day}"

    return short, f" ({bt.start.year})"


def _count_table(bt: Backtest) -> Table:
    rows = []
    for r in bt.observed:
        v = r.count
        rows.append(
            [
                r.kind.label,
                str(r.observed_count),
                f"{v.mean:.2f}",
                f"{v.intervals[0.5][0]:g} .. {v.intervals[0.5][1]:g}",
                f"{v.intervals[0.9][0]:g} .. {v.intervals[0.9][1]:g}",
                f"{v.pit:.2f}",
                _mark(v, 0.5),
                _mark(v, 0.9),
                f"{v.crps:.2f}",
                _levers_text(r),
            ]
        )
    headers = [
        "Count",
        "observed",
        "mean",
        "50% interval",
        "90% interval",
        "PIT",
        "in 50%",
        "in 90%",
        "CRPS",
        "levers (share scripted by events)",
    ]
    return Table(headers, rows, right=(1, 2, 5, 8))


def _levers_text(r: KindResult, width: int = 60) -> str:
    text = ", ".join(r.levers)
    if len(text) > width:
        text = text[: width - 3] + "..."
    return f"{text} ({r.scripted:.0%})" if r.scripted else text


def _summary_text(bt: Backtest) -> str:
    lines = [
        "Coverage of the central intervals (nominal 50% and 90%; by randomized PIT in brackets) "
        "and mean CRPS over kinds:"
    ]
    for which, unit in (("first", "days"), ("count", "moves")):
        name = "first dates" if which == "first" else "counts"
        (c50, n), (c90, _) = bt.coverage(which, 0.5), bt.coverage(which, 0.9)
        if not n:
            lines.append(f"  {name}: nothing to score")
            continue
        p50, p90 = bt.coverage(which, 0.5, pit=True)[0], bt.coverage(which, 0.9, pit=True)[0]
        lines.append(
            f"  {name:<11}  in 50%: {c50} of {n} ({c50 / n:.0%}) [{p50}]  "
            f"in 90%: {c90} of {n} ({c90 / n:.0%}) [{p90}]  "
            f"mean CRPS {bt.mean_crps(which):.2f} {unit}"
        )
    return "\n".join(lines)


def _unobserved_table(bt: Backtest) -> Table | None:
    if not bt.unobserved:
        return None
    rows = [
        [
            r.kind.label,
            pct(1.0 - r.p_never, 0),
            f"{r.count.mean:.2f}",
            f"{r.count.pit:.2f}",
            f"{r.count.crps:.2f}",
            _levers_text(r),
        ]
        for r in bt.unobserved
    ]
    headers = ["Not in the record", "P(any)", "mean count", "PIT", "CRPS", "levers"]
    return Table(headers, rows, right=(1, 2, 3, 4))


def _excluded_text(bt: Backtest) -> str:
    obs = bt.observations
    lines = []
    if obs.unmodelled:
        kinds = ", ".join(
            f"{k.label} (x{o.count}, line {o.lines[0]})" for k, o in obs.unmodelled.items()
        )
        lines.append(f"Unmodelled (no lever makes them, so the ensemble says never): {kinds}")
    if obs.outside_actors:
        where = ", ".join(str(r.line) for r in obs.outside_actors)
        lines.append(f"Outside the scenario's actors, not scored: lines {where}")
    if obs.outside_window:
        where = ", ".join(str(r.line) for r in obs.outside_window)
        lines.append(f"Outside the horizon, not scored: lines {where}")
    return "\n".join(lines)
