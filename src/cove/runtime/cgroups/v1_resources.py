"""OCI ``linux.resources`` → cgroup v1 files (and, on hybrid hosts, the unified dir).

Validation (:mod:`validate`) has run when these functions are called, so values
have the right types; what remains is ordering the writes the kernel cares
about and choosing between files that differ by kernel (blkio.weight vs
blkio.bfq.weight).
"""

from __future__ import annotations

import errno as E
import os

from cove.errors import FailedPrecondition, SyscallError, Unsupported
from cove.lazylog import get_logger
from cove.runtime.cgroups import fs
from cove.runtime.cgroups.convert import is_set
from cove.runtime.cgroups.validate import THROTTLES, check, check_host

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from cove.runtime.cgroups.v1 import V1Manager

log = get_logger(__name__)
F = "linux.resources"

_THROTTLE_FILES = dict(zip(THROTTLES, ("blkio.throttle.read_bps_device",
                                       "blkio.throttle.write_bps_device",
                                       "blkio.throttle.read_iops_device",
                                       "blkio.throttle.write_iops_device"), strict=True))


def _w(d: str, name: str, value: object) -> None:
    fs.write(os.path.join(d, name), str(value))


def _write_pair(d: str, first: tuple[str, int], second: tuple[str, int]) -> None:
    """Write two related values whose invariant must hold after each write.

    (period then quota, or the other way round when the new period does not fit
    the current quota): on EINVAL, try the other order.
    """
    try:
        _w(d, *first)
    except SyscallError as exc:
        if exc.errno != E.EINVAL:
            raise
        _w(d, *second)
        _w(d, *first)
        return
    _w(d, *second)


def apply(m: V1Manager, res: Mapping[str, Any]) -> None:
    check(res, F)
    check_host(res, m.layout, F)
    if res.get("devices") is not None:
        _devices(m, res["devices"])
    cpu = res.get("cpu") or {}
    cpuset = m.dir_for("cpuset")
    if cpuset is not None:
        _cpuset(cpuset, cpu)
    memory = m.dir_for("memory")
    if memory is not None and res.get("memory"):
        _memory(memory, res["memory"])
    d = m.dir_for("cpu")
    if d is not None and cpu:
        _cpu(d, cpu)
    d = m.dir_for("pids")
    limit = (res.get("pids") or {}).get("limit")
    if d is not None and limit is not None:
        _w(d, "pids.max", "max" if limit <= 0 else limit)
    d = m.dir_for("blkio")
    if d is not None and res.get("blockIO"):
        _blkio(d, res["blockIO"])
    d = m.dir_for("hugetlb")
    if d is not None and res.get("hugepageLimits"):
        _hugetlb(d, res["hugepageLimits"])
    _network(m, res.get("network") or {})
    d = m.dir_for("rdma")
    if d is not None and res.get("rdma"):
        _rdma(d, res["rdma"])
    if res.get("unified"):
        assert m.unified_dir is not None  # check_host refused a pure-v1 host
        _unified(m.unified_dir, res["unified"])


def _devices(m: V1Manager, rules: list[Mapping[str, Any]]) -> None:
    from cove.runtime.cgroups.devices import normalize

    parsed = normalize(rules)
    d = m.dir_for("devices")
    if d is None:
        # Hybrid host without the v1 devices hierarchy: the eBPF hook on the
        # cgroup2 directory works without any controller.
        from cove.runtime.cgroups import devices_bpf

        assert m.unified_dir is not None
        devices_bpf.apply(m.unified_dir, parsed)
        return
    from cove.runtime.cgroups.devices_v1 import compile_v1

    for name, line in compile_v1(parsed):
        _w(d, name, line)


def _cpuset(d: str, cpu: Mapping[str, Any]) -> None:
    # cpus before mems, as runc: both are independent in the kernel.
    for key, name in (("cpus", "cpuset.cpus"), ("mems", "cpuset.mems")):
        value = (cpu.get(key) or "").strip()
        if value:
            _w(d, name, value)


def _memory(d: str, mem: Mapping[str, Any]) -> None:
    limit = mem.get("limit") if is_set(mem.get("limit")) else None
    swap = mem.get("swap") if is_set(mem.get("swap")) else None
    if mem.get("checkBeforeUpdate") and limit is not None and limit > 0:
        usage = fs.read_int(os.path.join(d, "memory.usage_in_bytes"))
        if limit < usage:
            raise FailedPrecondition(f"{F}.memory.limit: {limit} is below the current usage "
                                     f"{usage} of {d} (checkBeforeUpdate)")
    memsw = os.path.join(d, "memory.memsw.limit_in_bytes")
    has_memsw = fs.exists(memsw)
    if swap is not None and swap > 0 and not has_memsw:
        raise Unsupported(f"{F}.memory.swap: the kernel has no swap accounting "
                          f"({memsw} is missing; boot with swapaccount=1)")
    if limit == -1 and swap is None and has_memsw:
        swap = -1  # unlimited memory needs unlimited memory+swap (memsw >= limit)
    if limit is not None and swap is not None and has_memsw:
        # memsw >= limit must hold after each write: raise memsw first when it
        # grows, lower the limit first when memsw shrinks.
        current = fs.read_int(memsw)
        if swap == -1 or swap >= current:
            _w(d, "memory.memsw.limit_in_bytes", swap)
            _w(d, "memory.limit_in_bytes", limit)
        else:
            _w(d, "memory.limit_in_bytes", limit)
            _w(d, "memory.memsw.limit_in_bytes", swap)
    elif limit is not None:
        _w(d, "memory.limit_in_bytes", limit)
    elif swap is not None and has_memsw:
        _w(d, "memory.memsw.limit_in_bytes", swap)
    if is_set(mem.get("reservation")):
        _w(d, "memory.soft_limit_in_bytes", mem["reservation"])
    if is_set(mem.get("kernel")):
        log.warning("%s.memory.kernel is ignored: kernels since 5.x no longer limit kernel "
                    "memory separately", F)
    if is_set(mem.get("kernelTCP")):
        if fs.exists(os.path.join(d, "memory.kmem.tcp.limit_in_bytes")):
            _w(d, "memory.kmem.tcp.limit_in_bytes", mem["kernelTCP"])
        else:
            log.warning("%s.memory.kernelTCP is ignored: %s has no memory.kmem.tcp", F, d)
    if mem.get("swappiness") is not None:
        _w(d, "memory.swappiness", mem["swappiness"])
    if mem.get("disableOOMKiller"):
        _w(d, "memory.oom_control", 1)
    if mem.get("useHierarchy") is not None:
        try:
            _w(d, "memory.use_hierarchy", 1 if mem["useHierarchy"] else 0)
        except SyscallError as exc:
            # Kernels since 5.16 are always hierarchical and refuse 0.
            raise Unsupported(f"{F}.memory.useHierarchy: {exc}") from exc


def _cpu(d: str, cpu: Mapping[str, Any]) -> None:
    if is_set(cpu.get("shares")):
        _w(d, "cpu.shares", cpu["shares"])
    quota = cpu.get("quota") if is_set(cpu.get("quota")) else None
    period = cpu.get("period") if is_set(cpu.get("period")) else None
    if quota is not None and period is not None:
        _write_pair(d, ("cpu.cfs_period_us", period), ("cpu.cfs_quota_us", quota))
    elif quota is not None:
        _w(d, "cpu.cfs_quota_us", quota)
    elif period is not None:
        _w(d, "cpu.cfs_period_us", period)
    if cpu.get("burst") is not None:
        _w(d, "cpu.cfs_burst_us", cpu["burst"])  # after the quota: burst <= quota
    rt_runtime = cpu.get("realtimeRuntime") if is_set(cpu.get("realtimeRuntime")) else None
    rt_period = cpu.get("realtimePeriod") if is_set(cpu.get("realtimePeriod")) else None
    if rt_runtime is not None and rt_period is not None:
        _write_pair(d, ("cpu.rt_period_us", rt_period), ("cpu.rt_runtime_us", rt_runtime))
    elif rt_period is not None:
        _w(d, "cpu.rt_period_us", rt_period)
    elif rt_runtime is not None:
        _w(d, "cpu.rt_runtime_us", rt_runtime)
    if cpu.get("idle") is not None:
        _w(d, "cpu.idle", cpu["idle"])


def _blkio_file(d: str, cfq: str, bfq: str, field: str) -> str:
    """CFQ's file if the kernel has it (before 5.0), else BFQ's, else Unsupported."""
    for name in (cfq, bfq):
        if name and fs.exists(os.path.join(d, name)):
            return name
    raise Unsupported(f"{F}.blockIO.{field}: {d} has neither {cfq} nor "
                      f"{bfq or 'a BFQ equivalent'} (no proportional I/O scheduler)")


def _blkio(d: str, bio: Mapping[str, Any]) -> None:
    if is_set(bio.get("weight")):
        _w(d, _blkio_file(d, "blkio.weight", "blkio.bfq.weight", "weight"), bio["weight"])
    if is_set(bio.get("leafWeight")):
        _w(d, _blkio_file(d, "blkio.leaf_weight", "", "leafWeight"), bio["leafWeight"])
    for i, dev in enumerate(bio.get("weightDevice") or []):
        node = f"{dev['major']}:{dev['minor']}"
        if is_set(dev.get("weight")):
            name = _blkio_file(d, "blkio.weight_device", "blkio.bfq.weight_device",
                               f"weightDevice[{i}].weight")
            _w(d, name, f"{node} {dev['weight']}")
        if is_set(dev.get("leafWeight")):
            name = _blkio_file(d, "blkio.leaf_weight_device", "",
                               f"weightDevice[{i}].leafWeight")
            _w(d, name, f"{node} {dev['leafWeight']}")
    for key, name in _THROTTLE_FILES.items():
        for dev in bio.get(key) or []:
            _w(d, name, f"{dev['major']}:{dev['minor']} {dev['rate']}")


def _hugetlb(d: str, limits: list[Mapping[str, Any]]) -> None:
    for i, item in enumerate(limits):
        size = item["pageSize"]
        name = f"hugetlb.{size}.limit_in_bytes"
        if not fs.exists(os.path.join(d, name)):
            raise Unsupported(f"{F}.hugepageLimits[{i}].pageSize: this host has no "
                              f"{size} huge pages ({d}/{name} is missing)")
        _w(d, name, item["limit"])
        # Reservations (kernel 5.7+) get the same limit, so a mapping that
        # reserves but does not fault pages cannot escape it.
        rsvd = f"hugetlb.{size}.rsvd.limit_in_bytes"
        if fs.exists(os.path.join(d, rsvd)):
            _w(d, rsvd, item["limit"])


def _network(m: V1Manager, net: Mapping[str, Any]) -> None:
    d = m.dir_for("net_cls")
    if d is not None and is_set(net.get("classID")):
        _w(d, "net_cls.classid", net["classID"])
    d = m.dir_for("net_prio")
    if d is not None:
        for prio in net.get("priorities") or []:
            _w(d, "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}")


def _rdma(d: str, rdma: Mapping[str, Any]) -> None:
    for dev, limits in rdma.items():
        parts = [f"{key}={limits[name]}" for key, name in
                 (("hca_handle", "hcaHandles"), ("hca_object", "hcaObjects"))
                 if limits.get(name) is not None]
        if parts:
            _w(d, "rdma.max", f"{dev} {' '.join(parts)}")


def _unified(d: str, unified: Mapping[str, str]) -> None:
    for key, value in unified.items():
        path = os.path.join(d, key)
        if not fs.exists(path):
            raise Unsupported(f"{F}.unified.{key}: {path} does not exist (on this hybrid "
                              "host the cgroup2 hierarchy has no such controller)")
        fs.write(path, value)
