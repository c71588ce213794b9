"""A panel with nothing to show is left out, and the figure's note says what and why; a
figure left with no panel is not drawn (NotApplicable), and ``sim run --plot``, ``sim
plot`` and ``sim report`` say which and why (issue 18, item 7). A comparison's figure and
text name what each arm changed: its --set overrides and the posterior it drew from (item 2).

The runs are small test scenarios: ``calibration_duel`` with an irresolute Beta (rungs 1 and
2 are reached, rung 3 never), ``duel`` (scripted actors: nothing escalates at all) and
``poisson_oracle`` (criticisms that move no rung)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
import sim.plots as plots
from sim.cli import main
from sim.experiments.posterior import Posterior
from sim.plots.comparison import load as load_comparison
from sim.plots.comparison import subtitle
from sim.plots.registry import NotApplicable, figures, write_figures
from sim.present.comparison import header
from sim.present.summary import shown_path

HERE = Path(__file__).resolve().parent
DUEL = str(HERE / "scenarios" / "duel.yaml")
PROVOKED = str(HERE / "scenarios" / "calibration_duel.yaml")
ORACLE = str(HERE / "scenarios" / "poisson_oracle.yaml")
IRRESOLUTE = "actors.B.attributes.resolve=0.0"  # Beta never answers with a sanction
FIGURES = "figures"


def words(fig: Any) -> str:
    """Return all the text of a figure (title block, notes), its lines joined by spaces."""
    return " ".join(" ".join(t.get_text() for t in fig.texts).split())


@pytest.fixture(scope="module")
def provoked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that reaches rungs 1 and 2 of calibration_duel and never rung 3."""
    out = tmp_path_factory.mktemp("provoked")
    results = sim.run(PROVOKED, runs=20, seed=1, out=out, workers=1, overrides=[IRRESOLUTE])
    return Path(results.path)


@pytest.fixture(scope="module")
def calm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of duel written by ``sim run --plot``: nothing escalates in any run."""
    out = tmp_path_factory.mktemp("calm")
    argv = ["run", DUEL, "--runs", "6", "--seed", "2", "--workers", "1", "--out", str(out)]
    assert main([*argv, "--plot"]) == 0
    (folder,) = (out / "duel").iterdir()
    return folder


# --- a rung no run reached ----------------------------------------------------------------------


def test_a_rung_no_run_reached_has_no_curve_and_the_note_says_so(provoked: Path) -> None:
    runs = pd.read_parquet(provoked / "runs.parquet")
    reached = {k: runs[f"first_day_rung_{k}"].notna().any() for k in (1, 2, 3)}
    assert reached == {1: True, 2: True, 3: False}  # what the fixture is for
    fig = plots.time_to_rung(provoked)
    curves = [line.get_gid() for line in fig.axes[0].get_lines() if line.get_gid()]
    assert curves == ["km1", "km2"]
    assert "Not drawn: 3 sanction (reached in no run)." in words(fig)
    assert len(fig.axes) == 1


def test_actors_without_any_cost_have_no_panel(provoked: Path) -> None:
    runs = pd.read_parquet(provoked / "runs.parquet")
    assert not runs[["cost_A", "cost_B"]].to_numpy().any()  # neither lever costs anything
    with pytest.raises(NotApplicable, match=r"nothing to draw: Alpha, Beta \(no cost in any run\)"):
        plots.costs(provoked)


def test_the_panels_that_remain_fill_the_figure(provoked: Path, tmp_path: Path) -> None:
    """Costs of one actor zero in every run: its panel goes, the other fills the figure."""
    import shutil

    copy = tmp_path / "one-cost"
    shutil.copytree(provoked, copy, ignore=shutil.ignore_patterns(FIGURES))
    runs = pd.read_parquet(copy / "runs.parquet")
    runs["cost_B"] = np.arange(len(runs), dtype=float)  # Beta pays, Alpha never does
    runs.to_parquet(copy / "runs.parquet")
    summary = json.loads((copy / "summary.json").read_text())
    summary["costs"]["B"].update(mean=float(runs["cost_B"].mean()), ci95=[0.0, 19.0])
    (copy / "summary.json").write_text(json.dumps(summary))
    fig = plots.costs(copy)
    assert [ax.get_title("left") for ax in fig.axes] == ["Beta"]  # no hidden, blank axes
    assert "Not drawn: Alpha (no cost in any run)." in words(fig)


# --- nothing escalates at all -------------------------------------------------------------------

#: The figures of a run in which nothing escalates and nobody pays, and why each is not drawn.
NOT_DRAWN = {
    "rung_fan": "the overall rung (at 0 calm on every day of every run)",
    "rung_fan_by_dyad": "Alpha \N{EN DASH} Beta (at 0 calm on every day of every run)",
    "time_to_rung": "1 protest, 2 threat, 3 sanction, 4 force (reached in no run)",
    "costs": "Alpha, Beta (no cost in any run)",
    "scores_ladder": "peak rung, final rung (at 0 calm in every run)",
    "scores_rivera": "total, Alpha, Beta (scored 0 in every run)",
}


def test_a_run_where_nothing_escalates_has_no_time_to_rung_figure(calm: Path) -> None:
    summary = json.loads((calm / "summary.json").read_text())
    assert all(d["value"] == 0 for d in summary["peak_rung"]["distribution"] if d["count"])
    why = re.escape(f"nothing to draw: {NOT_DRAWN['time_to_rung']}")
    with pytest.raises(NotApplicable, match=why):
        plots.time_to_rung(calm)
    for name, why in NOT_DRAWN.items():
        with pytest.raises(NotApplicable) as caught:
            figures("ensemble")[name](calm)
        assert str(caught.value) == f"nothing to draw: {why}", name


def test_sim_run_plot_succeeds_and_says_what_it_skipped(calm: Path, capsys: Any) -> None:
    written = {p.stem for p in (calm / FIGURES).iterdir()}
    assert written == set(figures("ensemble")) - set(NOT_DRAWN)
    assert "outcome_probabilities" in written and "time_to_rung" not in written
    # sim plot says it too, one line per figure not drawn, and succeeds.
    capsys.readouterr()
    assert main(["plot", str(calm), "--out", str(calm / "again")]) == 0
    err = capsys.readouterr().err
    for name, why in NOT_DRAWN.items():
        assert f"figure skipped: {name} of {calm}: nothing to draw: {why}\n" in err
    assert err.count("figure skipped:") == len(NOT_DRAWN)


def test_the_report_of_such_a_run_says_which_figures_are_not_drawn_and_why(calm: Path) -> None:
    from sim.report import write_report

    page = write_report(calm).read_text(encoding="utf-8")
    assert page.count("<img ") == len(figures("ensemble")) - len(NOT_DRAWN)
    assert (
        "Not drawn: <code>time_to_rung</code>: nothing to draw: 1 protest, 2 threat, "
        "3 sanction, 4 force (reached in no run)."
    ) in page


# --- a comparison -------------------------------------------------------------------------------


def test_comparison_panels_without_a_difference_are_left_out() -> None:
    """Fewer criticisms: the scores change; outcome, peak rung and costs do not in any run."""
    paired = sim.compare(
        ORACLE, runs=12, seed=1, workers=1, overrides=["events.criticism.rate_per_year=1"]
    )
    fig = plots.paired_differences(paired)
    assert [ax.get_title("left") for ax in fig.axes] == ["escalation score per run"]
    left = "outcome probability, peak rung, mean cost (no difference in any run)"
    assert f"Not drawn: {left}." in words(fig)
    assert fig.axes[0].get_legend() is not None  # the legend moves to the first panel drawn


def test_a_comparison_with_no_difference_at_all_is_not_drawn() -> None:
    paired = sim.compare(DUEL, runs=6, seed=2, workers=1, overrides=[IRRESOLUTE])
    with pytest.raises(NotApplicable, match=r"\(no difference in any run\)"):
        plots.paired_differences(paired)


def test_a_sweep_whose_outcomes_never_happen_has_no_response_figure(tmp_path: Path) -> None:
    """In duel nothing escalates, so P(crisis) is 0 at every point: no panel is left, and
    a one-parameter grid has no other figure, so none is written and no folder made."""
    swept = sim.sweep(
        DUEL, parameters={"actors.A.attributes.resolve": [0.3, 0.9]}, runs=4,
        outcomes=["crisis"], workers=1, out=tmp_path,
    )  # fmt: skip
    with pytest.raises(NotApplicable, match=r"P\(crisis\) \(0 at every point"):
        plots.sweep_response(swept)
    skipped: list[str] = []
    assert write_figures(swept.path, on_skip=lambda name, why: skipped.append(name)) == []
    assert skipped == list(figures("sweep"))
    assert not (Path(swept.path) / FIGURES).exists()


def test_a_comparison_names_each_arms_overrides_and_posterior() -> None:
    """--posterior: both arms draw from it; --set: the variant alone changes."""
    posterior = Posterior(
        ["events.criticism.rate_per_year"], np.array([[2.0], [5.0]]), np.ones(2),
        source="oracle-posterior",
    )  # fmt: skip
    change = "actors.A.levers.criticise.goldstein=-5"  # a harsher score for the same moves
    paired = sim.compare(ORACLE, runs=6, seed=3, workers=1, overrides=[change],
                         posterior=posterior)  # fmt: skip
    variant, base, _ = subtitle(load_comparison(paired))
    title = "One Poisson criticism a year at an unknown rate (calibration test fixture)"
    assert variant == f"{title} [poisson_oracle] with --set {change}; posterior of oracle-posterior"
    assert base == f"against {title} [poisson_oracle] with posterior of oracle-posterior"
    assert variant in words(plots.paired_differences(paired))
    text = header(paired.summary).splitlines()
    assert text[1].endswith("with posterior of oracle-posterior")
    assert text[2] == (
        f"  variant: poisson_oracle with --set {change}; posterior of oracle-posterior"
    )
    from sim.report import comparison_report

    page = comparison_report(load_comparison(paired), images=[])
    assert f"with <code>--set {change}; posterior of oracle-posterior</code> against" in page
    assert "<code>poisson_oracle</code> with <code>posterior of oracle-posterior</code> (" in page


def test_a_comparison_names_the_posterior_its_variant_scenario_names() -> None:
    """A scenario field ``posterior:``: only that arm draws, and only it says so."""
    paired = sim.compare("taiwan-flashpoint-2025", "taiwan-flashpoint-2025-calibrated",
                         runs=4, seed=1, workers=1)  # fmt: skip
    where = shown_path(paired.summary["posterior"]["calibration"])  # from here, if under it
    variant, base, _ = subtitle(load_comparison(paired))
    assert variant.endswith(f"[taiwan-flashpoint-2025-calibrated] with posterior of {where}")
    assert base.endswith("[taiwan-flashpoint-2025]")
    text = header(paired.summary).splitlines()
    assert text[2] == f"  variant: taiwan-flashpoint-2025-calibrated with posterior of {where}"
    assert "posterior" not in text[1]
