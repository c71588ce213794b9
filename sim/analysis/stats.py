"""Statistics over Monte Carlo replications: proportions, means, quantiles, survival.

Pure functions over numpy arrays (scipy for survival); nothing here reads or writes files.
Results are plain dicts of floats and lists, ready for JSON. Where a statistic is undefined
(too few replications) the value is ``float('nan')``; the JSON writer maps NaN to ``null``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Two-sided 95% standard-normal quantile, ``scipy.stats.norm.ppf(0.975)``.
Z95 = 1.959963984540054

DEFAULT_QS = (0.05, 0.25, 0.5, 0.75, 0.95)


def wilson_bounds(shares: np.ndarray, n: float, z: float = Z95) -> np.ndarray:
    """Return Wilson score intervals of ``shares`` of ``n`` runs, shape (k, 2): the one formula.

    ``n`` need not be whole: the effective number of runs of a pooled share of correlated
    runs (a sweep's marginal under common random numbers) is not. ``n`` must be positive.
    """
    p = np.asarray(shares, dtype=float).reshape(-1)
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # Analytically the interval starts at 0 for a share of 0 and ends at 1 for a share of 1;
    # pin those ends so float round-off never reports 0.9999999999999999.
    lo = np.where(p == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    hi = np.where(p == 1, 1.0, np.clip(centre + half, 0.0, 1.0))
    return np.column_stack([lo, hi])


def wilson_intervals(counts: np.ndarray, n: float, z: float = Z95) -> np.ndarray:
    """Return Wilson score intervals for ``counts`` successes out of ``n``, shape (k, 2).

    With ``n == 0`` every interval is the uninformative ``(0, 1)``. Counts and ``n`` may be
    fractional (see :func:`wilson_bounds`).
    """
    counts = np.asarray(counts, dtype=float).reshape(-1)
    if n == 0:
        return np.tile([0.0, 1.0], (counts.size, 1))
    return wilson_bounds(counts / n, n, z)


def wilson_interval(count: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Return the Wilson score interval for ``count`` successes out of ``n``."""
    lo, hi = wilson_intervals(np.array([count]), n, z)[0]
    return float(lo), float(hi)


def proportion(count: int, n: int) -> dict[str, Any]:
    """Summarise a proportion: point estimate, Wilson 95% CI and Monte Carlo SE.

    ``se`` is ``sqrt(p (1 - p) / n)``, the standard error of ``p`` as an estimate of the
    true probability; NaN when ``n == 0``.
    """
    if n == 0:
        return {"count": int(count), "n": 0, "p": math.nan, "ci95": [0.0, 1.0], "se": math.nan}
    p = count / n
    lo, hi = wilson_interval(count, n)
    se = math.sqrt(p * (1 - p) / n)
    return {"count": int(count), "n": int(n), "p": p, "ci95": [lo, hi], "se": se}


def paired_share_interval(base: np.ndarray, variant: np.ndarray) -> list[float]:
    """Return a 95% interval of ``mean(variant) - mean(base)`` for paired 0/1 outcomes.

    Newcombe's hybrid score interval for paired proportions (Newcombe 1998, Statistics in
    Medicine 17:2635, method 10): each arm's Wilson interval, combined through the phi
    coefficient of the pairs. Unlike the normal approximation it does not shrink to a point
    when a share is 0 or 1 in both arms (no run reached armed conflict in either: the
    difference is within about +/- the rule-of-three bound, not exactly 0), and it keeps
    its coverage near 95% for rare outcomes. NaN bounds when there are no pairs.
    """
    a = np.asarray(base, dtype=bool).reshape(-1)
    b = np.asarray(variant, dtype=bool).reshape(-1)
    n = a.size
    if n == 0:
        return [math.nan, math.nan]
    (l1, u1), (l2, u2) = wilson_intervals(np.array([a.sum(), b.sum()]), n)
    p1, p2 = float(a.mean()), float(b.mean())
    phi = _phi(a, b)
    below = (p2 - l2) ** 2 - 2 * phi * (p2 - l2) * (u1 - p1) + (u1 - p1) ** 2
    above = (u2 - p2) ** 2 - 2 * phi * (u2 - p2) * (p1 - l1) + (p1 - l1) ** 2
    diff = p2 - p1
    return [
        max(-1.0, diff - math.sqrt(max(below, 0.0))),
        min(1.0, diff + math.sqrt(max(above, 0.0))),
    ]


def _phi(a: np.ndarray, b: np.ndarray) -> float:
    """Return the phi coefficient of two 0/1 samples as Newcombe's method 10 takes it.

    Its numerator ``AD - BC`` is corrected for continuity: less ``N / 2`` when it exceeds
    that, 0 between 0 and ``N / 2``, as it is when negative (Newcombe 1998; Altman et al.,
    Statistics with Confidence, ch. 6). Without the correction pairs that all agree (as
    common random numbers often make them) get phi = 1 and an interval of one point.
    0 where a margin is empty.
    """
    both, only_a = float(np.sum(a & b)), float(np.sum(a & ~b))
    only_b, neither = float(np.sum(~a & b)), float(np.sum(~a & ~b))
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    if margins <= 0:
        return 0.0
    excess = both * neither - only_a * only_b
    n = both + only_a + only_b + neither
    if excess > n / 2:
        excess -= n / 2
    elif excess >= 0:
        excess = 0.0
    return excess / math.sqrt(margins)


def mean_se(values: np.ndarray) -> dict[str, Any]:
    """Summarise a sample mean with its standard error and normal-approximation 95% CI.

    ``sd`` uses ``ddof=1``. With fewer than two values ``sd``, ``se`` and the CI are NaN
    (and ``mean`` too when there are none).
    """
    x = np.asarray(values, dtype=float).reshape(-1)
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n >= 2 else math.nan
    se = sd / math.sqrt(n) if n >= 2 else math.nan
    ci = [mean - Z95 * se, mean + Z95 * se]
    return {"mean": mean, "se": se, "ci95": ci, "sd": sd, "n": n}


def quantile_key(q: float) -> str:
    """Return the summary key for quantile ``q``: 0.05 -> "q05", 0.5 -> "q50", 0.025 -> "q2.5"."""
    pct = q * 100
    if math.isclose(pct, round(pct)):
        return f"q{round(pct):02d}"
    return f"q{pct:g}"


def quantiles(values: np.ndarray, qs: Sequence[float] = DEFAULT_QS) -> dict[str, float]:
    """Return sample quantiles keyed by :func:`quantile_key`; NaN for an empty sample."""
    x = np.asarray(values, dtype=float).reshape(-1)
    if x.size == 0:
        return {quantile_key(q): math.nan for q in qs}
    found = np.quantile(x, qs)
    return {quantile_key(q): float(v) for q, v in zip(qs, found, strict=True)}


def discrete_distribution(values: np.ndarray, support: range) -> list[dict[str, Any]]:
    """Tabulate integer ``values`` over ``support``: count, share and Wilson CI per value.

    Raises:
        ValueError: if a value lies outside ``support`` (never dropped silently).
    """
    x = np.asarray(values).reshape(-1)
    outside = ~np.isin(x, np.asarray(support))
    if outside.any():
        raise ValueError(f"values outside support {support}: {sorted(set(x[outside].tolist()))}")
    counts = np.array([np.count_nonzero(x == v) for v in support])
    n = int(x.size)
    cis = wilson_intervals(counts, n)
    return [
        {
            "value": int(v),
            "count": int(c),
            "p": c / n if n else math.nan,
            "ci95": [float(lo), float(hi)],
        }
        for v, c, (lo, hi) in zip(support, counts, cis, strict=True)
    ]


def kaplan_meier(durations: np.ndarray, observed: np.ndarray) -> dict[str, Any]:
    """Estimate a survival curve from right-censored durations (Kaplan-Meier).

    ``observed[i]`` is True when the event happened at ``durations[i]`` and False when the
    run was censored there (typically at the horizon). The curve is ``scipy.stats.ecdf`` on
    ``CensoredData``; ``times`` are the distinct durations (events and censorings) and
    ``survival``/``lower``/``upper`` the step values from each time on, the bands being
    pointwise 95% log-log (Greenwood) intervals.

    The median is the first time with S(t) <= 0.5, None if the curve never gets there.
    Its CI follows Brookmeyer and Crowley: the times where the lower and the upper band
    first reach 0.5, i.e. the range of t where S(t) = 0.5 is not rejected. ``median_ci95``
    is None when even the lower band never reaches 0.5, and its upper end is None when
    only the upper band never does.
    """
    t, obs = _censored_data(durations, observed)
    if t.size == 0:
        return _km_result(0, 0, np.empty(0), np.empty(0), np.empty(0), np.empty(0))
    times, surv, lower, upper = _km_curve(t, obs)
    return _km_result(t.size, int(obs.sum()), times, surv, lower, upper)


def km_point_summary(durations: np.ndarray, observed: np.ndarray, at: float) -> dict[str, Any]:
    """Return the Kaplan-Meier n, events, median and its CI, and S(``at``), without the curve.

    The numbers equal those of :func:`kaplan_meier` and ``km_survival_at(..., at)``; the
    curve itself (one point per distinct duration) is never turned into Python lists: for
    200,000 distinct times ``kaplan_meier`` peaked at +44 MiB, this at +27 (scipy's arrays).
    """
    t, obs = _censored_data(durations, observed)
    if t.size == 0:
        return {**_km_points(0, 0, *(np.empty(0),) * 4), "survival_at": math.nan}
    times, surv, lower, upper = _km_curve(t, obs)
    points = _km_points(t.size, int(obs.sum()), times, surv, lower, upper)
    return {**points, "survival_at": _step_value(times, surv, at)}


def _censored_data(durations: np.ndarray, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return durations and event flags as flat float and bool arrays of the same shape."""
    t = np.asarray(durations, dtype=float).reshape(-1)
    obs = np.asarray(observed, dtype=bool).reshape(-1)
    if t.shape != obs.shape:
        raise ValueError(f"durations {t.shape} and observed {obs.shape} differ in shape")
    return t, obs


def _km_curve(
    t: np.ndarray, obs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return KM times, survival and the filled 95% log-log bands for non-empty data."""
    from scipy import stats  # Deferred: keeps `import sim` light.

    sf = stats.ecdf(stats.CensoredData(uncensored=t[obs], right=t[~obs])).sf
    with warnings.catch_warnings():
        # scipy warns that log-log bands are undefined where S is 0 or 1; filled below.
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = sf.confidence_interval(confidence_level=0.95, method="log-log")
    surv = sf.probabilities
    at_risk = t.size - np.searchsorted(np.sort(t), sf.quantiles, side="left")
    lower, upper = _fill_bands(surv, ci.low.probabilities, ci.high.probabilities, at_risk)
    return sf.quantiles, surv, lower, upper


def _fill_bands(
    surv: np.ndarray, lower: np.ndarray, upper: np.ndarray, at_risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the NaN band values scipy leaves where S(t) is exactly 1 or 0.

    Before any event (S = 1) there is no uncertainty yet, so both bands are 1. Once the curve
    hits 0 the lower band is 0 and the upper band keeps its last defined value, which is
    conservative and keeps it non-increasing. A curve that falls from 1 straight to 0 (every
    subject still at risk had the event then) has no earlier value to keep: S there is a
    plain share of the ``at_risk`` subjects (no event before), and its upper band is
    Wilson's for 0 of them.
    """
    lower = np.where(np.isnan(lower), surv, lower)
    upper = np.where(np.isnan(upper) & (surv == 1.0), 1.0, upper)
    for i in np.flatnonzero(np.isnan(upper)):
        before = upper[i - 1] if i > 0 else 1.0
        straight = i == 0 or surv[i - 1] == 1.0
        upper[i] = wilson_interval(0, int(at_risk[i]))[1] if straight else before
    return lower, upper


def _km_result(
    n: int, events: int, times: np.ndarray, surv: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> dict[str, Any]:
    """Assemble the JSON-ready Kaplan-Meier summary."""
    return {
        **_km_points(n, events, times, surv, lower, upper),
        "times": times.tolist(),
        "survival": surv.tolist(),
        "lower": lower.tolist(),
        "upper": upper.tolist(),
    }


def _km_points(
    n: int, events: int, times: np.ndarray, surv: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> dict[str, Any]:
    """Return the counts, the median and the median's 95% CI of a Kaplan-Meier curve."""
    lo, hi = _first_at_or_below(times, lower), _first_at_or_below(times, upper)
    return {
        "n": int(n),
        "events": int(events),
        "median": _first_at_or_below(times, surv),
        "median_ci95": None if lo is None else [lo, hi],
    }


def _first_at_or_below(times: np.ndarray, curve: np.ndarray, level: float = 0.5) -> float | None:
    """Return the first time ``curve`` is at or below ``level``, None if it never is."""
    hits = np.flatnonzero(curve <= level)
    return float(times[hits[0]]) if hits.size else None


def km_survival_at(result: dict[str, Any], t: float) -> float:
    """Return the Kaplan-Meier survival S(t) from a :func:`kaplan_meier` result.

    S is 1 before the first recorded time; past the last one it stays at its last value.
    NaN for a result without data.
    """
    if result["n"] == 0:
        return math.nan
    return _step_value(np.asarray(result["times"], dtype=float), result["survival"], t)


def _step_value(times: np.ndarray, values: Sequence[float] | np.ndarray, t: float) -> float:
    """Return a right-continuous step curve at ``t``: 1 before ``times[0]``, else the last step."""
    idx = int(np.searchsorted(times, t, side="right")) - 1
    return 1.0 if idx < 0 else float(values[idx])
