"""Experiments: seeding, executors, ensembles of replications and the results store.

Nothing here is imported eagerly: ``import sim.experiments`` stays cheap, and the
submodules pull in numpy, pandas and pyarrow only when they are used.
"""
