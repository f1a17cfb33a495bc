"""HTTP/1.1 response framing of the CLI's transport, fed through a socketpair."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from cove.cli.transport import Connection, ProtocolError, Response, encode_query, quote

_OPEN: list[Connection] = []


@pytest.fixture(autouse=True)
def _close_connections() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def response_from(raw: bytes, method: str = "GET", pieces: int = 7) -> Response:
    """A Response reading ``raw``, written in small pieces to exercise the buffering."""
    a, b = socket.socketpair()

    def write() -> None:
        with b:
            for i in range(0, len(raw), pieces):
                b.sendall(raw[i:i + pieces])

    t = threading.Thread(target=write)
    t.start()
    import _socket

    conn = Connection(_socket.socket(fileno=a.detach()))
    _OPEN.append(conn)
    try:
        return Response(conn, method)
    finally:
        t.join()


def test_chunked_with_extensions_and_trailers() -> None:
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json"
           b"\r\n\r\n4;ext=1\r\n[1, \r\n3\r\n2]\n\r\n0\r\nX-Trailer: y\r\n\r\n")
    resp = response_from(raw)
    assert resp.status == 200 and resp.headers["content-type"] == "application/json"
    assert resp.json() == [1, 2]


def test_content_length_stops_at_length() -> None:
    resp = response_from(b"HTTP/1.1 404 Not Found\r\nContent-Length: 22\r\n\r\n"
                         b'{"message":"no such"}\nEXTRA')
    assert resp.status == 404
    assert resp.read() == b'{"message":"no such"}\n'


def test_body_until_eof_without_length() -> None:
    resp = response_from(b"HTTP/1.0 200 OK\r\n\r\nall of it\nuntil close")
    assert resp.read() == b"all of it\nuntil close"


def test_head_has_no_body() -> None:
    resp = response_from(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", method="HEAD")
    assert resp.read() == b""


def test_json_stream_across_chunks() -> None:
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b'5\r\n{"a":\r\na\r\n1}\r\n{"b":2\r\n2\r\n}\n\r\n0\r\n\r\n')
    assert list(response_from(raw).json_stream()) == [{"a": 1}, {"b": 2}]


def test_error_body_becomes_daemon_error() -> None:
    from cove.cli.errors import DaemonError

    resp = response_from(b"HTTP/1.1 409 Conflict\r\nContent-Length: 26\r\n\r\n"
                         b'{"message":"name in use"}\n')
    with pytest.raises(DaemonError) as info:
        resp.raise_for_status()
    assert str(info.value) == "Error response from daemon: name in use"
    assert info.value.status == 409


def test_plain_text_error_body() -> None:
    from cove.cli.errors import DaemonError

    resp = response_from(b"HTTP/1.1 500 Oops\r\nContent-Length: 5\r\n\r\nboom\n")
    with pytest.raises(DaemonError, match="boom"):
        resp.raise_for_status()


@pytest.mark.parametrize("raw", [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 abc\r\n\r\n", b""])
def test_bad_status_lines(raw: bytes) -> None:
    with pytest.raises(ProtocolError):
        response_from(raw)


def test_truncated_chunk() -> None:
    resp = response_from(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort")
    with pytest.raises(ProtocolError, match="closed the connection"):
        resp.read()


def test_upgraded_stream_keeps_buffered_bytes() -> None:
    resp = response_from(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00"
                         b"\x00\x00\x00\x02hi", pieces=1000)
    assert resp.status == 101 and resp.read() == b""
    assert resp.conn.read_some() == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"


def test_query_encoding() -> None:
    assert quote("a b/c:d") == "a%20b%2Fc%3Ad"
    assert quote("a/b:c", safe="/:") == "a/b:c"
    assert encode_query({"all": True, "x": None, "size": False, "names": ["a", "b&c"],
                         "f": '{"s":["r"]}', "n": 3}) == \
        "all=1&size=0&names=a&names=b%26c&f=%7B%22s%22%3A%5B%22r%22%5D%7D&n=3"
