"""Devices: HostConfig.Devices (host nodes), DeviceCgroupRules, Privileged's host devices,
and the devices cgroup allow-list Docker gives every container."""

from __future__ import annotations

import os
import re
import stat
from typing import Any

from cove.engine.ocispec.request import DeviceMapping
from cove.errors import InvalidArgument

__all__ = ["DEFAULT_DEVICE_RULES", "device_cgroup_rule", "host_devices", "mapped_devices",
           "rule"]

# Docker's default allow-list after "deny all": mknod of any char/block device (creating
# a node is harmless, opening it is what the cgroup checks), the OCI default devices,
# /dev/pts/*, /dev/ptmx, /dev/console and /dev/net/tun (opening it still needs
# CAP_NET_ADMIN in the container's network namespace).
DEFAULT_DEVICE_RULES: tuple[tuple[str, int | None, int | None, str], ...] = (
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 5, "rwm"), ("c", 1, 7, "rwm"), ("c", 1, 8, "rwm"),
    ("c", 1, 9, "rwm"), ("c", 5, 0, "rwm"), ("c", 5, 1, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 136, None, "rwm"), ("c", 10, 200, "rwm"),
)

_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
# Docker's (runc's) list of /dev subdirectories that hold no real host devices.
_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def rule(kind: str, major: int | None, minor: int | None, access: str,
         allow: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"allow": allow, "type": kind, "access": access}
    if major is not None:
        out["major"] = major
    if minor is not None:
        out["minor"] = minor
    return out


def device_cgroup_rule(text: str, index: int) -> dict[str, Any]:
    """``"c 1:3 rwm"`` -> an OCI device cgroup rule (Docker's DeviceCgroupRules syntax)."""
    m = _RULE.match(text)
    if m is None or len(set(m.group(4))) != len(m.group(4)):
        raise InvalidArgument(f"invalid HostConfig.DeviceCgroupRules[{index}]: invalid device "
                              f"cgroup format '{text}'")
    kind, major, minor, access = m.groups()
    return rule(kind, None if major == "*" else int(major),
                None if minor == "*" else int(minor), access)


def _node(container_path: str, st: os.stat_result) -> dict[str, Any]:
    return {"path": container_path, "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
            "major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}


def _is_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)


def mapped_devices(mappings: tuple[DeviceMapping, ...]
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """HostConfig.Devices -> (linux.devices, cgroup allow rules). A directory maps every
    device below it, as Docker does."""
    nodes: list[dict[str, Any]] = []
    rules: list[dict[str, Any]] = []
    for i, d in enumerate(mappings):
        where = f"HostConfig.Devices[{i}]"
        perms = d.cgroup_permissions or "rwm"
        if not re.fullmatch(r"[rwm]{1,3}", perms) or len(set(perms)) != len(perms):
            raise InvalidArgument(f'invalid {where}.CgroupPermissions: "{perms}" (invalid '
                                  f"device mode: {perms})")
        if not d.path_on_host.startswith("/"):
            raise InvalidArgument(f'invalid {where}.PathOnHost: "{d.path_on_host}" (must be '
                                  "an absolute path)")
        target = d.path_in_container or d.path_on_host
        if not target.startswith("/"):
            raise InvalidArgument(f'invalid {where}.PathInContainer: "{target}" (must be an '
                                  "absolute path)")
        try:
            st = os.stat(d.path_on_host)
        except OSError as exc:
            raise InvalidArgument(f"error gathering device information while adding custom "
                                  f"device \"{d.path_on_host}\": {exc.strerror}") from None
        found: list[tuple[str, os.stat_result]]
        if stat.S_ISDIR(st.st_mode):
            found = [(os.path.join(target, os.path.relpath(p, d.path_on_host)), s)
                     for p, s in _walk(d.path_on_host)]
        elif _is_device(st):
            found = [(target, st)]
        else:
            raise InvalidArgument(f"error gathering device information while adding custom "
                                  f"device \"{d.path_on_host}\": not a device node")
        for container_path, dev in found:
            node = _node(container_path, dev)
            nodes.append(node)
            rules.append(rule(node["type"], node["major"], node["minor"], perms))
    return nodes, rules


def _walk(top: str) -> list[tuple[str, os.stat_result]]:
    out: list[tuple[str, os.stat_result]] = []
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if entry.name not in _SKIP_DIRS:
                out.extend(_walk(entry.path))
        elif _is_device(st) and entry.name != "console":
            out.append((entry.path, st))
    return out


def host_devices(dev_root: str = "/dev") -> list[dict[str, Any]]:
    """Every device node of the host (Privileged), at the same path in the container;
    /dev/console and the pts/shm/mqueue trees are left to the runtime's own mounts."""
    return [_node("/dev/" + os.path.relpath(path, dev_root), st)
            for path, st in _walk(dev_root)]
