"""The first run on a machine compiles the engine's kernels (a minute or two, once): it says
so, compiles them in the parent process before any worker starts, and gives the same runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import sim
import sim.engine
from sim.cli import main
from sim.errors import SimWarning
from sim.experiments.runner import COMPILING

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


def test_a_first_run_says_it_compiles_and_compiles_before_the_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    loaded: list[Any] = []
    monkeypatch.setattr(sim.engine, "kernels_cached", lambda: False)
    monkeypatch.setattr(sim.engine, "load_kernels", lambda spec=None: loaded.append(spec))
    argv = ["run", DUEL, "--runs", "8", "--seed", "3", "--workers", "1", "--quiet", "--json"]
    assert main([*argv, "--out", str(tmp_path / "first")]) == 0
    first = capsys.readouterr()
    assert [line for line in first.err.splitlines() if line] == [f"sim: warning: {COMPILING}"]
    (spec,) = loaded  # compiled once, for the run's spec, before it started
    assert spec.name == "duel"
    monkeypatch.undo()
    assert main([*argv, "--out", str(tmp_path / "again")]) == 0
    again = capsys.readouterr()
    assert "compiling" not in again.err  # cached now: nothing to say
    assert again.out == first.out.replace("first", "again")  # the same runs either way


def test_a_first_sweep_says_so_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's points are runs: the first point compiles, and says so (a warning in Python)."""
    loaded: list[Any] = []
    monkeypatch.setattr(sim.engine, "kernels_cached", lambda: any(loaded))  # once compiled
    monkeypatch.setattr(sim.engine, "load_kernels", lambda spec=None: loaded.append(spec))
    with pytest.warns(SimWarning, match="compiling the engine's kernels") as told:
        sim.sweep(DUEL, parameters={"actors.A.attributes.resolve": [0.3, 0.9]}, runs=2, workers=1)
    assert len(told) == 1  # once, before the first point: the second loads what it compiled
    assert [spec is not None for spec in loaded] == [True, False]
