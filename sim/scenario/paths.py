"""Dotted paths into a scenario, such as ``actors.CHN.attributes.resolve``.

List items are addressed by their ``id`` (or by position), so that a path names the
thing a reader sees in the file. Setting a path checks it against the schema, so a typo
fails at once with the closest valid names instead of being silently ignored.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Union

from pydantic import BaseModel

from sim.errors import SimError, closest_names


class PathError(SimError):
    """A dotted path that does not name a field of the scenario."""


#: How much of a long value or path a message repeats.
SHOWN_CHARACTERS = 60


def clipped(text: object, limit: int = SHOWN_CHARACTERS) -> str:
    """Return ``text`` as a message shows it: a long one cut short, with its length."""
    text = str(text)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def parse_path(path: str) -> list[str | int]:
    """Split a dotted path; numeric parts become list positions."""
    if not path or any(not part for part in path.split(".")):
        raise PathError(
            f"'{clipped(path)}': expected a dotted path such as actors.CHN.attributes.resolve"
        )
    return [int(part) if part.isdigit() else part for part in path.split(".")]


def format_path(data: Any, loc: tuple) -> str:
    """A location as a dotted path, naming list items by id where they have one."""
    parts, node = [], data
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            item = node[part]
            ident = item.get("id") if isinstance(item, dict) else None
            parts.append(_shown(ident) if isinstance(ident, str) else str(part))
            node = item
        else:
            parts.append(_shown(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


_PLAIN = re.compile(r"^[A-Za-z0-9_\-]+$")


def _shown(part: Any) -> str:
    """A path part as text; odd keys (blank, dotted, unprintable) quoted with escapes."""
    text = str(part)
    if _PLAIN.match(text):
        return text
    escaped = text.encode("unicode_escape").decode("ascii")
    escaped = escaped.replace(" ", "\\x20").replace(".", "\\x2e")
    return "'" + escaped + "'"


def _strip(annotation: Any) -> Any:
    """Remove Annotated wrappers and Optional."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return annotation


def _model_of(annotation: Any, data: Any) -> type[BaseModel] | None:
    """The model class an annotation stands for, choosing a union member by its tag."""
    annotation = _strip(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (Union, types.UnionType):
        members = [_strip(a) for a in typing.get_args(annotation)]
        models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
        for model in models:
            for tag in ("kind", "type"):
                field = model.model_fields.get(tag)
                if field and isinstance(data, dict) and data.get(tag) == field.default:
                    return model
        return models[0] if models else None
    return None


def valid_paths(model: type[BaseModel], prefix: str = "", depth: int = 3) -> list[str]:
    """Dotted field names under a model, a few levels deep (for suggestions)."""
    out = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        sub = _model_of(info.annotation, None)
        if sub is not None and depth > 1:
            out.extend(valid_paths(sub, f"{path}.", depth - 1))
    return out


def _closest(word: str, options: list[str]) -> str:
    shown = closest_names(word, options) or sorted(options)[:8]
    return ", ".join(shown)


def model_at(data: Any, loc: tuple) -> type[BaseModel] | None:
    """The schema model of the mapping at ``loc`` in a scenario document, if it is one.

    ``loc`` is a location as pydantic gives it (field names, list positions, mapping keys);
    free-form data (policy params) and plain values have no model.
    """
    from sim.scenario.schema import Scenario

    node: Any = data
    annotation: Any = Scenario
    for part in loc:
        model = _model_of(annotation, node)
        origin = typing.get_origin(_strip(annotation))
        if model is not None and isinstance(part, str) and part in model.model_fields:
            annotation = model.model_fields[part].annotation
            node = node.get(part) if isinstance(node, dict) else None
        elif origin is list and isinstance(part, int):
            annotation = typing.get_args(_strip(annotation))[0]
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif origin is dict:
            annotation = typing.get_args(_strip(annotation))[1]
            node = node.get(part) if isinstance(node, dict) else None
        else:
            return None
    return _model_of(annotation, node)


def set_path(data: dict, parts: list[str | int], value: Any, raw: str) -> None:
    """Set ``value`` at ``parts`` in a scenario document, checking each step on the schema."""
    from sim.scenario.schema import Scenario

    node: Any = data
    annotation: Any = Scenario
    raw = clipped(raw)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = clipped(".".join(str(p) for p in parts[:i]) or "the scenario")
        model = _model_of(annotation, node)
        origin = typing.get_origin(_strip(annotation))
        if annotation is Any:  # free-form data (policy params): follow what is there
            node = _descend_free(node, part, value, last, raw, here)
        elif model is not None:
            if part not in model.model_fields:
                raise PathError(
                    f"--set {raw}: '{clipped(part)}' is not a field of {here}; closest: "
                    f"{_closest(str(part), list(model.model_fields))}"
                )
            annotation = model.model_fields[part].annotation
            if last and _strip(annotation) is str and isinstance(value, int | float):
                value = str(value)  # --set title=1984 means the text, not a number
            node = _descend_mapping(node, part, value, last, annotation)
        elif origin is list:
            annotation = typing.get_args(_strip(annotation))[0]
            node = _descend_list(node, part, value, last, raw, here)
        elif origin is dict:
            annotation = typing.get_args(_strip(annotation))[1]
            node = _descend_mapping(node, part, value, last, annotation)
        else:
            raise PathError(
                f"--set {raw}: {here} is a single value; it has no field '{clipped(part)}'"
            )


def _descend_free(node: Any, part: str | int, value: Any, last: bool, raw: str, here: str) -> Any:
    if isinstance(node, list):
        return _descend_list(node, part, value, last, raw, here)
    if isinstance(node, dict):
        return _descend_mapping(node, part, value, last, Any)
    raise PathError(f"--set {raw}: {here} is a single value; it has no field '{clipped(part)}'")


def _descend_mapping(node: dict, part: str | int, value: Any, last: bool, annotation: Any) -> Any:
    if last:
        node[part] = value
        return value
    if not isinstance(node.get(part), dict | list):
        node[part] = [] if typing.get_origin(_strip(annotation)) is list else {}
    return node[part]


def _descend_list(node: list, part: str | int, value: Any, last: bool, raw: str, here: str) -> Any:
    ids = [item.get("id") for item in node if isinstance(item, dict)]
    if isinstance(part, int) and part < len(node):
        index = part
    elif part in ids:
        index = ids.index(part)
    else:
        names = [str(x) for x in ids if x is not None] or [str(k) for k in range(len(node))]
        raise PathError(
            f"--set {raw}: no item '{clipped(part)}' in {here}; "
            f"closest: {_closest(str(part), names)}"
        )
    if last:
        node[index] = value
    return node[index]
