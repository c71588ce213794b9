"""Peak memory of an ensemble at two sizes: streaming must keep it flat.

Each size runs in a fresh child interpreter (so one run's memory never inflates the
other's), writing a results folder to a temporary directory, and reports the peak resident
set size of the process that aggregates and writes (``getrusage(RUSAGE_SELF).ru_maxrss``),
of its worker processes (``RUSAGE_CHILDREN``), and the throughput. The figure that matters
is the ratio of the aggregator's peaks: it should be about 1 (the target is at most 1.2).

Run by hand, never in the tests (the default sizes take hours at ~50 runs/s/core)::

    python benchmarks/memory.py                                  # 10,000 vs 200,000 runs
    python benchmarks/memory.py --runs 2000 40000 --workers 2    # a quicker look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

# The child: import, run, report. ``python -c`` has no main module for 'spawn' to re-import.
CHILD = """
import json, resource, sys, time
from sim.experiments.ensemble import run

name, out, overrides = sys.argv[1], sys.argv[5], sys.argv[6:]
runs, workers, seed = (int(a) for a in sys.argv[2:5])
unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
start = time.perf_counter()
results = run(name, runs=runs, seed=seed, out=out, workers=workers, overrides=overrides)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit
workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * unit
print(json.dumps({
    "runs": results.summary["replications"],
    "failed": results.summary["failures"]["count"],
    "seconds": seconds,
    "peak_rss_mib": peak / 2**20,
    "worker_peak_rss_mib": workers_peak / 2**20,
    "folder_mib": sum(p.stat().st_size for p in results.path.iterdir()) / 2**20,
}))
"""


def measure(
    scenario: str, runs: int, workers: int, seed: int, out: Path, overrides: list[str]
) -> dict[str, float]:
    """Run ``runs`` replications in a child interpreter and return what it measured."""
    args = [scenario, str(runs), str(workers), str(seed), str(out), *overrides]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the run of {runs} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    """Measure each size, print its peak memory and the ratio of the largest to the smallest."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, nargs="+", default=[10_000, 200_000])
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="P=V")
    parser.add_argument(
        "--keep", metavar="DIR", help="write the results folders here and keep them"
    )
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="sim-memory-") as tmp:
        root = Path(args.keep or tmp)
        for runs in sorted(args.runs):
            out = root / str(runs)
            row = measure(args.scenario, runs, args.workers, args.seed, out, args.overrides)
            rows.append(row)
            print(
                f"{runs:>9,} runs: aggregator peak RSS {row['peak_rss_mib']:7.1f} MiB, "
                f"workers {row['worker_peak_rss_mib']:7.1f} MiB, "
                f"{row['runs'] / row['seconds']:6.1f} runs/s, folder {row['folder_mib']:8.1f} MiB",
                flush=True,
            )
    ratio = rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"]
    size = rows[-1]["runs"] / rows[0]["runs"]
    print(f"peak RSS ratio {ratio:.3f} for {size:g}x the runs (target: at most about 1.2)")
    print(json.dumps({"scenario": args.scenario, "workers": args.workers, "sizes": rows,
                      "ratio": ratio}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
