"""Errors that reach the user: one line, a hint, and the exit code the CLI returns.

Exit codes are part of the interface (README, "Exit codes"); every failure a user can
cause or meet is one of these, so the CLI never shows a traceback unless --debug.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the operation failed, or doctor found errors
    USAGE = 2  # bad usage or bad input (unknown backend, malformed file)
    CONFLICT = 3  # dependency conflict found by the resolver
    PRECONDITION = 4  # a system precondition is missing (Python 3.12, driver, GPU)
    INTERRUPTED = 130


class SetupError(Exception):
    """Base class: `message` is one line, `hint` says what to do about it."""

    code: int = ExitCode.FAILED  # an ExitCode, or 128+N for a signal other than SIGINT

    def __init__(self, message: str, hint: str = "", *, details: dict | None = None, uv_failure: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}
        self.uv_failure = uv_failure  # a failed uv run: its kind (uv/failures.py classify), for callers that explain one further


class UsageError(SetupError):
    code: int = ExitCode.USAGE


class PreconditionError(SetupError):
    code: int = ExitCode.PRECONDITION


class ConflictError(SetupError):
    code: int = ExitCode.CONFLICT


class OperationError(SetupError):
    code: int = ExitCode.FAILED


class BusyError(OperationError):
    """Another skyrl-setup holds the lock on the same environment."""
