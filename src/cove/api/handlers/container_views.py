"""Containers as the API shows them: inspect documents, list summaries, ps filters."""

from __future__ import annotations

import re
import time
from typing import Any

from cove.engine.containers import model
from cove.engine.containers.model import Container
from cove.engine.humanize import human_duration
from cove.engine.timeutil import parse_rfc3339
from cove.errors import InvalidArgument


def _unix(ts: str) -> int:
    try:
        return int(parse_rfc3339(ts))
    except InvalidArgument:
        return 0


def state_view(c: Container) -> dict[str, Any]:
    st = c.state
    out: dict[str, Any] = {
        "Status": st.status,
        "Running": st.status in (model.RUNNING, model.PAUSED),
        "Paused": st.status == model.PAUSED,
        "Restarting": st.status == model.RESTARTING,
        "OOMKilled": st.oom_killed,
        "Dead": st.status == model.DEAD,
        "Pid": st.pid,
        "ExitCode": st.exit_code,
        "Error": st.error,
        "StartedAt": st.started_at,
        "FinishedAt": st.finished_at,
        # Beyond Docker: PID 1 ignored the stop signal and was killed.
        "StopSignalIgnored": st.stop_signal_ignored,
    }
    if st.health is not None:
        out["Health"] = {"Status": st.health.status, "FailingStreak": st.health.failing_streak,
                         "Log": st.health.log}
    return out


def inspect_view(c: Container, exec_ids: list[str] | None = None,
                 api_version: str = "1.47") -> dict[str, Any]:
    host_config = dict(c.host_config)
    if host_config.get("Links"):
        from cove.engine.networks.links import parse_links
        host_config["Links"] = [link.normalized(c.name)
                                for link in parse_links(host_config["Links"])]
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": c.path,
        "Args": list(c.args),
        "State": state_view(c),
        "Image": c.image_id,
        "ResolvConfPath": c.resolv_conf_path,
        "HostnamePath": c.hostname_path,
        "HostsPath": c.hosts_path,
        "LogPath": c.log_path,
        "Name": "/" + c.name,
        "RestartCount": c.state.restart_count,
        "Driver": c.driver,
        "Platform": c.platform,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": exec_ids or None,
        "HostConfig": host_config,
        "GraphDriver": {"Name": c.driver, "Data": {"MergedDir": c.rootfs}},
        "Mounts": list(c.mounts),
        "Config": dict(c.config, Image=c.image),
        "NetworkSettings": network_settings(c, api_version),
    }


def _ports_view(c: Container) -> dict[str, Any]:
    from cove.engine.networks.ports import bound_view
    if not c.sandbox and not (c.state.running and
                              (c.host_config.get("NetworkMode") or "") == "host"):
        return {}
    return bound_view(c.config.get("ExposedPorts") or {}, c.sandbox.get("ports") or [])


def _endpoints_view(c: Container, api_version: str) -> dict[str, Any]:
    """NetworkSettings.Networks; before API 1.45 Docker listed a container's short id
    among its Aliases on user-defined networks (DNSNames took that role after)."""
    out = {name: dict(ep) for name, ep in (c.endpoints or {}).items()}
    if _older(api_version, (1, 45)):
        for name, ep in out.items():
            if name not in ("bridge", "host", "none"):
                ep["Aliases"] = [*(ep.get("Aliases") or []), c.id[:12]]
    return out


def _older(version: str, than: tuple[int, int]) -> bool:
    try:
        major, minor = (int(x) for x in version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) < than


def network_settings(c: Container, api_version: str = "1.47") -> dict[str, Any]:
    sandbox = c.sandbox or {}
    # The top-level address fields are the default bridge network's (Docker's legacy).
    default = (c.endpoints or {}).get("bridge") or {}
    return {
        "Bridge": "", "SandboxID": c.id if sandbox else "",
        "SandboxKey": str(sandbox.get("key") or ""),
        "HairpinMode": False, "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
        "Ports": _ports_view(c), "SecondaryIPAddresses": None,
        "SecondaryIPv6Addresses": None,
        "EndpointID": default.get("EndpointID", ""), "Gateway": default.get("Gateway", ""),
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "IPAddress": default.get("IPAddress", ""), "IPPrefixLen": default.get("IPPrefixLen", 0),
        "IPv6Gateway": "", "MacAddress": default.get("MacAddress", ""),
        "Networks": _endpoints_view(c, api_version),
    }


def status_text(c: Container, now: float | None = None) -> str:
    now = time.time() if now is None else now
    st = c.state
    if st.status in (model.RUNNING, model.PAUSED):
        text = "Up " + human_duration(now - _unix(st.started_at))
        if st.status == model.PAUSED:
            text += " (Paused)"
        elif st.health is not None:
            text += " (health: starting)" if st.health.status == "starting" \
                else f" ({st.health.status})"
        return text
    if st.status == model.RESTARTING:
        return f"Restarting ({st.exit_code}) {human_duration(now - _unix(st.finished_at))} ago"
    if st.status == model.EXITED:
        if st.finished_at == model.ZERO_TIME:
            return "Created"
        return f"Exited ({st.exit_code}) {human_duration(now - _unix(st.finished_at))} ago"
    if st.status == model.REMOVING:
        return "Removal In Progress"
    if st.status == model.DEAD:
        return "Dead"
    return "Created"


def summary_view(c: Container, size: bool = False) -> dict[str, Any]:
    command = " ".join([c.path, *c.args]).strip() if c.path else ""
    out: dict[str, Any] = {
        "Id": c.id,
        "Names": ["/" + c.name],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": command,
        "Created": _unix(c.created),
        "Ports": _summary_ports(c),
        "Labels": dict(c.config.get("Labels") or {}),
        "State": c.state.status,
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "default"},
        "NetworkSettings": {"Networks": {name: dict(ep)
                                         for name, ep in (c.endpoints or {}).items()}},
        "Mounts": list(c.mounts),
    }
    return out


def _summary_ports(c: Container) -> list[dict[str, Any]]:
    from cove.engine.networks.ports import summary_ports
    bound = (c.sandbox or {}).get("ports") or []
    return summary_ports(c.config.get("ExposedPorts") or {}, bound)


_PS_FILTERS = {"status", "label", "name", "ancestor", "exited", "id", "before", "since",
               "health", "is-task", "volume", "network", "publish", "expose"}
_STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}


def validate_ps_filters(filters: dict[str, list[str]]) -> None:
    for key, values in filters.items():
        if key not in _PS_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "status":
            for v in values:
                if v not in _STATUSES:
                    raise InvalidArgument(
                        f"invalid filter 'status={v}': the status must be one of "
                        "created, restarting, running, removing, paused, exited, dead")
        if key == "exited":
            for v in values:
                if not v.lstrip("-").isdigit():
                    raise InvalidArgument(f"invalid filter 'exited={v}'")
        if key == "health":
            for v in values:
                if v not in ("starting", "healthy", "unhealthy", "none"):
                    raise InvalidArgument(f"invalid filter 'health={v}'")


def _label_match(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def matches(c: Container, filters: dict[str, list[str]],
            image_matcher: Any = None) -> bool:
    f = filters
    if "status" in f and c.state.status not in f["status"]:
        return False
    if "id" in f and not any(c.id.startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(re.search(v, "/" + c.name) or re.search(v, c.name)
                               for v in f["name"]):
        return False
    labels = {str(k): str(v) for k, v in (c.config.get("Labels") or {}).items()}
    if "label" in f and not all(_label_match(labels, v) for v in f["label"]):
        return False
    if "exited" in f:
        if c.state.status != model.EXITED or c.state.finished_at == model.ZERO_TIME:
            return False
        if not any(int(v) == c.state.exit_code for v in f["exited"]):
            return False
    if "health" in f:
        health = c.state.health.status if c.state.health else "none"
        if health not in f["health"]:
            return False
    # volume=: a mount's volume name, host source or destination, as Docker matches it.
    if "volume" in f and not any(m.get(k) in f["volume"] for m in c.mounts
                                 for k in ("Name", "Source", "Destination")):
        return False
    if "network" in f and not any(
            name in f["network"] or ep.get("NetworkID") in f["network"]
            for name, ep in (c.endpoints or {}).items()):
        return False
    if "publish" in f or "expose" in f:
        ports = _summary_ports(c)
        if "publish" in f and not any(_port_match(v, p.get("PublicPort"), p["Type"])
                                      for v in f["publish"] for p in ports):
            return False
        if "expose" in f and not any(_port_match(v, p["PrivatePort"], p["Type"])
                                     for v in f["expose"] for p in ports):
            return False
    return not ("ancestor" in f and image_matcher is not None
                and not any(image_matcher(c, v) for v in f["ancestor"]))


def _port_match(wanted: str, port: int | None, proto: str) -> bool:
    """ps --filter publish=/expose=: <port>[/<proto>] or <start>-<end>[/<proto>]."""
    if port is None:
        return False
    spec, _, want_proto = wanted.partition("/")
    if want_proto and want_proto != proto:
        return False
    first, sep, last = spec.partition("-")
    try:
        lo = int(first)
        hi = int(last) if sep else lo
    except ValueError:
        raise InvalidArgument(f"invalid filter value {wanted!r}: want <port>[/<proto>] or "
                              "<startport-endport>[/<proto>]") from None
    return lo <= port <= hi
