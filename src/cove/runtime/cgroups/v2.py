"""The cgroup v2 (unified hierarchy) manager: one directory.

Freezing (cgroup.freeze, 5.2+), killing (cgroup.kill, 5.14+) and device
control (eBPF) are core features there, so they work even where no controller
is enabled — which is how they are tested on a hybrid host's ``unified`` mount.
"""

from __future__ import annotations

import os

from cove.errors import SyscallError, Unsupported
from cove.lazylog import get_logger
from cove.runtime.cgroups import fs
from cove.runtime.cgroups.base import FREEZE_TIMEOUT, ManagerBase, wait_for
from cove.runtime.cgroups.detect import UNIFIED

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

log = get_logger(__name__)

SIGKILL = 9  # the same on every Linux architecture; `import signal` costs an enum import


class V2Manager(ManagerBase):
    def __init__(self, mountpoint: str, directory: str) -> None:
        self.mountpoint = mountpoint
        self.dir = directory

    def __repr__(self) -> str:
        return f"V2Manager({self.dir!r})"

    def _targets(self) -> list[tuple[str, str]]:
        return [(self.mountpoint, self.dir)]

    def _procs_dir(self) -> str | None:
        return self.dir

    def paths(self) -> dict[str, str]:
        return {UNIFIED: self.dir}

    def v1_mount_binds(self) -> list[tuple[str, str]]:
        return []  # the runtime core mounts cgroup2 itself

    def v1_mount_symlinks(self) -> list[tuple[str, str]]:
        return []

    def controllers(self) -> frozenset[str]:
        """Controllers usable in this cgroup (enabled in its parent's subtree_control)."""
        text = fs.read_optional(os.path.join(self.dir, "cgroup.controllers"))
        return frozenset((text or "").split())

    def create(self) -> None:
        super().create()
        self._enable_controllers()

    def _enable_controllers(self) -> None:
        """Enable every available controller on the way down, as runc does.

        A controller is usable in a cgroup only if its parent lists it in
        cgroup.subtree_control. Enabling fails with EBUSY where the parent has
        processes of its own (no internal processes, except at the root), e.g.
        a relative cgroupsPath below the caller; ``set`` then names the missing
        controller.
        """
        rel = os.path.relpath(self.dir, self.mountpoint)
        parts = [] if rel == "." else rel.split(os.sep)
        d = self.mountpoint
        for part in parts:
            available = (fs.read_optional(os.path.join(d, "cgroup.controllers")) or "").split()
            enabled = set((fs.read_optional(os.path.join(d, "cgroup.subtree_control"))
                           or "").split())
            for ctrl in available:
                if ctrl in enabled:
                    continue
                try:
                    fs.write(os.path.join(d, "cgroup.subtree_control"), f"+{ctrl}")
                except SyscallError as exc:
                    log.debug("cannot enable %s below %s: %s", ctrl, d, exc)
            d = os.path.join(d, part)

    def set(self, resources: Mapping[str, Any] | None) -> None:
        if resources is None:
            return
        from cove.runtime.cgroups.v2_resources import apply

        apply(self, resources)

    # --- freezer -------------------------------------------------------------------------

    def _can_freeze(self) -> bool:
        return fs.exists(os.path.join(self.dir, "cgroup.freeze"))

    def _set_frozen(self, value: str) -> None:
        path = os.path.join(self.dir, "cgroup.freeze")
        if not fs.exists(path) and os.path.isdir(self.dir):
            raise Unsupported(f"{path} is missing: the kernel's cgroup v2 has no freezer "
                              "(needs Linux 5.2)")
        fs.write(path, value)
        events = os.path.join(self.dir, "cgroup.events")
        wait_for(lambda: fs.read_keyed(events).get("frozen") == value,
                 f"{'freeze' if value == '1' else 'thaw'} {self.dir}", FREEZE_TIMEOUT)

    def freeze(self) -> None:
        self._set_frozen("1")

    def thaw(self) -> None:
        self._set_frozen("0")

    def frozen(self) -> bool:
        # The requested state, not cgroup.events: a fatal signal takes its task out
        # of the frozen state to die, so "frozen" flickers to 0 while a paused
        # container is being killed. freeze() only returns once events agree.
        return fs.read_optional(os.path.join(self.dir, "cgroup.freeze")) == "1"

    def _kill_whole_cgroup(self, sig: int) -> bool:
        # cgroup.kill SIGKILLs the whole subtree at once, frozen or not, with
        # no window for a fork to escape a pid list.
        path = os.path.join(self.dir, "cgroup.kill")
        if sig != SIGKILL or not fs.exists(path):
            return False
        fs.write(path, "1")
        return True

    # --- stats ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        current = fs.read_optional(os.path.join(self.dir, "memory.current"))
        if current is not None:
            limit = fs.read(os.path.join(self.dir, "memory.max"))
            out["memory"] = {"usage": int(current),
                             "limit": None if limit == "max" else int(limit)}
            peak = fs.read_optional(os.path.join(self.dir, "memory.peak"))
            if peak is not None:
                out["memory"]["max_usage"] = int(peak)
        cpu = fs.read_optional(os.path.join(self.dir, "cpu.stat"))
        if cpu is not None:
            usage = fs.read_keyed(os.path.join(self.dir, "cpu.stat")).get("usage_usec", "0")
            out["cpu"] = {"usage_ns": int(usage) * 1000}
        pids = fs.read_optional(os.path.join(self.dir, "pids.current"))
        if pids is not None:
            limit = fs.read(os.path.join(self.dir, "pids.max"))
            out["pids"] = {"current": int(pids), "limit": None if limit == "max" else int(limit)}
        return out
