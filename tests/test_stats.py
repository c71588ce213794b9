"""Tests for sim.analysis.stats.

Statistical tolerances are 4 standard errors of the quantity being checked, with the SE
derived from theory for the simulated sample size, never a hand-picked number.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim.analysis.stats import (
    Z95,
    discrete_distribution,
    kaplan_meier,
    km_survival_at,
    mean_se,
    proportion,
    quantile_key,
    quantiles,
    wilson_interval,
    wilson_intervals,
)

# --- Wilson interval -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "n", "expected"),
    [
        # Hand-computed: z^2 = 3.8415, centre = (p + z^2/2n)/(1 + z^2/n),
        # half = z sqrt(p(1-p)/n + z^2/4n^2)/(1 + z^2/n).
        (0, 10, (0.0, 0.277533)),
        (10, 10, (0.722467, 1.0)),
        (5, 10, (0.236593, 0.763407)),
        (1, 1, (0.206549, 1.0)),  # all successes: lo = n / (n + z^2)
    ],
)
def test_wilson_known_values(count, n, expected):
    lo, hi = wilson_interval(count, n)
    assert lo == pytest.approx(expected[0], abs=1e-6)
    assert hi == pytest.approx(expected[1], abs=1e-6)


def test_wilson_ends_are_exact_at_zero_and_all():
    assert wilson_interval(0, 37)[0] == 0.0
    assert wilson_interval(37, 37)[1] == 1.0


def test_wilson_empty_sample_is_uninformative():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    np.testing.assert_array_equal(wilson_intervals(np.array([0, 0]), 0), [[0, 1], [0, 1]])


@pytest.mark.parametrize("n", [1, 7, 50, 333])
def test_wilson_matches_scipy_binomtest(n):
    counts = np.arange(n + 1)
    ours = wilson_intervals(counts, n)
    for k, (lo, hi) in zip(counts, ours, strict=True):
        ref = stats.binomtest(int(k), n).proportion_ci(method="wilson")
        assert lo == pytest.approx(ref.low, abs=1e-12)
        assert hi == pytest.approx(ref.high, abs=1e-12)


def test_wilson_vectorised_agrees_with_scalar():
    counts = np.array([0, 3, 17, 20])
    vec = wilson_intervals(counts, 20)
    assert vec.shape == (4, 2)
    for k, row in zip(counts, vec, strict=True):
        assert tuple(row) == pytest.approx(wilson_interval(int(k), 20))


def test_wilson_coverage_by_simulation_is_nominal():
    # Averaged over p, Wilson coverage is close to nominal (Brown, Cai & DasGupta 2001);
    # at n = 40 over p in [0.05, 0.95] the exact average is 0.952, 1.3 SE from 0.95 here.
    rng = np.random.default_rng(20240601)
    trials, n = 20_000, 40
    p = rng.uniform(0.05, 0.95, trials)
    ci = wilson_intervals(rng.binomial(n, p), n)
    coverage = np.mean((ci[:, 0] <= p) & (p <= ci[:, 1]))
    se = math.sqrt(0.95 * 0.05 / trials)
    assert abs(coverage - 0.95) < 4 * se


# --- proportion, mean, quantiles, discrete ---------------------------------------------


def test_proportion_fields():
    out = proportion(30, 120)
    assert out["count"] == 30
    assert out["p"] == 0.25
    assert out["se"] == pytest.approx(math.sqrt(0.25 * 0.75 / 120))
    assert out["ci95"] == pytest.approx(list(wilson_interval(30, 120)))


def test_proportion_empty():
    out = proportion(0, 0)
    assert math.isnan(out["p"]) and math.isnan(out["se"])
    assert out["ci95"] == [0.0, 1.0]


def test_mean_se_values():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    out = mean_se(x)
    sd = float(np.std(x, ddof=1))
    assert out["n"] == 4
    assert out["mean"] == 2.5
    assert out["sd"] == pytest.approx(sd)
    assert out["se"] == pytest.approx(sd / 2)
    assert out["ci95"] == pytest.approx([2.5 - Z95 * sd / 2, 2.5 + Z95 * sd / 2])


@pytest.mark.parametrize("values", [[], [3.0]])
def test_mean_se_too_few_values_gives_nan(values):
    out = mean_se(np.array(values))
    assert out["n"] == len(values)
    assert math.isnan(out["se"]) and math.isnan(out["sd"])
    assert all(math.isnan(v) for v in out["ci95"])
    if values:
        assert out["mean"] == 3.0


def test_mean_ci_covers_true_mean_within_se():
    rng = np.random.default_rng(7)
    out = mean_se(rng.normal(10.0, 2.0, 10_000))
    assert abs(out["mean"] - 10.0) < 4 * 2.0 / 100


def test_quantiles_keys_and_values():
    x = np.arange(101, dtype=float)
    out = quantiles(x)
    assert list(out) == ["q05", "q25", "q50", "q75", "q95"]
    assert out == {"q05": 5.0, "q25": 25.0, "q50": 50.0, "q75": 75.0, "q95": 95.0}


def test_quantile_key_fractional_percent():
    assert quantile_key(0.025) == "q2.5"
    assert quantile_key(0.5) == "q50"
    assert quantile_key(1.0) == "q100"


def test_quantiles_empty_is_nan():
    assert all(math.isnan(v) for v in quantiles(np.array([])).values())


def test_discrete_distribution():
    out = discrete_distribution(np.array([0, 2, 2, 3, 2]), range(5))
    assert [row["value"] for row in out] == [0, 1, 2, 3, 4]
    assert [row["count"] for row in out] == [1, 0, 3, 1, 0]
    assert [row["p"] for row in out] == [0.2, 0.0, 0.6, 0.2, 0.0]
    assert out[2]["ci95"] == pytest.approx(list(wilson_interval(3, 5)))


def test_discrete_distribution_rejects_values_outside_support():
    with pytest.raises(ValueError, match="outside support"):
        discrete_distribution(np.array([0, 7]), range(5))


# --- Kaplan-Meier ----------------------------------------------------------------------


def test_km_textbook_example():
    # Events at 1, 2, 2, 3; censored at 2.5 and 4. By hand: S(1) = 5/6,
    # S(2) = 5/6 * 3/5 = 0.5, S(3) = 0.5 * 1/2 = 0.25.
    t = np.array([1, 2, 2, 3, 2.5, 4])
    obs = np.array([True, True, True, True, False, False])
    out = kaplan_meier(t, obs)
    assert out["n"] == 6 and out["events"] == 4
    assert out["times"] == [1.0, 2.0, 2.5, 3.0, 4.0]
    assert out["survival"] == pytest.approx([5 / 6, 0.5, 0.5, 0.25, 0.25])
    assert out["median"] == 2.0
    # Log-log band at t = 1 from Greenwood's variance d / (n (n - d)) = 1/30.
    s = 5 / 6
    w = Z95 * math.sqrt(1 / 30) / abs(math.log(s))
    assert out["lower"][0] == pytest.approx(s ** math.exp(w))
    assert out["upper"][0] == pytest.approx(s ** math.exp(-w))


def test_km_without_censoring_is_the_empirical_survival_function():
    rng = np.random.default_rng(3)
    t = rng.integers(1, 30, 500).astype(float)  # integer times, so plenty of ties
    out = kaplan_meier(t, np.ones_like(t, dtype=bool))
    times = np.array(out["times"])
    np.testing.assert_array_equal(times, np.unique(t))
    ecdf_sf = np.array([np.mean(t > x) for x in times])
    np.testing.assert_allclose(out["survival"], ecdf_sf, rtol=0, atol=1e-12)
    assert out["median"] == float(times[np.argmax(ecdf_sf <= 0.5)])


def _exponential_sample(rng, n, rate, censor_rate, horizon):
    """Event times ~ Exp(rate), censored by Exp(censor_rate) and at the horizon."""
    event = rng.exponential(1 / rate, n)
    censor = np.minimum(rng.exponential(1 / censor_rate, n), horizon)
    return np.minimum(event, censor), event <= censor


def _greenwood_se(t, n, rate, censor_rate):
    """Asymptotic SE of the KM estimate S(t) when at-risk decays as exp(-(rate+mu) t)."""
    total = rate + censor_rate
    var = math.exp(-2 * rate * t) / n * rate / total * math.expm1(total * t)
    return math.sqrt(var)


def test_km_median_matches_exponential_under_censoring():
    rate, mu, n = 1.0, 0.5, 20_000
    rng = np.random.default_rng(11)
    t, obs = _exponential_sample(rng, n, rate, mu, horizon=3.0)
    out = kaplan_meier(t, obs)
    true_median = math.log(2) / rate
    # Delta method: SE(median) = SE(S(m)) / f(m), with f(m) = rate * 0.5.
    se_median = _greenwood_se(true_median, n, rate, mu) / (rate * 0.5)
    assert abs(out["median"] - true_median) < 4 * se_median
    lo, hi = out["median_ci95"]
    assert lo <= out["median"] <= hi


@pytest.mark.parametrize("x", [0.2, 0.7, 1.5, 2.5])
def test_km_survival_matches_exponential_within_greenwood_se(x):
    rate, mu, n = 1.0, 0.5, 20_000
    rng = np.random.default_rng(12)
    t, obs = _exponential_sample(rng, n, rate, mu, horizon=3.0)
    out = kaplan_meier(t, obs)
    se = _greenwood_se(x, n, rate, mu)
    assert abs(km_survival_at(out, x) - math.exp(-rate * x)) < 4 * se


def test_km_empty():
    out = kaplan_meier(np.array([]), np.array([], dtype=bool))
    assert out["n"] == 0 and out["events"] == 0
    assert out["median"] is None and out["median_ci95"] is None
    assert out["times"] == [] and out["survival"] == []
    assert math.isnan(km_survival_at(out, 1.0))


def test_km_no_events():
    t = np.array([10.0, 10.0, 10.0])
    out = kaplan_meier(t, np.zeros(3, dtype=bool))
    assert out["events"] == 0
    assert out["median"] is None and out["median_ci95"] is None
    assert out["survival"] == [1.0] and out["lower"] == [1.0] and out["upper"] == [1.0]


def test_km_all_events():
    t = np.array([1.0, 2.0, 3.0, 4.0])
    out = kaplan_meier(t, np.ones(4, dtype=bool))
    assert out["survival"] == pytest.approx([0.75, 0.5, 0.25, 0.0])
    assert out["median"] == 2.0
    assert out["lower"][-1] == 0.0
    assert not any(math.isnan(v) for v in out["lower"] + out["upper"])


def test_km_every_event_at_the_first_time_gives_that_time_as_the_median_ci() -> None:
    # Every run reaches the rung on day 0: the median is day 0 with no doubt; the band there
    # is Wilson's upper bound for 0 of n (no one was censored before day 0).
    out = kaplan_meier(np.zeros(300), np.ones(300, dtype=bool))
    assert out["median"] == 0.0 and out["median_ci95"] == [0.0, 0.0]
    assert out["upper"] == pytest.approx([wilson_interval(0, 300)[1]])
    few = kaplan_meier(np.zeros(3), np.ones(3, dtype=bool))  # 0 of 3: the band stays above 1/2
    assert few["median_ci95"] == [0.0, None]
    # Only a censoring before the day all the others have the event: the same, at that day.
    later = kaplan_meier(np.r_[0.5, np.ones(299)], np.r_[False, np.ones(299, dtype=bool)])
    assert later["median_ci95"] == [1.0, 1.0]
    assert later["upper"][-1] == pytest.approx(wilson_interval(0, 299)[1])


def test_km_median_ci_upper_end_missing_when_upper_band_stays_high():
    # Few events: the curve reaches 0.5 but the upper band never does.
    out = kaplan_meier(np.array([1.0, 2.0, 3.0]), np.array([True, True, False]))
    assert out["median"] == 2.0
    assert out["median_ci95"][1] is None


def test_km_survival_at_steps():
    out = kaplan_meier(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4, dtype=bool))
    assert km_survival_at(out, 0.5) == 1.0
    assert km_survival_at(out, 1.0) == 0.75
    assert km_survival_at(out, 2.9) == 0.5
    assert km_survival_at(out, 99.0) == 0.0


def test_km_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="shape"):
        kaplan_meier(np.array([1.0, 2.0]), np.array([True]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20), st.booleans()),
        min_size=1,
        max_size=60,
    )
)
def test_km_bands_bracket_curve_and_never_rise(data):
    t = np.array([d for d, _ in data], dtype=float)
    obs = np.array([o for _, o in data])
    out = kaplan_meier(t, obs)
    s, lo, hi = (np.array(out[k]) for k in ("survival", "lower", "upper"))
    assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
    assert np.all((lo <= s + 1e-12) & (s <= hi + 1e-12))
    assert np.all(np.diff(s) <= 1e-12) and np.all(np.diff(lo) <= 1e-12)
    assert np.all((0 <= lo) & (hi <= 1))
    if out["median"] is not None:
        assert out["median_ci95"][0] <= out["median"]
