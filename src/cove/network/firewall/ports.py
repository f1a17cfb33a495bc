"""Host-port allocation for published ports.

A reservation holds a bound, never listening, socket on (host_ip or 0.0.0.0, port):
while a container publishes the port no host process can bind it, and a port a host
process (or another container) already holds is refused the way Docker words it.
No SO_REUSEADDR: with it, another socket with SO_REUSEADDR could bind the same port.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import random
import socket
import threading
from dataclasses import dataclass, field
from typing import NamedTuple

from cove.errors import Conflict, InvalidArgument, SyscallError

log = logging.getLogger(__name__)

_LOCAL_PORT_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
_FALLBACK_RANGE = (32768, 60999)
_SOCK_TYPES = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


class PortRequest(NamedTuple):
    """One host port to reserve; ``port`` 0 means any port of the dynamic range."""

    proto: str
    host_ip: str
    port: int


@dataclass(eq=False)
class Reservation:
    """A held host port; ``release`` it (or its owner) when the container stops publishing."""

    proto: str
    host_ip: str
    port: int
    owner: str
    sock: socket.socket | None = field(default=None, repr=False)

    @property
    def bind_address(self) -> str:
        return self.host_ip or "0.0.0.0"


def local_port_range() -> tuple[int, int]:
    """The kernel's ephemeral port range, which Docker also picks published ports from."""
    try:
        with open(_LOCAL_PORT_RANGE) as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        return _FALLBACK_RANGE
    return lo, hi


def _allocated(address: str, port: int) -> Conflict:
    # Docker's wording, to the letter (users and scripts grep for it), tcp or udp alike.
    return Conflict(f"Bind for {address}:{port} failed: port is already allocated")


class PortAllocator:
    """Reserves host ports by binding them; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: list[Reservation] = []

    def reserve(self, proto: str, host_ip: str, port: int, owner: str = "") -> Reservation:
        """Hold ``port``; raise Conflict with Docker's text if it is taken."""
        address = self._check(proto, host_ip)
        if not 1 <= port <= 65535:
            raise InvalidArgument(f"host port {port} is out of range 1-65535")
        with self._lock:
            sock = self._bind(proto, address, port)
            if sock is None:
                raise _allocated(address, port)
            return self._keep(proto, host_ip, port, owner, sock)

    def reserve_any(self, proto: str, host_ip: str, port_range: tuple[int, int] | None = None,
                    owner: str = "") -> Reservation:
        """Hold a free port of ``port_range`` (default: the kernel's ephemeral range),
        starting at a random offset and wrapping, as Docker's allocator does."""
        address = self._check(proto, host_ip)
        lo, hi = port_range or local_port_range()
        if not 1 <= lo <= hi <= 65535:
            raise InvalidArgument(f"host port range {lo}-{hi} is invalid")
        count = hi - lo + 1
        start = random.randrange(count)
        with self._lock:
            for i in range(count):
                port = lo + (start + i) % count
                sock = self._bind(proto, address, port)
                if sock is not None:
                    return self._keep(proto, host_ip, port, owner, sock)
        raise Conflict(f"Bind for {address}:{lo}-{hi} failed: no free port in the range "
                       f"(all {count} ports are allocated)")

    def reserve_all(self, owner: str, requests: list[PortRequest],
                    port_range: tuple[int, int] | None = None) -> list[Reservation]:
        """Reserve every request for ``owner`` or none (what was got is released on failure)."""
        got: list[Reservation] = []
        try:
            for req in requests:
                if req.port:
                    got.append(self.reserve(req.proto, req.host_ip, req.port, owner))
                else:
                    got.append(self.reserve_any(req.proto, req.host_ip, port_range, owner))
        except BaseException:
            for r in got:
                self.release(r)
            raise
        return got

    def release(self, reservation: Reservation) -> None:
        """Give the port back (idempotent)."""
        with self._lock:
            self._held = [r for r in self._held if r is not reservation]
            if reservation.sock is not None:
                reservation.sock.close()
                reservation.sock = None

    def release_owner(self, owner: str) -> None:
        """Give back every port ``owner`` holds."""
        with self._lock:
            mine = [r for r in self._held if r.owner == owner]
        for r in mine:
            self.release(r)

    def held(self, owner: str | None = None) -> list[Reservation]:
        """The live reservations (of ``owner`` if given)."""
        with self._lock:
            return [r for r in self._held if owner is None or r.owner == owner]

    @staticmethod
    def _check(proto: str, host_ip: str) -> str:
        if proto not in _SOCK_TYPES:
            raise InvalidArgument(f"port protocol {proto!r} is not tcp or udp")
        address = host_ip or "0.0.0.0"
        try:
            ipaddress.IPv4Address(address)
        except ValueError as exc:
            raise InvalidArgument(f"host address {host_ip!r} is not an IPv4 address") from exc
        return address

    @staticmethod
    def _bind(proto: str, address: str, port: int) -> socket.socket | None:
        """A socket bound to (address, port), or None if the port is taken."""
        sock = socket.socket(socket.AF_INET, _SOCK_TYPES[proto] | socket.SOCK_CLOEXEC)
        try:
            sock.bind((address, port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                return None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise InvalidArgument(
                    f"cannot publish on {address}:{port}: {address} is not an address "
                    "of this host") from exc
            raise SyscallError(f"bind {proto} {address}:{port}: {exc.strerror}",
                               exc.errno or 0) from exc
        return sock

    def _keep(self, proto: str, host_ip: str, port: int, owner: str,
              sock: socket.socket) -> Reservation:
        r = Reservation(proto, host_ip, port, owner, sock)
        self._held.append(r)
        log.debug("reserved %s %s:%d for %s", proto, r.bind_address, port, owner or "-")
        return r
