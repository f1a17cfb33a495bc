"""A scripted Engine API server on a unix socket, for protocol tests of the CLI.

Routes map (method, path without the /v1.47 prefix) to a handler that gets the
parsed request and returns a Reply: a JSON or raw body (Content-Length or
chunked), or a hijack that takes over the socket after a 101 answer. Every
request is recorded for the test to check.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    version_prefix: str

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | list[bytes] = b""
    content_type: str = "application/json"
    chunked: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # takes over after the 101: the socket (for writing) and its buffered reader
    hijack: Callable[[socket.socket, Any], None] | None = None


def json_reply(obj: Any, status: int = 200, chunked: bool = False) -> Reply:
    return Reply(status, json.dumps(obj).encode(), chunked=chunked)


def error_reply(status: int, message: str) -> Reply:
    return json_reply({"message": message}, status)


Handler = Callable[[Request], Reply]


class FakeDaemon:
    def __init__(self, path: str) -> None:
        self.path = path
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        self._sock.listen(16)
        self._threads: list[threading.Thread] = []
        self._closing = False
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()

    @property
    def host(self) -> str:
        return f"unix://{self.path}"

    def route(self, method: str, path: str, handler: Handler | Reply) -> None:
        if isinstance(handler, Reply):
            reply = handler
            self.routes[(method, path)] = lambda _req: reply
        else:
            self.routes[(method, path)] = handler

    def find(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def close(self) -> None:
        self._closing = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        self._accept.join(5)
        for t in self._threads:
            t.join(5)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _serve(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._handle_one(conn)
            except (OSError, ValueError):
                pass

    def _handle_one(self, conn: socket.socket) -> None:
        rfile = conn.makefile("rb")
        line = rfile.readline().decode("latin-1").rstrip("\r\n")
        if not line:
            return
        method, target, _ = line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            h = rfile.readline().decode("latin-1").rstrip("\r\n")
            if not h:
                break
            k, _, v = h.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(rfile.readline().strip(), 16)
                if size == 0:
                    rfile.readline()
                    break
                parts.append(rfile.read(size))
                rfile.readline()
            body = b"".join(parts)
        elif headers.get("content-length"):
            body = rfile.read(int(headers["content-length"]))
        url = urllib.parse.urlsplit(target)
        path = url.path
        prefix = ""
        if path.startswith("/v1."):
            prefix, _, rest = path[1:].partition("/")
            path = "/" + rest
        req = Request(method, path, urllib.parse.parse_qs(url.query, keep_blank_values=True),
                      headers, body, prefix)
        self.requests.append(req)
        handler = self.routes.get((method, path))
        if handler is None:
            for (m, pattern), h in self.routes.items():
                if m == method and pattern.endswith("*") and path.startswith(pattern[:-1]):
                    handler = h
                    break
        reply = handler(req) if handler else error_reply(404, "page not found")
        if reply.hijack is not None:
            conn.sendall(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: "
                         b"application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\n"
                         b"Upgrade: tcp\r\n\r\n")
            reply.hijack(conn, rfile)
            return
        head = [f"HTTP/1.1 {reply.status} X", f"Content-Type: {reply.content_type}",
                "Connection: close"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        chunks = reply.body if isinstance(reply.body, list) else [reply.body]
        if reply.chunked:
            head.append("Transfer-Encoding: chunked")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            for c in chunks:
                if c:
                    conn.sendall(b"%x\r\n%s\r\n" % (len(c), c))
            conn.sendall(b"0\r\n\r\n")
        else:
            data = b"".join(chunks)
            head.append(f"Content-Length: {len(data)}")
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + (
                b"" if method == "HEAD" else data))
