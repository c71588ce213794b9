"""Peak memory of an ensemble at two sizes: streaming must keep it flat.

Each size runs in a fresh child interpreter (so one run's memory never inflates the
other's), writing a results folder to a temporary directory, and reports the peak resident
set size of the process that collects and writes the results
(``getrusage(RUSAGE_SELF).ru_maxrss``) and the throughput. The figure that matters is the
ratio of the two peaks: it should be about 1 (the target is at most 1.2). On Linux it also
reports the peak reached while the runs were streaming in (``VmHWM`` after the last
chunk), so a peak made by the summary at the end can be told from one made on the way.

With ``--synthetic`` the replications come from a stand-in for the engine that draws
records of the scenario's shape and volume (its actors, levers, dyads, horizon and
outcome classes; ``--moves`` moves per run, about 88 in the named scenario; first days at
each rung as fractional days, like the engine's, so the survival curves of the summary have
one point per run) at hundreds of runs per second in one process, so 200,000 runs take
minutes instead of hours. Everything after the engine -- chunks, collector, tables,
trajectories, summary -- is the real code, and that is what the memory question is about.

Run by hand, never in the tests::

    python benchmarks/memory.py --synthetic          # 10,000 vs 200,000 runs in ~20 minutes
    python benchmarks/memory.py --runs 2000 20000    # the real engine: about an hour
    python benchmarks/memory.py                      # the real engine at full size: hours
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# The child: import, run, report. ``python -c`` has no main module for 'spawn' to re-import.
CHILD = """
import json, resource, sys, time
import numpy as np
import sim
from sim.engine.record import MoveRecord, RunRecord
from sim.experiments.ensemble import run, run_spec
from sim.scenario import compile_scenario

name, out, moves_per_run = sys.argv[1], sys.argv[5], float(sys.argv[6])
runs, workers, seed = (int(a) for a in sys.argv[2:5])
overrides = sys.argv[7:]
unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
streaming = {"peak_kib": None}


def high_water(done, planned):
    # The peak so far (Linux only), read after every chunk: the last one is the streaming peak.
    try:
        with open("/proc/self/status") as status:
            line = next(s for s in status if s.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return
    streaming["peak_kib"] = int(line.split()[1])


def synthetic(spec, seed):
    # A record of the scenario's shape: random moves by its levers, ratcheting rungs.
    rng = np.random.default_rng(seed)
    ids, levers = spec.actor_ids, spec.levers
    picks = rng.integers(0, len(levers), rng.poisson(moves_per_run))
    days = np.sort(rng.uniform(0, spec.days, len(picks)))
    moves = [
        MoveRecord(float(d), ids[lv.actor], ids[lv.targets[0]] if lv.targets else ids[0], lv.id,
                   lv.rung, lv.cameo, lv.goldstein, lv.magnitude, "escalate", "policy")
        for d, lv in zip(days, (levers[i] for i in picks))
    ]
    steps = rng.integers(0, len(spec.rung_names), (len(spec.dyads), spec.days + 1))
    rungs = np.maximum.accumulate(steps * (rng.random(steps.shape) < 0.01), axis=1).astype(np.int8)
    overall = rungs.max(axis=0)
    firsts = np.array([np.argmax(overall >= k) if (overall >= k).any() else np.nan
                       for k in range(len(spec.rung_names))], dtype=float)
    # The engine records the time of day a rung is first reached: continuous, nearly all distinct.
    firsts[1:] = np.maximum(firsts[1:] - rng.random(len(firsts) - 1), 0.0)
    return RunRecord(
        outcome=spec.outcome_ids[int(rng.integers(len(spec.outcome_ids)))],
        peak_rung=int(overall.max()), peak_day=float(np.argmax(overall)),
        final_rung=int(overall[-1]), end_day=float(spec.days), ended_early=False,
        costs={a: float(rng.gamma(2.0)) for a in ids}, moves=moves, dyads=spec.dyad_ids,
        dyad_rungs=rungs, first_day_at_rung=firsts, events_scheduled=int(rng.integers(400, 600)),
    )


start = time.perf_counter()
if moves_per_run >= 0:
    scenario = sim.load(name, overrides)
    results = run_spec(scenario, compile_scenario(scenario), runs, seed, out, engine=synthetic,
                       callback=high_water)
else:
    results = run(name, runs=runs, seed=seed, out=out, workers=workers, overrides=overrides,
                  callback=high_water)
seconds = time.perf_counter() - start
print(json.dumps({
    "runs": results.summary["replications"],
    "seconds": seconds,
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20,
    "streaming_peak_mib": None if streaming["peak_kib"] is None else streaming["peak_kib"] / 1024,
    "folder_mib": sum(p.stat().st_size for p in results.path.iterdir()) / 2**20,
}))
"""


def measure(args: argparse.Namespace, runs: int, out: Path) -> dict[str, float]:
    """Run ``runs`` replications in a child interpreter and return what it measured."""
    moves = args.moves if args.synthetic else -1.0
    argv = [args.scenario, str(runs), str(args.workers), str(args.seed), str(out), str(moves)]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *argv, *args.overrides],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the run of {runs} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _streaming(row: dict[str, float]) -> str:
    """Return ' (streaming S MiB)' for a row that has the streaming peak, else ''."""
    peak = row.get("streaming_peak_mib")
    return "" if peak is None else f" (streaming {peak:7.1f} MiB)"


def _load() -> str:
    """Return ', load A B C' (the 1, 5 and 15 minute load averages), '' where unknown."""
    try:
        return ", load " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):  # Windows
        return ""


def main(argv: list[str] | None = None) -> int:
    """Measure each size, print its peak memory and the ratio of the largest to the smallest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="P=V")
    parser.add_argument("--synthetic", action="store_true", help="a stand-in for the engine")
    parser.add_argument("--moves", type=float, default=88.0, help="synthetic moves per run")
    parser.add_argument(
        "--keep", metavar="DIR", help="write the results folders here and keep them"
    )
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="sim-memory-") as tmp:
        root = Path(args.keep or tmp)
        for runs in sorted(args.runs):
            row = measure(args, runs, root / str(runs))
            rows.append(row)
            print(
                f"{runs:>9,} runs: peak RSS {row['peak_rss_mib']:7.1f} MiB{_streaming(row)}, "
                f"{row['runs'] / row['seconds']:6.1f} runs/s, folder {row['folder_mib']:8.1f} MiB"
                f"{_load()}",
                flush=True,
            )
    ratio = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    size = rows[-1]["runs"] / rows[0]["runs"]
    engine = "synthetic engine" if args.synthetic else f"engine, {args.workers} workers"
    print(f"peak RSS ratio {ratio:.3f} for {size:g}x the runs ({engine}; target: at most ~1.2)")
    print(json.dumps({"scenario": args.scenario, "synthetic": args.synthetic, "sizes": rows,
                      "ratio": ratio}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
