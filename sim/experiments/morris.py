"""The Morris design: elementary-effects screening of many parameters (SALib).

Everything of the design is here, for a design registry to take whole: its unit-cube sample
(:func:`morris_sample`, SALib's :func:`SALib.sample.morris.sample`: ``points`` trajectories
of ``D + 1`` points, each moving one parameter at a time by a grid jump), its size, and its
analysis (:func:`morris_indices`, :func:`SALib.analyze.morris.analyze`).

An elementary effect of a parameter is the change of the outcome when that parameter alone
moves by the jump (in units of its range). Over the trajectories, ``mu*`` -- the mean of the
effects' absolute values -- says how much the parameter matters (Campolongo, Cariboni and
Saltelli 2007), ``sigma`` -- their standard deviation -- how much its effect depends on where
the others are (interactions, or a non-linear effect). A parameter with small mu* and sigma
can be fixed. Both come with 95% bootstrap intervals over the trajectories: mu*'s from SALib,
sigma's by resampling whole trajectories and asking SALib again (percentile interval).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: The levels of the Morris grid (SALib's default; the jump is levels / (2 (levels - 1))).
LEVELS = 4

#: The columns of a Morris screening table, in order.
COLUMNS = [
    "outcome",
    "parameter",
    "rank",
    "mu_star",
    "mu_star_lo",
    "mu_star_hi",
    "sigma",
    "sigma_lo",
    "sigma_hi",
    "mu",
]


def n_points(trajectories: int, d: int) -> int:
    """The points of a Morris design: ``trajectories * (D + 1)``."""
    return trajectories * (d + 1)


def problem(d: int, names: Sequence[str] | None = None) -> dict[str, Any]:
    """A SALib problem of ``d`` variables on ``[0, 1]``."""
    names = list(names) if names is not None else [f"x{j}" for j in range(d)]
    return {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}


def morris_sample(d: int, trajectories: int, rng: np.random.Generator) -> np.ndarray:
    """SALib's Morris sample in ``[0, 1]^d``: ``trajectories`` blocks of ``d + 1`` points."""
    from SALib.sample import morris

    seed = int(rng.integers(2**31 - 1))  # SALib seeds numpy's legacy global generator
    return morris.sample(problem(d), trajectories, num_levels=LEVELS, seed=seed)


def morris_indices(
    parameters: Sequence[str],
    unit: np.ndarray,
    outcomes: Mapping[str, np.ndarray],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """mu*, sigma and mu with intervals of every outcome, ranked by mu* within each.

    ``unit`` is the design in the unit cube (design order), ``outcomes`` each outcome's
    values at its points. An outcome that does not vary has undefined (NaN) indices.
    """
    frames = [
        _indices_of(name, np.asarray(y, dtype=float), parameters, unit, resamples, seed)
        for name, y in outcomes.items()
    ]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _analyze(parameters: Sequence[str], x: np.ndarray, y: np.ndarray, resamples: int, seed: Any):
    from SALib.analyze import morris

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return morris.analyze(
            problem(len(parameters), parameters),
            x,
            y,
            num_resamples=resamples,
            num_levels=LEVELS,
            seed=seed,
        )


def _indices_of(
    name: str,
    y: np.ndarray,
    parameters: Sequence[str],
    unit: np.ndarray,
    resamples: int,
    seed: int,
) -> pd.DataFrame:
    if not np.isfinite(y).all():
        raise ValueError(f"outcome {name}: undefined at some points; Morris needs a value")
    d = len(parameters)
    nan = np.full(d, np.nan)
    mu_star = lo = hi = sigma = s_lo = s_hi = mu = nan
    if np.ptp(y) > 0:
        rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(d, 0x3011)))
        found = _analyze(parameters, unit, y, resamples, int(rng.integers(2**31 - 1)))
        mu_star = np.asarray(found["mu_star"], dtype=float)
        half = np.asarray(found["mu_star_conf"], dtype=float)
        lo, hi = np.maximum(mu_star - half, 0.0), mu_star + half  # mu* is never below 0
        sigma = np.asarray(found["sigma"], dtype=float)
        mu = np.asarray(found["mu"], dtype=float)
        s_lo, s_hi = _sigma_interval(parameters, unit, y, resamples, rng)
    frame = pd.DataFrame(
        {
            "outcome": name,
            "parameter": list(parameters),
            "mu_star": mu_star,
            "mu_star_lo": lo,
            "mu_star_hi": hi,
            "sigma": sigma,
            "sigma_lo": s_lo,
            "sigma_hi": s_hi,
            "mu": mu,
        }
    )
    frame = frame.sort_values("mu_star", ascending=False, kind="stable", na_position="last")
    frame["rank"] = np.arange(1, d + 1)
    return frame


def _sigma_interval(
    parameters: Sequence[str],
    unit: np.ndarray,
    y: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sigma's 95% interval, ``sigma +/- 1.96 sd`` of its bootstrap over whole trajectories.

    The normal interval, as SALib's for mu* (a percentile interval of a standard deviation
    resampled with replacement sits below the estimate: repeated trajectories shrink it).
    """
    d = len(parameters)
    block = d + 1
    r = len(y) // block
    draws = []
    for _ in range(min(resamples, 200)):  # sigma's interval: 200 resamples are plenty
        pick = rng.integers(r, size=r)
        rows = (pick[:, None] * block + np.arange(block)).ravel()
        found = _analyze(parameters, unit[rows], y[rows], 2, int(rng.integers(2**31 - 1)))
        draws.append(np.asarray(found["sigma"], dtype=float))
    half = 1.96 * np.nanstd(np.array(draws), axis=0, ddof=1)
    sigma = np.asarray(_analyze(parameters, unit, y, 2, 0)["sigma"], dtype=float)
    return np.maximum(sigma - half, 0.0), sigma + half
