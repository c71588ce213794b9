"""A table as rows of cells, its text rendering, and the formats of numbers in cells."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A formatter of one number in a cell.
Format = Callable[[Any], str]


def pct(p: float | None, digits: int = 1) -> str:
    """Format a probability as a percentage; a dash when undefined."""
    if p is None or math.isnan(p):
        return "-"
    return f"{100 * p:.{digits}f}%"


def num(x: float | None, digits: int = 1) -> str:
    """Format a number with a thousands separator; a dash when undefined."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:,.{digits}f}"


def digits_for(se: float | None, least: int = 1, most: int = 4) -> int:
    """Return the decimals that show an estimate to its SE's first significant digit.

    Between ``least`` and ``most``: an SE of 0.012 gives 2, so a difference of +0.27
    [+0.25, +0.30] does not print as +0.3 [+0.3, +0.3].
    """
    if se is None or not math.isfinite(se) or se <= 0:
        return least
    return max(least, min(most, -math.floor(math.log10(se))))


def interval(ci: Sequence[float | None] | None, fmt: Format = pct) -> str:
    """Format a two-sided interval, e.g. ``[10.2%, 14.1%]``."""
    if not ci:
        return "-"
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def signed(x: float | None, fmt: Format) -> str:
    """Format a difference with its sign."""
    if x is None or math.isnan(x):
        return "-"
    return ("+" if x >= 0 else "") + fmt(x)


def times(x: float | None) -> str:
    """Format a variance-reduction factor, e.g. ``3.2x``; a dash when undefined."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:,.1f}x"


#: The width of text output in characters: tables and paragraphs are wrapped to fit it.
WIDTH = 100

#: Two spaces between columns.
GAP = 2

#: A text column is never wrapped narrower than this (or its longest word): shorter cells are
#: names, dates and intervals, which read badly broken; a table of many of them is cut into
#: column groups instead.
NARROWEST = 24


@dataclass(frozen=True)
class Table:
    """A table: headers, rows of cells (text), the right-aligned (numeric) columns.

    ``title`` is a line above it and ``note`` lines below it; both are part of the table
    wherever it is shown (the terminal, the HTML report). As text, a table fits
    :data:`WIDTH` characters: see :func:`aligned`.
    """

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    right: Sequence[int] = ()
    title: str = ""
    note: str = ""

    def text(self, width: int = WIDTH) -> str:
        """Return the table as aligned text, with its title and note, within ``width``."""
        lines = [wrapped(self.title, width)] if self.title else []
        lines.append(aligned(self.headers, self.rows, self.right, width))
        if self.note:
            lines.append(wrapped(self.note, width))
        return "\n".join(lines)


def wrapped(text: str, width: int = WIDTH, hang: int = 2) -> str:
    """Return ``text`` with each line longer than ``width`` broken at spaces.

    A broken line's continuation keeps the line's own indentation plus ``hang`` spaces, so
    a paragraph of indented items, or a chronicle of dated lines, stays readable.
    """
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())] + " " * hang
        out.extend(
            textwrap.wrap(
                line,
                width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [line]
        )
    return "\n".join(out)


def aligned(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Iterable[int] = (),
    width: int = WIDTH,
) -> str:
    """Return an aligned text table; columns listed in ``right`` are right-aligned.

    A table wider than ``width`` wraps its headers, then its long text cells (never below
    :data:`NARROWEST`); one that cannot fit that way is cut into column groups, each
    repeating the first column, stacked one below the other.
    """
    right = set(right)
    shape = _Shape.of(headers, rows, right)
    return "\n\n".join(
        _grid(headers, rows, _Layout(group, shape.fitted(group, width), right))
        for group in shape.groups(width)
    )


@dataclass(frozen=True)
class _Shape:
    """A table's column widths: unwrapped, of its widest cell, and at their narrowest."""

    natural: list[int]
    cells: list[int]
    floor: list[int]

    @classmethod
    def of(cls, headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> _Shape:
        """Measure the columns of ``rows`` under ``headers``."""
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(headers)
        cells = [max((len(c) for c in column), default=0) for column in columns]
        natural = [max(len(h), c) for h, c in zip(headers, cells, strict=True)]
        floor = [
            max(c if i in right else min(c, NARROWEST), _longest_word([headers[i], *columns[i]]))
            for i, c in enumerate(cells)
        ]
        return cls(natural, cells, floor)

    def groups(self, width: int) -> list[list[int]]:
        """Return the columns of each stacked part: all of them when they fit in one.

        Parts are as few as fit at the columns' narrowest and as even as can be, each
        beginning with the first (key) column: a part with a lone column left over reads
        worse than two halves.
        """
        n = len(self.floor)
        if _total(self.floor) <= width or n < 3:
            return [list(range(n))]
        for parts in range(2, n):
            groups = self._even_parts(parts)
            if all(_total([self.floor[i] for i in g]) <= width for g in groups):
                return groups
        return [[0, i] for i in range(1, n)]

    def _even_parts(self, parts: int) -> list[list[int]]:
        """Return the columns after the key cut into ``parts`` runs of about equal width."""
        rest = list(range(1, len(self.floor)))
        target = sum(self.floor[i] + GAP for i in rest) / parts
        groups: list[list[int]] = [[0]]
        filled = 0.0
        for k, i in enumerate(rest):
            left = len(rest) - k  # columns still to place, this one included
            if len(groups[-1]) > 1 and filled + (self.floor[i] + GAP) / 2 > target:
                if len(groups) < parts and left >= parts - len(groups):
                    groups.append([0])
                    filled = 0.0
            groups[-1].append(i)
            filled += self.floor[i] + GAP
        return groups

    def fitted(self, columns: Sequence[int], width: int) -> dict[int, int]:
        """Return the widths of ``columns`` shown together within ``width`` where they can be.

        Headers wider than their cells wrap first; then text cells, a character at a time
        from the widest column, so that wrapped columns end up evenly wide.
        """
        widths = {i: self.natural[i] for i in columns}
        for i in sorted(columns, key=lambda i: self.cells[i] - self.natural[i]):
            excess = _total(list(widths.values())) - width
            if excess <= 0:
                return widths
            widths[i] = max(self.floor[i], self.cells[i], widths[i] - excess)
        while _total(list(widths.values())) > width:
            shrinkable = [i for i in columns if widths[i] > self.floor[i]]
            if not shrinkable:
                break
            widths[max(shrinkable, key=lambda i: widths[i])] -= 1
        return widths


def _longest_word(texts: Iterable[str]) -> int:
    """Return the length of the longest space-free run in ``texts`` (0 if none)."""
    return max((len(word) for text in texts for word in text.split()), default=0)


def _total(widths: Sequence[int]) -> int:
    """Return a row's width: its columns and the gaps between them."""
    return sum(widths) + GAP * (len(widths) - 1)


def _cell_lines(cell: str, width: int) -> list[str]:
    """Return a cell as the lines it takes at ``width`` (one line when it fits)."""
    if len(cell) <= width:
        return [cell]
    return textwrap.wrap(cell, width, break_long_words=False, break_on_hyphens=False) or [cell]


def _pad(text: str, width: int, right: bool) -> str:
    """Return ``text`` padded to ``width``, on the right or (numbers) on the left."""
    return text.rjust(width) if right else text.ljust(width)


def _physical_lines(cells: Sequence[str], layout: _Layout, from_bottom: bool = False) -> list[str]:
    """Return one row of cells as the text lines it takes, each cell wrapped to its column.

    Headers are aligned to their last line (``from_bottom``) so that they sit on the rule.
    """
    parts = [_cell_lines(cells[i], layout.widths[i]) for i in layout.columns]
    height = max(len(p) for p in parts)
    if from_bottom:
        parts = [[""] * (height - len(p)) + p for p in parts]
    return [
        (" " * GAP)
        .join(
            _pad(p[k] if k < len(p) else "", layout.widths[i], i in layout.right)
            for p, i in zip(parts, layout.columns, strict=True)
        )
        .rstrip()
        for k in range(height)
    ]


@dataclass(frozen=True)
class _Layout:
    """Which columns a grid shows, how wide each is, which are right-aligned."""

    columns: Sequence[int]
    widths: Mapping[int, int]
    right: set[int]


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], layout: _Layout) -> str:
    """Return the layout's columns as an aligned grid: headers, a rule, the rows."""
    rule = (" " * GAP).join("-" * layout.widths[i] for i in layout.columns)
    body = [line for row in rows for line in _physical_lines(row, layout)]
    return "\n".join([*_physical_lines(headers, layout, from_bottom=True), rule, *body])


#: A block of a text report: a table, or a paragraph (empty: left out).
Block = Table | str


def render(blocks: Iterable[Block | None]) -> str:
    """Return blocks as text, one blank line apart, ending in a newline."""
    texts = [b.text() if isinstance(b, Table) else wrapped(b) for b in blocks if b]
    return "\n\n".join(t for t in texts if t) + "\n"
