"""The simulation engine: world state, actor processes and exogenous events on simpy.

The engine is pure: it reads a compiled :class:`~sim.engine.spec.RunSpec`, draws its
randomness from the seed it is given and returns a :class:`~sim.engine.record.RunRecord`.
It performs no I/O and imports nothing from the rest of the package.
"""

from sim.engine.record import MoveRecord, RunRecord
from sim.engine.simulate import simulate

__all__ = ["MoveRecord", "RunRecord", "simulate"]
