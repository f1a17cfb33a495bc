"""Resolve Docker's ``User`` ("name", "uid", "name:group", "uid:gid") inside a rootfs.

The rootfs comes from an image, so it is hostile: /etc/passwd may be a symlink to
the host's /etc/shadow, or /etc a symlink to /. Paths are resolved with
:func:`cove.runtime.securejoin.secure_join` (symlinks stay inside the rootfs),
opened with O_NOFOLLOW, and the opened file is checked again through
/proc/self/fd to be a regular file inside the rootfs, closing the window in
which the image's files could be swapped. Reads are capped in size.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass

from cove.errors import InvalidArgument
from cove.runtime.securejoin import is_within, secure_join

__all__ = ["ResolvedUser", "read_rootfs_file", "resolve_user"]

_MAX_ID = (1 << 31) - 1
_MAX_FILE = 16 << 20  # larger passwd/group files are refused, not read into memory


@dataclass(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str
    name: str  # "" when the user is not in /etc/passwd


@dataclass(frozen=True)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


def read_rootfs_file(rootfs: str, path: str) -> str | None:
    """The text of ``path`` inside ``rootfs``; None if it does not exist there.

    Refuses (``InvalidArgument``) anything but a regular file resolved inside the rootfs.
    """
    resolved = secure_join(rootfs, path)
    try:
        # O_PATH first: opening a device node or FIFO planted at /etc/passwd for reading
        # could block or have side effects; only a regular file is opened for real.
        handle = os.open(resolved, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise InvalidArgument(f"cannot open {path} in the container's rootfs: "
                              f"{exc.strerror}") from None
    try:
        st = os.fstat(handle)
        if stat.S_ISLNK(st.st_mode):
            raise InvalidArgument(f"{path} in the container's rootfs is a symlink that "
                                  "changed while being resolved")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArgument(f"{path} in the container's rootfs is not a regular file")
        # secure_join resolved the path, but a directory on it may have been swapped
        # for a symlink since: check where the opened file really is.
        real = os.readlink(f"/proc/self/fd/{handle}")
        if not is_within(os.path.realpath(rootfs), real):
            raise InvalidArgument(f"{path} in the container's rootfs resolves outside it")
        if st.st_size > _MAX_FILE:
            raise InvalidArgument(f"{path} in the container's rootfs is larger than "
                                  f"{_MAX_FILE} bytes")
        fd = os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(handle)
    try:
        chunks = []
        total = 0
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            if total > _MAX_FILE:
                raise InvalidArgument(f"{path} in the container's rootfs is larger than "
                                      f"{_MAX_FILE} bytes")
            chunks.append(chunk)
        return b"".join(chunks).decode("utf-8", errors="replace")
    finally:
        os.close(fd)


def _parse_id(text: str) -> int | None:
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= _MAX_ID else None


def _passwd_entries(text: str | None) -> list[_Passwd]:
    out = []
    for line in (text or "").splitlines():
        parts = line.split(":")
        if len(parts) < 4 or line.startswith("#"):
            continue
        uid, gid = _parse_id(parts[2]), _parse_id(parts[3])
        if uid is None or gid is None:
            continue
        out.append(_Passwd(parts[0], uid, gid, parts[5] if len(parts) > 5 else ""))
    return out


def _group_entries(text: str | None) -> list[_Group]:
    out = []
    for line in (text or "").splitlines():
        parts = line.split(":")
        if len(parts) < 3 or line.startswith("#"):
            continue
        gid = _parse_id(parts[2])
        if gid is None:
            continue
        members = tuple(m for m in (parts[3].split(",") if len(parts) > 3 else ()) if m)
        out.append(_Group(parts[0], gid, members))
    return out


def _numeric(text: str, what: str) -> int | None:
    if text.isascii() and text.isdigit():
        value = int(text)
        if value > _MAX_ID:
            raise InvalidArgument(f"invalid {what} {text}: uids and gids must be in range "
                                  f"0-{_MAX_ID}")
        return value
    if text.startswith("-") and text[1:].isdigit():
        raise InvalidArgument(f"invalid {what} {text}: uids and gids must be in range "
                              f"0-{_MAX_ID}")
    return None


def resolve_user(rootfs: str, user: str, group_add: Iterable[str] = ()) -> ResolvedUser:
    """Docker's lookup: the user by name, else a number (which need not exist); the group
    from ``:group`` or the user's passwd entry; supplementary groups from /etc/group
    membership (only without an explicit group) and ``group_add`` (names or numbers).
    The primary gid is listed first in ``additional_gids`` so setgroups(2) keeps it."""
    user_part, sep, group_part = user.partition(":")
    if sep and not group_part:
        raise InvalidArgument(f'invalid User: "{user}" (empty group)')
    passwd = _passwd_entries(read_rootfs_file(rootfs, "/etc/passwd"))
    groups = _group_entries(read_rootfs_file(rootfs, "/etc/group"))

    entry = _find_user(user_part, passwd)
    uid, gid, home, name = 0, 0, "/", ""
    if entry is not None:
        uid, gid, home, name = entry.uid, entry.gid, entry.home or "/", entry.name
    elif user_part:
        number = _numeric(user_part, "user")
        if number is None:
            raise InvalidArgument(f"unable to find user {user_part}: no matching entries in "
                                  "passwd file")
        uid = number
    else:
        root = next((p for p in passwd if p.uid == 0), None)
        home = root.home if root is not None and root.home else "/root"
        name = root.name if root is not None else "root"

    supplementary: list[int] = []
    if group_part:
        gid = _find_group(group_part, groups)
    elif name:
        supplementary = [g.gid for g in groups if name in g.members]
    for item in group_add:
        supplementary.append(_find_group(item, groups))
    additional = tuple(dict.fromkeys([gid, *supplementary]))
    return ResolvedUser(uid, gid, additional, home, name)


def _find_user(text: str, passwd: list[_Passwd]) -> _Passwd | None:
    if not text:
        return None
    for entry in passwd:
        if entry.name == text:
            return entry
    number = _numeric(text, "user")
    if number is None:
        return None
    return next((p for p in passwd if p.uid == number), None)


def _find_group(text: str, groups: list[_Group]) -> int:
    for entry in groups:
        if entry.name == text:
            return entry.gid
    number = _numeric(text, "group")
    if number is not None:
        return number
    raise InvalidArgument(f"unable to find group {text}: no matching entries in group file")
