"""The store's boundary with the file system: every write of a results folder goes through here.

Every file of a folder is opened through :func:`open_output` and moved into place through
:func:`replace_file`, and free space is asked of :func:`free_space`: one place to see (and,
in the tests, to break) every write. Callers use these through the module
(``disk.open_output(...)``), never a copy of the name, so a test that replaces one replaces
it everywhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import BinaryIO


def partial_path(path: Path) -> Path:
    """Return the temporary name a file is written under before it is moved into place."""
    return path.with_name(f".{path.name}.part")


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


def close_synced(fh: BinaryIO) -> None:
    """Flush a file, sync it to the disk and close it."""
    try:
        fh.flush()
        os.fsync(fh.fileno())
    finally:
        fh.close()


def discard(fh: BinaryIO, tmp: Path) -> None:
    """Close a temporary file and delete it, whatever state the disk is in."""
    with contextlib.suppress(Exception):
        fh.close()
    with contextlib.suppress(OSError):
        tmp.unlink(missing_ok=True)
