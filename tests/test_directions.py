"""The named scenario responds to its documented parameters in the documented direction.

Each comparison runs both sides on the same replication seeds (common random numbers) and
asks that the paired difference of an outcome's indicator lie beyond its 95% confidence
interval in the direction docs/model.md states. Both the runs and the seeds are fixed, so
the test is deterministic; the margin comes from the paired standard error.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim

RUNS, SEED = 400, 5
Z95 = 1.96


def outcomes(name: str, overrides: dict | None = None) -> np.ndarray:
    results = sim.run(sim.load(name, overrides), runs=RUNS, seed=SEED)
    return results.runs.sort_values("index")["outcome"].to_numpy()


@pytest.fixture(scope="module")
def base() -> np.ndarray:
    return outcomes("taiwan-flashpoint-2025")


def paired(a: np.ndarray, b: np.ndarray, outcome: str | set[str]) -> tuple[float, float]:
    """Mean and standard error of the paired difference of indicators (b minus a)."""
    wanted = [outcome] if isinstance(outcome, str) else sorted(outcome)
    d = np.isin(b, wanted).astype(float) - np.isin(a, wanted).astype(float)
    return d.mean(), d.std(ddof=1) / math.sqrt(len(d))


def assert_moves(a: np.ndarray, b: np.ndarray, outcome: str | set[str], sign: int) -> None:
    diff, se = paired(a, b, outcome)
    assert se > 0, f"no run differs in {outcome}"
    assert sign * diff > Z95 * se, f"{outcome}: paired difference {diff:+.3f} (SE {se:.3f})"


def test_chinas_resolve_raises_the_risk_of_a_military_crisis() -> None:
    low = outcomes("taiwan-flashpoint-2025", {"actors.CHN.attributes.resolve": 0.5})
    high = outcomes("taiwan-flashpoint-2025", {"actors.CHN.attributes.resolve": 0.9})
    assert_moves(low, high, "military_crisis", +1)
    assert_moves(low, high, "coercive_standoff", +1)
    assert_moves(low, high, "de_escalated", -1)


def test_open_us_backing_of_japan_deters_coercion_of_japan(base: np.ndarray) -> None:
    backed = outcomes("taiwan-flashpoint-2025-us-backs-japan")
    assert_moves(base, backed, {"military_crisis", "coercive_standoff"}, -1)
    assert_moves(base, backed, {"contained_rivalry", "de_escalated"}, +1)


def test_a_lai_transit_hardens_the_standoff(base: np.ndarray) -> None:
    transit = outcomes("taiwan-flashpoint-2025-lai-transit")
    assert_moves(base, transit, "coercive_standoff", +1)
    assert_moves(base, transit, "contained_rivalry", -1)


def test_the_distribution_is_not_degenerate(base: np.ndarray) -> None:
    shares = {o: (base == o).mean() for o in set(base)}
    assert max(shares.values()) < 0.9
    assert sum(p > 0.01 for p in shares.values()) >= 3
