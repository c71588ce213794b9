"""The simulation engine: world state, actor processes and exogenous events on simpy.

The engine is pure: it reads a compiled :class:`~sim.engine.spec.RunSpec`, draws its
randomness from the seed it is given and returns a :class:`~sim.engine.record.RunRecord`.
It performs no I/O and imports nothing from the rest of the package. Its state and rules
are compiled kernels (:mod:`sim.engine.kernels`, numba), which importing this package does
not load: numba is imported, and the kernels loaded from its cache, on the first run.
"""

from sim.engine.branching import Split
from sim.engine.record import MoveRecord, RunRecord
from sim.engine.simulate import kernels_cached, load_kernels, simulate

__all__ = ["MoveRecord", "RunRecord", "Split", "kernels_cached", "load_kernels", "simulate"]
