"""The cgroup v1 manager, also used for hybrid hosts (v1 controllers + a cgroup2 dir).

One directory per mounted hierarchy (each controller set, ``name=systemd``
and, on hybrid hosts, the cgroup2 ``unified`` mount, which holds no
controllers but keeps systemd-style tools and cgroup.kill consistent).
"""

from __future__ import annotations

import os

from cove.errors import FailedPrecondition, Unsupported
from cove.lazylog import get_logger
from cove.runtime.cgroups import fs
from cove.runtime.cgroups.base import FREEZE_TIMEOUT, ManagerBase, wait_for
from cove.runtime.cgroups.detect import UNIFIED, Hierarchy, Layout, cgroup_dir

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

log = get_logger(__name__)

# Which hierarchy's cgroup.procs lists the container's processes, best first:
# pids and freezer are always joined by the runtime and cheap to read.
_PROCS_ORDER = ("pids", "freezer", "memory", "devices", "cpu", "cpuset", "name=systemd")
_UNLIMITED_V1 = 1 << 62  # memory.limit_in_bytes reads back ~2^63 rounded to a page


class V1Manager(ManagerBase):
    def __init__(self, layout: Layout, cgroups_path: str, own: dict[str, str] | None) -> None:
        self.layout = layout
        self.cgroups_path = cgroups_path
        self._dirs: list[tuple[Hierarchy, str]] = [
            (h, cgroup_dir(h, cgroups_path, own)) for h in layout.v1]
        self.unified_dir: str | None = None
        if layout.unified is not None:
            self.unified_dir = cgroup_dir(layout.unified, cgroups_path, own)

    def __repr__(self) -> str:
        return f"V1Manager({self.cgroups_path!r}, {self.layout.mode})"

    # --- where things are ----------------------------------------------------------------

    def dir_for(self, controller: str) -> str | None:
        for h, d in self._dirs:
            if controller in h.controllers:
                return d
        return None

    def _targets(self) -> list[tuple[str, str]]:
        targets = [(h.mountpoint, d) for h, d in self._dirs]
        if self.unified_dir is not None and self.layout.unified is not None:
            targets.append((self.layout.unified.mountpoint, self.unified_dir))
        return targets

    def _procs_dir(self) -> str | None:
        for ctrl in _PROCS_ORDER:
            d = self.dir_for(ctrl)
            if d is not None:
                return d
        return self._dirs[0][1] if self._dirs else None

    def paths(self) -> dict[str, str]:
        out = {c: d for h, d in self._dirs for c in h.controllers}
        if self.unified_dir is not None:
            out[UNIFIED] = self.unified_dir
        return out

    def v1_mount_binds(self) -> list[tuple[str, str]]:
        """(host dir, name under the container's cgroup tmpfs) per hierarchy, as on the host.

        Co-mounted controllers appear once, under the host's directory name
        ("cpu,cpuacct"); :meth:`v1_mount_symlinks` gives the aliases.
        """
        binds = [(d, os.path.basename(h.mountpoint)) for h, d in self._dirs]
        if self.unified_dir is not None and self.layout.unified is not None:
            binds.append((self.unified_dir, os.path.basename(self.layout.unified.mountpoint)))
        return binds

    def v1_mount_symlinks(self) -> list[tuple[str, str]]:
        """(link name, target) for the host's alias links such as cpu → cpu,cpuacct."""
        names = {os.path.basename(h.mountpoint) for h, _ in self._dirs}
        links = []
        try:
            entries = list(os.scandir(self.layout.root))
        except OSError as exc:
            raise fs.os_error("list", self.layout.root, exc) from exc
        for e in entries:
            if e.is_symlink():
                try:
                    target = os.readlink(e.path)
                except OSError as exc:
                    raise fs.os_error("readlink", e.path, exc) from exc
                if target in names:
                    links.append((e.name, target))
        return sorted(links)

    # --- lifecycle -----------------------------------------------------------------------

    def create(self) -> None:
        super().create()
        cpuset = self.dir_for("cpuset")
        h = self.layout.v1_hierarchy("cpuset")
        if cpuset is not None and h is not None:
            _init_cpuset(h.mountpoint, cpuset)

    def set(self, resources: Mapping[str, Any] | None) -> None:
        if resources is None:
            return
        from cove.runtime.cgroups.v1_resources import apply

        apply(self, resources)

    # --- freezer -------------------------------------------------------------------------

    def _freezer_state(self) -> str:
        d = self.dir_for("freezer")
        if d is None:
            raise Unsupported("the freezer controller is not mounted on this host")
        return os.path.join(d, "freezer.state")

    def _can_freeze(self) -> bool:
        return self.dir_for("freezer") is not None

    def freeze(self) -> None:
        state = self._freezer_state()

        def settled() -> bool:
            # Writing FROZEN again nudges tasks that were forking or in a
            # vfork-like wait when the freeze started; FREEZING is transient.
            fs.write(state, "FROZEN")
            return fs.read(state) == "FROZEN"

        try:
            wait_for(settled, f"freeze {state}", FREEZE_TIMEOUT)
        except FailedPrecondition:
            fs.write(state, "THAWED")  # do not leave a half-frozen container behind
            raise

    def thaw(self) -> None:
        state = self._freezer_state()
        fs.write(state, "THAWED")
        wait_for(lambda: fs.read(state) == "THAWED", f"thaw {state}", FREEZE_TIMEOUT)

    def frozen(self) -> bool:
        d = self.dir_for("freezer")
        if d is None:
            return False
        return fs.read_optional(os.path.join(d, "freezer.state")) == "FROZEN"

    # --- stats ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        mem = self.dir_for("memory")
        if mem is not None and os.path.isdir(mem):
            limit = fs.read_int(os.path.join(mem, "memory.limit_in_bytes"))
            out["memory"] = {
                "usage": fs.read_int(os.path.join(mem, "memory.usage_in_bytes")),
                "max_usage": fs.read_int(os.path.join(mem, "memory.max_usage_in_bytes")),
                "limit": None if limit >= _UNLIMITED_V1 else limit,
            }
        acct = self.dir_for("cpuacct")
        if acct is not None and os.path.isdir(acct):
            out["cpu"] = {"usage_ns": fs.read_int(os.path.join(acct, "cpuacct.usage"))}
        pids = self.dir_for("pids")
        if pids is not None and os.path.isdir(pids):
            limit_text = fs.read(os.path.join(pids, "pids.max"))
            out["pids"] = {"current": fs.read_int(os.path.join(pids, "pids.current")),
                           "limit": None if limit_text == "max" else int(limit_text)}
        return out


def _init_cpuset(base: str, leaf: str) -> None:
    """Give every new cpuset directory down to ``leaf`` its parent's cpus and mems.

    v1 creates cpuset directories with empty cpuset.cpus/mems (unless the
    parent has clone_children), and a task cannot join an empty cpuset.
    """
    rel = os.path.relpath(leaf, base)
    parent = base
    for part in [] if rel == "." else rel.split(os.sep):
        d = os.path.join(parent, part)
        for name in ("cpuset.cpus", "cpuset.mems"):
            path = os.path.join(d, name)
            if not fs.read(path):
                fs.write(path, fs.read(os.path.join(parent, name)))
        parent = d
