"""Errors a user can cause, each carrying a complete message and an exit code.

Every error the CLI should report as a plain message (no traceback) derives from
:class:`SimError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SimError(Exception):
    """Base of all user-facing errors; ``str(error)`` is the whole message."""

    exit_code: int = 2


class UsageError(SimError):
    """A command or API call asked for something that cannot be done as asked."""


class SimWarning(UserWarning):
    """Something a user should know that does not stop the command (the CLI prints one line)."""
