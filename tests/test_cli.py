"""The ``sim`` command end to end, in a subprocess, on the named scenario."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

NAME = "taiwan-flashpoint-2025"
RUNS = 50


def sim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sim ARGS`` in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


def only_folder(root: Path) -> Path:
    (folder,) = (root / NAME).iterdir()
    return folder


@pytest.fixture(scope="module")
def first(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One ``sim run`` of the named scenario, shared by the tests that only read it."""
    cwd = tmp_path_factory.mktemp("run")
    done = sim("run", NAME, "--runs", str(RUNS), "--seed", "3", "--quiet", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done, only_folder(cwd / "results")


def test_help_is_fast_and_imports_nothing_heavy(tmp_path: Path) -> None:
    done = sim("--help", cwd=tmp_path)
    assert done.returncode == 0 and "run" in done.stdout and "trace" in done.stdout
    probe = (
        "import sys, sim.cli\n"
        "try:\n    sim.cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'numpy', 'pandas', 'pydantic', 'simpy', 'scipy', 'pyarrow', 'yaml'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_every_help_page_reads_as_printed() -> None:
    """argparse formats help= strings with %, not descriptions: '95%%' showed in compare's."""
    import argparse

    from sim.cli.parser import build_parser

    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    pages = [parser.format_help(), *(p.format_help() for p in commands.choices.values())]
    assert len(pages) > 10
    for page in pages:
        assert "%%" not in page and "%(" not in page, page


def test_run_prints_the_tables_and_writes_every_file(first: tuple) -> None:
    done, folder = first
    for expected in ("Outcome", "95% CI", "Peak rung", "Days until first", "censored", "Cost"):
        assert expected in done.stdout
    names = {p.name for p in folder.iterdir()}
    expected_files = {
        "manifest.json",
        "summary.json",
        "runs.parquet",
        "moves.parquet",
        "trajectories.npy",
    }
    assert names == expected_files
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["runs"] == RUNS and manifest["seed"] == 3
    assert manifest["scenario"] == NAME and manifest["parameters"]["name"] == NAME
    assert manifest["command"].startswith(f"sim run {NAME}")
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["runs"] == RUNS
    assert sum(o["count"] for o in summary["outcomes"].values()) == RUNS

    import pandas as pd

    runs = pd.read_parquet(folder / "runs.parquet")
    assert runs["index"].tolist() == list(range(RUNS))
    moves = pd.read_parquet(folder / "moves.parquet")
    assert len(moves) == runs["n_moves"].sum()


def test_the_same_seed_gives_the_same_summary(first: tuple, tmp_path: Path) -> None:
    _, folder = first
    again = sim("run", NAME, "--runs", str(RUNS), "--seed", "3", "--quiet", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    other = only_folder(tmp_path / "results")
    assert (other / "summary.json").read_bytes() == (folder / "summary.json").read_bytes()


def test_another_seed_gives_another_summary(first: tuple, tmp_path: Path) -> None:
    _, folder = first
    done = sim("run", NAME, "--runs", str(RUNS), "--seed", "4", "--json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) != json.loads((folder / "summary.json").read_text())


def test_json_prints_the_summary_file(tmp_path: Path) -> None:
    done = sim("run", NAME, "--runs", "10", "--seed", "3", "--json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    written = json.loads((only_folder(tmp_path / "results") / "summary.json").read_text())
    assert printed == written
    assert printed["scenario"] == NAME and printed["runs"] == 10


def test_trace_replays_a_replication_of_run(first: tuple, tmp_path: Path) -> None:
    import pandas as pd

    _, folder = first
    runs = pd.read_parquet(folder / "runs.parquet")
    summary = json.loads((folder / "summary.json").read_text())
    index = 7
    done = sim("trace", NAME, "--seed", "3", "--run", str(index), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^\d{4}-\d\d-\d\d \S.* -> .*\(rung \d+, CAMEO \d+\)", done.stdout, re.M)
    label = summary["outcomes"][runs["outcome"].iloc[index]]["label"]
    assert f"): {label}" in done.stdout
    assert f"{runs['n_moves'].iloc[index]} moves" in done.stdout


def test_unknown_scenario_lists_the_names(tmp_path: Path) -> None:
    done = sim("run", "no-such-scenario", "--runs", "5", cwd=tmp_path)
    assert done.returncode == 2
    assert NAME in done.stderr and "Traceback" not in done.stderr


def test_bad_override_is_a_clean_error(tmp_path: Path) -> None:
    done = sim("run", NAME, "--runs", "5", "--set", "no.such.path=1", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("sim: error:")


def test_invalid_yaml_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: [unclosed\n")
    done = sim("validate", str(bad), cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "bad.yaml" in done.stderr


def test_list_validate_and_schema(tmp_path: Path) -> None:
    listed = sim("list", cwd=tmp_path)
    assert listed.returncode == 0 and NAME in listed.stdout
    checked = sim("validate", NAME, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"ok: {NAME}")
    for what in ("actors:", "levers:", "events:", "outcomes:"):
        assert what in checked.stdout
    schema = sim("schema", cwd=tmp_path)
    assert schema.returncode == 0 and "properties" in json.loads(schema.stdout)


def test_python_api_matches_the_cli() -> None:
    import sim

    scenario = sim.load(NAME)
    record = sim.simulate(scenario, 3)
    results = sim.run(scenario, runs=2, seed=3)
    assert results.path is None
    assert record.outcome == results.runs["outcome"].iloc[0]
    assert record.peak_rung == results.runs["peak_rung"].iloc[0]
    assert len(record.moves) == results.runs["n_moves"].iloc[0]
    assert results.trace(1).outcome == results.runs["outcome"].iloc[1]
