"""HostConfig resources -> OCI ``linux.resources``, ``process.rlimits``, ``oomScoreAdj``,
checked with Docker's rules and messages."""

from __future__ import annotations

import os
import stat
from typing import Any

from cove.engine.ocispec.host import HostInfo
from cove.engine.ocispec.request import Resources, Ulimit
from cove.errors import InvalidArgument

__all__ = ["DEFAULT_NOFILE", "MIN_MEMORY", "build_resources", "build_rlimits",
           "check_oom_score_adj"]

MIN_MEMORY = 6 * 1024 * 1024  # Docker's linuxMinMemory
DEFAULT_NOFILE = 1048576  # what Docker's containers get (the daemon's own limit)
CPU_PERIOD = 100_000  # µs; NanoCpus become a quota over this period, as in Docker
_NANO = 1_000_000_000

_RLIMITS = {
    "as": "RLIMIT_AS", "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
_RLIM_INFINITY = (1 << 64) - 1


def check_oom_score_adj(value: int) -> None:
    if not -1000 <= value <= 1000:
        raise InvalidArgument(f"Invalid value {value}, range for oom score adj is "
                              "[-1000, 1000]")


def build_rlimits(ulimits: tuple[Ulimit, ...],
                  nofile_max: int = DEFAULT_NOFILE) -> list[dict[str, Any]]:
    """Ulimits as OCI rlimits; RLIMIT_NOFILE defaults to Docker's 1048576 (or the most the
    host allows, ``nofile_max``) unless given."""
    out: dict[str, dict[str, Any]] = {}
    for i, u in enumerate(ulimits):
        kind = _RLIMITS.get(u.name.lower())
        if kind is None:
            raise InvalidArgument(f"invalid HostConfig.Ulimits[{i}].Name: \"{u.name}\" "
                                  f"(invalid ulimit type: {u.name})")
        soft, hard = _rlim(u.soft), _rlim(u.hard)
        if soft > hard:
            raise InvalidArgument(f"invalid HostConfig.Ulimits[{i}]: ulimit soft limit must "
                                  f"be less than or equal to hard limit: {u.soft} > {u.hard}")
        if kind in out:
            raise InvalidArgument(f"invalid HostConfig.Ulimits[{i}]: duplicate ulimit "
                                  f"{u.name}")
        out[kind] = {"type": kind, "soft": soft, "hard": hard}
    nofile = min(DEFAULT_NOFILE, nofile_max)
    out.setdefault("RLIMIT_NOFILE", {"type": "RLIMIT_NOFILE", "soft": nofile,
                                     "hard": nofile})
    return list(out.values())


def _rlim(value: int) -> int:
    # -1 is how Docker spells "unlimited" (RLIM_INFINITY as a signed 64-bit number).
    return _RLIM_INFINITY if value < 0 else value


def build_resources(r: Resources, host: HostInfo) -> dict[str, Any]:
    """``linux.resources`` without devices (see :mod:`.devices`)."""
    out: dict[str, Any] = {}
    memory = _memory(r, host)
    if memory:
        out["memory"] = memory
    cpu = _cpu(r, host)
    if cpu:
        out["cpu"] = cpu
    if r.pids_limit is not None and r.pids_limit > 0:
        out["pids"] = {"limit": r.pids_limit}
    block_io = _block_io(r)
    if block_io:
        out["blockIO"] = block_io
    return out


def _block_device(path: str, where: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InvalidArgument(f'invalid {where}: "{path}" ({exc.strerror})') from None
    if not stat.S_ISBLK(st.st_mode):
        raise InvalidArgument(f'invalid {where}: "{path}" (not a block device)')
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def _block_io(r: Resources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.blkio_weight:
        if not 10 <= r.blkio_weight <= 1000:
            raise InvalidArgument(f"invalid HostConfig.BlkioWeight: {r.blkio_weight} (Range "
                                  "of blkio weight is from 10 to 1000)")
        out["weight"] = r.blkio_weight
    weights = []
    for i, w in enumerate(r.blkio_weight_device):
        where = f"HostConfig.BlkioWeightDevice[{i}]"
        if not 10 <= w.weight <= 1000:
            raise InvalidArgument(f"invalid {where}.Weight: {w.weight} (Range of blkio weight "
                                  "is from 10 to 1000)")
        major, minor = _block_device(w.path, f"{where}.Path")
        weights.append({"major": major, "minor": minor, "weight": w.weight})
    if weights:
        out["weightDevice"] = weights
    for key, field_name, devices in (
            ("throttleReadBpsDevice", "BlkioDeviceReadBps", r.blkio_device_read_bps),
            ("throttleWriteBpsDevice", "BlkioDeviceWriteBps", r.blkio_device_write_bps),
            ("throttleReadIOPSDevice", "BlkioDeviceReadIOps", r.blkio_device_read_iops),
            ("throttleWriteIOPSDevice", "BlkioDeviceWriteIOps", r.blkio_device_write_iops)):
        rates = []
        for i, t in enumerate(devices):
            major, minor = _block_device(t.path, f"HostConfig.{field_name}[{i}].Path")
            rates.append({"major": major, "minor": minor, "rate": t.rate})
        if rates:
            out[key] = rates
    return out


def _memory(r: Resources, host: HostInfo) -> dict[str, Any]:
    for name, value in (("Memory", r.memory), ("MemoryReservation", r.memory_reservation)):
        if value < 0:
            raise InvalidArgument(f"invalid HostConfig.{name}: {value} (must be >= 0)")
    if r.memory_swap < -1:
        raise InvalidArgument(f"invalid HostConfig.MemorySwap: {r.memory_swap} (must be -1 "
                              "(unlimited), 0 (twice Memory) or a size)")
    if 0 < r.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if 0 < r.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if r.memory == 0 and r.memory_swap > 0:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage.")
    if r.memory_swap > 0 and r.memory_swap < r.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage.")
    if r.memory > 0 and r.memory_reservation > 0 and r.memory < r.memory_reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage.")
    swappiness = r.memory_swappiness
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {swappiness}, valid memory swappiness range "
                              "is 0-100")
    out: dict[str, Any] = {}
    if r.memory:
        out["limit"] = r.memory
        if host.swap_limit_supported:
            # Docker: no MemorySwap means as much swap as memory (memory+swap = 2x).
            out["swap"] = r.memory * 2 if r.memory_swap == 0 else r.memory_swap
    elif r.memory_swap == -1 and host.swap_limit_supported:
        out["swap"] = -1
    if r.memory_reservation:
        out["reservation"] = r.memory_reservation
    if swappiness is not None and swappiness >= 0:
        out["swappiness"] = swappiness
    if r.oom_kill_disable:
        out["disableOOMKiller"] = True
    return out


def _cpu(r: Resources, host: HostInfo) -> dict[str, Any]:
    if r.nano_cpus:
        if r.cpu_period:
            raise InvalidArgument("conflicting options: Nano CPUs and CPU Period cannot both "
                                  "be set")
        if r.cpu_quota:
            raise InvalidArgument("conflicting options: Nano CPUs and CPU Quota cannot both "
                                  "be set")
        if not _NANO // 100 <= r.nano_cpus <= host.ncpu * _NANO:
            raise InvalidArgument(f"range of CPUs is from 0.01 to {host.ncpu}.00, as there "
                                  f"are only {host.ncpu} CPUs available")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)")
    if r.cpu_quota and r.cpu_quota != -1 and r.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if r.cpu_shares < 0:
        raise InvalidArgument(f"invalid HostConfig.CpuShares: {r.cpu_shares} (must be >= 0)")
    for name, value in (("CpuRealtimePeriod", r.cpu_realtime_period),
                        ("CpuRealtimeRuntime", r.cpu_realtime_runtime)):
        if value < 0:
            raise InvalidArgument(f"invalid HostConfig.{name}: {value} (must be >= 0)")
    if (r.cpu_realtime_period and r.cpu_realtime_runtime
            and r.cpu_realtime_runtime > r.cpu_realtime_period):
        raise InvalidArgument("cpu-rt-runtime cannot be higher than cpu-rt-period")
    host.check_cpuset(r.cpuset_cpus)
    host.check_cpuset(r.cpuset_mems, mems=True)
    out: dict[str, Any] = {}
    if r.cpu_shares:
        # The kernel's range (cgroup v1 cpu.shares), to which Docker clamps too.
        out["shares"] = min(max(r.cpu_shares, 2), 262144)
    if r.nano_cpus:
        out["period"] = CPU_PERIOD
        out["quota"] = r.nano_cpus * CPU_PERIOD // _NANO
    if r.cpu_period:
        out["period"] = r.cpu_period
    if r.cpu_quota:
        out["quota"] = r.cpu_quota
    if r.cpu_realtime_period:
        out["realtimePeriod"] = r.cpu_realtime_period
    if r.cpu_realtime_runtime:
        out["realtimeRuntime"] = r.cpu_realtime_runtime
    if r.cpuset_cpus:
        out["cpus"] = r.cpuset_cpus
    if r.cpuset_mems:
        out["mems"] = r.cpuset_mems
    return out
