"""What the commands print fits 100 characters a line (issue 18, item 7).

Each command runs in process at a small size; every line of its output and its messages must
fit, but for a line that is only a path (which cannot be broken where a shell would read it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.cli import main
from sim.present.table import WIDTH

REPO = Path(__file__).resolve().parents[1]
TIMELINE = REPO.parent / "shared" / "domain" / "timeline-2025-to-nov6.csv"
NAMED = "taiwan-flashpoint-2025"

COMMANDS = {
    "run": ["run", NAMED, "--runs", "30", "--workers", "1"],
    "run with scores": ["run", NAMED, "--runs", "30", "--workers", "1", "--score", "rivera"],
    "compare": ["compare", NAMED, f"{NAMED}-us-backs-japan", "--runs", "30", "--workers", "1"],
    "sweep": [
        "sweep",
        NAMED,
        "--param",
        "actors.CHN.attributes.resolve=0.5:0.9:2",
        "--param",
        "relations.us_japan_treaty.public_backing=0:1:2",
        "--runs",
        "4",
        "--workers",
        "1",
        "--set",
        "actors.JPN.attributes.resolve=0.8",
    ],  # fmt: skip
    "sweep of ten parameters": [
        "sweep",
        str(REPO / "scenarios" / "sweeps" / "taiwan-morris-screen.yaml"),
        "--points",
        "2",
        "--runs",
        "2",
        "--workers",
        "1",
    ],  # fmt: skip
    "trace": ["trace", NAMED, "--seed", "21", "--run", "17"],
    "list": ["list"],
    "validate": ["validate", str(REPO / "scenarios" / f"{NAMED}.yaml")],
}
WRITES = {"run", "run with scores", "compare", "sweep", "sweep of ten parameters"}


def too_wide(text: str) -> list[str]:
    """Return the lines of ``text`` wider than the page, but for a path on a line of its own."""
    lines = re.split(r"[\r\n]", text)
    return [
        line
        for line in lines
        if len(line) > WIDTH and not (len(line.split()) <= 2 and "/" in line.split()[-1])
    ]


def says(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Return what ``sim ARGV`` printed on both streams; it must succeed."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out + err


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_line_fits(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = COMMANDS[command] + (["--out", str(tmp_path)] if command in WRITES else [])
    assert too_wide(says(argv, tmp_path, capsys)) == []


def test_a_backtest_fits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not TIMELINE.exists():
        pytest.skip(f"{TIMELINE} is not beside the repository")
    argv = ["backtest", "us-china-tradewar-2025", str(TIMELINE), "--runs", "10", "--seed", "1"]
    assert too_wide(says(argv, tmp_path, capsys)) == []


def test_the_check_catches_a_wide_line() -> None:
    assert too_wide("x" * (WIDTH + 1) + " y") != []
    assert too_wide("results: /a/" + "b" * WIDTH) == []
