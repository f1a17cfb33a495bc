"""Choose the snapshotter once, from what the root's filesystem supports."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

from cove.errors import CoveError
from cove.linux import libc
from cove.snapshots.base import Snapshotter
from cove.snapshots.native import NativeSnapshotter
from cove.snapshots.overlay import OverlaySnapshotter

log = logging.getLogger(__name__)


def overlay_works(root: str) -> bool:
    """True if an overlay mount with upper and work dirs on ``root``'s fs succeeds."""
    os.makedirs(root, mode=0o700, exist_ok=True)
    top = tempfile.mkdtemp(prefix=".overlay-check-", dir=root)
    try:
        dirs = {n: os.path.join(top, n) for n in ("lower", "upper", "work", "merged")}
        for d in dirs.values():
            os.mkdir(d)
        try:
            libc.mount("overlay", dirs["merged"], "overlay", 0,
                       f"lowerdir={dirs['lower']},upperdir={dirs['upper']},"
                       f"workdir={dirs['work']}")
        except CoveError as exc:
            log.info("overlayfs not usable on %s: %s", root, exc)
            return False
        libc.umount(dirs["merged"], libc.MNT_DETACH)
        return True
    finally:
        shutil.rmtree(top, ignore_errors=True)


def choose_snapshotter(root: str) -> Snapshotter:
    """An overlay snapshotter if overlayfs works under ``root``, else a native one."""
    if overlay_works(root):
        return OverlaySnapshotter(root)
    return NativeSnapshotter(root)
