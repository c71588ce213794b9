"""A bound on how deeply a YAML document nests, checked on the parser's events.

PyYAML's composer recurses once per level of nesting, and so do ``copy.deepcopy`` and the
merge of ``extends``; a file nested a few hundred levels deep would end in a RecursionError
that cannot say where. :class:`NestingGuard` follows the event stream as the composer takes
it (no recursion, constant work per event) and stops at the first collection nested more
than ``MAX_DEPTH`` levels deep, with the line and the field path of that collection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import yaml

from sim.scenario.paths import format_path

# Real scenarios nest at most 7 levels. The composer and deepcopy take about two stack frames
# a level, so 100 keeps everything downstream far below the recursion limit (1000).
MAX_DEPTH = 100
SHOWN_PARTS = 12  # the path is shown this far, then "...": the field is named by then

STR_TAG = "tag:yaml.org,2002:str"


class TooDeep(Exception):  # noqa: N818 - not an error of its own: the loader words it
    """A collection nested more than ``MAX_DEPTH`` levels deep: its path and its line."""

    def __init__(self, path: tuple[str | int, ...], line: int, limit: int) -> None:
        super().__init__(f"line {line}: nested more than {limit} levels deep")
        self.path, self.line, self.limit = path, line, limit

    def dotted(self) -> str:
        """The path as the loader shows fields (list items by id), cut after a few parts."""
        more = "..." if len(self.path) > SHOWN_PARTS else ""
        return format_path(None, self.path[:SHOWN_PARTS]) + more

    def problem(self) -> str:
        """What was expected, as the loader's messages say it."""
        return f"nested more than {self.limit} levels deep (the scenario format needs under 10)"


@dataclass
class _Frame:
    """An open mapping or sequence: how many children it has finished, and their labels."""

    is_map: bool
    done: int = 0  # children finished; in a mapping, keys and values alternate
    key: str = "?"  # the current key of a mapping ("?" while it is not a plain scalar)
    ident: str | None = None  # the id of a sequence's current item, once its mapping says it
    height: int = 1  # levels of collections in it, itself included (for aliases)
    anchor: str | None = None


class NestingGuard:
    """Follows YAML events; raises TooDeep at a collection nested past the limit.

    An alias counts as the collection it names, so anchors cannot stack nesting past the
    limit either. ``resolve_tag`` tells the tag of a scalar (the loader's resolver): an
    ``id`` names a list item only when it is text, as in :func:`sim.scenario.paths.format_path`.
    """

    def __init__(self, resolve_tag: Callable[[yaml.ScalarEvent], str], limit: int = MAX_DEPTH):
        self.limit = limit
        self._resolve_tag = resolve_tag
        self._stack: list[_Frame] = []
        self._heights: dict[str, int] = {}  # anchor -> height of the collection it names

    def see(self, event: yaml.Event) -> None:
        """Take the next event of the stream."""
        if isinstance(event, yaml.NodeEvent):
            self._begin(event)
        if isinstance(event, yaml.CollectionStartEvent):
            self._check(1, event)
            self._stack.append(
                _Frame(isinstance(event, yaml.MappingStartEvent), anchor=event.anchor)
            )
        elif isinstance(event, yaml.CollectionEndEvent):
            frame = self._stack.pop()
            if frame.anchor is not None:
                self._heights[frame.anchor] = frame.height
            self._finished(frame.height)
        elif isinstance(event, yaml.AliasEvent):
            height = self._heights.get(event.anchor, 0)  # 0: a scalar, or not yet closed
            self._check(height, event)
            self._finished(height)
        elif isinstance(event, yaml.ScalarEvent):
            self._finished(0)

    def _check(self, height: int, event: yaml.NodeEvent) -> None:
        """Raise TooDeep if a node ``height`` levels tall, starting here, goes too deep."""
        if len(self._stack) + height > self.limit:
            raise TooDeep(self._path(), event.start_mark.line + 1, self.limit)

    def _begin(self, event: yaml.NodeEvent) -> None:
        """Note a mapping's key, and the id of a list item (its mapping's ``id: text``)."""
        if not self._stack or not self._stack[-1].is_map:
            return
        frame, scalar = self._stack[-1], isinstance(event, yaml.ScalarEvent)
        if frame.done % 2 == 0:
            frame.key = event.value if scalar else "?"
        elif (scalar and frame.key == "id" and len(self._stack) > 1
              and not self._stack[-2].is_map and self._resolve_tag(event) == STR_TAG):  # fmt: skip
            self._stack[-2].ident = event.value

    def _finished(self, height: int) -> None:
        """A child of the innermost open collection ended, ``height`` levels tall."""
        if not self._stack:
            return
        frame = self._stack[-1]
        frame.done += 1
        frame.height = max(frame.height, height + 1)
        if not frame.is_map:
            frame.ident = None

    def _path(self) -> tuple[str | int, ...]:
        """The path of the node the stream is at: a key or an index (or id) per level."""
        parts: list[str | int] = []
        for frame in self._stack:
            if frame.is_map:
                parts.append(frame.key if frame.done % 2 else "?")  # "?": in a key itself
            else:
                parts.append(frame.ident if frame.ident is not None else frame.done)
        return tuple(parts)
