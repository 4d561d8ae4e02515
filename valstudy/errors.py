"""Errors that the CLI turns into one line and a non-zero exit (no traceback).

Every message names what is wrong and where: the file, and the line or key when there is one.
"""
from __future__ import annotations

from pathlib import Path


class ValstudyError(Exception):
    """Base class for errors a user can fix (bad input, missing data, weights or checkpoints)."""


class DataError(ValstudyError):
    """A dataset file is missing, malformed or inconsistent.

    >>> str(DataError("/d/labels/x.txt", "expected 3 tab-separated fields, got 2", line=7))
    '/d/labels/x.txt:7: expected 3 tab-separated fields, got 2'
    """

    def __init__(self, path: str | Path, problem: str, line: int | None = None, key: str | None = None):
        self.path, self.problem, self.line, self.key = str(path), problem, line, key
        where = self.path
        if line is not None:
            where += f":{line}"
        if key is not None:
            where += f" [{key}]"
        super().__init__(f"{where}: {problem}")


class MissingResourceError(ValstudyError):
    """A dataset root, weight file or checkpoint is absent; the message says how to get it."""

    def __init__(self, what: str, path: str | Path, remedy: str):
        self.path = str(path)
        super().__init__(f"{what} not found at {path}: {remedy}")
