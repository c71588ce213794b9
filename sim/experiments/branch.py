"""Futures branched from a state a run reached: ``sim run --from DIR --replication I --day D``.

Every replication of a branched ensemble replays replication ``I`` of the results folder
``DIR`` -- the same scenario, the same seed and, for a run over a posterior, the same drawn
parameters -- up to day ``D``, and from there draws fresh randomness from its own seed
(:mod:`sim.engine.branching`). So every branch is run ``I`` exactly up to day ``D`` and its
own future after it; the ensemble's summary says where it branched from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sim.engine.branching import Split
from sim.errors import UsageError


class BranchEngine:
    """The ensemble's engine for branches: replay the parent run to ``day``, then diverge.

    Called as the ensemble's ``simulate(spec, seed)``: ``seed`` is the branch's own
    replication seed, whose child streams the run draws from after the split.
    """

    def __init__(self, parent: Any, parent_seed: np.random.SeedSequence, day: float) -> None:
        self.parent_spec = parent
        self.parent_seed = parent_seed
        self.day = float(day)
        self.branched_from: dict[str, Any] = {}

    def __call__(self, spec: Any, seed: np.random.SeedSequence) -> Any:
        """Run one branch: the parent's replay to the split day, then ``seed``'s streams."""
        from sim.engine import simulate

        del spec  # the parent's spec (a posterior's particle, if it drew one) is the branch's
        return simulate(self.parent_spec, self.parent_seed, (Split(self.day, seed),))


def branch_engine(folder: str | os.PathLike[str], replication: int, day: float) -> tuple[Any, Any]:
    """The parent folder's scenario, and the engine of branches from run ``replication``.

    Every mistake -- no such folder, a replication the folder does not hold, a day outside
    the horizon -- is a UsageError before anything runs.
    """
    from sim.experiments import posterior
    from sim.experiments.chunks import code_fingerprint
    from sim.experiments.resuming import recorded_scenario
    from sim.results import store
    from sim.results.seeding import replication_seed
    from sim.scenario import compile_scenario

    path = Path(folder)
    if not (path / store.MANIFEST).is_file():
        raise UsageError(f"--from {path}: not a results folder (no {store.MANIFEST})")
    manifest = store.read_manifest(path)
    recorded = manifest.get("code_fingerprint")
    if recorded is not None and recorded != code_fingerprint():
        raise UsageError(
            f"--from {path}: the sim code that makes results changed since this run was made "
            f"(fingerprint {code_fingerprint()} != {recorded}), so replaying replication "
            f"{replication} would not reproduce it: run the parent again with this code"
        )
    scenario = recorded_scenario(path, manifest)
    spec = compile_scenario(scenario)
    _check_replication(path, replication)
    if not 0 <= day < spec.days:
        raise UsageError(
            f"--day {day:g}: beyond the horizon of {scenario.name} (a branch starts on a day "
            f"from 0 to before its last day, {spec.days})"
        )
    root = int(manifest["seed"])
    seed = replication_seed(root, replication)
    kept = posterior.kept(path)
    parent = spec
    if kept is not None:  # the parent drew its parameters: the branches keep that draw
        drawn = posterior.PosteriorEngine(kept, scenario)
        parent = drawn.spec(kept.draw(seed))
    engine = BranchEngine(parent, seed, day)
    engine.branched_from = {
        "folder": str(path),
        "scenario": scenario.name,
        "seed": root,
        "replication": replication,
        "day": float(day),
        "date": str(spec.start + _days(day)) if getattr(spec, "start", None) else None,
    }
    return scenario, engine


def _days(day: float) -> Any:
    import datetime as dt

    return dt.timedelta(days=int(day))


def _check_replication(path: Path, replication: int) -> None:
    from sim.results import store

    try:
        indices = store.read_runs(path)["index"]
    except (OSError, KeyError) as exc:
        raise UsageError(f"--from {path}: its runs table cannot be read ({exc})") from None
    if replication not in set(indices.tolist()):
        span = f"{indices.min()}..{indices.max()}" if len(indices) else "none"
        raise UsageError(
            f"--replication {replication}: not in {path} (its replications: {span}; a failed "
            "replication has no state to branch from)"
        )


def branch(
    folder: str | os.PathLike[str],
    replication: int,
    day: float,
    runs: int = 1000,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Any:
    """Run ``runs`` futures of replication ``replication`` of ``folder`` from day ``day``.

    Each future is the parent run exactly up to ``day`` and its own after it; ``seed`` seeds
    the futures. Other keyword options are :func:`sim.run`'s (workers, progress, name ...).
    Returns the :class:`~sim.experiments.ensemble.Results`; ``results.summary["branched_from"]``
    says where the runs branched from.
    """
    from sim.experiments.chunks import DEFAULT_CHUNK
    from sim.experiments.ensemble import run_compiled
    from sim.experiments.options import RunOptions, choose_executor
    from sim.scenario import compile_scenario

    expected = options.pop("expected", None)
    scenario, engine = branch_engine(folder, replication, day)
    if expected is not None and expected not in (scenario.name, str(folder)):
        raise UsageError(f"--from {folder}: its runs are of {scenario.name}, not {expected}")
    spec = compile_scenario(scenario)
    run_options = RunOptions(out=out, **options)
    executor = choose_executor(
        run_options, runs, run_options.chunk_size or DEFAULT_CHUNK, caller="branch()"
    )
    return run_compiled(scenario, spec, runs, seed, run_options, executor=executor, engine=engine)
