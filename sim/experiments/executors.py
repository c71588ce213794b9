"""Executors: where chunks of replications run -- here, in local processes, or on Dask.

An executor maps a chunk function (a picklable callable, see
:class:`sim.experiments.ensemble.ChunkRunner`) over chunks of replication indices and yields
each chunk's result as it finishes, in any order; the ensemble puts them back in index
order, so results never depend on the executor or on the number of workers.

Every executor is a context manager that owns its workers for its lifetime, so an adaptive
run or a comparison reuses one pool across batches. Nothing is set at import time: the
process pool takes an explicit multiprocessing context ('spawn' by default, the one start
method that behaves the same on Linux, macOS and Windows and inside Jupyter), and Dask is
imported only when a Dask executor starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from sim.errors import SimError, UsageError

T = TypeVar("T")

#: Start methods that are safe in notebooks and on every OS ('fork' is not: threads, macOS).
SAFE_START_METHODS = ("spawn", "forkserver")


class WorkerLost(SimError):
    """A worker process died (killed, out of memory, or a crash in native code)."""

    exit_code = 1


class Executor(Protocol):
    """Maps a chunk function over chunks of replication indices, yielding chunk results.

    Results may come back in any order; the collector restores index order.
    """

    def map(self, fn: Callable[[Sequence[int]], T], chunks: Iterable[Sequence[int]]) -> Iterator[T]:
        """Yield ``fn(chunk)`` for every chunk."""
        ...


def default_workers() -> int:
    """Return the number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


class SerialExecutor:
    """Runs chunks one after another in this process."""

    workers = 1

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[[Sequence[int]], T], chunks: Iterable[Sequence[int]]) -> Iterator[T]:
        """Yield ``fn(chunk)`` for every chunk, in order."""
        for chunk in chunks:
            yield fn(chunk)


def _ignore_sigint() -> None:
    """Worker initializer: leave Ctrl-C to the parent, which stops the pool and saves."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor:
    """Runs chunks in a pool of local worker processes.

    Args:
        workers: the number of processes (default: every core this process may use).
        start_method: 'spawn' (default) or 'forkserver'; chosen here, per pool, never set
            globally. Workers import the modules of the scenario's policies by name, so a
            policy registered in an importable module works; one defined in a notebook
            cell does not (use ``workers=1`` for it).
        window: chunks in flight at once (default: two per worker), which bounds the
            results waiting to be collected.
    """

    def __init__(
        self, workers: int | None = None, start_method: str = "spawn", window: int | None = None
    ) -> None:
        if start_method not in SAFE_START_METHODS:
            raise UsageError(
                f"start method must be one of {', '.join(SAFE_START_METHODS)}, not {start_method!r}"
            )
        self.workers = workers or default_workers()
        if self.workers < 1:
            raise UsageError(f"the number of workers must be at least 1, got {self.workers}")
        self.start_method = start_method
        self.window = window or 2 * self.workers
        self._pool: Any = None
        self._depth = 0

    def __enter__(self) -> ProcessExecutor:
        if self._depth == 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context(self.start_method)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_ignore_sigint
            )
        self._depth += 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            pool, self._pool = self._pool, None
            if exc_type is not None:
                # Ctrl-C or an error: nobody will collect the running chunks; stop them now
                # rather than wait for them (completed chunks are already saved).
                _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)

    def map(self, fn: Callable[[Sequence[int]], T], chunks: Iterable[Sequence[int]]) -> Iterator[T]:
        """Yield ``fn(chunk)`` for every chunk, as each finishes."""
        if self._pool is None:
            with self:
                yield from self.map(fn, chunks)
            return
        yield from _windowed(self._pool.submit, fn, chunks, self.window)


def _terminate_workers(pool: Any) -> None:
    """Terminate the worker processes of a ProcessPoolExecutor."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # Before 3.14 the pool exposes its processes only as a private mapping.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


def _windowed(
    submit: Callable[..., Any],
    fn: Callable[[Sequence[int]], T],
    chunks: Iterable[Sequence[int]],
    window: int,
) -> Iterator[T]:
    """Keep ``window`` chunks in flight on a concurrent.futures pool; yield results as they come."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    todo = iter(chunks)
    pending = {submit(fn, c) for c in _take(todo, window)}
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            pending |= {submit(fn, c) for c in _take(todo, window - len(pending))}
    except BrokenProcessPool as exc:
        raise WorkerLost(_lost_message()) from exc
    finally:
        for future in pending:
            future.cancel()


def _lost_message() -> str:
    """Say why workers may have died, naming the unguarded script when that is the likely cause."""
    import __main__

    message = "a worker process died (killed, out of memory, or a crash in native code)"
    script = getattr(__main__, "__file__", None)
    # A .py file run as ``python script.py`` (not ``-m``, not a console script like ``sim``).
    if str(script).endswith(".py") and getattr(__main__, "__spec__", None) is None:
        # Workers start by importing the script that started them ('spawn'): code at its top
        # level that starts an ensemble runs again in every worker, which then fails.
        message += (
            f"; if {script} is your script, put the code that runs simulations under "
            '`if __name__ == "__main__":` (each worker imports the script when it starts)'
        )
    return message


def _take(items: Iterator[T], n: int) -> list[T]:
    """Return up to ``n`` next items."""
    out = []
    for item in items:
        out.append(item)
        if len(out) >= n:
            break
    return out


def dask_missing() -> UsageError:
    """Return the error for a Dask executor without Dask installed."""
    return UsageError(
        "--executor dask needs the optional Dask dependencies: pip install -e '.[dask]' "
        "(or pip install 'dask[distributed]')"
    )


class DaskExecutor:
    """Runs chunks on a Dask cluster: the one at ``scheduler``, or a new ``LocalCluster``.

    Args:
        scheduler: the address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``. None
            starts a ``distributed.LocalCluster`` for the lifetime of the executor.
        workers: the number of local workers (default: every core); ignored with a scheduler.
        processes: local workers as processes (default) or as threads in this process.
        window: chunks in flight at once (default: two per worker).
        timeout: seconds to wait for the scheduler at ``scheduler``.

    The chunk function is scattered to the workers once; each task then carries only its
    replication indices. Workers must be able to import ``sim`` (and any policy modules).
    """

    def __init__(
        self,
        scheduler: str | None = None,
        workers: int | None = None,
        processes: bool = True,
        window: int | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.scheduler = scheduler
        self.timeout = timeout
        self.workers = workers or default_workers()
        self.processes = processes
        self._window = window
        self._client: Any = None
        self._cluster: Any = None
        self._depth = 0

    def __enter__(self) -> DaskExecutor:
        if self._depth == 0:
            self._start()
        self._depth += 1
        return self

    def _start(self) -> None:
        """Connect to the scheduler, or start a local cluster."""
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise dask_missing() from None
        if self.scheduler is None:
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=self.processes,
                dashboard_address=None,
            )
            self._client = Client(self._cluster)
            return
        try:
            self._client = Client(self.scheduler, timeout=self.timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            where = self.scheduler
            raise UsageError(f"cannot reach the Dask scheduler at {where}: {exc}") from None

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            client, cluster = self._client, self._cluster
            self._client = self._cluster = None
            client.close()
            if cluster is not None:
                cluster.close()

    @property
    def window(self) -> int:
        """Chunks in flight at once."""
        if self._window:
            return self._window
        if self._client is not None and self.scheduler is not None:
            return 2 * max(1, len(self._client.scheduler_info().get("workers", {})))
        return 2 * self.workers

    def map(self, fn: Callable[[Sequence[int]], T], chunks: Iterable[Sequence[int]]) -> Iterator[T]:
        """Yield ``fn(chunk)`` for every chunk, as each finishes."""
        if self._client is None:
            with self:
                yield from self.map(fn, chunks)
            return
        from distributed import KilledWorker, as_completed

        client = self._client
        [remote_fn] = client.scatter([fn], broadcast=True, hash=False)
        todo = iter(chunks)
        pending: set[Any] = set()

        def submit(chunk: Sequence[int]) -> Any:
            future = client.submit(_apply, remote_fn, list(chunk), pure=False)
            pending.add(future)
            return future

        running = as_completed([submit(c) for c in _take(todo, self.window)])
        try:
            for future in running:
                pending.discard(future)
                result = future.result()
                future.release()
                yield result
                for chunk in _take(todo, 1):
                    running.add(submit(chunk))
        except KilledWorker as exc:
            raise WorkerLost(f"a Dask worker died running a chunk: {exc}") from exc
        finally:
            client.cancel([*pending, remote_fn])


def _apply(fn: Callable[[Sequence[int]], T], chunk: Sequence[int]) -> T:
    """Call ``fn(chunk)`` on a Dask worker."""
    return fn(chunk)


def make_executor(
    kind: str | None = None, workers: int | None = None, scheduler: str | None = None
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """Return the executor for ``--executor KIND --workers N --scheduler ADDR``.

    ``kind`` is 'processes' (the default: one worker runs in this process, more run in a
    pool) or 'dask'.
    """
    kind = kind or "processes"
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if kind == "dask":
        return DaskExecutor(scheduler, workers)
    if kind != "processes":
        raise UsageError(f"unknown executor {kind!r}: choose 'processes' or 'dask'")
    if scheduler is not None:
        raise UsageError("--scheduler needs --executor dask")
    n = workers or default_workers()
    return SerialExecutor() if n == 1 else ProcessExecutor(n)
