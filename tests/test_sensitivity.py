"""Sobol indices: an analytic function whose indices are known, then a scenario whose are.

In ``tests/scenarios/sweep_oracle.yaml`` the clash rate decides the outcome alone and the
cost of a lever nobody uses does nothing, so the rate's indices are 1 and the cost's 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.analysis.sensitivity import sobol_indices
from sim.experiments.designs import design_rng, saltelli_sample
from sim.present.sweep import render_sensitivity

REPO = Path(__file__).resolve().parents[1]
ORACLE = str(REPO / "tests" / "scenarios" / "sweep_oracle.yaml")
RATE = "events.clash.rate_per_year"
DEAD = "actors.A.levers.unused.cost.upfront"
#: How the tables name them: by label (sim/scenario/labels.py), the paths said once below.
RATE_LABEL, DEAD_LABEL = "clash: rate per year", "Alpha, a lever nobody uses: cost upfront"
Z95 = 1.959963984540054


def within_4_se(estimate: float, half_width: float, truth: float) -> bool:
    """True if ``estimate`` is within 4 bootstrap standard errors (plus round-off) of ``truth``."""
    return abs(estimate - truth) <= 4 * half_width / Z95 + 1e-9


def test_indices_of_a_linear_function_match_the_analytic_values() -> None:
    # Y = 2 u0 + u1 + 0 u2 with u uniform: Var = (4 + 1) / 12, so S1 = ST = (0.8, 0.2, 0).
    u = saltelli_sample(3, 256, False, design_rng(11))
    y = 2 * u[:, 0] + u[:, 1]
    table = sobol_indices(["a", "b", "c"], {"y": y}, resamples=300, seed=3).set_index("parameter")
    for name, truth in (("a", 0.8), ("b", 0.2), ("c", 0.0)):
        row = table.loc[name]
        assert within_4_se(row.S1, (row.S1_hi - row.S1_lo) / 2, truth), (name, row.S1)
        assert within_4_se(row.ST, (row.ST_hi - row.ST_lo) / 2, truth), (name, row.ST)
    assert list(table["rank"]) == [1, 2, 3]


def test_indices_and_intervals_are_the_same_on_every_analysis() -> None:
    u = saltelli_sample(2, 64, False, design_rng(1))
    outcomes = {"y": u[:, 0] ** 2 + u[:, 1]}
    first = sobol_indices(["a", "b"], outcomes, resamples=200, seed=7)
    pd.testing.assert_frame_equal(first, sobol_indices(["a", "b"], outcomes, resamples=200, seed=7))


def test_an_outcome_that_never_varies_has_no_indices() -> None:
    table = sobol_indices(["a", "b"], {"flat": np.full(16 * 4, 0.25)}, resamples=50)
    assert table[["S1", "ST", "ST_lo"]].isna().all().all()
    assert "does not vary" in render_sensitivity(table)


@pytest.fixture(scope="module")
def oracle_sobol() -> Any:
    """A Sobol sweep of the oracle: the clash rate and the cost of an unused lever."""
    return sim.sweep(
        ORACLE,
        parameters={RATE: "0:8", DEAD: "0:10"},
        design="sobol",
        points=16,
        runs=10,
        seed=3,
        workers=1,
        outcomes=["crisis"],
    )


def test_the_deciding_parameter_dominates_and_the_idle_one_is_zero(oracle_sobol: Any) -> None:
    table = oracle_sobol.sensitivity.set_index("parameter")
    rate, dead = table.loc[RATE], table.loc[DEAD]
    # The idle parameter: zero, inside its own interval.
    for index in ("S1", "ST"):
        assert dead[f"{index}_lo"] <= dead[index] <= dead[f"{index}_hi"]
        assert dead[f"{index}_lo"] <= 0.0 <= dead[f"{index}_hi"]
        assert abs(dead[index]) < 1e-9  # Common random numbers: the runs do not change at all.
    # The deciding one: ranked first, its intervals clear of the idle one's, near 1.
    assert rate["rank"] == 1 and dead["rank"] == 2
    assert rate["ST_lo"] > dead["ST_hi"] and rate["S1_lo"] > dead["S1_hi"]
    assert within_4_se(rate["ST"], (rate["ST_hi"] - rate["ST_lo"]) / 2, 1.0)
    assert within_4_se(rate["S1"], (rate["S1_hi"] - rate["S1_lo"]) / 2, 1.0)


def test_the_ranked_table_names_the_outcome_and_puts_the_rate_first(oracle_sobol: Any) -> None:
    text = oracle_sobol.table()
    block = text[text.index("Sobol indices of P(crisis)") :]
    assert block.index(RATE_LABEL) < block.index(DEAD_LABEL)
    assert f"  {RATE_LABEL} = {RATE}" in text.splitlines()
    assert "total ST" in block and "first S1" in block


def test_cli_prints_the_ranked_table_and_stores_it(tmp_path: Path) -> None:
    args = ["sweep", ORACLE, "--param", f"{RATE}=0:8", "--param", f"{DEAD}=0:10"]
    args += ["--design", "sobol", "--points", "4", "--runs", "10", "--workers", "1"]
    args += ["--outcome", "crisis", "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout[done.stdout.index("Sobol indices of P(crisis)") :].splitlines()
    assert lines[3].startswith(f"   1  {RATE_LABEL}  ")  # rank, parameter (by label)
    assert lines[4].startswith(f"   2  {DEAD_LABEL}  ")
    (folder,) = (tmp_path / "results" / "sweep_oracle").iterdir()
    stored = pd.read_parquet(folder / "sensitivity.parquet")
    assert list(stored["parameter"]) == [RATE, DEAD]
