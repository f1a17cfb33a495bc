"""HTTP/1.1 to the daemon over a unix (or loopback TCP) socket.

``http.client`` pulls in ``email.*`` and ``socket`` pulls in ``enum``: together
more than the rest of ``cove ps``. The Engine API needs little of HTTP: one
request per connection, Content-Length or chunked bodies, and the hijacked
(upgraded) connection of attach/exec, which ``http.client`` cannot hand over
anyway. So this module speaks it directly on a ``_socket`` socket.
"""

from __future__ import annotations

import _socket

from cove import fastjson
from cove.cli.errors import CliError, ConnectError, DaemonError
from cove.lazylog import get_logger

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any, BinaryIO

    QueryValue = str | int | bool | None | list[str]
    Body = bytes | Iterable[bytes] | BinaryIO | None

log = get_logger(__name__)

# Set by ``cove -D``: even a disabled log call would import logging (milliseconds
# on every command), so requests are logged only when someone asked for it.
DEBUG = False

API_VERSION = "1.47"
DEFAULT_HOST = "unix:///run/cove/cove.sock"
_RECV = 65536
_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def quote(text: str, safe: str = "") -> str:
    """Percent-encode like ``urllib.parse.quote`` (which would import ``re``)."""
    allowed = _SAFE | frozenset(safe.encode())
    out = []
    for byte in text.encode("utf-8"):
        out.append(chr(byte) if byte in allowed else f"%{byte:02X}")
    return "".join(out)


def encode_query(query: Mapping[str, QueryValue]) -> str:
    """``a=1&b=x``; None is left out, booleans are 1/0, lists repeat the key."""
    parts = []
    for key, value in query.items():
        if value is None:
            continue
        values: list[str | int | bool] = list(value) if isinstance(value, list) else [value]
        for v in values:
            text = ("1" if v else "0") if isinstance(v, bool) else str(v)
            parts.append(f"{quote(key)}={quote(text)}")
    return "&".join(parts)


class ProtocolError(CliError):
    """The daemon's answer was not HTTP as expected."""


class Connection:
    """A socket with a receive buffer; the buffered bytes stay readable after an upgrade."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def fileno(self) -> int:
        return self.sock.fileno()

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            data = self.sock.recv(_RECV)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def readline(self) -> bytes:
        while True:
            idx = self.buf.find(b"\n")
            if idx >= 0:
                line = bytes(self.buf[:idx + 1])
                del self.buf[:idx + 1]
                return line
            if not self._fill():
                raise ProtocolError("the daemon closed the connection in mid-response")

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ProtocolError("the daemon closed the connection in mid-response")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_some(self) -> bytes:
        """What is buffered, else one recv; b"" at EOF."""
        if not self.buf and not self._fill():
            return b""
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.sock.close()


class Response:
    """Status line and headers read; the body is read on demand."""

    def __init__(self, conn: Connection, method: str) -> None:
        self.conn = conn
        line = conn.readline().decode("latin-1").rstrip("\r\n")
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line from the daemon: {line!r}")
        self.status = int(parts[1])
        self.headers: dict[str, str] = {}
        while True:
            raw = conn.readline().decode("latin-1").rstrip("\r\n")
            if not raw:
                break
            name, _, value = raw.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._remaining: int | None = int(length) if length and length.isdigit() else None
        if method == "HEAD" or self.status in (101, 204, 304):
            self._remaining = 0
            self._chunked = False
        self._done = False

    def iter_body(self) -> Iterator[bytes]:
        """The body in pieces as they arrive (chunks, or whatever recv returns)."""
        if self._done:
            return
        conn = self.conn
        if self._chunked:
            while True:
                size_line = conn.readline().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_line!r}") from None
                if size == 0:
                    while conn.readline().strip():  # trailers
                        pass
                    break
                data = conn.read_exact(size)
                conn.read_exact(2)
                yield data
        elif self._remaining is not None:
            while self._remaining > 0:
                data = conn.read_some()
                if not data:
                    raise ProtocolError("the daemon closed the connection in mid-response")
                if len(data) > self._remaining:
                    data = data[:self._remaining]
                self._remaining -= len(data)
                yield data
        else:
            while True:
                data = conn.read_some()
                if not data:
                    break
                yield data
        self._done = True

    def read(self) -> bytes:
        return b"".join(self.iter_body())

    def json(self) -> Any:
        data = self.read()
        if not data.strip():
            return None
        try:
            return fastjson.loads(data)
        except ValueError as e:
            raise ProtocolError(f"the daemon's answer is not JSON: {e}") from None

    def json_stream(self) -> Iterator[Any]:
        """Newline-separated JSON messages (pull progress, events, stats)."""
        pending = b""
        for data in self.iter_body():
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.strip():
                    yield _parse_message(line)
        if pending.strip():
            yield _parse_message(pending)

    def close(self) -> None:
        self.conn.close()

    def raise_for_status(self) -> None:
        if self.status < 400:
            return
        body = self.read()
        message = body.decode("utf-8", "replace").strip()
        try:
            doc = fastjson.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            message = doc["message"]
        self.close()
        raise DaemonError(self.status, message or f"status {self.status}")


def _parse_message(line: bytes) -> Any:
    try:
        return fastjson.loads(line)
    except ValueError as e:
        raise ProtocolError(f"bad JSON message from the daemon: {e}") from None


class Client:
    """Requests to one daemon address, ``unix:///path`` or ``tcp://host:port``."""

    def __init__(self, host: str = DEFAULT_HOST, version: str = API_VERSION) -> None:
        self.host = host
        self.prefix = f"/v{version}" if version else ""
        if host.startswith("unix://"):
            self._family = _socket.AF_UNIX
            self._address: str | tuple[str, int] = host[len("unix://"):]
        elif host.startswith("tcp://") or host.startswith("http://"):
            netloc = host.split("://", 1)[1].rstrip("/")
            name, _, port = netloc.rpartition(":")
            if not port.isdigit():
                raise CliError(f"invalid daemon address {host!r}: no port")
            self._family = _socket.AF_INET6 if name.startswith("[") else _socket.AF_INET
            self._address = (name.strip("[]"), int(port))
        else:
            raise CliError(f"unsupported daemon address {host!r}: use unix:// or tcp://")

    def connect(self) -> Connection:
        sock = _socket.socket(self._family, _socket.SOCK_STREAM)
        try:
            sock.connect(self._address)
        except OSError as e:
            sock.close()
            raise ConnectError(f"Cannot connect to the Docker daemon at {self.host}. "
                               f"Is the docker daemon running? ({e.strerror or e})") from None
        return Connection(sock)

    def send(self, method: str, path: str, query: Mapping[str, QueryValue] | None = None,
             body: Body | Any = None, headers: Mapping[str, str] | None = None,
             json_body: bool = False, upgrade: bool = False) -> Connection:
        """Open a connection and send one request; the answer is read by ``response``."""
        target = self.prefix + path
        if query:
            qs = encode_query(query)
            if qs:
                target += "?" + qs
        head = [f"{method} {target} HTTP/1.1", "Host: docker", "User-Agent: cove-cli/0.1"]
        if upgrade:
            head += ["Connection: Upgrade", "Upgrade: tcp"]
        else:
            head.append("Connection: close")
        payload: bytes | None = None
        stream: Any = None
        if json_body:
            payload = fastjson.dumps(body).encode("utf-8")
            head.append("Content-Type: application/json")
        elif isinstance(body, bytes | bytearray):
            payload = bytes(body)
        elif body is not None:
            stream = body
        if payload is not None:
            head.append(f"Content-Length: {len(payload)}")
        elif stream is not None:
            head.append("Transfer-Encoding: chunked")
        elif method in ("POST", "PUT"):
            head.append("Content-Length: 0")
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}")
        if DEBUG:
            log.debug("%s %s%s", method, target, " (upgrade)" if upgrade else "")
        conn = self.connect()
        try:
            conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
            if payload:
                conn.sendall(payload)
            elif stream is not None:
                for chunk in _pieces(stream):
                    if chunk:
                        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                conn.sendall(b"0\r\n\r\n")
        except BrokenPipeError:
            # The daemon may refuse early (bad archive path) and close; its answer
            # is still waiting in the receive buffer.
            pass
        except BaseException:
            conn.close()
            raise
        return conn

    def response(self, conn: Connection, method: str = "GET", check: bool = True) -> Response:
        try:
            resp = Response(conn, method)
        except BaseException:
            conn.close()
            raise
        if DEBUG:
            log.debug("-> %d %s", resp.status, resp.headers.get("content-type", ""))
        if check:
            resp.raise_for_status()
        return resp

    def request(self, method: str, path: str, query: Mapping[str, QueryValue] | None = None,
                body: Body | Any = None, headers: Mapping[str, str] | None = None,
                json_body: bool = False, check: bool = True) -> Response:
        conn = self.send(method, path, query, body, headers, json_body)
        return self.response(conn, method, check)

    def get_json(self, path: str, query: Mapping[str, QueryValue] | None = None) -> Any:
        resp = self.request("GET", path, query)
        try:
            return resp.json()
        finally:
            resp.close()

    def post_json(self, path: str, query: Mapping[str, QueryValue] | None = None,
                  body: Any = None, headers: Mapping[str, str] | None = None) -> Any:
        resp = self.request("POST", path, query, body, headers, json_body=body is not None)
        try:
            return resp.json()
        finally:
            resp.close()

    def call(self, method: str, path: str,
             query: Mapping[str, QueryValue] | None = None) -> None:
        """A request whose answer has no body worth reading (start, stop, kill...)."""
        resp = self.request(method, path, query)
        resp.read()
        resp.close()

    def hijack(self, path: str, query: Mapping[str, QueryValue] | None = None,
               body: Any = None) -> tuple[Connection, Response]:
        """POST with ``Upgrade: tcp``; after the 101/200 the connection is a raw stream."""
        conn = self.send("POST", path, query, body, json_body=body is not None, upgrade=True)
        resp = self.response(conn, "POST")
        if resp.status not in (101, 200):
            resp.close()
            raise ProtocolError(f"the daemon did not upgrade the connection ({resp.status})")
        return conn, resp


def _pieces(stream: Any) -> Iterator[bytes]:
    read = getattr(stream, "read", None)
    if read is None:
        yield from stream
        return
    while True:
        chunk = read(_RECV)
        if not chunk:
            return
        yield chunk
