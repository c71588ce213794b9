"""Sweeps: specs and their shorthand, designs, checks before running, tables, CRN, resume.

Most tests sweep ``tests/scenarios/sweep_oracle.yaml``, where a Poisson clash at rate r a
year decides the outcome: P(crisis) = 1 - exp(-r * 90 / 365) exactly.
"""

from __future__ import annotations

import math
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.experiments import designs
from sim.experiments.sweep import load_sweep
from sim.experiments.sweep_spec import (
    Parameter,
    SweepError,
    build_spec,
    parse_param_option,
    read_sweep_file,
)
from sim.results.files import DESIGN, POINTS, RUNS_DIR, SWEEP_PLAN

REPO = Path(__file__).resolve().parents[1]
ORACLE = str(REPO / "tests" / "scenarios" / "sweep_oracle.yaml")
RATE = "events.clash.rate_per_year"
DEAD = "actors.A.levers.unused.cost.upfront"
NAMED = "taiwan-flashpoint-2025"
SHIPPED = sorted((REPO / "scenarios" / "sweeps").glob("*.yaml"))


def p_crisis(rate: float) -> float:
    """The exact probability of a crisis in the oracle at clash rate ``rate`` a year."""
    return 1.0 - math.exp(-rate * 90 / 365)


def cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


class Counting:
    """A serial executor that counts the chunks it runs and can stop like Ctrl-C after some."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.chunks = 0

    def map(self, fn: Any, chunks: Iterable[Sequence[int]]) -> Iterator[Any]:
        for chunk in chunks:
            if self.stop_after is not None and self.chunks >= self.stop_after:
                raise KeyboardInterrupt
            self.chunks += 1
            yield fn(chunk)


# --- specs ------------------------------------------------------------------------------------


def test_shorthand_ranges_lists_and_distributions() -> None:
    assert parse_param_option("a.b=0.3:0.9:7")[1] == {
        "path": "a.b",
        "low": 0.3,
        "high": 0.9,
        "steps": 7,
    }
    assert parse_param_option("a.b=[0, 0.5, 1]")[1]["values"] == [0, 0.5, 1]
    assert parse_param_option("a.b=0:2")[1] == {"path": "a.b", "low": 0.0, "high": 2.0}
    tri = parse_param_option("a.b=triangular(0.1, 0.3, 0.6)")[1]
    assert tri == {"path": "a.b", "dist": "triangular", "low": 0.1, "mode": 0.3, "high": 0.6}
    grid = Parameter(path="x", low=0.3, high=0.9, steps=7).grid_values
    assert grid == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("a.b=0.5", "single value"),
        ("a.b=1:x:3", "low:high"),
        ("a.b=gamma(1, 2)", "unknown distribution"),
        ("a.b=triangular(1, 2)", "triangular(low, mode, high)"),
        ("a.b", "PATH=SPEC"),
    ],
)
def test_bad_shorthand_says_what_was_expected(option: str, expected: str) -> None:
    with pytest.raises(SweepError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        parse_param_option(option)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"design": "lhs", "points": 8, "parameters": {"x": [0, 1]}}, "only fits a grid"),
        ({"design": "sobol", "points": 8, "parameters": {"x": "0:1:3"}}, "steps only fit"),
        ({"design": "sobol", "points": 12, "parameters": {"x": "0:1"}}, "power of two"),
        ({"design": "lhs", "parameters": {"x": "0:1"}}, "needs points"),
        ({"design": "grid", "parameters": {"x": "0:1"}}, "needs values or steps"),
        ({"design": "grid", "points": 4, "parameters": {"x": [1, 2]}}, "leave out points"),
        ({"parameters": {"x": "1:0:3"}}, "must be below high"),
        ({"parameters": {"x": [1, 2]}, "set": {"x": 1}}, "both swept and set"),
        ({"design": "lhs", "points": 4, "parameters": {"x": "loguniform(0, 1)"}}, "low > 0"),
    ],
)
def test_inconsistent_specs_are_refused(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(SweepError, match=expected):
        build_spec({"scenario": ORACLE, **fields})


def test_sweep_file_errors_name_the_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        f"scenario: {ORACLE}\ndesign: grid\nruns: 0\nparameters:\n  {RATE}: [0, 1]\n",
        encoding="utf-8",
    )
    with pytest.raises(SweepError) as err:
        read_sweep_file(path)
    assert f"{path}:3: runs:" in str(err.value)


def test_shipped_sweep_files_are_valid_and_pass_every_check() -> None:
    from sim.experiments.sweep_plan import prepare

    assert len(SHIPPED) >= 2
    for path in SHIPPED:
        spec = read_sweep_file(path)
        plan = prepare(spec)
        assert len(plan.design) == spec.n_points
        assert spec.outcomes, f"{path.name} names its outcomes of interest"


# --- designs ------------------------------------------------------------------------------------


def test_grid_takes_every_combination_first_parameter_slowest() -> None:
    spec = build_spec({"scenario": ORACLE, "parameters": {"a": [1, 2], "b": "0:1:3"}})
    assert designs.design_values(spec) == [
        [1, 0.0],
        [1, 0.5],
        [1, 1.0],
        [2, 0.0],
        [2, 0.5],
        [2, 1.0],
    ]


def test_latin_hypercube_puts_one_point_in_each_stratum_and_is_reproducible() -> None:
    fields = {"scenario": ORACLE, "design": "lhs", "points": 20, "seed": 4}
    spec = build_spec({**fields, "parameters": {"a": "2:4", "b": "0:1"}})
    values = np.array(designs.design_values(spec))
    for column, (low, high) in zip(values.T, [(2, 4), (0, 1)], strict=True):
        strata = np.floor((column - low) / (high - low) * 20).astype(int)
        assert sorted(strata) == list(range(20))
    assert designs.design_values(spec) == designs.design_values(spec)
    other = build_spec({**fields, "seed": 5, "parameters": {"a": "2:4", "b": "0:1"}})
    assert designs.design_values(other) != designs.design_values(spec)


def test_saltelli_design_has_n_times_d_plus_2_points_in_salib_order() -> None:
    spec = build_spec(
        {
            "scenario": ORACLE,
            "design": "sobol",
            "points": 16,
            "parameters": {"a": "0:1", "b": "5:6"},
        }
    )
    values = np.array(designs.design_values(spec))
    assert values.shape == (16 * 4, 2) == (spec.n_points, 2)
    blocks = values.reshape(16, 4, 2)  # A, AB_1, AB_2, B for each base point
    assert np.array_equal(blocks[:, 1, 1], blocks[:, 0, 1])  # AB_1 keeps A's second column
    assert np.array_equal(blocks[:, 1, 0], blocks[:, 3, 0])  # ... and takes B's first
    assert (values[:, 1] >= 5).all() and (values[:, 1] <= 6).all()


@settings(max_examples=60, deadline=None)
@given(
    u=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=20),
    dist=st.sampled_from(["uniform", "loguniform", "triangular", "truncnormal"]),
)
def test_transform_is_monotone_and_stays_in_range(u: list[float], dist: str) -> None:
    extra = {"triangular": {"mode": 0.5}, "truncnormal": {"mean": 0.3, "sd": 0.4}}.get(dist, {})
    param = Parameter(path="x", low=0.1, high=2.0, dist=dist, **extra)
    ordered = np.sort(np.array(u))
    values = designs.transform(param, ordered)
    assert (values >= 0.1).all() and (values <= 2.0).all()
    assert (np.diff(values) >= -1e-12).all()


# --- checks before anything runs ---------------------------------------------------------------


def test_a_mistyped_path_names_the_closest_fields() -> None:
    with pytest.raises(SweepError, match="closest: resolve"):
        sim.sweep(NAMED, parameters={"actors.CHN.attributes.resolv": "0.3:0.9:3"}, runs=1)
    with pytest.raises(SweepError, match="no item 'CNH' in actors; closest: CHN"):
        sim.sweep(NAMED, parameters={"actors.CNH.attributes.resolve": [0.1, 0.2]}, runs=1)


def test_a_mistyped_path_fails_in_under_a_second_without_a_traceback(tmp_path: Path) -> None:
    """The whole command, interpreter start included, takes under a second of CPU time.

    CPU time (user + system of the child) rather than wall time: on a machine shared with
    other jobs the wall clock measures the neighbours; on an idle one the two agree.
    """
    args = ("sweep", NAMED, "--param", "actors.CHN.attributes.resolv=0.3:0.9:7", "--runs", "5")
    cpu = []
    for _ in range(3):  # The fastest of three: one slow start must not fail the test.
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = cli(*args, cwd=tmp_path, timeout=60)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert "'resolv' is not a field of actors.CHN.attributes; closest: resolve" in done.stderr
    assert min(cpu) < 1.0, cpu
    assert not (tmp_path / "results").exists()


def test_a_value_outside_the_field_range_is_refused_before_running() -> None:
    with pytest.raises(SweepError) as err:
        sim.sweep(ORACLE, parameters={"actors.A.attributes.resolve": "0.5:1.5:3"}, runs=1)
    message = str(err.value)
    assert "value 1.5 (the high end of its range)" in message
    assert "less than or equal to 1" in message


def test_lhs_and_sobol_refuse_a_field_that_is_not_a_number() -> None:
    for design, points in (("lhs", 4), ("sobol", 4)):
        with pytest.raises(SweepError, match="samples numbers, but this field holds 'Alpha'"):
            sim.sweep(ORACLE, parameters={"actors.A.name": "0:1"}, design=design, points=points)


def test_sampled_integer_fields_get_integers() -> None:
    from sim.experiments.sweep_plan import prepare

    spec = build_spec(
        {
            "scenario": ORACLE,
            "design": "lhs",
            "points": 10,
            "parameters": {"events.clash.max_occurrences": "1:5"},
        }
    )
    column = prepare(spec).design["events.clash.max_occurrences"]
    assert all(isinstance(v, int) and 1 <= v <= 5 for v in column.tolist())


def test_unknown_outcomes_are_refused_with_the_known_ones() -> None:
    with pytest.raises(SweepError, match="expected one of crisis, calm, peak>=K"):
        sim.sweep(ORACLE, parameters={RATE: [0, 1]}, outcomes=["war"], runs=1, workers=1)


# --- running ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid() -> Any:
    """A grid over the clash rate on the oracle, in memory, with common random numbers."""
    return sim.sweep(ORACLE, parameters={RATE: [0, 1, 4]}, runs=200, seed=5, workers=1)


def test_points_hold_probabilities_with_intervals_matching_the_exact_answer(grid: Any) -> None:
    points = grid.points
    assert list(points["point"]) == [0, 1, 2] and list(points["runs"]) == [200] * 3
    assert list(points["failed"]) == [0] * 3
    for row in points.to_dict("records"):
        p, exact = row["p_crisis"], p_crisis(row[RATE])
        se = math.sqrt(exact * (1 - exact) / 200)
        assert abs(p - exact) <= 4 * se + 1e-12
        assert row["p_crisis_lo"] <= p <= row["p_crisis_hi"]
        assert row["p_crisis"] + row["p_calm"] == pytest.approx(1.0)
    assert {"peak_rung_mean", "peak_rung_q50", "cost_A_mean", "p_peak_ge_2_hi"} <= set(points)


def test_common_random_numbers_make_each_run_monotone_in_the_rate(grid: Any) -> None:
    runs = grid.runs
    assert len(runs) == 600 and set(runs["point"]) == {0, 1, 2}
    # The same seeds at every point ...
    keys = runs.pivot(index="index", columns="point", values="seed_key")
    assert (keys[0] == keys[2]).all()
    # ... so a run with a clash at rate 1 has one at rate 4: only the rate differs.
    crisis = runs.pivot(index="index", columns="point", values="outcome") == "crisis"
    assert (crisis[0] <= crisis[1]).all() and (crisis[1] <= crisis[2]).all()
    assert crisis[1].sum() < crisis[2].sum()


def test_paired_differences_are_sharper_than_independent_intervals(grid: Any) -> None:
    found = grid.difference(1, 2, "crisis")
    p1, p4 = grid.points["p_crisis"].iloc[1], grid.points["p_crisis"].iloc[2]
    assert found["difference"] == pytest.approx(p4 - p1) and found["pairs"] == 200
    unpaired_se = math.sqrt(p1 * (1 - p1) / 200 + p4 * (1 - p4) / 200)
    assert found["se"] < 0.9 * unpaired_se
    assert abs(found["difference"] - (p_crisis(4) - p_crisis(1))) <= 4 * found["se"]
    assert found["ci95"][0] > 0
    assert grid.difference(0, 2, "peak_rung_mean")["difference"] == pytest.approx(
        2 * (p4 - grid.points["p_crisis"].iloc[0])
    )


def test_independent_seeds_draw_new_numbers_at_each_point() -> None:
    done = sim.sweep(
        ORACLE,
        parameters={RATE: [4, 4.0001]},
        runs=60,
        seed=5,
        workers=1,
        common_random_numbers=False,
    )
    keys = done.runs.pivot(index="index", columns="point", values="seed_key")
    assert (keys[0] != keys[1]).all()
    crisis = done.runs.pivot(index="index", columns="point", values="outcome") == "crisis"
    assert (crisis[0] != crisis[1]).any()  # Same rate (almost), other numbers, other runs.


def test_trace_replays_a_run_of_a_point(grid: Any) -> None:
    row = grid.runs[(grid.runs["point"] == 2)].iloc[7]
    record = grid.trace(2, int(row["index"]))
    assert record.outcome == row["outcome"] and record.peak_rung == row["peak_rung"]
    assert grid.scenario_at(2).events[0].rate_per_year == 4


def test_worker_processes_give_the_same_tables() -> None:
    fields = {"parameters": {RATE: [1, 4]}, "runs": 60, "seed": 5}
    serial = sim.sweep(ORACLE, **fields, workers=1)
    pooled = sim.sweep(ORACLE, **fields, workers=2)
    pd.testing.assert_frame_equal(pooled.points, serial.points)
    pd.testing.assert_frame_equal(pooled.runs, serial.runs)


# --- the folder and resume --------------------------------------------------------------------


SOBOL = {"parameters": {RATE: "0:8", DEAD: "0:10"}, "design": "sobol", "points": 4}


def test_a_folder_holds_the_plan_design_points_and_runs(tmp_path: Path) -> None:
    done = sim.sweep(ORACLE, **SOBOL, runs=10, seed=2, workers=1, out=tmp_path)
    folder = done.path
    assert folder.parent == tmp_path / "sweep_oracle" and folder.name.startswith("sweep-")
    for name in (SWEEP_PLAN, DESIGN, POINTS, "sensitivity.parquet", "manifest.json"):
        assert (folder / name).is_file(), name
    assert len(list((folder / RUNS_DIR).glob("point-*.parquet"))) == 16
    points = pd.read_parquet(folder / POINTS)
    assert len(points) == 16 and {"p_crisis", "p_crisis_lo", "p_crisis_hi"} <= set(points)
    again = load_sweep(folder)
    pd.testing.assert_frame_equal(again.points, done.points)
    pd.testing.assert_frame_equal(again.runs, done.runs)
    assert again.status == "complete" and len(again.runs) == 160


def test_resume_runs_only_what_is_missing_and_ends_identical(tmp_path: Path) -> None:
    args = {"runs": 10, "seed": 2, "chunk_size": 5, **SOBOL}
    whole = sim.sweep(ORACLE, **args, executor=Counting(), out=tmp_path / "whole")
    stopper = Counting(stop_after=7)  # two chunks a point: three points and half of a fourth
    with pytest.raises(KeyboardInterrupt) as err:
        sim.sweep(ORACLE, **args, executor=stopper, out=tmp_path / "cut")
    (folder,) = (tmp_path / "cut" / "sweep_oracle").iterdir()
    assert "3 of 16 points saved" in " ".join(getattr(err.value, "__notes__", []))
    assert load_sweep(folder).status == "interrupted" and len(load_sweep(folder).points) == 3
    counter = Counting()
    resumed = sim.sweep(None, resume=folder, executor=counter, chunk_size=5)
    assert counter.chunks == 2 * (16 - 3)
    assert resumed.status == "complete"
    pd.testing.assert_frame_equal(resumed.points, whole.points)
    pd.testing.assert_frame_equal(resumed.runs, whole.runs)
    pd.testing.assert_frame_equal(resumed.sensitivity, whole.sensitivity)
    for name in (POINTS, DESIGN, "sensitivity.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(folder / name), pd.read_parquet(whole.path / name)
        )


def test_an_unknown_scenario_is_named_before_the_missing_parameters() -> None:
    with pytest.raises(Exception, match=r"unknown scenario 'nosuch'; named scenarios: "):
        sim.sweep("nosuch")


def test_resume_refuses_a_different_plan(tmp_path: Path) -> None:
    done = sim.sweep(ORACLE, parameters={RATE: [0, 1]}, runs=5, workers=1, out=tmp_path)
    with pytest.raises(Exception, match=r"runs: 5 then, 6 now"):
        sim.sweep(ORACLE, parameters={RATE: [0, 1]}, runs=6, workers=1, resume=done.path)


def test_resume_takes_new_words_for_the_same_plan(tmp_path: Path) -> None:
    """A title or a label changes no number: the resumed sweep uses the new ones."""

    def rate(label: str) -> dict[str, Any]:
        return {RATE: {"values": [0, 1, 2, 3], "label": label}}

    args = {"runs": 10, "seed": 4, "chunk_size": 5}
    with pytest.raises(KeyboardInterrupt):
        sim.sweep(ORACLE, parameters=rate("clash rate"), title="first", **args,
                  executor=Counting(stop_after=4), out=tmp_path)  # fmt: skip
    (folder,) = (tmp_path / "sweep_oracle").iterdir()
    resumed = sim.sweep(ORACLE, parameters=rate("clashes a year"), title="second", **args,
                        resume=folder, executor=Counting())  # fmt: skip
    assert resumed.status == "complete"
    reopened = load_sweep(folder)
    assert reopened.labels == {RATE: "clashes a year"} and reopened.spec.title == "second"
    whole = sim.sweep(ORACLE, parameters=rate("clash rate"), **args, executor=Counting())
    pd.testing.assert_frame_equal(reopened.points, whole.points)
    with pytest.raises(Exception, match=r"runs: 10 then, 11 now"):  # numbers still must match
        sim.sweep(ORACLE, parameters=rate("x"), **{**args, "runs": 11}, resume=folder)
    fewer = {RATE: {"values": [0, 1, 2], "label": "x"}}
    with pytest.raises(
        Exception, match=r"parameters\[0\]\.values: \[0, 1, 2, 3\] then, \[0, 1, 2\] now"
    ):
        sim.sweep(ORACLE, parameters=fewer, **args, resume=folder)


def test_cli_sweep_interrupted_then_resumed_matches_an_uninterrupted_sweep(tmp_path: Path) -> None:
    # 10 points of 400 runs, half a second each on an idle machine: the signal, sent once
    # the first point is saved, lands part-way even when this process is starved for a few
    # seconds (16 points of 40 runs, 60 ms each, once all ran before it was sent).
    args = ["sweep", ORACLE, "--param", f"{RATE}=0:6:10", "--runs", "400", "--seed", "9"]
    args += ["--workers", "1", "--quiet", "--out", str(tmp_path)]
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A child inherits an ignored SIGINT (a test runner's worker may ignore it), and
        # Python then installs no KeyboardInterrupt handler: give it the default, as a shell.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    runs_dirs = tmp_path / "sweep_oracle"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if any(runs_dirs.glob(f"sweep-*/{RUNS_DIR}/point-000000.parquet")):
            break
        time.sleep(0.05)
    assert process.poll() is None, f"the sweep ended before the signal: {process.stderr.read()}"
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    (folder,) = runs_dirs.iterdir()
    assert process.returncode == 130, err
    assert "Traceback" not in err and f"sim sweep --resume {folder}" in err
    finished = len(list((folder / RUNS_DIR).glob("point-*.parquet")))
    assert 1 <= finished < 10
    done = cli("sweep", "--resume", str(folder), "--quiet", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "P(crisis)" in done.stdout
    whole = sim.sweep(ORACLE, parameters={RATE: "0:6:10"}, runs=400, seed=9, workers=1)
    pd.testing.assert_frame_equal(pd.read_parquet(folder / POINTS), whole.points)


def test_cli_runs_a_shipped_sweep_file_and_writes_one_row_per_point(tmp_path: Path) -> None:
    grid_file = REPO / "scenarios" / "sweeps" / "taiwan-resolve-vs-us-backing.yaml"
    # The file as shipped but for fewer runs and two values of resolve (10 points, not 35).
    smaller = ["--runs", "3", "--param", "actors.CHN.attributes.resolve=[0.5, 0.9]"]
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "sweep", str(grid_file), *smaller, "--workers", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (folder,) = (tmp_path / "results" / NAMED).iterdir()
    points = pd.read_parquet(folder / POINTS)
    assert len(points) == 2 * 5 and (points["runs"] == 3).all()
    assert (
        points["relations.us_japan_treaty.public_backing"].tolist() == [0, 0.25, 0.5, 0.75, 1] * 2
    )
    assert {"p_military_crisis", "p_military_crisis_lo", "p_military_crisis_hi"} <= set(points)
    assert "P(peak rung >= 6, coercion by force)" in done.stdout
    assert f"results: results/{NAMED}/{folder.name}" in done.stdout
