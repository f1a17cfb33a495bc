"""HTTP/1.1 messages for the Engine API: parsed requests and the kinds of response.

The Docker API needs more than request/response: streamed bodies (logs -f, events, pull
progress) and hijacked connections (attach, exec start) where the socket becomes a raw
byte pipe after a 101 response. A handler returns one of the response types below; the
server (server.py) writes it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from cove.errors import InvalidArgument

MAX_HEADER_BYTES = 64 * 1024
MAX_JSON_BODY = 64 * 1024 * 1024

REASONS = {
    101: "UPGRADED", 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
}


class BadRequest(InvalidArgument):
    """The request itself is malformed (not its meaning): HTTP 400."""


class BodyReader:
    """The request body, read lazily: Content-Length, chunked, or none."""

    def __init__(self, stream: BinaryIO, length: int | None, chunked: bool) -> None:
        self._stream = stream
        self._left = length if length is not None else (0 if not chunked else -1)
        self._chunked = chunked
        self._chunk_left = 0
        self._done = not chunked and self._left == 0

    def read(self, size: int = 65536) -> bytes:
        """Up to ``size`` bytes; b"" at the end of the body."""
        if self._done:
            return b""
        try:
            return self._read(size)
        except BaseException:
            # A broken body is never read again (the connection closes after the answer).
            self._done = True
            raise

    def _read(self, size: int) -> bytes:
        if not self._chunked:
            data = self._stream.read(min(size, self._left))
            if not data:
                raise BadRequest("request body ended early")
            self._left -= len(data)
            self._done = self._left == 0
            return data
        if self._chunk_left == 0:
            line = self._stream.readline(1024)
            if not line.endswith(b"\n"):
                raise BadRequest("bad chunked request body")
            try:
                self._chunk_left = int(line.split(b";", 1)[0].strip() or b"x", 16)
            except ValueError:
                raise BadRequest("bad chunk size in request body") from None
            if self._chunk_left == 0:
                # Trailers, then the blank line that ends the body.
                while self._stream.readline(1024).strip():
                    pass
                self._done = True
                return b""
        data = self._stream.read(min(size, self._chunk_left))
        if not data:
            raise BadRequest("request body ended early")
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._stream.readline(16)
        return data

    def read_all(self, limit: int = MAX_JSON_BODY) -> bytes:
        parts: list[bytes] = []
        total = 0
        while chunk := self.read():
            total += len(chunk)
            if total > limit:
                raise BadRequest(f"request body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    def drain(self) -> None:
        while self.read():
            pass

    def __iter__(self) -> Any:
        while chunk := self.read():
            yield chunk


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: BodyReader
    version: str = "1.47"
    params: dict[str, str] = field(default_factory=dict)
    # Set by the server: turns the connection into a raw stream (attach, exec).
    hijacker: Callable[[bool], tuple[socket.socket, BinaryIO]] | None = None
    # Set by the server: True once the client has closed its end (long waits poll it).
    client_gone: Callable[[], bool] = lambda: False

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query parameter as Docker reads them: 1/true/True/yes, 0/false/..."""
        value = self.arg(name)
        if value is None or value == "":
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "t", "yes", "y", "on"):
            return True
        if lowered in ("0", "false", "f", "no", "n", "off"):
            return False
        raise BadRequest(f"invalid boolean value {value!r} for query parameter {name!r}")

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise BadRequest(
                f"invalid value {value!r} for query parameter {name!r}: not an integer"
            ) from None

    def json(self, *, required: bool = False) -> Any:
        data = self.body.read_all()
        if not data.strip():
            if required:
                raise BadRequest("request body is empty: a JSON object is required")
            return None
        try:
            return json.loads(data, parse_constant=_no_constant)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"invalid JSON in request body: {e}") from None
        except RecursionError:
            raise BadRequest("invalid JSON in request body: nested too deeply") from None

    def json_object(self) -> dict[str, Any]:
        value = self.json()
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise BadRequest("request body must be a JSON object")
        return value

    def json_filters(self, name: str = "filters") -> dict[str, list[str]]:
        """Docker's `filters` query parameter: {"key": ["v", ...]} or {"key": {"v": true}}."""
        raw = self.arg(name)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            raise BadRequest(f"invalid filters: {raw!r} is not JSON") from None
        if not isinstance(value, dict):
            raise BadRequest("invalid filters: must be a JSON object")
        out: dict[str, list[str]] = {}
        for key, vals in value.items():
            if isinstance(vals, dict):
                out[key] = [str(k) for k, on in vals.items() if on]
            elif isinstance(vals, list):
                out[key] = [str(v) for v in vals]
            elif isinstance(vals, str):
                out[key] = [vals]
            else:
                raise BadRequest(f"invalid filters: bad value for {key!r}")
        return out

    def hijack(self, multiplexed: bool = True) -> tuple[socket.socket, BinaryIO]:
        """Send the 101/200 upgrade answer and hand over the raw connection."""
        if self.hijacker is None:
            raise BadRequest("this connection cannot be hijacked")
        return self.hijacker(multiplexed)


class Response:
    status: int = 200
    headers: dict[str, str]

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})


class BytesResponse(Response):
    def __init__(self, body: bytes, status: int = 200,
                 content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)
        self.body = body
        self.headers.setdefault("Content-Type", content_type)


def json_response(value: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> BytesResponse:
    body = json.dumps(value, separators=(",", ":")).encode() + b"\n"
    return BytesResponse(body, status, "application/json", headers)


def empty_response(status: int = 204) -> Response:
    return Response(status)


class StreamResponse(Response):
    """A body written as it is produced (chunked encoding); closing it stops the producer."""

    def __init__(self, chunks: Iterable[bytes], status: int = 200,
                 content_type: str = "application/json",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, headers)
        self.chunks = chunks
        self.headers.setdefault("Content-Type", content_type)


class HijackedResponse(Response):
    """The handler has taken over the connection; the server writes nothing more."""

    def __init__(self) -> None:
        super().__init__(101)


def _no_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (Python's decoder takes them by default)."""
    raise ValueError(f"{name} is not a JSON value")
