"""What ``cove-runtime spec`` writes and what ``cove-runtime features`` reports.

:func:`default_spec` follows the layout of ``runc spec`` (an unprivileged
``sh`` with three capabilities, the Linux default filesystems, masked and
read-only /proc paths, private namespaces), so tools that edit a runc template
find the same fields. :func:`features` is the runtime-spec 1.2 features
document: what this build recognizes, irrespective of the host kernel.

Both return fresh dicts (callers edit them); the tables they are built from are
immutable tuples.
"""

from __future__ import annotations

import os

from cove.oci import spec_values as V

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the CLI path
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["ANNOTATION_VERSION", "default_spec", "features"]

# features "annotations": reverse-domain keys, as config.md recommends.
ANNOTATION_VERSION: Final = "dev.cove.runtime.version"

_DEFAULT_CAPABILITIES: Final = ("CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE")
_PATH_ENV: Final = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# (destination, type, source, options) in mount order.
_MOUNTS: Final = (
    ("/proc", "proc", "proc", ()),
    ("/dev", "tmpfs", "tmpfs", ("nosuid", "strictatime", "mode=755", "size=65536k")),
    ("/dev/pts", "devpts", "devpts",
     ("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5")),
    ("/dev/shm", "tmpfs", "shm", ("nosuid", "noexec", "nodev", "mode=1777", "size=65536k")),
    ("/dev/mqueue", "mqueue", "mqueue", ("nosuid", "noexec", "nodev")),
    ("/sys", "sysfs", "sysfs", ("nosuid", "noexec", "nodev", "ro")),
    ("/sys/fs/cgroup", "cgroup", "cgroup", ("nosuid", "noexec", "nodev", "relatime", "ro")),
)
# A user namespace cannot mount sysfs unless it also owns the network namespace, so a
# rootless container sees the host's /sys read-only instead.
_ROOTLESS_SYS_MOUNT: Final = ("/sys", "none", "/sys", ("rbind", "nosuid", "noexec", "nodev", "ro"))

_NAMESPACES: Final = ("pid", "network", "ipc", "uts", "mount", "cgroup")
# Rootless: no network namespace (nobody could configure it), and a user namespace
# in which the calling user is root.
_ROOTLESS_NAMESPACES: Final = ("pid", "ipc", "uts", "mount", "cgroup", "user")

_MASKED_PATHS: Final = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
_READONLY_PATHS: Final = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger")

# What the runtime implements (features.md: "irrelevant to the host"). Each value is
# owned by the module that implements it; keep them in step with those modules.
_CGROUP_FEATURES: Final = (("v1", True), ("v2", True), ("systemd", False),
                           ("systemdUser", False), ("rdma", True))
# Flags cove.linux.seccomp passes to seccomp(2); whether the running kernel accepts
# them is reported by seccomp(2) itself at create time.
_SECCOMP_SUPPORTED_FLAGS: Final = V.SECCOMP_FLAGS
# Idmapped mounts (mount uidMappings/gidMappings): the validator understands them,
# the rootfs code does not apply them yet, so they are not advertised.
_IDMAP_MOUNTS: Final = False


def default_spec(rootless: bool = False) -> dict[str, Any]:
    """A runc-style config.json template; ``rootless`` maps the caller to root in a new
    user namespace and avoids what an unprivileged user cannot do."""
    spec: dict[str, Any] = {
        "ociVersion": V.OCI_VERSION,
        "process": _default_process(),
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "cove",
        "mounts": [_mount(*m) for m in _MOUNTS],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in _NAMESPACES],
            "maskedPaths": list(_MASKED_PATHS),
            "readonlyPaths": list(_READONLY_PATHS),
        },
    }
    if rootless:
        _make_rootless(spec, os.geteuid(), os.getegid())
    return spec


def _default_process() -> dict[str, Any]:
    return {
        "terminal": True,
        "user": {"uid": 0, "gid": 0},
        "args": ["sh"],
        "env": [_PATH_ENV, "TERM=xterm"],
        "cwd": "/",
        "capabilities": {name: list(_DEFAULT_CAPABILITIES)
                         for name in ("bounding", "effective", "permitted")},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    }


def _mount(destination: str, fstype: str, source: str,
           options: tuple[str, ...]) -> dict[str, Any]:
    mount: dict[str, Any] = {"destination": destination, "type": fstype, "source": source}
    if options:
        mount["options"] = list(options)
    return mount


def _make_rootless(spec: dict[str, Any], uid: int, gid: int) -> None:
    linux = spec["linux"]
    # An unprivileged user owns no cgroup to put limits in, unless delegated.
    del linux["resources"]
    linux["namespaces"] = [{"type": t} for t in _ROOTLESS_NAMESPACES]
    linux["uidMappings"] = [{"containerID": 0, "hostID": uid, "size": 1}]
    linux["gidMappings"] = [{"containerID": 0, "hostID": gid, "size": 1}]
    spec["mounts"] = [_rootless_mount(m) for m in spec["mounts"]]


def _rootless_mount(mount: dict[str, Any]) -> dict[str, Any]:
    if mount["destination"] == "/sys":
        return _mount(*_ROOTLESS_SYS_MOUNT)
    if "options" in mount:
        # Only one uid and gid are mapped: uid=/gid= options (devpts gid=5) would name
        # ids that do not exist in the container.
        mount["options"] = [o for o in mount["options"] if not o.startswith(("uid=", "gid="))]
    return mount


def features() -> dict[str, Any]:
    """The features document (runtime-spec features.md, version 1.2.0)."""
    from cove import __version__

    return {
        "ociVersionMin": V.OCI_VERSION_MIN,
        "ociVersionMax": V.OCI_VERSION,
        "hooks": list(V.HOOK_NAMES),
        "mountOptions": list(V.MOUNT_OPTIONS),
        "linux": _linux_features(),
        "annotations": {ANNOTATION_VERSION: __version__},
        # No annotation changes what the runtime does, so none is unsafe to pass through.
        "potentiallyUnsafeConfigAnnotations": [],
    }


def _linux_features() -> dict[str, Any]:
    return {
        "namespaces": list(V.NAMESPACE_TYPES),
        "capabilities": list(V.CAPABILITIES),
        "cgroup": dict(_CGROUP_FEATURES),
        "seccomp": {
            "enabled": True,
            "actions": list(V.SECCOMP_ACTIONS),
            "operators": list(V.SECCOMP_OPERATORS),
            "archs": list(V.SECCOMP_ARCHS),
            "knownFlags": list(V.SECCOMP_FLAGS),
            "supportedFlags": list(_SECCOMP_SUPPORTED_FLAGS),
        },
        "apparmor": {"enabled": False},
        "selinux": {"enabled": False},
        "intelRdt": {"enabled": False},
        "mountExtensions": {"idmap": {"enabled": _IDMAP_MOUNTS}},
    }
