"""The figures docs/backtest.md quotes: the trade-war scenario against its 2025 record.

    python docs/backtest_figures.py              # 500 runs, seed 1, as the page quotes
    python docs/backtest_figures.py --runs 20    # a quick, small run (what the tests do)

Prints the backtest (``sim backtest us-china-tradewar-2025
../shared/domain/timeline-2025-to-nov6.csv --runs N --seed S``), then where the record's own
escalation scores fall among the runs' (the record's moves between the scenario's actors,
each row counted once per acting actor, so a joint statement counts for both signatories)
and the ensemble's end states. The first line names the scenario's content hash;
tests/test_docs.py runs this script at a small size so that its code cannot rot.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SCENARIO = "us-china-tradewar-2025"
TIMELINE = Path(__file__).resolve().parents[2] / "shared" / "domain" / "timeline-2025-to-nov6.csv"


def record_scores(timeline: Path, actors: set[str]) -> dict[str, float]:
    """The record's Rivera and Goldstein totals over rows between the scenario's actors."""
    from sim.analysis.scoring import rivera_weight
    from sim.analysis.timeline import read_timeline

    rivera = goldstein = 0.0
    for row in read_timeline(timeline):
        if set(row.actors) | set(row.targets) <= actors:
            rivera += len(row.actors) * rivera_weight(row.cameo)
            goldstein += len(row.actors) * row.goldstein
    return {"rivera": rivera, "goldstein": goldstein}


def percentile(values: np.ndarray, x: float) -> float:
    """Where ``x`` falls among ``values``, in percent (ties count half)."""
    return 100 * (np.sum(values < x) + 0.5 * np.sum(values == x)) / len(values)


def whole_run(runs, record: dict[str, float]) -> str:  # noqa: ANN001 - a runs DataFrame
    """The record's scores against the runs' totals."""
    out = []
    for profile in ("rivera", "goldstein"):
        totals = runs[f"{profile}_total"].to_numpy(dtype=float)
        se = totals.std(ddof=1) / np.sqrt(len(totals))
        out.append(
            f"{profile}: record {record[profile]:.1f} at the "
            f"{percentile(totals, record[profile]):.0f}th percentile of the runs (median "
            f"{np.median(totals):.1f}, mean {totals.mean():.1f}, SE {se:.1f})"
        )
    return "; ".join(out)


def end_states(runs, rung_names: list[str]) -> str:  # noqa: ANN001 - a runs DataFrame
    """How high the runs went, and where they ended."""
    top = len(rung_names) - 1
    peak = [f"peak >= {k} in {100 * (runs.peak_rung >= k).mean():.0f}%" for k in (4, 5)]
    final = runs.final_rung.value_counts(normalize=True).reindex(range(top + 1), fill_value=0)
    ended = [f"{k} ({rung_names[k]}) {100 * p:.0f}%" for k, p in final.items() if p > 0]
    return f"{', '.join(peak)}; final rung: {', '.join(ended)}"


def main(argv: list[str] | None = None) -> None:
    """Run the backtest and the ensemble and print the figures."""
    import sim
    from sim.experiments.backtest import backtest
    from sim.present.backtest import render_backtest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeline", type=Path, default=TIMELINE)
    args = parser.parse_args(argv)
    scenario = sim.load(SCENARIO)
    print(f"{args.runs} runs, seed {args.seed}; `{SCENARIO}` at content hash "
          f"`{scenario.content_hash()}`\n")  # fmt: skip
    print(render_backtest(backtest(scenario, args.timeline, runs=args.runs, seed=args.seed)))
    results = sim.run(scenario, runs=args.runs, seed=args.seed)
    record = record_scores(args.timeline, {a.id for a in scenario.actors})
    print(f"\nWhole-run scores: {whole_run(results.runs, record)}")
    print(f"End states: {end_states(results.runs, [r.name for r in scenario.ladder])}")


if __name__ == "__main__":
    main()
