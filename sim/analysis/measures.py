"""Measures: the numbers per run that statistics are taken over, declared once.

A :class:`Measure` reads columns of the runs table (:mod:`sim.analysis.columns`) and gives
one number per run: a share (1 when the run has it, else 0, summarised by a proportion with
its Wilson interval) or a quantity (summarised by its mean with a standard error). Measures
come in :class:`Section` s, one per key of a summary: the outcome classes, the peak rung,
the costs... :data:`SECTIONS` lists them, and each says which of the three readers of the
runs table reports it:

- ``summary``: an ensemble's ``summary.json`` gives each of its measures' mean, SE, 95%
  interval and SD (sections with a bespoke block of their own -- the outcome shares, the
  distribution of the peak rung -- say False and are built in :mod:`sim.analysis.summary`);
- ``paired``: a comparison on common random numbers pairs each measure of both arms
  (:mod:`sim.analysis.paired`);
- ``points``: a sweep's points table reports each measure at each point, and a sweep may
  name it as an outcome of interest (:mod:`sim.analysis.points`).

A new statistic over the runs is one more :class:`Section` (and, if it needs a column the
table lacks, one more family in :mod:`sim.analysis.columns`): the summary, the comparison,
the sweep and their tables (:mod:`sim.present`) pick it up from here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sim.analysis import columns


@dataclass(frozen=True)
class Measure:
    """One number per run, read from columns of the runs table.

    ``name`` is how a sweep's outcomes of interest name it (``war``, ``peak>=3``,
    ``peak_rung_mean``, ``cost_USA_mean``), ``label`` how its tables and figures call it,
    ``stem`` the start of its columns in a sweep's points table, and ``about`` what a
    comparison says of it besides the numbers (``{"label": ...}``, ``{"name": ...}``).
    """

    section: str
    key: str | None
    name: str
    label: str
    stem: str
    columns: tuple[str, ...]
    per_run: Callable[..., Any]
    share: bool = False
    unit: str = ""
    about: Mapping[str, Any] = field(default_factory=dict)
    quantiles: tuple[float, ...] = ()

    def values(self, runs: Any) -> np.ndarray:
        """Return the measure of every run of a runs table (a DataFrame or its columns)."""
        return np.asarray(self.per_run(*(runs[c] for c in self.columns)), dtype=float)

    def available(self, runs: Any) -> bool:
        """Whether a runs table has the columns this measure reads (old tables may not)."""
        return all(c in runs for c in self.columns)

    @property
    def point_column(self) -> str:
        """The points-table column of the measure: the share, or the mean."""
        return self.stem if self.share else f"{self.stem}_mean"

    @property
    def column(self) -> str:
        """The points-table column (the name a sweep's ``Metric`` gave it; kept for old code)."""
        return self.point_column

    @property
    def probability(self) -> bool:
        """Whether the measure is a share (a sweep's ``Metric.probability``; kept for old code)."""
        return self.share

    @property
    def point_bounds(self) -> tuple[str, str]:
        """The points-table columns of a share's 95% Wilson interval."""
        return f"{self.stem}_lo", f"{self.stem}_hi"

    @property
    def point_se(self) -> str:
        """The points-table column of a mean's standard error."""
        return f"{self.stem}_se"


@dataclass(frozen=True)
class Section:
    """The measures of one key of a summary, and which readers report them (see the module).

    ``union``: a comparison pairs the measures of either arm (an outcome class only the
    variant has); otherwise those of both.
    """

    key: str
    title: str
    measures: Callable[[Any], list[Measure]]
    summary: bool = False
    paired: bool = False
    points: bool = False
    union: bool = False


# --- the measures of each section -------------------------------------------------------------


def _names(spec: Any) -> Mapping[str, str]:
    return dict(getattr(spec, "actor_names", {}))


def _is(value: str) -> Callable[[Any], np.ndarray]:
    return lambda column: np.asarray(column, dtype=object) == value


def _number(column: Any) -> np.ndarray:
    return np.asarray(column, dtype=float)


def outcome_measures(spec: Any) -> list[Measure]:
    """The share of runs ending in each outcome class, in the spec's order."""
    labels = dict(spec.outcome_labels)
    out = []
    for oid in spec.outcome_ids:
        label = labels.get(oid, oid)
        out.append(
            Measure("outcomes", oid, oid, f"P({labels.get(oid) or oid})", f"p_{oid}",
                    ("outcome",), _is(oid), share=True, unit="probability",
                    about={"label": label})
        )  # fmt: skip
    return out


def peak_share_measures(spec: Any) -> list[Measure]:
    """The share of runs whose peak rung is at least each rung above the bottom one."""
    out = []
    for k in range(1, len(spec.rung_names)):
        label = f"P(peak rung >= {k}, {spec.rung_names[k]})"
        out.append(
            Measure("peak_at_least", str(k), f"peak>={k}", label, f"p_peak_ge_{k}",
                    ("peak_rung",), lambda peak, k=k: np.asarray(peak, dtype=int) >= k,
                    share=True, unit="probability")
        )  # fmt: skip
    return out


def peak_measures(spec: Any) -> list[Measure]:
    """The peak rung of a run (its mean, SE and a few quantiles)."""
    return [
        Measure("peak_rung", None, "peak_rung_mean", "mean peak rung", "peak_rung",
                ("peak_rung",), _number, unit="rung", quantiles=(0.05, 0.5, 0.95))
    ]  # fmt: skip


def per_actor(
    spec: Any, section: str, column: Callable[[str], str], what: str, unit: str
) -> list[Measure]:
    """One mean per actor of a per-actor column (``cost_<A>``, ``moves_<A>``): ``<column>_mean``."""
    names = _names(spec)
    return [
        Measure(section, a, f"{column(a)}_mean", f"mean {what} of {a}", column(a), (column(a),),
                _number, unit=unit, about={"name": names.get(a, a)})
        for a in spec.actor_ids
    ]  # fmt: skip


def cost_measures(spec: Any) -> list[Measure]:
    """Each actor's cost over a run."""
    return per_actor(spec, "costs", columns.cost, "cost", "cost")


def move_measures(spec: Any) -> list[Measure]:
    """The number of moves each actor made in a run (its policy's and its events')."""
    return per_actor(spec, "moves", columns.moves, "moves", "moves")


#: How a comparison names the total of each move-based scoring profile.
SCORE_NAMES = {"goldstein": "Goldstein total", "rivera": "Rivera et al. 2024 total"}


def score_measures(spec: Any) -> list[Measure]:
    """The total of each move-based scoring profile over a run."""
    return [
        Measure("scores", p, f"{columns.score(p)}_mean", f"mean {SCORE_NAMES[p]}",
                columns.score(p), (columns.score(p),), _number, unit="score",
                about={"name": SCORE_NAMES[p]})
        for p in columns.MOVE_PROFILES
    ]  # fmt: skip


#: Every section, in the order summaries and tables list them.
SECTIONS: tuple[Section, ...] = (
    Section("outcomes", "Outcome", outcome_measures, paired=True, points=True, union=True),
    Section("peak_at_least", "Peak rung at least", peak_share_measures, points=True),
    Section("peak_rung", "Mean peak rung", peak_measures, paired=True, points=True),
    Section("costs", "Mean cost", cost_measures, summary=True, paired=True, points=True),
    Section("scores", "Escalation score per run", score_measures, paired=True),
    Section("moves", "Moves per actor", move_measures, summary=True, paired=True, points=True),
)


def sections(reader: str) -> list[Section]:
    """The sections a reader reports: ``"summary"``, ``"paired"`` or ``"points"``."""
    return [s for s in SECTIONS if getattr(s, reader)]


def measures(spec: Any, reader: str) -> list[Measure]:
    """Every measure a reader reports for a spec, section by section."""
    return [m for s in sections(reader) for m in s.measures(spec)]


def paired_measures(section: Section, specs: Sequence[Any]) -> list[Measure]:
    """The measures of a section that a comparison of two specs pairs: of both, or of either.

    The base's measure is kept where both have one (its label, its actor's name).
    """
    base, variant = (section.measures(s) for s in specs)
    keys = {m.key for m in variant}
    if section.union:
        seen = {m.key for m in base}
        return [*base, *(m for m in variant if m.key not in seen)]
    return [m for m in base if m.key in keys]


# --- naming a measure, as a sweep's outcome of interest ---------------------------------------

_PEAK = re.compile(r"^peak\s*>=\s*(\d+)$")


def find(name: str, spec: Any) -> Measure | None:
    """Return the points measure a name stands for (``peak >= 3`` as ``peak>=3``), or None.

    The measure keeps the name as given, which is how the sweep's tables then show it.
    """
    peak = _PEAK.match(name.strip())
    wanted = f"peak>={int(peak.group(1))}" if peak else name
    found = next((m for m in measures(spec, "points") if m.name == wanted), None)
    return None if found is None else replace(found, name=name)
