"""Built-in decision rules; importing this package registers them by name."""

from sim.policies.classic import (
    AlwaysEscalatePolicy,
    AttritionPolicy,
    RandomWalkPolicy,
    RichardsonPolicy,
    TitForTatPolicy,
)
from sim.policies.logit import LogitPolicy
from sim.policies.reciprocal import ReciprocalPolicy
from sim.policies.scripted import ScriptedPolicy

__all__ = [
    "AlwaysEscalatePolicy",
    "AttritionPolicy",
    "LogitPolicy",
    "RandomWalkPolicy",
    "ReciprocalPolicy",
    "RichardsonPolicy",
    "ScriptedPolicy",
    "TitForTatPolicy",
]
