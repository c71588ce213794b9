"""Calibration: statistics, bad input, the conjugate oracle, recovery, seeding and resuming."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis.calibration import (
    StatisticPlan,
    effective_sample_size,
    record_statistics,
    select,
    weighted_quantiles,
    write_timeline,
)
from sim.analysis.timeline import Row
from sim.errors import SimError
from sim.experiments.calibrate import calibrate, load_calibration, prepare
from sim.experiments.calibration_spec import CalibrationError, resolve_spec

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "data" / "poisson_oracle_calibration.yaml"
DUEL = HERE / "scenarios" / "calibration_duel.yaml"
DOMAIN = HERE.parents[1] / "shared" / "domain"
if not DOMAIN.is_dir():  # a worktree beside the main checkout
    DOMAIN = Path("/work/shared/domain")
NOV = DOMAIN / "timeline-2025-nov7-25.csv"
NAMED = "taiwan-flashpoint-2025"


def move(day: float, actor: str, target: str, cameo: str) -> SimpleNamespace:
    return SimpleNamespace(day=day, actor=actor, target=target, cameo=cameo)


def row(line: int, date: str, actors: str, targets: str, cameo: str) -> Row:
    return Row(
        line, dt.date.fromisoformat(date), tuple(actors.split(";")), tuple(targets.split(";")),
        "m", cameo, -2.0,
    )  # fmt: skip


# --- statistics ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def duel_spec():
    import sim
    from sim.scenario import compile_scenario

    return compile_scenario(sim.load(str(HERE / "scenarios" / "duel.yaml")))


def test_statistics_read_the_record_by_cameo_root_and_fold_joint_rows(duel_spec) -> None:
    rows = [
        row(2, "2025-01-03", "A", "B", "1383"),  # root 13: A's threaten lever is 130
        row(3, "2025-01-05", "A", "B", "130"),
        row(4, "2025-01-06", "A;B", "B;A", "041"),  # joint call
        row(5, "2025-01-20", "B", "A", "041"),  # folds into the joint kind
        row(6, "2025-02-25", "B", "A", "111"),  # after the window (Jan 31)
    ]
    found, obs = record_statistics(rows, duel_spec, window=30, level="root")
    by_name = {s.name: s for s in found}
    assert by_name["first:A->B 13"].observed == 2 and by_name["count:A->B 13"].observed == 2
    assert by_name["first:A<->B 04"].observed == 5 and by_name["count:A<->B 04"].observed == 2
    assert by_name["count:B->A 11"].observed == 0 and not by_name["count:B->A 11"].in_record
    assert by_name["first:B->A 11"].observed == 31  # never within the window: censored
    assert [r.line for r in obs.outside_window] == [6]
    codes, _ = record_statistics(rows, duel_spec, window=30, level="code")
    assert "count:A->B 1383" not in {s.name for s in codes}  # no lever makes 1383 exactly


def test_a_runs_statistics_count_joint_halves_once_and_stop_at_the_window(duel_spec) -> None:
    rows = [row(2, "2025-01-06", "A;B", "B;A", "041"), row(3, "2025-01-03", "A", "B", "130")]
    found, _ = record_statistics(rows, duel_spec, window=30, level="root", unobserved=False)
    plan = StatisticPlan(found, 30, "root", [])
    moves = [
        move(2.5, "A", "B", "041"),
        move(4.0, "B", "A", "041"),  # the other half, within 7 days: one joint move
        move(20.0, "B", "A", "041"),
        move(1.2, "A", "B", "138"),
        move(30.9, "A", "B", "130"),  # day 30 is in the window
        move(31.0, "A", "B", "130"),  # day 31 is not
    ]
    values = dict(zip(plan.names, plan.of_moves(moves), strict=True))
    assert values == {
        "first:A<->B 04": 2.0,
        "count:A<->B 04": 2.0,
        "first:A->B 13": 1.0,
        "count:A->B 13": 2.0,
    }
    empty = dict(zip(plan.names, plan.of_moves([]), strict=True))
    assert empty["first:A->B 13"] == 31.0 and empty["count:A->B 13"] == 0.0


def test_selecting_statistics_by_pattern_and_unknown_names(duel_spec) -> None:
    rows = [row(2, "2025-01-03", "A", "B", "130")]
    found, _ = record_statistics(rows, duel_spec, window=30)
    assert {s.name for s in select(found, include=["count:A->B 13"])} == {"count:A->B 13"}
    assert all(s.measure == "count" for s in select(found, measures=["count"]))
    with pytest.raises(SimError, match="names no statistic.*closest: count:A->B 19"):
        select(found, include=["count:A->B 31"])


def test_weighted_quantiles_and_ess_agree_with_pyabc() -> None:
    from pyabc.weighted_statistics import weighted_quantile

    rng = np.random.default_rng(3)
    x, w = rng.normal(size=200), rng.random(200)
    w /= w.sum()
    for q in (0.05, 0.5, 0.95):
        assert weighted_quantiles(x, w, [q])[0] == pytest.approx(weighted_quantile(x, w, alpha=q))
    assert effective_sample_size(np.ones(50)) == pytest.approx(50)
    assert effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1)


# --- bad input: a clear error before anything runs --------------------------------------------


def named(**fields):
    base = {
        "timeline": str(NOV),
        "parameters": {"actors.CHN.attributes.resolve": "uniform(0.4, 0.95)"},
        "check": 0,
    }
    return resolve_spec(NAMED, {**base, **fields})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"parameters": {"actors.CHN.attributes.resolv": "0.3:0.9"}}, "closest: resolve"),
        (
            {"parameters": {"actors.CHN.attributes.resolve": "uniform(0.3, 1.9)"}},
            r"reaches 1.9 \(its high end\): actors.CHN.attributes.resolve: Input should be less",
        ),
        (
            {"parameters": {"events.arms_sale_notification.rate_per_year": "gamma(2, 0.0001)"}},
            "rate_per_year: Input should be less than or equal to 3650",
        ),
        ({"parameters": {"title": "0:1"}}, "not a number"),
        ({"statistics": {"include": ["count:CHN->JPX 16"]}}, "closest: count:CHN->JPN 16"),
        ({"statistics": {"weights": {"first:nothing*": 2.0}}}, "names no statistic"),
        ({"ignore_actors": ["RUS"]}, "RUS appear in neither"),
        ({"distance": {"max_weight_ratio": 0.5}}, "max_weight_ratio: Input should be greater"),
        (
            {"parameters": {"actors.CHN.policy.params.package": "uniform(0.5, 3.4)"}},
            r"reaches 0.5, rounded to 0 \(its low end\).*greater than or equal to 1",
        ),
    ],
)
def test_bad_calibrations_fail_before_any_run(fields, message) -> None:
    with pytest.raises(SimError, match=message):
        prepare(named(**fields))


def test_a_record_naming_an_actor_the_scenario_lacks_is_refused(tmp_path) -> None:
    spec = resolve_spec(
        "us-china-tradewar-2025",
        {
            "timeline": str(DOMAIN / "timeline-2025-to-nov6.csv"),
            "parameters": {"actors.CHN.attributes.resolve": "0.3:0.9"},
        },
    )
    with pytest.raises(CalibrationError, match=r"TWN on lines 7, 21, 24.*--ignore-actor TWN"):
        prepare(spec)
    kept = prepare(spec.model_copy(update={"ignore_actors": ["TWN"]}))
    assert kept.plan.names


SHIPPED = ("calibrations/taiwan-nov7-25", "calibrations/taiwan-nov7-25-screen")


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_calibration_files_refuse_bad_input_before_any_run(name, tmp_path) -> None:
    """The shipped calibration and its screen go through the same checks: a prior outside a
    field's range, an unknown statistic, a record naming an actor the scenario lacks."""
    from sim.experiments.calibration_screen import screen

    share = {"relations.us_japan_treaty.offense_share": "uniform(0.1, 1.5)"}
    with pytest.raises(CalibrationError, match=r"reaches 1.5 \(its high end\).*less than or"):
        prepare(resolve_spec(name, {"parameters": share}))
    with pytest.raises(SimError, match="closest: count:CHN->JPN 16"):
        screen(name, points=2, runs=1, statistics={"include": ["count:CHN->JPX 16"]})
    record = tmp_path / "record.csv"
    record.write_text(
        NOV.read_text(encoding="utf-8") + "2025-11-20,RUS,JPN,joint patrol,150,-7.2,,x\n",
        encoding="utf-8",
    )
    with pytest.raises(CalibrationError, match=r"RUS on line 40.*--ignore-actor RUS"):
        prepare(resolve_spec(name, {"timeline": str(record)}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("parameters:\n  a.b: beta(1, 2)\n", "unknown distribution 'beta'"),
        ("parameters:\n  a.b: 0.5\n", "expected a prior such as uniform"),
        ("parameters:\n  a.b: {dist: uniform, low: 1, high: 0}\n", "low .1. must be below high"),
        ("parameters:\n  a.b: 0:1\npopulation: 3\n", ":5: population: Input should be greater"),
    ],
)
def test_bad_calibration_files_name_the_line_and_field(tmp_path, text, message) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"scenario: {NAMED}\ntimeline: {NOV}\n{text}")
    with pytest.raises(CalibrationError, match=message):
        resolve_spec(str(path), {})


def test_the_cli_reports_bad_input_without_a_traceback(capsys) -> None:
    from sim.cli import main

    code = main(
        ["calibrate", NAMED, str(NOV), "--param", "actors.CHN.attributes.resolve=1:2", "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("sim: error: calibration parameter") and "Trace" not in err


def test_a_policy_parameter_has_its_rules_default_and_type() -> None:
    """A policy parameter the scenario leaves at its default is the rule's default (the
    judgment the predictive check runs), and an integer one is drawn rounded."""
    priors = {
        "actors.CHN.policy.params.action_cost": "uniform(0.1, 2)",
        "actors.CHN.policy.params.package": "uniform(0.51, 3.49)",
    }
    problem = prepare(named(parameters=priors, truncate=False))
    assert problem.judgment == [0.8, 1.0]  # sim/policies/logit.py's defaults
    assert problem.integer == ["actors.CHN.policy.params.package"]
    model = problem.model()
    assert model.variants.document([0.8, 2.6])["actors"][0]["policy"]["params"] == {
        "action_cost": 0.8,
        "package": 3,
    }


def test_the_distance_bounds_the_weight_of_a_kind_that_almost_never_happens() -> None:
    """pyabc's bound on the scale weights: no statistic weighs more than R times the least."""
    from sim.experiments.calibrate import build_abc

    problem = prepare(named(distance={"max_weight_ratio": 10}, truncate=False))
    distance = build_abc(problem, sampler=None).distance_function
    assert distance.max_scale_weight_ratio == 10


# --- a shortened horizon leaves the window's moves as they were -------------------------------


def test_the_named_scenario_is_simulated_only_as_far_as_the_window_needs() -> None:
    """The clock stops 60 days after the window; the visit stays scheduled (its run-up and
    outside hazard reach back into the window) and is simply not reached."""
    problem = prepare(named())
    assert problem.simulated_days < problem.full_days
    assert problem.horizon_note.startswith("shortened")
    model = problem.model()
    assert model.days == problem.simulated_days
    assert any(e["id"] == "beijing_visit" for e in problem.data["events"])


def test_a_shortened_run_that_makes_other_moves_keeps_the_full_horizon(monkeypatch) -> None:
    """The check is live: a shortening that also drops the events (as cutting the document
    would drop the visit) changes the window's moves, and the full horizon is kept."""
    import dataclasses

    from sim.experiments import calibration_problem as module

    def without_events(spec, days):
        return dataclasses.replace(spec, days=days, events=()) if days else spec

    monkeypatch.setattr(module, "stopped_at", without_events)
    problem = prepare(named())
    assert problem.simulated_days == problem.full_days
    assert "other moves in the window" in problem.horizon_note


# --- the conjugate oracle -----------------------------------------------------------------


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    out = tmp_path_factory.mktemp("oracle")
    return calibrate(str(ORACLE), out=str(out), name="oracle")


@pytest.mark.slow
def test_the_conjugate_oracle_matches_the_gamma_posterior(oracle) -> None:
    # Gamma(4, 0.5) prior, 11 events in one year: Gamma(15, 1.5) posterior. At epsilon 0 on
    # the (sufficient) count, ABC is exact; the tolerance is 4 standard errors of the
    # weighted particles (ESS).
    exact = stats.gamma(15, scale=1 / 1.5)
    values, weights = oracle.posterior()
    x = values.iloc[:, 0].to_numpy()
    mean = float(np.dot(weights, x))
    sd = math.sqrt(float(np.dot(weights, (x - mean) ** 2)))
    ess = effective_sample_size(weights)
    assert oracle.summary["epsilon"] == 0
    assert abs(mean - exact.mean()) < 4 * exact.std() / math.sqrt(ess)
    assert abs(sd - exact.std()) < 4 * exact.std() / math.sqrt(2 * ess)
    post = oracle.summary["parameters"][0]["posterior"]
    assert post["lo"] < exact.ppf(0.05) + 1.5 and post["hi"] > exact.ppf(0.95) - 1.5


@pytest.mark.slow
def test_a_calibration_folder_holds_what_it_says(oracle) -> None:
    folder = oracle.path
    names = {p.name for p in folder.iterdir()}
    assert {"manifest.json", "summary.json", "calibration.json", "abc.db"} <= names
    assert {"generations.parquet", "particles.parquet", "scales.json"} <= names
    reopened = load_calibration(folder)
    pd.testing.assert_frame_equal(reopened.particles, oracle.particles)
    assert reopened.status == "complete"
    manifest = reopened.summary and __import__("json").loads((folder / "manifest.json").read_text())
    assert manifest["environment"]["pyabc"] and manifest["spec"]["population"] == 200
    gens = oracle.generations
    assert list(gens["generation"]) == list(range(len(gens)))
    assert (gens["ess"] <= 200 + 1e-9).all() and (gens["acceptance"] <= 1).all()
    assert oracle.summary["simulations"] == gens["simulations_total"].iloc[-1]


def test_force_knows_the_files_of_a_calibration_folder() -> None:
    from sim.experiments import calibration_folder as module
    from sim.results import files

    assert set(module.FILES) <= files.RESULT_ENTRIES


# --- seeding and resuming ------------------------------------------------------------------

SMALL = {"population": 60, "stop": {"generations": 2}, "seed": 5}


def small_oracle(**kwargs):
    return calibrate(str(ORACLE), **SMALL, **kwargs)


@pytest.fixture(scope="module")
def small():
    return small_oracle()


@pytest.mark.slow
def test_the_same_seed_gives_the_same_posterior_and_another_seed_another(small) -> None:
    a, b = small, small_oracle()
    pd.testing.assert_frame_equal(a.particles, b.particles)
    pd.testing.assert_frame_equal(
        a.generations.drop(columns="seconds"), b.generations.drop(columns="seconds")
    )
    c = calibrate(str(ORACLE), **{**SMALL, "seed": 6})
    assert not c.particles.equals(a.particles)


@pytest.mark.slow
def test_two_workers_give_the_posterior_of_one(small) -> None:
    one, two = small, small_oracle(workers=2)
    pd.testing.assert_frame_equal(one.particles, two.particles)
    assert list(one.generations["simulations"]) == list(two.generations["simulations"])


def test_an_interrupted_calibration_resumes_to_the_uninterrupted_result(small, tmp_path) -> None:
    whole = small

    def stop_after_first(row):
        if row["generation"] == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        small_oracle(out=str(tmp_path), name="cut", callback=stop_after_first)
    assert "sim calibrate --resume" in "".join(info.value.__notes__)
    folder = tmp_path / "poisson_oracle" / "cut"
    assert load_calibration(folder).status == "interrupted"
    resumed = calibrate(resume=str(folder))
    pd.testing.assert_frame_equal(resumed.particles, whole.particles)
    assert resumed.status == "complete"


# --- recovery: known values inside the 90% credible intervals ---------------------------------

REPETITIONS = 4
RECOVERY_PRIORS = {
    "events.provocation.rate_per_year": "loguniform(10, 100)",
    "actors.B.attributes.resolve": "uniform(0.1, 0.9)",
}


def synthetic_record(truth, seed, path):
    import sim
    from sim.engine import simulate
    from sim.experiments.variants import Variants

    scenario = sim.load(str(DUEL))
    spec = Variants(scenario.model_dump(mode="json"), list(RECOVERY_PRIORS)).spec(truth)
    record = simulate(spec, np.random.SeedSequence(seed))
    write_timeline(record.moves, spec.start, path)
    return spec.start + dt.timedelta(days=spec.days)


@pytest.mark.slow
def test_recovery_known_values_fall_in_the_credible_intervals(tmp_path) -> None:
    # Truths drawn from the prior, so each 90% interval covers its truth with probability
    # 0.9 (at least, for an ABC posterior); over REPETITIONS x 2 intervals the count covered
    # must not fall 4 standard errors below that (docs/calibration.md: 21 of 24 over 12
    # repetitions). The posterior must also have learnt: intervals narrower than the prior's.
    rng = np.random.default_rng(2025)
    covered, ratios = 0, []
    for rep in range(REPETITIONS):
        truth = [float(np.exp(rng.uniform(np.log(10), np.log(100)))), float(rng.uniform(0.1, 0.9))]
        timeline = tmp_path / f"record-{rep}.csv"
        end = synthetic_record(truth, 100 + rep, timeline)
        result = calibrate(
            str(DUEL), str(timeline), parameters=RECOVERY_PRIORS, until=end, population=100,
            stop={"generations": 4}, seed=rep, check=0, statistics={"measures": ["count"]},
        )  # fmt: skip
        for value, p in zip(truth, result.summary["parameters"], strict=True):
            post, prior = p["posterior"], p["prior"]
            covered += post["lo"] <= value <= post["hi"]
            ratios.append((post["hi"] - post["lo"]) / (prior["hi"] - prior["lo"]))
    m = 2 * REPETITIONS
    assert covered >= 0.9 * m - 4 * math.sqrt(m * 0.9 * 0.1), (covered, ratios)
    assert np.mean(ratios) < 0.75, ratios


# --- the Sobol screen: which parameters the record can inform ---------------------------------


def test_the_screen_ranks_what_the_record_informs_above_an_inert_parameter(tmp_path) -> None:
    """The provocation rate and B's resolve drive B's answers; A's resolve does nothing (A
    follows a script): its total index on the distance must lie below theirs, beyond the
    bootstrap intervals."""
    from sim.experiments.calibration_screen import screen

    timeline = tmp_path / "record.csv"
    end = synthetic_record([40.0, 0.6], 7, timeline)
    priors = {**RECOVERY_PRIORS, "actors.A.attributes.resolve": "uniform(0.1, 0.9)"}
    found = screen(
        str(DUEL), timeline=str(timeline), parameters=priors, until=end, points=32, runs=4,
        resamples=200, seed=3, statistics={"measures": ["count"]},
    )  # fmt: skip
    rows = found.table[found.table["outcome"] == "distance"].set_index("parameter")
    inert = rows.loc["actors.A.attributes.resolve"]
    for path in RECOVERY_PRIORS:
        assert rows.loc[path, "ST_lo"] > inert["ST_hi"], rows
    assert found.simulations == 32 * (3 + 2) * 4
    assert set(found.frame().columns) >= {*priors, "distance", "moves"}
    text = found.render()
    assert "Sobol indices of distance" in text
    # the priors and the rankings name the parameters by label, the legend by path, once
    assert "   1  provocation: rate per year  " in text and "  Beta: resolve  " in text
    lines = text.splitlines()
    assert [line for line in lines if "actors.B.attributes.resolve" in line] == [
        "  Beta: resolve = actors.B.attributes.resolve"
    ]
