"""Content digests (``<algorithm>:<hex>``), as the OCI image spec defines them.

Only the registered algorithms are accepted: ``sha256`` (64 lowercase hex
digits) and ``sha512`` (128).  Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from cove.errors import InvalidArgument

SHA256 = "sha256"
SHA512 = "sha512"

_HEX_LENGTH = {SHA256: 64, SHA512: 128}
_HEX_DIGITS = frozenset("0123456789abcdef")


class Hasher(Protocol):
    """The part of a hashlib object the store uses."""

    def update(self, data: bytes, /) -> None: ...

    def hexdigest(self) -> str: ...

    def copy(self) -> Hasher: ...


def parse_digest(value: str) -> tuple[str, str]:
    """Split a digest into (algorithm, hex), refusing anything malformed."""
    if not isinstance(value, str):
        raise InvalidArgument(f"invalid digest {value!r}: not a string")
    algorithm, sep, encoded = value.partition(":")
    if not sep:
        raise InvalidArgument(f"invalid digest {value!r}: expected <algorithm>:<hex>")
    length = _HEX_LENGTH.get(algorithm)
    if length is None:
        raise InvalidArgument(
            f"invalid digest {value!r}: unsupported algorithm {algorithm!r}"
            " (expected sha256 or sha512)"
        )
    if len(encoded) != length or not _HEX_DIGITS.issuperset(encoded):
        raise InvalidArgument(
            f"invalid digest {value!r}: {algorithm} needs {length} lowercase hex digits"
        )
    return algorithm, encoded


def check_algorithm(algorithm: str) -> str:
    """Return ``algorithm`` if it is a supported digest algorithm."""
    if algorithm not in _HEX_LENGTH:
        raise InvalidArgument(
            f"unsupported digest algorithm {algorithm!r} (expected sha256 or sha512)"
        )
    return algorithm


def new_hasher(digest_or_algorithm: str) -> Hasher:
    """A fresh incremental hasher for an algorithm name or for a digest's algorithm."""
    if ":" in digest_or_algorithm:
        algorithm, _ = parse_digest(digest_or_algorithm)
    else:
        algorithm = check_algorithm(digest_or_algorithm)
    return hashlib.new(algorithm)


def digest_bytes(data: bytes, algorithm: str = SHA256) -> str:
    """The digest of ``data`` with ``algorithm``."""
    return f"{check_algorithm(algorithm)}:{hashlib.new(algorithm, data).hexdigest()}"
