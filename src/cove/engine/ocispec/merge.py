"""Docker's merge of a create request's ContainerConfig with the image's config.

The result, :class:`MergedConfig`, is what ``docker inspect`` shows as Config and
what the process runs: env, argv, cwd, user, stop signal, health check.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field

from cove.engine.ocispec.image_config import ImageConfig
from cove.engine.ocispec.policies import Healthcheck, merge_healthcheck
from cove.engine.ocispec.request import ContainerConfig
from cove.engine.ocispec.signals import DEFAULT_STOP_SIGNAL, parse_signal
from cove.errors import InvalidArgument

__all__ = ["DEFAULT_PATH", "MergedConfig", "merge_config", "merge_env"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_HOST_NAME_MAX = 64  # sethostname(2) and setdomainname(2) refuse longer names


@dataclass(frozen=True)
class MergedConfig:
    env: tuple[str, ...]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    working_dir: str  # "" when neither side set one (the process runs in "/")
    user: str
    stop_signal: int
    stop_signal_text: str | None  # as given (request or image), for inspect
    healthcheck: Healthcheck | None
    labels: Mapping[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    hostname: str = ""
    domainname: str = ""

    @property
    def argv(self) -> tuple[str, ...]:
        return self.entrypoint + self.cmd

    @property
    def path(self) -> str:
        """Docker's ``Path`` (the program); ``args`` are the rest of ``argv``."""
        return self.argv[0]


def merge_env(image_env: tuple[str, ...], container_env: tuple[str, ...] | None,
              where: str = "Env") -> tuple[str, ...]:
    """Image env, then the container's: same key replaces in place, new keys append, a
    bare ``KEY`` (no ``=``) removes it; PATH is added when neither side sets it."""
    merged: dict[str, str] = {}
    for item in image_env:
        key, _, _ = item.partition("=")
        merged[key] = item
    for i, item in enumerate(container_env or ()):
        key, sep, _ = item.partition("=")
        if not key:
            raise InvalidArgument(f'invalid {where}[{i}]: "{item}" (empty variable name)')
        if sep:
            merged[key] = item
        else:
            merged.pop(key, None)
    if "PATH" not in merged:
        return (f"PATH={DEFAULT_PATH}", *merged.values())
    return tuple(merged.values())


def merge_config(config: ContainerConfig, image: ImageConfig, *, container_id: str,
                 network_mode: str = "", host_hostname: str | None = None) -> MergedConfig:
    """Merge as Docker does; raises ``InvalidArgument`` ("No command specified", a relative
    WorkingDir, a bad StopSignal, a bad hostname).

    Without a Hostname the container is named after its id (12 characters), or, on the
    host's network (``network_mode`` "host"), after the host (``host_hostname``, this
    host's nodename when None)."""
    entrypoint, cmd = _command(config, image)
    if not entrypoint and not cmd:
        raise InvalidArgument("No command specified")
    working_dir = config.working_dir or image.working_dir
    if working_dir:
        if not working_dir.startswith("/"):
            raise InvalidArgument(f"the working directory '{working_dir}' is invalid, it "
                                  "needs to be an absolute path")
        working_dir = posixpath.normpath(working_dir)
        if working_dir.startswith("//"):
            working_dir = "/" + working_dir.lstrip("/")
    signal_text = config.stop_signal or image.stop_signal
    stop_signal = DEFAULT_STOP_SIGNAL if not signal_text else parse_signal(signal_text)
    hostname = config.hostname or container_id[:12]
    if network_mode == "host" and not config.hostname:
        hostname = host_hostname if host_hostname is not None else os.uname().nodename
    _check_name(hostname, "Hostname")
    _check_name(config.domainname, "Domainname")
    labels = {**image.labels, **config.labels}
    return MergedConfig(
        env=merge_env(image.env, config.env),
        entrypoint=entrypoint,
        cmd=cmd,
        working_dir=working_dir,
        user=config.user or image.user,
        stop_signal=stop_signal,
        stop_signal_text=signal_text or None,
        healthcheck=merge_healthcheck(config.healthcheck, image.healthcheck),
        labels=labels,
        exposed_ports=_union(image.exposed_ports, config.exposed_ports),
        volumes=_union(image.volumes, config.volumes),
        hostname=hostname,
        domainname=config.domainname,
    )


def _command(config: ContainerConfig,
             image: ImageConfig) -> tuple[tuple[str, ...], tuple[str, ...]]:
    # Docker: an explicit, non-empty Entrypoint replaces the image's and drops its Cmd
    # (the image's Cmd was written as arguments to the image's own entrypoint); [""] is
    # how the CLI says "--entrypoint ''", i.e. no entrypoint at all.
    if config.entrypoint:
        entrypoint = () if config.entrypoint == ("",) else config.entrypoint
        return entrypoint, config.cmd or ()
    cmd = config.cmd if config.cmd else (image.cmd or ())
    entrypoint = image.entrypoint or () if config.entrypoint is None else ()
    return entrypoint, cmd


def _check_name(name: str, field_name: str) -> None:
    if len(name) > _HOST_NAME_MAX:
        raise InvalidArgument(f'invalid {field_name}: "{name}" (longer than '
                              f"{_HOST_NAME_MAX} characters)")
    if "/" in name or any(c.isspace() for c in name):
        raise InvalidArgument(f'invalid {field_name}: "{name}" (invalid hostname format)')


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))
