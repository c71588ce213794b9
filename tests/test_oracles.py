"""Oracles: classical models whose answers are known, run through the ordinary engine.

Each scenario lives in scenarios/oracles/ and runs through the same loader, engine,
policies and ensemble code as the named scenarios. Monte Carlo results are compared with
closed forms within 4 standard errors; deterministic ones exactly or to a stated order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

import sim
from sim.engine import simulate
from sim.results.seeding import replication_seed
from sim.scenario import compile_scenario, load

Z = 4.0  # tolerance in standard errors


# --- gambler's ruin ------------------------------------------------------------------------


def ruin_closed_form(p: float, n: int, k: int) -> tuple[float, float]:
    """Probability of absorption at the top, and the mean number of steps (Feller ch. XIV)."""
    q = 1.0 - p
    if math.isclose(p, q):
        return k / n, k * (n - k)
    r = q / p
    top = (1 - r**k) / (1 - r**n)
    return top, k / (q - p) - n / (q - p) * top


@pytest.mark.parametrize(
    ("name", "n", "k", "p"),
    [
        ("oracles/gamblers-ruin-5", 5, 2, 0.5),
        ("oracles/gamblers-ruin-5", 5, 2, 0.4),
        ("oracles/gamblers-ruin-5", 5, 2, 0.65),
        ("oracles/gamblers-ruin-8", 8, 3, 0.5),
        ("oracles/gamblers-ruin-8", 8, 3, 0.55),
    ],
)
def test_gamblers_ruin(name: str, n: int, k: int, p: float) -> None:
    runs = 1500
    results = sim.run(load(name, {"actors.A.policy.params.p_up": p}), runs=runs, seed=7)
    table = results.runs
    assert set(table["outcome"]) <= {"top", "bottom"}  # everything absorbed before the horizon
    top, steps = ruin_closed_form(p, n, k)
    observed = (table["outcome"] == "top").mean()
    assert abs(observed - top) <= Z * math.sqrt(top * (1 - top) / runs)
    # one decision a day on average, at Poisson times: by Wald's identity the mean time in
    # days is the mean number of steps
    days = table["end_day"].to_numpy()
    assert abs(days.mean() - steps) <= Z * days.std(ddof=1) / math.sqrt(runs)


def test_gamblers_ruin_detects_a_wrong_answer() -> None:
    """The tolerance is tight enough to reject a nearby wrong value."""
    results = sim.run(
        load("oracles/gamblers-ruin-5", {"actors.A.policy.params.p_up": 0.5}), runs=1500, seed=7
    )
    observed = (results.runs["outcome"] == "top").mean()
    wrong, _ = ruin_closed_form(0.55, 5, 2)  # the answer for another step probability
    assert abs(observed - wrong) > Z * math.sqrt(wrong * (1 - wrong) / 1500)


# --- war of attrition ----------------------------------------------------------------------


def test_war_of_attrition_duration_is_exponential() -> None:
    runs = 2000
    results = sim.run(load("oracles/war-of-attrition"), runs=runs, seed=11)
    table = results.runs
    assert set(table["outcome"]) <= {"a_wins", "b_wins"}
    durations = table["end_day"].to_numpy()
    mean = 10.0 / (2 * 1.0)  # V / (2c)
    assert stats.kstest(durations, stats.expon(scale=mean).cdf).pvalue > 1e-3
    assert abs(durations.mean() - mean) <= Z * mean / math.sqrt(runs)  # sd of an exponential = mean
    share_a = (table["outcome"] == "a_wins").mean()  # a symmetric contest
    assert abs(share_a - 0.5) <= Z * math.sqrt(0.25 / runs)


# --- iterated prisoner's dilemma -------------------------------------------------------------

PAYOFF = {
    (False, False): (3, 3),
    (True, True): (1, 1),
    (True, False): (5, 0),
    (False, True): (0, 5),
}


def ipd_scores(moves: list) -> tuple[int, int]:
    """Total payoffs (T=5, R=3, P=1, S=0) of A and B from the recorded moves, round by round."""
    rounds: dict[int, dict[str, bool]] = {}
    for m in moves:
        rounds.setdefault(round(m.day), {})[m.actor] = m.lever == "escalate"
    assert all(len(r) == 2 for r in rounds.values()), "each round has one move by each player"
    totals = [0, 0]
    for r in rounds.values():
        a, b = PAYOFF[(r["A"], r["B"])]
        totals[0] += a
        totals[1] += b
    return totals[0], totals[1]


def ipd_spec(b_policy: str, noise: float = 0.0):
    overrides = {
        "actors.B.policy.name": b_policy,
        "actors.A.policy.params.noise": noise,
        "actors.B.policy.params.noise": noise,
    }
    return compile_scenario(load("oracles/prisoners-dilemma", overrides))


def test_tit_for_tat_against_itself_scores_600_each() -> None:
    record = simulate(ipd_spec("tit_for_tat"), replication_seed(1, 0))
    assert len(record.moves) == 400
    assert ipd_scores(record.moves) == (600, 600)


def test_always_escalate_against_tit_for_tat_scores_204_and_199() -> None:
    record = simulate(ipd_spec("always_escalate"), replication_seed(1, 0))
    assert ipd_scores(record.moves) == (199, 204)  # A plays tit for tat, B always escalates


@pytest.mark.slow
@pytest.mark.parametrize("b_policy", ["tit_for_tat", "always_escalate"])
def test_noisy_matches_agree_with_the_axelrod_library(b_policy: str) -> None:
    axl = pytest.importorskip("axelrod")
    noise, runs = 0.05, 150
    spec = ipd_spec(b_policy, noise)
    ours = np.array([ipd_scores(simulate(spec, replication_seed(3, i)).moves) for i in range(runs)])
    opponent = axl.TitForTat if b_policy == "tit_for_tat" else axl.Defector
    theirs = []
    for i in range(runs):
        match = axl.Match((axl.TitForTat(), opponent()), turns=200, noise=noise, seed=10_000 + i)
        match.play()
        theirs.append(match.final_score())
    theirs = np.array(theirs, dtype=float)
    for player in (0, 1):
        a, b = ours[:, player], theirs[:, player]
        se = math.sqrt(a.var(ddof=1) / runs + b.var(ddof=1) / runs)
        assert abs(a.mean() - b.mean()) <= Z * se, (player, a.mean(), b.mean(), se)


# --- Richardson's arms race ------------------------------------------------------------------


def richardson(
    a: float, b: float, m: float, n: float, g: float, h: float, step: float = 0.05, days: int = 60
):
    overrides = {
        "actors.X.policy.params": {
            "reaction": a,
            "fatigue": m,
            "grievance": g,
            "rival": "Y",
            "step_days": step,
        },
        "actors.Y.policy.params": {
            "reaction": b,
            "fatigue": n,
            "grievance": h,
            "rival": "X",
            "step_days": step,
        },
        "horizon_days": days,
    }
    return simulate(compile_scenario(load("oracles/richardson", overrides)), replication_seed(0, 0))


def stock_path(record, actor: str, until: float) -> float:
    """An actor's arms stock at a day, summed from its recorded moves (magnitude = amount)."""
    signs = {"build": 1.0, "cut": -1.0}
    return sum(
        signs[m.lever] * m.magnitude for m in record.moves if m.actor == actor and m.day < until
    )


def test_richardson_converges_to_the_equilibrium_when_stable() -> None:
    a, b, m, n, g, h = 0.5, 0.4, 1.0, 0.8, 1.0, 0.5
    assert m * n > a * b
    record = richardson(a, b, m, n, g, h)
    x_star = (a * h + n * g) / (m * n - a * b)
    y_star = (b * g + m * h) / (m * n - a * b)
    assert record.stocks["X"]["arms"] == pytest.approx(x_star, rel=1e-6)
    assert record.stocks["Y"]["arms"] == pytest.approx(y_star, rel=1e-6)


def test_richardson_runs_away_when_unstable() -> None:
    a, b, m, n, g, h = 1.5, 1.5, 1.0, 1.0, 1.0, 1.0
    assert a * b > m * n
    record = richardson(a, b, m, n, g, h, days=30)
    growth = math.log(stock_path(record, "X", 30) / stock_path(record, "X", 20)) / 10
    rate = -1.0 + math.sqrt(a * b)  # the positive eigenvalue of [[-m, a], [b, -n]] with m = n
    assert record.stocks["X"]["arms"] > 1e5
    assert growth == pytest.approx(rate, rel=0.05)


def test_richardson_path_tends_to_the_ode_as_the_step_shrinks() -> None:
    a, b, m, n, g, h = 0.5, 0.4, 1.0, 0.8, 1.0, 0.5

    def ode(_t, z):
        return [a * z[1] - m * z[0] + g, b * z[0] - n * z[1] + h]

    exact = integrate.solve_ivp(ode, (0, 3), [0.0, 0.0], rtol=1e-10, atol=1e-12).y[0, -1]
    errors = [
        abs(stock_path(richardson(a, b, m, n, g, h, step=s, days=4), "X", 3.0 - 1e-9) - exact)
        for s in (0.1, 0.05, 0.025)
    ]
    assert errors[0] > errors[1] > errors[2]  # the Euler path converges...
    assert errors[1] / errors[2] == pytest.approx(2.0, rel=0.2)  # ...at first order in the step
