"""The results store: one folder per ensemble, ``results/<scenario>/<run-id>/``.

A folder holds ``manifest.json`` (what was run, by what, when, and whether it finished),
``summary.json``, ``runs.parquet`` (one row per replication), ``moves.parquet`` (one row per
move) and ``trajectories.npy`` (int8 daily rung per replication and dyad, memory-mappable).

Every file is written under a temporary name and moved into place with :func:`os.replace`,
so a reader never sees half a file; the manifest is written last, so a folder without one
is a run that died before it could say so. Moves and trajectories are streamed to disk as
chunks arrive, so a long ensemble never holds them all in memory and an interrupted one
still leaves what it finished. A folder is never overwritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.engine.record import MoveRecord

#: Where ``sim run`` writes by default, relative to the working directory.
DEFAULT_ROOT = Path("results")

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
RUNS = "runs.parquet"
MOVES = "moves.parquet"
TRAJECTORIES = "trajectories.npy"

#: Bump when the layout of a results folder changes incompatibly.
FORMAT_VERSION = 1

# Arrow types of the annotations a MoveRecord field may have.
_ARROW_TYPES = {"str": pa.string(), "float": pa.float64(), "int": pa.int32(), "bool": pa.bool_()}


def _moves_schema() -> pa.Schema:
    """Return the schema of ``moves.parquet``: replication, date, then every MoveRecord field."""
    fields = [("index", pa.int32()), ("date", pa.date32())]
    for f in dataclasses.fields(MoveRecord):
        # Annotations are strings (postponed evaluation): "float", "str", ...
        fields.append((f.name, _ARROW_TYPES[str(f.type)]))
    return pa.schema(fields)


#: The columns of ``moves.parquet``: the replication index, the calendar date and the fields
#: of :class:`~sim.engine.record.MoveRecord`, in its order.
MOVES_SCHEMA = _moves_schema()

#: Moves are buffered to row groups of about this many rows before they are written.
MOVES_ROW_GROUP = 65_536


# --- JSON -------------------------------------------------------------------------------------


def jsonable(obj: Any) -> Any:
    """Return ``obj`` as plain JSON data: NaN and infinities become None, numpy becomes Python."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return obj


def json_text(obj: Any, indent: int | None = 2) -> str:
    """Return ``obj`` as strict JSON text (NaN written as ``null``)."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False, ensure_ascii=False)


# --- atomic writes ----------------------------------------------------------------------------


def partial_path(path: Path) -> Path:
    """Return the temporary name a file is written under before it is moved into place."""
    return path.with_name(f".{path.name}.part")


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it to ``path``, on failure remove it."""
    tmp = partial_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(obj) + "\n", encoding="utf-8")


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Write a DataFrame to a parquet file atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", index=False)


# --- the folder -------------------------------------------------------------------------------


def new_run_id(now: dt.datetime, salt: str = "") -> str:
    """Return a run id: the UTC time to the second and a short random hash, sortable by time."""
    digest = hashlib.sha256(f"{salt}|{now.isoformat()}|{secrets.token_hex(8)}".encode())
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest.hexdigest()[:6]}"


def create_run_dir(root: Path, scenario: str, now: dt.datetime, salt: str = "") -> Path:
    """Create and return a new, empty ``root/<scenario>/<run-id>`` folder; never reuse one."""
    parent = Path(root) / scenario
    parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        path = parent / new_run_id(now, salt)
        try:
            path.mkdir()
        except FileExistsError:
            continue  # A clash on the random part: draw another id.
        return path
    raise RuntimeError(f"could not create a fresh results folder under {parent}")


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


def package_version() -> str:
    """Return the installed version of the ``sim`` package, or ``"unknown"``."""
    from importlib import metadata

    try:
        return metadata.version("sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def environment() -> dict[str, str]:
    """Return the versions of Python and of the libraries that shape the numbers."""
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


# --- streaming writers ------------------------------------------------------------------------


class MovesWriter:
    """Streams move tables to ``moves.parquet`` in row groups; :meth:`close` publishes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = partial_path(path)
        self._writer = pq.ParquetWriter(self._tmp, MOVES_SCHEMA)
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Queue a table of moves (in :data:`MOVES_SCHEMA`); flush whole row groups."""
        self._buffer.append(table)
        self._buffered += table.num_rows
        self.rows += table.num_rows
        if self._buffered >= MOVES_ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        """Write the buffered moves as one row group."""
        if self._buffer:
            self._writer.write_table(pa.concat_tables(self._buffer))
        self._buffer, self._buffered = [], 0

    def close(self) -> None:
        """Write what is left, close the file and move it into place."""
        self._flush()
        self._writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file without publishing it."""
        with contextlib.suppress(Exception):
            self._writer.close()
        self._tmp.unlink(missing_ok=True)


class TrajectoryWriter:
    """Writes daily rungs into a memory-mapped ``(runs, dyads, days + 1)`` int8 ``.npy`` file."""

    def __init__(self, path: Path, shape: tuple[int, int, int]) -> None:
        self.path = path
        self.shape = shape
        # Not partial_path(path): that name is for the truncated copy an interrupted run writes.
        self._tmp = path.with_name(f".{path.name}.stream.part")
        self.array = np.lib.format.open_memmap(self._tmp, mode="w+", dtype=np.int8, shape=shape)

    def write(self, first: int, block: np.ndarray) -> None:
        """Store the trajectories of replications ``first, first + 1, ...``."""
        self.array[first : first + len(block)] = block

    def close(self, completed: int) -> None:
        """Publish the first ``completed`` replications (all of them when the run finished)."""
        self.array.flush()
        if completed == self.shape[0]:
            del self.array
            os.replace(self._tmp, self.path)
            return
        # An unfinished run: keep only the replications that completed.
        with atomic_path(self.path) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(self.array[:completed]), allow_pickle=False)
        self.abort()

    def abort(self) -> None:
        """Drop the temporary file without publishing it."""
        with contextlib.suppress(AttributeError):
            del self.array
        self._tmp.unlink(missing_ok=True)


class ResultsWriter:
    """Writes one results folder: moves and trajectories as they come, the manifest last."""

    def __init__(self, path: Path, n_runs: int, n_dyads: int, days: int) -> None:
        self.path = path
        self.moves = MovesWriter(path / MOVES)
        self.trajectories = TrajectoryWriter(path / TRAJECTORIES, (n_runs, n_dyads, days + 1))

    @classmethod
    def create(
        cls, root: Path, scenario: str, now: dt.datetime, n_runs: int, n_dyads: int, days: int
    ) -> ResultsWriter:
        """Open a writer on a fresh folder under ``root``."""
        return cls(create_run_dir(root, scenario, now), n_runs, n_dyads, days)

    def finish(
        self, runs: pd.DataFrame, summary: Mapping[str, Any], manifest: Mapping[str, Any]
    ) -> None:
        """Publish every file for the ``len(runs)`` completed replications, the manifest last."""
        self.moves.close()
        self.trajectories.close(len(runs))
        write_table(self.path / RUNS, runs)
        write_json(self.path / SUMMARY, summary)
        write_json(self.path / MANIFEST, manifest)


def build_manifest(
    *,
    scenario: Any,
    seed: int,
    runs: int,
    completed: int,
    spec: Any,
    command: str | None,
    started: dt.datetime,
    finished: dt.datetime,
    status: str,
    error: str | None = None,
) -> dict[str, Any]:
    """Return the manifest: what was run (resolved), by what code, when, and how it ended."""
    return {
        "format_version": FORMAT_VERSION,
        "scenario": scenario.name,
        "title": scenario.title,
        "content_hash": scenario.content_hash(),
        "seed": seed,
        "runs": runs,
        "runs_completed": completed,
        "status": status,
        "error": error,
        "package_version": package_version(),
        "git": git_commit(),
        "environment": environment(),
        "command": command if command is not None else " ".join(sys.argv),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "files": {
            "summary": SUMMARY,
            "runs": RUNS,
            "moves": MOVES,
            "trajectories": {
                "file": TRAJECTORIES,
                "dtype": "int8",
                "axes": ["replication", "dyad", "day"],
                "dyads": [list(d) for d in getattr(spec, "dyad_ids", spec.dyads)],
                "rungs": list(spec.rung_names),
                "day0": spec.start.isoformat(),
            },
        },
        "parameters": scenario.model_dump(mode="json"),
    }


# --- reading ----------------------------------------------------------------------------------


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read a results folder's manifest."""
    return read_json(Path(folder) / MANIFEST)


def read_summary(folder: Path) -> dict[str, Any]:
    """Read a results folder's summary."""
    return read_json(Path(folder) / SUMMARY)


def read_runs(folder: Path) -> pd.DataFrame:
    """Read a results folder's runs table."""
    return pd.read_parquet(Path(folder) / RUNS)


def read_moves(folder: Path) -> pd.DataFrame:
    """Read a results folder's moves table."""
    return pd.read_parquet(Path(folder) / MOVES)


def read_trajectories(folder: Path, mmap: bool = True) -> np.ndarray:
    """Read a results folder's trajectories, memory-mapped unless ``mmap`` is False."""
    return np.load(Path(folder) / TRAJECTORIES, mmap_mode="r" if mmap else None, allow_pickle=False)
