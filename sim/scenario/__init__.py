"""Scenarios: the YAML format, loading with extends and overrides, the named catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario.loader import ScenarioError

if TYPE_CHECKING:
    from sim.engine.spec import RunSpec
    from sim.scenario.schema import Scenario

__all__ = ["ScenarioError", "compile_scenario", "load"]


def load(name_or_path: str | Path, overrides: list[str] | dict[str, Any] | None = None) -> Scenario:
    """Load, merge, override and validate a scenario by name or path."""
    from sim.scenario.loader import apply_overrides, load_document, validate
    from sim.scenario.registry import resolve, resolve_base

    loaded = load_document(resolve(name_or_path), resolve_base)
    if overrides:
        apply_overrides(loaded, overrides)
    scenario = validate(loaded)
    if overrides:  # how its outputs name it; not part of its document or hash
        given = overrides.items() if isinstance(overrides, dict) else None
        scenario._overrides = [f"{k}={v}" for k, v in given] if given else list(overrides)
    return scenario


def compile_scenario(scenario: Scenario) -> RunSpec:
    """Compile a validated scenario into the engine's run spec."""
    from sim.scenario.compile import compile_scenario as _compile

    return _compile(scenario)
