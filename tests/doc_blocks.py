"""What the docs tests read in a Markdown page: fenced blocks, their markers, quoted commands.

A block may be marked by an HTML comment on the line just before it (``<!-- file: x.yaml
-->``, ``<!-- output -->``, ``<!-- error: {...} -->``); readers of the rendered page do not
see the marker. Commands are the ``sim ...`` lines of shell blocks and the inline code spans
that start with ``sim ``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(\S*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
MARKER = re.compile(r"<!--\s*([a-z]+)\s*:?\s*(.*?)\s*-->\s*\Z", re.S)
SHELL = {"", "console", "sh", "shell", "bash", "text"}
SPAN = re.compile(r"(?<!`)`(sim [^`]+)`(?!`)")
ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")
REDIRECTS = {">", ">>", "2>", "|", "&&", ";", "<"}  # the shell's, not sim's


@dataclass(frozen=True)
class Block:
    """A fenced block: its language, its text, the marker before it, its first line."""

    lang: str
    text: str
    kind: str | None  # the marker's word (file, output, error), or None
    arg: str  # what follows the marker's word
    line: int


def blocks(text: str) -> list[Block]:
    """Every fenced block of a page, with the marker that precedes it, if any."""
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before) if before.lstrip().startswith("<!--") else None
        line = text.count("\n", 0, m.start()) + 2
        kind, arg = (marker.group(1), marker.group(2)) if marker else (None, "")
        out.append(Block(m.group(1), m.group(2), kind, arg, line))
    return out


def prose(text: str) -> str:
    """The page without its fenced blocks (inline code spans kept)."""
    return FENCE.sub("", text)


def commands(text: str) -> list[tuple[int, list[str]]]:
    """The ``sim`` commands a page quotes, as (line, argv after ``sim``), synopses left out.

    A synopsis (``sim compare BASE [VARIANT] [--set ...]``, ``sim sweep ... --plot``) or
    the bare name of a subcommand (``sim backtest``) is no command to run.
    """
    found: list[tuple[int, str]] = []
    for block in blocks(text):
        if block.lang in SHELL:
            found += _block_commands(block)
    for m in SPAN.finditer(prose(text)):
        found.append((0, " ".join(m.group(1).split())))
    out = []
    for line, command in found:
        if " [" in command or "..." in command:
            continue
        words = shlex.split(command, comments=True)
        while words and ENV.match(words[0]):
            words = words[1:]
        cut = [k for k, word in enumerate(words) if word in REDIRECTS]
        words = words[: cut[0]] if cut else words
        if len(words) >= 3 and words[0] == "sim":
            out.append((line, words[1:]))
    return out


def _block_commands(block: Block) -> list[tuple[int, str]]:
    """The ``sim`` lines of a shell block, continuation lines joined, prompts dropped."""
    lines = block.text.replace("\\\n", " ").splitlines()
    out = []
    for k, raw in enumerate(lines):
        line = raw.strip().removeprefix("$ ")
        if line.startswith("sim ") or (line.split() and ENV.match(line.split()[0])):
            out.append((block.line + k, line))
    return out


def parse_error(argv: list[str]) -> str | None:
    """What the ``sim`` parser says against ``argv``, or None if it parses."""
    import contextlib
    import io

    from sim.cli import build_parser

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(argv)
    except SystemExit as stop:
        return None if stop.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None
