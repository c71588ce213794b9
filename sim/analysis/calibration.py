"""Calibration statistics: what a timeline and a simulated run are summarised by, and the posterior.

The summary statistics of a calibration are read from a timeline the way ``sim backtest``
reads it (:mod:`sim.analysis.timeline`): rows become kinds of move, directed (``A->B``) or
joint (``A<->B``), scored over the record's window (the start to the timeline's last date,
:func:`~sim.analysis.timeline.record_window`). For every kind two statistics are kept:

- ``first:KIND``, the first day the kind occurs (days since the start, the floor of the
  simulated time), censored at ``window + 1`` when it never does;
- ``count:KIND``, the number of times it occurs within the window (joint halves within
  :data:`~sim.analysis.timeline.JOINT_WINDOW_DAYS` counting once).

At the default ``root`` level a kind is a directed dyad and a CAMEO *root* (the first two
digits: ``1383`` and ``138`` are both ``13``, threats); at the ``code`` level it is the
exact code, as in the backtest. Kinds the scenario can make but the record never shows are
statistics too (observed count 0, first day censored) unless ``unobserved`` is off, since
a model that does what did not happen should be as far from the record as one that does not
do what did. Kinds of the record that no lever of the scenario can make are left out and
listed: every simulation would miss them by the same amount.

A user chooses statistics with ``include`` and ``exclude`` (shell patterns on the names,
e.g. ``count:*``) and weighs them with ``weights`` (pattern to factor); a pattern that names
no statistic is an error listing the names. The distance itself is pyabc's (see
:mod:`sim.experiments.calibrate`); the posterior summaries below are plain weighted
statistics of its particles.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sim.analysis.backtest import verdict
from sim.analysis.timeline import (
    Kind,
    Observations,
    Row,
    joint_count,
    observe,
    scenario_kinds,
)
from sim.errors import SimError

#: How finely a kind of move names what was done: by CAMEO root or by exact code.
LEVELS = ("root", "code")

#: What is measured of each kind.
MEASURES: tuple[Literal["first", "count"], ...] = ("first", "count")

#: The arms of the predictive check: runs at the scenario's own values, drawn from the
#: priors, drawn from the posterior (in the order they are shown; each draws from a stream
#: keyed by its place here).
ARMS = ("judgment", "prior", "posterior")


class StatisticsError(SimError):
    """Statistics that cannot be made as asked (an unknown name or pattern, nothing left)."""


def cameo_at(code: str, level: str) -> str:
    """Return a CAMEO code at a level: its root (first two digits) or itself."""
    return code[:2] if level == "root" else code


@dataclass(frozen=True)
class _CodedSpec:
    """A compiled scenario seen at a level: its levers' CAMEO codes cut to their roots."""

    actor_ids: tuple[str, ...]
    start: Any
    days: int
    levers: tuple[Any, ...]


def coded(spec: Any, level: str) -> Any:
    """Return ``spec`` with its levers' codes at ``level``, for the backtest's kind functions."""
    if level == "code":
        return spec
    levers = tuple(dataclasses.replace(lv, cameo=cameo_at(lv.cameo, level)) for lv in spec.levers)
    return _CodedSpec(tuple(spec.actor_ids), spec.start, spec.days, levers)


def coded_rows(rows: Iterable[Row], level: str) -> list[Row]:
    """Return timeline rows with their codes at ``level``."""
    return [dataclasses.replace(r, cameo=cameo_at(r.cameo, level)) for r in rows]


@dataclass(frozen=True)
class Statistic:
    """One summary statistic: a measure of a kind of move, and its value in the record."""

    name: str
    kind: Kind
    measure: str
    observed: float
    in_record: bool


def statistic_name(measure: str, kind: Kind) -> str:
    """Return the name of a statistic, e.g. ``count:CHN->JPN 16``."""
    return f"{measure}:{kind.label}"


class StatisticPlan:
    """The statistics of a calibration and how to read them from a run's moves.

    Built once from the record (its observations at a level) and the compiled scenario;
    :meth:`of_moves` then turns a run's moves into the vector of statistics, in
    :attr:`names` order, with a dictionary lookup per move.
    """

    def __init__(
        self, statistics: Sequence[Statistic], window: int, level: str, excluded: Sequence[str]
    ) -> None:
        if not statistics:
            raise StatisticsError("no summary statistics are left to calibrate on")
        self.statistics = list(statistics)
        self.window = int(window)
        self.level = level
        self.excluded = list(excluded)  # kinds of the record no lever makes
        self.names = [s.name for s in self.statistics]
        self.observed = np.array([s.observed for s in self.statistics], dtype=float)
        self.kinds = sorted({s.kind for s in self.statistics})
        self._slots = {k: (self._index(k, "first"), self._index(k, "count")) for k in self.kinds}
        self._route = _routes(self.kinds)

    def _index(self, kind: Kind, measure: str) -> int:
        name = statistic_name(measure, kind)
        return self.names.index(name) if name in self.names else -1

    def of_moves(self, moves: Iterable[Any]) -> np.ndarray:
        """Return the statistics of one run's moves (objects with day, actor, target, cameo)."""
        days: dict[Kind, list[float]] = {}
        sides: dict[Kind, list[bool]] = {}
        route, level, window = self._route, self.level, self.window
        for move in moves:
            day = math.floor(move.day)
            if day > window:
                continue
            hit = route.get((move.actor, move.target, cameo_at(move.cameo, level)))
            if hit is None:
                continue
            kind, forward = hit
            days.setdefault(kind, []).append(move.day)
            sides.setdefault(kind, []).append(forward)
        out = np.empty(len(self.names))
        for kind, (first, count) in self._slots.items():
            seen = days.get(kind)
            if first >= 0:
                out[first] = float(math.floor(min(seen))) if seen else float(window + 1)
            if count >= 0:
                out[count] = float(_count(kind, seen, sides.get(kind)))
        return out

    def describe(self) -> list[dict[str, Any]]:
        """Return the statistics as JSON rows (name, kind, measure, observed, in record)."""
        return [
            {
                "name": s.name,
                "kind": s.kind.label,
                "measure": s.measure,
                "observed": s.observed,
                "in_record": s.in_record,
            }
            for s in self.statistics
        ]


def _routes(kinds: Sequence[Kind]) -> dict[tuple[str, str, str], tuple[Kind, bool]]:
    """Map (actor, target, code) of a move to its kind and whether it is the forward half."""
    route: dict[tuple[str, str, str], tuple[Kind, bool]] = {}
    for kind in kinds:
        route[(kind.actor, kind.target, kind.cameo)] = (kind, True)
        if kind.joint:
            route[(kind.target, kind.actor, kind.cameo)] = (kind, False)
    return route


def _count(kind: Kind, days: list[float] | None, sides: list[bool] | None) -> int:
    if not days:
        return 0
    if not kind.joint:
        return len(days)
    return joint_count(np.asarray(days, dtype=float), np.asarray(sides, dtype=bool))


def record_statistics(
    rows: Sequence[Row], spec: Any, window: int, level: str = "root", unobserved: bool = True
) -> tuple[list[Statistic], Observations]:
    """Return every statistic of a record against a scenario, and the sorted observations."""
    if level not in LEVELS:
        raise StatisticsError(f"statistics level '{level}': expected one of {', '.join(LEVELS)}")
    view = coded(spec, level)
    observations = observe(coded_rows(rows, level), view, window)
    found = []
    for kind, obs in observations.kinds.items():
        first = float((obs.first - spec.start).days)
        found += [
            Statistic(statistic_name("first", kind), kind, "first", first, True),
            Statistic(statistic_name("count", kind), kind, "count", float(obs.count), True),
        ]
    if unobserved:
        joint = [k for k in observations.kinds if k.joint]
        seen = set(observations.kinds) | set(observations.unmodelled)
        for kind in sorted(scenario_kinds(view, joint) - seen):
            found += [
                Statistic(statistic_name("first", kind), kind, "first", float(window + 1), False),
                Statistic(statistic_name("count", kind), kind, "count", 0.0, False),
            ]
    return found, observations


def select(
    statistics: Sequence[Statistic],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    measures: Sequence[str] = MEASURES,
) -> list[Statistic]:
    """Keep the statistics of ``measures`` that match an ``include`` and no ``exclude`` pattern."""
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown:
        raise StatisticsError(
            f"unknown measure {', '.join(unknown)}; expected {' and/or '.join(MEASURES)}"
        )
    names = [s.name for s in statistics]
    for pattern in [*include, *exclude]:
        check_pattern(pattern, names)
    kept = []
    for s in statistics:
        if s.measure not in measures:
            continue
        if include and not any(fnmatch.fnmatchcase(s.name, p) for p in include):
            continue
        if any(fnmatch.fnmatchcase(s.name, p) for p in exclude):
            continue
        kept.append(s)
    return kept


def check_pattern(pattern: str, names: Sequence[str]) -> None:
    """Raise a StatisticsError if a name or pattern matches none of ``names``."""
    if any(fnmatch.fnmatchcase(n, pattern) for n in names):
        return
    import difflib

    close = difflib.get_close_matches(pattern, names, n=4, cutoff=0.4)
    shown = ", ".join(close or names[:8])
    raise StatisticsError(
        f"statistic '{pattern}' names no statistic of this scenario and timeline; "
        f"{'closest' if close else 'some are'}: {shown} ({len(names)} in all; names are "
        "MEASURE:KIND such as count:CHN->JPN 16, patterns may use * and ?)"
    )


def statistic_weights(names: Sequence[str], weights: Mapping[str, float]) -> np.ndarray:
    """Return each statistic's weight: the product of the factors of the patterns it matches."""
    out = np.ones(len(names))
    for pattern, factor in weights.items():
        check_pattern(pattern, names)
        if not (isinstance(factor, int | float) and math.isfinite(factor) and factor >= 0):
            raise StatisticsError(f"weight of '{pattern}': expected a number >= 0, got {factor!r}")
        for i, name in enumerate(names):
            if fnmatch.fnmatchcase(name, pattern):
                out[i] *= float(factor)
    return out


# --- weighted particles: the posterior's summaries --------------------------------------------


def effective_sample_size(weights: np.ndarray) -> float:
    """Return Kish's effective sample size ``(sum w)^2 / sum w^2`` of importance weights."""
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w * w))


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """Return quantiles of a weighted sample (the inverse of its weighted empirical CDF).

    The CDF at each sorted value is the weight up to it minus half its own weight, so the
    quantiles of equal weights match ``np.quantile(..., method="hazen")``; pyabc's
    ``weighted_quantile`` uses the same midpoint rule.
    """
    order = np.argsort(values, kind="stable")
    x = np.asarray(values, dtype=float)[order]
    w = np.asarray(weights, dtype=float)[order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(np.asarray(qs, dtype=float), cdf, x)


#: The central interval a summary reports.
CREDIBLE = 0.9


def posterior_row(values: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """Return a parameter's posterior mean, sd, median and central 90% credible interval."""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    x = np.asarray(values, dtype=float)
    mean = float(np.dot(w, x))
    tail = (1 - CREDIBLE) / 2
    lo, median, hi = weighted_quantiles(x, w, [tail, 0.5, 1 - tail])
    return {
        "mean": mean,
        "sd": float(math.sqrt(max(0.0, np.dot(w, (x - mean) ** 2)))),
        "median": float(median),
        "lo": float(lo),
        "hi": float(hi),
    }


def prior_row(dist: Any) -> dict[str, float]:
    """Return a frozen scipy distribution's mean, sd, median and central 90% interval."""
    tail = (1 - CREDIBLE) / 2
    return {
        "mean": float(dist.mean()),
        "sd": float(dist.std()),
        "median": float(dist.median()),
        "lo": float(dist.ppf(tail)),
        "hi": float(dist.ppf(1 - tail)),
    }


# --- the posterior predictive check ------------------------------------------------------------


def predictive_check(
    names: Sequence[str],
    observed: np.ndarray,
    arms: Mapping[str, np.ndarray],
    seed: int,
    in_record: Sequence[bool] | None = None,
) -> list[dict[str, Any]]:
    """Return, per statistic, where the record falls in each arm's predictive sample.

    ``arms`` maps an arm ("judgment", "prior", "posterior") to an array ``(runs, stats)`` of
    simulated statistics. Each row holds the observed value and, per arm, the randomized PIT
    (0.5: the median run), the central 90% interval and the mean (see
    :func:`sim.analysis.backtest.verdict`).
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x505043,)))  # "PPC"
    rows = []
    for j, name in enumerate(names):
        row: dict[str, Any] = {"statistic": name, "observed": float(observed[j])}
        row["in_record"] = True if in_record is None else bool(in_record[j])
        for arm, sample in arms.items():
            v = verdict(sample[:, j], observed[j], float(rng.random()))
            row[arm] = {"pit": v.pit, "lo": v.intervals[0.9][0], "hi": v.intervals[0.9][1]}
            row[arm]["mean"] = v.mean
        rows.append(row)
    return rows


def write_timeline(moves: Iterable[Any], start: Any, path: Any, until: float | None = None) -> int:
    """Write a run's moves as a timeline CSV (a synthetic record); return the rows written.

    Each move (an object with day, actor, target, lever, cameo and goldstein) becomes a row
    dated ``start`` plus the floor of its day; moves after day ``until`` are left out.
    """
    import csv
    import datetime as dt

    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["date", "actor", "target", "move", "cameo_code", "goldstein"])
        for m in moves:
            day = math.floor(m.day)
            if until is not None and day > until:
                continue
            date = start + dt.timedelta(days=day)
            writer.writerow([date.isoformat(), m.actor, m.target, m.lever, m.cameo, m.goldstein])
            rows += 1
    return rows
