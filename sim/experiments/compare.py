"""Comparisons with common random numbers: a base and a variant run on the same seeds.

Replication ``i`` of both arms runs on the same seed, and inside a replication the engine
draws from one stream per purpose (the world, each actor, each exogenous event), keyed by
name (:func:`sim.engine.simulate.stream`). Where the two scenarios agree, the two runs
draw the same numbers, so their outcomes are positively correlated and the paired
difference ``variant_i - base_i`` varies much less than the difference of two independent
ensembles: ``Var(B - A) = Var A + Var B - 2 Cov(A, B)``. The report gives each difference
with its paired standard error and 95% interval, the standard error independent seeds
would have given (from the two marginal variances), and their ratio of variances: the
variance reduction, i.e. how many times more runs independent seeds would need for the
same precision. See ``docs/crn.md``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis import events, stats
from sim.analysis.summary import cost_column, reach_column
from sim.errors import UsageError
from sim.experiments import store
from sim.experiments.ensemble import (
    DEFAULT_CHUNK,
    Results,
    _entered,
    choose_executor,
    resolve_scenario,
    run_spec,
)
from sim.experiments.executors import Executor
from sim.experiments.seeding import check_seed

#: The subfolders holding the two arms, each a complete results folder.
ARMS = ("base", "variant")


@dataclass
class Comparison:
    """A paired comparison: its summary, the two arms' results, and its folder if any."""

    summary: dict[str, Any]
    base: Results
    variant: Results
    path: Path | None = None

    def table(self) -> str:
        """Return the comparison as plain-text tables."""
        from sim.analysis.tables import render_comparison

        return render_comparison(self.summary)


def compare(
    base: Any,
    variant: Any = None,
    runs: int = 1000,
    seed: int = 0,
    out: str | os.PathLike[str] | None = None,
    progress: bool = False,
    *,
    overrides: list[str] | Mapping[str, Any] | None = None,
    workers: int | None = None,
    executor: Executor | str | None = None,
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    command: str | None = None,
    name: str | None = None,
    force: bool = False,
    posterior: str | os.PathLike[str] | None = None,
) -> Comparison:
    """Run ``base`` and ``variant`` on common random numbers and compare them pairwise.

    Args:
        base: a Scenario, or the name or path of one.
        variant: another scenario; None means ``base`` again, changed by ``overrides``.
        runs: replications per arm.
        seed: the root seed shared by both arms.
        out: a results root; the comparison goes to ``out/compare/<base>--<variant>/<id>/``
            with the two arms in its ``base/`` and ``variant/`` subfolders. None: in memory.
        progress: show a progress bar per arm on stderr.
        overrides: ``--set`` style overrides, applied to the variant only.
        workers: local worker processes, as for :func:`sim.run`.
        executor: 'processes', 'dask' or an executor object, as for :func:`sim.run`.
        scheduler: a Dask scheduler address, as for :func:`sim.run`.
        chunk_size: replications per chunk.
        command: the command line to record in the manifest.
        name: write to ``out/compare/<base>--<variant>/<name>/`` instead of a fresh folder;
            a folder of that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as the comparison starts).
        posterior: a calibration folder: replication ``i`` of both arms draws the same
            particle of its posterior (see :mod:`sim.experiments.posterior`). None: an arm
            whose scenario names a posterior draws from it, the other runs as written.
    """
    store.check_destination(out, name, force)
    base_s = resolve_scenario(base, None)
    variant_s = resolve_scenario(base if variant is None else variant, overrides)
    if variant_s.content_hash() == base_s.content_hash():
        raise UsageError(
            "the variant is the same scenario as the base: give a second scenario, "
            "or --set overrides for the variant"
        )
    if runs < 2:
        raise UsageError(f"a comparison needs at least 2 runs per arm, got {runs}")
    try:
        seed = check_seed(seed)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from sim.scenario import compile_scenario

    specs = (compile_scenario(base_s), compile_scenario(variant_s))
    from sim.experiments.posterior import (
        arms_block,
        as_posterior,
        override_paths,
        posterior_engine,
    )

    drawn = None if posterior is None else as_posterior(posterior)
    fixed = ((), override_paths(overrides))  # the overrides apply to the variant only
    engines = [
        posterior_engine(drawn, s, f) for s, f in zip((base_s, variant_s), fixed, strict=True)
    ]
    started = dt.datetime.now(dt.UTC)
    path = None
    if out is not None:
        parent = Path(out) / "compare"
        arms_name = f"{base_s.name}--{variant_s.name}"
        path = store.create_run_dir(parent, arms_name, started, name=name, force=force)
    arms: list[Results] = []
    chosen = choose_executor(executor, workers, scheduler, runs, chunk_size)
    info = _Info(base_s, variant_s, overrides, seed, runs, command, started)
    if path is not None:
        info.write_manifest(path, "running", None)
    try:
        with _entered(chosen):
            for name, scenario, spec, engine in zip(
                ARMS, (base_s, variant_s), specs, engines, strict=True
            ):
                arms.append(
                    run_spec(
                        scenario,
                        spec,
                        runs,
                        seed,
                        None,
                        progress,
                        executor=chosen,
                        chunk_size=chunk_size,
                        command=command,
                        folder=None if path is None else path / name,
                        engine=engine,
                    )
                )
    except BaseException as exc:
        if path is not None:
            info.write_manifest(path, "interrupted", f"{type(exc).__name__}: {exc}")
            exc.add_note(f"the comparison in {path} is incomplete")
        raise
    summary = comparison_summary(info, specs, arms[0], arms[1])
    own = [(arm, e.posterior) for arm, e in zip(ARMS, engines, strict=True) if e is not None]
    if drawn is not None:
        summary["posterior"] = drawn.summary_block(seed, runs)
    elif own:  # arms whose scenarios name their own posterior
        summary["posterior"] = arms_block(own, seed, runs)
    summary = store.jsonable(summary)
    if path is not None:
        store.write_json(path / store.SUMMARY, summary)
        info.write_manifest(path, "complete", None)
    return Comparison(summary, arms[0], arms[1], path)


@dataclass
class _Info:
    """What a comparison ran, for its manifest and summary."""

    base: Any
    variant: Any
    overrides: Any
    seed: int
    runs: int
    command: str | None
    started: dt.datetime

    def arm(self, name: str) -> dict[str, Any]:
        """Return the description of one arm."""
        scenario = self.base if name == "base" else self.variant
        out = {"scenario": scenario.name, "title": scenario.title, "hash": scenario.content_hash()}
        if name == "variant" and self.overrides:
            out["overrides"] = (
                list(self.overrides)
                if not isinstance(self.overrides, Mapping)
                else [f"{k}={v}" for k, v in self.overrides.items()]
            )
        return out

    def write_manifest(self, path: Path, status: str, error: str | None) -> None:
        """Write the comparison's manifest: both scenarios, in full, and how it ended."""
        import sys

        manifest = {
            "format_version": store.FORMAT_VERSION,
            "kind": "comparison",
            "method": "common random numbers",
            "seed": self.seed,
            "runs": self.runs,
            "status": status,
            "error": error,
            "package_version": store.package_version(),
            "git": store.git_commit(),
            "environment": store.environment(),
            "command": self.command if self.command is not None else " ".join(sys.argv),
            "started": self.started.isoformat(timespec="seconds"),
            "finished": None
            if status == "running"
            else dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "arms": {
                name: {
                    **self.arm(name),
                    "folder": name,
                    "parameters": scenario.model_dump(mode="json"),
                }
                for name, scenario in zip(ARMS, (self.base, self.variant), strict=True)
            },
            "files": {"summary": store.SUMMARY},
        }
        store.write_json(path / store.MANIFEST, manifest)


# --- the paired statistics --------------------------------------------------------------------


def paired_difference(base: np.ndarray, variant: np.ndarray) -> dict[str, Any]:
    """Return the mean paired difference ``variant - base`` and what pairing gained.

    ``se`` and ``ci95`` are those of the mean of the per-run differences (normal
    approximation); ``se_independent`` is the standard error the same difference would
    have with independent seeds, ``sqrt((Var A + Var B) / n)``; ``variance_reduction`` is
    ``(Var A + Var B) / Var(B - A)`` (None when the differences do not vary at all).
    """
    a = np.asarray(base, dtype=float)
    b = np.asarray(variant, dtype=float)
    n = a.size
    d = stats.mean_se(b - a)
    var_a = float(a.var(ddof=1)) if n >= 2 else math.nan
    var_b = float(b.var(ddof=1)) if n >= 2 else math.nan
    var_d = d["sd"] ** 2
    independent = var_a + var_b
    reduction = independent / var_d if var_d > 0 else math.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = float(np.corrcoef(a, b)[0, 1]) if n >= 2 and var_a > 0 and var_b > 0 else math.nan
    return {
        "base": float(a.mean()) if n else math.nan,
        "variant": float(b.mean()) if n else math.nan,
        "difference": d["mean"],
        "se": d["se"],
        "ci95": d["ci95"],
        "se_independent": math.sqrt(independent / n) if n >= 2 else math.nan,
        "variance_reduction": reduction,
        "correlation": corr,
        "n": n,
    }


#: The move-based scoring profiles a comparison pairs, by their runs-table total's prefix.
SCORE_NAMES = {"goldstein": "Goldstein total", "rivera": "Rivera et al. 2024 total"}


def _paired_rows(base: Any, variant: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the row positions in each runs table of the replications both finished."""
    ia = np.asarray(base["index"])
    ib = np.asarray(variant["index"])
    common = np.intersect1d(ia, ib, assume_unique=True)
    return np.searchsorted(ia, common), np.searchsorted(ib, common)


def comparison_summary(
    info: _Info, specs: tuple[Any, Any], base: Results, variant: Results
) -> dict[str, Any]:
    """Return the paired comparison of two arms as JSON data (``summary.json``)."""
    a_runs, b_runs = base.columns(), variant.columns()
    rows_a, rows_b = _paired_rows(a_runs, b_runs)
    spec_a, spec_b = specs
    outcome_a = np.asarray(a_runs["outcome"], dtype=object)[rows_a]
    outcome_b = np.asarray(b_runs["outcome"], dtype=object)[rows_b]
    extra = [o for o in spec_b.outcome_ids if o not in spec_a.outcome_ids]
    labels = {**dict(spec_b.outcome_labels), **dict(spec_a.outcome_labels)}
    outcomes = {
        oid: {
            "label": labels.get(oid, oid),
            **paired_difference(outcome_a == oid, outcome_b == oid),
        }
        for oid in [*spec_a.outcome_ids, *extra]
    }
    peak = paired_difference(
        np.asarray(a_runs["peak_rung"])[rows_a], np.asarray(b_runs["peak_rung"])[rows_b]
    )
    actors = [a for a in spec_a.actor_ids if a in spec_b.actor_ids]
    names = dict(getattr(spec_a, "actor_names", {}))
    costs = {
        actor: {
            "name": names.get(actor, actor),
            **paired_difference(
                np.asarray(a_runs[cost_column(actor)])[rows_a],
                np.asarray(b_runs[cost_column(actor)])[rows_b],
            ),
        }
        for actor in actors
    }
    scores = {
        profile: {
            "name": SCORE_NAMES[profile],
            **paired_difference(
                np.asarray(a_runs[f"{profile}_total"], dtype=float)[rows_a],
                np.asarray(b_runs[f"{profile}_total"], dtype=float)[rows_b],
            ),
        }
        for profile in SCORE_NAMES
        if f"{profile}_total" in a_runs and f"{profile}_total" in b_runs
    }
    return {
        "kind": "comparison",
        "method": "common random numbers: replication i of both arms runs on the same seed",
        "base": info.arm("base"),
        "variant": info.arm("variant"),
        "seed": info.seed,
        "runs": int(rows_a.size),
        "replications": info.runs,
        "failures": {
            "base": int(base.summary["failures"]["count"]),
            "variant": int(variant.summary["failures"]["count"]),
        },
        "cost_unit": getattr(spec_a, "cost_unit", "cost units"),
        "outcomes": outcomes,
        "peak_rung": peak,
        "costs": costs,
        "scores": scores,
        "events": _paired_events(specs, (a_runs, b_runs), (rows_a, rows_b)),
        "before_events": _paired_before_events(specs, (a_runs, b_runs), (rows_a, rows_b)),
        "variance_reduction": {"outcomes": _pooled_reduction(outcomes.values())},
    }


def _shared_events(specs: tuple[Any, Any]) -> list[Any]:
    """The base's exogenous events that the variant has too, of the same kind and day."""
    variant = {e.id: e for e in getattr(specs[1], "events", ())}
    return [
        e
        for e in getattr(specs[0], "events", ())
        if e.id in variant and (variant[e.id].scheduled, variant[e.id].day) == (e.scheduled, e.day)
    ]


def _paired_events(specs: tuple[Any, Any], runs: tuple[Any, Any], rows: Any) -> dict[str, Any]:
    """Paired differences in the chance that each event is held (or occurs at least once)."""
    out = {}
    for event in _shared_events(specs):
        column = events.event_column(event)
        if column not in runs[0] or column not in runs[1]:
            continue  # results written before events were recorded
        a, b = (np.asarray(r[column])[i] for r, i in zip(runs, rows, strict=True))
        what = "held" if event.scheduled else "at least once"
        happened = (a == events.HELD, b == events.HELD) if event.scheduled else (a > 0, b > 0)
        label = f"{event.name}: {what}"
        out[event.id] = {"label": label, "what": what, **paired_difference(*happened)}
        slips = events.postponed_column(event)
        if event.scheduled and slips in runs[0] and slips in runs[1]:
            a, b = (np.asarray(r[slips])[i] for r, i in zip(runs, rows, strict=True))
            label = f"{event.name}: postponed at least once"
            out[f"{event.id}:postponed"] = {"label": label, "what": "postponed",
                                            **paired_difference(a > 0, b > 0)}  # fmt: skip
    return out


def _paired_before_events(
    specs: tuple[Any, Any], runs: tuple[Any, Any], rows: Any
) -> dict[str, Any]:
    """Paired differences in the chance of each military rung before each scheduled event."""
    spec = specs[0]
    top = min(len(s.rung_names) for s in specs)  # rungs on both ladders
    out = {}
    for event in events.milestones(_shared_events(specs), min(s.days for s in specs)):
        rungs = {}
        for rung in range(spec.watch_rung, top):
            column = reach_column(rung)
            if column not in runs[0] or column not in runs[1]:
                continue
            a, b = (events.reached_before(r[column], event.day)[i]
                    for r, i in zip(runs, rows, strict=True))  # fmt: skip
            label = f"{spec.rung_names[rung]} before {event.name}"
            rungs[str(rung)] = {"label": label, **paired_difference(a, b)}
        out[event.id] = {"name": event.name, "day": event.day, "rungs": rungs}
    return out


def _pooled_reduction(rows: Any) -> float:
    """Return the variance reduction over several differences: sum of variances, ratio.

    It weighs each outcome by its variance, so rare outcomes with little variance do not
    dominate, and it is defined as long as any difference varies.
    """
    independent = paired = 0.0
    for row in rows:
        if row["n"] < 2 or row["se"] is None or math.isnan(row["se"]):
            continue
        independent += row["se_independent"] ** 2
        paired += row["se"] ** 2
    return independent / paired if paired > 0 else math.nan
