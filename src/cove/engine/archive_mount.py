"""A private, detached clone of a container's rootfs mount for one cp transfer.

Files a transfer holds open under ``c.rootfs`` would pin that mount: an ``rm``
meanwhile would fail to unmount it (EBUSY). ``open_tree(OPEN_TREE_CLONE)`` gives a
copy of the mount that is attached nowhere; the transfer works through it, so the
container's own mount can go at any time, and the clone (with the filesystem under
it) is released when the transfer closes its fds. Kernels before 5.2, or a denied
call, fall back to the rootfs itself.

(The syscall wrapper belongs in cove.linux.libc, whose table lacks open_tree; it
is here until that module, which this change does not own, grows one.)
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
from typing import Final

from cove.linux import syscall_table

log = logging.getLogger(__name__)

_AT_FDCWD: Final = -100
_AT_SYMLINK_NOFOLLOW: Final = 0x100
_OPEN_TREE_CLONE: Final = 1
_OPEN_TREE_CLOEXEC: Final = os.O_CLOEXEC
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_TABLES: Final = {"x86_64": syscall_table.X86_64, "aarch64": syscall_table.AARCH64}
_NR_OPEN_TREE: Final = _TABLES.get(os.uname().machine, {}).get("open_tree")
_libc: Final = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _open_tree(path: str, flags: int) -> int:
    if _NR_OPEN_TREE is None:
        raise OSError(errno.ENOSYS, "open_tree: no syscall number for this machine", path)
    fd = int(_libc.syscall(ctypes.c_long(_NR_OPEN_TREE), ctypes.c_int(_AT_FDCWD),
                           os.fsencode(path), ctypes.c_uint(flags)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"open_tree: {os.strerror(err)}", path)
    return fd


def open_detached_root(rootfs: str) -> tuple[int, int]:
    """(clone fd to keep open, or -1; a directory fd of the root) for ``rootfs``."""
    try:
        tree = _open_tree(rootfs, _OPEN_TREE_CLONE | _OPEN_TREE_CLOEXEC | _AT_SYMLINK_NOFOLLOW)
    except OSError as e:
        if e.errno not in (errno.ENOSYS, errno.EPERM, errno.EINVAL):
            raise
        log.debug("open_tree on %s unavailable (%s): using the mount itself", rootfs, e)
        return -1, os.open(rootfs, _DIR_FLAGS | os.O_NOFOLLOW)
    try:
        # open_tree's fd is O_PATH: a readable directory fd is opened through it.
        return tree, os.open(".", _DIR_FLAGS, dir_fd=tree)
    except BaseException:
        os.close(tree)
        raise
