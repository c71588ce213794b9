"""Backtests: hold a scenario's predictive distribution against a dated record of real moves.

The record is read and sorted into kinds of move by :mod:`sim.analysis.timeline`. For every
observed kind the backtest compares two numbers with the ensemble of ``N`` runs: the first
date the kind occurs and the number of times it occurs within the scored window. Runs that
never make the move have their first date censored: it is replaced by the day after the
window, ``H + 1``. Because every observed first date lies within the window, a censored run
is known to come after it, so the probability integral transform (PIT) is exact, and the
continuous ranked probability score (CRPS) is that of the censored variable
``min(first day, H + 1)``, which is still a proper score. Days and counts are integers, so
the PIT is randomized (the observation's rank among the ensemble, ties broken uniformly at
random: Czado, Gneiting and Held 2009), which makes it exactly uniform when the record is
drawn from the model's own distribution. The CRPS is the ensemble estimator of
``properscoring.crps_ensemble`` (Gneiting and Raftery 2007): ``mean|X - y| - mean|X - X'| / 2``.

Pure: an ensemble's moves table and the observations in, a :class:`Backtest` out (running
the ensemble is :func:`sim.experiments.backtest.backtest`'s; its tables are
:mod:`sim.present.backtest`'s).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.timeline import (
    Kind,
    Observations,
    Observed,
    joint_count,
    matching_levers,
    scenario_kinds,
)

#: Central intervals whose coverage is reported.
LEVELS = (0.5, 0.9)

#: Spawn key of the generator that breaks ties in the randomized PIT ("PIT" in ASCII).
_PIT_STREAM = 0x504954


# --- proper scores and the PIT -------------------------------------------------------------------


def crps_ensemble(members: np.ndarray, observation: float) -> float:
    """Return the CRPS of an ensemble forecast for one observation.

    The CRPS of the ensemble's empirical distribution, ``E|X - y| - E|X - X'| / 2`` with
    both expectations over the members (the estimator of ``properscoring.crps_ensemble``),
    computed from the sorted members in O(m log m). A point forecast ``c`` scores
    ``|c - y|``.
    """
    x = np.sort(np.asarray(members, dtype=float).reshape(-1))
    m = x.size
    if m == 0:
        raise ValueError("an ensemble needs at least one member")
    spread = np.dot(2.0 * np.arange(1, m + 1) - m - 1, x) / (m * m)
    return float(np.mean(np.abs(x - observation)) - spread)


def randomized_pit(members: np.ndarray, observation: float, u: float) -> float:
    """Return the randomized PIT of an observation: its rank among the members, ties split.

    ``(#{x < y} + u (#{x == y} + 1)) / (m + 1)`` with ``u`` uniform on (0, 1): uniform on
    (0, 1) exactly when the observation is exchangeable with the members, also for
    discrete values (Czado, Gneiting and Held 2009, Biometrics 65:1254).
    """
    x = np.asarray(members, dtype=float).reshape(-1)
    below = int(np.count_nonzero(x < observation))
    ties = int(np.count_nonzero(x == observation))
    return (below + u * (ties + 1)) / (x.size + 1)


def central_interval(members: np.ndarray, level: float) -> tuple[float, float]:
    """Return the central ``level`` interval of the ensemble (inverted-CDF quantiles)."""
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(
        np.asarray(members, dtype=float), [tail, 1.0 - tail], method="inverted_cdf"
    )
    return float(lo), float(hi)


def in_central(pit: float, level: float) -> bool:
    """Whether a PIT lies in the central ``level`` band, i.e. the observation in the interval."""
    tail = (1.0 - level) / 2.0
    return tail <= pit <= 1.0 - tail


# --- the ensemble's side ------------------------------------------------------------------------


def simulated(
    moves: Any, kind: Kind, runs: Sequence[int], horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return (first day, count) per run for a kind; no move gives first day ``horizon + 1``.

    ``moves`` is a moves table (``index``, ``day``, ``actor``, ``target``, ``cameo``). Days
    are calendar days since the start (the floor of the simulated time), as the record's.
    """
    position = {r: i for i, r in enumerate(runs)}
    first = np.full(len(runs), float(horizon + 1))
    count = np.zeros(len(runs))
    cameo = moves["cameo"].astype(str) == kind.cameo
    forward = (moves["actor"] == kind.actor) & (moves["target"] == kind.target)
    if kind.joint:
        backward = (moves["actor"] == kind.target) & (moves["target"] == kind.actor)
        picked = moves[cameo & (forward | backward)]
    else:
        picked = moves[cameo & forward]
    for run, group in picked.groupby("index"):
        if run not in position:
            continue
        days = np.floor(group["day"].to_numpy(dtype=float))
        i = position[run]
        first[i] = float(days.min())
        if kind.joint:
            halves = (group["actor"] == kind.actor).to_numpy()
            count[i] = joint_count(group["day"].to_numpy(dtype=float), halves)
        else:
            count[i] = float(len(days))
    return first, count


# --- one kind's verdict -------------------------------------------------------------------------


@dataclass(slots=True)
class Verdict:
    """Where one observed number falls in the ensemble's distribution."""

    observed: float
    pit: float
    pit_range: tuple[float, float]  # the PIT's range before randomization
    intervals: dict[float, tuple[float, float]]
    median: float
    mean: float
    crps: float

    def covered(self, level: float) -> bool:
        """Whether the observation lies in the central ``level`` interval (ends included).

        For a discrete ensemble this is conservative: a calibrated forecast covers at
        least ``level`` of the time. :meth:`pit_covered` is the exact, randomized version.
        """
        lo, hi = self.intervals[level]
        return lo <= self.observed <= hi

    def pit_covered(self, level: float) -> bool:
        """Whether the randomized PIT lies in the central ``level`` band (exact coverage)."""
        return in_central(self.pit, level)


def verdict(members: np.ndarray, observed: float, u: float) -> Verdict:
    """Compare an observation with an ensemble: PIT, central intervals, CRPS."""
    x = np.asarray(members, dtype=float)
    m = x.size
    below = np.count_nonzero(x < observed)
    ties = np.count_nonzero(x == observed)
    return Verdict(
        observed=float(observed),
        pit=randomized_pit(x, observed, u),
        pit_range=(below / (m + 1), (below + ties + 1) / (m + 1)),
        intervals={level: central_interval(x, level) for level in LEVELS},
        median=float(np.quantile(x, 0.5, method="inverted_cdf")),
        mean=float(x.mean()),
        crps=crps_ensemble(x, observed),
    )


@dataclass(slots=True)
class KindResult:
    """The backtest of one kind of move."""

    kind: Kind
    levers: list[str]
    observed_first: dt.date | None
    observed_count: int
    first: Verdict | None  # None when the record never shows the kind
    count: Verdict
    p_never: float
    scripted: float  # share of the kind's simulated moves made by exogenous events


# --- the backtest -------------------------------------------------------------------------------


@dataclass(slots=True)
class Backtest:
    """A scenario's backtest against a timeline: per-kind verdicts and overall scores."""

    scenario: str
    title: str
    timeline: str
    start: dt.date
    days: int
    runs: int
    seed: int
    observed: list[KindResult]
    unobserved: list[KindResult]
    observations: Observations
    #: What the ensemble changed of its named scenario, in its summary's words: the
    #: ``overrides`` it was given and the ``posterior`` it drew from (none: nothing).
    changed: dict[str, Any] = field(default_factory=dict)

    def coverage(
        self,
        which: str,
        level: float,
        results: Sequence[KindResult] | None = None,
        pit: bool = False,
    ) -> tuple[int, int]:
        """Return (covered, total) over observed kinds for ``first`` dates or ``count``s.

        Coverage is interval membership, or with ``pit`` the randomized-PIT version.
        """
        rows = self.observed if results is None else results
        verdicts = [getattr(r, which) for r in rows if getattr(r, which) is not None]
        hits = [v.pit_covered(level) if pit else v.covered(level) for v in verdicts]
        return sum(hits), len(verdicts)

    def mean_crps(self, which: str, results: Sequence[KindResult] | None = None) -> float:
        """Return the mean CRPS over kinds (days for ``first``, moves for ``count``)."""
        rows = self.observed if results is None else results
        scores = [getattr(r, which).crps for r in rows if getattr(r, which) is not None]
        return float(np.mean(scores)) if scores else math.nan

    def date(self, day: float) -> str:
        """Return a day as an ISO date, or 'never' past the scored window."""
        if day > self.days:
            return "never"
        return (self.start + dt.timedelta(days=int(day))).isoformat()

    def to_json(self) -> dict[str, Any]:
        """Return the backtest as JSON data."""
        return backtest_json(self)


def evaluate(
    spec: Any,
    observations: Observations,
    moves: Any,
    runs: int,
    seed: int,
    timeline: str = "",
    title: str = "",
    window: int | None = None,
    changed: Mapping[str, Any] | None = None,
) -> Backtest:
    """Score an ensemble's moves (replications ``0 .. runs - 1``) against observations.

    Only moves up to day ``window`` (default: the horizon) count; later ones are ignored, as
    the record says nothing of them. ``changed`` is what the ensemble changed of its
    scenario (:attr:`Backtest.changed`).
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PIT_STREAM,)))
    indices = list(range(runs))
    horizon = spec.days if window is None else window
    moves = moves[np.floor(moves["day"].to_numpy(dtype=float)) <= horizon]
    observed = [
        _kind_result(spec, moves, obs.kind, obs, indices, horizon, rng)
        for obs in observations.kinds.values()
    ]
    joint = [k for k in observations.kinds if k.joint]
    seen = set(observations.kinds) | set(observations.unmodelled)
    extra = sorted(scenario_kinds(spec, joint) - seen)
    unobserved = [_kind_result(spec, moves, k, None, indices, horizon, rng) for k in extra]
    return Backtest(
        spec.name,
        title,
        timeline,
        spec.start,
        horizon,
        runs,
        seed,
        observed,
        unobserved,
        observations,
        dict(changed or {}),
    )


def _kind_result(
    spec: Any,
    moves: Any,
    kind: Kind,
    obs: Observed | None,
    runs: list[int],
    horizon: int,
    rng: np.random.Generator,
) -> KindResult:
    first, count = simulated(moves, kind, runs, horizon)
    observed_count = obs.count if obs else 0
    first_verdict = None
    if obs is not None:
        day = (obs.first - spec.start).days
        first_verdict = verdict(first, day, float(rng.random()))
    count_verdict = verdict(count, observed_count, float(rng.random()))
    return KindResult(
        kind=kind,
        levers=obs.levers if obs else matching_levers(spec, kind),
        observed_first=obs.first if obs else None,
        observed_count=observed_count,
        first=first_verdict,
        count=count_verdict,
        p_never=float(np.mean(first > horizon)),
        scripted=_scripted_share(moves, kind),
    )


def _scripted_share(moves: Any, kind: Kind) -> float:
    """Return the share of a kind's simulated moves that exogenous events made."""
    mask = moves["cameo"].astype(str) == kind.cameo
    pair = (moves["actor"] == kind.actor) & (moves["target"] == kind.target)
    if kind.joint:
        pair |= (moves["actor"] == kind.target) & (moves["target"] == kind.actor)
    picked = moves.loc[mask & pair, "source"]
    if not len(picked):
        return 0.0
    return float(picked.astype(str).str.startswith("event:").mean())


# --- output -------------------------------------------------------------------------------------


def _verdict_json(v: Verdict | None, as_date: Any = None) -> dict[str, Any] | None:
    if v is None:
        return None
    fmt = as_date or (lambda x: x)
    return {
        "observed": fmt(v.observed),
        "pit": v.pit,
        "pit_range": list(v.pit_range),
        "median": fmt(v.median),
        "mean": v.mean,
        "intervals": {
            f"{int(level * 100)}": [fmt(a), fmt(b)] for level, (a, b) in v.intervals.items()
        },
        "covered": {f"{int(level * 100)}": v.covered(level) for level in LEVELS},
        "pit_covered": {f"{int(level * 100)}": v.pit_covered(level) for level in LEVELS},
        "crps": v.crps,
    }


def backtest_json(bt: Backtest) -> dict[str, Any]:
    """Return a backtest as JSON data (dates as ISO strings, 'never' past the horizon)."""

    def kind_json(r: KindResult) -> dict[str, Any]:
        return {
            "kind": r.kind.label,
            "actor": r.kind.actor,
            "target": r.kind.target,
            "cameo": r.kind.cameo,
            "joint": r.kind.joint,
            "levers": r.levers,
            "observed_count": r.observed_count,
            "p_never": r.p_never,
            "scripted_share": r.scripted,
            "first_date": _verdict_json(r.first, bt.date),
            "first_day_crps": r.first.crps if r.first else None,
            "count": _verdict_json(r.count),
        }

    obs = bt.observations
    return {
        "scenario": bt.scenario,
        "overrides": bt.changed.get("overrides") or [],
        "posterior": bt.changed.get("posterior"),
        "timeline": bt.timeline,
        "runs": bt.runs,
        "seed": bt.seed,
        "start": bt.start.isoformat(),
        "end": bt.date(bt.days),
        "horizon_days": bt.days,
        "kinds": [kind_json(r) for r in bt.observed],
        "unobserved_kinds": [kind_json(r) for r in bt.unobserved],
        "coverage": {
            which: {f"{int(level * 100)}": list(bt.coverage(which, level)) for level in LEVELS}
            for which in ("first", "count")
        },
        "pit_coverage": {
            which: {
                f"{int(level * 100)}": list(bt.coverage(which, level, pit=True)) for level in LEVELS
            }
            for which in ("first", "count")
        },
        "mean_crps": {"first_day": bt.mean_crps("first"), "count": bt.mean_crps("count")},
        "unmodelled": [
            {"kind": k.label, "count": o.count, "lines": o.lines} for k, o in obs.unmodelled.items()
        ],
        "outside_actors": [r.line for r in obs.outside_actors],
        "outside_window": [r.line for r in obs.outside_window],
    }
