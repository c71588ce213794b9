"""docs/story_check.py, the analyst's reading of an ensemble that docs/model.md quotes, runs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "story_check.py"


def test_the_story_check_runs_and_reports_every_figure(capsys: pytest.CaptureFixture) -> None:
    spec = importlib.util.spec_from_file_location("story_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--runs", "40", "--seed", "3"])
    figures = json.loads(capsys.readouterr().out)
    assert figures["runs"] == 40
    for key in (
        "military crisis (peak >= 6)",
        "China lifted a measure on Japan by day 100",
        "sales answered by sanctions on US firms within 14 days",
        "US president backs Japan publicly",
        "Beijing visit",
    ):
        assert key in figures
    assert 0.0 <= figures["China lifted a measure on Japan by day 100"]["p"] <= 1.0
    assert "held" in figures["Beijing visit"]
