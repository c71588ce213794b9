"""What a scenario author sees for a typo: the file, the line, the field and the closest name.

A misspelt reference must never validate and quietly change results (a lever's sector that
matches no dependence used to fall back to trade exposure: a tenfold change of a target's
cost); an unknown field names the valid ones most like it; the horizon's errors and a bad
``extends`` point at their line; ``sim list`` marks the files that do not validate.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.scenario import ScenarioError

REPO = Path(__file__).resolve().parents[1]
NAMED = REPO / "scenarios" / "taiwan-flashpoint-2025.yaml"
DUEL = REPO / "tests" / "scenarios" / "duel.yaml"


def variant(tmp_path: Path, source: Path, old: str, new: str, name: str = "typo.yaml") -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        sim.load(path)
    return str(info.value)


def test_a_misspelt_sector_is_refused_with_its_line_and_the_closest_sector(tmp_path) -> None:  # noqa: ANN001
    path = variant(
        tmp_path, NAMED, "goldstein: -4.0, sector: tourism,", "goldstein: -4.0, sector: tourisme,"
    )
    message = error_of(path)
    assert re.match(
        rf"{re.escape(str(path))}:\d+: actors\.CHN\.levers\.travel_advisory\.sector: ", message
    )
    assert "sector 'tourisme' is in no dependence on CHN; closest: tourism" in message


def test_an_unknown_field_names_the_closest_fields(tmp_path) -> None:  # noqa: ANN001
    path = variant(tmp_path, NAMED, "    review_every_days: 2 ", "    review_evry_days: 2 ")
    message = error_of(path)
    assert ": actors.CHN.review_evry_days: unknown field" in message
    assert "closest: review_every_days" in message
    nested = variant(
        tmp_path,
        DUEL,
        "{duration_days: 3}, source: test}",
        "{duraton_days: 3}, source: test}",
        "n.yaml",
    )
    assert "closest: duration_days" in error_of(nested)


def test_a_misspelt_lever_reference_names_the_closest_lever(tmp_path) -> None:  # noqa: ANN001
    path = variant(
        tmp_path, NAMED, "lifts: [contingency_statement]", "lifts: [contingency_statment]"
    )
    message = error_of(path)
    assert "unknown lever of JPN 'contingency_statment'; closest: contingency_statement" in message
    assert re.search(r"typo\.yaml:\d+: actors\.JPN\.levers\.retract_statement\.lifts\.0", message)


@pytest.mark.parametrize(
    ("old", "new", "field", "says"),
    [
        ("horizon_days: 60\n", "", "start", "give an end (a date) or horizon_days"),
        ("horizon_days: 60\n", "horizon_days: 60\nend: 2025-03-01\n", "horizon_days", "not both"),
    ],
)
def test_the_horizons_errors_name_their_line(tmp_path, old, new, field, says) -> None:  # noqa: ANN001
    path = variant(tmp_path, DUEL, old, new)
    message = error_of(path)
    assert re.match(rf"{re.escape(str(path))}:\d+: {field}: ", message), message
    assert says in message


def test_the_json_schema_says_end_or_horizon_days() -> None:
    from sim.scenario.schema import Scenario

    assert Scenario.model_json_schema()["oneOf"] == [
        {"required": ["end"]},
        {"required": ["horizon_days"]},
    ]


def test_extends_takes_a_path_beside_the_file_and_says_where_it_looked(tmp_path) -> None:  # noqa: ANN001
    base = tmp_path / "bases" / "base.yaml"
    base.parent.mkdir()
    base.write_text(DUEL.read_text(encoding="utf-8"), encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text("extends: bases/base.yaml\nname: child\n", encoding="utf-8")
    assert sim.load(child).name == "child"
    child.write_text("name: child\nextends: nowhere\n", encoding="utf-8")
    message = error_of(child)
    assert message.startswith(f"{child}:2: extends: unknown scenario 'nowhere'")
    assert str(child.parent) in message and "give its path ending in .yaml" in message
    child.write_text("extends: bases/missing.yaml\n", encoding="utf-8")
    assert "extends: no file 'bases/missing.yaml'" in error_of(child)


def test_sim_list_marks_the_files_that_do_not_validate(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "broken.yaml").write_text("name: broken\ntitle: A broken one\n", encoding="utf-8")
    (tmp_path / "good.yaml").write_text(DUEL.read_text(encoding="utf-8"), encoding="utf-8")
    env = {"SIM_SCENARIO_PATH": str(tmp_path), "PATH": ""}
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", "list"],
        cwd=tmp_path,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = {line.split()[0]: line for line in done.stdout.splitlines()}
    assert "[does not validate:" in lines["broken"]
    assert "[does not validate" not in lines["good"]
