"""A private, detached clone of a container's rootfs mount for one cp transfer.

Files a transfer holds open under ``c.rootfs`` would pin that mount: an ``rm``
meanwhile would fail to unmount it (EBUSY). ``open_tree(OPEN_TREE_CLONE)`` gives a
copy of the mount that is attached nowhere; the transfer works through it, so the
container's own mount can go at any time, and the clone (with the filesystem under
it) is released when the transfer closes its fds. Kernels before 5.2, or a denied
call, fall back to the rootfs itself.
"""

from __future__ import annotations

import errno
import logging
import os
from typing import Final

from cove.errors import SyscallError
from cove.linux import libc

log = logging.getLogger(__name__)

_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def open_detached_root(rootfs: str) -> tuple[int, int]:
    """(clone fd to keep open, or -1; a directory fd of the root) for ``rootfs``."""
    try:
        tree = libc.open_tree(rootfs, libc.OPEN_TREE_CLONE | libc.OPEN_TREE_CLOEXEC |
                              libc.AT_SYMLINK_NOFOLLOW)
    except SyscallError as e:
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
