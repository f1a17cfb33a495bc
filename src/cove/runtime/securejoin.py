"""Resolve a path inside a root directory the way the container would see it.

A mount destination like ``/data`` may pass through symlinks planted in the
image (``/data -> /../../etc``). Every component is resolved by hand: absolute
link targets restart at the root, ``..`` never climbs above it, so the result
always stays inside ``root`` (the securejoin approach). The caller then opens
the result with ``O_PATH|O_NOFOLLOW`` and re-checks it through /proc before
mounting on it, which closes the remaining race window.
"""

from __future__ import annotations

import errno
import os
import stat

from cove.errors import InvalidArgument

_MAX_LINKS = 255


def secure_join(root: str, unsafe: str) -> str:
    """Return ``root``/``unsafe`` with every symlink resolved without leaving ``root``.

    Components that do not exist yet are appended literally (they will be
    created by the caller, inside the root).
    """
    root = os.path.abspath(root)
    pending = [c for c in unsafe.split("/") if c and c != "."]
    pending.reverse()
    resolved: list[str] = []
    links = 0
    while pending:
        part = pending.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                resolved.append(part)
                continue
            raise
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > _MAX_LINKS:
            raise InvalidArgument(f"too many levels of symbolic links resolving {unsafe!r}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        more = [c for c in target.split("/") if c and c != "."]
        pending.extend(reversed(more))
    return os.path.join(root, *resolved)


def is_within(root: str, path: str) -> bool:
    root = os.path.abspath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def mkdir_all_in_root(root: str, unsafe: str, mode: int = 0o755) -> str:
    """Create ``unsafe`` (and parents) inside ``root``; symlinks resolve inside ``root``."""
    target = secure_join(root, unsafe)
    rel = os.path.relpath(target, root)
    current = root
    if rel == ".":
        return target
    for part in rel.split("/"):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, mode)
        except FileExistsError:
            st = os.lstat(current)
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"{unsafe}: {current} exists and is not a directory"
                                      ) from None
    return target
