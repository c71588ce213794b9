"""A test double: logit choice that takes 2 ms longer per decision where SIM_TEST_SLOW is set.

It makes a ``sim run`` in a subprocess (and its workers, which inherit the environment)
last long enough to be stopped part-way, while the same scenario runs at full speed in the
test process for the reference and the resume: the choices are the logit's, draw for draw.
The module is imported by name (the subprocess and its workers find it on PYTHONPATH).
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

import numpy as np

from sim.engine.policy import register_policy
from sim.policies.logit import LogitPolicy

NAME = "test-slow-logit"
#: The variable that makes the policy slow in a process and its children.
SLOW = "SIM_TEST_SLOW"


@register_policy
class SlowLogitPolicy(LogitPolicy):
    """Logit choice, 2 ms slower per decision where ``SIM_TEST_SLOW`` is set (a test double)."""

    name = NAME
    metadata: ClassVar[dict] = {"stochastic": True, "source": "test double"}

    def choose(self, ctx: Any, rng: np.random.Generator) -> Any:
        if os.environ.get(SLOW):
            time.sleep(0.002)
        return super().choose(ctx, rng)
