"""What the docs tests read in a Markdown page: fenced blocks, their markers, quoted commands.

A block may be marked by an HTML comment on the line just before it (``<!-- file: x.yaml
-->``, ``<!-- output -->``, ``<!-- error: {...} -->``); readers of the rendered page do not
see the marker. Commands are the ``sim ...`` lines of shell blocks and the inline code spans
that start with ``sim ``.
"""

from __future__ import annotations

import argparse
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


def commands(text: str) -> list[tuple[int, list[str], bool]]:
    """The ``sim`` commands a page quotes: (line, argv after ``sim``, whether complete).

    Lines of shell blocks are complete commands; inline spans may hold placeholders (``sim
    trace --seed S --run i``) or name an option in passing (``sim run --resume``), so only
    their subcommand and option names can be checked. A synopsis (``sim compare BASE
    [VARIANT] [--set ...]``, ``sim sweep ... --plot``) or a bare subcommand in prose (``sim
    backtest``) is no command at all.
    """
    found: list[tuple[int, str, bool]] = []
    for block in blocks(text):
        if block.lang in SHELL:
            found += [(line, command, True) for line, command in _block_commands(block)]
    for m in SPAN.finditer(prose(text)):
        found.append((0, " ".join(m.group(1).split()), False))
    out = []
    for line, command, complete in found:
        if " [" in command or "..." in command:
            continue
        words = shlex.split(command, comments=True)
        while words and ENV.match(words[0]):
            words = words[1:]
        cut = [k for k, word in enumerate(words) if word in REDIRECTS]
        words = words[: cut[0]] if cut else words
        if words[:1] == ["sim"] and len(words) >= (2 if complete else 3):
            out.append((line, words[1:], complete))
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


def parse_error(argv: list[str], complete: bool = True) -> str | None:
    """What the ``sim`` parser says against ``argv``, or None if it has nothing to say.

    A complete command must parse; of an incomplete one, the subcommand and the names of
    its options must exist.
    """
    import contextlib
    import io

    from sim.cli import build_parser

    parser = build_parser()
    if not complete:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        if argv[0] not in sub.choices:
            return f"no subcommand {argv[0]!r}"
        known = set(sub.choices[argv[0]]._option_string_actions)
        unknown = [w for w in argv if w.startswith("-") and w.split("=")[0] not in known]
        return f"unknown options {unknown}" if unknown else None
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(argv)
    except SystemExit as stop:
        return None if stop.code == 0 else err.getvalue().strip().splitlines()[-1]
    return None


# --- stamps: the scenario (and engine) a page's figures were measured with ------------------

#: "`NAME` at content hash `HASH`", optionally followed by ", golden `STAMP`".
STAMP = re.compile(r"`([a-z0-9][\w/-]*)` at content hash `([0-9a-f]{16})`(?:, golden `(\w+)`)?")
HASH = re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])")


def stamps(text: str) -> list[tuple[str, str, str | None]]:
    """The (scenario, content hash, golden stamp or None) a page says its figures rest on."""
    flat = " ".join(text.split())  # a stamp may wrap across lines
    return [(m.group(1), m.group(2), m.group(3)) for m in STAMP.finditer(flat)]


def golden_stamp(name: str) -> str | None:
    """A short fingerprint of what tests/golden/NAME.json compares, or None without one.

    Goldens are regenerated on purpose after a change of the model, the engine or the
    scenario, so a figure stamped with an older fingerprint was measured before that change.
    """
    import hashlib
    import importlib.util
    import json

    path = REPO / "tests" / "golden" / f"{name}.json"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location(
        "golden_regenerate", path.parent / "regenerate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    compared = module.compared(json.loads(path.read_text(encoding="utf-8")))
    return hashlib.sha256(json.dumps(compared, sort_keys=True).encode()).hexdigest()[:12]


def stamp(name: str) -> str:
    """The stamp to write beside figures measured now on a named scenario."""
    import sim

    golden = golden_stamp(name)
    line = f"`{name}` at content hash `{sim.load(name).content_hash()}`"
    return line + (f", golden `{golden}`" if golden else "")


if __name__ == "__main__":  # python tests/doc_blocks.py NAME ...: the stamps to paste
    import sys

    for argument in sys.argv[1:]:
        print(stamp(argument))
