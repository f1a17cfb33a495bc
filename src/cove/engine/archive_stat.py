"""ContainerPathStat: what HEAD /containers/{id}/archive answers, in Go's encoding.

The X-Docker-Container-Path-Stat header is base64 of JSON whose ``mode`` is a Go
``os.FileMode``: the permission bits plus Go's own type bits (ModeDir is 1<<31,
not S_IFDIR), which the docker CLI tests with ``Mode.IsDir()`` and
``Mode&os.ModeSymlink``.
"""

from __future__ import annotations

import base64
import json
import stat
import time
from dataclasses import dataclass
from typing import Final

STAT_HEADER: Final = "X-Docker-Container-Path-Stat"

GO_MODE_DIR: Final = 1 << 31
GO_MODE_APPEND: Final = 1 << 30
GO_MODE_SYMLINK: Final = 1 << 27
GO_MODE_DEVICE: Final = 1 << 26
GO_MODE_NAMED_PIPE: Final = 1 << 25
GO_MODE_SOCKET: Final = 1 << 24
GO_MODE_SETUID: Final = 1 << 23
GO_MODE_SETGID: Final = 1 << 22
GO_MODE_CHAR_DEVICE: Final = 1 << 21
GO_MODE_STICKY: Final = 1 << 20


def go_file_mode(st_mode: int) -> int:
    """A stat st_mode as Go's os.FileMode."""
    mode = st_mode & 0o777
    if stat.S_ISDIR(st_mode):
        mode |= GO_MODE_DIR
    elif stat.S_ISLNK(st_mode):
        mode |= GO_MODE_SYMLINK
    elif stat.S_ISBLK(st_mode):
        mode |= GO_MODE_DEVICE
    elif stat.S_ISCHR(st_mode):
        mode |= GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE
    elif stat.S_ISFIFO(st_mode):
        mode |= GO_MODE_NAMED_PIPE
    elif stat.S_ISSOCK(st_mode):
        mode |= GO_MODE_SOCKET
    if st_mode & stat.S_ISUID:
        mode |= GO_MODE_SETUID
    if st_mode & stat.S_ISGID:
        mode |= GO_MODE_SETGID
    if st_mode & stat.S_ISVTX:
        mode |= GO_MODE_STICKY
    return mode


def rfc3339_nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    return text + "Z"


@dataclass(frozen=True)
class PathStat:
    name: str
    size: int
    mode: int  # Go os.FileMode
    mtime: str
    link_target: str  # for a symlink: where it leads in the container, fully resolved

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "size": self.size, "mode": self.mode,
                "mtime": self.mtime, "linkTarget": self.link_target}

    def header_value(self) -> str:
        raw = json.dumps(self.to_json(), separators=(",", ":")).encode()
        return base64.b64encode(raw).decode("ascii")
