"""127.0.0.11:53 redirected by nftables to the embedded server's own ports, against the
real kernel: network namespaces ``cvdr-*`` made with ``ip netns``, clients inside
them, and a fake upstream on 127.0.0.210 (the only upstream the server is given, so
no query can reach the host's real resolver)."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest

from cove.errors import InvalidArgument
from cove.linux import libc
from cove.network.dns import DnsServer, DnsServerError, redirect
from cove.network.dns import server as dns_server
from cove.network.dns.wire import (
    RCODE_NOERROR,
    TYPE_A,
    Header,
    Message,
    Question,
    a_record,
    build_message,
    build_reply,
    parse_message,
)
from cove.network.firewall.nft import FirewallError
from tests.integration.network.netns_util import named_netns

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft (to read the rules)"),
]

UPSTREAM = ("127.0.0.210", 53)
FORWARDED_IP = "10.210.99.99"
LOCAL_IP = "10.210.0.2"
RESOLVER = ("127.0.0.11", 53)

# The container's own DNS server: binds 0.0.0.0:53 (UDP and TCP), prints "bound" and
# answers "own:" + the datagram (UDP) or "own" (TCP) until its stdin closes.
OWN_SERVER = r"""
import selectors, socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 53))
tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("0.0.0.0", 53))
tcp.listen(4)
print("bound", flush=True)
sel = selectors.DefaultSelector()
sel.register(udp, selectors.EVENT_READ)
sel.register(tcp, selectors.EVENT_READ)
sel.register(sys.stdin, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is udp:
            data, peer = udp.recvfrom(4096)
            udp.sendto(b"own:" + data, peer)
        elif key.fileobj is tcp:
            conn, _ = tcp.accept()
            conn.sendall(b"own")
            conn.close()
        else:
            sys.exit(0)
"""


# -- fixtures ----------------------------------------------------------------------------

@pytest.fixture
def netns_a() -> Iterator[str]:
    with named_netns("cvdr-a") as path:
        yield path


@pytest.fixture
def netns_b() -> Iterator[str]:
    with named_netns("cvdr-b") as path:
        yield path


class FakeRecords:
    def lookup(self, asker: str, name: str) -> list[str] | None:
        return [LOCAL_IP] if name == "web" else None

    def reverse(self, asker: str, ip: str) -> str | None:
        return None


@pytest.fixture
def upstream() -> Iterator[list[str]]:
    """A UDP DNS server on 127.0.0.210:53 answering FORWARDED_IP; yields the names
    it was asked."""
    seen: list[str] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(UPSTREAM)
    sock.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            query = parse_message(wire)
            name = query.questions[0].name
            seen.append(name)
            sock.sendto(build_reply(query, RCODE_NOERROR, (a_record(name, FORWARDED_IP, 60),)),
                        peer)

    t = threading.Thread(target=serve, name="cvdr-upstream")
    t.start()
    try:
        yield seen
    finally:
        stop.set()
        t.join()
        sock.close()


@pytest.fixture
def server() -> Iterator[DnsServer]:
    def upstreams_of(asker: str) -> list[tuple[str, int]]:
        return [UPSTREAM]  # only the fake: never the host's resolver

    srv = DnsServer(FakeRecords(), upstreams_of, timeout=1.0)
    try:
        yield srv
    finally:
        srv.close()


@contextlib.contextmanager
def own_dns_server(netns: str) -> Iterator[subprocess.Popen[str]]:
    """The container's own server on 0.0.0.0:53 inside ``netns``; fails when it
    cannot bind."""
    proc = subprocess.Popen(["nsenter", f"--net={netns}", sys.executable, "-c", OWN_SERVER],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "bound":
            proc.wait(5)
            assert proc.stderr is not None
            raise AssertionError(f"the container's own server did not bind: {proc.stderr.read()}")
        yield proc
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()


# -- clients inside a namespace ----------------------------------------------------------

def _in_netns(netns: str, make: Callable[[], socket.socket]) -> socket.socket:
    """A socket created inside ``netns`` by a throwaway thread (it stays there)."""
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY)
            try:
                libc.setns(fd, libc.CLONE_NEWNET, netns)
            finally:
                os.close(fd)
            made.append(make())
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return made[0]


def _udp(netns: str) -> socket.socket:
    sock = _in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    sock.settimeout(3)
    return sock


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def ask(name: str, qid: int = 0x2BAD) -> bytes:
    return build_message(Message(Header(qid, 0x0100), (Question(name, TYPE_A),)))


def udp_resolve(sock: socket.socket, name: str, qid: int = 0x2BAD) -> list[str]:
    """Ask the resolver over ``sock``; the reply must come from 127.0.0.11:53."""
    sock.sendto(ask(name, qid), RESOLVER)
    wire, source = sock.recvfrom(65535)
    assert source == RESOLVER
    reply = parse_message(wire)
    assert reply.header.id == qid and reply.header.rcode == RCODE_NOERROR
    return [rr.address for rr in reply.answers]


def tcp_resolve(netns: str, name: str, qid: int = 0x0DD) -> list[str]:
    with _in_netns(netns, lambda: socket.create_connection(RESOLVER, timeout=3)) as conn:
        # The handshake completed, so the SYN-ACK came from 127.0.0.11:53.
        assert conn.getpeername() == RESOLVER
        wire = ask(name, qid)
        conn.sendall(struct.pack("!H", len(wire)) + wire)
        (n,) = struct.unpack("!H", _recv_exact(conn, 2))
        reply = parse_message(_recv_exact(conn, n))
    assert reply.header.id == qid and reply.header.rcode == RCODE_NOERROR
    return [rr.address for rr in reply.answers]


def dnat_ports(netns: str) -> dict[str, int] | None:
    """{"udp": port, "tcp": port} from our table in ``netns``; None without it."""
    out = subprocess.run(["nsenter", f"--net={netns}", "nft", "-j", "list", "table", "ip",
                          redirect.TABLE], capture_output=True, text=True, timeout=10,
                         check=False)
    if out.returncode != 0:
        assert "No such file or directory" in out.stderr, out.stderr
        return None
    ports: dict[str, int] = {}
    for item in json.loads(out.stdout)["nftables"]:
        rule = item.get("rule")
        if rule is None:
            continue
        assert rule["chain"] == redirect.CHAIN
        proto = next(e["match"]["left"]["payload"]["protocol"] for e in rule["expr"]
                     if "match" in e and e["match"]["left"].get("payload", {}).get("field")
                     == "dport")
        dnat = next(e["dnat"] for e in rule["expr"] if "dnat" in e)
        assert dnat["addr"] == "127.0.0.11"
        assert proto not in ports  # one rule per protocol, however often we attached
        ports[proto] = dnat["port"]
    return ports


def can_bind(netns: str, kind: int, port: int) -> bool:
    def bind() -> socket.socket:
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("0.0.0.0", port))
        except BaseException:
            s.close()
            raise
        return s

    try:
        _in_netns(netns, bind).close()
    except OSError as e:
        assert e.errno == errno.EADDRINUSE
        return False
    return True


# -- the redirection ---------------------------------------------------------------------

def test_port_53_is_left_free_and_redirected(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    ports = dnat_ports(netns_a)
    assert ports is not None and set(ports) == {"udp", "tcp"}
    assert 53 not in ports.values()
    assert can_bind(netns_a, socket.SOCK_DGRAM, 53)
    assert can_bind(netns_a, socket.SOCK_STREAM, 53)
    assert not can_bind(netns_a, socket.SOCK_DGRAM, ports["udp"])  # the server holds them
    assert not can_bind(netns_a, socket.SOCK_STREAM, ports["tcp"])


def test_udp_and_tcp_replies_come_from_port_53(server: DnsServer, netns_a: str,
                                              upstream: list[str]) -> None:
    server.attach("c1", netns_a)
    with _udp(netns_a) as sock:
        assert udp_resolve(sock, "web") == [LOCAL_IP]
        assert udp_resolve(sock, "example.test", qid=7) == [FORWARDED_IP]
    assert tcp_resolve(netns_a, "web") == [LOCAL_IP]
    # A connected client, as glibc and musl use: the kernel drops any datagram from
    # another source than the one it connected to.
    with _udp(netns_a) as sock:
        sock.connect(RESOLVER)
        sock.send(ask("web", 0x4242))
        assert parse_message(sock.recv(65535)).answers[0].address == LOCAL_IP
    assert upstream == ["example.test"]


def test_the_container_binds_port_53_and_the_resolver_still_answers(
        server: DnsServer, netns_a: str, upstream: list[str]) -> None:
    server.attach("c1", netns_a)
    with own_dns_server(netns_a):
        with _udp(netns_a) as sock:
            assert udp_resolve(sock, "web") == [LOCAL_IP]
            assert udp_resolve(sock, "example.test") == [FORWARDED_IP]
            # The container's own server gets what is not sent to 127.0.0.11.
            sock.sendto(b"hello", ("127.0.0.1", 53))
            assert sock.recvfrom(100) == (b"own:hello", ("127.0.0.1", 53))
        assert tcp_resolve(netns_a, "web") == [LOCAL_IP]
        with _in_netns(netns_a, lambda: socket.create_connection(("127.0.0.1", 53),
                                                                 timeout=3)) as conn:
            assert conn.recv(10) == b"own"


def test_the_container_may_bind_port_53_before_the_resolver_attaches(
        server: DnsServer, netns_a: str) -> None:
    with own_dns_server(netns_a):
        server.attach("c1", netns_a)
        with _udp(netns_a) as sock:
            assert udp_resolve(sock, "web") == [LOCAL_IP]
        assert tcp_resolve(netns_a, "web") == [LOCAL_IP]


def test_busybox_nslookup_beside_the_containers_own_server(server: DnsServer,
                                                           netns_a: str) -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("needs busybox")
    server.attach("c1", netns_a)
    with own_dns_server(netns_a):
        out = subprocess.run(["nsenter", f"--net={netns_a}", busybox, "nslookup", "web",
                              "127.0.0.11"], capture_output=True, text=True, timeout=20,
                             check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert LOCAL_IP in out.stdout


# -- attaching again ---------------------------------------------------------------------

def test_attach_twice_keeps_one_table_and_the_ports(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    first = dnat_ports(netns_a)
    server.attach("c1", netns_a)
    assert dnat_ports(netns_a) == first  # and one rule per protocol (dnat_ports checks)
    with _udp(netns_a) as sock:
        assert udp_resolve(sock, "web") == [LOCAL_IP]
    assert tcp_resolve(netns_a, "web") == [LOCAL_IP]


def test_a_client_keeps_its_answers_across_detach_and_attach(server: DnsServer,
                                                              netns_a: str) -> None:
    server.attach("c1", netns_a)
    with _udp(netns_a) as sock:
        assert udp_resolve(sock, "web", qid=1) == [LOCAL_IP]
        server.detach("c1")  # e.g. disconnected from its last network with DNS
        server.attach("c1", netns_a)
        # conntrack still sends this client's flow to the ports of the first attach;
        # the server took the same ones again, so the flow still reaches it.
        assert udp_resolve(sock, "web", qid=2) == [LOCAL_IP]


def test_attach_takes_other_ports_when_the_old_ones_are_taken(server: DnsServer,
                                                              netns_a: str) -> None:
    server.attach("c1", netns_a)
    old = dnat_ports(netns_a)
    assert old is not None
    server.detach("c1")

    def hold(kind: int, port: int) -> Callable[[], socket.socket]:
        def make() -> socket.socket:
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.11", port))
            return s
        return make

    udp = _in_netns(netns_a, hold(socket.SOCK_DGRAM, old["udp"]))
    tcp = _in_netns(netns_a, hold(socket.SOCK_STREAM, old["tcp"]))
    with udp, tcp:
        server.attach("c1", netns_a)
        new = dnat_ports(netns_a)
        assert new is not None and new["udp"] != old["udp"] and new["tcp"] != old["tcp"]
        with _udp(netns_a) as sock:
            assert udp_resolve(sock, "web") == [LOCAL_IP]
        assert tcp_resolve(netns_a, "web") == [LOCAL_IP]


def test_a_new_namespace_gets_its_own_table(server: DnsServer, netns_a: str,
                                            netns_b: str) -> None:
    server.attach("c1", netns_a)
    server.attach("c1", netns_b)  # restarted in a new namespace
    assert dnat_ports(netns_b) is not None
    with _udp(netns_b) as sock:
        assert udp_resolve(sock, "web") == [LOCAL_IP]


# -- without nftables --------------------------------------------------------------------

def _refuse_install(*args: object) -> None:
    where = args[-1]  # as the real one, the error names the namespace and container
    raise redirect.RedirectError(f"cannot redirect in {where}: nftables said no (test)")


def _no_nft() -> None:
    raise FirewallError("neither libnftables nor the nft binary is available (test)")


@pytest.mark.parametrize("breakage", ["rules", "context"])
def test_without_nftables_the_server_binds_port_53_itself(
        server: DnsServer, netns_a: str, breakage: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    if breakage == "rules":
        monkeypatch.setattr(redirect, "install", _refuse_install)
    else:
        monkeypatch.setattr(dns_server, "Nft", _no_nft)
    with caplog.at_level(logging.WARNING, logger="cove.network.dns.server"):
        server.attach("c1", netns_a)
    warned = [r.getMessage() for r in caplog.records
              if "listening on 127.0.0.11:53 itself" in r.getMessage()]
    assert len(warned) == 1 and "c1" in warned[0], warned
    assert dnat_ports(netns_a) is None
    assert server.attached() == ["c1"]
    with _udp(netns_a) as sock:
        assert udp_resolve(sock, "web") == [LOCAL_IP]
    assert tcp_resolve(netns_a, "web") == [LOCAL_IP]
    assert not can_bind(netns_a, socket.SOCK_DGRAM, 53)  # today's behaviour


def test_without_nftables_a_taken_port_53_fails_the_attach(
        server: DnsServer, netns_a: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redirect, "install", _refuse_install)
    with own_dns_server(netns_a), pytest.raises(DnsServerError, match="cvdr-a"):
        server.attach("c1", netns_a)
    assert server.attached() == []


# -- the script --------------------------------------------------------------------------

def test_script_replaces_the_table_in_one_go() -> None:
    script = redirect.redirect_script("127.0.0.11", 53, 40001, 40002)
    assert script.index(f"delete table ip {redirect.TABLE}") < script.index("dnat")
    assert "udp dport 53 dnat to 127.0.0.11:40001" in script
    assert "tcp dport 53 dnat to 127.0.0.11:40002" in script


@pytest.mark.parametrize("args", [("127.0.0.11", 53, 0, 1), ("127.0.0.11", 53, 1, 65536),
                                  ("127.0.0.11; flush ruleset", 53, 1, 2),
                                  ("::1", 53, 1, 2)])
def test_script_rejects_bad_values(args: tuple[str, int, int, int]) -> None:
    with pytest.raises(InvalidArgument):
        redirect.redirect_script(*args)
