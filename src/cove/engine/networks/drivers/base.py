"""What every driver does, and what it is told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from cove.engine.networks.model import Network


@dataclass
class Attachment:
    """One endpoint being made: the driver fills in the address, gateway and MAC."""

    container_id: str
    netns: str  # the container's network namespace (an nsfs file)
    ifname: str  # eth0, eth1...
    endpoint_id: str
    address: str = ""  # requested (fixed IP) before, leased/assigned after: a.b.c.d
    prefixlen: int = 0
    gateway: str = ""
    mac: str = ""  # requested before, actual after
    default_route: bool = False
    host_ifname: str = ""  # the host side (veth) when there is one
    # CNI: capability args (portMappings...) and the plugins' result.
    capability_args: dict[str, Any] = field(default_factory=dict)
    publishes_ports: bool = False  # the driver (CNI portmap) published them itself


class Driver(Protocol):
    name: str

    def validate(self, net: Network) -> None:
        """Refuse bad options at network create, before anything is made."""

    def ensure(self, net: Network) -> None:
        """Make the host side exist (bridge, rules); idempotent; called before attaches
        and at daemon start."""

    def remove(self, net: Network) -> None:
        """Undo ensure (network rm)."""

    def attach(self, net: Network, a: Attachment) -> None:
        """Make the endpoint inside ``a.netns``; on error leave nothing behind."""

    def detach(self, net: Network, a: Attachment, state: dict[str, Any]) -> None:
        """Undo attach; ``state`` is what :meth:`saved` returned for it."""

    def saved(self, a: Attachment) -> dict[str, Any]:
        """What detach needs after a daemon restart (kept in the container's record)."""
