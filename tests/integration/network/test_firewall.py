"""Cove's nftables table against the real kernel.

Two topologies, every object named cvfw*:
- on the host: bridge cvfw0 (10.202.1.1/24) with netns cvfw-a (10.202.1.2) behind it,
  for the host's own connections to 127.0.0.x:<published port> (output hook; no
  forwarding needed, so the host's ip_forward is never touched);
- inside a "router" netns cvfw-r (its own ip_forward, its own tables): bridges cvfw1,
  cvfw2 and the internal cvfw3 with one netns each (cvfw-b, cvfw-c, cvfw-d), and an
  "outside" netns cvfw-o on a plain veth, for forwarding, isolation, internal
  networks, the cove-user chain and dockerd's FORWARD DROP policy.
Packets only ever go to 127.0.0.0/8 or to addresses inside these namespaces.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import pytest

from cove.errors import Conflict
from cove.linux import libc
from cove.network.firewall import (
    Firewall,
    FirewallError,
    FwNetwork,
    IptablesCompat,
    Nft,
    PortAllocator,
    PortMapping,
    enable_ip_forward,
    set_route_localnet,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

TABLE = "cvfw_test"
R = TypeVar("R")


def sh(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def in_netns(netns: str, fn: Callable[[], R]) -> R:
    """Run ``fn`` in a fresh thread that joined ``netns`` (network namespaces are
    per thread: sockets, libnftables and /proc/sys/net there all see that netns)."""
    def run() -> R:
        fd = os.open(f"/run/netns/{netns}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            libc.setns(fd, libc.CLONE_NEWNET, f"netns {netns}")
        finally:
            os.close(fd)
        return fn()
    with ThreadPoolExecutor(max_workers=1) as ex:  # the thread dies with its netns
        return ex.submit(run).result()


def ask(address: str, port: int, netns: str | None = None, timeout: float = 1.0) -> str | None:
    """The server's answer to a TCP connection, or None if it cannot connect."""
    def connect() -> str | None:
        try:
            with socket.create_connection((address, port), timeout=timeout) as s:
                return s.recv(100).decode()
        except OSError:
            return None
    return connect() if netns is None else in_netns(netns, connect)


@dataclass
class Server:
    """A TCP server inside a netns answering '<name> <peer address>'."""

    netns: str
    name: str
    port: int = 8080
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        def listen() -> socket.socket:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", self.port))
            s.listen(16)
            s.settimeout(0.1)
            return s
        self._sock = in_netns(self.netns, listen)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self._sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(f"{self.name} {peer[0]}".encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._sock.close()


def add_netns_behind(bridge: str, veth: str, netns: str, address: str, gateway: str,
                     bridge_netns: str | None = None) -> None:
    """netns with eth0 at ``address``, its peer ``veth`` enslaved to ``bridge``."""
    sh("ip", "netns", "add", netns)
    where = ["-n", bridge_netns] if bridge_netns else []
    sh("ip", *where, "link", "add", veth, "type", "veth", "peer", "name", "eth0",
       "netns", netns)
    sh("ip", *where, "link", "set", veth, "master", bridge, "up")
    # As Docker without its userland proxy: a container reaching its own published
    # port gets its packet back by the port it came from (with br_netfilter, the
    # DNATed frame is bridged, not routed).
    sh("ip", *where, "link", "set", veth, "type", "bridge_slave", "hairpin", "on")
    sh("ip", "-n", netns, "addr", "add", address, "dev", "eth0")
    sh("ip", "-n", netns, "link", "set", "eth0", "up")
    sh("ip", "-n", netns, "link", "set", "lo", "up")
    sh("ip", "-n", netns, "route", "add", "default", "via", gateway)


def add_bridge(name: str, address: str, netns: str | None = None) -> None:
    where = ["-n", netns] if netns else []
    sh("ip", *where, "link", "add", name, "type", "bridge")
    sh("ip", *where, "addr", "add", address, "dev", name)
    sh("ip", *where, "link", "set", name, "up")


def tables(netns: str | None = None) -> str:
    return Nft().run("list tables") if netns is None else in_netns(
        netns, lambda: Nft().run("list tables"))


# ---------------------------------------------------------------- host topology


@dataclass
class HostNet:
    firewall: Firewall
    server: Server
    network: FwNetwork


@pytest.fixture
def host_net() -> Iterator[HostNet]:
    fw: Firewall | None = None
    server: Server | None = None
    try:
        add_bridge("cvfw0", "10.202.1.1/24")
        add_netns_behind("cvfw0", "cvfw-a0", "cvfw-a", "10.202.1.2/24", "10.202.1.1")
        set_route_localnet("cvfw0")
        server = Server("cvfw-a", "a")
        fw = Firewall(TABLE)
        network = FwNetwork("cvfw0", "10.202.1.0/24")
        fw.set_networks([network])
        yield HostNet(fw, server, network)
    finally:
        if fw is not None:
            fw.destroy()
            fw.close()
        if server is not None:
            server.close()
        if os.path.exists("/proc/sys/net/ipv4/conf/cvfw0"):
            set_route_localnet("cvfw0", False)
        # Deleting a veth end removes the pair now; a netns' devices go asynchronously.
        for cmd in (["link", "del", "cvfw-a0"], ["link", "del", "cvfw0"],
                    ["netns", "del", "cvfw-a"]):
            subprocess.run(["ip", *cmd], check=False, capture_output=True)


def test_published_port_from_the_hosts_loopback(host_net: HostNet) -> None:
    ports = PortAllocator()
    held = ports.reserve("tcp", "", 18080, owner="c1")
    try:
        # Held but not listening: without the DNAT nothing answers.
        assert ask("127.0.0.1", 18080) is None
        host_net.firewall.set_ports("c1", [
            PortMapping("tcp", "", 18080, "10.202.1.2", 8080, "cvfw0")])
        # The container sees the bridge's address: the loopback source was masqueraded.
        assert ask("127.0.0.1", 18080) == "a 10.202.1.1"
        assert ask("127.0.0.2", 18080) == "a 10.202.1.1"  # any local address
        host_net.firewall.set_ports("c1", [])
        assert ask("127.0.0.1", 18080) is None
    finally:
        ports.release(held)


def test_published_port_on_one_host_address_only(host_net: HostNet) -> None:
    host_net.firewall.set_ports("c1", [
        PortMapping("tcp", "127.0.0.1", 18081, "10.202.1.2", 8080, "cvfw0")])
    assert ask("127.0.0.1", 18081) == "a 10.202.1.1"
    assert ask("127.0.0.2", 18081) is None


def test_commit_replaces_what_a_crashed_daemon_left(host_net: HostNet) -> None:
    host_net.firewall.set_ports("c1", [
        PortMapping("tcp", "", 18080, "10.202.1.2", 8080, "cvfw0")])
    Nft().run(f"add rule ip {TABLE} cove-user meta mark 0x2a counter\n")
    restarted = Firewall(TABLE)  # a new daemon: empty model, same table
    try:
        restarted.set_networks([host_net.network])
        listing = Nft().run(f"list table ip {TABLE}")
        assert "18080" not in listing
        assert "meta mark 0x0000002a counter" in listing  # the operator's rule survives
        assert ask("127.0.0.1", 18080) is None
    finally:
        restarted.close()


def test_destroy_leaves_no_table(host_net: HostNet) -> None:
    assert f"table ip {TABLE}" in tables()
    host_net.firewall.destroy()
    assert f"table ip {TABLE}" not in tables()
    host_net.firewall.destroy()  # idempotent


def test_busy_host_port_is_a_conflict() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as host_process:
        host_process.bind(("0.0.0.0", 0))
        port = host_process.getsockname()[1]
        with pytest.raises(Conflict) as exc:
            PortAllocator().reserve("tcp", "", port)
        assert str(exc.value) == f"Bind for 0.0.0.0:{port} failed: port is already allocated"


# ---------------------------------------------------------------- router topology


@dataclass
class Routed:
    servers: dict[str, Server]
    networks: list[FwNetwork]

    def firewall(self, fn: Callable[[Firewall], R]) -> R:
        """Run ``fn`` with a Firewall living in the router netns."""
        def run() -> R:
            fw = Firewall(TABLE)
            try:
                return fn(fw)
            finally:
                fw.close()
        return in_netns("cvfw-r", run)


ROUTED_NETNS = ["cvfw-b", "cvfw-c", "cvfw-d", "cvfw-o", "cvfw-r"]


def forwarding_off() -> None:
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write("0")


@pytest.fixture
def routed() -> Iterator[Routed]:
    servers: dict[str, Server] = {}
    try:
        sh("ip", "netns", "add", "cvfw-r")
        sh("ip", "-n", "cvfw-r", "link", "set", "lo", "up")
        for bridge, net, name in (("cvfw1", "2", "b"), ("cvfw2", "3", "c"), ("cvfw3", "4", "d")):
            add_bridge(bridge, f"10.202.{net}.1/24", netns="cvfw-r")
            add_netns_behind(bridge, f"cvfw-{name}0", f"cvfw-{name}", f"10.202.{net}.2/24",
                             f"10.202.{net}.1", bridge_netns="cvfw-r")
        # The outside world: a plain veth; it routes the test subnets back via the router.
        sh("ip", "netns", "add", "cvfw-o")
        sh("ip", "-n", "cvfw-r", "link", "add", "cvfw-up", "type", "veth", "peer", "name",
           "eth0", "netns", "cvfw-o")
        sh("ip", "-n", "cvfw-r", "addr", "add", "10.202.9.1/24", "dev", "cvfw-up")
        sh("ip", "-n", "cvfw-r", "link", "set", "cvfw-up", "up")
        sh("ip", "-n", "cvfw-o", "addr", "add", "10.202.9.2/24", "dev", "eth0")
        sh("ip", "-n", "cvfw-o", "link", "set", "eth0", "up")
        sh("ip", "-n", "cvfw-o", "link", "set", "lo", "up")
        sh("ip", "-n", "cvfw-o", "route", "add", "10.202.0.0/16", "via", "10.202.9.1")
        in_netns("cvfw-r", forwarding_off)
        for name in ("b", "c", "d", "o"):
            servers[name] = Server(f"cvfw-{name}", name)
        yield Routed(servers, [FwNetwork("cvfw1", "10.202.2.0/24"),
                               FwNetwork("cvfw2", "10.202.3.0/24"),
                               FwNetwork("cvfw3", "10.202.4.0/24", internal=True)])
    finally:
        for server in servers.values():
            server.close()
        for netns in ROUTED_NETNS:  # the router's tables and iptables rules go with it
            subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)


def test_ip_forward_is_enabled_once(routed: Routed) -> None:
    assert ask("10.202.9.2", 8080, netns="cvfw-b") is None  # not routed yet
    assert in_netns("cvfw-r", enable_ip_forward) is True
    assert in_netns("cvfw-r", enable_ip_forward) is False
    assert ask("10.202.9.2", 8080, netns="cvfw-b") == "o 10.202.2.2"


def test_outbound_masquerade_isolation_and_internal(routed: Routed) -> None:
    in_netns("cvfw-r", enable_ip_forward)
    # Without Cove's table everything is routed: what fails below, fails because of it.
    assert ask("10.202.3.2", 8080, netns="cvfw-b") == "c 10.202.2.2"
    assert ask("10.202.9.2", 8080, netns="cvfw-d") == "o 10.202.4.2"
    assert ask("10.202.3.2", 8080, netns="cvfw-o") == "c 10.202.9.2"

    routed.firewall(lambda fw: fw.set_networks(routed.networks))
    # Outbound: allowed, with the router's address as source.
    assert ask("10.202.9.2", 8080, netns="cvfw-b") == "o 10.202.9.1"
    # Between two Cove networks: dropped (fast: short timeout).
    assert ask("10.202.3.2", 8080, netns="cvfw-b", timeout=0.5) is None
    assert ask("10.202.2.2", 8080, netns="cvfw-c", timeout=0.5) is None
    # Internal network: nothing in or out.
    assert ask("10.202.9.2", 8080, netns="cvfw-d", timeout=0.5) is None
    assert ask("10.202.4.2", 8080, netns="cvfw-b", timeout=0.5) is None
    # An unpublished container port is not reachable from outside by routing.
    assert ask("10.202.3.2", 8080, netns="cvfw-o", timeout=0.5) is None


def test_published_port_through_forward_and_cove_user(routed: Routed) -> None:
    in_netns("cvfw-r", enable_ip_forward)

    def publish(fw: Firewall) -> None:
        fw.set_networks(routed.networks)
        fw.set_ports("c", [PortMapping("tcp", "", 18080, "10.202.3.2", 8080, "cvfw2")])
    routed.firewall(publish)
    # From outside: DNAT in prerouting, accepted by forward; the client's address kept.
    assert ask("10.202.9.1", 18080, netns="cvfw-o") == "c 10.202.9.2"
    # From a container on another network via its gateway address (a local address);
    # leaving its network it is masqueraded, as with Docker.
    assert ask("10.202.2.1", 18080, netns="cvfw-b") == "c 10.202.3.1"
    # A container reaching its own published port via the host: hairpin masquerade.
    assert ask("10.202.3.1", 18080, netns="cvfw-c") == "c 10.202.3.1"

    # The operator's chain sees published-port traffic (it never reaches 'input') ...
    in_netns("cvfw-r", lambda: Nft().run(
        f"add rule ip {TABLE} cove-user ip saddr 10.202.9.2 drop\n"))
    assert ask("10.202.9.1", 18080, netns="cvfw-o", timeout=0.5) is None
    # ... and keeps its rules across Cove's rewrites.
    routed.firewall(publish)
    assert ask("10.202.9.1", 18080, netns="cvfw-o", timeout=0.5) is None
    assert ask("10.202.2.1", 18080, netns="cvfw-b") == "c 10.202.3.1"


def test_dockerd_forward_drop_policy(routed: Routed) -> None:
    in_netns("cvfw-r", enable_ip_forward)
    routed.firewall(lambda fw: fw.set_networks(routed.networks))
    iptables = ["ip", "netns", "exec", "cvfw-r", "iptables"]

    # Cove first, on a host with no iptables rules at all.
    compat = in_netns("cvfw-r", IptablesCompat)
    assert compat.available
    for _ in range(2):  # idempotent
        in_netns("cvfw-r", lambda: [compat.add_bridge(n.bridge) for n in routed.networks])
    assert sh(*iptables, "-S", "FORWARD").count("--comment cove") == 6

    # Then dockerd: DROP policy and its jump on top of FORWARD (never a flush).
    sh(*iptables, "-P", "FORWARD", "DROP")
    sh(*iptables, "-N", "DOCKER-USER")
    sh(*iptables, "-I", "FORWARD", "-j", "DOCKER-USER")
    assert ask("10.202.9.2", 8080, netns="cvfw-b") == "o 10.202.9.1"
    # Cove's own table still isolates its networks.
    assert ask("10.202.3.2", 8080, netns="cvfw-b", timeout=0.5) is None

    # Without Cove's accepts dockerd's policy drops Cove's traffic.
    in_netns("cvfw-r", lambda: compat.remove_bridge("cvfw1"))
    assert "cvfw1" not in sh(*iptables, "-S", "FORWARD")
    assert ask("10.202.9.2", 8080, netns="cvfw-b", timeout=0.5) is None
    in_netns("cvfw-r", lambda: compat.add_bridge("cvfw1"))
    assert ask("10.202.9.2", 8080, netns="cvfw-b") == "o 10.202.9.1"

    in_netns("cvfw-r", compat.remove_all)
    rules = sh(*iptables, "-S", "FORWARD")
    assert "cove" not in rules and "-A FORWARD -j DOCKER-USER" in rules


def test_destroy_in_router_leaves_no_table(routed: Routed) -> None:
    routed.firewall(lambda fw: fw.set_networks(routed.networks))
    assert f"table ip {TABLE}" in tables("cvfw-r")
    routed.firewall(lambda fw: fw.destroy())
    assert f"table ip {TABLE}" not in tables("cvfw-r")


@pytest.mark.parametrize("with_library", [True, False])
def test_nft_runner_and_its_errors(with_library: bool) -> None:
    nft = Nft()
    if not with_library:
        nft._lib = None  # the `nft -f -` fallback used when libnftables is missing
    try:
        nft.run("add table ip cvfw_runner\nadd chain ip cvfw_runner c\n")
        assert "chain c" in nft.run("list table ip cvfw_runner")
        with pytest.raises(FirewallError,
                           match=r"(?s)^nftables rejected the ruleset: .*No such file.*nosuch"):
            nft.run("add rule ip cvfw_nosuch c accept\n")
    finally:
        nft.run("add table ip cvfw_runner\ndelete table ip cvfw_runner\n")
        nft.close()
    assert "cvfw_runner" not in tables()
