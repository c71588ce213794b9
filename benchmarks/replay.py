"""What a branch costs: the replay of a run up to the split day, against a whole run.

A branch (and a splitting clone) reaches its state by running the parent again from day 0
(sim.engine.branching). This prints, for split days across the horizon, in rounds that
alternate so that the machine's load falls on every case alike:

- the CPU of a whole run with a split at day T, over the CPU of a plain run (the hook's
  overhead: a reseed, one event);
- the CPU of the replay alone (the run with its clock stopped at day T) over a whole run.

    python benchmarks/replay.py --runs 300
"""

from __future__ import annotations

import argparse
import os
import time

from sim.engine import Split, simulate
from sim.results.seeding import replication_seed
from sim.scenario import compile_scenario, load


def cpu(spec, runs: int, split_day: float | None) -> float:  # noqa: ANN001
    """CPU seconds of ``runs`` replications (split at ``split_day`` if given)."""
    started = time.process_time()
    for i in range(runs):
        seed = replication_seed(1, i)
        splits = [] if split_day is None else [Split(split_day, replication_seed(2, i))]
        simulate(spec, seed, splits)
    return time.process_time() - started


def replay_cpu(spec, runs: int, day: float) -> float:  # noqa: ANN001
    """CPU seconds of ``runs`` replications run only up to ``day`` (what a replay costs).

    The body of :func:`sim.engine.simulate`, with the clock stopped at ``day``.
    """
    from sim.engine.actors import ActorProcess
    from sim.engine.events import Exogenous
    from sim.engine.simulate import CountingEnvironment
    from sim.engine.world import World

    started = time.process_time()
    for i in range(runs):
        env = CountingEnvironment()
        world = World(env, spec, seed=replication_seed(1, i))
        try:
            actors = [ActorProcess(world, a) for a in spec.actors]
            world.actors = actors
            exogenous = Exogenous(world, actors)
            for event in spec.events:
                exogenous.start(event)
            world.after(spec.days, world.end_of_horizon)
            env.run(until=env.any_of([world.stop, env.timeout(day)]))
        finally:
            world.release()
    return time.process_time() - started


def main() -> None:
    """Print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="taiwan-flashpoint-2025")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    scenario = load(args.scenario)
    spec = compile_scenario(scenario)
    days = [round(spec.days * f) for f in (0.1, 0.25, 0.5, 0.75, 0.95)]
    simulate(spec, replication_seed(0, 0))  # load the kernels first
    plain = 0.0
    split = dict.fromkeys(days, 0.0)
    replay = dict.fromkeys(days, 0.0)
    for _ in range(args.rounds):
        plain += cpu(spec, args.runs, None)
        for d in days:
            split[d] += cpu(spec, args.runs, float(d))
            replay[d] += replay_cpu(spec, args.runs, float(d))
    n = args.runs * args.rounds
    print(f"{args.scenario}: horizon {spec.days} days, {n} runs a case, load {os.getloadavg()}")
    print(f"a plain run: {plain / n * 1e3:.2f} ms CPU")
    print(f"{'split day':>9}  {'split run / plain':>17}  {'replay to day / plain':>21}")
    for d in days:
        print(f"{d:>9}  {split[d] / plain:>17.3f}  {replay[d] / plain:>21.3f}")


if __name__ == "__main__":
    main()
