"""The ``sim`` command's arguments: one parser, a subparser per command.

Only :mod:`argparse` and what names the choices are imported, so ``sim --help`` answers
at once; each command's function (:mod:`sim.cli.commands`) imports what it needs.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from sim.cli import commands, explore
from sim.experiments.designs import DESIGNS


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
    explore.add_discover(sub)
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
    explore.add_explore_options(p)
    p.set_defaults(func=commands.cmd_run)


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
        "differences (variant minus base) with 95% intervals and the variance reduction "
        "against independent seeds. VARIANT defaults to BASE; --set overrides apply to the "
        "variant only, so 'sim compare NAME --set PATH=VALUE' asks what that change does.",
    )
    p.add_argument("base", metavar="BASE", nargs="?", help="a named scenario or a YAML file")
    p.add_argument(
        "variant", metavar="VARIANT", nargs="?", help="another scenario (default: BASE again)"
    )
    p.add_argument("--runs", type=int, help="replications per arm (default: 1000)")
    p.add_argument("--seed", type=int, help="root seed of both arms (default: 0)")
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
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="finish an interrupted comparison in its folder (takes no scenario)",
    )
    p.set_defaults(func=commands.cmd_compare)


def _add_trace(sub: Any) -> None:
    p = sub.add_parser("trace", help="replay one replication as a dated chronicle")
    p.add_argument("scenario", metavar="NAME|PATH", help="a named scenario or a YAML file")
    p.add_argument(
        "--seed", type=int, default=0, help="root seed, as given to 'sim run' (default: 0)"
    )
    p.add_argument("--run", type=int, default=0, metavar="I", help="replication index (default: 0)")
    _add_overrides(p)
    p.set_defaults(func=commands.cmd_trace)


def _add_list(sub: Any) -> None:
    p = sub.add_parser("list", help="list the named scenarios")
    p.set_defaults(func=commands.cmd_list)


def _add_validate(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a scenario and say what is in it")
    p.add_argument("scenario", metavar="PATH", help="a YAML file (or a named scenario)")
    _add_overrides(p)
    p.set_defaults(func=commands.cmd_validate)


def _add_schema(sub: Any) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    p.set_defaults(func=commands.cmd_schema)


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
    _add_posterior(p)
    _add_executor_options(p)
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=commands.cmd_backtest)


def _add_plot(sub: Any) -> None:
    p = sub.add_parser("plot", help="draw the figures of a results folder into its figures/")
    p.add_argument("results", metavar="RESULTS_DIR", help="a results folder, e.g. results/NAME/ID")
    p.add_argument(
        "--format", default="png", choices=("png", "svg", "pdf"), help="file format (default: png)"
    )
    p.add_argument("--out", metavar="DIR", help="write here instead of RESULTS_DIR/figures")
    p.add_argument("--quiet", action="store_true", help="do not list the files written")
    p.set_defaults(func=commands.cmd_plot)


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a results folder")
    p.add_argument("results", metavar="RESULTS_DIR", help="a results folder, e.g. results/NAME/ID")
    p.add_argument("--out", metavar="FILE", help="write here instead of RESULTS_DIR/report.html")
    p.set_defaults(func=commands.cmd_report)


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
    _add_design_options(p)
    _add_destination(p)
    p.add_argument("--resume", metavar="DIR", help="finish an interrupted sweep in DIR")
    _add_executor_options(p)
    p.add_argument("--json", action="store_true", help="print the tables as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no results path")
    p.add_argument(
        "--plot",
        action="store_true",
        help="also write the figures: outcomes against each parameter, a heat map (two-"
        "parameter grids), Sobol indices (Sobol designs) (see 'sim plot')",
    )
    p.set_defaults(func=commands.cmd_sweep)


def _add_design_options(p: argparse.ArgumentParser) -> None:
    """Add a sweep's design, its size, its seeds and its outcomes of interest."""
    p.add_argument("--design", choices=tuple(DESIGNS), help="default: grid")
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
    _add_stop_rules(p)
    _add_statistic_options(p)
    _add_distance_options(p)
    _add_check_and_window(p)
    _add_executor_options(p)
    _add_destination(p)
    p.add_argument("--resume", metavar="DIR", help="continue an interrupted calibration")
    p.add_argument("--json", action="store_true", help="print summary.json instead of the tables")
    p.add_argument("--quiet", action="store_true", help="no progress, no results path")
    p.set_defaults(func=commands.cmd_calibrate)


def _add_stop_rules(p: argparse.ArgumentParser) -> None:
    """Add a calibration's stopping rules beyond ``--generations``."""
    p.add_argument("--min-epsilon", type=float, metavar="E", help="stop once epsilon <= E")
    p.add_argument("--max-simulations", type=int, metavar="M", help="stop after M simulations")
    p.add_argument("--min-acceptance", type=float, metavar="A", help="stop below acceptance A")
    p.add_argument("--minutes", type=float, metavar="T", help="stop after T minutes")
    p.add_argument(
        "--stable", type=float, metavar="F", help="stop when epsilon falls by less than F (0.05)"
    )


def _add_statistic_options(p: argparse.ArgumentParser) -> None:
    """Add which summary statistics a calibration uses and how it weighs them."""
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


def _add_distance_options(p: argparse.ArgumentParser) -> None:
    """Add the distance's norm and scale, and the quantile that sets each epsilon."""
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


def _add_check_and_window(p: argparse.ArgumentParser) -> None:
    """Add the predictive check's size and what part of the record and horizon count."""
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


def _date(text: str) -> Any:
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, not {text!r}") from None
