"""What every entry point shares: where it writes, how it reports, where its work runs.

``sim.run``, ``sim.compare``, ``sim.sweep``, ``sim.calibrate`` and the backtest take the same
keyword arguments for these (``out``, ``name``, ``force``, ``progress``, ``executor``,
``workers``, ``scheduler``, ``chunk_size``, ``command``, ``callback``); each gathers them
into one :class:`RunOptions` at its door, and only that object travels further in. The one
executor chooser (:func:`choose_executor`) and the one stop rule
(:func:`sim.experiments.stops.stop_status`) serve them all.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sim.errors import UsageError
from sim.experiments.executors import Executor, SerialExecutor, check_workers, make_executor
from sim.results import store

#: Called as work completes: by an ensemble after each chunk with (replications done,
#: replications planned), by a calibration after each generation with its row. Each entry
#: point types its own at its door; the options carry either.
Callback = Callable[..., None]


@dataclass(frozen=True)
class RunOptions:
    """How and where an entry point runs.

    Attributes:
        out: a results root to write the folder under; None keeps everything in memory.
        name: write to ``out/<scenario>/<name>/`` instead of a fresh folder; a folder of
            that name is refused unless ``force``.
        force: replace an existing results folder ``name`` (deleted as the run starts;
            never one that holds anything but sim's results).
        progress: show a progress bar (runs/s, time left) on stderr.
        executor: 'processes' (default), 'dask', or an executor object (anything with
            ``map(fn, chunks)``, see :mod:`sim.experiments.executors`).
        workers: local worker processes; 0 means every core, at most two per core. Pools
            use the 'spawn' start method, safe in notebooks; a script that runs in
            parallel needs the ``if __name__ == "__main__":`` guard. Workers never outlive
            this process.
        scheduler: with ``executor='dask'``, the address of a running scheduler; without
            one a LocalCluster is started.
        chunk_size: replications per chunk (None: the entry point's default).
        command: the command line to record in the manifest (default: ``sys.argv``).
        callback: called after each chunk with (replications done, replications planned);
            a calibration's, after each generation with its row.
        finish_with: the command that finishes the run if it stops, as its message gives
            it (None: ``sim run --resume FOLDER``; a comparison's arm names the comparison's).
    """

    out: str | os.PathLike[str] | None = None
    name: str | None = None
    force: bool = False
    progress: bool = False
    executor: Executor | str | None = None
    workers: int | None = None
    scheduler: str | None = None
    chunk_size: int | None = None
    command: str | None = None
    callback: Callback | None = None
    finish_with: str | None = None

    def check_destination(self) -> None:
        """Check the folder's name and ``force`` before anything is loaded or created."""
        store.check_destination(self.out, self.name, self.force)


def choose_executor(
    options: RunOptions,
    runs: int | None = None,
    chunk_size: int = 1,
    *,
    caller: str = "run()",
) -> Executor:
    """Return the executor to use: the one given, or one made from the options' names.

    With neither an executor nor workers, the work runs in this process (the Python API's
    one rule; the ``sim`` commands ask for every core, ``workers=0``). ``workers=0``
    means every core, as ``--workers 0`` does. A job of ``runs`` that fits in one chunk
    runs in this process too (a pool would only add its start-up time), and no more
    workers start than there are chunks.
    """
    executor, workers, scheduler = options.executor, options.workers, options.scheduler
    check_workers(workers)  # before a small job takes this process whatever was asked
    if executor is not None and not isinstance(executor, str):
        if workers is not None or scheduler is not None:
            raise UsageError(f"give workers and scheduler to the executor, not to {caller}")
        return executor
    if executor is None and workers is None:
        return SerialExecutor()
    if executor in (None, "processes") and runs is not None and runs <= chunk_size:
        return SerialExecutor()
    chunks = None if runs is None else -(-runs // chunk_size)
    return make_executor(executor, workers, scheduler, chunks)


def entered(executor: Any) -> contextlib.AbstractContextManager[Any]:
    """Return the executor as a context manager (a plain ``map`` object needs none).

    An executor that owns workers starts them once for the whole block: every batch of an
    adaptive run, both arms of a comparison, every point of a sweep.
    """
    if hasattr(executor, "__enter__"):
        return executor
    return contextlib.nullcontext(executor)


def describe(executor: Any) -> str:
    """Return a short description of an executor for the manifest."""
    name = type(executor).__name__.removesuffix("Executor").lower() or "custom"
    workers = getattr(executor, "workers", None)
    return f"{name} ({workers} workers)" if workers else name


def override_texts(overrides: Iterable[str] | Mapping[str, Any] | None) -> list[str]:
    """Return ``--set`` style overrides as their outputs name them: ``["a.b=1", ...]``."""
    if not overrides:
        return []
    if isinstance(overrides, Mapping):
        return [f"{k}={v}" for k, v in overrides.items()]
    return [str(o) for o in overrides]
