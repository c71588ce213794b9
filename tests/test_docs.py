"""The docs cannot go stale unnoticed: their commands, scenario names, stamps and figure scripts.

- Every ``sim`` command the README, docs/*.md and the notebooks quote parses with the CLI
  of today, and every named scenario, sweep or calibration file it names exists.
- Every content hash a page quotes is a stamp, "`NAME` at content hash `HASH`" (with ",
  golden `STAMP`" where the scenario has a golden summary), and is current: a change of the
  scenario, or of the engine (which regenerates the goldens), fails here until the figures
  are measured again (``python tests/doc_blocks.py NAME`` prints the stamp to write).
- The scripts that produce a page's figures (docs/sweep_figures.py, docs/crn_figures.py,
  docs/backtest_figures.py) run at a small size and print tables of the shape the page
  shows, and the facts a page quotes that need no ensemble hold.
docs/scenarios.md has its own, stricter test (tests/test_scenarios_doc.py).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
from doc_blocks import (
    HASH,
    REPO,
    commands,
    golden_stamp,
    parse_error,
    stamps,
)

import sim

DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [REPO / "README.md", *[p for p in DOCS if p.name != "scenarios.md"]]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
#: The positional arguments of each subcommand that name a scenario or a spec file.
NAMED = {
    "run": ["scenario"],
    "trace": ["scenario"],
    "validate": ["scenario"],
    "backtest": ["scenario"],
    "compare": ["base", "variant"],
    "sweep": ["target"],
    "calibrate": ["target"],
}


def text_of(page: Path) -> str:
    """A page's Markdown (a notebook's Markdown cells)."""
    if page.suffix == ".ipynb":
        cells = json.loads(page.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return page.read_text(encoding="utf-8")


def script(name: str) -> ModuleType:
    """A docs/ script, imported by path (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "docs" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table_headers(text: str) -> list[str]:
    """The header rows of a page's Markdown tables (the line above each |---| rule)."""
    lines = text.splitlines()
    return [lines[k - 1] for k, line in enumerate(lines) if line.startswith("|---")]


def section(text: str, title: str) -> str:
    """The text of one '## title' section of a page."""
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("page", PAGES + NOTEBOOKS, ids=lambda p: p.name)
def test_every_command_a_page_quotes_parses(page: Path) -> None:
    quoted = commands(text_of(page))
    wrong = [(line, " ".join(argv), parse_error(argv, whole)) for line, argv, whole in quoted]
    assert [w for w in wrong if w[2]] == []


def named_targets(argv: list[str]) -> list[str]:
    """The scenario names and spec files a complete command names (placeholders left out)."""
    from sim.cli import build_parser

    if argv[0] not in NAMED or {"-h", "--help"} & set(argv) or parse_error(argv):
        return []
    args = build_parser().parse_args(argv)
    values = [getattr(args, field, None) for field in NAMED[argv[0]]]
    return [v for v in values if v and "<" not in v and not any(c.isupper() for c in v)]


@pytest.mark.parametrize("page", PAGES + NOTEBOOKS, ids=lambda p: p.name)
def test_every_scenario_a_page_names_exists(page: Path) -> None:
    from sim.scenario.registry import find

    missing = []
    for _, argv, _ in commands(text_of(page)):
        for target in named_targets(argv):
            if target.endswith((".yaml", ".yml")):
                found = (REPO / target).is_file()
            else:
                found = find(target) is not None
            if not found:
                missing.append((" ".join(argv), target))
    assert missing == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_content_hash_a_page_quotes_is_a_current_stamp(page: Path) -> None:
    text = text_of(page)
    found = stamps(text)
    stamped = {h for _, h, _ in found}
    assert [h for h in HASH.findall(text) if h not in stamped] == [], "a hash without its name"
    stale = []
    for name, quoted, golden in found:
        current = sim.load(name).content_hash()
        if quoted != current:
            stale.append(f"{name}: content hash {quoted} quoted, {current} now")
        if golden is not None and golden != golden_stamp(name):
            stale.append(f"{name}: golden {golden} quoted, {golden_stamp(name)} now")
    assert stale == [], "figures measured before a change: measure them again"


@pytest.mark.parametrize(
    ("page", "name"),
    [
        ("sweeps.md", "taiwan-flashpoint-2025"),
        ("crn.md", "taiwan-flashpoint-2025"),
        ("crn.md", "taiwan-flashpoint-2025-lai-transit"),
        ("model.md", "taiwan-flashpoint-2025"),
        ("backtest.md", "taiwan-flashpoint-2025"),
    ],
)
def test_pages_with_figures_say_what_they_were_measured_on(page: str, name: str) -> None:
    goldens = [g for n, _, g in stamps(text_of(REPO / "docs" / page)) if n == name]
    assert any(goldens), f"{page} needs a stamp with the golden of {name}"


def test_the_sweep_figures_script_prints_the_tables_of_the_page(tmp_path, capsys) -> None:  # noqa: ANN001
    figures = script("sweep_figures")
    # both shipped sweep files, made small: two resolves of the grid, a Sobol base sample of 2
    resolves = {
        "actors.CHN.attributes.resolve": [0.3, 0.7],
        "relations.us_japan_treaty.public_backing": [0, 1],
    }
    grid = sim.sweep(figures.GRID, runs=2, parameters=resolves, out=tmp_path, workers=1)
    sobol = sim.sweep(figures.SOBOL, runs=1, points=2, out=tmp_path, workers=1)
    figures.main(["--from", str(grid.path), "--from", str(sobol.path)])
    printed = capsys.readouterr().out
    page = section(text_of(REPO / "docs" / "sweeps.md"), "The shipped sweeps")
    assert table_headers(printed) == table_headers(page)
    assert "`taiwan-flashpoint-2025` at content hash" in printed


def test_the_crn_figures_script_prints_the_table_of_the_page(capsys) -> None:  # noqa: ANN001
    script("crn_figures").main(["--runs", "10"])
    printed = capsys.readouterr().out
    page = section(text_of(REPO / "docs" / "crn.md"), "Measured")
    assert table_headers(printed) == table_headers(page)
    assert printed.count("` at content hash `") == 3


@pytest.mark.parametrize(
    ("param", "fragments"),
    [
        (
            "actors.CHN.attributes.resolv=0.3:0.9:3",
            [
                "sim: error: sweep parameter actors.CHN.attributes.resolv: 'resolv' is not a field "
                "of actors.CHN.attributes; closest: resolve"
            ],
        ),
        (
            "actors.CHN.attributes.resolve=0.3:1.5:3",
            ["value 1.5 (the high end of its range): ", "Input should be less than or equal to 1"],
        ),
    ],
)
def test_the_sweep_errors_the_page_quotes_are_what_sim_says(param, fragments, capsys) -> None:  # noqa: ANN001
    from sim.cli import main

    assert main(["sweep", "taiwan-flashpoint-2025", "--param", param, "--quiet"]) == 2
    said = capsys.readouterr().err
    page = " ".join(text_of(REPO / "docs" / "sweeps.md").split())
    assert [f for f in fragments if f not in said or f not in page] == []


def test_the_interval_widths_of_sweeps_md_are_its_formula() -> None:
    text = " ".join(text_of(REPO / "docs" / "sweeps.md").split())
    w = [100 * 1.96 * (0.1 * 0.9 / n) ** 0.5 for n in (200, 400, 1000)]
    quoted = f"±{w[0]:.1f} points at p = 0.1 with 200 runs, ±{w[1]:.1f} with 400, ±{w[2]:.1f} with"
    assert quoted in text


def test_the_backtest_figures_script_runs_and_the_record_facts_hold(capsys) -> None:  # noqa: ANN001
    figures = script("backtest_figures")
    if not figures.TIMELINE.exists():
        pytest.skip(f"{figures.TIMELINE} is not beside the repository")
    figures.main(["--runs", "10"])
    printed = " ".join(capsys.readouterr().out.split())  # lines wrap at 100 characters
    page = " ".join(text_of(REPO / "docs" / "backtest.md").split())
    # what depends on the record and the scenario only, not on the runs
    assert "32 observed moves in 13 kinds scored" in printed
    assert "32 observed US-China moves in 13 kinds are scored" in page
    assert "not scored: lines 7, 21, 24" in printed and "(lines 7, 21, 24)" in page
    assert "rivera: record 186.0 " in printed and "is 186 on the Rivera scale" in page
    assert "goldstein: record -44.6 " in printed and "Its Goldstein sum, -44.6," in page
