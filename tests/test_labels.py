"""Parameters by label (issue 18, item 7): "China: resolve", not actors.CHN.attributes.resolve.

The label of a path is made from the scenario's own names (sim/scenario/labels.py); a sweep
or calibration file may give its own. Tables, axes and bars show labels, the raw path is
said once per output (a "label = path" legend) and stays the key of the stored tables; the
labels come from the scenario a results folder stores. The sweep's and the calibration's
fixed overrides (and a sweep's posterior) are named in their headers and subtitles, in a
run's words (issue 18, item 2).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import sim
import sim.plots as plots
from sim.experiments.calibration_spec import CalibrationError, read_calibration_file
from sim.experiments.sweep import load_sweep
from sim.experiments.sweep_spec import SweepError, SweepSpec, read_sweep_file, resolve_spec
from sim.plots.calibration import pairwise_posterior, prior_posterior
from sim.present.summary import shown_path
from sim.scenario.labels import parameter_label, parameter_labels

HERE = Path(__file__).resolve().parent
DUEL = HERE / "scenarios" / "duel.yaml"
ORACLE = HERE / "data" / "poisson_oracle_calibration.yaml"
POSTERIOR = HERE.parent / "scenarios" / "posteriors" / "taiwan-flashpoint-2025" / "nov7-25"

#: A scenario document with one thing of every kind a label names.
DOCUMENT: dict[str, Any] = {
    "actors": [
        {"id": "CHN", "name": "China", "levers": [
            {"id": "seafood_ban", "name": "seafood import suspension"},
            {"id": "drills", "name": "large-scale joint drills encircling the island of Taiwan"},
        ]},
        {"id": "JPN", "name": "Japan"},
        {"id": "USA", "name": "United States"},
    ],
    "relations": [
        {"kind": "alliance", "id": "us_japan_treaty", "patron": "USA", "protege": "JPN"},
        {"kind": "dependence", "dependent": "JPN", "supplier": "CHN", "sector": "rare_earths"},
    ],
    "events": [
        {"kind": "stochastic", "id": "incident_east_china_sea",
         "name": "a dangerous incident between Chinese and Japanese ships or aircraft"},
        {"kind": "scheduled", "id": "beijing_visit", "name": "Trump visits Beijing"},
        {"kind": "scheduled", "id": "apec_week"},
    ],
    "initial": [{"pair": ["USA", "CHN"], "tension": 0.3}],
}  # fmt: skip


@pytest.mark.parametrize(
    ("path", "label"),
    [
        ("actors.CHN.attributes.resolve", "China: resolve"),
        ("actors.CHN.attributes.exposure.USA", "China: exposure (United States)"),
        ("actors.JPN.policy.params.face", "Japan: face"),
        ("actors.JPN.policy.name", "Japan: policy name"),
        ("actors.USA.response_delay.median", "United States: response delay median"),
        ("actors.CHN.levers.seafood_ban.cost.per_day",
         "China, seafood import suspension: cost per day"),
        ("actors.CHN.levers.drills.rung", "China, drills: rung"),  # a name too long: the id
        ("relations.us_japan_treaty.public_backing",
         "United States-Japan alliance: public backing"),
        ("relations.0.deterrence", "United States-Japan alliance: deterrence"),
        ("relations.1.share", "dependence of Japan on China (rare earths): share"),
        ("events.beijing_visit.date", "Trump visits Beijing: date"),
        ("events.incident_east_china_sea.rate_per_year", "incident east china sea: rate per year"),
        ("events.apec_week.date", "apec week: date"),  # no name: the id
        ("initial.0.tension", "United States-China at the start: tension"),
        ("dynamics.hostility_scale", "hostility scale"),
        ("military_rung", "military rung"),
        # never raises: what names nothing is shown in words as written
        ("actors.XYZ.attributes.resolve", "XYZ: resolve"),
        ("events.nope.rate_per_year", "nope: rate per year"),
        ("relations.9.share", "9: share"),
    ],
)  # fmt: skip
def test_a_path_is_labelled_by_the_scenarios_names(path: str, label: str) -> None:
    assert parameter_label(DOCUMENT, path) == label


def test_a_loaded_scenario_is_labelled_as_its_document() -> None:
    scenario = sim.load("taiwan-flashpoint-2025")
    assert parameter_label(scenario, "actors.CHN.attributes.resolve") == "China: resolve"
    assert parameter_label(scenario, "relations.us_japan_treaty.offense_share") == (
        "United States-Japan alliance: offense share"
    )


def test_a_files_label_wins_and_labels_that_would_read_alike_give_way_to_paths() -> None:
    spec = SweepSpec(
        scenario="duel",
        parameters={
            "actors.CHN.attributes.resolve": {"values": [0.4, 0.7], "label": "Beijing's resolve"},
            "actors.JPN.attributes.resolve": [0.4, 0.7],
            "actors.USA.attributes.resolve": {"values": [0.4], "label": "Japan: resolve"},
        },
    )
    assert parameter_labels(DOCUMENT, spec.parameters) == {
        "actors.CHN.attributes.resolve": "Beijing's resolve",
        # the derived label of Japan's is the label given to the US's: neither is used
        "actors.JPN.attributes.resolve": "actors.JPN.attributes.resolve",
        "actors.USA.attributes.resolve": "actors.USA.attributes.resolve",
    }


SWEEP_FILE = """\
scenario: {scenario}
parameters:
  actors.A.attributes.resolve:
    values: [0.4, 0.7]
    label: {label}
"""


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ('""', "label: expected a label of 1 to 60 characters on one line"),
        ("'   '", "not blank"),
        ("3", "label: Input should be a valid string (got 3)"),
        ("x" * 61, "not 'xxxx"),
        ("[a, b]", "label: Input should be a valid string"),
    ],
)
def test_a_bad_label_is_refused_naming_the_file_line_and_field(
    tmp_path: Path, label: str, message: str
) -> None:
    path = tmp_path / "labelled.yaml"
    path.write_text(SWEEP_FILE.format(scenario=DUEL, label=label), encoding="utf-8")
    with pytest.raises(SweepError) as err:
        read_sweep_file(path)
    assert str(err.value).startswith(f"{path}:5: parameters.actors.A.attributes.resolve.label:")
    assert message in str(err.value)


def test_a_calibration_files_bad_label_is_refused_too(tmp_path: Path) -> None:
    text = ORACLE.read_text(encoding="utf-8").replace(
        "events.criticism.rate_per_year: gamma(4, 0.5)",
        "events.criticism.rate_per_year: {dist: gamma, shape: 4, rate: 0.5, label: ''}",
    )
    path = tmp_path / "calibration.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"calibration.yaml:9: parameters\.events\."):
        read_calibration_file(path)
    good = text.replace("label: ''", "label: '  criticisms a year '")
    path.write_text(good, encoding="utf-8")
    assert read_calibration_file(path).parameters[0].label == "criticisms a year"


def test_an_unset_label_is_no_part_of_a_plan_and_a_new_range_keeps_the_files_label() -> None:
    spec = SweepSpec(scenario="duel", parameters={"actors.A.attributes.resolve": [0.4, 0.7]})
    # a plan written before labels existed is the plan written now (a folder still resumes)
    assert "label" not in spec.model_dump(mode="json")["parameters"][0]
    labelled = {"values": [0.4, 0.7], "label": "Alpha's resolve"}
    base = {"scenario": "duel", "parameters": {"actors.A.attributes.resolve": labelled}}
    merged, _ = resolve_spec(base, {"parameters": {"actors.A.attributes.resolve": "0.1:0.9:3"}})
    assert merged.parameters[0].label == "Alpha's resolve"
    assert merged.parameters[0].grid_values == [0.1, 0.5, 0.9]


# --- a sweep's outputs --------------------------------------------------------------------

RESOLVE, SHARE = "actors.A.attributes.resolve", "relations.0.share"
LABELS = {RESOLVE: "Alpha: resolve", SHARE: "dependence of Beta on Alpha (trade): share"}
SET = "actors.B.attributes.risk_tolerance"


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 x 2 grid of the duel with a fixed override, from a copy of its file."""
    folder = tmp_path_factory.mktemp("labels")
    scenario = folder / "duel.yaml"
    shutil.copy(DUEL, scenario)
    done = sim.sweep(
        str(scenario), parameters={RESOLVE: [0.4, 0.7], SHARE: [0.2, 0.8]}, set={SET: 0.4},
        runs=4, seed=1, outcomes=["crisis", "peak_rung_mean"], out=folder / "out", workers=1,
    )  # fmt: skip
    return Path(done.path)


def table_lines(text: str) -> list[str]:
    """Return the lines of a text output that are rows or headers of its tables (not notes)."""
    blocks = [b.splitlines() for b in text.split("\n\n")]
    rows = []
    for lines in blocks:
        rules = [i for i, line in enumerate(lines) if line and set(line) <= {"-", " "}]
        if rules:
            rule = rules[0]
            body = lines[rule + 1 :]
            end = next((i for i, line in enumerate(body) if line.startswith("Paths (")), None)
            rows += [lines[rule - 1], *body[:end]]
    return rows


def test_a_sweeps_tables_name_its_parameters_by_label_and_their_paths_once(grid: Path) -> None:
    text = load_sweep(grid).table()
    rows = table_lines(text)
    assert len(rows) == 3 + 3 + 3  # the parameters' header and rows, each outcome's matrix's
    assert not [row for row in rows if RESOLVE in row or SHARE in row]
    assert any(row.startswith(LABELS[RESOLVE]) for row in rows)  # the matrix's row header
    assert f"rows {LABELS[RESOLVE]}, columns {LABELS[SHARE]}" in " ".join(text.split())
    for path, label in LABELS.items():
        assert [line for line in text.splitlines() if path in line] == [f"  {label} = {path}"]
    # the heading names the sweep's fixed override, as a run's names its --set
    assert text.splitlines()[0] == f"duel with --set {SET}=0.4"


def test_the_labels_are_the_stored_scenarios(grid: Path) -> None:
    """The scenario file changes after the sweep: its folder keeps the names it ran with."""
    scenario = grid.parents[2] / "duel.yaml"
    scenario.write_text(scenario.read_text().replace("name: Alpha", "name: Aleph"))
    assert load_sweep(grid).labels == LABELS
    fig = plots.sweep_heatmap(grid)
    axes = [ax for ax in fig.axes if ax.get_xlabel()]
    assert {ax.get_xlabel().replace("\n", " ") for ax in axes} == {LABELS[SHARE]}


def test_a_sweeps_figures_are_labelled_and_name_its_override(grid: Path) -> None:
    for draw in (plots.sweep_response, plots.sweep_heatmap):
        fig = draw(grid)
        names = {
            text.replace("\n", " ")
            for ax in fig.axes
            for text in (ax.get_xlabel(), ax.get_ylabel())
            if text and text not in ("probability", "rung")  # the y axes
        }
        assert names <= set(LABELS.values()) and LABELS[SHARE] in names, names
        texts = [t.get_text() for t in fig.texts]
        subtitle = texts[1]
        assert f"[duel] with --set {SET}=0.4" in subtitle.replace("\n", " ")
        notes = " ".join(texts).replace("\n", " ")
        assert f"{LABELS[SHARE]} = {SHARE}" in notes  # the path, once, in the notes


def test_an_explicit_label_names_the_column_and_the_axis() -> None:
    done = sim.sweep(
        str(DUEL), parameters={RESOLVE: {"values": [0.4, 0.7], "label": "A's resolve"}},
        runs=2, outcomes=["crisis", "peak_rung_mean"], workers=1,
    )  # fmt: skip
    text = done.table()
    (header,) = [line for line in text.splitlines() if line.startswith("point  ")]
    assert header.split("  ")[1] == "A's resolve"
    fig = plots.sweep_response(done)
    assert {ax.get_xlabel() for ax in fig.axes if ax.get_xlabel()} == {"A's resolve"}


def test_a_sweep_over_a_posterior_says_so_in_its_heading_and_subtitle(tmp_path: Path) -> None:
    done = sim.sweep(
        "taiwan-flashpoint-2025", parameters={"actors.CHN.attributes.resolve": [0.5, 0.8]},
        posterior=str(POSTERIOR), runs=2, outcomes=["peak>=5"], out=tmp_path, workers=1,
    )  # fmt: skip
    source = str(POSTERIOR.resolve())
    heading = " ".join(" ".join(done.table().split("\n")[:2]).split())  # wrapped at 100
    shown = shown_path(source)  # from the working directory, where it lies under it
    assert heading.startswith(f"taiwan-flashpoint-2025 with posterior of {shown}")
    reopened = load_sweep(done.path)  # a folder read back knows what its points drew from
    fig = plots.sweep_response(done.path)
    assert f"with posterior of {shown}" in " ".join(t.get_text() for t in fig.texts[:2]).replace(
        "\n", " "
    )
    assert reopened.changes["posterior"] == {"calibration": source}
    assert json.loads((Path(done.path) / "sweep.json").read_text())["posterior"]["source"] == source


# --- a calibration's outputs ------------------------------------------------------------------

RATE = "events.criticism.rate_per_year"
QUIET = "actors.B.attributes.resolve"  # B never moves (scripted): a parameter the record ignores


@pytest.fixture(scope="module")
def calibration() -> Any:
    """Two generations of the conjugate oracle with a labelled prior and a fixed override."""
    from sim.experiments.calibrate import calibrate

    return calibrate(
        str(ORACLE), population=40, stop={"generations": 2}, seed=5, check=0, workers=1,
        parameters={QUIET: {"dist": "uniform", "low": 0.1, "high": 0.9, "label": "Beta's resolve"}},
        set={"actors.A.attributes.risk_tolerance": 0.4},
    )  # fmt: skip


def test_a_calibrations_table_names_its_parameters_by_label_and_its_override(calibration) -> None:
    text = calibration.table()
    first = " ".join(" ".join(text.split("\n")[:2]).split())  # wrapped at 100 characters
    assert first.startswith("Calibration of ") and (
        "(poisson_oracle) with --set actors.A.attributes.risk_tolerance=0.4 to" in first
    )
    rows = table_lines(text)
    assert any(row.startswith("criticism: rate per year  ") for row in rows)
    assert any(row.startswith("Beta's resolve  ") for row in rows)
    assert not [row for row in rows if RATE in row or QUIET in row]
    assert f"  criticism: rate per year = {RATE}" in text.splitlines()
    # the stored summary keeps the paths
    assert [p["path"] for p in calibration.summary["parameters"]] == [RATE, QUIET]


def test_a_calibrations_figures_are_labelled_and_name_its_override(calibration) -> None:
    fig = prior_posterior(calibration)
    titles = {
        "".join(ax.get_title(loc=loc) for loc in ("left", "center", "right")).replace("\n", " ")
        for ax in fig.axes
        if ax.get_visible()
    }
    assert titles == {"criticism: rate per year", "Beta's resolve"}
    assert "with --set actors.A.attributes.risk_tolerance=0.4 against" in fig.texts[1].get_text()
    pairs = pairwise_posterior(calibration)
    names = {t for ax in pairs.axes for t in (ax.get_xlabel(), ax.get_ylabel()) if t}
    assert {n.replace("\n", " ") for n in names} == {"criticism: rate per year", "Beta's resolve"}


def test_a_sweeps_report_names_its_parameters_by_label_and_its_override(
    grid: Path, tmp_path: Path
) -> None:
    from sim.report import write_report

    page = write_report(grid, tmp_path / "report.html").read_text(encoding="utf-8")
    assert f"with --set {SET}=0.4" in page  # the heading, as the terminal's and the figures'
    assert f"<th>{LABELS[RESOLVE]}</th>" in page  # the points table's column
    assert f"{LABELS[RESOLVE]} = {RESOLVE}" in page  # the path, said once


def test_a_posterior_is_shown_from_the_working_directory_when_it_lies_under_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headers and subtitles name a posterior as a reader would type it; JSON keeps it whole."""
    inside = tmp_path / "scenarios" / "posteriors" / "duel" / "fit"
    monkeypatch.chdir(tmp_path)
    assert shown_path(str(inside)) == os.path.join("scenarios", "posteriors", "duel", "fit")
    assert shown_path("/elsewhere/fit") == "/elsewhere/fit"  # not under it: as it was
    assert shown_path("fit") == "fit"
