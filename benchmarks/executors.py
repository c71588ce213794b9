"""Throughput of the executors on one scenario: serial, a process pool, a Dask LocalCluster.

All three run the same replications with the same seed in this one invocation, so the
ratios compare like with like; the summaries are checked to be identical. Each executor is
started and warmed up (one chunk per worker: processes spawned, modules imported, the
scenario compiled) before the clock starts, and the start-up is reported separately, so
the figures are the steady-state cost of running and collecting replications.

    python benchmarks/executors.py                       # 2,000 runs, 2 workers
    python benchmarks/executors.py --runs 5000 --workers 4

Wall-clock rates suffer from whatever else runs on the same cores, so the script also
counts CPU seconds (this process and its worker processes, from ``getrusage``) per run:
on a loaded machine, ``workers x serial CPU per run / pool CPU per run`` is the speed-up
the pool would reach on idle cores, the overhead of parallelism being the extra CPU.

Run by hand, never in the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from typing import Any


def cpu_seconds() -> float:
    """Return the CPU seconds used so far by this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(executor: Any, scenario: Any, runs: int, seed: int) -> dict[str, Any]:
    """Return start-up and run seconds, CPU seconds and the results of one ensemble."""
    from sim.experiments.ensemble import run

    start = time.perf_counter()
    cpu_start = cpu_seconds()
    with executor:
        workers = getattr(executor, "workers", 1)
        warm = run(scenario, runs=25 * workers, seed=seed + 1, executor=executor)
        ready = time.perf_counter()
        results = run(scenario, runs=runs, seed=seed, executor=executor)
        done = time.perf_counter()
    # Workers' CPU is counted once they have exited, with the executor; the start-up and
    # warm-up CPU is taken out in proportion to the warm-up runs, an approximation.
    cpu = cpu_seconds() - cpu_start
    warm_runs = warm.summary["replications"]
    return {
        "startup_s": ready - start,
        "seconds": done - ready,
        "cpu_per_run": cpu / (runs + warm_runs),
        "results": results,
    }


def bookkeeping(scenario: Any, runs: int, seed: int) -> tuple[float, float]:
    """CPU ms a run spends in the engine and in the rest of a serial ensemble.

    The rest is the runs-table row, the moves as an Arrow table, the tally, the collector
    and the chunking: what each worker of a pool pays per run besides simulating.
    """
    from sim.experiments import chunks, ensemble

    engine, spent = chunks.default_engine(), [0.0]

    def timed(spec: Any, seed_sequence: Any) -> Any:
        start = time.process_time()
        try:
            return engine(spec, seed_sequence)
        finally:
            spent[0] += time.process_time() - start

    original = chunks.default_engine  # the chunks' engine (sim/experiments/chunks.py)
    chunks.default_engine = lambda: timed  # type: ignore[assignment]
    try:
        start = time.process_time()
        ensemble.run(scenario, runs=runs, seed=seed)
        total = time.process_time() - start
    finally:
        chunks.default_engine = original  # type: ignore[assignment]
    return 1000 * spent[0] / runs, 1000 * (total - spent[0]) / runs


def main(argv: list[str] | None = None) -> int:
    """Time each executor and print runs per second, the speed-up and the Dask overhead."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask LocalCluster")
    args = parser.parse_args(argv)

    from sim.experiments.executors import DaskExecutor, ProcessExecutor, SerialExecutor
    from sim.scenario import load

    scenario = load(args.scenario)
    executors = {
        "serial": SerialExecutor(),
        f"processes x{args.workers}": ProcessExecutor(args.workers),
    }
    if not args.no_dask:
        executors[f"dask x{args.workers}"] = DaskExecutor(workers=args.workers)
    rows: dict[str, dict[str, float]] = {}
    reference = None
    for name, executor in executors.items():
        row = timed(executor, scenario, args.runs, args.seed)
        results = row.pop("results")
        reference = reference or results.summary
        if results.summary != reference:
            raise SystemExit(f"{name} gave a different summary: results must not depend on it")
        events = float(results.runs["simpy_events"].sum())
        row.update(runs_per_s=args.runs / row["seconds"], events_per_s=events / row["seconds"])
        row["load_average"] = os.getloadavg()[0]
        rows[name] = row
        print(
            f"{name:>14}: {row['runs_per_s']:7.1f} runs/s, {row['events_per_s']:10,.0f} simpy "
            f"events/s, {1000 * row['cpu_per_run']:6.1f} CPU ms/run ({row['seconds']:.1f} s, "
            f"start-up {row['startup_s']:.1f} s, load {row['load_average']:.1f})",
            flush=True,
        )
    pool, serial = rows[f"processes x{args.workers}"], rows["serial"]
    out: dict[str, Any] = {
        "scenario": args.scenario,
        "runs": args.runs,
        "workers": args.workers,
        "executors": rows,
        "speedup": pool["runs_per_s"] / serial["runs_per_s"],
        "speedup_idle": args.workers * serial["cpu_per_run"] / pool["cpu_per_run"],
    }
    print(
        f"speed-up with {args.workers} workers: {out['speedup']:.2f}x measured, "
        f"{out['speedup_idle']:.2f}x on idle cores (from CPU per run)"
    )
    if not args.no_dask:
        dask = rows[f"dask x{args.workers}"]
        out["dask_overhead"] = dask["seconds"] / pool["seconds"]
        out["dask_cpu_overhead"] = dask["cpu_per_run"] / pool["cpu_per_run"]
        print(
            f"Dask overhead: {out['dask_overhead']:.2f}x the wall time of the process pool, "
            f"{out['dask_cpu_overhead']:.2f}x its CPU per run"
        )
    engine_ms, rest_ms = bookkeeping(scenario, min(args.runs, 1000), args.seed)
    out["engine_ms_per_run"], out["rest_ms_per_run"] = engine_ms, rest_ms
    share = rest_ms / (engine_ms + rest_ms)
    print(
        f"serial, per run: {engine_ms:.2f} CPU ms in the engine, {rest_ms:.2f} in the rest of "
        f"the ensemble (rows, Arrow tables, tally, collector): {share:.0%}"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
