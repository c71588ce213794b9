"""Scenario discovery: PRIM over a sweep's points finds where an outcome is likely.

On the gambler's ruin the top is reached more often the likelier an up-step is, and the
bystander's review interval does nothing: the box PRIM finds for "top at least half the
time" restricts the walker's up-step probability from below and leaves the bystander be.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import sim
from sim.analysis import discovery
from sim.errors import UsageError
from sim.experiments.discover import discover


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("discover")
    done = sim.sweep(
        "oracles/gamblers-ruin-5",
        parameters={
            "actors.A.policy.params.p_up": [0.3, 0.4, 0.5, 0.6, 0.7],
            "actors.B.review_every_days": [100, 1000, 3000],
        },
        runs=60,
        seed=4,
        outcomes=["top"],
        out=out,
        workers=1,
    )
    return Path(done.path)


def test_prim_finds_the_walkers_box(grid: Path) -> None:
    found = discover(grid, "top", 0.5)
    limits = found.limits.set_index("parameter")
    assert list(limits.index) == ["actors.A.policy.params.p_up"]
    assert 0.4 < limits.loc["actors.A.policy.params.p_up", "min"] <= 0.6
    assert found.box["density"] >= 0.8 and found.box["coverage"] > 0.5
    text = found.table()
    assert "Peeling trajectory" in text and "<- chosen" in text and "CART tree" in text
    # The box and the tree name the parameter by its label, the legend by its path, once;
    # the JSON keeps the path.
    (box_line,) = [line for line in text.splitlines() if line.startswith("  walker: p up  ")]
    assert "quasi-p" not in box_line and ".." in box_line
    assert "--- walker: p up <=" in text or "--- walker: p up >" in text
    assert [line for line in text.splitlines() if "actors.A.policy.params.p_up" in line] == [
        "  walker: p up = actors.A.policy.params.p_up"
    ]
    assert found.to_json()["limits"][0]["parameter"] == "actors.A.policy.params.p_up"


def test_sim_discover_prints_the_box_and_writes_its_figures(cli, grid: Path) -> None:
    done = cli("discover", str(grid), "--outcome", "top", "--threshold", "0.5", cwd=grid)
    assert done.returncode == 0, done.stderr
    assert "Chosen box" in done.stdout and "actors.A.policy.params.p_up" in done.stdout
    for name in ("discover-top-tradeoff.png", "discover-top-box.png"):
        assert (grid / "figures" / name).stat().st_size > 1000


@pytest.mark.parametrize(
    ("outcome", "threshold", "message"),
    [
        ("top", 0.0, "strictly between 0 and 1"),
        ("top", 1.5, "strictly between 0 and 1"),
        ("war", 0.5, "'war': not an outcome of gamblers-ruin-5"),
        ("peak_rung_mean", 0.5, "needs a probability"),
        ("top", 0.99, "no point reaches"),
    ],
)
def test_bad_discovery_input_is_refused(grid: Path, outcome, threshold, message) -> None:
    with pytest.raises(UsageError, match=message):
        discover(grid, outcome, threshold)


def test_not_a_sweep_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not a sweep folder"):
        discover(tmp_path, "top", 0.5)


def test_without_ema_workbench_the_message_names_the_extra(grid: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ema_workbench", None)  # import fails as if absent
    monkeypatch.setitem(sys.modules, "ema_workbench.analysis", None)
    with pytest.raises(UsageError, match=r"sim\[explore\]"):
        discover(grid, "top", 0.5)
    assert "explore" in discovery.NO_EMA
