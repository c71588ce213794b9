"""Timelines: a dated record of real moves, read, checked and sorted into kinds of move.

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
:data:`JOINT_WINDOW_DAYS` counting once (:func:`joint_count`). Rows naming an actor the
scenario lacks, or dated outside its horizon, are out of scope and listed, not scored; rows
no lever of the scenario can produce are listed as unmodelled. The backtest
(:mod:`sim.analysis.backtest`) and the calibration's statistics
(:mod:`sim.analysis.calibration`) both read the record through here.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import SimError, SimWarning, UsageError

#: Columns a timeline must have; ``magnitude`` and ``source`` are optional context.
REQUIRED_COLUMNS = ("date", "actor", "target", "move", "cameo_code", "goldstein")

#: Two mirror halves of a joint move (A->B and B->A, same code) within this many days are
#: one joint move: the engine lets each side play its half on its own clock.
JOINT_WINDOW_DAYS = 7.0


class TimelineError(SimError):
    """A timeline file that cannot be read as a dated record of moves."""


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
    kinds: dict[Kind, Observed] = {}
    unmodelled: dict[Kind, Observed] = {}
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


def record_window(rows: Sequence[Row], spec: Any, until: dt.date | None = None) -> int:
    """The last day a backtest scores: ``until``, else the record's last date, within the horizon.

    A record is complete only up to its last row: what the ensemble does after it cannot be
    held against the record (the Nov 7-25 record of a scenario that runs to April). An
    ``until`` before the scenario starts scores nothing and is refused; one past its end is
    the end, with a warning.
    """
    if until is not None:
        _check_until(until, spec)
    last = until if until is not None else max((r.date for r in rows), default=None)
    if last is None:
        return spec.days
    return max(0, min(spec.days, (last - spec.start).days))


def _check_until(until: dt.date, spec: Any) -> None:
    """Refuse an ``until`` before the scenario's start; warn of one past its end."""
    end = spec.start + dt.timedelta(days=spec.days)
    if until < spec.start:
        raise UsageError(
            f"the last day to score (until) is {until}, before the scenario starts on "
            f"{spec.start}: give a date from {spec.start} to {end}"
        )
    if until > end:
        warnings.warn(
            f"the last day to score (until) is {until}, past the scenario's end: scoring "
            f"to its end, {end}",
            SimWarning,
            stacklevel=3,
        )
