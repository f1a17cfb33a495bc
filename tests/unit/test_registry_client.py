"""Registry client pieces: challenges, error mapping, credentials, and edge cases
served by a small scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cove.content.store import ContentStore
from cove.errors import InvalidArgument, NotFound
from cove.registry import (
    CredentialStore,
    DigestMismatch,
    PermissionDenied,
    RateLimited,
    RegistryClient,
    Unauthenticated,
    Unavailable,
    pull,
)
from cove.registry import errors as rerrors
from cove.registry.auth import parse_challenge
from cove.registry.client import _next_link, _with_digest
from cove.registry.tls import is_loopback


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_parse_bearer_challenge() -> None:
    ch = parse_challenge('Bearer realm="https://auth.test/token",service="reg",'
                         'scope="repository:a/b:pull,push"')
    assert ch.scheme == "bearer"
    assert ch.params == {"realm": "https://auth.test/token", "service": "reg",
                         "scope": "repository:a/b:pull,push"}
    assert parse_challenge('Basic realm="Registry Realm"').params == {"realm": "Registry Realm"}


@pytest.mark.parametrize(("status", "code", "kind"), [
    (404, "MANIFEST_UNKNOWN", NotFound),
    (404, "BLOB_UNKNOWN", NotFound),
    (404, "NAME_UNKNOWN", NotFound),
    (400, "NAME_INVALID", InvalidArgument),
    (401, "UNAUTHORIZED", Unauthenticated),
    (403, "DENIED", PermissionDenied),
    (429, "TOOMANYREQUESTS", RateLimited),
    (503, "", Unavailable),
])
def test_error_mapping(status: int, code: str, kind: type[Exception]) -> None:
    body = json.dumps({"errors": [{"code": code, "message": "msg here"}]}).encode()
    err = rerrors.from_response(status, body if code else b"", "h:1/r:t", "3")
    assert isinstance(err, kind)
    assert str(err).startswith("h:1/r:t: ")


def test_credential_store_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "x", "auths": {
        "other:5000": {"username": "u", "password": "p"}}}))
    store = CredentialStore(str(path))
    store.store("127.0.0.1:5000", "bob", "s:e:c")
    assert store.get("127.0.0.1:5000") == ("bob", "s:e:c")
    assert store.get("other:5000") == ("u", "p")
    doc = json.loads(path.read_text())
    assert doc["credsStore"] == "x"
    assert path.stat().st_mode & 0o777 == 0o600
    store.erase("127.0.0.1:5000")
    assert store.get("127.0.0.1:5000") is None
    with pytest.raises(NotFound):
        store.erase("127.0.0.1:5000")


def test_helpers() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost") and is_loopback("[::1]:80")
    assert not is_loopback("registry.test:5000") and not is_loopback("192.0.2.1")
    assert _with_digest("/v2/r/blobs/uploads/u?_state=x", "sha256:ab") == (
        "/v2/r/blobs/uploads/u?_state=x&digest=sha256%3Aab")
    assert _with_digest("http://h/v2/u", "sha256:ab") == "/v2/u?digest=sha256%3Aab"
    assert _next_link('</v2/r/tags/list?n=2&last=b>; rel="next"') == "/v2/r/tags/list?n=2&last=b"


# -- a scripted server ----------------------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class Scripted:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def handle_one(self) -> None:
                outer.seen.append((self.command, self.path, dict(self.headers)))
                route = outer.routes.get(self.path.split("?")[0])
                status, headers, body = route(self) if route else (404, {}, b"")
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", headers.get("Content-Length", str(len(body))))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = handle_one  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    try:
        yield s
    finally:
        s.stop()


def _err(code: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode()


class Sink:
    def __init__(self, offset: int = 0) -> None:
        self.offset = offset
        self.data = b""

    def write(self, data: bytes) -> None:
        self.data += data


def test_rate_limit_and_denied(scripted: Scripted) -> None:
    scripted.routes["/v2/r/manifests/busy"] = lambda h: (
        429, {"Retry-After": "7"}, _err("TOOMANYREQUESTS"))
    scripted.routes["/v2/r/manifests/no"] = lambda h: (403, {}, _err("DENIED"))
    with RegistryClient(scripted.host, retries=0) as client:
        with pytest.raises(RateLimited) as e:
            client.get_manifest("r", "busy")
        assert e.value.retry_after == 7.0
        with pytest.raises(PermissionDenied, match="denied"):
            client.get_manifest("r", "no")


def test_manifest_digest_checks(scripted: Scripted) -> None:
    body = b'{"schemaVersion": 2}'
    other = sha(b"something else")
    scripted.routes[f"/v2/r/manifests/{other}"] = lambda h: (200, {}, body)
    scripted.routes["/v2/r/manifests/lying"] = lambda h: (
        200, {"Docker-Content-Digest": other}, body)
    with RegistryClient(scripted.host) as client:
        with pytest.raises(DigestMismatch):
            client.get_manifest("r", other)
        with pytest.raises(DigestMismatch):
            client.get_manifest("r", "lying")


def test_blob_redirects_and_ignored_range(scripted: Scripted) -> None:
    data = bytes(range(256)) * 40
    d = sha(data)
    scripted.routes[f"/v2/r/blobs/{d}"] = lambda h: (
        307, {"Location": f"http://{scripted.host}/storage/blob"}, b"")
    scripted.routes["/storage/blob"] = lambda h: (200, {}, data)  # ignores Range
    scripted.routes["/v2/r/blobs/sha256:" + "0" * 64] = lambda h: (
        302, {"Location": "http://192.0.2.1/blob"}, b"")
    with RegistryClient(scripted.host) as client:
        sink = Sink(offset=1000)
        client.fetch_blob("r", d, sink, size=len(data))
        assert sink.data == data[1000:]
        redirected = next(s for s in scripted.seen if s[1] == "/storage/blob")
        assert redirected[2]["Range"] == "bytes=1000-"
        with pytest.raises(PermissionDenied, match="off loopback"):
            client.fetch_blob("r", "sha256:" + "0" * 64, Sink())


def test_short_blob_is_unavailable(scripted: Scripted) -> None:
    scripted.routes["/v2/r/blobs/sha256:" + "1" * 64] = lambda h: (200, {}, b"abc")
    with RegistryClient(scripted.host, retries=0) as client, \
            pytest.raises(Unavailable, match="3 of 10"):
        client.fetch_blob("r", "sha256:" + "1" * 64, Sink(), size=10)


def test_tags_pagination(scripted: Scripted) -> None:
    def page(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if "last=" in h.path:
            return 200, {}, json.dumps({"name": "r", "tags": ["c"]}).encode()
        return 200, {"Link": '</v2/r/tags/list?n=2&last=b>; rel="next"'}, json.dumps(
            {"name": "r", "tags": ["a", "b"]}).encode()

    scripted.routes["/v2/r/tags/list"] = page
    with RegistryClient(scripted.host) as client:
        assert client.tags("r") == ["a", "b", "c"]


def test_network_cut_then_range_resume(scripted: Scripted) -> None:
    data = bytes(range(256)) * 400
    d = sha(data)

    def serve(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        rng = h.headers.get("Range")
        if rng is None:
            h.close_connection = True  # send half, then hang up
            return 200, {"Content-Length": str(len(data))}, data[: len(data) // 2]
        start = int(rng.removeprefix("bytes=").rstrip("-"))
        return 206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}, data[start:]

    scripted.routes[f"/v2/r/blobs/{d}"] = serve
    with RegistryClient(scripted.host, retries=0) as client:  # the caller resumes
        sink = Sink()
        with pytest.raises(Unavailable, match="interrupted|ended"):
            client.fetch_blob("r", d, sink, size=len(data))
        assert 0 < len(sink.data) <= len(data) // 2
        sink.offset = len(sink.data)
        client.fetch_blob("r", d, sink, size=len(data))
    assert sink.data == data
    assert scripted.seen[-1][2]["Range"] == f"bytes={len(data) // 2}-"


def test_refused_token_is_replaced(scripted: Scripted) -> None:
    issued: list[str] = []

    def token(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        issued.append(f"t{len(issued) + 1}")
        assert "scope=repository%3Ar%3Apull" in h.path and "service=reg" in h.path
        return 200, {}, json.dumps({"token": issued[-1], "expires_in": 300}).encode()

    def tags(h: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if h.headers.get("Authorization") == "Bearer t2":
            return 200, {}, b'{"name": "r", "tags": ["x"]}'
        realm = f"http://{scripted.host}/token"
        return 401, {"WWW-Authenticate": f'Bearer realm="{realm}",service="reg",'
                                         'scope="repository:r:pull"'}, _err("UNAUTHORIZED")

    scripted.routes["/token"] = token
    scripted.routes["/v2/r/tags/list"] = tags
    with RegistryClient(scripted.host) as client:
        with pytest.raises(Unauthenticated):
            client.tags("r")  # t1 refused
        assert client.tags("r") == ["x"]  # t1 dropped from the cache, t2 fetched
    assert issued == ["t1", "t2"]


def test_hostile_registry_content(scripted: Scripted, tmp_path: Path) -> None:
    config = b'{"os": "linux", "architecture": "amd64"}'
    tampered = config.replace(b"linux", b"LINUX")
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": []}).encode()
    scripted.routes["/v2/r/manifests/1"] = lambda h: (
        200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, manifest)
    scripted.routes[f"/v2/r/blobs/{sha(config)}"] = lambda h: (200, {}, tampered)
    scripted.routes["/v2/r/manifests/huge"] = lambda h: (200, {}, b" " * (5 << 20))
    store = ContentStore(str(tmp_path / "store"))
    with RegistryClient(scripted.host) as client:
        with pytest.raises(InvalidArgument, match="digest"):
            pull(client, store, "r", "1", "linux/amd64")
        with pytest.raises(InvalidArgument, match="larger than"):
            client.get_manifest("r", "huge")
    assert not store.exists(sha(manifest)) and not store.exists(sha(config))
