"""The first run on a machine compiles the engine's kernels (a minute or two, once): it says
so, compiles them in the parent process before any worker starts, and gives the same runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import sim
from sim.cli import main
from sim.engine import world
from sim.engine.world import COMPILING
from sim.errors import SimWarning
from sim.experiments.executors import ProcessExecutor

DUEL = str(Path(__file__).resolve().parent / "scenarios" / "duel.yaml")


def cached_in(cache: Path | None) -> bool:
    """``kernels_cached()`` in a fresh interpreter, with numba's cache in ``cache``."""
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    code = "from sim.engine import kernels_cached; print(kernels_cached())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return {"True": True, "False": False}[done.stdout.strip()]


def test_an_empty_cache_is_told_from_a_full_one(tmp_path: Path) -> None:
    sim.run(DUEL, runs=1, workers=1)  # this process compiled or loaded them: they are cached
    assert cached_in(None)
    assert not cached_in(tmp_path)  # where numba has compiled nothing (checking compiles nothing)
    assert not list(tmp_path.rglob("*.nbi"))


@pytest.fixture
def first_time(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This process as on a machine whose cache is empty: what it does, in order.

    The kernels are still compiled for real (numba loads them from the session's cache), so
    the runs are the real ones; "compile" is logged when the engine starts on them, "pool"
    when a pool of workers starts.
    """
    events: list[str] = []
    real_compile, real_enter = world._compile_calls, ProcessExecutor.__enter__

    def compile_calls(state: Any) -> Any:
        events.append("compile")
        return real_compile(state)

    def enter(self: ProcessExecutor) -> ProcessExecutor:
        events.append("pool")
        return real_enter(self)

    monkeypatch.setattr(world, "_CALLS", None)
    monkeypatch.setattr(world, "_compile_calls", compile_calls)
    monkeypatch.setattr(ProcessExecutor, "__enter__", enter)
    monkeypatch.setattr(world, "_cached_here", lambda dispatcher: "compile" in events)
    return events


def warnings_in(err: str) -> list[str]:
    """The lines of stderr that are sim's warnings."""
    return [line for line in err.splitlines() if line.startswith("sim: warning:")]


def test_a_first_run_says_it_compiles_and_compiles_before_the_workers(
    tmp_path: Path, first_time: list[str], capfd: Any
) -> None:
    argv = ["run", DUEL, "--runs", "64", "--seed", "3", "--workers", "2", "--quiet", "--json"]
    assert main([*argv, "--out", str(tmp_path / "first")]) == 0
    first = capfd.readouterr()  # the workers' stderr too: none of them compiled
    assert warnings_in(first.err) == [f"sim: warning: {COMPILING}"]
    assert first_time[:2] == ["compile", "pool"]  # in the parent, before any worker started
    assert first_time.count("compile") == 1
    assert main([*argv, "--out", str(tmp_path / "again")]) == 0
    again = capfd.readouterr()
    assert warnings_in(again.err) == []  # this process holds them now: nothing to say
    assert first_time.count("compile") == 1
    assert again.out == first.out.replace("first", "again")  # the same runs either way


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda: sim.sweep(
                DUEL, parameters={"actors.A.attributes.resolve": [0.3, 0.9]}, runs=2, workers=1
            ),  # fmt: skip
            id="sweep",
        ),
        pytest.param(lambda: sim.simulate(DUEL, seed=1), id="one replication"),
    ],
)
def test_every_way_to_run_says_so_once(first_time: list[str], call: Any) -> None:
    """A sweep's points are runs, a trace one replication: the first compiles, and says so."""
    with pytest.warns(SimWarning) as told:
        call()
    assert [str(w.message) for w in told if "compiling" in str(w.message)] == [COMPILING]
    assert first_time.count("compile") == 1


def test_a_cache_compiled_for_another_cpu_is_not_this_machines() -> None:
    """numba keys a cache entry by the CPU it was compiled for: another's cannot be loaded."""
    here = ("x86_64-unknown-linux-gnu", "skylake", "+avx2")

    def kernel(*machines: tuple[str, ...]) -> Any:
        index = {(("int64",), m, ("hash", "")): f"k-{i}.nbc" for i, m in enumerate(machines)}
        return SimpleNamespace(
            targetctx=SimpleNamespace(codegen=lambda: SimpleNamespace(magic_tuple=lambda: here)),
            _cache=SimpleNamespace(_cache_file=SimpleNamespace(_load_index=lambda: index)),
        )

    assert world._cached_here(kernel(here))
    assert world._cached_here(kernel(("aarch64", "neoverse", ""), here))
    assert not world._cached_here(kernel(("x86_64-unknown-linux-gnu", "znver4", "+avx512f")))
    assert not world._cached_here(kernel())
