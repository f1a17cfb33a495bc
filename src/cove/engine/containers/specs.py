"""From a create request to the container's record and its OCI runtime spec.

``plan`` runs at create, before anything is made: it validates the request and
merges the image's defaults (the record keeps the merged ContainerConfig, as Docker's
inspect shows it). ``build`` runs at create and at every start, so a changed record
(``update``) reaches the runtime.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cove.errors import InvalidArgument

if TYPE_CHECKING:
    from cove.engine.containers.model import Container

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Plan:
    config: dict[str, Any]
    host_config: dict[str, Any]
    path: str
    args: list[str]


def _str_list(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"invalid {name}: must be a list of strings")
    return list(value)


class SpecBuilder:
    def __init__(self, cgroup_parent: str = "/cove") -> None:
        self.cgroup_parent = cgroup_parent

    def plan(self, body: dict[str, Any], image_config: dict[str, Any], *,
             container_id: str) -> Plan:
        config = {k: v for k, v in body.items()
                  if k not in ("HostConfig", "NetworkingConfig")}
        host_config = dict(body.get("HostConfig") or {})
        env = list(image_config.get("Env") or [])
        keys = {e.split("=", 1)[0]: i for i, e in enumerate(env)}
        for item in _str_list(config.get("Env"), "Env") or []:
            key = item.split("=", 1)[0]
            if key in keys:
                env[keys[key]] = item
            else:
                keys[key] = len(env)
                env.append(item)
        if "PATH" not in keys:
            env.insert(0, DEFAULT_PATH)
        entrypoint = _str_list(config.get("Entrypoint"), "Entrypoint")
        cmd = _str_list(config.get("Cmd"), "Cmd")
        if entrypoint is None:
            entrypoint = list(image_config.get("Entrypoint") or [])
            if cmd is None:
                cmd = list(image_config.get("Cmd") or [])
        elif entrypoint == [""]:
            entrypoint = []
        argv = entrypoint + (cmd or [])
        if not argv:
            raise InvalidArgument("No command specified")
        merged = dict(config)
        merged["Env"] = env
        merged["Cmd"] = cmd
        merged["Entrypoint"] = entrypoint or None
        for key in ("WorkingDir", "User", "StopSignal"):
            if not merged.get(key) and image_config.get(key):
                merged[key] = image_config[key]
        labels = dict(image_config.get("Labels") or {})
        labels.update(config.get("Labels") or {})
        merged["Labels"] = labels
        merged.setdefault("Hostname", container_id[:12])
        if not merged.get("Hostname"):
            merged["Hostname"] = container_id[:12]
        if "Healthcheck" not in merged and image_config.get("Healthcheck"):
            merged["Healthcheck"] = image_config["Healthcheck"]
        host_config.setdefault("NetworkMode", "default")
        host_config.setdefault("LogConfig", {"Type": "json-file", "Config": {}})
        host_config.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
        return Plan(merged, host_config, argv[0], argv[1:])

    def build(self, c: Container, *, init_path: str | None) -> dict[str, Any]:
        from cove.oci.runtime_defaults import default_spec
        spec = default_spec()
        cfg = c.config
        argv = [c.path, *c.args]
        if c.host_config.get("Init"):
            argv = ["/sbin/docker-init", "--", *argv]
        process = spec["process"]
        process["args"] = argv
        process["env"] = list(cfg.get("Env") or [])
        process["cwd"] = cfg.get("WorkingDir") or "/"
        process["terminal"] = bool(cfg.get("Tty"))
        spec["root"] = {"path": c.rootfs, "readonly": bool(c.host_config.get("ReadonlyRootfs"))}
        spec["hostname"] = cfg.get("Hostname") or c.id[:12]
        for dest, src in (("/etc/hostname", c.hostname_path), ("/etc/hosts", c.hosts_path),
                          ("/etc/resolv.conf", c.resolv_conf_path)):
            spec["mounts"].append({"destination": dest, "type": "bind", "source": src,
                                   "options": ["rbind", "rprivate"]})
        if c.host_config.get("Init") and init_path and os.path.exists(init_path):
            spec["mounts"].append({"destination": "/sbin/docker-init", "type": "bind",
                                   "source": init_path, "options": ["bind", "ro"]})
        spec["linux"]["cgroupsPath"] = f"{self.cgroup_parent}/{c.id}"
        return spec
