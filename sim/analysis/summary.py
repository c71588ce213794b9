"""The summary of an ensemble: what ``summary.json`` holds and how it is computed.

The summary is built from three small things rather than from every run record:

- the runs table (one row per finished replication, its columns declared in
  :mod:`sim.analysis.columns`), or its columns read one at a time from ``runs.parquet``;
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

from sim.analysis import columns, events, scoring, stats
from sim.analysis.measures import Section, sections

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


# --- the tally: counters that add up over chunks ----------------------------------------------


class Tally:
    """Counters over replications that the summary needs beyond the runs table.

    ``daily`` counts, for each day and rung, the replications whose overall rung (the
    maximum over dyads) was that rung at the end of that day. ``lever_runs`` counts the
    replications in which an ``(actor, lever)`` was used at least once, ``lever_uses`` its
    uses and ``lever_sq`` the sum over replications of the squared uses (for the standard
    error of the mean uses). Tallies of disjoint sets of replications add up with
    :meth:`merge`; all counts are integers, so the order of merging never matters.
    """

    __slots__ = ("daily", "lever_runs", "lever_sq", "lever_uses", "n")

    def __init__(self, days: int, n_rungs: int) -> None:
        self.daily = np.zeros((days + 1, n_rungs), dtype=np.int64)
        self.lever_runs: Counter[tuple[str, str]] = Counter()
        self.lever_uses: Counter[tuple[str, str]] = Counter()
        self.lever_sq: Counter[tuple[str, str]] = Counter()
        self.n = 0

    def add_run(self, moves: Iterable[MoveRecord], overall_rungs: np.ndarray) -> None:
        """Count one replication: its moves and its daily overall rung."""
        uses = Counter((m.actor, m.lever) for m in moves)
        self.lever_uses.update(uses)
        self.lever_runs.update(uses.keys())
        self.lever_sq.update({key: count * count for key, count in uses.items()})
        self.add_overall_rungs(np.asarray(overall_rungs)[np.newaxis, :])
        self.n += 1

    def add_record(self, record: RunRecord) -> None:
        """Count one run record."""
        self.add_run(record.moves, record.overall_rungs)

    def add_overall_rungs(self, overall: np.ndarray) -> None:
        """Add the daily overall rungs of several replications, shape ``(runs, days + 1)``."""
        days = np.broadcast_to(np.arange(overall.shape[1]), overall.shape)
        np.add.at(self.daily, (days, overall), 1)

    def add_trajectories(self, trajectories: np.ndarray) -> None:
        """Count replications from their trajectories ``(runs, dyads, days + 1)``."""
        self.add_overall_rungs(trajectories.max(axis=1).astype(np.int64))
        self.n += trajectories.shape[0]

    def add_moves(self, moves: pd.DataFrame) -> None:
        """Count the moves of whole replications (columns ``index``, ``actor``, ``lever``).

        Every replication must be in one call with all its moves; the replications
        themselves are counted by :meth:`add_trajectories`.
        """
        if not len(moves):
            return
        per_run = moves.groupby(["actor", "lever", "index"], observed=True).size()
        pairs = per_run.groupby(level=["actor", "lever"], observed=True)
        for key, uses in pairs.sum().items():
            self.lever_uses[_pair(key)] += int(uses)
        for key, used in pairs.size().items():
            self.lever_runs[_pair(key)] += int(used)
        for key, sq in (
            (per_run.astype(np.int64) ** 2)
            .groupby(level=["actor", "lever"], observed=True)
            .sum()
            .items()
        ):
            self.lever_sq[_pair(key)] += int(sq)

    def merge(self, other: Tally) -> None:
        """Add another tally (of other replications) into this one."""
        self.daily += other.daily
        self.lever_runs.update(other.lever_runs)
        self.lever_uses.update(other.lever_uses)
        self.lever_sq.update(other.lever_sq)
        self.n += other.n

    @classmethod
    def from_tables(cls, moves: pd.DataFrame, trajectories: np.ndarray, n_rungs: int) -> Tally:
        """Rebuild a tally from a moves table and trajectories ``(runs, dyads, days + 1)``."""
        tally = cls(trajectories.shape[2] - 1, n_rungs)
        tally.add_trajectories(trajectories)
        tally.add_moves(moves)
        return tally


def lever_names(spec: Any) -> dict[tuple[str, str], str]:
    """Return the display name of every lever of a compiled spec, keyed by (actor id, lever id)."""
    ids = spec.actor_ids
    return {(ids[lv.actor], lv.id): lv.name for lv in getattr(spec, "levers", ())}


def _pair(key: Any) -> tuple[str, str]:
    """Return a pandas group key ``(actor, lever)`` as a tuple of two strings."""
    actor, lever = key
    return str(actor), str(lever)


# --- the summary ------------------------------------------------------------------------------


class RunsLike(Protocol):
    """A runs table: a DataFrame, or anything that hands out its columns by name.

    :class:`sim.results.store.RunsColumns` reads the columns of a large ``runs.parquet``
    one at a time, so a summary never needs the whole table in memory.
    """

    def __len__(self) -> int: ...

    def __contains__(self, name: object) -> bool: ...

    def __getitem__(self, name: str) -> Any: ...


def column(runs: RunsLike, name: str, dtype: Any = None) -> np.ndarray:
    """Return one column of a runs table as a numpy array."""
    return np.asarray(runs[name], dtype=dtype)


def build_summary(
    spec: SpecLike,
    runs: RunsLike,
    tally: Tally,
    *,
    seed: int,
    title: str = "",
    scenario_hash: str | None = None,
    lever_names: Mapping[tuple[str, str], str] | None = None,
    failures: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the summary of an ensemble as JSON data (the content of ``summary.json``).

    ``runs`` holds the replications that finished; ``failures`` (see :func:`failure_summary`)
    says how many raised. Every probability and mean comes with its Monte Carlo standard
    error and a 95% interval.
    """
    n = len(runs)
    failed = failures or failure_summary(0, n, [])
    runs = ReadOnce(runs, _shared_reads(spec))
    # Each column is read once (ReadOnce keeps the few that two sections read, until the
    # second): the rungs before events come first, so that the first days they share with
    # the time to each rung are let go before the time to the lower rungs, where the
    # Kaplan-Meier arrays are largest.
    before = events.before_events(spec, runs, _military_reach(spec))
    reach = time_to_rung_summary(spec, runs)
    watch = spec.watch_rung
    return {
        "scenario": spec.name,
        "title": title,
        "scenario_hash": scenario_hash,
        "runs": n,
        "replications": failed["replications"],
        "failures": failed,
        "seed": seed,
        "start": spec.start.isoformat(),
        "end": (spec.start + dt.timedelta(days=spec.days)).isoformat(),
        "horizon_days": spec.days,
        "rungs": list(spec.rung_names),
        "actors": dict(getattr(spec, "actor_names", {a: a for a in spec.actor_ids})),
        "cost_unit": getattr(spec, "cost_unit", "cost units"),
        "watch_rung": watch,
        "outcomes": outcome_summary(spec, runs["outcome"]),
        "peak_rung": peak_rung_summary(spec, column(runs, "peak_rung")),
        "time_to_rung": reach,
        "days_to_watch_rung": reach.get(str(watch)) or time_to_rung(spec, runs, watch),
        **{section.key: mean_block(spec, runs, section) for section in sections("summary")},
        "scores": scoring.summary_block(runs, spec.actor_ids),
        "events": events.events_block(spec, runs),
        "before_events": before,
        "levers": lever_summary(spec, tally, n, lever_names or {}),
        "daily_rung_quantiles": daily_quantiles(tally.daily),
        "ended_early": int(column(runs, "ended_early").sum()) if n else 0,
        "simpy_events_per_run": _mean_or_none(runs, "simpy_events"),
    }


class ReadOnce:
    """A runs table of which :func:`build_summary` reads each column once.

    ``reads`` says how many sections read a column that more than one reads (the peak
    rung; the first days at the rungs the rungs before events look at); such a column is
    kept from its first read to its last, then let go. Every other column is read by the
    one section that needs it and not kept, so a wide table (thousands of score columns)
    never sits in memory whole.
    """

    def __init__(self, runs: RunsLike, reads: Mapping[str, int]) -> None:
        self._runs = runs
        self._left = {name: n for name, n in reads.items() if n > 1}
        self._kept: dict[str, Any] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, name: object) -> bool:
        return name in self._runs

    def __getitem__(self, name: str) -> Any:
        if name not in self._left:
            return self._runs[name]
        value = self._kept.pop(name) if name in self._kept else self._runs[name]
        self._left[name] -= 1
        if self._left[name]:
            self._kept[name] = value
        else:
            del self._left[name]
        return value


def _shared_reads(spec: SpecLike) -> dict[str, int]:
    """The columns that more than one section of the summary reads, and how many read them."""
    reads = {"peak_rung": 2}  # the peak rung's distribution and the ladder score
    if events.milestones(getattr(spec, "events", ()), spec.days):
        reads.update(dict.fromkeys(_military_reach(spec).values(), 2))
    return reads


def _military_reach(spec: SpecLike) -> dict[int, str]:
    """The first-day columns of the rungs from the watched (first military) rung up."""
    return {k: columns.reach(k) for k in range(spec.watch_rung, len(spec.rung_names))}


def failure_summary(
    count: int, replications: int, examples: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Return how many of ``replications`` raised, with a few ``examples`` (index, seed key, error).

    The outcome shares are over the replications that finished: if failures depend on
    what happens in a run, they are biased, which is why the count is always reported.
    """
    return {
        "count": int(count),
        "replications": int(replications),
        "share": count / replications if replications else math.nan,
        "examples": [
            {"index": int(e["index"]), "seed_key": str(e["seed_key"]), "error": str(e["error"])}
            for e in examples
        ],
    }


def _mean_or_none(runs: RunsLike, name: str) -> float | None:
    """Return the mean of a column, None when the table lacks it or is empty."""
    if name not in runs or not len(runs):
        return None
    return float(column(runs, name, float).mean())


def outcome_summary(spec: SpecLike, outcomes: Any) -> dict[str, dict[str, Any]]:
    """Return count, share, Wilson CI and SE of every outcome class, in spec order.

    Raises:
        ValueError: if a run's outcome is not one of the spec's classes (never dropped).
    """
    counts = outcome_counts(outcomes)
    n = sum(counts.values())
    unknown = sorted(set(counts) - set(spec.outcome_ids))
    if unknown:
        raise ValueError(f"outcomes not declared by the scenario: {unknown}")
    return {
        oid: {"label": spec.outcome_labels.get(oid, oid), **stats.proportion(counts[oid], n)}
        for oid in spec.outcome_ids
    }


def outcome_counts(outcomes: Any) -> Counter[str]:
    """Return the number of runs of each outcome (cheap on a categorical column)."""
    import pandas as pd

    series = pd.Series(outcomes) if not isinstance(outcomes, pd.Series) else outcomes
    found = series.value_counts(sort=False)
    return Counter({str(k): int(v) for k, v in found.items() if v})


def peak_rung_summary(spec: SpecLike, peaks: np.ndarray) -> dict[str, Any]:
    """Return the distribution of the peak rung (with rung names and SEs), mean and quantiles."""
    support = range(len(spec.rung_names))
    distribution = stats.discrete_distribution(np.asarray(peaks, dtype=int), support)
    for row in distribution:
        row["name"] = spec.rung_names[row["value"]]
        row["se"] = stats.proportion(row["count"], len(peaks))["se"]
    moments = stats.mean_se(peaks)
    return {
        "distribution": distribution,
        "mean": moments["mean"],
        "se": moments["se"],
        "quantiles": stats.quantiles(peaks, QS),
    }


def reach_times(spec: SpecLike, runs: RunsLike, rung: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (durations, observed) for reaching ``rung`` or higher, censored at the end day.

    A run that jumps past ``rung`` reaches it when it reaches the higher rung, so the time
    is the earliest first crossing of any rung at or above it.
    """
    n = len(runs)
    end = column(runs, "end_day", float)
    if rung <= 0:
        return np.zeros(n), np.ones(n, dtype=bool)
    firsts = np.full(n, np.nan)
    for k in range(rung, len(spec.rung_names)):
        # fmin skips NaN ("never"); one column at a time keeps memory to two arrays.
        firsts = np.fmin(firsts, column(runs, columns.reach(k), float))
    observed = ~np.isnan(firsts)
    return np.where(observed, firsts, end), observed


def time_to_rung(spec: SpecLike, runs: RunsLike, rung: int) -> dict[str, Any]:
    """Return the Kaplan-Meier summary of the days until the overall rung first reaches ``rung``.

    Runs that never get there are censored at their end day. The full curve is left out
    (it can be rebuilt from ``runs.parquet``); the share reaching the rung by the horizon
    is ``1 - S(horizon)``, with its Greenwood standard error.
    """
    durations, observed = reach_times(spec, runs, rung)
    return _time_to_rung(spec, rung, durations, observed)


def _time_to_rung(
    spec: SpecLike, rung: int, durations: np.ndarray, observed: np.ndarray
) -> dict[str, Any]:
    """Return :func:`time_to_rung`'s summary from the durations and which were observed."""
    # Not stats.kaplan_meier: its curve as Python lists (a point per run, reach days being
    # fractional) raised the peak memory of a large ensemble's summary.
    km = stats.km_point_summary(durations, observed, float(spec.days))
    reached = 1.0 - km["survival_at"]
    return {
        "rung": rung,
        "name": spec.rung_names[rung],
        "n": km["n"],
        "events": km["events"],
        "censored": km["n"] - km["events"],
        "median": km["median"],
        "median_ci95": km["median_ci95"],
        "p_by_end": reached,
        "p_by_end_se": greenwood_se(durations, observed, float(spec.days)),
    }


def greenwood_se(durations: np.ndarray, observed: np.ndarray, t: float) -> float:
    """Return Greenwood's standard error of the Kaplan-Meier survival S(t).

    ``Var S(t) = S(t)^2 * sum over event times u <= t of d_u / (r_u (r_u - d_u))``, with
    ``d_u`` events at ``u`` and ``r_u`` runs still at risk; scipy computes the same
    variance for its confidence bands but does not expose it. NaN without data; 0 where
    S(t) is 0 or 1 with no uncertainty left.
    """
    t_all = np.asarray(durations, dtype=float)
    obs = np.asarray(observed, dtype=bool)
    if t_all.size == 0:
        return math.nan
    times, events = np.unique(t_all[obs & (t_all <= t)], return_counts=True)
    at_risk = (t_all.size - np.searchsorted(np.sort(t_all), times, side="left")).astype(float)
    surv = float(np.prod(1.0 - events / at_risk)) if times.size else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = events / (at_risk * (at_risk - events))
    total = float(np.sum(terms[np.isfinite(terms)]))
    return surv * math.sqrt(total)


def time_to_rung_summary(spec: SpecLike, runs: RunsLike) -> dict[str, dict[str, Any]]:
    """Return :func:`time_to_rung` for every rung above the bottom one, keyed by rung index.

    One pass from the top rung down reads each first-day column once: the first day at or
    above rung k is the earlier of rung k's own and the one at or above k + 1.
    """
    end = column(runs, "end_day", float)
    firsts = np.full(len(runs), np.nan)
    out = {}
    for rung in range(len(spec.rung_names) - 1, 0, -1):
        firsts = np.fmin(firsts, column(runs, columns.reach(rung), float))
        observed = ~np.isnan(firsts)
        out[rung] = _time_to_rung(spec, rung, np.where(observed, firsts, end), observed)
    return {str(k): out[k] for k in sorted(out)}


def mean_block(spec: SpecLike, runs: RunsLike, section: Section) -> dict[str, dict[str, Any]]:
    """Return each measure of a section (the cost of each actor ...): mean, SE, 95% CI, SD."""
    out = {}
    for measure in section.measures(spec):
        m = stats.mean_se(measure.values(runs))
        out[str(measure.key)] = {k: m[k] for k in ("mean", "se", "ci95", "sd")}
    return out


def lever_summary(
    spec: SpecLike,
    tally: Tally,
    n: int,
    names: Mapping[tuple[str, str], str],
    top: int = TOP_LEVERS,
) -> dict[str, list[dict[str, Any]]]:
    """Return, per actor, its most used levers: share of runs using them and mean uses, with SEs."""
    out: dict[str, list[dict[str, Any]]] = {actor: [] for actor in spec.actor_ids}
    for (actor, lever), runs_used in tally.lever_runs.items():
        uses = tally.lever_uses[(actor, lever)]
        share = stats.proportion(runs_used, n)
        out.setdefault(actor, []).append(
            {
                "lever": lever,
                "name": names.get((actor, lever), lever),
                "runs_used": int(runs_used),
                "share_runs": share["p"],
                "share_runs_se": share["se"],
                "mean_uses": uses / n if n else math.nan,
                "mean_uses_se": _se_from_sums(uses, tally.lever_sq[(actor, lever)], n),
            }
        )
    for actor, rows in out.items():
        rows.sort(key=lambda r: (-r["runs_used"], -r["mean_uses"], r["lever"]))
        out[actor] = rows[:top]
    return out


def _se_from_sums(total: float, squares: float, n: int) -> float:
    """Return the standard error of a mean from the sum and the sum of squares of n values."""
    if n < 2:
        return math.nan
    mean = total / n
    var = max(squares - n * mean * mean, 0.0) / (n - 1)  # Round-off can dip below 0.
    return math.sqrt(var / n)


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
