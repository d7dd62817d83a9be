"""The errors a user's mistake raises, owned by the lowest layer so that every module can raise
them; :mod:`detector.cli` turns each into one line on stderr instead of a traceback."""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in what the user asked for (a path, an option, a file); the message is one line."""
