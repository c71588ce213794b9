"""The Morris design: SALib's trajectories, mu* and sigma with intervals, table and figure.

On the gambler's ruin, the up-step probability decides everything and the bystander's review
interval nothing: with common random numbers the bystander's elementary effects are exactly
zero (its stream is its own), and the walker's are not.
"""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.experiments.designs import unit_sample
from sim.experiments.sweep_spec import SweepSpec
from sim.plots import write_figures

PARAMETERS = {
    "actors.A.policy.params.p_up": "0.3:0.7",
    "actors.B.review_every_days": "100:3000",
}


@pytest.fixture(scope="module")
def screening(tmp_path_factory):
    out = tmp_path_factory.mktemp("morris")
    return sim.sweep(
        "oracles/gamblers-ruin-5",
        parameters=PARAMETERS,
        design="morris",
        points=4,
        runs=40,
        seed=3,
        outcomes=["top", "peak_rung_mean"],
        out=out,
        workers=1,
    )


def test_the_design_moves_one_parameter_at_a_time() -> None:
    spec = SweepSpec(
        scenario="oracles/gamblers-ruin-5", design="morris", points=5, parameters=PARAMETERS
    )
    assert spec.n_points == 5 * 3
    unit = unit_sample(spec)
    assert unit.shape == (15, 2)
    for t in range(5):
        steps = np.diff(unit[3 * t : 3 * t + 3], axis=0)
        assert ((steps != 0).sum(axis=1) == 1).all()  # each step moves exactly one parameter


def test_mu_star_ranks_what_matters(screening) -> None:
    table = screening.sensitivity
    assert set(table.columns) >= {"mu_star", "mu_star_lo", "mu_star_hi", "sigma", "sigma_lo"}
    top = table[table["outcome"] == "top"].set_index("parameter")
    walker, bystander = (
        top.loc["actors.A.policy.params.p_up"],
        top.loc["actors.B.review_every_days"],
    )
    assert walker["rank"] == 1 and walker["mu_star"] > 0.2
    assert bystander["mu_star"] == 0.0 and bystander["sigma"] == 0.0
    assert walker["mu_star_lo"] <= walker["mu_star"] <= walker["mu_star_hi"]
    assert walker["sigma_lo"] <= walker["sigma"] <= walker["sigma_hi"]
    text = screening.table()
    assert "Morris screening of" in text and "mu*" in text
    # the ranking's rows name the parameters by label (rank 1: the walker's up-step); the
    # path is said once, in the heading's legend
    assert "   1  walker: p up  " in text and "   2  bystander: review every days  " in text
    assert [line for line in text.splitlines() if "actors.A.policy.params.p_up" in line] == [
        "  walker: p up = actors.A.policy.params.p_up"
    ]


def test_the_figure_is_drawn(screening) -> None:
    written = write_figures(screening)
    assert "morris_screening.png" in {p.name for p in written}
    from sim.plots.explore import morris_screening

    fig = morris_screening(screening)
    names = {t.get_text() for ax in fig.axes for t in ax.texts}
    assert {"walker: p up", "bystander: review every days"} <= names


def test_a_morris_design_needs_trajectories() -> None:
    with pytest.raises(ValueError, match="a Morris design needs points"):
        SweepSpec(scenario="oracles/gamblers-ruin-5", design="morris", parameters=PARAMETERS)


@pytest.mark.parametrize("design, points", [("morris", 40_000), ("sobol", 32_768), ("lhs", None)])
def test_a_design_larger_than_the_limit_is_refused_whatever_its_kind(design, points) -> None:
    """Its size, not its points, is held to MAX_POINTS: 40,000 trajectories of 2 are 120,000."""
    from sim.experiments.sweep_spec import MAX_POINTS

    points = points or MAX_POINTS
    spec = dict(scenario="oracles/gamblers-ruin-5", design=design, parameters=PARAMETERS)
    if design == "lhs":  # at the limit: accepted
        assert SweepSpec(**spec, points=points).n_points == MAX_POINTS
        return
    with pytest.raises(ValueError, match=rf"points; at most {MAX_POINTS}"):
        SweepSpec(**spec, points=points)
