"""Cove's error hierarchy, shared by every layer.

Each layer raises one of these kinds with context (the path, the container id,
the config field); only the edges (CLI exit codes, HTTP statuses) translate
them.
"""

from __future__ import annotations


class CoveError(Exception):
    """Base of every error Cove raises on purpose."""


class NotFound(CoveError):
    """The named object (container, path, namespace, ...) does not exist."""


class AlreadyExists(CoveError):
    """An object with that name or id already exists."""


class InvalidArgument(CoveError):
    """The caller's input (flags, config.json, ids) is malformed or inconsistent."""


class FailedPrecondition(CoveError):
    """The object is in the wrong state for the operation (e.g. start of a running container)."""


class Unsupported(CoveError):
    """The host or kernel cannot do what was asked."""


class SyscallError(CoveError):
    """An operating-system call failed; the message names the object it was about."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


class Conflict(FailedPrecondition):
    """The request conflicts with the object's current state (running, paused, in use)."""


class NotModified(CoveError):
    """Nothing to do: the object is already in the asked state (HTTP 304 at the API)."""
