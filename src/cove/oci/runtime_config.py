"""Load and validate a bundle's config.json (OCI runtime spec 1.2, Linux).

:func:`load_config` runs on every ``cove-runtime create``, so it stays cheap:
no jsonschema (≈100 ms to import), no typing/pathlib at import time, and a
validator made of prebuilt closures (see :mod:`cove.oci._config_schema`) that
checks a typical config in tens of microseconds.

Validation covers the whole schema (types, required fields, enums, patterns,
integer ranges) plus the spec's MUSTs a schema cannot express. Errors are
:class:`ConfigError` (an ``InvalidArgument``) naming the field, e.g.::

    config.json: linux.namespaces[2].type: unknown namespace type "foo" (one of: ...)

Only the first error is reported: validation stops there, which keeps the
common (valid) path free of bookkeeping.
"""

from __future__ import annotations

import os

from cove.errors import InvalidArgument
from cove.oci._checks import Invalid, quote
from cove.oci._config_schema import CONFIG

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the CLI path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ConfigError", "load_config", "validate_config"]

_DOCUMENT = "config.json"


class ConfigError(InvalidArgument):
    """config.json is unreadable or breaks the spec; ``field`` is the dotted path ('' if the
    document as a whole is wrong), ``reason`` the problem."""

    def __init__(self, message: str, field: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason or message


def load_config(bundle: str | os.PathLike[str]) -> dict[str, Any]:
    """Read, parse and validate ``<bundle>/config.json``."""
    path = os.path.join(os.fspath(bundle), _DOCUMENT)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file (a bundle must contain config.json)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return validate_config(_parse(data))


def _parse(data: bytes) -> object:
    from cove import fastjson  # not json: it imports re and enum (ms per create)

    try:
        # parse_constant: NaN and Infinity are Python extensions, not JSON.
        return fastjson.loads(data, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{_DOCUMENT}: invalid JSON: not UTF-8 text (byte {exc.start})") \
            from None
    except ValueError as exc:
        if not hasattr(exc, "lineno"):
            raise
        exc_any: Any = exc
        raise ConfigError(f"{_DOCUMENT}: invalid JSON at line {exc_any.lineno} column "
                          f"{exc_any.colno}: {exc_any.msg}") from None
    except RecursionError:
        raise ConfigError(f"{_DOCUMENT}: invalid JSON: nested too deeply") from None


def _reject_constant(name: str) -> object:
    # The hook is not told where the constant is, so the message cannot say either.
    raise ConfigError(f"{_DOCUMENT}: invalid JSON: {name} is not a JSON value")


def validate_config(cfg: object) -> dict[str, Any]:
    """Check a JSON-decoded config against the spec; returns it unchanged when valid."""
    try:
        CONFIG(cfg, "")
        assert type(cfg) is dict  # CONFIG checked it; narrows the type for mypy
        _check_across_sections(cfg)
    except Invalid as exc:
        raise ConfigError(exc.message(_DOCUMENT), exc.path, exc.reason) from None
    return cfg


# -- rules across sections (the structure is already known to be valid) ----------------------

def _check_across_sections(cfg: dict[str, Any]) -> None:
    linux = cfg.get("linux") or {}
    namespaces = linux.get("namespaces") or ()
    kinds = {ns["type"] for ns in namespaces}
    new_kinds = {ns["type"] for ns in namespaces if "path" not in ns}
    _check_user_mappings(linux, kinds)
    _check_time_offsets(linux, new_kinds)
    for i, mount in enumerate(cfg.get("mounts") or ()):
        _check_idmap_options(mount, f"mounts[{i}]", kinds)


def _check_user_mappings(linux: dict[str, Any], kinds: set[str]) -> None:
    # COVE: the spec has no rule here, but mappings without a user namespace would be
    # silently dropped; like runc, refuse them as an unsupported combination.
    if "user" in kinds:
        return
    for field in ("uidMappings", "gidMappings"):
        if linux.get(field):
            raise Invalid(f"linux.{field}", "user namespace mappings need a user namespace "
                                            '(a linux.namespaces entry of type "user")')


def _check_time_offsets(linux: dict[str, Any], new_kinds: set[str]) -> None:
    # COVE: offsets can only be written to a time namespace nobody has entered yet, that
    # is one the runtime creates; without it they would be silently dropped.
    if linux.get("timeOffsets") and "time" not in new_kinds:
        raise Invalid("linux.timeOffsets", "time offsets need a new time namespace (a "
                                           'linux.namespaces entry of type "time" without path)')


def _check_idmap_options(mount: dict[str, Any], path: str, kinds: set[str]) -> None:
    # SPEC (config.md, idmap/ridmap): without the mount's own uidMappings/gidMappings the
    # runtime MAY use the container's user namespace mapping; "If there are no uidMappings
    # and gidMappings specified and the container isn't using user namespaces, an error
    # MUST be returned."
    if mount.get("uidMappings") and mount.get("gidMappings"):
        return
    for j, option in enumerate(mount.get("options") or ()):
        if option in ("idmap", "ridmap") and "user" not in kinds:
            raise Invalid(f"{path}.options[{j}]",
                          f"{quote(option)} needs uidMappings and gidMappings on the mount "
                          "or a user namespace")
