"""The compiled engine: numpy's streams, the Python engine's runs, both decision paths.

* The kernels' random streams are numpy's: seeded as ``PCG64(SeedSequence(...))`` and
  drawing numpy's numbers (uniform, normal, exponential, each delay kind), bit for bit.
* Whole runs, every move and float, equal those of the engine before the kernels (the
  fingerprints of ``tests/golden/records.json``, written by the Python engine at commit b9fdcdc).
* An actor whose logit policy decides in Python (a subclass that overrides ``choose``)
  makes exactly the moves the kernel makes: the two paths implement one rule.
* A decision rule written in Python, such as the README's ``Hawk``, runs unchanged.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.engine import kernels as K
from sim.engine.policy import Candidate, DecisionContext, policy_class, register_policy
from sim.engine.spec import DelaySpec
from sim.engine.streams import entropy_prefix, stream, stream_key, to_numpy_state
from sim.experiments.seeding import replication_seed
from sim.policies import LogitPolicy, ReciprocalPolicy
from sim.scenario import compile_scenario

ROOT = Path(__file__).resolve().parent.parent
PURPOSES = ("world", "actor:CHN", "actor:JPN", "event:incident_east_china_sea")


def _golden(name: str) -> ModuleType:
    path = ROOT / "tests" / "golden" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"golden_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FINGERPRINT = _golden("fingerprint")


# --- streams --------------------------------------------------------------------------------


def seeded_rows(seed: np.random.SeedSequence) -> np.ndarray:
    rows = np.zeros((len(PURPOSES), K.NS), dtype=np.uint64)
    prefix = entropy_prefix(seed)
    assert prefix is not None
    keys = np.array([stream_key(p) for p in PURPOSES], dtype=np.uint64)
    K.seed_rows(rows, prefix, keys)
    return rows


@settings(max_examples=40, deadline=None)
@given(root=st.integers(0, 2**140), index=st.integers(0, 2**40))
def test_streams_are_seeded_as_numpy_seeds_them(root: int, index: int) -> None:
    seed = np.random.SeedSequence(root, spawn_key=(index,))
    rows = seeded_rows(seed)
    for r, purpose in enumerate(PURPOSES):
        assert to_numpy_state(rows[r]) == stream(seed, purpose).bit_generator.state


DELAYS = (
    DelaySpec(0, 2.5),  # fixed: no draw
    DelaySpec(1, 1.0, 0.8, cap=6.0),  # lognormal, capped
    DelaySpec(1, 0.0, 0.8),  # lognormal with median 0: no draw
    DelaySpec(2, 0.5, 3.0),  # uniform
    DelaySpec(3, 2.0),  # exponential
    DelaySpec(3, 0.0),  # exponential with mean 0: no draw
)


@pytest.mark.parametrize("root", [0, 1, 12345, 2**64 + 3])
def test_draws_are_numpys_draw_for_draw(root: int) -> None:
    rows = seeded_rows(replication_seed(root, 7))
    reference = stream(replication_seed(root, 7), PURPOSES[1])
    for i in range(20_000):  # enough to reach the ziggurats' rare branches many times
        kind = i % 4
        if kind == 0:
            assert K.random(rows, 1) == reference.random()
        elif kind == 1:
            assert K.standard_normal(rows, 1) == reference.standard_normal()
        elif kind == 2:
            assert K.exponential(rows, 1, 3.5) == reference.exponential(3.5)
        else:
            delay = DELAYS[(i // 4) % len(DELAYS)]
            drawn = K.sample_delay(rows, 1, delay.kind, delay.a, delay.b, delay.cap)
            assert drawn == delay.sample(reference)
    assert to_numpy_state(rows[1]) == reference.bit_generator.state


# --- whole runs -------------------------------------------------------------------------------


#: Scenarios whose 40 fingerprinted runs take most of a minute (many actors, long horizons).
SLOW_FINGERPRINTS = {"oracles/richardson"}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if FINGERPRINT.key(n) in SLOW_FINGERPRINTS else n
        for n in FINGERPRINT.SCENARIOS
    ],
    ids=FINGERPRINT.key,
)
def test_runs_are_those_of_the_python_engine(name: str) -> None:
    stored = json.loads(FINGERPRINT.PATH.read_text(encoding="utf-8"))
    assert (stored["runs"], stored["seed"]) == (FINGERPRINT.RUNS, FINGERPRINT.SEED)
    assert FINGERPRINT.fingerprint(name) == stored["fingerprints"][FINGERPRINT.key(name)], (
        f"{name}: the runs differ from those of the engine before the kernels (b9fdcdc)"
    )


def test_the_fingerprint_sees_a_last_digit() -> None:
    """The control: a record that differs in one float's last bit has another fingerprint."""
    record = sim.simulate("taiwan-flashpoint-2025", 3)
    before = FINGERPRINT.describe(record)
    record.costs["CHN"] = math.nextafter(record.costs["CHN"], math.inf)
    assert FINGERPRINT.describe(record) != before


# --- the two decision paths --------------------------------------------------------------------


@register_policy
class PythonLogit(LogitPolicy):
    """The logit rule decided in Python (overriding ``choose`` leaves the kernel unused)."""

    name = "logit-in-python"

    def choose(self, ctx: DecisionContext, rng: np.random.Generator) -> Candidate | None:
        """The built-in choice, through the Python path."""
        return super().choose(ctx, rng)


def in_python(name: str) -> object:
    """A scenario whose logit actors decide in Python."""
    scenario = sim.load(name)
    overrides = {
        f"actors.{a.id}.policy.name": "logit-in-python"
        for a in scenario.actors
        if a.policy.name == "logit"
    }
    assert overrides, f"{name} has no logit actor"
    return compile_scenario(sim.load(name, overrides=overrides))


def test_only_the_built_in_rule_has_a_kernel() -> None:
    assert LogitPolicy.kernel() == "logit"
    assert PythonLogit.kernel() is None

    class Dovish(LogitPolicy):
        """A logit actor with other defaults keeps the kernel (the fast path)."""

        name = "dovish"

    assert Dovish.kernel() == "logit"
    assert ReciprocalPolicy.kernel() is None
    params = LogitPolicy.kernel_params(LogitPolicy.Params(rationality=2.5, package=3))
    assert params[K.P_RATIONALITY] == 2.5 and params[K.P_PACKAGE] == 3.0
    assert params[K.P_FACE] == LogitPolicy.Params().face


@pytest.mark.parametrize(
    "name",
    ["taiwan-flashpoint-2025", "taiwan-flashpoint-2025-campaign", "us-china-tradewar-2025"],
)
def test_the_python_path_makes_the_moves_the_kernel_makes(name: str) -> None:
    fast, slow = compile_scenario(sim.load(name)), in_python(name)
    for index in range(6):
        seed = replication_seed(11, index)
        a, b = sim.simulate(fast, seed), sim.simulate(slow, seed)
        assert FINGERPRINT.describe(a) == FINGERPRINT.describe(b), f"{name} replication {index}"
        assert a.events_scheduled == b.events_scheduled


# --- a rule of one's own ------------------------------------------------------------------------


def readme_policy_example() -> str:
    """The README's example of a user's own decision rule, as printed there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (example,) = [b for b in blocks if "@register_policy" in b]
    return example


def test_the_readme_user_policy_runs_unchanged() -> None:
    namespace: dict[str, object] = {}
    exec(readme_policy_example(), namespace)  # noqa: S102 - the README's own code
    hawk = namespace["Hawk"]
    assert policy_class("hawk") is hawk and hawk.kernel() is None  # the Python path
    duel = ROOT / "tests" / "scenarios" / "duel.yaml"
    rule = {"params": {"step": 1, "noise": 0.0, "forgiveness": 0.0}}
    runs = []
    for name in ("hawk", "reciprocal"):
        policy = {"actors.A.policy": {"name": name, **rule}}
        spec = compile_scenario(sim.load(str(duel), overrides=policy))
        runs.append([FINGERPRINT.describe(sim.simulate(spec, s)) for s in range(5)])
    assert runs[0] == runs[1]  # a subclass with no changes plays the rule it inherits
    assert "'A', 'B'" in runs[0][0]  # and A did answer B's moves
