"""What sweep and calibration files share: their shorthand, their paths and their errors.

A sweep file and a calibration file are YAML documents of the same shape: a scenario, some
parameters given in a shorthand (``0.3:0.9:7``, ``[0, 0.5, 1]``, ``triangular(0.1, 0.3,
0.6)``), fixed overrides. This module reads what they share: the shorthand (with the
distributions each kind knows), a scenario path relative to the file, ``--set`` options,
the search for a named document, and the ``file:line: field: problem`` messages of a
document that does not validate. Light: no numpy, no pandas.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from sim.scenario.paths import clipped

#: The longest label a parameter may be given (it heads a column and names an axis).
LONGEST_LABEL = 60


def _checked_label(text: str) -> str:
    """Return a parameter's label without surrounding blanks; refuse a blank or long one."""
    text = text.strip()
    if not text or len(text) > LONGEST_LABEL or "\n" in text:
        raise ValueError(
            f"expected a label of 1 to {LONGEST_LABEL} characters on one line, the parameter's "
            f'name in tables and figures (e.g. label: "China: resolve"), not '
            + (repr(clipped(text)) if text else "blank")
        )
    return text


#: A parameter's label, as a sweep or calibration file may give it (surrounding blanks dropped).
Label = Annotated[str, AfterValidator(_checked_label)]


class WithLabel(BaseModel):
    """A parameter with a ``label`` field: what tables and figures call it, if the file says.

    An unset label is left out of the parameter's JSON, so that a plan written before
    labels existed reads (and resumes) as the same plan.
    """

    @model_serializer(mode="wrap")
    def _without_unset_label(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("label", "") is None:
            del data["label"]
        return data


def merge_by_path(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return parameters ``old`` with ``new`` added, replacing any of the same path.

    A parameter given anew without a label keeps the label the old one had (a ``--param``
    that changes a sweep file's range does not drop the file's name for it).
    """
    merged = {p["path"]: p for p in old}
    for p in new:
        label = p.get("label") or merged.get(p["path"], {}).get("label")
        merged[p["path"]] = {**p, "label": label} if label else p
    return list(merged.values())


def check_distinct(paths: list[str], fixed: Any, varied: str) -> None:
    """Raise a ValueError if a path is given twice, or both varied and fixed (``set``)."""
    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        raise ValueError(f"parameters given twice: {', '.join(repeated)}")
    clash = sorted(set(paths) & set(fixed))
    if clash:
        raise ValueError(f"paths both {varied} and set: {', '.join(clash)}")


_DIST_CALL = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$")


def parse_shorthand(
    text: str, path: str, distributions: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    """Parse ``low:high[:steps]``, ``[v, ...]`` or ``dist(args)`` into Parameter fields.

    ``distributions`` names the known ``dist(args)`` calls and their arguments (a
    calibration's priors know more than a sweep's designs).
    """
    text = text.strip()
    if text.startswith("["):
        return {"values": _yaml_list(text, path)}
    call = _DIST_CALL.match(text)
    if call:
        return _parse_call(call.group(1), call.group(2), path, distributions)
    if ":" in text:
        return _parse_range(text, path)
    raise ValueError(
        f"parameter {path}: '{text}' is a single value; a sweep parameter needs a range "
        "low:high:steps, a list [a, b, c] or a distribution such as uniform(0.2, 0.8) "
        "(a fixed value is an override: --set on the command line, set: in a sweep file)"
    )


def _yaml_list(text: str, path: str) -> list[Any]:
    import yaml

    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError:
        values = None
    if not isinstance(values, list) or not values:
        raise ValueError(f"parameter {path}: '{text}': expected a list such as [0, 0.5, 1]")
    return values


def _parse_range(text: str, path: str) -> dict[str, Any]:
    parts = text.split(":")
    try:
        if len(parts) == 2:
            return {"low": float(parts[0]), "high": float(parts[1])}
        if len(parts) == 3:
            return {"low": float(parts[0]), "high": float(parts[1]), "steps": int(parts[2])}
    except ValueError:
        pass
    raise ValueError(
        f"parameter {path}: '{text}': expected low:high (a range) or low:high:steps "
        "(evenly spaced values), e.g. 0.3:0.9:7"
    )


def _parse_call(
    name: str, inner: str, path: str, distributions: Mapping[str, tuple[str, ...]]
) -> dict[str, Any]:
    if name not in distributions:
        raise ValueError(
            f"parameter {path}: unknown distribution '{name}'; known: {', '.join(distributions)}"
        )
    names = distributions[name]
    try:
        args = [float(a) for a in inner.split(",")]
    except ValueError:
        args = []
    if len(args) != len(names):
        raise ValueError(
            f"parameter {path}: '{name}({inner})': expected {name}({', '.join(names)}) with numbers"
        )
    return {"dist": name, **dict(zip(names, args, strict=True))}


def looks_like_path(name: str) -> bool:
    """Whether a scenario named in a sweep or calibration file is a path relative to it."""
    return name.endswith((".yaml", ".yml")) and not Path(name).is_absolute()


def validation_message(where: str, data: Any, err: ValidationError, node: Any) -> str:
    """Return 'file:line: field: problem' lines for a pydantic error on a sweep document."""
    lines = []
    for problem in err.errors(include_url=False)[:5]:
        loc = tuple(problem["loc"])
        field = _field_name(data, loc)
        line = _line_of(node, data, loc) if node is not None else None
        at = f"{where}:{line}" if line else where
        message = problem["msg"].removeprefix("Value error, ")
        given = problem.get("input")
        if problem["type"] not in ("missing", "value_error") and not isinstance(given, dict):
            message += f" (got {given!r})"
        lines.append(f"{at}: {message}" if field == "(top level)" else f"{at}: {field}: {message}")
    return "\n".join(lines)


def _field_name(data: Any, loc: tuple) -> str:
    """Name a location, with a parameter named by its path rather than its position."""
    if len(loc) >= 2 and loc[0] == "parameters" and isinstance(loc[1], int):
        params = data.get("parameters") if isinstance(data, dict) else None
        if isinstance(params, dict) and loc[1] < len(params):
            return ".".join(["parameters", list(params)[loc[1]], *map(str, loc[2:])])
    return ".".join(str(p) for p in loc) or "(top level)"


def _line_of(node: Any, data: Any, loc: tuple) -> int | None:
    """Return the line of the deepest YAML node that ``loc`` reaches (1-based)."""
    import yaml

    best = None
    if len(loc) >= 2 and loc[0] == "parameters" and isinstance(data.get("parameters"), dict):
        # Parameters are a mapping in the file but a list in the model: index by position.
        loc = ("parameters", list(data["parameters"])[loc[1]], *loc[2:])
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node, best = child, child.start_mark.line + 1
    return best


def find_document(name: str, accepts: Any) -> Path | None:
    """Return the YAML file a name or path stands for if ``accepts`` its data, else None."""
    import yaml

    from sim.scenario.registry import SUFFIXES, find

    path = Path(name)
    candidate = path if path.suffix in SUFFIXES and path.is_file() else find(name)
    if candidate is None:
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        data = yaml.load(candidate.read_text(encoding="utf-8"), Loader=loader)
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None  # The loader of whichever kind of file it is will say what is wrong.
    return candidate if accepts(data) else None
