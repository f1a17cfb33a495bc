"""The one place where Cove's error kinds become HTTP statuses."""

from __future__ import annotations

from cove import errors
from cove.api.http import BadRequest
from cove.api.router import MethodNotAllowed


class Forbidden(errors.CoveError):
    """Refused by policy (e.g. removing the default networks): HTTP 403."""


def status_for(error: BaseException) -> int:
    explicit = getattr(error, "http_status", None)
    if isinstance(explicit, int):
        return explicit
    if isinstance(error, errors.NotModified):
        return 304
    if isinstance(error, MethodNotAllowed):
        return 405
    if isinstance(error, BadRequest | errors.InvalidArgument):
        return 400
    if isinstance(error, errors.NotFound):
        return 404
    if isinstance(error, errors.AlreadyExists | errors.FailedPrecondition):
        return 409
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, errors.Unsupported):
        return 501
    return 500
