"""Write a directory tree as a tar stream, the way ``docker export`` does.

Ownership, modes (setuid/setgid/sticky included), mtimes (sub-second, as PAX),
extended attributes (``SCHILY.xattr.*``), hard links (the second and later
names of an inode become link entries), symlinks, devices and fifos are kept.
Sockets are skipped (tar cannot hold them).  Nothing under the tree is ever
followed: every entry is ``lstat``ed and files are opened with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from cove.errors import SyscallError

log = logging.getLogger(__name__)

_XATTR_PAX = "SCHILY.xattr."
_CHUNK = 1 << 20

# (uid, gid) of an entry -> (uid, gid) recorded in the tar.
OwnerMap = Callable[[int, int], tuple[int, int]]


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:  # the filesystem has none, or symlinks cannot carry them
        return {}
    out: dict[str, str] = {}
    for name in sorted(names):
        if name.startswith("trusted.overlay."):
            continue  # overlayfs' bookkeeping in an upper dir, not the file's
        try:
            value = os.getxattr(path, name, follow_symlinks=False)
        except OSError:
            continue
        out[_XATTR_PAX + name] = value.decode("utf-8", "surrogateescape")
    return out


def add_path(
    tar: tarfile.TarFile,
    path: str,
    rel: str,
    seen_inodes: dict[tuple[int, int], str],
    *,
    mtime: int | None = None,
    owner: OwnerMap | None = None,
    xattrs: bool = True,
) -> bool:
    """Add the entry at ``path`` as ``rel``; True if it is a directory to descend into.

    ``seen_inodes`` maps the files with several links already added to their
    names, so a second name becomes a hard link entry.
    """
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise SyscallError(f"cannot stat {path}: {exc.strerror}", exc.errno or 0) from exc
    info = tarfile.TarInfo(rel)
    info.mode = stat.S_IMODE(st.st_mode)
    uid, gid = (st.st_uid, st.st_gid) if owner is None else owner(st.st_uid, st.st_gid)
    info.uid, info.gid = uid, gid
    info.uname = info.gname = ""
    if mtime is not None:
        info.mtime = mtime
    elif st.st_mtime_ns % 1_000_000_000:
        info.mtime = st.st_mtime_ns / 1e9  # PAX keeps fractions
    else:
        info.mtime = st.st_mtime_ns // 1_000_000_000
    if xattrs:
        info.pax_headers = _xattrs(path)
    mode = st.st_mode
    body: BinaryIO | None = None
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        first = seen_inodes.get(key) if st.st_nlink > 1 else None
        if first is not None:
            info.type = tarfile.LNKTYPE
            info.linkname = first
        else:
            if st.st_nlink > 1:
                seen_inodes[key] = rel
            info.type = tarfile.REGTYPE
            info.size = st.st_size
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError as exc:
                raise SyscallError(
                    f"cannot open {path}: {exc.strerror}", exc.errno or 0
                ) from exc
            body = os.fdopen(fd, "rb")
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor = os.major(st.st_rdev)
        info.devminor = os.minor(st.st_rdev)
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    else:
        log.debug("skipping %s: a socket or unknown file type", path)
        return False
    if body is not None:
        with body:
            tar.addfile(info, body)
    else:
        tar.addfile(info)
    return info.type == tarfile.DIRTYPE


def write_tree(
    root_dir: str,
    tar: tarfile.TarFile,
    *,
    mtime: int | None = None,
    owner: OwnerMap | None = None,
    xattrs: bool = True,
) -> None:
    """Add every entry under ``root_dir`` (sorted, parents first) to ``tar``.

    ``mtime`` replaces every entry's mtime (for reproducible output); ``owner``
    maps each entry's uid/gid.
    """
    root_dir = os.path.abspath(root_dir)
    seen_inodes: dict[tuple[int, int], str] = {}

    def add(path: str, rel: str) -> bool:
        return add_path(tar, path, rel, seen_inodes, mtime=mtime, owner=owner, xattrs=xattrs)

    def walk(directory: str, prefix: str) -> None:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise SyscallError(
                f"cannot list {directory}: {exc.strerror}", exc.errno or 0
            ) from exc
        for name in names:
            path = os.path.join(directory, name)
            rel = f"{prefix}{name}"
            if add(path, rel):
                walk(path, rel + "/")

    walk(root_dir, "")
