"""Cove's packet filter and NAT (one nftables table) and host-port allocation.

See :mod:`cove.network.firewall.rules` for the chains, hooks and priorities, and
docs/networking-firewall.md for how operators filter published ports.
"""

from __future__ import annotations

from cove.network.firewall.iptables_compat import IptablesCompat
from cove.network.firewall.nft import (
    Firewall,
    FirewallError,
    Nft,
    enable_ip_forward,
    set_route_localnet,
)
from cove.network.firewall.ports import (
    PortAllocator,
    PortRequest,
    Reservation,
    local_port_range,
)
from cove.network.firewall.rules import (
    DEFAULT_TABLE,
    USER_CHAIN,
    FwNetwork,
    PortMapping,
    build_ruleset,
)

__all__ = [
    "DEFAULT_TABLE",
    "USER_CHAIN",
    "Firewall",
    "FirewallError",
    "FwNetwork",
    "IptablesCompat",
    "Nft",
    "PortAllocator",
    "PortMapping",
    "PortRequest",
    "Reservation",
    "build_ruleset",
    "enable_ip_forward",
    "local_port_range",
    "set_route_localnet",
]
