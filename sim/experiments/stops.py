"""What stops a run before its end, and the rules that every kind of stop follows.

A run can be stopped by the user (Ctrl-C), by the system (SIGTERM from a scheduler, a CI
runner or ``timeout``; SIGHUP when its terminal goes away), by the machine (a full or
unwritable disk, an I/O error, no memory left) or by its workers (a worker process that
died, a Dask cluster lost). Whatever stops it, what completed is kept (see the journal in
:mod:`sim.results.journal`) and the stop ends in one message that says what happened,
where the completed runs are and how to finish them. This module holds what the ensemble,
the sweep and the command line share about it:

- :func:`stopping_on_signals`: SIGTERM and SIGHUP raise :class:`Stopped`, a
  ``KeyboardInterrupt``, so they stop a run exactly as Ctrl-C does;
- :func:`interrupts_deferred`: those signals wait while a chunk is being saved;
- :func:`signals_outside_compiled_code`: they never land in the Python that numba's compiled
  code calls back (where they would be lost), and :func:`stop_if_signalled`, the checkpoint
  that raises again a stop whose KeyboardInterrupt something swallowed;
- :func:`stop_status`: the one rule for the status a stopped run's manifest records;
- :func:`machine_problem`: what an ``OSError`` or ``MemoryError`` of the machine means for
  the user, and :class:`MachineFault`, the error that tells it (exit code 1).
"""

from __future__ import annotations

import contextlib
import errno
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sim.errors import SimError
from sim.experiments.executors import WorkerLost

#: The signals that stop a run as Ctrl-C does (SIGHUP does not exist on Windows).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Stopped(KeyboardInterrupt):
    """A run stopped by a signal other than Ctrl-C (SIGTERM, SIGHUP); ``str()`` names it."""

    def __init__(self, signum: int) -> None:
        # The signal number is the only argument: simpy raises a copy made from the args.
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """The exit code shells report for a process ended by this signal (128 + signal)."""
        return 128 + self.signum


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Stopped` (in the main thread).

    A signal whose handler is not the default is left alone: ``nohup`` ignores SIGHUP on
    purpose, and a program may have its own handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in STOP_SIGNALS:
        if signum != signal.SIGINT and signal.getsignal(signum) == signal.SIG_DFL:
            previous[signum] = signal.signal(signum, _raise_stopped)
    try:
        with signals_outside_compiled_code():
            yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_stopped(signum: int, frame: Any) -> None:
    raise Stopped(signum)


@contextlib.contextmanager
def signals_outside_compiled_code() -> Iterator[None]:
    """Within the block, a stop signal waits until numba's compiled code has returned.

    Compiled kernels call back into Python as they run (numba's ``_numba_unpickle`` boxes
    each array a kernel returns). Python runs a signal's handler at the next line of Python,
    which may be that callback's; the KeyboardInterrupt it raises there is dropped with the
    callback's error, and the run goes on as if no key had been pressed (one interrupted
    sweep in ten lost its Ctrl-C so). Each stop signal's Python handler is wrapped here:
    landing in numba's code, it runs at the next line of the Python that called that code.
    In the main thread only, where Python runs handlers; a signal without a Python handler
    is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if callable(handler) and not getattr(handler, "outside_compiled_code", False):
            previous[signum] = signal.signal(signum, _outside_compiled_code(handler))
    if previous:
        _received.clear()  # the outermost block: a stop before it is not this run's
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if previous:
            _received.clear()


#: The stop signal that arrived in the outermost :func:`signals_outside_compiled_code`
#: block, with the handler that raised its exception; :func:`stop_if_signalled` raises it
#: again if the run is still going.
_received: list[tuple[int, Callable[[int, Any], Any]]] = []


def stop_if_signalled() -> None:
    """Raise again the stop of a signal whose exception was swallowed before reaching here.

    A checkpoint, called between chunks and between a sweep's points: the run is still
    going, so if a stop signal arrived, the KeyboardInterrupt its handler raised was caught
    on the way by code the run called (numba's callbacks drop what they raise, and a
    library or a user's callback may catch it). The run then stops here, at most a chunk
    later, as if the signal had just arrived. Only for handlers that raise a stop (Python's
    KeyboardInterrupt, :class:`Stopped`): a program's own handler is never called twice.
    In the main thread only, which received the signal.
    """
    if _received and threading.current_thread() is threading.main_thread():
        signum, handler = _received.pop()
        handler(signum, sys._getframe(1))


def _outside_compiled_code(handler: Callable[[int, Any], Any]) -> Callable[[int, Any], Any]:
    """Return ``handler``, put off while the signal lands in a callback of numba's."""

    def deferring(signum: int, frame: Any) -> Any:
        if handler in (signal.default_int_handler, _raise_stopped):
            _received[:] = [(signum, handler)]
        caller = _caller_of_compiled_code(frame)
        if caller is None:
            return handler(signum, frame)
        _raise_at_next_line(caller, lambda: handler(signum, caller))
        return None

    deferring.outside_compiled_code = True  # type: ignore[attr-defined]
    return deferring


def _caller_of_compiled_code(frame: Any) -> Any:
    """Return the frame that called into numba's code (None: ``frame`` is not inside it).

    The signal may land in numba's callback itself or in what it calls (a reconstructor on
    a first unpickle, llvmlite's callbacks): the stack is searched for numba's frames.
    """
    inner = frame
    while inner is not None and not _in_numba(inner):
        inner = inner.f_back
    while inner is not None and _in_numba(inner):
        inner = inner.f_back
    return inner


def _raise_at_next_line(frame: Any, deliver: Callable[[], Any]) -> None:
    """Call ``deliver`` (which raises) at ``frame``'s next line, once the callee returned.

    Through Python's trace hook: ``frame``'s own trace function runs at its next line or
    return, and the hook goes at once. Not raised again from a timer: the next Python to
    run would most often be the next of numba's callbacks again. A debugger's or coverage's
    trace function is left alone, and the signal is handled there and then (it may be lost
    as before).
    """
    if sys.gettrace() is not None:
        deliver()
        return

    def at_next_event(at: Any, event: str, arg: Any) -> Any:
        sys.settrace(None)
        at.f_trace = None
        deliver()

    frame.f_trace = at_next_event
    frame.f_trace_lines = True
    sys.settrace(lambda at, event, arg: None)  # trace no frame but this one


def _in_numba(frame: Any) -> bool:
    """Whether a frame runs one of numba's or llvmlite's modules (compiled code's Python)."""
    module = str(frame.f_globals.get("__name__", ""))
    return module.split(".")[0] in ("numba", "llvmlite")


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold a stop signal (SIGINT, SIGTERM, SIGHUP) arriving inside the block until it ends.

    The signal then goes to the handler that was in place: Python's default raises
    KeyboardInterrupt, :func:`stopping_on_signals`' raises :class:`Stopped`, an ignoring
    handler ignores it, the default action of SIGTERM ends the process. Only the main
    thread receives signals; elsewhere the block runs unprotected, and so it does for a
    signal whose handler was not installed from Python (it could not be put back). If the
    block itself raises, that error propagates and held signals are dropped with it.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[tuple[int, Any]] = []
    previous = {}
    for signum in STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler is not None:
            previous[signum] = handler
            signal.signal(signum, lambda signum, frame: caught.append((signum, frame)))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    for signum, _ in caught[:1]:  # The first stop is the one that counts.
        _deliver(signum, previous[signum], sys._getframe())  # where it is delivered, now


def _deliver(signum: int, handler: Any, frame: Any) -> None:
    """Hand a held signal to ``handler`` as the operating system would have."""
    if handler == signal.SIG_IGN:
        return
    if handler == signal.SIG_DFL:
        signal.raise_signal(signum)  # The default action: the process ends.
        return
    handler(signum, frame)  # Python's default_int_handler raises KeyboardInterrupt.


# --- what the machine did -----------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """What a fault of the machine means: what happened, and what to do before resuming."""

    what: str
    remedy: str


_ERRNO_PROBLEMS = {
    errno.ENOSPC: Problem("no space left on the device", "free some space"),
    errno.EDQUOT: Problem("the disk quota is used up", "free some space"),
    errno.EACCES: Problem("permission denied", "make the folder writable"),
    errno.EPERM: Problem("operation not permitted", "make the folder writable"),
    errno.EROFS: Problem("the file system is read-only", "make the folder writable"),
    errno.EIO: Problem("an input/output error (a failing disk or a lost network drive)",
                       "check the disk"),
    errno.ENOMEM: Problem("out of memory", "free some memory"),
}  # fmt: skip


def machine_problem(exc: BaseException) -> Problem | None:
    """Return what a fault of the machine means for the user, None for anything else."""
    if isinstance(exc, MemoryError):
        return _ERRNO_PROBLEMS[errno.ENOMEM]
    if isinstance(exc, OSError):
        return _ERRNO_PROBLEMS.get(exc.errno or -1)
    return None


def where(exc: BaseException) -> str:
    """Return the file an OSError names, as ``' (FILE)'``, or nothing."""
    name = getattr(exc, "filename", None)
    return f" ({name})" if name else ""


class MachineFault(SimError):
    """The machine stopped a run: a full or unwritable disk, an I/O error, no memory."""

    exit_code = 1


def stop_status(exc: BaseException) -> tuple[str, str | None]:
    """Return the status and error a run stopped by ``exc`` records in its manifest.

    ``"interrupted"`` when the stop came from outside the run (Ctrl-C, a signal, a lost
    worker or cluster, the machine), ``"failed"`` for an error of the run itself. Either
    can be resumed.
    """
    if isinstance(exc, Stopped):
        return "interrupted", f"stopped by {signal.Signals(exc.signum).name}"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", None
    error = f"{type(exc).__name__}: {exc}"
    outside = isinstance(exc, WorkerLost | MachineFault) or machine_problem(exc) is not None
    return ("interrupted" if outside else "failed"), error
