"""Shared fixtures: the two-actor scenario fixture and the ``sim`` command in a subprocess;
and the kernels compiled once before the test processes start.

Hypothesis tests cannot take function-scoped fixtures, and parametrize lists are built at
import time, so modules that need paths there compute them from ``__file__`` themselves.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "scenarios"  # the tests' small YAML scenarios
CLI_TIMEOUT = 120  # seconds; a validate or a tiny run takes about one


def pytest_sessionstart(session: pytest.Session) -> None:
    """Compile the engine's kernels once, before the test processes start (``-n``).

    numba caches them on disk (``sim/engine/__pycache__``). Without this, each test process,
    and each ``sim`` subprocess a test starts before the cache is written, compiles them
    again: about 90 s of a core each on a fresh machine. In one process (``-n 0``)
    the first test that runs the engine compiles them, as it would anyway.
    """
    if not session.config.pluginmanager.hasplugin("dsession"):
        return  # one process, or a test process of xdist's (the controller compiled them)
    import sim

    sim.run(str(FIXTURES / "duel.yaml"), runs=1, workers=1)


def run_sim(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``sim ARGS`` in a fresh interpreter (as ``python -m sim.cli``) and capture it."""
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


@pytest.fixture(scope="session")
def duel_path() -> Path:
    """The two-actor fixture with fixed zero delays (tests/scenarios/duel.yaml)."""
    return FIXTURES / "duel.yaml"


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``cli(*args, cwd=...)`` runs the ``sim`` command in a subprocess."""
    return run_sim
