"""Rare outcomes: fixed-effort multilevel splitting on the escalation ladder.

``P(peak >= K)`` is estimated as a product of conditional probabilities, one per rung on
the way up (Glasserman, Heidelberger, Shahabuddin and Zajic 1999; Garvels 2000; the
interacting-particle view of Cerou, Del Moral, Le Gland and Lezaud 2006): a first stage of
``effort`` ordinary runs says how often a run reaches the first level; the states in which
runs first reached it are the *entrance states* of the next stage, where ``effort`` runs
continue from entrance states chosen by residual resampling, each with fresh, seeded
randomness; and so on up to ``K``. Each stage's fraction is an unbiased estimate given the
stage before, and the product of the fractions is an unbiased estimate of the probability.

A run's state at the moment it first reached a level is not copied (simpy generators
cannot be): it is *replayed*, by running the run's own seed again up to that moment, and the
clone then branches into child streams (:mod:`sim.engine.branching`). A clone of a clone
replays its whole path of splits. Each clone runs to the end of its horizon; its cost is
that of one ordinary run.

The interval comes from ``repeats`` independent repetitions of the whole procedure: their
mean and its t interval (the stages of one repetition are dependent, so their binomial
variances do not add up to an honest one). docs/rare-events.md says why this method, and
what it measured.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from sim.engine.branching import Split
from sim.errors import UsageError
from sim.experiments.stops import signals_outside_compiled_code, stop_if_signalled

#: ``peak>=K``: the run's highest rung over all dyads reaches K.
PEAK = re.compile(r"^peak\s*>=\s*(\d+)$")

#: The spawn-key word of the resampling stream of a repetition (stage seeds use 0, 1, ...).
RESAMPLING = 2**31

Simulate = Callable[[np.random.SeedSequence, Sequence[Split]], Any]


@dataclass(frozen=True)
class Hit:
    """An entrance state: a run (its seed and splits) at the moment it first reached a level."""

    seed: np.random.SeedSequence
    splits: tuple[Split, ...]
    day: float

    def branch(self, child: np.random.SeedSequence) -> tuple[Split, ...]:
        """The splits of a clone that continues from this state with ``child``'s streams."""
        if self.splits and self.splits[-1].day == self.day:  # several levels at one move
            return (*self.splits[:-1], Split(self.day, child))
        return (*self.splits, Split(self.day, child))


@dataclass
class Repetition:
    """One run of the splitting procedure: each stage's fraction and their product."""

    fractions: list[float]
    runs: int

    @property
    def estimate(self) -> float:
        """The product of the stages' fractions."""
        return math.prod(self.fractions)


@dataclass
class RareEstimate:
    """A rare outcome's probability, with a 95% interval and what it cost."""

    outcome: str
    rung: int
    levels: list[int]
    efforts: list[int]
    repeats: list[Repetition]
    cpu_seconds: float
    run_cpu_seconds: float  # an ordinary run's CPU (the first stages' runs, measured)
    method: str = "fixed-effort multilevel splitting on the peak rung"
    start: dict[str, Any] = field(default_factory=dict)

    @property
    def estimates(self) -> np.ndarray:
        """Each repetition's estimate."""
        return np.array([r.estimate for r in self.repeats])

    @property
    def probability(self) -> float:
        """The mean of the repetitions' estimates."""
        return float(self.estimates.mean())

    @property
    def standard_error(self) -> float:
        """The standard error of :attr:`probability` (from the repetitions' spread)."""
        n = len(self.repeats)
        return float(self.estimates.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan

    @property
    def interval(self) -> tuple[float, float]:
        """The 95% t interval of the probability (clipped at 0)."""
        half = stats.t.ppf(0.975, len(self.repeats) - 1) * self.standard_error
        return max(0.0, self.probability - half), self.probability + half

    @property
    def relative_half_width(self) -> float:
        """The interval's half-width over the estimate (inf when the estimate is 0)."""
        lo, hi = self.interval
        p = self.probability
        return (hi - p) / p if p > 0 else math.inf

    @property
    def runs(self) -> int:
        """The runs simulated, clones included."""
        return sum(r.runs for r in self.repeats)

    @property
    def stage_fractions(self) -> list[float]:
        """Each stage's mean fraction over the repetitions (a stage not reached counts 0)."""
        table = np.zeros((len(self.repeats), len(self.levels)))
        for i, r in enumerate(self.repeats):
            table[i, : len(r.fractions)] = r.fractions
        return table.mean(axis=0).tolist()

    def work_normalised_gain(self) -> float:
        """Plain Monte Carlo's variance times CPU over splitting's, for the same answer.

        Plain Monte Carlo of ``n`` runs has variance ``p(1-p)/n`` at ``n`` runs' CPU; the
        splitting estimate has variance ``SE**2`` at :attr:`cpu_seconds`. The ratio of the
        products is the variance reduction per CPU second (p taken from this estimate).
        """
        p, se = self.probability, self.standard_error
        if not p > 0 or not se > 0:
            return math.nan
        return (p * (1 - p) * self.run_cpu_seconds) / (se**2 * self.cpu_seconds)

    def to_json(self) -> dict[str, Any]:
        """The estimate as JSON data."""
        lo, hi = self.interval
        return {
            "outcome": self.outcome,
            "method": self.method,
            "levels": self.levels,
            "efforts": self.efforts,
            "repeats": len(self.repeats),
            "probability": self.probability,
            "standard_error": self.standard_error,
            "interval_95": [lo, hi],
            "relative_half_width": self.relative_half_width,
            "stage_fractions": self.stage_fractions,
            "estimates": self.estimates.tolist(),
            "runs": self.runs,
            "cpu_seconds": self.cpu_seconds,
            "run_cpu_seconds": self.run_cpu_seconds,
            "variance_reduction_per_cpu": self.work_normalised_gain(),
            **({"start": self.start} if self.start else {}),
        }

    def table(self) -> str:
        """The estimate as a few lines of text."""
        lo, hi = self.interval
        stages = ", ".join(
            f">={k}: {f:.3g}" for k, f in zip(self.levels, self.stage_fractions, strict=True)
        )
        gain = self.work_normalised_gain()
        return "\n".join(
            [
                f"P({self.outcome}) = {self.probability:.3g}  95% interval [{lo:.3g}, {hi:.3g}]"
                f"  (relative half-width {self.relative_half_width:.0%}; standard error "
                f"{self.standard_error:.2g})",
                f"  {self.method}: {len(self.repeats)} repetitions of "
                f"{'/'.join(map(str, self.efforts))} runs a stage, {self.runs:,} runs in "
                f"{self.cpu_seconds:.1f} CPU s",
                f"  stage fractions (mean): {stages}",
                f"  variance reduction per CPU second against plain Monte Carlo: {gain:.3g}"
                if math.isfinite(gain)
                else "  variance reduction: not measurable (no repetition reached the outcome)",
            ]
        )


def parse_outcome(outcome: str, rung_names: Sequence[str]) -> int:
    """The rung K of ``peak>=K``, or a UsageError naming what is expected."""
    found = PEAK.match(outcome.strip())
    top = len(rung_names) - 1
    if not found or not 1 <= int(found.group(1)) <= top:
        raise UsageError(
            f"--rare '{outcome}': expected peak>=K with K a rung in 1..{top} "
            f"({top} is '{rung_names[top]}')"
        )
    return int(found.group(1))


def check_levels(levels: Sequence[int], rung: int) -> list[int]:
    """Levels that increase and end at ``rung`` (a UsageError otherwise)."""
    levels = [int(k) for k in levels]
    if (
        not levels
        or levels[-1] != rung
        or any(b <= a for a, b in zip(levels, levels[1:], strict=False))
    ):
        raise UsageError(
            f"--levels {','.join(map(str, levels))}: rungs that increase and end at {rung}"
        )
    if levels[0] < 1:
        raise UsageError("--levels: rungs start at 1")
    return levels


def check_efforts(effort: int | Sequence[int], stages: int, repeats: int) -> list[int]:
    """One effort per stage (a UsageError unless each is at least 2, and repeats too)."""
    efforts = [int(effort)] * stages if isinstance(effort, int | np.integer) else list(effort)
    if len(efforts) != stages:
        raise UsageError(f"--effort: one number, or one per level ({stages}), got {len(efforts)}")
    if min(efforts) < 2 or repeats < 2:
        raise UsageError("rare events need at least 2 runs a stage and 2 repetitions")
    return [int(e) for e in efforts]


def hit_day(record: Any, level: int) -> float | None:
    """The day a run's peak first reached ``level`` (None if it never did)."""
    first = record.first_day_at_rung
    day = float(first[level]) if level < len(first) else math.nan
    return None if math.isnan(day) else day


def repetition(
    simulate: Simulate, levels: Sequence[int], efforts: Sequence[int], root: int, index: int
) -> tuple[Repetition, float]:
    """One repetition of fixed-effort splitting (``efforts[k]`` runs in stage ``k``).

    Returns it and the CPU of its first stage (ordinary runs).
    """
    resample = np.random.default_rng(np.random.SeedSequence(root, spawn_key=(index, RESAMPLING)))
    fractions: list[float] = []
    hits: list[Hit] = []
    runs, first_cpu = 0, 0.0
    for stage, (level, effort) in enumerate(zip(levels, efforts, strict=True)):
        started = time.process_time()
        found: list[Hit] = []
        starts: list[Hit | None] = [None] * effort
        if stage:
            starts = list(_starts(hits, effort, resample))
        for j, parent in enumerate(starts):
            seed = np.random.SeedSequence(root, spawn_key=(index, stage, j))
            splits: tuple[Split, ...]
            if parent is None:
                base, splits = seed, ()
            else:
                base, splits = parent.seed, parent.branch(seed)
            record = simulate(base, splits)
            stop_if_signalled()  # a Ctrl-C that something swallowed stops the estimate here
            runs += 1
            day = hit_day(record, level)
            if day is not None:
                found.append(Hit(base, splits, day))
        if stage == 0:
            first_cpu = time.process_time() - started
        fractions.append(len(found) / effort)
        hits = found
        if not hits:
            break
    return Repetition(fractions, runs), first_cpu


def _starts(hits: Sequence[Hit], effort: int, rng: np.random.Generator) -> list[Hit]:
    """Residual resampling: each hit ``effort // len(hits)`` times, the rest drawn at random."""
    whole, rest = divmod(effort, len(hits))
    chosen = [h for h in hits for _ in range(whole)]
    chosen += [hits[i] for i in rng.choice(len(hits), size=rest, replace=False)]
    return chosen


def split(
    simulate: Simulate,
    outcome: str,
    rung: int,
    levels: Sequence[int],
    efforts: Sequence[int],
    repeats: int,
    seed: int,
) -> RareEstimate:
    """Estimate ``P(peak >= rung)`` by ``repeats`` independent repetitions of splitting."""
    started = time.process_time()
    done, first = [], 0.0
    for index in range(repeats):
        rep, cpu = repetition(simulate, levels, efforts, seed, index)
        done.append(rep)
        first += cpu
    return RareEstimate(
        outcome=outcome,
        rung=rung,
        levels=list(levels),
        efforts=list(efforts),
        repeats=done,
        cpu_seconds=time.process_time() - started,
        run_cpu_seconds=first / (efforts[0] * repeats),
    )


def rare(
    scenario: Any,
    outcome: str = "peak>=7",
    *,
    effort: int | Sequence[int] = 1000,
    repeats: int = 10,
    levels: Sequence[int] | None = None,
    seed: int = 0,
    overrides: list[str] | None = None,
) -> RareEstimate:
    """Estimate a rare outcome's probability with a 95% interval (multilevel splitting).

    Args:
        scenario: a Scenario, or the name or path of one (``overrides`` then apply).
        outcome: ``peak>=K``: the run's peak rung reaches K.
        effort: runs in each stage of one repetition, or one number per level (a stage
            whose fraction is small needs more).
        repeats: independent repetitions (the interval comes from their spread).
        levels: the rungs to split at, ending at K (default: every rung from 1 to K).
        seed: the root seed.
        overrides: ``--set`` style overrides of the scenario.

    A scenario that names a posterior runs over it: each first-stage run draws its
    parameters from its seed, and its clones keep them.
    """
    from sim.engine import simulate as engine_simulate
    from sim.experiments.ensemble import resolve_scenario
    from sim.experiments.posterior import override_paths, posterior_engine
    from sim.results.seeding import check_seed
    from sim.scenario import compile_scenario

    try:
        seed = check_seed(seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    scenario = resolve_scenario(scenario, overrides)
    spec = compile_scenario(scenario)
    rung = parse_outcome(outcome, spec.rung_names)
    chosen = check_levels(levels if levels is not None else range(1, rung + 1), rung)
    efforts = check_efforts(effort, len(chosen), repeats)

    drawn = posterior_engine(None, scenario, override_paths(overrides))

    def run_one(base: np.random.SeedSequence, splits: Sequence[Split]) -> Any:
        # over a posterior, a clone keeps the parameters its first run drew (from its seed)
        at = spec if drawn is None else drawn.spec(drawn.posterior.draw(base))
        return engine_simulate(at, base, splits)

    with signals_outside_compiled_code():  # a Ctrl-C in a kernel is not lost
        return split(run_one, outcome.strip(), rung, chosen, efforts, repeats, seed)
