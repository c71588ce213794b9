"""A calibration's problem, checked before anything is simulated, and the model pyabc runs.

:func:`prepare` checks a calibration against its scenario and record: an unknown path, a
prior that reaches outside the field's valid values, a record row naming an actor the
scenario lacks, an unknown statistic all fail here with a message naming the file or field.
It also shortens the horizon where that cannot change the moves in the record's window
(checked on a few replications, not assumed). :class:`ScenarioModel` is pyabc's model:
parameter values in, the statistics of one simulated run out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.analysis.calibration import (
    StatisticPlan,
    record_statistics,
    select,
    statistic_weights,
)
from sim.experiments.calibration_spec import CalibrationError, CalibrationSpec, Prior
from sim.experiments.variants import Variants, get_steps, resolve_steps

#: Spawn key of the check of a shortened horizon ("HOR").
HORIZON_KEY = 0x484F52

#: Replications on which a shortened horizon must give the same moves in the window.
HORIZON_CHECKS = 16

#: The sum-statistics key of the model's output: one array, in the plan's order.
KEY = "s"


# --- the problem: checked, before anything runs ----------------------------------------------


@dataclass
class Problem:
    """A checked calibration: the base document, the statistics, the priors, the horizon."""

    spec: CalibrationSpec
    name: str
    title: str
    data: dict[str, Any]  # the base scenario (with the fixed overrides)
    full_days: int
    simulated_days: int
    horizon_note: str
    plan: StatisticPlan
    integer: list[str]
    judgment: list[float | None]
    start: dt.date
    outside: dict[str, list[int]] = field(default_factory=dict)

    @property
    def priors(self) -> list[Prior]:
        """The priors, in parameter order."""
        return list(self.spec.parameters)

    def model(self) -> ScenarioModel:
        """Return the pyabc model: parameter values in, the plan's statistics out."""
        days = self.simulated_days if self.simulated_days < self.full_days else None
        return ScenarioModel(self.data, self.spec.paths, self.integer, self.plan, days)


def prepare(spec: CalibrationSpec, scenario_data: Mapping[str, Any] | None = None) -> Problem:
    """Check a calibration against its scenario and record, before anything is simulated.

    (The only runs are the few that check a shortened horizon.)
    Bad input fails here with a message naming the file or field: an unknown path, a prior
    that reaches outside the field's valid values, a record row naming an actor the
    scenario lacks, an unknown statistic.
    """
    from sim.analysis.timeline import read_timeline, record_window
    from sim.scenario import compile_scenario

    rows = read_timeline(spec.timeline)
    base = _base_document(spec, scenario_data)
    compiled = compile_scenario(_validated(base, "the scenario with its fixed overrides"))
    rows = _checked_actors(rows, compiled, spec)
    integer = _check_priors(spec, base)
    window = record_window(rows, compiled, spec.until)
    statistics, observations = record_statistics(
        rows, compiled, window, spec.statistics.level, spec.statistics.unobserved
    )
    chosen = select(
        statistics, spec.statistics.include, spec.statistics.exclude, spec.statistics.measures
    )
    if not chosen:
        raise CalibrationError("no statistics left after include/exclude and measures")
    plan = StatisticPlan(
        chosen, window, spec.statistics.level, sorted(k.label for k in observations.unmodelled)
    )
    statistic_weights(plan.names, spec.statistics.weights)  # unknown patterns fail now
    judgment = [_judgment(base, p) for p in spec.paths]
    days, note = _horizon(spec, base, compiled, plan, integer)
    return Problem(
        spec=spec,
        name=compiled.name,
        title=str(base.get("title", "")),
        data=base,
        full_days=compiled.days,
        simulated_days=days,
        horizon_note=note,
        plan=plan,
        integer=integer,
        judgment=judgment,
        start=compiled.start,
        outside={
            "actors": [r.line for r in observations.outside_actors],
            "window": [r.line for r in observations.outside_window],
        },
    )


def _base_document(spec: CalibrationSpec, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the scenario document with the fixed overrides set (loaded once, here)."""
    from sim.scenario.paths import PathError

    if data is None:
        from sim.scenario import load

        data = load(spec.scenario).model_dump(mode="json")
    base = dict(data)
    try:
        steps = {p: resolve_steps(base, p) for p in [*spec.set, *spec.paths]}
    except PathError as err:
        raise CalibrationError("calibration parameter " + str(err).removeprefix("--set ")) from None
    from sim.experiments.variants import with_values

    return with_values(base, [(steps[p], v) for p, v in spec.set.items()])


def _validated(data: Mapping[str, Any], what: str) -> Any:
    """Return the Scenario of a document, or raise a CalibrationError saying what is wrong."""
    from sim.experiments.variants import VariantError

    try:
        return Variants(data, []).scenario([])
    except VariantError as err:
        raise CalibrationError(f"{what}: {err}".replace(": : ", ": ")) from None


def _checked_actors(rows: list[Any], spec: Any, calibration: CalibrationSpec) -> list[Any]:
    """Drop rows of ignored actors; refuse rows naming an actor the scenario lacks."""
    ignored = set(calibration.ignore_actors)
    known = set(spec.actor_ids)
    stray = sorted(ignored - known - {a for r in rows for a in (*r.actors, *r.targets)})
    if stray:
        raise CalibrationError(f"ignore_actors: {', '.join(stray)} appear in neither record")
    kept: list[Any] = []
    unknown: dict[str, list[int]] = {}
    for row in rows:
        named = set(row.actors) | set(row.targets)
        if named & ignored:
            continue
        for actor in sorted(named - known):
            unknown.setdefault(actor, []).append(row.line)
        kept.append(row)
    if unknown:
        lines = "; ".join(
            f"{a} on line{'s' if len(ls) > 1 else ''} {', '.join(map(str, ls[:6]))}"
            for a, ls in unknown.items()
        )
        raise CalibrationError(
            f"{calibration.timeline}: the record names actors that {spec.name} lacks ({lines}); "
            f"the scenario has {', '.join(spec.actor_ids)}. Drop those rows with "
            f"--ignore-actor {' --ignore-actor '.join(unknown)} (ignore_actors: in a "
            "calibration file)"
        )
    return kept


def _check_priors(spec: CalibrationSpec, base: dict[str, Any]) -> list[str]:
    """Check that each field is a number valid over its prior's support; return the int ones.

    An integer field's runs take rounded values (:class:`Variants`), so its prior's ends are
    checked rounded.
    """
    integer = []
    for prior in spec.parameters:
        steps = resolve_steps(base, prior.path)
        current = get_steps(base, steps)
        if isinstance(current, bool) or not isinstance(current, int | float | None):
            raise CalibrationError(
                f"calibration parameter {prior.path}: holds {current!r}, not a number; only "
                "numeric fields can be calibrated"
            )
        field = _policy_field(base, steps)
        whole = _is_int(current) or (field is not None and field.annotation is int)
        low, high = prior.support
        for value, end in ((low, "low"), (high, "high")):
            shown = f"{value:g}" + (f", rounded to {round(value)}" if whole else "")
            what = (
                f"calibration parameter {prior.path}: prior {prior.describe()} reaches "
                f"{shown} (its {end} end)"
            )
            variants = Variants(base, [prior.path], [prior.path] if whole else [])
            scenario = _validated(variants.document([value]), what)
            whole = whole or _is_int(get_steps(scenario.model_dump(mode="json"), steps))
        if whole:
            integer.append(prior.path)
    return sorted(set(integer))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _policy_field(base: Mapping[str, Any], steps: Sequence[str | int]) -> Any:
    """Return the pydantic field of a policy parameter (``actors.X.policy.params.NAME``), or None.

    A policy's parameters are a free mapping in the scenario, checked by the rule's own
    model: a parameter left at its default is absent from the document, and an integer one
    reads back as whatever number was set. The rule's model knows its default and its type.
    """
    from sim.engine.policy import policy_class

    if len(steps) != 5 or steps[0] != "actors" or tuple(steps[2:4]) != ("policy", "params"):
        return None
    policy = get_steps(base, tuple(steps[:3]))
    try:
        return policy_class(policy["name"]).Params.model_fields.get(str(steps[4]))
    except (KeyError, TypeError):  # no such policy: the scenario's validation says so
        return None


def _judgment(base: Mapping[str, Any], path: str) -> float | None:
    """Return a calibrated field's value in the scenario (a policy parameter's default if unset)."""
    steps = resolve_steps(base, path)
    value = get_steps(base, steps)
    if value is None:
        field = _policy_field(base, steps)
        value = None if field is None else field.default
    return _number(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


# --- a shorter horizon: moves within the window do not depend on what comes after -----------


def _horizon(
    spec: CalibrationSpec, base: dict[str, Any], compiled: Any, plan: StatisticPlan, integer: list
) -> tuple[int, str]:
    """Return the days to simulate and a note of why.

    Actors weigh the running cost of a measure over at most ``PLANNING_DAYS`` ahead (or to
    the horizon), so stopping the clock that long after the window leaves every decision in
    the window, and every draw (streams are keyed by name), as it was. The run spec keeps
    everything else of the full scenario (events after the stop, such as a summit whose
    run-up and outside hazard reach back into the window, stay scheduled; they are simply
    not reached). That is checked, not assumed: a few replications with both horizons must
    make the same moves in the window, else the full horizon is kept.
    """
    from sim.engine.actors import PLANNING_DAYS

    days = compiled.days
    if not spec.truncate:
        return days, "full horizon (truncate: false)"
    stop = int(plan.window + math.ceil(PLANNING_DAYS) + 1)
    if stop >= days:
        return days, "full horizon (the window and the planning look-ahead fill it)"
    try:
        values = [[_judgment(base, p) for p in spec.paths]]
        values.append([float(p.frozen().median()) for p in spec.parameters])
        for vals in values:
            numbers = [v for v in vals if v is not None]
            if len(numbers) < len(vals):
                continue
            if not _same_window(base, stop, spec.paths, integer, numbers, plan):
                return days, "full horizon (a shortened run made other moves in the window)"
    except (CalibrationError, ValueError, TypeError) as err:
        return days, f"full horizon (cannot shorten: {err})"
    return (
        stop,
        (
            f"shortened to {stop} days (the window and {PLANNING_DAYS:g} days of planning "
            f"look-ahead; checked on {HORIZON_CHECKS} replications)"
        ),
    )


def stopped_at(spec: Any, days: int | None) -> Any:
    """Return a compiled run spec whose clock stops after ``days`` (None: as it is)."""
    import dataclasses

    if days is None or days >= spec.days:
        return spec
    return dataclasses.replace(spec, days=int(days))


def _same_window(
    data: dict[str, Any],
    stop: int,
    paths: Sequence[str],
    integer: Sequence[str],
    values: Sequence[float],
    plan: StatisticPlan,
) -> bool:
    """Whether runs stopped after ``stop`` days make the full runs' moves up to the window."""
    from sim.engine import simulate
    from sim.experiments.variants import VariantError

    try:
        full = Variants(data, paths, integer).spec(values)
    except VariantError as err:
        raise CalibrationError(str(err)) from None
    specs = [full, stopped_at(full, stop)]
    for i in range(HORIZON_CHECKS):
        seed = np.random.SeedSequence(HORIZON_KEY, spawn_key=(i,))
        moves = [
            [m for m in simulate(s, seed).moves if math.floor(m.day) <= plan.window] for s in specs
        ]
        if moves[0] != moves[1]:
            return False
    return True


# --- the model pyabc simulates ---------------------------------------------------------------


def parameter_names(n: int) -> list[str]:
    """Return pyabc's names of the parameters (``p0``, ``p1``...: paths hold dots)."""
    return [f"p{i}" for i in range(n)]


class ScenarioModel:
    """pyabc's model: parameter values in, the statistics of one simulated run out.

    The run's seed is drawn from numpy's global generator, which the sampler seeds for
    every evaluation, so a run depends on the calibration's seed and its place alone.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        paths: Sequence[str],
        integer: Sequence[str],
        plan: Any,
        days: int | None = None,
    ) -> None:
        self.variants = Variants(data, paths, integer)
        self.plan = plan
        self.days = days  # stop the clock here (None: the scenario's horizon)
        self.names = parameter_names(len(paths))

    def __call__(self, parameters: Mapping[str, float]) -> dict[str, np.ndarray]:
        """Return the statistics of one run at pyabc's parameter values."""
        values = [float(parameters[n]) for n in self.names]
        seed = np.random.SeedSequence(int(np.random.randint(0, 2**62)))
        return {KEY: self.statistics(values, seed)}

    def statistics(self, values: Sequence[float], seed: np.random.SeedSequence) -> np.ndarray:
        """Return the statistics of one run at ``values`` with ``seed``."""
        from sim.engine import simulate

        record = simulate(stopped_at(self.variants.spec(values), self.days), seed)
        return self.plan.of_moves(record.moves)
