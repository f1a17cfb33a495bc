"""Image references: Docker's grammar and normalization.

The grammar (as documented by distribution/reference)::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | '[' IPv6address ']'
    domain-name      := domain-component ['.' domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    remote-name      := path-component ['/' path-component]*
    path-component   := alpha-numeric [separator alpha-numeric]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := algorithm ":" hex   (hex validated per algorithm)

Normalization (what the docker CLI does with a name it is given): the first
'/'-separated component is a domain only if it contains '.' or ':', is
``localhost``, or has an uppercase letter; otherwise the domain is
``docker.io``.  ``index.docker.io`` is spelled ``docker.io``; a one-component
name on docker.io lives under ``library/``.  A bare 64-hex string is refused
(it is an image id, not a name).  ``parse_reference`` adds no tag; callers that
pull or run call ``default_tag()`` (``latest`` when neither tag nor digest).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from cove.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(
    rf"(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_REMOTE_NAME}))"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?",
    re.ASCII,
)
_TAG_RE = re.compile(_TAG, re.ASCII)
_DIGEST_RE = re.compile(_DIGEST, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_HEX_RE = re.compile(r"[a-f0-9]+")

# Digest algorithms Docker accepts, with the length of their hex encoding.
_DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}


def _error(detail: str) -> InvalidArgument:
    return InvalidArgument(detail)


def validate_digest(digest: str) -> None:
    """Check ``algorithm:hex`` the way go-digest does; InvalidArgument with its wording."""
    algorithm, sep, encoded = digest.partition(":")
    if not sep or not algorithm or not encoded:
        raise _error(f"invalid checksum digest format: {digest!r}")
    length = _DIGEST_HEX_LENGTHS.get(algorithm)
    if length is None:
        raise _error(f"unsupported digest algorithm: {digest!r}")
    if len(encoded) != length:
        raise _error(f"invalid checksum digest length: {digest!r}")
    if _HEX_RE.fullmatch(encoded) is None:
        raise _error(f"invalid checksum digest format: {digest!r}")


def validate_tag(tag: str) -> None:
    if _TAG_RE.fullmatch(tag) is None:
        raise _error(f"invalid reference format: invalid tag {tag!r}")


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalized image reference: ``domain/path[:tag][@digest]``."""

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repository(self) -> str:
        """``domain/path``, the name without tag or digest."""
        return f"{self.domain}/{self.path}"

    @property
    def name_only(self) -> bool:
        return self.tag is None and self.digest is None

    def __str__(self) -> str:
        return self.repository + self._suffix()

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    def familiar_name(self) -> str:
        """Docker's short name: no ``docker.io/``, no ``library/`` for official images."""
        if self.domain != DEFAULT_DOMAIN:
            return self.repository
        path = self.path
        if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
            return path[len(OFFICIAL_REPO_PREFIX) :]
        return path

    def familiar(self) -> str:
        """Docker's short form (``busybox:latest``, ``user/app``, ``localhost/app:1``)."""
        return self.familiar_name() + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        validate_tag(tag)
        return replace(self, tag=tag)

    def with_digest(self, digest: str) -> Reference:
        validate_digest(digest)
        return replace(self, digest=digest)

    def without_tag(self) -> Reference:
        return replace(self, tag=None)

    def default_tag(self) -> Reference:
        """The reference with tag ``latest`` when it has neither tag nor digest."""
        return replace(self, tag=DEFAULT_TAG) if self.name_only else self

    def is_loopback_registry(self) -> bool:
        """Whether the registry is this host (localhost, 127.0.0.0/8, [::1]), any port."""
        host = self.domain
        if host.startswith("["):
            host = host[1 : host.index("]")]
        else:
            host = host.rsplit(":", 1)[0] if ":" in host else host
        if host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_reference(s: str) -> Reference:
    """Parse and normalize a reference as the docker CLI does (no default tag added).

    Raises InvalidArgument with Docker's wording.
    """
    if _IDENTIFIER_RE.fullmatch(s) is not None:
        raise _error(f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_domain(s)
    remote_name = remainder.split(":", 1)[0]
    if remote_name.lower() != remote_name:
        raise _error(f"invalid reference format: repository name ({remote_name}) must be lowercase")
    full = f"{domain}/{remainder}"
    m = _REFERENCE_RE.fullmatch(full)
    if m is None:
        raise _error("invalid reference format")
    if len(m.group("name")) > NAME_TOTAL_LENGTH_MAX:
        raise _error(
            "invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters"
        )
    digest = m.group("digest")
    if digest is not None:
        validate_digest(digest)
    return Reference(
        domain=m.group("domain"), path=m.group("path"), tag=m.group("tag"), digest=digest
    )


def parse_familiar_or_id(s: str) -> Reference | None:
    """Parse ``s`` as a reference, or None if it is a (full) 64-hex image id."""
    if _IDENTIFIER_RE.fullmatch(s) is not None:
        return None
    return parse_reference(s)


__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "Reference",
    "parse_familiar_or_id",
    "parse_reference",
    "validate_digest",
    "validate_tag",
]
