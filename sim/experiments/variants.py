"""Scenarios at drawn parameter values, made fast: load once, set values, validate, compile.

A calibration simulates the scenario at tens of thousands of parameter values, and a run
over a posterior at a fresh draw per replication. Reading YAML or deep-copying the whole
scenario document each time would cost more than many simulations; a :class:`Variants`
resolves each dotted path once against the validated base document, then makes the
document of a draw by copying only the containers along the paths (the rest is shared, and
pydantic never mutates its input), validates it and compiles it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from sim.errors import SimError

#: Steps from the document's root to a value: dict keys and list positions.
Steps = tuple[str | int, ...]


class VariantError(SimError):
    """Values that do not make a valid scenario."""


def resolve_steps(data: Any, path: str) -> Steps:
    """Return the container steps to a path's value (list items by id), checked on the schema."""
    from sim.scenario.paths import parse_path, set_path

    parts = parse_path(path)
    set_path(copy.deepcopy(data), parts, 0, path)  # raises PathError with the closest names
    steps: list[str | int] = []
    node = data
    for part in parts:
        if isinstance(node, list):
            ids = [item.get("id") if isinstance(item, dict) else None for item in node]
            index = part if isinstance(part, int) and part < len(node) else ids.index(part)
            steps.append(index)
            node = node[index]
        else:
            steps.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return tuple(steps)


def get_steps(data: Any, steps: Steps) -> Any:
    """Return the value at resolved steps, or None where the document has none."""
    node = data
    for step in steps:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def with_values(data: dict[str, Any], assignments: Sequence[tuple[Steps, Any]]) -> dict[str, Any]:
    """Return a copy of ``data`` with values set at resolved steps, sharing everything else."""
    root = dict(data)
    for steps, value in assignments:
        node: Any = root
        for step in steps[:-1]:
            child = node.get(step) if isinstance(node, dict) else node[step]
            if isinstance(child, dict):
                child = dict(child)
            elif isinstance(child, list):
                child = list(child)
            else:  # a field the base leaves out: set_path would create it the same way
                child = {}
            node[step] = child
            node = child
        node[steps[-1]] = value
    return root


class Variants:
    """Makes the validated (and compiled) scenario at given values of some paths.

    ``integer`` lists the paths whose field holds an integer: drawn values are rounded.
    """

    def __init__(
        self, data: Mapping[str, Any], paths: Sequence[str], integer: Sequence[str] = ()
    ) -> None:
        self.data = dict(data)
        self.paths = list(paths)
        self.integer = set(integer)
        self.steps = [resolve_steps(self.data, p) for p in self.paths]

    def document(self, values: Sequence[float]) -> dict[str, Any]:
        """Return the scenario document with ``values`` (in :attr:`paths` order) set."""
        assignments = []
        for path, steps, value in zip(self.paths, self.steps, values, strict=True):
            assignments.append((steps, round(value) if path in self.integer else float(value)))
        return with_values(self.data, assignments)

    def scenario(self, values: Sequence[float]) -> Any:
        """Return the validated Scenario with ``values`` set."""
        from pydantic import ValidationError

        from sim.scenario.paths import format_path
        from sim.scenario.references import ReferenceProblem
        from sim.scenario.schema import Scenario

        document = self.document(values)
        try:
            return Scenario.model_validate(document)
        except ValidationError as err:
            problem = err.errors(include_url=False)[0]
            where = format_path(document, tuple(problem["loc"]))
            raise VariantError(f"{self._shown(values)}: {where}: {problem['msg']}") from None
        except ReferenceProblem as err:
            raise VariantError(f"{self._shown(values)}: {err.message}") from None

    def base_spec(self) -> Any:
        """Return the compiled run spec of the document as it stands (no values set)."""
        from sim.scenario import compile_scenario
        from sim.scenario.schema import Scenario

        return compile_scenario(Scenario.model_validate(self.data))

    def spec(self, values: Sequence[float]) -> Any:
        """Return the compiled run spec with ``values`` set."""
        from sim.scenario import compile_scenario

        return compile_scenario(self.scenario(values))

    def _shown(self, values: Sequence[float]) -> str:
        return ", ".join(f"{p}={v:g}" for p, v in zip(self.paths, values, strict=True))
