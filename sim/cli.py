"""The ``sim`` command: a thin shell over the Python API.

Only :mod:`argparse` is imported at the top, so ``sim --help`` answers at once; each
subcommand imports what it needs. A :class:`~sim.errors.SimError` is a user's mistake (exit
code 2) or a fault of the machine or the cluster (exit code 1): its message goes to stderr,
with no traceback. So does an ``OSError`` or ``MemoryError`` of the machine that reaches
here (exit code 1). SIGTERM and SIGHUP stop a command as Ctrl-C does: what completed is
saved and the exit code is 128 + the signal (130, 143, 129). ``--debug`` adds the traceback
to any of these. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from sim.errors import SimError

#: Exit code after Ctrl-C, as shells report it (128 + SIGINT).
EXIT_INTERRUPTED = 130
#: Exit code after a fault of the machine that no SimError told (a full disk, no memory).
EXIT_MACHINE = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sim`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = shlex.join(["sim", *[a for a in argv if a != "--debug"]])
    debug = bool(getattr(args, "debug", False))
    try:
        return _run_command(args)
    except SimError as exc:
        _report(f"sim: error: {exc}{_notes(exc)}", debug)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        how = f" ({exc})" if str(exc) else ""  # Stopped by a signal: "(SIGTERM)"
        _report(f"sim: interrupted{how}{_notes(exc)}", debug)
        return getattr(exc, "exit_code", EXIT_INTERRUPTED)
    except BrokenPipeError:
        # The reader went away (`sim trace ... | head`): not an error worth a traceback.
        sys.stderr.close()
        return 0
    except (OSError, MemoryError) as exc:
        from sim.experiments.stops import machine_problem, where

        problem = machine_problem(exc)
        if problem is None:
            raise  # Not the machine's fault: a bug, keep its traceback.
        notes = _notes(exc) or f"; {problem.remedy} and try again"
        _report(f"sim: error: {problem.what}{where(exc)}{notes}", debug)
        return EXIT_MACHINE


def _run_command(args: argparse.Namespace) -> int:
    """Run the subcommand, with SIGTERM and SIGHUP stopping it as Ctrl-C does."""
    import warnings

    from sim.experiments.stops import stopping_on_signals

    with warnings.catch_warnings(), stopping_on_signals():
        warnings.showwarning = _show_warning
        return int(args.func(args) or 0)


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    """Print a warning of sim as one line, ``sim: warning: ...``; others as Python does."""
    import warnings

    from sim.errors import SimWarning

    if issubclass(category, SimWarning):
        print(f"sim: warning: {message}", file=sys.stderr)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, *args, **kwargs))


def _notes(exc: BaseException) -> str:
    """The notes an error carries (what was saved, how to finish it), each after a '; '."""
    return "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))


def _report(message: str, debug: bool) -> None:
    """Print one error line on stderr; with ``--debug``, the traceback before it."""
    if debug:
        import traceback

        traceback.print_exc()
    print(message, file=sys.stderr)


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
    _add_compare(sub)
    _add_list(sub)
    _add_validate(sub)
    _add_schema(sub)
    _add_plot(sub)
    _add_report(sub)
    _add_backtest(sub)
    _add_sweep(sub)
    _add_calibrate(sub)
    from sim.explore_cli import add_discover

    add_discover(sub)
    _add_debug(parser, sub)
    return parser


def _add_debug(parser: argparse.ArgumentParser, sub: Any) -> None:
    """Add ``--debug`` to the command and to every subcommand (before or after it)."""
    for p in (parser, *sub.choices.values()):
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an error (for a bug report)",
        )


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


def _add_posterior(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--posterior",
        metavar="CALIBRATION_DIR",
        help="draw each replication's calibrated parameters from this calibration's posterior "
        "(a fresh draw per replication, from its seed; see 'sim calibrate')",
    )


def _add_destination(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", default="results", metavar="DIR", help="results root (default: results)"
    )
    p.add_argument(
        "--name",
        metavar="LABEL",
        help="write the results folder as LABEL under the root (default: a fresh time-stamped "
        "id); an existing LABEL is refused without --force",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --name: replace an existing results folder of that name (it is deleted "
        "when the new run starts; a folder that does not hold sim results is never deleted)",
    )


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run a Monte Carlo ensemble and summarise it")
    p.add_argument(
        "scenario", metavar="NAME|PATH", nargs="?", help="a named scenario or a YAML file"
    )
    p.add_argument("--runs", type=int, help="replications (default: 1000)")
    p.add_argument("--seed", type=int, help="root seed (default: 0)")
    _add_overrides(p)
    _add_posterior(p)
    _add_scale_options(p)
    _add_destination(p)
    p.add_argument("--json", action="store_true", help="print summary.json instead of the tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no results path")
    p.add_argument("--plot", action="store_true", help="also write the figures (see 'sim plot')")
    p.add_argument(
        "--score",
        choices=("ladder", "goldstein", "rivera"),
        help="also print the full table of one scoring profile: ladder (peak and final rung), "
        "goldstein (summed Goldstein score per directed dyad) or rivera (escalation score of "
        "Rivera et al. 2024, per actor); summary.json holds all three under 'scores'",
    )
    from sim.explore_cli import add_explore_options

    add_explore_options(p)
    p.set_defaults(func=cmd_run)


def _add_executor_options(p: argparse.ArgumentParser) -> None:
    """Add --workers, --executor and --scheduler."""
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="local worker processes (default and 0: every core; 1 runs in this process; "
        "at most 2 per core)",
    )
    p.add_argument(
        "--executor",
        choices=("processes", "dask"),
        default="processes",
        help="where replications run: local processes (default) or a Dask cluster",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="with --executor dask: a running scheduler (default: start a LocalCluster)",
    )


def _add_scale_options(p: argparse.ArgumentParser) -> None:
    """Add the options of long runs: executors, a precision target and resuming."""
    _add_executor_options(p)
    p.add_argument(
        "--precision",
        type=float,
        metavar="H",
        help="run in batches until every outcome's 95%% interval is within +/-H (e.g. 0.01)",
    )
    p.add_argument(
        "--max-runs",
        type=int,
        metavar="M",
        help="with --precision: stop at M runs even if H is not reached (default: 100000)",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="finish an interrupted run in its results folder (takes no scenario)",
    )


def _add_compare(sub: Any) -> None:
    p = sub.add_parser(
        "compare",
        help="compare two scenarios on common random numbers (paired differences)",
        description="Run BASE and VARIANT on the same per-run seeds and report paired "
        "differences (variant minus base) with 95%% intervals and the variance reduction "
        "against independent seeds. VARIANT defaults to BASE; --set overrides apply to the "
        "variant only, so 'sim compare NAME --set PATH=VALUE' asks what that change does.",
    )
    p.add_argument("base", metavar="BASE", help="a named scenario or a YAML file")
    p.add_argument(
        "variant", metavar="VARIANT", nargs="?", help="another scenario (default: BASE again)"
    )
    p.add_argument("--runs", type=int, default=1000, help="replications per arm (default: 1000)")
    p.add_argument("--seed", type=int, default=0, help="root seed of both arms (default: 0)")
    _add_overrides(p)
    _add_posterior(p)
    _add_executor_options(p)
    _add_destination(p)
    p.add_argument("--json", action="store_true", help="print summary.json instead of the tables")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no results path")
    p.add_argument(
        "--plot",
        action="store_true",
        help="also write the figures: the paired differences, and each arm's ensemble figures "
        "in its base/ and variant/ folder (see 'sim plot')",
    )
    p.set_defaults(func=cmd_compare)


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
    from sim.explore_cli import run_explore, wants_explore

    if wants_explore(args):  # --rare or --from
        return run_explore(args)
    results = _run_or_resume(args, run)
    if args.json:
        print(json_text(results.summary))
        if not args.quiet:
            print(f"results: {results.path}", file=sys.stderr)
    else:
        print(render_summary(results.summary), end="")
        _print_posterior(results.summary)
        if args.score:
            from sim.analysis.scoring import render

            scores = results.summary["scores"][args.score]
            print("\n" + render(scores, results.spec.actor_names), end="")
        if not args.quiet:
            print(f"\nresults: {results.path}")
    if args.plot:
        _write_figures(results.path, "png", args.quiet)
    return 0


def _run_or_resume(args: argparse.Namespace, run: Any) -> Any:
    """Run the ensemble ``sim run`` asks for, or resume one; report precision and failures."""
    from sim.analysis.tables import failures_text, precision_text
    from sim.errors import UsageError
    from sim.experiments.ensemble import resume

    progress = sys.stderr.isatty() and not args.quiet
    executor = {
        "workers": args.workers,
        "executor": args.executor,
        "scheduler": args.scheduler,
        "command": args.command_line,
    }
    if args.resume:
        given = [
            args.scenario,
            args.runs,
            args.seed,
            args.overrides,
            args.precision,
            args.max_runs,
            args.posterior,
        ]
        if any(v not in (None, []) for v in given):
            raise UsageError(
                "--resume DIR takes its scenario, --runs, --seed, --set, --precision and "
                "--posterior from the folder: give none of them"
            )
        if args.name is not None or args.force:
            raise UsageError("--resume DIR finishes that folder: give no --name or --force")
        results = resume(args.resume, progress, **executor)
    elif args.scenario is None:
        raise UsageError("give a scenario (NAME or PATH), or --resume DIR")
    else:
        results = run(
            args.scenario,
            runs=args.runs,
            seed=0 if args.seed is None else args.seed,
            out=args.out,
            progress=progress,
            overrides=args.overrides,
            precision=args.precision,
            max_runs=args.max_runs,
            workers=_workers(args.workers),
            executor=args.executor,
            scheduler=args.scheduler,
            command=args.command_line,
            name=args.name,
            force=args.force,
            posterior=args.posterior,
        )
    summary = results.summary
    if summary.get("precision") and args.json and not args.quiet:
        print(precision_text(summary["precision"]), file=sys.stderr)
    if summary["failures"]["count"] and not args.quiet:
        print(f"sim: warning: {failures_text(summary)}", file=sys.stderr)
    return results


def _print_posterior(summary: dict[str, Any]) -> None:
    """Print what a run drew from a posterior, if it did."""
    if summary.get("posterior"):
        from sim.experiments.posterior import render_block

        print("\n" + render_block(summary["posterior"]), end="")


def _workers(workers: int | None) -> int:
    """Return ``--workers`` for the Python API: not given means every core (0, as in Python)."""
    return 0 if workers is None else workers


def cmd_compare(args: argparse.Namespace) -> int:
    """Run two arms on common random numbers and print their paired differences."""
    from sim.experiments.compare import compare
    from sim.experiments.store import json_text

    result = compare(
        args.base,
        args.variant,
        runs=args.runs,
        seed=args.seed,
        out=args.out,
        progress=sys.stderr.isatty() and not args.quiet,
        overrides=args.overrides,
        workers=_workers(args.workers),
        executor=args.executor,
        scheduler=args.scheduler,
        command=args.command_line,
        name=args.name,
        force=args.force,
        posterior=args.posterior,
    )
    if args.json:
        print(json_text(result.summary))
        if not args.quiet:
            print(f"results: {result.path}", file=sys.stderr)
    else:
        print(result.table(), end="")
        _print_posterior(result.summary)
        if not args.quiet:
            print(f"\nresults: {result.path}")
    if args.plot:
        _write_comparison_figures(result.path, args.quiet)
    return 0


def _write_comparison_figures(folder: Any, quiet: bool) -> None:
    """Draw a comparison's figures, then each arm's ensemble figures in its own folder."""
    from pathlib import Path

    from sim.experiments.compare import ARMS

    _write_figures(folder, "png", quiet)
    for arm in ARMS:
        if (Path(folder) / arm).is_dir():
            _write_figures(Path(folder) / arm, "png", quiet)


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
        print(f"{entry.name.ljust(width)}  {entry.title}{_invalid_note(entry.path)}")
    return 0


def _invalid_note(path: Any) -> str:
    """'  [does not validate: ...]' for a listed file that is no valid scenario, else ''."""
    from sim.scenario import load

    try:
        load(path)
    except SimError as err:
        first = str(err).splitlines()[0]
        return f"  [does not validate: {first[:120]}]"
    return ""


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


def _add_backtest(sub: Any) -> None:
    p = sub.add_parser(
        "backtest", help="hold a scenario's ensemble against a dated record of real moves"
    )
    p.add_argument("scenario", metavar="NAME|PATH", help="a named scenario or a YAML file")
    p.add_argument(
        "timeline",
        metavar="TIMELINE.csv",
        help="dated moves: date, actor, target, move, cameo_code, goldstein (see docs/backtest.md)",
    )
    p.add_argument("--runs", type=int, default=500, help="replications (default: 500)")
    p.add_argument("--seed", type=int, default=0, help="root seed (default: 0)")
    _add_overrides(p)
    window = p.add_mutually_exclusive_group()
    window.add_argument(
        "--until",
        type=dt.date.fromisoformat,
        metavar="DATE",
        help="score moves up to this date (default: the record's last date)",
    )
    window.add_argument(
        "--full-horizon",
        action="store_true",
        help="score the whole horizon, even past the record's last date",
    )
    p.add_argument("--json", action="store_true", help="print the backtest as JSON")
    p.set_defaults(func=cmd_backtest)


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run an ensemble and print where the record falls in its predictive distribution."""
    from sim.analysis.backtest import backtest
    from sim.experiments.store import json_text

    result = backtest(
        args.scenario,
        args.timeline,
        runs=args.runs,
        seed=args.seed,
        overrides=args.overrides,
        progress=sys.stderr.isatty() and not args.json,
        until=args.until,
        full_horizon=args.full_horizon,
    )
    if args.json:
        print(json_text(result.to_json()))
    else:
        print(result.render(), end="")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the Scenario model."""
    import json

    from sim.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


# --- figures and reports ------------------------------------------------------------------------


def _add_plot(sub: Any) -> None:
    p = sub.add_parser("plot", help="draw the figures of a results folder into its figures/")
    p.add_argument("results", metavar="RESULTS_DIR", help="a results folder, e.g. results/NAME/ID")
    p.add_argument(
        "--format", default="png", choices=("png", "svg", "pdf"), help="file format (default: png)"
    )
    p.add_argument("--out", metavar="DIR", help="write here instead of RESULTS_DIR/figures")
    p.add_argument("--quiet", action="store_true", help="do not list the files written")
    p.set_defaults(func=cmd_plot)


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a results folder")
    p.add_argument("results", metavar="RESULTS_DIR", help="a results folder, e.g. results/NAME/ID")
    p.add_argument("--out", metavar="FILE", help="write here instead of RESULTS_DIR/report.html")
    p.set_defaults(func=cmd_report)


def cmd_plot(args: argparse.Namespace) -> int:
    """Write every figure of a results folder."""
    _write_figures(args.results, args.format, args.quiet, args.out)
    return 0


def _write_figures(folder: Any, fmt: str, quiet: bool, out: str | None = None) -> None:
    """Draw a results folder's figures; list them on stderr unless ``quiet``."""
    from sim.plots.registry import write_figures

    for path in write_figures(folder, fmt, out):
        if not quiet:
            print(f"figure: {path}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report of a results folder and print its path."""
    from sim.report import write_report

    print(write_report(args.results, args.out))
    return 0


# --- sweeps --------------------------------------------------------------------------------------


def _add_sweep(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a parameter sweep (grid, Latin hypercube or Sobol) and rank what matters",
        description="Run an ensemble at every point of a design over scenario parameters. "
        "See docs/sweeps.md.",
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="NAME|FILE",
        help="a scenario to sweep with --param, or a sweep file (e.g. sweeps/NAME)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="PATH=SPEC",
        help="a swept parameter: PATH=LOW:HIGH:STEPS (grid), PATH=[a,b,c] (grid), "
        "PATH=LOW:HIGH (uniform) or PATH=triangular(low,mode,high) etc. (repeatable)",
    )
    _add_overrides(p)
    _add_posterior(p)
    p.add_argument("--design", choices=("grid", "lhs", "sobol", "morris"), help="default: grid")
    p.add_argument(
        "--points",
        type=int,
        help="LHS: number of points; Sobol: base sample N (a power of 2); Morris: trajectories",
    )
    p.add_argument("--runs", type=int, help="replications per point (default: 500)")
    p.add_argument("--seed", type=int, help="root seed (default: 0)")
    p.add_argument(
        "--independent-seeds",
        action="store_true",
        help="draw new random numbers at every point (default: common random numbers)",
    )
    p.add_argument(
        "--outcome",
        dest="outcomes",
        action="append",
        metavar="NAME",
        help="an outcome of interest: an outcome class id, peak>=K, peak_rung_mean or "
        "cost_ACTOR_mean (repeatable; default: every outcome class)",
    )
    _add_destination(p)
    p.add_argument("--resume", metavar="DIR", help="finish an interrupted sweep in DIR")
    p.add_argument(
        "--workers", type=int, help="worker processes (default: every core; 1: this process)"
    )
    p.add_argument("--executor", choices=("processes", "dask"), help="default: processes")
    p.add_argument("--scheduler", metavar="ADDR", help="a Dask scheduler (with --executor dask)")
    p.add_argument("--json", action="store_true", help="print the tables as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no results path")
    p.add_argument(
        "--plot",
        action="store_true",
        help="also write the figures: outcomes against each parameter, a heat map (two-"
        "parameter grids), Sobol indices (Sobol designs) (see 'sim plot')",
    )
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Check a sweep (fast), run its missing points, print its points and Sobol ranking."""
    from pathlib import Path

    from sim.experiments.sweep_spec import cli_fields, quick_path_check, resolve_spec

    resume = Path(args.resume) if args.resume else None
    spec, _ = resolve_spec(args.target, cli_fields(args), resume)
    quick_path_check(spec)  # A mistyped path fails here, before anything heavy loads.
    if not args.quiet:
        print(f"sweep: {spec.describe()}", file=sys.stderr)
    from sim.experiments.sweep import sweep

    results = sweep(
        spec,
        out=args.out,
        resume=resume,
        executor=args.executor,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=sys.stderr.isatty() and not args.quiet,
        command=args.command_line,
        name=args.name,
        force=args.force,
        posterior=args.posterior,
    )
    if args.json:
        from sim.experiments.store import json_text

        print(json_text(results.to_json()))
    else:
        print(results.table(), end="")
    if not args.quiet:
        print(f"\nresults: {results.path}", file=sys.stderr if args.json else sys.stdout)
    if args.plot:
        _write_figures(results.path, "png", args.quiet)
    return 0


# --- calibration --------------------------------------------------------------------------------


def _add_calibrate(sub: Any) -> None:
    p = sub.add_parser(
        "calibrate",
        help="calibrate scenario parameters to a dated record (ABC-SMC): a posterior",
        description="Find the parameter values under which the scenario reproduces a dated "
        "record of moves, as a posterior distribution (pyabc's ABC-SMC on the first day and "
        "count of each kind of move). See docs/calibration.md.",
    )
    p.add_argument(
        "target",
        nargs="?",
        metavar="NAME|FILE",
        help="a scenario to calibrate with --param, or a calibration file (calibrations/NAME)",
    )
    p.add_argument(
        "timeline", nargs="?", metavar="TIMELINE.csv", help="the record (sim backtest's format)"
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="PATH=PRIOR",
        help="a calibrated parameter and its prior: uniform(a, b) or a:b, loguniform(a, b), "
        "triangular(low, mode, high), truncnormal(mean, sd, low, high), gamma(shape, rate) "
        "(repeatable)",
    )
    _add_overrides(p)
    p.add_argument("--population", type=int, help="particles per generation (default: 500)")
    p.add_argument("--generations", type=int, help="at most this many generations (default: 8)")
    p.add_argument("--seed", type=int, help="root seed (default: 0)")
    p.add_argument("--min-epsilon", type=float, metavar="E", help="stop once epsilon <= E")
    p.add_argument("--max-simulations", type=int, metavar="M", help="stop after M simulations")
    p.add_argument("--min-acceptance", type=float, metavar="A", help="stop below acceptance A")
    p.add_argument("--minutes", type=float, metavar="T", help="stop after T minutes")
    p.add_argument(
        "--stable", type=float, metavar="F", help="stop when epsilon falls by less than F (0.05)"
    )
    p.add_argument(
        "--level", choices=("root", "code"), help="kinds by CAMEO root (default) or code"
    )
    p.add_argument(
        "--measure", action="append", choices=("first", "count"), help="first and/or count"
    )
    p.add_argument(
        "--statistic",
        action="append",
        metavar="PATTERN",
        help="keep only statistics matching (e.g. 'count:CHN->JPN *'; repeatable)",
    )
    p.add_argument("--exclude", action="append", metavar="PATTERN", help="drop these statistics")
    p.add_argument(
        "--weight",
        action="append",
        default=[],
        metavar="PATTERN=W",
        help="multiply the weight of matching statistics by W (repeatable)",
    )
    p.add_argument(
        "--no-unobserved",
        action="store_true",
        help="leave out the kinds the scenario makes but the record never shows",
    )
    p.add_argument("--p", type=float, help="the p of the weighted p-norm distance (default: 1)")
    p.add_argument(
        "--scale",
        choices=("rmsd", "sd", "mad", "cmad", "none"),
        help="each statistic's adaptive scale (default: rmsd); none: weights only",
    )
    p.add_argument(
        "--max-weight-ratio",
        type=float,
        metavar="R",
        help="bound each statistic's scale weight to R times the smallest (default: unbounded)",
    )
    p.add_argument("--quantile", type=float, help="epsilon: this quantile of the last distances")
    p.add_argument("--check", type=int, metavar="N", help="runs per arm of the predictive check")
    p.add_argument(
        "--until", type=_date, metavar="DATE", help="last day scored (default: record's)"
    )
    p.add_argument(
        "--ignore-actor",
        action="append",
        metavar="ID",
        help="drop the record's rows naming this actor (one the scenario lacks; repeatable)",
    )
    p.add_argument(
        "--full-horizon",
        action="store_true",
        help="simulate the whole horizon, not only as far as can change the window's moves",
    )
    _add_executor_options(p)
    _add_destination(p)
    p.add_argument("--resume", metavar="DIR", help="continue an interrupted calibration")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the tables")
    p.add_argument("--quiet", action="store_true", help="no progress, no results path")
    p.set_defaults(func=cmd_calibrate)


def _date(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {text!r}") from None


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Check a calibration (fast), run its generations, print the posterior and the check."""
    from sim.errors import UsageError
    from sim.experiments.calibration_spec import cli_fields

    fields = cli_fields(args)
    progress = sys.stderr.isatty() and not args.quiet
    where = {
        "workers": _workers(args.workers),
        "executor": args.executor,
        "scheduler": args.scheduler,
        "progress": progress,
        "command": args.command_line,
    }
    from sim.experiments.calibrate import calibrate

    if args.resume:
        extra = {k: v for k, v in fields.items() if v is not None and k != "stop"}
        if args.target or extra:
            raise UsageError(
                "--resume DIR takes the calibration from its folder: give only stop rules "
                "(--generations, --min-epsilon, --max-simulations, ...) with it"
            )
        result = calibrate(resume=args.resume, stop=fields["stop"], **where)
    elif args.target is None:
        raise UsageError("give a scenario and a timeline, a calibration file, or --resume DIR")
    else:
        result = calibrate(
            args.target, out=args.out, name=args.name, force=args.force, **where, **fields
        )
    if args.json:
        from sim.experiments.store import json_text

        print(json_text(result.summary))
    else:
        print(result.table(), end="")
    if not args.quiet:
        print(f"\nresults: {result.path}", file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
