"""Figures of simulation results, for notebooks, ``sim plot`` and ``sim report``.

Each figure function takes a Results object (what ``sim.run`` returns) or a results folder
path and returns a :class:`matplotlib.figure.Figure`::

    import sim, sim.plots
    results = sim.run("taiwan-flashpoint-2025", runs=500, seed=1)
    sim.plots.outcome_probabilities(results)
    sim.plots.write_figures("results/taiwan-flashpoint-2025/<run-id>", fmt="svg")

Nothing heavy is imported until a figure is asked for: ``import sim.plots`` does not load
matplotlib. Figures are built without ``pyplot``, so nothing is shown or kept open.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The public names and the modules that define them.
_LAZY = {
    "outcome_probabilities": "sim.plots.ensemble",
    "peak_rung": "sim.plots.ensemble",
    "rung_fan": "sim.plots.ensemble",
    "rung_fan_by_dyad": "sim.plots.ensemble",
    "time_to_rung": "sim.plots.ensemble",
    "lever_use": "sim.plots.ensemble",
    "costs": "sim.plots.ensemble",
    "scores": "sim.plots.profiles",
    "scores_ladder": "sim.plots.profiles",
    "scores_goldstein": "sim.plots.profiles",
    "scores_rivera": "sim.plots.profiles",
    "paired_differences": "sim.plots.comparison",
    "sweep_response": "sim.plots.sweep",
    "sweep_heatmap": "sim.plots.sweep",
    "sobol_indices": "sim.plots.sweep",
    "morris_screening": "sim.plots.explore",
    "prim_tradeoff": "sim.plots.explore",
    "prim_box": "sim.plots.explore",
    "prior_posterior": "sim.plots.calibration",
    "pairwise_posterior": "sim.plots.calibration",
    "epsilon_schedule": "sim.plots.calibration",
    "predictive_check": "sim.plots.calibration",
    "load": "sim.plots.data",
    "figures": "sim.plots.registry",
    "write_figures": "sim.plots.registry",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sim.plots' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
