"""Throughput of the engine: three ratios in one invocation, the kernels' compile cost, a profile.

Run by hand, never as a test (machines here are noisy)::

    python benchmarks/throughput.py [SCENARIO] [--runs N] [--before DIR] [--profile]

In one invocation, so that the figures compared were taken under the same conditions, it
measures the named scenario's runs per CPU second against

(a) a bare simpy loop of a fixed 600 events -- two processes exchanging messages through
    ``simpy.Store``s with random timeouts, nothing else -- in runs of 600 events per CPU
    second (the target is at least 0.5);
(b) the same loop run for the engine's own number of simpy events per run (the engine's
    speed per event against simpy's);
(c) the engine as it was before the compiled kernels: the checkout ``--before DIR`` (a git
    worktree at commit c82909b with its own venv, ``DIR/.venv/bin/python``), in a separate
    process that stays up for the whole invocation (the target is at least 8).

Engine and references alternate in rounds, each round giving its own ratio of CPU times, so
that load from other work moves both sides of a ratio; the median round is reported with
the range. It also measures what a decision costs, the wall time of ``sim --help`` against
``python -c pass`` (the target is under 0.3 s, and numba must not be imported), the first
run of a fresh process with numba's cache empty (compiling every kernel) and with it
filled, and, with ``--profile``, where a run's time goes (cProfile, own time; a kernel is
one entry, ``{built-in method sim.engine.kernels...}``).

The load average is printed with the figures: it says how far to trust them.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sim.engine import simulate
from sim.engine.simulate import CountingEnvironment
from sim.engine.spec import RunSpec
from sim.experiments.seeding import replication_seed
from sim.scenario import compile_scenario, load

BARE_EVENTS = 600

#: A process that runs replications of a scenario when asked, in any checkout of sim: it
#: reads "first count" lines and answers "cpu_seconds events moves" (public API only).
SERVER = """
import sys, time
from sim.engine import simulate
from sim.experiments.seeding import replication_seed
from sim.scenario import compile_scenario, load
spec = compile_scenario(load(sys.argv[1]))
for i in range(5):
    simulate(spec, replication_seed(0, i))
print("ready", flush=True)
for line in sys.stdin:
    first, count = map(int, line.split())
    events = moves = 0
    start = time.process_time()
    for i in range(first, first + count):
        record = simulate(spec, replication_seed(0, i))
        events += record.events_scheduled
        moves += len(record.moves)
    print(time.process_time() - start, events, moves, flush=True)
"""


def measure(spec: RunSpec, seeds: range) -> tuple[float, int, int]:
    """CPU seconds, simpy events scheduled and moves of the runs with these seeds."""
    events = moves = 0
    start = time.process_time()
    for i in seeds:
        record = simulate(spec, replication_seed(0, i))
        events += record.events_scheduled
        moves += len(record.moves)
    return time.process_time() - start, events, moves


def bare_loop(events: int, seed: int = 0) -> float:
    """CPU seconds for two processes trading messages through Stores for ``events`` events.

    Each side waits a random time (a numpy draw, as the engine's did), puts a message in
    the other's store and takes one from its own: a timeout, a put and a get per exchange,
    the engine's elementary pattern without any model. The loop processes exactly
    ``events`` events (``env.step``), with nothing else in the loop.
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
    step = env.step
    start = time.process_time()
    for _ in range(events):
        step()
    return time.process_time() - start


def bare_runs(events: int, runs: int, seed: int) -> float:
    """CPU seconds for ``runs`` bare loops of ``events`` events each."""
    return sum(bare_loop(events, seed * 1000 + i) for i in range(runs))


class Before:
    """The engine of another checkout, in a process of its own venv."""

    def __init__(self, root: Path, scenario: str) -> None:
        python = root / ".venv" / "bin" / "python"
        if not python.exists():
            raise SystemExit(f"--before {root}: no {python} (make the worktree's venv first)")
        self.proc = subprocess.Popen(
            [str(python), "-c", SERVER, scenario],
            cwd=root,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit(f"--before {root}: the engine there did not start")
        self.commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        ).stdout.strip()

    def measure(self, seeds: range) -> tuple[float, int, int]:
        """CPU seconds, events and moves of the runs with these seeds, there."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"{seeds.start} {len(seeds)}\n")
        self.proc.stdin.flush()
        cpu, events, moves = self.proc.stdout.readline().split()
        return float(cpu), int(events), int(moves)

    def close(self) -> None:
        """Stop the process."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def decision_cost(spec: RunSpec, runs: int) -> tuple[float, float, float]:
    """Decisions per run, CPU microseconds per decision, and their share of a run's CPU.

    Times :meth:`ActorProcess.decide_fast` (the kernel call and the commands it leaves)
    inside ordinary runs, with the timer's own cost measured and taken out.
    """
    from sim.engine import actors

    decide = actors.ActorProcess.decide_fast
    spent, count = [0.0], [0]

    def timed(self):  # noqa: ANN001, ANN202
        start = time.process_time()
        decide(self)
        spent[0] += time.process_time() - start
        count[0] += 1

    overhead_start = time.process_time()
    for _ in range(10_000):
        time.process_time()
        time.process_time()
    timer = (time.process_time() - overhead_start) / 10_000
    actors.ActorProcess.decide_fast = timed  # type: ignore[method-assign]
    try:
        total, _, _ = measure(spec, range(runs))
    finally:
        actors.ActorProcess.decide_fast = decide  # type: ignore[method-assign]
    own = spent[0] - timer * count[0]
    return count[0] / runs, 1e6 * own / max(1, count[0]), own / (total - timer * count[0])


def startup(command: list[str], repeats: int, env: dict | None = None) -> float:
    """Median wall time, in seconds, of running ``command`` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


FIRST_RUN = """
import json, sys, time
t0 = time.perf_counter()
import sim
from sim.scenario import compile_scenario
spec = compile_scenario(sim.load(sys.argv[1]))
t1 = time.perf_counter()
sim.simulate(spec, 0)
t2 = time.perf_counter()
sim.simulate(spec, 1)
t3 = time.perf_counter()
print(json.dumps({"load": t1 - t0, "first": t2 - t1, "second": t3 - t2}))
"""


def first_runs(scenario: str) -> tuple[dict, dict]:
    """A fresh process's first simulate with numba's cache empty, then with it filled."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        out = []
        for _ in range(2):
            proc = subprocess.run(
                [sys.executable, "-c", FIRST_RUN, scenario],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            )
            out.append(json.loads(proc.stdout))
    return out[0], out[1]


def help_imports_numba() -> bool:
    """Whether ``sim --help`` imports numba (it must not)."""
    code = "import sys, runpy; sys.argv = ['sim', '--help']\ntry:\n"
    code += "    runpy.run_module('sim.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    code += "print('numba' in sys.modules, file=sys.stderr)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return proc.stderr.strip().endswith("True")


def profile(spec: RunSpec, runs: int, top: int) -> None:
    """Print the functions where ``runs`` replications spend their own time."""
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


def rounds(
    spec: RunSpec, before: Before | None, n_rounds: int, per_round: int
) -> dict[str, list[float]]:
    """Alternate engine, bare loops and the engine before; each round's ratios and totals."""
    out: dict[str, list[float]] = {"a": [], "b": [], "c": [], "cpu": [], "events": [], "moves": []}
    for r in range(n_rounds):
        seeds = range(r * per_round, (r + 1) * per_round)
        cpu, events, moves = measure(spec, seeds)
        fixed = bare_runs(BARE_EVENTS, per_round, r)
        own = bare_runs(round(events / per_round), per_round, r)
        out["a"].append(fixed / cpu)  # (runs / cpu) / (runs / fixed)
        out["b"].append((events / cpu) / (events / own))
        if before is not None:
            old_cpu, _, _ = before.measure(seeds)
            out["c"].append(old_cpu / cpu)
        out["cpu"].append(cpu)
        out["events"].append(events)
        out["moves"].append(moves)
    return out


def report(name: str, values: list[float], target: str) -> None:
    """One ratio: the median of the rounds, their range and the target."""
    if not values:
        return
    low, high = min(values), max(values)
    median = statistics.median(values)
    print(f"  {name}: {median:.3f} (rounds {low:.3f}-{high:.3f}; target {target})")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, default=2000, help="engine runs over all rounds")
    parser.add_argument("--rounds", type=int, default=10, help="alternations")
    parser.add_argument("--before", type=Path, help="a checkout of the engine before (c)")
    parser.add_argument("--starts", type=int, default=7, help="starts timed for --help")
    parser.add_argument("--profile", action="store_true", help="also profile 300 runs")
    parser.add_argument("--ratios-only", action="store_true", help="skip start-up and compiling")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    spec = compile_scenario(load(args.scenario))
    measure(spec, range(20))  # warm-up: kernels, caches
    before = Before(args.before.resolve(), args.scenario) if args.before else None
    per_round = max(1, args.runs // args.rounds)
    try:
        out = rounds(spec, before, args.rounds, per_round)
    finally:
        if before is not None:
            before.close()
    runs = per_round * args.rounds
    cpu, events, moves = sum(out["cpu"]), sum(out["events"]), sum(out["moves"])
    print(
        f"engine {args.scenario}: {runs / cpu:.1f} runs per CPU second ({runs} runs), "
        f"{events / runs:.0f} simpy events and {moves / runs:.1f} moves a run, "
        f"{events / cpu:,.0f} simpy events per CPU second"
    )
    print(f"ratios, median of {args.rounds} alternating rounds of {per_round} runs:")
    report(f"(a) runs per CPU s / bare {BARE_EVENTS}-event loop's", out["a"], ">= 0.5")
    report("(b) simpy events per CPU s / bare loop's at the engine's count", out["b"], "-")
    if before is not None:
        report(f"(c) runs per CPU s / the engine at {before.commit}", out["c"], ">= 8")
    if args.ratios_only:
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        return
    per_run, micros, share = decision_cost(spec, per_round)
    print(
        f"decisions: {per_run:.0f} per run, {micros:.1f} us of CPU each (kernel and the events "
        f"it leaves), {share:.0%} of a run"
    )
    python = startup([sys.executable, "-c", "pass"], args.starts)
    script = shutil.which("sim")  # the installed console script (what users type)
    command = [script, "--help"] if script else [sys.executable, "-m", "sim.cli", "--help"]
    helped = startup(command, args.starts)
    print(
        f"sim --help: {helped:.3f} s median of {args.starts} starts; python -c pass "
        f"{python:.3f} s (target: total < 0.3 s); imports numba: {help_imports_numba()}"
    )
    cold, warm = first_runs(args.scenario)
    print(
        f"first run in a fresh process: {cold['first']:.1f} s with numba's cache empty "
        f"(compiling the kernels), {warm['first']:.2f} s with it filled; then "
        f"{1000 * warm['second']:.1f} ms a run (scenario load {warm['load']:.2f} s)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.profile:
        profile(spec, 300, 22)


if __name__ == "__main__":
    main()
