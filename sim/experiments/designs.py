"""Designs: the points of a sweep, as a table of parameter values.

A full grid takes every combination of the parameters' values (the first parameter varies
slowest). A Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`) and a Saltelli sample
(:func:`SALib.sample.sobol.sample`, for Sobol indices) draw points in the unit cube, which
each parameter's distribution then maps to its values by its inverse CDF. The unit-cube
samples are seeded from the sweep's seed, so a design is the same every time it is made.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import numpy as np

from sim.experiments.sweep_spec import Parameter, SweepSpec

#: Spawn key of the design's random stream, apart from the replications' (which use (i,)).
DESIGN_KEY = 0x5EED_DE51


def design_rng(seed: int) -> np.random.Generator:
    """Return the generator that draws a sweep's design (independent of its replications)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(DESIGN_KEY,)))


def design_values(spec: SweepSpec) -> list[list[Any]]:
    """Return the design: one list of parameter values (in ``spec.paths`` order) per point."""
    if spec.design == "grid":
        return [
            list(combo) for combo in itertools.product(*(p.grid_values for p in spec.parameters))
        ]
    unit = unit_sample(spec)
    columns = [transform(p, unit[:, j]) for j, p in enumerate(spec.parameters)]
    return [[float(col[i]) for col in columns] for i in range(unit.shape[0])]


def unit_sample(spec: SweepSpec) -> np.ndarray:
    """Return the LHS or Saltelli sample in the unit cube, shape ``(points, parameters)``."""
    d = len(spec.parameters)
    assert spec.points is not None  # guaranteed by SweepSpec for sampled designs
    rng = design_rng(spec.seed)
    if spec.design == "lhs":
        from scipy.stats import qmc

        try:
            sampler = qmc.LatinHypercube(d, rng=rng)
        except TypeError:  # scipy < 1.15 calls it seed
            sampler = qmc.LatinHypercube(d, seed=rng)
        return sampler.random(spec.points)
    if spec.design == "sobol":
        return saltelli_sample(d, spec.points, spec.second_order, rng)
    if spec.design == "morris":
        from sim.experiments.morris import morris_sample

        return morris_sample(d, spec.points, rng)
    raise ValueError(f"no unit sample for a {spec.design} design")


def saltelli_sample(d: int, n: int, second_order: bool, rng: np.random.Generator) -> np.ndarray:
    """Return SALib's Saltelli sample of ``n`` base points in ``[0, 1]^d``, in SALib's order."""
    from SALib.sample import sobol

    problem = unit_problem(d)
    with warnings.catch_warnings():
        # SALib passes scipy's deprecated `seed=`; the sample itself is unaffected.
        warnings.simplefilter("ignore", DeprecationWarning)
        return sobol.sample(problem, n, calc_second_order=second_order, seed=rng)


def unit_problem(d: int, names: list[str] | None = None) -> dict[str, Any]:
    """Return a SALib problem of ``d`` variables on ``[0, 1]``."""
    names = names or [f"x{j}" for j in range(d)]
    return {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}


def transform(param: Parameter, u: np.ndarray) -> np.ndarray:
    """Map unit-interval values ``u`` to the parameter's values by its inverse CDF."""
    low, high = param.low, param.high
    assert low is not None and high is not None  # sampled parameters always have a range
    u = np.asarray(u, dtype=float)
    if param.dist == "uniform":
        values = low + u * (high - low)
    elif param.dist == "loguniform":
        values = np.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    elif param.dist == "triangular":
        from scipy import stats

        c = (param.mode - low) / (high - low)  # type: ignore[operator]
        values = stats.triang(c, loc=low, scale=high - low).ppf(u)
    else:  # truncnormal
        from scipy import stats

        mean, sd = param.mean, param.sd
        a, b = (low - mean) / sd, (high - mean) / sd  # type: ignore[operator]
        values = stats.truncnorm(a, b, loc=mean, scale=sd).ppf(u)
    # The inverse CDF can land a rounding error outside the support; the range is the promise.
    return np.clip(values, low, high)
