"""The daemon's networking settings (daemon.json keys as dockerd names them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from cove.engine.networks.ipam import SubnetPools


@dataclass(frozen=True)
class NetworkConfig:
    # The default network's Linux bridge ("bridge" in daemon.json; "none": no default network).
    bridge: str = "cove0"
    # Its gateway address and prefix ("bip"). Not Docker's 172.17.0.1/16, nor Podman's
    # 10.88.0.0/16: both engines can run beside Cove.
    bip: str = "10.77.0.1/16"
    pools: SubnetPools = field(default_factory=SubnetPools)
    # Where published ports listen when a binding names no address ("ip"); 127.0.0.1
    # keeps every published port off the outside interfaces.
    default_bind_ip: str = "0.0.0.0"
    iptables: bool = True  # Cove manages its nftables table (and Docker-compat rules)
    ip_forward: bool = True
    ip_masq: bool = True
    icc: bool = True
    mtu: int = 0
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()
    # Cove's own nftables table (tests run several daemons, each with its own).
    firewall_table: str = "cove"
    cni_config_dirs: tuple[str, ...] = ("/etc/cni/net.d",)
    cni_plugin_dirs: tuple[str, ...] = ("/usr/lib/cni", "/opt/cni/bin")
