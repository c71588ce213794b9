"""The results store: an alias of :mod:`sim.results.store`, where it is defined now.

Kept so that code written against the old place (tests/test_determinism.py, users' scripts)
still imports, with the file names the old module held (``store.SUMMARY``, ``store.RUNS``
...), which :mod:`sim.results.files` now owns; new code imports :mod:`sim.results`.
"""

from sim.results.files import *  # noqa: F403 - the old module's file names
from sim.results.store import *  # noqa: F403 - the old module's functions
