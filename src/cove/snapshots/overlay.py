"""The overlayfs snapshotter.

Each snapshot is ``snapshots/<id>/fs`` (its own layer) and, while active,
``work`` (overlayfs' work dir). An active snapshot mounts as one overlay whose
lowerdirs are its ancestors (newest first) and whose upper is its ``fs``; with no
parent it is a bind mount of ``fs``. A view of a single layer is a read-only
bind mount; of several, a read-only overlay of lowerdirs only.
"""

from __future__ import annotations

import os
import shutil

from cove.snapshots.base import Kind, Mount, StoreBase
from cove.snapshots.changes import Change, overlay_changes


class OverlaySnapshotter(StoreBase):
    def _create_dirs(self, path: str, kind: Kind, parent_path: str | None) -> None:
        os.mkdir(os.path.join(path, "fs"), 0o755)
        if kind is Kind.ACTIVE:
            os.mkdir(os.path.join(path, "work"), 0o700)

    def _changes(self, fs: str, chain: list[str]) -> list[Change]:
        return overlay_changes(fs, chain)

    def _commit_dirs(self, path: str) -> None:
        shutil.rmtree(os.path.join(path, "work"), ignore_errors=True)

    def _mounts(self, path: str, kind: Kind, chain: list[str]) -> list[Mount]:
        lowers = [os.path.join(p, "fs") for p in chain]
        if kind is Kind.ACTIVE:
            if not lowers:
                return [Mount("bind", os.path.join(path, "fs"), ("rbind", "rw"))]
            return [Mount("overlay", "overlay", (
                f"workdir={os.path.join(path, 'work')}",
                f"upperdir={os.path.join(path, 'fs')}",
                "lowerdir=" + ":".join(lowers),
                "index=off",
            ))]
        if not lowers:
            return [Mount("bind", os.path.join(path, "fs"), ("rbind", "ro"))]
        if len(lowers) == 1:
            return [Mount("bind", lowers[0], ("rbind", "ro"))]
        return [Mount("overlay", "overlay", ("lowerdir=" + ":".join(lowers), "ro"))]
