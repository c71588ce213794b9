"""A sweep's plan, checked before anything runs: its base scenario, parameters and design.

A sweep is checked before anything runs: every path against the scenario (a mistyped one
fails at once with the closest names), every parameter's values against the field (the
scenario is validated with the ends of each range and with each listed value), and, in
sampled designs, that each field is a number. Then each point's scenario is built from the
base scenario. With common random numbers (the default) every point runs the same root
seed, so replication ``i`` draws the same numbers at every point and differences between
points are differences of the parameters alone; with independent seeds point ``p`` runs a
root seed derived from the sweep's seed and ``p``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.measures import Measure
from sim.analysis.points import OutcomeError, outcomes_of_interest, point_row
from sim.experiments.designs import design
from sim.experiments.sweep_spec import (
    Parameter,
    SweepError,
    SweepSpec,
    check_paths,
    path_message,
    quick_path_check,
    read_plan,
)

#: Spawn key under which independent-seed sweeps derive each point's root seed.
POINT_KEY = 0x9017_5EED


# --- the base scenario and the scenario at a point --------------------------------------------


@dataclass(frozen=True)
class Outline:
    """What the tables need from the compiled base scenario: outcomes, rungs, actors."""

    name: str
    outcome_ids: tuple[str, ...]
    outcome_labels: Mapping[str, str]
    rung_names: tuple[str, ...]
    actor_ids: tuple[str, ...]
    military_rung: int


class Base:
    """The validated base scenario, from which the scenario at any point is made."""

    def __init__(self, scenario: Any, fixed: Mapping[str, Any]) -> None:
        from sim.scenario import compile_scenario

        self.data = scenario.model_dump(mode="json")
        self.fixed = dict(fixed)
        self.scenario = self.at({}) if fixed else scenario
        spec = compile_scenario(self.scenario)
        self.outline = Outline(
            name=spec.name,
            outcome_ids=tuple(spec.outcome_ids),
            outcome_labels=dict(spec.outcome_labels),
            rung_names=tuple(spec.rung_names),
            actor_ids=tuple(spec.actor_ids),
            military_rung=int(self.scenario.military_rung),
        )

    def at(self, values: Mapping[str, Any], what: str = "") -> Any:
        """Return the validated scenario with ``values`` (and the fixed overrides) set."""
        from pydantic import ValidationError

        from sim.scenario.paths import PathError, parse_path, set_path
        from sim.scenario.references import ReferenceProblem
        from sim.scenario.schema import Scenario

        data = copy.deepcopy(self.data)
        assigned = {**self.fixed, **values}
        for path, value in assigned.items():
            try:
                set_path(data, parse_path(path), value, path)
            except PathError as err:
                raise SweepError(path_message(err)) from None
        try:
            return Scenario.model_validate(data)
        except ValidationError as err:
            raise SweepError(_value_message(what or _assignment(assigned), err, data)) from None
        except ReferenceProblem as err:
            raise SweepError(f"{what or _assignment(assigned)}: {err.message}") from None


def _assignment(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items()) or "the base scenario"


def _value_message(what: str, err: Any, data: Any) -> str:
    """Return the problems of a scenario made invalid by sweep values, one a line."""
    lines = []
    for problem in err.errors(include_url=False)[:3]:
        given = problem.get("input")
        shown = f" (got {given!r})" if not isinstance(given, dict | list) else ""
        lines.append(f"{what}: {_located(data, problem['loc'])}: {problem['msg']}{shown}")
    return "\n".join(lines)


def _located(data: Any, loc: Sequence[Any]) -> str:
    """Return a pydantic location as a dotted path, list items by id, union tags left out."""
    parts, node = [], data
    for part in loc:
        if (
            isinstance(node, dict)
            and part not in node
            and part in (node.get("kind"), node.get("type"))
        ):
            continue  # pydantic names the member of a tagged union; the reader never wrote it
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(str(ident) if isinstance(ident, str) else str(part))
            continue
        parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def load_base(spec: SweepSpec, scenario: Any = None) -> Base:
    """Return the base scenario of a sweep (``scenario`` if given, else loaded by name)."""
    if scenario is None:
        from sim.scenario import load

        scenario = load(spec.scenario)
    return Base(scenario, spec.set)


# --- checking a sweep before it runs ----------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """How a parameter's values are set: as given (grid lists), as floats, or rounded to ints."""

    path: str
    kind: str  # "value", "float" or "int"


def check_parameters(spec: SweepSpec, base: Base) -> list[Kind]:
    """Check each parameter against the scenario; return how each parameter's values are set.

    Every listed or grid value, and both ends of every range, must make a valid scenario;
    a sampled (LHS, Sobol) parameter must be a number, and is an integer when the field is.
    """
    check_paths(base.data, [*spec.paths, *spec.set])
    return [_check_parameter(spec, base, p) for p in spec.parameters]


def _check_parameter(spec: SweepSpec, base: Base, param: Parameter) -> Kind:
    """Validate the scenario at the parameter's extreme values; return its kind."""
    from sim.scenario.paths import parse_path

    current = get_path(base.data, parse_path(param.path))
    kind = design(spec.design)
    sampled = kind.sampled
    if sampled and (isinstance(current, bool) or not isinstance(current, int | float | None)):
        raise SweepError(
            f"sweep parameter {param.path}: {kind.named} design samples "
            f"numbers, but this field holds {current!r}; sweep it in a grid design with a "
            "list of values"
        )
    values = param.extremes if sampled else param.grid_values
    read_back = []
    for value in _distinct_values(values):
        where = f"sweep parameter {param.path}: value {value!r} ({_role(param, value)})"
        scenario = base.at({param.path: value}, where)
        read_back.append(get_path(scenario.model_dump(mode="json"), parse_path(param.path)))
    if not sampled:
        return Kind(param.path, "value")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in read_back):
        raise SweepError(
            f"sweep parameter {param.path}: {kind.named} design samples "
            "numbers, but this field does not hold a number"
        )
    return Kind(param.path, "int" if all(isinstance(v, int) for v in read_back) else "float")


def _distinct_values(values: Sequence[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _role(param: Parameter, value: Any) -> str:
    if param.values is not None:
        return "a listed value"
    if value == param.low:
        return "the low end of its range"
    if value == param.high:
        return "the high end of its range"
    return "a grid value"


def get_path(data: Any, parts: Sequence[str | int]) -> Any:
    """Return the value at a dotted path of a scenario document (list items by id), or None."""
    node = data
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list):
            node = _list_item(node, part)
        else:
            return None
    return node


def _list_item(items: list[Any], part: str | int) -> Any:
    for item in items:
        if isinstance(item, dict) and item.get("id") == part:
            return item
    if isinstance(part, int) and part < len(items):
        return items[part]
    return None


def design_frame(spec: SweepSpec, kinds: Sequence[Kind]) -> pd.DataFrame:
    """Return the design as a table: ``point`` and one column per parameter path."""
    from sim.experiments.designs import design_values

    rows = design_values(spec)
    columns = {"point": np.arange(len(rows), dtype=np.int64)}
    for j, kind in enumerate(kinds):
        values = [row[j] for row in rows]
        if kind.kind == "int":
            values = [int(round(v)) for v in values]
        columns[kind.path] = _column(values)
    return pd.DataFrame(columns)


def _column(values: list[Any]) -> Any:
    """Return a column for a table: as is when of one type, else as JSON text (never lost)."""
    types = {type(v) for v in values}
    if types <= {int, float} or len(types) == 1 and next(iter(types)) in (str, bool):
        return values
    return [json.dumps(v) for v in values]


def point_values(design: pd.DataFrame, point: int, paths: Sequence[str]) -> dict[str, Any]:
    """Return the parameter values of one point as plain Python values."""
    row = design.iloc[point]
    return {path: _plain(row[path]) for path in paths}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def point_seed(spec: SweepSpec, point: int) -> int:
    """Return the root seed of a point: the sweep's seed, or one derived per point."""
    if spec.common_random_numbers:
        return spec.seed
    sequence = np.random.SeedSequence(entropy=spec.seed, spawn_key=(POINT_KEY, point))
    return int(sequence.generate_state(1, np.uint64)[0])


@dataclass
class Plan:
    """Everything a sweep needs to run, checked."""

    spec: SweepSpec
    base: Base
    kinds: list[Kind]
    design: pd.DataFrame
    metrics: list[Measure]
    posterior: Any = None  # a Posterior: every point's replications draw their parameters


def prepare(spec: SweepSpec, scenario: Any = None) -> Plan:
    """Check a sweep against its scenario and make its design; nothing runs."""
    if scenario is None:
        quick_path_check(spec)
    base = load_base(spec, scenario)
    kinds = check_parameters(spec, base)
    metrics = outcomes(spec.outcomes, base)
    return Plan(spec, base, kinds, design_frame(spec, kinds), metrics)


def outcomes(names: Sequence[str], base: Base) -> list[Measure]:
    """Return a sweep's outcomes of interest (every outcome class when it names none)."""
    try:
        return outcomes_of_interest(names, base.outline)
    except OutcomeError as err:
        raise SweepError(str(err)) from None


def with_posterior(plan: Plan, posterior: Any, folder: Path | None) -> None:
    """Set the posterior a sweep's replications draw from: given, or the resumed folder's."""
    from sim.experiments.posterior import Posterior, scenario_posterior

    if posterior is None and folder is not None:
        kept = read_plan(folder).get("posterior")
        posterior = Posterior.from_json(kept) if kept else None
    if posterior is None:  # the base scenario's own, if it names one
        posterior = scenario_posterior(plan.base.scenario)
    if posterior is None:
        return
    from sim.experiments.posterior import as_posterior

    found = as_posterior(posterior)
    clash = sorted(set(found.paths) & {*plan.spec.paths, *plan.spec.set})
    if clash:
        raise SweepError(
            f"--posterior: {', '.join(clash)} both swept (or set) and drawn from the posterior"
        )
    plan.posterior = found


def points_frame(plan: Plan, runs_by_point: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Return the points table of the finished points, in point order."""
    rows = []
    for point in sorted(runs_by_point):
        row = {"point": point, **point_values(plan.design, point, plan.spec.paths)}
        row.update(point_row(runs_by_point[point], plan.base.outline, plan.spec.runs))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if not rows:
        return pd.DataFrame(columns=["point", *plan.spec.paths, "runs"])
    for path in plan.spec.paths:
        frame[path] = plan.design[path].iloc[frame["point"].to_numpy()].to_numpy()
    return frame


def sensitivity_frame(plan: Plan, points: pd.DataFrame) -> pd.DataFrame | None:
    """Return the indices of every outcome of interest (Sobol's or Morris's; all points run)."""
    kind = design(plan.spec.design)
    if not kind.has_indices or len(points) != plan.spec.n_points:
        return None
    from sim.analysis.sensitivity import sobol_indices

    ordered = points.sort_values("point")
    values = {m.name: ordered[m.point_column].to_numpy(dtype=float) for m in plan.metrics}
    if kind.morris:  # mu* and sigma of the elementary effects (sim.experiments.morris)
        from sim.experiments.designs import unit_sample
        from sim.experiments.morris import morris_indices

        return morris_indices(
            plan.spec.paths,
            unit_sample(plan.spec),
            values,
            resamples=plan.spec.bootstrap,
            seed=plan.spec.seed,
        )
    return sobol_indices(
        plan.spec.paths,
        values,
        second_order=plan.spec.second_order,
        resamples=plan.spec.bootstrap,
        seed=plan.spec.seed,
    )
