"""Errors of `docker cp` (the container archive endpoints), in Docker's wording.

The docker CLI shows these messages as they are, so they keep Docker's text; the
HTTP status of each is fixed here (``http_status``) or by its cove.errors kind.
"""

from __future__ import annotations

from cove.errors import CoveError, FailedPrecondition, InvalidArgument, NotFound


class PathNotFound(NotFound):
    """A path in the container does not exist: 404."""

    def __init__(self, path: str, container: str) -> None:
        super().__init__(f"Could not find the file {path} in container {container}")
        self.path = path
        self.container = container


class NotADirectory(InvalidArgument):
    """A component on the way, or the extraction point, is not a directory: 400."""


class ReadOnlyTarget(CoveError):
    """The write would land on a read-only root filesystem or volume: 403."""

    http_status = 403


class UnsafeArchiveEntry(InvalidArgument):
    """An uploaded tar entry would leave its extraction directory: 400."""


class WouldOverwrite(InvalidArgument):
    """noOverwriteDirNonDir: a directory and a non-directory would replace each other."""


class MountPointBusy(FailedPrecondition):
    """An entry would replace a bind mount's mount point (the kernel says EBUSY): 409."""


class RootfsUnavailable(FailedPrecondition):
    """The container's root filesystem is not mounted (being removed, or broken): 409."""
