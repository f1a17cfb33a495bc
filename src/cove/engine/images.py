"""The image service shared by the daemon's threads.

An ImageService holds one SQLite connection, which belongs to the thread that opened
it. The daemon serves each connection on its own thread, so each thread gets its own
ImageService on the same root (SQLite's WAL mode lets them read concurrently and
write one at a time); the snapshotter is detected once and then named explicitly.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cove.images.service import ImageService


class ThreadLocalImages:
    def __init__(self, root: str, *, certs_dir: str, snapshotter: str | None) -> None:
        from cove.images.service import ImageService
        from cove.snapshots.overlay import OverlaySnapshotter
        self._root = root
        self._certs_dir = certs_dir
        self._local = threading.local()
        first = ImageService(root, certs_dir=certs_dir, snapshotter=snapshotter)
        self.snapshotter_name = "overlay" if isinstance(first.snapshotter, OverlaySnapshotter) \
            else "native"
        self._local.service = first

    def service(self) -> ImageService:
        svc: ImageService | None = getattr(self._local, "service", None)
        if svc is None:
            from cove.images.service import ImageService
            svc = ImageService(self._root, certs_dir=self._certs_dir,
                               snapshotter=self.snapshotter_name)
            self._local.service = svc
        return svc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service(), name)

    def close(self) -> None:
        svc = getattr(self._local, "service", None)
        if svc is not None:
            svc.close()
