"""What a sweep is: its parameters, design, size, seed and outcomes of interest.

A sweep is described once, by a :class:`SweepSpec`, whether it comes from a YAML sweep file
(``scenarios/sweeps/*.yaml``), from ``sim sweep NAME --param ...`` or from Python. A
parameter is a dotted scenario path and either a list of values, an evenly spaced range
(``0.3:0.9:7``), a plain range (``0.3:0.9``, uniform) or a bounded distribution
(``triangular(0.1, 0.3, 0.6)``). Everything here is pure description: nothing is loaded,
sampled or run (see :mod:`sim.experiments.designs` and :mod:`sim.experiments.sweep`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.errors import SimError
from sim.experiments.designs import DesignName, design
from sim.experiments.documents import (
    Label,
    WithLabel,
    check_distinct,
    find_document,
    looks_like_path,
    merge_by_path,
    parse_shorthand,
    validation_message,
)
from sim.results.files import SWEEP_PLAN

DISTRIBUTIONS = ("uniform", "loguniform", "triangular", "truncnormal")

#: The arguments of each distribution in the ``name(a, b, ...)`` shorthand, in order.
DIST_ARGS = {
    "uniform": ("low", "high"),
    "loguniform": ("low", "high"),
    "triangular": ("low", "mode", "high"),
    "truncnormal": ("mean", "sd", "low", "high"),
}

#: A sweep with more points than this is surely a typo (runs x points would take weeks).
MAX_POINTS = 100_000


class SweepError(SimError):
    """A sweep that cannot be run as described; the message names the field and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Number = Annotated[float, Field(allow_inf_nan=False)]


class Parameter(_Strict, WithLabel):
    """One swept scenario field: explicit values, an evenly spaced range, or a distribution.

    ``values`` lists the values to try (grid designs only; any YAML values). ``low`` and
    ``high`` bound a range: with ``steps`` it is a grid of evenly spaced values; without, the
    range is sampled by ``dist`` (uniform unless said otherwise) in LHS and Sobol designs.
    ``label`` (the mapping form only) names it in tables and figures instead of the label
    made from the scenario's names (:mod:`sim.scenario.labels`).
    """

    path: str = Field(min_length=1)
    values: list[Any] | None = Field(default=None, min_length=1)
    low: Number | None = None
    high: Number | None = None
    steps: int | None = Field(default=None, ge=2, le=10_000)
    dist: Literal["uniform", "loguniform", "triangular", "truncnormal"] = "uniform"
    mode: Number | None = None
    mean: Number | None = None
    sd: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    label: Label | None = None

    @model_validator(mode="after")
    def _check_shape(self) -> Parameter:
        if self.values is not None:
            if any(v is not None for v in (self.low, self.high, self.steps)):
                raise ValueError("give either values or low/high, not both")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give values (a list) or a range (low and high)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.steps is not None and self.dist != "uniform":
            raise ValueError("steps make an evenly spaced grid; leave out dist")
        self._check_distribution()
        return self

    def _check_distribution(self) -> None:
        """Check that the distribution has what it needs and nothing else."""
        needed = set(DIST_ARGS[self.dist]) - {"low", "high"}
        for name in ("mode", "mean", "sd"):
            given = getattr(self, name) is not None
            if given and name not in needed:
                raise ValueError(f"'{name}' is not a parameter of a {self.dist} distribution")
            if not given and name in needed:
                raise ValueError(f"a {self.dist} distribution needs '{name}'")
        assert self.low is not None and self.high is not None  # checked by the caller
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError("a loguniform distribution needs low > 0")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:  # type: ignore[operator]
            raise ValueError("a triangular distribution needs low <= mode <= high")

    @property
    def grid_values(self) -> list[Any]:
        """The values a grid design tries, in order."""
        if self.values is not None:
            return list(self.values)
        if self.steps is None:
            raise SweepError(
                f"parameter {self.path}: a grid needs values or steps "
                f"(e.g. {self.low:g}:{self.high:g}:5)"
            )
        assert self.low is not None and self.high is not None
        width = (self.high - self.low) / (self.steps - 1)
        # Round away float noise so 0.3 + 2 * 0.1 is written as 0.5, not 0.5000000000000001.
        return [round(self.low + k * width, 12) for k in range(self.steps)]

    @property
    def extremes(self) -> list[Any]:
        """The values whose validity stands for the whole parameter (ends, or every value)."""
        if self.values is not None:
            return _distinct(self.values)
        return [self.low, self.high]

    def describe(self) -> str:
        """Return the parameter in the CLI shorthand, e.g. ``0.3:0.9:7``."""
        if self.values is not None:
            return "[" + ", ".join(_show(v) for v in self.values) + "]"
        if self.steps is not None:
            return f"{self.low:g}:{self.high:g}:{self.steps}"
        if self.dist == "uniform":
            return f"{self.low:g}:{self.high:g}"
        args = ", ".join(f"{getattr(self, a):g}" for a in DIST_ARGS[self.dist])
        return f"{self.dist}({args})"


def _distinct(values: list[Any]) -> list[Any]:
    """Return the values without repeats, in order (values may be unhashable)."""
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class SweepSpec(_Strict):
    """A complete sweep: the scenario, what varies, how points are chosen and how many runs.

    ``points`` is the number of points of an LHS design, or the base sample ``N`` of a Sobol
    design (a power of two), which then has ``N * (D + 2)`` points for ``D`` parameters
    (``N * (2D + 2)`` with ``second_order``). A grid has one point per combination of values.
    ``runs`` is the number of replications at each point. With ``common_random_numbers``
    (the default) replication ``i`` draws the same random numbers at every point.
    """

    scenario: str = Field(min_length=1, description="A named scenario or a path to one.")
    title: str = ""
    description: str = ""
    design: DesignName = "grid"
    points: int | None = Field(default=None, ge=1, le=MAX_POINTS)
    runs: int = Field(default=500, ge=1, le=10_000_000)
    seed: int = Field(default=0, ge=0)
    common_random_numbers: bool = True
    outcomes: list[str] = Field(
        default_factory=list,
        description="Outcomes of interest: outcome class ids, 'peak>=K', or points-table "
        "columns such as peak_rung_mean; default: every outcome class.",
    )
    set: dict[str, Any] = Field(
        default_factory=dict, description="Fixed overrides applied at every point."
    )
    parameters: list[Parameter] = Field(min_length=1, max_length=64)
    second_order: bool = False
    bootstrap: int = Field(default=1000, ge=10, le=100_000)

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters_from_mapping(cls, value: Any) -> Any:
        """Accept ``{path: spec}`` (the sweep-file form) as well as a list of parameters."""
        if isinstance(value, dict):
            return [parameter_input(path, spec) for path, spec in value.items()]
        return value

    @model_validator(mode="after")
    def _check_design(self) -> SweepSpec:
        check_distinct([p.path for p in self.parameters], self.set, "swept")
        if design(self.design).sampled:
            self._check_sampled()
        else:
            self._check_grid()
        return self

    def _check_grid(self) -> None:
        if self.points is not None:
            raise ValueError(
                "a grid has one point per combination of values; leave out points "
                f"(this grid has {self.n_points})"
            )
        for p in self.parameters:
            p.grid_values  # noqa: B018 - raises when a range has no steps
        if self.n_points > MAX_POINTS:
            raise ValueError(f"the grid has {self.n_points} points; at most {MAX_POINTS}")

    def _check_sampled(self) -> None:
        for p in self.parameters:
            if p.values is not None:
                raise ValueError(
                    f"parameter {p.path}: a list of values only fits a grid design; give a "
                    f"range (low/high) or a distribution for {design(self.design).named} design"
                )
            if p.steps is not None:
                raise ValueError(
                    f"parameter {p.path}: steps only fit a grid design; give low:high "
                    f"for {design(self.design).named} design"
                )
        if self.points is None:
            raise ValueError(f"{design(self.design).named} design needs points")
        if design(self.design).sobol:
            n = self.points
            if n & (n - 1):
                raise ValueError(
                    f"points of a Sobol design is its base sample N and must be a power of two "
                    f"(Sobol sequences balance only there), not {n}; try {_power_of_two(n)}"
                )
        # A design's size can exceed its points (Saltelli's N(2d+2), Morris's r(d+1)).
        if self.n_points > MAX_POINTS:
            raise ValueError(f"the design has {self.n_points} points; at most {MAX_POINTS}")

    @property
    def paths(self) -> list[str]:
        """The swept paths, in order."""
        return [p.path for p in self.parameters]

    @property
    def n_points(self) -> int:
        """The number of points of the design."""
        return design(self.design).size(self)

    def describe(self) -> str:
        """Return a one-line description of the design, its size and its parameters."""
        params = ", ".join(f"{p.path}={p.describe()}" for p in self.parameters)
        return f"{self.outline()}; {params}"

    def outline(self) -> str:
        """Return the design and its size, runs and seeds in a line (no parameters)."""
        crn = "common random numbers" if self.common_random_numbers else "independent seeds"
        return (
            f"{self.design} design, {self.n_points} points x {self.runs} runs "
            f"= {self.n_points * self.runs} runs, seed {self.seed}, {crn}"
        )


def _power_of_two(n: int) -> int:
    """Return the power of two nearest ``n``."""
    return 1 << max(0, round(math.log2(max(n, 1))))


# --- the shorthand: 0.3:0.9:7, [0, 0.5, 1], triangular(0.1, 0.3, 0.6) --------------------------


def parameter_input(path: str, spec: Any) -> dict[str, Any]:
    """Return the fields of a :class:`Parameter` from a sweep file entry or a CLI value."""
    if isinstance(spec, dict):
        return {"path": path, **spec}
    if isinstance(spec, list):
        return {"path": path, "values": spec}
    if isinstance(spec, str):
        return {"path": path, **parse_shorthand(spec, path, DIST_ARGS)}
    raise ValueError(
        f"parameter {path}: expected a list of values, a range such as 0.3:0.9:7, a "
        f"distribution such as triangular(0.1, 0.3, 0.6) or a mapping, not {spec!r}"
    )


def parse_param_option(option: str) -> tuple[str, dict[str, Any]]:
    """Split a ``--param PATH=SPEC`` option into the path and the Parameter fields."""
    path, sep, text = option.partition("=")
    if not sep or not path.strip():
        raise SweepError(f"--param {option}: expected PATH=SPEC, e.g. --param a.b.c=0.3:0.9:7")
    path = path.strip()
    try:
        return path, {"path": path, **parse_shorthand(text, path, DIST_ARGS)}
    except ValueError as err:
        raise SweepError(f"--param {option}: {err}") from None


# --- building and reading specs ------------------------------------------------------------


def build_spec(fields: dict[str, Any], where: str = "sweep") -> SweepSpec:
    """Validate sweep fields into a :class:`SweepSpec`, or raise a :class:`SweepError`."""
    try:
        return SweepSpec.model_validate(fields)
    except ValidationError as err:
        raise SweepError(validation_message(where, fields, err, None)) from None
    except ValueError as err:  # From parameter_input, run before pydantic's own checks.
        raise SweepError(f"{where}: {err}") from None


def is_sweep_document(data: Any) -> bool:
    """Return True if a YAML document is a sweep file (it has ``parameters``, no ``actors``)."""
    return isinstance(data, dict) and "parameters" in data and "actors" not in data


def read_sweep_file(path: Path) -> SweepSpec:
    """Read and validate a sweep file; errors name the file, the line and the field."""
    from sim.scenario.loader import ScenarioError, read_yaml

    try:
        source = read_yaml(Path(path))
    except ScenarioError as err:
        raise SweepError(str(err)) from None
    if not is_sweep_document(source.data):
        raise SweepError(f"{path}: not a sweep file (a sweep file has scenario and parameters)")
    fields = dict(source.data)
    scenario = fields.get("scenario")
    if isinstance(scenario, str) and looks_like_path(scenario):
        # A scenario path in a sweep file is relative to the sweep file, not to the caller.
        fields["scenario"] = str((Path(path).parent / scenario).resolve())
    try:
        return SweepSpec.model_validate(fields)
    except ValidationError as err:
        raise SweepError(validation_message(str(path), source.data, err, source.node)) from None
    except ValueError as err:
        raise SweepError(f"{path}: {err}") from None


# --- resolving what to sweep (light: no numpy, no pandas, so errors come fast) ---------------

#: The fields of a sweep spec that ``sweep()`` (and the CLI) may set or override.
SPEC_FIELDS = (
    "scenario",
    "design",
    "points",
    "runs",
    "seed",
    "common_random_numbers",
    "outcomes",
    "set",
    "parameters",
    "second_order",
    "bootstrap",
    "title",
    "description",
)


def read_plan(folder: Path) -> dict[str, Any]:
    """Read a sweep folder's ``sweep.json``, or explain why this is not a sweep folder."""
    import json

    plan = Path(folder) / SWEEP_PLAN
    if not plan.is_file():
        raise SweepError(f"{folder}: not a sweep folder (no {SWEEP_PLAN})")
    return json.loads(plan.read_text(encoding="utf-8"))


def resolve_spec(
    target: Any, fields: dict[str, Any], resume: Path | None = None
) -> tuple[SweepSpec, Any]:
    """Return the sweep spec to run, and the base Scenario when ``target`` is a loaded one.

    ``target`` is a :class:`SweepSpec`, a mapping of its fields, a sweep file (path or name),
    a scenario (name, path or loaded Scenario), or None to run a resumed folder's own plan.
    ``fields`` set or override the target's fields; parameters merge by path.
    """
    unknown = sorted(set(fields) - set(SPEC_FIELDS))
    if unknown:
        raise SweepError(f"unknown sweep fields {unknown}; known: {', '.join(SPEC_FIELDS)}")
    if target is None:
        if resume is None:
            raise SweepError(
                "a sweep needs a sweep file, a spec or a scenario (or a resume folder)"
            )
        return _merge(read_plan(resume)["spec"], fields, str(resume)), None
    if isinstance(target, SweepSpec):
        return _merge(target.model_dump(), fields, "sweep"), None
    if isinstance(target, dict):
        return _merge(dict(target), fields, "sweep"), None
    if hasattr(target, "model_dump") and hasattr(target, "actors"):  # a loaded Scenario
        return _merge({"scenario": target.name}, fields, "sweep"), target
    if isinstance(target, str | os.PathLike):
        sweep_file = find_sweep_file(os.fspath(target))
        if sweep_file is not None:
            return _merge(read_sweep_file(sweep_file).model_dump(), fields, str(sweep_file)), None
        from sim.scenario.registry import resolve

        resolve(os.fspath(target))  # neither a sweep file nor a scenario: say so first
        return _merge({"scenario": os.fspath(target)}, fields, "sweep"), None
    raise SweepError(f"cannot sweep a {type(target).__name__}")


def _merge(base: dict[str, Any], fields: dict[str, Any], where: str) -> SweepSpec:
    """Return a spec from a base spec's fields and overrides (parameters merge by path)."""
    merged = dict(base)
    for key, value in fields.items():
        if value is None:
            continue
        if key == "parameters" and merged.get("parameters"):
            merged["parameters"] = _merge_parameters(merged["parameters"], value)
        elif key == "set" and merged.get("set"):
            merged["set"] = {**merged["set"], **value}
        else:
            merged[key] = value
    if not merged.get("parameters"):
        raise SweepError(
            f"{where}: no parameters to sweep; give --param PATH=SPEC (parameters: in a "
            "sweep file), e.g. --param actors.CHN.attributes.resolve=0.3:0.9:7"
        )
    return build_spec(merged, where)


def _merge_parameters(old: Any, new: Any) -> list[dict[str, Any]]:
    """Return parameters ``old`` with ``new`` added, replacing any of the same path."""

    def as_list(value: Any) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            return [parameter_input(path, spec) for path, spec in value.items()]
        return [p.model_dump() if isinstance(p, Parameter) else dict(p) for p in value]

    try:
        return merge_by_path(as_list(old), as_list(new))
    except ValueError as err:
        raise SweepError(str(err)) from None


def find_sweep_file(name: str) -> Path | None:
    """Return the sweep file a name or path stands for, or None if it is no sweep file."""
    return find_document(name, is_sweep_document)


# --- checking paths fast, before the scenario is fully loaded ---------------------------------


def path_message(err: Exception) -> str:
    """Reword a path error of the loader (written for ``--set``) for a sweep parameter."""
    return "sweep parameter " + str(err).removeprefix("--set ")


def quick_path_check(spec: SweepSpec) -> None:
    """Check every swept and fixed path against the scenario file, fast (libyaml).

    The full load of a scenario parses it with pure-Python YAML, which takes a while; a
    mistyped path should not wait for it. Any trouble reading the file here is left for
    the full load to report properly.
    """
    document = _quick_document(spec.scenario)
    if document is not None:
        check_paths(document, [*spec.paths, *spec.set])


def _quick_document(name: str) -> dict[str, Any] | None:
    """Return a scenario's merged document read with libyaml, or None on any trouble."""
    import yaml

    from sim.scenario.loader import merge
    from sim.scenario.registry import resolve, resolve_base

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        path = resolve(name)
        chain = [yaml.load(path.read_text(encoding="utf-8"), Loader=loader)]
        while isinstance(chain[-1], dict) and isinstance(chain[-1].get("extends"), str):
            if len(chain) > 16:
                return None
            path = resolve_base(chain[-1]["extends"], path)
            chain.append(yaml.load(path.read_text(encoding="utf-8"), Loader=loader))
    except (SimError, OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    data: dict[str, Any] = {}
    for doc in reversed(chain):
        if not isinstance(doc, dict):
            return None
        data = merge(data, {k: v for k, v in doc.items() if k != "extends"})
    return data


def check_paths(document: dict[str, Any], paths: list[str]) -> None:
    """Raise a SweepError naming the closest fields if a path is not in the scenario."""
    import copy

    from sim.scenario.paths import PathError, parse_path, set_path

    for path in paths:
        try:
            set_path(copy.deepcopy(document), parse_path(path), 0, path)
        except PathError as err:
            raise SweepError(path_message(err)) from None


def parse_set_option(option: str) -> tuple[str, Any]:
    """Split a ``--set PATH=VALUE`` option; the value is read as YAML (``0.5``, ``true``)."""
    import yaml

    path, sep, text = option.partition("=")
    if not sep or not path.strip():
        raise SweepError(f"--set {option}: expected PATH=VALUE, e.g. --set a.b.c=0.5")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    return path.strip(), value


def cli_fields(args: Any) -> dict[str, Any]:
    """Return the sweep fields given on the ``sim sweep`` command line (None: not given)."""
    params = [parse_param_option(option)[1] for option in args.param]
    sets = dict(parse_set_option(option) for option in args.overrides)
    return {
        "parameters": params or None,
        "set": sets or None,
        "design": args.design,
        "points": args.points,
        "runs": args.runs,
        "seed": args.seed,
        "common_random_numbers": False if args.independent_seeds else None,
        "outcomes": args.outcomes or None,
    }
