"""Everything a request handler may reach: the daemon's services, built once at start."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cove.engine.events import EventLog
from cove.errors import NotFound

if TYPE_CHECKING:
    from cove.daemon.config import DaemonConfig
    from cove.engine.containers.model import Container
    from cove.engine.containers.service import ContainerService
    from cove.images.service import ImageService


@dataclass
class DaemonContext:
    config: DaemonConfig
    images: ImageService
    containers: ContainerService
    events: EventLog = field(default_factory=EventLog)
    started: float = 0.0
    # Filled in by handler modules that own the data (exec sessions: handlers/exec.py).
    exec_ids_provider: Callable[[str], list[str]] | None = None
    # Other services by name (exec manager, health checker...), set by their register().
    services: dict[str, Any] = field(default_factory=dict)

    def exec_ids(self, container_id: str) -> list[str]:
        return self.exec_ids_provider(container_id) if self.exec_ids_provider else []

    def image_matcher(self, c: Container, ref: str) -> bool:
        """ps --filter ancestor=: the image by name, id or a parent of it."""
        if c.image == ref:
            return True
        try:
            return self.images.get(ref).id == c.image_id
        except Exception:
            return False

    def container_sizes(self, c: Container) -> tuple[int, int]:
        """(SizeRw, SizeRootFs): the bytes of the container's own snapshot, and those plus
        its image's layers (the same figures `system df` and prune use)."""
        try:
            rw = self.images.snapshotter.usage(self.images.rootfs_key(c.id)).size
        except (NotFound, OSError):
            rw = 0
        try:
            image_size = int(self.images.inspect(c.image_id).get("Size") or 0)
        except Exception:
            image_size = 0
        return rw, rw + image_size

    def resize_container(self, c: Container, height: int, width: int) -> None:
        ctl = os.path.join(c.bundle, "ctl")
        with contextlib.suppress(OSError):
            fd = os.open(ctl, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            try:
                os.write(fd, f"1 {height} {width}\n".encode())
            finally:
                os.close(fd)

