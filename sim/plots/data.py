"""What the ensemble figures and the report are drawn from, and the quantities they show.

:func:`load` takes a :class:`~sim.experiments.ensemble.Results` (what ``sim.run`` returns)
or the path of a results folder and gives an :class:`Ensemble`: the summary, the runs
table, the manifest when there is one, and the moves and trajectories read when first asked
for (trajectories memory-mapped). The functions below it derive what a figure draws --
daily rung quantiles, Kaplan-Meier curves, lever use -- with numpy and pandas only, so the
tests can check a figure against the same numbers computed independently.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import columns, stats
from sim.analysis.summary import daily_quantiles, reach_times
from sim.engine.spec import Direction
from sim.errors import UsageError
from sim.results import store
from sim.results.files import MANIFEST, MOVES, RUNS, SUMMARY

#: Replications read at a time when trajectories are reduced (bounds memory on big runs).
TRAJECTORY_BLOCK = 4096

#: The lever directions in the order the lever heat map lists them (the engine's order).
DIRECTIONS = tuple(d.word for d in Direction)


@dataclass(frozen=True, slots=True)
class Lever:
    """A lever an actor has: who, which, its display name, direction and rung."""

    actor: str
    id: str
    name: str
    direction: str
    rung: int


@dataclass(frozen=True, slots=True)
class ScheduledEvent:
    """An exogenous event fixed to a calendar date."""

    date: dt.date
    name: str


class Ensemble:
    """One ensemble's results, as the figures and the report read them.

    Build it with :func:`load`. ``manifest`` and ``path`` are None for results kept in
    memory (``sim.run(..., out=None)``).
    """

    def __init__(
        self,
        *,
        summary: dict[str, Any],
        runs: pd.DataFrame,
        dyads: Sequence[tuple[str, str]],
        levers: Sequence[Lever],
        events: Sequence[ScheduledEvent] = (),
        manifest: dict[str, Any] | None = None,
        path: Path | None = None,
        status: str = "complete",
        moves: pd.DataFrame | None = None,
        trajectories: np.ndarray | None = None,
    ) -> None:
        self.summary = summary
        self.runs = runs
        self.dyads: list[tuple[str, str]] = [(d[0], d[1]) for d in dyads]
        self.levers = list(levers)
        self.events = list(events)
        self.manifest = manifest
        self.path = path
        self.status = status
        self._moves = moves
        self._trajectories = trajectories

    # --- what the summary says ---------------------------------------------------------------

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        return str(self.summary["scenario"])

    @property
    def title(self) -> str:
        """The scenario's title, or its name when it has none."""
        return str(self.summary.get("title") or self.scenario)

    @property
    def n_runs(self) -> int:
        """The number of completed replications."""
        return int(self.summary["runs"])

    @property
    def runs_requested(self) -> int:
        """The number of replications asked for (more than completed if the run was cut short)."""
        if self.manifest is not None:
            return int(self.manifest.get("runs", self.n_runs))
        return self.n_runs

    @property
    def failed(self) -> int:
        """The number of replications that raised an error (left out of every statistic)."""
        return int((self.summary.get("failures") or {}).get("count") or 0)

    @property
    def seed(self) -> int:
        """The root seed."""
        return int(self.summary["seed"])

    @property
    def rungs(self) -> list[str]:
        """The escalation ladder, bottom rung first."""
        return list(self.summary["rungs"])

    @property
    def actors(self) -> dict[str, str]:
        """Actor display names by id, in the scenario's order."""
        return dict(self.summary["actors"])

    @property
    def start(self) -> dt.date:
        """The calendar date of day 0."""
        return dt.date.fromisoformat(self.summary["start"])

    @property
    def horizon_days(self) -> int:
        """The number of simulated days after the start date."""
        return int(self.summary["horizon_days"])

    @property
    def end(self) -> dt.date:
        """The last simulated calendar date."""
        return self.start + dt.timedelta(days=self.horizon_days)

    @property
    def watch_rung(self) -> int:
        """The first military rung, which the summary times."""
        return int(self.summary["watch_rung"])

    @property
    def cost_unit(self) -> str:
        """The unit of the actors' costs, in full."""
        return str(self.summary.get("cost_unit") or "cost units")

    @property
    def cost_unit_short(self) -> str:
        """The unit of the actors' costs without its parenthesised definition."""
        return self.cost_unit.split(" (", 1)[0]

    @property
    def parameters(self) -> dict[str, Any] | None:
        """The resolved scenario, as the manifest recorded it (None for in-memory results)."""
        return None if self.manifest is None else self.manifest.get("parameters")

    def rung_label(self, rung: int) -> str:
        """Return ``"5 military signalling"`` for rung 5."""
        return f"{rung} {self.rungs[rung]}"

    def dyad_label(self, dyad: tuple[str, str]) -> str:
        """Return a dyad as display names, e.g. ``"China - Japan"``."""
        names = self.actors
        return f"{names.get(dyad[0], dyad[0])} \N{EN DASH} {names.get(dyad[1], dyad[1])}"

    def dates(self, days: np.ndarray | Sequence[float]) -> np.ndarray:
        """Return day offsets (fractions allowed) as ``datetime64[s]`` calendar times."""
        seconds = np.round(np.asarray(days, dtype=float) * 86_400).astype("timedelta64[s]")
        return np.datetime64(self.start, "s") + seconds

    # --- the big tables, read when first asked for --------------------------------------------

    @property
    def trajectories(self) -> np.ndarray:
        """Daily rung per replication and dyad, int8, shape ``(runs, dyads, days + 1)``."""
        if self._trajectories is None:
            self._trajectories = store.read_trajectories(self._require_path())
        return self._trajectories

    @cached_property
    def lever_uses(self) -> pd.DataFrame:
        """Uses per replication of every (actor, lever) that was used: index, actor, lever, uses."""
        columns = ["index", "actor", "lever"]
        if self._moves is not None:
            moves = self._moves[columns]
        else:
            moves = pd.read_parquet(self._require_path() / MOVES, columns=columns)
        counts = moves.groupby(columns, observed=True).size()
        return counts.rename("uses").reset_index()

    def _require_path(self) -> Path:
        if self.path is None:
            raise UsageError("these results were kept in memory and hold no folder to read from")
        return self.path

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"Ensemble({self.scenario!r}, runs={self.n_runs}, seed={self.seed}{where})"


# --- loading ----------------------------------------------------------------------------------


def load(results: Any) -> Ensemble:
    """Return the :class:`Ensemble` of a Results object, a results folder path, or an Ensemble.

    Raises:
        UsageError: if ``results`` is none of these, or the folder is not a readable
            ensemble results folder.
    """
    if isinstance(results, Ensemble):
        return results
    if isinstance(results, str | os.PathLike):
        return from_folder(Path(results))
    if hasattr(results, "summary") and hasattr(results, "spec"):
        if getattr(results, "path", None) is not None:
            return from_folder(Path(results.path))
        return from_memory(results)
    raise UsageError(
        f"expected a Results object (what sim.run returns) or a results folder path, "
        f"got {type(results).__name__}"
    )


def from_folder(folder: Path) -> Ensemble:
    """Read an ensemble's results folder (see :mod:`sim.results.store`)."""
    manifest = read_manifest(folder)
    kind = manifest.get("kind", "ensemble")
    if kind != "ensemble":
        raise UsageError(f"{folder} holds {kind} results, not an ensemble")
    for name in (SUMMARY, RUNS):
        if not (folder / name).is_file():
            status = manifest.get("status", "unknown")
            raise UsageError(f"{folder}: {name} is missing (run status: {status}); nothing to show")
    summary = store.read_summary(folder)
    if not summary.get("runs"):
        raise UsageError(f"{folder}: no replication completed, so there is nothing to show")
    parameters = manifest.get("parameters") or {}
    traj = manifest.get("files", {}).get("trajectories", {})
    return Ensemble(
        summary=summary,
        runs=store.read_runs(folder),
        dyads=[tuple(d) for d in traj.get("dyads", [])],
        levers=levers_from_parameters(parameters),
        events=events_from_parameters(parameters),
        manifest=manifest,
        path=folder,
        status=str(manifest.get("status", "complete")),
    )


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read a results folder's manifest, with a message that says what is wrong if it can't.

    Raises:
        UsageError: if the folder does not exist or has no manifest.
    """
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such results folder")
    if not (folder / MANIFEST).is_file():
        inner = sorted(p.parent for p in folder.glob(f"*/{MANIFEST}"))
        hint = f"; it holds results folders, the latest is {inner[-1]}" if inner else ""
        raise UsageError(
            f"{folder}: no {MANIFEST}, so not a results folder "
            f"(or a run that died before writing it){hint}"
        )
    return store.read_manifest(folder)


def from_memory(results: Any) -> Ensemble:
    """Wrap the in-memory results of ``sim.run(..., out=None)``, reading names from its spec."""
    spec = results.spec
    actor_ids = spec.actor_ids
    levers = [
        Lever(actor_ids[lv.actor], lv.id, lv.name, Direction(lv.direction).word, lv.rung)
        for lv in spec.levers
    ]
    events = [
        ScheduledEvent(spec.start + dt.timedelta(days=int(e.day)), e.name or e.id)
        for e in spec.events
        if e.scheduled
    ]
    return Ensemble(
        summary=results.summary,
        runs=results.runs,
        dyads=spec.dyad_ids,
        levers=levers,
        events=events,
        status=results.status,
        moves=results.moves,
        trajectories=results.trajectories,
    )


def levers_from_parameters(parameters: dict[str, Any]) -> list[Lever]:
    """Return every actor's levers from the scenario recorded in a manifest."""
    return [
        Lever(actor["id"], lv["id"], lv.get("name") or lv["id"], lv["direction"], int(lv["rung"]))
        for actor in parameters.get("actors", [])
        for lv in actor.get("levers", [])
    ]


def events_from_parameters(parameters: dict[str, Any]) -> list[ScheduledEvent]:
    """Return the scheduled events (those with a date) of the scenario recorded in a manifest."""
    return [
        ScheduledEvent(dt.date.fromisoformat(e["date"]), e.get("name") or e["id"])
        for e in parameters.get("events", [])
        if e.get("kind") == "scheduled" and e.get("date")
    ]


# --- daily rungs ------------------------------------------------------------------------------


def rung_counts(trajectories: np.ndarray, n_rungs: int, dyad: int | None = None) -> np.ndarray:
    """Count replications per day and rung: a ``(days + 1, n_rungs)`` table.

    ``dyad=None`` counts the overall rung (the highest over dyads), as the summary does.
    The trajectories are read in blocks, so a memory-mapped file is never loaded whole.
    """
    n_days = trajectories.shape[2]
    counts = np.zeros(n_days * n_rungs, dtype=np.int64)
    offsets = np.arange(n_days) * n_rungs
    for first in range(0, trajectories.shape[0], TRAJECTORY_BLOCK):
        block = np.asarray(trajectories[first : first + TRAJECTORY_BLOCK])
        rungs = block.max(axis=1) if dyad is None else block[:, dyad, :]
        counts += np.bincount((rungs.astype(np.int64) + offsets).ravel(), minlength=counts.size)
    return counts.reshape(n_days, n_rungs)


def daily_rungs(ens: Ensemble, dyad: int | None = None) -> np.ndarray:
    """Return the :func:`rung_counts` of the overall rung (``dyad=None``) or of one dyad's rung."""
    return rung_counts(ens.trajectories, len(ens.rungs), dyad)


def rung_quantiles(counts: np.ndarray) -> dict[str, list[Any]]:
    """Return the daily quantiles of a :func:`daily_rungs` table.

    The keys are those of the summary's ``daily_rung_quantiles``: ``day``, ``q05`` ... ``q95``
    and ``mean``; rungs are ordinal, so each quantile is a rung.
    """
    return daily_quantiles(counts)


# --- time to a rung ---------------------------------------------------------------------------


def time_to_rung(ens: Ensemble, rung: int) -> dict[str, Any]:
    """Return the Kaplan-Meier estimate of the days until the overall rung first reaches ``rung``.

    The times come from the runs table's ``first_day_rung_<k>`` columns (the earliest at or
    above ``rung``); runs that never get there are censored at their ``end_day``.
    """
    durations, observed = reach_times(SimpleNamespace(rung_names=ens.rungs), ens.runs, rung)
    return stats.kaplan_meier(durations, observed)


def untimed(ens: Ensemble, rung: int) -> str | None:
    """Return why a rung's time-to-rung curve would show nothing, or None if it shows something.

    Its curve is flat when no run reached the rung, and when every run was at it on day 0.
    """
    durations, observed = reach_times(SimpleNamespace(rung_names=ens.rungs), ens.runs, rung)
    if not observed.any():
        return "reached in no run"
    if observed.all() and not durations.any():
        return "reached on the first day in every run"
    return None


def at_bottom(ens: Ensemble, counts: np.ndarray) -> str | None:
    """Return why a fan chart of a :func:`rung_counts` table would show nothing, or None.

    Its bands and median lie flat on the bottom rung when no run ever left it.
    """
    if counts[:, 1:].any():
        return None
    return f"at {ens.rung_label(0)} on every day of every run"


# --- levers and costs -------------------------------------------------------------------------


def lever_use(ens: Ensemble, value: str = "share") -> pd.DataFrame:
    """Return a lever x actor table of lever use; NaN where the actor does not have the lever.

    ``value="share"`` gives the share of runs in which the actor used the lever at least once
    (against anyone), ``"mean_uses"`` its mean uses per run. Rows are lever ids, ordered by
    direction (escalation first) and then by rung; columns are actor ids in scenario order.
    """
    if value not in ("share", "mean_uses"):
        raise UsageError(f"lever use value must be 'share' or 'mean_uses', not {value!r}")
    uses = ens.lever_uses
    if value == "share":
        totals = uses.groupby(["actor", "lever"]).size()
    else:
        totals = uses.groupby(["actor", "lever"])["uses"].sum()
    n = ens.n_runs
    rows = lever_order(ens.levers)
    table = pd.DataFrame(np.nan, index=pd.Index(rows, name="lever"), columns=list(ens.actors))
    for lv in ens.levers:
        used = totals.get((lv.actor, lv.id), 0)
        table.loc[lv.id, lv.actor] = used / n if n else math.nan
    return table


def lever_order(levers: Sequence[Lever]) -> list[str]:
    """Return lever ids without repeats, by direction (escalation first), lowest rung, then id."""
    key: dict[str, tuple[int, int, str]] = {}
    for lv in levers:
        rank = DIRECTIONS.index(lv.direction) if lv.direction in DIRECTIONS else len(DIRECTIONS)
        k = (rank, lv.rung, lv.id)
        key[lv.id] = min(key.get(lv.id, k), k)
    return sorted(key, key=lambda lever: key[lever])


def lever_label(levers: Sequence[Lever], lever: str) -> str:
    """Return a lever's display name; its id, spaced, when actors name it differently."""
    names = {lv.name for lv in levers if lv.id == lever}
    return names.pop() if len(names) == 1 else lever.replace("_", " ")


def costs(ens: Ensemble, actor: str) -> np.ndarray:
    """Return one actor's cost in every run (in :attr:`Ensemble.cost_unit`)."""
    return ens.runs[columns.cost(actor)].to_numpy(dtype=float)


def costless(ens: Ensemble, actor: str) -> str | None:
    """Return why an actor's cost histogram would show nothing (no cost in any run), or None."""
    return None if costs(ens, actor).any() else "no cost in any run"
