"""Manifests: what every kind of results folder records of what ran, by what code, and how.

One builder, :func:`build_manifest`, for the four kinds (an ensemble, a comparison, a sweep,
a calibration): each gives what it ran (``head``), how it ran (``run``) and its files and
parameters (``tail``); the builder puts between them how the run ended (status and error)
and its provenance (the package version, the git commit, the versions of the libraries
that shape the numbers, the command line, when it started and finished).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.results.files import FAILURES, MOVES, RUNS, SUMMARY, TRAJECTORIES


def build_manifest(
    head: Mapping[str, Any],
    *,
    status: str,
    error: str | None,
    command: str | None,
    started: dt.datetime,
    finished: dt.datetime | None,
    run: Mapping[str, Any] | None = None,
    libraries: Mapping[str, str] | None = None,
    tail: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return a manifest: ``head``, the status, ``run``, the provenance, then ``tail``.

    ``libraries`` adds the versions of libraries a kind of run uses beyond the common ones
    (SALib for a sweep, pyabc for a calibration). ``finished`` is None while running.
    """
    return {
        **head,
        "status": status,
        "error": error,
        **(run or {}),
        "package_version": package_version(),
        "git": git_commit(),
        "environment": {**environment(), **(libraries or {})},
        "command": command if command is not None else " ".join(sys.argv),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds") if finished else None,
        **(tail or {}),
    }


def ensemble_files(spec: Any) -> dict[str, Any]:
    """Return the ``files`` block of an ensemble's manifest: each table and how to read it."""
    return {
        "summary": SUMMARY,
        "runs": RUNS,
        "moves": MOVES,
        "failures": FAILURES,
        "trajectories": {
            "file": TRAJECTORIES,
            "dtype": "int8",
            "axes": ["replication", "dyad", "day"],
            "rows": "the rows of runs.parquet, in order",
            "dyads": [list(d) for d in getattr(spec, "dyad_ids", spec.dyads)],
            "rungs": list(spec.rung_names),
            "day0": spec.start.isoformat(),
        },
    }


def now() -> dt.datetime:
    """Return the current UTC time (what manifests record)."""
    return dt.datetime.now(dt.UTC)


def git_commit(where: Path | None = None) -> dict[str, Any] | None:
    """Return the git commit (and whether the tree is dirty) of the code, None outside git."""
    where = where or Path(__file__).resolve().parent
    commit = _git(where, "rev-parse", "HEAD")
    if commit is None:
        return None
    status = _git(where, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def _git(where: Path, *args: str) -> str | None:
    """Return the stripped output of a git command, None when git or the repo is missing."""
    try:
        done = subprocess.run(
            ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def package_version(name: str = "sim", missing: str = "unknown") -> str:
    """Return the installed version of a package (``sim`` by default), or ``missing``."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return missing


def environment() -> dict[str, str]:
    """Return the versions of Python and of the libraries that shape the numbers."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import scipy
    import simpy

    return {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "simpy": getattr(simpy, "__version__", "unknown"),
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
    }
