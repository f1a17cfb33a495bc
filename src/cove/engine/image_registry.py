"""Registry credentials as the Engine API carries them, and docker's pull error wording.

Clients send credentials per request (the daemon keeps none): ``X-Registry-Auth``
is base64url JSON of an AuthConfig (``username``, ``password``, ``serveraddress``,
``identitytoken``); ``POST /auth`` has the same object as its body.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Any

from cove.errors import CoveError, InvalidArgument, NotFound
from cove.images.reference import Reference
from cove.registry import CredentialStore, PermissionDenied, RegistryClient, Unauthenticated
from cove.registry.login import login

log = logging.getLogger(__name__)

AUTH_HEADER = "x-registry-auth"
DOCKER_HUB = "docker.io"


class LoginRefused(CoveError):
    """The registry refused the credentials of ``POST /auth``."""

    http_status = 401


class GivenCredentials(CredentialStore):
    """The one user/password a request carried, offered to whichever registry asks.

    A registry client only ever talks to the registry of the image at hand, which is
    the one the client picked these credentials for.
    """

    def __init__(self, user: str, password: str) -> None:
        super().__init__("")
        self._pair = (user, password)

    def get(self, host: str) -> tuple[str, str] | None:
        return self._pair

    def store(self, host: str, user: str, password: str) -> None:
        """The daemon keeps no credentials: the client stores them if it wants."""

    def erase(self, host: str) -> None:
        """Nothing stored, nothing to forget."""


def _auth_config(doc: Any, where: str) -> dict[str, str]:
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{where}: must be a JSON object")
    out: dict[str, str] = {}
    for key, value in doc.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidArgument(f"{where}: {key!r} must be a string")
        out[key.lower()] = value
    return out


def decode_auth_header(value: str | None) -> dict[str, str]:
    """The AuthConfig of an ``X-Registry-Auth`` header ({} when absent or empty)."""
    if not value or not value.strip():
        return {}
    text = value.strip()
    try:
        # base64url, padding optional (docker's CLI sends it padded, some SDKs not).
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        doc = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidArgument(
            "invalid X-Registry-Auth header: not base64url-encoded JSON") from None
    return _auth_config(doc, "invalid X-Registry-Auth header")


def credentials_for(auth: dict[str, str]) -> CredentialStore | None:
    """Credentials to hand the registry client (None: anonymous)."""
    user, password = auth.get("username", ""), auth.get("password", "")
    if not user and not password:
        return None
    return GivenCredentials(user, password)


def registry_host(server: str) -> str:
    """``host[:port]`` of an AuthConfig's ``serveraddress`` (URL or bare)."""
    text = server.strip()
    if "://" in text:
        text = text.split("://", 1)[1]
    host = text.split("/", 1)[0]
    if host in ("", "index.docker.io", "registry-1.docker.io"):
        return DOCKER_HUB
    return host


def check_login(body: Any, certs_dir: str) -> dict[str, str]:
    """``POST /auth``: a real round trip to the registry with the credentials."""
    auth = _auth_config(body, "auth config")
    user, password = auth.get("username", ""), auth.get("password", "")
    if not user:
        raise InvalidArgument("auth config: username is required")
    host = registry_host(auth.get("serveraddress", ""))
    try:
        login(host, user, password, GivenCredentials(user, password), certs_dir=certs_dir)
    except PermissionDenied as e:
        # Refused credentials are a 401; an untrusted TLS certificate (also a
        # PermissionDenied) keeps its own message and status.
        if isinstance(e, Unauthenticated) or "denied" in str(e):
            raise LoginRefused(f"login attempt to {host} failed: {_cause(e, host)}") from None
        raise
    return {"Status": "Login Succeeded", "IdentityToken": ""}


def _cause(error: BaseException, prefix: str) -> str:
    """The registry's own words, without the ``host/repo:ref: `` the client put first."""
    text = str(error)
    head, sep, rest = text.partition(": ")
    return rest if sep and head.startswith(prefix.split("/", 1)[0]) else text


def repository_exists(ref: Reference, certs_dir: str,
                      credentials: CredentialStore | None) -> bool:
    """Whether the registry knows ``ref``'s repository (it has a tag there).

    A registry answers "manifest unknown" for a missing tag and, often, for a
    missing repository too; its tag list tells the two apart.
    """
    try:
        with RegistryClient(ref.domain, certs_dir=certs_dir,
                            credentials=credentials) as client:
            return bool(client.tags(ref.path))
    except (NotFound, PermissionDenied):
        return False
    except CoveError:
        return True  # cannot tell: keep the registry's own answer


def pull_error(error: BaseException, ref: Reference, repository_known: bool = True
               ) -> BaseException:
    """Docker's wording for a pull refused by the registry (else ``error`` itself)."""
    cause = _cause(error, ref.domain)
    if isinstance(error, NotFound) and "manifest unknown" in cause and repository_known:
        return NotFound(f"manifest for {ref.familiar()} not found: manifest unknown: {cause}")
    if isinstance(error, NotFound | Unauthenticated) or (
            isinstance(error, PermissionDenied) and "denied" in cause):
        return NotFound(f"pull access denied for {ref.familiar_name()}, repository does not "
                        f"exist or may require 'docker login': {cause}")
    return error


__all__ = ["AUTH_HEADER", "GivenCredentials", "LoginRefused", "check_login",
           "credentials_for", "decode_auth_header", "pull_error", "registry_host",
           "repository_exists"]
