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

No worker outlives the process that started it, however that process ends: a pool's
workers watch a pipe that only their parent holds open, and exit as soon as it closes --
which the operating system does when the parent dies, even by SIGKILL (Dask's own worker
processes do the same with their nanny).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from numbers import Integral
from typing import Any, Protocol, TypeVar

from sim.errors import SimError, SimWarning, UsageError

T = TypeVar("T")

#: Start methods that are safe in notebooks and on every OS ('fork' is not: threads, macOS).
SAFE_START_METHODS = ("spawn", "forkserver")


class WorkerLost(SimError):
    """A worker process died (killed, out of memory, or a crash in native code)."""

    exit_code = 1


class ClusterLost(WorkerLost):
    """A Dask cluster could not be reached, had no workers, or went away during a run."""


#: The most worker processes per core: more only add memory (about 140 MB each) and
#: start-up time to work that keeps every core busy with one.
MAX_WORKERS_PER_CORE = 2


class Executor(Protocol):
    """Maps a chunk function over chunks of replication indices, yielding chunk results.

    Results may come back in any order; the collector restores index order.
    """

    def map(self, fn: Callable[[Sequence[int]], T], chunks: Iterable[Sequence[int]]) -> Iterator[T]:
        """Yield ``fn(chunk)`` for every chunk."""
        ...


@contextlib.contextmanager
def results_of(results: Iterable[T]) -> Iterator[Iterator[T]]:
    """Iterate an executor's ``map`` results, and close them at the end if they can be.

    Closing a generator stops its pool's outstanding work when the caller stops early (an
    interrupt, an error); a plain iterator (the builtin ``map``, a list's) has nothing to
    close -- ``contextlib.closing`` would raise AttributeError on it after the last result.
    """
    stream = iter(results)
    try:
        yield stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def default_workers() -> int:
    """Return the number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_workers(workers: int | None) -> None:
    """Refuse a ``--workers N`` (``workers=N``) that is no whole number of 0 or more.

    0 means every core, 1 this process.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, Integral)):
        raise UsageError(f"--workers must be a whole number (0: every core), got {workers!r}")
    if workers is not None and workers < 0:
        raise UsageError(f"--workers must be 0 (every core) or more, got {workers}")


def worker_count(workers: int | None, chunks: int | None = None) -> int:
    """Return how many local workers to start for ``--workers N`` (``workers=N``).

    None and 0 mean every core this process may use; more than :data:`MAX_WORKERS_PER_CORE`
    per core is capped, with a warning; no more are started than there are chunks to run.
    """
    check_workers(workers)
    cores = default_workers()
    n = workers or cores
    most = MAX_WORKERS_PER_CORE * cores
    if n > most:
        warnings.warn(
            f"--workers {n} is more than {MAX_WORKERS_PER_CORE} per core: using {most} "
            f"({cores} cores here)",
            SimWarning,
            stacklevel=2,
        )
        n = most
    return max(1, min(n, chunks)) if chunks is not None else n


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


def _start_worker(parent: Any) -> None:
    """Worker initializer: leave stop signals to the parent; exit when the parent is gone.

    Ctrl-C and a hang-up reach the whole process group: the parent stops the pool and
    saves. ``parent`` is the reading end of a pipe only the parent can write to: reading
    it ends (EOF) when the parent closes it or dies, whatever killed it, and the worker
    then exits at once rather than live on as an orphan holding the parent's terminal or
    pipe open.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def watch() -> None:
        try:
            parent.recv_bytes()
        except (EOFError, OSError):
            pass
        os._exit(0)  # Nobody is left to take this worker's results.

    threading.Thread(target=watch, name="sim-parent-watch", daemon=True).start()


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
        self.workers = worker_count(workers)
        self.start_method = start_method
        self.window = window or 2 * self.workers
        self._pool: Any = None
        self._lifeline: Any = None
        self._depth = 0

    def __enter__(self) -> ProcessExecutor:
        if self._depth == 0:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            if getattr(multiprocessing.current_process(), "_inheriting", False):
                # This process is a worker importing a script whose top level starts an
                # ensemble (no `if __name__ == "__main__":`). multiprocessing would print a
                # long RuntimeError from every worker; leave quietly instead, and let the
                # parent say once what to do (its WorkerLost names the script).
                os._exit(1)

            _check_main_importable()
            context = multiprocessing.get_context(self.start_method)
            watched, self._lifeline = context.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=context, initializer=_start_worker, initargs=(watched,)
            )
        self._depth += 1
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            pool, self._pool = self._pool, None
            try:
                if exc_type is not None:
                    # Ctrl-C or an error: nobody will collect the running chunks; stop them
                    # now rather than wait for them (completed chunks are already saved).
                    _terminate_workers(pool)
                pool.shutdown(wait=True, cancel_futures=True)
            finally:
                self._lifeline.close()  # Any worker still there exits now.

    def map(self, fn: Callable[[Sequence[int]], T], chunks: Iterable[Sequence[int]]) -> Iterator[T]:
        """Yield ``fn(chunk)`` for every chunk, as each finishes."""
        if self._pool is None:
            with self:
                yield from self.map(fn, chunks)
            return
        yield from _windowed(self._pool.submit, fn, chunks, self.window)


def _check_main_importable() -> None:
    """Refuse a pool whose workers could not start: its program was read from no file.

    Each worker starts by importing the program that started it ('spawn', 'forkserver').
    A program read from standard input (``python - < job.py``) names ``<stdin>`` as its
    file, which no worker finds: each would die at once, and the run would end in "a
    worker process died". ``python -c`` and notebooks name no file and work.
    """
    import __main__

    script = getattr(__main__, "__file__", None)
    if script is None or getattr(__main__, "__spec__", None) is not None:
        return
    if not os.path.exists(script):
        raise UsageError(
            f"worker processes cannot start: this program was read from {script}, which a "
            "worker cannot import as it starts; save it to a file (with the simulations "
            'under `if __name__ == "__main__":`) or run in this process (workers=1)'
        )


def _terminate_workers(pool: Any) -> None:
    """Terminate the worker processes of a ProcessPoolExecutor."""
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # Before 3.14 the pool exposes its processes only as a private mapping.
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.kill()  # A worker holds nothing worth saving.


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
        # level that starts an ensemble runs again in every worker, which then leaves. That
        # is the likely cause, so the advice comes first.
        return (
            f"worker processes could not start: if {script} runs simulations at its top "
            'level, put that code under `if __name__ == "__main__":` (each worker imports '
            f"the script when it starts); otherwise {message}"
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
        timeout: seconds to wait for the scheduler at ``scheduler``, and for a worker when
            the cluster has none (at the start, or after losing them all).

    The chunk function is scattered to the workers once; each task then carries only its
    replication indices. Workers must be able to import ``sim`` (and any policy modules).
    A cluster that cannot be reached, has no worker or goes away raises
    :class:`ClusterLost`; Dask's own log lines are kept below errors while the executor
    runs (its messages would repeat ours as tracebacks).
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
        self.workers = worker_count(workers)
        self.processes = processes
        self._window = window
        self._client: Any = None
        self._cluster: Any = None
        self._log_levels: dict[str, int] = {}
        self._depth = 0

    @property
    def where(self) -> str:
        """The cluster, as a message names it."""
        return f"the Dask scheduler at {self.scheduler}" if self.scheduler else "the Dask cluster"

    def __enter__(self) -> DaskExecutor:
        if self._depth == 0:
            try:
                self._start()
            except BaseException:
                self._close()
                raise
        self._depth += 1
        return self

    def _quiet_logs(self) -> None:
        """Keep Dask's log lines below errors (its warnings on a lost cluster are long).

        Some of its loggers (the client's) have levels of their own: each is quietened.
        """
        import logging

        names = [
            "distributed",
            *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
        ]
        self._log_levels = {}
        for name in names:
            logger = logging.getLogger(name)
            self._log_levels[name] = logger.level
            logger.setLevel(logging.CRITICAL)

    def _start(self) -> None:
        """Connect to the scheduler, or start a local cluster."""
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise dask_missing() from None
        self._quiet_logs()  # After the import: it sets the levels of Dask's loggers.
        if self.scheduler is None:
            import logging

            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=self.processes,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            )
            self._client = Client(self._cluster)
            return
        try:
            self._client = Client(self.scheduler, timeout=self.timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterLost(f"cannot reach {self.where}: {exc}") from None
        self._wait_for_workers("has no workers")  # Before a run makes its folder.

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._close()

    def _close(self) -> None:
        """Close the client and the local cluster, even if the cluster is gone already."""
        import logging

        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        for part in (client, cluster):
            if part is not None:
                with contextlib.suppress(Exception):  # Not long: the cluster may be gone.
                    part.close(timeout=min(self.timeout, 2.0))
        for name, level in self._log_levels.items():
            logging.getLogger(name).setLevel(level)
        self._log_levels = {}

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
        client = self._client
        self._wait_for_workers("has no workers")
        [remote_fn] = self._ask(client.scatter, [fn], broadcast=True, hash=False)
        todo = iter(chunks)
        pending: set[Any] = set()

        def submit(n: int) -> set[Any]:
            return {
                self._ask(client.submit, _apply, remote_fn, list(c), pure=False)
                for c in _take(todo, n)
            }

        try:
            pending = submit(self.window)
            while pending:
                done, pending = self._finished(pending)
                for future in done:
                    yield self._result(future)
                pending |= submit(self.window - len(pending))
        finally:
            with contextlib.suppress(Exception):
                client.cancel([*pending, remote_fn])

    def _ask(self, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the cluster; a cluster that went away (it answers in many ways) is lost."""
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            raise self._lost(exc) from exc

    def _finished(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        """Wait for one or more chunks; check the cluster still has workers every second."""
        from distributed import wait

        while True:
            try:
                return self._ask(wait, pending, timeout=1.0, return_when="FIRST_COMPLETED")
            except ClusterLost as lost:
                if not isinstance(lost.__cause__, TimeoutError):
                    raise
            self._wait_for_workers("lost all its workers during the run")

    def _result(self, future: Any) -> Any:
        """Return a finished chunk's result; a chunk's own error is raised as it was.

        A result can be lost even after its task finished: the worker that held it went
        away (Dask then cancels it, or recomputes it where it can).
        """
        from concurrent.futures import CancelledError

        from distributed import KilledWorker

        try:
            result = future.result()
        except KilledWorker as exc:
            raise WorkerLost(f"a Dask worker died running a chunk: {exc}") from exc
        except CancelledError as exc:
            raise self._lost(exc) from exc
        except Exception as exc:
            if future.status == "error":
                raise  # The chunk's own error, as any executor reports it.
            raise self._lost(exc) from exc
        future.release()
        return result

    def _wait_for_workers(self, problem: str) -> None:
        """Wait up to ``timeout`` for a worker; raise :class:`ClusterLost` if none comes."""
        try:
            if self._client.nthreads():
                return
            self._client.wait_for_workers(1, timeout=self.timeout)
        except TimeoutError:
            raise ClusterLost(f"{self.where} {problem} (waited {self.timeout:g} s)") from None
        except Exception as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: BaseException) -> ClusterLost:
        """Return the error for a cluster that went away (or lost its workers), in short."""
        with contextlib.suppress(Exception):  # Ask only a scheduler still connected.
            if self._client.status == "running" and not self._client.nthreads():
                return ClusterLost(f"{self.where} lost all its workers during the run")
        from concurrent.futures import CancelledError

        if isinstance(exc, CancelledError):  # Dask's words list the tasks: say what it means.
            reason = "its tasks were cancelled"
        else:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return ClusterLost(f"{self.where} went away during the run ({reason})")


def _apply(fn: Callable[[Sequence[int]], T], chunk: Sequence[int]) -> T:
    """Call ``fn(chunk)`` on a Dask worker."""
    return fn(chunk)


def make_executor(
    kind: str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    chunks: int | None = None,
) -> SerialExecutor | ProcessExecutor | DaskExecutor:
    """Return the executor for ``--executor KIND --workers N --scheduler ADDR``.

    ``kind`` is 'processes' (the default: one worker runs in this process, more run in a
    pool) or 'dask'. ``workers`` is counted by :func:`worker_count` (0: every core), at most
    one per chunk when the number of ``chunks`` is known.
    """
    kind = kind or "processes"
    if kind not in ("processes", "dask"):
        raise UsageError(f"unknown executor {kind!r}: choose 'processes' or 'dask'")
    if kind == "dask" and scheduler is not None:
        worker_count(workers)  # Checked, though a running cluster has its own workers.
        return DaskExecutor(scheduler)
    if scheduler is not None:
        raise UsageError("--scheduler needs --executor dask")
    n = worker_count(workers, chunks)
    if kind == "dask":
        return DaskExecutor(None, n)
    return SerialExecutor() if n == 1 else ProcessExecutor(n)
