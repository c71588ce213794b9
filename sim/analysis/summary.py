"""The summary of an ensemble: what ``summary.json`` holds and how it is computed.

The summary is built from three small things rather than from every run record:

- the runs table (one row per replication, see :mod:`sim.experiments.ensemble`);
- a :class:`Tally` of the moves and the daily rungs, additive over chunks of replications,
  so an ensemble keeps counters instead of records and workers can tally their own chunks;
- the compiled run spec, for names, labels and the order of outcomes and rungs.

Everything returned is plain JSON data (dicts, lists, floats, ints, strings); NaN stands for
"undefined" and becomes ``null`` when written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from sim.analysis import stats

if TYPE_CHECKING:
    import pandas as pd

    from sim.engine.record import MoveRecord, RunRecord

#: Quantiles reported for the peak rung and for the daily overall rung.
QS = stats.DEFAULT_QS

#: How many levers per actor the summary lists.
TOP_LEVERS = 8


class SpecLike(Protocol):
    """The parts of a compiled run spec the summary reads."""

    name: str
    start: dt.date
    days: int
    actor_ids: tuple[str, ...]
    rung_names: tuple[str, ...]
    outcome_ids: tuple[str, ...]
    outcome_labels: Mapping[str, str]
    watch_rung: int


# --- column names of the runs table ----------------------------------------------------------


def cost_column(actor: str) -> str:
    """Return the runs-table column holding ``actor``'s cost."""
    return f"cost_{actor}"


def moves_column(actor: str) -> str:
    """Return the runs-table column holding ``actor``'s number of moves."""
    return f"moves_{actor}"


def reach_column(rung: int) -> str:
    """Return the runs-table column holding the first day the overall rung reached ``rung``."""
    return f"first_day_rung_{rung}"


# --- the tally: counters that add up over chunks ----------------------------------------------


class Tally:
    """Counters over replications that the summary needs beyond the runs table.

    ``daily`` counts, for each day and rung, the replications whose overall rung (the
    maximum over dyads) was that rung at the end of that day. ``lever_runs`` counts the
    replications in which an ``(actor, lever)`` was used at least once and ``lever_uses``
    its uses. Tallies of disjoint sets of replications add up with :meth:`merge`.
    """

    __slots__ = ("daily", "lever_runs", "lever_uses", "n")

    def __init__(self, days: int, n_rungs: int) -> None:
        self.daily = np.zeros((days + 1, n_rungs), dtype=np.int64)
        self.lever_runs: Counter[tuple[str, str]] = Counter()
        self.lever_uses: Counter[tuple[str, str]] = Counter()
        self.n = 0

    def add_run(self, moves: Iterable[MoveRecord], overall_rungs: np.ndarray) -> None:
        """Count one replication: its moves and its daily overall rung."""
        uses = Counter((m.actor, m.lever) for m in moves)
        self.lever_uses.update(uses)
        self.lever_runs.update(uses.keys())
        self.add_overall_rungs(np.asarray(overall_rungs)[np.newaxis, :])
        self.n += 1

    def add_record(self, record: RunRecord) -> None:
        """Count one run record."""
        self.add_run(record.moves, record.overall_rungs)

    def add_overall_rungs(self, overall: np.ndarray) -> None:
        """Add the daily overall rungs of several replications, shape ``(runs, days + 1)``."""
        days = np.broadcast_to(np.arange(overall.shape[1]), overall.shape)
        np.add.at(self.daily, (days, overall), 1)

    def merge(self, other: Tally) -> None:
        """Add another tally (of other replications) into this one."""
        self.daily += other.daily
        self.lever_runs.update(other.lever_runs)
        self.lever_uses.update(other.lever_uses)
        self.n += other.n

    @classmethod
    def from_tables(cls, moves: pd.DataFrame, trajectories: np.ndarray, n_rungs: int) -> Tally:
        """Rebuild a tally from a moves table and trajectories ``(runs, dyads, days + 1)``."""
        tally = cls(trajectories.shape[2] - 1, n_rungs)
        tally.add_overall_rungs(trajectories.max(axis=1).astype(np.int64))
        tally.n = trajectories.shape[0]
        if len(moves):
            per_run = moves.groupby(["actor", "lever", "index"]).size()
            pairs = per_run.groupby(level=["actor", "lever"])
            for key, uses in pairs.sum().items():
                tally.lever_uses[_pair(key)] += int(uses)
            for key, used in pairs.size().items():
                tally.lever_runs[_pair(key)] += int(used)
        return tally


def _pair(key: Any) -> tuple[str, str]:
    """Return a pandas group key ``(actor, lever)`` as a tuple of two strings."""
    actor, lever = key
    return str(actor), str(lever)


# --- the summary ------------------------------------------------------------------------------


def build_summary(
    spec: SpecLike,
    runs: pd.DataFrame,
    tally: Tally,
    *,
    seed: int,
    title: str = "",
    scenario_hash: str | None = None,
    lever_names: Mapping[tuple[str, str], str] | None = None,
) -> dict[str, Any]:
    """Return the summary of an ensemble as JSON data (the content of ``summary.json``)."""
    n = len(runs)
    return {
        "scenario": spec.name,
        "title": title,
        "scenario_hash": scenario_hash,
        "runs": n,
        "seed": seed,
        "start": spec.start.isoformat(),
        "end": (spec.start + dt.timedelta(days=spec.days)).isoformat(),
        "horizon_days": spec.days,
        "rungs": list(spec.rung_names),
        "actors": dict(getattr(spec, "actor_names", {a: a for a in spec.actor_ids})),
        "cost_unit": getattr(spec, "cost_unit", "cost units"),
        "watch_rung": spec.watch_rung,
        "outcomes": outcome_summary(spec, runs["outcome"].to_numpy()),
        "peak_rung": peak_rung_summary(spec, runs["peak_rung"].to_numpy()),
        "time_to_rung": time_to_rung_summary(spec, runs),
        "days_to_watch_rung": time_to_rung(spec, runs, spec.watch_rung),
        "costs": cost_summary(spec, runs),
        "levers": lever_summary(spec, tally, n, lever_names or {}),
        "daily_rung_quantiles": daily_quantiles(tally.daily),
        "ended_early": int(runs["ended_early"].sum()),
        "simpy_events_per_run": _mean_or_none(runs, "simpy_events"),
    }


def _mean_or_none(runs: pd.DataFrame, column: str) -> float | None:
    """Return the mean of a column, None when the table lacks it or is empty."""
    if column not in runs or not len(runs):
        return None
    return float(runs[column].mean())


def outcome_summary(spec: SpecLike, outcomes: np.ndarray) -> dict[str, dict[str, Any]]:
    """Return count, share, Wilson CI and SE of every outcome class, in spec order.

    Raises:
        ValueError: if a run's outcome is not one of the spec's classes (never dropped).
    """
    n = len(outcomes)
    known = set(spec.outcome_ids)
    unknown = sorted({str(o) for o in outcomes} - known)
    if unknown:
        raise ValueError(f"outcomes not declared by the scenario: {unknown}")
    counts = Counter(str(o) for o in outcomes)
    return {
        oid: {"label": spec.outcome_labels.get(oid, oid), **stats.proportion(counts[oid], n)}
        for oid in spec.outcome_ids
    }


def peak_rung_summary(spec: SpecLike, peaks: np.ndarray) -> dict[str, Any]:
    """Return the distribution of the peak rung (with rung names), its mean and quantiles."""
    support = range(len(spec.rung_names))
    distribution = stats.discrete_distribution(np.asarray(peaks, dtype=int), support)
    for row in distribution:
        row["name"] = spec.rung_names[row["value"]]
    moments = stats.mean_se(peaks)
    return {
        "distribution": distribution,
        "mean": moments["mean"],
        "se": moments["se"],
        "quantiles": stats.quantiles(peaks, QS),
    }


def reach_times(spec: SpecLike, runs: pd.DataFrame, rung: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (durations, observed) for reaching ``rung`` or higher, censored at the end day.

    A run that jumps past ``rung`` reaches it when it reaches the higher rung, so the time
    is the earliest first crossing of any rung at or above it.
    """
    end = runs["end_day"].to_numpy(dtype=float)
    if rung <= 0:
        return np.zeros(len(runs)), np.ones(len(runs), dtype=bool)
    cols = [reach_column(k) for k in range(rung, len(spec.rung_names))]
    firsts = runs[cols].to_numpy(dtype=float)
    observed = ~np.isnan(firsts).all(axis=1)
    durations = np.full(len(runs), np.nan)
    if observed.any():
        durations[observed] = np.nanmin(firsts[observed], axis=1)
    return np.where(observed, durations, end), observed


def time_to_rung(spec: SpecLike, runs: pd.DataFrame, rung: int) -> dict[str, Any]:
    """Return the Kaplan-Meier summary of the days until the overall rung first reaches ``rung``.

    Runs that never get there are censored at their end day. The full curve is left out
    (it can be rebuilt from ``runs.parquet``); the share reaching the rung by the horizon
    is ``1 - S(horizon)``.
    """
    durations, observed = reach_times(spec, runs, rung)
    km = stats.kaplan_meier(durations, observed)
    reached = 1.0 - stats.km_survival_at(km, float(spec.days))
    return {
        "rung": rung,
        "name": spec.rung_names[rung],
        "n": km["n"],
        "events": km["events"],
        "censored": km["n"] - km["events"],
        "median": km["median"],
        "median_ci95": km["median_ci95"],
        "p_by_end": reached,
    }


def time_to_rung_summary(spec: SpecLike, runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Return :func:`time_to_rung` for every rung above the bottom one, keyed by rung index."""
    return {str(k): time_to_rung(spec, runs, k) for k in range(1, len(spec.rung_names))}


def cost_summary(spec: SpecLike, runs: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Return the mean cost per actor with its standard error and 95% CI."""
    out = {}
    for actor in spec.actor_ids:
        m = stats.mean_se(runs[cost_column(actor)].to_numpy(dtype=float))
        out[actor] = {k: m[k] for k in ("mean", "se", "ci95", "sd")}
    return out


def lever_summary(
    spec: SpecLike,
    tally: Tally,
    n: int,
    names: Mapping[tuple[str, str], str],
    top: int = TOP_LEVERS,
) -> dict[str, list[dict[str, Any]]]:
    """Return, per actor, its most used levers by share of runs using them, then mean uses."""
    out: dict[str, list[dict[str, Any]]] = {actor: [] for actor in spec.actor_ids}
    for (actor, lever), runs_used in tally.lever_runs.items():
        uses = tally.lever_uses[(actor, lever)]
        out.setdefault(actor, []).append(
            {
                "lever": lever,
                "name": names.get((actor, lever), lever),
                "runs_used": int(runs_used),
                "share_runs": runs_used / n if n else math.nan,
                "mean_uses": uses / n if n else math.nan,
            }
        )
    for actor, rows in out.items():
        rows.sort(key=lambda r: (-r["runs_used"], -r["mean_uses"], r["lever"]))
        out[actor] = rows[:top]
    return out


def daily_quantiles(daily: np.ndarray, qs: Sequence[float] = QS) -> dict[str, list[Any]]:
    """Return per-day quantiles and mean of the overall rung from a ``(days+1, rungs)`` count table.

    Rungs are ordinal, so a quantile is a rung (the inverted empirical CDF: the lowest rung
    whose cumulative share reaches ``q``), never an interpolated value between two rungs.
    """
    totals = daily.sum(axis=1)
    out: dict[str, list[Any]] = {"day": list(range(daily.shape[0]))}
    cum = np.cumsum(daily, axis=1)
    for q in qs:
        idx = [_inverted_cdf(row, total, q) for row, total in zip(cum, totals, strict=True)]
        out[stats.quantile_key(q)] = idx
    rungs = np.arange(daily.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (daily * rungs).sum(axis=1) / totals
    out["mean"] = [float(m) for m in means]
    return out


def _inverted_cdf(cum: np.ndarray, total: int, q: float) -> int | None:
    """Return the lowest index where ``cum / total >= q``, None when there are no runs."""
    if total == 0:
        return None
    # A small tolerance so q * total landing exactly on a count is not lost to round-off.
    return int(np.searchsorted(cum, q * total - 1e-9, side="left"))
