"""The scoring-profile figures carry the summary's score statistics, row by row."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
import sim.plots as plots
from sim.errors import UsageError
from sim.plots.registry import NotApplicable, figures

SCENARIO = "taiwan-flashpoint-2025"
RUNS = 30
SEED = 7


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scores")
    return Path(sim.run(SCENARIO, runs=RUNS, seed=SEED, out=out, workers=1).path)


@pytest.fixture(scope="module")
def summary(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "summary.json").read_text())


def segments(ax: Any, gid: str) -> list[np.ndarray]:
    """Return the line segments of the collections with this gid, in drawing order."""
    return [seg for c in ax.collections if c.get_gid() == gid for seg in c.get_segments()]


def means(ax: Any) -> list[tuple[float, float]]:
    """Return the (x, y) of every mean dot."""
    dots = [line for line in ax.lines if line.get_gid() == "mean" and line.get_marker() == "o"]
    return [tuple(line.get_xydata()[0]) for line in dots]


@pytest.mark.parametrize("profile", ["goldstein", "rivera"])
def test_rows_are_the_summary_quantiles_and_means(
    folder: Path, summary: dict[str, Any], profile: str
) -> None:
    fig = plots.scores(folder, profile)
    ax = fig.axes[0]
    stats = summary["scores"][profile]["scores"]
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])
    labels = [t.get_text() for t in ticks]  # top first
    assert labels[0] == "total"
    shown = [c for c in stats if c == "total" or not _never_scored(stats[c])]
    assert len(labels) == len(shown)
    wide, box = segments(ax, "q05-q95"), segments(ax, "q25-q75")
    dots = means(ax)
    for row, column in enumerate(shown):
        q = stats[column]["quantiles"]
        assert [wide[row][0][0], wide[row][1][0]] == pytest.approx([q["q05"], q["q95"]])
        assert [box[row][0][0], box[row][1][0]] == pytest.approx([q["q25"], q["q75"]])
        assert dots[row][0] == pytest.approx(stats[column]["mean"])
    # Rows keep the summary's order from the top: y positions fall.
    assert [y for _, y in dots] == sorted((y for _, y in dots), reverse=True)


def test_goldstein_rows_name_the_directed_dyads(folder: Path) -> None:
    labels = [t.get_text() for t in plots.scores(folder, "goldstein").axes[0].get_yticklabels()]
    assert "China \N{RIGHTWARDS ARROW} Japan" in labels
    assert "Japan \N{RIGHTWARDS ARROW} China" in labels


def test_ladder_columns_are_on_the_rung_axis(folder: Path, summary: dict[str, Any]) -> None:
    ax = plots.scores(folder, "ladder").axes[0]
    stats = summary["scores"]["ladder"]["scores"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["peak rung", "final rung"]
    assert ax.get_yticklabels()[5].get_text() == "5 " + summary["rungs"][5]
    wide = segments(ax, "q05-q95")
    boxes = [p for p in ax.patches if p.get_gid() == "q25-q75"]
    for i, column in enumerate(("peak_rung", "final_rung")):
        q = stats[column]["quantiles"]
        assert sorted([wide[i][0][1], wide[i][1][1]]) == pytest.approx([q["q05"], q["q95"]])
        assert boxes[i].get_y() == pytest.approx(q["q25"])
        assert boxes[i].get_height() == pytest.approx(q["q75"] - q["q25"])
        assert means(ax)[i][1] == pytest.approx(stats[column]["mean"])


def test_components_that_never_scored_are_left_out_and_named(
    folder: Path, summary: dict[str, Any]
) -> None:
    runs = pd.read_parquet(folder / "runs.parquet")
    dyads = [c for c in runs.columns if c.startswith("goldstein_") and c != "goldstein_total"]
    silent = [c for c in dyads if (runs[c] == 0).all()]
    fig = plots.scores(folder, "goldstein")
    assert len(fig.axes[0].get_yticklabels()) == 1 + len(dyads) - len(silent)
    text = " ".join(" ".join(t.get_text() for t in fig.texts).split())  # unwrapped
    names = summary["actors"]
    pairs = [c.removeprefix("goldstein_").split("->") for c in silent]
    named = ", ".join(f"{names[a]} \N{RIGHTWARDS ARROW} {names[b]}" for a, b in pairs)
    assert (f"Not drawn: {named} (scored 0 in every run)." in text) == bool(silent)
    assert f"{RUNS} runs, seed {SEED}" in text and SCENARIO in text


def test_sim_plot_writes_the_three_score_figures(folder: Path, tmp_path: Path) -> None:
    written = {p.name for p in plots.write_figures(folder, "png", tmp_path)}
    assert {"scores_ladder.png", "scores_goldstein.png", "scores_rivera.png"} <= written
    assert all((tmp_path / name).stat().st_size > 10_000 for name in written)


def test_older_results_without_scores_skip_only_the_score_figures(
    folder: Path, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    shutil.copytree(folder, old, ignore=shutil.ignore_patterns("figures"))
    summary = json.loads((old / "summary.json").read_text())
    del summary["scores"]
    (old / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(NotApplicable, match="no 'rivera' scores"):
        plots.scores(old, "rivera")
    written = {p.stem for p in plots.write_figures(old, "png")}
    score_figures = {"scores_ladder", "scores_goldstein", "scores_rivera"}
    assert written == set(figures("ensemble")) - score_figures
    with pytest.raises(UsageError, match="unknown scoring profile 'kahn'"):
        plots.scores(folder, "kahn")


def test_summary_text_has_a_line_per_profile(summary: dict[str, Any]) -> None:
    from sim.present.summary import render_summary
    from sim.present.table import num

    text = render_summary(summary)
    total = summary["scores"]["rivera"]["scores"]["total"]["mean"]
    assert "Rivera et al. 2024: sum over moves" in text
    assert num(total) in text
    assert "Goldstein: sum over moves" in text and "ladder: peak rung" in text


def _never_scored(stats: dict[str, Any]) -> bool:
    return stats["mean"] == 0 and stats["sd"] == 0
