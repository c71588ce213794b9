"""Designs: the points of a sweep, as a table of parameter values, and the registry of designs.

A full grid takes every combination of the parameters' values (the first parameter varies
slowest). A Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`) and a Saltelli sample
(:func:`SALib.sample.sobol.sample`, for Sobol indices) draw points in the unit cube, which
each parameter's distribution then maps to its values by its inverse CDF. The unit-cube
samples are seeded from the sweep's seed, so a design is the same every time it is made.

:data:`DESIGNS` says, for each design a sweep may name, how messages and figures call it,
whether it samples (needs ``points`` and ranges) and whether it yields Sobol indices: the
one place the rest of the code asks, never comparing the design's name. Nothing heavy is
imported here until a design is drawn, so the spec that validates against the registry
stays light.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

if TYPE_CHECKING:
    import numpy as np

#: The names of the designs, as a sweep file and ``--design`` give them.
DesignName = Literal["grid", "lhs", "sobol", "morris"]


class Axis(Protocol):
    """What a design reads of a swept parameter (a :class:`~sim.experiments.sweep_spec.Parameter`).

    Said here, not imported, since the sweep's spec imports the design registry: the
    arrow runs one way.
    """

    @property
    def grid_values(self) -> list[Any]: ...  # noqa: D102 - the Parameter's
    @property
    def dist(self) -> str: ...  # noqa: D102
    @property
    def low(self) -> float | None: ...  # noqa: D102
    @property
    def high(self) -> float | None: ...  # noqa: D102
    @property
    def mode(self) -> float | None: ...  # noqa: D102
    @property
    def mean(self) -> float | None: ...  # noqa: D102
    @property
    def sd(self) -> float | None: ...  # noqa: D102


class DesignSpec(Protocol):
    """What a design reads of a sweep (a :class:`~sim.experiments.sweep_spec.SweepSpec`)."""

    @property
    def design(self) -> str: ...  # noqa: D102 - the SweepSpec's
    @property
    def parameters(self) -> Sequence[Axis]: ...  # noqa: D102
    @property
    def points(self) -> int | None: ...  # noqa: D102
    @property
    def second_order(self) -> bool: ...  # noqa: D102
    @property
    def seed(self) -> int: ...  # noqa: D102


#: Spawn key of the design's random stream, apart from the replications' (which use (i,)).
DESIGN_KEY = 0x5EED_DE51


@dataclass(frozen=True)
class Design:
    """One kind of design: its names, what it needs and gives, and how it draws its points.

    ``named`` is how a message names it ("a Latin hypercube design needs points"),
    ``label`` how a figure does; ``sampled`` designs draw ``points`` from parameter ranges
    (a grid takes lists and steps instead); ``sobol`` designs (a Saltelli sample, of a
    power-of-two base sample) give Sobol indices; ``morris`` designs (``points``
    trajectories of one-at-a-time steps) give Morris's elementary effects.
    """

    name: str
    named: str
    label: str
    sampled: bool
    sobol: bool
    unit_sample: Callable[[DesignSpec, Any], np.ndarray] | None = None
    morris: bool = False

    @property
    def has_indices(self) -> bool:
        """Whether the design's outcomes give sensitivity indices (Sobol's or Morris's)."""
        return self.sobol or self.morris

    def size(self, spec: DesignSpec) -> int:
        """Return the number of points of the design of ``spec``."""
        d = len(spec.parameters)
        if not self.sampled:
            return math.prod(len(p.grid_values) for p in spec.parameters)
        assert spec.points is not None
        if self.sobol:
            return spec.points * ((2 * d + 2) if spec.second_order else (d + 2))
        if self.morris:
            from sim.experiments.morris import n_points

            return n_points(spec.points, d)
        return spec.points


def _lhs(spec: DesignSpec, rng: Any) -> np.ndarray:
    from scipy.stats import qmc

    d = len(spec.parameters)
    try:
        sampler = qmc.LatinHypercube(d, rng=rng)
    except TypeError:  # scipy < 1.15 calls it seed
        sampler = qmc.LatinHypercube(d, seed=rng)
    return sampler.random(spec.points)


def _saltelli(spec: DesignSpec, rng: Any) -> np.ndarray:
    assert spec.points is not None  # guaranteed by SweepSpec for sampled designs
    return saltelli_sample(len(spec.parameters), spec.points, spec.second_order, rng)


def _morris(spec: DesignSpec, rng: Any) -> np.ndarray:
    from sim.experiments.morris import morris_sample

    assert spec.points is not None  # guaranteed by SweepSpec for sampled designs
    return morris_sample(len(spec.parameters), spec.points, rng)


#: Every design a sweep may name, by name.
DESIGNS: dict[str, Design] = {
    "grid": Design("grid", "a grid", "grid", sampled=False, sobol=False),
    "lhs": Design("lhs", "a Latin hypercube", "Latin hypercube", sampled=True, sobol=False,
                  unit_sample=_lhs),
    "sobol": Design("sobol", "a Sobol", "Sobol (Saltelli)", sampled=True, sobol=True,
                    unit_sample=_saltelli),
    "morris": Design("morris", "a Morris", "Morris", sampled=True, sobol=False,
                     unit_sample=_morris, morris=True),
}  # fmt: skip
assert set(DESIGNS) == set(get_args(DesignName)), "the design names and the registry differ"


def design(name: str) -> Design:
    """Return the design of a name (a spec's ``design``)."""
    return DESIGNS[name]


def design_rng(seed: int) -> np.random.Generator:
    """Return the generator that draws a sweep's design (independent of its replications)."""
    import numpy as np

    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(DESIGN_KEY,)))


def design_values(spec: DesignSpec) -> list[list[Any]]:
    """Return the design: one list of parameter values (in ``spec.paths`` order) per point."""
    if not design(spec.design).sampled:
        return [
            list(combo) for combo in itertools.product(*(p.grid_values for p in spec.parameters))
        ]
    unit = unit_sample(spec)
    columns = [transform(p, unit[:, j]) for j, p in enumerate(spec.parameters)]
    return [[float(col[i]) for col in columns] for i in range(unit.shape[0])]


def unit_sample(spec: DesignSpec) -> np.ndarray:
    """Return the LHS or Saltelli sample in the unit cube, shape ``(points, parameters)``."""
    draw = design(spec.design).unit_sample
    if draw is None:
        raise ValueError(f"no unit sample for a {spec.design} design")
    return draw(spec, design_rng(spec.seed))


def saltelli_sample(d: int, n: int, second_order: bool, rng: np.random.Generator) -> np.ndarray:
    """Return SALib's Saltelli sample of ``n`` base points in ``[0, 1]^d``, in SALib's order."""
    from SALib.sample import sobol

    from sim.analysis.sensitivity import unit_problem

    problem = unit_problem(d)
    with warnings.catch_warnings():
        # SALib passes scipy's deprecated `seed=`; the sample itself is unaffected.
        warnings.simplefilter("ignore", DeprecationWarning)
        return sobol.sample(problem, n, calc_second_order=second_order, seed=rng)


def transform(param: Axis, u: np.ndarray) -> np.ndarray:
    """Map unit-interval values ``u`` to the parameter's values by its inverse CDF."""
    import numpy as np

    low, high = param.low, param.high
    assert low is not None and high is not None  # sampled parameters always have a range
    u = np.asarray(u, dtype=float)
    if param.dist == "uniform":
        values = low + u * (high - low)
    elif param.dist == "loguniform":
        values = np.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    elif param.dist == "triangular":
        from scipy import stats

        assert param.mode is not None  # checked by Parameter
        c = (param.mode - low) / (high - low)
        values = stats.triang(c, loc=low, scale=high - low).ppf(u)
    else:  # truncnormal
        from scipy import stats

        assert param.mean is not None and param.sd is not None  # checked by Parameter
        mean, sd = param.mean, param.sd
        a, b = (low - mean) / sd, (high - mean) / sd
        values = stats.truncnorm(a, b, loc=mean, scale=sd).ppf(u)
    # The inverse CDF can land a rounding error outside the support; the range is the promise.
    return np.clip(values, low, high)
