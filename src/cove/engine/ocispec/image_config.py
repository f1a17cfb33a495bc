"""The ``config`` part of an image's OCI/Docker config, as typed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cove.engine.ocispec._fields import Fields
from cove.engine.ocispec.policies import Healthcheck, healthcheck_from

__all__ = ["ImageConfig", "parse_image_config"]


@dataclass(frozen=True)
class ImageConfig:
    env: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    cmd: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    stop_signal: str | None = None
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    healthcheck: Healthcheck | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    args_escaped: bool = False


def parse_image_config(config: object) -> ImageConfig:
    """An image config's ``config`` object (capitalised keys, both OCI and Docker forms);
    ``None`` is an image without one. Bad values raise ``InvalidArgument`` naming
    ``image config.<Field>``."""
    f = Fields(config, "image config")
    entrypoint = f.str_list("Entrypoint", allow_string=True)
    cmd = f.str_list("Cmd", allow_string=True)
    health = f.opt_sub("Healthcheck")
    return ImageConfig(
        env=tuple(f.str_list("Env") or ()),
        entrypoint=None if entrypoint is None else tuple(entrypoint),
        cmd=None if cmd is None else tuple(cmd),
        working_dir=f.text("WorkingDir"),
        user=f.text("User"),
        stop_signal=f.opt_text("StopSignal"),
        exposed_ports=tuple(f.key_set("ExposedPorts")),
        volumes=tuple(f.key_set("Volumes")),
        healthcheck=None if health is None else healthcheck_from(health),
        labels=f.str_map("Labels"),
        args_escaped=f.flag("ArgsEscaped"),
    )
