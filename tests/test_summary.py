"""The ensemble summary: outcome shares, peak rungs, survival times, costs, levers, quantiles."""

import datetime as dt
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.analysis import stats
from sim.analysis.summary import (
    Tally,
    build_summary,
    daily_quantiles,
    lever_summary,
    outcome_summary,
    peak_rung_summary,
    reach_times,
    time_to_rung,
)
from sim.engine.record import MoveRecord
from sim.present.summary import render_summary
from sim.results.store import json_text

RUNGS = ("calm", "friction", "sanctions", "military signalling", "clash")


def make_spec(days: int = 10) -> SimpleNamespace:
    return SimpleNamespace(
        name="toy",
        title="A toy scenario",
        start=dt.date(2025, 11, 7),
        days=days,
        actor_ids=("cn", "jp"),
        actor_names={"cn": "China", "jp": "Japan"},
        rung_names=RUNGS,
        outcome_ids=("calm", "rivalry", "crisis", "war"),
        outcome_labels={
            "calm": "De-escalated",
            "rivalry": "Rivalry",
            "crisis": "Crisis",
            "war": "War",
        },
        watch_rung=3,
        cost_unit="bn USD",
    )


def make_runs(firsts: list[list[float]], end_day: float = 10.0, **extra: list) -> pd.DataFrame:
    """A runs table; ``firsts[i]`` is run i's first day at rungs 1..4 (nan: never)."""
    n = len(firsts)
    peaks = [max([0] + [k + 1 for k, d in enumerate(row) if not math.isnan(d)]) for row in firsts]
    outcome = ["calm" if p == 0 else "rivalry" if p < 3 else "crisis" for p in peaks]
    frame = pd.DataFrame(
        {
            "index": range(n),
            "outcome": outcome,
            "peak_rung": peaks,
            "final_rung": peaks,
            "end_day": [end_day] * n,
            "ended_early": [False] * n,
            "cost_cn": np.linspace(1.0, 2.0, n),
            "cost_jp": np.zeros(n),
            "moves_cn": np.arange(n) % 3,
            "moves_jp": [1] * n,
            "simpy_events": [100] * n,
        }
    )
    for k in range(1, 5):
        frame[f"first_day_rung_{k}"] = [row[k - 1] for row in firsts]
    for key, values in extra.items():
        frame[key] = values
    return frame


NAN = math.nan


def test_outcomes_cover_every_class_in_spec_order_with_zeros() -> None:
    spec = make_spec()
    out = outcome_summary(spec, np.array(["crisis", "calm", "calm", "rivalry"]))
    assert list(out) == ["calm", "rivalry", "crisis", "war"]
    assert out["calm"]["count"] == 2 and out["calm"]["p"] == 0.5
    assert out["war"]["count"] == 0 and out["war"]["p"] == 0.0
    assert out["war"]["ci95"][0] == 0.0 and 0 < out["war"]["ci95"][1] < 1
    assert out["calm"]["label"] == "De-escalated"
    assert math.isclose(out["calm"]["se"], math.sqrt(0.25 / 4))
    assert sum(o["p"] for o in out.values()) == pytest.approx(1.0)
    for o in out.values():
        assert o["ci95"][0] <= o["p"] <= o["ci95"][1]


def test_unknown_outcomes_are_an_error_not_dropped() -> None:
    with pytest.raises(ValueError, match="nonsense"):
        outcome_summary(make_spec(), np.array(["calm", "nonsense"]))


def test_peak_rung_distribution_names_every_rung() -> None:
    peak = peak_rung_summary(make_spec(), np.array([0, 1, 1, 3]))
    assert [d["name"] for d in peak["distribution"]] == list(RUNGS)
    assert [d["count"] for d in peak["distribution"]] == [1, 2, 0, 1, 0]
    assert peak["mean"] == pytest.approx(1.25)
    assert peak["quantiles"]["q50"] == 1.0


def test_reaching_a_higher_rung_counts_as_reaching_the_lower_ones() -> None:
    runs = make_runs([[NAN, NAN, 4.0, NAN], [1.0, 2.0, NAN, NAN], [NAN, NAN, NAN, NAN]])
    durations, observed = reach_times(make_spec(), runs, 2)
    assert durations.tolist() == [4.0, 2.0, 10.0]
    assert observed.tolist() == [True, True, False]


def test_time_to_rung_matches_the_empirical_median_without_censoring() -> None:
    days = [1.0, 2.0, 3.0, 5.0, 8.0]
    runs = make_runs([[NAN, NAN, d, NAN] for d in days])
    km = time_to_rung(make_spec(), runs, 3)
    assert km["median"] == 3.0
    assert km["events"] == 5 and km["censored"] == 0
    assert km["p_by_end"] == pytest.approx(1.0)
    assert km["name"] == "military signalling"


def test_time_to_rung_censors_runs_that_never_get_there() -> None:
    runs = make_runs([[NAN, NAN, 2.0, NAN]] + [[NAN] * 4] * 3)
    km = time_to_rung(make_spec(), runs, 3)
    assert km["median"] is None  # three quarters never get there
    assert km["censored"] == 3
    assert km["p_by_end"] == pytest.approx(0.25)


def test_daily_quantiles_are_rungs_from_the_inverted_cdf() -> None:
    # One day, 10 runs: 5 at rung 0, 4 at rung 1, 1 at rung 4.
    hist = np.array([[5, 4, 0, 0, 1]])
    q = daily_quantiles(hist)
    assert q["q05"] == [0] and q["q50"] == [0] and q["q75"] == [1] and q["q95"] == [4]
    assert q["mean"] == [pytest.approx(0.8)]
    assert daily_quantiles(np.zeros((1, 5), dtype=int))["q50"] == [None]


def moves_for(rng: np.random.Generator, n: int) -> list[MoveRecord]:
    levers = [("cn", "seafood_ban"), ("cn", "travel_advisory"), ("jp", "protest")]
    picks = rng.integers(0, len(levers), n)
    return [
        MoveRecord(
            float(d), a, "jp" if a == "cn" else "cn", lv, 2, "163", -8.0, 1.0, "escalate", "policy"
        )
        for d, (a, lv) in zip(
            np.sort(rng.uniform(0, 10, n)), (levers[i] for i in picks), strict=True
        )
    ]


def test_tallies_add_up_and_can_be_rebuilt_from_tables() -> None:
    rng = np.random.default_rng(0)
    whole, parts = Tally(10, 5), [Tally(10, 5), Tally(10, 5)]
    move_rows, trajectories = [], []
    for i in range(20):
        moves = moves_for(rng, int(rng.integers(0, 6)))
        traj = rng.integers(0, 5, size=(3, 11)).astype(np.int8)
        whole.add_run(moves, traj.max(axis=0))
        parts[i % 2].add_run(moves, traj.max(axis=0))
        move_rows += [{"index": i, "actor": m.actor, "lever": m.lever} for m in moves]
        trajectories.append(traj)
    parts[0].merge(parts[1])
    rebuilt = Tally.from_tables(pd.DataFrame(move_rows), np.stack(trajectories), 5)
    for other in (parts[0], rebuilt):
        assert np.array_equal(other.daily, whole.daily)
        assert other.lever_runs == whole.lever_runs
        assert other.lever_uses == whole.lever_uses
        assert other.n == whole.n == 20
    assert (whole.daily.sum(axis=1) == 20).all()


def test_build_summary_is_strict_json_with_every_key() -> None:
    spec = make_spec()
    runs = make_runs([[1.0, NAN, 3.0, NAN], [NAN] * 4, [0.5, 2.0, NAN, NAN]])
    tally = Tally(spec.days, len(RUNGS))
    tally.add_run(moves_for(np.random.default_rng(1), 4), np.zeros(11, dtype=np.int8))
    summary = build_summary(spec, runs, tally, seed=5, title=spec.title)
    for key in (
        "scenario", "title", "runs", "seed", "start", "end", "outcomes", "peak_rung",
        "time_to_rung", "days_to_watch_rung", "costs", "levers", "daily_rung_quantiles",
        "ended_early",
    ):  # fmt: skip
        assert key in summary
    assert summary["end"] == "2025-11-17"
    assert list(summary["time_to_rung"]) == ["1", "2", "3", "4"]
    assert summary["days_to_watch_rung"]["rung"] == 3
    assert summary["costs"]["cn"]["mean"] == pytest.approx(1.5)
    cn_levers = summary["levers"]["cn"]
    assert all(0 < lv["share_runs"] <= 1 for lv in cn_levers)
    assert cn_levers == sorted(cn_levers, key=lambda r: -r["runs_used"])
    parsed = json.loads(json_text(summary))
    assert parsed["outcomes"]["war"]["count"] == 0


def test_a_single_run_gives_null_not_nan() -> None:
    spec = make_spec()
    runs = make_runs([[1.0, NAN, NAN, NAN]])
    summary = build_summary(spec, runs, Tally(spec.days, 5), seed=0)
    text = json_text(summary)
    assert "NaN" not in text
    assert json.loads(text)["costs"]["cn"]["se"] is None


def test_outcome_shares_are_within_4_se_of_the_truth() -> None:
    # Simulated draws from known probabilities: the estimate must sit within 4 SE.
    rng = np.random.default_rng(42)
    truth = {"calm": 0.2, "rivalry": 0.5, "crisis": 0.3, "war": 0.0}
    draws = rng.choice(list(truth), size=4000, p=list(truth.values()))
    out = outcome_summary(make_spec(), draws)
    for oid, p in truth.items():
        se = math.sqrt(p * (1 - p) / 4000)
        assert abs(out[oid]["p"] - p) <= 4 * se + 1e-12


def test_tables_render_every_section() -> None:
    spec = make_spec()
    runs = make_runs([[1.0, NAN, 3.0, NAN], [NAN] * 4, [0.5, 2.0, NAN, NAN]])
    tally = Tally(spec.days, 5)
    tally.add_run(moves_for(np.random.default_rng(1), 4), np.zeros(11, dtype=np.int8))
    summary = json.loads(json_text(build_summary(spec, runs, tally, seed=5, title=spec.title)))
    text = render_summary(summary)
    for expected in (
        "A toy scenario (toy)", "De-escalated", "95% CI", "military signalling", "censored",
        "China", "in bn USD", "Most used levers",
    ):  # fmt: skip
        assert expected in text
    assert stats.quantile_key(0.5) == "q50"


def test_an_interval_without_an_upper_end_says_so_not_0_to_dash() -> None:
    """Issue 18, item 7: a median day whose upper bound lies beyond the horizon reads '>= d'."""
    from sim.present.summary import median_span, time_to_rung_table

    assert median_span([0.0, None]) == ">= 0"
    assert median_span([3.0, 12.0]) == "3 to 12"
    assert median_span(None) == median_span([None, None]) == "-"
    spec = make_spec()
    # Rung 1 reached by two runs of three on days 1 and 0.5, rung 2 by one: their medians'
    # upper bounds are never reached within the horizon.
    runs = make_runs([[1.0, NAN, 3.0, NAN], [NAN] * 4, [0.5, 2.0, NAN, NAN]])
    tally = Tally(spec.days, 5)
    summary = json.loads(json_text(build_summary(spec, runs, tally, seed=5)))
    table = time_to_rung_table(summary)
    assert table is not None
    text = table.text()
    assert " to -" not in text and "-  to" not in text
    spans = [row[-1] for row in table.rows]
    assert any(s.startswith(">= ") for s in spans), spans
    assert "upper end lies beyond the horizon" in text


# --- standard errors wherever a number is shown -------------------------------------------


def test_greenwood_se_matches_scipys_linear_band() -> None:
    from scipy import stats as sps

    from sim.analysis.summary import greenwood_se

    rng = np.random.default_rng(5)
    t = rng.exponential(30.0, 400)
    censor = rng.uniform(0, 80, 400)
    durations, observed = np.minimum(t, censor), t <= censor
    sf = sps.ecdf(sps.CensoredData(uncensored=durations[observed], right=durations[~observed])).sf
    band = sf.confidence_interval(method="linear")
    at = 25.0  # S(25) is near 0.45, so the linear band is not clipped at 0 or 1.
    se_scipy = (band.high.evaluate(at) - band.low.evaluate(at)) / (2 * stats.Z95)
    assert greenwood_se(durations, observed, at) == pytest.approx(se_scipy, rel=1e-9)
    # Without censoring before t, Greenwood's SE is the binomial SE of the share surviving.
    full = rng.uniform(0, 10, 300)
    p = (full > 5).mean()
    assert greenwood_se(full, np.ones(300, bool), 5.0) == pytest.approx(
        math.sqrt(p * (1 - p) / 300)
    )


def test_every_share_and_mean_in_the_summary_has_a_standard_error() -> None:
    spec = make_spec()
    runs = make_runs([[1.0, NAN, 3.0, NAN], [NAN] * 4, [0.5, 2.0, NAN, NAN], [2.0, NAN, NAN, NAN]])
    tally = Tally(spec.days, len(RUNGS))
    rng = np.random.default_rng(1)
    uses = []
    for _ in range(4):
        moves = moves_for(rng, int(rng.integers(0, 6)))
        tally.add_run(moves, np.zeros(11, dtype=np.int8))
        uses.append(sum(1 for m in moves if (m.actor, m.lever) == ("cn", moves[0].lever))
                    if moves else 0)  # fmt: skip
    s = build_summary(spec, runs, tally, seed=5)
    for row in s["peak_rung"]["distribution"]:
        assert row["se"] == pytest.approx(math.sqrt(row["p"] * (1 - row["p"]) / 4))
    for w in s["time_to_rung"].values():
        assert "p_by_end_se" in w and w["p_by_end_se"] >= 0
    for levers in s["levers"].values():
        for lv in levers:
            p = lv["share_runs"]
            assert lv["share_runs_se"] == pytest.approx(math.sqrt(p * (1 - p) / 4))
            assert lv["mean_uses_se"] >= 0
    assert s["failures"] == {"count": 0, "replications": 4, "share": 0.0, "examples": []}


def test_mean_uses_se_is_the_se_of_the_per_run_counts() -> None:
    tally = Tally(3, 2)
    counts = [0, 2, 5, 1, 1]
    for c in counts:
        moves = [MoveRecord(0.0, "cn", "jp", "ban", 1, "163", -8.0, 1.0, "escalate", "policy")] * c
        tally.add_run(moves, np.zeros(4, dtype=np.int8))
    (row,) = lever_summary(make_spec(), tally, 5, {})["cn"]
    assert row["mean_uses"] == pytest.approx(np.mean(counts))
    assert row["mean_uses_se"] == pytest.approx(np.std(counts, ddof=1) / math.sqrt(5))
    frame = pd.DataFrame(
        [
            {"index": i, "actor": "cn", "lever": "ban"}
            for i, c in enumerate(counts)
            for _ in range(c)
        ]
    )
    rebuilt = Tally(3, 2)
    rebuilt.add_moves(frame)
    assert rebuilt.lever_sq == tally.lever_sq and rebuilt.lever_uses == tally.lever_uses


# --- a statistic declared once: every reader of the runs table reports it --------------------

LOGIT = ["actors.A.policy.name=logit", "actors.B.policy.name=logit"]


def test_moves_per_actor_reach_the_summary_the_comparison_and_the_sweep(duel_path) -> None:
    """Moves per actor is one Section of sim/analysis/measures.py, and nothing else.

    Its numbers are counted again here from the moves tables, independently of the runs
    table's ``moves_<actor>`` columns the measure reads.
    """
    import sim
    from sim.present.comparison import render_comparison
    from sim.scenario import load

    def per_actor(results) -> dict[str, np.ndarray]:
        counts = results.moves.groupby(["index", "actor"]).size().unstack(fill_value=0)
        counts = counts.reindex(index=range(len(results.runs)), fill_value=0)
        return {a: counts.get(a, pd.Series(0, index=counts.index)).to_numpy() for a in "AB"}

    results = sim.run(str(duel_path), runs=40, seed=3, overrides=LOGIT)
    counted = per_actor(results)
    assert counted["A"].sum() + counted["B"].sum() == len(results.moves) > 0
    for actor in "AB":
        block = results.summary["moves"][actor]
        assert block["mean"] == pytest.approx(counted[actor].mean())
        assert block["se"] == pytest.approx(counted[actor].std(ddof=1) / math.sqrt(40))
    assert "Moves per actor" in render_summary(results.summary)

    variant = [*LOGIT, "actors.B.attributes.resolve=0.6"]
    paired = sim.compare(str(duel_path), runs=40, seed=3, overrides=variant)
    base, changed = per_actor(paired.base), per_actor(paired.variant)
    for actor in "AB":
        d = paired.summary["moves"][actor]
        assert d["difference"] == pytest.approx((changed[actor] - base[actor]).mean())
    assert "Moves per actor" in render_comparison(paired.summary)

    swept = sim.sweep(
        load(str(duel_path), LOGIT),
        parameters={"actors.B.attributes.resolve": [0.3, 0.6]},
        runs=20,
        seed=3,
        outcomes=["moves_A_mean"],
        workers=1,
    )
    assert [m.label for m in swept.metrics] == ["mean moves of A"]
    runs = swept.runs
    for _, point in swept.points.iterrows():
        mine = runs[runs["point"] == point["point"]]["moves_A"].to_numpy(dtype=float)
        assert point["moves_A_mean"] == pytest.approx(mine.mean())
        assert point["moves_A_se"] == pytest.approx(mine.std(ddof=1) / math.sqrt(len(mine)))
