"""Branching: a run split at day D is the parent run exactly up to D and its own after it.

The engine's hook (:mod:`sim.engine.branching`) is checked on the named scenario, where
moves are in flight across the split; ``sim.branch`` and ``sim run --from`` on a results
folder; bad input is refused before anything runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sim
from sim.engine import Split, simulate
from sim.errors import UsageError
from sim.results import store
from sim.results.seeding import replication_seed
from sim.scenario import compile_scenario, load

NAME = "taiwan-flashpoint-2025"
DAY = 40.0


def moves(record, after: bool) -> list[tuple]:
    """A record's moves on one side of the split (day <= DAY, or after it)."""
    return [
        (m.day, m.actor, m.lever, m.target, m.source)
        for m in record.moves
        if (m.day > DAY) == after
    ]


@pytest.fixture(scope="module")
def spec():
    return compile_scenario(load(NAME))


def test_a_split_keeps_the_past_and_changes_the_future(spec) -> None:
    parent_seed = replication_seed(3, 4)
    parent = simulate(spec, parent_seed)
    children = [simulate(spec, parent_seed, [Split(DAY, replication_seed(9, j))]) for j in range(8)]
    assert all(moves(c, after=False) == moves(parent, after=False) for c in children)
    assert moves(parent, after=False)  # the past is not empty: the test can fail
    futures = {tuple(moves(c, after=True)) for c in children}
    assert len(futures) == len(children)  # each child its own future
    assert tuple(moves(parent, after=True)) not in futures
    again = simulate(spec, parent_seed, [Split(DAY, replication_seed(9, 0))])
    assert moves(again, after=True) == moves(children[0], after=True)  # and a seeded one


def test_a_split_keeps_what_was_in_flight(spec) -> None:
    """A move prepared or perceived before the split still lands after it, as drawn."""
    parent_seed = replication_seed(3, 4)
    parent = simulate(spec, parent_seed)
    child = simulate(spec, parent_seed, [Split(DAY, replication_seed(9, 0))])
    first_after = moves(parent, after=True)[0]
    # the parent's first move after the split was decided before it (JPN's protest lands at
    # 42.5 in this run, prepared before day 40): the child makes it too, at the same instant
    assert first_after in moves(child, after=True)


def test_splits_are_checked(spec) -> None:
    seed = replication_seed(0, 0)
    with pytest.raises(ValueError, match="increase"):
        simulate(spec, seed, [Split(20.0, seed), Split(10.0, seed)])
    with pytest.raises(ValueError, match="day"):
        simulate(spec, seed, [Split(float(spec.days), seed)])


@pytest.fixture(scope="module")
def parent_folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("branch")
    results = sim.run(NAME, runs=6, seed=3, out=out, name="parent")
    return Path(results.path)


def test_branch_reproduces_the_run_up_to_the_day(parent_folder: Path, tmp_path: Path) -> None:
    results = sim.branch(parent_folder, replication=4, day=DAY, runs=12, seed=1, out=tmp_path)
    parent = store.read_moves(parent_folder)
    parent = parent[parent["index"] == 4]
    columns = ["day", "actor", "lever", "target"]
    before = parent[parent["day"] <= DAY][columns].reset_index(drop=True)
    branches = results.moves
    afters = set()
    for i in range(12):
        mine = branches[branches["index"] == i]
        assert mine[mine["day"] <= DAY][columns].reset_index(drop=True).equals(before)
        afters.add(tuple(map(tuple, mine[mine["day"] > DAY][columns].to_numpy())))
    assert len(afters) > 1  # the futures differ
    block = results.summary["branched_from"]
    assert (block["replication"], block["day"], block["seed"]) == (4, DAY, 3)
    assert (Path(results.path) / "branch.json").is_file()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replication": 99, "day": DAY}, "--replication 99: not in"),
        ({"replication": 1, "day": 500.0}, "--day 500: beyond the horizon"),
        ({"replication": 1, "day": -1.0}, "--day -1: beyond the horizon"),
    ],
)
def test_bad_branches_are_refused(parent_folder: Path, tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(UsageError, match=message):
        sim.branch(parent_folder, runs=2, out=tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())  # nothing ran, nothing was written


def test_sim_run_from(cli, parent_folder: Path, tmp_path: Path) -> None:
    done = cli(
        "run", NAME, "--from", str(parent_folder), "--replication", "2", "--day", "30",
        "--runs", "4", "--out", str(tmp_path), "--quiet",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"Branched from replication 2 of {parent_folder} (seed 3) on day 30" in done.stdout
    # The header names the branch as a run's names its --set (issue 18, item 2).
    header = " ".join(done.stdout.split("\n\n")[0].split())
    assert f"with --from replication 2 of {parent_folder} at day 30" in header
    bad = cli(
        "run", "--from", str(tmp_path / "nope"), "--replication", "1", "--day", "3", cwd=tmp_path
    )
    assert bad.returncode == 2 and "not a results folder" in bad.stderr
    with pytest.raises(UsageError, match="not us-china-tradewar-2025"):
        sim.branch(parent_folder, 1, 3.0, runs=2, out=tmp_path, expected="us-china-tradewar-2025")


def test_a_branch_draws_as_its_seed_says(spec) -> None:
    """The child streams are the engine's own, keyed by name: a split changes every stream."""
    seed = replication_seed(3, 4)
    a = simulate(spec, seed, [Split(0.0, replication_seed(5, 0))])
    b = simulate(spec, seed)
    assert moves(a, after=True) != moves(b, after=True)
    assert np.isfinite(a.peak_day)


def test_a_scenario_can_start_from_today(tmp_path: Path) -> None:
    """The start-date state: tensions, grievances and a measure in force that holds a rung."""
    path = tmp_path / "today.yaml"
    path.write_text(
        "extends: taiwan-flashpoint-2025\n"
        "name: taiwan-today\n"
        "initial:\n"
        "  - {pair: [CHN, JPN], tension: 0.6, grievance: {CHN: 0.5}}\n"
        "in_force:\n"
        "  - {actor: CHN, lever: coast_guard_patrol, target: JPN}\n",
        encoding="utf-8",
    )
    spec = compile_scenario(load(str(path)))
    record = simulate(spec, replication_seed(1, 0))
    chn_jpn = spec.dyad_ids.index(("CHN", "JPN"))
    assert record.dyad_rungs[chn_jpn, 0] == 5  # on the start day, at the patrols' rung
    assert record.first_day_at_rung[5] == 0.0


def test_a_folder_of_other_code_is_not_branched(parent_folder: Path, tmp_path: Path) -> None:
    """The replay would not be the parent's run: refused, saying why."""
    import shutil

    copy = tmp_path / "old"
    shutil.copytree(parent_folder, copy)
    manifest = store.read_manifest(copy)
    store.write_json(copy / store.MANIFEST, {**manifest, "code_fingerprint": "0" * 16})
    with pytest.raises(UsageError, match="would not reproduce it"):
        sim.branch(copy, replication=1, day=DAY, runs=2, out=tmp_path / "out")
