"""Network namespaces: create, enter, remove, without subprocesses.

Namespaces are per thread: every function that has to be inside a network namespace
does its work in a short-lived thread that joins it (``setns``) or makes it (``unshare``)
and then ends, so the daemon's other threads never leave the host's namespace. A
namespace outlives its creating thread through a bind mount of its nsfs file onto a
path (as ``ip netns add`` does), and sockets created in it stay bound to it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

from cove.errors import AlreadyExists, NotFound, SyscallError
from cove.linux import libc

T = TypeVar("T")

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the union (40 bytes)


def run_in_netns(netns: str | int, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a short-lived thread inside ``netns`` (an nsfs path or an open fd).

    Its result is returned and its exception re-raised here. Sockets ``fn`` creates
    stay in ``netns`` after the thread ends.
    """
    fd = open_netns(netns) if isinstance(netns, str) else netns
    try:
        return _in_thread("netns", lambda: _enter_then(fd, netns, fn))
    finally:
        if isinstance(netns, str):
            os.close(fd)


def open_netns(path: str) -> int:
    """Open a namespace file (``/run/.../x``, ``/proc/<pid>/ns/net``) for setns/IFLA_NET_NS_FD."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound(f'network namespace "{path}" not found') from None
    except OSError as e:
        raise SyscallError(f'cannot open network namespace "{path}": {e.strerror}',
                           e.errno) from None


def create_netns(path: str) -> None:
    """Make a new network namespace, kept alive by a bind mount on ``path``, with ``lo`` up.

    On failure nothing is left behind: no mount, no file.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444))
    except FileExistsError:
        raise AlreadyExists(f'network namespace "{path}" already exists') from None

    def make() -> None:
        libc.unshare(libc.CLONE_NEWNET)
        libc.mount("/proc/thread-self/ns/net", path, None, libc.MS_BIND)
        try:
            _loopback_up()
        except BaseException:
            libc.umount(path, libc.MNT_DETACH)
            raise

    try:
        _in_thread("netns-create", make)
    except BaseException:
        os.unlink(path)
        raise


def remove_netns(path: str) -> None:
    """Unmount and remove a namespace made by :func:`create_netns`; a missing one is fine.

    The namespace itself goes away once no process, mount or socket holds it.
    """
    try:
        libc.umount(path, libc.MNT_DETACH)
    except SyscallError as e:
        # EINVAL: not a mount point (a leftover file); ENOENT: already gone.
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def netns_exists(path: str) -> bool:
    """Is ``path`` a mounted network namespace file (nsfs)?"""
    try:
        # Every namespace file lives on the one nsfs superblock: same device as ours.
        return os.stat(path).st_dev == os.stat("/proc/thread-self/ns/net").st_dev
    except OSError:
        return False


def set_sysctl(key: str, value: str, netns: str | int | None = None) -> None:
    """Write a sysctl (``net.ipv4.conf.eth0.arp_notify``), inside ``netns`` when given.

    As sysctl(8) does, a ``/`` in the key stands for a dot in a name (``eth0/100``).
    """
    path = "/proc/sys/" + key.translate(str.maketrans("./", "/."))

    def write() -> None:
        # /proc/sys/net shows the namespace of the thread that opens the file.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound(f'sysctl "{key}" not found ({path})') from None
        except OSError as e:
            raise SyscallError(f'cannot open sysctl "{key}": {e.strerror}', e.errno) from None
        try:
            os.write(fd, value.encode())
        except OSError as e:
            raise SyscallError(f'cannot set sysctl "{key}" to "{value}": {e.strerror}',
                               e.errno) from None
        finally:
            os.close(fd)

    if netns is None:
        write()
    else:
        run_in_netns(netns, write)


def _enter_then(fd: int, netns: str | int, fn: Callable[[], T]) -> T:
    what = f'network namespace "{netns}"' if isinstance(netns, str) else f"netns fd {netns}"
    libc.setns(fd, libc.CLONE_NEWNET, what)
    return fn()


def _in_thread(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread that ends afterwards, so its namespace changes die with it."""
    result: list[T] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(fn())
        except BaseException as e:  # handed to the caller's thread
            error.append(e)

    t = threading.Thread(target=work, name=name, daemon=True)
    t.start()
    t.join()
    if error:
        raise error[0]
    return result[0]


def _loopback_up() -> None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            got = fcntl.ioctl(s, _SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
            flags = struct.unpack(_IFREQ, got)[1]
            if not flags & _IFF_UP:
                fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | _IFF_UP))
    except OSError as e:
        raise SyscallError(f"cannot bring lo up in the new network namespace: {e.strerror}",
                           e.errno or 0) from None
