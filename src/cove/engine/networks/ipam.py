"""Address management for Cove's networks: subnets chosen from pools, addresses leased.

A network's :class:`Pool` is part of its record, so leases survive a daemon restart
and no address is ever handed to two endpoints. Addresses are handed out in turn
after the last one given (wrapping at the end), as Docker does, so an address a
container just released is not reused at once by the next one: a stale ARP entry or
DNS answer elsewhere would otherwise reach the wrong container.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cove.errors import CoveError, InvalidArgument

__all__ = ["AddressInUse", "Forbidden", "Pool", "PoolExhausted", "SubnetPools",
           "parse_subnet"]


class Forbidden(CoveError):
    """Refused by the network model (overlaps, pre-defined networks): HTTP 403."""

    http_status = 403


class AddressInUse(Forbidden):
    """The requested address is leased to another endpoint."""


class PoolExhausted(CoveError):
    """Every address of the range is leased."""

    http_status = 503


def parse_subnet(text: str, what: str = "subnet") -> ipaddress.IPv4Network:
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise InvalidArgument(f"invalid CIDR address: {text}") from None
    if not isinstance(iface, ipaddress.IPv4Interface):
        raise InvalidArgument(f"invalid {what} {text}: only IPv4 networks are supported")
    if "/" not in text:
        raise InvalidArgument(f"invalid CIDR address: {text}")
    net = iface.network
    if iface.ip != net.network_address:
        raise InvalidArgument(f"invalid {what} {text}: it should be {net}")
    return net


def _address(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {what}: {text!r} is not an IP address") from None
    if not isinstance(addr, ipaddress.IPv4Address):
        raise InvalidArgument(f"invalid {what} {text}: only IPv4 is supported")
    return addr


@dataclass
class Pool:
    """One subnet: its gateway, the range addresses come from, and the leases."""

    subnet: str
    gateway: str = ""
    ip_range: str = ""
    aux: dict[str, str] = field(default_factory=dict)
    leases: dict[str, str] = field(default_factory=dict)  # address -> owner (endpoint id)
    last: str = ""  # the address handed out last

    @classmethod
    def plan(cls, subnet: str, gateway: str = "", ip_range: str = "",
             aux: dict[str, str] | None = None, *, with_gateway: bool = True) -> Pool:
        """A validated pool; the gateway defaults to the subnet's first address."""
        net = parse_subnet(subnet)
        if net.prefixlen > 30:
            raise InvalidArgument(f"invalid subnet {subnet}: a /{net.prefixlen} leaves no "
                                  "address for containers")
        if ip_range:
            rng = parse_subnet(ip_range, "ip-range")
            if not rng.subnet_of(net):
                raise InvalidArgument(f"invalid ip-range {ip_range}: not within subnet "
                                      f"{subnet}")
        if gateway:
            gw = _address(gateway, "gateway")
            if gw not in net or gw in (net.network_address, net.broadcast_address):
                raise InvalidArgument(f"invalid gateway {gateway}: not a host address of "
                                      f"subnet {subnet}")
        elif with_gateway:
            gateway = str(net.network_address + 1)
        reserved = {}
        for name, value in (aux or {}).items():
            addr = _address(value, f"auxiliary address {name}")
            if addr not in net:
                raise InvalidArgument(f"invalid auxiliary address {name}={value}: not within "
                                      f"subnet {subnet}")
            reserved[name] = str(addr)
        return cls(subnet=str(net), gateway=gateway, ip_range=ip_range, aux=reserved)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    def _taken(self) -> set[str]:
        net = self.network
        taken = set(self.leases) | set(self.aux.values())
        taken |= {str(net.network_address), str(net.broadcast_address)}
        if self.gateway:
            taken.add(self.gateway)
        return taken

    def allocate(self, owner: str, requested: str = "") -> str:
        """Lease an address to ``owner``: ``requested`` if given, else the next free one."""
        taken = self._taken()
        if requested:
            addr = _address(requested, "IPv4 address")
            if addr not in self.network:
                raise InvalidArgument(f"invalid address {requested}: it does not belong to "
                                      f"subnet {self.subnet}")
            if str(addr) in taken and self.leases.get(str(addr)) != owner:
                raise AddressInUse(f"Address already in use: {requested}")
            self.leases[str(addr)] = owner
            return str(addr)
        rng = ipaddress.IPv4Network(self.ip_range) if self.ip_range else self.network
        first, last = int(rng.network_address), int(rng.broadcast_address)
        size = last - first + 1
        start = first
        if self.last:
            previous = int(ipaddress.IPv4Address(self.last))
            if first <= previous <= last:
                start = previous + 1
        for i in range(size):
            candidate = str(ipaddress.IPv4Address(first + (start - first + i) % size))
            if candidate not in taken:
                self.leases[candidate] = owner
                self.last = candidate
                return candidate
        raise PoolExhausted(f"no available IPv4 address in {rng}: every address is leased "
                            "or reserved")

    def release(self, address: str) -> None:
        self.leases.pop(address, None)

    def release_owner(self, owner: str) -> list[str]:
        gone = [a for a, o in self.leases.items() if o == owner]
        for a in gone:
            del self.leases[a]
        return gone

    def to_record(self) -> dict[str, Any]:
        return {"subnet": self.subnet, "gateway": self.gateway, "ip_range": self.ip_range,
                "aux": dict(self.aux), "leases": dict(self.leases), "last": self.last}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Pool:
        return cls(subnet=str(record["subnet"]), gateway=str(record.get("gateway") or ""),
                   ip_range=str(record.get("ip_range") or ""),
                   aux=dict(record.get("aux") or {}), leases=dict(record.get("leases") or {}),
                   last=str(record.get("last") or ""))


def overlaps(subnet: str, others: Iterable[str]) -> str | None:
    """The first of ``others`` that overlaps ``subnet``, or None."""
    net = ipaddress.IPv4Network(subnet)
    for other in others:
        with_other = ipaddress.ip_network(other, strict=False)
        if isinstance(with_other, ipaddress.IPv4Network) and net.overlaps(with_other):
            return other
    return None


@dataclass(frozen=True)
class SubnetPools:
    """Where subnets for networks created without ``--subnet`` come from
    (daemon.json ``default-address-pools``: base + size)."""

    pools: tuple[tuple[str, int], ...] = (("10.78.0.0/15", 24),)

    def validate(self) -> None:
        for base, size in self.pools:
            net = parse_subnet(base, "default-address-pools base")
            if not net.prefixlen <= size <= 30:
                raise InvalidArgument(f"invalid default-address-pools entry {base} size "
                                      f"{size}: size must be between /{net.prefixlen} and /30")

    def choose(self, in_use: Iterable[str]) -> str:
        used = [ipaddress.ip_network(s, strict=False) for s in in_use]
        for base, size in self.pools:
            for candidate in ipaddress.IPv4Network(base).subnets(new_prefix=size):
                if not any(candidate.overlaps(u) for u in used):
                    return str(candidate)
        raise PoolExhausted("could not find an available, non-overlapping IPv4 address pool "
                            "among the defaults to assign to the network")
