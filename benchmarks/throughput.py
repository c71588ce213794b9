"""Throughput of the engine on a named scenario: runs per second and simpy events per run.

Run by hand, never as a test (machines here are noisy)::

    python benchmarks/throughput.py [SCENARIO] [--runs N]

Absolute rates depend on the machine and its load; compare figures taken in one session.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sim.engine import simulate
from sim.experiments.seeding import replication_seed
from sim.scenario import compile_scenario, load


def measure(name: str, runs: int) -> tuple[float, float, float]:
    """Runs per second, mean simpy events scheduled per run, mean moves per run."""
    spec = compile_scenario(load(name))
    events = moves = 0
    start = time.perf_counter()
    for i in range(runs):
        record = simulate(spec, replication_seed(0, i))
        events += record.events_scheduled
        moves += len(record.moves)
    elapsed = time.perf_counter() - start
    return runs / elapsed, events / runs, moves / runs


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    measure(args.scenario, 5)  # warm-up: imports, caches
    rate, events, moves = measure(args.scenario, args.runs)
    print(
        f"{args.scenario}: {rate:.1f} runs/s, {events:.0f} simpy events/run, {moves:.0f} moves/run "
        f"({args.runs} runs, numpy {np.__version__})"
    )


if __name__ == "__main__":
    main()
