"""The rtnetlink client against the real kernel: links, addresses, routes, traffic.

Host-side links are named cvnl<4 hex><suffix>; everything else lives in namespaces
the tests make. Packets only travel between those namespaces.
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cove.errors import AlreadyExists, InvalidArgument, NotFound
from cove.linux.netlink import Link, Netlink, NetlinkError, NetlinkExists, NetlinkNotFound
from cove.linux.netns import run_in_netns


@pytest.fixture
def host() -> Iterator[Netlink]:
    with Netlink() as nl:
        yield nl


@pytest.fixture
def host_name(host: Netlink) -> Iterator[Callable[[str], str]]:
    """host_name(suffix) -> a host link name of ours, deleted after the test if still there."""
    tag = f"cvnl{uuid.uuid4().hex[:4]}"
    names: list[str] = []

    def name(suffix: str) -> str:
        names.append(tag + suffix)
        return tag + suffix

    try:
        yield name
    finally:
        for n in names:
            host.delete_link(n, missing_ok=True)


def _link(nl: Netlink, name: str) -> Link:
    found = nl.link(name)
    assert found is not None, name
    return found


def test_veth_peer_is_created_inside_the_netns(host: Netlink, host_name: Callable[[str], str],
                                               make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    veth = host_name("v")
    host.add_veth(veth, "eth0", peer_netns=ns, mtu=1400, peer_mac="02:42:0a:c9:00:02")
    outside = _link(host, veth)
    assert (outside.kind, outside.mtu, outside.up) == ("veth", 1400, False)
    assert outside in host.links()
    with Netlink(ns) as inner:
        eth0 = _link(inner, "eth0")
        assert (eth0.kind, eth0.mtu, eth0.mac) == ("veth", 1400, "02:42:0a:c9:00:02")
        assert inner.link(veth) is None
        host.delete_link(veth)  # the peer goes with it
        assert host.link(veth) is None
        assert inner.link("eth0") is None


def test_veth_peer_netns_given_as_an_fd(host: Netlink, host_name: Callable[[str], str],
                                        make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    fd = os.open(ns, os.O_RDONLY | os.O_CLOEXEC)
    try:
        host.add_veth(host_name("v"), "eth0", peer_netns=fd)
        with Netlink(fd) as inner:
            assert _link(inner, "eth0").kind == "veth"
    finally:
        os.close(fd)


def test_duplicate_link_is_file_exists_naming_it(host: Netlink,
                                                 host_name: Callable[[str], str]) -> None:
    veth, peer = host_name("a"), host_name("b")
    host.add_veth(veth, peer)
    with pytest.raises(NetlinkExists) as err:
        host.add_veth(veth, peer)
    assert str(err.value) == f'cannot create veth "{veth}" (peer "{peer}"): File exists'
    assert err.value.errno == errno.EEXIST
    assert isinstance(err.value, AlreadyExists)
    with pytest.raises(NetlinkExists, match=f'create bridge "{veth}"'):
        host.add_bridge(veth)


def test_missing_link_is_not_found(host: Netlink, host_name: Callable[[str], str]) -> None:
    gone = host_name("x")
    assert host.link(gone) is None
    with pytest.raises(NetlinkNotFound, match=f'link "{gone}" not found') as err:
        host.index(gone)
    assert isinstance(err.value, NotFound)
    assert err.value.errno == errno.ENODEV
    with pytest.raises(NotFound, match=f'delete link "{gone}"'):
        host.delete_link(gone)
    host.delete_link(gone, missing_ok=True)
    with pytest.raises(NotFound, match=f'set link "{gone}" \\(up\\)'):
        host.set_link(gone, up=True)
    with pytest.raises(NotFound, match=gone):
        host.add_address(gone, "10.201.0.2/24")


def test_bad_arguments_are_invalid(host: Netlink, host_name: Callable[[str], str]) -> None:
    veth = host_name("v")
    with pytest.raises(InvalidArgument, match="02:42"):
        host.add_veth(veth, host_name("p"), peer_mac="02:42")
    with pytest.raises(InvalidArgument, match="10.201.0.300/24"):
        host.add_address("lo", "10.201.0.300/24")
    with pytest.raises(InvalidArgument, match="10.201.0.2/33"):
        host.add_address("lo", "10.201.0.2/33")
    with pytest.raises(NetlinkError, match='create bridge "cvnl bad/"') as err:
        host.add_bridge("cvnl bad/")
    assert err.value.errno == errno.EINVAL
    assert host.link(veth) is None


def test_bridge_master_up_hairpin(host: Netlink, host_name: Callable[[str], str]) -> None:
    bridge, port, peer = host_name("br"), host_name("a"), host_name("b")
    index = host.add_bridge(bridge, mtu=1450)
    br = _link(host, bridge)
    assert (br.index, br.kind, br.mtu) == (index, "bridge", 1450)
    host.add_veth(port, peer)
    host.set_link(port, master=bridge, up=True)
    host.set_link(bridge, up=True)
    enslaved = _link(host, port)
    assert (enslaved.master, enslaved.up) == (index, True)
    assert _link(host, bridge).up

    brport = Path(f"/sys/class/net/{port}/brport")
    host.set_bridge_port(port, hairpin=True)
    assert (brport / "hairpin_mode").read_text().strip() == "1"
    assert (brport / "isolated").read_text().strip() == "0"
    host.set_bridge_port(port, hairpin=False, isolated=True)
    assert (brport / "hairpin_mode").read_text().strip() == "0"
    assert (brport / "isolated").read_text().strip() == "1"

    host.set_link(port, nomaster=True, up=False)
    assert (_link(host, port).master, _link(host, port).up) == (0, False)
    with pytest.raises(NetlinkError, match=f'set bridge port "{port}" \\(hairpin on\\)'):
        host.set_bridge_port(port, hairpin=True)  # no longer a bridge port


def test_set_link_moves_renames_and_raises_in_one_call(
        host: Netlink, host_name: Callable[[str], str], make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    veth, peer = host_name("a"), host_name("b")
    host.add_veth(veth, peer)
    host.set_link(peer, netns=ns, new_name="eth0", up=True, mtu=1300, mac="02:42:0a:c9:00:09")
    assert host.link(peer) is None
    with Netlink(ns) as inner:
        eth0 = _link(inner, "eth0")
        assert (eth0.up, eth0.mtu, eth0.mac) == (True, 1300, "02:42:0a:c9:00:09")
        inner.set_link("eth0", new_name="eth1", up=False)
        assert inner.link("eth0") is None
        assert not _link(inner, "eth1").up


def _ipv4_addresses(nl: Netlink, name: str) -> list[str]:
    # IPv6 link-local addresses and routes come and go with the carrier: leave them out.
    return [cidr for _name, cidr in nl.addresses(name) if ":" not in cidr]


def _ipv4_routes(nl: Netlink) -> list[str]:
    return [route["dst"] for route in nl.routes() if ":" not in route["dst"]]


def test_addresses_and_routes_inside_a_netns(host: Netlink, host_name: Callable[[str], str],
                                             make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    host.add_veth(host_name("v"), "eth0", peer_netns=ns)
    with Netlink(ns) as inner:
        inner.set_link("eth0", up=True)
        inner.add_address("eth0", "10.201.1.2/24")
        assert _ipv4_addresses(inner, "eth0") == ["10.201.1.2/24"]
        assert ("lo", "127.0.0.1/8") in inner.addresses()
        shown = subprocess.run(["nsenter", f"--net={ns}", "ip", "-o", "-4", "addr", "show",
                                "dev", "eth0"], capture_output=True, text=True, check=True)
        assert "inet 10.201.1.2/24 brd 10.201.1.255 " in shown.stdout

        with pytest.raises(NetlinkExists, match='add address 10.201.1.2/24 to "eth0"'):
            inner.add_address("eth0", "10.201.1.2/24")

        inner.add_route("default", gateway="10.201.1.1")
        inner.add_route("10.201.9.0/24", dev="eth0")
        routes = inner.routes()
        assert {"dst": "default", "gateway": "10.201.1.1", "dev": "eth0"} in routes
        assert {"dst": "10.201.1.0/24", "gateway": "", "dev": "eth0"} in routes
        assert {"dst": "10.201.9.0/24", "gateway": "", "dev": "eth0"} in routes
        with pytest.raises(NetlinkExists, match="add route default via 10.201.1.1"):
            inner.add_route("default", gateway="10.201.1.1")

        inner.delete_route("10.201.9.0/24", dev="eth0")
        inner.delete_route("default")
        assert _ipv4_routes(inner) == ["10.201.1.0/24"]
        with pytest.raises(NotFound, match="delete route default"):
            inner.delete_route("default")

        inner.delete_address("eth0", "10.201.1.2/24")
        assert _ipv4_addresses(inner, "eth0") == []
        with pytest.raises(NotFound, match='delete address 10.201.1.2/24 from "eth0"'):
            inner.delete_address("eth0", "10.201.1.2/24")
        assert _ipv4_routes(inner) == []


def test_ipv6_address_and_route(host: Netlink, host_name: Callable[[str], str],
                                make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    host.add_veth(host_name("v"), "eth0", peer_netns=ns)
    with Netlink(ns) as inner:
        inner.add_address("eth0", "fd00:c9::2/64")
        inner.set_link("eth0", up=True)
        assert ("eth0", "fd00:c9::2/64") in inner.addresses("eth0")
        inner.add_route("fd00:ca::/64", gateway="fd00:c9::1", dev="eth0")
        assert {"dst": "fd00:ca::/64", "gateway": "fd00:c9::1", "dev": "eth0"} in inner.routes()


def test_macvlan_is_created_straight_into_a_netns(
        host: Netlink, host_name: Callable[[str], str], make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    parent, other, macvlan = host_name("p"), host_name("q"), host_name("m")
    host.add_veth(parent, other)  # no dummy module here: a veth end is the parent
    host.add_macvlan(macvlan, parent, netns=ns, mac="02:42:0a:c9:00:05", mtu=1400)
    assert host.link(macvlan) is None
    with Netlink(ns) as inner:
        made = _link(inner, macvlan)
        assert (made.kind, made.mac, made.mtu) == ("macvlan", "02:42:0a:c9:00:05", 1400)
    with pytest.raises(InvalidArgument, match="macvlan mode"):
        host.add_macvlan(host_name("n"), parent, mode="cvnl")
    with pytest.raises(NotFound, match=f'link "{host_name("z")}" not found'):
        host.add_macvlan(host_name("o"), host_name("z"))


def _udp_socket(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    sock.bind((address, 0))
    return sock


def _talk(left: str, left_ip: str, right: str, right_ip: str) -> None:
    """A UDP round trip from the left namespace to the right one and back."""
    # Sockets stay in the namespace they were made in: create there, use here.
    a = run_in_netns(left, lambda: _udp_socket(left_ip))
    b = run_in_netns(right, lambda: _udp_socket(right_ip))
    with a, b:
        a.sendto(b"cvnl-ping", b.getsockname())
        data, sender = b.recvfrom(64)
        assert (data, sender) == (b"cvnl-ping", a.getsockname())
        b.sendto(b"cvnl-pong", sender)
        assert a.recv(64) == b"cvnl-pong"


def test_two_netns_talk_over_a_bridge(make_netns: Callable[[], str]) -> None:
    # The bridge lives in a namespace of its own, standing in for the host: no host
    # firewall or bridge-netfilter rules can get in the way.
    hub, left, right = make_netns(), make_netns(), make_netns()
    with Netlink(hub) as nl:
        nl.add_bridge("cvnl0")
        nl.set_link("cvnl0", up=True)
        for ns, veth, ip in ((left, "cvnl-a", "10.201.2.2/24"), (right, "cvnl-b", "10.201.2.3/24")):
            nl.add_veth(veth, "eth0", peer_netns=ns)
            nl.set_link(veth, master="cvnl0", up=True)
            nl.set_bridge_port(veth, hairpin=True)
            with Netlink(ns) as inner:
                inner.add_address("eth0", ip)
                inner.set_link("eth0", up=True)
                inner.add_route("default", gateway="10.201.2.1")
    _talk(left, "10.201.2.2", right, "10.201.2.3")
    _talk(right, "10.201.2.3", left, "10.201.2.2")


def test_two_macvlans_on_one_parent_talk(make_netns: Callable[[], str]) -> None:
    hub, left, right = make_netns(), make_netns(), make_netns()
    with Netlink(hub) as nl:
        nl.add_veth("cvnl-p", "cvnl-q")
        nl.set_link("cvnl-p", up=True)
        nl.set_link("cvnl-q", up=True)  # the parent needs a carrier
        for ns, ip in ((left, "10.201.3.2/24"), (right, "10.201.3.3/24")):
            nl.add_macvlan("cvnl-m", "cvnl-p", netns=ns)
            with Netlink(ns) as inner:
                inner.set_link("cvnl-m", new_name="eth0", up=True)
                inner.add_address("eth0", ip)
    _talk(left, "10.201.3.2", right, "10.201.3.3")


def test_netlink_in_a_netns_sees_only_that_netns(host: Netlink,
                                                 make_netns: Callable[[], str]) -> None:
    ns = make_netns()
    name = f"cvnl{uuid.uuid4().hex[:4]}n"
    with Netlink(ns) as inner:
        inner.add_bridge(name)
        assert [link.name for link in inner.links()] == ["lo", name]
    assert host.link(name) is None
