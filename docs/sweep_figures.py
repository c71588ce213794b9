"""The figures docs/sweeps.md quotes from the shipped sweeps, as Markdown tables.

    python docs/sweep_figures.py                     # run both shipped sweeps in full
    python docs/sweep_figures.py --from DIR --from DIR   # read folders of `sim sweep sweeps/NAME`
    python docs/sweep_figures.py --runs 4 --points 4     # a quick, small run (what the tests do)

For the grid `sweeps/taiwan-resolve-vs-us-backing`: at each value of China's resolve, the
chance of a military crisis (peak rung 6+) and of military signalling (5+) without and with
open US backing of Japan (the first and last values of the backing), with 95% Wilson
intervals, and the effect of backing paired by replication, with its 95% interval. For the
Sobol design `sweeps/taiwan-sobol-actors`: the total and first-order index of each parameter
for each outcome of interest, with bootstrap intervals, and the share of each probability's
variance over the design that is Monte Carlo noise. Each table's first line names the sweep,
its size and the scenario's content hash; docs/sweeps.md pastes the tables, and
tests/test_docs.py runs this script at a small size so that its code cannot rot.
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

GRID = "sweeps/taiwan-resolve-vs-us-backing"
SOBOL = "sweeps/taiwan-sobol-actors"
OUTCOMES = {"peak>=6": "military crisis (6+)", "peak>=5": "military signalling (5+)"}


def pct(p: float, lo: float, hi: float) -> str:
    """A share with its interval, in percent: '3.8% [2.3, 6.1]'."""
    return f"{100 * p:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def pts(d: dict[str, Any]) -> str:
    """A paired difference of shares, in points: '-2.2 [-4.0, -0.5]'."""
    lo, hi = d["ci95"]
    return f"{100 * d['difference']:+.1f} [{100 * lo:+.1f}, {100 * hi:+.1f}]"


def heading(done: Any) -> str:
    """The line that says which sweep, how big, on which scenario."""
    spec, base = done.spec, done.plan.base.scenario
    size = f"{len(done.points)} points x {spec.runs} runs, seed {spec.seed}"
    return f"{spec.title}: {size}; `{base.name}` at content hash `{base.content_hash()}`"


def armed_conflict(done: Any) -> str:
    """How many runs of the whole sweep ended in armed conflict."""
    runs = done.runs
    hits = int((runs["outcome"].astype(str) == "armed_conflict").sum())
    return f"{hits} of {len(runs):,} runs ended in armed conflict"


def grid_table(done: Any) -> str:
    """Each outcome at each value of the first parameter, at the second's two ends."""
    rows_path, cols_path = done.spec.paths
    design, points = done.design, done.points.set_index("point")
    low, high = design[cols_path].min(), design[cols_path].max()
    row_name, col_name = rows_path.rsplit(".", 1)[-1], cols_path.rsplit(".", 1)[-1]
    header = [row_name]
    for label in OUTCOMES.values():
        header += [f"{label}, {col_name} {low:g}", f"{col_name} {high:g}", "paired effect"]
    lines = ["| " + " | ".join(header) + " |", "|---:" * len(header) + "|"]
    for value in sorted(design[rows_path].unique()):
        at = design[design[rows_path] == value]
        a = int(at[at[cols_path] == low]["point"].iloc[0])
        b = int(at[at[cols_path] == high]["point"].iloc[0])
        cells = [f"{value:g}"]
        for outcome in OUTCOMES:
            column = f"p_peak_ge_{outcome.removeprefix('peak>=')}"
            for point in (a, b):
                row = points.loc[point]
                cells.append(pct(row[column], row[f"{column}_lo"], row[f"{column}_hi"]))
            cells.append(pts(done.difference(a, b, outcome)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def noise_share(done: Any, column: str) -> float:
    """The share of a probability's variance over the design that is Monte Carlo noise."""
    p, runs = done.points[column], done.points["runs"]
    spread = float(p.var(ddof=1))
    return float((p * (1 - p) / runs).mean()) / spread if spread > 0 else float("nan")


def sobol_table(done: Any) -> str:
    """Total and first-order indices per parameter and outcome, ranked by the first."""
    sens: pd.DataFrame = done.sensitivity
    labels = {m.name: m.label for m in done.metrics}
    outcomes = list(dict.fromkeys(sens["outcome"]))
    lines = [
        "| parameter | " + " | ".join(f"{labels[o]}: ST | S1" for o in outcomes) + " |",
        "|---" + "|---:|---:" * len(outcomes) + "|",
    ]
    first = sens[sens["outcome"] == outcomes[0]].sort_values("rank")
    for parameter in first["parameter"]:
        cells = []
        for outcome in outcomes:
            r = sens[(sens["outcome"] == outcome) & (sens["parameter"] == parameter)].iloc[0]
            cells.append(f"{r.ST:.2f} [{r.ST_lo:.2f}, {r.ST_hi:.2f}]")
            cells.append(f"{r.S1:.2f} [{r.S1_lo:.2f}, {r.S1_hi:.2f}]")
        lines.append(f"| {parameter} | " + " | ".join(cells) + " |")
    noise = []
    for m in done.metrics:
        if m.probability:
            mean = float(done.points[m.column].mean())
            share = noise_share(done, m.column)
            noise.append(f"{m.label}: mean p {mean:.3f}, noise {share:.2f} of the variance")
    return "\n".join(lines) + "\n\nMonte Carlo noise over the design: " + "; ".join(noise)


def figures(done: Any) -> str:
    """The Markdown block of one sweep."""
    table = sobol_table(done) if done.spec.design == "sobol" else grid_table(done)
    return f"{heading(done)}\n\n{table}\n\n{armed_conflict(done)}\n"


def main(argv: list[str] | None = None) -> None:
    """Run (or read) the shipped sweeps and print their figures."""
    import sim
    from sim.experiments.sweep import load_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="folders", action="append", default=[], metavar="DIR")
    parser.add_argument("--runs", type=int, help="runs per point (default: the sweep file's)")
    parser.add_argument("--points", type=int, help="Sobol base sample (default: the file's)")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.folders:
        done = [load_sweep(folder) for folder in args.folders]
    else:
        small = {"runs": args.runs} if args.runs else {}
        done = [
            sim.sweep(GRID, workers=args.workers, **small),
            sim.sweep(
                SOBOL,
                workers=args.workers,
                **small,
                **({"points": args.points} if args.points else {}),
            ),
        ]
    print("\n".join(figures(d) for d in done), end="")


if __name__ == "__main__":
    main()
