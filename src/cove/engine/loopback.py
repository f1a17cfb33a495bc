"""Bring a container's loopback interface up, as Docker's network setup does.

A new network namespace starts with ``lo`` down: ``ping 127.0.0.1`` or a server on
localhost would fail. The OCI runtime does not touch it (runc does not either), so the
engine does it between create and start, while the init waits for its start signal.
The work runs in a short-lived thread that joins the container's network namespace:
namespaces are per thread, so the rest of the daemon never leaves its own.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
import threading

from cove.errors import CoveError
from cove.linux import libc

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
_IFREQ = "16sh22x"  # struct ifreq: the name, then ifr_flags in the union (40 bytes)


class LoopbackError(CoveError):
    """The container's loopback interface could not be brought up."""


def _up_in_this_thread(pid: int) -> None:
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc.setns(fd, libc.CLONE_NEWNET, f"network namespace of process {pid}")
    finally:
        os.close(fd)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = fcntl.ioctl(s, SIOCGIFFLAGS, struct.pack(_IFREQ, b"lo", 0))
        flags = struct.unpack(_IFREQ, got)[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack(_IFREQ, b"lo", flags | IFF_UP))


def bring_loopback_up(pid: int) -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _up_in_this_thread(pid)
        except BaseException as e:  # reported to the caller's thread
            errors.append(e)

    t = threading.Thread(target=work, name="loopback", daemon=True)
    t.start()
    t.join()
    if errors:
        raise LoopbackError(f"cannot bring up lo in the container: {errors[0]}") from errors[0]


def has_own_network_namespace(spec: dict[str, object]) -> bool:
    linux = spec.get("linux")
    namespaces = linux.get("namespaces") if isinstance(linux, dict) else None
    return any(isinstance(ns, dict) and ns.get("type") == "network" and not ns.get("path")
               for ns in namespaces or [])
