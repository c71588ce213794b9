"""Adaptive precision: batches until every outcome's 95% half-width meets the target."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.analysis import stats
from sim.errors import UsageError
from sim.experiments.ensemble import resume, run
from sim.experiments.precision import FIRST_BATCH, MAX_GROWTH, Precision
from sim.results import store
from sim.scenario import load

LOGIT = ["actors.A.policy.name=logit", "actors.B.policy.name=logit"]
OUTCOMES = ("war", "crisis", "calm")


def half_width(o: dict[str, Any]) -> float:
    return (o["ci95"][1] - o["ci95"][0]) / 2


@pytest.fixture(scope="module")
def duel(duel_path: Path) -> Any:
    return load(str(duel_path), LOGIT)


@pytest.fixture(scope="module")
def adaptive(duel: Any) -> Any:
    return run(duel, precision=0.05, seed=3)


# --- the rule -----------------------------------------------------------------------------


def test_the_first_batch_is_a_quarter_of_the_worst_case() -> None:
    worst = stats.Z95**2 / (4 * 0.05**2)  # 384 runs for p = 1/2 at +/-0.05
    assert Precision(0.05).first == math.ceil(worst / 4)
    assert Precision(0.001).first == FIRST_BATCH
    assert Precision(0.05).next_target(0, {}, OUTCOMES, 25) == 100  # Rounded to chunks.
    assert Precision(0.05, max_runs=60).next_target(0, {}, OUTCOMES, 25) == 60


@given(
    counts=st.lists(st.integers(0, 400), min_size=3, max_size=3),
    target=st.floats(0.005, 0.2),
    chunk=st.integers(1, 50),
    cap=st.integers(1, 5000),
)
def test_next_target_stops_exactly_when_met_or_capped(
    counts: list[int], target: float, chunk: int, cap: int
) -> None:
    p = Precision(target, max_runs=cap)
    done = sum(counts) + 3  # Three failed replications count towards the cap only.
    by_outcome = dict(zip(OUTCOMES, counts, strict=True))
    nxt = p.next_target(done, by_outcome, OUTCOMES, chunk)
    widths = p.half_widths(by_outcome, OUTCOMES)
    met = sum(counts) > 0 and max(widths.values()) <= target
    if met or done >= cap:
        assert nxt is None
    else:
        assert nxt is not None and done < nxt <= cap
        assert nxt == cap or nxt % chunk == 0
        assert nxt <= math.ceil(MAX_GROWTH * done / chunk) * chunk


def test_half_widths_are_those_of_the_wilson_intervals() -> None:
    widths = Precision(0.01).half_widths({"war": 3, "calm": 97}, ("war", "crisis", "calm"))
    lo, hi = stats.wilson_interval(3, 100)
    assert widths["war"] == pytest.approx((hi - lo) / 2)
    assert widths["crisis"] == pytest.approx(stats.wilson_interval(0, 100)[1] / 2)


@pytest.mark.parametrize("kwargs", [{"target": 0}, {"target": 0.5}, {"target": 0.1, "max_runs": 0}])
def test_bad_settings_are_user_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        Precision(**kwargs)


def test_runs_and_precision_do_not_mix(duel: Any) -> None:
    with pytest.raises(UsageError, match="not both"):
        run(duel, runs=100, precision=0.1)
    with pytest.raises(UsageError, match="--max-runs goes with --precision"):
        run(duel, runs=100, max_runs=200)


# --- an adaptive run ----------------------------------------------------------------------


def test_an_adaptive_run_meets_its_target_and_says_how_many_runs(adaptive: Any) -> None:
    s = adaptive.summary
    p = s["precision"]
    assert p["met"] and not p["capped"] and p["target"] == 0.05
    assert p["replications"] == s["replications"] == s["runs"] == p["batches"][-1]
    assert max(half_width(o) for o in s["outcomes"].values()) <= 0.05
    assert p["max_half_width"] == pytest.approx(max(half_width(o) for o in s["outcomes"].values()))
    assert p["batches"] == sorted(set(p["batches"]))
    assert f"after {s['runs']:,} runs" in adaptive.table()


def test_an_adaptive_run_equals_a_plain_run_of_its_length(duel: Any, adaptive: Any) -> None:
    n = adaptive.summary["runs"]
    plain = run(duel, runs=n, seed=3)
    assert {k: v for k, v in adaptive.summary.items() if k != "precision"} == plain.summary
    assert adaptive.runs.equals(plain.runs)


def test_a_capped_run_says_it_did_not_reach_the_target(duel: Any) -> None:
    res = run(duel, precision=0.005, max_runs=130, seed=3)
    p = res.summary["precision"]
    assert not p["met"] and p["capped"] and res.summary["replications"] == 130
    assert p["max_half_width"] > 0.005
    assert "NOT reached: stopped at the cap of 130 runs" in res.table()


def test_an_interrupted_adaptive_run_resumes_to_the_same_end(duel: Any, tmp_path: Path) -> None:
    whole = run(duel, precision=0.05, seed=3, out=tmp_path / "whole", chunk_size=20)

    def ctrl_c(done: int, planned: int) -> None:
        if done >= 140:  # Past the first batch (100): the schedule has to be replayed.
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(duel, precision=0.05, seed=3, out=tmp_path / "cut", chunk_size=20, callback=ctrl_c)
    (folder,) = (tmp_path / "cut" / "duel").iterdir()
    assert store.read_manifest(folder)["precision"]["target"] == 0.05
    done = resume(folder)
    assert done.summary == whole.summary
    for name in ("summary.json", "runs.parquet", "moves.parquet", "trajectories.npy"):
        assert (folder / name).read_bytes() == (whole.path / name).read_bytes(), name


def test_sim_run_precision_json(cli: Any, duel_path: Path, tmp_path: Path) -> None:
    args = ["run", str(duel_path), "--set", LOGIT[0], "--set", LOGIT[1], "--seed", "3"]
    done = cli(*args, "--precision", "0.08", "--json", "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["precision"]["met"]
    assert max(half_width(o) for o in summary["outcomes"].values()) <= 0.08
    assert f"after {summary['runs']:,} runs" in done.stderr
    bad = cli(*args, "--precision", "0.05", "--runs", "10", cwd=tmp_path)
    assert bad.returncode == 2 and "not both" in bad.stderr and "Traceback" not in bad.stderr
