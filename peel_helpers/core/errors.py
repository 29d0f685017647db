"""One exception family whose message is always one line: what is wrong and how to fix it.

Notebooks and the command line show ``str(error)`` and nothing else, so every message
must name the bad input and the remedy.
"""

from __future__ import annotations


class PeelError(Exception):
    """Base class. ``str(err)`` is a single line meant for the reader."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class UnknownForceError(PeelError, LookupError):
    """A force name, slug or code that is not one of the 43 territorial forces."""


class PeriodError(PeelError, ValueError):
    """A period that is malformed, or that a source does not cover."""


class ParameterError(PeelError, ValueError):
    """A notebook or command-line parameter that is not recognised or has a bad value."""


class DataFileError(PeelError, OSError):
    """A source file that is missing, corrupted or in an unexpected layout."""


class HashMismatchError(DataFileError):
    """A file whose sha256 differs from the one pinned in the data manifest."""


class SchemaError(DataFileError):
    """A table that does not pass its schema after reading."""


class OutputError(PeelError, OSError):
    """A file a command was asked to write that cannot be written (a folder, a read-only place, a path
    under a file, a full disk). Commands exit with :data:`EXIT_CANNOT_WRITE` and write nothing."""


# Exit status of a command that could not write what it was asked to (1 and 2 keep their meanings:
# a difference that no documented cause explains, and a bad argument or unreadable data).
EXIT_CANNOT_WRITE = 3
