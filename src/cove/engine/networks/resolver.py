"""What the embedded resolver answers: names of the containers that share a
user-defined network with the asker, and where it forwards everything else.

Lookups read an index (network → name → addresses) rebuilt only when an endpoint
comes or goes or a container is renamed (the service's ``dns_generation``), so a
query costs a few dictionary reads however many containers run.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cove.engine.networks import etc

if TYPE_CHECKING:
    from cove.engine.containers.model import Container
    from cove.engine.networks.service import NetworkService

DNS_PORT = 53


def _dns_networks(c: Container) -> dict[str, dict[str, Any]]:
    attachments = (getattr(c, "sandbox", None) or {}).get("attachments") or {}
    return {nid: att for nid, att in attachments.items() if att.get("dns")}


@dataclass
class _Index:
    generation: int = -1
    names: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # net → name → ips
    reverse: dict[str, dict[str, str]] = field(default_factory=dict)  # net → ip → name
    member_of: dict[str, set[str]] = field(default_factory=dict)  # container → its nets
    links: dict[str, dict[str, str]] = field(default_factory=dict)  # container → alias → name
    net_names: dict[str, str] = field(default_factory=dict)  # net id → lower-cased name


class ContainerRecords:
    def __init__(self, service: NetworkService) -> None:
        self.service = service
        self._index = _Index()
        self._lock = threading.Lock()

    def _current(self) -> _Index:
        generation = self.service.dns_generation
        with self._lock:
            if self._index.generation != generation:
                self._index = self._build(generation)
            return self._index

    def _build(self, generation: int) -> _Index:
        index = _Index(generation)
        for other in self.service.containers():
            nets = _dns_networks(other)
            if not nets:
                continue
            index.member_of[other.id] = set(nets)
            aliases = (getattr(other, "sandbox", None) or {}).get("link_aliases")
            if aliases:
                index.links[other.id] = dict(aliases)
            for nid, att in nets.items():
                address = str(att.get("address") or "")
                if not address:
                    continue
                if nid not in index.net_names:
                    index.net_names[nid] = self._net_name(nid)
                table = index.names.setdefault(nid, {})
                for name in self._names_on(other, nid):
                    if address not in table.setdefault(name, []):
                        table[name].append(address)
                if other.name:
                    index.reverse.setdefault(nid, {})[address] = \
                        f"{other.name}.{index.net_names[nid]}"
        return index

    @staticmethod
    def _names_on(other: Container, net_id: str) -> list[str]:
        for ep in (other.endpoints or {}).values():
            if ep.get("NetworkID") == net_id:
                # The current name too: a rename after the attach still resolves.
                return [n.lower() for n in [*(ep.get("DNSNames") or []), other.name] if n]
        return []

    def _net_name(self, net_id: str) -> str:
        with contextlib.suppress(Exception):
            return self.service.store.find(net_id).name.lower()
        return ""

    def lookup(self, asker: str, name: str) -> list[str] | None:
        index = self._current()
        shared = index.member_of.get(asker)
        if not shared:
            return None
        name = name.lower().rstrip(".")
        # A link's alias is the asker's own name for its target.
        name = index.links.get(asker, {}).get(name, name)
        host, _, suffix = name.partition(".")
        nets = shared
        if suffix:
            # Service-style "<name>.<network>": only that network's members.
            named = {nid for nid in shared if index.net_names.get(nid) == suffix}
            if named:
                nets, name = named, host
        found: list[str] = []
        for nid in nets:
            for address in index.names.get(nid, {}).get(name, ()):
                if address not in found:
                    found.append(address)
        return found or None

    def reverse(self, asker: str, ip: str) -> str | None:
        index = self._current()
        for nid in index.member_of.get(asker, ()):
            target = index.reverse.get(nid, {}).get(ip)
            if target:
                return target
        return None

    def upstreams(self, asker: str) -> list[tuple[str, int]]:
        """The container's --dns servers, else the daemon's, else the host's. The forwarder
        runs in the host's namespace, so a host resolver on 127.0.0.53 works too."""
        me = self.service.container(asker)
        servers = list((me.host_config.get("Dns") or []) if me is not None else [])
        if not servers:
            servers = list(self.service.config.dns) or etc.host_nameservers()
        return [(s, DNS_PORT) for s in servers if s != "127.0.0.11"]
