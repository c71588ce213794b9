"""The ``sim`` command: a thin shell over the Python API.

Only :mod:`argparse` is imported at the top, so ``sim --help`` answers at once; each
subcommand imports what it needs. A :class:`~sim.errors.SimError` is a user's mistake: its
message goes to stderr and the exit code is 2, with no traceback. Anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from sim.errors import SimError

#: Exit code after Ctrl-C, as shells report it (128 + SIGINT).
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sim`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["sim", *argv])
    try:
        return int(args.func(args) or 0)
    except SimError as exc:
        print(f"sim: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        notes = "".join(f"; {n}" for n in getattr(exc, "__notes__", ()))
        print(f"sim: interrupted{notes}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`sim trace ... | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="sim",
        description="Monte Carlo escalation-scenario simulator.",
        epilog="Run 'sim COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_run(sub)
    _add_trace(sub)
    _add_list(sub)
    _add_validate(sub)
    _add_schema(sub)
    return parser


def _version() -> str:
    """Return the installed package version without importing the package's heavy parts."""
    from importlib import metadata

    try:
        return metadata.version("sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def _add_overrides(p: argparse.ArgumentParser) -> None:
    """Add the repeatable ``--set dotted.path=value`` option."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="PATH=VALUE",
        help="override a scenario value, e.g. --set actors.CHN.attributes.resolve=0.8 (repeatable)",
    )


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run a Monte Carlo ensemble and summarise it")
    p.add_argument("scenario", metavar="NAME|PATH", help="a named scenario or a YAML file")
    p.add_argument("--runs", type=int, default=1000, help="replications (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default: 0)")
    _add_overrides(p)
    p.add_argument(
        "--out", default="results", metavar="DIR", help="results root (default: results)"
    )
    p.add_argument("--json", action="store_true", help="print summary.json instead of the tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no results path")
    p.set_defaults(func=cmd_run)


def _add_trace(sub: Any) -> None:
    p = sub.add_parser("trace", help="replay one replication as a dated chronicle")
    p.add_argument("scenario", metavar="NAME|PATH", help="a named scenario or a YAML file")
    p.add_argument(
        "--seed", type=int, default=0, help="root seed, as given to 'sim run' (default: 0)"
    )
    p.add_argument("--run", type=int, default=0, metavar="I", help="replication index (default: 0)")
    _add_overrides(p)
    p.set_defaults(func=cmd_trace)


def _add_list(sub: Any) -> None:
    p = sub.add_parser("list", help="list the named scenarios")
    p.set_defaults(func=cmd_list)


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a scenario and say what is in it")
    p.add_argument("scenario", metavar="PATH", help="a YAML file (or a named scenario)")
    _add_overrides(p)
    p.set_defaults(func=cmd_validate)


def _add_schema(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    p.set_defaults(func=cmd_schema)


# --- the commands -----------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run an ensemble, write its folder, print the tables (or the summary as JSON)."""
    from sim.analysis.tables import render_summary
    from sim.experiments.ensemble import run
    from sim.experiments.store import json_text

    progress = sys.stderr.isatty() and not args.quiet
    results = run(
        args.scenario,
        runs=args.runs,
        seed=args.seed,
        out=args.out,
        progress=progress,
        overrides=args.overrides,
        command=args.command_line,
    )
    if args.json:
        print(json_text(results.summary))
        if not args.quiet:
            print(f"results: {results.path}", file=sys.stderr)
    else:
        print(render_summary(results.summary), end="")
        if not args.quiet:
            print(f"\nresults: {results.path}")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    """Replay replication ``--run`` of ``sim run --seed`` and print its chronicle."""
    from sim.analysis.tables import render_trace
    from sim.engine import simulate
    from sim.errors import UsageError
    from sim.experiments.ensemble import lever_names
    from sim.experiments.seeding import replication_seed, seed_key
    from sim.scenario import compile_scenario, load

    if args.run < 0 or args.seed < 0:
        raise UsageError("--seed and --run must be non-negative integers")
    spec = compile_scenario(load(args.scenario, args.overrides))
    record = simulate(spec, replication_seed(args.seed, args.run))
    key = seed_key(args.seed, args.run)
    heading = f"{spec.title} ({spec.name}), replication {args.run} of seed {args.seed} [{key}]"
    print(render_trace(record, spec, lever_names(spec), heading), end="")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print the named scenarios, one a line."""
    from sim.scenario.registry import list_scenarios

    entries = list(list_scenarios())
    if not entries:
        print("no named scenarios on the search path", file=sys.stderr)
    width = max((len(e.name) for e in entries), default=0)
    for entry in entries:
        print(f"{entry.name.ljust(width)}  {entry.title}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Load and compile a scenario; print what it holds."""
    from sim.scenario import compile_scenario, load

    scenario = load(args.scenario, args.overrides)
    compile_scenario(scenario)  # Compiling catches what only a whole scenario can get wrong.
    print(describe(scenario))
    return 0


def describe(scenario: Any) -> str:
    """Return a few lines saying what a scenario holds."""
    levers = sum(len(a.levers) for a in scenario.actors)
    kinds = [e.kind for e in scenario.events]
    classes = scenario.outcomes.classes
    lines = [
        f"ok: {scenario.name} - {scenario.title}",
        f"  horizon: {scenario.start} to {scenario.end_date} ({scenario.days} days)",
        f"  ladder: {len(scenario.ladder)} rungs ({', '.join(r.name for r in scenario.ladder)})",
        f"  actors: {len(scenario.actors)} ({', '.join(a.id for a in scenario.actors)})",
        f"  levers: {levers}",
        f"  relations: {len(scenario.relations)}",
        f"  events: {len(kinds)} ({kinds.count('scheduled')} scheduled, "
        f"{kinds.count('stochastic')} stochastic)",
        f"  outcomes: {len(classes)} ({', '.join(c.id for c in classes)})",
        f"  content hash: {scenario.content_hash()}",
    ]
    return "\n".join(lines)


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the Scenario model."""
    import json

    from sim.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
