"""Property-based fuzzing of the scenario loader with hostile and malformed files.

Every case starts from the named scenario and breaks it in one way (one *kind* a test):
wrong types, missing fields, out-of-range, NaN and infinite numbers, unknown references,
huge values, unknown fields, hostile ``--set`` overrides, duplicate and unhashable keys,
empty files, bytes that are not UTF-8, truncated and garbled text, deep nesting, alias
bombs ("billion laughs"), YAML tags (Python tags that would run code among them),
impossible calendar dates, integers too long for Python, hostile ``extends`` names and
overlong names.

The promise checked for every case, through ``sim.load`` in this process:

* it ends in a valid scenario -- which must then compile and run one replication -- or in
  a :class:`sim.errors.SimError` whose message starts with the file (or the ``--set``
  override) and, for a mistake in a field, names that field's dotted path (or a parent or
  sibling of it) and what was expected;
* never any other exception (a traceback on the command line), never more than
  ``CASE_SECONDS`` of CPU time (a SIGPROF timer, with a wall-clock backstop), never code run
  from the data (a marker file that a Python tag would create must not exist afterwards);

and for a sample of each kind, through ``sim validate PATH`` in a subprocess: exit code 2
and exactly the in-process message after ``sim: error:``, nothing on stdout, no traceback,
bounded CPU time (``RLIMIT_CPU``, and a wall-clock backstop) and a bounded peak memory
(``ru_maxrss`` from ``os.wait4``).

The budget is fixed (``max_examples`` per kind, ``derandomize=True``, no example database),
so the file takes the same cases and about the same time on every run. ``SIM_FUZZ_SCALE``
multiplies the budget for a deeper run by hand (``SIM_FUZZ_SCALE=10 pytest -n 0 -s
tests/test_fuzz_loader.py``). The cases tried per kind are printed at the end of the module
(``-n 0 -s``: in one process, not captured) and written to ``fuzz_counts.json`` in
pytest's base temporary folder.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import sim
from sim.errors import SimError
from sim.scenario import compile_scenario
from sim.scenario.nesting import MAX_DEPTH
from sim.scenario.registry import resolve

NAME = "taiwan-flashpoint-2025"
BASE_PATH = resolve(NAME)
BASE_TEXT = BASE_PATH.read_text(encoding="utf-8")
BASE: dict[str, Any] = yaml.safe_load(BASE_TEXT)

SCALE = float(os.environ.get("SIM_FUZZ_SCALE", "1"))
# Time bounds are CPU time (what a hang or a blow-up burns), with a wall-clock backstop far
# above it: on a shared machine under load, wall-clock time says more about the neighbours.
CASE_SECONDS = 20.0  # CPU s: one load + compile + one replication, ~0.4 s
CLI_SECONDS = 60.0  # CPU s: one `sim validate` in a fresh interpreter, ~1.5 s
WALL_SECONDS = 300.0  # the backstop for both
CLI_PEAK_MB = 600  # peak RSS of one `sim validate`; ~110 MB for the named scenario
SESSION_GROWTH_MB = 500  # growth of this process's peak RSS over the whole module
MESSAGE_LINES = 6  # at most 5 problems and "... and N more problems"

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
PLACEHOLDER = "@@PAYLOAD@@"
MARKER_NAME = "PWNED"  # the file a Python tag's payload would create

# Fields whose values name an actor, a lever, an alliance or a sector of the scenario.
REF_FIELDS = {
    "targets",
    "actor",
    "target",
    "lever",
    "levers",
    "dyad",
    "pair",
    "patron",
    "protege",
    "dependent",
    "supplier",
    "backing",
    "lifts",
    "sector",
}
# Mappings keyed by actor ids.
KEYED_REFS = {"offends", "exposure", "stakes", "grievance"}


# --- the document and its paths ------------------------------------------------------------


Path_ = tuple[str | int, ...]


def walk(node: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    """Yield every (path, value) of a parsed YAML document, the root first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ref_path(path: Path_) -> bool:
    """Whether a path holds a reference (``targets.0``, ``actor``, ``dyad.1`` ...)."""
    last = path[-1]
    if isinstance(last, int):
        return len(path) > 1 and path[-2] in REF_FIELDS
    return last in REF_FIELDS


NODES = [(p, v) for p, v in walk(BASE) if p]
ALL_PATHS = [p for p, _ in NODES]
NUMBER_PATHS = [p for p, v in NODES if _is_number(v)]
STRING_PATHS = [p for p, v in NODES if isinstance(v, str)]
DATE_PATHS = [p for p, v in NODES if isinstance(v, dt.date)]
KEY_PATHS = [p for p, _ in NODES if isinstance(p[-1], str)]
DICT_PATHS = [(), *(p for p, v in NODES if isinstance(v, dict))]
REF_PATHS = [p for p, v in NODES if isinstance(v, str) and _ref_path(p)]
KEYED_PATHS = [p for p, _ in NODES if len(p) > 1 and p[-2] in KEYED_REFS]
ACTOR_IDS = [a["id"] for a in BASE["actors"]]
LEVER_IDS = sorted({lv["id"] for a in BASE["actors"] for lv in a.get("levers", [])})


def get_at(doc: Any, path: Path_) -> Any:
    """The value at ``path``."""
    for part in path:
        doc = doc[part]
    return doc


def set_at(doc: Any, path: Path_, value: Any) -> None:
    """Replace the value at ``path`` (the root cannot be replaced)."""
    get_at(doc, path[:-1])[path[-1]] = value


def delete_at(doc: Any, path: Path_) -> None:
    """Delete the key or list item at ``path``."""
    del get_at(doc, path[:-1])[path[-1]]


def rename_key(doc: Any, path: Path_, new: Any) -> None:
    """Rename the mapping key at the end of ``path``, keeping its value."""
    parent = get_at(doc, path[:-1])
    parent[new] = parent.pop(path[-1])


def dotted(doc: Any, path: Path_) -> str:
    """A path as the loader prints it: list items by their id where they have one."""
    parts, node = [], doc
    for part in path:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            item = node[part]
            ident = item.get("id") if isinstance(item, dict) else None
            parts.append(ident if isinstance(ident, str) else str(part))
            node = item
        else:
            parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts)


def dump(doc: Any) -> str:
    """A document as YAML text (one scalar a line: no folding of long strings)."""
    return yaml.dump(doc, Dumper=DUMPER, sort_keys=False, width=2**31 - 1, allow_unicode=True)


def with_payload(path: Path_, payload: str) -> bytes:
    """The named scenario with the value at ``path`` replaced by raw YAML ``payload``."""
    doc = copy.deepcopy(BASE)
    set_at(doc, path, PLACEHOLDER)
    text = dump(doc)
    for quoted in (f"'{PLACEHOLDER}'", f'"{PLACEHOLDER}"', PLACEHOLDER):
        if quoted in text:
            return text.replace(quoted, payload, 1).encode("utf-8")
    raise AssertionError("the placeholder was not written")


# --- cases ------------------------------------------------------------------------------------


class Case:
    """One fuzz case: the bytes of the file, overrides, and what the outcome must show.

    ``field`` is the dotted path of a mutated field (the error must be located at it, at a
    parent or at a sibling); ``must_fail`` says the case can never be a valid scenario;
    ``says`` is a fragment the error message must contain; ``target`` is loaded instead of
    the written file when given. (Not a dataclass: hypothesis would print all its bytes.)
    """

    def __init__(
        self,
        kind: str,
        data: bytes,
        overrides: list[str] | None = None,
        field: str | None = None,
        must_fail: bool = False,
        says: str | None = None,
        target: str | None = None,
        note: str = "",
    ) -> None:
        self.kind, self.data, self.overrides = kind, data, overrides or []
        self.field, self.must_fail, self.says = field, must_fail, says
        self.target, self.note = target, note

    def __repr__(self) -> str:  # hypothesis prints falsifying examples with this
        shown = self.data[:300] + (b"..." if len(self.data) > 300 else b"")
        return (
            f"Case({self.kind!r}, field={self.field!r}, note={self.note!r}, "
            f"overrides={[o[:200] for o in self.overrides]!r}, data={shown!r})"
        )


def mutated(kind: str, doc: dict, path: Path_ | None, **kw: Any) -> Case:
    """A case from a mutated copy of the document."""
    where = dotted(doc, path) if path else None
    return Case(kind, dump(doc).encode("utf-8"), field=where, **kw)


OTHER_TYPES = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    st.lists(st.integers(0, 9), max_size=3),
    st.dictionaries(st.sampled_from(["a", "id", "name", "x"]), st.integers(0, 3), max_size=2),
)


def _type_class(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if _is_number(value):
        return "number"
    return type(value).__name__


@st.composite
def wrong_type(draw: st.DrawFn) -> Case:
    """A value of another type anywhere in the document."""
    path = draw(st.sampled_from(ALL_PATHS))
    old = get_at(BASE, path)
    new = draw(OTHER_TYPES.filter(lambda v: _type_class(v) != _type_class(old)))
    doc = copy.deepcopy(BASE)
    set_at(doc, path, new)
    return mutated("wrong_type", doc, path, note=f"{old!r:.40} -> {new!r:.40}")


@st.composite
def missing_field(draw: st.DrawFn) -> Case:
    """A mapping key deleted anywhere in the document."""
    path = draw(st.sampled_from(KEY_PATHS))
    doc = copy.deepcopy(BASE)
    delete_at(doc, path)
    return mutated("missing_field", doc, path[:-1] or None, note=dotted(BASE, path))


OUT_OF_RANGE = st.one_of(
    st.sampled_from(
        [-1, -0.5, -1e-9, 1.0000001, 1.5, 2, 3, 9, 11, 33, 101, 366, 3661, 10**4 + 1, -(10**6)]
    ),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.integers(-(10**9), 10**9),
)
DATES_OUT = st.one_of(
    st.sampled_from([dt.date(1, 1, 1), dt.date(1900, 1, 1), dt.date(2100, 1, 1)]),
    st.dates(min_value=dt.date(1, 1, 1), max_value=dt.date(9999, 12, 31)),
)


@st.composite
def out_of_range(draw: st.DrawFn) -> Case:
    """A number or a date moved outside its range (negative, above one, past the horizon)."""
    if draw(st.integers(0, 4)) == 0:
        path, new = draw(st.sampled_from(DATE_PATHS)), draw(DATES_OUT)
    else:
        path, new = draw(st.sampled_from(NUMBER_PATHS)), draw(OUT_OF_RANGE)
    doc = copy.deepcopy(BASE)
    set_at(doc, path, new)
    return mutated("out_of_range", doc, path, note=repr(new))


NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf, "nan", "inf", "-Infinity", ".NaN"])


@st.composite
def non_finite(draw: st.DrawFn) -> Case:
    """NaN or an infinity (as a YAML float or as text) in place of a number."""
    path, new = draw(st.sampled_from(NUMBER_PATHS)), draw(NON_FINITE)
    doc = copy.deepcopy(BASE)
    set_at(doc, path, new)
    return mutated("non_finite", doc, path, must_fail=True, note=repr(new))


IDENT = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_\-]{0,20}\Z")
REF_VALUES = st.one_of(
    IDENT, st.sampled_from(ACTOR_IDS), st.sampled_from(LEVER_IDS), st.text(max_size=10)
)


@st.composite
def unknown_reference(draw: st.DrawFn) -> Case:
    """A reference (target, actor, lever, dyad member, alliance, keyed actor) renamed."""
    doc = copy.deepcopy(BASE)
    new = draw(REF_VALUES)
    if draw(st.booleans()):
        path = draw(st.sampled_from(REF_PATHS))
        set_at(doc, path, new)
        return mutated("unknown_reference", doc, path, note=repr(new))
    path = draw(st.sampled_from(KEYED_PATHS))
    if new in get_at(doc, path[:-1]):
        new = f"{new}_x"
    rename_key(doc, path, new)
    return mutated("unknown_reference", doc, (*path[:-1], new), note=f"key {new!r}")


HUGE_NUMBERS = st.sampled_from(
    [10**18, 2**63, -(2**63), 10**100, -(10**300), 1e308, -1e308, 1.7976931348623157e308, 5e-324]
)


@st.composite
def huge_value(draw: st.DrawFn) -> Case:
    """Huge numbers, huge strings (up to 50,000 characters) or long lists as a value."""
    doc = copy.deepcopy(BASE)
    choice = draw(st.integers(0, 2))
    if choice == 0:
        path, new = draw(st.sampled_from(NUMBER_PATHS)), draw(HUGE_NUMBERS)
        note = repr(new)
    elif choice == 1:
        path = draw(st.sampled_from(STRING_PATHS))
        size = draw(st.sampled_from([10**3, 10**4, 5 * 10**4]))
        new = draw(st.sampled_from(["x", "é", "CHN", "-"])) * size
        note = f"{size} characters"
    else:
        lists = [p for p, v in NODES if isinstance(v, list) and v]
        path = draw(st.sampled_from(lists))
        size = draw(st.sampled_from([100, 1000, 10_000]))
        new = get_at(BASE, path) * (size // max(1, len(get_at(BASE, path))) + 1)
        note = f"a list of {len(new)} items"
    set_at(doc, path, new)
    return mutated("huge_value", doc, path, note=note)


UNKNOWN_KEYS = st.one_of(
    st.from_regex(r"\Azz[a-z_]{0,10}\Z"),
    st.sampled_from(["resolv", "rungs", "actor_s", "Extends", "évènement", "__class__"]),
    st.integers(-5, 5),
)


@st.composite
def unknown_field(draw: st.DrawFn) -> Case:
    """An unknown key in a mapping of the scenario (misspelt, foreign, numeric)."""
    path = draw(st.sampled_from(DICT_PATHS))
    doc = copy.deepcopy(BASE)
    target = get_at(doc, path)
    key = draw(UNKNOWN_KEYS.filter(lambda k: k not in target))
    target[key] = draw(OTHER_TYPES)
    must_fail = not (path and path[-1] in KEYED_REFS | {"params", "grievance"})
    return mutated("unknown_field", doc, (*path, key), must_fail=must_fail, note=repr(key))


HOSTILE_VALUES = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    "*nothing",
    "&a [*a]",
    ".nan",
    "1e999",
    "{a: 1",
    "9" * 4000,
    "2025-13-45",
    "",
    "null",
    "[1, 2, 3]",
    "{}",
]


@st.composite
def override(draw: st.DrawFn) -> Case:
    """A ``--set PATH=VALUE`` with a real, misspelt or hostile path and a hostile value."""
    path = dotted(BASE, draw(st.sampled_from(ALL_PATHS)))
    path = draw(
        st.one_of(
            st.just(path),
            st.just(path + "x"),
            st.just(path.replace(".", "..", 1)),
            st.just("." + path),
            st.just(path + ".deeper.still"),
            st.just("actors.NOPE." + path),
        )
    )
    value = draw(st.one_of(st.sampled_from(HOSTILE_VALUES), st.text(max_size=20)))
    value = value.replace("{marker}", str(MARKER_DIR / MARKER_NAME))
    return Case(
        "override",
        BASE_TEXT.encode("utf-8"),
        overrides=[f"{path}={value}"],
        note=f"--set {path}={value:.40}",
    )


@st.composite
def duplicate_key(draw: st.DrawFn) -> Case:
    """A key repeated in the same mapping (block style, or in a flow mapping)."""
    if draw(st.booleans()):  # in block style, as the file is dumped
        lines = dump(BASE).splitlines(keepends=True)
        block = [i for i, s in enumerate(lines) if re.match(r"^( *)([A-Za-z_]\w*):( |$)", s)]
        i = draw(st.sampled_from(block))
        indent, key = re.match(r"^( *)([A-Za-z_]\w*):", lines[i]).groups()
        lines.insert(i, f"{indent}{key}: 1\n")
        note = f"{key} twice, line {i + 1}"
    else:  # in a flow mapping of the named file as written
        lines = BASE_TEXT.splitlines(keepends=True)
        flow = [i for i, s in enumerate(lines) if re.search(r"\{id: [A-Za-z_]\w*,", s)]
        i = draw(st.sampled_from(flow))
        lines[i] = re.sub(r"\{id: ([A-Za-z_]\w*),", r"{id: \1, id: \1,", lines[i], count=1)
        key, note = "id", f"id twice in a flow mapping, line {i + 1}"
    return Case(
        "duplicate_key", "".join(lines).encode(), must_fail=True, says="duplicate key", note=note
    )


BAD_KEYS = st.sampled_from(
    ["? [a, b]\n: 1\n", "{[1]: 2}", "? {a: 1}\n: 2\n", "{{x: 1}: 2}", "? [[]]\n: x\n"]
)


@st.composite
def bad_key(draw: st.DrawFn) -> Case:
    """A mapping key that is itself a list or a mapping (unhashable in Python)."""
    payload = draw(BAD_KEYS)
    if draw(st.booleans()):  # a whole top-level entry, at the start or the end
        data = payload + "\n" + BASE_TEXT if draw(st.booleans()) else BASE_TEXT + "\n" + payload
        return Case("bad_key", data.encode(), must_fail=True, note=payload)
    flow = payload if payload.startswith("{") else "{[a, b]: 1}"
    path = draw(st.sampled_from(ALL_PATHS))
    return Case("bad_key", with_payload(path, flow), must_fail=True, note=f"{flow} at {path}")


EMPTY = st.sampled_from(
    [b"", b" ", b"\n\n", b"# only a comment\n", b"---\n", b"...\n", b"--- \n...\n", b"null\n",
     b"~\n", b"[]\n", b"[1, 2]\n", b"42\n", b'""\n', b"- a\n- b\n", b"\xef\xbb\xbf",
     b"\t\n", b"---\n---\n", b"!!map {}\n", b"{}\n"]
)  # fmt: skip


@st.composite
def empty(draw: st.DrawFn) -> Case:
    """An empty, blank, comment-only, scalar, list or empty-mapping document."""
    return Case("empty", draw(EMPTY), must_fail=True)


INVALID_UTF8 = st.sampled_from(
    [b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xed\xa0\x80",
     b"\xf0\x28\x8c\x28", b"\xf8\xa1\xa1\xa1\xa1", b"\x80", b"\xc0\xaf"]
)  # fmt: skip


@st.composite
def non_utf8(draw: st.DrawFn) -> Case:
    """Invalid UTF-8 bytes somewhere, or the whole file in another encoding."""
    raw = BASE_TEXT.encode("utf-8")
    if draw(st.integers(0, 3)) == 0:
        encoding = draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252"]))
        data = (BASE_TEXT + "\ndescription: café ünïcödé\n").encode(encoding)
        return Case("non_utf8", data, must_fail=True, says="not UTF-8", note=encoding)
    at = draw(st.integers(0, len(raw)))
    bad = draw(INVALID_UTF8)
    return Case("non_utf8", raw[:at] + bad + raw[at:], must_fail=True, says="not UTF-8")


@st.composite
def truncated(draw: st.DrawFn) -> Case:
    """The file cut off at any byte (mid-token, mid-line, mid-character)."""
    raw = BASE_TEXT.encode("utf-8")
    at = draw(st.integers(0, len(raw)))
    return Case("truncated", raw[:at], note=f"cut at byte {at}")


GARBAGE = st.text(
    alphabet=st.one_of(
        st.sampled_from(list(":{}[],&*!|>'\"%@`#-?\t\r\x00\x1b\\")),
        st.characters(),
    ),
    min_size=1,
    max_size=8,
)


@st.composite
def garbage(draw: st.DrawFn) -> Case:
    """YAML punctuation, control characters or random Unicode inserted at a random place."""
    at = draw(st.integers(0, len(BASE_TEXT)))
    junk = draw(GARBAGE)
    data = (BASE_TEXT[:at] + junk + BASE_TEXT[at:]).encode("utf-8", "surrogatepass")
    return Case("garbage", data, note=f"{junk!r} at {at}")


def _field_of_collection(path: Path_, too_deep: bool) -> str:
    """The dotted path of ``path`` once a list or mapping is there (an id then is no name).

    Past the nesting limit the loader stops reading at the deep value: an item is named by
    its id only if the id comes before the value in the file, else by its position.
    """
    doc = copy.deepcopy(BASE)
    set_at(doc, path, [])
    for depth in range(1, len(path)) if too_deep else ():
        item = get_at(doc, path[:depth])
        if isinstance(item, dict) and "id" in item:
            keys = list(item)
            if keys.index("id") > keys.index(path[depth]):
                item["id"] = None
    return dotted(doc, path)


def _too_deep(levels: int) -> str | None:
    """What the message must say when the document nests ``levels`` collections deep."""
    return "levels deep" if levels > MAX_DEPTH else None


@st.composite
def deep_nesting(draw: st.DrawFn) -> Case:
    """Lists or mappings nested up to 1,000 deep, flow or block style, or through --set.

    Past the loader's limit the message must say so, at the field where the nesting is.
    """
    # (Deeper costs more time, not more insight: PyYAML's scanner is quadratic in depth.)
    depth = draw(st.one_of(st.integers(1, 300), st.sampled_from([600, 800, 1_000])))
    style = draw(st.sampled_from(["list", "map", "block", "--set"]))
    if style == "--set":
        value = "[" * depth + "]" * depth
        return Case(
            "deep_nesting",
            BASE_TEXT.encode(),
            overrides=[f"description={value}"],
            must_fail=True,
            says=_too_deep(depth),  # the value alone is parsed, its own depth counts
            note=f"--set depth {depth}",
        )
    if style == "block":  # one-space indents: depth**2 / 2 bytes, so keep under the size cap
        depth = min(depth, 1000)
        nest = "".join(f"{' ' * k}a:\n" for k in range(depth)) + " " * depth + "a: 1\n"
        data = BASE_TEXT + "\nzz_nested:\n" + "".join(" " + s for s in nest.splitlines(True))
        return Case(
            "deep_nesting",
            data.encode(),
            field="zz_nested",
            must_fail=True,
            says=_too_deep(depth + 2),  # the root, then depth + 1 mappings
            note=f"block depth {depth}",
        )
    payload = "[" * depth + "]" * depth if style == "list" else "{a: " * depth + "1" + "}" * depth
    path = draw(st.sampled_from(ALL_PATHS))
    says = _too_deep(len(path) + depth)  # the root and the path's collections, then these
    return Case(
        "deep_nesting",
        with_payload(path, payload),
        field=_field_of_collection(path, too_deep=says is not None),
        must_fail=True,
        says=says,
        note=f"{style} {depth}",
    )


@st.composite
def alias_bomb(draw: st.DrawFn) -> Case:
    """A 'billion laughs': each level a list of ``width`` aliases of the level below."""
    levels, width = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    items = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    for k in range(1, levels):
        items.append(f"&l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]")
    payload = "[" + ", ".join(items) + "]"
    path = draw(st.sampled_from(ALL_PATHS))
    note = f"{levels} levels of {width} ({width**levels:.3g} leaves)"
    return Case("alias_bomb", with_payload(path, payload), must_fail=True, note=note)


PYTHON_TAGS = [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/apply:subprocess.call [["touch", "{marker}"]]',
    '!!python/object/apply:builtins.open ["{marker}", "w"]',
    '!!python/object/new:builtins.open ["{marker}", "w"]',
    "!!python/name:os.system",
    "!!python/module:os",
    "!!python/object:builtins.dict {}",
    '!<tag:yaml.org,2002:python/object/apply:os.system> ["touch {marker}"]',
    '!python/object/apply:os.system ["touch {marker}"]',
    "!!python/tuple [1, 2]",
]
OTHER_TAGS = [
    "!include /etc/passwd",
    "!!binary aGVsbG8=",
    "!!set {a, b}",
    "!!omap [a: 1, b: 2]",
    "!!pairs [a: 1, a: 2]",
    "!!timestamp 2025-11-07",
    '!!int "12"',
    '!!float "nan"',
    "!!str 1",
    "!!bool yes",
    "!!null ''",
    "!custom {a: 1}",
]


@st.composite
def tag(draw: st.DrawFn) -> Case:
    """A YAML tag on any value: Python tags that would run code, and other tags."""
    marker = str(MARKER_DIR / MARKER_NAME)
    path = draw(st.sampled_from(ALL_PATHS))
    if draw(st.integers(0, 4)) == 0:  # a %TAG directive that maps !! onto python/
        payload = f'!!object/apply:os.system ["touch {marker}"]'
        data = "%TAG !! tag:yaml.org,2002:python/\n---\n" + with_payload(path, payload).decode()
        return Case("tag", data.encode(), must_fail=True, says="tag not allowed", note="%TAG")
    python = draw(st.booleans())
    payload = draw(st.sampled_from(PYTHON_TAGS if python else OTHER_TAGS))
    payload = payload.replace("{marker}", marker)
    return Case(
        "tag",
        with_payload(path, payload),
        must_fail=python,
        says="tag not allowed" if python and payload.startswith("!!") else None,
        note=f"{payload} at {path}",
    )


BAD_DATES = st.sampled_from(
    ["2025-13-01", "2025-02-30", "2025-11-0", "2025-00-10", "2023-02-29", "2025-04-31"]
)


@st.composite
def bad_date(draw: st.DrawFn) -> Case:
    """A date that looks like a YAML timestamp but is not on the calendar."""
    path, value = draw(st.sampled_from(DATE_PATHS)), draw(BAD_DATES)
    via_set = draw(st.booleans())
    if via_set:
        return Case(
            "bad_date",
            BASE_TEXT.encode(),
            overrides=[f"{dotted(BASE, path)}={value}"],
            must_fail=True,
            note=f"--set {value}",
        )
    return Case("bad_date", with_payload(path, value), must_fail=True, field=dotted(BASE, path))


@st.composite
def huge_int(draw: st.DrawFn) -> Case:
    """An integer literal of 4,301 to 100,000 digits, in the file or in a --set value."""
    digits = "9" * draw(st.integers(4301, 100_000))
    path = draw(st.sampled_from(NUMBER_PATHS))
    if draw(st.booleans()):
        return Case(
            "huge_int",
            BASE_TEXT.encode(),
            overrides=[f"{dotted(BASE, path)}={digits}"],
            must_fail=True,
            note=f"--set {len(digits)} digits",
        )
    return Case("huge_int", with_payload(path, digits), must_fail=True, note=f"{len(digits)}")


EXTENDS_NAMES = st.one_of(
    st.sampled_from(
        ["../../etc/passwd", "/etc/passwd", "..", ".", "", " ", "~", "~root/x", "./x",
         f"../scenarios/{NAME}", f"{NAME}/../{NAME}", f"/{NAME}", f"{NAME}.yaml", NAME,
         "con", "a\\b", "nul\x00byte", "%2e%2e/etc", "file:///etc/passwd", "self"]
    ),
    st.text(max_size=40),
)  # fmt: skip


@st.composite
def extends(draw: st.DrawFn) -> Case:
    """``extends:`` with traversal, absolute, odd or non-string names (and itself)."""
    value = draw(st.one_of(EXTENDS_NAMES, st.integers(), st.lists(st.text(max_size=3))))
    doc = {"extends": value, "name": "fuzz-child", "title": "fuzz"}
    if value == "self":
        doc["extends"] = "case"  # every case file is called case.yaml
    text = dump(doc)
    return Case("extends", text.encode(), note=repr(value)[:60])


@st.composite
def long_name(draw: st.DrawFn) -> Case:
    """A name longer than the file system allows, in ``extends:`` or as the scenario."""
    size = draw(st.integers(256, 10_000))
    name = draw(st.sampled_from(["a", "é", "-"])) * size
    if draw(st.booleans()):
        return Case("long_name", b"", target=name, must_fail=True, note=f"scenario of {size}")
    data = dump({"extends": name, "name": "x", "title": "x"}).encode()
    return Case("long_name", data, must_fail=True, note=f"extends of {size}")


# The kinds: strategy, examples per run, and a known loader defect that makes it fail.
KNOWN_DEFECT: dict[str, str] = {}
KINDS: dict[str, tuple[Callable[[], st.SearchStrategy[Case]], int]] = {
    # Each case of these parses the whole named scenario (about 0.25 s of CPU).
    "wrong_type": (wrong_type, 5),
    "missing_field": (missing_field, 5),
    "out_of_range": (out_of_range, 5),
    "non_finite": (non_finite, 5),
    "unknown_reference": (unknown_reference, 5),
    "huge_value": (huge_value, 6),
    "unknown_field": (unknown_field, 5),
    "override": (override, 5),
    "duplicate_key": (duplicate_key, 5),
    "tag": (tag, 10),
    "alias_bomb": (alias_bomb, 8),
    "garbage": (garbage, 8),
    "truncated": (truncated, 8),
    "deep_nesting": (deep_nesting, 8),
    "bad_key": (bad_key, 4),
    "bad_date": (bad_date, 4),
    "huge_int": (huge_int, 4),
    # These fail before parsing, or parse a few lines.
    "empty": (empty, 19),
    "non_utf8": (non_utf8, 20),
    "extends": (extends, 20),
    "long_name": (long_name, 6),
}
# Which case of a kind also goes through `sim validate` in a subprocess (by its number):
# one of each family of failure, and the kinds that could exhaust time or memory. (A
# subprocess costs about 1.3 s of CPU, mostly imports, so the sample is small.)
CLI_SAMPLE = {
    "wrong_type": {3},
    "override": {3},
    "huge_value": {4},
    "duplicate_key": {2},
    "tag": {3},
    "alias_bomb": {7},
    "empty": {3},
    "non_utf8": {3},
    "extends": {3},
}

COUNTS: dict[str, Counter] = defaultdict(Counter)
CPU: dict[str, float] = defaultdict(float)  # CPU seconds per kind, subprocesses included
MARKER_DIR = Path(tempfile.mkdtemp(prefix="sim-fuzz-marker-"))


# --- the oracle ---------------------------------------------------------------------------


class CaseTimeout(BaseException):  # noqa: N818 - not an Exception: no `except Exception` eats it
    """A case ran past its time bound."""


@contextlib.contextmanager
def time_limit(cpu_seconds: float, wall_seconds: float = WALL_SECONDS) -> Iterator[None]:
    """Raise CaseTimeout in this (main) thread after so much CPU or wall-clock time."""

    def expire(signum: int, frame: Any) -> None:
        clock = "CPU" if signum == signal.SIGPROF else "wall-clock"
        limit = cpu_seconds if signum == signal.SIGPROF else wall_seconds
        raise CaseTimeout(f"a case took more than {limit} s of {clock} time")

    timers = ((signal.SIGPROF, signal.ITIMER_PROF, cpu_seconds),
              (signal.SIGALRM, signal.ITIMER_REAL, wall_seconds))  # fmt: skip
    previous = [signal.signal(sig, expire) for sig, _, _ in timers]
    for _, timer, seconds in timers:
        signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        for (sig, timer, _), handler in zip(timers, previous, strict=True):
            signal.setitimer(timer, 0)
            signal.signal(sig, handler)


LOCATED = re.compile(
    r"^(?P<where>.+?)(?::(?P<line>\d+))?: (?P<field>\(top level\)|\S+): (?P<what>.+)$"
)


def related(found: str, mutated_field: str) -> bool:
    """Whether an error located at ``found`` is at, above or beside ``mutated_field``."""
    if found == mutated_field or mutated_field.startswith(found + "."):
        return True
    if ".'" in found:  # an odd key (blank, dotted) is shown quoted with escapes: match its parent
        return mutated_field.startswith(found.split(".'", 1)[0] + ".")
    parent = mutated_field.rpartition(".")[0]
    if found == "(top level)":
        return parent == ""
    return found.startswith((parent or found) + ".") or found.startswith(mutated_field + ".")


def check_message(message: str, case: Case, where: str) -> None:
    """A SimError's message: located, at the mutated field, saying what was expected."""
    assert message.strip(), "an empty error message"
    assert "Traceback" not in message
    lines = message.splitlines()
    assert len(lines) <= MESSAGE_LINES, f"{len(lines)} lines:\n{message[:2000]}"
    # A malformed --set path is named alone, quoted: "'.name': expected a dotted path".
    starts = (where, "--set ", *(f"'{o.split('=', 1)[0].strip()}'" for o in case.overrides))
    assert lines[0].startswith(starts), f"does not start with {where}:\n{message:.2000}"
    if case.says is not None:
        assert case.says in message, f"{case.says!r} not in:\n{message:.2000}"
    if case.field is not None and not case.overrides:
        fields = [m["field"] for m in map(LOCATED.match, lines) if m and m["where"] == where]
        assert any(related(f, case.field) for f in fields), (
            f"no problem located at or near {case.field!r}:\n{message:.2000}"
        )


def check_api(case: Case, path: Path) -> str:
    """Load a case in this process; return "valid" or "error", or fail the test."""
    target = case.target if case.target is not None else str(path)
    try:
        with time_limit(CASE_SECONDS):
            try:
                scenario = sim.load(target, case.overrides or None)
            except SimError as err:
                check_message(str(err), case, target)
                return "error"
            spec = compile_scenario(scenario)
            record = sim.simulate(spec, seed=0)
            assert record.outcome in [c.id for c in scenario.outcomes.classes]
            assert not case.must_fail, f"loaded as a valid scenario: {case!r}"
            return "valid"
    except CaseTimeout as err:
        raise AssertionError(f"{err}: {case!r}") from None
    except (AssertionError, SimError):
        raise
    except BaseException as err:  # noqa: BLE001 - any other exception is the bug we hunt
        tb = "".join(traceback.format_exception(err, limit=-4))
        raise AssertionError(f"{type(err).__name__} (a traceback in the CLI):\n{tb}") from None
    finally:
        assert not (MARKER_DIR / MARKER_NAME).exists(), "a YAML tag ran code"


@dataclass
class CliRun:
    """What one ``sim`` subprocess did."""

    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float
    cpu: float  # user + system seconds of the child


def _limit_cpu() -> None:
    """In the child, before exec: at most CLI_SECONDS of CPU time."""
    limit = int(CLI_SECONDS)
    resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 5))


def run_cli(args: list[str], cwd: Path) -> CliRun:
    """Run ``python -m sim.cli ARGS`` with a timeout; measure its time and peak memory."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim.cli", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            preexec_fn=_limit_cpu,  # the kernel stops a child past CLI_SECONDS of CPU
        )
        timer = threading.Timer(WALL_SECONDS, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child alone
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        text = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    cpu = usage.ru_utime + usage.ru_stime
    return CliRun(proc.returncode, *text, seconds, usage.ru_maxrss / 1024, cpu)


def check_cli(case: Case, path: Path, outcome: str, expected: str | None) -> None:
    """``sim validate`` in a subprocess: exit 2 and the same message, or 0; bounded."""
    target = case.target if case.target is not None else str(path)
    sets = [arg for o in case.overrides for arg in ("--set", o)]
    done = run_cli(["validate", target, *sets], cwd=path.parent)
    CPU[case.kind] += done.cpu
    assert done.cpu < CLI_SECONDS and done.seconds < WALL_SECONDS, f"timed out: {case!r}"
    assert done.peak_mb < CLI_PEAK_MB, f"`sim validate` peaked at {done.peak_mb:.0f} MB"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    if outcome == "valid":
        assert done.code == 0 and done.stdout.startswith("ok: "), done.stderr[-3000:]
        return
    assert done.code == 2, f"exit code {done.code}:\n{done.stderr[-3000:]}"
    assert done.stdout == ""
    assert done.stderr == f"sim: error: {expected}\n"


def _error_message(case: Case, path: Path) -> str:
    target = case.target if case.target is not None else str(path)
    with pytest.raises(SimError) as err:
        sim.load(target, case.overrides or None)
    return str(err.value)


# --- the tests ----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def fuzz_report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Counter]]:
    """Count cases per kind; at the end print the counts and write fuzz_counts.json."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.monotonic()
    yield COUNTS
    growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    report = {
        "scale": SCALE,
        "seconds": round(time.monotonic() - started, 1),
        "peak_rss_growth_mb": round(growth, 1),
        "cpu_seconds": round(sum(CPU.values()), 1),
        "kinds": {
            kind: {**COUNTS[kind], "cpu_seconds": round(CPU[kind], 2)}
            for kind in KINDS
            if kind in COUNTS
        },
        "total": dict(sum(COUNTS.values(), Counter())),
    }
    out = tmp_path_factory.getbasetemp() / "fuzz_counts.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    width = max(map(len, KINDS))
    print(f"\nfuzz cases per kind (tried, valid, error, via the CLI, CPU s) in {out}:")
    for kind, counts in report["kinds"].items():
        print(
            f"  {kind:<{width}}  {counts.get('tried', 0):4d}  {counts.get('valid', 0):4d}  "
            f"{counts.get('error', 0):4d}  {counts.get('cli', 0):3d}  {CPU[kind]:6.1f}"
        )
    total = report["total"]
    print(
        f"  {'total':<{width}}  {total.get('tried', 0):4d}  {total.get('valid', 0):4d}  "
        f"{total.get('error', 0):4d}  {total.get('cli', 0):3d}  {report['cpu_seconds']:6.1f}  "
        f"({report['seconds']} s wall, peak RSS +{growth:.0f} MB)"
    )
    marker_ran = (MARKER_DIR / MARKER_NAME).exists()
    shutil.rmtree(MARKER_DIR, ignore_errors=True)
    assert not marker_ran, "a YAML tag ran code"
    assert growth < SESSION_GROWTH_MB, f"peak memory grew by {growth:.0f} MB while fuzzing"


def _params() -> list[Any]:
    out = []
    for kind in KINDS:
        marks = []
        if kind in KNOWN_DEFECT:
            marks = [pytest.mark.xfail(strict=True, reason=KNOWN_DEFECT[kind])]
        out.append(pytest.param(kind, marks=marks, id=kind))
    return out


@pytest.mark.parametrize("kind", _params())
def test_fuzz(kind: str, tmp_path: Path) -> None:
    """Every case of a kind ends valid or in a clear error, in bounded time and memory."""
    make, examples = KINDS[kind]
    folder = tmp_path.resolve()
    samples: list[tuple[Case, Path, str]] = []
    cli_at = CLI_SAMPLE.get(kind, set())
    phases = [Phase.explicit, Phase.generate]
    if kind not in KNOWN_DEFECT:
        phases.append(Phase.shrink)

    @settings(
        max_examples=max(1, round(examples * SCALE)),
        derandomize=True,
        database=None,
        deadline=dt.timedelta(seconds=WALL_SECONDS),  # the backstop; see time_limit
        phases=phases,
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=make())
    def check(case: Case) -> None:
        COUNTS[kind]["tried"] += 1
        number = COUNTS[kind]["tried"]
        path = folder / "case.yaml"
        path.write_bytes(case.data)
        outcome = check_api(case, path)
        COUNTS[kind][outcome] += 1
        if number in cli_at:
            keep = folder / f"sample-{number}" / "case.yaml"
            keep.parent.mkdir()
            keep.write_bytes(case.data)
            samples.append((case, keep, outcome))

    cpu = time.process_time()
    try:
        check()
    finally:
        CPU[kind] += time.process_time() - cpu

    # The in-process messages are taken here, in the main thread; the subprocesses run
    # two at a time.
    expected = [(c, p, o, _error_message(c, p) if o == "error" else None) for c, p, o in samples]
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda s: check_cli(*s), expected))
    COUNTS[kind]["cli"] += len(expected)
    assert not (MARKER_DIR / MARKER_NAME).exists(), "a YAML tag ran code"


# --- defects the fuzzing found that no kind above isolates ----------------------------------


def test_messages_quote_a_bounded_part_of_a_huge_value(tmp_path: Path) -> None:
    doc = copy.deepcopy(BASE)
    doc["military_rung"] = "x" * 100_000
    path = tmp_path / "huge.yaml"
    path.write_text(dump(doc), encoding="utf-8")
    with pytest.raises(SimError) as err:
        sim.load(str(path))
    assert "military_rung" in str(err.value)
    assert len(str(err.value)) < 2_000, f"a message of {len(str(err.value))} characters"


@pytest.mark.parametrize(
    ("path", "value"),
    [(("initial", 0, "tension"), "high"), (("actors", 0, "levers", 0, "effect", "tension"), 5)],
    ids=["initial-tension", "lever-effect-tension"],
)
def test_an_error_in_a_field_named_tension_names_that_field(
    path: Path_, value: Any, tmp_path: Path
) -> None:
    doc = copy.deepcopy(BASE)
    parent = doc
    for part in path[:-1]:
        parent = parent.setdefault(part, {}) if isinstance(parent, dict) else parent[part]
    parent[path[-1]] = value
    file = tmp_path / "tension.yaml"
    file.write_text(dump(doc), encoding="utf-8")
    with pytest.raises(SimError) as err:
        sim.load(str(file))
    assert f": {dotted(doc, path)}: " in str(err.value), str(err.value)


# --- the largest inputs the loader accepts ---------------------------------------------------


def test_a_file_over_the_size_cap_is_refused_before_parsing(tmp_path: Path) -> None:
    from sim.scenario.loader import MAX_BYTES

    path = tmp_path / "big.yaml"
    path.write_bytes(BASE_TEXT.encode() + b"\n# " + b"x" * MAX_BYTES + b"\n")
    start = time.process_time()
    with pytest.raises(SimError, match=f"at most {MAX_BYTES}") as err:
        sim.load(str(path))
    assert str(err.value).startswith(f"{path}: ")
    assert time.process_time() - start < 1.0, "the cap should be checked before parsing"


def test_the_largest_alias_expansion_below_the_cap_stays_small(tmp_path: Path) -> None:
    """About 137,000 expanded nodes in a list field, through `sim validate`: bounded."""
    from sim.scenario.loader import MAX_NODES

    width, levels = 7, 6
    assert sum(width**k for k in range(1, levels + 1)) < MAX_NODES
    items = ["&l0 [" + ", ".join(["lol"] * width) + "]"]
    items += [f"&l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]" for k in range(1, levels)]
    path = tmp_path / "bomb.yaml"
    path.write_bytes(with_payload(("sources",), "[" + ", ".join(items) + "]"))
    done = run_cli(["validate", str(path)], cwd=tmp_path)
    assert done.code == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"sim: error: {path}:") and "sources.0" in done.stderr
    assert done.cpu < CLI_SECONDS and done.peak_mb < CLI_PEAK_MB, done
