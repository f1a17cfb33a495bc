"""Namespace modes (PidMode, IpcMode, UTSMode, NetworkMode, CgroupnsMode) -> linux.namespaces.

Joining another container's namespace needs its path (``/proc/<pid>/ns/<kind>``),
which only the daemon knows: it passes a :data:`NamespaceResolver`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cove.errors import InvalidArgument, Unsupported

__all__ = ["NamespaceModes", "NamespaceResolver", "build_namespaces", "parse_modes"]

# (kind, container name or id) -> the namespace file to join. Raises the daemon's own
# errors (NotFound for an unknown container, Conflict for one that is not running).
NamespaceResolver = Callable[[str, str], str]

_CONTAINER = "container:"


@dataclass(frozen=True)
class NamespaceModes:
    """Each kind is "private" (a new namespace), "host" (none), or a container to join."""

    pid: str
    ipc: str
    uts: str
    network: str
    cgroup: str
    ipc_none: bool  # IpcMode "none": a private namespace without /dev/shm

    @staticmethod
    def joined(mode: str) -> str | None:
        return mode[len(_CONTAINER):] if mode.startswith(_CONTAINER) else None


def _mode(value: str, field: str, allowed: tuple[str, ...], private: str = "") -> str:
    if value.startswith(_CONTAINER):
        if not value[len(_CONTAINER):]:
            raise InvalidArgument(f'invalid {field}: "{value}" (no container named)')
        return value
    if value in ("", *allowed):
        return "host" if value == "host" else "private"
    raise InvalidArgument(f'invalid {field}: "{value}"' + (f" ({private})" if private else ""))


def parse_modes(pid_mode: str, ipc_mode: str, uts_mode: str, network_mode: str,
                cgroupns_mode: str, userns_mode: str) -> NamespaceModes:
    pid = _mode(pid_mode, "HostConfig.PidMode", ("host",))
    ipc = _mode(ipc_mode, "HostConfig.IpcMode", ("host", "private", "shareable", "none"),
                "invalid IPC mode")
    if uts_mode.startswith(_CONTAINER):
        raise InvalidArgument(f'invalid HostConfig.UTSMode: "{uts_mode}" (only "host" or '
                              "empty)")
    uts = _mode(uts_mode, "HostConfig.UTSMode", ("host",))
    if network_mode.startswith(_CONTAINER):
        if network_mode == _CONTAINER:
            raise InvalidArgument("invalid network mode: invalid container format "
                                  "container:<name|id>")
        network = network_mode
    elif network_mode == "host":
        network = "host"
    else:
        # "bridge", "default", "none" and user-defined networks: a netns of its own
        # (for now with only loopback; networks come with the network service).
        network = "private"
    if cgroupns_mode not in ("", "private", "host"):
        raise InvalidArgument(f'invalid HostConfig.CgroupnsMode: "{cgroupns_mode}" (must be '
                              '"private" or "host")')
    cgroup = "host" if cgroupns_mode == "host" else "private"
    if userns_mode not in ("", "host"):
        raise Unsupported(f'HostConfig.UsernsMode "{userns_mode}": user namespaces are not '
                          "supported by Cove yet")
    return NamespaceModes(pid, ipc, uts, network, cgroup, ipc_mode == "none")


def build_namespaces(modes: NamespaceModes, resolver: NamespaceResolver | None,
                     network_path: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, mode in (("pid", modes.pid), ("network", modes.network), ("ipc", modes.ipc),
                       ("uts", modes.uts), ("mount", "private"), ("cgroup", modes.cgroup)):
        if mode == "host":
            continue
        other = NamespaceModes.joined(mode)
        if other is None and kind == "network" and network_path:
            out.append({"type": kind, "path": network_path})
            continue
        if other is None:
            out.append({"type": kind})
            continue
        if resolver is None:
            raise Unsupported(f"joining the {kind} namespace of container {other} needs a "
                              "namespace resolver")
        out.append({"type": kind, "path": resolver(kind, other)})
    return out
