"""Interrupting and resuming: a resumed run's files equal an uninterrupted run's, byte for byte.

Runs are interrupted deterministically (a callback raises KeyboardInterrupt, exactly as
Ctrl-C would, after k replications), and once for real: SIGINT to a ``sim run`` process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.cli import main
from sim.errors import SimWarning, UsageError
from sim.experiments.ensemble import resume, run, run_spec
from sim.results import files, store, tables
from sim.scenario import compile_scenario, load

LOGIT = ["actors.A.policy.name=logit", "actors.B.policy.name=logit"]
FILES = ("summary.json", "runs.parquet", "moves.parquet", "trajectories.npy")


def flaky_engine(spec: Any, seed: np.random.SeedSequence) -> Any:
    """The engine, except that every replication whose index is 3 mod 7 raises."""
    from sim.engine import simulate

    if seed.spawn_key[0] % 7 == 3:
        raise ValueError(f"flaky replication {seed.spawn_key[0]}")
    return simulate(spec, seed)


def stop_after(k: int) -> Any:
    """A progress callback that presses Ctrl-C once ``k`` replications are done."""

    def callback(done: int, planned: int) -> None:
        if done >= k:
            raise KeyboardInterrupt

    return callback


def only_folder(root: Path) -> Path:
    (folder,) = (root / "duel").iterdir()
    return folder


def same_files(a: Path, b: Path, names: tuple[str, ...] = FILES) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def duel(duel_path: Path) -> Any:
    return load(str(duel_path), LOGIT)


@pytest.fixture
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of a few rows, so resuming copies across row-group boundaries."""
    monkeypatch.setattr(tables, "RUNS_ROW_GROUP", 16)
    monkeypatch.setattr(tables, "MOVES_ROW_GROUP", 50)
    monkeypatch.setattr(tables, "FAILURES_ROW_GROUP", 3)


@pytest.mark.usefixtures("small_row_groups")
def test_ctrl_c_then_resume_equals_an_uninterrupted_run(duel: Any, tmp_path: Path) -> None:
    spec = compile_scenario(duel)
    whole = run_spec(duel, spec, 130, 5, tmp_path / "whole", chunk_size=10, engine=flaky_engine)
    with pytest.raises(KeyboardInterrupt) as info:
        run_spec(
            duel,
            spec,
            130,
            5,
            tmp_path / "cut",
            chunk_size=10,
            engine=flaky_engine,
            callback=stop_after(50),
        )
    folder = only_folder(tmp_path / "cut")
    assert any(f"50 of 130 runs saved in {folder}" in n for n in info.value.__notes__)
    assert any(f"sim run --resume {folder}" in n for n in info.value.__notes__)

    # The interrupted folder is valid on its own: every completed replication, no .part.
    manifest = store.read_manifest(folder)
    assert manifest["status"] == "interrupted" and manifest["runs_completed"] == 50
    runs = store.read_runs(folder)
    failed = store.read_failures(folder)
    assert sorted([*runs["index"], *failed["index"]]) == list(range(50))
    assert store.read_summary(folder)["failures"]["count"] == len(failed) == 7
    assert store.read_trajectories(folder).shape[0] == len(runs)
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")]

    # Interrupted again while resuming, then finished.
    with pytest.raises(KeyboardInterrupt):
        resume(folder, engine=flaky_engine, callback=stop_after(90))
    assert store.read_manifest(folder)["runs_completed"] == 90
    done = resume(folder, engine=flaky_engine)
    assert done.status == "complete" and done.summary == whole.summary
    same_files(folder, whole.path, (*FILES, files.FAILURES))
    manifest = store.read_manifest(folder)
    assert manifest["status"] == "complete" and manifest["resumed_from"] == 90
    assert manifest["timing"]["replications"] == 40


def test_a_run_killed_before_saving_keeps_its_journal(duel: Any, tmp_path: Path) -> None:
    whole = run(duel, runs=40, seed=8, out=tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run(duel, runs=40, seed=8, out=tmp_path / "cut", callback=stop_after(25))
    folder = only_folder(tmp_path / "cut")
    manifest = store.read_manifest(folder)
    # As if the process had been killed (SIGKILL) while running: the manifest still says
    # "running", the tables were never written; the journal holds the completed chunks.
    manifest.update(status="running", process={"pid": os.getpid(), "host": "elsewhere"})
    store.write_json(folder / files.MANIFEST, manifest)
    for name in (files.RUNS, files.MOVES, files.TRAJECTORIES, files.SUMMARY):
        (folder / name).unlink()
    assert store.saved(folder).runs == 25
    resume(folder)
    same_files(folder, whole.path)
    assert store.read_manifest(folder)["resumed_from"] == 25
    assert not (folder / files.CHUNKS).exists()  # complete: the tables hold it all


def test_resume_refuses_what_it_cannot_finish(
    duel: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    complete = run(duel, runs=5, seed=1, out=tmp_path).path
    assert main(["run", "--resume", str(complete)]) == 2
    assert "already complete" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "not a results folder" in capsys.readouterr().err
    assert main(["run", "duel", "--resume", str(complete)]) == 2
    assert "give none of them" in capsys.readouterr().err
    manifest = store.read_manifest(complete)
    alive = {"pid": os.getppid(), "host": socket.gethostname()}  # another live process
    store.write_json(complete / files.MANIFEST, {**manifest, "status": "running", "process": alive})
    assert main(["run", "--resume", str(complete)]) == 2
    assert "still running" in capsys.readouterr().err


@pytest.mark.slow
def test_sigint_to_sim_run_then_sim_run_resume(duel_path: Path, tmp_path: Path) -> None:
    args = [str(duel_path), *(a for s in LOGIT for a in ("--set", s)), "--seed", "6"]
    cmd = [sys.executable, "-m", "sim.cli", "run", *args, "--runs", "8000", "--workers", "1"]
    proc = subprocess.Popen(
        [*cmd, "--quiet", "--out", str(tmp_path / "cut")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    # The signal goes once the first chunk is saved: 8,000 runs take about 4 s more on an
    # idle machine (2,000 took one, a margin that a starved test process could miss), so it
    # lands among them; however many are done then, resuming must give the whole run.
    while not any(j.stat().st_size for j in (tmp_path / "cut").glob(f"duel/*/{files.CHUNKS}")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    folder = only_folder(tmp_path / "cut")
    assert "interrupted" in err and f"sim run --resume {folder}" in err
    manifest = store.read_manifest(folder)
    assert manifest["status"] == "interrupted" and manifest["runs_completed"] < 8000
    assert len(store.read_runs(folder)) == manifest["runs_completed"]

    resumed = subprocess.run(
        [sys.executable, "-m", "sim.cli", "run", "--resume", str(folder), "--json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["runs"] == 8000
    whole = run(load(str(duel_path), LOGIT), runs=8000, seed=6, out=tmp_path / "whole")
    same_files(folder, whole.path)


def test_ctrl_c_while_a_chunk_is_written_waits_for_the_chunk() -> None:
    from sim.experiments.stops import interrupts_deferred

    before = signal.getsignal(signal.SIGINT)
    done = []
    with pytest.raises(KeyboardInterrupt), interrupts_deferred():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # The handler runs between bytecodes: give it the chance.
        done.append("rest of the chunk")
    assert done == ["rest of the chunk"]
    assert signal.getsignal(signal.SIGINT) is before


def test_a_held_ctrl_c_goes_to_the_handler_that_was_in_place() -> None:
    from sim.experiments.stops import interrupts_deferred

    before = signal.getsignal(signal.SIGINT)
    heard: list[int] = []
    try:
        signal.signal(signal.SIGINT, lambda signum, frame: heard.append(signum))
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
            assert heard == []  # held while the chunk is written
        assert heard == [signal.SIGINT]
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        with interrupts_deferred():  # an ignored Ctrl-C stays ignored
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGINT, before)


def test_resume_refuses_a_run_started_by_other_engine_code(duel: Any, tmp_path: Path) -> None:
    from sim.experiments.chunks import code_fingerprint

    folder = run(duel, runs=5, seed=1, out=tmp_path).path
    manifest = store.read_manifest(folder)
    assert manifest["code_fingerprint"] == code_fingerprint()
    manifest.update(status="interrupted", runs=10, code_fingerprint="0" * 16)
    store.write_json(folder / files.MANIFEST, manifest)
    with pytest.raises(UsageError, match="changed since this run started"):
        resume(folder)


def test_a_resume_removes_the_figures_and_report_of_the_attempt_that_stopped(
    duel: Any, tmp_path: Path
) -> None:
    def stop_at_the_second_chunk(done: int, planned: int) -> None:
        if done > 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(duel, runs=60, seed=2, chunk_size=10, out=tmp_path, callback=stop_at_the_second_chunk)
    folder = only_folder(tmp_path)
    (folder / files.FIGURES_DIR).mkdir()
    (folder / files.FIGURES_DIR / "outcomes.png").write_bytes(b"drawn from 20 runs")
    (folder / files.REPORT).write_text("<p>20 of 60 replications completed</p>")
    with pytest.warns(SimWarning, match=r"removed figures, report\.html, drawn from the attempt"):
        done = resume(folder)
    assert done.summary["runs"] == 60
    assert not (folder / files.FIGURES_DIR).exists() and not (folder / files.REPORT).exists()
