"""Results folders: the files of every kind of run, seeds, and what a manifest records.

The bottom of the house above the engine: nothing here imports the scenario format, the
statistics, the experiments or the figures. :mod:`~sim.results.files` names the files of
every kind of results folder; :mod:`~sim.results.disk` is the one boundary with the file
system; :mod:`~sim.results.store` creates, checks and reads folders; :mod:`~sim.results.tables`
and :mod:`~sim.results.journal` stream an ensemble's tables and its journal of completed
chunks; :mod:`~sim.results.manifest` builds every kind of manifest; and
:mod:`~sim.results.seeding` gives each replication its seed.
"""
