"""Published ports: what a container asks for (PortBindings, -P over ExposedPorts) and
the Engine API's views of what it got (NetworkSettings.Ports, the summary's Ports)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from cove.errors import InvalidArgument, Unsupported

__all__ = ["PortRequest", "bound_view", "port_requests", "summary_ports"]


@dataclass(frozen=True)
class PortRequest:
    proto: str
    container_port: int
    host_ip: str  # "" = the daemon's default bind address
    host_port: int  # 0 = any free port
    host_port_end: int = 0  # HostPort "8000-8010": the first free one of the range

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"


def _split_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    proto = proto or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid protocol {proto!r} in port {key!r}")
    try:
        number = int(port)
    except ValueError:
        raise InvalidArgument(f"invalid container port {key!r}") from None
    if not 0 < number < 65536:
        raise InvalidArgument(f"invalid container port {key!r}: out of range")
    return number, proto


def _host_port(text: str, key: str) -> tuple[int, int]:
    if not text:
        return 0, 0
    first, sep, last = text.partition("-")
    try:
        lo, hi = int(first), int(last) if sep else 0
    except ValueError:
        raise InvalidArgument(f"invalid host port {text!r} for {key}") from None
    if not 0 <= lo < 65536 or (sep and not lo <= hi < 65536):
        raise InvalidArgument(f"invalid host port {text!r} for {key}: out of range")
    return lo, hi


def port_requests(host_config: dict[str, Any], config: dict[str, Any]) -> list[PortRequest]:
    """Every host port to publish: the explicit bindings, plus with PublishAllPorts each
    exposed port not bound explicitly, on a free port."""
    out: list[PortRequest] = []
    bindings = host_config.get("PortBindings") or {}
    if not isinstance(bindings, dict):
        raise InvalidArgument("PortBindings must be an object")
    for key in sorted(bindings):
        number, proto = _split_key(key)
        if proto == "sctp":
            raise Unsupported(f"cannot publish {key}: Cove publishes tcp and udp ports only")
        if bindings[key] is not None and not isinstance(bindings[key], list):
            raise InvalidArgument(f"invalid port bindings for {key}: want a list")
        for binding in bindings[key] or [{}]:
            b = binding or {}
            if not isinstance(b, dict):
                raise InvalidArgument(f"invalid port binding for {key}: want an object")
            lo, hi = _host_port(str(b.get("HostPort") or ""), key)
            host_ip = str(b.get("HostIp") or "")
            if host_ip:
                try:
                    ipaddress.ip_address(host_ip)
                except ValueError:
                    raise InvalidArgument(f"invalid host IP {host_ip!r} for {key}") from None
                if ":" in host_ip:
                    raise InvalidArgument(f"invalid host IP {host_ip} for {key}: IPv6 "
                                          "bindings are not supported by Cove yet")
            out.append(PortRequest(proto, number, host_ip, lo, hi))
    if host_config.get("PublishAllPorts"):
        for key in sorted(config.get("ExposedPorts") or {}):
            if key in bindings:
                continue
            number, proto = _split_key(key)
            if proto == "sctp":
                continue  # -P publishes what it can; sctp stays exposed only
            out.append(PortRequest(proto, number, "", 0))
    return out


def bound_view(exposed: dict[str, Any], bound: list[dict[str, Any]]) -> dict[str, Any]:
    """NetworkSettings.Ports: each exposed or published port, with its host bindings (None
    for a port only exposed)."""
    view: dict[str, Any] = {key: None for key in exposed}
    for b in bound:
        view.setdefault(b["key"], None)
        if view[b["key"]] is None:
            view[b["key"]] = []
        view[b["key"]].append({"HostIp": b["host_ip"], "HostPort": str(b["host_port"])})
    return view


def summary_ports(exposed: dict[str, Any], bound: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The container list's Ports: one entry per binding, one per port only exposed."""
    out: list[dict[str, Any]] = []
    published = set()
    for b in bound:
        number, proto = _split_key(b["key"])
        published.add(b["key"])
        out.append({"IP": b["host_ip"], "PrivatePort": number, "PublicPort": b["host_port"],
                    "Type": proto})
    for key in exposed:
        if key not in published:
            number, proto = _split_key(key)
            out.append({"PrivatePort": number, "Type": proto})
    return out
