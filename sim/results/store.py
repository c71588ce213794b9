"""The results store: one folder per run, ``results/<scenario>/<run-id>/``, written and read.

An ensemble's folder holds ``manifest.json`` (what was run, by what, when, and how far it
got), ``summary.json``, ``runs.parquet`` (one row per replication that finished),
``moves.parquet`` (one row per move), ``trajectories.npy`` (int8 daily rung per finished
replication and dyad, in the order of ``runs.parquet``, memory-mappable) and, when some
replications raised, ``failures.parquet`` (index, seed key, error, traceback); until it is
complete also ``chunks.journal`` (see :mod:`sim.results.journal`). The names of every
kind of folder's files are in :mod:`sim.results.files`.

Every file is written under a temporary name and moved into place with
:func:`~sim.results.disk.replace_file`, so a reader never sees half a file. The manifest is
written first with status ``"running"`` and rewritten last with the final status:
``"complete"``, ``"interrupted"`` (Ctrl-C, a signal, a worker or cluster lost, a full or
unwritable disk) or ``"failed"``; a folder that is not complete can be finished by
:func:`sim.experiments.ensemble.resume`. A folder is never reused for another run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.errors import SimWarning, UsageError
from sim.results import disk, journal, tables
from sim.results.files import (
    CHUNKS,
    FAILURES,
    FIGURES_DIR,
    MANIFEST,
    MOVES,
    REPORT,
    RESULT_ENTRIES,
    RUNS,
    SUMMARY,
    SWEEP_PLAN,
    TRAJECTORIES,
)
from sim.results.journal import Journal, JournalReader
from sim.results.tables import FAILURES_SCHEMA, MOVES_SCHEMA, ChunkTables

#: Where ``sim run`` writes by default, relative to the working directory.
DEFAULT_ROOT = Path("results")


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


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- atomic writes ----------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success move it to ``path``, on failure remove it."""
    tmp = disk.partial_path(path)
    try:
        yield tmp
        disk.replace_file(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # A folder that became unwritable keeps it.
            tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    data = (json_text(obj) + "\n").encode("utf-8")
    with atomic_path(path) as tmp, disk.open_output(tmp) as fh:
        fh.write(data)


def write_table(path: Path, frame: pd.DataFrame) -> None:
    """Write a DataFrame to a parquet file atomically."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", index=False)


# --- the folder -------------------------------------------------------------------------------


def new_run_id(now: dt.datetime, salt: str = "") -> str:
    """Return a run id: the UTC time to the second and a short random hash, sortable by time."""
    digest = hashlib.sha256(f"{salt}|{now.isoformat()}|{secrets.token_hex(8)}".encode())
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest.hexdigest()[:6]}"


def create_run_dir(
    root: Path,
    scenario: str,
    now: dt.datetime,
    salt: str = "",
    *,
    name: str | None = None,
    force: bool = False,
    prefix: str = "",
) -> Path:
    """Create and return a new, empty results folder under ``root/<scenario>/``.

    Without ``name`` the folder is ``<prefix><run-id>``, fresh, never one used before. With
    ``name`` it is ``root/<scenario>/<name>``: an existing folder of that name is refused,
    or with ``force`` replaced, if it holds results (a folder of other files never is).
    Writing is tried before returning, so that a folder that cannot be written fails now,
    before any run.
    """
    parent = Path(root) / scenario
    try:
        parent.mkdir(parents=True, exist_ok=True)
        if name is not None:
            path = _named_dir(parent, name, force)
        else:
            path = _fresh_dir(parent, now, salt, prefix)
        probe = path / ".writable"
        probe.write_bytes(b"")  # fail now, before any run, if nothing can be written here
        probe.unlink()
        return path
    except OSError as err:
        raise UsageError(f"cannot write results under {parent}: {err.strerror or err}") from None


#: What a results folder's ``name`` may be: one folder name, no path, nothing hidden.
FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_destination(out: object, name: str | None, force: bool) -> None:
    """Check a results folder's name and ``force`` before anything is loaded or created."""
    if force and name is None:
        raise UsageError("--force (force=True) replaces a named folder: give --name (name=) too")
    if name is not None and out is None:
        raise UsageError("a results folder name needs a results root (--out, out=) to write to")
    if name is not None and not FOLDER_NAME.fullmatch(name):
        raise UsageError(
            f"--name {name!r}: expected a folder name of up to 100 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit (no path)"
        )


def _fresh_dir(parent: Path, now: dt.datetime, salt: str, prefix: str) -> Path:
    for _ in range(100):
        path = parent / f"{prefix}{new_run_id(now, salt)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue  # A clash on the random part: draw another id.
        return path
    raise UsageError(f"could not create a fresh results folder under {parent}")


def _named_dir(parent: Path, name: str, force: bool) -> Path:
    """Create ``parent/name``, replacing a results folder of that name only with ``force``."""
    check_destination(parent, name, force)
    path = parent / name
    if path.is_symlink():
        raise UsageError(f"{path} is a symbolic link: not writing results through it")
    if path.exists():
        if not force:
            raise UsageError(
                f"{path} already exists: pass --force (force=True) to replace it, or choose "
                "another --name"
            )
        _check_replaceable(path)
        shutil.rmtree(path)
    path.mkdir()
    return path


def _check_replaceable(path: Path) -> None:
    """Refuse to replace a folder that sim did not write, holds more, or a run is writing.

    A folder is sim's if its manifest (or a sweep's plan) is sim's JSON (a ``kind`` or
    ``scenario`` and a ``format_version``); an empty folder may go too.
    """
    if not path.is_dir():
        raise UsageError(f"{path} exists and is not a folder: not replacing it")
    entries = list(path.iterdir())
    if not entries:
        return
    found = (_sim_json(path / MANIFEST), _sim_json(path / SWEEP_PLAN))
    marker = next((m for m in found if m is not None), None)
    others = sorted(
        e.name for e in entries if e.name not in RESULT_ENTRIES and not _partial_name(e.name)
    )
    if marker is None or others:
        what = f"it holds {', '.join(others[:3])}" if others else "no sim manifest or sweep plan"
        raise UsageError(
            f"{path} does not hold sim results only ({what}): not replacing it, even with --force"
        )
    if marker.get("status") == "running" and being_written(path, marker.get("process")):
        raise UsageError(f"{path} is being written by a running process: not replacing it")


def _sim_json(path: Path) -> dict[str, Any] | None:
    """A manifest or plan sim wrote, or None (missing, unreadable, or someone else's JSON)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ours = isinstance(data, dict) and "format_version" in data
    return data if ours and ("kind" in data or "scenario" in data) else None


def _partial_name(name: str) -> bool:
    """Whether a file name is one of sim's temporary ``.<file>.part`` files."""
    return name.startswith(".") and name.endswith(".part")


def drop_drawings(folder: Path) -> None:
    """Remove the figures and the report drawn in a folder whose results are about to change.

    A resume finishes what an interrupted run, sweep, comparison or calibration started: its
    ``figures/`` and ``report.html`` show the attempt that stopped, and would pass for the
    finished results. They go, and a warning says how to draw them again. (A comparison's
    complete arm keeps its own; each arm that is resumed drops its own.)
    """
    found = [path for path in (folder / FIGURES_DIR, folder / REPORT) if path.exists()]
    for path in found:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    if found:
        command = {FIGURES_DIR: "sim plot", REPORT: "sim report"}
        again = ", ".join(f"{command[p.name]} {folder}" for p in found)
        warnings.warn(
            f"{folder}: removed {', '.join(p.name for p in found)}, drawn from the attempt "
            f"that stopped; once it is finished, draw them again ({again})",
            SimWarning,
            stacklevel=2,
        )


def this_process(running: bool = True) -> dict[str, Any] | None:
    """The writer a manifest records while it runs (pid and host), None once it ended."""
    return {"pid": os.getpid(), "host": socket.gethostname()} if running else None


def being_written(folder: Path, process: Mapping[str, Any] | None) -> bool:
    """Return True if the process a manifest names as its writer is writing ``folder`` now."""
    if not process_alive(process):
        return False
    assert process is not None
    return int(process["pid"]) != os.getpid() or journal.held_open(folder)


def process_alive(process: Mapping[str, Any] | None) -> bool:
    """Return True if ``process`` (the pid and host a manifest records) is alive here."""
    if not process or process.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(process["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


# --- writing an ensemble's folder ---------------------------------------------------------------


class ResultsWriter:
    """Writes one results folder: the journal and the tables as chunks come, then the rest."""

    def __init__(
        self,
        path: Path,
        runs_schema: pa.Schema,
        n_dyads: int,
        days: int,
        journal: Journal | None = None,
    ) -> None:
        self.path = path
        self.journal = journal if journal is not None else Journal(path)
        self._broken: BaseException | None = None
        try:
            self.runs = tables.TableWriter(path / RUNS, runs_schema, tables.RUNS_ROW_GROUP)
            self.moves = tables.TableWriter(path / MOVES, MOVES_SCHEMA, tables.MOVES_ROW_GROUP)
            self.failures = tables.TableWriter(
                path / FAILURES, FAILURES_SCHEMA, tables.FAILURES_ROW_GROUP
            )
            self.trajectories = tables.TrajectoryWriter(path / TRAJECTORIES, n_dyads, days + 1)
        except BaseException:
            self.abort()
            raise

    @classmethod
    def reopen(
        cls,
        path: Path,
        runs_schema: pa.Schema,
        n_dyads: int,
        days: int,
        restore: Callable[[ChunkTables], None],
    ) -> ResultsWriter:
        """Open a writer on an unfinished folder, holding the chunks its journal saved.

        Each saved chunk is passed to ``restore`` and copied into the tables through the
        same row grouping, so the folder ends up byte for byte as if it had never been
        interrupted. The journal itself is kept as it is (cut back to its valid records)
        and appended to.
        """
        saved = JournalReader(path / CHUNKS).count()  # Checked whole before it is cut back.
        kept = Journal(path, saved.valid_bytes, saved.completed)
        writer = cls(path, runs_schema, n_dyads, days, kept)
        try:
            reader = JournalReader(path / CHUNKS, runs_schema, (n_dyads, days + 1))
            for chunk in reader:
                restore(chunk)
                writer.write_tables(chunk)
            if reader.completed != saved.completed:
                raise RuntimeError(f"{kept.path} changed while it was read")
        except BaseException:
            writer.abort()
            raise
        return writer

    @property
    def completed(self) -> int:
        """The replications saved: ``0 .. completed - 1``."""
        return self.journal.completed

    def append(self, chunk: ChunkTables) -> None:
        """Write the results of the next replications: to the journal first, then the tables.

        If any of it fails, the tables are left incomplete and will not be published (the
        journal holds every chunk it accepted, and a resume rebuilds them from it).
        """
        try:
            self.journal.append(chunk)
            self.write_tables(chunk)
        except BaseException as exc:
            self._broken = exc
            raise

    def write_tables(self, chunk: ChunkTables) -> None:
        """Write a chunk's rows to the tables only."""
        self.runs.write(chunk.runs)
        self.moves.write(chunk.moves)
        self.failures.write(chunk.failures)
        self.trajectories.write(chunk.trajectories)

    def publish(self) -> None:
        """Publish the tables written so far (failures only if there were any).

        The journal is synced first: whatever happens to the tables, it holds every row.
        Tables that a failed write left incomplete are never published: that error is
        raised again.
        """
        if self._broken is not None:
            raise self._broken
        self.journal.sync()
        self.runs.close()
        self.moves.close()
        self.trajectories.close()
        if self.failures.rows:
            self.failures.close()
        else:
            self.failures.abort()
            (self.path / FAILURES).unlink(missing_ok=True)  # Left by an earlier attempt.
        disk.sync_folder(self.path)

    def abort(self) -> None:
        """Drop every temporary file without publishing; close the journal. Never raises."""
        for part in ("runs", "moves", "failures", "trajectories"):
            writer = getattr(self, part, None)
            if writer is not None:
                writer.abort()
        with contextlib.suppress(Exception):
            self.journal.close()


# --- reading ----------------------------------------------------------------------------------


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


def read_failures(folder: Path) -> pd.DataFrame:
    """Read a results folder's failed replications (an empty table when none failed)."""
    path = Path(folder) / FAILURES
    table = pq.read_table(path) if path.exists() else FAILURES_SCHEMA.empty_table()
    return table.to_pandas()


def read_trajectories(folder: Path, mmap: bool = True) -> np.ndarray:
    """Read a results folder's trajectories, memory-mapped unless ``mmap`` is False."""
    return np.load(Path(folder) / TRAJECTORIES, mmap_mode="r" if mmap else None, allow_pickle=False)


@dataclass(frozen=True)
class Saved:
    """What a results folder holds on the disk, read back after an attempt to write it.

    ``runs`` replications (``0 .. runs - 1``, finished or failed) are saved: in the journal
    of an unfinished folder, in the tables of a complete one. ``tables`` says whether the
    tables, the summary and the manifest show exactly these (else a resume writes them).
    """

    path: Path
    runs: int
    tables: bool


def saved(folder: str | os.PathLike[str]) -> Saved:
    """Return what ``folder`` holds: the one place that says what is on the disk."""
    path = Path(folder)
    manifest = _sim_json(path / MANIFEST) or {}
    status = manifest.get("status")
    if (path / CHUNKS).exists():
        runs = JournalReader(path / CHUNKS).count().completed
    elif status == "complete":
        runs = int(manifest.get("runs_completed") or 0)
    else:
        runs = 0
    final = status in ("complete", "interrupted", "failed")
    shown = manifest.get("runs_completed") if final else None
    on_disk = shown == runs and all((path / name).is_file() for name in (SUMMARY, RUNS))
    return Saved(path, runs, on_disk)


class RunsColumns:
    """The columns of a ``runs.parquet``, read one at a time when asked for.

    It answers ``len()``, ``in`` and ``[name]`` (a pandas Series) like a DataFrame, so a
    summary can be built from a large runs table without ever holding all of it. String
    columns come back as categoricals.

    The file is opened once (its footer parsed once: a wide scenario's table has thousands
    of columns, and opening it per column took most of its summary's time) and each column
    is read on this thread, without memory-mapping: ``pq.read_table`` (the dataset reader,
    with its thread pools and read buffers) left about 49 MiB more resident after reading
    the 44 columns of a 200,000-run table one by one, and a memory map held open would keep
    every page read resident (the whole file); reading from the open file keeps to what
    one column needs. Close it (or use it as a context manager) to release the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        meta = pq.read_metadata(self.path)
        schema = meta.schema.to_arrow_schema()
        textual = [
            f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
        ]
        self._file = pq.ParquetFile(
            self.path, metadata=meta, memory_map=False, read_dictionary=textual
        )
        self._n = meta.num_rows
        self._names = frozenset(schema.names)

    def __len__(self) -> int:
        return self._n

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __getitem__(self, name: str) -> pd.Series:
        if name not in self._names:
            raise KeyError(name)
        table = self._file.read(columns=[name], use_threads=False)
        series = table.column(0).to_pandas().rename(name)
        # The read's buffers came from Arrow's pool, which would keep them cached: 6.5 MiB
        # more at the summary's peak for 200,000 runs than a memory map released each time.
        pa.default_memory_pool().release_unused()
        return series

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> RunsColumns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
