"""The cni driver: endpoints made by the plugins of a CNI network configuration list.

The network names its conflist (``-o config=<name>``, else its own name); addresses
come from the list's IPAM plugin, published ports from its ``portMappings``-capable
plugin (portmap), so Cove's own NAT stays out of the way for these networks.
"""

from __future__ import annotations

import logging
from typing import Any

from cove.engine.networks.drivers.base import Attachment
from cove.engine.networks.model import Network
from cove.network.cni import CniRuntime, find_network, mac_of, primary_ipv4

log = logging.getLogger(__name__)


class CniDriver:
    name = "cni"

    def __init__(self, runtime: CniRuntime, config_dirs: list[str]) -> None:
        self.runtime = runtime
        self.config_dirs = config_dirs

    def conflist_name(self, net: Network) -> str:
        return net.options.get("config") or net.name

    def validate(self, net: Network) -> None:
        # Parses (errors name the file), then checks every plugin exists and speaks the
        # list's version, so a broken network is refused at create, not at first use.
        conf = find_network(self.config_dirs, self.conflist_name(net))
        self.runtime.validate(conf)
        self.runtime.status(conf)  # CNI 1.1: a plugin that is not ready says so now

    def collect(self, net: Network, live: set[tuple[str, str]]) -> None:
        """CNI GC for one network: stale attachments DELeted, and for 1.1.0 lists each
        plugin told which attachments are valid."""
        try:
            conf = find_network(self.config_dirs, self.conflist_name(net))
        except Exception as e:
            log.info("no GC for CNI network %s: %s", net.name, e)
            return
        try:
            self.runtime.gc(conf, sorted(live))
        except Exception as e:
            log.warning("CNI GC of %s: %s", net.name, e)

    def sweep(self, live: set[tuple[str, str]]) -> None:
        """After a restart: DEL the cached attachments of containers no longer attached
        (a crash between ADD and the record, or an exit while the daemon was down)."""
        for att in self.runtime.cached_attachments():
            if (att.container_id, att.ifname) in live:
                continue
            try:
                self.runtime.delete(None, att.container_id, att.netns or "", att.ifname,
                                    network=att.network)
            except Exception as e:
                log.warning("CNI DEL of %s on %s failed: %s", att.container_id[:12],
                            att.network, e)

    def ensure(self, net: Network) -> None:
        return None

    def remove(self, net: Network) -> None:
        return None

    def attach(self, net: Network, a: Attachment) -> None:
        conf = find_network(self.config_dirs, self.conflist_name(net))
        caps = dict(a.capability_args)
        if a.address:
            caps["ips"] = [a.address]
        if a.mac:
            caps["mac"] = a.mac
        a.capability_args = caps
        result = self.runtime.add(conf, a.container_id, a.netns, a.ifname,
                                  args={"IgnoreUnknown": "1"}, capability_args=caps)
        found = primary_ipv4(result, a.ifname)
        if found is not None:
            cidr, gateway = found
            address, _, prefix = cidr.partition("/")
            a.address, a.prefixlen, a.gateway = address, int(prefix or 32), gateway or ""
        a.mac = mac_of(result, a.ifname) or a.mac
        a.publishes_ports = "portMappings" in caps

    def detach(self, net: Network, a: Attachment, state: dict[str, Any]) -> None:
        try:
            conf = find_network(self.config_dirs, self.conflist_name(net))
        except Exception:
            conf = None  # the cached config from the ADD is used
        self.runtime.delete(conf, a.container_id, a.netns, a.ifname,
                            args={"IgnoreUnknown": "1"},
                            capability_args=dict(state.get("capability_args") or {}))

    def saved(self, a: Attachment) -> dict[str, Any]:
        return {"capability_args": a.capability_args}
