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
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from sim.cli.parser import build_parser
from sim.errors import SimError

__all__ = ["build_parser", "main"]

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


def _show_warning(
    message: Any,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """Print a warning of sim as one line, ``sim: warning: ...``; others as Python does.

    (``warnings.showwarning``'s signature: its ``file`` is not ``formatwarning``'s, which
    once made every warning of a library -- matplotlib's empty legend -- a TypeError.)
    """
    import warnings

    from sim.errors import SimWarning

    if issubclass(category, SimWarning):
        print(f"sim: warning: {message}", file=sys.stderr)
    else:
        text = warnings.formatwarning(message, category, filename, lineno, line)
        (file or sys.stderr).write(text)


def _notes(exc: BaseException) -> str:
    """The notes an error carries (what was saved, how to finish it), each after a '; '."""
    return "".join(f"; {note}" for note in getattr(exc, "__notes__", ()))


def _report(message: str, debug: bool) -> None:
    """Print one error line on stderr; with ``--debug``, the traceback before it."""
    if debug:
        import traceback

        traceback.print_exc()
    print(message, file=sys.stderr)
