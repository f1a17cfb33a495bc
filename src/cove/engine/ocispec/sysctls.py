"""Sysctls: only those the kernel namespaces, and only when the namespace is the
container's own (Docker's list; runc's messages)."""

from __future__ import annotations

from collections.abc import Mapping

from cove.errors import InvalidArgument

__all__ = ["check_sysctls"]

_IPC_EXACT = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                        "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                        "kernel.shm_rmid_forced"})
_IPC_PREFIX = "fs.mqueue."
_NET_PREFIX = "net."


def check_sysctls(sysctls: Mapping[str, str], *, own_netns: bool,
                  own_ipcns: bool) -> dict[str, str]:
    """The sysctls for ``linux.sysctl``; raises ``InvalidArgument`` for one that would
    change the host (not namespaced, or in a namespace shared with the host)."""
    out: dict[str, str] = {}
    for key, value in sysctls.items():
        name = key.replace("/", ".")
        if name in _IPC_EXACT or name.startswith(_IPC_PREFIX):
            if not own_ipcns:
                raise InvalidArgument(f"sysctl \"{key}\" is not allowed in the hosts ipc "
                                      "namespace")
        elif name.startswith(_NET_PREFIX):
            if not own_netns:
                raise InvalidArgument(f"sysctl \"{key}\" is not allowed in the hosts network "
                                      "namespace")
        else:
            raise InvalidArgument(f"sysctl '{key}' is not allowed")
        if "\n" in value:
            raise InvalidArgument(f"invalid HostConfig.Sysctls[{key}]: {value!r} (must not "
                                  "contain a newline)")
        out[name] = value
    return out
