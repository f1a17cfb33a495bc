"""A network's record, and its Engine API view."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cove.engine.networks.ipam import Pool

BRIDGE = "bridge"
MACVLAN = "macvlan"
CNI = "cni"
HOST = "host"
NULL = "null"

# Docker's option keys, kept so that scripts written for Docker carry over.
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_HOST_IP = "com.docker.network.bridge.host_binding_ipv4"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"


@dataclass
class Network:
    id: str
    name: str
    driver: str
    created: str
    internal: bool = False
    attachable: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    ipam_driver: str = "default"
    ipam_options: dict[str, str] = field(default_factory=dict)
    pools: list[Pool] = field(default_factory=list)
    # Pre-defined by the daemon (bridge, host, none): never removed, never pruned.
    builtin: bool = False
    # The Linux bridge (bridge driver), the parent link (macvlan), the conflist (cni).
    interface: str = ""
    # Whether the subnet came from the user (fixed addresses are only allowed then).
    user_subnet: bool = False

    @property
    def is_default_bridge(self) -> bool:
        return self.builtin and self.driver == BRIDGE

    @property
    def has_dns(self) -> bool:
        """Docker's rule: the embedded resolver serves user-defined networks only."""
        return not self.builtin and self.driver in (BRIDGE, MACVLAN, CNI)

    def pool(self) -> Pool | None:
        return self.pools[0] if self.pools else None

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "driver": self.driver,
                "created": self.created, "internal": self.internal,
                "attachable": self.attachable, "options": self.options,
                "labels": self.labels, "ipam_driver": self.ipam_driver,
                "ipam_options": self.ipam_options,
                "pools": [p.to_record() for p in self.pools], "builtin": self.builtin,
                "interface": self.interface, "user_subnet": self.user_subnet}

    @classmethod
    def from_record(cls, r: dict[str, Any]) -> Network:
        return cls(id=str(r["id"]), name=str(r["name"]), driver=str(r["driver"]),
                   created=str(r["created"]), internal=bool(r.get("internal")),
                   attachable=bool(r.get("attachable")), options=dict(r.get("options") or {}),
                   labels=dict(r.get("labels") or {}),
                   ipam_driver=str(r.get("ipam_driver") or "default"),
                   ipam_options=dict(r.get("ipam_options") or {}),
                   pools=[Pool.from_record(p) for p in r.get("pools") or []],
                   builtin=bool(r.get("builtin")), interface=str(r.get("interface") or ""),
                   user_subnet=bool(r.get("user_subnet")))

    def to_api(self, containers: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        config = []
        for p in self.pools:
            entry: dict[str, Any] = {"Subnet": p.subnet}
            if p.ip_range:
                entry["IPRange"] = p.ip_range
            if p.gateway:
                entry["Gateway"] = p.gateway
            if p.aux:
                entry["AuxiliaryAddresses"] = dict(p.aux)
            config.append(entry)
        # IPAM.Options null when none were given: what Docker sends and docker-py checks
        # (the swagger says object).
        return {
            "Name": self.name, "Id": self.id, "Created": self.created, "Scope": "local",
            "Driver": self.driver, "EnableIPv4": True, "EnableIPv6": False,
            "IPAM": {"Driver": self.ipam_driver, "Options": dict(self.ipam_options) or None,
                     "Config": config},
            "Internal": self.internal, "Attachable": self.attachable, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False,
            "Containers": containers if containers is not None else {},
            "Options": dict(self.options), "Labels": dict(self.labels),
        }
