"""A typed view of a CNI Result (SPEC.md "Section 5: Result types").

Results of spec 0.3.0 … 1.1.0 share one shape; the only difference that matters here is
that 0.3.x/0.4.0 give every ``ips`` entry a ``"version": "4"|"6"`` field which 1.0.0
dropped. The raw dict is kept: it is what is handed to the next plugin as prevResult and
what the cache stores, so nothing a plugin added is lost by typing it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cove.errors import InvalidArgument

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class CniResultError(InvalidArgument):
    """A plugin's result does not have the shape the spec requires."""


@dataclass(frozen=True)
class Interface:
    name: str
    mac: str = ""
    #: Namespace path for container-side interfaces; "" for host-side ones.
    sandbox: str = ""
    mtu: int | None = None


@dataclass(frozen=True)
class IPConfig:
    address: IPInterface
    gateway: IPAddress | None = None
    #: Index into Result.interfaces, when the plugin said which interface holds it.
    interface: int | None = None


@dataclass(frozen=True)
class Route:
    dst: IPNetwork
    gw: IPAddress | None = None


@dataclass(frozen=True)
class DNS:
    nameservers: tuple[str, ...] = ()
    domain: str = ""
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    cni_version: str
    interfaces: tuple[Interface, ...] = ()
    ips: tuple[IPConfig, ...] = ()
    routes: tuple[Route, ...] = ()
    dns: DNS = field(default_factory=DNS)
    raw: Mapping[str, Any] = field(default_factory=dict)


def _str_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CniResultError(f"CNI result: {what} must be an array of strings")
    return tuple(value)


def parse_result(raw: Mapping[str, Any]) -> Result:
    """Type a result object of any supported version; raises CniResultError if malformed."""
    try:
        ifaces = tuple(
            Interface(name=str(i["name"]), mac=str(i.get("mac", "")),
                      sandbox=str(i.get("sandbox", "")),
                      mtu=int(i["mtu"]) if i.get("mtu") is not None else None)
            for i in raw.get("interfaces") or [])
        ips = []
        for ip in raw.get("ips") or []:
            index = ip.get("interface")
            if index is not None and not (isinstance(index, int) and 0 <= index < len(ifaces)):
                raise CniResultError(f"CNI result: ip {ip.get('address')} names interface "
                                     f"{index}, but there are {len(ifaces)} interfaces")
            gw = ip.get("gateway")
            ips.append(IPConfig(address=ipaddress.ip_interface(ip["address"]),
                                gateway=ipaddress.ip_address(gw) if gw else None,
                                interface=index))
        routes = tuple(
            Route(dst=ipaddress.ip_network(r["dst"], strict=False),
                  gw=ipaddress.ip_address(r["gw"]) if r.get("gw") else None)
            for r in raw.get("routes") or [])
        dns_raw = raw.get("dns") or {}
        dns = DNS(nameservers=_str_list(dns_raw.get("nameservers"), "dns.nameservers"),
                  domain=str(dns_raw.get("domain") or ""),
                  search=_str_list(dns_raw.get("search"), "dns.search"),
                  options=_str_list(dns_raw.get("options"), "dns.options"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, CniResultError):
            raise
        raise CniResultError(f"CNI result is malformed: {type(exc).__name__}: {exc}") from None
    return Result(cni_version=str(raw.get("cniVersion", "")), interfaces=ifaces, ips=tuple(ips),
                  routes=routes, dns=dns, raw=raw)


def convert_result(raw: Mapping[str, Any], to_version: str) -> dict[str, Any]:
    """Re-express a result in another spec version (0.3.0 … 1.1.0), like libcni's GetAsVersion.

    Needed when prevResult comes from a cache written under another cniVersion than the
    configuration now used: plugins expect prevResult in the config's version.
    """
    out = dict(raw)
    out["cniVersion"] = to_version
    old_style = to_version.startswith("0.")
    ips = []
    for ip in raw.get("ips") or []:
        entry = dict(ip)
        if old_style:
            addr = ipaddress.ip_interface(entry["address"])
            entry["version"] = str(addr.version)
        else:
            entry.pop("version", None)
        ips.append(entry)
    if "ips" in raw:
        out["ips"] = ips
    return out


def _container_interface(result: Result, ifname: str) -> int | None:
    # The container side is the interface with a sandbox; the host side (a veth peer, the
    # bridge) may share nothing with it but the result.
    for index, iface in enumerate(result.interfaces):
        if iface.name == ifname and iface.sandbox:
            return index
    for index, iface in enumerate(result.interfaces):
        if iface.name == ifname:
            return index
    return None


def primary_ipv4(result: Result, ifname: str) -> tuple[str, str | None] | None:
    """The first IPv4 address on the container's ``ifname``: ("10.0.0.2/24", "10.0.0.1")."""
    index = _container_interface(result, ifname)
    for ip in result.ips:
        if ip.address.version != 4:
            continue
        # An IP without an interface index belongs to the (only) interface the plugin made.
        if ip.interface is None or ip.interface == index:
            gw = str(ip.gateway) if ip.gateway is not None else None
            return ip.address.with_prefixlen, gw
    return None


def mac_of(result: Result, ifname: str) -> str | None:
    """The MAC address of the container's ``ifname``, if the result reports it."""
    index = _container_interface(result, ifname)
    if index is None:
        return None
    return result.interfaces[index].mac or None
