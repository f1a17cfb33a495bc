"""From a create request to the container's record and its OCI runtime spec.

``plan`` runs at create, before anything is made: it validates the request and
merges the image's defaults (cove.engine.ocispec); the record keeps the merged
ContainerConfig, as Docker's inspect shows it. ``build`` runs at create and at every
start, from the record alone (the image's defaults are in it already), so a record
changed by ``update`` reaches the runtime.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cove.engine.ocispec import (
    HostInfo,
    MergedConfig,
    SpecOptions,
    build_spec,
    check_request,
    merge_config,
    parse_create_request,
    parse_image_config,
)
from cove.engine.volumes.resolve import resolved_host_config
from cove.errors import FailedPrecondition

if TYPE_CHECKING:
    from cove.engine.containers.model import Container

# (kind, container ref) -> /proc/<pid>/ns/<kind> of that running container.
Resolver = Callable[[str, str], str]


@dataclass
class Plan:
    config: dict[str, Any]
    host_config: dict[str, Any]
    path: str
    args: list[str]


def _health_view(merged: MergedConfig) -> dict[str, Any] | None:
    h = merged.healthcheck
    if h is None or not h.test:
        return None
    # Zero durations mean "the default": Docker leaves them out of inspect.
    return {k: v for k, v in h.to_api().items() if v or k == "Test"}


def config_view(body: dict[str, Any], merged: MergedConfig) -> dict[str, Any]:
    """The record's Config: the request's fields with the image's defaults merged in."""
    out: dict[str, Any] = {
        "Hostname": merged.hostname, "Domainname": merged.domainname,
        "User": merged.user,
        "AttachStdin": bool(body.get("AttachStdin")),
        "AttachStdout": bool(body.get("AttachStdout")),
        "AttachStderr": bool(body.get("AttachStderr")),
        "Tty": bool(body.get("Tty")), "OpenStdin": bool(body.get("OpenStdin")),
        "StdinOnce": bool(body.get("StdinOnce")),
        "Env": list(merged.env),
        "Cmd": list(merged.cmd) or None,
        "Image": body.get("Image"),
        "Volumes": {v: {} for v in merged.volumes} or None,
        "WorkingDir": merged.working_dir,
        "Entrypoint": list(merged.entrypoint) or None,
        "OnBuild": None,
        "Labels": dict(merged.labels),
    }
    if merged.exposed_ports:
        out["ExposedPorts"] = {p: {} for p in merged.exposed_ports}
    if merged.stop_signal_text:
        out["StopSignal"] = merged.stop_signal_text
    if body.get("StopTimeout") is not None:
        out["StopTimeout"] = body["StopTimeout"]
    health = _health_view(merged)
    if health is not None:
        out["Healthcheck"] = health
    if body.get("MacAddress"):
        out["MacAddress"] = body["MacAddress"]
    if body.get("Shell"):
        out["Shell"] = body["Shell"]
    # Unset Cmd, Entrypoint, Volumes, OnBuild stay null, as Docker answers (its clients'
    # typed structs read null as empty; the swagger does not mark them nullable).
    return out


def host_config_view(host_config: dict[str, Any]) -> dict[str, Any]:
    """HostConfig as inspect shows it: the request's, with Docker's defaults filled in."""
    out = dict(host_config)
    out.setdefault("NetworkMode", "default")
    if not out.get("LogConfig") or not out["LogConfig"].get("Type"):
        out["LogConfig"] = {"Type": "json-file", "Config": (out.get("LogConfig") or {})
                            .get("Config") or {}}
    out.setdefault("RestartPolicy", {"Name": "no", "MaximumRetryCount": 0})
    memory = out.get("Memory") or 0
    if memory > 0 and not out.get("MemorySwap"):
        # Docker's default: as much swap as memory (the limit counts both).
        out["MemorySwap"] = 2 * memory
    if not (out["RestartPolicy"] or {}).get("Name"):
        out["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
    for key in ("Dns", "DnsOptions", "DnsSearch", "Devices", "Ulimits"):
        # Lists the API schema does not allow to be null; Docker shows them empty.
        if out.get(key) is None:
            out[key] = []
    if out.get("CgroupnsMode") == "":
        out["CgroupnsMode"] = "private"
    if out.get("MemorySwappiness") == -1:
        out["MemorySwappiness"] = None  # clients' "unset", shown as Docker shows it
    for key, value in (("Privileged", False), ("ReadonlyRootfs", False),
                       ("PublishAllPorts", False), ("AutoRemove", False),
                       ("ShmSize", 64 * 1024 * 1024), ("Memory", 0), ("NanoCpus", 0),
                       ("CpuShares", 0), ("PidsLimit", None), ("CgroupnsMode", "private"),
                       ("IpcMode", "private"), ("PidMode", ""), ("UTSMode", ""),
                       ("Runtime", "cove-runtime")):
        out.setdefault(key, value)
    return out


class SpecBuilder:
    def __init__(self, cgroup_parent: str = "/cove",
                 resolver: Resolver | None = None) -> None:
        self.cgroup_parent = cgroup_parent
        self.resolver = resolver
        # Online CPUs, cap_last_cap, hostname...: probed once, not per container.
        self.host = HostInfo.probe()

    def plan(self, body: dict[str, Any], image_config: dict[str, Any], *,
             container_id: str) -> Plan:
        request = parse_create_request(body)
        check_request(request)
        merged = merge_config(request.config, parse_image_config(image_config or None),
                              container_id=container_id,
                              network_mode=request.host_config.network_mode,
                              host_hostname=self.host.hostname)
        return Plan(config_view(body, merged),
                    host_config_view(dict(body.get("HostConfig") or {})),
                    merged.path, list(merged.argv[1:]))

    def build(self, c: Container, *, init_path: str | None,
              network_namespace: str | None = None) -> dict[str, Any]:
        # Volumes as the host directories the create resolved (the record's Mounts).
        body = dict(c.config, HostConfig=resolved_host_config(c.host_config, c.mounts))
        link_env = (c.sandbox or {}).get("link_env") or []
        if link_env:
            # Links' variables first; the container's own win over a same-named one.
            own = {str(e).partition("=")[0] for e in body.get("Env") or []}
            body["Env"] = [e for e in link_env if e.partition("=")[0] not in own] + \
                list(body.get("Env") or [])
        request = parse_create_request(body)
        if request.host_config.init and (not init_path or not os.path.exists(init_path)):
            raise FailedPrecondition(f"--init needs an init binary; {init_path} is missing")
        built = build_spec(request, parse_image_config(None), SpecOptions(
            rootfs=c.rootfs, container_id=c.id, cgroup_parent=self.cgroup_parent,
            hostname_path=c.hostname_path, hosts_path=c.hosts_path,
            resolv_conf_path=c.resolv_conf_path, init_path=init_path,
            namespace_resolver=self.resolver, host=self.host,
            # The record holds generated values (Hostname) that the create-time
            # conflict checks would take for the user's.
            recheck_request=False, network_namespace=network_namespace))
        return built.spec
