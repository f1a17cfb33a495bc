"""The bridge driver: a Linux bridge per network, a veth pair per endpoint.

Built on Cove's own rtnetlink client rather than on CNI's bridge plugin: one netlink
request per step from inside the daemon costs microseconds, where a plugin is a Go
process per endpoint (several milliseconds each, and more for its IPAM plugin); and
the daemon keeps its addresses in its own records, so leases survive restarts
without a second source of truth. CNI stays the plug-in point for other networks.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
from typing import Any

from cove.engine.networks.drivers.base import Attachment
from cove.engine.networks.model import OPT_MTU, Network
from cove.errors import InvalidArgument
from cove.linux.netlink import Netlink, NetlinkError

log = logging.getLogger(__name__)

IFNAMSIZ = 15


def mac_for(address: str) -> str:
    """Docker's scheme: 02:42 then the IPv4 address, so a MAC is unique per address."""
    octets = ipaddress.IPv4Address(address).packed
    return "02:42:" + ":".join(f"{b:02x}" for b in octets)


_IFNAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789-_.@+=")


def check_ifname(name: str, what: str) -> None:
    # The kernel's rule (dev_valid_name) is looser; these characters are also safe in
    # nftables' quoted strings and sysctl paths.
    if not name or len(name) > IFNAMSIZ or not set(name) <= _IFNAME_CHARS \
            or name in (".", ".."):
        raise InvalidArgument(f"invalid {what} {name!r}: an interface name is 1 to "
                              f"{IFNAMSIZ} ASCII letters, digits or -_.@+=")


class BridgeDriver:
    name = "bridge"

    def __init__(self, host: Netlink, host_lock: threading.Lock) -> None:
        self.host = host
        self.lock = host_lock

    def validate(self, net: Network) -> None:
        check_ifname(net.interface, "bridge name")
        mtu = net.options.get(OPT_MTU)
        if mtu is not None and (not str(mtu).isdigit() or not 68 <= int(mtu) <= 65535):
            raise InvalidArgument(f"invalid {OPT_MTU} {mtu!r}: want 68-65535")
        with self.lock:
            link = self.host.link(net.interface)
        if link is not None and link.kind != "bridge":
            raise InvalidArgument(f"cannot use {net.interface} as the network's bridge: it "
                                  f"exists and is a {link.kind or 'device'}, not a bridge")

    def _mtu(self, net: Network) -> int | None:
        mtu = net.options.get(OPT_MTU)
        return int(mtu) if mtu and int(mtu) else None

    def ensure(self, net: Network) -> None:
        pool = net.pool()
        with self.lock:
            if self.host.link(net.interface) is None:
                self.host.add_bridge(net.interface, mtu=self._mtu(net))
            # An internal network's bridge gets no address: its containers have no way
            # out, not even to the host (the gateway stays reserved in the pool).
            if pool is not None and pool.gateway and not net.internal:
                cidr = f"{pool.gateway}/{pool.prefixlen}"
                if (net.interface, cidr) not in self.host.addresses(net.interface):
                    self.host.add_address(net.interface, cidr)
            self.host.set_link(net.interface, up=True)

    def remove(self, net: Network) -> None:
        with self.lock:
            self.host.delete_link(net.interface, missing_ok=True)

    def attach(self, net: Network, a: Attachment) -> None:
        pool = net.pool()
        assert pool is not None and a.address
        a.prefixlen = pool.prefixlen
        a.gateway = pool.gateway if not net.internal else ""
        a.mac = a.mac or mac_for(a.address)
        a.host_ifname = "veth" + os.urandom(4).hex()[:7]
        with self.lock:
            self.host.add_veth(a.host_ifname, a.ifname, peer_netns=a.netns,
                               mtu=self._mtu(net), peer_mac=a.mac)
            try:
                self.host.set_link(a.host_ifname, master=net.interface, up=True)
                # Hairpin: a container reaching its own published port through the
                # host's address comes back in on the same bridge port.
                self.host.set_bridge_port(a.host_ifname, hairpin=True)
            except BaseException:
                self.host.delete_link(a.host_ifname, missing_ok=True)
                raise
        try:
            with Netlink(a.netns) as inside:
                inside.add_address(a.ifname, f"{a.address}/{a.prefixlen}")
                inside.set_link(a.ifname, up=True)
                if a.default_route and a.gateway:
                    inside.add_route("default", gateway=a.gateway, dev=a.ifname)
        except BaseException:
            with self.lock:
                self.host.delete_link(a.host_ifname, missing_ok=True)
            raise

    def detach(self, net: Network, a: Attachment, state: dict[str, Any]) -> None:
        veth = str(state.get("host_ifname") or a.host_ifname)
        if not veth:
            return
        with self.lock:
            try:
                self.host.delete_link(veth, missing_ok=True)
            except NetlinkError as e:
                log.warning("cannot remove %s of %s: %s", veth, a.container_id[:12], e)

    def saved(self, a: Attachment) -> dict[str, Any]:
        return {"host_ifname": a.host_ifname}
