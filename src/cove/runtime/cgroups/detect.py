"""Which cgroup layout the host has, decided once per manager from /proc/self/mountinfo.

Three layouts exist in the wild:

* ``v2``: cgroup2 mounted at the root (``/sys/fs/cgroup``), controllers in it;
* ``hybrid``: a tmpfs at the root holding one cgroup (v1) mount per controller
  set, plus an (often controller-less) cgroup2 mount, usually ``unified``;
* ``v1``: the same without the cgroup2 mount.

One read of mountinfo (filtered to cgroup lines) tells all three apart and gives
each v1 hierarchy's mount point and mount root, which relative cgroupsPaths
need; a ``statfs`` would only give the first answer and cost a ctypes import.
"""

from __future__ import annotations

import os

from cove.errors import InvalidArgument, Unsupported

MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"

# Options of a v1 cgroup mount that are not controller names.
_V1_MOUNT_FLAGS = frozenset({"rw", "ro", "xattr", "noprefix", "clone_children",
                             "cpuset_v2_mode", "none", "all", "favordynmods"})
UNIFIED = "unified"  # the key of the cgroup2 directory in paths(), as runc's hybrid mode


class Hierarchy:
    """One mounted cgroup hierarchy (a v1 controller set, or cgroup2)."""

    __slots__ = ("controllers", "mount_root", "mountpoint")

    def __init__(self, controllers: tuple[str, ...], mountpoint: str, mount_root: str) -> None:
        self.controllers = controllers  # ("cpu", "cpuacct"), ("name=systemd",), () for cgroup2
        self.mountpoint = mountpoint
        self.mount_root = mount_root  # the cgroup the mount shows at mountpoint

    @property
    def key(self) -> str:
        return ",".join(self.controllers) if self.controllers else UNIFIED

    def __repr__(self) -> str:
        return f"Hierarchy({self.key} at {self.mountpoint}, root {self.mount_root})"


class Layout:
    __slots__ = ("mode", "root", "unified", "v1")

    def __init__(self, mode: str, root: str, v1: list[Hierarchy],
                 unified: Hierarchy | None) -> None:
        self.mode = mode  # "v1", "hybrid" or "v2"
        self.root = root
        self.v1 = v1
        self.unified = unified

    def v1_hierarchy(self, controller: str) -> Hierarchy | None:
        for h in self.v1:
            if controller in h.controllers:
                return h
        return None

    def controllers(self) -> frozenset[str]:
        """Controllers the host can offer a container (v2: those bound to cgroup2)."""
        if self.mode != "v2":
            return frozenset(c for h in self.v1 for c in h.controllers)
        assert self.unified is not None
        from cove.runtime.cgroups import fs

        text = fs.read_optional(os.path.join(self.unified.mountpoint, "cgroup.controllers"))
        return frozenset((text or "").split())

    def __repr__(self) -> str:
        return f"Layout({self.mode}, v1={self.v1}, unified={self.unified})"


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def parse_mountinfo(text: str, root: str) -> Layout:
    """Build the layout from mountinfo ``text``, considering mounts at or below ``root``."""
    root = os.path.normpath(root)
    v1: list[Hierarchy] = []
    seen: set[str] = set()
    unified_at_root: Hierarchy | None = None
    unified_below: Hierarchy | None = None
    for line in text.splitlines():
        if " - cgroup" not in line:
            continue
        left, _, right = line.partition(" - ")
        fields, super_fields = left.split(), right.split()
        if len(fields) < 5 or len(super_fields) < 3:
            continue
        fstype = super_fields[0]
        mount_root, mountpoint = _unescape(fields[3]), _unescape(fields[4])
        at_root = mountpoint == root
        if not (at_root or mountpoint.startswith(root.rstrip("/") + "/")):
            continue
        if fstype == "cgroup2":
            h = Hierarchy((), mountpoint, mount_root)
            if at_root:
                unified_at_root = h
            elif unified_below is None:
                unified_below = h
        elif fstype == "cgroup":
            ctrls = tuple(o for o in super_fields[2].split(",")
                          if o not in _V1_MOUNT_FLAGS
                          and ("=" not in o or o.startswith("name=")))
            if not ctrls or any(c in seen for c in ctrls):
                continue  # a second mount of a hierarchy we already have
            seen.update(ctrls)
            v1.append(Hierarchy(ctrls, mountpoint, mount_root))
    if unified_at_root is not None:
        return Layout("v2", root, [], unified_at_root)
    if v1:
        return Layout("hybrid" if unified_below else "v1", root, v1, unified_below)
    if unified_below is not None:
        return Layout("v2", root, [], unified_below)
    raise Unsupported(f"no cgroup hierarchy is mounted at or below {root}")


def detect(root: str = "/sys/fs/cgroup") -> Layout:
    try:
        with open(MOUNTINFO, "rb") as f:
            text = f.read().decode(errors="surrogateescape")
    except OSError as exc:
        raise Unsupported(f"read {MOUNTINFO}: {exc.strerror}") from exc
    return parse_mountinfo(text, root)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Map each controller (and "" for cgroup2) to the caller's cgroup path."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        ctrls = parts[1]
        if not ctrls:
            out[""] = parts[2]
            continue
        for c in ctrls.split(","):
            out[c] = parts[2]
    return out


def own_cgroups() -> dict[str, str]:
    try:
        with open(PROC_CGROUP, "rb") as f:
            return parse_proc_cgroup(f.read().decode())
    except OSError as exc:
        raise Unsupported(f"read {PROC_CGROUP}: {exc.strerror}") from exc


def check_cgroups_path(cgroups_path: str | None, container_id: str) -> str:
    """The effective cgroupsPath: None or "" → ``/cove/<id>``; reject escapes."""
    if not cgroups_path:
        if not container_id or "/" in container_id or container_id in (".", ".."):
            raise InvalidArgument(f"container id {container_id!r} cannot name a cgroup")
        return f"/cove/{container_id}"
    if not isinstance(cgroups_path, str):
        raise InvalidArgument("linux.cgroupsPath: must be a string")
    if not cgroups_path.startswith("/") and cgroups_path.count(":") == 2:
        raise Unsupported(f"linux.cgroupsPath {cgroups_path!r}: the systemd form "
                          "slice:prefix:name needs the systemd cgroup driver, which "
                          "cove-runtime does not have")
    parts = [p for p in cgroups_path.split("/") if p not in ("", ".")]
    if ".." in parts or "\0" in cgroups_path:
        raise InvalidArgument(f"linux.cgroupsPath {cgroups_path!r}: must not contain '..'")
    if not parts:
        # The hierarchy root (or the caller's own cgroup) is never the container's:
        # destroy would try to remove it.
        raise InvalidArgument(f"linux.cgroupsPath {cgroups_path!r}: must name a cgroup below "
                              "the hierarchy root")
    return cgroups_path


def cgroup_dir(h: Hierarchy, cgroups_path: str, own: dict[str, str] | None) -> str:
    """The directory of ``cgroups_path`` in hierarchy ``h``.

    Absolute paths are taken from the hierarchy's mount point; relative ones
    from the caller's own cgroup in that hierarchy (``own``, as read from
    /proc/self/cgroup), made relative to what the mount shows.
    """
    rel = cgroups_path.strip("/")
    if cgroups_path.startswith("/"):
        return os.path.normpath(os.path.join(h.mountpoint, rel))
    assert own is not None
    key = h.controllers[0] if h.controllers else ""
    mine = own.get(key, "/")
    if h.mount_root != "/" and (mine == h.mount_root or mine.startswith(h.mount_root + "/")):
        mine = mine[len(h.mount_root):]
    return os.path.normpath(os.path.join(h.mountpoint, mine.lstrip("/"), rel))
