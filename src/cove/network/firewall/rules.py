"""Cove's nftables ruleset, built as text from plain data (no I/O, unit-testable).

Everything lives in one table (``ip cove`` unless the caller names another), with
these chains (hook, priority — the numbers are nftables' standard names):

=============  ====  ============  =====================  =====================================
chain          type  hook          priority               does
=============  ====  ============  =====================  =====================================
prerouting     nat   prerouting    dstnat (-100)          DNAT of published ports (packets from
                                                          outside and from containers)
output         nat   output        -100 (= dstnat)        DNAT of published ports for
                                                          connections made by the host itself,
                                                          127.0.0.1 included
postrouting    nat   postrouting   srcnat (100)           masquerade: outbound, loopback hairpin,
                                                          container→own published port hairpin
forward        filter forward      filter (0)             jump cove-user, isolation, accepts,
                                                          drop unpublished inbound
cove-user      —     (none)        —                      the operator's; never written by Cove
=============  ====  ============  =====================  =====================================

The published ports are elements of two maps, ``published_addr`` (host address .
protocol . port → container address . port, for mappings bound to one address) and
``published_any`` (protocol . port → container address . port, for any local
address: ``fib daddr type local``); prerouting and output each do one lookup in each,
so a commit stays fast with hundreds of ports.

Why a host rule in ``inet filter input`` never sees traffic to a published port
(moby#22054): the DNAT happens in ``prerouting`` at priority dstnat (-100), before
the routing decision. The destination is then the container's address, so the
kernel routes the packet to the ``forward`` hook, not ``input``. Such packets can
be filtered in the ``forward`` hook — which is what ``cove-user`` is for: Cove's
forward chain jumps to it first, so ``nft add rule ip cove cove-user ip saddr
1.2.3.4 drop`` drops that source for every published port (and every container
flow). ``ct original proto-dst 8080`` matches the published (pre-DNAT) port.
A verdict ``accept`` in cove-user ends the evaluation of Cove's forward chain
(bypassing its isolation); ``return`` (or falling off the end) continues with
Cove's rules.

A commit rewrites only Cove's own objects: ``add table``/``add chain``/``add map``
(no-ops if present), ``flush`` of the four base chains and the two maps, then their
contents, in one transaction. ``cove-user`` is created if missing and otherwise left untouched,
so an operator's rules survive every rewrite and daemon restarts.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from cove.errors import InvalidArgument

DEFAULT_TABLE = "cove"
USER_CHAIN = "cove-user"
ALL_ADDRESSES = ("", "0.0.0.0")
PROTOCOLS = ("tcp", "udp")
# Published ports: (host address . protocol . port) and (protocol . port) → container.
MAP_ADDR = "published_addr"
MAP_ANY = "published_any"


@dataclass(frozen=True)
class FwNetwork:
    """One bridge network as the firewall sees it."""

    bridge: str
    subnet: str
    internal: bool = False
    masquerade: bool = True
    # icc=False drops bridge-local traffic; it only takes effect when br_netfilter is
    # loaded (net.bridge.bridge-nf-call-iptables=1), as with Docker, because frames
    # switched inside one bridge never reach the ip forward hook otherwise.
    icc: bool = True


@dataclass(frozen=True)
class PortMapping:
    """A published port: host (host_ip, host_port) → container (container_ip, container_port)."""

    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


def _quote(name: str) -> str:
    # Interface names may hold characters nft would parse (e.g. '-'); quote them always.
    if not name or '"' in name or len(name) > 15:
        raise InvalidArgument(f"invalid interface name {name!r} for the firewall")
    return f'"{name}"'


def _ipv4(address: str, what: str) -> str:
    # inet_pton, not ipaddress: this runs for every mapping on every commit.
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, address))
    except OSError as exc:
        raise InvalidArgument(f"{what} {address!r} is not an IPv4 address") from exc


def _subnet(subnet: str, bridge: str) -> str:
    try:
        return str(ipaddress.IPv4Network(subnet, strict=False))
    except ValueError as exc:
        raise InvalidArgument(f"subnet {subnet!r} of network {bridge} is not IPv4") from exc


def _port(port: int, what: str) -> int:
    if not 1 <= port <= 65535:
        raise InvalidArgument(f"{what} {port} is out of range 1-65535")
    return port


def _table_name(table: str) -> str:
    if not table or not all(c.isalnum() or c in "_-" for c in table):
        raise InvalidArgument(f"invalid nftables table name {table!r}")
    return table


def _dnat_element(m: PortMapping) -> tuple[str, str]:
    """Return (map name, element) for one mapping: the key is what the packet carries
    before DNAT ([host address .] protocol . host port), the value the container's."""
    if m.proto not in PROTOCOLS:
        raise InvalidArgument(f"port mapping protocol {m.proto!r} is not tcp or udp")
    value = (f"{_ipv4(m.container_ip, 'container address')} . "
             f"{_port(m.container_port, 'container port')}")
    key = f"{m.proto} . {_port(m.host_port, 'host port')}"
    if m.host_ip in ALL_ADDRESSES:
        return MAP_ANY, f"{key} : {value}"
    return MAP_ADDR, f"{_ipv4(m.host_ip, 'host address')} . {key} : {value}"


def _set(names: list[str]) -> str:
    return "{ " + ", ".join(names) + " }"


def build_ruleset(table: str, networks: list[FwNetwork], mappings: list[PortMapping]) -> str:
    """Return the nft script that (re)writes Cove's chains in ``table`` in one transaction."""
    t = f"ip {_table_name(table)}"
    bridges = [_quote(n.bridge) for n in networks]
    out: list[str] = [
        f"add table {t}",
        f"add chain {t} {USER_CHAIN}",
        f"add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}",
        # nft 1.0.6 knows the name "dstnat" only for the prerouting hook: spell it -100.
        f"add chain {t} output {{ type nat hook output priority -100; policy accept; }}",
        f"add chain {t} postrouting {{ type nat hook postrouting priority srcnat; "
        "policy accept; }",
        f"add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}",
    ]
    out += [f"flush chain {t} {chain}"
            for chain in ("prerouting", "output", "postrouting", "forward")]
    out += [
        f"add map {t} {MAP_ADDR} {{ type ipv4_addr . inet_proto . inet_service : "
        "ipv4_addr . inet_service; }",
        f"add map {t} {MAP_ANY} {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}",
        f"flush map {t} {MAP_ADDR}",
        f"flush map {t} {MAP_ANY}",
    ]

    elements: dict[str, list[str]] = {MAP_ADDR: [], MAP_ANY: []}
    keys: set[str] = set()
    for m in mappings:
        name, element = _dnat_element(m)
        key = f"{name} {element.partition(' : ')[0]}"
        if key in keys:
            raise InvalidArgument(f"host port {m.host_ip or '0.0.0.0'}:{m.host_port}/{m.proto} "
                                  "is published twice")
        keys.add(key)
        elements[name].append(element)
    for name, items in elements.items():
        if items:
            out.append(f"add element {t} {name} {{ " + ", ".join(items) + " }")
    # A mapping with a host address matches only that destination; the others match
    # any local address. One map lookup per rule, whatever the number of ports.
    for chain in ("prerouting", "output"):
        out.append(f"add rule {t} {chain} dnat ip to ip daddr . meta l4proto . th dport "
                   f"map @{MAP_ADDR}")
        out.append(f"add rule {t} {chain} fib daddr type local "
                   f"dnat ip to meta l4proto . th dport map @{MAP_ANY}")

    for n, br in zip(networks, bridges, strict=True):
        subnet = _subnet(n.subnet, n.bridge)
        # The host connecting to 127.0.0.1:<published> leaves by the bridge with a
        # loopback source (needs route_localnet=1 on the bridge): give it the bridge's.
        out.append(f"add rule {t} postrouting oifname {br} ip saddr 127.0.0.0/8 masquerade")
        if n.internal:
            continue
        # A container reaching a published port (its own or a neighbour's) via a host
        # address: without this the reply would go container→container, not via the host.
        out.append(f"add rule {t} postrouting oifname {br} ip saddr {subnet} "
                   "ct status dnat masquerade")
        if n.masquerade:
            out.append(f"add rule {t} postrouting ip saddr {subnet} oifname != {br} masquerade")

    fwd = f"add rule {t} forward"
    out.append(f"{fwd} jump {USER_CHAIN}")
    for n, br in zip(networks, bridges, strict=True):
        if n.internal:
            out.append(f"{fwd} iifname {br} oifname != {br} drop")
            out.append(f"{fwd} oifname {br} iifname != {br} drop")
    out.append(f"{fwd} ct state established,related accept")
    if bridges:
        # New connections DNATed to a published port (from outside, from the host or
        # from a container on another network, as Docker's userland proxy allows).
        out.append(f"{fwd} ct status dnat oifname {_set(bridges)} accept")
    for n, br in zip(networks, bridges, strict=True):
        others = [b for b in bridges if b != br]
        if others:
            out.append(f"{fwd} iifname {br} oifname {_set(others)} drop")
        out.append(f"{fwd} iifname {br} oifname {br} {'accept' if n.icc else 'drop'}")
    outbound = [br for n, br in zip(networks, bridges, strict=True) if not n.internal]
    if outbound:
        out.append(f"{fwd} iifname {_set(outbound)} accept")
    if bridges:
        # Nothing else may open a connection into a container network: a host on the
        # LAN routing to the subnet reaches only published ports (as Docker 28 does).
        out.append(f"{fwd} oifname {_set(bridges)} drop")
    return "\n".join(out) + "\n"


def destroy_script(table: str) -> str:
    """Return the nft script deleting ``table`` (a no-op error-free if it is absent)."""
    t = f"ip {_table_name(table)}"
    # 'add' first so that 'delete' never fails on a missing table (nft < 1.0.8 has no
    # 'destroy'); both run in one transaction.
    return f"add table {t}\ndelete table {t}\n"
