"""Records written so that a crash leaves the old or the new file, never a torn one."""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes) -> None:
    """Temp file, fsync, rename over ``path``, fsync of the directory (the rename's entry)."""
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
