"""A distribution-spec 1.1 client over ``http.client``.

Each thread keeps one connection to the registry and reuses it; tokens and the
choice of scheme (https, or http for insecure and loopback registries whose
port does not speak TLS) are shared. Nothing here follows a redirect off this
machine's loopback, except for registries that are not loopback themselves.
"""

from __future__ import annotations

import enum
import hashlib
import http.client
import json
import logging
import random
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Protocol, TypeVar

from cove.errors import CoveError, InvalidArgument
from cove.registry import auth, errors, tls

log = logging.getLogger(__name__)

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DEFAULT_ACCEPT = (MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_LIST, MEDIA_DOCKER_MANIFEST)

MAX_MANIFEST = 4 << 20  # the spec lets registries refuse bigger ones; so do we
CHUNK = 1 << 20  # read size of a blob download
SEND_BLOCK = 256 << 10  # write size of an upload body (http.client's default is 8 KiB)
TIMEOUT = 60.0
RETRIES = 4  # further tries of a manifest or blob GET after a transient failure
BACKOFF = 0.5  # seconds before the first retry; doubled each time, with jitter
MAX_DELAY = 30.0  # cap of one wait, a server's Retry-After included

_T = TypeVar("_T")

Progress = Callable[[int, int], None]  # (bytes done, total bytes)
RetryNotice = Callable[[float, BaseException], None]  # (seconds until the retry, its cause)


class BlobSink(Protocol):
    """Where a blob download goes: the content store's resumable writer."""

    @property
    def offset(self) -> int: ...

    def write(self, data: bytes) -> None: ...


class Upload(enum.Enum):
    """What :meth:`RegistryClient.upload_blob` did."""

    EXISTS = "exists"  # the repository had the blob (HEAD)
    MOUNTED = "mounted"  # mounted from another repository
    PUSHED = "pushed"  # uploaded


@dataclass(frozen=True)
class ManifestInfo:
    digest: str
    media_type: str
    size: int


def compute_digest(data: bytes, algorithm: str = "sha256") -> str:
    if algorithm not in ("sha256", "sha512"):
        raise InvalidArgument(f"unsupported digest algorithm {algorithm!r}")
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def is_digest(ref: str) -> bool:
    return ":" in ref and ref.split(":", 1)[0] in ("sha256", "sha512")


class _Response:
    """A fully or partly read response and the connection it came on."""

    def __init__(
        self, resp: http.client.HTTPResponse, owner: http.client.HTTPConnection | None = None
    ) -> None:
        self.raw = resp
        self.status = resp.status
        self.owner = owner  # a connection of its own (a redirect elsewhere), closed after

    def release(self) -> None:
        if self.owner is not None:
            self.owner.close()

    def header(self, name: str) -> str | None:
        return self.raw.getheader(name)

    def body(self, limit: int = MAX_MANIFEST) -> bytes:
        data = self.raw.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"response larger than {limit} bytes")
        return data


class RegistryClient:
    """Client of one registry ``host`` (``name[:port]``)."""

    def __init__(
        self,
        host: str,
        *,
        insecure: bool = False,
        certs_dir: str = "/etc/cove/certs.d",
        credentials: auth.CredentialStore | None = None,
        user: tuple[str, str] | None = None,
        timeout: float = TIMEOUT,
        retries: int = RETRIES,
        backoff: float = BACKOFF,
        max_delay: float = MAX_DELAY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``retries``/``backoff``/``max_delay``: how manifest and blob GETs are retried
        after a 429, a 5xx or a broken connection (``sleep`` waits; tests pass their own).
        """
        self.host = host
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_delay = max_delay
        self._sleep = sleep
        self._random = random.Random()
        self.insecure = insecure
        self.certs_dir = certs_dir
        self.timeout = timeout
        self._creds = credentials
        self._user = user  # explicit (user, password), e.g. during login
        self._local = threading.local()
        self._lock = threading.Lock()
        self._scheme: str | None = None
        self._ssl: ssl.SSLContext | None = None
        self._challenge: auth.Challenge | None = None
        self._tokens = auth.TokenCache()
        self._conns: list[http.client.HTTPConnection] = []

    # -- connections -------------------------------------------------------------------

    def close(self) -> None:
        """Close this thread's connection."""
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def close_all(self) -> None:
        """Close the connections of every thread (they reopen on their next request)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.close()
        self._local.conn = None

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            try:
                self._ssl = tls.context_for(self.host, self.certs_dir)
            except (OSError, ssl.SSLError) as e:
                raise InvalidArgument(f"{self.host}: certs.d: {e}") from None
        return self._ssl

    def _new_conn(self, scheme: str) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(
                self.host, timeout=self.timeout, context=self._context(), blocksize=SEND_BLOCK
            )
        return http.client.HTTPConnection(self.host, timeout=self.timeout, blocksize=SEND_BLOCK)

    def _pick_scheme(self) -> str:
        """https, unless the registry may be plain (insecure/loopback) and its port is."""
        with self._lock:
            if self._scheme is not None:
                return self._scheme
            may_be_plain = (self.insecure or tls.is_loopback(self.host)) and not tls.has_certs(
                self.host, self.certs_dir
            )
            scheme = "https"
            if may_be_plain:
                conn = self._new_conn("https")
                try:
                    conn.connect()
                except ssl.SSLCertVerificationError as e:
                    if not self.insecure:
                        raise self._unreachable(e) from None
                    # An insecure registry's unverifiable certificate: TLS unverified.
                    unverified = ssl.create_default_context()
                    unverified.check_hostname = False
                    unverified.verify_mode = ssl.CERT_NONE
                    self._ssl = unverified
                    log.warning("%s: insecure registry, TLS certificate not verified", self.host)
                except (ssl.SSLError, ConnectionResetError, http.client.RemoteDisconnected):
                    scheme = "http"
                except OSError as e:
                    raise self._unreachable(e) from None
                finally:
                    conn.close()
            if scheme == "http" and self.insecure and not tls.is_loopback(self.host):
                log.warning("%s: insecure registry, using plain HTTP", self.host)
            self._scheme = scheme
            return scheme

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._new_conn(self._pick_scheme())
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def _unreachable(self, e: BaseException) -> CoveError:
        if isinstance(e, ssl.SSLCertVerificationError):
            return errors.PermissionDenied(
                f"{self.host}: TLS certificate not trusted ({e.verify_message}); "
                f"add its CA as {self.certs_dir}/{self.host}/ca.crt"
            )
        if isinstance(e, ssl.SSLError):
            return errors.Unavailable(
                f"{self.host}: TLS handshake failed ({e.reason or e}); a registry that wants "
                f"a client certificate reads {self.certs_dir}/{self.host}/client.cert and .key"
            )
        if isinstance(e, ConnectionRefusedError):
            return errors.Unavailable(f"{self.host}: connection refused")
        if isinstance(e, TimeoutError | socket.timeout):
            return errors.ConnectionLost(f"{self.host}: timed out")
        if isinstance(e, ConnectionResetError | BrokenPipeError | http.client.RemoteDisconnected
                      | http.client.IncompleteRead | ConnectionAbortedError):
            return errors.ConnectionLost(f"{self.host}: connection lost: {e}")
        if isinstance(e, socket.gaierror):
            return errors.Unavailable(f"{self.host}: cannot resolve host: {e.strerror}")
        return errors.Unavailable(f"{self.host}: {e}")

    # -- requests ----------------------------------------------------------------------

    def _auth_header(self, scope: str) -> str | None:
        ch = self._challenge
        if ch is None:
            return None
        if ch.scheme == "basic":
            cred = self._credentials()
            return auth.basic_header(*cred) if cred else None
        if ch.scheme == "bearer":
            realm = ch.params.get("realm", "")
            key = (realm, ch.params.get("service", ""), scope)
            token = self._tokens.get(key)
            if token is None:
                token = self._fetch_token(ch, scope)
            return "Bearer " + token
        return None

    def _credentials(self) -> tuple[str, str] | None:
        if self._user is not None:
            return self._user
        if self._creds is not None:
            return self._creds.get(self.host)
        return None

    def _fetch_token(self, ch: auth.Challenge, scope: str) -> str:
        realm = ch.params.get("realm", "")
        url = urllib.parse.urlsplit(realm)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise errors.PermissionDenied(f"{self.host}: bad token realm {realm!r}")
        if url.scheme == "http" and not tls.is_loopback(url.netloc):
            raise errors.PermissionDenied(f"{self.host}: refusing plain-HTTP token realm {realm}")
        query = [(k, v) for k, v in urllib.parse.parse_qsl(url.query)]
        if ch.params.get("service"):
            query.append(("service", ch.params["service"]))
        for s in scope.split(" "):
            if s:
                query.append(("scope", s))
        cred = self._credentials()
        headers = {"User-Agent": "cove"}
        if cred:
            query.append(("account", cred[0]))
            headers["Authorization"] = auth.basic_header(*cred)
        path = (url.path or "/") + "?" + urllib.parse.urlencode(query)
        conn: http.client.HTTPConnection
        if url.scheme == "https":
            ctx = tls.context_for(url.netloc, self.certs_dir)
            conn = http.client.HTTPSConnection(url.netloc, timeout=self.timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(url.netloc, timeout=self.timeout)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read(1 << 20)
        except OSError as e:
            raise errors.Unavailable(f"{self.host}: token server {url.netloc}: {e}") from None
        finally:
            conn.close()
        if resp.status != 200:
            raise errors.from_response(
                resp.status, body, f"{self.host}: token server", resp.getheader("Retry-After")
            )
        try:
            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            expires = float(doc.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            token = None
        if not isinstance(token, str) or not token:
            raise errors.PermissionDenied(f"{self.host}: token server sent no token")
        self._tokens.put((realm, ch.params.get("service", ""), scope), token, expires)
        return token

    def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | BinaryIO | None,
        scope: str,
    ) -> _Response:
        """One request with auth; a request with a byte (or no) body is retried after 401."""
        for attempt in range(2):
            hdrs = {"User-Agent": "cove", **headers}
            authz = self._auth_header(scope)
            if authz:
                hdrs["Authorization"] = authz
            resp = self._roundtrip(method, path, hdrs, body)
            if resp.status != 401 or attempt == 1:
                return resp
            header = resp.header("WWW-Authenticate")
            resp.raw.read()
            if not header or (body is not None and not isinstance(body, bytes)):
                raise errors.Unauthenticated(f"{self.host}: unauthorized: {method} {path}")
            ch = auth.parse_challenge(header)
            if authz and authz.startswith("Bearer ") and self._challenge is not None:
                # The token we sent was refused (expired, revoked): ask for a new one.
                old = self._challenge.params
                self._tokens.drop((old.get("realm", ""), old.get("service", ""), scope))
            if ch.scheme == "basic" and self._credentials() is None:
                raise errors.Unauthenticated(
                    f"{self.host}: unauthorized: authentication required (log in first)"
                )
            if ch.scheme == "bearer" and ch.params.get("scope"):
                scope = scope or ch.params["scope"]
            self._challenge = ch
        raise AssertionError("unreachable")

    def _roundtrip(
        self, method: str, path: str, headers: dict[str, str], body: bytes | BinaryIO | None
    ) -> _Response:
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                return _Response(conn.getresponse())
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                # A kept-alive connection the server closed: retry once on a new one,
                # unless the body was a stream we have already consumed.
                self.close()
                if attempt == 1 or (body is not None and not isinstance(body, bytes)):
                    raise self._unreachable(e) from None
            except (OSError, http.client.HTTPException) as e:
                self.close()
                raise self._unreachable(e) from None
        raise AssertionError("unreachable")

    def _fail(self, resp: _Response, what: str) -> CoveError:
        body = resp.body(1 << 16) if resp.raw.length is None or resp.raw.length < 1 << 16 else b""
        self._drain(resp)
        return errors.from_response(resp.status, body, what, resp.header("Retry-After"))

    def _drain(self, resp: _Response) -> None:
        try:
            resp.raw.read()
        except (OSError, http.client.HTTPException):
            self.close()

    def _delay(self, attempt: int, exc: BaseException) -> float:
        """Seconds to wait before retry ``attempt`` (0-based) after ``exc``."""
        if isinstance(exc, errors.Unavailable) and exc.retry_after is not None:
            return float(min(exc.retry_after, self.max_delay))
        # Exponential with jitter, so clients cut off together do not return together.
        base: float = min(self.max_delay, self.backoff * 2.0 ** attempt)
        return base * (0.5 + self._random.random() / 2)

    def _retrying(self, what: str, call: Callable[[], _T],
                  on_retry: RetryNotice | None = None) -> _T:
        """``call()``, again after a transient failure, at most ``self.retries`` more times."""
        attempt = 0
        while True:
            try:
                return call()
            except errors.Unavailable as exc:
                if attempt >= self.retries or not errors.is_transient(exc):
                    raise
                delay = self._delay(attempt, exc)
                attempt += 1
                log.info("%s: %s; retry %d of %d in %.1fs", what, exc, attempt, self.retries,
                         delay)
                if on_retry is not None:
                    on_retry(delay, exc)
                self.close()  # a fresh connection for the next try
                self._sleep(delay)

    def _name(self, repo: str, ref: str = "") -> str:
        if ref:
            sep = "@" if is_digest(ref) else ":"
            return f"{self.host}/{repo}{sep}{ref}"
        return f"{self.host}/{repo}"

    # -- API ---------------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/: checks the registry is there and the credentials are accepted."""
        resp = self._send("GET", "/v2/", {}, None, "")
        if resp.status != 200:
            raise self._fail(resp, self.host)
        self._drain(resp)

    def get_manifest(
        self, repo: str, ref: str, accept: Sequence[str] = DEFAULT_ACCEPT
    ) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of a manifest or index, its digest verified.

        Retried after a 429, a 5xx or a broken connection (see ``retries``).
        """
        what = self._name(repo, ref)
        return self._retrying(what, lambda: self._get_manifest(repo, ref, accept, what))

    def _get_manifest(
        self, repo: str, ref: str, accept: Sequence[str], what: str
    ) -> tuple[bytes, str, str]:
        resp = self._send(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            {"Accept": ", ".join(accept)},
            None,
            f"repository:{repo}:pull",
        )
        if resp.status != 200:
            raise self._fail(resp, what)
        try:
            data = resp.body()
        except InvalidArgument as e:
            self.close()
            raise InvalidArgument(f"{what}: manifest: {e}") from None
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise errors.ConnectionLost(f"{what}: manifest download interrupted: {e}") from None
        media_type = (resp.header("Content-Type") or "").split(";")[0].strip()
        if not media_type or media_type in ("application/json", "text/plain"):
            media_type = _embedded_media_type(data) or media_type
        algo = ref.split(":", 1)[0] if is_digest(ref) else "sha256"
        digest = compute_digest(data, algo)
        if is_digest(ref) and digest != ref:
            raise errors.DigestMismatch(f"{what}: manifest content has digest {digest}")
        sent = resp.header("Docker-Content-Digest")
        if sent and sent.split(":", 1)[0] == algo and sent != digest:
            raise errors.DigestMismatch(
                f"{what}: registry says the manifest is {sent}, its content is {digest}"
            )
        return data, media_type, digest

    def head_manifest(
        self, repo: str, ref: str, accept: Sequence[str] = DEFAULT_ACCEPT
    ) -> ManifestInfo | None:
        """Digest, media type and size of a manifest, or None if the registry has none."""
        resp = self._send(
            "HEAD",
            f"/v2/{repo}/manifests/{ref}",
            {"Accept": ", ".join(accept)},
            None,
            f"repository:{repo}:pull",
        )
        self._drain(resp)
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise errors.from_response(resp.status, b"", self._name(repo, ref))
        digest = resp.header("Docker-Content-Digest") or (ref if is_digest(ref) else "")
        media_type = (resp.header("Content-Type") or "").split(";")[0].strip()
        return ManifestInfo(digest, media_type, int(resp.header("Content-Length") or 0))

    def put_manifest(self, repo: str, tag: str, data: bytes, media_type: str) -> str:
        """Upload a manifest or index under ``tag`` (or its digest); returns its digest."""
        digest = compute_digest(data)
        what = self._name(repo, tag)
        resp = self._send(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            {"Content-Type": media_type, "Content-Length": str(len(data))},
            data,
            f"repository:{repo}:pull,push",
        )
        if resp.status not in (200, 201, 202):
            raise self._fail(resp, what)
        self._drain(resp)
        sent = resp.header("Docker-Content-Digest")
        if sent and sent != digest:
            raise errors.DigestMismatch(f"{what}: registry stored {sent}, we sent {digest}")
        return digest

    def blob_exists(self, repo: str, digest: str, *, push: bool = False) -> int | None:
        """The blob's size if the repository has it (HEAD), else None."""
        scope = f"repository:{repo}:pull,push" if push else f"repository:{repo}:pull"
        resp = self._send("HEAD", f"/v2/{repo}/blobs/{digest}", {}, None, scope)
        self._drain(resp)
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise errors.from_response(resp.status, b"", self._name(repo, digest))
        return int(resp.header("Content-Length") or 0)

    def fetch_blob(
        self,
        repo: str,
        digest: str,
        writer: BlobSink,
        *,
        size: int | None = None,
        progress: Progress | None = None,
        on_retry: RetryNotice | None = None,
    ) -> int:
        """Stream a blob into ``writer`` from ``writer.offset`` on (HTTP Range).

        Returns the bytes written in this call. The caller commits the writer,
        which verifies the digest; on any error the writer keeps what it has.
        A 429, a 5xx or a cut connection is retried (see ``retries``), each try
        resuming from what the writer holds; ``on_retry`` hears of each wait.
        """
        what = self._name(repo, digest)
        written = 0

        def once() -> int:
            nonlocal written
            start = writer.offset
            try:
                n = self._fetch_blob(repo, digest, writer, size, progress, what)
            except BaseException:
                written += writer.offset - start  # kept by the writer for the next try
                raise
            written += n
            return n

        self._retrying(what, once, on_retry)
        return written

    def _fetch_blob(
        self,
        repo: str,
        digest: str,
        writer: BlobSink,
        size: int | None,
        progress: Progress | None,
        what: str,
    ) -> int:
        offset = writer.offset
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self._send(
            "GET", f"/v2/{repo}/blobs/{digest}", headers, None, f"repository:{repo}:pull"
        )
        redirects = 0
        while resp.status in (301, 302, 303, 307, 308):
            location = resp.header("Location") or ""
            self._drain(resp)
            resp.release()
            redirects += 1
            if redirects > 5:
                raise errors.RegistryError(f"{what}: too many redirects", resp.status)
            resp = self._follow(location, headers, what)
        try:
            return self._receive_blob(resp, what, writer, offset, size, progress)
        finally:
            resp.release()

    def _receive_blob(
        self,
        resp: _Response,
        what: str,
        writer: BlobSink,
        offset: int,
        size: int | None,
        progress: Progress | None,
    ) -> int:
        if resp.status == 416 and size is not None and offset >= size:
            self._drain(resp)  # already complete
            return 0
        if resp.status not in (200, 206):
            raise self._fail(resp, what)
        total = size
        skip = 0
        if resp.status == 200:
            length = resp.header("Content-Length")
            total = size if size is not None else int(length) if length else None
            skip = offset  # the server ignored Range: drop what we have
        else:
            crange = resp.header("Content-Range") or ""
            m = crange.removeprefix("bytes ").split("-", 1)[0]
            if not m.isdigit() or int(m) != offset:
                self.close()
                raise errors.RegistryError(f"{what}: bad Content-Range {crange!r}", 206)
            if "/" in crange and crange.rsplit("/", 1)[1].isdigit():
                total = int(crange.rsplit("/", 1)[1])
        done = offset
        written = 0
        try:
            while True:
                chunk = resp.raw.read(CHUNK)
                if not chunk:
                    break
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                    if not chunk:
                        continue
                writer.write(chunk)
                written += len(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total or 0)
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise errors.ConnectionLost(
                f"{what}: download interrupted at {done} bytes: {e}") from None
        except BaseException:
            self.close()  # the rest of the body is still on the wire
            raise
        if total is not None and done != total:
            self.close()
            raise errors.ConnectionLost(f"{what}: download ended at {done} of {total} bytes")
        return written

    def _follow(self, location: str, headers: Mapping[str, str], what: str) -> _Response:
        """A blob redirect: loopback-only when the registry itself is loopback; no auth."""
        url = urllib.parse.urlsplit(location)
        if not url.netloc:
            return self._send("GET", location, headers, None, "")
        if url.scheme not in ("http", "https"):
            raise InvalidArgument(f"{what}: redirect to {location!r}")
        if tls.is_loopback(self.host) and not tls.is_loopback(url.netloc):
            raise errors.PermissionDenied(f"{what}: refusing redirect off loopback to {url.netloc}")
        if url.scheme == "http" and not (self.insecure or tls.is_loopback(url.netloc)):
            raise errors.PermissionDenied(f"{what}: refusing plain-HTTP redirect to {url.netloc}")
        conn: http.client.HTTPConnection
        if url.scheme == "https":
            ctx = tls.context_for(url.netloc, self.certs_dir)
            conn = http.client.HTTPSConnection(url.netloc, timeout=self.timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(url.netloc, timeout=self.timeout)
        path = url.path + ("?" + url.query if url.query else "")
        try:
            conn.request("GET", path, headers={"User-Agent": "cove", **headers})
            return _Response(conn.getresponse(), owner=conn)
        except OSError as e:
            conn.close()
            raise errors.Unavailable(f"{what}: redirect to {url.netloc}: {e}") from None

    def push_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        stream: BinaryIO,
        *,
        mount_from: str | None = None,
        chunk_size: int | None = None,
        progress: Progress | None = None,
    ) -> bool:
        """Upload a blob unless the repository has it; returns False if nothing was sent.

        Tries a cross-repository mount from ``mount_from`` first. Monolithic
        POST+PUT, or PATCH chunks of ``chunk_size`` bytes then a closing PUT.
        """
        outcome = self.upload_blob(repo, digest, size, stream, mount_from=mount_from,
                                   chunk_size=chunk_size, progress=progress)
        if outcome is not Upload.PUSHED and progress is not None:
            progress(size, size)
        return outcome is Upload.PUSHED

    def upload_blob(
        self,
        repo: str,
        digest: str,
        size: int,
        stream: BinaryIO,
        *,
        mount_from: str | None = None,
        chunk_size: int | None = None,
        progress: Progress | None = None,
    ) -> Upload:
        """:meth:`push_blob`, saying whether the blob existed, was mounted or was sent.

        ``progress`` hears only of bytes actually sent.
        """
        what = self._name(repo, digest)
        scope = f"repository:{repo}:pull,push"
        if mount_from:
            scope += f" repository:{mount_from}:pull"
        if self.blob_exists(repo, digest, push=True) is not None:
            return Upload.EXISTS
        start = f"/v2/{repo}/blobs/uploads/"
        if mount_from:
            q = urllib.parse.urlencode({"mount": digest, "from": mount_from})
            start += "?" + q
        resp = self._send("POST", start, {"Content-Length": "0"}, b"", scope)
        self._drain(resp)
        if resp.status == 201 and mount_from:
            return Upload.MOUNTED
        if resp.status != 202:
            raise errors.from_response(resp.status, b"", what, resp.header("Retry-After"))
        location = resp.header("Location") or ""
        counted = _Counting(stream, size, progress)
        if chunk_size:
            sent = 0
            while sent < size:
                n = min(chunk_size, size - sent)
                piece = stream.read(n)
                if len(piece) != n:
                    raise InvalidArgument(f"{what}: stream ended at {sent + len(piece)} of {size}")
                resp = self._send(
                    "PATCH",
                    _path(location),
                    {
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(n),
                        "Content-Range": f"{sent}-{sent + n - 1}",
                    },
                    piece,
                    scope,
                )
                if resp.status != 202:
                    raise self._fail(resp, what)
                self._drain(resp)
                location = resp.header("Location") or location
                sent += n
                if progress is not None:
                    progress(sent, size)
            resp = self._send(
                "PUT", _with_digest(location, digest), {"Content-Length": "0"}, b"", scope
            )
        else:
            resp = self._send(
                "PUT",
                _with_digest(location, digest),
                {"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                counted,  # type: ignore[arg-type]
                scope,
            )
        if resp.status != 201:
            raise self._fail(resp, what)
        self._drain(resp)
        return Upload.PUSHED

    def tags(self, repo: str) -> list[str]:
        """Every tag of ``repo`` (following ``Link: <...>; rel="next"`` pages)."""
        out: list[str] = []
        path: str | None = f"/v2/{repo}/tags/list"
        while path:
            resp = self._send("GET", path, {}, None, f"repository:{repo}:pull")
            if resp.status != 200:
                raise self._fail(resp, self._name(repo))
            try:
                doc = json.loads(resp.body())
            except ValueError:
                raise InvalidArgument(f"{self._name(repo)}: tag list is not JSON") from None
            out.extend(t for t in (doc.get("tags") or []) if isinstance(t, str))
            path = _next_link(resp.header("Link"))
        return out


class _Counting:
    """A read-only stream wrapper that reports progress as http.client reads it."""

    def __init__(self, stream: BinaryIO, total: int, progress: Progress | None) -> None:
        self._stream = stream
        self._total = total
        self._done = 0
        self._progress = progress

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        self._done += len(data)
        if self._progress is not None and data:
            self._progress(self._done, self._total)
        return data


def _path(location: str) -> str:
    url = urllib.parse.urlsplit(location)
    return url.path + ("?" + url.query if url.query else "")


def _with_digest(location: str, digest: str) -> str:
    path = _path(location)
    return path + ("&" if "?" in path else "?") + urllib.parse.urlencode({"digest": digest})


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    for part in header.split(","):
        if 'rel="next"' in part and "<" in part and ">" in part:
            return _path(part[part.index("<") + 1 : part.index(">")])
    return None


def _embedded_media_type(data: bytes) -> str:
    try:
        doc = json.loads(data)
    except ValueError:
        return ""
    mt = doc.get("mediaType") if isinstance(doc, dict) else None
    return mt if isinstance(mt, str) else ""
