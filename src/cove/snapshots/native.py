"""The copying snapshotter, for hosts without a usable overlayfs.

A new snapshot's ``fs`` starts as a full copy of its parent's (``cp -a``:
owners, modes, hard links, xattrs, devices and times preserved); it mounts as a
bind mount of that copy, read-only for views.
"""

from __future__ import annotations

import os
import subprocess

from cove.errors import SyscallError
from cove.snapshots.base import Kind, Mount, StoreBase
from cove.snapshots.changes import Change, tree_changes


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of ``src`` into the existing dir ``dst``, preserving everything."""
    proc = subprocess.run(["cp", "-a", "--reflink=auto", "--no-target-directory",
                           src, dst], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SyscallError(f"copy {src} to {dst}: {proc.stderr.strip()}")


class NativeSnapshotter(StoreBase):
    def _create_dirs(self, path: str, kind: Kind, parent_path: str | None) -> None:
        fs = os.path.join(path, "fs")
        if parent_path is None:
            os.mkdir(fs, 0o755)
        else:
            copy_tree(os.path.join(parent_path, "fs"), fs)

    def _changes(self, fs: str, chain: list[str]) -> list[Change]:
        return tree_changes(fs, chain[0] if chain else None)

    def _mounts(self, path: str, kind: Kind, chain: list[str]) -> list[Mount]:
        mode = "rw" if kind is Kind.ACTIVE else "ro"
        return [Mount("bind", os.path.join(path, "fs"), ("rbind", mode))]
