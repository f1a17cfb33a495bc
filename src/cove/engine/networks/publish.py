"""Published ports and the firewall: host ports held, DNAT rules in Cove's table.

A host port is held by a bound socket for as long as a container publishes it (so no
host program can take it meanwhile, and a port in use is refused up front, with
Docker's "port is already allocated"); the rules that carry traffic to the container
live in Cove's nftables table (see docs/networking-firewall.md for its hooks). The
table is left in place when the daemon stops: running containers keep their ports.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING, Any

from cove.engine.networks.config import NetworkConfig
from cove.engine.networks.model import OPT_HOST_IP, OPT_MASQ, Network
from cove.engine.networks.ports import PortRequest, port_requests

if TYPE_CHECKING:
    from cove.engine.containers.model import Container

log = logging.getLogger(__name__)


class Publisher:
    def __init__(self, config: NetworkConfig) -> None:
        from cove.network.firewall import Firewall, IptablesCompat, PortAllocator
        self.config = config
        self.firewall = Firewall(config.firewall_table) if config.iptables else None
        self.iptables = IptablesCompat()
        self.ports = PortAllocator()
        self.lock = threading.Lock()
        self._forwarding = False
        self._bridges: set[str] = set()

    def set_networks(self, networks: list[Network]) -> None:
        from cove.network.firewall import FwNetwork, set_route_localnet
        if self.firewall is None:
            return
        fw = []
        for net in networks:
            pool = net.pool()
            if pool is None:
                continue
            fw.append(FwNetwork(bridge=net.interface, subnet=pool.subnet,
                                internal=net.internal,
                                masquerade=net.options.get(OPT_MASQ, "true") != "false"
                                and self.config.ip_masq))
        with self.lock:
            self.firewall.set_networks(fw)
            bridges = {n.bridge for n in fw}
            for gone in self._bridges - bridges:
                with contextlib.suppress(Exception):
                    self.iptables.remove_bridge(gone)
            for n in fw:
                with contextlib.suppress(Exception):
                    set_route_localnet(n.bridge)
                try:
                    self.iptables.add_bridge(n.bridge)
                except Exception as e:
                    log.warning("cannot open the iptables FORWARD chain to %s: %s",
                                n.bridge, e)
            self._bridges = bridges
            if self.config.ip_forward and not self._forwarding and \
                    any(not n.internal for n in fw):
                from cove.network.firewall import enable_ip_forward
                enable_ip_forward()
                self._forwarding = True

    def _reserve(self, owner: str, requests: list[PortRequest], default_ip: str) -> list[Any]:
        """Every host port of ``requests`` held, or none."""
        got: list[Any] = []
        try:
            for r in requests:
                host_ip = r.host_ip or default_ip
                if r.host_port_end:
                    got.append(self.ports.reserve_any(r.proto, host_ip,
                                                      (r.host_port, r.host_port_end), owner))
                elif r.host_port:
                    got.append(self.ports.reserve(r.proto, host_ip, r.host_port, owner))
                else:
                    got.append(self.ports.reserve_any(r.proto, host_ip, None, owner))
        except BaseException:
            for res in got:
                self.ports.release(res)
            raise
        return got

    def publish(self, owner: str, requests: list[PortRequest], container_ip: str,
                bridge: str, options: dict[str, str]) -> list[dict[str, Any]]:
        """Hold host ports and add their rules; all or nothing. Returns the bindings."""
        from cove.network.firewall import PortMapping
        default_ip = options.get(OPT_HOST_IP) or self.config.default_bind_ip
        reservations = self._reserve(owner, requests, default_ip)
        bound = []
        mappings = []
        for r, res in zip(requests, reservations, strict=True):
            bound.append({"key": r.key, "proto": r.proto, "host_ip": res.host_ip,
                          "host_port": res.port, "container_port": r.container_port})
            mappings.append(PortMapping(proto=r.proto, host_ip=res.host_ip,
                                        host_port=res.port, container_ip=container_ip,
                                        container_port=r.container_port, bridge=bridge))
        try:
            if self.firewall is not None:
                with self.lock:
                    self.firewall.set_ports(owner, mappings)
        except BaseException:
            self.ports.release_owner(owner)
            raise
        return bound

    def cni_mappings(self, c: Container) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """For a CNI network's portmap plugin: the portMappings capability argument, with
        free host ports chosen and held here."""
        requests = port_requests(c.host_config, c.config)
        if not requests:
            return [], []
        reservations = self._reserve(c.id, requests, self.config.default_bind_ip)
        caps = []
        bound = []
        for r, res in zip(requests, reservations, strict=True):
            entry: dict[str, Any] = {"hostPort": res.port, "containerPort": r.container_port,
                                     "protocol": r.proto}
            if res.host_ip not in ("", "0.0.0.0"):
                entry["hostIP"] = res.host_ip
            caps.append(entry)
            bound.append({"key": r.key, "proto": r.proto, "host_ip": res.host_ip,
                          "host_port": res.port, "container_port": r.container_port})
        return caps, bound

    def restore(self, owner: str, bound: list[dict[str, Any]],
                target: tuple[str, str]) -> None:
        """After a daemon restart: hold the ports again and keep their rules."""
        from cove.network.firewall import PortMapping
        from cove.network.firewall import PortRequest as HostPort
        if not bound:
            return
        try:
            self.ports.reserve_all(owner, [HostPort(str(b["proto"]), str(b["host_ip"]),
                                                    int(b["host_port"])) for b in bound])
        except Exception as e:
            log.warning("ports of %s could not be held again: %s", owner[:12], e)
        container_ip, bridge = target
        if self.firewall is not None and container_ip:
            with self.lock:
                self.firewall.set_ports(owner, [
                    PortMapping(proto=b["proto"], host_ip=b["host_ip"],
                                host_port=int(b["host_port"]), container_ip=container_ip,
                                container_port=int(b["container_port"]), bridge=bridge)
                    for b in bound])

    def unpublish(self, owner: str) -> None:
        self.ports.release_owner(owner)
        if self.firewall is not None:
            with self.lock:
                self.firewall.set_ports(owner, [])

    def retarget(self, c: Container) -> None:
        """After a disconnect: ports whose network is gone are unpublished."""
        attachments = (getattr(c, "sandbox", None) or {}).get("attachments") or {}
        if not any(att.get("driver") == "bridge" for att in attachments.values()):
            self.unpublish(c.id)
            if c.sandbox:
                c.sandbox["ports"] = []

    def sync(self) -> None:
        if self.firewall is not None:
            with self.lock:
                self.firewall.sync()

    def close(self) -> None:
        """The held ports go (the rules stay: running containers keep their ports)."""
        for r in self.ports.held():
            self.ports.release(r)
