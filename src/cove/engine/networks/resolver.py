"""What the embedded resolver answers: names of the containers that share a
user-defined network with the asker, and where it forwards everything else."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from cove.engine.networks import etc

if TYPE_CHECKING:
    from cove.engine.containers.model import Container
    from cove.engine.networks.service import NetworkService

DNS_PORT = 53


def _dns_networks(c: Container) -> dict[str, dict[str, Any]]:
    attachments = (getattr(c, "sandbox", None) or {}).get("attachments") or {}
    return {nid: att for nid, att in attachments.items() if att.get("dns")}


class ContainerRecords:
    def __init__(self, service: NetworkService) -> None:
        self.service = service

    def _names_on(self, other: Container, net_id: str) -> list[str]:
        for ep in (other.endpoints or {}).values():
            if ep.get("NetworkID") == net_id:
                # The current name too: a rename after the attach still resolves.
                return [n.lower() for n in [*(ep.get("DNSNames") or []), other.name] if n]
        return []

    def lookup(self, asker: str, name: str) -> list[str] | None:
        me = self.service.container(asker)
        if me is None:
            return None
        shared = _dns_networks(me)
        if not shared:
            return None
        name = name.lower().rstrip(".")
        wanted_net: str | None = None
        nets = {nid: self._net_name(nid) for nid in shared}
        host, _, suffix = name.partition(".")
        if suffix and suffix in nets.values():
            # Service-style "<name>.<network>": only that network's members.
            wanted_net = next(nid for nid, n in nets.items() if n == suffix)
            name = host
        found: list[str] = []
        for other in self.service.containers():
            for nid, att in _dns_networks(other).items():
                if nid not in shared or (wanted_net is not None and nid != wanted_net):
                    continue
                if name in self._names_on(other, nid) and att.get("address") and \
                        att["address"] not in found:
                    found.append(str(att["address"]))
        return found or None

    def _net_name(self, net_id: str) -> str:
        with contextlib.suppress(Exception):
            return self.service.store.find(net_id).name.lower()
        return ""

    def reverse(self, asker: str, ip: str) -> str | None:
        me = self.service.container(asker)
        if me is None:
            return None
        shared = _dns_networks(me)
        for other in self.service.containers():
            for nid, att in _dns_networks(other).items():
                if nid in shared and att.get("address") == ip and other.name:
                    return f"{other.name}.{self._net_name(nid)}"
        return None

    def upstreams(self, asker: str) -> list[tuple[str, int]]:
        """The container's --dns servers, else the daemon's, else the host's. The forwarder
        runs in the host's namespace, so a host resolver on 127.0.0.53 works too."""
        me = self.service.container(asker)
        servers = list((me.host_config.get("Dns") or []) if me is not None else [])
        if not servers:
            servers = list(self.service.config.dns) or etc.host_nameservers()
        return [(s, DNS_PORT) for s in servers if s != "127.0.0.11"]
