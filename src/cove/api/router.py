"""Routes of the Engine API: (method, path pattern) → handler.

Patterns use ``{name}`` for one path segment and ``{name:path}`` for the rest of the
path, slashes included (image names such as ``127.0.0.1:5000/team/app:1.2``).
An optional ``/v1.NN`` prefix is stripped first and kept as the request's API version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from cove.api.http import BadRequest, Request, Response
from cove.errors import NotFound

Handler = Callable[[Request], Response]

API_VERSION = "1.47"
MIN_API_VERSION = "1.24"

_VERSION_PREFIX = re.compile(r"^/v(\d+\.\d+)(/.*)$")
_PARAM = re.compile(r"\{(\w+)(:path)?\}")


class MethodNotAllowed(BadRequest):
    """The path exists but not for this method: HTTP 405."""


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    pos = 0
    for m in _PARAM.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()]))
        out.append(f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("^" + "".join(out) + "$")


def _version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


class Router:
    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append(Route(method, _compile(pattern), handler))

    def get(self, pattern: str) -> Callable[[Handler], Handler]:
        return self._decorator("GET", pattern)

    def post(self, pattern: str) -> Callable[[Handler], Handler]:
        return self._decorator("POST", pattern)

    def put(self, pattern: str) -> Callable[[Handler], Handler]:
        return self._decorator("PUT", pattern)

    def delete(self, pattern: str) -> Callable[[Handler], Handler]:
        return self._decorator("DELETE", pattern)

    def head(self, pattern: str) -> Callable[[Handler], Handler]:
        return self._decorator("HEAD", pattern)

    def _decorator(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler
        return register

    def resolve(self, request: Request) -> Handler:
        """Find the handler; fill ``request.version`` and ``request.params``."""
        path = request.path
        m = _VERSION_PREFIX.match(path)
        if m:
            version, path = m.group(1), m.group(2)
            if _version_tuple(version) > _version_tuple(API_VERSION):
                raise BadRequest(f"client version {version} is too new. "
                                 f"Maximum supported API version is {API_VERSION}")
            if _version_tuple(version) < _version_tuple(MIN_API_VERSION):
                raise BadRequest(f"client version {version} is too old. "
                                 f"Minimum supported API version is {MIN_API_VERSION}, "
                                 "please upgrade your client to a newer version")
            request.version = version
        methods: set[str] = set()
        for route in self._routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method == request.method or (
                    request.method == "HEAD" and route.method == "GET"):
                request.params = match.groupdict()
                return route.handler
            methods.add(route.method)
        if methods:
            raise MethodNotAllowed(f"method {request.method} not allowed for {path}")
        raise NotFound("page not found")
