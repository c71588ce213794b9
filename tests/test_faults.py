"""Faults of the machine lose no work and end in an honest message (issue 17).

Each fault is made for real where the test can (signals to a ``sim run`` process, SIGKILL, a
small tmpfs, a real Dask ``LocalCluster`` whose scheduler is stopped), and otherwise
injected at the store's boundary with the file system (:func:`store.open_output` and
:func:`store.replace_file`). Every test then checks the one message the user sees (what
happened, which folder holds how many runs, the command that resumes it; no traceback),
checks that count against the folder, and ends with a resume whose files are identical to
an uninterrupted run of the same seed.

The runs are of the two-actor fixture with logit policies (hundreds a second). Where a run
must last long enough to be killed part-way, its actors use ``test-slow-logit``
(``tests/slow_policy.py``): the same choices, 2 ms slower per decision in the ``sim``
subprocess and its workers only, so the references and the resumes here run at full speed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import slow_policy

from sim.cli import main
from sim.errors import SimError, SimWarning, UsageError
from sim.experiments.ensemble import MAX_RUNS, resume, run
from sim.experiments.executors import ClusterLost, DaskExecutor, default_workers
from sim.experiments.options import RunOptions, choose_executor
from sim.experiments.runner import Ensemble
from sim.experiments.stops import MachineFault
from sim.results import disk, files, store
from sim.scenario import load
from sim.scenario.loader import MAX_BYTES, ScenarioError, read_yaml

TESTS = Path(__file__).resolve().parent
DUEL = TESTS / "scenarios" / "duel.yaml"
LOGIT = ["actors.A.policy.name=logit", "actors.B.policy.name=logit"]
SLOW = [f"actors.A.policy.name={slow_policy.NAME}", f"actors.B.policy.name={slow_policy.NAME}"]
FILES = ("summary.json", "runs.parquet", "moves.parquet", "trajectories.npy")
RUNS, SEED = 200, 17


def same_files(a: Path, b: Path) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def only_folder(root: Path) -> Path:
    (folder,) = (root / "duel").iterdir()
    return folder


def one_error_line(err: str) -> str:
    """The stderr of a fault: no traceback, one ``sim:`` error line (warnings aside)."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if not line.startswith("sim: warning:")]
    assert len(lines) == 1, err
    return lines[0]


def saved_in(message: str, folder: Path, planned: int) -> int:
    """The runs the message says are saved; it must be what the folder holds."""
    held = store.saved(folder).runs
    assert f"{held} of {planned} runs saved in {folder}" in message, message
    assert f"sim run --resume {folder}" in message, message
    return held


@pytest.fixture(scope="module")
def duel() -> Any:
    return load(str(DUEL), LOGIT)


@pytest.fixture(scope="module")
def slow() -> Any:
    return load(str(DUEL), SLOW)


@pytest.fixture(scope="module")
def reference(duel: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RUNS replications of seed SEED, uninterrupted, in this process."""
    return run(duel, runs=RUNS, seed=SEED, out=tmp_path_factory.mktemp("reference")).path


@pytest.fixture(scope="module")
def slow_reference(slow: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same with the slow policy (at full speed here: this is not a worker)."""
    return run(slow, runs=RUNS, seed=SEED, out=tmp_path_factory.mktemp("slow")).path


# --- signals and killed parents -----------------------------------------------------------------


def sim_command(*args: str) -> subprocess.Popen[str]:
    """``sim ARGS`` with the slow policy registered, in its own session, pipes attached."""
    sim = "import sys, slow_policy; from sim.cli import main; sys.exit(main(sys.argv[1:]))"
    path = os.pathsep.join([str(TESTS), *sys.path])
    env = {**os.environ, "PYTHONPATH": path, slow_policy.SLOW: "1"}
    return subprocess.Popen(
        [sys.executable, "-c", sim, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def sim_process(out: Path, workers: int = 2) -> subprocess.Popen[str]:
    """``sim run`` of the slow duel."""
    sets = [a for s in SLOW for a in ("--set", s)]
    return sim_command(
        *("run", str(DUEL), *sets, "--seed", str(SEED), "--runs", str(RUNS)),
        *("--workers", str(workers), "--out", str(out), "--quiet"),
    )


def descendants(pid: int) -> set[int]:
    """The processes below ``pid``, from ``ps``."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True)
    children: dict[int, list[int]] = {}
    for line in table.stdout.split("\n"):
        if line.strip():
            child, parent = map(int, line.split())
            children.setdefault(parent, []).append(child)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` that ``ps`` still lists as running (an exited zombie is not)."""
    if not pids:
        return set()
    listed = subprocess.run(
        ["ps", "-o", "pid=,stat=", "-p", ",".join(map(str, pids))], capture_output=True, text=True
    )
    rows = (line.split() for line in listed.stdout.splitlines() if line.strip())
    return {int(pid) for pid, stat, *_ in rows if not stat.startswith("Z")}


def all_gone(pids: set[int], seconds: float = 10.0) -> bool:
    """Whether every one of ``pids`` has exited within ``seconds`` (cleaning up takes a moment)."""
    deadline = time.monotonic() + seconds
    while alive(pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_for_workers_and_a_chunk(
    proc: subprocess.Popen[str], out: Path, more_than: int = 0, workers: int = 2
) -> set[int]:
    """Wait until the workers run and the journal holds more than ``more_than`` runs.

    Return the process tree below ``proc``.
    """
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run did not start"
        journal = list(out.glob(f"**/{files.CHUNKS}"))
        tree = descendants(proc.pid)
        started = len(tree) >= workers + 1 if workers > 1 else True  # and a resource tracker
        if journal and store.saved(journal[0].parent).runs > more_than and started:
            return tree
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "workers"), [(signal.SIGTERM, 2), (signal.SIGHUP, 1)], ids=["SIGTERM", "SIGHUP"]
)
def test_a_stop_signal_saves_like_ctrl_c_and_no_worker_outlives_the_run(
    signum: int, workers: int, slow_reference: Path, tmp_path: Path
) -> None:
    proc = sim_process(tmp_path, workers)
    tree = wait_for_workers_and_a_chunk(proc, tmp_path, workers=workers)
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=30)  # EOF: nothing holds the pipes any more
    assert proc.returncode == 128 + signum, err
    name = signal.Signals(signum).name
    assert "Traceback" not in err and err.startswith(f"sim: interrupted ({name}); "), err
    assert all_gone(tree), "a worker outlived its run"
    folder = only_folder(tmp_path)
    held = saved_in(err, folder, RUNS)
    assert 0 < held < RUNS and store.saved(folder).tables  # the tables were written too
    manifest = store.read_manifest(folder)
    assert manifest["status"] == "interrupted" and manifest["error"] == f"stopped by {name}"
    done = resume(folder)
    assert store.read_manifest(folder)["resumed_from"] == held
    assert done.status == "complete"
    same_files(folder, slow_reference)


@pytest.mark.slow
def test_a_killed_parent_or_resume_leaves_no_worker_and_loses_no_saved_chunk(
    slow_reference: Path, tmp_path: Path
) -> None:
    """SIGKILL of ``sim run``, then SIGKILL of the ``sim run --resume`` that follows it."""
    proc = sim_process(tmp_path)
    tree = wait_for_workers_and_a_chunk(proc, tmp_path)
    folder = only_folder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # returns only once every process holding the pipes is gone
    assert all_gone(tree), "a worker outlived its killed parent"
    first = store.saved(folder)
    assert 0 < first.runs < RUNS and not first.tables
    assert store.read_manifest(folder)["status"] == "running"  # as the process left it

    proc = sim_command("run", "--resume", str(folder), "--workers", "2", "--quiet")
    tree = wait_for_workers_and_a_chunk(proc, tmp_path, more_than=first.runs)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert all_gone(tree), "a worker outlived its killed parent"
    held = store.saved(folder).runs
    assert first.runs < held < RUNS

    resume(folder)
    assert store.read_manifest(folder)["resumed_from"] == held  # not 0: nothing was lost
    same_files(folder, slow_reference)


# --- full and unwritable disks ----------------------------------------------------------------


class Disk:
    """The file system as the store sees it, with faults: a byte budget, a read-only switch.

    Installed over :func:`store.open_output`, :func:`store.replace_file` and
    :func:`store.free_space`: once ``free``
    bytes are written, writes fail with ENOSPC; once ``read_only`` is set, new files and
    renames fail with EACCES while files already open still take writes -- what making a
    folder read-only does to a running process.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, free: float = float("inf")) -> None:
        self.free = free
        self.read_only = False
        self._open, self._replace = disk.open_output, disk.replace_file
        monkeypatch.setattr(disk, "open_output", self.open_output)
        monkeypatch.setattr(disk, "replace_file", self.replace_file)
        monkeypatch.setattr(disk, "free_space", lambda path: min(self.free, 2**62))

    def open_output(self, path: Path, append: bool = False) -> Any:
        if self.read_only:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return _Budgeted(self._open(path, append), self, path)

    def replace_file(self, tmp: Path, path: Path) -> None:
        if self.read_only:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        self._replace(tmp, path)


class _Budgeted:
    def __init__(self, fh: Any, disk: Disk, path: Path) -> None:
        self._fh, self._disk, self._path = fh, disk, path

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if size > self._disk.free:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self._path))
        self._disk.free -= size
        return self._fh.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)

    def __enter__(self) -> _Budgeted:
        return self

    def __exit__(self, *exc: object) -> None:
        self._fh.close()


@contextlib.contextmanager
def tmpfs(size: str) -> Iterator[Path | None]:
    """A tmpfs of ``size`` mounted on a fresh folder, or None where mounting is not allowed.

    ``SIM_TEST_NO_MOUNT=1`` pretends it is not, to run the fallback where it is.
    """
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="sim-tmpfs-"))
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
    if os.environ.get("SIM_TEST_NO_MOUNT"):
        command = ["false"]
    mounted = subprocess.run(command, capture_output=True)
    try:
        yield where if mounted.returncode == 0 else None
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)
        with contextlib.suppress(OSError):
            where.rmdir()


def duel_cli(*args: str) -> list[str]:
    return ["run", str(DUEL), *(a for s in LOGIT for a in ("--set", s)), "--seed", str(SEED), *args]


def test_a_full_disk_keeps_every_saved_chunk_and_says_so(
    reference: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real 100 kB tmpfs where the test may mount one, else ENOSPC injected at the store."""
    with tmpfs("100k") as mount:
        args = duel_cli("--runs", str(RUNS), "--workers", "1", "--out")
        if mount is not None:
            root = mount / "r"
            done = subprocess.run(
                [sys.executable, "-m", "sim.cli", *args, str(root)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            code, err = done.returncode, done.stderr
        else:
            root = tmp_path / "r"
            disk = Disk(monkeypatch, free=70_000)
            code = main([*args, str(root)])
            err = capsys.readouterr().err
        assert code == 1, err
        message = one_error_line(err)
        assert message.startswith("sim: error: no space left on the device"), message
        assert "sim: warning:" in err and "needs about" in err  # said once the first chunk was in
        folder = only_folder(root)
        held = saved_in(message, folder, RUNS)
        assert 0 < held < RUNS and "free some space, then finish them with" in message
        assert not list(folder.glob(".*.part"))  # the half-written tables were dropped
        if mount is not None:
            subprocess.run(["mount", "-o", "remount,size=20m", "tmpfs", str(mount)], check=True)
        else:
            disk.free = float("inf")
        resume(folder)
        assert store.read_manifest(folder)["resumed_from"] == held
        same_files(folder, reference)


def test_a_disk_full_at_the_start_leaves_no_folder_and_debug_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    Disk(monkeypatch, free=0)
    args = duel_cli("--runs", "50", "--out", str(tmp_path))
    assert main(args) == 1
    message = one_error_line(capsys.readouterr().err)
    assert message.startswith("sim: error: no space left on the device"), message
    assert message.endswith("nothing was run and the folder was removed"), message
    assert not list((tmp_path / "duel").iterdir())
    assert main([*args, "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.splitlines()[-1].startswith("sim: error: no space left")


def at(k: int, action: Any) -> Any:
    """A progress callback that calls ``action`` once, when ``k`` runs are done."""
    fired: list[int] = []

    def callback(done: int, planned: int) -> None:
        if done >= k and not fired:
            fired.append(done)
            action()

    return callback


def ctrl_c() -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def made_read_only(disk: Disk, root: Path) -> Iterator[Any]:
    """Yield a function that makes the results read-only: chmod, or for root an injection.

    root ignores permissions, so a folder it cannot write is made at the store's boundary.
    """
    folders: list[Path] = []

    def now() -> None:
        if os.geteuid() == 0:
            disk.read_only = True
        else:
            folders.extend(root.glob("duel/*"))
            for folder in folders:
                folder.chmod(0o555)

    try:
        yield now
    finally:
        disk.read_only = False
        for folder in folders:
            folder.chmod(0o755)


def test_a_folder_made_read_only_mid_run_keeps_every_run(
    duel: Any, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch)
    with made_read_only(disk, tmp_path) as read_only, pytest.raises(MachineFault) as info:
        run(duel, runs=RUNS, seed=SEED, out=tmp_path, callback=at(100, read_only))
    folder = only_folder(tmp_path)
    message = str(info.value)
    assert message.startswith("permission denied"), message
    # Files already open took every run; the tables could not be put in place.
    assert saved_in(message, folder, RUNS) == RUNS
    assert f"(in its {files.CHUNKS} only)" in message
    assert "make the folder writable, then finish them with" in message
    resume(folder)
    same_files(folder, reference)


def test_ctrl_c_in_a_read_only_folder_says_one_true_thing(
    duel: Any, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch)

    def read_only_then_ctrl_c() -> None:
        read_only()
        ctrl_c()

    with made_read_only(disk, tmp_path) as read_only, pytest.raises(KeyboardInterrupt) as info:
        run(duel, runs=RUNS, seed=SEED, out=tmp_path, callback=at(50, read_only_then_ctrl_c))
    folder = only_folder(tmp_path)
    (note,) = info.value.__notes__
    assert saved_in(note, folder, RUNS) == 50
    assert "the tables could not be written: permission denied" in note
    assert "could not save" not in note
    resume(folder)
    same_files(folder, reference)


# --- a crash during a resume --------------------------------------------------------------------


def interrupted_at(scenario: Any, k: int, out: Path) -> Path:
    """A folder of ``scenario`` stopped by Ctrl-C once ``k`` runs were done."""
    with pytest.raises(KeyboardInterrupt):
        run(scenario, runs=RUNS, seed=SEED, out=out, callback=at(k, ctrl_c))
    return only_folder(out)


def test_a_second_ctrl_c_while_saving_loses_nothing(
    duel: Any, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = Ensemble.summary
    presses: list[int] = []

    def pressed_again(self: Ensemble, *args: Any) -> Any:
        if not presses:
            presses.append(1)
            raise KeyboardInterrupt  # the second Ctrl-C, while the tables are written
        return summary(self, *args)

    monkeypatch.setattr(Ensemble, "summary", pressed_again)
    with pytest.raises(KeyboardInterrupt) as info:
        run(duel, runs=RUNS, seed=SEED, out=tmp_path, callback=at(100, ctrl_c))
    folder = only_folder(tmp_path)
    (note,) = info.value.__notes__
    assert saved_in(note, folder, RUNS) == 100
    assert "interrupted again while the tables were written" in note
    assert not list(folder.glob(".*.part"))
    resume(folder)
    assert store.read_manifest(folder)["resumed_from"] == 100
    same_files(folder, reference)


def test_a_full_disk_during_a_resume_keeps_what_its_predecessor_saved(
    duel: Any, reference: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = interrupted_at(duel, 100, tmp_path)
    disk = Disk(monkeypatch, free=60_000)  # the tables of 100 runs fit again, and a little more
    with pytest.raises(MachineFault, match="no space left") as info, pytest.warns(SimWarning):
        resume(folder)
    held = saved_in(str(info.value), folder, RUNS)
    assert held >= 100
    disk.free = float("inf")
    resume(folder)
    assert store.read_manifest(folder)["resumed_from"] == held
    same_files(folder, reference)


# --- Dask ---------------------------------------------------------------------------------------


@pytest.fixture
def cluster() -> Iterator[Any]:
    """A real LocalCluster (one worker thread: quick to start), closed after the test."""
    distributed = pytest.importorskip("distributed")
    local = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    try:
        yield local
    finally:
        with contextlib.suppress(Exception):  # its scheduler may be gone already
            local.close(timeout=0.5)


@pytest.mark.parametrize("lost", ["scheduler", "workers"])
def test_a_lost_dask_cluster_keeps_the_saved_runs_and_says_so(
    lost: str, duel: Any, reference: Path, cluster: Any, tmp_path: Path
) -> None:
    def lose() -> None:
        if lost == "scheduler":
            cluster.sync(cluster.scheduler.close)
        else:
            cluster.scale(0)

    executor = DaskExecutor(cluster.scheduler_address, timeout=1)
    with pytest.raises(ClusterLost) as info:
        run(duel, runs=RUNS, seed=SEED, out=tmp_path, executor=executor, callback=at(50, lose))
    folder = only_folder(tmp_path)
    message = str(info.value)
    where = f"the Dask scheduler at {cluster.scheduler_address}"
    said = "went away during the run" if lost == "scheduler" else "lost all its workers"
    assert message.startswith(f"{where} {said}"), message
    assert "\n" not in message and info.value.exit_code == 1
    held = saved_in(message, folder, RUNS)
    assert 50 <= held < RUNS
    resume(folder)
    same_files(folder, reference)


def test_an_empty_or_unreachable_cluster_leaves_no_folder(duel: Any, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        executor = DaskExecutor(empty.scheduler_address, timeout=0.5)
        with pytest.raises(ClusterLost, match="has no workers"):
            run(duel, runs=RUNS, seed=SEED, out=tmp_path, executor=executor)
    executor = DaskExecutor("tcp://127.0.0.1:9", timeout=0.5)  # the discard port: nobody
    with pytest.raises(ClusterLost, match="cannot reach the Dask scheduler"):
        run(duel, runs=RUNS, seed=SEED, out=tmp_path, executor=executor)
    assert not (tmp_path / "duel").exists()


# --- limits that hold before work starts ------------------------------------------------------


@pytest.mark.slow
def test_a_huge_number_of_runs_is_refused_or_runs_in_constant_memory(tmp_path: Path) -> None:
    assert main(duel_cli("--runs", str(10**12), "--out", str(tmp_path))) == 2
    assert not (tmp_path / "duel").exists()

    # The most there may be, stopped after its first chunk, in 3 GB of address space: a
    # plan of a billion runs made as a list would need more than that. Its peak memory is
    # that of a plan of 50 runs stopped the same way (the compiled engine alone takes a few
    # hundred MB, so the bound is relative, not absolute).
    def stopped_after_first_chunk(runs: str) -> tuple[str, int, str]:
        script = (
            "import resource, sys; from sim.scenario import load; "
            "from sim.experiments.ensemble import MAX_RUNS, run\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
            "def stop(done, planned):\n    raise KeyboardInterrupt\n"
            f"duel = load({str(DUEL)!r}, {LOGIT!r})\n"
            f"try:\n    run(duel, runs={runs}, out={str(tmp_path / runs)!r}, callback=stop)\n"
            "except KeyboardInterrupt as exc:\n    print(exc.__notes__[0])\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        note, peak_kb = done.stdout.splitlines()
        return note, int(peak_kb), done.stderr

    small_note, small_peak_kb, _ = stopped_after_first_chunk("50")
    note, peak_kb, stderr = stopped_after_first_chunk("MAX_RUNS")
    assert "25 of 50 runs saved" in small_note
    assert f"25 of {MAX_RUNS} runs saved" in note
    assert peak_kb < small_peak_kb + 100_000
    assert "needs about" in stderr  # the disk would not hold a billion runs


def test_workers_are_capped_and_zero_means_every_core_in_python_too(
    recwarn: pytest.WarningsRecorder,
) -> None:
    """``sim.run`` and ``sim run`` choose their executor here: 0 was an error in Python."""
    most = 2 * default_workers()

    def workers(asked: int, runs: int) -> int:
        return int(getattr(choose_executor(RunOptions(workers=asked), runs, 25), "workers", 1))

    assert workers(10_000, 10_000) == most
    (warning,) = [w for w in recwarn if issubclass(w.category, SimWarning)]
    assert f"using {most}" in str(warning.message)
    assert workers(0, 10_000) == default_workers()
    assert workers(10_000, 60) == min(3, most)  # no more workers than chunks
    with pytest.raises(UsageError, match="every core"):
        choose_executor(RunOptions(workers=-1), 100, 25)


def test_ids_that_would_name_a_results_column_twice_are_refused_at_load(tmp_path: Path) -> None:
    named = Path(__file__).resolve().parents[1] / "scenarios" / "taiwan-flashpoint-2025.yaml"
    text = named.read_text(encoding="utf-8")
    cases = {
        "actor": (r"\bTWN\b", "total", "actors.total.id"),
        "event": (r"\bbeijing_visit\b", "index", "events.index.id"),
    }
    import re

    for what, (pattern, ident, dotted) in cases.items():
        path = tmp_path / f"{what}.yaml"
        path.write_text(re.sub(pattern, ident, text), encoding="utf-8")
        with pytest.raises(ScenarioError) as info:
            load(str(path))
        message = str(info.value)
        line = next(i for i, row in enumerate(path.read_text().splitlines(), 1)
                    if re.fullmatch(rf"\s*-? *id: {ident}", row))  # fmt: skip
        assert message.startswith(f"{path}:{line}: {dotted}: '{ident}' is reserved"), message
    lever = DUEL.read_text(encoding="utf-8").replace("id: protest", "id: total", 1)
    (tmp_path / "lever.yaml").write_text(lever, encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"lever\.yaml:\d+: actors\.A\.levers\.total\.id"):
        load(str(tmp_path / "lever.yaml"), LOGIT)


def test_the_size_cap_holds_before_the_file_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as fh:
        fh.truncate(400_000_000)  # sparse: no disk, but a read would need 400 MB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    refused = f"400000000 bytes; a scenario may have at most {MAX_BYTES}"
    with pytest.raises(ScenarioError, match=refused):
        load(str(big))
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # kB
    fifo = tmp_path / "pipe.yaml"  # a file whose size the system does not know
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"head -c 3000000 /dev/zero > {fifo}"])
    with pytest.raises(ScenarioError, match=f"more than {MAX_BYTES} bytes"):
        read_yaml(fifo)
    writer.kill()
    writer.wait()


def test_links_that_loop_and_long_set_values_get_short_true_messages(tmp_path: Path) -> None:
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop.name)
    with pytest.raises(SimError, match="a loop of symbolic links"):
        load(str(loop))
    with pytest.raises(SimError) as info:
        load(str(DUEL), [f"actors.A.attributes.resolve={'9' * 5000}"])
    assert len(str(info.value)) < 400 and "(5000 characters)" in str(info.value)


def test_the_summary_reads_each_column_of_runs_parquet_once(
    duel: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: Counter[str] = Counter()
    column = store.RunsColumns.__getitem__

    def counted(self: store.RunsColumns, name: str) -> Any:
        read[name] += 1
        return column(self, name)

    monkeypatch.setattr(store.RunsColumns, "__getitem__", counted)
    folder = run(duel, runs=30, seed=SEED, out=tmp_path).path
    assert read and max(read.values()) == 1, read.most_common(3)
    assert store.read_summary(folder)["before_events"]  # the rungs before the summit too


class _Refusing:
    """An executor that fails (an error of its own, not of the machine) after ``after`` chunks."""

    def __init__(self, after: int, error: BaseException) -> None:
        self.after, self.error = after, error

    def map(self, fn: Any, chunks: Any) -> Iterator[Any]:
        for i, chunk in enumerate(chunks):
            if i == self.after:
                raise self.error
            yield fn(chunk)


def test_a_run_that_never_started_leaves_no_failed_folder(duel: Any, tmp_path: Path) -> None:
    """Issue 18, item 7: a 'failed' folder of 0 runs is not left behind; one with runs is."""

    def attempt(out: Path, after: int, error: BaseException) -> Any:
        return run(duel, runs=20, seed=1, chunk_size=5, out=out, executor=_Refusing(after, error))

    with pytest.raises(RuntimeError, match="refused") as info:
        attempt(tmp_path, 0, RuntimeError("refused"))
    assert "nothing was run, so no results folder was kept" in "\n".join(info.value.__notes__)
    assert not any((tmp_path / "duel").iterdir())
    # After a chunk, the folder keeps what ran, and says how to finish it.
    with pytest.raises(RuntimeError, match="refused") as info:
        attempt(tmp_path, 1, RuntimeError("refused"))
    (kept,) = (tmp_path / "duel").iterdir()
    assert store.read_manifest(kept)["status"] == "failed"
    assert "5 of 20 runs saved" in "\n".join(info.value.__notes__)
    # An interrupted run is kept even with 0 runs: its resume runs the plan as asked.
    with pytest.raises(KeyboardInterrupt):
        attempt(tmp_path / "i", 0, KeyboardInterrupt())
    (interrupted,) = (tmp_path / "i" / "duel").iterdir()
    assert store.read_manifest(interrupted)["status"] == "interrupted"


def test_a_comparison_that_never_started_leaves_no_folder(tmp_path: Path) -> None:
    """Issue 18, item 7: a comparison of 0 runs goes; one whose base arm ran is kept."""
    from sim.experiments.compare import compare

    def attempt(out: Path, after: int) -> Any:
        return compare(
            str(DUEL), runs=20, seed=1, chunk_size=5, out=out,
            overrides=[*LOGIT, "actors.A.attributes.resolve=0.9"],
            executor=_Refusing(after, RuntimeError("refused")),
        )  # fmt: skip

    with pytest.raises(RuntimeError, match="refused") as info:
        attempt(tmp_path / "none", 0)
    assert "nothing was run, so no comparison folder was kept" in "\n".join(info.value.__notes__)
    assert not any((tmp_path / "none" / "compare").rglob("*manifest*"))
    with pytest.raises(RuntimeError, match="refused") as info:
        attempt(tmp_path / "some", 1)
    (kept,) = (tmp_path / "some" / "compare").iterdir()
    (folder,) = kept.iterdir()
    assert store.read_manifest(folder)["status"] == "failed"
    assert store.read_manifest(folder / "base")["status"] == "failed"
    assert f"the comparison in {folder} is incomplete" in "\n".join(info.value.__notes__)


@pytest.mark.parametrize("entry", ["run", "compare", "sweep", "backtest"])
def test_python_runs_in_the_calling_process_unless_given_workers(
    entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's one rule: a Python call starts no worker unless asked (the CLI asks)."""
    import sim
    from sim.experiments.backtest import backtest
    from sim.experiments.executors import ProcessExecutor

    def no_pool(self: ProcessExecutor) -> ProcessExecutor:
        raise AssertionError(f"sim.{entry} started a pool of workers unasked")

    monkeypatch.setattr(ProcessExecutor, "__enter__", no_pool)
    duel = str(Path(__file__).resolve().parent / "scenarios" / "duel.yaml")
    record = Path(__file__).resolve().parents[2] / "shared" / "domain" / "timeline-2025-nov7-25.csv"
    calls = {
        "run": lambda: sim.run(duel, runs=60),
        "compare": lambda: sim.compare(
            duel, runs=60, overrides=["actors.A.attributes.resolve=0.9"]
        ),
        "sweep": lambda: sim.sweep(
            duel, parameters={"actors.A.attributes.resolve": [0.3, 0.9]}, runs=30
        ),
        "backtest": lambda: backtest("taiwan-flashpoint-2025", record, runs=60),
    }
    if entry == "backtest" and not record.exists():
        pytest.skip("the shared record is not beside the repository")
    calls[entry]()


def test_a_ctrl_c_that_lands_in_a_callback_of_compiled_code_is_raised_once_it_returns() -> None:
    """numba's kernels call back into Python; a KeyboardInterrupt raised there was lost."""
    from sim.experiments.stops import signals_outside_compiled_code

    finished: list[str] = []
    # A function that runs as numba's own modules do (its globals name a numba module), in
    # which the signal lands: it must run to its end, as numba's callback would need.
    source = (
        "def callback(finished):\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "    finished.append('callback')\n"
    )
    scope: dict[str, Any] = {"__name__": "numba.core.serialize", "signal": signal}
    exec(source, scope)
    with signals_outside_compiled_code(), pytest.raises(KeyboardInterrupt):
        scope["callback"](finished)
        finished.append("caller's next line")  # the interrupt is raised here, before it runs
    assert finished == ["callback"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    assert sys.gettrace() is None  # and the trace hook gone


def swallowed_ctrl_c() -> None:
    """Press Ctrl-C and let the KeyboardInterrupt be caught, as a careless callback would."""
    try:
        signal.raise_signal(signal.SIGINT)
        time.sleep(1)  # the handler has run by now: a missed signal would leave it for later
    except KeyboardInterrupt:
        return
    raise AssertionError("SIGINT raised no KeyboardInterrupt")


def test_a_ctrl_c_that_something_swallowed_stops_the_run_once_its_chunk_is_saved(
    tmp_path: Path,
) -> None:
    """The KeyboardInterrupt is caught on its way; the run must stop all the same."""
    seen: list[int] = []

    def careless(done: int, planned: int) -> None:
        seen.append(done)
        if len(seen) == 2:
            swallowed_ctrl_c()

    with pytest.raises(KeyboardInterrupt):
        run(DUEL, runs=200, seed=3, chunk_size=10, out=tmp_path, callback=careless)
    assert seen == [10, 20]  # stopped as the callback that swallowed the signal returned
    manifest = store.read_manifest(only_folder(tmp_path))
    assert manifest["status"] == "interrupted" and manifest["runs_completed"] == 20
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # The next run goes on to its end: the stop belonged to the run it came in.
    assert run(DUEL, runs=40, seed=3, chunk_size=10).summary["runs"] == 40


def test_a_ctrl_c_swallowed_while_a_calibration_batch_ran_stops_the_generation() -> None:
    from types import SimpleNamespace

    from sim.experiments.abc_smc import _ordered_until
    from sim.experiments.stops import signals_outside_compiled_code

    def batches() -> Iterator[tuple[int, list[Any]]]:
        for first in range(0, 100, 10):
            if first == 20:
                swallowed_ctrl_c()  # in the third batch's simulations
            yield first, [SimpleNamespace(accepted=False)] * 10

    with signals_outside_compiled_code(), pytest.raises(KeyboardInterrupt):
        _ordered_until(batches(), n=5, max_eval=float("inf"), bar=None)


def test_a_ctrl_c_swallowed_between_a_sweeps_points_stops_it_before_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.experiments.sweep import sweep
    from sim.experiments.sweep_folder import Folder

    write_point = Folder.write_point

    def careless_write(self: Folder, point: int, *args: Any) -> None:
        write_point(self, point, *args)
        if point == 1:
            swallowed_ctrl_c()

    monkeypatch.setattr(Folder, "write_point", careless_write)
    values = {"actors.A.attributes.resolve": [0.2, 0.4, 0.6, 0.8]}
    with pytest.raises(KeyboardInterrupt) as stopped:
        sweep(DUEL, parameters=values, runs=10, seed=2, out=tmp_path)
    assert "2 of 4 points saved" in " ".join(getattr(stopped.value, "__notes__", []))


def test_a_ctrl_c_while_the_last_summary_is_built_says_interrupted_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every run is in the journal, the tables half done: the manifest must not say 'running'."""
    duel = str(Path(__file__).resolve().parent / "scenarios" / "duel.yaml")
    whole = run(duel, runs=50, seed=3, out=tmp_path / "whole")
    real_summary = Ensemble.summary
    calls: list[int] = []

    def interrupted_summary(self: Ensemble, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_summary(self, *args, **kwargs)

    monkeypatch.setattr(Ensemble, "summary", interrupted_summary)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run(duel, runs=50, seed=3, out=tmp_path / "cut")
    (folder,) = (tmp_path / "cut" / "duel").iterdir()
    manifest = store.read_manifest(folder)
    assert manifest["status"] == "interrupted" and manifest["runs_completed"] == 50
    assert f"sim run --resume {folder}" in " ".join(getattr(stopped.value, "__notes__", []))
    monkeypatch.undo()
    finished = resume(folder)
    assert finished.summary["outcomes"] == whole.summary["outcomes"]
    assert store.read_manifest(folder)["status"] == "complete"
