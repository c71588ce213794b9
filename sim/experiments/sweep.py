"""Parameter sweeps: an ensemble at every point of a design, tidy tables, resumable.

A sweep is checked before anything runs: every path against the scenario (a mistyped one
fails at once with the closest names), every parameter's values against the field (the
scenario is validated with the ends of each range and with each listed value), and, in
LHS and Sobol designs, that each field is a number. Then each point's scenario is built
from the base scenario, and its replications go through :func:`sim.experiments.ensemble.run`
with whatever executor the caller gives (serial, processes, Dask: the sweep does not care).

With common random numbers (the default) every point runs the same root seed, so
replication ``i`` draws the same numbers at every point and differences between points
are differences of the parameters alone. With independent seeds point ``p`` runs a root
seed derived from the sweep's seed and ``p``.

A sweep's folder ``<out>/<scenario>/sweep-<id>/`` holds:

- ``sweep.json``: the plan (the resolved sweep spec and the scenario's hash), written first;
- ``design.parquet``: one row per point, its parameter values;
- ``runs/point-NNNNNN.parquet``: the runs table of each finished point with a ``point``
  column (together, one tidy table of every replication: :attr:`SweepResults.runs`);
- ``points.parquet``: one row per point: parameter values, outcome probabilities with
  Wilson intervals, peak-rung statistics and mean costs;
- ``sensitivity.parquet``: Sobol indices with bootstrap intervals (Sobol designs);
- ``manifest.json``: how it went (status, points completed, code and environment), last.

A point is finished when its runs file exists (files are written whole, then moved into
place), so a sweep restarted with ``resume`` runs only the points that are missing and,
since every point is a pure function of the plan, ends with the same tables.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis import stats
from sim.errors import UsageError
from sim.experiments import store
from sim.experiments.sweep_spec import (
    DESIGN_NAMES,
    SWEEP_PLAN,
    Parameter,
    SweepError,
    SweepSpec,
    build_spec,
    check_paths,
    path_message,
    quick_path_check,
    read_plan,
    resolve_spec,
)

DESIGN = "design.parquet"
POINTS = "points.parquet"
RUNS_DIR = "runs"
FAILURES_DIR = "failures"
SENSITIVITY = "sensitivity.parquet"

#: Bump when the layout of a sweep folder changes incompatibly.
SWEEP_FORMAT = 1

#: Spawn key under which independent-seed sweeps derive each point's root seed.
POINT_KEY = 0x9017_5EED

_POINT_FILE = re.compile(r"^point-(\d{6})\.parquet$")


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
    sampled = spec.design != "grid"
    if sampled and (isinstance(current, bool) or not isinstance(current, int | float | None)):
        raise SweepError(
            f"sweep parameter {param.path}: {DESIGN_NAMES[spec.design]} design samples "
            f"numbers, but this field holds {current!r}; sweep it in a grid design with a "
            "list of values"
        )
    values = param.grid_values if spec.design == "grid" else param.extremes
    read_back = []
    for value in _distinct_values(values):
        where = f"sweep parameter {param.path}: value {value!r} ({_role(param, value)})"
        scenario = base.at({param.path: value}, where)
        read_back.append(get_path(scenario.model_dump(mode="json"), parse_path(param.path)))
    if not sampled:
        return Kind(param.path, "value")
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in read_back):
        raise SweepError(
            f"sweep parameter {param.path}: {DESIGN_NAMES[spec.design]} design samples "
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


# --- what a point's runs come to --------------------------------------------------------------


def point_row(runs: pd.DataFrame, outline: Outline, planned: int) -> dict[str, Any]:
    """Return a point's statistics: outcome probabilities with Wilson intervals, peaks, costs.

    ``runs`` counts the replications that finished and ``failed`` those of the ``planned``
    that raised (see the failures table); the statistics are over the finished ones.
    """
    n = len(runs)
    row: dict[str, Any] = {"runs": n, "failed": planned - n}
    outcomes = runs["outcome"].astype(str).to_numpy()
    unknown = sorted(set(outcomes) - set(outline.outcome_ids))
    if unknown:
        raise ValueError(f"outcomes not declared by the scenario: {unknown}")
    for oid in outline.outcome_ids:
        _add_proportion(row, f"p_{oid}", int((outcomes == oid).sum()), n)
    peaks = runs["peak_rung"].to_numpy(dtype=int)
    for k in range(1, len(outline.rung_names)):
        _add_proportion(row, f"p_peak_ge_{k}", int((peaks >= k).sum()), n)
    moments = stats.mean_se(peaks)
    row["peak_rung_mean"], row["peak_rung_se"] = moments["mean"], moments["se"]
    for key, value in stats.quantiles(peaks, (0.05, 0.5, 0.95)).items():
        row[f"peak_rung_{key}"] = value
    for actor in outline.actor_ids:
        cost = stats.mean_se(runs[f"cost_{actor}"].to_numpy(dtype=float))
        row[f"cost_{actor}_mean"], row[f"cost_{actor}_se"] = cost["mean"], cost["se"]
    return row


def _add_proportion(row: dict[str, Any], column: str, count: int, n: int) -> None:
    lo, hi = stats.wilson_interval(count, n)
    row[column] = count / n if n else float("nan")
    row[f"{column}_lo"], row[f"{column}_hi"] = lo, hi


@dataclass(frozen=True)
class Metric:
    """An outcome of interest: the points-table column that holds it and how to call it."""

    name: str
    column: str
    label: str
    probability: bool


def resolve_outcomes(names: Sequence[str], outline: Outline) -> list[Metric]:
    """Return the outcomes of interest (every outcome class when none are named)."""
    names = list(names) or list(outline.outcome_ids)
    return [_metric(name, outline) for name in names]


_PEAK = re.compile(r"^peak\s*>=\s*(\d+)$")


def _metric(name: str, outline: Outline) -> Metric:
    if name in outline.outcome_ids:
        label = outline.outcome_labels.get(name) or name
        return Metric(name, f"p_{name}", f"P({label})", True)
    peak = _PEAK.match(name.strip())
    if peak and 1 <= int(peak.group(1)) < len(outline.rung_names):
        k = int(peak.group(1))
        label = f"P(peak rung >= {k}, {outline.rung_names[k]})"
        return Metric(name, f"p_peak_ge_{k}", label, True)
    numeric = ["peak_rung_mean", *(f"cost_{a}_mean" for a in outline.actor_ids)]
    if name in numeric:
        label = "mean peak rung" if name == "peak_rung_mean" else f"mean cost of {name[5:-5]}"
        return Metric(name, name, label, False)
    top = len(outline.rung_names) - 1
    raise SweepError(
        f"outcome '{name}': not an outcome of {outline.name}; expected one of "
        f"{', '.join(outline.outcome_ids)}, peak>=K (K in 1..{top}) or {', '.join(numeric)}"
    )


# --- the folder -------------------------------------------------------------------------------


class Folder:
    """A sweep's results folder: the plan, the design, one runs file per finished point."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(
        cls,
        root: Path,
        scenario: str,
        now: dt.datetime,
        name: str | None = None,
        force: bool = False,
    ) -> Folder:
        """Create a sweep folder with its runs subfolder.

        That is a fresh ``root/<scenario>/sweep-<id>``, or ``<name>`` (see
        :func:`store.create_run_dir`).
        """
        path = store.create_run_dir(
            root, scenario, now, "sweep", name=name, force=force, prefix="sweep-"
        )
        (path / RUNS_DIR).mkdir()
        return cls(path)

    def point_file(self, point: int) -> Path:
        """Return the runs file of a point."""
        return self.path / RUNS_DIR / f"point-{point:06d}.parquet"

    def finished_points(self) -> set[int]:
        """Return the points whose runs are on disk."""
        runs = self.path / RUNS_DIR
        found = (_POINT_FILE.match(f.name) for f in runs.iterdir()) if runs.is_dir() else ()
        return {int(m.group(1)) for m in found if m}

    def write_point(self, point: int, runs: pd.DataFrame, failures: pd.DataFrame) -> None:
        """Write a point's failures (if any), then its runs table, each whole; runs mark it done."""
        if len(failures):
            (self.path / FAILURES_DIR).mkdir(exist_ok=True)
            store.write_table(self.path / FAILURES_DIR / self.point_file(point).name, failures)
        store.write_table(self.point_file(point), runs)

    def read_point(self, point: int) -> pd.DataFrame:
        """Read a point's runs table."""
        return pd.read_parquet(self.point_file(point))

    def read_plan(self) -> dict[str, Any]:
        """Read ``sweep.json``, or explain why this is not a sweep folder."""
        return read_plan(self.path)


def plan_document(spec: SweepSpec, base: Base, kinds: Sequence[Kind]) -> dict[str, Any]:
    """Return the content of ``sweep.json``: what will be run, resolved."""
    return {
        "format_version": SWEEP_FORMAT,
        "kind": "sweep",
        "scenario": base.outline.name,
        "title": base.scenario.title,
        "content_hash": base.scenario.content_hash(),
        "spec": spec.model_dump(mode="json"),
        "points": spec.n_points,
        "parameters": [{"path": k.path, "kind": k.kind} for k in kinds],
        # The base scenario as run (before the fixed overrides), so that the folder alone
        # can be resumed or reopened even if the scenario file changes or was never a file.
        "base_scenario": base.data,
    }


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


def stored_scenario(folder: Path) -> Any:
    """Return the base scenario a sweep folder was started with."""
    from sim.scenario.schema import Scenario

    plan = read_plan(folder)
    if "base_scenario" not in plan:  # A folder from before the base was stored in the plan.
        from sim.scenario import load

        return load(plan["spec"]["scenario"])
    return Scenario.model_validate(plan["base_scenario"])


def check_resumable(folder: Folder, plan: Mapping[str, Any]) -> None:
    """Raise unless the folder's plan is the plan about to run (same spec, same scenario)."""
    stored = folder.read_plan()
    for key, what in (("content_hash", "the scenario"), ("spec", "the sweep")):
        if stored.get(key) != store.jsonable(plan[key]):
            raise UsageError(
                f"--resume {folder.path}: {what} differs from the one this folder was started "
                f"with ({_difference(stored.get(key), plan[key])}); start a new sweep instead"
            )


def _difference(old: Any, new: Any) -> str:
    """Name the first field that differs between two plans."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != store.jsonable(new.get(key)):
                return f"{key}: {old.get(key)!r} then, {new.get(key)!r} now"
    return "its content hash"


# --- running ----------------------------------------------------------------------------------


@dataclass
class Plan:
    """Everything a sweep needs to run, checked."""

    spec: SweepSpec
    base: Base
    kinds: list[Kind]
    design: pd.DataFrame
    metrics: list[Metric]
    posterior: Any = None  # a Posterior: every point's replications draw their parameters


def prepare(spec: SweepSpec, scenario: Any = None) -> Plan:
    """Check a sweep against its scenario and make its design; nothing runs."""
    if scenario is None:
        quick_path_check(spec)
    base = load_base(spec, scenario)
    kinds = check_parameters(spec, base)
    metrics = resolve_outcomes(spec.outcomes, base.outline)
    return Plan(spec, base, kinds, design_frame(spec, kinds), metrics)


def run_points(
    plan: Plan,
    points: Sequence[int],
    on_point: Callable[[int, pd.DataFrame, pd.DataFrame], None],
    *,
    executor: Any = None,
    chunk_size: int | None = None,
    progress: bool = False,
) -> None:
    """Run the ensembles of ``points`` in order; pass each one's runs and failures on."""
    from tqdm import tqdm

    from sim.experiments.ensemble import run

    extra = {} if chunk_size is None else {"chunk_size": chunk_size}
    total = len(points) * plan.spec.runs
    bar = tqdm(total=total, unit="run", file=sys.stderr, disable=not progress, leave=False)
    # One pool for the whole sweep: an executor that owns workers starts them once.
    with bar, _entered(executor):
        for point in points:
            values = point_values(plan.design, point, plan.spec.paths)
            scenario = plan.base.at(values, f"point {point} ({_assignment(values)})")
            results = run(
                scenario,
                runs=plan.spec.runs,
                seed=point_seed(plan.spec, point),
                executor=executor,
                posterior=plan.posterior,
                **extra,
            )
            on_point(point, _with_point(results.runs, point), _with_point(results.failures, point))
            bar.update(plan.spec.runs)


def _with_point(frame: pd.DataFrame, point: int) -> pd.DataFrame:
    """Return a copy of a table with a first column ``point``."""
    frame = frame.copy()
    frame.insert(0, "point", np.int64(point))
    return frame


def _entered(executor: Any) -> Any:
    """Return the executor as a context manager (one without ``__enter__`` needs none)."""
    return executor if hasattr(executor, "__enter__") else contextlib.nullcontext()


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
    """Return the Sobol indices of every outcome of interest (Sobol designs, all points run)."""
    if plan.spec.design not in ("sobol", "morris") or len(points) != plan.spec.n_points:
        return None
    from sim.experiments.sensitivity import sobol_indices

    ordered = points.sort_values("point")
    outcomes = {m.name: ordered[m.column].to_numpy(dtype=float) for m in plan.metrics}
    if plan.spec.design == "morris":  # mu* and sigma (sim.experiments.morris)
        from sim.experiments.designs import unit_sample
        from sim.experiments.morris import morris_indices

        return morris_indices(
            plan.spec.paths,
            unit_sample(plan.spec),
            outcomes,
            resamples=plan.spec.bootstrap,
            seed=plan.spec.seed,
        )
    return sobol_indices(
        plan.spec.paths,
        outcomes,
        second_order=plan.spec.second_order,
        resamples=plan.spec.bootstrap,
        seed=plan.spec.seed,
    )


# --- results ----------------------------------------------------------------------------------


class SweepResults:
    """A sweep's tables as pandas DataFrames, and ways to look closer at any point.

    ``design`` has one row per point (its parameter values); ``points`` one row per finished
    point (values, outcome probabilities with ``_lo``/``_hi`` Wilson 95% bounds, peak-rung
    statistics, mean costs); ``runs`` one row per replication with its ``point``;
    ``sensitivity`` the ranked Sobol indices (Sobol designs, else None).
    """

    def __init__(
        self,
        plan: Plan,
        points: pd.DataFrame,
        sensitivity: pd.DataFrame | None,
        *,
        path: Path | None,
        status: str,
        runs: pd.DataFrame | None = None,
        failures: pd.DataFrame | None = None,
    ) -> None:
        self.plan = plan
        self.spec = plan.spec
        self.design = plan.design
        self.points = points
        self.sensitivity = sensitivity
        self.path = path
        self.status = status
        self._runs = runs
        self._failures = failures

    @property
    def runs(self) -> pd.DataFrame:
        """One row per replication of every finished point, with a ``point`` column."""
        if self._runs is None:
            assert self.path is not None
            self._runs = read_runs(self.path)
        return self._runs

    @property
    def failures(self) -> pd.DataFrame:
        """One row per replication that raised (point, index, seed key, error, traceback)."""
        if self._failures is None:
            folder = self.path / FAILURES_DIR if self.path else None
            files = sorted(folder.glob("point-*.parquet")) if folder and folder.is_dir() else []
            frames = [pd.read_parquet(f) for f in files]
            self._failures = (
                pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["point"])
            )
        return self._failures

    @property
    def metrics(self) -> list[Metric]:
        """The outcomes of interest."""
        return self.plan.metrics

    def scenario_at(self, point: int) -> Any:
        """Return the validated scenario of a point (to run it again with every table)."""
        self._check_point(point)
        values = point_values(self.design, point, self.spec.paths)
        return self.plan.base.at(values, f"point {point}")

    def trace(self, point: int, index: int) -> Any:
        """Re-run replication ``index`` of ``point`` alone and return its full RunRecord."""
        from sim.engine import simulate
        from sim.experiments.seeding import replication_seed
        from sim.scenario import compile_scenario

        if not 0 <= index < self.spec.runs:
            raise UsageError(f"replication {index} is not in 0..{self.spec.runs - 1}")
        spec = compile_scenario(self.scenario_at(point))
        return simulate(spec, replication_seed(point_seed(self.spec, point), index))

    def difference(self, a: int, b: int, outcome: str) -> dict[str, float]:
        """Return the outcome at point ``b`` minus at point ``a``, paired by replication.

        ``outcome`` is an outcome of interest (a class id, ``peak>=K``, ``peak_rung_mean`` or
        ``cost_<ACTOR>_mean``). With common random numbers, replication ``i`` of both points
        drew the same numbers, so the difference of each pair is the parameters' doing alone
        and its 95% interval (normal, from the pairs' standard error) is much narrower than
        that of two independent estimates; with independent seeds it is the usual one.
        """
        self._check_point(a)
        self._check_point(b)
        metric = _metric(outcome, self.plan.base.outline)
        runs = self.runs
        pairs = pd.merge(
            per_run(runs[runs["point"] == a], metric),
            per_run(runs[runs["point"] == b], metric),
            on="index",
            suffixes=("_a", "_b"),
        )
        moments = stats.mean_se((pairs["value_b"] - pairs["value_a"]).to_numpy())
        return {
            "difference": moments["mean"],
            "se": moments["se"],
            "ci95": moments["ci95"],
            "pairs": moments["n"],
        }

    def _check_point(self, point: int) -> None:
        if not 0 <= point < len(self.design):
            raise UsageError(f"point {point} is not in 0..{len(self.design) - 1}")

    def table(self) -> str:
        """Return the points (and the sensitivity ranking) as plain-text tables."""
        text = render_points(self)
        if self.sensitivity is not None:
            from sim.experiments.morris import render_morris
            from sim.experiments.sensitivity import render_sensitivity

            labels = {m.name: m.label for m in self.metrics}
            render = render_morris if self.spec.design == "morris" else render_sensitivity
            text += "\n" + render(self.sensitivity, labels)
        return text

    def to_json(self) -> dict[str, Any]:
        """Return the sweep's plan, points and sensitivity as plain JSON data."""
        sens = self.sensitivity
        return store.jsonable(
            {
                "scenario": self.plan.base.outline.name,
                "path": str(self.path) if self.path else None,
                "status": self.status,
                "spec": self.spec.model_dump(mode="json"),
                "outcomes": {m.name: m.column for m in self.metrics},
                "points": self.points.to_dict("records"),
                "sensitivity": None if sens is None else sens.to_dict("records"),
            }
        )

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (
            f"SweepResults({self.plan.base.outline.name!r}, {self.spec.design}, "
            f"points={len(self.points)}/{len(self.design)}, runs={self.spec.runs}{where})"
        )


def per_run(runs: pd.DataFrame, metric: Metric) -> pd.DataFrame:
    """Return each replication's value of a metric: ``index`` and ``value``."""
    column = metric.column
    if column.startswith("p_peak_ge_"):
        value = (runs["peak_rung"] >= int(column.removeprefix("p_peak_ge_"))).astype(float)
    elif column.startswith("p_"):
        value = (runs["outcome"].astype(str) == metric.name).astype(float)
    else:  # peak_rung_mean or cost_<ACTOR>_mean: the mean of a runs-table column
        value = runs[column.removesuffix("_mean")].astype(float)
    return pd.DataFrame({"index": runs["index"].to_numpy(), "value": value.to_numpy()})


def read_runs(path: Path) -> pd.DataFrame:
    """Read the runs of every finished point of a sweep folder, in point order."""
    folder = Folder(path)
    frames = [folder.read_point(p) for p in sorted(folder.finished_points())]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["point"])


# --- the entry point --------------------------------------------------------------------------


def sweep(
    target: Any = None,
    *,
    out: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    executor: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
    command: str | None = None,
    name: str | None = None,
    force: bool = False,
    posterior: Any = None,
    **fields: Any,
) -> SweepResults:
    """Run a parameter sweep and return its tables.

    Args:
        target: a :class:`SweepSpec`, the path or name of a sweep file, a scenario (a name,
            a path, or a loaded Scenario) to sweep with ``parameters``, or None with
            ``resume`` (the folder's own plan is run).
        out: a results root; the sweep is written to ``out/<scenario>/sweep-<id>/``. None
            keeps everything in memory.
        resume: a sweep folder to finish: only its missing points run. Its plan must match
            the one given, if any.
        executor: 'processes' (default), 'dask', or an executor object (anything with
            ``map(fn, chunks)``, see :mod:`sim.experiments.executors`); one executor, and
            so one pool of workers, serves every point.
        workers: local worker processes (default: every core; 1 runs in this process).
        scheduler: with ``executor='dask'``, the address of a running scheduler.
        chunk_size: replications per chunk (default: enough chunks per point to keep every
            worker busy, at most the ensemble's default).
        progress: show a progress bar on stderr.
        command: the command line to record in the manifest (default: ``sys.argv``).
        name: write to ``out/<scenario>/<name>/`` instead of a fresh ``sweep-<id>`` folder; a
            folder of that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as the sweep starts).
        posterior: a calibration folder: every point's replications draw the calibrated
            parameters from its posterior (see :mod:`sim.experiments.posterior`).
        **fields: fields of :class:`SweepSpec` that set or override the target's:
            ``parameters`` (``{path: "0.3:0.9:7"}``, ``{path: [0, 1]}`` or
            ``{path: {"low": 0, "high": 1}}``), ``design``, ``points``, ``runs``, ``seed``,
            ``common_random_numbers``, ``outcomes``, ``set``, ``second_order``, ``bootstrap``.
    """
    store.check_destination(out, name, force)
    if resume is not None and (name is not None or force):
        raise UsageError("--resume DIR finishes that folder: give no --name or --force")
    folder = Folder(Path(resume)) if resume is not None else None
    spec, scenario = resolve_spec(target, fields, folder.path if folder else None)
    if target is None and folder is not None:
        scenario = stored_scenario(folder.path)  # Finish what was started, as it was started.
    plan = prepare(spec, scenario)
    with_posterior(plan, posterior, folder.path if folder else None)
    chosen = choose_executor(executor, workers, scheduler)
    chunk = chunk_size or default_chunk(spec.runs, getattr(chosen, "workers", 1))
    return execute(plan, out, folder, chosen, chunk, progress, command, name=name, force=force)


def choose_executor(executor: Any, workers: int | None, scheduler: str | None) -> Any:
    """Return the executor object to use for every point of a sweep."""
    from sim.experiments.executors import make_executor

    if executor is not None and not isinstance(executor, str):
        if workers is not None or scheduler is not None:
            raise UsageError("give workers and scheduler to the executor, not to sweep()")
        return executor
    return make_executor(executor, workers, scheduler)


def default_chunk(runs: int, workers: int) -> int:
    """Return a chunk size that gives each worker about two chunks of every point."""
    from sim.experiments.ensemble import DEFAULT_CHUNK

    return max(1, min(DEFAULT_CHUNK, -(-runs // (2 * max(1, workers)))))


def execute(
    plan: Plan,
    out: str | os.PathLike[str] | None,
    folder: Folder | None,
    executor: Any,
    chunk_size: int | None,
    progress: bool,
    command: str | None,
    *,
    name: str | None = None,
    force: bool = False,
) -> SweepResults:
    """Run the missing points of a checked plan, in memory or into a (new or resumed) folder."""
    if folder is None and out is None:
        runs: dict[int, pd.DataFrame] = {}
        failures: list[pd.DataFrame] = []

        def keep(point: int, frame: pd.DataFrame, failed: pd.DataFrame) -> None:
            runs[point] = frame
            if len(failed):
                failures.append(failed)

        run_points(
            plan,
            range(plan.spec.n_points),
            keep,
            executor=executor,
            chunk_size=chunk_size,
            progress=progress,
        )
        points = points_frame(plan, runs)
        all_runs = pd.concat([runs[p] for p in sorted(runs)], ignore_index=True)
        return SweepResults(
            plan,
            points,
            sensitivity_frame(plan, points),
            path=None,
            status="complete",
            runs=all_runs,
            failures=pd.concat(failures, ignore_index=True) if failures else None,
        )
    started = dt.datetime.now(dt.UTC)
    folder = _open_folder(plan, out, folder, started, name, force)
    todo = [p for p in range(plan.spec.n_points) if p not in folder.finished_points()]
    with _recording(plan, folder, started, command, len(todo)):
        run_points(
            plan,
            todo,
            folder.write_point,
            executor=executor,
            chunk_size=chunk_size,
            progress=progress,
        )
    return finish(plan, folder, "complete", started, command, len(todo))


def _open_folder(
    plan: Plan,
    out: str | os.PathLike[str] | None,
    folder: Folder | None,
    started: dt.datetime,
    name: str | None,
    force: bool,
) -> Folder:
    """Create the sweep's folder and write its plan and design, or check the resumed one's."""
    document = plan_document(plan.spec, plan.base, plan.kinds)
    if plan.posterior is not None:
        document["posterior"] = plan.posterior.to_json()
    if folder is not None:
        check_resumable(folder, document)
        stored = pd.read_parquet(folder.path / DESIGN)
        if not stored.equals(plan.design):
            raise UsageError(f"--resume {folder.path}: the stored design differs from the plan's")
        (folder.path / RUNS_DIR).mkdir(exist_ok=True)
        for leftover in (folder.path / RUNS_DIR).glob(".*.part"):
            leftover.unlink()  # A point that was being written when the sweep died.
        return folder
    assert out is not None
    folder = Folder.create(Path(out), plan.base.outline.name, started, name, force)
    store.write_json(folder.path / SWEEP_PLAN, {**document, "started": started.isoformat()})
    store.write_table(folder.path / DESIGN, plan.design)
    return folder


@contextlib.contextmanager
def _recording(
    plan: Plan, folder: Folder, started: dt.datetime, command: str | None, todo: int
) -> Iterator[None]:
    """On an interruption or an error, write the tables of what finished, then re-raise."""
    try:
        yield
    except BaseException as exc:
        from sim.experiments.stops import stop_status

        status, error = stop_status(exc)  # As for an ensemble.
        done = finish(plan, folder, status, started, command, todo, error)
        exc.add_note(
            f"{len(done.points)} of {plan.spec.n_points} points saved in {folder.path}; "
            f"finish with: sim sweep --resume {folder.path}"
        )
        raise


def finish(
    plan: Plan,
    folder: Folder,
    status: str,
    started: dt.datetime,
    command: str | None,
    ran: int,
    error: str | None = None,
) -> SweepResults:
    """Write the points table, the sensitivity table and the manifest (last)."""
    runs = {p: folder.read_point(p) for p in sorted(folder.finished_points())}
    points = points_frame(plan, runs)
    store.write_table(folder.path / POINTS, points)
    sensitivity = sensitivity_frame(plan, points) if status == "complete" else None
    if sensitivity is not None:
        store.write_table(folder.path / SENSITIVITY, sensitivity)
    manifest = sweep_manifest(plan, status, len(points), ran, started, command, error)
    store.write_json(folder.path / store.MANIFEST, manifest)
    return SweepResults(plan, points, sensitivity, path=folder.path, status=status)


def sweep_manifest(
    plan: Plan,
    status: str,
    completed: int,
    ran: int,
    started: dt.datetime,
    command: str | None,
    error: str | None,
) -> dict[str, Any]:
    """Return the manifest of a sweep folder: what ran, how it ended, by what code."""
    spec = plan.spec
    return {
        "format_version": SWEEP_FORMAT,
        "kind": "sweep",
        "scenario": plan.base.outline.name,
        "title": spec.title or plan.base.scenario.title,
        "content_hash": plan.base.scenario.content_hash(),
        "design": spec.design,
        "parameters": spec.paths,
        "points": spec.n_points,
        "points_completed": completed,
        "points_run_this_time": ran,
        "runs_per_point": spec.runs,
        "seed": spec.seed,
        "common_random_numbers": spec.common_random_numbers,
        "outcomes": [m.name for m in plan.metrics],
        "posterior": plan.posterior.source if plan.posterior is not None else None,
        "status": status,
        "error": error,
        "package_version": store.package_version(),
        "git": store.git_commit(),
        "environment": {**store.environment(), "SALib": _salib_version()},
        "command": command if command is not None else " ".join(sys.argv),
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "files": {
            "plan": SWEEP_PLAN,
            "design": DESIGN,
            "points": POINTS,
            "runs": f"{RUNS_DIR}/point-NNNNNN.parquet (one per point, with a point column)",
            "sensitivity": SENSITIVITY if spec.design in ("sobol", "morris") else None,
        },
        "spec": spec.model_dump(mode="json"),
    }


def _salib_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("SALib")
    except metadata.PackageNotFoundError:
        return "not installed"


def load_sweep(path: str | os.PathLike[str]) -> SweepResults:
    """Open a sweep folder written earlier and return its tables."""
    folder = Folder(Path(path))
    document = folder.read_plan()
    spec = build_spec(document["spec"], str(folder.path / SWEEP_PLAN))
    base = Base(stored_scenario(folder.path), spec.set)
    kinds = [Kind(p["path"], p["kind"]) for p in document["parameters"]]
    design = pd.read_parquet(folder.path / DESIGN)
    plan = Plan(spec, base, kinds, design, resolve_outcomes(spec.outcomes, base.outline))
    points = (
        pd.read_parquet(folder.path / POINTS)
        if (folder.path / POINTS).is_file()
        else points_frame(plan, {})
    )
    sens_path = folder.path / SENSITIVITY
    sensitivity = pd.read_parquet(sens_path) if sens_path.is_file() else None
    manifest_path = folder.path / store.MANIFEST
    status = store.read_json(manifest_path)["status"] if manifest_path.is_file() else "unknown"
    return SweepResults(plan, points, sensitivity, path=folder.path, status=status)


# --- tables for the terminal ------------------------------------------------------------------

#: Rows of a long points table shown on the terminal (the rest are in points.parquet).
ROWS_SHOWN = 40


def render_points(results: SweepResults) -> str:
    """Return the points as text: a matrix per outcome for a two-parameter grid, else a list."""
    spec, points = results.spec, results.points
    head = f"{results.plan.base.outline.name}: {spec.describe()}\n"
    if points.empty:
        return head + "no point finished\n"
    if spec.design == "grid" and len(spec.paths) == 2:
        blocks = [_matrix(points, spec.paths, m) for m in results.metrics]
    else:
        # A Saltelli design's points matter through the indices below; show a taste of them.
        shown = ROWS_SHOWN if spec.design not in ("sobol", "morris") else ROWS_SHOWN // 4
        blocks = [_long_table(points, spec.paths, results.metrics, shown)]
    return head + "\n" + "\n\n".join(blocks) + "\n"


def _cell(row: Mapping[str, Any], metric: Metric) -> str:
    from sim.analysis.tables import num, pct

    value = row[metric.column]
    if metric.probability:
        lo, hi = row[f"{metric.column}_lo"], row[f"{metric.column}_hi"]
        return f"{pct(value)} [{100 * lo:.1f}, {100 * hi:.1f}]"
    return num(value, 2)


def _matrix(points: pd.DataFrame, paths: Sequence[str], metric: Metric) -> str:
    """Return one outcome over a two-parameter grid: rows the first, columns the second."""
    from sim.analysis.tables import table

    rows_key, cols_key = paths
    cols = list(dict.fromkeys(points[cols_key].tolist()))
    cells = {(r[rows_key], r[cols_key]): _cell(r, metric) for r in points.to_dict("records")}
    body = []
    for r in dict.fromkeys(points[rows_key].tolist()):
        body.append([_show(r), *(cells.get((r, c), "-") for c in cols)])
    kind = "95% Wilson interval, in %" if metric.probability else "mean over the runs"
    title = f"{metric.label} ({kind}): rows {rows_key}, columns {cols_key}"
    headers = [rows_key.rsplit(".", 1)[-1], *(_show(c) for c in cols)]
    return title + "\n" + table(headers, body, right=range(len(headers)))


def _long_table(
    points: pd.DataFrame, paths: Sequence[str], metrics: Sequence[Metric], shown: int
) -> str:
    from sim.analysis.tables import table

    headers = ["point", *paths, *(m.label for m in metrics)]
    body = []
    for row in points.head(shown).to_dict("records"):
        body.append(
            [str(row["point"]), *(_show(row[p]) for p in paths), *(_cell(row, m) for m in metrics)]
        )
    text = "Points (95% Wilson intervals, in %)\n" + table(headers, body, right=range(len(headers)))
    if len(points) > shown:
        text += f"\n... {len(points) - shown} more points in {POINTS}"
    return text


def _show(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)
