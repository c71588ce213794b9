"""``sim run``'s exploring options: ``--rare`` (rare outcomes) and ``--from`` (branching).

Kept apart from the other commands (:mod:`sim.cli.parser`, :mod:`sim.cli.commands`); like
them, it imports only :mod:`argparse` at the top.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_explore_options(p: argparse.ArgumentParser) -> None:
    """Add ``--rare`` (with ``--effort/--repeats/--levels``) and ``--from/--replication/--day``."""
    g = p.add_argument_group("rare outcomes (multilevel splitting; docs/rare-events.md)")
    g.add_argument(
        "--rare",
        metavar="peak>=K",
        help="estimate the probability of a rare outcome, peak>=K, with a 95%% interval",
    )
    g.add_argument(
        "--effort",
        metavar="N[,N...]",
        default="1000",
        help="with --rare: runs per stage, or one number per level (default: 1000)",
    )
    g.add_argument(
        "--repeats",
        type=int,
        default=10,
        metavar="R",
        help="with --rare: independent repetitions; the interval comes from their spread "
        "(default: 10)",
    )
    g.add_argument(
        "--levels",
        metavar="K1,K2,...",
        help="with --rare: the rungs to split at, ending at K (default: 1, 2, ..., K)",
    )
    b = p.add_argument_group("branching from a run's state (sim.branch)")
    b.add_argument(
        "--from",
        dest="branch_from",
        metavar="RESULTS_DIR",
        help="continue from the state replication --replication of this results folder "
        "reached on --day (the folder's scenario and seed; NAME may be left out)",
    )
    b.add_argument("--replication", type=int, metavar="I", help="with --from: the run to branch")
    b.add_argument("--day", type=float, metavar="D", help="with --from: the day to branch on")


def wants_explore(args: argparse.Namespace) -> bool:
    """Whether ``sim run`` was asked for a rare outcome or a branch."""
    return bool(args.rare or args.branch_from)


def run_explore(args: argparse.Namespace) -> int:
    """Run ``sim run --rare`` or ``sim run --from``; print its result."""
    from sim.errors import UsageError

    if args.rare and args.branch_from:
        raise UsageError("--rare and --from go separately")
    if args.resume or args.precision is not None or args.posterior:
        raise UsageError("--rare and --from take no --resume, --precision or --posterior")
    if args.rare:
        return _rare(args)
    return _branch(args)


def _numbers(text: str | None, what: str) -> list[int] | None:
    from sim.errors import UsageError

    if text is None:
        return None
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{what} {text}: expected whole numbers separated by commas") from None


def _rare(args: argparse.Namespace) -> int:
    from sim.errors import UsageError
    from sim.experiments.rare import rare
    from sim.results.store import json_text

    if args.scenario is None:
        raise UsageError("--rare: give a scenario (NAME or PATH)")
    if args.branch_from or args.replication is not None or args.day is not None:
        raise UsageError("--replication and --day go with --from")
    efforts = _numbers(args.effort, "--effort") or []
    estimate = rare(
        args.scenario,
        args.rare,
        effort=efforts[0] if len(efforts) == 1 else efforts,
        repeats=args.repeats,
        levels=_numbers(args.levels, "--levels"),
        seed=0 if args.seed is None else args.seed,
        overrides=args.overrides,
    )
    print(json_text(estimate.to_json()) if args.json else estimate.table())
    return 0


def _branch(args: argparse.Namespace) -> int:
    from sim.errors import UsageError
    from sim.experiments.branch import branch
    from sim.present.summary import render_summary
    from sim.results.store import json_text

    if args.replication is None or args.day is None:
        raise UsageError("--from RESULTS_DIR needs --replication I and --day D")
    if args.overrides:
        raise UsageError("--from: the scenario is the folder's; give no --set")
    results = branch(
        args.branch_from,
        args.replication,
        args.day,
        runs=1000 if args.runs is None else args.runs,
        seed=0 if args.seed is None else args.seed,
        out=args.out,
        progress=sys.stderr.isatty() and not args.quiet,
        workers=0 if args.workers is None else args.workers,  # every core, as sim run
        command=args.command_line,
        name=args.name,
        force=args.force,
        expected=args.scenario,
    )
    if args.json:
        print(json_text(results.summary))
    else:
        print(render_summary(results.summary), end="")
        print("\n" + branched_text(results.summary["branched_from"]))
        if not args.quiet:
            print(f"\nresults: {results.path}")
    return 0


def branched_text(block: dict[str, Any]) -> str:
    """One line saying where a branched ensemble's runs branched from."""
    date = f" ({block['date']})" if block.get("date") else ""
    return (
        f"Branched from replication {block['replication']} of {block['folder']} "
        f"(seed {block['seed']}) on day {block['day']:g}{date}: every run is that run up to "
        "that day, and its own future after it."
    )


def add_discover(sub: Any) -> None:
    """Add ``sim discover SWEEP_DIR --outcome O --threshold T``."""
    p = sub.add_parser(
        "discover",
        help="scenario discovery: the PRIM box of a sweep where an outcome is likely",
        description="Scenario discovery over a sweep's points (PRIM, EMA Workbench; CART): "
        "a point is a case when its outcome's probability reaches --threshold. Prints the "
        "peeling trajectory, the chosen box and its restrictions' quasi-p values, and writes "
        "the figures into the sweep's figures/ folder. Needs the 'explore' extra.",
    )
    p.add_argument("sweep", metavar="SWEEP_DIR", help="a sweep's results folder")
    p.add_argument(
        "--outcome", required=True, help="an outcome class id of the scenario, or peak>=K"
    )
    p.add_argument(
        "--threshold",
        type=float,
        required=True,
        help="a point is a case when the outcome's probability there is at least this (0..1)",
    )
    p.add_argument(
        "--min-density",
        type=float,
        default=0.8,
        help="choose the box of highest coverage with at least this density (default: 0.8)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="do not list the figures written")
    p.set_defaults(func=cmd_discover)


def cmd_discover(args: argparse.Namespace) -> int:
    """Run PRIM over a sweep's points; print the box; write the figures."""
    from pathlib import Path

    from sim.experiments.discover import discover
    from sim.plots.explore import write_discovery_figures
    from sim.results.store import json_text

    found = discover(args.sweep, args.outcome, args.threshold, args.min_density)
    print(json_text(found.to_json()) if args.json else found.table(), end="")
    for path in write_discovery_figures(found, Path(args.sweep)):
        if not args.quiet:
            print(f"figure: {path}", file=sys.stderr if args.json else sys.stdout)
    return 0
