"""The embedded DNS server: 127.0.0.11:53 inside each attached container.

Each attached container gets a UDP socket and a TCP listener on 127.0.0.11 in its own
network namespace, at ports the kernel chooses, and a nat rule in that namespace
(:mod:`cove.network.dns.redirect`) that sends 127.0.0.11:53 to them; conntrack gives
the replies 127.0.0.11:53 back as their source. Port 53 thus stays free for the
container's own DNS server, as with Docker. When nftables cannot be used there, the
sockets are bound to 127.0.0.11:53 itself (with a warning) rather than failing.

The sockets and the rule are made by a short-lived thread that joins the namespace
(a socket, and a libnftables context, stay in the namespace they were made in), so
every other thread of the daemon — the selector thread included — stays in the host's.

One selector thread serves every UDP socket and TCP listener. A question about a
name the ``Records`` know is answered here (A records with Docker's TTL of 600, an
empty NOERROR for AAAA, PTR from ``Records.reverse``); anything else is forwarded
from the host namespace to the asker's upstreams, in order, over a fresh connected
UDP socket and a fresh query ID per attempt (the kernel drops datagrams from any
other address; the ID check drops the rest). The upstream's reply is relayed
verbatim but for the client's ID, so a truncated (TC) reply makes the client retry
over TCP; a TCP connection is served by a small worker thread, which forwards over
TCP. When no upstream answers in time the client gets SERVFAIL.

Query handling runs under the server's lock, so ``Records`` is never called by two
threads of this server at once.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import os
import secrets
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from cove.errors import CoveError, FailedPrecondition, NotFound
from cove.linux import libc
from cove.network.dns import redirect
from cove.network.dns.wire import (
    CLASS_IN,
    HEADER_SIZE,
    OPCODE_QUERY,
    RCODE_FORMERR,
    RCODE_NOERROR,
    RCODE_NOTIMP,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_PTR,
    DnsFormatError,
    Message,
    a_record,
    build_reply,
    error_reply,
    parse_header,
    parse_message,
    ptr_record,
    reverse_pointer_address,
    udp_payload_limit,
    with_id,
)
from cove.network.firewall.nft import Nft

log = logging.getLogger(__name__)

LISTEN_ADDRESS = "127.0.0.11"
LISTEN_PORT = 53
RECORD_TTL = 600  # seconds, as Docker's embedded server
# Caps on work in flight, overall and per container, so one busy or hostile
# container cannot starve the others (or the daemon's file descriptors).
MAX_PENDING_FORWARDS = 1024  # UDP queries waiting for an upstream
MAX_PENDING_PER_CONTAINER = 128
MAX_TCP_CONNECTIONS = 64  # concurrent TCP clients (one worker thread each)
MAX_TCP_PER_CONTAINER = 8
TCP_IDLE_TIMEOUT = 5.0  # seconds a TCP client may stay silent
_MAX_MESSAGE = 65535
_UDP_BATCH = 64  # datagrams read from one socket per wake-up, so no container starves others
_OWN_ADDRESS = ipaddress.IPv4Address(LISTEN_ADDRESS)
_REMEMBERED_PORTS = 4096  # containers whose last ports are kept for their next attach

Upstreams = Callable[[str], list[tuple[str, int]]]


class Records(Protocol):
    def lookup(self, asker: str, name: str) -> list[str] | None:
        """IPv4 addresses of ``name`` (lower-case, no trailing dot) as seen by container
        ``asker``; [] for a known name without IPv4; None when the name is not ours."""
        ...

    def reverse(self, asker: str, ip: str) -> str | None:
        """The name of ``ip`` on one of the asker's networks, else None."""
        ...


class DnsServerError(CoveError):
    """The embedded DNS server could not listen in a container's network namespace."""


@dataclass(eq=False)
class _Attachment:
    asker: str
    netns: str
    udp: socket.socket
    tcp: socket.socket
    redirected: bool  # port 53 is redirected to the sockets' own ports
    pending: int = 0  # UDP forwards in flight
    tcp_clients: int = 0


@dataclass(eq=False)
class _Listener:
    attachment: _Attachment
    tcp: bool


@dataclass(eq=False)
class _Forward:
    """A UDP query waiting for an upstream's reply."""

    attachment: _Attachment
    client: tuple[str, int]
    query: Message
    wire: bytes  # the client's query with our fresh ID
    fresh_id: int
    remaining: list[tuple[str, int]]
    deadline: float  # for the whole query
    attempt_deadline: float = 0.0
    sock: socket.socket | None = None
    upstream: tuple[str, int] | None = None
    counted: bool = False  # in its attachment's pending count


@dataclass(eq=False)
class _TcpClient:
    attachment: _Attachment
    conn: socket.socket
    thread: threading.Thread | None = field(default=None)


def _usable_upstreams(asker: str, upstreams: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The upstreams minus anything that would loop back to ourselves or is no address."""
    usable = []
    for ip, port in upstreams:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            log.debug("dns: container %s: upstream %r is not an address; skipped", asker, ip)
            continue
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        if addr == _OWN_ADDRESS:
            log.debug("dns: container %s: upstream %s would loop; skipped", asker, ip)
            continue
        usable.append((ip, port))
    return usable


@dataclass(eq=False)
class _Listeners:
    """What a thread inside a container's namespace made for it."""

    udp: socket.socket
    tcp: socket.socket
    redirected: bool  # False: bound to port 53 itself (no nftables there)


def _bind_pair(port_udp: int, port_tcp: int, made: list[socket.socket],
               fallback_to_any: bool) -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a TCP listener on 127.0.0.11 at the given ports (0: the
    kernel's choice); with ``fallback_to_any``, a port in use gives way to 0."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    made.append(udp)
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    made.append(tcp)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    for sock, port in ((udp, port_udp), (tcp, port_tcp)):
        try:
            sock.bind((LISTEN_ADDRESS, port))
        except OSError as e:
            if not fallback_to_any or port == 0 or e.errno != errno.EADDRINUSE:
                raise
            sock.bind((LISTEN_ADDRESS, 0))
    tcp.listen(16)
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


def _listen_in(netns: str, asker: str,
               preferred: tuple[int, int] | None) -> tuple[_Listeners, threading.Thread]:
    """The sockets for ``asker`` inside ``netns`` and the redirection of port 53 to
    them, or sockets on port 53 itself when nftables fails there. ``preferred`` are
    the ports to try first (the container's previous ones: conntrack still sends a
    client's earlier flows there). Also returns the thread that made them, which
    lives on a little to free its nftables context: the caller joins it some time."""
    made: list[socket.socket] = []
    result: list[_Listeners] = []
    errors: list[BaseException] = []
    done = threading.Event()
    where = f"network namespace {netns} of container {asker}"

    def work() -> None:
        # This thread joins the container's namespace and then ends: never reused.
        nft: Nft | None = None
        try:
            try:
                fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError as e:
                errors.append(NotFound(f"{where} does not exist"))
                errors[-1].__cause__ = e
                return
            try:
                libc.setns(fd, libc.CLONE_NEWNET, where)
            finally:
                os.close(fd)
            udp, tcp = _bind_pair(*(preferred or (0, 0)), made, fallback_to_any=True)
            try:
                nft = Nft()
                redirect.install(nft, LISTEN_ADDRESS, LISTEN_PORT, udp.getsockname()[1],
                                 tcp.getsockname()[1], where)
                result.append(_Listeners(udp, tcp, redirected=True))
            except (CoveError, OSError) as e:
                reason = (str(e) if isinstance(e, redirect.RedirectError)
                          else f"cannot use nftables in {where}: {e}")
                log.warning("dns: %s; listening on %s:%d itself instead, which the "
                            "container's own processes then cannot bind", reason,
                            LISTEN_ADDRESS, LISTEN_PORT)
                for s in made:
                    s.close()
                made.clear()
                udp, tcp = _bind_pair(LISTEN_PORT, LISTEN_PORT, made, fallback_to_any=False)
                result.append(_Listeners(udp, tcp, redirected=False))
        except BaseException as e:  # reported to the caller's thread
            errors.append(e)
        finally:
            done.set()
            # After the caller goes on: freeing a context that has just committed
            # waits for the kernel to release the old rules (an RCU grace period,
            # several milliseconds), which the container's start need not wait for.
            if nft is not None:
                nft.close()

    t = threading.Thread(target=work, name=f"dns-attach-{asker[:12]}", daemon=True)
    t.start()
    done.wait()
    if errors:
        for s in made:
            s.close()
        e = errors[0]
        if isinstance(e, CoveError):
            raise e
        raise DnsServerError(f"cannot listen on {LISTEN_ADDRESS} for container {asker} in "
                             f"network namespace {netns}: {e}") from e
    return result[0], t


def _read_exact(conn: socket.socket, n: int) -> bytes | None:
    """n octets from a blocking socket; None on a clean EOF before the first octet."""
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            if buf:
                raise ConnectionError("connection closed inside a DNS message")
            return None
        buf += chunk
    return bytes(buf)


def _read_frame(conn: socket.socket) -> bytes | None:
    """One length-prefixed DNS message over TCP (RFC 1035 4.2.2); None at EOF."""
    prefix = _read_exact(conn, 2)
    if prefix is None:
        return None
    (length,) = struct.unpack("!H", prefix)
    body = _read_exact(conn, length)
    if body is None:
        raise ConnectionError("connection closed inside a DNS message")
    return body


def _frame(msg: bytes) -> bytes:
    return struct.pack("!H", len(msg)) + msg


class DnsServer:
    """Serves 127.0.0.11:53 in every attached container's network namespace."""

    def __init__(self, records: Records, upstreams: Upstreams, *, timeout: float = 2.0) -> None:
        """``upstreams(asker)`` lists the (ip, port) to forward to, tried in order;
        ``timeout`` bounds a forwarded query over all its upstreams (each gets an
        equal share of what is left)."""
        self._records = records
        self._upstreams = upstreams
        self._timeout = timeout
        self._lock = threading.Lock()
        self._selector = selectors.DefaultSelector()
        self._attached: dict[str, _Attachment] = {}
        self._forwards: dict[socket.socket, _Forward] = {}
        self._tcp_clients: set[_TcpClient] = set()
        # Each container's last (udp, tcp) ports, reused when it attaches again: a
        # client's flows that conntrack already sent there keep working.
        self._ports: dict[str, tuple[int, int]] = {}
        self._attach_threads: set[threading.Thread] = set()  # freeing their nft contexts
        self._closed = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread = threading.Thread(target=self._run, name="dns-server", daemon=True)
        self._thread.start()

    # -- lifecycle ------------------------------------------------------------------------

    def attach(self, asker: str, netns: str) -> None:
        """Listen on 127.0.0.11:53 in ``netns`` (an nsfs path) for container ``asker``.
        Attaching again replaces the previous sockets (a restarted container has a new
        namespace) and the redirection in the namespace, keeping the ports if it can."""
        # The old sockets go first: in the same namespace they hold the ports.
        self.detach(asker)
        with self._lock:
            preferred = self._ports.get(asker)
            self._attach_threads = {t for t in self._attach_threads if t.is_alive()}
        made, thread = _listen_in(netns, asker, preferred)
        udp, tcp = made.udp, made.tcp
        with self._lock:
            self._attach_threads.add(thread)
            if self._closed:
                udp.close()
                tcp.close()
                raise FailedPrecondition(f"DNS server is closed; cannot attach container {asker}")
            old = self._attached.pop(asker, None)
            if old is not None:  # a concurrent attach of the same container won the race
                self._drop(old)
            att = _Attachment(asker, netns, udp, tcp, made.redirected)
            self._attached[asker] = att
            if made.redirected:
                self._remember_ports(asker, udp.getsockname()[1], tcp.getsockname()[1])
            self._selector.register(udp, selectors.EVENT_READ, _Listener(att, tcp=False))
            self._selector.register(tcp, selectors.EVENT_READ, _Listener(att, tcp=True))
        log.debug("dns: container %s attached in %s (%s)", asker, netns,
                  f"port 53 redirected to {udp.getsockname()[1]}/udp, {tcp.getsockname()[1]}/tcp"
                  if made.redirected else "on port 53 itself")

    def _remember_ports(self, asker: str, udp_port: int, tcp_port: int) -> None:
        """Note ``asker``'s ports, forgetting the oldest beyond a bound (lock held)."""
        self._ports.pop(asker, None)
        self._ports[asker] = (udp_port, tcp_port)
        while len(self._ports) > _REMEMBERED_PORTS:
            del self._ports[next(iter(self._ports))]

    def detach(self, asker: str) -> None:
        """Stop answering container ``asker``; unknown askers are ignored (the
        namespace may be gone already, which closes nothing we still need)."""
        with self._lock:
            att = self._attached.pop(asker, None)
            if att is not None:
                self._drop(att)
        if att is not None:
            log.debug("dns: container %s detached", asker)

    def close(self) -> None:
        """Stop the selector thread and close every socket; waits for TCP workers."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join()
        with self._lock:
            for att in list(self._attached.values()):
                self._drop(att)
            self._attached.clear()
            for fwd in list(self._forwards.values()):
                self._end_forward(fwd)
            clients = list(self._tcp_clients)
            for client in clients:
                with contextlib.suppress(OSError):
                    client.conn.shutdown(socket.SHUT_RDWR)
        for client in clients:
            if client.thread is not None:
                client.thread.join()
        with self._lock:
            attach_threads = list(self._attach_threads)
            self._attach_threads.clear()
        for t in attach_threads:
            t.join()
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def attached(self) -> list[str]:
        with self._lock:
            return sorted(self._attached)

    def _drop(self, att: _Attachment) -> None:
        """Close an attachment's sockets and everything in flight for it (lock held)."""
        for s in (att.udp, att.tcp):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(s)
            s.close()
        for fwd in [f for f in self._forwards.values() if f.attachment is att]:
            self._end_forward(fwd)
        for client in self._tcp_clients:
            if client.attachment is att:
                with contextlib.suppress(OSError):
                    client.conn.shutdown(socket.SHUT_RDWR)

    # -- the selector thread --------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._lock:
                timeout = self._next_timeout()
            # close() writes to the wake pipe, so this returns promptly once closed.
            events = self._selector.select(timeout)
            with self._lock:
                if self._closed:
                    return
                for key, _ in events:
                    try:
                        self._dispatch(key)
                    except Exception:  # one bad packet or socket must not stop the server
                        log.debug("dns: error serving %r", key.data, exc_info=True)
                self._expire(time.monotonic())

    def _next_timeout(self) -> float | None:
        if not self._forwards:
            return None
        soonest = min(f.attempt_deadline for f in self._forwards.values())
        return max(0.0, soonest - time.monotonic())

    def _dispatch(self, key: selectors.SelectorKey) -> None:
        data = key.data
        if data is None:
            with contextlib.suppress(OSError):
                os.read(self._wake_r, 512)
            return
        if isinstance(data, _Listener):
            if self._attached.get(data.attachment.asker) is not data.attachment:
                return  # detached after select() returned
            if data.tcp:
                self._accept(data.attachment)
            else:
                self._read_queries(data.attachment)
        elif isinstance(data, _Forward):
            if data.sock is key.fileobj:
                self._read_upstream(data)

    def _read_queries(self, att: _Attachment) -> None:
        for _ in range(_UDP_BATCH):
            try:
                wire, client = att.udp.recvfrom(_MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.debug("dns: container %s: receive failed: %s", att.asker, e)
                return
            result = self._answer(att.asker, wire, udp=True)
            if isinstance(result, bytes):
                self._reply_udp(att, client, result)
            elif isinstance(result, Message):
                self._start_forward(att, client, result, wire)

    def _reply_udp(self, att: _Attachment, client: tuple[str, int], wire: bytes) -> None:
        try:
            att.udp.sendto(wire, client)
        except OSError as e:
            log.debug("dns: container %s: reply to %s failed: %s", att.asker, client, e)

    # -- answering ------------------------------------------------------------------------

    def _answer(self, asker: str, wire: bytes, *, udp: bool) -> bytes | Message | None:
        """The reply to a query we can answer, the parsed query to forward, or None to
        drop it (no header to answer to, or a response rather than a query)."""
        try:
            header = parse_header(wire)
        except DnsFormatError:
            log.debug("dns: container %s: dropped a %d-octet packet", asker, len(wire))
            return None
        if header.is_response:
            return None  # never answer answers: that would let two servers ping-pong
        try:
            query = parse_message(wire)
        except DnsFormatError as e:
            log.debug("dns: container %s: malformed query: %s", asker, e)
            return error_reply(wire, RCODE_FORMERR)
        if header.opcode != OPCODE_QUERY:
            return error_reply(wire, RCODE_NOTIMP)
        if len(query.questions) != 1:
            return error_reply(wire, RCODE_FORMERR)
        limit = udp_payload_limit(query) if udp else _MAX_MESSAGE
        q = query.questions[0]
        name = q.name.lower()
        if q.qclass != CLASS_IN or not name:
            return query
        try:
            return self._local_reply(asker, query, limit)
        except Exception:  # a failing or inconsistent Records: the client may retry
            log.debug("dns: container %s: records failed for %s", asker, name, exc_info=True)
            return build_reply(query, RCODE_SERVFAIL)

    def _local_reply(self, asker: str, query: Message, limit: int) -> bytes | Message:
        """The answer from ``Records``, or the query back when the name is not ours."""
        q = query.questions[0]
        name = q.name.lower()
        if q.qtype == TYPE_PTR:
            ip = reverse_pointer_address(name)
            target = self._records.reverse(asker, ip) if ip is not None else None
            if target is None:
                return query
            log.debug("dns: container %s: PTR %s -> %s", asker, name, target)
            return build_reply(query, RCODE_NOERROR, (ptr_record(q.name, target, RECORD_TTL),),
                               authoritative=True, limit=limit)
        addresses = self._records.lookup(asker, name)
        if addresses is None:
            return query
        log.debug("dns: container %s: %s type %d -> %s", asker, name, q.qtype, addresses)
        # A known name has no other records: NOERROR with no answers (AAAA, MX, ...).
        answers = (tuple(a_record(q.name, ip, RECORD_TTL) for ip in addresses)
                   if q.qtype == TYPE_A else ())
        return build_reply(query, RCODE_NOERROR, answers, authoritative=True, limit=limit)

    def _upstreams_of(self, asker: str) -> list[tuple[str, int]]:
        try:
            return _usable_upstreams(asker, list(self._upstreams(asker)))
        except Exception:
            log.debug("dns: container %s: cannot list upstreams", asker, exc_info=True)
            return []

    # -- forwarding over UDP (selector thread) ---------------------------------------------

    def _start_forward(self, att: _Attachment, client: tuple[str, int], query: Message,
                       wire: bytes) -> None:
        upstreams = self._upstreams_of(att.asker)
        if (not upstreams or len(self._forwards) >= MAX_PENDING_FORWARDS
                or att.pending >= MAX_PENDING_PER_CONTAINER):
            log.debug("dns: container %s: %s: no upstream to forward to (%d pending)",
                      att.asker, query.questions[0].name, len(self._forwards))
            self._reply_udp(att, client, build_reply(query, RCODE_SERVFAIL))
            return
        fresh_id = secrets.randbelow(0x10000)
        fwd = _Forward(att, client, query, with_id(wire, fresh_id), fresh_id, upstreams,
                       time.monotonic() + self._timeout)
        self._next_upstream(fwd)

    def _next_upstream(self, fwd: _Forward) -> None:
        """Send the query to the next upstream, or SERVFAIL when none is left."""
        self._close_upstream_socket(fwd)
        while fwd.remaining:
            now = time.monotonic()
            if now >= fwd.deadline:
                break
            upstream = fwd.remaining.pop(0)
            family = socket.AF_INET6 if ":" in upstream[0] else socket.AF_INET
            try:
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except OSError as e:  # e.g. out of file descriptors
                log.debug("dns: no socket to forward to %s: %s", upstream, e)
                continue
            try:
                sock.setblocking(False)
                # Connected: the kernel drops datagrams from any other address.
                sock.connect(upstream)
                sock.send(fwd.wire)
            except OSError as e:
                sock.close()
                log.debug("dns: forward to %s failed: %s", upstream, e)
                continue
            fwd.sock, fwd.upstream = sock, upstream
            fwd.attempt_deadline = now + (fwd.deadline - now) / (len(fwd.remaining) + 1)
            if not fwd.counted:
                fwd.counted = True
                fwd.attachment.pending += 1
            self._forwards[sock] = fwd
            self._selector.register(sock, selectors.EVENT_READ, fwd)
            log.debug("dns: container %s: %s forwarded to %s", fwd.attachment.asker,
                      fwd.query.questions[0].name, upstream)
            return
        log.debug("dns: container %s: %s: no upstream answered", fwd.attachment.asker,
                  fwd.query.questions[0].name)
        self._end_forward(fwd)
        self._reply_udp(fwd.attachment, fwd.client, build_reply(fwd.query, RCODE_SERVFAIL))

    def _read_upstream(self, fwd: _Forward) -> None:
        assert fwd.sock is not None
        while True:
            try:
                reply = fwd.sock.recv(_MAX_MESSAGE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. ECONNREFUSED from an ICMP port unreachable
                log.debug("dns: upstream %s: %s", fwd.upstream, e)
                self._next_upstream(fwd)
                return
            if (len(reply) < HEADER_SIZE or parse_header(reply).id != fwd.fresh_id
                    or not parse_header(reply).is_response):
                log.debug("dns: upstream %s: dropped an unmatched reply", fwd.upstream)
                continue
            self._end_forward(fwd)
            self._reply_udp(fwd.attachment, fwd.client, with_id(reply, fwd.query.header.id))
            return

    def _expire(self, now: float) -> None:
        for fwd in [f for f in self._forwards.values() if f.attempt_deadline <= now]:
            log.debug("dns: upstream %s timed out", fwd.upstream)
            try:
                self._next_upstream(fwd)
            except Exception:  # never leave an expired forward behind: it would spin
                log.debug("dns: error moving to the next upstream", exc_info=True)
                self._end_forward(fwd)

    def _close_upstream_socket(self, fwd: _Forward) -> None:
        if fwd.sock is not None:
            self._forwards.pop(fwd.sock, None)
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fwd.sock)
            fwd.sock.close()
            fwd.sock = None

    def _end_forward(self, fwd: _Forward) -> None:
        self._close_upstream_socket(fwd)
        fwd.remaining = []
        if fwd.counted:
            fwd.counted = False
            fwd.attachment.pending -= 1

    # -- TCP ------------------------------------------------------------------------------

    def _accept(self, att: _Attachment) -> None:
        while True:
            try:
                conn, _ = att.tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                log.debug("dns: container %s: accept failed: %s", att.asker, e)
                return
            if (len(self._tcp_clients) >= MAX_TCP_CONNECTIONS
                    or att.tcp_clients >= MAX_TCP_PER_CONTAINER):
                log.debug("dns: container %s: too many TCP clients; refused one", att.asker)
                conn.close()
                continue
            conn.setblocking(True)
            conn.settimeout(TCP_IDLE_TIMEOUT)
            client = _TcpClient(att, conn)
            att.tcp_clients += 1
            # Started from the selector thread, which never leaves the host namespace:
            # the worker's upstream connections are made from there too.
            client.thread = threading.Thread(target=self._serve_tcp, args=(client,),
                                             name=f"dns-tcp-{att.asker[:12]}", daemon=True)
            self._tcp_clients.add(client)
            client.thread.start()

    def _serve_tcp(self, client: _TcpClient) -> None:
        try:
            while True:
                wire = _read_frame(client.conn)
                if wire is None:
                    return
                asker = client.attachment.asker
                with self._lock:
                    if self._closed or self._attached.get(asker) is not client.attachment:
                        return
                    result = self._answer(asker, wire, udp=False)
                if result is None:
                    return
                if isinstance(result, Message):
                    result = self._forward_tcp(asker, result, wire)
                client.conn.sendall(_frame(result))
        except (OSError, ValueError) as e:
            log.debug("dns: container %s: TCP client ended: %s", client.attachment.asker, e)
        finally:
            client.conn.close()
            with self._lock:
                self._tcp_clients.discard(client)
                client.attachment.tcp_clients -= 1

    def _forward_tcp(self, asker: str, query: Message, wire: bytes) -> bytes:
        with self._lock:
            upstreams = self._upstreams_of(asker)
        fresh_id = secrets.randbelow(0x10000)
        request = _frame(with_id(wire, fresh_id))
        deadline = time.monotonic() + self._timeout
        for i, upstream in enumerate(upstreams):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            attempt_end = time.monotonic() + left / (len(upstreams) - i)
            try:
                with socket.create_connection(upstream, timeout=left / (len(upstreams) - i)) as up:
                    up.settimeout(max(0.001, attempt_end - time.monotonic()))
                    up.sendall(request)
                    reply = _read_frame(up)
            except OSError as e:
                log.debug("dns: TCP forward to %s failed: %s", upstream, e)
                continue
            if reply is None or len(reply) < HEADER_SIZE:
                continue
            h = parse_header(reply)
            if h.id != fresh_id or not h.is_response:
                continue
            return with_id(reply, query.header.id)
        return build_reply(query, RCODE_SERVFAIL)
