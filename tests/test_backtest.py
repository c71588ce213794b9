"""Backtests: proper scores, the randomized PIT, the timeline reader and ``sim backtest``."""

import datetime as dt
import math
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.analysis import backtest as bt
from sim.analysis import timeline as tl
from sim.analysis.timeline import Kind, TimelineError
from sim.errors import SimWarning, UsageError
from sim.present.backtest import render_backtest

REPO = Path(__file__).resolve().parents[1]
SHARED_TIMELINE = REPO.parent / "shared" / "domain" / "timeline-2025-to-nov6.csv"
HEADER = "date,actor,target,move,cameo_code,goldstein,magnitude,source\n"
SCENARIO = "us-china-tradewar-2025"


# --- CRPS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("c", "y"), [(3.0, 3.0), (3.0, 7.5), (-2.0, 1.0)])
def test_crps_of_a_point_forecast_is_the_absolute_error(c: float, y: float) -> None:
    assert bt.crps_ensemble(np.full(17, c), y) == pytest.approx(abs(c - y))


def test_crps_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(5)
    x, y = rng.poisson(4.0, size=31).astype(float), 6.0
    pairwise = np.mean(np.abs(x - y)) - 0.5 * np.mean(np.abs(x[:, None] - x[None, :]))
    assert bt.crps_ensemble(x, y) == pytest.approx(pairwise, abs=1e-12)


def test_crps_of_a_normal_ensemble_approaches_the_closed_form() -> None:
    # Gneiting and Raftery (2007): CRPS(N(mu, s), y) = s [z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)].
    mu, s, y, m, k = 1.0, 2.0, 2.3, 400, 200
    z = (y - mu) / s
    exact = s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))
    # the empirical-CDF estimator is biased up by E|X - X'| / (2m) = s / (sqrt(pi) m)
    bias = s / (math.sqrt(math.pi) * m)
    rng = np.random.default_rng(11)
    scores = np.array([bt.crps_ensemble(rng.normal(mu, s, m), y) for _ in range(k)])
    se = scores.std(ddof=1) / math.sqrt(k)
    assert abs(scores.mean() - (exact + bias)) < 4 * se


def test_crps_needs_members() -> None:
    with pytest.raises(ValueError):
        bt.crps_ensemble(np.array([]), 1.0)


# --- PIT ----------------------------------------------------------------------------------------


def test_pit_of_a_draw_from_the_ensembles_own_distribution_is_uniform() -> None:
    # A discrete (Poisson) forecast: ties are frequent, so only the randomized PIT is uniform.
    rng = np.random.default_rng(2024)
    k, m = 4000, 60
    pits = np.array(
        [bt.randomized_pit(rng.poisson(2.5, m), rng.poisson(2.5), rng.random()) for _ in range(k)]
    )
    assert abs(pits.mean() - 0.5) < 4 * math.sqrt(1 / 12 / k)
    counts = np.histogram(pits, bins=10, range=(0, 1))[0]
    se = math.sqrt(k * 0.1 * 0.9)
    assert np.all(np.abs(counts - k * 0.1) < 4 * se), counts
    for level in bt.LEVELS:
        inside = np.mean([bt.in_central(p, level) for p in pits])
        assert abs(inside - level) < 4 * math.sqrt(level * (1 - level) / k)


def test_pit_with_censored_members_places_them_after_the_observation() -> None:
    horizon = 100
    first = np.array([10.0, 20.0, 30.0, horizon + 1, horizon + 1])  # two runs never act
    # the record's day 25 lies above two members and below three: rank 2 of 6 slots
    assert bt.randomized_pit(first, 25.0, 0.5) == pytest.approx((2 + 0.5) / 6)
    v = bt.verdict(first, 25.0, 0.5)
    assert v.pit_range == pytest.approx((2 / 6, 3 / 6))


def test_central_intervals_and_coverage() -> None:
    members = np.arange(1, 101, dtype=float)
    assert bt.central_interval(members, 0.5) == (25.0, 75.0)
    assert bt.central_interval(members, 0.9) == (5.0, 95.0)
    assert bt.in_central(0.5, 0.5) and not bt.in_central(0.8, 0.5) and bt.in_central(0.8, 0.9)


# --- kinds of move ------------------------------------------------------------------------------


def row(actor: str, target: str, cameo: str = "163") -> tl.Row:
    return tl.Row(
        2, dt.date(2025, 3, 1), tuple(actor.split(";")), tuple(target.split(";")), "", cameo, 0.0
    )


def test_row_kinds() -> None:
    assert tl.row_kinds(row("USA", "CHN")) == [Kind("USA", "CHN", "163")]
    assert tl.row_kinds(row("USA;CHN", "CHN;USA", "041")) == [Kind("CHN", "USA", "041", joint=True)]
    assert tl.row_kinds(row("USA;JPN", "CHN")) == [
        Kind("USA", "CHN", "163"),
        Kind("JPN", "CHN", "163"),
    ]


def test_joint_count_pairs_mirror_halves_within_the_window() -> None:
    days = np.array([10.0, 12.0, 40.0, 100.0, 130.0])
    forward = np.array([True, False, True, True, False])
    # 10 & 12 pair up; 40 alone; 100 and 130 are 30 days apart: two moves
    assert tl.joint_count(days, forward, window=7.0) == 4
    assert tl.joint_count(np.array([5.0, 5.0]), np.array([True, True])) == 2
    assert tl.joint_count(np.array([]), np.array([], dtype=bool)) == 0


def toy_spec() -> SimpleNamespace:
    lever = SimpleNamespace
    return SimpleNamespace(
        name="toy",
        actor_ids=("USA", "CHN"),
        start=dt.date(2025, 2, 1),
        days=100,
        levers=(
            lever(id="tariff", actor=0, cameo="163", targets=(1,)),
            lever(id="counter", actor=1, cameo="163", targets=(0,)),
            lever(id="call", actor=0, cameo="041", targets=(1,)),
            lever(id="threat", actor=0, cameo="1312", targets=(1,)),
        ),
    )


def test_observe_sorts_rows_against_a_scenario() -> None:
    rows = [
        tl.Row(2, dt.date(2025, 2, 4), ("USA",), ("CHN",), "", "163", -8.0),
        tl.Row(3, dt.date(2025, 3, 4), ("USA",), ("CHN",), "", "163", -8.0),
        tl.Row(4, dt.date(2025, 3, 5), ("USA", "CHN"), ("CHN", "USA"), "", "041", 1.0),
        tl.Row(
            5, dt.date(2025, 3, 9), ("CHN",), ("USA",), "", "041", 1.0
        ),  # folds into the joint kind
        tl.Row(6, dt.date(2025, 3, 9), ("CHN",), ("TWN",), "", "150", -7.2),  # TWN is not an actor
        tl.Row(7, dt.date(2026, 1, 1), ("USA",), ("CHN",), "", "163", -8.0),  # after the horizon
        tl.Row(8, dt.date(2025, 4, 1), ("CHN",), ("USA",), "", "0311", 5.2),  # no lever makes it
    ]
    obs = tl.observe(rows, toy_spec())
    assert set(obs.kinds) == {Kind("USA", "CHN", "163"), Kind("CHN", "USA", "041", joint=True)}
    tariffs = obs.kinds[Kind("USA", "CHN", "163")]
    assert tariffs.count == 2 and tariffs.first == dt.date(2025, 2, 4)
    assert tariffs.levers == ["USA.tariff"]
    assert obs.kinds[Kind("CHN", "USA", "041", joint=True)].count == 2
    assert list(obs.unmodelled) == [Kind("CHN", "USA", "0311")]
    assert [r.line for r in obs.outside_actors] == [6]
    assert [r.line for r in obs.outside_window] == [7]


def test_evaluate_counts_first_days_and_censoring() -> None:
    spec = toy_spec()
    rows = [
        tl.Row(2, dt.date(2025, 2, 4), ("USA",), ("CHN",), "", "163", -8.0),
        tl.Row(3, dt.date(2025, 2, 9), ("USA",), ("CHN",), "", "163", -8.0),
    ]
    moves = pd.DataFrame(
        [
            # run 0: two tariffs, the first on day 3.6 (calendar day 3 = Feb 4)
            {
                "index": 0,
                "day": 3.6,
                "actor": "USA",
                "target": "CHN",
                "cameo": "163",
                "source": "event:x",
            },
            {
                "index": 0,
                "day": 20.0,
                "actor": "USA",
                "target": "CHN",
                "cameo": "163",
                "source": "policy",
            },
            # run 1: a single tariff on day 50, and a threat
            {
                "index": 1,
                "day": 50.2,
                "actor": "USA",
                "target": "CHN",
                "cameo": "163",
                "source": "policy",
            },
            {
                "index": 1,
                "day": 51.0,
                "actor": "USA",
                "target": "CHN",
                "cameo": "1312",
                "source": "policy",
            },
            # run 2: no move at all
        ]
    )
    result = bt.evaluate(spec, tl.observe(rows, spec), moves, runs=3, seed=0)
    (tariffs,) = result.observed
    assert tariffs.observed_count == 2
    assert tariffs.first.observed == 3.0
    assert tariffs.p_never == pytest.approx(1 / 3)
    first, count = bt.simulated(moves, tariffs.kind, [0, 1, 2], spec.days)
    assert first.tolist() == [3.0, 50.0, 101.0]  # the censored run sits the day after the horizon
    assert count.tolist() == [2.0, 1.0, 0.0]
    assert tariffs.scripted == pytest.approx(1 / 3)
    # kinds the scenario makes that the record lacks: the call (never made) and the threat
    labels = [r.kind.label for r in result.unobserved]
    assert labels == ["CHN->USA 163", "USA->CHN 041", "USA->CHN 1312"]
    threat = result.unobserved[-1]
    assert threat.first is None and threat.count.mean == pytest.approx(1 / 3)
    text = render_backtest(result)
    assert "in 50%" in text and "mean CRPS" in text and "USA->CHN 163" in text
    assert result.to_json()["kinds"][0]["first_date"]["observed"] == "2025-02-04"


# --- the timeline reader --------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "timeline.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_codes_as_text_and_joint_actors(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + '2025-05-12,USA;CHN,CHN;USA,"Geneva, joint",057,8.0,,\n')
    (r,) = tl.read_timeline(path)
    assert r.cameo == "057" and r.actors == ("USA", "CHN") and r.line == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "date,actor,move,cameo_code,goldstein\n2025-01-01,USA,x,163,-8\n",
            "missing column(s) target",
        ),
        (HEADER + "2025-13-01,USA,CHN,x,163,-8,,\n", ":2: date '2025-13-01'"),
        (
            HEADER + "2025-02-04,USA,CHN,x,163,-8,,\nyesterday,USA,CHN,x,163,-8,,\n",
            ":3: date 'yesterday'",
        ),
        (HEADER + "2025-02-04,USA,CHN,x,16a,-8,,\n", "cameo_code '16a'"),
        (HEADER + "2025-02-04,,CHN,x,163,-8,,\n", "actor ''"),
        (HEADER + "2025-02-04,USA,CHN,x,163,minus eight,,\n", "goldstein 'minus eight'"),
        (HEADER + "2025-02-04,USA,CHN,x,163,-12,,\n", "goldstein '-12'"),
        (HEADER, "has no rows"),
    ],
)
def test_malformed_timelines_name_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(TimelineError) as info:
        tl.read_timeline(write(tmp_path, text))
    assert message in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_missing_file_is_a_timeline_error(tmp_path: Path) -> None:
    with pytest.raises(TimelineError, match="cannot read"):
        tl.read_timeline(tmp_path / "nope.csv")


# --- end to end ----------------------------------------------------------------------------------


def sim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def timeline(tmp_path: Path) -> Path:
    """The shared timeline when it is beside the repository, else a few of its rows."""
    if SHARED_TIMELINE.exists():
        return SHARED_TIMELINE
    return write(
        tmp_path,
        HEADER
        + "2025-02-04,USA,CHN,tariff,163,-8.0,,\n2025-02-04,CHN,USA,tariff,163,-8.0,,\n"
        + "2025-05-12,USA;CHN,CHN;USA,Geneva,057,8.0,,\n2025-04-02,CHN,TWN,drills,150,-7.2,,\n",
    )


def test_cli_backtest_prints_the_coverage_table(tmp_path: Path) -> None:
    done = sim(
        "backtest", SCENARIO, str(timeline(tmp_path)), "--runs", "30", "--seed", "1", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Backtest of" in out and "30 runs, seed 1" in out
    assert "First date" in out and "Count" in out
    assert "USA->CHN 163" in out and "CHN<->USA 057" in out
    assert "Coverage of the central intervals" in out and "mean CRPS" in out
    assert "Outside the scenario's actors" in out  # the Taiwan rows


def test_cli_backtest_json(tmp_path: Path) -> None:
    import json

    done = sim(
        "backtest", SCENARIO, str(timeline(tmp_path)), "--runs", "10", "--json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["runs"] == 10 and data["kinds"]
    assert set(data["coverage"]) == {"first", "count"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "date,actor,move,cameo_code,goldstein\n2025-01-01,USA,x,163,-8\n",
            "missing column(s) target",
        ),
        (HEADER + "2025-02-30,USA,CHN,x,163,-8,,\n", "date '2025-02-30'"),
    ],
)
def test_cli_malformed_timeline_exits_2_without_traceback(
    tmp_path: Path, text: str, message: str
) -> None:
    done = sim("backtest", SCENARIO, str(write(tmp_path, text)), "--runs", "5", cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and done.stderr.startswith("sim: error:")
    assert "Traceback" not in done.stderr


def test_shipped_scenario_validates_and_matches_the_timeline() -> None:
    from sim.scenario import compile_scenario, load

    spec = compile_scenario(load(SCENARIO))
    if not SHARED_TIMELINE.exists():
        pytest.skip("the shared timeline is not beside the repository")
    obs = tl.observe(tl.read_timeline(SHARED_TIMELINE), spec)
    # every US-China row is matched to a lever; only the Taiwan rows fall outside
    assert not obs.unmodelled and not obs.outside_window
    assert {a for r in obs.outside_actors for a in (*r.actors, *r.targets)} >= {"TWN"}
    assert sum(o.count for o in obs.kinds.values()) == 32


def test_the_scored_window_ends_with_the_record() -> None:
    """Moves after the record's last date are not held against it (a short record, a long run)."""
    spec = toy_spec()
    rows = [
        tl.Row(2, dt.date(2025, 2, 4), ("USA",), ("CHN",), "", "163", -8.0),
        tl.Row(3, dt.date(2025, 2, 9), ("USA",), ("CHN",), "", "163", -8.0),
    ]
    window = tl.record_window(rows, spec)
    assert window == 8
    with pytest.warns(SimWarning, match="past the scenario's end: scoring to its end"):
        assert tl.record_window(rows, spec, dt.date(2030, 1, 1)) == spec.days
    with pytest.raises(UsageError, match=r"is 2024-01-01, before the scenario starts on"):
        tl.record_window(rows, spec, dt.date(2024, 1, 1))
    moves = pd.DataFrame(
        [
            {"index": 0, "day": d, "actor": "USA", "target": "CHN", "cameo": "163", "source": "p"}
            for d in (3.6, 8.9, 9.0, 40.0)
        ]
    )
    result = bt.evaluate(spec, tl.observe(rows, spec, window), moves, runs=1, seed=0, window=window)
    (tariffs,) = result.observed
    assert tariffs.count.mean == 2.0  # days 3 and 8; days 9 and 40 are after the record
    assert result.days == window and "to 2025-02-09 (8 days)" in render_backtest(result)
    full = bt.evaluate(spec, tl.observe(rows, spec), moves, runs=1, seed=0)
    assert full.observed[0].count.mean == 4.0


# --- the ensemble is sim.run's: workers, posterior, named changes -----------------------------

NOV_RECORD = REPO.parent / "shared" / "domain" / "timeline-2025-nov7-25.csv"
CALIBRATED = "taiwan-flashpoint-2025-calibrated"  # names its posterior


def test_a_backtest_on_workers_scores_the_same_runs(tmp_path: Path) -> None:
    from sim.experiments.backtest import backtest

    record = timeline(tmp_path)
    here = backtest(SCENARIO, record, runs=60, seed=4)  # 3 chunks of 25: a pool of 2 runs them
    pooled = backtest(SCENARIO, record, runs=60, seed=4, workers=2)
    assert pooled.to_json() == here.to_json()


def test_a_backtest_of_a_calibrated_scenario_draws_from_its_posterior() -> None:
    """The backtest's runs are `sim run`'s, posterior draws included (not the medians alone)."""
    import sim as api
    from sim.experiments.backtest import backtest
    from sim.scenario import compile_scenario

    if not NOV_RECORD.exists():
        pytest.skip("the shared record is not beside the repository")
    result = backtest(CALIBRATED, NOV_RECORD, runs=30, seed=2)
    assert result.changed["posterior"]["calibration"].endswith("nov7-25")
    ran = api.run(CALIBRATED, runs=30, seed=2)
    spec = compile_scenario(api.load(CALIBRATED))
    rows = tl.read_timeline(NOV_RECORD)
    window = tl.record_window(rows, spec)
    expected = bt.evaluate(spec, tl.observe(rows, spec, window), ran.moves, 30, 2,
                           str(NOV_RECORD), spec.title, window)  # fmt: skip
    got, want = result.to_json(), expected.to_json()
    assert got["kinds"] == want["kinds"] and got["posterior"] is not None


def test_cli_backtest_names_its_changes_in_the_header_and_the_json(tmp_path: Path) -> None:
    import json

    change = "actors.CHN.attributes.resolve=0.5"
    args = ["backtest", SCENARIO, str(timeline(tmp_path)), "--runs", "10", "--set", change]
    done = sim(*args, "--workers", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"({SCENARIO} with --set {change})" in " ".join(done.stdout.split())
    data = json.loads(sim(*args, "--json", "--quiet", cwd=tmp_path).stdout)
    assert data["overrides"] == [change] and data["posterior"] is None


def test_first_dates_within_one_year_read_as_month_and_day_in_one_table() -> None:
    """The year goes to the header, so the table fits in 100 characters, not cut in two."""
    spec = toy_spec()
    rows = [tl.Row(2, dt.date(2025, 2, 4), ("USA",), ("CHN",), "", "163", -8.0)]
    moves = pd.DataFrame(
        [{"index": 0, "day": 3.2, "actor": "USA", "target": "CHN", "cameo": "163", "source": "p"}]
    )
    within = bt.evaluate(spec, tl.observe(rows, spec), moves, runs=1, seed=0)
    text = render_backtest(within)
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("First date"))
    assert "(2025)" in " ".join(lines[at : at + 2])  # the header, wrapped or not
    assert re.search(r"USA->CHN 163 +Feb 4 +Feb 4 +Feb 4 \.\. Feb 4", text)
    assert "2025-02-04 .." not in text and max(map(len, lines)) <= 100
    across = SimpleNamespace(**{**vars(spec), "start": dt.date(2025, 12, 1)})  # into 2026
    later = [tl.Row(2, dt.date(2025, 12, 4), ("USA",), ("CHN",), "", "163", -8.0)]
    text = render_backtest(bt.evaluate(across, tl.observe(later, across), moves, runs=1, seed=0))
    assert re.search(r"USA->CHN 163 +2025-12-04", text)  # dates whole where the year changes
