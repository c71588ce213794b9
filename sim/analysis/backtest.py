"""Backtests: hold a scenario's predictive distribution against a dated record of real moves.

A timeline is a CSV file with one row per observed move (the columns of
``shared/domain/timeline-2025-to-nov6.csv``: ``date, actor, target, move, cameo_code,
goldstein``, optionally ``magnitude`` and ``source``). Each row becomes one or more
observations of a *kind of move*:

- a directed kind ``A->B CODE``: actor ``A`` made a move with CAMEO code ``CODE`` on ``B``;
- a joint kind ``A<->B CODE``: a row whose actors and targets are the same two actors
  (``USA;CHN`` on ``CHN;USA``: a joint statement, a call, a summit). Directed rows of the
  same pair and code fold into the joint kind, since the record then treats that code as
  joint. Other multi-actor rows (``USA;JPN`` on ``CHN``) count once per actor and target.

The mapping to the scenario is explicit and needs no extra configuration: a simulated move
is of kind ``A->B CODE`` when its actor is ``A``, its target ``B`` and its lever's
``cameo`` is exactly ``CODE`` (so ``0354`` is not ``035``). A simulated joint move is a
move of the code between the pair in either direction, two mirror halves within
:data:`JOINT_WINDOW_DAYS` counting once. Rows naming an actor the scenario lacks, or dated
outside its horizon, are out of scope and listed, not scored; rows no lever of the scenario
can produce are listed as unmodelled (the ensemble gives them probability zero).

For every observed kind the backtest compares two numbers with the ensemble of ``N`` runs:
the first date the kind occurs and the number of times it occurs within the horizon. Runs
that never make the move have their first date censored: it is replaced by the day after
the horizon, ``H + 1``. Because every observed first date lies within the horizon, a
censored run is known to come after it, so the probability integral transform (PIT) is
exact, and the continuous ranked probability score (CRPS) is that of the censored variable
``min(first day, H + 1)``, which is still a proper score. Days and counts are integers, so
the PIT is randomized (the observation's rank among the ensemble, ties broken uniformly at
random: Czado, Gneiting and Held 2009), which makes it exactly uniform when the record is
drawn from the model's own distribution. The CRPS is the ensemble estimator of
``properscoring.crps_ensemble`` (Gneiting and Raftery 2007): ``mean|X - y| - mean|X - X'| / 2``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import SimError

#: Columns a timeline must have; ``magnitude`` and ``source`` are optional context.
REQUIRED_COLUMNS = ("date", "actor", "target", "move", "cameo_code", "goldstein")

#: Two mirror halves of a joint move (A->B and B->A, same code) within this many days are
#: one joint move: the engine lets each side play its half on its own clock.
JOINT_WINDOW_DAYS = 7.0

#: Central intervals whose coverage is reported.
LEVELS = (0.5, 0.9)

#: Spawn key of the generator that breaks ties in the randomized PIT ("PIT" in ASCII).
_PIT_STREAM = 0x504954


class TimelineError(SimError):
    """A timeline file that cannot be read as a dated record of moves."""


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


# --- the timeline -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a timeline, checked."""

    line: int
    date: dt.date
    actors: tuple[str, ...]
    targets: tuple[str, ...]
    move: str
    cameo: str
    goldstein: float


@dataclass(frozen=True, slots=True, order=True)
class Kind:
    """A kind of move: who (``actor``) does what (CAMEO ``cameo``) to whom (``target``).

    A joint kind has its two actors in alphabetical order and no direction.
    """

    actor: str
    target: str
    cameo: str
    joint: bool = False

    @property
    def label(self) -> str:
        """``USA->CHN 163`` or ``CHN<->USA 057``."""
        arrow = "<->" if self.joint else "->"
        return f"{self.actor}{arrow}{self.target} {self.cameo}"


def read_timeline(path: str | os.PathLike[str]) -> list[Row]:
    """Read and check a timeline CSV; raise :class:`TimelineError` naming file, line and field."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                found = ", ".join(reader.fieldnames or []) or "none"
                raise TimelineError(
                    f"{path}:1: missing column(s) {', '.join(missing)}; a timeline needs "
                    f"{', '.join(REQUIRED_COLUMNS)} (found: {found})"
                )
            rows = [_row(path, reader.line_num, raw) for raw in reader]
    except OSError as exc:
        raise TimelineError(f"{path}: cannot read the timeline: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TimelineError(f"{path}: not a UTF-8 CSV file: {exc}") from None
    if not rows:
        raise TimelineError(f"{path}: the timeline has no rows")
    return rows


def _row(path: Path, line: int, raw: Mapping[str, str | None]) -> Row:
    """Check one CSV record."""

    def fail(column: str, expected: str) -> TimelineError:
        value = raw.get(column)
        return TimelineError(f"{path}:{line}: {column} '{value or ''}': expected {expected}")

    text = {c: (raw.get(c) or "").strip() for c in REQUIRED_COLUMNS}
    try:
        date = dt.date.fromisoformat(text["date"])
    except ValueError:
        raise fail("date", "a date as YYYY-MM-DD") from None
    actors, targets = _ids(text["actor"]), _ids(text["target"])
    if not actors:
        raise fail("actor", "an actor id, or ids joined by ';'")
    if not targets:
        raise fail("target", "an actor id, or ids joined by ';'")
    cameo = text["cameo_code"]
    if not (cameo.isdigit() and 2 <= len(cameo) <= 4):
        raise fail("cameo_code", "a CAMEO code of two to four digits, e.g. 163 or 0354")
    try:
        goldstein = float(text["goldstein"])
    except ValueError:
        raise fail("goldstein", "a number from -10 to 10") from None
    if not -10.0 <= goldstein <= 10.0:
        raise fail("goldstein", "a number from -10 to 10")
    return Row(line, date, actors, targets, text["move"], cameo, goldstein)


def _ids(text: str) -> tuple[str, ...]:
    """Split ``USA;CHN`` into actor ids."""
    return tuple(part.strip() for part in text.split(";") if part.strip())


def row_kinds(row: Row) -> list[Kind]:
    """Return the kinds of move one row observes (one joint kind, or directed ones)."""
    actors, targets = row.actors, row.targets
    if len(set(actors)) == 2 and set(actors) == set(targets):
        a, b = sorted(set(actors))
        return [Kind(a, b, row.cameo, joint=True)]
    return [Kind(a, t, row.cameo) for a in dict.fromkeys(actors) for t in targets if a != t]


# --- the observations, resolved against a scenario ----------------------------------------------


@dataclass(slots=True)
class Observed:
    """What the record shows of one kind of move within the horizon."""

    kind: Kind
    dates: list[dt.date] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    levers: list[str] = field(default_factory=list)  # ACTOR.lever ids that produce it

    @property
    def first(self) -> dt.date:
        """The first observed date."""
        return min(self.dates)

    @property
    def count(self) -> int:
        """The number of observations."""
        return len(self.dates)


@dataclass(slots=True)
class Observations:
    """A timeline sorted against a scenario: scored kinds, and what cannot be scored."""

    kinds: dict[Kind, Observed]
    unmodelled: dict[Kind, Observed]
    outside_actors: list[Row]
    outside_window: list[Row]


def observe(rows: Sequence[Row], spec: Any, window: int | None = None) -> Observations:
    """Sort timeline rows into kinds of move of a compiled scenario ``spec``.

    Rows after day ``window`` (default: the horizon) are out of the scored window.
    """
    actor_ids = set(spec.actor_ids)
    end = spec.start + dt.timedelta(days=spec.days if window is None else window)
    outside_actors, outside_window, scoped = [], [], []
    for row in rows:
        if not set(row.actors) <= actor_ids or not set(row.targets) <= actor_ids:
            outside_actors.append(row)
        elif not spec.start <= row.date <= end:
            outside_window.append(row)
        else:
            scoped.append(row)
    joint_codes = {(k.actor, k.target, k.cameo) for r in scoped for k in row_kinds(r) if k.joint}
    found: dict[Kind, Observed] = {}
    for row in scoped:
        for kind in row_kinds(row):
            kind = _fold(kind, joint_codes)
            entry = found.setdefault(kind, Observed(kind))
            entry.dates.append(row.date)
            entry.lines.append(row.line)
    kinds, unmodelled = {}, {}
    for kind, entry in sorted(found.items()):
        entry.levers = matching_levers(spec, kind)
        (kinds if entry.levers else unmodelled)[kind] = entry
    return Observations(kinds, unmodelled, outside_actors, outside_window)


def _fold(kind: Kind, joint_codes: set[tuple[str, str, str]]) -> Kind:
    """A directed kind whose pair and code the record also shows jointly becomes joint."""
    if kind.joint:
        return kind
    a, b = sorted((kind.actor, kind.target))
    return Kind(a, b, kind.cameo, joint=True) if (a, b, kind.cameo) in joint_codes else kind


def matching_levers(spec: Any, kind: Kind) -> list[str]:
    """Return the ``ACTOR.lever`` ids whose moves are of this kind."""
    ids = spec.actor_ids
    directions = [(kind.actor, kind.target)]
    if kind.joint:
        directions.append((kind.target, kind.actor))
    out = []
    for actor, target in directions:
        for lever in spec.levers:
            if (
                ids[lever.actor] == actor
                and lever.cameo == kind.cameo
                and target in {ids[t] for t in lever.targets}
            ):
                out.append(f"{actor}.{lever.id}")
    return out


def scenario_kinds(spec: Any, joint: Iterable[Kind]) -> set[Kind]:
    """Return every kind of move the scenario's levers can make (joint where the record is)."""
    joint_codes = {(k.actor, k.target, k.cameo) for k in joint}
    ids = spec.actor_ids
    return {
        _fold(Kind(ids[lever.actor], ids[t], lever.cameo), joint_codes)
        for lever in spec.levers
        for t in lever.targets
    }


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


def joint_count(days: np.ndarray, forward: np.ndarray, window: float = JOINT_WINDOW_DAYS) -> int:
    """Count joint moves: mirror halves (one each way) within ``window`` days pair up.

    Halves are paired greedily in time order, each with the earliest unpaired half of the
    other direction no more than ``window`` days before it; unpaired halves count alone.
    """
    order = np.argsort(days, kind="stable")
    waiting: dict[bool, list[float]] = {True: [], False: []}
    total = 0
    for i in order:
        day, side = float(days[i]), bool(forward[i])
        others = waiting[not side]
        while others and day - others[0] > window:
            others.pop(0)
        if others:
            others.pop(0)  # the other half of a joint move already counted
        else:
            waiting[side].append(day)
            total += 1
    return total


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

    def render(self) -> str:
        """Return the backtest as plain-text tables."""
        return render_backtest(self)


def record_window(rows: Sequence[Row], spec: Any, until: dt.date | None = None) -> int:
    """The last day a backtest scores: ``until``, else the record's last date, within the horizon.

    A record is complete only up to its last row: what the ensemble does after it cannot be
    held against the record (the Nov 7-25 record of a scenario that runs to April).
    """
    last = until if until is not None else max((r.date for r in rows), default=None)
    if last is None:
        return spec.days
    return max(0, min(spec.days, (last - spec.start).days))


def backtest(
    scenario: Any,
    timeline: str | os.PathLike[str],
    runs: int = 500,
    seed: int = 0,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    progress: bool = False,
    until: dt.date | None = None,
    full_horizon: bool = False,
) -> Backtest:
    """Run ``runs`` replications of a scenario and backtest them against a timeline file.

    ``scenario`` is a name, a path or a loaded Scenario (``overrides`` apply to names and
    paths). The timeline is read and checked before anything is simulated. The scored
    window ends at ``until``, by default on the record's last date (:func:`record_window`);
    ``full_horizon`` scores the whole horizon instead.
    """
    from sim.experiments.ensemble import resolve_scenario, run_spec
    from sim.scenario import compile_scenario

    rows = read_timeline(timeline)
    loaded = resolve_scenario(scenario, overrides)
    spec = compile_scenario(loaded)
    window = spec.days if full_horizon else record_window(rows, spec, until)
    observations = observe(rows, spec, window)
    results = run_spec(loaded, spec, runs, seed, out=None, progress=progress)
    return evaluate(
        spec, observations, results.moves, runs, seed, str(timeline), loaded.title, window
    )


def evaluate(
    spec: Any,
    observations: Observations,
    moves: Any,
    runs: int,
    seed: int,
    timeline: str = "",
    title: str = "",
    window: int | None = None,
) -> Backtest:
    """Score an ensemble's moves (replications ``0 .. runs - 1``) against observations.

    Only moves up to day ``window`` (default: the horizon) count; later ones are ignored, as
    the record says nothing of them.
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


def render_backtest(bt: Backtest) -> str:
    """Return the backtest as text: header, first dates, counts, coverage, scores, misses."""
    sections = [
        _header(bt),
        _first_table(bt),
        _count_table(bt),
        _summary_text(bt),
        _unobserved_table(bt),
        _excluded_text(bt),
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(bt: Backtest) -> str:
    obs = bt.observations
    scored = sum(o.count for o in obs.kinds.values())
    return (
        f"Backtest of {bt.title or bt.scenario} ({bt.scenario}) against {bt.timeline}\n"
        f"{bt.runs:,} runs, seed {bt.seed}, scored from {bt.start.isoformat()} to "
        f"{bt.date(bt.days)} ({bt.days} days); {scored} observed moves in {len(obs.kinds)} "
        "kinds scored\n"
        "PIT: randomized rank of the record in the ensemble (0.5 = the median run); "
        "'never' = no such move by the end of the scored window"
    )


def _mark(v: Verdict, level: float) -> str:
    return "yes" if v.covered(level) else "no"


def _first_table(bt: Backtest) -> str:
    from sim.analysis.tables import pct, table

    rows = []
    for r in bt.observed:
        v = r.first
        assert v is not None
        lo50, hi50 = v.intervals[0.5]
        lo90, hi90 = v.intervals[0.9]
        rows.append(
            [
                r.kind.label,
                bt.date(v.observed),
                bt.date(v.median),
                f"{bt.date(lo50)} .. {bt.date(hi50)}",
                f"{bt.date(lo90)} .. {bt.date(hi90)}",
                pct(r.p_never, 0),
                f"{v.pit:.2f}",
                _mark(v, 0.5),
                _mark(v, 0.9),
                f"{v.crps:.1f}",
            ]
        )
    headers = [
        "First date",
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
    return table(headers, rows, right=(5, 6, 9))


def _count_table(bt: Backtest) -> str:
    from sim.analysis.tables import table

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
    return table(headers, rows, right=(1, 2, 5, 8))


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


def _unobserved_table(bt: Backtest) -> str:
    from sim.analysis.tables import pct, table

    if not bt.unobserved:
        return ""
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
    return table(headers, rows, right=(1, 2, 3, 4))


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
