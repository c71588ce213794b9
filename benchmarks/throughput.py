"""Throughput of the engine against a bare simpy loop, the latency of ``sim --help``, a profile.

Run by hand, never as a test (machines here are noisy)::

    python benchmarks/throughput.py [SCENARIO] [--runs N] [--profile]

In one process and one invocation, so that the figures compared were taken under the same
conditions, it measures:

- the engine on a scenario: runs and simpy events per CPU second, events and moves per run;
- a bare simpy loop -- two processes exchanging messages through ``simpy.Store``s with
  random timeouts, nothing else -- run for the same number of simpy events, counted by the
  same :class:`~sim.engine.simulate.CountingEnvironment`; the ratio of the two rates is the
  engine's speed per simpy event relative to simpy itself (the target is at least 0.5).
  The two alternate in rounds and each round gives a ratio of CPU times, so that load
  from other work moves both sides of a ratio; the median round is reported;
- what the engine's decisions cost: per decision, per run, as a share of a run, against
  the time a whole run may take at the target;
- the wall time of ``sim --help`` in a fresh interpreter against ``python -c pass`` (the
  target is under 0.3 s), median of several starts;
- with ``--profile``, where the engine's time goes (cProfile, top functions by own time).

The load average is printed with the figures: it says how far to trust them.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from sim.engine import simulate
from sim.engine.simulate import CountingEnvironment
from sim.engine.spec import RunSpec
from sim.experiments.seeding import replication_seed
from sim.scenario import compile_scenario, load


def measure(spec: RunSpec, seeds: range) -> tuple[float, int, int]:
    """CPU seconds, simpy events scheduled and moves of the runs with these seeds."""
    events = moves = 0
    start = time.process_time()
    for i in seeds:
        record = simulate(spec, replication_seed(0, i))
        events += record.events_scheduled
        moves += len(record.moves)
    return time.process_time() - start, events, moves


def decision_share(spec: RunSpec, runs: int) -> tuple[float, float, float]:
    """Decisions per run, CPU microseconds per decision, and their share of the CPU time.

    Times :meth:`ActorProcess.decide` (building the options and letting the policy
    choose) inside ordinary runs, with the timer's own cost measured and taken out.
    """
    from sim.engine import actors

    decide = actors.ActorProcess.decide
    spent, count = [0.0], [0]

    def timed(self):  # noqa: ANN001, ANN202
        start = time.process_time()
        choice = decide(self)
        spent[0] += time.process_time() - start
        count[0] += 1
        return choice

    overhead_start = time.process_time()
    for _ in range(10_000):
        time.process_time()
        time.process_time()
    timer = (time.process_time() - overhead_start) / 10_000
    actors.ActorProcess.decide = timed  # type: ignore[method-assign]
    try:
        total, _, _ = measure(spec, range(runs))
    finally:
        actors.ActorProcess.decide = decide  # type: ignore[method-assign]
    own = spent[0] - timer * count[0]
    return count[0] / runs, 1e6 * own / count[0], own / (total - timer * count[0])


def bare_loop(events: int, seed: int = 0) -> float:
    """Run two processes trading messages through Stores until ``events`` are scheduled.

    Each side waits a random time (numpy draw, as the engine does), puts a message in the
    other's store and takes one from its own: a timeout, a put and a get per exchange,
    the engine's elementary pattern without any model. Returns simpy events per CPU second.
    """
    import simpy

    env = CountingEnvironment()
    rng = np.random.default_rng(seed)
    boxes = (simpy.Store(env), simpy.Store(env))

    def side(me: int):  # noqa: ANN202 - a simpy generator
        other = 1 - me
        while True:
            yield env.timeout(rng.exponential(1.0))
            yield boxes[other].put(("move", env.now))
            yield boxes[me].get()

    env.process(side(0))
    env.process(side(1))
    boxes[1].put(("start", 0.0))  # Side 1 has a message waiting: the exchange never stalls.
    start = time.process_time()
    while env.events_scheduled < events:
        env.step()
    return env.events_scheduled / (time.process_time() - start)


def startup(command: list[str], repeats: int) -> float:
    """Median wall time, in seconds, of running ``command`` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile(name: str, runs: int, top: int) -> None:
    """Print the functions where ``runs`` replications spend their own time."""
    spec = compile_scenario(load(name))
    profiler = cProfile.Profile()
    profiler.enable()
    for i in range(runs):
        simulate(spec, replication_seed(0, i))
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"\nprofile of {runs} runs ({total:.2f} s under cProfile), top {top} by own time:")
    rows = sorted(stats.stats.items(), key=lambda kv: -kv[1][2])[:top]  # type: ignore[attr-defined]
    for (path, line, func), (_, calls, own, cumulative, _) in rows:
        where = f"{os.path.basename(path)}:{line}({func})"
        share = 100 * own / total
        print(f"  {share:5.1f}% own  {cumulative:6.2f} s cum  {calls:>9,} calls  {where}")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10, help="alternations engine/bare loop")
    parser.add_argument("--starts", type=int, default=7, help="starts timed for --help")
    parser.add_argument("--profile", action="store_true", help="also profile 100 runs")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores), numpy {np.__version__}")
    spec = compile_scenario(load(args.scenario))
    measure(spec, range(5))  # warm-up: imports, caches
    # Engine and bare loop alternate in rounds, each round's ratio taken from CPU time
    # measured seconds apart: a machine whose load changes moves both sides of a ratio.
    per_round = max(1, args.runs // args.rounds)
    ratios, seconds, events, moves = [], 0.0, 0, 0
    for r in range(args.rounds):
        cpu, n_events, n_moves = measure(spec, range(r * per_round, (r + 1) * per_round))
        ratios.append((n_events / cpu) / bare_loop(n_events, seed=r))
        seconds, events, moves = seconds + cpu, events + n_events, moves + n_moves
    runs = per_round * args.rounds
    print(
        f"engine  {args.scenario}: {runs / seconds:.1f} runs per CPU second, "
        f"{events / runs:.0f} simpy events/run, {moves / runs:.0f} moves/run, "
        f"{events / seconds:,.0f} simpy events per CPU second ({runs} runs)"
    )
    bare_rate = events / seconds / statistics.median(ratios)
    print(f"bare simpy loop, same number of events: {bare_rate:,.0f} simpy events per CPU second")
    low, high = min(ratios), max(ratios)
    print(
        f"engine speed per simpy event / bare loop: {statistics.median(ratios):.3f} median of "
        f"{args.rounds} alternating rounds (range {low:.3f}-{high:.3f}; target >= 0.5)"
    )
    per_run, micros, share = decision_share(spec, per_round)
    budget = 1e6 * (events / runs) / (0.5 * bare_rate)
    print(
        f"decisions: {per_run:.0f} per run, {micros:.0f} us of CPU each, {share:.0%} of a run; "
        f"at the target a whole run may take {budget:,.0f} us, and its decisions alone take "
        f"{per_run * micros:,.0f} us"
    )
    python = startup([sys.executable, "-c", "pass"], args.starts)
    # The installed console script when there is one (what users type), else the module.
    script = shutil.which("sim")
    command = [script, "--help"] if script else [sys.executable, "-m", "sim.cli", "--help"]
    helped = startup(command, args.starts)
    print(
        f"sim --help: {helped:.3f} s median of {args.starts} starts; python -c pass "
        f"{python:.3f} s; sim's own share {helped - python:.3f} s (target: total < 0.3 s)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile(args.scenario, 100, 18)


if __name__ == "__main__":
    main()
