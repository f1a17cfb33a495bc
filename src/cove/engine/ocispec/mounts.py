"""The container's mounts: Docker's defaults, the daemon's /etc files, the init binary,
and the user's Binds, Mounts and Tmpfs (bind mounts of host paths, tmpfs, and volumes,
whose host directories the volume service resolved at create: ``VolumeSources``).

Parsing is separate from the one side effect Docker has here: a missing host
directory of a ``-v /host:/ctr`` bind is created. :func:`user_mounts` only
reports those paths; the builder creates them once the whole spec is valid.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cove.engine.ocispec.request import HostConfig, MountRequest
from cove.errors import InvalidArgument, Unsupported

__all__ = ["DEFAULT_SHM_SIZE", "INIT_PATH", "ExtraVolume", "UserMounts", "VolumeSource",
           "absolute_target", "default_mounts", "parse_bind", "tmpfs_options", "user_mounts"]

# A volume's host directory for a destination (as the volume service resolved it).
VolumeSource = Callable[[str], str]


@dataclass(frozen=True)
class ExtraVolume:
    """A mount the request does not name itself: an anonymous volume for Config.Volumes
    (the image's VOLUME, ``-v /path``) or one taken over by VolumesFrom."""

    destination: str
    source: str
    read_only: bool = False

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_PATH = "/sbin/docker-init"
_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_TMPFS_DEFAULTS = ("noexec", "nosuid", "nodev")
# Options a user may give in Tmpfs ("size=64m,mode=1777,exec").
_TMPFS_FLAGS = frozenset({"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
                          "sync", "async", "dirsync", "atime", "noatime", "diratime",
                          "nodiratime", "relatime", "norelatime", "strictatime",
                          "nostrictatime", "mand", "nomand", "remount"})
_TMPFS_KEYS = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol",
                         "huge", "tmpcopyup"})
_OPPOSITES = {"exec": "noexec", "suid": "nosuid", "dev": "nodev", "ro": "rw"}


def _mount(destination: str, fstype: str, source: str, options: list[str]) -> dict[str, Any]:
    return {"destination": destination, "type": fstype, "source": source, "options": options}


def default_mounts(*, privileged: bool, writable_cgroups: bool, shm_size: int,
                   shm_path: str | None, ipc_none: bool,
                   ipc_host: bool) -> list[dict[str, Any]]:
    """Docker's /proc, /dev, /dev/pts, /sys, /sys/fs/cgroup, /dev/mqueue and /dev/shm;
    /sys is writable only when privileged, the cgroup tree when ``writable_cgroups``."""
    ro = [] if privileged else ["ro"]
    cgroup_ro = [] if writable_cgroups else ["ro"]
    mounts = [
        _mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        _mount("/dev/pts", "devpts", "devpts", ["nosuid", "noexec", "newinstance",
                                                "ptmxmode=0666", "mode=0620", "gid=5"]),
        _mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", *ro]),
        _mount("/sys/fs/cgroup", "cgroup", "cgroup", ["nosuid", "noexec", "nodev", "relatime",
                                                      *cgroup_ro]),
    ]
    if ipc_host:
        # The host's IPC namespace: its POSIX queues and shared memory, as Docker does.
        mounts.append(_mount("/dev/mqueue", "bind", "/dev/mqueue", ["rbind", "nosuid",
                                                                    "noexec", "nodev"]))
        mounts.append(_mount("/dev/shm", "bind", "/dev/shm", ["rbind", "nosuid", "noexec",
                                                              "nodev"]))
        return mounts
    mounts.append(_mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]))
    if ipc_none:
        return mounts
    if shm_path is not None:
        mounts.append(_mount("/dev/shm", "bind", shm_path, ["rbind", "nosuid", "noexec",
                                                            "nodev"]))
    else:
        mounts.append(_mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev",
                                                          "mode=1777",
                                                          f"size={shm_size}"]))
    return mounts


def tmpfs_options(text: str, where: str) -> list[str]:
    """Docker's --tmpfs options: noexec,nosuid,nodev unless the user says otherwise."""
    given = [o.strip() for o in text.split(",") if o.strip()]
    for option in given:
        key, sep, _ = option.partition("=")
        if (sep and key not in _TMPFS_KEYS) or (not sep and option not in _TMPFS_FLAGS):
            raise InvalidArgument(f'invalid {where}: "{text}" (unknown tmpfs option '
                                  f'"{option}")')
    out = [d for d in _TMPFS_DEFAULTS
           if d not in given and next((k for k, v in _OPPOSITES.items() if v == d), "")
           not in given]
    return out + given


@dataclass
class UserMounts:
    mounts: list[dict[str, Any]]
    missing_bind_sources: list[str]  # host dirs to create (Binds' docker behaviour)


def absolute_target(path: str, where: str, what: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid {where}: invalid mount path: '{path}' mount path "
                              "must be absolute")
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    if cleaned == "/":
        raise InvalidArgument(f"invalid {where}: invalid specification: destination can't "
                              f"be '/' ({what})")
    if cleaned == "/proc" or cleaned.startswith("/proc/"):
        # Docker's rule: nothing may cover the container's procfs.
        raise InvalidArgument(f'invalid {where}: "{cleaned}" cannot be mounted because it '
                              'is located inside "/proc"')
    return cleaned


def _bind(source: str, target: str, *, read_only: bool, propagation: str,
          recursive: bool = True, force_rro: bool = False) -> dict[str, Any]:
    options = ["rbind" if recursive else "bind", propagation or "rprivate"]
    if read_only:
        options.append("rro" if force_rro else "ro")
    return _mount(target, "bind", source, options)


def parse_bind(spec: str, index: int, *,
               volume_source: VolumeSource | None = None) -> tuple[str, str, list[str]]:
    """(source, target, modes) of one Binds entry; a source that is no absolute path
    names a volume (refused when ``volume_source`` is None: no volume service)."""
    where = f"HostConfig.Binds[{index}]"
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise InvalidArgument(f"invalid {where}: invalid volume specification: '{spec}'")
    source, target = parts[0], parts[1]
    modes = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    named = not source.startswith("/")
    if named and volume_source is None:
        raise Unsupported(f"{where}: named volume \"{source}\" for {target}: this daemon has "
                          "no volume service; bind-mount a host path instead")
    rw_modes = [m for m in modes if m in ("ro", "rw")]
    props = [m for m in modes if m in _PROPAGATIONS]
    for m in modes:
        if m not in (*_PROPAGATIONS, "ro", "rw", "z", "Z", "nocopy", "consistent", "cached",
                     "delegated"):
            raise InvalidArgument(f"invalid {where}: invalid mode: {parts[2]}")
    if len(rw_modes) > 1 or len(props) > 1 or ("nocopy" in modes and not named) or \
            (named and props):
        raise InvalidArgument(f"invalid {where}: invalid mode: {parts[2]}")
    return source, target, modes


def user_mounts(host: HostConfig, volume_source: VolumeSource | None = None,
                extra: Sequence[ExtraVolume] = ()) -> UserMounts:
    """Binds, Mounts and Tmpfs as spec mounts, then the ``extra`` volumes at destinations
    still free; one destination at most once."""
    mounts: list[dict[str, Any]] = []
    missing: list[str] = []
    seen: dict[str, str] = {}

    def add(mount: dict[str, Any], where: str) -> None:
        dest = mount["destination"]
        if dest in seen:
            raise InvalidArgument(f"invalid {where}: Duplicate mount point: {dest}")
        seen[dest] = where
        mounts.append(mount)

    for i, spec in enumerate(host.binds):
        where = f"HostConfig.Binds[{i}]"
        source, target, modes = parse_bind(spec, i, volume_source=volume_source)
        target = absolute_target(target, where, "bind")
        if not source.startswith("/") and volume_source is not None:
            source = volume_source(target)
        else:
            source = posixpath.normpath(source)
            if not os.path.lexists(source):
                missing.append(source)
        prop = next((m for m in modes if m in _PROPAGATIONS), "")
        add(_bind(source, target, read_only="ro" in modes, propagation=prop), where)
    for m in host.mounts:
        add(_api_mount(m, missing, volume_source), m.where)
    for path, options in host.tmpfs.items():
        where = f"HostConfig.Tmpfs[{path}]"
        target = absolute_target(path, where, "tmpfs")
        add(_mount(target, "tmpfs", "tmpfs", tmpfs_options(options, where)), where)
    for volume in extra:
        if volume.destination not in seen:
            add(_bind(volume.source, volume.destination, read_only=volume.read_only,
                      propagation=""), f"volume {volume.destination}")
    # Parents before children (/data before /data/cache), whatever the request's order,
    # so no mount is hidden by one made later above it; stable for equal depths.
    mounts.sort(key=lambda m: len([c for c in m["destination"].split("/") if c]))
    return UserMounts(mounts, missing)


def _api_mount(m: MountRequest, missing: list[str],
               volume_source: VolumeSource | None) -> dict[str, Any]:
    kind = m.type
    where = m.where
    if not m.target:
        raise InvalidArgument(f"invalid {where}: invalid mount config for type \"{kind}\": "
                              "field Target must not be empty")
    target = absolute_target(m.target, where, kind)
    if kind == "bind":
        if not m.source:
            raise InvalidArgument(f"invalid {where}: invalid mount config for type \"bind\": "
                                  "field Source must not be empty")
        if not m.source.startswith("/"):
            raise InvalidArgument(f"invalid {where}: invalid mount config for type \"bind\": "
                                  f"invalid mount path: '{m.source}' mount path must be "
                                  "absolute")
        if m.propagation and m.propagation not in _PROPAGATIONS:
            raise InvalidArgument(f"invalid {where}: invalid propagation mode: "
                                  f"{m.propagation}")
        if m.tmpfs_size or m.tmpfs_mode or m.tmpfs_options:
            raise InvalidArgument(f"invalid {where}: invalid mount config for type \"bind\": "
                                  "TmpfsOptions must not be specified")
        source = posixpath.normpath(m.source)
        if not os.path.lexists(source):
            if not m.create_mountpoint:
                raise InvalidArgument(f"invalid {where}: invalid mount config for type "
                                      f"\"bind\": bind source path does not exist: {source}")
            missing.append(source)
        if (m.read_only_non_recursive or m.read_only_force_recursive) and not m.read_only:
            raise InvalidArgument(f"invalid {where}: ReadOnlyNonRecursive and "
                                  "ReadOnlyForceRecursive need ReadOnly")
        return _bind(source, target, read_only=m.read_only, propagation=m.propagation,
                     recursive=not m.non_recursive, force_rro=m.read_only_force_recursive)
    if kind == "tmpfs":
        if m.source:
            raise InvalidArgument(f"invalid {where}: invalid mount config for type \"tmpfs\": "
                                  "field Source must not be specified")
        if m.tmpfs_size < 0:
            raise InvalidArgument(f"invalid {where}: invalid mount config for type \"tmpfs\": "
                                  "invalid tmpfs size")
        given = ["ro"] if m.read_only else []
        if m.tmpfs_size:
            given.append(f"size={m.tmpfs_size}")
        if m.tmpfs_mode:
            given.append(f"mode={m.tmpfs_mode:o}")
        given.extend("=".join(o) for o in m.tmpfs_options)
        return _mount(target, "tmpfs", "tmpfs", tmpfs_options(",".join(given), where))
    if kind == "volume":
        if volume_source is None:
            raise Unsupported(f"{where}: this daemon has no volume service; use a bind mount "
                              "of a host path")
        if m.tmpfs_size or m.tmpfs_mode or m.tmpfs_options:
            raise InvalidArgument(f"invalid {where}: invalid mount config for type "
                                  "\"volume\": TmpfsOptions must not be specified")
        if m.propagation:
            raise InvalidArgument(f"invalid {where}: invalid mount config for type "
                                  "\"volume\": BindOptions must not be specified")
        return _bind(volume_source(target), target, read_only=m.read_only, propagation="")
    if kind in ("npipe", "cluster", "image"):
        raise Unsupported(f"{where}: mount type \"{kind}\" is not supported on Linux by Cove")
    raise InvalidArgument(f"invalid {where}: invalid mount config: mount type unknown: "
                          f"\"{kind}\"")
