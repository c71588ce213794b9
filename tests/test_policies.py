"""Policy A against policy B under seed s gives these moves (after Axelrod's versus_test).

The matches are played on tests/scenarios/duel.yaml: two actors A and B with the same five
levers (protest 1, threaten 2, sanction 3, strike 4 on the ladder, and a conciliatory
call), every delay fixed at zero, hostile measures in force for 3 days, a summit on day 31
at which A calls B, and an outcome class 'war' that ends the run at rung 4. With zero
delays a reply lands on the day of the move it answers, so the expected moves below follow
from each rule's docstring; where a rule draws at random, the tests assert properties.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict

import sim
from sim.engine.policy import (
    Candidate,
    DecisionContext,
    Policy,
    register_policy,
    registered_policies,
)
from sim.engine.record import RunRecord
from sim.engine.spec import RunSpec
from sim.errors import SimError
from sim.policies import LogitPolicy, ReciprocalPolicy, ScriptedPolicy
from sim.scenario import compile_scenario

DUEL = Path(__file__).resolve().parent / "scenarios" / "duel.yaml"
SUMMIT = (31.0, "A", "call", 0)  # the scheduled event: A calls B on 2025-02-01
SEEDS = range(8)


def scripted(*moves: tuple[float | str, str, str]) -> dict[str, Any]:
    """A scripted policy playing (day or ISO date, lever, target) moves."""
    out = []
    for when, lever, target in moves:
        key = "date" if isinstance(when, str) else "day"
        out.append({key: when, "lever": lever, "target": target})
    return {"name": "scripted", "params": {"moves": out}}


def reciprocal(step: int = 0, noise: float = 0.0, forgiveness: float = 0.0) -> dict[str, Any]:
    return {
        "name": "reciprocal",
        "params": {"step": step, "noise": noise, "forgiveness": forgiveness},
    }


def logit(**params: float) -> dict[str, Any]:
    return {"name": "logit", "params": params}


@functools.cache
def _duel(key: str) -> RunSpec:
    """The duel with the overrides of a JSON key, loaded and compiled once per key."""
    return compile_scenario(sim.load(str(DUEL), json.loads(key)))


def match(a: dict, b: dict, seed: int, **overrides: Any) -> RunRecord:
    """Play policy ``a`` (actor A) against policy ``b`` (actor B) on the duel."""
    key = json.dumps({"actors.A.policy": a, "actors.B.policy": b, **overrides}, sort_keys=True)
    return sim.simulate(_duel(key), seed)


def moves(record: RunRecord, actor: str | None = None) -> list[tuple[float, str, str, int]]:
    """(day, actor, lever, rung) of each move, of one actor or of both."""
    return [
        (m.day, m.actor, m.lever, m.rung) for m in record.moves if actor is None or m.actor == actor
    ]


def versus_test(a: dict, b: dict, expected: list[tuple], seeds=SEEDS, **overrides: Any) -> None:
    """Assert that ``a`` against ``b`` gives exactly ``expected`` under every seed."""
    for seed in seeds:
        assert moves(match(a, b, seed, **overrides)) == expected, f"seed {seed}"


PROVOCATIONS = scripted((2, "protest", "B"), (10, "threaten", "B"), (20, "sanction", "B"))


# --- scripted -----------------------------------------------------------------------------


def test_scripted_against_scripted_plays_the_script_on_its_dates() -> None:
    a = scripted((2, "protest", "B"), ("2025-01-11", "threaten", "B"))
    b = scripted((5, "protest", "A"), (20, "sanction", "A"))
    expected = [
        (2.0, "A", "protest", 1),
        (5.0, "B", "protest", 1),
        (10.0, "A", "threaten", 2),  # 2025-01-11 is day 10 after 2025-01-01
        (20.0, "B", "sanction", 3),
        SUMMIT,
    ]
    versus_test(a, b, expected)
    record = match(a, b, 0)
    assert [m.source for m in record.moves] == ["policy"] * 4 + ["event:summit"]
    assert [m.target for m in record.moves] == ["B", "A", "B", "A", "B"]
    assert record.outcome == "crisis" and record.peak_rung == 3 and not record.ended_early


def test_scripted_plays_two_moves_on_one_day() -> None:
    versus_test(
        scripted((2, "protest", "B"), (2, "threaten", "B")),
        scripted(),
        [(2.0, "A", "protest", 1), (2.0, "A", "threaten", 2), SUMMIT],
    )


def test_scripted_skips_a_move_its_instruments_do_not_allow() -> None:
    # The day-2 protest is in force until day 5, so the day-4 protest cannot be made and
    # the rule skips it rather than play it late; the day-6 protest is allowed again.
    versus_test(
        scripted((2, "protest", "B"), (4, "protest", "B"), (6, "protest", "B")),
        scripted(),
        [(2.0, "A", "protest", 1), (6.0, "A", "protest", 1), SUMMIT],
    )


# --- reciprocal ---------------------------------------------------------------------------


def test_reciprocal_answers_in_kind_on_the_same_day() -> None:
    # step 0: the hostile move whose rung is closest to the offence's rung.
    expected = [
        (2.0, "A", "protest", 1),
        (2.0, "B", "protest", 1),
        (10.0, "A", "threaten", 2),
        (10.0, "B", "threaten", 2),
        (20.0, "A", "sanction", 3),
        (20.0, "B", "sanction", 3),
        SUMMIT,  # a call is not hostile: no answer, and forgiveness 0 means no gesture
    ]
    versus_test(PROVOCATIONS, reciprocal(step=0), expected)
    assert all(m.target == "A" for m in match(PROVOCATIONS, reciprocal(), 0).moves[1:6:2])


def test_reciprocal_with_step_one_climbs_one_rung_until_war_ends_the_run() -> None:
    expected = [
        (2.0, "A", "protest", 1),
        (2.0, "B", "threaten", 2),
        (10.0, "A", "threaten", 2),
        (10.0, "B", "sanction", 3),
        (20.0, "A", "sanction", 3),
        (20.0, "B", "strike", 4),  # rung 4 is 'war', which ends the run: no summit
    ]
    versus_test(PROVOCATIONS, reciprocal(step=1), expected)
    record = match(PROVOCATIONS, reciprocal(step=1), 0)
    assert record.outcome == "war" and record.ended_early and record.end_day == 20.0
    assert record.peak_rung == 4 and record.peak_day == 20.0


def test_reciprocal_step_is_capped_by_the_levers_it_has() -> None:
    # A sanction (3) plus step 3 asks for rung 6; the closest hostile lever is the strike.
    versus_test(
        scripted((2, "sanction", "B")),
        reciprocal(step=3),
        [(2.0, "A", "sanction", 3), (2.0, "B", "strike", 4)],
    )


A_ALONE = [(2.0, "A", "protest", 1), (10.0, "A", "threaten", 2), (20.0, "A", "sanction", 3)]


def test_reciprocal_with_noise_one_never_answers() -> None:
    versus_test(PROVOCATIONS, reciprocal(noise=1.0), [*A_ALONE, SUMMIT])


def test_reciprocal_with_noise_one_and_forgiveness_one_only_conciliates() -> None:
    # Hostility is always skipped; every quiet review ends in the conciliatory call.
    calls = 0
    for seed in SEEDS:
        record = match(PROVOCATIONS, reciprocal(noise=1.0, forgiveness=1.0), seed)
        theirs = moves(record, "B")
        assert {lever for _, _, lever, _ in theirs} <= {"call"}
        assert moves(record, "A") == [*A_ALONE, SUMMIT]
        calls += len(theirs)
    # Reviews come as a Poisson process with mean interval 7 days (waits restarted after
    # a hostile wake-up are memoryless), so over 60 days the calls are about Poisson(60/7).
    expected = len(SEEDS) * 60 / 7
    assert abs(calls - expected) <= 4 * np.sqrt(expected), (calls, expected)


def test_two_reciprocal_actors_never_start_a_fight() -> None:
    versus_test(reciprocal(), reciprocal(), [SUMMIT])


# --- logit --------------------------------------------------------------------------------


def test_logit_with_a_huge_action_cost_never_acts() -> None:
    # Every utility is at most 4.5 * 1 * 1 * 1.5 + 1.5 (calm) - 100 * 0.5 < -40, so the
    # chance of acting at a review is below 1 / (1 + exp(120)).
    grudge = [{"pair": ["A", "B"], "grievance": {"B": 1.0}}]
    for seed in SEEDS:
        record = match(PROVOCATIONS, logit(action_cost=100.0), seed, initial=grudge)
        assert moves(record, "B") == [], f"seed {seed}"


HAWK = {  # resolve 1, nothing held against acting but the grievance it answers
    "actors.A.attributes": {"resolve": 1.0, "risk_tolerance": 0.0},
    "initial": [{"pair": ["A", "B"], "grievance": {"A": 1.0}}],
    "dynamics.grievance_half_life_days": 1000.0,  # the grievance stays near 1 all run
}
FREE = {"action_cost": 0.0, "cost": 0.0, "offense": 0.0, "jump": 0.0}


def test_logit_without_risk_weight_and_with_a_grievance_escalates_to_the_top() -> None:
    # Utility of rung r: 4.5 * (0.5 + r / 4), from 3.375 (protest) to 6.75 (strike);
    # the call is worth -2 (face). P(act) = 1 / (1 + exp(-3 * 6.75)) ~ 1 - 2e-9, and a
    # strike is drawn with p = 1 / (1 + e^-3.375 + e^-6.75 + e^-10.125 + e^-26.25) ~ 0.966.
    seeds = range(20)
    first = []
    for seed in seeds:
        record = match(logit(risk=0.0, **FREE), scripted(), seed, **HAWK)
        own = [m for m in record.moves if m.actor == "A" and m.source == "policy"]
        assert own and own[0].direction == "escalate", f"seed {seed}"
        first.append(own[0].rung)
    p_other = 1.0 - 0.966
    mean, se = len(seeds) * p_other, np.sqrt(len(seeds) * p_other * (1 - p_other))
    assert sum(rung != 4 for rung in first) <= mean + 4 * se, first


def test_logit_with_a_heavy_risk_weight_stays_low() -> None:
    # With risk weight 100 and no risk tolerance, rung r costs 100 * (r / 4)^2: every
    # escalation is worth less than the call (-2), so acting is rare (p = 1 / (1 + e^6) per
    # review) and, when it happens, rung 2 and up have weight below e^-50.
    for seed in SEEDS:
        record = match(logit(risk=100.0, **FREE), scripted(), seed, **HAWK)
        assert all(rung <= 1 for _, _, _, rung in moves(record, "A")), f"seed {seed}"


def test_logit_is_reproducible_and_seed_dependent() -> None:
    a, b = logit(), reciprocal(step=0, noise=0.5, forgiveness=0.5)
    first, again = match(a, b, 11, **HAWK), match(a, b, 11, **HAWK)
    assert first.moves == again.moves
    assert any(match(a, b, seed, **HAWK).moves != first.moves for seed in range(12, 15))


# --- a policy of the user's own ---------------------------------------------------------


@register_policy
class OneLever(Policy):
    """Plays its one chosen lever whenever it is on offer (a test rule; no literature)."""

    name = "test-one-lever"
    metadata: ClassVar[dict] = {"stochastic": False, "source": "tests/test_policies.py"}

    class Params(BaseModel):
        """The lever to play."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        lever: str = "protest"

    @classmethod
    def check_params(
        cls, params: BaseModel, lever_ids: set[str], actor_ids: set[str]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        """The lever must be one of the actor's."""
        if params.lever in lever_ids:
            return []
        return [(("lever",), f"unknown lever '{params.lever}'")]

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """Play the lever if it is available now."""
        return next((c for c in ctx.candidates if c.lever.id == self.params.lever), None)


def test_a_registered_policy_is_used_by_a_scenario_that_names_it() -> None:
    assert registered_policies()["test-one-lever"] is OneLever
    for seed in SEEDS:
        record = match(
            {"name": "test-one-lever", "params": {"lever": "threaten"}}, scripted(), seed
        )
        own = [(m.day, m.lever, m.rung) for m in record.moves if m.source == "policy"]
        assert own, f"seed {seed}: A never reviewed in 60 days"
        assert {(lever, rung) for _, lever, rung in own} == {("threaten", 2)}
        days = [day for day, _, _ in own]
        # a measure in force (3 days) cannot be imposed again on the same target
        assert all(b - a >= 3.0 for a, b in zip(days, days[1:], strict=False))


def test_a_registered_policy_checks_its_params_when_the_scenario_loads() -> None:
    with pytest.raises(SimError) as err:
        sim.load(
            str(DUEL), {"actors.A.policy": {"name": "test-one-lever", "params": {"lever": "x"}}}
        )
    assert "actors.A.policy.params.lever: unknown lever 'x'" in str(err.value)
    with pytest.raises(SimError, match="actors.A.policy.params.levr"):
        sim.load(
            str(DUEL), {"actors.A.policy": {"name": "test-one-lever", "params": {"levr": "x"}}}
        )


def test_an_unregistered_policy_is_a_load_error_listing_the_registered_ones(tmp_path: Path) -> None:
    text = DUEL.read_text().replace("policy: {name: scripted}", "policy: {name: hawkish}", 1)
    path = tmp_path / "unregistered.yaml"
    path.write_text(text)
    with pytest.raises(SimError) as err:
        sim.load(str(path))
    line = text[: text.index("{name: hawkish}")].count("\n") + 1
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: actors.A.policy.name: unknown policy 'hawkish'")
    registered = message.split("registered policies: ")[1].split(", ")
    assert registered == sorted(registered_policies())
    assert {"logit", "reciprocal", "scripted", "test-one-lever"} <= set(registered)


def test_register_policy_demands_a_name_and_a_docstring() -> None:
    class Nameless(Policy):
        """A rule without a name."""

    class Undocumented(Policy):
        name = "test-undocumented"

    with pytest.raises(ValueError, match="name"):
        register_policy(Nameless)
    with pytest.raises(ValueError, match="docstring"):
        register_policy(Undocumented)
    assert "test-undocumented" not in registered_policies()


@pytest.mark.parametrize("cls", [LogitPolicy, ReciprocalPolicy, ScriptedPolicy])
def test_built_in_policies_say_where_their_rule_comes_from(cls: type[Policy]) -> None:
    assert registered_policies()[cls.name] is cls
    assert isinstance(cls.metadata["stochastic"], bool)
    assert cls.metadata["source"].strip() and (cls.__doc__ or "").strip()


# --- decision lags and levers that require others unused ------------------------------------


def test_a_move_in_preparation_does_not_hold_up_the_next_decision() -> None:
    """A sanction chosen on day 1 with a 10-day lag lands on day 11; a protest chosen on
    day 2 is not kept waiting behind it (governments work several tracks at once)."""
    a = scripted((1, "sanction", "B"), (2, "protest", "B"))
    lag = {"actors.A.levers.sanction.delays.decision": {"dist": "fixed", "days": 10}}
    expected = [(2.0, "A", "protest", 1), (11.0, "A", "sanction", 3), (31.0, "A", "call", 0)]
    versus_test(a, scripted(), expected, **lag)  # day 31: the fixture's scheduled summit


def test_a_move_in_preparation_is_not_chosen_twice() -> None:
    # Without the rule the day-9 sanction would land on day 19, after the first expired.
    a = scripted((1, "sanction", "B"), (9, "sanction", "B"))
    lag = {"actors.A.levers.sanction.delays.decision": {"dist": "fixed", "days": 10}}
    versus_test(a, scripted(), [(11.0, "A", "sanction", 3), (31.0, "A", "call", 0)], **lag)


def test_a_lever_requiring_others_unused_is_barred_once_they_are_used() -> None:
    """B may threaten until A has called (another actor's lever, qualified), and may protest
    until B itself has called (its own lever)."""
    b = scripted(
        (5, "threaten", "A"), (15, "threaten", "A"), (20, "call", "A"), (25, "protest", "A")
    )
    rules = {
        "actors.B.levers.threaten.requires.unused": ["A.call"],
        "actors.B.levers.protest.requires.unused": ["call"],
    }
    record = match(scripted((10, "call", "B")), b, 0, **rules)
    assert moves(record, "B") == [(5.0, "B", "threaten", 2), (20.0, "B", "call", 0)]


def test_a_logit_package_launches_several_levers_in_one_decision() -> None:
    """With package 3 a decision may launch up to three moves of different levers at once
    (the duel has no delays, so one decision's moves share their instant); with package 1
    every instant has at most one move."""
    from collections import Counter

    def per_instant(record: RunRecord) -> Counter:
        return Counter(m.day for m in record.moves if m.actor == "A")

    packed = [match(logit(package=3), scripted(), seed, **HAWK) for seed in SEEDS]
    single = [match(logit(), scripted(), seed, **HAWK) for seed in SEEDS]
    assert max(max(per_instant(r).values(), default=0) for r in single) == 1
    sizes = [n for r in packed for n in per_instant(r).values()]
    assert max(sizes) in (2, 3) and sum(sizes) > sum(len(per_instant(r)) for r in packed)
    for record in packed:
        by_instant: dict[float, list[str]] = {}
        for m in record.moves:
            if m.actor == "A":
                by_instant.setdefault(m.day, []).append(m.lever)
        assert all(len(set(levers)) == len(levers) for levers in by_instant.values())
