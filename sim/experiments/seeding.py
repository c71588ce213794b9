"""Seeds for replications: an alias of :mod:`sim.results.seeding`, where they are defined.

Kept so that code written against the old place (the benchmarks, users' scripts) still
imports; new code imports :mod:`sim.results.seeding`.
"""

from sim.results.seeding import check_seed, replication_rng, replication_seed, seed_key

__all__ = ["check_seed", "replication_rng", "replication_seed", "seed_key"]
