"""Would numpy make a decision cheaper? A stand-in decision as array operations.

The engine weighs an actor's options one by one in Python (``ActorProcess.context``, the
logit's ``utility``). The obvious alternative is to hold an actor's options as arrays and
evaluate a decision in one numpy pass: availability as a mask, the utility terms as array
arithmetic, the logit draw by ``cumsum``/``searchsorted``. This script times such a kernel
for China's option count in the named scenario (about 37 options, about 21 open), with the
logit's utility terms but random stand-in values, against the engine's own decisions
timed in real runs (the same measure as ``throughput.py``). It is a bound, not a port: a
real numpy engine would have more to do (keeping the world's state in arrays).

Run by hand::

    python benchmarks/decision_kernel.py [--decisions 20000]
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

from sim.engine import actors, simulate
from sim.engine.spec import RunSpec
from sim.experiments.seeding import replication_seed
from sim.scenario import compile_scenario, load


def kernel(options: int, decisions: int, seed: int = 0) -> float:
    """CPU microseconds per decision of a vectorized stand-in over ``options`` options."""
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 4, options)
    cooldown = rng.uniform(0, 5, options)
    stock = np.full(options, np.inf)
    last_used = np.full(options, -np.inf)
    in_force = np.zeros((options, 4), bool)
    severity, escalate = rng.random(options), rng.random(options) < 0.7
    offense, cost, risk = rng.random(options), rng.random(options), rng.random(options)
    dyad, rung = rng.integers(0, 6, options), rng.integers(0, 6, options)
    grievance, tension, dyad_rung = rng.random(4), rng.random(6), rng.integers(0, 6, 6)
    index = np.arange(options)
    start = time.process_time()
    for i in range(decisions):
        now = i * 0.01
        open_now = (
            (stock >= 1.0) & (now >= last_used + cooldown) & ~(escalate & in_force[index, target])
        )
        k = np.flatnonzero(open_now)
        g, s, e = grievance[target[k]], severity[k], escalate[k]
        jump = np.where(e, rung[k] - dyad_rung[dyad[k]], 0)
        up = (4.5 * 0.8 * g * (0.5 + s) - 0.5 * cost[k] - 1.5 * risk[k] - 2.0 * offense[k]
              - 0.3 * np.maximum(0, jump - 1) - 0.8 * (0.5 + s))  # fmt: skip
        down = 1.5 * tension[dyad[k]] - 1.6 * g - 0.5 * cost[k] - 0.4
        utility = np.where(e, up, down)
        best = utility.max()
        if rng.random() >= 1.0 / (1.0 + math.exp(-3.0 * best)):
            continue
        weights = np.cumsum(np.exp(3.0 * (utility - best)))
        k[np.searchsorted(weights, rng.random() * weights[-1], side="right")]
    return 1e6 * (time.process_time() - start) / decisions


def engine_decisions(spec: RunSpec, runs: int) -> dict[str, tuple[int, float]]:
    """Per actor: decisions in ``runs`` runs and CPU microseconds per decision."""
    decide = actors.ActorProcess.decide
    spent: dict[str, list[float]] = {a.id: [0, 0.0] for a in spec.actors}

    def timed(self):  # noqa: ANN001, ANN202
        start = time.process_time()
        choice = decide(self)
        tally = spent[self.spec.id]
        tally[0] += 1
        tally[1] += time.process_time() - start
        return choice

    actors.ActorProcess.decide = timed  # type: ignore[method-assign]
    try:
        for i in range(runs):
            simulate(spec, replication_seed(0, i))
    finally:
        actors.ActorProcess.decide = decide  # type: ignore[method-assign]
    return {a: (int(n), 1e6 * t / max(1, n)) for a, (n, t) in spent.items()}


def main() -> None:
    """Time the kernel and the engine's decisions, one after the other."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=60, help="engine runs to time decisions in")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores), numpy {np.__version__}")
    spec = compile_scenario(load("taiwan-flashpoint-2025"))
    china = spec.actors[spec.actor_ids.index("CHN")]
    options = sum(len(spec.levers[i].targets) for i in china.levers if spec.levers[i].choosable)
    kernel(options, 1000)  # warm-up
    vectorized = kernel(options, args.decisions)
    engine = engine_decisions(spec, args.runs)
    print(f"numpy stand-in over {options} options: {vectorized:.0f} us of CPU per decision")
    for actor, (count, micros) in engine.items():
        print(
            f"the engine, {actor}: {count / args.runs:.0f} decisions per run, {micros:.0f} us each"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
