"""Build the container's root filesystem inside its new mount namespace.

Runs in the container's init process before it execs the user's program:
propagation, the rootfs bind, every configured mount (destinations resolved
with :func:`secure_join` and re-checked through ``/proc/self/fd``), /dev,
pivot_root, then masked and read-only paths.
"""

from __future__ import annotations

import errno
import os
import stat

from cove.errors import CoveError, InvalidArgument, SyscallError
from cove.linux import libc as L
from cove.runtime.mount_options import MountOptions, parse_mount_options
from cove.runtime.securejoin import is_within, mkdir_all_in_root, secure_join

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

DEFAULT_DEVICES: Final = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)
DEV_SYMLINKS: Final = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
)
_PROPAGATION: Final = {
    "shared": L.MS_SHARED, "slave": L.MS_SLAVE, "private": L.MS_PRIVATE,
    "unbindable": L.MS_UNBINDABLE,
}
# Flags that a less privileged mount namespace may not clear on a bind mount.
_LOCKED_FLAGS: Final = (L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC | L.MS_NOATIME
                        | L.MS_NODIRATIME | L.MS_RELATIME)
_ST_TO_MS: Final = ((1, L.MS_RDONLY), (2, L.MS_NOSUID), (4, L.MS_NODEV), (8, L.MS_NOEXEC),
                    (1024, L.MS_NOATIME), (2048, L.MS_NODIRATIME), (4096, L.MS_RELATIME))


class RootfsError(CoveError):
    """A mount or file operation while building the rootfs failed."""


class RootfsPlan:
    """Everything the init process needs to build the rootfs (plain data, set up before fork)."""

    def __init__(self, rootfs: str, bundle: str, mounts: list[dict[str, Any]], *,
                 readonly: bool = False, propagation: str = "",
                 devices: list[dict[str, Any]] | None = None,
                 masked_paths: list[str] | None = None,
                 readonly_paths: list[str] | None = None, userns: bool = False,
                 cgroupns: bool = False, cgroup_version: int = 2,
                 cgroup_paths: dict[str, str] | None = None,
                 v1_binds: list[tuple[str, str]] | None = None,
                 v1_symlinks: list[tuple[str, str]] | None = None,
                 no_pivot: bool = False) -> None:
        self.rootfs = rootfs
        self.bundle = bundle
        self.mounts = mounts
        self.readonly = readonly
        self.propagation = propagation
        self.devices = devices or []
        self.masked_paths = masked_paths or []
        self.readonly_paths = readonly_paths or []
        self.userns = userns
        self.cgroupns = cgroupns
        self.cgroup_version = cgroup_version
        self.cgroup_paths = cgroup_paths or {}
        self.v1_binds = v1_binds or []
        self.v1_symlinks = v1_symlinks or []
        self.no_pivot = no_pivot


def _mount_flags_of(path: str) -> int:
    st = os.statvfs(path)
    return sum(ms for bit, ms in _ST_TO_MS if st.f_flag & bit)


def _open_in_root(root: str, path: str) -> int:
    """Open an already-resolved path with O_PATH and verify it really lies inside ``root``."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    real = os.readlink(f"/proc/self/fd/{fd}")
    if not is_within(root, real):
        os.close(fd)
        raise InvalidArgument(f"mount destination {path} escapes the container root ({real})")
    return fd


def _ensure_target(root: str, dest: str, as_file: bool) -> str:
    """Create the mount point for ``dest`` inside ``root``; returns the host path."""
    target = secure_join(root, dest)
    if os.path.lexists(target):
        return target
    if as_file:
        mkdir_all_in_root(root, os.path.dirname(dest))
        target = secure_join(root, dest)
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        os.close(fd)
        return target
    return mkdir_all_in_root(root, dest)


def _source_is_dir(source: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(source).st_mode)
    except FileNotFoundError:
        raise InvalidArgument(f"bind mount source {source}: no such file or directory") from None


def _propagate(target: str, opts: MountOptions) -> None:
    for flag in opts.propagation:
        L.mount(None, target, None, flag)


def _bind(plan: RootfsPlan, mnt: Mapping[str, Any], opts: MountOptions) -> None:
    source = str(mnt.get("source", ""))
    if not source.startswith("/"):
        source = os.path.join(plan.bundle, source)
    target = _ensure_target(plan.rootfs, mnt["destination"], not _source_is_dir(source))
    fd = _open_in_root(plan.rootfs, target)
    try:
        proc_target = f"/proc/self/fd/{fd}"
        flags = L.MS_BIND | (L.MS_REC if opts.recursive_bind else 0)
        L.mount(source, proc_target, None, flags)
    finally:
        os.close(fd)
    wanted = opts.flags & ~(L.MS_REMOUNT | L.MS_BIND | L.MS_REC)
    if wanted or opts.cleared:
        # A bind mount takes its flags from a second, remounting call; flags the
        # source mount has that a user namespace cannot drop must be kept.
        keep = _mount_flags_of(target) & _LOCKED_FLAGS if plan.userns else 0
        L.mount(None, target, None, L.MS_BIND | L.MS_REMOUNT | wanted | keep, None)
    _propagate(target, opts)
    if opts.attr_set or opts.attr_clr:
        _mount_setattr(target, opts.attr_set, opts.attr_clr)


def _mount_setattr(target: str, attr_set: int, attr_clr: int) -> None:
    import ctypes

    class MountAttr(ctypes.Structure):
        _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                    ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]

    attr = MountAttr(attr_set, attr_clr, 0, 0)
    at_fdcwd, at_recursive = -100, 0x8000
    L.syscall("mount_setattr", ctypes.c_int(at_fdcwd), os.fsencode(target),
              ctypes.c_uint(at_recursive), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))


def _mount_cgroup(plan: RootfsPlan, mnt: Mapping[str, Any], opts: MountOptions) -> None:
    target = _ensure_target(plan.rootfs, mnt["destination"], False)
    ro = opts.flags & L.MS_RDONLY
    base = L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC
    if plan.cgroup_version == 2:
        if plan.cgroupns:
            L.mount("cgroup", target, "cgroup2", base | ro)
        else:
            L.mount(plan.cgroup_paths.get("unified", "/sys/fs/cgroup"), target, None,
                    L.MS_BIND | L.MS_REC)
            if ro:
                L.mount(None, target, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | base)
        return
    # v1: a tmpfs holding one bind of the container's own directory per hierarchy,
    # named as on the host, plus the host's alias links (cpu -> cpu,cpuacct).
    L.mount("tmpfs", target, "tmpfs", base, "mode=755")
    for host_dir, name in plan.v1_binds:
        if not os.path.isdir(host_dir) or "/" in name:
            continue
        sub = os.path.join(target, name)
        os.makedirs(sub, exist_ok=True)
        L.mount(host_dir, sub, None, L.MS_BIND | L.MS_REC)
        L.mount(None, sub, None, L.MS_BIND | L.MS_REMOUNT | base | ro)
    for link, dest in plan.v1_symlinks:
        if "/" not in link and not os.path.lexists(os.path.join(target, link)):
            os.symlink(dest, os.path.join(target, link))
    if ro:
        L.mount(None, target, None, L.MS_REMOUNT | L.MS_RDONLY | base, "mode=755")


def mount_one(plan: RootfsPlan, mnt: Mapping[str, Any]) -> None:
    dest = mnt["destination"]
    mtype = mnt.get("type") or None
    opts = parse_mount_options(mnt.get("options"), mtype)
    try:
        if opts.bind:
            _bind(plan, mnt, opts)
        elif mtype in ("cgroup", "cgroup2"):
            _mount_cgroup(plan, mnt, opts)
        else:
            target = _ensure_target(plan.rootfs, dest, False)
            fd = _open_in_root(plan.rootfs, target)
            try:
                flags = opts.flags & ~L.MS_REMOUNT
                data = opts.data_str
                if mtype == "mqueue" or (mtype == "sysfs" and plan.userns):
                    data = None
                L.mount(mnt.get("source") or mtype, f"/proc/self/fd/{fd}", mtype, flags, data)
            finally:
                os.close(fd)
            _propagate(target, opts)
            if opts.attr_set or opts.attr_clr:
                _mount_setattr(target, opts.attr_set, opts.attr_clr)
    except SyscallError as exc:
        raise RootfsError(f"mount {dest} (type {mtype}): {exc}") from exc
    except OSError as exc:
        raise RootfsError(f"mount {dest}: {exc.strerror}: {exc.filename}") from exc


def prepare_root(plan: RootfsPlan) -> None:
    """Propagation of the whole tree, then the rootfs bound onto itself."""
    # Until pivot_root the tree is a slave (or private) copy of the host's, so that
    # nothing done here propagates out; shared and unbindable are applied to the new
    # root afterwards (an unbindable tree could not be bound, a shared one would leak).
    flag = L.MS_PRIVATE if _propagation(plan) == "private" else L.MS_SLAVE
    L.mount(None, "/", None, L.MS_REC | flag)
    # pivot_root refuses a new root whose parent mount is shared.
    parent = _mount_point_of(os.path.dirname(plan.rootfs))
    L.mount(None, parent, None, L.MS_PRIVATE)
    L.mount(plan.rootfs, plan.rootfs, None, L.MS_BIND | L.MS_REC)


def _mount_point_of(path: str) -> str:
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if is_within(mp, path) and len(mp) > len(best):
                best = mp
    return best


def setup_dev(plan: RootfsPlan) -> None:
    """Default devices, configured devices, and the standard /dev symlinks."""
    root = plan.rootfs
    dev_is_bind = any(m.get("destination") == "/dev" and
                      parse_mount_options(m.get("options"), m.get("type")).bind
                      for m in plan.mounts)
    if dev_is_bind:
        return
    old_umask = os.umask(0)
    try:
        configured = {d["path"] for d in plan.devices}
        for path, major, minor in DEFAULT_DEVICES:
            if path not in configured:
                _make_device(plan, {"path": path, "type": "c", "major": major, "minor": minor,
                                    "fileMode": 0o666, "uid": 0, "gid": 0})
        for dev in plan.devices:
            _make_device(plan, dev)
    finally:
        os.umask(old_umask)
    for src, dst in DEV_SYMLINKS:
        target = secure_join(root, dst)
        if not os.path.lexists(target):
            os.symlink(src, target)
    if os.path.exists("/proc/kcore"):
        target = secure_join(root, "/dev/core")
        if not os.path.lexists(target):
            os.symlink("/proc/kcore", target)
    ptmx = secure_join(root, "/dev/ptmx")
    if os.path.isdir(secure_join(root, "/dev/pts")):
        if os.path.lexists(ptmx) and not os.path.islink(ptmx):
            os.unlink(ptmx)
        if not os.path.lexists(ptmx):
            os.symlink("pts/ptmx", ptmx)


_DEV_TYPES: Final = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def _make_device(plan: RootfsPlan, dev: Mapping[str, Any]) -> None:
    path = dev["path"]
    dtype = dev["type"]
    mkdir_all_in_root(plan.rootfs, os.path.dirname(path))
    target = secure_join(plan.rootfs, path)
    mode = int(dev.get("fileMode", 0o666)) & 0o7777
    if os.path.lexists(target):
        os.unlink(target)
    if plan.userns and dtype != "p":
        # mknod is forbidden in a user namespace: bind the host's node instead.
        host = f"/dev/{os.path.basename(path)}" if path.startswith("/dev/") else path
        fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o000)
        os.close(fd)
        L.mount(host, target, None, L.MS_BIND)
        return
    rdev = os.makedev(int(dev.get("major", 0)), int(dev.get("minor", 0)))
    try:
        os.mknod(target, mode | _DEV_TYPES[dtype], rdev)
    except OSError as exc:
        raise RootfsError(f"create device {path}: {exc.strerror}") from exc
    os.chown(target, int(dev.get("uid", 0)), int(dev.get("gid", 0)))


def pivot(plan: RootfsPlan) -> None:
    """Make the rootfs the new /, dropping every trace of the host tree."""
    os.chdir(plan.rootfs)
    if not plan.no_pivot:
        try:
            # pivot_root(".", ".") stacks the old root under the new one; unmounting
            # "." then removes it without needing a put_old directory.
            L.pivot_root(".", ".")
        except SyscallError as exc:
            if exc.errno != errno.EINVAL:
                raise RootfsError(f"pivot_root {plan.rootfs}: {exc}") from exc
        else:
            # Keep the unmount of the old root from propagating anywhere.
            L.mount(None, ".", None, L.MS_SLAVE | L.MS_REC)
            L.umount(".", L.MNT_DETACH)
            os.chdir("/")
            return
    # Fallback where pivot_root cannot work (rootfs on the initramfs, --no-pivot).
    L.mount(plan.rootfs, "/", None, L.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def _propagation(plan: RootfsPlan) -> str:
    return plan.propagation[1:] if plan.propagation.startswith("r") else plan.propagation


def final_propagation(plan: RootfsPlan) -> None:
    """Shared or unbindable on the new root: last, after every bind inside it is made."""
    kind = _propagation(plan)
    if kind in ("shared", "unbindable"):
        L.mount(None, "/", None, L.MS_REC | _PROPAGATION[kind])


def mask_paths(paths: list[str]) -> None:
    for path in paths:
        try:
            is_dir = stat.S_ISDIR(os.lstat(path).st_mode)
        except FileNotFoundError:
            continue
        try:
            if is_dir:
                L.mount("tmpfs", path, "tmpfs", L.MS_RDONLY)
            else:
                L.mount("/dev/null", path, None, L.MS_BIND)
        except SyscallError as exc:
            raise RootfsError(f"mask {path}: {exc}") from exc


def readonly_paths(paths: list[str]) -> None:
    for path in paths:
        if not os.path.lexists(path):
            continue
        try:
            L.mount(path, path, None, L.MS_BIND | L.MS_REC)
            flags = _mount_flags_of(path) & _LOCKED_FLAGS
            L.mount(None, path, None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | flags | L.MS_REC)
        except SyscallError as exc:
            raise RootfsError(f"make {path} read-only: {exc}") from exc


def make_root_readonly() -> None:
    flags = _mount_flags_of("/") & _LOCKED_FLAGS
    L.mount(None, "/", None, L.MS_BIND | L.MS_REMOUNT | L.MS_RDONLY | flags)
