"""Rare outcomes by multilevel splitting: an exact oracle, plain Monte Carlo, bad input.

* The gambler's ruin on 8 rungs from rung 3 with an up-step probability of 0.1 reaches the
  top with probability (1 - r**3) / (1 - r**8), r = 9 (Feller, ch. XIV): 1.69e-5, where
  plain Monte Carlo of the same cost would most likely see nothing.
* On the named scenario, splitting and plain Monte Carlo estimate P(peak >= 6) (about 3%
  of runs: the rarest rung plain Monte Carlo sees often enough at a test's size) and agree
  within their standard errors.
Tolerances are 4 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine import simulate
from sim.errors import UsageError
from sim.experiments.rare import rare
from sim.results.seeding import replication_seed
from sim.scenario import compile_scenario, load

Z = 4.0


def ruin_top(p: float, n: int, k: int) -> float:
    """The probability that a walk from k, up with probability p, reaches n before 0."""
    r = (1 - p) / p
    return (1 - r**k) / (1 - r**n)


@pytest.fixture(scope="module")
def ruin():
    return rare(
        "oracles/gamblers-ruin-8",
        "peak>=8",
        effort=200,
        repeats=6,
        levels=[4, 5, 6, 7, 8],
        seed=3,
        overrides=["actors.A.policy.params.p_up=0.1"],
    )


@pytest.mark.slow
def test_splitting_finds_the_gamblers_ruin_probability(ruin) -> None:
    truth = ruin_top(0.1, 8, 3)
    assert 1e-5 < truth < 2e-5
    assert abs(ruin.probability - truth) <= Z * ruin.standard_error
    assert ruin.relative_half_width < 0.5  # an interval that says something
    assert ruin.runs == 6 * 5 * 200


@pytest.mark.slow
def test_the_oracle_rejects_a_nearby_wrong_answer(ruin) -> None:
    wrong = ruin_top(0.12, 8, 3)  # another step probability: 2.8 times as likely
    assert abs(ruin.probability - wrong) > Z * ruin.standard_error


@pytest.mark.slow
def test_splitting_agrees_with_plain_monte_carlo() -> None:
    name, n = "taiwan-flashpoint-2025", 2000
    spec = compile_scenario(load(name))
    hits = sum(simulate(spec, replication_seed(21, i)).peak_rung >= 6 for i in range(n))
    p_mc = hits / n
    se_mc = math.sqrt(p_mc * (1 - p_mc) / n)
    assert 0.005 < p_mc < 0.06  # a rung a few runs in a hundred reach
    split = rare(name, "peak>=6", effort=150, repeats=6, levels=[5, 6], seed=5)
    assert abs(split.probability - p_mc) <= Z * math.hypot(split.standard_error, se_mc)
    assert np.isfinite(split.work_normalised_gain())


@pytest.mark.parametrize(
    ("outcome", "kwargs", "message"),
    [
        ("crisis", {}, "expected peak>=K"),
        ("peak>=9", {}, r"K a rung in 1\.\.8"),
        ("peak>=7", {"levels": [6, 5, 7]}, "increase and end at 7"),
        ("peak>=7", {"levels": [5, 6]}, "end at 7"),
        ("peak>=7", {"effort": 1}, "at least 2"),
        ("peak>=7", {"effort": [10, 10], "levels": [5, 6, 7]}, "one per level"),
        ("peak>=7", {"repeats": 1}, "2 repetitions"),
    ],
)
def test_bad_rare_input_is_refused(outcome, kwargs, message) -> None:
    with pytest.raises(UsageError, match=message):
        rare("taiwan-flashpoint-2025", outcome, **kwargs)


def test_sim_run_rare(cli, tmp_path) -> None:
    done = cli(
        "run", "oracles/gamblers-ruin-5", "--rare", "peak>=5", "--effort", "50",
        "--repeats", "3", "--levels", "3,4,5", "--seed", "1",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "P(peak>=5) = " in done.stdout and "3 repetitions of 50/50/50 runs" in done.stdout
    bad = cli("run", "taiwan-flashpoint-2025", "--rare", "war", cwd=tmp_path)
    assert bad.returncode == 2 and "expected peak>=K" in bad.stderr


def test_the_figures_script_prints_the_page_sections(capsys) -> None:  # noqa: ANN001
    """docs/rare_figures.py at its small size prints every section docs/rare-events.md quotes."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "rare_figures.py"
    spec = importlib.util.spec_from_file_location("rare_figures", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = sys.argv
    sys.argv = ["rare_figures.py", "--small"]
    try:
        module.main()
    finally:
        sys.argv = argv
    out = capsys.readouterr().out
    for heading in ("## gambler's ruin", "P(peak>=6)", "P(peak>=7)", "plain Monte Carlo:"):
        assert heading in out
