"""The backtest's entry point: run an ensemble, then hold it against a dated record.

The timeline is read and checked before anything is simulated; the scoring itself is
:mod:`sim.analysis.backtest`'s, the tables :mod:`sim.present.backtest`'s.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from typing import Any

from sim.analysis.backtest import Backtest, evaluate
from sim.analysis.timeline import observe, read_timeline, record_window
from sim.experiments.chunks import DEFAULT_CHUNK
from sim.experiments.ensemble import resolve_scenario, run_compiled
from sim.experiments.executors import Executor
from sim.experiments.options import RunOptions, choose_executor
from sim.experiments.posterior import override_paths, posterior_engine


def backtest(
    scenario: Any,
    timeline: str | os.PathLike[str],
    runs: int = 500,
    seed: int = 0,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    progress: bool = False,
    until: dt.date | None = None,
    full_horizon: bool = False,
    posterior: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    executor: Executor | str | None = None,
    scheduler: str | None = None,
) -> Backtest:
    """Run ``runs`` replications of a scenario and backtest them against a timeline file.

    ``scenario`` is a name, a path or a loaded Scenario (``overrides`` apply to names and
    paths). The timeline is read and checked before anything is simulated. The scored
    window ends at ``until``, by default on the record's last date
    (:func:`~sim.analysis.timeline.record_window`); ``full_horizon`` scores the whole
    horizon instead. The ensemble is :func:`sim.run`'s: ``posterior`` (default: the
    scenario's own, if it names one) draws each replication's parameters from a
    calibration, and ``workers``, ``executor`` and ``scheduler`` say where the replications
    run (default: this process), with the same results wherever they run.
    """
    from sim.scenario import compile_scenario

    rows = read_timeline(timeline)
    loaded = resolve_scenario(scenario, overrides)
    spec = compile_scenario(loaded)
    window = spec.days if full_horizon else record_window(rows, spec, until)
    observations = observe(rows, spec, window)
    engine = posterior_engine(posterior, loaded, override_paths(overrides))
    options = RunOptions(progress=progress, workers=workers, executor=executor,
                         scheduler=scheduler)  # fmt: skip
    chosen = choose_executor(options, runs, DEFAULT_CHUNK, caller="backtest()")
    results = run_compiled(loaded, spec, runs, seed, options, executor=chosen, engine=engine)
    changed: dict[str, Any] = {
        key: results.summary[key] for key in ("overrides", "posterior") if key in results.summary
    }
    return evaluate(
        spec,
        observations,
        results.moves,
        runs,
        seed,
        str(timeline),
        loaded.title,
        window,
        changed,
    )
