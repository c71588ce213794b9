"""The results store: one folder per ensemble, ``results/<scenario>/<run-id>/``.

A folder holds ``manifest.json`` (what was run, by what, when, and how far it got),
``summary.json``, ``runs.parquet`` (one row per replication that finished),
``moves.parquet`` (one row per move), ``trajectories.npy`` (int8 daily rung per finished
replication and dyad, in the order of ``runs.parquet``, memory-mappable) and, when some
replications raised, ``failures.parquet`` (index, seed key, error, traceback).

Tables stream to disk as chunks arrive, in row groups of a fixed number of rows, so memory
stays flat however many replications run, and the bytes of a file depend only on its rows,
never on how the work was chunked, which executor ran it or whether it was resumed. Every
file is written under a temporary name and moved into place with :func:`os.replace`, so a
reader never sees half a file. The manifest is written first with status ``"running"`` and
rewritten last with the final status: ``"complete"``, ``"interrupted"`` (Ctrl-C, a signal,
a worker or cluster lost, a full or unwritable disk) or ``"failed"``; a folder that is not
complete can be finished by :func:`sim.experiments.ensemble.resume`. A folder is never
reused for another run.

Until a folder is complete it also holds ``chunks.journal``: every completed chunk, appended
and synced to the disk as it completes, each record framed by its sizes and a checksum. It
is what a resume trusts and what :func:`saved` counts: a process killed in any way
(SIGKILL, a full disk, a lost machine) loses at most the chunks in flight, and a resume
that fails loses nothing its predecessor saved, whatever the manifest and the tables say.
It is deleted once the folder is complete and its tables are on the disk.

Every file of a folder is opened through :func:`open_output` and moved into place through
:func:`replace_file`, and free space is asked of :func:`free_space`: the store's boundary
with the file system, one place to see (and, in the tests, to break) every write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.engine.record import MoveRecord
from sim.errors import UsageError
from sim.experiments.sweep_spec import SWEEP_PLAN

#: Where ``sim run`` writes by default, relative to the working directory.
DEFAULT_ROOT = Path("results")

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
RUNS = "runs.parquet"
MOVES = "moves.parquet"
TRAJECTORIES = "trajectories.npy"
FAILURES = "failures.parquet"
CHUNKS = "chunks.journal"

#: Bump when the layout of a results folder changes incompatibly.
FORMAT_VERSION = 4  # 3: event columns in runs.parquet; 4: chunks.journal in unfinished folders

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

#: The columns of ``failures.parquet``: one row per replication that raised.
FAILURES_SCHEMA = pa.schema(
    [
        ("index", pa.int64()),
        ("seed_key", pa.string()),
        ("error", pa.string()),
        ("traceback", pa.string()),
    ]
)

#: Rows per row group of ``moves.parquet`` (a few MB buffered at most: the buffer and its
#: contiguous copy are the largest thing the collector holds).
MOVES_ROW_GROUP = 16_384
#: Rows per row group of ``runs.parquet`` (a few MB buffered at most).
RUNS_ROW_GROUP = 8_192
#: Rows per row group of ``failures.parquet``.
FAILURES_ROW_GROUP = 1_024


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


# --- the file system boundary ------------------------------------------------------------------


def open_output(path: Path, append: bool = False) -> BinaryIO:
    """Open a file of a results folder for writing (or appending): every write starts here."""
    return open(path, "ab" if append else "wb")  # noqa: SIM115 - the callers close it


def replace_file(tmp: Path, path: Path) -> None:
    """Move a finished temporary file into place (atomic on one file system)."""
    os.replace(tmp, path)


def free_space(path: Path) -> int:
    """Return the bytes free on the file system of ``path``."""
    return shutil.disk_usage(path).free


def sync_folder(path: Path) -> None:
    """Make the names in a folder durable (a rename reaches the disk), where the OS allows."""
    with contextlib.suppress(OSError):  # Not every system can open a folder (Windows).
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
        replace_file(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # A folder that became unwritable keeps it.
            tmp.unlink(missing_ok=True)


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically."""
    data = (json_text(obj) + "\n").encode("utf-8")
    with atomic_path(path) as tmp, open_output(tmp) as fh:
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


#: What a folder sim wrote may hold at its top (an ensemble's files, a comparison's arms, a
#: sweep's tables, figures and report): ``--force`` deletes nothing else.
RESULT_ENTRIES = frozenset(
    {MANIFEST, SUMMARY, RUNS, MOVES, TRAJECTORIES, FAILURES, CHUNKS, SWEEP_PLAN, ".writable",
     "figures", "report.html", "base", "variant", "runs", "failures", "design.parquet",
     "points.parquet", "sensitivity.parquet", "calibration.json", "abc.db",
     "generations.parquet", "particles.parquet", "check.parquet", "scales.json",
     "posterior.json"}
)  # fmt: skip


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


#: The folders whose journal this process holds open now: a manifest that names this
#: process as a folder's live writer is stale once that ended (a full disk, say).
_WRITING: set[Path] = set()


def being_written(folder: Path, process: Mapping[str, Any] | None) -> bool:
    """Return True if the process a manifest names as its writer is writing ``folder`` now."""
    if not process_alive(process):
        return False
    assert process is not None
    return int(process["pid"]) != os.getpid() or Path(folder).resolve() in _WRITING


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


class TableWriter:
    """Streams Arrow tables to one parquet file in row groups of exactly ``row_group`` rows.

    Row groups are cut at fixed row counts (only the last may be shorter), and each is
    written from contiguous arrays, so the file's bytes depend on its rows alone. The file
    is written under a temporary name; :meth:`close` publishes it.
    """

    def __init__(self, path: Path, schema: pa.Schema, row_group: int) -> None:
        self.path = path
        self.schema = schema
        self.row_group = row_group
        self._tmp = partial_path(path)
        self._fh = open_output(self._tmp)
        self._writer = pq.ParquetWriter(self._fh, schema)
        self._buffer: list[pa.Table] = []
        self._buffered = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        """Queue rows (in this writer's schema, metadata aside); write every full row group."""
        if not table.num_rows:
            return
        self._buffer.append(pa.Table.from_arrays(table.columns, schema=self.schema))
        self._buffered += table.num_rows
        self.rows += table.num_rows
        while self._buffered >= self.row_group:
            self._flush(self.row_group)

    def _flush(self, rows: int) -> None:
        """Write the first ``rows`` buffered rows as one row group."""
        table = pa.concat_tables(self._buffer).combine_chunks()
        self._writer.write_table(table.slice(0, rows), row_group_size=rows)
        rest = table.slice(rows)
        self._buffer = [rest] if rest.num_rows else []
        self._buffered = rest.num_rows

    def close(self) -> None:
        """Write what is left, close the file (on the disk) and move it into place."""
        if self._buffered:
            self._flush(self._buffered)
        self._writer.close()
        _close_synced(self._fh)
        replace_file(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file without publishing it; never raises."""
        with contextlib.suppress(Exception):
            self._writer.close()
        # A close that failed (a full disk) leaves the writer open, and its __del__ would
        # try again and print a traceback at exit: it has nothing left to save.
        self._writer.is_open = False
        _discard(self._fh, self._tmp)


def _close_synced(fh: BinaryIO) -> None:
    """Flush a file, sync it to the disk and close it."""
    try:
        fh.flush()
        os.fsync(fh.fileno())
    finally:
        fh.close()


def _discard(fh: BinaryIO, tmp: Path) -> None:
    """Close a temporary file and delete it, whatever state the disk is in."""
    with contextlib.suppress(Exception):
        fh.close()
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)


def npy_header(shape: tuple[int, ...]) -> bytes:
    """Return the ``.npy`` header of an int8 array of ``shape``, as ``np.save`` writes it."""
    import io

    buf = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.int8)), "fortran_order": False}
    np.lib.format.write_array_header_1_0(buf, {**header, "shape": shape})
    return buf.getvalue()


class TrajectoryWriter:
    """Appends int8 trajectory blocks ``(runs, dyads, days + 1)`` to an ``.npy`` file.

    The data go straight to the file (nothing is held or memory-mapped), after a header
    sized for the final shape; :meth:`close` writes the real header and publishes the file.
    """

    def __init__(self, path: Path, n_dyads: int, n_days: int) -> None:
        self.path = path
        self.inner = (n_dyads, n_days)
        self.rows = 0
        self._tmp = partial_path(path)
        self._fh = open_output(self._tmp)
        self._header_size = len(npy_header((0, *self.inner)))
        self._fh.write(b"\0" * self._header_size)

    def write(self, block: np.ndarray) -> None:
        """Append the trajectories of the next replications."""
        if block.shape[1:] != self.inner:
            raise ValueError(f"trajectories of shape {block.shape[1:]}, expected {self.inner}")
        self._fh.write(np.ascontiguousarray(block, dtype=np.int8).tobytes())
        self.rows += len(block)

    def close(self) -> None:
        """Write the header for the rows written, close the file and move it into place."""
        header = npy_header((self.rows, *self.inner))
        if len(header) != self._header_size:  # Only for absurd shapes: a 64-byte boundary.
            raise RuntimeError("trajectory header does not fit the space reserved for it")
        self._fh.seek(0)
        self._fh.write(header)
        _close_synced(self._fh)
        replace_file(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file without publishing it; never raises."""
        _discard(self._fh, self._tmp)


# --- the journal of completed chunks ------------------------------------------------------------

_MAGIC = b"SIMCHNK1"
#: A record's header: magic, first replication, count, finished, failed, the byte sizes of
#: its four parts (runs, moves, failures, trajectories), their CRC-32, the header's CRC-32.
_HEADER = struct.Struct("<8s8qII")


@dataclass
class ChunkTables:
    """The results of replications ``first .. first + count - 1``, as the store takes them.

    ``runs``, ``moves`` and ``trajectories`` (int8, ``(finished, dyads, days + 1)``) hold the
    replications that finished, in index order; ``failures`` those that raised. The
    journal gives them back as they were saved; an ensemble's chunk carries more.
    """

    first: int
    count: int
    runs: pa.Table
    moves: pa.Table
    failures: pa.Table
    trajectories: np.ndarray

    @property
    def end(self) -> int:
        """One past the last replication of the chunk."""
        return self.first + self.count


def _table_bytes(table: pa.Table) -> bytes:
    """Return a table as a small parquet file (no schema metadata: the reader has it)."""
    if not table.num_rows:
        return b""
    import io

    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buf, store_schema=False)
    return buf.getvalue()


def _table_from(data: bytes, schema: pa.Schema) -> pa.Table:
    """Return the table of :func:`_table_bytes` in ``schema``."""
    if not data:
        return schema.empty_table()
    table = pq.read_table(pa.BufferReader(data))
    return pa.Table.from_arrays(table.columns, schema=schema)


def _record(chunk: ChunkTables) -> bytes:
    """Return one journal record: header, then the four parts."""
    parts = [
        _table_bytes(chunk.runs),
        _table_bytes(chunk.moves),
        _table_bytes(chunk.failures),
        zlib.compress(np.ascontiguousarray(chunk.trajectories, dtype=np.int8).tobytes(), 1),
    ]
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    sizes = [len(part) for part in parts]
    counts = (chunk.first, chunk.count, chunk.runs.num_rows, chunk.failures.num_rows)
    head = _HEADER.pack(_MAGIC, *counts, *sizes, crc, 0)
    head = head[:-4] + struct.pack("<I", zlib.crc32(head[:-4]))
    return b"".join([head, *parts])


@dataclass(frozen=True)
class _Header:
    first: int
    count: int
    finished: int
    failed: int
    sizes: tuple[int, int, int, int]
    crc: int

    @property
    def end(self) -> int:
        return self.first + self.count


def _read_header(fh: BinaryIO) -> _Header | None:
    """Return the next record's header, None at the end or at a torn or foreign one."""
    raw = fh.read(_HEADER.size)
    if len(raw) < _HEADER.size or zlib.crc32(raw[:-4]) != struct.unpack("<I", raw[-4:])[0]:
        return None
    magic, first, count, finished, failed, *sizes, crc, _ = _HEADER.unpack(raw)
    if magic != _MAGIC or min(first, count, finished, failed, *sizes) < 0:
        return None
    return _Header(first, count, finished, failed, (sizes[0], sizes[1], sizes[2], sizes[3]), crc)


def _read_parts(fh: BinaryIO, header: _Header) -> list[bytes] | None:
    """Return a record's four parts, None if the file ends or the checksum fails."""
    parts, crc = [], 0
    for size in header.sizes:
        part = fh.read(size)
        if len(part) < size:
            return None
        parts.append(part)
        crc = zlib.crc32(part, crc)
    return parts if crc == header.crc else None


class JournalReader:
    """Reads a journal's valid records: contiguous from replication 0, whole, checksums right.

    Iterating yields each record's :class:`ChunkTables` (given the runs schema and the
    trajectories' inner shape; without them, :meth:`count` only counts); either way the
    reader stops at the first record that is torn, corrupt or out of sequence
    (what a process killed mid-write leaves) and ``completed``, ``finished``, ``failed``
    and ``valid_bytes`` then describe the valid prefix.
    """

    def __init__(self, path: Path, runs_schema: pa.Schema | None = None, inner: Any = None):
        self.path = path
        self.runs_schema = runs_schema
        self.inner = inner
        self.completed = self.finished = self.failed = self.valid_bytes = 0

    def __iter__(self) -> Iterator[ChunkTables]:
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            return
        with fh:
            while (header := _read_header(fh)) is not None and header.first == self.completed:
                parts = _read_parts(fh, header)
                if parts is None:
                    break
                chunk = self._decode(header, parts) if self.runs_schema is not None else None
                self.completed, self.valid_bytes = header.end, fh.tell()
                self.finished += header.finished
                self.failed += header.failed
                if chunk is not None:
                    yield chunk

    def count(self) -> JournalReader:
        """Read to the end without decoding; return self (its counts are then set)."""
        for _ in self:
            pass
        return self

    def _decode(self, header: _Header, parts: list[bytes]) -> ChunkTables:
        assert self.runs_schema is not None
        shape = (header.finished, *self.inner)
        traj = np.frombuffer(zlib.decompress(parts[3]), dtype=np.int8).reshape(shape)
        return ChunkTables(
            header.first,
            header.count,
            _table_from(parts[0], self.runs_schema),
            _table_from(parts[1], MOVES_SCHEMA),
            _table_from(parts[2], FAILURES_SCHEMA),
            traj,
        )


class Journal:
    """Appends completed chunks to a folder's ``chunks.journal``; see :class:`JournalReader`.

    A record is written whole with one call and synced to the disk at once (a killed
    process, even a lost machine, loses no chunk the journal took; a sync costs well under
    a millisecond, a chunk tens of them at least). A write that fails (a full disk) cuts
    the file back to its last whole record and leaves the journal closed: what it held
    stays valid.
    """

    def __init__(self, folder: Path, valid_bytes: int = 0, completed: int = 0) -> None:
        self.path = folder / CHUNKS
        if valid_bytes:
            os.truncate(self.path, valid_bytes)  # Drop what a killed writer left half done.
        self._fh: BinaryIO | None = open_output(self.path, append=bool(valid_bytes))
        self._folder = folder.resolve()
        _WRITING.add(self._folder)
        self.size = valid_bytes
        self.completed = completed

    def append(self, chunk: ChunkTables) -> None:
        """Append the results of the chunk's replications (the next ones)."""
        if self._fh is None:
            raise RuntimeError(f"{self.path} was closed after a failed write")
        if chunk.first != self.completed:
            raise RuntimeError(f"chunk at {chunk.first} after {self.completed} replications")
        record = _record(chunk)
        try:
            self._fh.write(record)
            self.sync()
        except BaseException:
            self._cut_back()
            raise
        self.size += len(record)
        self.completed = chunk.first + chunk.count

    def sync(self) -> None:
        """Sync what was appended to the disk."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        """Sync and close the journal (it stays on the disk)."""
        fh, self._fh = self._fh, None
        _WRITING.discard(self._folder)
        if fh is not None:
            _close_synced(fh)

    def _cut_back(self) -> None:
        """After a failed write: close, and cut the file back to its last whole record."""
        fh, self._fh = self._fh, None
        _WRITING.discard(self._folder)
        with contextlib.suppress(Exception):
            assert fh is not None
            fh.close()  # Its flush may fail again: the buffer is dropped with the file.
        with contextlib.suppress(OSError):  # A reader ignores a torn tail anyway.
            os.truncate(self.path, self.size)

    def remove(self) -> None:
        """Delete the journal (the folder is complete and its tables are on the disk)."""
        self.close()
        self.path.unlink(missing_ok=True)


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
            self.runs = TableWriter(path / RUNS, runs_schema, RUNS_ROW_GROUP)
            self.moves = TableWriter(path / MOVES, MOVES_SCHEMA, MOVES_ROW_GROUP)
            self.failures = TableWriter(path / FAILURES, FAILURES_SCHEMA, FAILURES_ROW_GROUP)
            self.trajectories = TrajectoryWriter(path / TRAJECTORIES, n_dyads, days + 1)
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
        journal = Journal(path, saved.valid_bytes, saved.completed)
        writer = cls(path, runs_schema, n_dyads, days, journal)
        try:
            reader = JournalReader(path / CHUNKS, runs_schema, (n_dyads, days + 1))
            for chunk in reader:
                restore(chunk)
                writer.write_tables(chunk)
            if reader.completed != saved.completed:
                raise RuntimeError(f"{journal.path} changed while it was read")
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
        sync_folder(self.path)

    def abort(self) -> None:
        """Drop every temporary file without publishing; close the journal. Never raises."""
        for part in ("runs", "moves", "failures", "trajectories"):
            writer = getattr(self, part, None)
            if writer is not None:
                writer.abort()
        with contextlib.suppress(Exception):
            self.journal.close()


class MemoryTables:
    """Holds an ensemble's tables in memory, for runs without a results folder."""

    def __init__(self, runs_schema: pa.Schema, n_dyads: int, days: int) -> None:
        self.runs_schema = runs_schema
        self.inner = (n_dyads, days + 1)
        self._runs: list[pa.Table] = []
        self._moves: list[pa.Table] = []
        self._failures: list[pa.Table] = []
        self._trajectories: list[np.ndarray] = []

    def append(self, chunk: ChunkTables) -> None:
        """Keep the results of the next replications."""
        self._runs.append(chunk.runs)
        self._moves.append(chunk.moves)
        self._failures.append(chunk.failures)
        self._trajectories.append(chunk.trajectories)

    def runs(self) -> pd.DataFrame:
        """Return the runs table."""
        return _concat(self._runs, self.runs_schema).to_pandas()

    def moves(self) -> pd.DataFrame:
        """Return the moves table."""
        return _concat(self._moves, MOVES_SCHEMA).to_pandas()

    def failures(self) -> pd.DataFrame:
        """Return the failures table."""
        return _concat(self._failures, FAILURES_SCHEMA).to_pandas()

    def trajectories(self) -> np.ndarray:
        """Return the trajectories, shape ``(runs, dyads, days + 1)``."""
        if not self._trajectories:
            return np.empty((0, *self.inner), dtype=np.int8)
        return np.concatenate(self._trajectories)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    """Concatenate tables into one of ``schema`` (an empty one when there are none)."""
    tables = [pa.Table.from_arrays(t.columns, schema=schema) for t in tables]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def build_manifest(
    *,
    scenario: Any,
    seed: int,
    runs: int,
    completed: int,
    spec: Any,
    command: str | None,
    started: dt.datetime,
    finished: dt.datetime | None,
    status: str,
    error: str | None = None,
    extra: Mapping[str, Any] | None = None,
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
        "finished": finished.isoformat(timespec="seconds") if finished else None,
        **(extra or {}),
        "files": {
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
    tables = shown == runs and all((path / name).is_file() for name in (SUMMARY, RUNS))
    return Saved(path, runs, tables)


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
