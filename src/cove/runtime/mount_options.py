"""Parse OCI mount ``options`` into mount(2) flags, propagation and fs data."""

from __future__ import annotations

from cove.linux import libc as L

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Final

# option -> (clear?, flag). A "clear" option removes the flag (rw clears MS_RDONLY).
_FLAGS: Final[dict[str, tuple[bool, int]]] = {
    "async": (True, L.MS_SYNCHRONOUS), "atime": (True, L.MS_NOATIME),
    "defaults": (False, 0), "dev": (True, L.MS_NODEV), "diratime": (True, L.MS_NODIRATIME),
    "dirsync": (False, L.MS_DIRSYNC), "exec": (True, L.MS_NOEXEC),
    "iversion": (False, 1 << 23), "lazytime": (False, L.MS_LAZYTIME),
    "loud": (True, L.MS_SILENT), "mand": (False, L.MS_MANDLOCK),
    "noatime": (False, L.MS_NOATIME), "nodev": (False, L.MS_NODEV),
    "nodiratime": (False, L.MS_NODIRATIME), "noexec": (False, L.MS_NOEXEC),
    "noiversion": (True, 1 << 23), "nolazytime": (True, L.MS_LAZYTIME),
    "nomand": (True, L.MS_MANDLOCK), "norelatime": (True, L.MS_RELATIME),
    "nostrictatime": (True, L.MS_STRICTATIME), "nosuid": (False, L.MS_NOSUID),
    "nosymfollow": (False, L.MS_NOSYMFOLLOW), "relatime": (False, L.MS_RELATIME),
    "remount": (False, L.MS_REMOUNT), "ro": (False, L.MS_RDONLY), "rw": (True, L.MS_RDONLY),
    "silent": (False, L.MS_SILENT), "strictatime": (False, L.MS_STRICTATIME),
    "suid": (True, L.MS_NOSUID), "sync": (False, L.MS_SYNCHRONOUS),
}

_PROPAGATION: Final[dict[str, int]] = {
    "private": L.MS_PRIVATE, "rprivate": L.MS_PRIVATE | L.MS_REC,
    "shared": L.MS_SHARED, "rshared": L.MS_SHARED | L.MS_REC,
    "slave": L.MS_SLAVE, "rslave": L.MS_SLAVE | L.MS_REC,
    "unbindable": L.MS_UNBINDABLE, "runbindable": L.MS_UNBINDABLE | L.MS_REC,
}

# Recursive mount attributes (mount_setattr with AT_RECURSIVE), OCI 1.1+.
MOUNT_ATTR_RDONLY: Final = 0x1
MOUNT_ATTR_NOSUID: Final = 0x2
MOUNT_ATTR_NODEV: Final = 0x4
MOUNT_ATTR_NOEXEC: Final = 0x8
MOUNT_ATTR__ATIME: Final = 0x70
MOUNT_ATTR_RELATIME: Final = 0x0
MOUNT_ATTR_NOATIME: Final = 0x10
MOUNT_ATTR_STRICTATIME: Final = 0x20
MOUNT_ATTR_NODIRATIME: Final = 0x80
MOUNT_ATTR_NOSYMFOLLOW: Final = 0x200000
_RECURSIVE: Final[dict[str, tuple[bool, int]]] = {
    "rro": (False, MOUNT_ATTR_RDONLY), "rrw": (True, MOUNT_ATTR_RDONLY),
    "rnosuid": (False, MOUNT_ATTR_NOSUID), "rsuid": (True, MOUNT_ATTR_NOSUID),
    "rnodev": (False, MOUNT_ATTR_NODEV), "rdev": (True, MOUNT_ATTR_NODEV),
    "rnoexec": (False, MOUNT_ATTR_NOEXEC), "rexec": (True, MOUNT_ATTR_NOEXEC),
    "rnodiratime": (False, MOUNT_ATTR_NODIRATIME), "rdiratime": (True, MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (False, MOUNT_ATTR_NOSYMFOLLOW),
    "rsymfollow": (True, MOUNT_ATTR_NOSYMFOLLOW),
}
_RECURSIVE_ATIME: Final[dict[str, int]] = {
    "rrelatime": MOUNT_ATTR_RELATIME, "rnorelatime": MOUNT_ATTR_RELATIME,
    "rnoatime": MOUNT_ATTR_NOATIME, "ratime": MOUNT_ATTR_RELATIME,
    "rstrictatime": MOUNT_ATTR_STRICTATIME, "rnostrictatime": MOUNT_ATTR_RELATIME,
}


class MountOptions:
    __slots__ = ("attr_clr", "attr_set", "bind", "cleared", "data", "flags", "idmap",
                 "propagation", "recursive_bind", "tmpcopyup")

    def __init__(self) -> None:
        self.flags = 0
        self.cleared = 0
        self.propagation: list[int] = []
        self.data: list[str] = []
        self.bind = False
        self.recursive_bind = False
        self.attr_set = 0
        self.attr_clr = 0
        self.idmap = False
        self.tmpcopyup = False

    @property
    def data_str(self) -> str | None:
        return ",".join(self.data) or None


def parse_mount_options(options: list[str] | None, mount_type: str | None) -> MountOptions:
    out = MountOptions()
    if mount_type == "bind":
        out.bind = True
    for opt in options or []:
        if opt in ("bind", "rbind"):
            out.bind = True
            out.recursive_bind = out.recursive_bind or opt == "rbind"
        elif opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            if clear:
                out.flags &= ~flag
                out.cleared |= flag
            else:
                out.flags |= flag
                out.cleared &= ~flag
        elif opt in _PROPAGATION:
            out.propagation.append(_PROPAGATION[opt])
        elif opt in _RECURSIVE:
            clear, attr = _RECURSIVE[opt]
            if clear:
                out.attr_clr |= attr
            else:
                out.attr_set |= attr
        elif opt in _RECURSIVE_ATIME:
            out.attr_clr |= MOUNT_ATTR__ATIME
            out.attr_set |= _RECURSIVE_ATIME[opt]
        elif opt in ("idmap", "ridmap"):
            out.idmap = True
        elif opt == "tmpcopyup":
            out.tmpcopyup = True
        else:
            out.data.append(opt)
    return out


def known_mount_options() -> list[str]:
    return sorted([*_FLAGS, *_PROPAGATION, *_RECURSIVE, *_RECURSIVE_ATIME, "bind", "rbind",
                   "idmap", "ridmap", "tmpcopyup"])
