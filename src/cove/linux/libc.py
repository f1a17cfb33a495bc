"""Thin ctypes wrappers for the Linux syscalls the standard library lacks.

Every wrapper raises :class:`cove.errors.SyscallError` whose message names the
call and the object it was about (path, namespace, pid), so callers never have
to decode a bare errno.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import os

from cove.errors import SyscallError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Final

_libc: Final = ctypes.CDLL(None, use_errno=True)

# x86_64 / aarch64 syscall numbers that glibc 2.36 has no wrapper for.
_SYSCALLS: Final[dict[str, dict[str, int]]] = {
    "x86_64": {"pivot_root": 155, "seccomp": 317, "bpf": 321, "pidfd_open": 434,
               "close_range": 436, "openat2": 437, "mount_setattr": 442,
               "pidfd_send_signal": 424, "capget": 125, "capset": 126, "open_tree": 428},
    "aarch64": {"pivot_root": 41, "seccomp": 277, "bpf": 280, "pidfd_open": 434,
                "close_range": 436, "openat2": 437, "mount_setattr": 442,
                "pidfd_send_signal": 424, "capget": 90, "capset": 91, "open_tree": 428},
}
MACHINE: Final = os.uname().machine
SYS: Final = _SYSCALLS.get(MACHINE, _SYSCALLS["x86_64"])

# mount(2) flags
MS_RDONLY: Final = 0x1
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_NOEXEC: Final = 0x8
MS_SYNCHRONOUS: Final = 0x10
MS_REMOUNT: Final = 0x20
MS_MANDLOCK: Final = 0x40
MS_DIRSYNC: Final = 0x80
MS_NOSYMFOLLOW: Final = 0x100
MS_NOATIME: Final = 0x400
MS_NODIRATIME: Final = 0x800
MS_BIND: Final = 0x1000
MS_MOVE: Final = 0x2000
MS_REC: Final = 0x4000
MS_SILENT: Final = 0x8000
MS_UNBINDABLE: Final = 1 << 17
MS_PRIVATE: Final = 1 << 18
MS_SLAVE: Final = 1 << 19
MS_SHARED: Final = 1 << 20
MS_RELATIME: Final = 1 << 21
MS_STRICTATIME: Final = 1 << 24
MS_LAZYTIME: Final = 1 << 25

MNT_DETACH: Final = 2
UMOUNT_NOFOLLOW: Final = 8

# clone(2)/unshare(2) namespace flags
CLONE_NEWTIME: Final = 0x00000080
CLONE_NEWNS: Final = 0x00020000
CLONE_NEWCGROUP: Final = 0x02000000
CLONE_NEWUTS: Final = 0x04000000
CLONE_NEWIPC: Final = 0x08000000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
CLONE_NEWNET: Final = 0x40000000

# prctl(2) options
PR_SET_PDEATHSIG: Final = 1
PR_SET_DUMPABLE: Final = 4
PR_SET_KEEPCAPS: Final = 8
PR_SET_NAME: Final = 15
PR_CAPBSET_READ: Final = 23
PR_CAPBSET_DROP: Final = 24
PR_SET_SECUREBITS: Final = 28
PR_SET_NO_NEW_PRIVS: Final = 38
PR_GET_NO_NEW_PRIVS: Final = 39
PR_SET_CHILD_SUBREAPER: Final = 36
PR_CAP_AMBIENT: Final = 47
PR_CAP_AMBIENT_RAISE: Final = 2
PR_CAP_AMBIENT_CLEAR_ALL: Final = 4


def _fail(call: str, what: str) -> SyscallError:
    err = ctypes.get_errno()
    return SyscallError(f"{call} {what}: {os.strerror(err)}", err)


def _cstr(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)


_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    if _libc.mount(_cstr(source), _cstr(target), _cstr(fstype), flags, _cstr(data)) != 0:
        raise _fail("mount", f"{source or fstype!s} on {target} (type {fstype}, flags {flags:#x},"
                    f" data {data!r})")


def umount(target: str, flags: int = 0) -> None:
    if _libc.umount2(_cstr(target), flags) != 0:
        raise _fail("umount", target)


def pivot_root(new_root: str, put_old: str) -> None:
    if _libc.syscall(SYS["pivot_root"], _cstr(new_root), _cstr(put_old)) != 0:
        raise _fail("pivot_root", f"{new_root} (old root at {put_old})")


def unshare(flags: int) -> None:
    if _libc.unshare(ctypes.c_int(flags)) != 0:
        raise _fail("unshare", f"namespaces {flags:#x}")


def setns(fd: int, nstype: int, what: str) -> None:
    if _libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)) != 0:
        raise _fail("setns", what)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    res = int(_libc.prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                          ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)))
    if res < 0:
        raise _fail("prctl", f"option {option}")
    return res


def sethostname(name: str) -> None:
    raw = name.encode()
    if _libc.sethostname(raw, ctypes.c_size_t(len(raw))) != 0:
        raise _fail("sethostname", repr(name))


def setdomainname(name: str) -> None:
    raw = name.encode()
    if _libc.setdomainname(raw, ctypes.c_size_t(len(raw))) != 0:
        raise _fail("setdomainname", repr(name))


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    if _libc.syscall(SYS["close_range"], ctypes.c_uint(first), ctypes.c_uint(last),
                     ctypes.c_uint(flags)) != 0:
        raise _fail("close_range", f"{first}..{last}")


CLOSE_RANGE_CLOEXEC: Final = 1 << 2


def pidfd_open(pid: int) -> int:
    fd = int(_libc.syscall(SYS["pidfd_open"], ctypes.c_int(pid), ctypes.c_uint(0)))
    if fd < 0:
        raise _fail("pidfd_open", f"pid {pid}")
    return fd


AT_FDCWD: Final = -100
AT_SYMLINK_NOFOLLOW: Final = 0x100
OPEN_TREE_CLONE: Final = 1
OPEN_TREE_CLOEXEC: Final = os.O_CLOEXEC


def open_tree(path: str, flags: int) -> int:
    """open_tree(2) relative to the cwd: an O_PATH fd of the mount (a detached copy with
    OPEN_TREE_CLONE). Kernels before 5.2 fail with ENOSYS."""
    fd = int(_libc.syscall(SYS["open_tree"], ctypes.c_int(AT_FDCWD), _cstr(path),
                           ctypes.c_uint(flags)))
    if fd < 0:
        raise _fail("open_tree", path)
    return fd


def syscall(name: str, *args: object) -> int:
    """Raw syscall by name, for the few modules (seccomp, bpf) that need more."""
    res = int(_libc.syscall(SYS[name], *args))
    if res < 0:
        raise _fail(name, "")
    return res


def get_errno() -> int:
    return ctypes.get_errno()


def is_enoent(exc: SyscallError) -> bool:
    return exc.errno == errno_mod.ENOENT
