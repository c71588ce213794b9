"""The ``sim`` commands: each reads its arguments, calls the Python API and prints.

The tables are :mod:`sim.present`'s; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sim.errors import SimError


def cmd_run(args: argparse.Namespace) -> int:
    """Run an ensemble, write its folder, print the tables (or the summary as JSON)."""
    from sim.cli.explore import run_explore, wants_explore
    from sim.experiments.ensemble import run
    from sim.present.summary import render_summary
    from sim.results.store import json_text

    if wants_explore(args):  # --rare or --from
        return run_explore(args)
    results = _run_or_resume(args, run)
    if args.json:
        print(json_text(results.summary))
        if not args.quiet:
            print(f"results: {results.path}", file=sys.stderr)
    else:
        print(render_summary(results.summary, scores_shown=bool(args.score)), end="")
        _print_posterior(results.summary)
        if args.score:
            from sim.present.scores import render

            scores = results.summary["scores"][args.score]
            print("\n" + render(scores, results.spec.actor_names), end="")
        if not args.quiet:
            print(f"\nresults: {results.path}")
    if args.plot:
        _write_figures(results.path, "png", args.quiet)
    return 0


def _run_or_resume(args: argparse.Namespace, run: Any) -> Any:
    """Run the ensemble ``sim run`` asks for, or resume one; report precision and failures."""
    from sim.errors import UsageError
    from sim.present.summary import failures_text, precision_text

    progress = sys.stderr.isatty() and not args.quiet
    if args.resume:
        results = _resume(args, progress)
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


def _resume(args: argparse.Namespace, progress: bool) -> Any:
    """Finish the folder of ``sim run --resume DIR``, refusing what the folder decides."""
    from sim.experiments.ensemble import resume

    given = [args.scenario, args.runs, args.seed, args.overrides, args.precision,
             args.max_runs, args.posterior]  # fmt: skip
    _refuse_beside_resume(
        args, given, "its scenario, --runs, --seed, --set, --precision and --posterior"
    )
    return resume(args.resume, progress, workers=args.workers, executor=args.executor,
                  scheduler=args.scheduler, command=args.command_line)  # fmt: skip


def _print_posterior(summary: dict[str, Any]) -> None:
    """Print what a run drew from a posterior, if it did."""
    if summary.get("posterior"):
        from sim.present.summary import posterior_text

        print("\n" + posterior_text(summary["posterior"]), end="")


def _workers(workers: int | None) -> int:
    """Return ``--workers`` for the Python API: not given means every core (0, as in Python)."""
    return 0 if workers is None else workers


def cmd_compare(args: argparse.Namespace) -> int:
    """Run two arms on common random numbers and print their paired differences."""
    from sim.experiments.compare import compare
    from sim.results.store import json_text

    progress = sys.stderr.isatty() and not args.quiet
    where = {"workers": _workers(args.workers), "executor": args.executor,
             "scheduler": args.scheduler, "command": args.command_line}  # fmt: skip
    if args.resume is not None:
        given = [args.base, args.variant, args.runs, args.seed, args.overrides, args.posterior]
        _refuse_beside_resume(args, given, "both scenarios, --runs, --seed, --set and --posterior")
        result = compare(resume=args.resume, progress=progress, **where)
    else:
        result = compare(
            args.base,
            args.variant,
            runs=args.runs,
            seed=args.seed,
            out=args.out,
            progress=progress,
            overrides=args.overrides,
            name=args.name,
            force=args.force,
            posterior=args.posterior,
            **where,
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


def _refuse_beside_resume(args: argparse.Namespace, given: list[Any], taken: str) -> None:
    """Refuse options a ``--resume DIR`` takes from its folder (``taken`` names them)."""
    from sim.errors import UsageError

    if any(v not in (None, []) for v in given):
        raise UsageError(f"--resume DIR takes {taken} from the folder: give none of them")
    if args.name is not None or args.force:
        raise UsageError("--resume DIR finishes that folder: give no --name or --force")


def _write_comparison_figures(folder: Any, quiet: bool) -> None:
    """Draw a comparison's figures, then each arm's ensemble figures in its own folder."""
    from pathlib import Path

    from sim.results.files import ARMS

    _write_figures(folder, "png", quiet)
    for arm in ARMS:
        if (Path(folder) / arm).is_dir():
            _write_figures(Path(folder) / arm, "png", quiet)


def cmd_trace(args: argparse.Namespace) -> int:
    """Replay replication ``--run`` of ``sim run --seed`` and print its chronicle."""
    from sim.analysis.summary import lever_names
    from sim.engine import simulate
    from sim.errors import UsageError
    from sim.present.trace import render_trace
    from sim.results.seeding import replication_seed, seed_key
    from sim.scenario import compile_scenario, load

    if args.run < 0 or args.seed < 0:
        raise UsageError("--seed and --run must be non-negative integers")
    spec = compile_scenario(load(args.scenario, args.overrides))
    record = simulate(spec, replication_seed(args.seed, args.run))
    key = seed_key(args.seed, args.run)
    heading = (
        f"{spec.title} ({spec.name})\n"
        f"replication {args.run} of seed {args.seed} (seed key {key}, as in runs.parquet)"
    )
    print(render_trace(record, spec, lever_names(spec), heading), end="")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Print the named scenarios, one a line."""
    from sim.present.table import wrapped
    from sim.scenario.registry import list_scenarios

    entries = list(list_scenarios())
    if not entries:
        print("no named scenarios on the search path", file=sys.stderr)
    width = max((len(e.name) for e in entries), default=0)
    for entry in entries:
        line = f"{entry.name.ljust(width)}  {entry.title}{_invalid_note(entry.path)}"
        print(wrapped(line, hang=width + 2))
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
    from sim.present.table import wrapped
    from sim.scenario import compile_scenario, load

    scenario = load(args.scenario, args.overrides)
    compile_scenario(scenario)  # Compiling catches what only a whole scenario can get wrong.
    print(wrapped(describe(scenario)))
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


def cmd_backtest(args: argparse.Namespace) -> int:
    """Run an ensemble and print where the record falls in its predictive distribution."""
    from sim.experiments.backtest import backtest
    from sim.present.backtest import render_backtest
    from sim.results.store import json_text

    result = backtest(
        args.scenario,
        args.timeline,
        runs=args.runs,
        seed=args.seed,
        overrides=args.overrides,
        progress=sys.stderr.isatty() and not (args.json or args.quiet),
        until=args.until,
        full_horizon=args.full_horizon,
        posterior=args.posterior,
        workers=_workers(args.workers),
        executor=args.executor,
        scheduler=args.scheduler,
    )
    if args.json:
        print(json_text(result.to_json()))
    else:
        print(render_backtest(result), end="")
        _print_posterior({"posterior": result.changed.get("posterior")})
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the Scenario model."""
    import json

    from sim.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2))
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Write every figure of a results folder."""
    _write_figures(args.results, args.format, args.quiet, args.out)
    return 0


def _write_figures(folder: Any, fmt: str, quiet: bool, out: str | None = None) -> None:
    """Draw a results folder's figures; list them, and those not drawn and why, unless ``quiet``.

    A figure with nothing to show (no run reached a rung) is skipped, not an error.
    """
    from sim.plots.registry import write_figures

    skipped: list[tuple[str, str]] = []
    written = write_figures(folder, fmt, out, on_skip=lambda name, why: skipped.append((name, why)))
    if quiet:
        return
    for path in written:
        print(f"figure: {path}", file=sys.stderr)
    for name, why in skipped:
        print(f"figure skipped: {name} of {folder}: {why}", file=sys.stderr)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the HTML report of a results folder and print its path."""
    from sim.report import write_report

    print(write_report(args.results, args.out))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Check a sweep (fast), run its missing points, print its points and Sobol ranking."""
    from pathlib import Path

    from sim.experiments.sweep_spec import cli_fields, quick_path_check, resolve_spec
    from sim.present.table import wrapped

    resume = Path(args.resume) if args.resume else None
    spec, _ = resolve_spec(args.target, cli_fields(args), resume)
    quick_path_check(spec)  # A mistyped path fails here, before anything heavy loads.
    if not args.quiet:
        print(wrapped(f"sweep: {spec.describe()}"), file=sys.stderr)
    from sim.experiments.sweep import sweep

    results = sweep(
        spec,
        out=args.out,
        resume=resume,
        executor=args.executor,
        workers=_workers(args.workers),
        scheduler=args.scheduler,
        progress=sys.stderr.isatty() and not args.quiet,
        command=args.command_line,
        name=args.name,
        force=args.force,
        posterior=args.posterior,
    )
    if args.json:
        from sim.results.store import json_text

        print(json_text(results.to_json()))
    else:
        print(results.table(), end="")
    if not args.quiet:
        print(f"\nresults: {results.path}", file=sys.stderr if args.json else sys.stdout)
    if args.plot:
        _write_figures(results.path, "png", args.quiet)
    return 0


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
        from sim.results.store import json_text

        print(json_text(result.summary))
    else:
        print(result.table(), end="")
    if not args.quiet:
        print(f"\nresults: {result.path}", file=sys.stderr if args.json else sys.stdout)
    return 0
