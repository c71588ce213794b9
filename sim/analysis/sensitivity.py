"""Sobol sensitivity indices of a sweep's outcomes, with bootstrap intervals (SALib).

The first-order index ``S1`` of a parameter is the share of an outcome's variance over the
design that the parameter explains alone; the total index ``ST`` adds every interaction it
takes part in. A parameter with ``ST`` near zero can be fixed anywhere in its range without
changing the outcome. Estimates come from :func:`SALib.analyze.sobol.analyze` on a Saltelli
design (Saltelli et al. 2010 for S1 and ST); intervals from its bootstrap over the base
sample (normal approximation, ``S +/- z * sd`` of the resampled estimates). Pure: an
outcome's values at the points of a Saltelli design in, the ranked table out (its text is
:mod:`sim.present.sweep`'s).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

#: The columns of the sensitivity table, in order.
COLUMNS = [
    "outcome",
    "parameter",
    "rank",
    "ST",
    "ST_lo",
    "ST_hi",
    "S1",
    "S1_lo",
    "S1_hi",
]


def unit_problem(d: int, names: list[str] | None = None) -> dict[str, Any]:
    """Return a SALib problem of ``d`` variables on ``[0, 1]`` (a sweep samples the unit cube)."""
    names = names or [f"x{j}" for j in range(d)]
    return {"num_vars": d, "names": names, "bounds": [[0.0, 1.0]] * d}


def sobol_indices(
    parameters: Sequence[str],
    outcomes: Mapping[str, np.ndarray],
    *,
    second_order: bool = False,
    resamples: int = 1000,
    seed: int = 0,
    conf_level: float = 0.95,
) -> pd.DataFrame:
    """Return S1 and ST with intervals of every outcome, one row per (outcome, parameter).

    ``outcomes`` maps an outcome name to its values at the points of a Saltelli design, in
    design order. Rows are ranked by ST within each outcome (1 = most influential). An
    outcome that does not vary over the design has undefined (NaN) indices.
    """
    frames = [
        _indices_of(
            name, np.asarray(y, dtype=float), parameters, second_order, resamples, seed, conf_level
        )
        for name, y in outcomes.items()
    ]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


def _indices_of(
    name: str,
    y: np.ndarray,
    parameters: Sequence[str],
    second_order: bool,
    resamples: int,
    seed: int,
    conf_level: float,
) -> pd.DataFrame:
    """Return the ranked indices of one outcome."""
    if not np.isfinite(y).all():
        raise ValueError(f"outcome {name}: undefined at some points; Sobol indices need a value")
    d = len(parameters)
    nan = np.full(d, np.nan)
    if np.ptp(y) == 0:
        s1, s1c, st, stc = nan, nan, nan, nan
    else:
        from SALib.analyze import sobol

        # A seeded Generator (never the falsy 0, which SALib would take as "no seed") makes
        # the bootstrap, and so the intervals, the same on every analysis of the same data.
        rng = np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(d,)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            found = sobol.analyze(
                unit_problem(d, list(parameters)),
                y,
                calc_second_order=second_order,
                num_resamples=resamples,
                conf_level=conf_level,
                seed=rng,
            )
        s1, s1c, st, stc = (
            np.asarray(found[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")
        )
    frame = pd.DataFrame(
        {
            "outcome": name,
            "parameter": list(parameters),
            "ST": st,
            "ST_lo": st - stc,
            "ST_hi": st + stc,
            "S1": s1,
            "S1_lo": s1 - s1c,
            "S1_hi": s1 + s1c,
        }
    )
    frame = frame.sort_values(["ST", "S1"], ascending=False, kind="stable", na_position="last")
    frame["rank"] = np.arange(1, d + 1)
    return frame
