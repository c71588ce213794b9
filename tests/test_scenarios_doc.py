"""docs/scenarios.md, "write your own scenario", is executed: its page cannot rot.

Its YAML blocks are written to a folder under the file names their markers give (blocks of
one file in order), and each scenario is validated and simulated; every marked command
output and every error message is compared with what ``sim`` prints now; every command the
page quotes parses; its levers use the codes of the shared coding table.
"""

from __future__ import annotations

import csv
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
from doc_blocks import REPO, Block, blocks, commands, parse_error

import sim
from sim.cli import main

PAGE = REPO / "docs" / "scenarios.md"
TEXT = PAGE.read_text(encoding="utf-8")
BLOCKS = blocks(TEXT)
#: The folder the page's messages show, for the test's own temporary one.
SHOWN = "/home/you/scenarios"
CAMEO_TABLE = REPO.parent / "shared" / "domain" / "cameo-levers.csv"
#: Codes the page uses that the shared table lacks, and says so.
OUTSIDE_THE_TABLE = {("171", -9.2)}


def files() -> dict[str, str]:
    """The page's scenario files: each marked YAML block, appended to its file's text."""
    out: dict[str, list[str]] = defaultdict(list)
    for block in BLOCKS:
        if block.kind == "file":
            out[block.arg].append(block.text)
    return {name: "\n".join(parts) for name, parts in out.items()}


def write(folder: Path, texts: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (folder / name).write_text(text, encoding="utf-8")


def sim_says(argv: list[str], folder: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """Exit code and output (stdout, or stderr on an error) of ``sim ARGV`` run in ``folder``."""
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    shown = (out if code == 0 else err).replace(str(folder.resolve()), SHOWN)
    return code, shown


def console(block: Block) -> tuple[list[str], list[str]]:
    """A console block's command (after ``$ sim``) and the lines shown below it."""
    first, *shown = block.text.rstrip("\n").splitlines()
    assert first.startswith("$ sim "), f"line {block.line}: expected '$ sim ...'"
    return first.removeprefix("$ sim ").split(), shown


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenarios")
    write(path, files())
    return path


def test_every_yaml_block_is_marked_for_the_test() -> None:
    unmarked = [b.line for b in BLOCKS if b.lang == "yaml" and b.kind != "file"]
    assert unmarked == []
    assert len(files()) >= 8  # the scenario, its variant and the feature examples


def test_every_scenario_of_the_page_validates_and_simulates(folder: Path) -> None:
    for name in files():
        scenario = sim.load(folder / name)
        assert f"{scenario.name}.yaml" == name  # the convention the page states
        record = sim.simulate(scenario, seed=1)
        assert record.outcome in {c.id for c in scenario.outcomes.classes}
        assert record.moves, f"{name}: no move at all"
    base, ally = sim.load(folder / "harbour-dispute.yaml"), folder / "harbour-dispute-ally.yaml"
    assert len(base.actors) == 2
    assert {r.kind for r in sim.load(ally).relations} == {"alliance", "dependence"}


def test_each_feature_example_is_what_it_says(folder: Path) -> None:
    def lever(name: str, actor: str, lever_id: str):  # noqa: ANN202
        scenario = sim.load(folder / name)
        return next(lv for lv in scenario.actor(actor).levers if lv.id == lever_id)

    assert lever("harbour-tightens.yaml", "NOR", "import_ban").tightens == "seafood_ban"
    requires = lever("harbour-requires.yaml", "SUD", "raise_alert").requires
    assert requires.their_rung_at_least == 4
    assert lever("harbour-requires.yaml", "SUD", "protest_patrols").requires.after is not None
    assert lever("harbour-requires.yaml", "NOR", "lift_ban").requires.used == ["SUD.retract_vow"]
    vow = lever("harbour-face.yaml", "SUD", "vow_to_defend")
    assert vow.effect.standing == 0.3 and vow.effect.political == 0.2  # merged, not replaced
    assert lever("harbour-face.yaml", "NOR", "lift_ban").cost.audience == 2.0
    assert sim.load(folder / "harbour-status-quo.yaml").in_force[0].holds_rung is False
    talks = next(e for e in sim.load(folder / "harbour-talks.yaml").events if e.id != "vow")
    assert talks.postpone is not None and talks.stake_boost is not None
    asked = sim.load(folder / "harbour-licences.yaml").events[-1].effects[0]
    assert asked.type == "prompt" and asked.defer_days == 30


def test_the_outputs_shown_are_what_sim_prints(folder: Path, capsys) -> None:  # noqa: ANN001
    shown = [b for b in BLOCKS if b.kind == "output"]
    assert len(shown) >= 2
    for block in shown:
        argv, expected = console(block)
        code, out = sim_says(argv, folder, capsys)
        assert code == 0, out
        lines = out.rstrip("\n").splitlines()
        if expected[-1] == "...":  # the first lines only
            expected, lines = expected[:-1], lines[: len(expected) - 1]
        assert lines == expected, f"docs/scenarios.md:{block.line}"


def test_the_errors_shown_are_what_sim_says(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    shown = [b for b in BLOCKS if b.kind == "error"]
    assert len(shown) >= 8
    for k, block in enumerate(shown):
        change = json.loads(block.arg)
        texts = files()
        old, new = change["replace"]
        assert texts[change["file"]].count(old) == 1, f"line {block.line}: {old!r}"
        texts[change["file"]] = texts[change["file"]].replace(old, new)
        write(tmp_path / str(k), texts)
        argv, expected = console(block)
        code, message = sim_says(argv, tmp_path / str(k), capsys)
        assert code == 2
        assert message.rstrip("\n").splitlines() == expected, f"docs/scenarios.md:{block.line}"


def test_every_command_the_page_quotes_parses() -> None:
    quoted = commands(TEXT)
    assert len(quoted) >= 8
    wrong = [(line, argv, parse_error(argv, whole)) for line, argv, whole in quoted]
    assert [w for w in wrong if w[2]] == []


def test_the_levers_use_the_shared_coding_table(folder: Path) -> None:
    if not CAMEO_TABLE.exists():
        pytest.skip(f"{CAMEO_TABLE} is not beside the repository")
    with CAMEO_TABLE.open(encoding="utf-8") as f:
        table = {(row["cameo_code"], float(row["goldstein"])) for row in csv.DictReader(f)}
    used = set()
    for name in files():
        for actor in sim.load(folder / name).actors:
            used |= {(lv.cameo, lv.goldstein) for lv in actor.levers}
    assert used - table == OUTSIDE_THE_TABLE


def test_the_readme_links_the_page() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    scenarios = readme.split("## Scenarios", 1)[1].split("\n## ", 1)[0]
    assert "(docs/scenarios.md)" in scenarios
