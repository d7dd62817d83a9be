"""The errors a user's mistake raises, owned by the lowest layer so that every module can raise
them; :mod:`detector.cli` turns each into one line on stderr instead of a traceback."""

from __future__ import annotations


class UserError(ValueError):
    """A mistake in what the user asked for (a path, an option, a file); the message is one line."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM ended the work: ``signum`` says which (the exit status is ``128 +
    signum``: 130 or 143) and the message what was kept (a checkpoint to resume from)."""

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message)
        self.signum, self.message = signum, message

    def __reduce__(self):
        return type(self), (self.signum, self.message)
