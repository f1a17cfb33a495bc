"""An HTTP/1.1 server on unix (and mutual-TLS TCP) sockets, one thread per connection.

Threads fit the Engine API: most handlers block on the runtime, the database or a
stream, and a hijacked attach keeps its connection for as long as the client stays.
Every request runs inside one error boundary: whatever a handler raises becomes a JSON
error response, and a client that vanishes mid-stream only ends its own thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import parse_qs, unquote, urlsplit

from cove.api.errors import status_for
from cove.api.http import (
    MAX_HEADER_BYTES,
    REASONS,
    BadRequest,
    BodyReader,
    BytesResponse,
    HijackedResponse,
    Request,
    Response,
    StreamResponse,
)
from cove.api.router import API_VERSION, Router

log = logging.getLogger("cove.api")

SERVER_HEADER = "Cove/0.1.0 (linux)"


class _ClientGone(Exception):
    """The peer closed the connection."""


def _common_headers() -> list[tuple[str, str]]:
    return [("Api-Version", API_VERSION), ("Docker-Experimental", "false"),
            ("Ostype", "linux"), ("Server", SERVER_HEADER)]


class Connection:
    def __init__(self, sock: socket.socket, router: Router) -> None:
        self.sock = sock
        self.router = router
        self.rfile: BinaryIO = sock.makefile("rb")
        self.hijacked = False

    # -- reading -------------------------------------------------------------------------

    def _read_head(self) -> tuple[str, str, str, dict[str, str]] | None:
        line = self.rfile.readline(MAX_HEADER_BYTES)
        while line in (b"\r\n", b"\n"):
            line = self.rfile.readline(MAX_HEADER_BYTES)
        if not line:
            return None
        try:
            method, target, proto = line.decode("latin-1").split()
        except ValueError:
            raise BadRequest(f"malformed request line {line[:80]!r}") from None
        headers: dict[str, str] = {}
        total = len(line)
        while True:
            h = self.rfile.readline(MAX_HEADER_BYTES)
            total += len(h)
            if total > MAX_HEADER_BYTES:
                raise BadRequest("request headers too large")
            if h in (b"\r\n", b"\n", b""):
                break
            name, sep, value = h.decode("latin-1").partition(":")
            if not sep:
                raise BadRequest(f"malformed header line {h[:80]!r}")
            headers[name.strip().lower()] = value.strip()
        return method.upper(), target, proto, headers

    def _request(self, method: str, target: str, headers: dict[str, str]) -> Request:
        url = urlsplit(target)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length: int | None = None
        if not chunked and "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise BadRequest("invalid Content-Length") from None
            if length < 0:
                raise BadRequest("invalid Content-Length")
        body = BodyReader(self.rfile, length, chunked)
        query = parse_qs(url.query, keep_blank_values=True)
        req = Request(method, unquote(url.path), query, headers, body)
        req.hijacker = self._hijack
        req.client_gone = self._client_gone
        return req

    def _client_gone(self) -> bool:
        poller = select.poll()
        # Not POLLRDHUP: a client that only closed its sending side (the docker CLI does
        # on an attach without stdin) is still reading.
        poller.register(self.sock, select.POLLHUP | select.POLLERR)
        return bool(poller.poll(0))

    # -- writing -------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            raise _ClientGone() from e

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write(self, req: Request | None, resp: Response, keep_alive: bool) -> None:
        headers = _common_headers() + list(resp.headers.items())
        conn = [("Connection", "keep-alive" if keep_alive else "close")]
        head_only = req is not None and req.method == "HEAD"
        if isinstance(resp, StreamResponse):
            self._send(self._head(resp.status, headers + conn
                                  + [("Transfer-Encoding", "chunked")]))
            chunks = iter(resp.chunks)
            try:
                for chunk in chunks:
                    if chunk:
                        self._send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self._send(b"0\r\n\r\n")
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            return
        body = resp.body if isinstance(resp, BytesResponse) else b""
        if resp.status in (204, 304):
            self._send(self._head(resp.status, headers + conn))
            return
        self._send(self._head(resp.status, headers + conn
                              + [("Content-Length", str(len(body)))])
                   + (b"" if head_only else body))

    def _hijack(self, multiplexed: bool) -> tuple[socket.socket, BinaryIO]:
        """Answer the upgrade (or a plain 200 for old clients) and give up the socket."""
        self.hijacked = True
        content_type = ("application/vnd.docker.multiplexed-stream" if multiplexed
                        else "application/vnd.docker.raw-stream")
        headers = [*_common_headers(), ("Content-Type", content_type)]
        self._send(self._head(101, [*headers, ("Connection", "Upgrade"), ("Upgrade", "tcp")]))
        return self.sock, self.rfile

    # -- the loop ------------------------------------------------------------------------

    def serve(self) -> None:
        try:
            while not self.hijacked:
                if not self._serve_one():
                    break
        except _ClientGone:
            pass
        except Exception:  # the boundary: a connection's failure never reaches the daemon
            log.exception("connection failed")
        finally:
            if not self.hijacked:
                self._lingering_close()

    def _lingering_close(self) -> None:
        """Close so that a client still sending (a refused request) reads our answer:
        closing with unread input would reset the connection and drop the response."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.settimeout(0.5)
            left = 1 << 20
            while left > 0:
                data = self.sock.recv(65536)
                if not data:
                    break
                left -= len(data)
        with contextlib.suppress(OSError):
            self.sock.close()

    def _serve_one(self) -> bool:
        req: Request | None = None
        try:
            head = self._read_head()
            if head is None:
                return False
            method, target, proto, headers = head
            keep_alive = (proto == "HTTP/1.1"
                          and headers.get("connection", "").lower() != "close")
            req = self._request(method, target, headers)
            handler = self.router.resolve(req)
            resp = handler(req)
        except _ClientGone:
            raise
        except (ConnectionResetError, BrokenPipeError):
            return False
        except Exception as e:
            status = status_for(e)
            if status == 500:
                log.exception("request failed: %s", req.path if req else "?")
            message = str(e) or type(e).__name__
            resp = BytesResponse(json.dumps({"message": message}).encode() + b"\n", status)
            keep_alive = False
        if isinstance(resp, HijackedResponse) or self.hijacked:
            return False
        if keep_alive and req is not None and not isinstance(resp, StreamResponse):
            # Whatever the handler left unread must not be parsed as the next request.
            try:
                req.body.drain()
            except Exception:
                keep_alive = False
        self._write(req, resp, keep_alive)
        return keep_alive and not isinstance(resp, StreamResponse)


class Server:
    """Accept loops on the listening sockets; each connection gets a daemon thread."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._listeners: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    def listen_unix(self, path: str, group: str | None = "cove") -> None:
        os.makedirs(os.path.dirname(path) or ".", mode=0o711, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Created 0600 under the umask, then opened to the group only: no window in
        # which another user could connect.
        old = os.umask(0o177)
        try:
            sock.bind(path)
        finally:
            os.umask(old)
        gid = _group_id(group) if group else None
        if gid is not None:
            os.chown(path, 0, gid)
        os.chmod(path, 0o660)
        sock.listen(128)
        self._listeners.append(sock)

    def listen_tls(self, host: str, port: int, context: ssl.SSLContext | None) -> None:
        sock = socket.create_server((host, port), reuse_port=False)
        if context is not None:
            sock = context.wrap_socket(sock, server_side=True)
        self._listeners.append(sock)

    def start(self) -> None:
        for sock in self._listeners:
            t = threading.Thread(target=self._accept_loop, args=(sock,),
                                 name="accept", daemon=True)
            t.start()
            self._threads.append(t)

    def _accept_loop(self, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = sock.accept()
            except ssl.SSLError as e:
                log.warning("TLS handshake refused: %s", e)
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                continue
            threading.Thread(target=Connection(conn, self.router).serve,
                             name="conn", daemon=True).start()

    def stop(self) -> None:
        self._stopping.set()
        for sock in self._listeners:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


def _group_id(name: str) -> int | None:
    import grp
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def stream_json_lines(items: Iterator[object]) -> Iterator[bytes]:
    """Each item as one JSON document and a newline (pull progress, events, stats)."""
    for item in items:
        yield json.dumps(item, separators=(",", ":")).encode() + b"\n"
