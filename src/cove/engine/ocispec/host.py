"""What the spec builder needs to know about the host, read once by the daemon.

Tests build a :class:`HostInfo` by hand; the daemon calls :meth:`HostInfo.probe`.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from cove.errors import InvalidArgument
from cove.linux.capabilities import CAP_LAST_KNOWN

__all__ = ["HostInfo", "format_cpu_list", "parse_cpu_list"]

_CAP_SYS_RESOURCE = 24


def parse_cpu_list(text: str) -> frozenset[int]:
    """"0-3,5" -> {0, 1, 2, 3, 5}; raises ValueError on a malformed list."""
    out: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            raise ValueError(text)
        first, sep, last = part.partition("-")
        if not first.isdigit() or (sep and not last.isdigit()):
            raise ValueError(text)
        lo = int(first)
        hi = int(last) if sep else lo
        if hi < lo or hi > 1 << 16:
            raise ValueError(text)
        out.update(range(lo, hi + 1))
    return frozenset(out)


def format_cpu_list(cpus: frozenset[int]) -> str:
    ranges: list[str] = []
    for n in sorted(cpus):
        if ranges and n - 1 in cpus:
            lo = ranges[-1].split("-")[0]
            ranges[-1] = f"{lo}-{n}"
        else:
            ranges.append(str(n))
    return ",".join(ranges)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


@dataclass(frozen=True)
class HostInfo:
    machine: str = "x86_64"
    hostname: str = "localhost"
    online_cpus: frozenset[int] = frozenset({0})
    online_mems: frozenset[int] = frozenset({0})
    cap_last_cap: int = CAP_LAST_KNOWN
    swap_limit_supported: bool = True
    dev_root: str = "/dev"  # where host devices are looked up (Privileged, Devices)
    # The highest RLIMIT_NOFILE the runtime can give (see _nofile_max).
    nofile_max: int = 1048576
    # The daemon's own bounding set (bit mask; None: every capability up to
    # cap_last_cap). A container cannot be given more than the daemon holds.
    bounding_caps: int | None = None

    def capability_available(self, bit: int) -> bool:
        if bit > self.cap_last_cap:
            return False
        return self.bounding_caps is None or bool(self.bounding_caps >> bit & 1)

    @property
    def ncpu(self) -> int:
        return len(self.online_cpus)

    @classmethod
    def probe(cls) -> HostInfo:
        uname = os.uname()
        cpus = _read("/sys/devices/system/cpu/online")
        mems = _read("/sys/devices/system/node/online")
        last = _read("/proc/sys/kernel/cap_last_cap")
        try:
            online_cpus = parse_cpu_list(cpus) if cpus else frozenset(range(os.cpu_count() or 1))
        except ValueError:
            online_cpus = frozenset(range(os.cpu_count() or 1))
        try:
            online_mems = parse_cpu_list(mems) if mems else frozenset({0})
        except ValueError:
            online_mems = frozenset({0})
        cap_last = int(last) if last and last.isdigit() else CAP_LAST_KNOWN
        return cls(machine=uname.machine, hostname=uname.nodename, online_cpus=online_cpus,
                   online_mems=online_mems, cap_last_cap=min(cap_last, CAP_LAST_KNOWN),
                   swap_limit_supported=_swap_supported(), nofile_max=_nofile_max(),
                   bounding_caps=_own_caps("CapBnd"))

    def check_cpuset(self, text: str, *, mems: bool = False) -> None:
        """A CpusetCpus/CpusetMems list must parse and name only online CPUs/nodes."""
        if not text:
            return
        what = "memory nodes" if mems else "CPUs"
        try:
            wanted = parse_cpu_list(text)
        except ValueError:
            kind = "cpuset mems" if mems else "cpuset cpus"
            raise InvalidArgument(f"Invalid value {text} for {kind}") from None
        available = self.online_mems if mems else self.online_cpus
        if not wanted <= available:
            raise InvalidArgument(f"Requested {what} are not available - requested {text}, "
                                  f"available: {format_cpu_list(available)}")


def _own_caps(key: str) -> int | None:
    status = _read("/proc/self/status") or ""
    for line in status.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1], 16)
    return None


def _nofile_max() -> int:
    # The runtime (our child) can raise the hard limit only up to fs.nr_open, and only
    # with CAP_SYS_RESOURCE; without it (a daemon in a restricted container) the
    # daemon's own hard limit is the ceiling.
    nr_open = _read("/proc/sys/fs/nr_open")
    ceiling = int(nr_open) if nr_open and nr_open.isdigit() else 1048576
    if not (_own_caps("CapEff") or 0) >> _CAP_SYS_RESOURCE & 1:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
    return ceiling


def _swap_supported() -> bool:
    # v1 (and hybrid): the memsw files exist when swap accounting is on. v2: the root
    # has no memory.swap.max, its children do when the kernel accounts swap.
    if os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"):
        return True
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return False
    try:
        children = [e.path for e in os.scandir("/sys/fs/cgroup") if e.is_dir()]
    except OSError:
        return False
    return any(os.path.exists(os.path.join(c, "memory.swap.max")) for c in children)
