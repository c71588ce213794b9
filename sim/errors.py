"""Errors a user can cause, each carrying a complete message and an exit code.

Every error the CLI should report as a plain message (no traceback) derives from
:class:`SimError`; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib


class SimError(Exception):
    """Base of all user-facing errors; ``str(error)`` is the whole message."""

    exit_code: int = 2


class UsageError(SimError):
    """A command or API call asked for something that cannot be done as asked."""


def closest_names(word: str, options: list[str], n: int = 3) -> list[str]:
    """The valid names most like ``word`` (a typo's likely intent), best first; may be empty.

    What a message about an unknown name offers instead (a field, a scenario, an id).
    """
    return difflib.get_close_matches(word, options, n=n, cutoff=0.5)


class SimWarning(UserWarning):
    """Something a user should know that does not stop the command (the CLI prints one line)."""
