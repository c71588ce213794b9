"""Load a scenario: safe YAML, ``extends``, ``--set`` overrides, and errors with file:line.

Loading happens in four steps: read each file safely (no Python tags, no duplicate keys,
bounded size), merge the ``extends`` chain (mappings merge key by key, lists of items
with an ``id`` merge by id, other lists are replaced), apply overrides, and validate the
result with pydantic. Any failure becomes a :class:`ScenarioError` naming the file, the
line, the dotted field path and what was expected.

A file is read with libyaml (PyYAML's ``CSafeLoader``, 8 times faster than its pure-Python
composer on the named scenario), with the same checks: the nesting is checked on libyaml's
event stream before anything is composed, and the nodes it composes keep their line marks.
When libyaml finds anything wrong, the file is read again with the pure-Python loader,
whose errors say what and where in the words the tests and users know.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from sim.errors import SimError
from sim.scenario.nesting import NestingGuard, TooDeep
from sim.scenario.paths import (
    clipped,
    closest_names,
    format_path,
    model_at,
    parse_path,
    set_path,
)
from sim.scenario.references import ReferenceProblem

MAX_BYTES = 2_000_000  # a scenario is prose and numbers; anything bigger is a mistake
MAX_NODES = 200_000  # YAML nodes after alias expansion: stops alias bombs
MAX_EXTENDS = 16


class ScenarioError(SimError):
    """A scenario that cannot be loaded; the message names file, line, field and expectation."""


@dataclass
class Source:
    """One YAML file as read: its path, parsed data and node tree (for line numbers)."""

    path: Path
    data: dict[str, Any]
    node: yaml.Node


@dataclass
class Loaded:
    """A merged scenario document and where its parts came from."""

    data: dict[str, Any]
    sources: list[Source] = field(default_factory=list)  # the file first, then its bases
    overrides: list[str] = field(default_factory=list)


# The mixin's constructors call SafeConstructor's through super() once mixed into a loader;
# mypy is told so, while at run time the mixin stays a plain class (the MRO is the loaders').
if TYPE_CHECKING:
    from yaml.constructor import SafeConstructor as _StrictBase
else:
    _StrictBase = object


class _Strict(_StrictBase):
    """Constructors that reject duplicate and unhashable keys, and keep bad scalars as text.

    A date such as 2025-13-01 or an integer of thousands of digits makes PyYAML's own
    constructors raise ValueError; kept as text, it reaches pydantic, which then names the
    field and what it expected. Mixed into both loaders below.
    """

    def construct_yaml_timestamp(self, node: yaml.ScalarNode):  # noqa: ANN201
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            return self.construct_scalar(node)

    def construct_yaml_int(self, node: yaml.ScalarNode):  # noqa: ANN201
        try:
            return super().construct_yaml_int(node)
        except ValueError:
            return self.construct_scalar(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:  # noqa: D102
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool | type(None)):
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"a key must be a plain value, not a {type(key).__name__}",
                    key_node.start_mark,
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _StrictLoader(_Strict, yaml.SafeLoader):
    """The pure-Python strict loader: nesting bounded as the events are composed.

    Nesting is bounded (:class:`TooDeep`, from :class:`NestingGuard`) as the composer takes
    each event, before its recursion can reach Python's limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nesting = NestingGuard(self._scalar_tag)

    def get_event(self) -> yaml.Event:
        """The parser's next event, checked for depth (the composer takes every event here)."""
        event = super().get_event()
        self._nesting.see(event)
        return event

    def _scalar_tag(self, event: yaml.ScalarEvent) -> str:
        """The tag the composer will give a scalar (as Composer.compose_scalar_node)."""
        return _scalar_tag(self, event)


def _scalar_tag(resolver: yaml.resolver.BaseResolver, event: yaml.ScalarEvent) -> str:
    """The tag the composer gives a scalar (as ``Composer.compose_scalar_node``)."""
    if event.tag is None or event.tag == "!":
        return resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
    return event.tag


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _Strict.construct_yaml_timestamp)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _Strict.construct_yaml_int)

LIBYAML = getattr(yaml, "__with_libyaml__", False)  # PyYAML's wheels come with libyaml
if LIBYAML:

    class _FastStrictLoader(_Strict, yaml.CSafeLoader):
        """libyaml's parser and composer with the strict constructors (see :func:`_read_fast`)."""

    _FastStrictLoader.add_constructor(
        "tag:yaml.org,2002:timestamp", _Strict.construct_yaml_timestamp
    )
    _FastStrictLoader.add_constructor("tag:yaml.org,2002:int", _Strict.construct_yaml_int)


def _count_nodes(node: yaml.Node, budget: int) -> int:
    """Count nodes with aliases expanded, stopping once past the budget."""
    stack, count = [node], 0
    while stack and count <= budget:
        current = stack.pop()
        count += 1
        if isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return count


def read_yaml(path: Path) -> Source:
    """Read one YAML file safely into data and its node tree.

    The size cap holds before anything is read: from the file's size where the system
    knows it, and by reading at most one byte past the cap where it does not (a pipe).
    """
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ScenarioError(f"{path}: {size} bytes; a scenario may have at most {MAX_BYTES}")
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the file ({err.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ScenarioError(
            f"{path}: more than {MAX_BYTES} bytes; a scenario may have at most {MAX_BYTES}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {err.start})") from None
    fast = _read_fast(path, text) if LIBYAML else None
    return fast if fast is not None else _read_checked(path, text)


def _read_fast(path: Path, text: str) -> Source | None:
    """Read with libyaml: the events checked for depth, then composed and constructed in C.

    Returns None if libyaml finds anything wrong (the pure-Python loader then words the
    error), or if the document is not a mapping or is too large once aliases are expanded.
    """
    try:
        resolver = yaml.resolver.Resolver()
        guard = NestingGuard(lambda event: _scalar_tag(resolver, event))
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            guard.see(event)
        loader = _FastStrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None or _count_nodes(node, MAX_NODES) > MAX_NODES:
                return None
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except (yaml.YAMLError, TooDeep, RecursionError):
        return None
    return Source(path, data, node) if isinstance(data, dict) else None


def _read_checked(path: Path, text: str) -> Source:
    """Read with the pure-Python strict loader, which words every problem it meets."""
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is not None and _count_nodes(node, MAX_NODES) > MAX_NODES:
                raise ScenarioError(
                    f"{path}: more than {MAX_NODES} YAML nodes once aliases are "
                    "expanded (an alias bomb?)"
                )
            # build the data from the node tree already parsed (one parse, not two)
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise ScenarioError(_yaml_message(path, err)) from None
    except TooDeep as err:
        raise ScenarioError(f"{path}:{err.line}: {err.dotted()}: {err.problem()}") from None
    except RecursionError:  # a backstop: NestingGuard stops the composer long before
        raise ScenarioError(f"{path}: nested deeper than the YAML parser can follow") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ScenarioError(f"{path}:1: expected a mapping of scenario fields, found {kind}")
    return Source(path, data, node)


def _yaml_message(path: Path, err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    line = f":{mark.line + 1}" if mark is not None else ""
    problem = getattr(err, "problem", None) or str(err)
    if "could not determine a constructor" in str(err):
        problem = f"tag not allowed ({problem}); scenarios are plain YAML data"
    return f"{path}{line}: invalid YAML: {problem}"


# --- extends ----------------------------------------------------------------------------


def merge(base: Any, over: Any) -> Any:
    """Deep-merge ``over`` onto ``base``: mappings by key, lists of id'd items by id."""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and _is_id_list(over) and any(_has_id(i) for i in base):
        out = [copy.deepcopy(item) for item in base]
        where = {item["id"]: i for i, item in enumerate(out) if _has_id(item)}
        for item in over:
            if item["id"] in where:
                out[where[item["id"]]] = merge(out[where[item["id"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(over)


def _has_id(item: Any) -> bool:
    return isinstance(item, dict) and "id" in item


def _is_id_list(value: Any) -> bool:
    """A non-empty list whose items all have ids: it merges into a base list by id."""
    return isinstance(value, list) and bool(value) and all(_has_id(item) for item in value)


def load_document(path: Path, resolve_base) -> Loaded:  # noqa: ANN001
    """Read ``path`` and merge its ``extends`` chain (bases resolved by ``resolve_base``)."""
    chain = [read_yaml(path)]
    while "extends" in chain[-1].data:
        name = chain[-1].data["extends"]
        if not isinstance(name, str):
            raise ScenarioError(
                f"{chain[-1].path}:{_line(chain[-1].node, ('extends',))}: "
                "extends: expected the name of a scenario"
            )
        try:
            base_path = resolve_base(name, chain[-1].path)
        except SimError as err:  # where the extends line is, then what was looked for
            line = _line(chain[-1].node, ("extends",))
            raise ScenarioError(f"{chain[-1].path}:{line}: {err}") from None
        if any(src.path == base_path for src in chain) or len(chain) > MAX_EXTENDS:
            raise ScenarioError(
                f"{chain[-1].path}: extends: a cycle or a chain longer than "
                f"{MAX_EXTENDS} ({' -> '.join(s.path.name for s in chain)} -> {name})"
            )
        chain.append(read_yaml(base_path))
    data: dict[str, Any] = {}
    for src in reversed(chain):
        data = merge(data, {k: v for k, v in src.data.items() if k != "extends"})
    return Loaded(data, chain)


# --- validation and error messages --------------------------------------------------------


def validate(loaded: Loaded):  # noqa: ANN201 - returns Scenario (imported lazily)
    """Validate a merged document into a Scenario, or raise a ScenarioError."""
    from sim.scenario.schema import Scenario

    try:
        return Scenario.model_validate(loaded.data)
    except ValidationError as err:
        raise ScenarioError(_validation_message(loaded, err)) from None
    except ReferenceProblem as err:
        raise ScenarioError(_located(loaded, err.loc, err.message)) from None


def _validation_message(loaded: Loaded, err: ValidationError) -> str:
    problems = err.errors(include_url=False)
    lines = [_located(loaded, tuple(p["loc"]), _expected(p, loaded.data)) for p in problems[:5]]
    if len(problems) > 5:
        lines.append(f"... and {len(problems) - 5} more problems")
    return "\n".join(lines)


def _expected(problem: Mapping[str, Any], data: Any) -> str:
    message = problem["msg"]
    if problem["type"] == "extra_forbidden":
        message = "unknown field (not part of the scenario format; see `sim schema`)"
        message += _closest_fields(problem["loc"], data)
    given = problem.get("input")
    if problem["type"] != "missing" and not isinstance(given, dict | list) and given is not None:
        shown = repr(given)
        if len(shown) > 80:  # a huge value must not make a huge message
            shown = clipped(shown)
        message += f" (got {shown})"
    return message


def _closest_fields(loc: tuple, data: Any) -> str:
    """'; closest: x, y' naming the fields of the enclosing model most like an unknown one."""
    parent = model_at(data, _without_union_tags(data, tuple(loc[:-1])))
    if parent is None or not loc:
        return ""
    close = closest_names(str(loc[-1]), list(parent.model_fields))
    return f"; closest: {', '.join(close)}" if close else ""


def _located(loaded: Loaded, loc: tuple, message: str) -> str:
    """'file:line: dotted.path: message' for a location in the merged document."""
    loc = _without_union_tags(loaded.data, loc)
    dotted = format_path(loaded.data, loc)
    for override in loaded.overrides:
        path = override.split("=", 1)[0].strip()
        if dotted == path or dotted.startswith(f"{path}."):
            return f"--set {_shown(override)}: {clipped(dotted)}: {message}"
    related = [o for o in loaded.overrides if _changed_near(o, loc, dotted)]
    if related:  # a problem of the whole, or of a part an override replaced or sits in
        message += f" (with --set {', '.join(_shown(o) for o in related)})"
    for src in loaded.sources:
        line = _line_in(src, loaded.data, loc)
        if line is not None:
            return f"{src.path}:{line}: {dotted}: {message}"
    return f"{loaded.sources[0].path}: {dotted}: {message}"


def _changed_near(override: str, loc: tuple, dotted: str) -> bool:
    """Whether an override may have caused a problem at ``loc`` that it does not name.

    A problem of the whole scenario (a validator over several fields), of a part that holds
    what the override changed (a validator of the actor), or of a part beside it in the same
    parent (an actor set to null shows as ``actors.0``); not one elsewhere in the file.
    """
    path = override.split("=", 1)[0].strip()
    parent = path.rpartition(".")[0]
    return (
        not loc or path.startswith(f"{dotted}.") or bool(parent and dotted.startswith(f"{parent}."))
    )


# pydantic puts the chosen member of a tagged union in the location; readers don't need it
def _without_union_tags(data: Any, loc: tuple) -> tuple:
    """Drop the member names pydantic puts in the location of a tagged union's item.

    A part is such a tag when the item there has no field of that name and its ``kind`` or
    ``type`` says it; a real field that happens to share the name (``tension``) stays.
    """
    out, node = [], data
    for part in loc:
        if (
            isinstance(node, dict)
            and isinstance(part, str)
            and part not in node
            and part in (node.get("kind"), node.get("type"))
        ):
            continue
        out.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _line_in(src: Source, merged: Any, loc: tuple) -> int | None:
    """The line of the deepest node of ``loc`` that this file defines, if any."""
    node, data, best = src.node, merged, None
    for part in loc:
        child, data = _child(node, data, part)
        if child is None:
            break
        node, best = child, child.start_mark.line + 1
    return best


def _child(node: yaml.Node, data: Any, part: str | int) -> tuple[yaml.Node | None, Any]:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if getattr(key, "value", None) == part:
                sub = data.get(part) if isinstance(data, dict) else None
                return value, sub
        return None, None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and isinstance(data, list):
        item = data[part] if part < len(data) else None
        ident = item.get("id") if isinstance(item, dict) else None
        if part < len(node.value) and (ident is None or _node_id(node.value[part]) == ident):
            return node.value[part], item  # the same position (a duplicate id lands here too)
        for sub in node.value:  # merged by id from a base file: find the item by its id
            if ident is not None and _node_id(sub) == ident:
                return sub, item
    return None, None


def _node_id(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "id":
                return getattr(value, "value", None)
    return None


def _line(node: yaml.Node, loc: tuple) -> int:
    for part in loc:
        child, _ = _child(node, {}, part)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


# --- overrides --------------------------------------------------------------------------


def apply_overrides(loaded: Loaded, overrides: list[str] | dict[str, Any]) -> None:
    """Apply ``path=value`` overrides (values parsed as YAML) to the merged document."""
    if isinstance(overrides, dict):
        items = [(path, value, f"{path}={value}") for path, value in overrides.items()]
    else:  # a message repeats an override as it was typed (null, not None)
        items = [(*_split(o), o.strip()) for o in overrides]
    for path, value, typed in items:
        parts = parse_path(path)
        set_path(loaded.data, parts, value, path)
        loaded.overrides.append(typed)


def _split(override: str) -> tuple[str, Any]:
    if "=" not in override:
        raise ScenarioError(f"--set {_shown(override)}: expected dotted.path=value")
    path, text = override.split("=", 1)
    try:
        value = yaml.load(text, Loader=_StrictLoader) if text.strip() else ""  # noqa: S506
    except TooDeep as err:  # as text it could pass for a valid string: say what is wrong
        raise ScenarioError(_too_deep_override(path.strip(), text, err)) from None
    except (yaml.YAMLError, RecursionError):
        value = text
    return path.strip(), value


def _too_deep_override(path: str, text: str, err: TooDeep) -> str:
    """'--set path=value: path.0.0...: nested more than N levels deep', the value cut short."""
    inner = err.dotted()
    where = path if inner == "(top level)" else f"{path}.{inner}"
    return f"--set {_shown(f'{path}={text}')}: {clipped(where)}: {err.problem()}"


def _shown(override: str) -> str:
    """An override as a message repeats it: its path and its value each cut short if long."""
    path, equals, value = override.partition("=")
    return f"{clipped(path)}{equals}{clipped(value, 40)}"
