"""Registry authentication: Docker config.json credentials, basic and bearer challenges.

The credential file is Docker's ``config.json`` (``{"auths": {"host:port":
{"auth": base64("user:password")}}}``), so the docker CLI reads what
``login`` writes and the other way round. Other keys in the file are kept.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass

from cove.errors import InvalidArgument, NotFound


def default_config_path() -> str:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


class CredentialStore:
    """Credentials in a Docker-compatible config.json at ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _load(self) -> dict[str, object]:
        try:
            with open(self.path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError as e:
            raise InvalidArgument(f"{self.path}: not valid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise InvalidArgument(f"{self.path}: not a JSON object")
        return doc

    def _auths(self, doc: dict[str, object]) -> dict[str, object]:
        auths = doc.get("auths")
        if auths is None:
            auths = doc["auths"] = {}
        if not isinstance(auths, dict):
            raise InvalidArgument(f"{self.path}: 'auths' is not an object")
        return auths

    def get(self, host: str) -> tuple[str, str] | None:
        """(user, password) stored for ``host``, or None."""
        entry = self._auths(self._load()).get(host)
        if not isinstance(entry, dict):
            return None
        auth = entry.get("auth")
        if isinstance(auth, str) and auth:
            try:
                user, _, password = base64.b64decode(auth).decode("utf-8").partition(":")
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument(f"{self.path}: bad 'auth' for {host}") from None
            return user, password
        name, secret = entry.get("username"), entry.get("password")
        if isinstance(name, str) and isinstance(secret, str):
            return name, secret
        return None

    def store(self, host: str, user: str, password: str) -> None:
        doc = self._load()
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._auths(doc)[host] = {"auth": token}
        self._write(doc)

    def erase(self, host: str) -> None:
        """Forget ``host``; NotFound if it had no entry."""
        doc = self._load()
        auths = self._auths(doc)
        if host not in auths:
            raise NotFound(f"not logged in to {host}")
        del auths[host]
        self._write(doc)

    def _write(self, doc: dict[str, object]) -> None:
        parent = os.path.dirname(self.path) or "."
        os.makedirs(parent, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(doc, f, indent="\t")
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        dfd = os.open(parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge: its scheme (lower case) and parameters."""

    scheme: str
    params: dict[str, str]


_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


def parse_challenge(header: str) -> Challenge:
    """Parse ``Bearer realm="...",service="...",scope="..."`` (or ``Basic realm=...``)."""
    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM.match(rest, pos)
        if not m or m.end() == pos:
            break
        value = m.group(2) if m.group(2) is not None else m.group(3)
        params[m.group(1).lower()] = re.sub(r"\\(.)", r"\1", value)
        pos = m.end()
    return Challenge(scheme.lower(), params)


class TokenCache:
    """Bearer tokens per (realm, service, scope), dropped a little before they expire."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            hit = self._tokens.get(key)
            if hit is None or hit[1] <= time.monotonic():
                return None
            return hit[0]

    def drop(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._tokens.pop(key, None)

    def put(self, key: tuple[str, str, str], token: str, expires_in: float) -> None:
        # Spec: at least 60 s when unspecified; keep a margin for clock and latency.
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires_in, 60.0) - 10.0)


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
