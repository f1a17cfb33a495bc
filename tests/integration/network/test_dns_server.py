"""The embedded DNS server against the real kernel: network namespaces made with
``ip netns``, clients inside them, and fake upstream servers on 127.0.0.203-204 in
the host's namespace. The upstreams callback only ever returns those fakes, so no
query can reach the host's real resolver."""

from __future__ import annotations

import logging
import os
import random
import re
import selectors
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from cove.errors import NotFound
from cove.linux import libc
from cove.network.dns import DnsServer
from cove.network.dns.server import MAX_PENDING_PER_CONTAINER, MAX_TCP_PER_CONTAINER
from cove.network.dns.wire import (
    FLAG_AA,
    FLAG_TC,
    RCODE_FORMERR,
    RCODE_NOERROR,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_PTR,
    Header,
    Message,
    Question,
    a_record,
    build_message,
    build_reply,
    parse_message,
    with_id,
)
from tests.integration.network.netns_util import named_netns

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2"),
]

UPSTREAM = ("127.0.0.203", 53)  # answers
SILENT = ("127.0.0.204", 53)  # never answers
FORWARDED_IP = "10.203.99.99"
TIMEOUT = 1.0


# -- fixtures: namespaces, records, upstreams ------------------------------------------------

@pytest.fixture
def netns_a() -> Iterator[str]:
    with named_netns("cvdns-a") as path:
        yield path


@pytest.fixture
def netns_b() -> Iterator[str]:
    with named_netns("cvdns-b") as path:
        yield path


class FakeRecords:
    """Container c1 sees web (two names) and noipv4 (and two broken entries); c2
    sees nothing."""

    def lookup(self, asker: str, name: str) -> list[str] | None:
        if asker != "c1":
            return None
        if name == "broken":
            raise RuntimeError("records are broken")
        known = {"web": ["10.203.0.2"], "web.mynet": ["10.203.0.2"], "noipv4": [],
                 "badip": ["not-an-ip"]}
        return known.get(name)

    def reverse(self, asker: str, ip: str) -> str | None:
        return "web.mynet" if asker == "c1" and ip == "10.203.0.2" else None


@dataclass
class FakeUpstream:
    """A DNS server on 127.0.0.203:53 (UDP and TCP) answering every A question with
    FORWARDED_IP. ``big.example`` is truncated over UDP (40 records over TCP);
    ``liar.example`` is first answered with a wrong ID."""

    seen: list[tuple[str, str]] = field(default_factory=list)  # (transport, name)
    _stop_r: int = -1
    _stop_w: int = -1
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._udp.bind(UPSTREAM)
        self._tcp.bind(UPSTREAM)
        self._tcp.listen(8)
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="fake-upstream", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        assert self._thread is not None
        self._thread.join(5)
        self._udp.close()
        self._tcp.close()
        os.close(self._stop_r)
        os.close(self._stop_w)

    def _reply(self, wire: bytes, transport: str) -> list[bytes]:
        query = parse_message(wire)
        name = query.questions[0].name
        self.seen.append((transport, name))
        if name == "big.example":
            if transport == "udp":
                h = Header(query.header.id, 0x8180 | FLAG_TC)
                return [build_message(Message(h, query.questions))]
            answers = tuple(a_record(name, f"10.203.98.{i}", 60) for i in range(1, 41))
            return [build_reply(query, RCODE_NOERROR, answers)]
        good = build_reply(query, RCODE_NOERROR, (a_record(name, FORWARDED_IP, 60),))
        if name == "liar.example":
            lie = build_reply(query, RCODE_NOERROR, (a_record(name, "10.203.66.66", 60),))
            return [with_id(lie, query.header.id ^ 0x5A5A), good]
        return [good]

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._udp, selectors.EVENT_READ)
            sel.register(self._tcp, selectors.EVENT_READ)
            sel.register(self._stop_r, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj == self._stop_r:
                        return
                    if key.fileobj is self._udp:
                        wire, peer = self._udp.recvfrom(65535)
                        for reply in self._reply(wire, "udp"):
                            self._udp.sendto(reply, peer)
                    else:
                        conn, _ = self._tcp.accept()
                        with conn:
                            conn.settimeout(2)
                            (n,) = struct.unpack("!H", _recv_exact(conn, 2))
                            for reply in self._reply(_recv_exact(conn, n), "tcp"):
                                conn.sendall(struct.pack("!H", len(reply)) + reply)


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    fake = FakeUpstream()
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def silent() -> Iterator[None]:
    """127.0.0.204:53 bound over UDP and TCP, never answering (a TCP connection is
    accepted by the kernel and then left alone)."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind(SILENT)
        tcp.bind(SILENT)
        tcp.listen(8)
        yield
    finally:
        udp.close()
        tcp.close()


@pytest.fixture
def upstreams() -> dict[str, list[tuple[str, int]]]:
    """The upstreams each container forwards to; tests change them. Only fakes."""
    return {"c1": [UPSTREAM], "c2": [UPSTREAM]}


@pytest.fixture
def server(upstreams: dict[str, list[tuple[str, int]]]) -> Iterator[DnsServer]:
    def upstreams_of(asker: str) -> list[tuple[str, int]]:
        chosen = upstreams.get(asker, [])
        assert all(ip.startswith("127.0.0.") for ip, _ in chosen)  # never the real resolver
        return list(chosen)

    srv = DnsServer(FakeRecords(), upstreams_of, timeout=TIMEOUT)
    try:
        yield srv
    finally:
        srv.close()


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


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


def udp_exchange(netns: str, wire: bytes, timeout: float = 3.0) -> bytes | None:
    sock = _in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with sock:
        sock.settimeout(timeout)
        sock.sendto(wire, ("127.0.0.11", 53))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


def tcp_exchange(netns: str, wire: bytes, timeout: float = 3.0) -> bytes:
    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.11", 53), timeout=timeout)

    with _in_netns(netns, connect) as conn:
        conn.sendall(struct.pack("!H", len(wire)) + wire)
        (n,) = struct.unpack("!H", _recv_exact(conn, 2))
        return _recv_exact(conn, n)


def ask(name: str, qtype: int = TYPE_A, qid: int = 0x2BAD) -> bytes:
    return build_message(Message(Header(qid, 0x0100), (Question(name, qtype),)))


def resolve(netns: str, name: str, qtype: int = TYPE_A, qid: int = 0x2BAD) -> Message:
    reply = udp_exchange(netns, ask(name, qtype, qid))
    assert reply is not None, f"no answer for {name}"
    msg = parse_message(reply)
    assert msg.header.id == qid
    assert msg.header.is_response
    return msg


# -- local answers -----------------------------------------------------------------------

def test_known_name_is_answered_with_a_records(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "web")
    assert reply.header.rcode == RCODE_NOERROR
    assert reply.header.flags & FLAG_AA
    assert [(rr.name, rr.address, rr.ttl) for rr in reply.answers] == [("web", "10.203.0.2", 600)]


def test_names_are_matched_case_insensitively(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "WEB.MyNet")
    assert [rr.address for rr in reply.answers] == ["10.203.0.2"]
    assert reply.questions[0].name == "WEB.MyNet"


def test_aaaa_of_a_known_name_is_empty_noerror(server: DnsServer, netns_a: str,
                                               upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "web", TYPE_AAAA)
    assert reply.header.rcode == RCODE_NOERROR and not reply.answers
    reply = resolve(netns_a, "noipv4", TYPE_A)
    assert reply.header.rcode == RCODE_NOERROR and not reply.answers
    assert upstream.seen == []  # known names never leave the host


def test_ptr_of_a_container_address(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "2.0.203.10.in-addr.arpa", TYPE_PTR)
    assert reply.header.rcode == RCODE_NOERROR
    assert [rr.target for rr in reply.answers] == ["web.mynet"]


@pytest.mark.parametrize("name", ["broken", "badip"])
def test_failing_records_give_servfail(server: DnsServer, netns_a: str, name: str,
                                       upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)
    assert resolve(netns_a, name).header.rcode == RCODE_SERVFAIL
    assert upstream.seen == []
    assert resolve(netns_a, "web").answers  # and the server goes on


def test_each_container_sees_its_own_names(server: DnsServer, netns_a: str, netns_b: str,
                                           upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)
    server.attach("c2", netns_b)
    assert [rr.address for rr in resolve(netns_a, "web").answers] == ["10.203.0.2"]
    assert [rr.address for rr in resolve(netns_b, "web").answers] == [FORWARDED_IP]
    assert upstream.seen == [("udp", "web")]
    assert server.attached() == ["c1", "c2"]


def test_busybox_nslookup_inside_the_namespace(server: DnsServer, netns_a: str) -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("needs busybox")
    server.attach("c1", netns_a)
    out = subprocess.run(["nsenter", f"--net={netns_a}", busybox, "nslookup", "web",
                          "127.0.0.11"], capture_output=True, text=True, timeout=20, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "10.203.0.2" in out.stdout


# -- forwarding --------------------------------------------------------------------------

def test_other_names_are_forwarded_from_the_host_namespace(
        server: DnsServer, netns_a: str, upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "example.test", qid=0x7777)
    assert [rr.address for rr in reply.answers] == [FORWARDED_IP]
    # 127.0.0.203 exists only in the host's namespace: the query was sent from there.
    assert upstream.seen == [("udp", "example.test")]


def test_replies_with_a_wrong_id_are_dropped(server: DnsServer, netns_a: str,
                                             upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "liar.example")
    assert [rr.address for rr in reply.answers] == [FORWARDED_IP]


def test_silent_upstream_gives_servfail_within_the_timeout(
        server: DnsServer, netns_a: str, silent: None,
        upstreams: dict[str, list[tuple[str, int]]]) -> None:
    upstreams["c1"] = [SILENT]
    server.attach("c1", netns_a)
    start = time.monotonic()
    reply = resolve(netns_a, "example.test")
    elapsed = time.monotonic() - start
    assert reply.header.rcode == RCODE_SERVFAIL
    assert TIMEOUT * 0.8 <= elapsed < TIMEOUT + 1.0


def test_next_upstream_is_tried_after_a_silent_one(
        server: DnsServer, netns_a: str, silent: None, upstream: FakeUpstream,
        upstreams: dict[str, list[tuple[str, int]]]) -> None:
    upstreams["c1"] = [SILENT, UPSTREAM]
    server.attach("c1", netns_a)
    reply = resolve(netns_a, "example.test")
    assert [rr.address for rr in reply.answers] == [FORWARDED_IP]


def test_refused_upstream_moves_on_at_once(
        server: DnsServer, netns_a: str, upstream: FakeUpstream,
        upstreams: dict[str, list[tuple[str, int]]]) -> None:
    upstreams["c1"] = [("127.0.0.205", 53), UPSTREAM]  # nothing listens on .205
    server.attach("c1", netns_a)
    start = time.monotonic()
    reply = resolve(netns_a, "example.test")
    assert [rr.address for rr in reply.answers] == [FORWARDED_IP]
    assert time.monotonic() - start < TIMEOUT / 2


@pytest.mark.parametrize("configured", [[], [("127.0.0.11", 53)], [("::ffff:127.0.0.11", 53)]],
                         ids=["none", "loop", "loop-mapped"])
def test_no_usable_upstream_gives_servfail(
        server: DnsServer, netns_a: str, configured: list[tuple[str, int]],
        upstreams: dict[str, list[tuple[str, int]]], caplog: pytest.LogCaptureFixture) -> None:
    upstreams["c1"] = configured
    server.attach("c1", netns_a)
    start = time.monotonic()
    with caplog.at_level(logging.DEBUG, logger="cove.network.dns.server"):
        assert resolve(netns_a, "example.test").header.rcode == RCODE_SERVFAIL
    assert time.monotonic() - start < TIMEOUT / 2
    forwarded = [r for r in caplog.records if "forwarded to" in r.getMessage()]
    assert forwarded == []  # 127.0.0.11 is never an upstream (it would be ourselves)
    assert any("no upstream" in r.getMessage() for r in caplog.records)


def test_truncated_reply_is_relayed_and_tcp_gets_it_all(
        server: DnsServer, netns_a: str, upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)
    udp = resolve(netns_a, "big.example")
    assert udp.header.truncated and not udp.answers
    tcp = parse_message(tcp_exchange(netns_a, ask("big.example", qid=0x0101)))
    assert tcp.header.id == 0x0101
    assert len(tcp.answers) == 40
    assert upstream.seen == [("udp", "big.example"), ("tcp", "big.example")]


# -- TCP ---------------------------------------------------------------------------------

def test_tcp_local_and_forwarded_on_one_connection(server: DnsServer, netns_a: str,
                                                   upstream: FakeUpstream) -> None:
    server.attach("c1", netns_a)

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.11", 53), timeout=3)

    with _in_netns(netns_a, connect) as conn:
        for name, qid, want in [("web", 1, "10.203.0.2"), ("example.test", 2, FORWARDED_IP)]:
            wire = ask(name, qid=qid)
            conn.sendall(struct.pack("!H", len(wire)) + wire)
            (n,) = struct.unpack("!H", _recv_exact(conn, 2))
            reply = parse_message(_recv_exact(conn, n))
            assert reply.header.id == qid
            assert [rr.address for rr in reply.answers] == [want]


def test_tcp_silent_upstream_gives_servfail(
        server: DnsServer, netns_a: str, silent: None,
        upstreams: dict[str, list[tuple[str, int]]]) -> None:
    upstreams["c1"] = [SILENT]
    server.attach("c1", netns_a)
    start = time.monotonic()
    reply = parse_message(tcp_exchange(netns_a, ask("example.test")))
    assert reply.header.rcode == RCODE_SERVFAIL
    assert time.monotonic() - start < TIMEOUT + 1.0


def test_tcp_clients_per_container_are_capped(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)

    def connect() -> socket.socket:
        return socket.create_connection(("127.0.0.11", 53), timeout=3)

    held = [_in_netns(netns_a, connect) for _ in range(MAX_TCP_PER_CONTAINER)]
    try:
        with _in_netns(netns_a, connect) as extra:
            assert extra.recv(1) == b""  # accepted and closed at once
        # Those within the cap are served.
        wire = ask("web", qid=9)
        held[0].sendall(struct.pack("!H", len(wire)) + wire)
        (n,) = struct.unpack("!H", _recv_exact(held[0], 2))
        assert parse_message(_recv_exact(held[0], n)).answers
    finally:
        for conn in held:
            conn.close()


def test_pending_forwards_per_container_are_capped(
        server: DnsServer, netns_a: str, silent: None,
        upstreams: dict[str, list[tuple[str, int]]]) -> None:
    upstreams["c1"] = [SILENT]
    server.attach("c1", netns_a)
    sock = _in_netns(netns_a, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with sock:
        sock.settimeout(TIMEOUT / 2)
        for qid in range(MAX_PENDING_PER_CONTAINER):
            sock.sendto(ask(f"q{qid}.example", qid=qid), ("127.0.0.11", 53))
        sock.sendto(ask("over.example", qid=0xFFFF), ("127.0.0.11", 53))
        first = parse_message(sock.recv(65535))  # long before the others time out
        assert (first.header.id, first.header.rcode) == (0xFFFF, RCODE_SERVFAIL)
        # The others end in SERVFAIL at their deadline, and then slots are free again.
        sock.settimeout(TIMEOUT + 2)
        ids = {parse_message(sock.recv(65535)).header.id
               for _ in range(MAX_PENDING_PER_CONTAINER)}
        assert ids == set(range(MAX_PENDING_PER_CONTAINER))


# -- malformed queries -------------------------------------------------------------------

def test_malformed_query_gets_formerr_and_a_runt_gets_nothing(server: DnsServer,
                                                              netns_a: str) -> None:
    server.attach("c1", netns_a)
    bad = ask("web", qid=0x0BAD)[:-3]  # question cut short
    reply = udp_exchange(netns_a, bad)
    assert reply is not None
    h = parse_message(reply).header
    assert (h.id, h.rcode, h.is_response) == (0x0BAD, RCODE_FORMERR, True)
    assert udp_exchange(netns_a, b"\x01\x02\x03", timeout=0.5) is None
    # Still serving after both.
    assert resolve(netns_a, "web").answers


def test_hostile_packets_do_not_disturb_the_server(
        server: DnsServer, netns_a: str, caplog: pytest.LogCaptureFixture) -> None:
    server.attach("c1", netns_a)
    rng = random.Random(0x5EED)
    seeds = [ask("web"), ask("2.0.203.10.in-addr.arpa", TYPE_PTR), ask("web", TYPE_AAAA)]
    sock = _in_netns(netns_a, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    with sock, caplog.at_level(logging.DEBUG, logger="cove.network.dns.server"):
        for i in range(1500):
            wire = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 4)):
                at = rng.randrange(len(wire))
                if rng.random() < 0.5:
                    wire[at] = rng.randrange(256)
                else:
                    wire[at:at] = bytes([0xC0, rng.randrange(256)])
            wire[2] &= 0x7F  # a query (QR clear), so the server does look at it
            if i % 2:
                wire[4:6] = b"\x00\x01"  # one question, so the name gets parsed
            sock.sendto(bytes(wire), ("127.0.0.11", 53))
        # Still serving after all of them. The flood may have filled the socket's
        # receive buffer (the kernel drops what does not fit), so retry like a client.
        replies = [udp_exchange(netns_a, ask("web"), timeout=1.0) for _ in range(5)]
        answered = [parse_message(r) for r in replies if r is not None]
        assert answered and answered[0].answers[0].address == "10.203.0.2"
    assert not [r for r in caplog.records if r.exc_info]


# -- lifecycle ---------------------------------------------------------------------------

def test_detach_stops_answering_and_attach_again_works(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    assert resolve(netns_a, "web").answers
    server.detach("c1")
    assert udp_exchange(netns_a, ask("web"), timeout=0.5) is None
    server.detach("c1")  # twice is fine
    server.attach("c1", netns_a)
    assert resolve(netns_a, "web").answers


def test_attach_replaces_the_previous_sockets(server: DnsServer, netns_a: str,
                                              netns_b: str) -> None:
    server.attach("c1", netns_a)
    server.attach("c1", netns_b)  # the container restarted in a new namespace
    assert udp_exchange(netns_a, ask("web"), timeout=0.5) is None
    assert resolve(netns_b, "web").answers


def test_attach_twice_in_the_same_namespace(server: DnsServer, netns_a: str) -> None:
    server.attach("c1", netns_a)
    server.attach("c1", netns_a)
    assert resolve(netns_a, "web").answers


def test_detach_after_the_namespace_is_gone(server: DnsServer) -> None:
    with named_netns("cvdns-c") as path:
        server.attach("c1", path)
    server.detach("c1")
    assert server.attached() == []


def test_attach_to_a_missing_namespace_is_not_found(server: DnsServer) -> None:
    with pytest.raises(NotFound, match="cvdns-missing"):
        server.attach("c1", "/run/netns/cvdns-missing")


def test_close_stops_every_thread_and_frees_the_port(
        netns_a: str, upstreams: dict[str, list[tuple[str, int]]]) -> None:
    before = {t.ident for t in threading.enumerate()}
    srv = DnsServer(FakeRecords(), lambda asker: list(upstreams.get(asker, [])), timeout=TIMEOUT)
    try:
        srv.attach("c1", netns_a)
        ports = _redirected_ports(netns_a)
        # An idle TCP client keeps its worker thread busy until close().
        idle = _in_netns(netns_a, lambda: socket.create_connection(("127.0.0.11", 53), timeout=3))
        assert resolve(netns_a, "web").answers
    finally:
        srv.close()
    with idle:
        assert idle.recv(1) == b""  # the server hung up
    srv.close()  # twice is fine
    leftover = [t.name for t in threading.enumerate() if t.ident not in before]
    assert leftover == []

    def rebind(kind: int, port: int) -> Callable[[], socket.socket]:
        def bind() -> socket.socket:
            s = socket.socket(socket.AF_INET, kind)
            # As the server does: the hung-up connection may linger in TIME_WAIT;
            # only a listener still open would refuse the bind.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.11", port))
            return s
        return bind

    # The server's sockets are closed: their ports (53 is redirected to) are free.
    _in_netns(netns_a, rebind(socket.SOCK_DGRAM, ports["udp"])).close()
    _in_netns(netns_a, rebind(socket.SOCK_STREAM, ports["tcp"])).close()


def _redirected_ports(netns: str) -> dict[str, int]:
    """{"udp": port, "tcp": port} the server's nat rules in ``netns`` send port 53 to."""
    out = subprocess.run(["nsenter", f"--net={netns}", "nft", "list", "table", "ip",
                          "cove-dns"], capture_output=True, text=True, timeout=10, check=True)
    found = re.findall(r"(udp|tcp) dport 53 dnat to 127\.0\.0\.11:(\d+)", out.stdout)
    ports = {proto: int(port) for proto, port in found}
    assert len(found) == 2 and set(ports) == {"udp", "tcp"}, out.stdout
    return ports
