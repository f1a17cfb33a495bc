"""OCI ``linux.resources`` → cgroup v2 interface files.

The OCI resources are v1-shaped; the conversions live in :mod:`convert`
(shares → cpu.weight, memory+swap total → swap.max, quota/period → cpu.max,
blkio weight → io.weight). ``unified`` is written last, so a key there wins over
the structured value it overlaps (as in crun).
"""

from __future__ import annotations

import os

from cove.errors import FailedPrecondition, Unsupported
from cove.lazylog import get_logger
from cove.runtime.cgroups import convert as C
from cove.runtime.cgroups import fs
from cove.runtime.cgroups.validate import (
    THROTTLES,
    check,
    check_v2_only,
    requested_controllers,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from cove.runtime.cgroups.v2 import V2Manager

log = get_logger(__name__)
F = "linux.resources"

_IO_MAX_KEYS = dict(zip(THROTTLES, ("rbps", "wbps", "riops", "wiops"), strict=True))


def _w(d: str, name: str, value: object) -> None:
    fs.write(os.path.join(d, name), str(value))


def apply(m: V2Manager, res: Mapping[str, Any]) -> None:
    check(res, F)
    check_v2_only(res, F)
    d = m.dir
    # The precise check: what this cgroup's parent actually delegates to it.
    have = m.controllers()
    for ctrl, sub in requested_controllers(res, v2=True):
        if ctrl not in have:
            raise Unsupported(f"{F}.{sub}: the {ctrl} controller is not enabled for {d} "
                              f"(its cgroup.controllers: {' '.join(sorted(have)) or 'none'})")
    cpu = res.get("cpu") or {}
    for key in ("cpus", "mems"):
        if (cpu.get(key) or "").strip():
            _w(d, f"cpuset.{key}", cpu[key].strip())
    # Sections whose controller is absent only restate defaults here (a value
    # that limits something was refused above), so they are skipped.
    if res.get("memory") and "memory" in have:
        _memory(d, res["memory"])
    if cpu and "cpu" in have:
        _cpu(d, cpu)
    limit = (res.get("pids") or {}).get("limit")
    if limit is not None and "pids" in have:
        _w(d, "pids.max", C.pids_max(limit))
    if res.get("blockIO") and "io" in have:
        _io(d, res["blockIO"])
    for i, item in enumerate(res.get("hugepageLimits") or []):
        _hugetlb(d, i, item)
    for dev, limits in (res.get("rdma") or {}).items():
        parts = [f"{key}={limits[name]}" for key, name in
                 (("hca_handle", "hcaHandles"), ("hca_object", "hcaObjects"))
                 if limits.get(name) is not None]
        if parts:
            _w(d, "rdma.max", f"{dev} {' '.join(parts)}")
    if res.get("devices") is not None:
        from cove.runtime.cgroups import devices_bpf
        from cove.runtime.cgroups.devices import normalize

        devices_bpf.apply(d, normalize(res["devices"]))
    for key, value in (res.get("unified") or {}).items():
        path = os.path.join(d, key)
        if not fs.exists(path):
            ctrl = key.partition(".")[0]
            raise Unsupported(f"{F}.unified.{key}: {path} does not exist (is the {ctrl} "
                              "controller enabled, and does this kernel have that file?)")
        fs.write(path, value)


def _memory(d: str, mem: Mapping[str, Any]) -> None:
    limit = mem.get("limit") if C.is_set(mem.get("limit")) else None
    swap = mem.get("swap") if C.is_set(mem.get("swap")) else None
    if mem.get("checkBeforeUpdate") and limit is not None and limit > 0:
        usage = int(fs.read(os.path.join(d, "memory.current")))
        if limit < usage:
            raise FailedPrecondition(f"{F}.memory.limit: {limit} is below the current usage "
                                     f"{usage} of {d} (checkBeforeUpdate)")
    swap_max = C.swap_v2(limit, swap)
    if swap_max is not None:
        if fs.exists(os.path.join(d, "memory.swap.max")):
            _w(d, "memory.swap.max", swap_max)
        elif swap_max != "max":
            raise Unsupported(f"{F}.memory.swap: {d} has no memory.swap.max (the kernel "
                              "has no swap accounting)")
    if limit is not None:
        _w(d, "memory.max", C.limit_v2(limit))
    if C.is_set(mem.get("reservation")):
        _w(d, "memory.low", C.limit_v2(mem["reservation"]))
    for key in ("kernel", "kernelTCP"):
        if C.is_set(mem.get(key)):
            log.warning("%s.memory.%s is ignored: cgroup v2 accounts kernel memory in "
                        "memory.max", F, key)
    if mem.get("swappiness") is not None:
        log.warning("%s.memory.swappiness is ignored: cgroup v2 has no per-cgroup "
                    "swappiness", F)
    if mem.get("useHierarchy") is False:
        log.warning("%s.memory.useHierarchy false is ignored: cgroup v2 is always "
                    "hierarchical", F)


def _cpu(d: str, cpu: Mapping[str, Any]) -> None:
    if C.is_set(cpu.get("shares")):
        _w(d, "cpu.weight", C.shares_to_weight(cpu["shares"]))
    cpu_max = C.cpu_max(cpu.get("quota"), cpu.get("period"))
    if cpu_max is not None:
        _w(d, "cpu.max", cpu_max)
    if cpu.get("burst") is not None:
        _w(d, "cpu.max.burst", cpu["burst"])  # after cpu.max: burst <= quota
    if cpu.get("idle") is not None:
        _w(d, "cpu.idle", cpu["idle"])


def _io(d: str, bio: Mapping[str, Any]) -> None:
    # BFQ's io.bfq.weight takes the v1 range as is; io.weight (the io.cost /
    # blk-iocost model) has ten times the range.
    bfq = fs.exists(os.path.join(d, "io.bfq.weight"))
    wants_weight = C.is_set(bio.get("weight")) or any(
        C.is_set(dev.get("weight")) for dev in bio.get("weightDevice") or [])
    if wants_weight and not bfq and not fs.exists(os.path.join(d, "io.weight")):
        raise Unsupported(f"{F}.blockIO.weight: {d} has neither io.bfq.weight nor io.weight "
                          "(no proportional I/O control in this kernel)")

    def weight_line(weight: int, node: str = "default") -> tuple[str, str]:
        if bfq:
            return "io.bfq.weight", f"{node} {weight}"
        return "io.weight", f"{node} {C.blkio_weight_to_io_weight(weight)}"

    if C.is_set(bio.get("weight")):
        _w(d, *weight_line(bio["weight"]))
    for dev in bio.get("weightDevice") or []:
        if C.is_set(dev.get("weight")):
            _w(d, *weight_line(dev["weight"], f"{dev['major']}:{dev['minor']}"))
    for key, io_key in _IO_MAX_KEYS.items():
        for dev in bio.get(key) or []:
            _w(d, "io.max", f"{dev['major']}:{dev['minor']} "
                            f"{io_key}={C.throttle_rate_v2(dev['rate'])}")


def _hugetlb(d: str, i: int, item: Mapping[str, Any]) -> None:
    size = item["pageSize"]
    name = f"hugetlb.{size}.max"
    if not fs.exists(os.path.join(d, name)):
        raise Unsupported(f"{F}.hugepageLimits[{i}].pageSize: this host has no {size} huge "
                          f"pages ({d}/{name} is missing)")
    _w(d, name, item["limit"])
    rsvd = f"hugetlb.{size}.rsvd.max"
    if fs.exists(os.path.join(d, rsvd)):
        _w(d, rsvd, item["limit"])
