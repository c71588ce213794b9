"""Print the figures of docs/rare-events.md: splitting against an exact answer and plain MC.

    python docs/rare_figures.py                 # the page's sizes (about 25 CPU-minutes)
    python docs/rare_figures.py --small         # a quick look (the tests run this)

1. The gambler's ruin on 8 rungs from rung 3 (p_up 0.1): splitting's estimate against the
   exact 1.69e-5, and its variance reduction per CPU second against plain Monte Carlo.
2. P(peak >= 6) on the named scenario by splitting at rung 5 and by plain Monte Carlo at
   about the same CPU: both estimates, their standard errors, and the measured ratio of
   variance times CPU.
3. P(peak >= 7) on the named scenario: splitting at rung 6 (``--named-effort``).
"""

from __future__ import annotations

import argparse
import math
import time

from sim.engine import simulate
from sim.experiments.rare import rare
from sim.results.seeding import replication_seed
from sim.scenario import compile_scenario, load

NAME = "taiwan-flashpoint-2025"


def ratio(a: float, b: float) -> float:
    """``a / b``, NaN when ``b`` is 0 (a small run may see no case at all)."""
    return a / b if b else math.nan


def oracle(effort: int, repeats: int) -> None:
    """Splitting on the gambler's ruin against its closed form."""
    r = 9.0
    truth = (1 - r**3) / (1 - r**8)
    found = rare(
        "oracles/gamblers-ruin-8",
        "peak>=8",
        effort=effort,
        repeats=repeats,
        levels=[4, 5, 6, 7, 8],
        seed=3,
        overrides=["actors.A.policy.params.p_up=0.1"],
    )
    print("## gambler's ruin, 8 rungs from 3, p_up 0.1")
    print(found.table())
    z = ratio(found.probability - truth, found.standard_error)
    print(f"exact {truth:.4g}; estimate - exact = {z:+.2f} standard errors")


def plain_against_splitting(mc_runs: int, effort: int, repeats: int) -> None:
    """P(peak >= 6): plain Monte Carlo and splitting, each with its CPU."""
    spec = compile_scenario(load(NAME))
    started = time.process_time()
    hits = sum(simulate(spec, replication_seed(21, i)).peak_rung >= 6 for i in range(mc_runs))
    mc_cpu = time.process_time() - started
    p = hits / mc_runs
    se = math.sqrt(p * (1 - p) / mc_runs)
    found = rare(NAME, "peak>=6", effort=effort, repeats=repeats, levels=[5, 6], seed=5)
    print(f"## {NAME}: P(peak>=6)")
    print(f"plain Monte Carlo: {p:.4g} +/- {se:.2g} (SE), {mc_runs:,} runs, {mc_cpu:.1f} CPU s")
    print(found.table())
    measured = ratio(se**2 * mc_cpu, found.standard_error**2 * found.cpu_seconds)
    gap = ratio(found.probability - p, math.hypot(se, found.standard_error))
    print(f"variance x CPU, plain over splitting (both measured): {measured:.3g}")
    print(f"splitting - plain = {gap:+.2f} standard errors of the difference")


def named(effort: list[int], repeats: int) -> None:
    """P(peak >= 7) on the named scenario."""
    found = rare(NAME, "peak>=7", effort=effort, repeats=repeats, levels=[6, 7], seed=2026)
    print(f"## {NAME}: P(peak>=7)")
    print(found.table())


def main() -> None:
    """Print the page's figures (``--small``: quick sizes)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    if args.small:
        oracle(30, 2)
        plain_against_splitting(200, 30, 2)
        named([30, 60], 2)
        return
    oracle(1000, 10)
    plain_against_splitting(20000, 1000, 10)
    named([3000, 40000], 10)


if __name__ == "__main__":
    main()
