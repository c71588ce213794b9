"""A table as rows of cells, its text rendering, and the formats of numbers in cells."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
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


@dataclass(frozen=True)
class Table:
    """A table: headers, rows of cells (text), the right-aligned (numeric) columns.

    ``title`` is a line above it and ``note`` lines below it; both are part of the table
    wherever it is shown (the terminal, the HTML report).
    """

    headers: Sequence[str]
    rows: Sequence[Sequence[str]]
    right: Sequence[int] = ()
    title: str = ""
    note: str = ""

    def text(self) -> str:
        """Return the table as aligned text, with its title and note."""
        lines = [self.title] if self.title else []
        lines.append(aligned(self.headers, self.rows, self.right))
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)


def aligned(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int] = ()
) -> str:
    """Return an aligned text table; columns listed in ``right`` are right-aligned."""
    right = set(right)
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


#: A block of a text report: a table, or a paragraph (empty: left out).
Block = Table | str


def render(blocks: Iterable[Block | None]) -> str:
    """Return blocks as text, one blank line apart, ending in a newline."""
    texts = [b.text() if isinstance(b, Table) else b for b in blocks if b]
    return "\n\n".join(t for t in texts if t) + "\n"
