"""Paired statistics: two arms run on common random numbers, compared run by run.

Replication ``i`` of both arms runs on the same seed, and inside a replication the engine
draws from one stream per purpose (the world, each actor, each exogenous event), keyed by
name (:func:`sim.engine.simulate.stream`). Where the two scenarios agree, the two runs
draw the same numbers, so their outcomes are positively correlated and the paired
difference ``variant_i - base_i`` varies much less than the difference of two independent
ensembles: ``Var(B - A) = Var A + Var B - 2 Cov(A, B)``. Each difference comes with its
paired standard error and 95% interval, the standard error independent seeds would have
given (from the two marginal variances), and their ratio of variances: the variance
reduction, i.e. how many times more runs independent seeds would need for the same
precision. See ``docs/crn.md``.

Pure: the two runs tables and specs in, the comparison's ``summary.json`` out. What is
paired comes from :mod:`sim.analysis.measures` (every section marked ``paired``), plus the
exogenous events and the rungs reached before them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from sim.analysis import columns, events, stats
from sim.analysis.measures import Section, paired_measures, sections

#: What a comparison's summary says of its method.
METHOD = "common random numbers: replication i of both arms runs on the same seed"


def paired_difference(
    base: np.ndarray, variant: np.ndarray, *, share: bool = False
) -> dict[str, Any]:
    """Return the mean paired difference ``variant - base`` and what pairing gained.

    ``se`` is that of the mean of the per-run differences; ``ci95`` its normal-approximation
    interval, or for a ``share`` (0/1 per run: an outcome, an event held) Newcombe's paired
    score interval (:func:`~sim.analysis.stats.paired_share_interval`), which does not
    collapse to a point at 0 or 1. ``se_independent`` is the standard error the same
    difference would have with independent seeds, ``sqrt((Var A + Var B) / n)``;
    ``variance_reduction`` is ``(Var A + Var B) / Var(B - A)`` (None when the differences
    do not vary at all).
    """
    a = np.asarray(base, dtype=float)
    b = np.asarray(variant, dtype=float)
    n = a.size
    d = stats.mean_se(b - a)
    if share:
        d["ci95"] = stats.paired_share_interval(a > 0, b > 0)
    var_a = float(a.var(ddof=1)) if n >= 2 else math.nan
    var_b = float(b.var(ddof=1)) if n >= 2 else math.nan
    var_d = d["sd"] ** 2
    independent = var_a + var_b
    reduction = independent / var_d if var_d > 0 else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(a, b)[0, 1]) if n >= 2 and var_a > 0 and var_b > 0 else math.nan
    return {
        "base": float(a.mean()) if n else math.nan,
        "variant": float(b.mean()) if n else math.nan,
        "difference": d["mean"],
        "se": d["se"],
        "ci95": d["ci95"],
        "se_independent": math.sqrt(independent / n) if n >= 2 else math.nan,
        "variance_reduction": reduction,
        "correlation": corr,
        "n": n,
    }


class Arms:
    """The two arms of a comparison: their specs, runs tables and the runs both finished."""

    def __init__(self, specs: Sequence[Any], runs: Sequence[Any]) -> None:
        self.specs = (specs[0], specs[1])
        self.runs = (runs[0], runs[1])
        ia, ib = (np.asarray(r["index"]) for r in self.runs)
        common = np.intersect1d(ia, ib, assume_unique=True)
        self.rows = (np.searchsorted(ia, common), np.searchsorted(ib, common))

    @property
    def n(self) -> int:
        """The replications both arms finished."""
        return int(self.rows[0].size)

    def has(self, column: str) -> bool:
        """Whether both runs tables have a column (old tables may lack some)."""
        return all(column in r for r in self.runs)

    def pair(self, column: str, dtype: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """Return a column of both arms, on the runs both finished, in replication order."""
        return (
            np.asarray(self.runs[0][column], dtype=dtype)[self.rows[0]],
            np.asarray(self.runs[1][column], dtype=dtype)[self.rows[1]],
        )


def comparison_summary(
    specs: Sequence[Any],
    runs: Sequence[Any],
    *,
    arms: Mapping[str, Mapping[str, Any]],
    seed: int,
    replications: int,
    failures: Mapping[str, int],
) -> dict[str, Any]:
    """Return the paired comparison of two arms as JSON data (``summary.json``).

    ``specs`` and ``runs`` are the compiled specs and runs tables of the base and the
    variant, ``arms`` their descriptions (scenario, title, hash, overrides), ``failures``
    the replications each arm lost to errors.
    """
    pair = Arms(specs, runs)
    out: dict[str, Any] = {
        "kind": "comparison",
        "method": METHOD,
        "base": dict(arms["base"]),
        "variant": dict(arms["variant"]),
        "seed": seed,
        "runs": pair.n,
        "replications": replications,
        "failures": {"base": int(failures["base"]), "variant": int(failures["variant"])},
        "cost_unit": getattr(specs[0], "cost_unit", "cost units"),
    }
    for section in sections("paired"):
        out[section.key] = paired_section(pair, section)
    out["events"] = paired_events(pair)
    out["before_events"] = paired_before_events(pair)
    out["variance_reduction"] = {"outcomes": pooled_reduction(out["outcomes"].values())}
    return out


def paired_section(pair: Arms, section: Section) -> dict[str, Any]:
    """Return the paired difference of each measure of a section that both tables have.

    A section that is one measure (the peak rung) is that measure's difference itself.
    """
    found = [m for m in paired_measures(section, pair.specs) if all(map(pair.has, m.columns))]
    needed = {c for m in found for c in m.columns}
    read = [{c: table[c] for c in needed} for table in pair.runs]  # each column read once
    out: dict[str, Any] = {}
    for m in found:
        a, b = (m.values(r)[rows] for r, rows in zip(read, pair.rows, strict=True))
        difference = paired_difference(a, b, share=m.share)
        if m.key is None:
            return difference
        out[m.key] = {**m.about, **difference}
    return out


def shared_events(specs: Sequence[Any]) -> list[Any]:
    """The base's exogenous events that the variant has too, of the same kind and day."""
    variant = {e.id: e for e in getattr(specs[1], "events", ())}
    return [
        e
        for e in getattr(specs[0], "events", ())
        if e.id in variant and (variant[e.id].scheduled, variant[e.id].day) == (e.scheduled, e.day)
    ]


def paired_events(pair: Arms) -> dict[str, Any]:
    """Paired differences in the chance that each event is held (or occurs at least once)."""
    out = {}
    for event in shared_events(pair.specs):
        column = columns.event(event)
        if not pair.has(column):
            continue  # results written before events were recorded
        a, b = pair.pair(column)
        what = "held" if event.scheduled else "at least once"
        happened = (a == columns.HELD, b == columns.HELD) if event.scheduled else (a > 0, b > 0)
        label = f"{event.name}: {what}"
        out[event.id] = {"label": label, "what": what,
                         **paired_difference(*happened, share=True)}  # fmt: skip
        slips = columns.postponed(event)
        if event.scheduled and pair.has(slips):
            a, b = pair.pair(slips)
            label = f"{event.name}: postponed at least once"
            slipped = paired_difference(a > 0, b > 0, share=True)
            out[f"{event.id}:postponed"] = {"label": label, "what": "postponed", **slipped}
    return out


def paired_before_events(pair: Arms) -> dict[str, Any]:
    """Paired differences in the chance of each military rung before each scheduled event."""
    spec = pair.specs[0]
    top = min(len(s.rung_names) for s in pair.specs)  # rungs on both ladders
    out = {}
    horizon = min(s.days for s in pair.specs)
    for event in events.milestones(shared_events(pair.specs), horizon):
        rungs = {}
        for rung in range(spec.watch_rung, top):
            column = columns.reach(rung)
            if not pair.has(column):
                continue
            a, b = (events.reached_before(r[column], event.day)[i]
                    for r, i in zip(pair.runs, pair.rows, strict=True))  # fmt: skip
            label = f"{spec.rung_names[rung]} before {event.name}"
            rungs[str(rung)] = {"label": label, **paired_difference(a, b, share=True)}
        out[event.id] = {"name": event.name, "day": event.day, "rungs": rungs}
    return out


def pooled_reduction(rows: Iterable[Mapping[str, Any]]) -> float:
    """Return the variance reduction over several differences: sum of variances, ratio.

    It weighs each outcome by its variance, so rare outcomes with little variance do not
    dominate, and it is defined as long as any difference varies.
    """
    independent = paired = 0.0
    for row in rows:
        if row["n"] < 2 or row["se"] is None or math.isnan(row["se"]):
            continue
        independent += row["se_independent"] ** 2
        paired += row["se"] ** 2
    return independent / paired if paired > 0 else math.nan
