"""Registry errors: the distribution spec's error codes mapped to Cove's kinds.

Every message names the registry host and, where known, the repository and
reference, e.g. ``127.0.0.1:5000/team/app:1.2: manifest unknown``.
"""

from __future__ import annotations

import json

from cove.errors import CoveError, InvalidArgument, NotFound


class PermissionDenied(CoveError):
    """The registry refused the request (DENIED, or a TLS certificate it cannot prove)."""


class Unauthenticated(PermissionDenied):
    """No or wrong credentials (UNAUTHORIZED, HTTP 401)."""


class Unavailable(CoveError):
    """The registry cannot be reached or is overloaded; the request may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(Unavailable):
    """TOOMANYREQUESTS / HTTP 429; ``retry_after`` holds the Retry-After seconds if sent."""


class ServerError(Unavailable):
    """HTTP 5xx: the registry failed this request; another try may work."""


class ConnectionLost(Unavailable):
    """The connection broke or timed out during a request or a download."""


def is_transient(exc: BaseException) -> bool:
    """Whether a request that failed with ``exc`` is worth retrying.

    A refused connection is not: nothing listens there, and waiting for it
    would only delay the error.
    """
    return isinstance(exc, RateLimited | ServerError | ConnectionLost)


class DigestMismatch(InvalidArgument):
    """Content from the registry does not match the digest it was asked for."""


class RegistryError(CoveError):
    """Any other registry error, with the HTTP status and the spec's error code."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


_NOT_FOUND = {"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"}
_INVALID = {
    "NAME_INVALID",
    "TAG_INVALID",
    "MANIFEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "DIGEST_INVALID",
    "SIZE_INVALID",
    "BLOB_UPLOAD_INVALID",
    "RANGE_INVALID",
    "PAGINATION_NUMBER_INVALID",
}


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: not worth parsing for a message


def from_response(status: int, body: bytes, what: str, retry_after: str | None = None) -> CoveError:
    """The error for a failed registry response; ``what`` names host/repo:ref."""
    code, message = "", ""
    try:
        doc = json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        errs = doc.get("errors")
        if isinstance(errs, list) and errs and isinstance(errs[0], dict):
            code = str(errs[0].get("code", ""))
            message = str(errs[0].get("message", ""))
    if not message:
        message = code.lower().replace("_", " ") if code else f"HTTP {status}"
    text = f"{what}: {message}"
    if code == "TOOMANYREQUESTS" or status == 429:
        return RateLimited(f"{what}: too many requests ({message})", _retry_after(retry_after))
    if code == "UNAUTHORIZED" or status == 401:
        return Unauthenticated(f"{what}: unauthorized: {message}")
    if code == "DENIED" or status == 403:
        return PermissionDenied(f"{what}: denied: {message}")
    if code in _NOT_FOUND or (status == 404 and not code):
        return NotFound(text)
    if code in _INVALID:
        return InvalidArgument(text)
    if status >= 500:
        return ServerError(f"{what}: registry error: {message}", _retry_after(retry_after))
    return RegistryError(text, status, code)
