"""The interface every cgroup manager implements (v1/hybrid and v2).

Kept in its own module because it needs :mod:`typing`, which the runtime's hot
path does not import; ``cove.runtime.cgroups.CgroupManager`` loads it lazily.
"""

from __future__ import annotations

from typing import Any, Protocol

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


class CgroupManager(Protocol):
    """One container's cgroup, in every hierarchy the host has.

    Rebuilt from (cgroupsPath, container id) by :func:`open_manager` in each
    ``cove-runtime`` process; holds no state beyond the directory names.
    """

    def create(self) -> None:
        """Make the directories (and their missing parents) in every hierarchy."""

    def set(self, resources: Mapping[str, Any] | None) -> None:
        """Apply OCI ``linux.resources`` (validated again first); None changes nothing."""

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup in every hierarchy."""

    def freeze(self) -> None:
        """Freeze every process and wait until the kernel reports them frozen."""

    def thaw(self) -> None: ...

    def frozen(self) -> bool:
        """True if frozen; False also when the cgroup does not exist."""

    def pids(self) -> list[int]:
        """Every process in the cgroup and below, sorted."""

    def kill_all(self, sig: int) -> None:
        """Signal every process (v2 SIGKILL: cgroup.kill; else freeze, signal, thaw)."""

    def destroy(self) -> None:
        """Remove the directories deepest first, and the empty parents cove created.

        Retries EBUSY briefly while processes exit; a missing cgroup is fine.
        """

    def exists(self) -> bool: ...

    def paths(self) -> dict[str, str]:
        """Controller (v1: "memory", "name=systemd", ...; cgroup2: "unified") → directory."""

    def stats(self) -> dict[str, Any]:
        """{"memory": {usage, limit, max_usage}, "cpu": {usage_ns}, "pids": {current, limit}}.

        Sections the host lacks are left out; a limit of None means unlimited.
        """

    def v1_mount_binds(self) -> list[tuple[str, str]]:
        """(host dir, name in the container's /sys/fs/cgroup) per v1 hierarchy; [] on v2."""

    def v1_mount_symlinks(self) -> list[tuple[str, str]]:
        """(name, target) alias links of co-mounted v1 hierarchies; [] on v2."""
