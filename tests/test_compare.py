"""Comparisons on common random numbers: paired differences, SEs, variance reduction."""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.analysis.paired import paired_difference
from sim.errors import UsageError
from sim.experiments.compare import compare
from sim.experiments.ensemble import run
from sim.results import store
from sim.scenario import load

LOGIT = ["actors.A.policy.name=logit", "actors.B.policy.name=logit"]
CHANGE = ["actors.B.attributes.resolve=0.6"]
RUNS = 150


# --- the paired statistics ----------------------------------------------------------------


def test_identical_arms_differ_by_nothing() -> None:
    a = np.random.default_rng(0).random(50)
    d = paired_difference(a, a)
    assert d["difference"] == 0 and d["se"] == 0
    assert math.isnan(d["variance_reduction"])  # Written as null: undefined, not infinite.
    assert d["correlation"] == pytest.approx(1.0)


def test_the_paired_statistics_follow_their_definitions() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random(500) < 0.3).astype(float)
    b = np.where(rng.random(500) < 0.1, 1 - a, a)  # The same runs, one in ten flipped.
    d = paired_difference(a, b)
    n = 500
    assert d["difference"] == pytest.approx(b.mean() - a.mean())
    assert d["se"] == pytest.approx((b - a).std(ddof=1) / math.sqrt(n))
    assert d["ci95"] == pytest.approx([d["difference"] - 1.959964 * d["se"],
                                       d["difference"] + 1.959964 * d["se"]], abs=1e-6)  # fmt: skip
    independent = a.var(ddof=1) + b.var(ddof=1)
    assert d["se_independent"] == pytest.approx(math.sqrt(independent / n))
    assert d["variance_reduction"] == pytest.approx(independent / (b - a).var(ddof=1))
    assert d["variance_reduction"] > 3  # About 0.42 / 0.1 for this construction.


def test_independent_arms_gain_nothing() -> None:
    # For independent arms VR = 1 + 2 cov / (Var A + Var B); at p = 0.3 on both sides the
    # sample covariance has SE sqrt(Var A Var B / n), so VR has SE 1 / sqrt(n).
    rng = np.random.default_rng(2)
    n = 4000
    a = (rng.random(n) < 0.3).astype(float)
    b = (rng.random(n) < 0.3).astype(float)
    d = paired_difference(a, b)
    assert abs(d["variance_reduction"] - 1) <= 4 / math.sqrt(n)
    assert abs(d["difference"]) <= 4 * d["se"]


def test_a_share_no_run_reached_in_either_arm_is_not_known_to_differ_by_exactly_nothing() -> None:
    """0 of 400 in both arms: the difference lies within the score bound, not at 0 +/- 0."""
    from sim.analysis import stats

    zeros = np.zeros(400)
    d = paired_difference(zeros, zeros, share=True)
    bound = stats.wilson_interval(0, 400)[1]  # about 0.95%: z^2 / (n + z^2)
    assert d["difference"] == 0 and d["se"] == 0
    assert d["ci95"] == pytest.approx([-bound, bound])
    assert paired_difference(zeros, zeros)["ci95"] == [0, 0]  # what the normal one said


def test_the_paired_share_interval_is_newcombes_method_10() -> None:
    """Newcombe (1998), Table II, method 10: pairs (36, 12, 2, 0) give 0.0569 to 0.3404."""
    from sim.analysis import stats

    first = np.array([1] * 36 + [1] * 12 + [0] * 2 + [0] * 0, dtype=bool)  # his first proportion
    second = np.array([1] * 36 + [0] * 12 + [1] * 2 + [0] * 0, dtype=bool)
    lo, hi = stats.paired_share_interval(second, first)  # variant minus base: first - second
    assert (round(lo, 4), round(hi, 4)) == (0.0569, 0.3404)
    agree = np.array([True] * 50 + [False] * 50)  # every pair alike, as CRN often gives
    lo, hi = stats.paired_share_interval(agree, agree)
    assert lo < -0.01 and hi > 0.01  # not the point [0, 0] an uncorrected phi = 1 gives


@pytest.mark.parametrize(
    ("p_base", "up", "down", "n"),
    [(0.02, 0.01, 0.0, 200), (0.3, 0.05, 0.05, 200)],  # a rare outcome; a common one
)
def test_paired_share_intervals_cover_the_true_difference(
    p_base: float, up: float, down: float, n: int
) -> None:
    """Pairs as common random numbers make them: the variant flips a few runs either way.

    Newcombe's interval covers at least 95% (less 3 SE of the estimate of its coverage);
    for the rare outcome the normal approximation it replaces covers far less.
    """
    from sim.analysis import stats

    rng = np.random.default_rng(11)
    true = p_base * (1 - down) + (1 - p_base) * up - p_base
    trials, newcombe, normal = 1000, 0, 0
    for _ in range(trials):
        a = rng.random(n) < p_base
        flip = rng.random(n)
        b = np.where(a, flip >= down, flip < up)
        lo, hi = stats.paired_share_interval(a, b)
        newcombe += lo <= true <= hi
        nlo, nhi = paired_difference(a, b)["ci95"]
        normal += nlo <= true <= nhi
    floor = 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)
    assert newcombe / trials >= floor
    if p_base < 0.05:
        assert normal / trials < floor  # about 84%: why the shares changed interval


# --- a comparison -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duel(duel_path: Path) -> Any:
    return load(str(duel_path), LOGIT)


@pytest.fixture(scope="module")
def compared(duel_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("compare")
    return compare(str(duel_path), runs=RUNS, seed=9, out=out, overrides=[*LOGIT, *CHANGE])


def test_both_arms_run_on_the_same_seeds(compared: Any, duel: Any, duel_path: Path) -> None:
    # Left alone, the base here has no logit policies: --set applies to the variant only.
    plain_base = run(str(duel_path), runs=RUNS, seed=9)
    plain_variant = run(str(duel_path), runs=RUNS, seed=9, overrides=[*LOGIT, *CHANGE])
    assert compared.base.runs.equals(plain_base.runs)
    assert compared.variant.runs.equals(plain_variant.runs)


def test_the_summary_holds_paired_differences(compared: Any) -> None:
    s = compared.summary
    a, b = compared.base.runs, compared.variant.runs
    assert s["runs"] == RUNS and s["seed"] == 9
    assert s["variant"]["overrides"] == [*LOGIT, *CHANGE]
    for oid, d in s["outcomes"].items():
        expected = (b["outcome"] == oid).mean() - (a["outcome"] == oid).mean()
        assert d["difference"] == pytest.approx(expected)
        lo, hi = d["ci95"]
        assert lo <= d["difference"] <= hi
    assert s["peak_rung"]["difference"] == pytest.approx(
        b["peak_rung"].mean() - a["peak_rung"].mean()
    )
    assert set(s["costs"]) == {"A", "B"}


def test_the_score_totals_are_paired_like_the_costs(compared: Any) -> None:
    """The paired differences of the escalation scores, recomputed from each arm's moves."""
    from sim.analysis import scoring

    s = compared.summary["scores"]
    assert set(s) == {"goldstein", "rivera"}
    for profile in ("goldstein", "rivera"):
        base = scoring.score_table(compared.base, profile)["total"].to_numpy()
        variant = scoring.score_table(compared.variant, profile)["total"].to_numpy()
        d = variant - base
        assert s[profile]["difference"] == pytest.approx(d.mean())
        assert s[profile]["se"] == pytest.approx(d.std(ddof=1) / np.sqrt(len(d)))
    assert "Escalation score per run" in compared.table()


def test_the_folder_holds_both_arms_and_the_comparison(compared: Any) -> None:
    path = compared.path
    assert path.parent.name == "duel--duel" and path.parent.parent.name == "compare"
    manifest = store.read_manifest(path)
    assert manifest["kind"] == "comparison" and manifest["status"] == "complete"
    assert set(manifest["arms"]) == {"base", "variant"}
    assert manifest["arms"]["variant"]["parameters"]["actors"][0]["policy"]["name"] == "logit"
    assert store.read_summary(path) == compared.summary
    for arm in ("base", "variant"):
        assert store.read_manifest(path / arm)["status"] == "complete"
        assert len(store.read_runs(path / arm)) == RUNS
    text = compared.table()
    assert "Paired comparison on common random numbers" in text and "variance reduction" in text


def test_common_random_numbers_reduce_the_variance(duel: Any, duel_path: Path) -> None:
    variant = load(str(duel_path), [*LOGIT, *CHANGE])
    result = compare(duel, variant, runs=RUNS, seed=9)
    assert result.summary["variance_reduction"]["outcomes"] > 1.5


def test_an_unchanged_variant_is_a_user_error(duel_path: Path) -> None:
    with pytest.raises(UsageError, match="same scenario"):
        compare(str(duel_path), str(duel_path), runs=10)


def test_sim_compare_on_the_named_scenario_and_a_variant(cli: Any, tmp_path: Path) -> None:
    name = "taiwan-flashpoint-2025"
    done = cli("compare", name, f"{name}-lai-transit", "--runs", "6", "--seed", "1",
               "--workers", "1", "--json", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    s = json.loads(done.stdout)
    assert s["base"]["scenario"] == name and s["variant"]["scenario"] == f"{name}-lai-transit"
    assert s["runs"] == 6 and set(s["outcomes"]) >= {"military_crisis", "de_escalated"}
    for d in s["outcomes"].values():
        assert {"difference", "ci95", "se", "se_independent", "variance_reduction"} <= set(d)
    assert "results:" in done.stderr
    same = cli("compare", name, "--runs", "5", cwd=tmp_path)
    assert same.returncode == 2 and "same scenario" in same.stderr


# --- a comparison that stopped ------------------------------------------------------------------


class StoppingAfter:
    """A serial executor that stops like Ctrl-C once it has run ``chunks`` chunks."""

    def __init__(self, chunks: int) -> None:
        self.chunks, self.ran = chunks, 0

    def map(self, fn: Any, chunks: Any) -> Any:
        for chunk in chunks:
            if self.ran >= self.chunks:
                raise KeyboardInterrupt
            self.ran += 1
            yield fn(chunk)


def without_times(summary: Any) -> Any:
    """A comparison's summary without what differs between two runs of it (times, paths)."""
    if isinstance(summary, dict):
        return {k: without_times(v) for k, v in summary.items() if k not in ("generated",)}
    if isinstance(summary, list):
        return [without_times(v) for v in summary]
    return summary


@pytest.mark.parametrize("stopped_in", ["base", "variant"])
def test_a_stopped_comparison_resumes_to_the_uninterrupted_one(
    stopped_in: str, duel_path: Path, compared: Any, tmp_path: Path
) -> None:
    args = {"runs": RUNS, "seed": 9, "overrides": [*LOGIT, *CHANGE], "chunk_size": 10}
    chunks = RUNS // 10 // 2 if stopped_in == "base" else RUNS // 10 + 2
    with pytest.raises(KeyboardInterrupt) as stopped:
        compare(str(duel_path), **args, out=tmp_path, executor=StoppingAfter(chunks))
    (folder,) = (tmp_path / "compare").glob("*/*")
    notes = " ".join(getattr(stopped.value, "__notes__", []))
    assert f"finish them with: sim compare --resume {folder}" in notes, notes
    assert "sim run --resume" not in notes
    assert store.read_manifest(folder)["status"] == "interrupted"
    assert (folder / "variant").exists() == (stopped_in == "variant")
    resumed = compare(resume=folder)
    assert store.read_manifest(folder)["status"] == "complete"
    # The variant, run or finished by the resume, names its --set changes as a fresh one does.
    assert store.read_manifest(folder / "variant")["overrides"] == [*LOGIT, *CHANGE]
    assert without_times(resumed.summary) == without_times(compared.summary)
    assert without_times(store.read_json(folder / "summary.json")) == without_times(
        store.read_json(compared.path / "summary.json")
    )
    with pytest.raises(UsageError, match="already complete"):
        compare(resume=folder)


def test_a_resume_takes_everything_from_the_folder(duel_path: Path, compared: Any) -> None:
    with pytest.raises(UsageError, match="give no base, runs"):
        compare(str(duel_path), runs=5, resume=compared.path)
    with pytest.raises(UsageError, match="not a comparison folder"):
        compare(resume=compared.path / "base")


def test_sim_compare_resume_finishes_a_stopped_comparison(
    cli: Any, duel_path: Path, compared: Any, tmp_path: Path
) -> None:
    args = {"runs": RUNS, "seed": 9, "overrides": [*LOGIT, *CHANGE], "chunk_size": 10}
    with pytest.raises(KeyboardInterrupt):
        compare(str(duel_path), **args, out=tmp_path, executor=StoppingAfter(3))
    (folder,) = (tmp_path / "compare").glob("*/*")
    (folder / "base" / "report.html").write_text("<p>drawn from 30 runs</p>")
    refused = cli("compare", "--resume", str(folder), "--runs", "5", cwd=tmp_path)
    assert refused.returncode == 2 and "give none of them" in refused.stderr
    done = cli("compare", "--resume", str(folder), "--workers", "1", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "/base: removed report.html" in done.stderr  # it showed the attempt that stopped
    assert not (folder / "base" / "report.html").exists()
    assert without_times(json.loads(done.stdout)) == without_times(compared.summary)


class NotStarting:
    """An executor whose workers cannot start (a cluster out of reach)."""

    def __enter__(self) -> NotStarting:
        raise ConnectionError("cannot reach the scheduler")

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, chunks: Any) -> Any:  # pragma: no cover - never started
        raise AssertionError("mapped without starting")


def test_a_resume_that_cannot_start_or_finish_leaves_the_folder_as_it_was(
    duel_path: Path, tmp_path: Path
) -> None:
    args = {"runs": 60, "seed": 9, "overrides": [*LOGIT, *CHANGE], "chunk_size": 10}
    with pytest.raises(KeyboardInterrupt):
        compare(str(duel_path), **args, out=tmp_path, executor=StoppingAfter(8))
    (folder,) = (tmp_path / "compare").glob("*/*")
    (folder / "report.html").write_text("<p>drawn from the stopped attempt</p>")
    before = store.read_manifest(folder)

    def unchanged() -> bool:
        return store.read_manifest(folder) == before and (folder / "report.html").exists()

    with pytest.raises(ConnectionError):
        compare(resume=folder, executor=NotStarting())
    assert unchanged()
    running = {
        **before,
        "status": "running",
        "process": {"pid": os.getppid(), "host": socket.gethostname()},
    }
    store.write_json(folder / "manifest.json", running)  # another live process writes it
    with pytest.raises(UsageError, match="this comparison is still running"):
        compare(resume=folder)
    store.write_json(folder / "manifest.json", before)
    (folder / "variant" / "manifest.json").unlink()  # an arm damaged by hand
    with pytest.raises(UsageError, match="no arm to finish"):
        compare(resume=folder)
    assert unchanged()
