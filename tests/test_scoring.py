"""Scoring profiles: hand-made moves give hand-computed scores; the CAMEO table is complete."""

import csv
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sim.analysis import columns, rivera, scoring
from sim.analysis.rivera import (
    NONVIOLENT,
    NUCLEAR,
    POSTURING,
    RIVERA_WEIGHTS,
    STATUS_QUO,
    VIOLENT,
    rivera_category,
    rivera_weight,
)
from sim.engine.record import MoveRecord
from sim.errors import UsageError
from sim.present import scores

REPO = Path(__file__).resolve().parents[1]
CAMEO_TABLE = REPO.parent / "shared" / "domain" / "cameo-levers.csv"
ACTORS = ("USA", "CHN", "TWN")


def move(actor: str, target: str, cameo: str, goldstein: float, day: float = 1.0) -> MoveRecord:
    return MoveRecord(day, actor, target, "lever", 1, cameo, goldstein, 1.0, "escalate", "policy")


# Run 0: a sanction each way and a call; run 1: a blockade and an arms sale; run 2: nothing.
RUNS = {
    0: [
        move("USA", "CHN", "163", -8.0),
        move("CHN", "USA", "163", -8.0),
        move("USA", "CHN", "041", 1.0),
    ],
    1: [move("CHN", "TWN", "191", -9.5), move("USA", "TWN", "0312", 5.2)],
    2: [],
}


def moves_frame() -> pd.DataFrame:
    rows = [
        {
            "index": i,
            "day": m.day,
            "actor": m.actor,
            "target": m.target,
            "cameo": m.cameo,
            "goldstein": m.goldstein,
        }
        for i, moves in RUNS.items()
        for m in moves
    ]
    return pd.DataFrame(rows)


def fake_results() -> SimpleNamespace:
    runs = pd.DataFrame({"index": [0, 1, 2], "peak_rung": [4, 6, 0], "final_rung": [3, 6, 0]})
    spec = SimpleNamespace(actor_ids=ACTORS)
    return SimpleNamespace(runs=runs, moves=moves_frame(), spec=spec)


# --- the Rivera et al. categories ---------------------------------------------------------------


def test_weights_are_those_of_rivera_et_al() -> None:
    assert list(RIVERA_WEIGHTS.values()) == [-2, 0, 4, 12, 28, 60]
    # 2**k - 4 for k = 1..6, the paper's exponential scale
    assert list(RIVERA_WEIGHTS.values()) == [2**k - 4 for k in range(1, 7)]


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("010", STATUS_QUO),
        ("041", STATUS_QUO),
        ("040", STATUS_QUO),
        ("044", rivera.DEESCALATION),
        ("057", rivera.DEESCALATION),
        ("0354", rivera.DEESCALATION),
        ("085", rivera.DEESCALATION),
        ("0312", POSTURING),
        ("062", POSTURING),
        ("111", NONVIOLENT),
        ("1312", NONVIOLENT),
        ("150", NONVIOLENT),
        ("163", NONVIOLENT),
        ("172", NONVIOLENT),
        ("171", VIOLENT),
        ("190", VIOLENT),
        ("191", VIOLENT),
        ("20", NUCLEAR),
        ("2042", NUCLEAR),
    ],
)
def test_categories_of_codes(code: str, category: str) -> None:
    assert rivera_category(code) == category
    assert rivera_weight(code) == RIVERA_WEIGHTS[category]


def test_every_root_code_has_a_category() -> None:
    for root in range(1, 21):
        assert rivera_category(f"{root:02d}") in RIVERA_WEIGHTS


@pytest.mark.parametrize("bad", ["", "1", "12345", "abc", "21", "00", "99"])
def test_bad_codes_are_rejected(bad: str) -> None:
    with pytest.raises(ValueError, match="CAMEO"):
        rivera_category(bad)


def test_mapping_covers_the_shared_cameo_table() -> None:
    if not CAMEO_TABLE.exists():
        pytest.skip(f"{CAMEO_TABLE} is not beside the repository")
    with CAMEO_TABLE.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) > 40
    for row in rows:
        category = rivera_category(row["cameo_code"])
        goldstein = float(row["goldstein"])
        # conflictual codes never score as de-escalation, cooperative ones never as escalation
        if goldstein <= -4.0:
            assert RIVERA_WEIGHTS[category] >= 4, row
        if goldstein >= 4.0 and row["cameo_code"] != "0312":
            assert RIVERA_WEIGHTS[category] <= 0, row


# --- per-run scores -------------------------------------------------------------------------------


def test_goldstein_scores_by_hand() -> None:
    table = scoring.score_moves(moves_frame(), "goldstein", ACTORS, [0, 1, 2]).set_index("index")
    assert table.loc[0, "total"] == pytest.approx(-8.0 - 8.0 + 1.0)
    assert table.loc[0, "USA->CHN"] == pytest.approx(-7.0)
    assert table.loc[0, "CHN->USA"] == pytest.approx(-8.0)
    assert table.loc[1, "total"] == pytest.approx(-9.5 + 5.2)
    assert table.loc[1, "CHN->TWN"] == pytest.approx(-9.5)
    assert table.loc[1, "USA->TWN"] == pytest.approx(5.2)
    assert table.loc[1, "USA->CHN"] == 0.0
    assert (table.loc[2] == 0.0).all()  # a run without moves scores zero, never goes missing
    assert list(table.columns) == scoring.score_columns("goldstein", ACTORS)


def test_rivera_scores_by_hand() -> None:
    table = scoring.score_moves(moves_frame(), "rivera", ACTORS, [0, 1, 2]).set_index("index")
    # run 0: 163 (12) + 163 (12) + 041 (0); run 1: 191 (28) + 0312 (4); run 2: nothing
    assert table["total"].tolist() == [24.0, 32.0, 0.0]
    assert table.loc[0, "USA"] == 12.0 and table.loc[0, "CHN"] == 12.0
    assert table.loc[1, "CHN"] == 28.0 and table.loc[1, "USA"] == 4.0
    assert table.loc[1, "TWN"] == 0.0


def test_run_scores_of_a_record_match_the_table() -> None:
    frame = scoring.score_moves(moves_frame(), "rivera", ACTORS, [0, 1, 2]).set_index("index")
    gold = scoring.score_moves(moves_frame(), "goldstein", ACTORS, [0, 1, 2]).set_index("index")
    for i, moves in RUNS.items():
        flat = columns.run_scores(ACTORS, moves)
        assert flat["rivera_total"] == frame.loc[i, "total"]
        assert flat["rivera_CHN"] == frame.loc[i, "CHN"]
        assert flat["goldstein_total"] == pytest.approx(gold.loc[i, "total"])
        assert flat["goldstein_USA->CHN"] == pytest.approx(gold.loc[i, "USA->CHN"])


def test_moves_of_unknown_actors_are_an_error() -> None:
    frame = moves_frame()
    frame.loc[0, "actor"] = "JPN"
    with pytest.raises(ValueError, match="JPN"):
        scoring.score_moves(frame, "rivera", ACTORS, [0, 1, 2])


def test_unknown_profile_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="ladder, goldstein, rivera"):
        scoring.summarize(fake_results(), "kahn")


# --- summaries ------------------------------------------------------------------------------------


def test_summarize_gives_mean_se_and_ci() -> None:
    summary = scoring.summarize(fake_results(), "rivera")
    total = summary["scores"]["total"]
    values = np.array([24.0, 32.0, 0.0])
    se = values.std(ddof=1) / math.sqrt(3)
    assert summary["runs"] == 3
    assert total["mean"] == pytest.approx(values.mean())
    assert total["se"] == pytest.approx(se)
    assert total["ci95"] == pytest.approx(
        [values.mean() - 1.959964 * se, values.mean() + 1.959964 * se]
    )
    assert total["quantiles"]["q50"] == pytest.approx(24.0)


def test_ladder_profile_uses_peak_and_final_rungs() -> None:
    table = scoring.score_table(fake_results(), "ladder")
    assert table["peak_rung"].tolist() == [4, 6, 0]
    summary = scoring.summarize(fake_results(), "ladder")
    assert summary["scores"]["final_rung"]["mean"] == pytest.approx(3.0)


def test_render_names_the_profile_and_its_rows() -> None:
    text = scores.render(scoring.summarize(fake_results(), "rivera"), {"USA": "United States"})
    assert "Rivera et al. (2024)" in text
    assert "United States" in text
    assert "24.0" in text  # the median total


def test_summary_block_reads_flat_columns() -> None:
    runs = fake_results().runs.copy()
    flat = pd.DataFrame([columns.run_scores(ACTORS, RUNS[i]) for i in (0, 1, 2)])
    block = scoring.summary_block(pd.concat([runs, flat], axis=1), ACTORS)
    assert set(block) == {"ladder", "goldstein", "rivera"}
    assert block["rivera"]["scores"]["total"]["mean"] == pytest.approx(56.0 / 3)
    # without the flat columns only the ladder profile is reported, never zeros
    assert set(scoring.summary_block(runs, ACTORS)) == {"ladder"}


def test_real_ensemble_scores_every_run() -> None:
    import sim

    results = sim.run("us-china-tradewar-2025", runs=12, seed=4)
    for profile in scoring.PROFILES:
        table = scoring.score_table(results, profile)
        assert table["index"].tolist() == list(range(12))
        assert not table.isna().any().any()
    rivera = scoring.score_table(results, "rivera")
    by_record = [
        columns.run_scores(results.spec.actor_ids, results.trace(i).moves)["rivera_total"]
        for i in range(3)
    ]
    assert rivera["total"].tolist()[:3] == by_record


def test_cli_run_prints_a_profile(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            "us-china-tradewar-2025",
            "--runs",
            "10",
            "--seed",
            "2",
            "--quiet",
            "--out",
            str(tmp_path),
            "--score",
            "goldstein",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "Goldstein score" in done.stdout
    assert "USA->CHN" in done.stdout
    assert "--score goldstein|rivera" not in done.stdout  # no hint to ask for what is shown


# --- every summary carries every profile ------------------------------------------------------


@pytest.mark.parametrize("in_folder", [False, True])
def test_every_summary_scores_every_profile(tmp_path: Path, in_folder: bool) -> None:
    """summary.json's scores (from the runs table) equal those computed again from the moves."""
    import sim

    out = tmp_path if in_folder else None
    results = sim.run("us-china-tradewar-2025", runs=16, seed=3, out=out, workers=1)
    block = results.summary["scores"]
    assert set(block) == set(scoring.PROFILES)
    for profile in scoring.PROFILES:
        again = scoring.summarize(results, profile)
        assert block[profile]["runs"] == again["runs"] == 16
        assert set(block[profile]["scores"]) == set(again["scores"])
        for column, stats in again["scores"].items():
            assert block[profile]["scores"][column]["mean"] == pytest.approx(stats["mean"])
            assert block[profile]["scores"][column]["quantiles"] == pytest.approx(
                stats["quantiles"]
            )
    # The escalation war of 2025 is conflictual: Goldstein totals below zero, Rivera above.
    assert (
        block["goldstein"]["scores"]["total"]["mean"]
        < 0
        < block["rivera"]["scores"]["total"]["mean"]
    )


def test_a_cameo_code_outside_cameo_is_rejected_at_load() -> None:
    import sim
    from sim.scenario.loader import ScenarioError

    with pytest.raises(ScenarioError) as caught:
        sim.load("us-china-tradewar-2025", overrides=["actors.USA.levers.fentanyl_tariff.cameo=25"])
    message = str(caught.value)
    assert "fentanyl_tariff.cameo" in message
    assert "CAMEO root codes run from 01 to 20" in message
