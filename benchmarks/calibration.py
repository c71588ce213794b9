"""Throughput of a calibration: simulations per second on 1 and N workers, time per generation.

Both calibrations run the same generations with the same seed in this one invocation, so
their ratio compares like with like; their particles are checked to be identical (the
posterior does not depend on the number of workers). Wall-clock rates suffer from whatever
else runs on the same cores, so the load average is printed after each.

    python benchmarks/calibration.py                              # the named scenario, 3 params
    python benchmarks/calibration.py --population 500 --generations 4 --workers 2

The rate counts every simulation pyabc keeps (the prior sample and each generation's
evaluations up to its last acceptance); speculative evaluations a pool throws away after
the last acceptance are counted apart. Run by hand, never in the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION = ROOT / "scenarios" / "calibrations" / "taiwan-nov7-25.yaml"


def timed(workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """Return the seconds, simulations and generations table of one calibration."""
    from sim.experiments.calibrate import calibrate

    start = time.perf_counter()
    result = calibrate(
        args.calibration,
        population=args.population,
        stop={"generations": args.generations, "stable": None, "minutes": None},
        check=0,
        seed=args.seed,
        workers=workers,
    )
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "result": result, "load": os.getloadavg()}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration", default=str(CALIBRATION))
    parser.add_argument("--population", type=int, default=200)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    rows = {}
    for workers in (1, args.workers):
        rows[workers] = timed(workers, args)
        r = rows[workers]
        gens = r["result"].generations
        sims = int(gens["simulations_total"].iloc[-1])
        load = ", ".join(f"{x:.2f}" for x in r["load"])
        print(
            f"{workers} worker(s): {sims:,} simulations in {r['seconds']:.1f} s = "
            f"{sims / r['seconds']:.1f} simulations/s (load average {load})"
        )
        for g in gens.to_dict("records"):
            print(
                f"  generation {g['generation']}: {g['simulations']:,} simulations in "
                f"{g['seconds']:.1f} s ({g['simulations'] / g['seconds']:.1f}/s), epsilon "
                f"{g['epsilon']:.4g}, acceptance {g['acceptance']:.1%}"
            )
    one, many = rows[1], rows[args.workers]
    same = one["result"].particles.equals(many["result"].particles)
    print(f"speed-up of {args.workers} workers over 1: {one['seconds'] / many['seconds']:.2f}")
    print(f"identical particles on 1 and {args.workers} workers: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
