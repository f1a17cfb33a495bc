"""Pure parts of the cgroup layer: validation, conversions, device rules, layout parsing."""

from __future__ import annotations

import copy
import random
import struct
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from cove.errors import InvalidArgument, Unsupported
from cove.runtime.cgroups import convert as C
from cove.runtime.cgroups import devices_bpf
from cove.runtime.cgroups.detect import (
    Layout,
    cgroup_dir,
    check_cgroups_path,
    parse_mountinfo,
    parse_proc_cgroup,
)
from cove.runtime.cgroups.devices import DeviceRule, allowed, normalize, per_bit
from cove.runtime.cgroups.devices_v1 import compile_v1
from cove.runtime.cgroups.validate import check, check_host

MiB = 1 << 20

# The "Control groups" example of the runtime spec's config-linux.md, trimmed to what a
# validator sees.
SPEC_EXAMPLE: dict[str, Any] = {
    "devices": [{"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rw"},
                {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"}],
    "memory": {"limit": 536870912, "reservation": 536870912, "swap": 536870912,
               "kernel": -1, "kernelTCP": -1, "swappiness": 0, "disableOOMKiller": False},
    "cpu": {"shares": 1024, "quota": 1000000, "period": 500000, "realtimeRuntime": 950000,
            "realtimePeriod": 1000000, "cpus": "2-3", "mems": "0-7", "idle": 0},
    "pids": {"limit": 32771},
    "blockIO": {"weight": 10, "leafWeight": 10,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300},
                                 {"major": 8, "minor": 16, "weight": 500}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200},
                       {"pageSize": "64KB", "limit": 1000000}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
    "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "mlx4_0": {"hcaObjects": 1}},
    "unified": {"io.max": "259:0 rbps=2097152", "memory.high": "1073741824"},
}


def _with(path: str, value: Any) -> dict[str, Any]:
    """The spec example with one value replaced; path is dotted, [n] indexes lists."""
    res = copy.deepcopy(SPEC_EXAMPLE)
    *parents, last = path.replace("[", ".[").split(".")
    node: Any = res
    for part in parents:
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    key: Any = int(last[1:-1]) if last.startswith("[") else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = value
    return res


_DELETE = object()


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("resources", [None, {}, SPEC_EXAMPLE,
                                       {"cpu": {"shares": 0, "quota": 0, "period": 0}},
                                       {"pids": {"limit": 0}}, {"pids": {"limit": -1}},
                                       {"memory": {"limit": -1, "swap": -1}},
                                       {"blockIO": {"weight": 0}},
                                       {"cpu": {"cpus": "0-7:2/4,9", "mems": ""}},
                                       {"devices": []},
                                       {"somethingNew": {"x": 1}}])
def test_valid_resources_pass(resources: Any) -> None:
    check(resources)


@pytest.mark.parametrize(("path", "value", "message"), [
    ("memory.limit", "1g", r"linux\.resources\.memory\.limit: must be an integer"),
    ("memory.limit", True, r"memory\.limit: must be an integer"),
    ("memory.limit", 1.5, r"memory\.limit: must be an integer"),
    ("memory.limit", -2, r"memory\.limit: -2 is out of range \[-1, "),
    ("memory.swap", 1024, r"memory\.swap: 1024 is below linux\.resources\.memory\.limit"),
    ("memory.swappiness", 101, r"memory\.swappiness: 101 is out of range \[0, 100\]"),
    ("memory.disableOOMKiller", "yes", r"memory\.disableOOMKiller: must be a boolean"),
    ("memory", [], r"linux\.resources\.memory: must be an object"),
    ("cpu.shares", 1, r"cpu\.shares: 1 is out of range \[2, 262144\]"),
    ("cpu.shares", 262145, r"cpu\.shares: 262145 is out of range"),
    ("cpu.quota", -5, r"cpu\.quota: -5 is out of range"),
    ("cpu.period", 10, r"cpu\.period: 10 is out of range \[1000, 1000000\]"),
    ("cpu.cpus", "0-a", r"cpu\.cpus: '0-a' is not a list"),
    ("cpu.cpus", "3-1", r"cpu\.cpus: '3-1' is not a list"),
    ("cpu.mems", 0, r"cpu\.mems: must be a string"),
    ("cpu.idle", 2, r"cpu\.idle: 2 is out of range \[0, 1\]"),
    ("pids", 5, r"linux\.resources\.pids: must be an object"),
    ("pids.limit", "5", r"pids\.limit: must be an integer"),
    ("blockIO.weight", 5, r"blockIO\.weight: 5 is out of range \[10, 1000\]"),
    ("blockIO.weightDevice[0].major", _DELETE, r"blockIO\.weightDevice\[0\]\.major: is required"),
    ("blockIO.weightDevice[1].weight", 2000, r"blockIO\.weightDevice\[1\]\.weight: 2000 is out"),
    ("blockIO.throttleReadBpsDevice[0].rate", _DELETE,
     r"blockIO\.throttleReadBpsDevice\[0\]\.rate: is required"),
    ("blockIO.throttleWriteIOPSDevice", {}, r"throttleWriteIOPSDevice: must be an array"),
    ("hugepageLimits", "2MB", r"linux\.resources\.hugepageLimits: must be an array"),
    ("hugepageLimits[0].pageSize", "2M",
     r"linux\.resources\.hugepageLimits\[0\]\.pageSize: '2M' is not a page size"),
    ("hugepageLimits[1].pageSize", "064KB", r"hugepageLimits\[1\]\.pageSize: '064KB' is not"),
    ("hugepageLimits[1].limit", _DELETE, r"hugepageLimits\[1\]\.limit: is required"),
    ("network.classID", -1, r"network\.classID: -1 is out of range"),
    ("network.priorities[0].name", "eth 0", r"priorities\[0\]\.name: must be a non-empty name"),
    ("rdma.mlx4_0.hcaObjects", 1 << 32, r"rdma\.mlx4_0\.hcaObjects: 4294967296 is out"),
    ("unified", {"io.max": 5}, r"unified\.io\.max: must be a string"),
    ("unified", {"../memory.max": "1"}, r"unified\.\.\./memory\.max: must name a cgroup file"),
    ("unified", {"memoryhigh": "1"}, r"unified\.memoryhigh: must name a cgroup file"),
    ("devices[0].allow", _DELETE, r"devices\[0\]\.allow: is required"),
    ("devices[1].type", "u", r"devices\[1\]\.type: must be \"a\", \"b\" or \"c\""),
    ("devices[1].access", "rx", r"devices\[1\]\.access: must be a combination of r, w and m"),
    ("devices[1].access", "", r"devices\[1\]\.access: must be a combination"),
    ("devices[2].major", -2, r"devices\[2\]\.major: -2 is out of range"),
    ("devices", {"allow": True}, r"linux\.resources\.devices: must be an array"),
])
def test_invalid_resources_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check(_with(path, value))


def test_swap_needs_a_limit_and_field_prefix_is_the_callers() -> None:
    with pytest.raises(InvalidArgument, match=r"^update\.memory\.swap: needs update\.memory"):
        check({"memory": {"swap": 10 * MiB}}, "update")
    with pytest.raises(InvalidArgument, match=r"^linux\.resources: must be an object"):
        check(["memory"])


# --- what the host can honour -----------------------------------------------------------------

HYBRID = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /outer /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/my\\040dir rw - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:32 / /elsewhere/memory rw - cgroup cgroup rw,memory
"""


def test_parse_hybrid_mountinfo() -> None:
    layout = parse_mountinfo(HYBRID, "/sys/fs/cgroup")
    assert layout.mode == "hybrid"
    assert [h.controllers for h in layout.v1] == [
        ("cpu", "cpuacct"), ("memory",), ("devices",), ("freezer",), ("pids",),
        ("name=systemd",)]
    assert layout.v1[3].mountpoint == "/sys/fs/cgroup/my dir"  # \040 unescaped
    assert layout.unified is not None and layout.unified.mountpoint == "/sys/fs/cgroup/unified"
    assert layout.controllers() == {"cpu", "cpuacct", "memory", "devices", "freezer", "pids",
                                    "name=systemd"}
    pure_v1 = parse_mountinfo("\n".join(HYBRID.splitlines()[:-2]), "/sys/fs/cgroup")
    assert pure_v1.mode == "v1" and pure_v1.unified is None


def test_parse_v2_mountinfo_and_nothing_mounted() -> None:
    v2 = parse_mountinfo("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
                         "/sys/fs/cgroup")
    assert v2.mode == "v2" and v2.unified is not None and v2.v1 == []
    on_unified = parse_mountinfo(HYBRID, "/sys/fs/cgroup/unified")
    assert on_unified.mode == "v2" and on_unified.v1 == []
    with pytest.raises(Unsupported, match="no cgroup hierarchy is mounted"):
        parse_mountinfo(HYBRID, "/srv")


def test_cgroup_dirs_absolute_relative_and_default() -> None:
    layout = parse_mountinfo(HYBRID, "/sys/fs/cgroup")
    cpu, memory = layout.v1[0], layout.v1[1]
    own = parse_proc_cgroup("2:cpu,cpuacct:/user/me\n4:memory:/outer/sess\n0::/u\n")
    assert own == {"cpu": "/user/me", "cpuacct": "/user/me", "memory": "/outer/sess", "": "/u"}
    assert cgroup_dir(cpu, "/a/b", None) == "/sys/fs/cgroup/cpu,cpuacct/a/b"
    assert cgroup_dir(cpu, "a/b", own) == "/sys/fs/cgroup/cpu,cpuacct/user/me/a/b"
    # The memory mount shows /outer at its mount point: strip it from our own path.
    assert cgroup_dir(memory, "a", own) == "/sys/fs/cgroup/memory/sess/a"
    assert layout.unified is not None
    assert cgroup_dir(layout.unified, "a", own) == "/sys/fs/cgroup/unified/u/a"
    assert check_cgroups_path(None, "c1") == "/cove/c1"
    assert check_cgroups_path("", "c1") == "/cove/c1"
    assert check_cgroups_path("/x/y", "c1") == "/x/y"
    with pytest.raises(InvalidArgument, match="must not contain '..'"):
        check_cgroups_path("/x/../../etc", "c1")
    with pytest.raises(Unsupported, match="systemd cgroup driver"):
        check_cgroups_path("system.slice:cove:c1", "c1")
    with pytest.raises(InvalidArgument):
        check_cgroups_path(None, "../x")
    for root_itself in ("/", "//", ".", "/./"):
        with pytest.raises(InvalidArgument, match="must name a cgroup below"):
            check_cgroups_path(root_itself, "c1")


def _v2_layout(tmp_path: Path, controllers: str) -> Layout:
    (tmp_path / "cgroup.controllers").write_text(controllers + "\n")
    return parse_mountinfo(f"29 23 0:26 / {tmp_path} rw - cgroup2 cgroup2 rw\n", str(tmp_path))


def test_host_checks_v1() -> None:
    layout = parse_mountinfo(HYBRID, "/sys/fs/cgroup")
    check_host({"memory": {"limit": MiB}, "pids": {"limit": 5}, "unified": {"a.b": "1"},
                "hugepageLimits": []}, layout)
    check_host({"pids": {"limit": -1}, "network": {"classID": 0}}, layout)  # defaults only
    with pytest.raises(Unsupported, match=r"linux\.resources\.hugepageLimits: the hugetlb "
                                          r"controller is not available"):
        check_host({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, layout)
    with pytest.raises(Unsupported, match=r"network\.classID: the net_cls controller"):
        check_host({"network": {"classID": 5}}, layout)
    with pytest.raises(Unsupported, match=r"blockIO\.weight: the blkio controller"):
        check_host({"blockIO": {"weight": 100}}, layout)
    pure_v1 = parse_mountinfo("\n".join(HYBRID.splitlines()[:-2]), "/sys/fs/cgroup")
    with pytest.raises(Unsupported, match=r"unified: this host has no cgroup v2 hierarchy"):
        check_host({"unified": {"memory.high": "1"}}, pure_v1)


def test_host_checks_v2(tmp_path: Path) -> None:
    layout = _v2_layout(tmp_path, "cpuset cpu io memory pids")
    check_host(SPEC_EXAMPLE | {"hugepageLimits": [], "rdma": {}, "network": {},
                               "blockIO": {"weight": 100},
                               "cpu": {"shares": 1024, "cpus": "0"},
                               "memory": {"limit": MiB, "swappiness": 10, "kernel": 5}},
               layout)
    for res, message in [
        ({"memory": {"disableOOMKiller": True}}, "cannot disable the OOM killer"),
        ({"cpu": {"realtimeRuntime": 1000}}, r"cpu\.realtimeRuntime: cgroup v2 has no real-time"),
        ({"blockIO": {"leafWeight": 100}}, r"blockIO\.leafWeight: cgroup v2 has no leaf weight"),
        ({"network": {"priorities": [{"name": "lo", "priority": 1}]}}, "no net_cls/net_prio"),
        ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, "hugetlb controller"),
        ({"rdma": {"mlx5_0": {"hcaHandles": 1}}}, "rdma controller"),
    ]:
        with pytest.raises(Unsupported, match=message):
            check_host(res, layout)


# --- conversions -------------------------------------------------------------------------------

@pytest.mark.parametrize(("shares", "weight"), [
    (2, 1), (1024, 100), (262144, 10000),  # the fixed points of the curve
    (3, 2), (512, 59), (2048, 174), (100000, 4340),
    (1, 1), (1 << 20, 10000),  # clamped
])
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert C.shares_to_weight(shares) == weight


def test_shares_to_weight_is_monotonic_and_in_range() -> None:
    weights = [C.shares_to_weight(s) for s in range(2, 262145, 97)]
    assert weights == sorted(weights)
    assert all(1 <= w <= 10000 for w in weights)


@pytest.mark.parametrize(("weight", "io_weight"), [(10, 1), (500, 4950), (1000, 10000),
                                                   (100, 910)])
def test_blkio_weight_to_io_weight(weight: int, io_weight: int) -> None:
    assert C.blkio_weight_to_io_weight(weight) == io_weight


@pytest.mark.parametrize(("limit", "swap", "expected"), [
    (64 * MiB, 96 * MiB, str(32 * MiB)),  # memory+swap total → the swap part
    (64 * MiB, 64 * MiB, "0"),  # no swap at all
    (64 * MiB, -1, "max"),
    (64 * MiB, None, None),  # unset: leave the kernel default
    (64 * MiB, 0, None),  # 0 is unset, as in runc
    (-1, None, "max"),  # unlimited memory implies unlimited memory+swap
    (None, None, None),
])
def test_swap_semantics_v2(limit: int | None, swap: int | None, expected: str | None) -> None:
    assert C.swap_v2(limit, swap) == expected


def test_swap_below_limit_or_without_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="below"):
        C.swap_v2(64 * MiB, 32 * MiB)
    with pytest.raises(ValueError, match="needs memory.limit"):
        C.swap_v2(None, 32 * MiB)


@pytest.mark.parametrize(("quota", "period", "expected"), [
    (50000, 100000, "50000 100000"), (50000, None, "50000"), (-1, None, "max"),
    (-1, 200000, "max 200000"), (None, 200000, "max 200000"), (None, None, None),
    (0, 0, None),
])
def test_cpu_max(quota: int | None, period: int | None, expected: str | None) -> None:
    assert C.cpu_max(quota, period) == expected


def test_pids_and_limits() -> None:
    assert [C.pids_max(v) for v in (-1, 0, 1, 32768)] == ["max", "max", "1", "32768"]
    assert C.limit_v2(-1) == "max" and C.limit_v2(4096) == "4096"
    assert C.throttle_rate_v2(0) == "max" and C.throttle_rate_v2(10) == "10"


# --- device rules ------------------------------------------------------------------------------

def dr(allow: bool, type: str = "a", major: int | None = None, minor: int | None = None,
      access: str = "rwm") -> DeviceRule:
    return DeviceRule(allow, type, major, minor, access)


def test_normalize_defaults_and_wildcards() -> None:
    rules = normalize([{"allow": False}, {"allow": True, "type": "c", "major": 1, "minor": -1,
                                          "access": "wr"}])
    assert rules == [dr(False), dr(True, "c", 1, None, "rw")]
    assert rules[1].access == "rw"  # kept in the kernel's m, r, w order


def test_last_match_wins_per_access_bit() -> None:
    rules = [dr(False), dr(True, "c", 1, 5, "rwm"), dr(False, "c", 1, 5, "w"),
             dr(True, "c", 1, 3, "r")]
    assert allowed(rules, "c", 1, 5, "r")
    assert not allowed(rules, "c", 1, 5, "w")
    assert not allowed(rules, "c", 1, 5, "rw")  # an O_RDWR open needs both bits
    assert allowed(rules, "c", 1, 3, "r") and not allowed(rules, "c", 1, 3, "w")
    assert not allowed(rules, "b", 1, 5, "r")
    assert not allowed([], "c", 1, 3, "r")  # an empty list is an empty allowlist
    # A later wildcard deny overrides an earlier specific allow, and vice versa.
    assert not allowed([dr(True, "c", 1, 3), dr(False, "c")], "c", 1, 3, "r")
    assert allowed([dr(False, "c", 1, 3), dr(True)], "c", 1, 3, "r")


def test_per_bit_prunes_what_a_wildcard_overrides() -> None:
    rules = [dr(True, "c", 9, 9), dr(False), dr(True, "c", 1, 3, "r"), dr(False, "c", 7, 7, "r")]
    pb = per_bit(rules)
    assert pb["w"] == (False, [])
    # Last first; the later deny stays (it could override a wider allow in general).
    assert pb["r"] == (False, [dr(False, "c", 7, 7, "r"), dr(True, "c", 1, 3, "r")])
    # The earliest rules decide only when nothing later matches: one agreeing with the
    # default is dropped.
    assert per_bit([dr(False), dr(False, "c", 7, 7, "r"), dr(True, "c", 1, 3, "r")])["r"] == (
        False, [dr(True, "c", 1, 3, "r")])
    assert per_bit([dr(False), dr(True), dr(False, "b", 8, 0, "w")])["w"] == (
        True, [dr(False, "b", 8, 0, "w")])


def test_compile_v1_writes_in_order() -> None:
    rules = normalize([
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
        {"allow": True, "type": "c", "major": 136, "access": "rwm"},
        {"allow": False, "access": "m"},  # type "a", partial: "a" alone would mean everything
        {"allow": True, "type": "b", "minor": 0, "access": "r"},
    ])
    assert compile_v1(rules) == [
        ("devices.deny", "a"), ("devices.deny", "a"),
        ("devices.allow", "c 1:3 rw"), ("devices.allow", "c 136:* mrw"),
        ("devices.deny", "c *:* m"), ("devices.deny", "b *:* m"),
        ("devices.allow", "b *:0 r"),
    ]
    assert compile_v1(normalize([{"allow": True}])) == [("devices.deny", "a"),
                                                         ("devices.allow", "a")]


def _run_bpf(code: bytes, access_type: int, major: int, minor: int) -> int:
    """Interpret the opcodes build_program emits, as the kernel would."""
    insns = [struct.unpack_from("<BBhi", code, off) for off in range(0, len(code), 8)]
    ctx = struct.pack("<III", access_type, major, minor)
    regs = [0] * 11
    mask = (1 << 64) - 1
    pc = 0
    while True:
        op, regs_byte, off, imm = insns[pc]
        dst, src = regs_byte & 0xF, regs_byte >> 4
        pc += 1
        imm64 = imm & mask  # immediates are sign-extended to 64 bits
        if op == 0x61:
            assert src == 1
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0xBF:
            regs[dst] = regs[src]
        elif op == 0xB7:
            regs[dst] = imm64
        elif op == 0x57:
            regs[dst] &= imm64
        elif op == 0x77:
            regs[dst] >>= imm
        elif op == 0x05:
            pc += off
        elif op == 0x55:
            pc += off if regs[dst] != imm64 else 0
        elif op == 0x45:
            pc += off if regs[dst] & imm64 else 0
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
        assert 0 <= pc < len(insns)


def _reachable(code: bytes) -> set[int]:
    """Instructions the verifier would reach (it rejects programs with dead code)."""
    insns = [struct.unpack_from("<BBhi", code, off) for off in range(0, len(code), 8)]
    seen: set[int] = set()
    todo = [0]
    while todo:
        pc = todo.pop()
        if pc in seen:
            continue
        seen.add(pc)
        op, _, off, _ = insns[pc]
        if op == 0x95:
            continue
        assert off >= 0, "backward jump"
        if op == 0x05:
            todo.append(pc + 1 + off)
        elif op in (0x55, 0x45):
            todo += [pc + 1, pc + 1 + off]
        else:
            todo.append(pc + 1)
    return seen


ACCESS_SETS = ["".join(c) for n in (1, 2, 3) for c in combinations("mrw", n)]
DEVICES = [(t, maj, mnr) for t in "bc" for maj in (1, 2, 3) for mnr in (3, 5, 6)]


def _check_program(rules: list[DeviceRule]) -> None:
    code = devices_bpf.encode(devices_bpf.build_program(rules))
    assert _reachable(code) == set(range(len(code) // 8))
    for dev_type, major, minor in DEVICES:
        for access in ACCESS_SETS:
            bits = sum(devices_bpf.DEVCG_ACC[c] for c in access)
            access_type = (bits << 16) | devices_bpf.DEVCG_DEV[dev_type]
            got = _run_bpf(code, access_type, major, minor) == 1
            want = allowed(rules, dev_type, major, minor, access)
            assert got == want, (rules, dev_type, major, minor, access)


def test_bpf_program_matches_the_reference_on_fixed_lists() -> None:
    for rules in ([], [dr(True)], [dr(False)], [dr(False), dr(True, "c", 1, 3, "r")],
                  [dr(True), dr(False, "c", 1, 5, "w")],
                  [dr(False), dr(True, "c", 1, 5), dr(False, "c", 1, 5, "w"), dr(True, "b")]):
        _check_program(rules)


def test_bpf_program_matches_the_reference_on_random_lists() -> None:
    rng = random.Random(20240601)
    for _ in range(300):
        rules = [dr(rng.random() < 0.5, rng.choice("abc"), rng.choice([None, 1, 2]),
                   rng.choice([None, 3, 5]), rng.choice(ACCESS_SETS))
                 for _ in range(rng.randrange(0, 8))]
        _check_program(rules)
