"""linux.netDevices (runtime-spec 1.2): move host network devices into the container.

Done by the runtime once the container's network namespace exists and before
``create`` returns. iproute2 does the netlink work; a device moved into a
namespace that later dies returns to the host (physical) or is destroyed
(virtual), as the kernel decides.
"""

from __future__ import annotations

import subprocess

from cove.errors import CoveError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class NetDeviceError(CoveError):
    """A network device could not be moved into the container."""


def move_net_devices(devices: Mapping[str, Any], pid: int) -> None:
    for host_name, spec in devices.items():
        new_name = (spec or {}).get("name") or host_name
        cmd = ["ip", "link", "set", "dev", host_name, "netns", str(pid), "name", new_name]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NetDeviceError(f"linux.netDevices.{host_name}: {exc}") from exc
        if res.returncode != 0:
            raise NetDeviceError(f"linux.netDevices.{host_name}: moving it into the container "
                                 f"as {new_name!r} failed: {res.stderr.strip()}")
