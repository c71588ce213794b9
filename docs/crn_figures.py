"""The variance reductions docs/crn.md quotes: the named scenario against two variants.

    python docs/crn_figures.py                   # 400 runs per arm, seed 1, as the page quotes
    python docs/crn_figures.py --runs 20         # a quick, small run (what the tests do)

Runs ``sim compare taiwan-flashpoint-2025 taiwan-flashpoint-2025-<variant> --runs N --seed S``
for the Lai transit and US backing variants and prints, as Markdown, the variance reduction
(VR: independent-seed variance over paired variance) pooled over the outcome classes, per
outcome, per actor's cost and per score total, and two of the Lai transit's differences
(the outcome best served by the pairing, and the Rivera score). The first line names the
scenarios' content hashes; docs/crn.md pastes the table, and tests/test_docs.py runs this
script at a small size so that its code cannot rot.
"""

from __future__ import annotations

import argparse
from typing import Any

BASE = "taiwan-flashpoint-2025"
VARIANTS = {
    "lai-transit": "an extra event on 2026-01-20 (day 74)",
    "us-backs-japan": "public backing of the US-Japan treaty from day 0",
}


def vr(value: float | None) -> str:
    """A variance reduction, or '-' when it is undefined (nothing varied)."""
    return "-" if value is None else f"{value:.1f}"


def by_vr(section: dict[str, Any], label: str) -> str:
    """The items of a summary section by falling VR: 'Japan 5.0, China 2.9'."""
    items = [(v[label], v["variance_reduction"]) for v in section.values()]
    items = sorted((i for i in items if i[1] is not None), key=lambda i: -i[1])
    return ", ".join(f"{name} {vr(value)}" for name, value in items)


def row(variant: str, summary: dict[str, Any]) -> str:
    """One line of the table."""
    scores = summary["scores"]
    return (
        f"| `-{variant}` | {VARIANTS[variant]} | "
        f"{vr(summary['variance_reduction']['outcomes'])} | "
        f"{by_vr(summary['outcomes'], 'label')} | {by_vr(summary['costs'], 'name')} | "
        f"Goldstein {vr(scores['goldstein']['variance_reduction'])}, "
        f"Rivera {vr(scores['rivera']['variance_reduction'])} |"
    )


def example(summary: dict[str, Any]) -> str:
    """The outcome with the largest VR and the Rivera score total, with intervals and VRs."""
    defined = [v for v in summary["outcomes"].values() if v["variance_reduction"] is not None]
    rivera = summary["scores"]["rivera"]
    if not defined:  # a small run in which no outcome share differed between the arms
        return f"no outcome differed; Rivera score {rivera['difference']:+.0f}"
    best = max(defined, key=lambda v: v["variance_reduction"])
    lo, hi = best["ci95"]
    rlo, rhi = rivera["ci95"]
    return (
        f"{best['label']} {100 * best['base']:.1f}% to {100 * best['variant']:.1f}%, "
        f"{100 * best['difference']:+.1f} points (95% CI {100 * lo:+.1f} to {100 * hi:+.1f}, "
        f"VR {vr(best['variance_reduction'])}); Rivera score {rivera['difference']:+.0f} "
        f"(95% CI {rlo:+.0f} to {rhi:+.0f}, VR {vr(rivera['variance_reduction'])})"
    )


def main(argv: list[str] | None = None) -> None:
    """Run both comparisons and print the table."""
    from sim.experiments.compare import compare

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    done = {
        v: compare(BASE, f"{BASE}-{v}", runs=args.runs, seed=args.seed, workers=args.workers)
        for v in VARIANTS
    }
    hashes = {BASE: next(iter(done.values())).summary["base"]["hash"]}
    hashes |= {f"{BASE}-{v}": c.summary["variant"]["hash"] for v, c in done.items()}
    stamp = ", ".join(f"`{name}` at content hash `{h}`" for name, h in hashes.items())
    print(f"{args.runs} runs per arm, seed {args.seed}; {stamp}\n")
    print("| variant | what changes | VR, outcomes pooled | VR by outcome | VR on costs "
          "| VR on score totals |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for variant, comparison in done.items():
        print(row(variant, comparison.summary))
    print(f"\nLai transit: {example(done['lai-transit'].summary)}")


if __name__ == "__main__":
    main()
