"""The scenario format: round trips, the printed JSON Schema, sources, and compilation."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
import yaml

import sim
from sim.scenario import compile_scenario
from sim.scenario.registry import list_scenarios
from sim.scenario.schema import Scenario

HERE = Path(__file__).resolve().parent
NAMED = HERE.parent / "scenarios"
# Scenarios at the top of scenarios/ and in its oracles/ folder (sweeps/ holds sweep
# specifications, not scenarios), and the tests' own fixtures.
FILES = [
    *sorted(NAMED.glob("*.yaml")),
    *sorted(NAMED.glob("oracles/*.yaml")),
    *sorted((HERE / "scenarios").glob("*.yaml")),
]
NAME = "taiwan-flashpoint-2025"


@functools.cache
def named(name: str) -> Scenario:
    """A named scenario, loaded once per session (callers must not change it)."""
    return sim.load(name)


@pytest.fixture(scope="module", params=FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def scenario(request: pytest.FixtureRequest) -> Scenario:
    """Every scenario file of scenarios/ (variants included) and of the test fixtures."""
    return sim.load(str(request.param))


def test_the_files_are_all_there() -> None:
    stems = {p.stem for p in FILES}
    assert {NAME, f"{NAME}-us-backs-japan", f"{NAME}-lai-transit", "duel"} <= stems


def test_round_trip_through_json(scenario: Scenario) -> None:
    """dump(mode=json) -> JSON text -> validate gives an equal model and the same hash."""
    text = json.dumps(scenario.model_dump(mode="json"))
    again = Scenario.model_validate(json.loads(text))
    assert again == scenario
    assert again.content_hash() == scenario.content_hash()
    assert again.model_dump(mode="json") == scenario.model_dump(mode="json")


@pytest.mark.parametrize("name", [NAME, "duel"])
def test_round_trip_through_a_yaml_file(name: str, tmp_path: Path) -> None:
    """The resolved scenario written as YAML loads back as the same scenario."""
    scenario = named(NAME) if name == NAME else sim.load(str(HERE / "scenarios" / "duel.yaml"))
    path = tmp_path / "resolved.yaml"
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(scenario.model_dump(mode="json"), Dumper=dumper, sort_keys=False))
    again = sim.load(str(path))
    assert again == scenario and again.content_hash() == scenario.content_hash()


def test_content_hash_sees_every_change(scenario: Scenario) -> None:
    changed = scenario.model_copy(deep=True)
    changed.actors[0].attributes.resolve = 1.0 - scenario.actors[0].attributes.resolve + 1e-3
    assert changed.content_hash() != scenario.content_hash()
    assert scenario.model_copy(deep=True).content_hash() == scenario.content_hash()


def test_every_scenario_compiles(scenario: Scenario) -> None:
    spec = compile_scenario(scenario)
    assert spec.name == scenario.name and spec.days == scenario.days
    assert len(spec.actors) == len(scenario.actors)
    assert len(spec.levers) == sum(len(a.levers) for a in scenario.actors)
    assert len(spec.rung_names) == len(scenario.ladder)
    assert spec.outcome_ids == tuple(c.id for c in scenario.outcomes.classes)
    n = len(scenario.actors)
    assert len(spec.dyads) == n * (n - 1) // 2


def test_every_named_scenario_loads_by_name_and_compiles() -> None:
    names = [entry.name for entry in list_scenarios()]
    assert {NAME, f"{NAME}-us-backs-japan", f"{NAME}-lai-transit"} <= set(names)
    for name in names:
        scenario = named(name)
        assert scenario.name == name  # a variant renames itself, so results do not mix
        compile_scenario(scenario)


def test_every_lever_of_the_named_scenario_cites_a_source() -> None:
    scenario = named(NAME)
    missing = [
        f"{actor.id}.{lever.id}"
        for actor in scenario.actors
        for lever in actor.levers
        if not lever.source.strip()
    ]
    assert missing == []
    assert sum(len(a.levers) for a in scenario.actors) >= 40  # every lever of the story


def test_every_relation_and_event_of_the_named_scenario_cites_a_source() -> None:
    scenario = named(NAME)
    assert [r for r in scenario.relations if not r.source.strip()] == []
    assert [e.id for e in scenario.events if not e.source.strip()] == []


def test_sim_schema_prints_a_valid_json_schema(cli, tmp_path: Path) -> None:
    done = cli("schema", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert schema == Scenario.model_json_schema()
    assert schema["type"] == "object"
    assert set(schema["properties"]) == set(Scenario.model_fields)
    expected = {"name", "title", "start", "end", "horizon_days", "ladder", "military_rung"}
    expected |= {"dynamics", "actors", "relations", "initial", "events", "outcomes"}
    assert expected <= set(schema["properties"])
    assert {"name", "title", "start", "ladder", "military_rung", "actors", "outcomes"} <= set(
        schema["required"]
    )
    # Unknown keys are errors in the format, so the schema says so to editors too.
    assert schema.get("additionalProperties") is False
    assert schema["$defs"]["Lever"]["additionalProperties"] is False

    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    document = named(NAME).model_dump(mode="json", exclude_none=True)
    errors = [e.message for e in validator.iter_errors(document)]
    assert errors == [], errors[:3]
    bad = document | {"militray_rung": 5}
    assert any("militray_rung" in e.message for e in validator.iter_errors(bad))


def undescribed(schema: dict, where: str = "") -> list[str]:
    """Paths of the properties in a JSON Schema (nested ones too) that lack a description."""
    missing = []
    for name, prop in schema.get("properties", {}).items():
        path = f"{where}.{name}" if where else name
        if len(str(prop.get("description", "")).split()) < 3:  # a word or two says nothing
            missing.append(path)
        missing += undescribed(prop, path)
    for key in ("anyOf", "oneOf", "allOf"):
        for k, branch in enumerate(schema.get(key, [])):
            missing += undescribed(branch, f"{where}[{key} {k}]")
    return missing


def test_every_field_of_the_schema_is_described_for_an_author() -> None:
    """What `sim schema` prints (and an editor shows) says what each field means."""
    schema = Scenario.model_json_schema()
    missing = undescribed(schema, "Scenario")
    for name, model in schema["$defs"].items():
        missing += undescribed(model, name)
        if not model.get("description"):
            missing.append(f"{name} (the model itself)")
    assert len(schema["$defs"]) >= 30  # every model of the format is walked
    assert missing == []


def test_the_walk_finds_a_missing_description() -> None:
    schema = {"properties": {"a": {"description": "what a means"}, "b": {"type": "number"}}}
    schema["properties"]["c"] = {"properties": {"d": {}}, "description": "a nested model"}
    schema["properties"]["e"] = {"anyOf": [{"properties": {"f": {"description": "f"}}}]}
    assert undescribed(schema) == ["b", "c.d", "e", "e[anyOf 0].f"]
