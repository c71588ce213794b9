"""Determinism: the same seed gives the same results, whatever runs them, and golden numbers.

* Two ``sim run ... --json`` processes with the same seed (different hash seeds, one worker
  and two worker processes) print identical summaries and write identical tables; an
  in-process run with other chunk sizes gives the same summary and runs table.
* The manifest records the versions of the libraries that shape the numbers.
* Golden summaries (tests/golden/*.json) pin the outcome, peak-rung and move counts of the
  named scenarios at a fixed seed, so that a change to the model cannot pass unnoticed.
  They are regenerated only on purpose: ``python -m tests.golden.regenerate`` (see
  docs/hardening.md).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments import store

NAME = "taiwan-flashpoint-2025"
RUNS = 30  # two chunks of the default 25, so chunking and worker processes matter
SEED = 7
TIMEOUT = 600  # seconds for one `sim run`; about 3 s on an idle machine


def _golden() -> ModuleType:
    """tests/golden/regenerate.py, imported by path (tests/ is not a package)."""
    path = Path(__file__).resolve().parent / "golden" / "regenerate.py"
    spec = importlib.util.spec_from_file_location("golden_regenerate", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _golden()


def sim_run(out: Path, workers: int, hash_seed: str) -> subprocess.CompletedProcess[str]:
    """``sim run NAME --runs RUNS --seed SEED --json`` in a fresh interpreter."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    args = ["run", NAME, "--runs", str(RUNS), "--seed", str(SEED), "--json", "--quiet"]
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args, "--workers", str(workers), "--out", str(out)],
        cwd=out.parent,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict[str, Any], Path]]:
    """Two `sim run` processes, side by side: (summary printed, results folder) of each."""
    root = tmp_path_factory.mktemp("determinism")
    plans = [(root / "one-worker", 1, "1"), (root / "two-workers", 2, "2")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda p: sim_run(*p), plans))
    out = []
    for (folder, _, _), proc in zip(plans, done, strict=True):
        assert proc.returncode == 0, proc.stderr
        (path,) = (folder / NAME).iterdir()
        out.append((json.loads(proc.stdout), path))
    return out


def test_separate_processes_print_identical_summaries(cli_runs: list) -> None:
    (first, _), (second, _) = cli_runs
    assert first == second
    assert first["runs"] == RUNS and first["seed"] == SEED


def test_separate_processes_write_identical_tables(cli_runs: list) -> None:
    (_, a), (_, b) = cli_runs
    pd.testing.assert_frame_equal(store.read_runs(a), store.read_runs(b))
    pd.testing.assert_frame_equal(store.read_moves(a), store.read_moves(b))
    np.testing.assert_array_equal(store.read_trajectories(a), store.read_trajectories(b))
    assert (a / store.SUMMARY).read_bytes() == (b / store.SUMMARY).read_bytes()


@pytest.mark.parametrize("chunk_size", [1, 7])
def test_chunk_sizes_give_the_same_results(cli_runs: list, chunk_size: int) -> None:
    (summary, folder), _ = cli_runs
    results = sim.run(NAME, runs=RUNS, seed=SEED, chunk_size=chunk_size)
    assert results.summary == summary
    pd.testing.assert_frame_equal(
        results.runs.reset_index(drop=True), store.read_runs(folder), check_dtype=False
    )


def test_a_different_seed_gives_different_results(cli_runs: list) -> None:
    """The control: the comparisons above could not pass by ignoring the seed."""
    (_, folder), _ = cli_runs
    other = sim.run(NAME, runs=RUNS, seed=SEED + 1, chunk_size=RUNS)
    assert not other.runs["n_moves"].equals(store.read_runs(folder)["n_moves"])


def test_the_manifest_records_the_library_versions(cli_runs: list) -> None:
    import scipy
    import simpy

    (_, folder), _ = cli_runs
    manifest = store.read_manifest(folder)
    env = manifest["environment"]
    assert env["python"] == sys.version.split()[0]
    assert env["numpy"] == np.__version__
    assert env["simpy"] == simpy.__version__
    assert env["scipy"] == scipy.__version__
    assert env["pandas"] == pd.__version__
    assert manifest["package_version"] == sim.__version__
    assert manifest["content_hash"] == sim.load(NAME).content_hash()
    assert manifest["seed"] == SEED and manifest["runs_completed"] == RUNS


# --- golden summaries ----------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN.SCENARIOS)
def test_golden_summary(name: str) -> None:
    path = GOLDEN.path_of(name)
    assert path.exists(), (
        f"no golden file {path}; make it on purpose with `python -m tests.golden.regenerate`"
    )
    expected = GOLDEN.compared(json.loads(path.read_text(encoding="utf-8")))
    actual = GOLDEN.compared(GOLDEN.compute(name))
    diff = GOLDEN.differences(expected, actual)
    assert not diff, (
        f"{name} no longer gives its golden numbers (runs={GOLDEN.RUNS}, seed={GOLDEN.SEED}):\n"
        + "\n".join(diff[:30])
        + "\nIf the model or the scenario changed on purpose, run "
        "`python -m tests.golden.regenerate` and commit the new files with a note; "
        "otherwise this is an accidental change (see docs/hardening.md)."
    )
    assert sum(expected["outcomes"].values()) == GOLDEN.RUNS
    assert sum(expected["peak_rungs"].values()) == GOLDEN.RUNS


def test_golden_files_differ_between_scenarios() -> None:
    """The control: the variants move the numbers, so the files pin three things, not one."""
    files = [GOLDEN.path_of(n) for n in GOLDEN.SCENARIOS]
    if not all(f.exists() for f in files):
        pytest.fail("golden files missing; run `python -m tests.golden.regenerate`")
    data = [GOLDEN.compared(json.loads(f.read_text(encoding="utf-8"))) for f in files]
    hashes = {d["content_hash"] for d in data}
    moves = {json.dumps(d["moves"], sort_keys=True) for d in data}
    assert len(hashes) == len(data) and len(moves) == len(data)
