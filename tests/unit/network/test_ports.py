"""Host-port reservations: real bound sockets on this host, no packets sent."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Iterator

import pytest

from cove.errors import Conflict, InvalidArgument
from cove.network.firewall.ports import PortAllocator, PortRequest, local_port_range


def bindable(port: int, proto: str = "tcp", address: str = "0.0.0.0") -> bool:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((address, port))
        except OSError as exc:
            assert exc.errno == errno.EADDRINUSE
            return False
    return True


def free_ports(count: int) -> tuple[int, int]:
    """A run of ``count`` consecutive ports free for tcp and udp right now."""
    for _ in range(200):
        lo = random.randrange(20000, 30000)
        if all(bindable(p, proto) for p in range(lo, lo + count) for proto in ("tcp", "udp")):
            return lo, lo + count - 1
    raise AssertionError("no free port run found")


@pytest.fixture
def allocator() -> Iterator[PortAllocator]:
    a = PortAllocator()
    try:
        yield a
    finally:
        for r in a.held():
            a.release(r)


def test_reserved_port_is_held_and_released(allocator: PortAllocator) -> None:
    port, _ = free_ports(1)
    r = allocator.reserve("tcp", "", port, owner="c1")
    assert (r.proto, r.host_ip, r.port, r.owner) == ("tcp", "", port, "c1")
    # No host process can take it, on any address, while it is published.
    assert not bindable(port)
    assert not bindable(port, address="127.0.0.1")
    assert bindable(port, proto="udp")  # other protocol: independent
    allocator.release(r)
    allocator.release(r)  # idempotent
    assert bindable(port)
    assert allocator.held() == []


def test_second_reservation_is_refused_with_dockers_text(allocator: PortAllocator) -> None:
    port, _ = free_ports(1)
    allocator.reserve("tcp", "0.0.0.0", port, owner="c1")
    with pytest.raises(Conflict) as exc:
        allocator.reserve("tcp", "0.0.0.0", port, owner="c2")
    assert str(exc.value) == f"Bind for 0.0.0.0:{port} failed: port is already allocated"
    with pytest.raises(Conflict, match=f"^Bind for 127.0.0.1:{port} failed: port is already "
                                       "allocated$"):
        allocator.reserve("tcp", "127.0.0.1", port, owner="c2")
    # udp is another port space.
    allocator.reserve("udp", "0.0.0.0", port, owner="c2")


def test_port_used_by_a_host_process_is_refused(allocator: PortAllocator) -> None:
    port, _ = free_ports(1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as host:
        host.bind(("127.0.0.1", port))
        with pytest.raises(Conflict, match=f"^Bind for 0.0.0.0:{port} failed: port is "
                                           "already allocated$"):
            allocator.reserve("udp", "", port)
    assert allocator.held() == []
    allocator.reserve("udp", "", port)


def test_one_address_leaves_the_others_free(allocator: PortAllocator) -> None:
    port, _ = free_ports(1)
    allocator.reserve("tcp", "127.0.0.1", port)
    assert not bindable(port, address="127.0.0.1")
    assert bindable(port, address="127.0.0.2")


def test_reserve_any_picks_inside_the_range_and_wraps(allocator: PortAllocator) -> None:
    lo, hi = free_ports(3)
    got = {allocator.reserve_any("tcp", "", (lo, hi), owner="c1").port for _ in range(3)}
    assert got == {lo, lo + 1, lo + 2}  # whatever the random start, every port is found
    with pytest.raises(Conflict, match=f"0.0.0.0:{lo}-{hi} failed: no free port"):
        allocator.reserve_any("tcp", "", (lo, hi))


def test_reserve_any_default_range_is_the_kernels(allocator: PortAllocator) -> None:
    lo, hi = local_port_range()
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        assert (lo, hi) == tuple(int(x) for x in f.read().split())
    r = allocator.reserve_any("udp", "127.0.0.1")
    assert lo <= r.port <= hi


def test_reserve_all_is_all_or_nothing(allocator: PortAllocator) -> None:
    lo, hi = free_ports(3)
    allocator.reserve("tcp", "", hi, owner="other")
    requests = [PortRequest("tcp", "", lo), PortRequest("udp", "", lo + 1),
                PortRequest("tcp", "", hi)]
    with pytest.raises(Conflict, match=f"0.0.0.0:{hi} failed"):
        allocator.reserve_all("c1", requests)
    assert allocator.held("c1") == []
    assert bindable(lo) and bindable(lo + 1, "udp")

    got = allocator.reserve_all("c1", [PortRequest("tcp", "", lo), PortRequest("tcp", "", 0)],
                                port_range=(lo, lo + 1))
    assert sorted(r.port for r in got) == [lo, lo + 1]
    assert allocator.held("c1") == got


def test_release_owner(allocator: PortAllocator) -> None:
    lo, _ = free_ports(2)
    allocator.reserve("tcp", "", lo, owner="c1")
    allocator.reserve("udp", "", lo + 1, owner="c1")
    kept = allocator.reserve("tcp", "", lo + 1, owner="c2")
    allocator.release_owner("c1")
    assert allocator.held() == [kept]
    assert bindable(lo) and bindable(lo + 1, "udp")


def test_bad_requests(allocator: PortAllocator) -> None:
    with pytest.raises(InvalidArgument, match="'sctp' is not tcp or udp"):
        allocator.reserve("sctp", "", 8080)
    with pytest.raises(InvalidArgument, match="'::' is not an IPv4"):
        allocator.reserve("tcp", "::", 8080)
    with pytest.raises(InvalidArgument, match="out of range"):
        allocator.reserve("tcp", "", 70000)
    with pytest.raises(InvalidArgument, match="range 9-8 is invalid"):
        allocator.reserve_any("tcp", "", (9, 8))
    # An address this host does not have (bind only; nothing is sent).
    with pytest.raises(InvalidArgument, match="10.202.255.254 is not an address of this host"):
        allocator.reserve("tcp", "10.202.255.254", 8080)
