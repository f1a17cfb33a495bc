"""``--change`` instructions of ``docker import`` / ``docker commit``, applied to a config.

Supported, with Dockerfile syntax: CMD, ENTRYPOINT (JSON or shell form), ENV,
EXPOSE, LABEL, USER, VOLUME (JSON or words), WORKDIR, STOPSIGNAL.  Any other
instruction (RUN, COPY, FROM, ...) is an InvalidArgument.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import shlex

from cove.errors import InvalidArgument
from cove.oci.image import ImageConfig

SUPPORTED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "VOLUME", "WORKDIR",
             "STOPSIGNAL")


def _json_form(rest: str) -> list[str] | None:
    """The JSON-array form of an argument, or None for the shell form."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None  # Docker treats a malformed JSON array as the shell form
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    return list(value)


def _command(rest: str) -> tuple[str, ...]:
    form = _json_form(rest)
    return tuple(form) if form is not None else ("/bin/sh", "-c", rest)


def _pairs(instruction: str, rest: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` (or the legacy ``k v`` with one pair) as (key, value) pairs."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise InvalidArgument(f"{instruction} {rest}: {exc}") from None
    if not words:
        raise InvalidArgument(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        if instruction == "LABEL" or len(words) < 2:
            raise InvalidArgument(f"{instruction} {rest}: expected key=value")
        key, _, value = rest.strip().partition(" ")
        return [(key, value.strip())]
    pairs: list[tuple[str, str]] = []
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{instruction} {rest}: {word!r} is not key=value")
        pairs.append((key, value))
    return pairs


def _port(word: str) -> str:
    number, _, proto = word.partition("/")
    proto = proto.lower() or "tcp"
    low, _, high = number.partition("-")
    if proto not in ("tcp", "udp", "sctp") or not low.isdigit() or (high and not high.isdigit()):
        raise InvalidArgument(f"EXPOSE: invalid port {word!r}")
    if not 0 < int(low) < 65536 or (high and not int(low) <= int(high) < 65536):
        raise InvalidArgument(f"EXPOSE: invalid port {word!r}")
    return f"{number}/{proto}"


def apply_changes(config: ImageConfig, changes: list[str]) -> ImageConfig:
    """``config`` with each change applied in order."""
    for change in changes:
        config = apply_change(config, change)
    return config


def apply_change(config: ImageConfig, change: str) -> ImageConfig:
    text = change.strip()
    word, _, rest = text.partition(" ")
    if not word:
        raise InvalidArgument("empty change instruction")
    instruction = word.upper()
    rest = rest.strip()
    if instruction not in SUPPORTED:
        raise InvalidArgument(
            f"{word} is not a valid change command (supported: {', '.join(SUPPORTED)})"
        )
    if not rest:
        raise InvalidArgument(f"{instruction} requires an argument")
    replace = dataclasses.replace
    if instruction == "CMD":
        return replace(config, cmd=_command(rest))
    if instruction == "ENTRYPOINT":
        return replace(config, entrypoint=_command(rest))
    if instruction == "ENV":
        env = list(config.env)
        for key, value in _pairs(instruction, rest):
            env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
        return replace(config, env=tuple(env))
    if instruction == "LABEL":
        labels = dict(config.labels)
        labels.update(_pairs(instruction, rest))
        return replace(config, labels=labels)
    if instruction == "EXPOSE":
        ports = list(config.exposed_ports)
        for item in rest.split():
            port = _port(item)
            if port not in ports:
                ports.append(port)
        return replace(config, exposed_ports=tuple(ports))
    if instruction == "VOLUME":
        form = _json_form(rest)
        volumes = list(config.volumes)
        for path in form if form is not None else rest.split():
            if not path:
                raise InvalidArgument("VOLUME: empty path")
            if path not in volumes:
                volumes.append(path)
        return replace(config, volumes=tuple(volumes))
    if instruction == "WORKDIR":
        workdir = posixpath.normpath(posixpath.join("/", config.working_dir or "/", rest))
        return replace(config, working_dir=workdir)
    if instruction == "USER":
        return replace(config, user=rest)
    # STOPSIGNAL
    if not (rest.isdigit() or rest.upper().startswith("SIG") or rest.isalnum()):
        raise InvalidArgument(f"STOPSIGNAL: invalid signal {rest!r}")
    return replace(config, stop_signal=rest)
