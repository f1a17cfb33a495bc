"""Container stats in the Engine API's shape, read from the container's cgroup files.

A sample is one read of CPU, memory, pids and block I/O (from cgroup v1 or v2 files,
chosen once by :class:`StatsReader`) and of the network counters of the container's
network namespace (``/proc/<pid>/net/dev``). ``precpu_stats`` is the previous sample's
CPU part, so a client computes CPU % from the pair as ``docker stats`` does.
"""

from __future__ import annotations

import os
import time
from typing import Any

from cove.engine.container_cgroup import CgroupHost, ContainerCgroup
from cove.engine.containers.model import ZERO_TIME, now_rfc3339

_NANO = 1_000_000_000
# cgroup v1 reports "unlimited" as the largest page-aligned signed 64-bit number.
_V1_UNLIMITED = 1 << 62


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default


def _key_values(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def system_cpu_usage() -> int:
    """Host CPU time in ns, from /proc/stat's first line (Docker's system_cpu_usage)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu "):
                    ticks = sum(int(v) for v in line.split()[1:8])
                    return ticks * _NANO // os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        pass
    return 0


def online_cpus() -> int:
    try:
        return int(os.sysconf("SC_NPROCESSORS_ONLN"))
    except (OSError, ValueError):
        return os.cpu_count() or 1


def host_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def network_stats(pid: int) -> dict[str, dict[str, int]]:
    """Per-interface counters of the netns of ``pid``, loopback left out (as Docker)."""
    out: dict[str, dict[str, int]] = {}
    if pid <= 0:
        return out
    try:
        # A container in the host's network namespace has no networks of its own:
        # Docker shows none rather than the host's interfaces.
        if os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat("/proc/self/ns/net").st_ino:
            return out
    except OSError:
        return out
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, counters = line.partition(":")
        name = name.strip()
        values = counters.split()
        if name == "lo" or len(values) < 12:
            continue
        v = [int(x) for x in values[:12]]
        out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2],
                     "rx_dropped": v[3], "tx_bytes": v[8], "tx_packets": v[9],
                     "tx_errors": v[10], "tx_dropped": v[11]}
    return out


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                          "usage_in_usermode": 0},
            "system_cpu_usage": 0, "online_cpus": 0,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty_stats(cid: str, name: str) -> dict[str, Any]:
    """What Docker answers for a container that is not running: all zero."""
    return {"id": cid, "name": "/" + name, "read": ZERO_TIME, "preread": ZERO_TIME,
            "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": None,
                                              "io_serviced_recursive": None,
                                              "io_queue_recursive": None,
                                              "io_service_time_recursive": None,
                                              "io_wait_time_recursive": None,
                                              "io_merged_recursive": None,
                                              "io_time_recursive": None,
                                              "sectors_recursive": None},
            "num_procs": 0, "storage_stats": {}, "cpu_stats": _empty_cpu(),
            "precpu_stats": _empty_cpu(), "memory_stats": {}}


class StatsReader:
    """Reads samples; the v1/v2 choice is made once, from the host's layout."""

    def __init__(self, host: CgroupHost) -> None:
        self.host = host

    def sample(self, cg: ContainerCgroup, pid: int) -> dict[str, Any]:
        """One sample without ``precpu_stats``/``preread`` (see :func:`with_previous`)."""
        cpu, memory, pids, blkio = (self._v2(cg) if self.host.v2 else self._v1(cg))
        out: dict[str, Any] = {
            "read": now_rfc3339(), "pids_stats": pids, "blkio_stats": blkio,
            "num_procs": 0, "storage_stats": {}, "cpu_stats": cpu, "memory_stats": memory,
        }
        networks = network_stats(pid)
        if networks:
            out["networks"] = networks
        return out

    # -- cgroup v1 -------------------------------------------------------------------------

    def _v1(self, cg: ContainerCgroup) -> tuple[dict[str, Any], ...]:
        percpu = [int(v) for v in (cg.read("cpuacct", "cpuacct.usage_percpu") or "").split()
                  if v.isdigit()]
        acct = _key_values(cg.read("cpuacct", "cpuacct.stat"))
        tick_ns = _NANO // os.sysconf("SC_CLK_TCK")
        throttle = _key_values(cg.read("cpu", "cpu.stat"))
        cpu = {
            "cpu_usage": {"total_usage": _int(cg.read("cpuacct", "cpuacct.usage")),
                          "percpu_usage": percpu,
                          "usage_in_kernelmode": acct.get("system", 0) * tick_ns,
                          "usage_in_usermode": acct.get("user", 0) * tick_ns},
            "system_cpu_usage": system_cpu_usage(), "online_cpus": online_cpus(),
            "throttling_data": {"periods": throttle.get("nr_periods", 0),
                                "throttled_periods": throttle.get("nr_throttled", 0),
                                "throttled_time": throttle.get("throttled_time", 0)},
        }
        limit = _int(cg.read("memory", "memory.limit_in_bytes"))
        machine = host_memory()
        if limit == 0 or limit >= _V1_UNLIMITED or (machine and limit > machine):
            limit = machine
        memory: dict[str, Any] = {
            "usage": _int(cg.read("memory", "memory.usage_in_bytes")),
            "max_usage": _int(cg.read("memory", "memory.max_usage_in_bytes")),
            "failcnt": _int(cg.read("memory", "memory.failcnt")),
            "limit": limit,
            "stats": _key_values(cg.read("memory", "memory.stat")),
        }
        pids = self._pids(cg)
        blkio = {
            "io_service_bytes_recursive": self._v1_blkio(
                cg, "blkio.throttle.io_service_bytes_recursive",
                "blkio.throttle.io_service_bytes"),
            "io_serviced_recursive": self._v1_blkio(
                cg, "blkio.throttle.io_serviced_recursive", "blkio.throttle.io_serviced"),
            "io_queue_recursive": None, "io_service_time_recursive": None,
            "io_wait_time_recursive": None, "io_merged_recursive": None,
            "io_time_recursive": None, "sectors_recursive": None,
        }
        return cpu, memory, pids, blkio

    @staticmethod
    def _v1_blkio(cg: ContainerCgroup, name: str, fallback: str) -> list[dict[str, Any]]:
        text = cg.read("blkio", name)
        if text is None:
            text = cg.read("blkio", fallback)
        out = []
        for line in (text or "").splitlines():
            parts = line.split()
            if len(parts) != 3 or ":" not in parts[0]:
                continue
            major, _, minor = parts[0].partition(":")
            try:
                out.append({"major": int(major), "minor": int(minor), "op": parts[1],
                            "value": int(parts[2])})
            except ValueError:
                continue
        return out

    @staticmethod
    def _pids(cg: ContainerCgroup) -> dict[str, Any]:
        pids: dict[str, Any] = {"current": _int(cg.read("pids", "pids.current"))}
        limit = (cg.read("pids", "pids.max") or "").strip()
        if limit.isdigit():
            pids["limit"] = int(limit)
        return pids

    # -- cgroup v2 -------------------------------------------------------------------------

    def _v2(self, cg: ContainerCgroup) -> tuple[dict[str, Any], ...]:
        stat = _key_values(cg.read("cpu", "cpu.stat"))
        cpu = {
            "cpu_usage": {"total_usage": stat.get("usage_usec", 0) * 1000,
                          "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
                          "usage_in_usermode": stat.get("user_usec", 0) * 1000},
            "system_cpu_usage": system_cpu_usage(), "online_cpus": online_cpus(),
            "throttling_data": {"periods": stat.get("nr_periods", 0),
                                "throttled_periods": stat.get("nr_throttled", 0),
                                "throttled_time": stat.get("throttled_usec", 0) * 1000},
        }
        raw_limit = (cg.read("memory", "memory.max") or "max").strip()
        limit = int(raw_limit) if raw_limit.isdigit() else host_memory()
        memory: dict[str, Any] = {
            "usage": _int(cg.read("memory", "memory.current")),
            "limit": limit,
            "stats": _key_values(cg.read("memory", "memory.stat")),
        }
        blkio: dict[str, Any] = {"io_service_bytes_recursive": [],
                                 "io_serviced_recursive": None, "io_queue_recursive": None,
                                 "io_service_time_recursive": None,
                                 "io_wait_time_recursive": None, "io_merged_recursive": None,
                                 "io_time_recursive": None, "sectors_recursive": None}
        for line in (cg.read("io", "io.stat") or "").splitlines():
            parts = line.split()
            if not parts or ":" not in parts[0]:
                continue
            major, _, minor = parts[0].partition(":")
            fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
            for key, op in (("rbytes", "read"), ("wbytes", "write")):
                if fields.get(key, "").isdigit():
                    blkio["io_service_bytes_recursive"].append(
                        {"major": int(major), "minor": int(minor), "op": op,
                         "value": int(fields[key])})
        return cpu, memory, self._pids(cg), blkio


def with_previous(sample: dict[str, Any], previous: dict[str, Any] | None,
                  cid: str, name: str) -> dict[str, Any]:
    """The API document: the sample, its ids, and the previous sample's CPU part."""
    out = {"id": cid, "name": "/" + name, **sample}
    if previous is None:
        out["preread"] = ZERO_TIME
        out["precpu_stats"] = _empty_cpu()
    else:
        out["preread"] = previous["read"]
        out["precpu_stats"] = previous["cpu_stats"]
    return out


def sleep_until_next(started: float, interval: float = 1.0) -> None:
    left = interval - (time.monotonic() - started)
    if left > 0:
        time.sleep(left)
