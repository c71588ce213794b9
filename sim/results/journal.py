"""The journal of completed chunks: what a killed run leaves, and what a resume trusts.

Until a folder is complete it holds ``chunks.journal``: every completed chunk, appended and
synced to the disk as it completes, each record framed by its sizes and a checksum. It is
what a resume trusts and what :func:`sim.results.store.saved` counts: a process killed in
any way (SIGKILL, a full disk, a lost machine) loses at most the chunks in flight, and a
resume that fails loses nothing its predecessor saved, whatever the manifest and the
tables say. It is deleted once the folder is complete and its tables are on the disk.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.results import disk
from sim.results.files import CHUNKS
from sim.results.tables import FAILURES_SCHEMA, MOVES_SCHEMA, ChunkTables

_MAGIC = b"SIMCHNK1"
#: A record's header: magic, first replication, count, finished, failed, the byte sizes of
#: its four parts (runs, moves, failures, trajectories), their CRC-32, the header's CRC-32.
_HEADER = struct.Struct("<8s8qII")

#: The folders whose journal this process holds open now: a manifest that names this
#: process as a folder's live writer is stale once that ended (a full disk, say).
_WRITING: set[Path] = set()


def held_open(folder: Path) -> bool:
    """Whether this process holds the journal of ``folder`` open now."""
    return Path(folder).resolve() in _WRITING


def _table_bytes(table: pa.Table) -> bytes:
    """Return a table as a small parquet file (no schema metadata: the reader has it)."""
    if not table.num_rows:
        return b""
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
        self._fh: BinaryIO | None = disk.open_output(self.path, append=bool(valid_bytes))
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
            disk.close_synced(fh)

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
