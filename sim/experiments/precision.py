"""Adaptive precision: run in batches until every outcome probability is known well enough.

The stopping rule: stop when the 95% Wilson interval of every outcome class has a
half-width of at most ``target``, or when ``max_runs`` replications have run. The rule is
checked only at batch boundaries, and each boundary depends only on the outcomes of the
replications before it, so the sequence of batches is a function of the scenario and the
seed alone: a resumed run replays it and stops where an uninterrupted run would, and the
results equal those of a plain run of the same number of replications.

A data-dependent stopping rule makes the final estimates very slightly biased towards the
values that happened to stop the run early; at the precisions this is meant for (hundreds
of replications and more) the effect is far below the reported standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis import stats
from sim.errors import UsageError

#: The most replications of the first batch.
FIRST_BATCH = 1_000
#: The cap on replications when none is given.
DEFAULT_MAX_RUNS = 100_000
#: Never plan a batch that more than this multiplies the replications done so far.
MAX_GROWTH = 4.0
#: Plan a little beyond the projection, so the rule is usually met at the next boundary.
MARGIN = 1.05


@dataclass(frozen=True)
class Precision:
    """A precision target: a 95% half-width for every outcome probability, and a cap."""

    target: float
    max_runs: int = DEFAULT_MAX_RUNS
    first_batch: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.target < 0.5:
            raise UsageError(f"--precision must be between 0 and 0.5, got {self.target}")
        if self.max_runs < 1:
            raise UsageError(f"--max-runs must be at least 1, got {self.max_runs}")
        if self.first_batch is not None and self.first_batch < 1:
            raise UsageError(f"the first batch must be at least 1 run, got {self.first_batch}")

    @property
    def first(self) -> int:
        """The replications of the first batch: a quarter of what the worst case needs.

        The worst case is an outcome at p = 1/2, which needs ``z^2 / (4 h^2)`` runs; a
        quarter of that (at most :data:`FIRST_BATCH`) is enough to estimate every share
        and project the rest without overshooting a loose target.
        """
        if self.first_batch is not None:
            return self.first_batch
        worst = stats.Z95 * stats.Z95 / (4 * self.target * self.target)
        return max(1, min(FIRST_BATCH, math.ceil(worst / 4)))

    def half_widths(
        self, counts: Mapping[str, int], outcome_ids: Sequence[str]
    ) -> dict[str, float]:
        """Return the half-width of each outcome's 95% Wilson interval."""
        n = sum(counts.values())
        values = np.array([counts.get(o, 0) for o in outcome_ids])
        intervals = stats.wilson_intervals(values, n)
        return {o: float((hi - lo) / 2) for o, (lo, hi) in zip(outcome_ids, intervals, strict=True)}

    def met(self, counts: Mapping[str, int], outcome_ids: Sequence[str]) -> bool:
        """Return True when every outcome's half-width is at most the target."""
        return sum(counts.values()) > 0 and max(self.half_widths(counts, outcome_ids).values()) <= (
            self.target
        )

    def next_target(
        self, done: int, counts: Mapping[str, int], outcome_ids: Sequence[str], chunk: int
    ) -> int | None:
        """Return the replications to have run after the next batch, or None to stop.

        ``done`` replications have run and ``counts`` are the outcomes of those that
        finished. The projection inverts the half-width ``z sqrt(p (1 - p) / n)`` at each
        outcome's current estimate (shrunk towards 1/2 by the Wilson centre, so a class
        not seen yet still asks for enough runs to bound it).
        """
        if done == 0:
            return min(self.max_runs, _round_up(self.first, chunk))
        if done >= self.max_runs or self.met(counts, outcome_ids):
            return None
        finished = sum(counts.values())
        needed = max(self._runs_needed(counts.get(o, 0), finished) for o in outcome_ids)
        # Scale by done / finished: failed replications count towards the cap, not the target.
        planned = needed * MARGIN * done / max(finished, 1)
        planned = min(max(planned, done + 1), MAX_GROWTH * done)
        return min(self.max_runs, _round_up(math.ceil(planned), chunk))

    def _runs_needed(self, count: int, n: int) -> float:
        """Return the runs at which this outcome's half-width would reach the target."""
        z2 = stats.Z95 * stats.Z95
        centre = (count + z2 / 2) / (n + z2) if n else 0.5
        return z2 * centre * (1 - centre) / (self.target * self.target)

    def report(
        self,
        done: int,
        counts: Mapping[str, int],
        outcome_ids: Sequence[str],
        batches: Sequence[int],
    ) -> dict[str, Any]:
        """Return what the stopping rule achieved, for the summary."""
        widths = self.half_widths(counts, outcome_ids)
        return {
            "target": self.target,
            "max_runs": self.max_runs,
            "met": self.met(counts, outcome_ids),
            "capped": done >= self.max_runs and not self.met(counts, outcome_ids),
            "max_half_width": max(widths.values()) if widths else math.nan,
            "half_widths": widths,
            "replications": done,
            "batches": list(batches),
        }

    def to_json(self) -> dict[str, Any]:
        """Return the settings as JSON data (for the manifest)."""
        return {"target": self.target, "max_runs": self.max_runs, "first_batch": self.first}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Precision:
        """Return the settings stored by :meth:`to_json`."""
        return cls(float(data["target"]), int(data["max_runs"]), int(data["first_batch"]))


def _round_up(n: int, step: int) -> int:
    """Return ``n`` rounded up to a multiple of ``step``."""
    return -(-n // step) * step


@dataclass
class Schedule:
    """The batch boundaries of an adaptive run, replayed or grown one batch at a time."""

    precision: Precision
    outcome_ids: tuple[str, ...]
    chunk: int
    batches: list[int] = field(default_factory=list)

    def advance(self, done: int, counts: Mapping[str, int]) -> int | None:
        """Return the next boundary after ``done`` replications (None: stop) and record it."""
        target = self.precision.next_target(done, counts, self.outcome_ids, self.chunk)
        if target is not None:
            self.batches.append(target)
        return target
