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
import sim.experiments.ensemble

RUNS, SEED = 400, 5
Z95 = 1.96


def ensemble(
    name: str, overrides: dict | None = None, runs: int = RUNS
) -> sim.experiments.ensemble.Results:
    return sim.run(sim.load(name, overrides), runs=runs, seed=SEED)


def outcomes_of(results) -> np.ndarray:  # noqa: ANN001
    return results.runs.sort_values("index")["outcome"].to_numpy()


def outcomes(name: str, overrides: dict | None = None) -> np.ndarray:
    return outcomes_of(ensemble(name, overrides))


@pytest.fixture(scope="module")
def base_results():  # noqa: ANN201
    return ensemble("taiwan-flashpoint-2025")


@pytest.fixture(scope="module")
def base(base_results) -> np.ndarray:  # noqa: ANN001
    return outcomes_of(base_results)


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
    """More resolve, more coercion: crises rise, coercion of any kind rises, calmer ends fall.

    The coercive standoff alone may fall, as runs that would have held there climb on to a
    crisis: the ordered claim is about the upper classes together.
    """
    low = outcomes("taiwan-flashpoint-2025", {"actors.CHN.attributes.resolve": 0.5})
    high = outcomes("taiwan-flashpoint-2025", {"actors.CHN.attributes.resolve": 0.9})
    assert_moves(low, high, "military_crisis", +1)
    assert_moves(low, high, {"coercive_standoff", "military_crisis"}, +1)
    assert_moves(low, high, {"contained_rivalry", "de_escalated"}, -1)


def pla_moves_on_japan(results) -> np.ndarray:  # noqa: ANN001
    """Per replication: China's naval and air signalling at Japan (drills, joint patrols).

    Coast-guard patrols (white hulls, risk 0.05) are left out: deterrence scales each military
    move's own risk, so it is the navy's and air force's moves it should cap.
    """
    m = results.moves
    pla = m[(m["actor"] == "CHN") & (m["target"] == "JPN") & (m["rung"] >= 5)]
    pla = pla[pla["lever"] != "coast_guard_patrol"]
    return pla.groupby("index").size().reindex(np.arange(RUNS), fill_value=0).to_numpy(float)


def test_open_us_backing_of_japan_deters_chinas_military_moves(
    base_results, base: np.ndarray
) -> None:  # noqa: ANN001, E501
    """Extended deterrence (Huth 1988): open backing caps China's military moves on Japan.

    It weighs on the navy's drills and joint patrols, whose escalation risk is high, far more
    than on coast-guard patrols (the shift to grey-zone pressure the stability-instability
    paradox expects), and it does not end the economic coercion: the claims are that the
    PLA's moves on Japan fall and that the military crisis does not rise.
    """
    backed_results = ensemble("taiwan-flashpoint-2025-us-backs-japan")
    d = pla_moves_on_japan(backed_results) - pla_moves_on_japan(base_results)
    assert d.mean() < -Z95 * d.std(ddof=1) / math.sqrt(RUNS)
    diff, se = paired(base, outcomes_of(backed_results), "military_crisis")
    assert diff < Z95 * max(se, 1 / RUNS)


def chinese_signalling_at_taiwan(results) -> np.ndarray:  # noqa: ANN001
    """Per replication: did China make a military move (rung 5 or more) against Taiwan?"""
    moves = results.moves
    hit = moves[(moves["actor"] == "CHN") & (moves["target"] == "TWN") & (moves["rung"] >= 5)]
    return np.isin(np.arange(len(results.runs)), hit["index"].unique())


#: The transit comes late (day 74): 800 runs resolve its effects well beyond their intervals.
LAI_RUNS = 800


@pytest.mark.slow
def test_a_lai_transit_draws_military_signalling_and_hostility_to_washington() -> None:
    """A transit angers Beijing: drills at Taiwan, and more hostile moves against the host."""
    base_results = ensemble("taiwan-flashpoint-2025", runs=LAI_RUNS)
    transit_results = ensemble("taiwan-flashpoint-2025-lai-transit", runs=LAI_RUNS)
    before = chinese_signalling_at_taiwan(base_results)
    after = chinese_signalling_at_taiwan(transit_results)
    d = after.astype(float) - before.astype(float)
    assert d.mean() > Z95 * d.std(ddof=1) / math.sqrt(LAI_RUNS)

    def against_washington(results) -> np.ndarray:  # noqa: ANN001
        m = results.moves
        hostile = m[(m["actor"] == "CHN") & (m["target"] == "USA") & (m["day"] >= 74)]
        hostile = hostile[hostile["direction"] == "escalate"]
        return (
            hostile.groupby("index")
            .size()
            .reindex(np.arange(LAI_RUNS), fill_value=0)
            .to_numpy(float)
        )

    d = against_washington(transit_results) - against_washington(base_results)
    assert d.mean() > Z95 * d.std(ddof=1) / math.sqrt(LAI_RUNS)


def test_the_distribution_is_not_degenerate(base_results, base: np.ndarray) -> None:  # noqa: ANN001
    """Runs differ: several peak rungs and several end states each hold a share of runs.

    Sticky coercion leaves most runs in a coercive standoff at the end (measures stay until a
    concession), so the spread is asked of the peak rung and of the classes together.
    """
    peaks = base_results.runs["peak_rung"].value_counts(normalize=True)
    assert (peaks > 0.01).sum() >= 3
    shares = {o: (base == o).mean() for o in set(base)}
    assert sum(p > 0.005 for p in shares.values()) >= 2
    assert max(shares.values()) < 1.0


def test_a_campaign_in_packages_brings_the_first_weeks_to_the_story_tempo(base_results) -> None:  # noqa: ANN001
    """The story: some ten Chinese measures and military signalling within 17 days.

    Launching packages of measures (the campaign variant) must raise China's moves in those
    17 days and the share of runs at military signalling by then, paired on the same seeds.
    """
    campaign = ensemble("taiwan-flashpoint-2025-campaign")

    def early(results) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
        m = results.moves
        chn = m[(m["actor"] == "CHN") & (m["day"] <= 17)].groupby("index").size()
        moves = chn.reindex(np.arange(RUNS), fill_value=0).to_numpy(float)
        runs = results.runs.sort_values("index")
        return moves, (runs["first_day_rung_5"] <= 17).to_numpy(float)

    (base_moves, base_signal), (moves, signal) = early(base_results), early(campaign)
    for before, after in ((base_moves, moves), (base_signal, signal)):
        d = after - before
        assert d.mean() > Z95 * d.std(ddof=1) / math.sqrt(RUNS)
    assert np.median(moves) >= 9  # the story's order of magnitude (about ten)
