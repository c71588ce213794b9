"""The tables of an ensemble's folder as they stream to the disk, or stay in memory.

Tables stream to disk as chunks arrive, in row groups of a fixed number of rows, so memory
stays flat however many replications run, and the bytes of a file depend only on its rows,
never on how the work was chunked, which executor ran it or whether it was resumed. Every
file is written under a temporary name (:func:`~sim.results.disk.partial_path`) and moved
into place when it is closed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.engine.record import MoveRecord
from sim.results import disk

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
        self._tmp = disk.partial_path(path)
        self._fh = disk.open_output(self._tmp)
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
        disk.close_synced(self._fh)
        disk.replace_file(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file without publishing it; never raises."""
        with contextlib.suppress(Exception):
            self._writer.close()
        # A close that failed (a full disk) leaves the writer open, and its __del__ would
        # try again and print a traceback at exit: it has nothing left to save.
        self._writer.is_open = False
        disk.discard(self._fh, self._tmp)


def npy_header(shape: tuple[int, ...]) -> bytes:
    """Return the ``.npy`` header of an int8 array of ``shape``, as ``np.save`` writes it."""
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
        self._tmp = disk.partial_path(path)
        self._fh = disk.open_output(self._tmp)
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
        disk.close_synced(self._fh)
        disk.replace_file(self._tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file without publishing it; never raises."""
        disk.discard(self._fh, self._tmp)


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
