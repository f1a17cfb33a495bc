"""The macvlan driver: each endpoint a macvlan device on the network's parent link."""

from __future__ import annotations

import os
import threading
from typing import Any

from cove.engine.networks.drivers.base import Attachment
from cove.engine.networks.drivers.bridge import check_ifname, mac_for
from cove.engine.networks.model import Network
from cove.errors import InvalidArgument
from cove.linux.netlink import Netlink

MODES = ("bridge", "private", "vepa", "passthru")


class MacvlanDriver:
    name = "macvlan"

    def __init__(self, host: Netlink, host_lock: threading.Lock) -> None:
        self.host = host
        self.lock = host_lock

    def validate(self, net: Network) -> None:
        parent = net.options.get("parent", "")
        if not parent:
            raise InvalidArgument("macvlan needs a parent interface: -o parent=<host link>")
        check_ifname(parent, "macvlan parent")
        mode = net.options.get("macvlan_mode", "bridge")
        if mode not in MODES:
            raise InvalidArgument(f"invalid macvlan_mode {mode!r}: want one of "
                                  f"{', '.join(MODES)}")
        with self.lock:
            if self.host.link(parent) is None:
                raise InvalidArgument(f"-o parent interface was not found on the host: "
                                      f"{parent}")

    def ensure(self, net: Network) -> None:
        with self.lock:
            parent = net.options.get("parent", "")
            if self.host.link(parent) is not None:
                self.host.set_link(parent, up=True)

    def remove(self, net: Network) -> None:
        return None  # the parent belongs to the host

    def attach(self, net: Network, a: Attachment) -> None:
        pool = net.pool()
        assert pool is not None and a.address
        a.prefixlen = pool.prefixlen
        a.gateway = pool.gateway if not net.internal else ""
        a.mac = a.mac or mac_for(a.address)
        temp = "mv" + os.urandom(5).hex()[:9]
        with self.lock:
            self.host.add_macvlan(temp, net.options["parent"],
                                  mode=net.options.get("macvlan_mode", "bridge"),
                                  netns=a.netns, mac=a.mac)
        with Netlink(a.netns) as inside:
            try:
                inside.set_link(temp, new_name=a.ifname)
                inside.add_address(a.ifname, f"{a.address}/{a.prefixlen}")
                inside.set_link(a.ifname, up=True)
                if a.default_route and a.gateway:
                    inside.add_route("default", gateway=a.gateway, dev=a.ifname)
            except BaseException:
                inside.delete_link(temp, missing_ok=True)
                inside.delete_link(a.ifname, missing_ok=True)
                raise

    def detach(self, net: Network, a: Attachment, state: dict[str, Any]) -> None:
        # The device lives only in the container's namespace: it goes with it.
        if a.netns and os.path.exists(a.netns):
            with Netlink(a.netns) as inside:
                inside.delete_link(a.ifname, missing_ok=True)

    def saved(self, a: Attachment) -> dict[str, Any]:
        return {}
