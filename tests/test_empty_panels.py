"""A comparison's figure and text name what each arm changed: its --set overrides and the
posterior it drew from (issue 18, item 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import sim
import sim.plots as plots
from sim.experiments.posterior import Posterior
from sim.plots.comparison import load as load_comparison
from sim.plots.comparison import subtitle
from sim.present.comparison import header

HERE = Path(__file__).resolve().parent
ORACLE = str(HERE / "scenarios" / "poisson_oracle.yaml")


def words(fig: Any) -> str:
    """Return all the text of a figure (title block, notes), its lines joined by spaces."""
    return " ".join(" ".join(t.get_text() for t in fig.texts).split())


def test_a_comparison_names_each_arms_overrides_and_posterior() -> None:
    """--posterior: both arms draw from it; --set: the variant alone changes."""
    posterior = Posterior(
        ["events.criticism.rate_per_year"], np.array([[2.0], [5.0]]), np.ones(2),
        source="oracle-posterior",
    )  # fmt: skip
    change = "actors.A.levers.criticise.goldstein=-5"  # a harsher score for the same moves
    paired = sim.compare(ORACLE, runs=6, seed=3, workers=1, overrides=[change],
                         posterior=posterior)  # fmt: skip
    variant, base, _ = subtitle(load_comparison(paired))
    title = "One Poisson criticism a year at an unknown rate (calibration test fixture)"
    assert variant == f"{title} [poisson_oracle] with --set {change}; posterior of oracle-posterior"
    assert base == f"against {title} [poisson_oracle] with posterior of oracle-posterior"
    assert variant in words(plots.paired_differences(paired))
    text = header(paired.summary).splitlines()
    assert text[1].endswith("with posterior of oracle-posterior")
    assert text[2] == (
        f"  variant: poisson_oracle with --set {change}; posterior of oracle-posterior"
    )
    from sim.report import comparison_report

    page = comparison_report(load_comparison(paired), images=[])
    assert f"with <code>--set {change}; posterior of oracle-posterior</code> against" in page
    assert "<code>poisson_oracle</code> with <code>posterior of oracle-posterior</code> (" in page


def test_a_comparison_names_the_posterior_its_variant_scenario_names() -> None:
    """A scenario field ``posterior:``: only that arm draws, and only it says so."""
    paired = sim.compare("taiwan-flashpoint-2025", "taiwan-flashpoint-2025-calibrated",
                         runs=4, seed=1, workers=1)  # fmt: skip
    where = paired.summary["posterior"]["calibration"]
    variant, base, _ = subtitle(load_comparison(paired))
    assert variant.endswith(f"[taiwan-flashpoint-2025-calibrated] with posterior of {where}")
    assert base.endswith("[taiwan-flashpoint-2025]")
    text = header(paired.summary).splitlines()
    assert text[2] == f"  variant: taiwan-flashpoint-2025-calibrated with posterior of {where}"
    assert "posterior" not in text[1]
