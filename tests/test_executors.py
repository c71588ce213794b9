"""Executors and failing replications on the real engine: serial, processes and Dask agree.

The scenario is the two-actor fixture with logit policies (stochastic, about a hundred
runs a second), so that real worker pools run real replications in a few seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from sim.engine.policy import register_policy
from sim.errors import UsageError
from sim.experiments.chunks import ChunkRunner, ScenarioSource
from sim.experiments.ensemble import resume, run, run_spec
from sim.experiments.executors import (
    ClusterLost,
    DaskExecutor,
    ProcessExecutor,
    SerialExecutor,
    WorkerLost,
    default_workers,
    make_executor,
)
from sim.policies.logit import LogitPolicy
from sim.results import files, store
from sim.scenario import compile_scenario, load

LOGIT = ["actors.A.policy.name=logit", "actors.B.policy.name=logit"]
RUNS = 100
FILES = ("summary.json", "runs.parquet", "moves.parquet", "trajectories.npy")


@register_policy
class ExplodingPolicy(LogitPolicy):
    """Logit choice that raises on about one replication in six (a test double, no source)."""

    name = "test-explodes"
    metadata: ClassVar[dict] = {"stochastic": True, "source": "test double"}

    def choose(self, ctx: Any, rng: np.random.Generator) -> Any:
        if not getattr(self, "_armed", False):
            self._armed = True
            # One draw from the actor's own stream decides: the same on every replay.
            if rng.random() < 0.15:
                raise RuntimeError(f"policy exploded on day {ctx.now:g}")
        return super().choose(ctx, rng)


def dying_engine(spec: Any, seed: np.random.SeedSequence) -> Any:
    """The engine, except that replication 37 kills the worker process running it."""
    from sim.engine import simulate

    if multiprocessing.parent_process() is not None and seed.spawn_key == (37,):
        os._exit(3)
    return simulate(spec, seed)


def same_files(a: Path, b: Path, names: tuple[str, ...] = FILES) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def duel(duel_path: Path) -> Any:
    return load(str(duel_path), LOGIT)


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessExecutor]:
    """Two worker processes, started once for the tests that share them."""
    with ProcessExecutor(2) as executor:
        yield executor


@pytest.fixture(scope="module")
def serial(duel: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The reference: RUNS replications in this process, written to a folder."""
    return run(duel, runs=RUNS, seed=11, out=tmp_path_factory.mktemp("serial"))


def test_a_process_pool_gives_identical_files(
    duel: Any, serial: Any, pool: ProcessExecutor, tmp_path: Path
) -> None:
    pooled = run(duel, runs=RUNS, seed=11, out=tmp_path, executor=pool)
    assert pooled.summary == serial.summary
    same_files(pooled.path, serial.path)
    assert store.read_manifest(pooled.path)["executor"] == "process (2 workers)"


def test_a_dask_local_cluster_gives_identical_files(duel: Any, serial: Any, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    with DaskExecutor(workers=2, processes=False) as cluster:
        first = run(duel, runs=RUNS, seed=11, out=tmp_path, executor=cluster)
        # The same cluster serves a second ensemble (a comparison, a precision batch).
        again = run(duel, runs=40, seed=11, executor=cluster)
    assert first.summary == serial.summary
    same_files(first.path, serial.path)
    assert again.runs.equals(serial.runs.iloc[:40].reset_index(drop=True))


def test_another_seed_gives_other_results(duel: Any, serial: Any) -> None:
    other = run(duel, runs=RUNS, seed=12)
    assert other.summary["outcomes"] != serial.summary["outcomes"]


def test_a_runner_travels_as_the_scenarios_json(duel: Any) -> None:
    spec = compile_scenario(duel)
    source = ScenarioSource.of(duel, spec)
    assert source is not None and source.content_hash == duel.content_hash()
    wire = pickle.dumps(ChunkRunner(spec, 5, source=source))
    assert b"RunSpec" not in wire  # No compiled objects on the wire: JSON only.
    back = pickle.loads(wire)
    here = ChunkRunner(spec, 5)(range(3, 9))
    there = back(range(3, 9))
    # NaN (a rung never reached) is unequal to itself in Arrow: compare as DataFrames.
    assert there.runs.to_pandas().equals(here.runs.to_pandas())
    assert there.moves.equals(here.moves)
    assert np.array_equal(there.trajectories, here.trajectories)


def test_make_executor_and_its_errors() -> None:
    assert isinstance(make_executor("processes", 1), SerialExecutor)
    assert isinstance(make_executor("processes", 3), ProcessExecutor)
    assert make_executor("processes", 3).workers == 3
    assert isinstance(make_executor("dask", 2), DaskExecutor)
    assert make_executor("processes", 0).workers == default_workers()  # 0: every core
    for kind, workers, scheduler, words in [
        ("threads", None, None, "unknown executor"),
        ("processes", -1, None, r"0 \(every core\) or more"),
        ("processes", 2, "tcp://x:1", "--scheduler needs --executor dask"),
    ]:
        with pytest.raises(UsageError, match=words):
            make_executor(kind, workers, scheduler)
    with pytest.raises(UsageError, match="start method"):
        ProcessExecutor(2, start_method="fork")


def test_negative_workers_are_refused_even_for_a_job_of_one_chunk(duel: Any) -> None:
    # A job that fits in one chunk runs in this process whatever was asked: -1 was let by.
    with pytest.raises(UsageError, match=r"--workers must be 0 \(every core\) or more, got -1"):
        run(duel, runs=3, workers=-1)
    with pytest.raises(UsageError, match=r"--workers must be a whole number .*, got 1.5"):
        run(duel, runs=3, workers=1.5)  # type: ignore[arg-type]  # a user's mistake


def test_dask_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_distributed(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] == "distributed":
            raise ImportError("No module named 'distributed'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_distributed)
    with pytest.raises(UsageError, match=r"pip install -e '\.\[dask\]'"), DaskExecutor():
        pass


def test_an_unreachable_scheduler_is_a_clear_error() -> None:
    pytest.importorskip("distributed")
    executor = DaskExecutor("tcp://127.0.0.1:9", timeout=1)  # The discard port: nobody.
    with pytest.raises(ClusterLost, match="cannot reach the Dask scheduler"), executor:
        pass


# --- a worker that dies -------------------------------------------------------------------


def test_a_dead_worker_leaves_a_resumable_folder(duel: Any, serial: Any, tmp_path: Path) -> None:
    spec = compile_scenario(duel)
    with pytest.raises(WorkerLost, match="worker process died") as info:
        run_spec(duel, spec, RUNS, 11, tmp_path, executor=ProcessExecutor(2), engine=dying_engine)
    assert "sim run --resume" in str(info.value)
    (folder,) = (tmp_path / "duel").iterdir()
    manifest = store.read_manifest(folder)
    assert manifest["status"] == "interrupted"
    done = manifest["runs_completed"]
    assert done <= 25 and done % 25 == 0  # Replication 37 is in the second chunk.
    assert len(store.read_runs(folder)) == done == store.read_summary(folder)["runs"]
    finished = resume(folder)  # Serially, in this process: nothing dies now.
    assert finished.status == "complete"
    same_files(folder, serial.path)


# --- failing replications -----------------------------------------------------------------


@pytest.fixture(scope="module")
def exploding(duel_path: Path) -> Any:
    return load(str(duel_path), ["actors.A.policy.name=test-explodes", LOGIT[1]])


def test_failing_replications_are_recorded_and_the_ensemble_goes_on(
    exploding: Any, tmp_path: Path
) -> None:
    res = run(exploding, runs=120, seed=4, out=tmp_path)
    failures = res.failures
    k = len(failures)
    assert 0 < k < 120  # About one in six: with 120 runs, 0 or 120 would be a broken test.
    assert len(res.runs) + k == 120 == res.replications
    assert set(res.runs["index"]).isdisjoint(failures["index"])
    assert res.summary["failures"]["count"] == k and res.summary["runs"] == 120 - k
    assert res.summary["failures"]["replications"] == 120
    assert sum(o["count"] for o in res.summary["outcomes"].values()) == 120 - k
    assert res.trajectories.shape[0] == 120 - k
    first = failures.iloc[0]
    assert first["seed_key"] == f"4/{first['index']}"
    assert first["error"].startswith("RuntimeError: policy exploded on day")
    assert "Traceback" in first["traceback"] and "choose" in first["traceback"]
    assert (res.path / files.FAILURES).exists()
    assert f"{k} of 120 replications failed" in res.table()
    # Replaying a failed replication raises the same error; a good one replays its run.
    with pytest.raises(RuntimeError, match=first["error"].split(": ", 1)[1]):
        res.trace(int(first["index"]))
    good = int(res.runs["index"].iloc[0])
    assert res.trace(good).outcome == res.runs["outcome"].iloc[0]


def test_failures_are_the_same_in_worker_processes(
    exploding: Any, pool: ProcessExecutor, tmp_path: Path
) -> None:
    # The policy lives in this test module: workers import it by name to find it.
    serial = run(exploding, runs=60, seed=4, out=tmp_path / "a")
    pooled = run(exploding, runs=60, seed=4, out=tmp_path / "b", executor=pool)
    assert len(serial.failures) > 0
    same_files(serial.path, pooled.path, (*FILES, files.FAILURES))


def test_sim_trace_reproduces_a_failed_replication(
    exploding: Any, duel_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sim.cli import main

    res = run(exploding, runs=60, seed=4)
    bad = int(res.failures["index"].iloc[0])
    good = int(res.runs["index"].iloc[0])
    args = ["trace", str(duel_path), "--seed", "4", "--set", "actors.A.policy.name=test-explodes"]
    args += ["--set", LOGIT[1]]
    with pytest.raises(RuntimeError, match="policy exploded"):
        main([*args, "--run", str(bad)])
    assert main([*args, "--run", str(good)]) == 0
    assert "End state" in capsys.readouterr().out


def test_a_policy_only_this_process_knows_fails_clearly_in_workers(
    exploding: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # As in a notebook: the policy is registered here but no worker can import it.
    import sim.engine.policy as policy
    from sim.experiments import chunks

    spec = compile_scenario(exploding)
    source = ScenarioSource.of(exploding, spec)
    assert source is not None and "test_executors" in source.modules
    hidden = ScenarioSource(source.json, source.content_hash, ())
    monkeypatch.delitem(policy._REGISTRY, "test-explodes")
    chunks.compiled.cache_clear()
    runner = pickle.loads(pickle.dumps(ChunkRunner(spec, 1, source=hidden)))
    with pytest.raises(UsageError, match="test-explodes is not registered in a worker"):
        runner(range(2))
    chunks.compiled.cache_clear()


def test_a_worker_with_other_code_refuses_to_run(duel: Any) -> None:
    spec = compile_scenario(duel)
    source = ScenarioSource.of(duel, spec)
    assert source is not None and len(source.code) == 16
    edited = ScenarioSource(source.json, source.content_hash, source.modules, "0" * 16)
    runner = pickle.loads(pickle.dumps(ChunkRunner(spec, 1, source=edited)))
    with pytest.raises(UsageError, match="differ from those the run started with"):
        runner(range(2))


def test_a_dead_pool_names_an_unguarded_script(monkeypatch: pytest.MonkeyPatch) -> None:
    import __main__
    from sim.experiments.executors import _lost_message

    monkeypatch.setattr(__main__, "__file__", "/tmp/analysis.py", raising=False)
    monkeypatch.setattr(__main__, "__spec__", None, raising=False)
    assert "/tmp/analysis.py" in _lost_message()
    assert 'if __name__ == "__main__":' in _lost_message()
    monkeypatch.setattr(__main__, "__file__", "/usr/local/bin/sim")  # a console script
    assert _lost_message().endswith("or a crash in native code)")


def test_any_object_with_map_is_an_executor_even_the_builtin_map(duel: Any) -> None:
    """``executor=`` takes anything with ``map(fn, chunks)``: results that cannot be closed
    (the builtin ``map``, a list) are iterated, not closed (mypy found the runner calling
    ``close()`` on them after the last chunk, which raised AttributeError)."""
    from types import SimpleNamespace

    serial = run(duel, runs=30, seed=5, chunk_size=7)
    for mapper in (map, lambda fn, chunks: [fn(c) for c in chunks]):
        results = run(duel, runs=30, seed=5, chunk_size=7, executor=SimpleNamespace(map=mapper))
        assert results.summary["runs"] == 30
        assert results.runs.equals(serial.runs)


def test_an_unguarded_script_asking_for_workers_gets_the_advice_once(
    duel_path: Path, tmp_path: Path
) -> None:
    """Its workers leave quietly (no RuntimeError from each); the one error says what to do."""
    script = tmp_path / "analysis.py"
    script.write_text(
        f"import sim\nsim.run({str(duel_path)!r}, runs=100, workers=2, overrides={LOGIT!r})\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sim.experiments.executors.WorkerLost: worker processes could not")
    assert f"if {script} runs simulations at its top level" in last
    assert "bootstrapping phase" not in done.stderr


def test_a_program_read_from_stdin_asking_for_workers_is_told_why_they_cannot_start(
    duel_path: Path, tmp_path: Path
) -> None:
    """Workers import the program that started them; from stdin there is none to import.

    It said "a worker process died (killed, out of memory, or a crash in native code)"; no
    folder is left, as nothing ran. ``python -c`` names no file, and its workers start.
    """
    program = f"import sim\nsim.run({str(duel_path)!r}, runs=60, workers=2, out='results')\n"
    done = subprocess.run(
        [sys.executable, "-"], input=program, capture_output=True, text=True, timeout=300,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sim.errors.UsageError: worker processes cannot start")
    assert "<stdin>" in last and "workers=1" in last
    assert not (tmp_path / "results").exists()
    inline = program.replace("out='results'", "out=None").replace("\n", "; ", 1)
    done = subprocess.run(
        [sys.executable, "-c", inline], capture_output=True, text=True, timeout=300,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
