"""Validation of OCI ``linux.resources``, before any cgroup is created.

Two passes:

* :func:`check` — shape and ranges, pure (config-linux.json plus the kernel's
  own ranges), raising :class:`InvalidArgument` naming the field, e.g.
  ``linux.resources.memory.limit: must be an integer``;
* :func:`check_host` — what this host's cgroup layout can honour, raising
  :class:`Unsupported` naming the field.

What the host cannot honour (decided here, applied the same way by ``set``):

=============================  ===========================  ===========================
request                        cgroup v1 / hybrid           cgroup v2
=============================  ===========================  ===========================
a controller not mounted /     Unsupported (hugetlb,        Unsupported
enabled, for a value that      net_cls, rdma, ... absent)
limits something
memory.kernel                  ignored, warning (the kernel ignored, warning
                               no longer enforces it)
memory.kernelTCP               memory.kmem.tcp if present,  ignored, warning
                               else warning
memory.swappiness              memory.swappiness            ignored, warning (no knob)
memory.useHierarchy            memory.use_hierarchy         ignored (always on)
memory.disableOOMKiller true   memory.oom_control           Unsupported
memory.swap > 0 without swap   Unsupported                  Unsupported
accounting
cpu.realtime*                  cpu.rt_*                     Unsupported
blockIO leafWeight             blkio.leaf_weight[_device]   Unsupported
                               if present, else Unsupported
network                        net_cls / net_prio           Unsupported (no controller)
unified                        Unsupported on pure v1;      written as given
                               hybrid: the unified dir
=============================  ===========================  ===========================

Unknown keys are ignored, as the runtime spec requires.
"""

from __future__ import annotations

from cove.errors import InvalidArgument, Unsupported
from cove.runtime.cgroups.convert import BLKIO_WEIGHT_MAX, BLKIO_WEIGHT_MIN, SHARES_MAX, SHARES_MIN

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from cove.runtime.cgroups.detect import Layout

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1
UINT32_MAX = (1 << 32) - 1
# Device numbers compared inside the eBPF program as signed 32-bit immediates.
DEVNUM_MAX = (1 << 31) - 1
THROTTLES = ("throttleReadBpsDevice", "throttleWriteBpsDevice",
             "throttleReadIOPSDevice", "throttleWriteIOPSDevice")


# --- shape helpers ---------------------------------------------------------------------------

def _obj(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InvalidArgument(f"{field}: must be an object")
    return value


def _section(parent: Mapping[str, Any], key: str, field: str) -> Mapping[str, Any] | None:
    value = parent.get(key)
    return None if value is None else _obj(value, f"{field}.{key}")


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidArgument(f"{field}: must be an array")
    return value


def _opt_list(obj: Mapping[str, Any], key: str, field: str) -> list[Any]:
    value = obj.get(key)
    return [] if value is None else _list(value, f"{field}.{key}")


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    if type(value) is not int:  # bool is an int subclass; JSON true is not a number
        raise InvalidArgument(f"{field}: must be an integer")
    if not lo <= value <= hi:
        raise InvalidArgument(f"{field}: {value} is out of range [{lo}, {hi}]")
    return value


def _opt_int(obj: Mapping[str, Any], key: str, field: str, lo: int, hi: int) -> int | None:
    value = obj.get(key)
    return None if value is None else _int(value, f"{field}.{key}", lo, hi)


def _req_int(obj: Mapping[str, Any], key: str, field: str, lo: int, hi: int) -> int:
    if obj.get(key) is None:
        raise InvalidArgument(f"{field}.{key}: is required")
    return _int(obj[key], f"{field}.{key}", lo, hi)


def _opt_bool(obj: Mapping[str, Any], key: str, field: str) -> bool | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise InvalidArgument(f"{field}.{key}: must be a boolean")
    return value


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"{field}: must be a string")
    return value


def _name(value: Any, field: str) -> str:
    """A word the kernel parses as one token (an interface or rdma device name)."""
    text = _str(value, field)
    if not text or any(c.isspace() for c in text):
        raise InvalidArgument(f"{field}: must be a non-empty name without spaces")
    return text


def _weight(obj: Mapping[str, Any], key: str, field: str) -> None:
    value = _opt_int(obj, key, field, 0, 65535)
    if value and not BLKIO_WEIGHT_MIN <= value <= BLKIO_WEIGHT_MAX:
        raise InvalidArgument(f"{field}.{key}: {value} is out of range "
                              f"[{BLKIO_WEIGHT_MIN}, {BLKIO_WEIGHT_MAX}] (0 leaves it unset)")


def _cpu_list(value: Any, field: str) -> None:
    """cpuset list syntax: "0-3,5", with the kernel's optional ":used/group" stride."""
    text = _str(value, field)
    if not text.strip():
        return
    for item in text.split(","):
        first, dash, rest = item.strip().partition("-")
        last, colon, stride = rest.partition(":")
        used, slash, group = stride.partition("/")
        ok = first.isdigit() and (not dash or (last.isdigit() and int(last) >= int(first)))
        ok = ok and (not colon or (bool(dash) and used.isdigit() and bool(slash)
                                   and group.isdigit()))
        if not ok:
            raise InvalidArgument(f"{field}: {text!r} is not a list like \"0-3,5\"")


# --- the sections ----------------------------------------------------------------------------

def _memory(m: Mapping[str, Any], f: str) -> None:
    for key in ("limit", "reservation", "swap", "kernel", "kernelTCP"):
        _opt_int(m, key, f, -1, INT64_MAX)
    _opt_int(m, "swappiness", f, 0, 100)
    for key in ("disableOOMKiller", "useHierarchy", "checkBeforeUpdate"):
        _opt_bool(m, key, f)
    limit, swap = m.get("limit"), m.get("swap")
    if swap is not None and swap > 0:
        if limit is None or limit <= 0:
            raise InvalidArgument(f"{f}.swap: needs {f}.limit (swap is the memory+swap "
                                  "total, so it is only meaningful with a memory limit)")
        if swap < limit:
            raise InvalidArgument(f"{f}.swap: {swap} is below {f}.limit {limit} (swap is "
                                  "the memory+swap total and must be at least the limit)")


def _cpu(c: Mapping[str, Any], f: str) -> None:
    shares = _opt_int(c, "shares", f, 0, UINT64_MAX)
    if shares and not SHARES_MIN <= shares <= SHARES_MAX:
        raise InvalidArgument(f"{f}.shares: {shares} is out of range [{SHARES_MIN}, "
                              f"{SHARES_MAX}] (0 leaves it unset)")
    _opt_int(c, "quota", f, -1, INT64_MAX)
    period = _opt_int(c, "period", f, 0, UINT64_MAX)
    if period and not 1000 <= period <= 1000000:
        raise InvalidArgument(f"{f}.period: {period} is out of range [1000, 1000000] µs")
    _opt_int(c, "burst", f, 0, UINT64_MAX)
    _opt_int(c, "realtimeRuntime", f, -1, INT64_MAX)
    _opt_int(c, "realtimePeriod", f, 0, UINT64_MAX)
    _opt_int(c, "idle", f, 0, 1)
    for key in ("cpus", "mems"):
        if c.get(key) is not None:
            _cpu_list(c[key], f"{f}.{key}")


def _block_io(b: Mapping[str, Any], f: str) -> None:
    _weight(b, "weight", f)
    _weight(b, "leafWeight", f)
    for i, raw_dev in enumerate(_opt_list(b, "weightDevice", f)):
        df = f"{f}.weightDevice[{i}]"
        dev = _obj(raw_dev, df)
        _req_int(dev, "major", df, 0, UINT32_MAX)
        _req_int(dev, "minor", df, 0, UINT32_MAX)
        _weight(dev, "weight", df)
        _weight(dev, "leafWeight", df)
    for key in THROTTLES:
        for i, raw_dev in enumerate(_opt_list(b, key, f)):
            df = f"{f}.{key}[{i}]"
            dev = _obj(raw_dev, df)
            _req_int(dev, "major", df, 0, UINT32_MAX)
            _req_int(dev, "minor", df, 0, UINT32_MAX)
            _req_int(dev, "rate", df, 0, UINT64_MAX)


def _page_size(value: Any, field: str) -> None:
    text = _str(value, field)
    if not (len(text) >= 3 and text[-2:] in ("KB", "MB", "GB") and text[:-2].isdigit()
            and text[0] != "0"):
        raise InvalidArgument(f"{field}: {text!r} is not a page size like \"2MB\" or \"1GB\"")


def _hugepages(items: Any, f: str) -> None:
    for i, raw_item in enumerate(_list(items, f)):
        hf = f"{f}[{i}]"
        item = _obj(raw_item, hf)
        if item.get("pageSize") is None:
            raise InvalidArgument(f"{hf}.pageSize: is required")
        _page_size(item["pageSize"], f"{hf}.pageSize")
        _req_int(item, "limit", hf, 0, UINT64_MAX)


def _network(n: Mapping[str, Any], f: str) -> None:
    _opt_int(n, "classID", f, 0, UINT32_MAX)
    for i, raw_prio in enumerate(_opt_list(n, "priorities", f)):
        pf = f"{f}.priorities[{i}]"
        prio = _obj(raw_prio, pf)
        _name(prio.get("name"), f"{pf}.name")
        _req_int(prio, "priority", pf, 0, UINT32_MAX)


def _rdma(r: Mapping[str, Any], f: str) -> None:
    for dev, raw_limits in r.items():
        rf = f"{f}.{dev}"
        _name(dev, rf)
        limits = _obj(raw_limits, rf)
        _opt_int(limits, "hcaHandles", rf, 0, UINT32_MAX)
        _opt_int(limits, "hcaObjects", rf, 0, UINT32_MAX)


def _unified(u: Mapping[str, Any], f: str) -> None:
    for key, value in u.items():
        kf = f"{f}.{key}"
        _str(key, kf)
        # One file of the container's own cgroup: "controller.file", never a path.
        if "/" in key or "\0" in key or key.startswith(".") or "." not in key:
            raise InvalidArgument(f"{kf}: must name a cgroup file like \"memory.high\"")
        _str(value, kf)


def _devices(items: Any, f: str) -> None:
    for i, raw_rule in enumerate(_list(items, f)):
        rf = f"{f}[{i}]"
        rule = _obj(raw_rule, rf)
        if rule.get("allow") is None:
            raise InvalidArgument(f"{rf}.allow: is required")
        _opt_bool(rule, "allow", rf)
        dev_type = rule.get("type")
        if dev_type is not None and dev_type not in ("a", "b", "c"):
            raise InvalidArgument(f"{rf}.type: must be \"a\", \"b\" or \"c\", not {dev_type!r}")
        for key in ("major", "minor"):
            _opt_int(rule, key, rf, -1, DEVNUM_MAX)
        access = rule.get("access")
        if access is not None and (not _str(access, f"{rf}.access")
                                   or set(access) - set("rwm")):
            raise InvalidArgument(f"{rf}.access: must be a combination of r, w and m, "
                                  f"not {access!r}")


def check(resources: Any, field: str = "linux.resources") -> None:
    """Shape and range checks; no I/O."""
    if resources is None:
        return
    res = _obj(resources, field)
    sections = (("memory", _memory), ("cpu", _cpu), ("blockIO", _block_io),
                ("network", _network), ("rdma", _rdma), ("unified", _unified))
    for key, checker in sections:
        sub = _section(res, key, field)
        if sub is not None:
            checker(sub, f"{field}.{key}")
    pids = _section(res, "pids", field)
    if pids is not None:
        _opt_int(pids, "limit", f"{field}.pids", INT64_MIN, INT64_MAX)
    if res.get("hugepageLimits") is not None:
        _hugepages(res["hugepageLimits"], f"{field}.hugepageLimits")
    if res.get("devices") is not None:
        _devices(res["devices"], f"{field}.devices")


# --- what the host must offer ----------------------------------------------------------------

def _positive(value: Any) -> bool:
    return value is not None and value > 0


def requested_controllers(res: Mapping[str, Any], v2: bool) -> list[tuple[str, str]]:
    """(controller, sub-field) for every value that limits something.

    Values that only restate the default (unset, 0, -1) need no controller: a
    host without the pids controller already gives "pids.limit: -1".
    """
    out: list[tuple[str, str]] = []
    mem = res.get("memory") or {}
    for key in ("limit", "reservation", "swap"):
        if _positive(mem.get(key)):
            out.append(("memory", f"memory.{key}"))
    if not v2:
        if _positive(mem.get("kernelTCP")):
            out.append(("memory", "memory.kernelTCP"))
        if mem.get("swappiness") is not None:
            out.append(("memory", "memory.swappiness"))
        if mem.get("disableOOMKiller"):
            out.append(("memory", "memory.disableOOMKiller"))
    cpu = res.get("cpu") or {}
    for key in ("shares", "quota", "period", "realtimeRuntime", "realtimePeriod"):
        if _positive(cpu.get(key)):
            out.append(("cpu", f"cpu.{key}"))
    for key in ("burst", "idle"):
        if cpu.get(key) is not None:
            out.append(("cpu", f"cpu.{key}"))
    for key in ("cpus", "mems"):
        if (cpu.get(key) or "").strip():
            out.append(("cpuset", f"cpu.{key}"))
    if _positive((res.get("pids") or {}).get("limit")):
        out.append(("pids", "pids.limit"))
    bio = res.get("blockIO") or {}
    for key in ("weight", "leafWeight", "weightDevice", *THROTTLES):
        if bio.get(key):
            out.append(("io" if v2 else "blkio", f"blockIO.{key}"))
    if res.get("hugepageLimits"):
        out.append(("hugetlb", "hugepageLimits"))
    net = res.get("network") or {}
    if net.get("classID"):
        out.append(("net_cls", "network.classID"))
    if net.get("priorities"):
        out.append(("net_prio", "network.priorities"))
    if res.get("rdma"):
        out.append(("rdma", "rdma"))
    return out


def check_v2_only(res: Mapping[str, Any], field: str) -> None:
    """v1 knobs that cgroup v2 has no equivalent for and that must not be dropped silently."""
    mem = res.get("memory") or {}
    if mem.get("disableOOMKiller"):
        raise Unsupported(f"{field}.memory.disableOOMKiller: cgroup v2 cannot disable the "
                          "OOM killer")
    cpu = res.get("cpu") or {}
    for key in ("realtimeRuntime", "realtimePeriod"):
        if _positive(cpu.get(key)):
            raise Unsupported(f"{field}.cpu.{key}: cgroup v2 has no real-time CPU budget")
    bio = res.get("blockIO") or {}
    if bio.get("leafWeight") or any(d.get("leafWeight") for d in bio.get("weightDevice") or []):
        raise Unsupported(f"{field}.blockIO.leafWeight: cgroup v2 has no leaf weight")
    net = res.get("network") or {}
    if net.get("classID") or net.get("priorities"):
        raise Unsupported(f"{field}.network: cgroup v2 has no net_cls/net_prio controllers "
                          "(use eBPF or nftables cgroup matching instead)")


def check_host(resources: Any, layout: Layout, field: str = "linux.resources") -> None:
    if not resources:
        return
    res: Mapping[str, Any] = resources
    v2 = layout.mode == "v2"
    if v2:
        check_v2_only(res, field)
    have = layout.controllers()
    for ctrl, sub in requested_controllers(res, v2):
        if ctrl not in have:
            raise Unsupported(f"{field}.{sub}: the {ctrl} controller is not available on "
                              f"this host (cgroup {layout.mode}); refusing to run the "
                              "container without the limit")
    if res.get("devices") is not None and not v2 and "devices" not in have \
            and layout.unified is None:
        raise Unsupported(f"{field}.devices: no devices controller and no cgroup2 "
                          "hierarchy for an eBPF device program")
    if res.get("unified") and layout.unified is None:
        raise Unsupported(f"{field}.unified: this host has no cgroup v2 hierarchy "
                          "(pure cgroup v1)")


def validate_resources(resources: Any, field: str = "linux.resources", *,
                       root: str = "/sys/fs/cgroup") -> None:
    """Both passes, against the layout of the cgroup filesystem at ``root``."""
    check(resources, field)
    if resources:
        from cove.runtime.cgroups.detect import detect

        check_host(resources, detect(root), field)
