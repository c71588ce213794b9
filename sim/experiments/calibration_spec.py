"""What a calibration is: its scenario, record, priors, statistics, distance and stopping rules.

A calibration is described once, by a :class:`CalibrationSpec`, whether it comes from a
calibration file (``scenarios/calibrations/*.yaml``, the format of the sweep files for
parameters), from ``sim calibrate SCENARIO TIMELINE.csv --param PATH=PRIOR ...`` or from
Python. A parameter is a dotted scenario path and a prior: ``uniform(a, b)`` (or ``a:b``),
``loguniform(a, b)``, ``triangular(low, mode, high)``, ``truncnormal(mean, sd, low, high)``
or ``gamma(shape, rate)``. Everything here is pure description: nothing is loaded or run.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sim.analysis.calibration import LEVELS, MEASURES
from sim.errors import SimError
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
from sim.experiments.sweep_spec import DIST_ARGS

#: The arguments of each prior in the ``name(a, b, ...)`` shorthand, in order.
PRIOR_ARGS = {**DIST_ARGS, "gamma": ("shape", "rate")}

#: How far into an unbounded prior's tails its values are checked against the field.
TAIL = 1e-9

#: The scale functions of pyabc's adaptive distance, by the names a calibration file uses.
SCALES = ("rmsd", "sd", "mad", "cmad", "none")


class CalibrationError(SimError):
    """A calibration that cannot be run as described; the message names the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Number = Annotated[float, Field(allow_inf_nan=False)]
PositiveNumber = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class Prior(_Strict, WithLabel):
    """The prior of one calibrated scenario field.

    ``label`` (the mapping form only) names it in tables and figures instead of the label
    made from the scenario's names (:mod:`sim.scenario.labels`).
    """

    path: str = Field(min_length=1)
    dist: Literal["uniform", "loguniform", "triangular", "truncnormal", "gamma"] = "uniform"
    low: Number | None = None
    high: Number | None = None
    mode: Number | None = None
    mean: Number | None = None
    sd: PositiveNumber | None = None
    shape: PositiveNumber | None = None
    rate: PositiveNumber | None = None
    label: Label | None = None

    @model_validator(mode="after")
    def _check(self) -> Prior:
        needed = set(PRIOR_ARGS[self.dist])
        for name in ("low", "high", "mode", "mean", "sd", "shape", "rate"):
            given = getattr(self, name) is not None
            if given and name not in needed:
                raise ValueError(f"'{name}' is not a parameter of a {self.dist} prior")
            if not given and name in needed:
                raise ValueError(f"a {self.dist} prior needs '{name}'")
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.dist == "loguniform" and self.low is not None and self.low <= 0:
            raise ValueError("a loguniform prior needs low > 0")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:  # type: ignore[operator]
            raise ValueError("a triangular prior needs low <= mode <= high")
        return self

    def scipy_call(self) -> tuple[str, tuple[float, ...], dict[str, float]]:
        """Return the scipy.stats name, arguments and keywords of the prior (pyabc's RV too)."""
        arg = self._argument
        if self.dist == "uniform":
            return "uniform", (arg("low"), arg("high") - arg("low")), {}
        if self.dist == "loguniform":
            return "loguniform", (arg("low"), arg("high")), {}
        if self.dist == "triangular":
            low, width = arg("low"), arg("high") - arg("low")
            return "triang", ((arg("mode") - low) / width, low, width), {}
        if self.dist == "truncnormal":
            mean, sd = arg("mean"), arg("sd")
            a, b = (arg("low") - mean) / sd, (arg("high") - mean) / sd
            return "truncnorm", (a, b), {"loc": mean, "scale": sd}
        return "gamma", (arg("shape"),), {"scale": 1.0 / arg("rate")}

    def _argument(self, name: str) -> float:
        """Return one of the prior's arguments (the validator saw that it is given)."""
        value = getattr(self, name)
        assert value is not None, f"a {self.dist} prior without {name}"
        return float(value)

    def frozen(self) -> Any:
        """Return the prior as a frozen scipy distribution."""
        from scipy import stats

        name, args, kwargs = self.scipy_call()
        return getattr(stats, name)(*args, **kwargs)

    @property
    def support(self) -> tuple[float, float]:
        """The values whose validity stands for the prior's: its ends, or far tail quantiles."""
        if self.low is not None and self.high is not None:
            return self.low, self.high
        dist = self.frozen()
        return float(dist.ppf(TAIL)), float(dist.ppf(1 - TAIL))

    def describe(self) -> str:
        """Return the prior in the shorthand, e.g. ``loguniform(0.25, 4)``."""
        args = ", ".join(f"{getattr(self, a):g}" for a in PRIOR_ARGS[self.dist])
        return f"{self.dist}({args})"


def prior_input(path: str, spec: Any) -> dict[str, Any]:
    """Return the fields of a :class:`Prior` from a calibration file entry or a CLI value."""
    if isinstance(spec, dict):
        return {"path": path, **spec}
    if isinstance(spec, str) and ("(" in spec or ":" in spec) and not spec.strip().startswith("["):
        fields = parse_shorthand(spec, path, PRIOR_ARGS)
        if "steps" in fields:
            raise ValueError(f"parameter {path}: '{spec}': a prior is low:high, not a grid")
        return {"path": path, **fields}
    raise ValueError(
        f"parameter {path}: expected a prior such as uniform(0.2, 0.8), 0.2:0.8, "
        f"loguniform(0.25, 4), truncnormal(0.7, 0.1, 0.4, 0.95) or gamma(2, 1), not {spec!r} "
        f"(known priors: {', '.join(PRIOR_ARGS)})"
    )


class Statistics(_Strict):
    """Which summary statistics a calibration uses and how it weighs them."""

    level: Literal["root", "code"] = Field(
        default="root", description=f"Kinds of move by CAMEO root or exact code ({LEVELS})."
    )
    measures: list[Literal["first", "count"]] = Field(default_factory=lambda: list(MEASURES))
    unobserved: bool = Field(
        default=True, description="Also the kinds the scenario makes and the record lacks."
    )
    include: list[str] = Field(default_factory=list, description="Name patterns to keep.")
    exclude: list[str] = Field(default_factory=list, description="Name patterns to drop.")
    weights: dict[str, Annotated[float, Field(ge=0.0, allow_inf_nan=False)]] = Field(
        default_factory=dict, description="Pattern -> factor on the statistic's weight."
    )


class Distance(_Strict):
    """The distance: a weighted p-norm, rescaled every generation (pyabc's adaptive one)."""

    p: Annotated[float, Field(ge=1.0)] = 1.0
    scale: Literal["rmsd", "sd", "mad", "cmad", "none"] = Field(
        default="rmsd",
        description="Scale of each statistic, refitted each generation on the last "
        "population: rmsd (spread and bias to the record), sd, mad, cmad; none: weights only.",
    )
    max_weight_ratio: Annotated[float, Field(ge=1.0, allow_inf_nan=False)] | None = Field(
        default=None,
        description="Bound each statistic's scale weight to this many times the smallest "
        "(pyabc's max_scale_weight_ratio): a kind of move that almost never happens then "
        "cannot outweigh the rest of the record in the runs where it does. None: unbounded.",
    )


class Stop(_Strict):
    """When a calibration stops (the first rule that holds)."""

    generations: int = Field(default=8, ge=1, le=1000)
    min_epsilon: Annotated[float, Field(ge=0.0)] = 0.0
    max_simulations: int | None = Field(default=None, ge=1)
    min_acceptance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    minutes: PositiveNumber | None = None
    stable: Annotated[float, Field(gt=0.0, lt=1.0)] | None = Field(
        default=None,
        description="Stop when epsilon fell by less than this fraction in a generation.",
    )


class CalibrationSpec(_Strict):
    """A complete calibration: scenario, record, priors, statistics, distance, size, seed."""

    scenario: str = Field(min_length=1, description="A named scenario or a path to one.")
    timeline: str = Field(min_length=1, description="The record: a timeline CSV file.")
    title: str = ""
    description: str = ""
    until: dt.date | None = Field(default=None, description="Last day scored (default: record's).")
    ignore_actors: list[str] = Field(
        default_factory=list, description="Actors of the record the scenario lacks, to drop."
    )
    parameters: list[Prior] = Field(min_length=1, max_length=32)
    set: dict[str, Any] = Field(default_factory=dict, description="Fixed overrides.")
    statistics: Statistics = Statistics()
    distance: Distance = Distance()
    quantile: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        default=0.5, description="Each epsilon is this quantile of the last distances."
    )
    population: int = Field(default=500, ge=10, le=1_000_000)
    stop: Stop = Stop()
    seed: int = Field(default=0, ge=0)
    check: int = Field(default=200, ge=0, le=1_000_000, description="Runs per predictive arm.")
    truncate: bool = Field(
        default=True,
        description="Simulate only as far past the window as can change moves within it.",
    )

    @field_validator("parameters", mode="before")
    @classmethod
    def _parameters_from_mapping(cls, value: Any) -> Any:
        """Accept ``{path: prior}`` (the file form) as well as a list of priors."""
        if isinstance(value, dict):
            return [prior_input(path, spec) for path, spec in value.items()]
        return value

    @model_validator(mode="after")
    def _check_paths(self) -> CalibrationSpec:
        check_distinct([p.path for p in self.parameters], self.set, "calibrated")
        return self

    @property
    def paths(self) -> list[str]:
        """The calibrated paths, in order."""
        return [p.path for p in self.parameters]

    def describe(self) -> str:
        """Return one line: the priors, the size and the stopping rule."""
        priors = ", ".join(f"{p.path}={p.describe()}" for p in self.parameters)
        return (
            f"ABC-SMC, population {self.population}, at most {self.stop.generations} "
            f"generations, seed {self.seed}; {priors}"
        )


#: The fields of a calibration spec that ``calibrate()`` (and the CLI) may set or override.
SPEC_FIELDS = tuple(CalibrationSpec.model_fields)


def build_spec(fields: dict[str, Any], where: str = "calibration") -> CalibrationSpec:
    """Validate calibration fields into a :class:`CalibrationSpec`, or raise CalibrationError."""
    try:
        return CalibrationSpec.model_validate(fields)
    except ValidationError as err:
        raise CalibrationError(validation_message(where, fields, err, None)) from None
    except ValueError as err:  # From prior_input, run before pydantic's own checks.
        raise CalibrationError(f"{where}: {err}") from None


def is_calibration_document(data: Any) -> bool:
    """Return True if a YAML document is a calibration file (parameters and a timeline)."""
    return isinstance(data, dict) and "parameters" in data and "timeline" in data


def read_calibration_file(path: str | os.PathLike[str]) -> CalibrationSpec:
    """Read and validate a calibration file; errors name the file, the line and the field.

    Relative scenario and timeline paths are relative to the file.
    """
    from sim.scenario.loader import ScenarioError, read_yaml

    path = Path(path)
    try:
        source = read_yaml(path)
    except ScenarioError as err:
        raise CalibrationError(str(err)) from None
    if not is_calibration_document(source.data):
        raise CalibrationError(
            f"{path}: not a calibration file (a calibration file has scenario, timeline and "
            "parameters)"
        )
    fields = dict(source.data)
    if isinstance(fields.get("scenario"), str) and looks_like_path(fields["scenario"]):
        fields["scenario"] = str((path.parent / fields["scenario"]).resolve())
    if isinstance(fields.get("timeline"), str) and not Path(fields["timeline"]).is_absolute():
        fields["timeline"] = str((path.parent / fields["timeline"]).resolve())
    try:
        return CalibrationSpec.model_validate(fields)
    except ValidationError as err:
        raise CalibrationError(
            validation_message(str(path), source.data, err, source.node)
        ) from None
    except ValueError as err:
        raise CalibrationError(f"{path}: {err}") from None


def find_calibration_file(name: str) -> Path | None:
    """Return the calibration file a name or path stands for, or None if it is none."""
    return find_document(name, is_calibration_document)


def resolve_spec(target: Any, fields: dict[str, Any]) -> CalibrationSpec:
    """Return the calibration to run from a spec, a mapping, a file or a scenario, and overrides.

    ``fields`` set or override the target's fields; parameters merge by path.
    """
    unknown = sorted(set(fields) - set(SPEC_FIELDS))
    if unknown:
        raise CalibrationError(
            f"unknown calibration fields {unknown}; known: {', '.join(SPEC_FIELDS)}"
        )
    if isinstance(target, CalibrationSpec):
        base, where = target.model_dump(), "calibration"
    elif isinstance(target, dict):
        base, where = dict(target), "calibration"
    elif isinstance(target, str | os.PathLike):
        found = find_calibration_file(os.fspath(target))
        if found is not None:
            base, where = read_calibration_file(found).model_dump(), str(found)
        else:
            base, where = {"scenario": os.fspath(target)}, "calibration"
    elif hasattr(target, "model_dump") and hasattr(target, "actors"):
        raise CalibrationError("give the scenario by name or path (a calibration records it)")
    else:
        raise CalibrationError(f"cannot calibrate a {type(target).__name__}")
    return _merge(base, fields, where)


def _merge(base: dict[str, Any], fields: dict[str, Any], where: str) -> CalibrationSpec:
    merged = dict(base)
    for key, value in fields.items():
        if value is None:
            continue
        if key == "parameters" and merged.get("parameters"):
            merged["parameters"] = _merge_priors(merged["parameters"], value)
        elif key in ("set", "statistics", "distance", "stop") and isinstance(value, dict):
            old = merged.get(key) or {}
            old = old.model_dump() if hasattr(old, "model_dump") else dict(old)
            merged[key] = {**old, **value}
        else:
            merged[key] = value
    if not merged.get("parameters"):
        raise CalibrationError(
            f"{where}: no parameters to calibrate; give --param PATH=PRIOR (parameters: in a "
            "calibration file), e.g. --param actors.CHN.attributes.resolve='uniform(0.4, 0.95)'"
        )
    if not merged.get("timeline"):
        raise CalibrationError(f"{where}: no timeline; give the record, a TIMELINE.csv file")
    return build_spec(merged, where)


def _merge_priors(old: Any, new: Any) -> list[dict[str, Any]]:
    def as_list(value: Any) -> list[dict[str, Any]]:
        if isinstance(value, dict):
            return [prior_input(path, spec) for path, spec in value.items()]
        return [p.model_dump() if isinstance(p, Prior) else dict(p) for p in value]

    try:
        return merge_by_path(as_list(old), as_list(new))
    except ValueError as err:
        raise CalibrationError(str(err)) from None


def parse_param_option(option: str) -> dict[str, Any]:
    """Split a ``--param PATH=PRIOR`` option into the fields of a :class:`Prior`."""
    path, sep, text = option.partition("=")
    if not sep or not path.strip():
        raise CalibrationError(
            f"--param {option}: expected PATH=PRIOR, e.g. --param a.b.c='uniform(0.3, 0.9)'"
        )
    try:
        return prior_input(path.strip(), text)
    except ValueError as err:
        raise CalibrationError(f"--param {option}: {err}") from None


def check_finite(value: float, what: str) -> float:
    """Return ``value`` if finite, else raise a CalibrationError naming ``what``."""
    if not math.isfinite(value):
        raise CalibrationError(f"{what}: expected a finite number, got {value!r}")
    return value


def cli_fields(args: Any) -> dict[str, Any]:
    """Return the fields given on the ``sim calibrate`` command line (None: not given)."""
    from sim.experiments.sweep_spec import parse_set_option

    priors = [parse_param_option(option) for option in args.param]
    sets = dict(parse_set_option(option) for option in args.overrides)
    statistics = {
        "level": args.level,
        "measures": args.measure or None,
        "include": args.statistic or None,
        "exclude": args.exclude or None,
        "weights": dict(_weight_option(w) for w in args.weight) or None,
        "unobserved": False if args.no_unobserved else None,
    }
    stop = {
        "generations": args.generations,
        "min_epsilon": args.min_epsilon,
        "max_simulations": args.max_simulations,
        "min_acceptance": args.min_acceptance,
        "minutes": args.minutes,
        "stable": args.stable,
    }
    distance = {"p": args.p, "scale": args.scale, "max_weight_ratio": args.max_weight_ratio}
    return {
        "timeline": args.timeline,
        "parameters": priors or None,
        "set": sets or None,
        "statistics": _given(statistics),
        "stop": _given(stop),
        "distance": _given(distance),
        "quantile": args.quantile,
        "population": args.population,
        "seed": args.seed,
        "check": args.check,
        "until": args.until,
        "ignore_actors": args.ignore_actor or None,
        "truncate": False if args.full_horizon else None,
    }


def _given(fields: dict[str, Any]) -> dict[str, Any] | None:
    """Return the fields that were given, or None when none was."""
    given = {k: v for k, v in fields.items() if v is not None}
    return given or None


def _weight_option(option: str) -> tuple[str, float]:
    """Split a ``--weight PATTERN=FACTOR`` option."""
    pattern, sep, text = option.rpartition("=")
    try:
        factor = float(text)
    except ValueError:
        factor = math.nan
    if not sep or not pattern or not math.isfinite(factor) or factor < 0:
        raise CalibrationError(
            f"--weight {option}: expected PATTERN=FACTOR with a factor >= 0, "
            "e.g. --weight 'first:*=0.5'"
        )
    return pattern, factor
