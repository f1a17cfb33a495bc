"""Retries of manifest and blob GETs against a misbehaving server on 127.0.0.1.

The server answers from a script: 429 with Retry-After, 5xx, or a blob body cut
off half-way (the connection closed under the client).  The client is given a
``sleep`` that records the waits instead of waiting.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cove.registry import ConnectionLost, RegistryClient, ServerError, Unavailable
from cove.registry.errors import is_transient

MANIFEST = b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}'
BLOB = bytes(range(256)) * 1024  # 256 KiB


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# A step answers one request: (status, headers, body, bytes of the body to send or None).
Step = tuple[int, dict[str, str], bytes, int | None]


class Misbehaving:
    """Answers each path from its list of steps in turn; the last step repeats."""

    def __init__(self) -> None:
        self.script: dict[str, list[Step]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                outer.requests.append((self.path, dict(self.headers)))
                steps = outer.script.get(self.path)
                if not steps:
                    status, headers, body, cut = 404, {}, b"", None
                else:
                    status, headers, body, cut = steps.pop(0) if len(steps) > 1 else steps[0]
                rng = self.headers.get("Range")
                if status == 200 and rng and body:
                    start = int(rng.removeprefix("bytes=").rstrip("-"))
                    status = 206
                    headers = {**headers, "Content-Range":
                               f"bytes {start}-{len(body) - 1}/{len(body)}"}
                    body = body[start:]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Misbehaving]:
    s = Misbehaving()
    try:
        yield s
    finally:
        s.stop()


class Sink:
    """A resumable writer: its offset is what it holds."""

    def __init__(self) -> None:
        self.data = b""

    @property
    def offset(self) -> int:
        return len(self.data)

    def write(self, data: bytes) -> None:
        self.data += data


def client(server: Misbehaving, waits: list[float], **kw: Any) -> RegistryClient:
    return RegistryClient(server.host, sleep=waits.append, **kw)


def test_429_honours_retry_after_then_serves(server: Misbehaving) -> None:
    server.script["/v2/r/manifests/t"] = [
        (429, {"Retry-After": "2"}, b"", None),
        (429, {"Retry-After": "3600"}, b"", None),  # capped at max_delay
        (200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, MANIFEST, None),
    ]
    waits: list[float] = []
    with client(server, waits, max_delay=5.0) as c:
        data, media_type, digest = c.get_manifest("r", "t")
    assert data == MANIFEST and digest == sha(MANIFEST)
    assert waits == [2.0, 5.0]
    assert len(server.requests) == 3


def test_5xx_backs_off_exponentially_with_jitter(server: Misbehaving) -> None:
    server.script["/v2/r/manifests/t"] = [(503, {}, b"", None)] * 3 + [
        (200, {}, MANIFEST, None)]
    waits: list[float] = []
    with client(server, waits, backoff=1.0) as c:
        assert c.get_manifest("r", "t")[0] == MANIFEST
    assert len(waits) == 3
    for n, wait in enumerate(waits):
        assert 0.5 * 2**n <= wait <= 2**n


def test_retries_are_bounded(server: Misbehaving) -> None:
    server.script["/v2/r/manifests/t"] = [(500, {}, b"", None)]
    waits: list[float] = []
    with client(server, waits, retries=2) as c, pytest.raises(ServerError, match="r:t"):
        c.get_manifest("r", "t")
    assert len(waits) == 2 and len(server.requests) == 3


def test_cut_blob_resumes_with_range(server: Misbehaving) -> None:
    d = sha(BLOB)
    server.script[f"/v2/r/blobs/{d}"] = [
        (200, {}, BLOB, 100_000),  # the connection dies after 100000 bytes
        (429, {"Retry-After": "0"}, b"", None),
        (200, {}, BLOB, 50_000),  # a Range request, cut again
        (200, {}, BLOB, None),
    ]
    waits: list[float] = []
    sink = Sink()
    seen: list[int] = []
    notices: list[float] = []
    with client(server, waits, backoff=0.01) as c:
        written = c.fetch_blob("r", d, sink, size=len(BLOB),
                               progress=lambda done, total: seen.append(done),
                               on_retry=lambda delay, exc: notices.append(delay))
    assert sink.data == BLOB
    assert written == len(BLOB)
    assert len(waits) == 3 and notices == waits
    ranges = [h.get("Range") for p, h in server.requests]
    assert ranges[0] is None
    assert ranges[1] == ranges[2] == "bytes=100000-"
    assert ranges[3] == f"bytes={100_000 + 50_000}-"
    assert seen[-1] == len(BLOB)


def test_cut_blob_gives_up_after_the_retries(server: Misbehaving) -> None:
    d = sha(BLOB)
    server.script[f"/v2/r/blobs/{d}"] = [(200, {}, BLOB, 10)]
    waits: list[float] = []
    sink = Sink()
    with client(server, waits, retries=3, backoff=0.0) as c, \
            pytest.raises(ConnectionLost, match="interrupted|ended"):
        c.fetch_blob("r", d, sink, size=len(BLOB))
    assert len(waits) == 3
    assert sink.data == BLOB[:40]  # each try resumed where the last stopped


def test_refused_connection_is_not_retried() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    waits: list[float] = []
    with RegistryClient(f"127.0.0.1:{port}", sleep=waits.append) as c, \
            pytest.raises(Unavailable, match="connection refused") as e:
        c.get_manifest("r", "t")
    assert not is_transient(e.value)
    assert waits == []


def test_not_found_is_not_retried(server: Misbehaving) -> None:
    waits: list[float] = []
    with client(server, waits) as c, pytest.raises(Exception, match="HTTP 404|unknown"):
        c.get_manifest("r", "missing")
    assert waits == [] and len(server.requests) == 1


