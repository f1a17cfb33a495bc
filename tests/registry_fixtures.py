"""Fixtures for registry tests: Debian's docker-registry on a free 127.0.0.1 port
(plain, TLS with a test CA, htpasswd, bearer tokens) and a token server.

Every server a fixture starts is stopped and its files removed in teardown,
also when the test failed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cove.content.store import ContentStore

REGISTRY_BIN = "/usr/bin/docker-registry"

needs_registry = pytest.mark.skipif(
    not os.path.exists(REGISTRY_BIN), reason="docker-registry is not installed"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound and released just now)."""
    return free_port()


def wait_port(
    port: int, proc: subprocess.Popen[bytes] | None, log: Path, timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")


# -- certificates (openssl CLI) -----------------------------------------------------


@dataclass
class TestCA:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(directory: Path) -> TestCA:
    """A self-signed CA and a server certificate for 127.0.0.1/localhost signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key", directory / "ca.crt"
    key, csr, cert = directory / "server.key", directory / "server.csr", directory / "server.crt"
    ext = directory / "ext.cnf"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
             "-out", str(ca_cert), "-days", "2", "-subj", "/CN=cove test CA")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", "/CN=127.0.0.1")
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                   "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    ckey, ccsr = directory / "client.key", directory / "client.csr"
    ccert = directory / "client.cert"
    cext = directory / "client-ext.cnf"
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ckey), "-out", str(ccsr),
             "-subj", "/CN=cove test client")
    cext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    _openssl("x509", "-req", "-in", str(ccsr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(ccert), "-days", "2", "-extfile", str(cext))
    return TestCA(ca_cert, cert, key, ccert, ckey)


# -- bearer token server ------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenServer:
    """Issues RS256 JWTs the registry accepts (x5c chain to its rootcertbundle)."""

    key: Path
    cert: Path
    users: dict[str, str]
    service: str = "cove-test"
    issuer: str = "cove-test-issuer"
    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def realm(self) -> str:
        return f"http://127.0.0.1:{self.port}/token"

    def sign(self, account: str, scopes: list[str]) -> str:
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"],
                             check=True, capture_output=True).stdout
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name:
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
        claims = {"iss": self.issuer, "sub": account, "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing = (_b64url(json.dumps(header).encode()) + "." +
                   _b64url(json.dumps(claims).encode()))
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing.encode(), check=True, capture_output=True).stdout
        return signing + "." + _b64url(sig)

    def start(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                account = ""
                authz = self.headers.get("Authorization", "")
                outer.requests.append({"query": query, "auth": bool(authz)})
                if authz.startswith("Basic "):
                    user, _, pw = base64.b64decode(authz[6:]).decode().partition(":")
                    if outer.users.get(user) != pw:
                        self._send(401, {"errors": [{"code": "UNAUTHORIZED",
                                                     "message": "bad credentials"}]})
                        return
                    account = user
                if not account:
                    self._send(401, {"errors": [{"code": "UNAUTHORIZED",
                                                 "message": "credentials required"}]})
                    return
                token = outer.sign(account, query.get("scope", []))
                self._send(200, {"token": token, "expires_in": 300})

            def _send(self, status: int, doc: dict[str, Any]) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)


# -- docker-registry ----------------------------------------------------------------


@dataclass
class Registry:
    host: str
    root: Path
    proc: subprocess.Popen[bytes]
    ca: TestCA | None = None
    token: TokenServer | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_registry(
    top: Path,
    *,
    ca: TestCA | None = None,
    users: dict[str, str] | None = None,
    token: TokenServer | None = None,
    client_certs: bool = False,
) -> Registry:
    import bcrypt  # tests only (requirements-dev.txt)

    top.mkdir(parents=True, exist_ok=True)
    port = free_port()
    lines = [
        "version: 0.1",
        "log:", "  level: warn", "  accesslog:", "    disabled: true",
        "storage:", "  filesystem:", f"    rootdirectory: {top / 'data'}",
        "  delete:", "    enabled: true",
        "http:", f"  addr: 127.0.0.1:{port}", f"  secret: {uuid.uuid4().hex}",
    ]
    if ca is not None:
        lines += ["  tls:", f"    certificate: {ca.server_cert}", f"    key: {ca.server_key}"]
        if client_certs:
            lines += ["    clientcas:", f"      - {ca.ca_cert}"]
    if users is not None:
        htpasswd = top / "htpasswd"
        htpasswd.write_text("".join(
            f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=5)).decode()}\n"
            for u, p in users.items()))
        lines += ["auth:", "  htpasswd:", "    realm: cove-test", f"    path: {htpasswd}"]
    elif token is not None:
        lines += ["auth:", "  token:", f"    realm: {token.realm}",
                  f"    service: {token.service}", f"    issuer: {token.issuer}",
                  f"    rootcertbundle: {token.cert}"]
    config = top / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = top / "registry.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    reg = Registry(f"127.0.0.1:{port}", top, proc, ca, token)
    try:
        wait_port(port, proc, log)
    except BaseException:
        reg.stop()
        raise
    return reg


@pytest.fixture(name="registry")
def registry_fixture(tmp_path: Path) -> Iterator[Registry]:
    reg = start_registry(tmp_path / "registry")
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(reg.root, ignore_errors=True)


@pytest.fixture(name="tls_registry")
def tls_registry_fixture(tmp_path: Path) -> Iterator[Registry]:
    ca = make_ca(tmp_path / "pki")
    reg = start_registry(tmp_path / "registry-tls", ca=ca)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(reg.root, ignore_errors=True)


@pytest.fixture(name="mtls_registry")
def mtls_registry_fixture(tmp_path: Path) -> Iterator[Registry]:
    """TLS that also requires a client certificate signed by the test CA."""
    ca = make_ca(tmp_path / "pki")
    reg = start_registry(tmp_path / "registry-mtls", ca=ca, client_certs=True)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(reg.root, ignore_errors=True)


REGISTRY_USERS = {"alice": "wonderland"}


@pytest.fixture(name="auth_registry")
def auth_registry_fixture(tmp_path: Path) -> Iterator[Registry]:
    reg = start_registry(tmp_path / "registry-auth", users=REGISTRY_USERS)
    try:
        yield reg
    finally:
        reg.stop()
        shutil.rmtree(reg.root, ignore_errors=True)


@pytest.fixture(name="token_registry")
def token_registry_fixture(tmp_path: Path) -> Iterator[Registry]:
    pki = tmp_path / "token-pki"
    pki.mkdir()
    key, cert = pki / "token.key", pki / "token.crt"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", "/CN=cove token issuer")
    server = TokenServer(key, cert, dict(REGISTRY_USERS))
    server.start()
    try:
        reg = start_registry(tmp_path / "registry-token", token=server)
        try:
            yield reg
        finally:
            reg.stop()
            shutil.rmtree(reg.root, ignore_errors=True)
    finally:
        server.stop()


def make_store(root: Path) -> ContentStore:
    return ContentStore(str(root))
