"""Namespace kinds of the OCI config, and joining/creating them."""

from __future__ import annotations

import os

from cove.errors import InvalidArgument
from cove.linux import libc as L

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

CLONE_FLAGS: Final[dict[str, int]] = {
    "pid": L.CLONE_NEWPID, "network": L.CLONE_NEWNET, "mount": L.CLONE_NEWNS,
    "ipc": L.CLONE_NEWIPC, "uts": L.CLONE_NEWUTS, "user": L.CLONE_NEWUSER,
    "cgroup": L.CLONE_NEWCGROUP, "time": L.CLONE_NEWTIME,
}
# /proc/<pid>/ns/<name> for each OCI namespace type.
PROC_NAMES: Final[dict[str, str]] = {
    "pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
    "user": "user", "cgroup": "cgroup", "time": "time",
}
# Joining order: the user namespace first (it grants the rights over the
# others), the mount namespace last (paths of the others are opened already).
JOIN_ORDER: Final = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


class NamespacePlan:
    def __init__(self) -> None:
        self.create: list[str] = []      # types to unshare
        self.join: dict[str, str] = {}   # type -> path

    @classmethod
    def from_config(cls, namespaces: list[Mapping[str, Any]]) -> NamespacePlan:
        plan = cls()
        for i, ns in enumerate(namespaces):
            kind = ns.get("type")
            if kind not in CLONE_FLAGS:
                raise InvalidArgument(f"linux.namespaces[{i}].type: unknown namespace type "
                                      f"{kind!r}")
            if kind == "time" and not os.path.exists("/proc/self/ns/time"):
                raise InvalidArgument("linux.namespaces: the kernel has no time namespaces")
            path = ns.get("path")
            if path:
                if not os.path.exists(path):
                    raise InvalidArgument(f"linux.namespaces[{i}].path: {path}: no such file")
                plan.join[kind] = path
            else:
                plan.create.append(kind)
        return plan

    @property
    def early_cgroup(self) -> bool:
        """Whether the intermediate process must be in the cgroup before it unshares."""
        return "cgroup" in self.create

    def has(self, kind: str) -> bool:
        return kind in self.create or kind in self.join

    def unshare_flags(self, *, user: bool) -> int:
        flags = 0
        for kind in self.create:
            if (kind == "user") == user:
                flags |= CLONE_FLAGS[kind]
        return flags


def open_namespaces(paths: Mapping[str, str]) -> list[tuple[str, int, str]]:
    """Open every namespace to join, in join order, before any of them is entered."""
    opened = []
    for kind in JOIN_ORDER:
        if kind in paths:
            fd = os.open(paths[kind], os.O_RDONLY | os.O_CLOEXEC)
            opened.append((kind, fd, paths[kind]))
    return opened


def join_namespaces(opened: list[tuple[str, int, str]]) -> None:
    for kind, fd, path in opened:
        try:
            L.setns(fd, CLONE_FLAGS[kind], f"{kind} namespace {path}")
        finally:
            os.close(fd)


def id_map_lines(mappings: list[Mapping[str, Any]] | None) -> str:
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings or [])


def write_id_maps(pid: int, uid_maps: str, gid_maps: str) -> None:
    for name, data in (("uid_map", uid_maps), ("gid_map", gid_maps)):
        if not data:
            continue
        try:
            with open(f"/proc/{pid}/{name}", "w") as f:
                f.write(data)
        except OSError as exc:
            raise InvalidArgument(f"linux.{'uid' if name == 'uid_map' else 'gid'}Mappings: "
                                  f"writing /proc/{pid}/{name}: {exc.strerror}") from exc


def same_namespace(pid: int, kind: str) -> bool:
    """Whether ``pid`` shares this process' ``kind`` namespace."""
    name = PROC_NAMES[kind]
    try:
        return os.stat(f"/proc/{pid}/ns/{name}").st_ino == os.stat(f"/proc/self/ns/{name}").st_ino
    except FileNotFoundError:
        return True
