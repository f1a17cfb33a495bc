"""Where a container's cgroup lives on this host, for reading stats and writing limits.

The host's layout (v1, hybrid, v2) is read once, when the daemon builds its services;
callers get a :class:`ContainerCgroup` naming the directory of each controller and
never branch on the layout themselves. The container's ``linux.cgroupsPath`` comes
from its OCI spec (``<bundle>/config.json``), the same value the runtime used.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from cove.errors import NotFound
from cove.runtime.cgroups.detect import (
    Layout,
    cgroup_dir,
    check_cgroups_path,
    detect,
    own_cgroups,
)

CGROUP_ROOT = "/sys/fs/cgroup"


@dataclass(frozen=True)
class ContainerCgroup:
    """A container's cgroup directories: ``v2`` is the unified one on a v2 host; ``v1``
    maps each v1 controller (memory, cpu, cpuacct, cpuset, pids, blkio) to its dir."""

    v2: str | None
    v1: dict[str, str]

    def path(self, controller: str, name: str) -> str:
        """The file ``name`` of ``controller`` (v1) or of the unified dir (v2)."""
        if self.v2 is not None:
            return os.path.join(self.v2, name)
        directory = self.v1.get(controller)
        if directory is None:
            raise NotFound(f"the {controller} cgroup controller is not mounted on this host")
        return os.path.join(directory, name)

    def read(self, controller: str, name: str) -> str | None:
        """The file's text; None when it does not exist (controller or file absent)."""
        try:
            with open(self.path(controller, name)) as f:
                return f.read()
        except (OSError, NotFound):
            return None

    def write(self, controller: str, name: str, value: str) -> None:
        """Write ``value``; OSError (with the path) as the kernel refuses it."""
        path = self.path(controller, name)
        # O_TRUNC as runc: meaningless on cgroupfs, right on a plain file (tests).
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise OSError(e.errno, f"write {value!r} to {path}: {e.strerror}") from None
        finally:
            os.close(fd)


class CgroupHost:
    """This host's cgroup layout, read once (on first use, so that a host without
    cgroups still serves every other endpoint)."""

    CONTROLLERS = ("memory", "cpu", "cpuacct", "cpuset", "pids", "blkio")

    def __init__(self, root: str = CGROUP_ROOT) -> None:
        self.root = root
        self._layout: Layout | None = None

    @property
    def layout(self) -> Layout:
        if self._layout is None:
            self._layout = detect(self.root)
        return self._layout

    @property
    def v2(self) -> bool:
        return self.layout.mode == "v2"

    def of(self, bundle: str, container_id: str) -> ContainerCgroup:
        """The cgroup of the container whose OCI bundle is ``bundle``."""
        cgroups_path: str | None = None
        try:
            with open(os.path.join(bundle, "config.json")) as f:
                spec = json.load(f)
            cgroups_path = (spec.get("linux") or {}).get("cgroupsPath")
        except (OSError, ValueError, AttributeError):
            cgroups_path = None
        path = check_cgroups_path(cgroups_path, container_id)
        own = None if path.startswith("/") else own_cgroups()
        if self.v2:
            assert self.layout.unified is not None
            return ContainerCgroup(cgroup_dir(self.layout.unified, path, own), {})
        dirs: dict[str, str] = {}
        for controller in self.CONTROLLERS:
            h = self.layout.v1_hierarchy(controller)
            if h is not None:
                dirs[controller] = cgroup_dir(h, path, own)
        return ContainerCgroup(None, dirs)
