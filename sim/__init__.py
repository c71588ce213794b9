"""sim: a Monte Carlo escalation-scenario simulator built on simpy.

The public API, loaded lazily so that ``import sim`` (and ``sim --help``) stays fast::

    import sim
    scenario = sim.load("taiwan-flashpoint-2025", overrides=["actors.CHN.attributes.resolve=0.8"])
    record = sim.simulate(scenario, seed=1)          # one replication
    results = sim.run(scenario, runs=2000, seed=1)   # an ensemble
    results.summary["outcomes"]
    paired = sim.compare(
        "taiwan-flashpoint-2025", "taiwan-flashpoint-2025-us-backs-japan", runs=2000
    )
    paired.summary  # paired differences on common random numbers

    posterior = sim.calibrate(
        "taiwan-flashpoint-2025", "timeline.csv",
        parameters={"actors.CHN.attributes.resolve": "uniform(0.4, 0.95)"},
    )
    posterior.summary["parameters"]  # posterior mean, median, 90% interval against the prior

    estimate = sim.rare("taiwan-flashpoint-2025", "peak>=7")  # multilevel splitting
    futures = sim.branch("results/taiwan-flashpoint-2025/<run-id>", replication=4, day=40)

``load``, ``run``, ``compare``, ``sweep``, ``calibrate``, ``rare``, ``branch`` and
``register_policy`` come from :mod:`sim.scenario`, :mod:`sim.experiments` and
:mod:`sim.engine.policy` on first use.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from sim.engine.record import RunRecord

__all__ = [
    "__version__",
    "branch",
    "calibrate",
    "compare",
    "load",
    "rare",
    "register_policy",
    "run",
    "simulate",
    "sweep",
]

# Where each lazily loaded name lives.
_LAZY = {
    "load": ("sim.scenario", "load"),
    "run": ("sim.experiments.ensemble", "run"),
    "branch": ("sim.experiments.branch", "branch"),
    "rare": ("sim.experiments.rare", "rare"),
    "compare": ("sim.experiments.compare", "compare"),
    "sweep": ("sim.experiments.sweep", "sweep"),
    "calibrate": ("sim.experiments.calibrate", "calibrate"),
    "register_policy": ("sim.engine.policy", "register_policy"),
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use."""
    if name == "__version__":
        from importlib import metadata

        try:
            return metadata.version("sim")
        except metadata.PackageNotFoundError:
            return "unknown"
    if name == "plots":  # the figures module, imported on first use (matplotlib stays lazy)
        import importlib

        return importlib.import_module("sim.plots")
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # Later lookups skip this function.
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def simulate(scenario: Any, seed: int | np.random.SeedSequence = 0) -> RunRecord:
    """Run one replication of a scenario and return its record.

    Args:
        scenario: a Scenario, a compiled RunSpec, or the name or path of a scenario.
        seed: a root seed ``S`` -- the run is then replication 0 of ``sim.run(..., seed=S)``
            and of ``sim trace NAME --seed S`` -- or a ``SeedSequence`` used as it is.
    """
    import numpy as np

    from sim.engine import simulate as engine_simulate
    from sim.experiments.stops import signals_outside_compiled_code
    from sim.results.seeding import replication_seed
    from sim.scenario import compile_scenario, load

    if isinstance(scenario, str | os.PathLike):
        scenario = load(os.fspath(scenario))
    if hasattr(scenario, "model_dump"):  # A pydantic Scenario, not yet compiled.
        scenario = compile_scenario(scenario)
    if not isinstance(seed, np.random.SeedSequence):
        seed = replication_seed(seed, 0)
    with signals_outside_compiled_code():  # a Ctrl-C in a kernel is not lost
        return engine_simulate(scenario, seed)
