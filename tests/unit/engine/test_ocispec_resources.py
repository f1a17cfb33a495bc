"""Resources, ulimits, sysctls and devices: Docker's checks and the OCI fields they fill."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cove.engine.ocispec import parse_create_request
from cove.engine.ocispec.devices import device_cgroup_rule, host_devices, mapped_devices
from cove.engine.ocispec.host import HostInfo, format_cpu_list, parse_cpu_list
from cove.engine.ocispec.resources import build_resources, build_rlimits
from cove.engine.ocispec.sysctls import check_sysctls
from cove.errors import InvalidArgument

HOST = HostInfo(online_cpus=frozenset({0, 1, 2, 3}), online_mems=frozenset({0}))
MB = 1024 * 1024


def resources(**fields: Any) -> dict[str, Any]:
    req = parse_create_request({"HostConfig": fields})
    return build_resources(req.host_config.resources, HOST)


def test_memory() -> None:
    assert resources(Memory=10 * MB) == {"memory": {"limit": 10 * MB, "swap": 20 * MB}}
    assert resources(Memory=10 * MB, MemorySwap=-1)["memory"]["swap"] == -1
    assert resources(Memory=10 * MB, MemorySwap=30 * MB)["memory"]["swap"] == 30 * MB
    assert resources(Memory=10 * MB, MemoryReservation=8 * MB,
                     MemorySwappiness=10)["memory"] == {
        "limit": 10 * MB, "swap": 20 * MB, "reservation": 8 * MB, "swappiness": 10}
    assert resources(MemorySwappiness=-1) == {}
    no_swap = HostInfo(swap_limit_supported=False)
    req = parse_create_request({"HostConfig": {"Memory": 10 * MB}})
    assert build_resources(req.host_config.resources, no_swap) == {"memory": {"limit": 10 * MB}}


@pytest.mark.parametrize(("fields", "message"), [
    ({"Memory": -5}, r"invalid HostConfig.Memory: -5 \(must be >= 0\)"),
    ({"Memory": 4 * MB}, "Minimum memory limit allowed is 6MB"),
    ({"MemoryReservation": MB}, "Minimum memory reservation allowed is 6MB"),
    ({"MemorySwap": 10 * MB}, "You should always set the Memory limit when using Memoryswap"),
    ({"Memory": 20 * MB, "MemorySwap": 10 * MB},
     "Minimum memoryswap limit should be larger than memory limit"),
    ({"Memory": 10 * MB, "MemoryReservation": 20 * MB},
     "Minimum memory limit can not be less than memory reservation limit"),
    ({"MemorySwap": -2}, "invalid HostConfig.MemorySwap: -2"),
    ({"MemorySwappiness": 101}, "valid memory swappiness range is 0-100"),
    ({"NanoCpus": 1_000_000_000, "CpuPeriod": 100000},
     "conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 1_000_000_000, "CpuQuota": 50000},
     "conflicting options: Nano CPUs and CPU Quota cannot both be set"),
    ({"NanoCpus": 5_000_000_000},
     r"range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs available"),
    ({"NanoCpus": 1000}, "range of CPUs is from 0.01"),
    ({"CpuPeriod": 500}, "CPU cfs period can not be less than 1ms"),
    ({"CpuQuota": 500}, "CPU cfs quota can not be less than 1ms"),
    ({"CpuShares": -1}, "invalid HostConfig.CpuShares: -1"),
    ({"CpusetCpus": "0-7"}, "Requested CPUs are not available - requested 0-7, available: 0-3"),
    ({"CpusetCpus": "a"}, "Invalid value a for cpuset cpus"),
    ({"CpusetMems": "1"}, "Requested memory nodes are not available - requested 1, "
                          "available: 0"),
    ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
    ({"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 2000},
     "cpu-rt-runtime cannot be higher than cpu-rt-period"),
])
def test_resource_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resources(**fields)


def test_cpu() -> None:
    assert resources(NanoCpus=500_000_000)["cpu"] == {"period": 100000, "quota": 50000}
    assert resources(CpuPeriod=50000, CpuQuota=25000, CpuShares=1024,
                     CpusetCpus="1,3", CpusetMems="0")["cpu"] == {
        "shares": 1024, "period": 50000, "quota": 25000, "cpus": "1,3", "mems": "0"}


def test_cpu_shares_clamped() -> None:
    assert resources(CpuShares=1)["cpu"] == {"shares": 2}
    assert resources(CpuShares=1 << 20)["cpu"] == {"shares": 262144}


@pytest.mark.parametrize(("limit", "expected"), [
    (None, None), (0, None), (-1, None), (10, {"limit": 10})])
def test_pids(limit: int | None, expected: dict[str, int] | None) -> None:
    assert resources(PidsLimit=limit).get("pids") == expected


def test_cpu_list_round_trip() -> None:
    assert parse_cpu_list("0-2,5,7-8") == frozenset({0, 1, 2, 5, 7, 8})
    assert format_cpu_list(frozenset({0, 1, 2, 5, 7, 8})) == "0-2,5,7-8"
    for bad in ("", "1-", "3-1", "x", "1,,2"):
        with pytest.raises(ValueError, match=r".*"):
            parse_cpu_list(bad)


def test_ulimits() -> None:
    req = parse_create_request({"HostConfig": {"Ulimits": [
        {"Name": "nproc", "Soft": 10, "Hard": 20}, {"Name": "CORE", "Soft": -1, "Hard": -1}]}})
    assert build_rlimits(req.host_config.resources.ulimits) == [
        {"type": "RLIMIT_NPROC", "soft": 10, "hard": 20},
        {"type": "RLIMIT_CORE", "soft": (1 << 64) - 1, "hard": (1 << 64) - 1},
        {"type": "RLIMIT_NOFILE", "soft": 1048576, "hard": 1048576}]
    req = parse_create_request({"HostConfig": {"Ulimits": [
        {"Name": "nofile", "Soft": 100, "Hard": 200}]}})
    assert build_rlimits(req.host_config.resources.ulimits) == [
        {"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]
    assert build_rlimits((), nofile_max=4096)[0]["soft"] == 4096


@pytest.mark.parametrize(("ulimits", "message"), [
    ([{"Name": "bogus", "Soft": 1, "Hard": 1}], "invalid ulimit type: bogus"),
    ([{"Name": "nofile", "Soft": 10, "Hard": 5}],
     "ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
    ([{"Name": "nofile", "Soft": 1, "Hard": 1}, {"Name": "nofile", "Soft": 1, "Hard": 1}],
     "duplicate ulimit nofile"),
])
def test_ulimit_errors(ulimits: list[dict[str, Any]], message: str) -> None:
    req = parse_create_request({"HostConfig": {"Ulimits": ulimits}})
    with pytest.raises(InvalidArgument, match=message):
        build_rlimits(req.host_config.resources.ulimits)


def test_sysctls_namespaced_only() -> None:
    allowed = {"kernel.shmmax": "1", "kernel.msgmax": "2", "kernel.sem": "1 2 3 4",
               "fs.mqueue.msg_max": "5", "net.ipv4.ip_forward": "1",
               "net/ipv4/ping_group_range": "0 0"}
    out = check_sysctls(allowed, own_netns=True, own_ipcns=True)
    assert out["net.ipv4.ping_group_range"] == "0 0"
    assert len(out) == 6


@pytest.mark.parametrize(("key", "netns", "ipcns", "message"), [
    ("kernel.pid_max", True, True, "sysctl 'kernel.pid_max' is not allowed"),
    ("vm.swappiness", True, True, "sysctl 'vm.swappiness' is not allowed"),
    ("kernel.hostname", True, True, "sysctl 'kernel.hostname' is not allowed"),
    ("fs.file-max", True, True, "is not allowed"),
    ("net.ipv4.ip_forward", False, True, "is not allowed in the hosts network namespace"),
    ("kernel.shmmax", True, False, "is not allowed in the hosts ipc namespace"),
    ("fs.mqueue.msg_max", True, False, "is not allowed in the hosts ipc namespace"),
])
def test_sysctl_errors(key: str, netns: bool, ipcns: bool, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        check_sysctls({key: "1"}, own_netns=netns, own_ipcns=ipcns)


@pytest.mark.parametrize(("text", "rule"), [
    ("c 1:3 rwm", {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}),
    ("b *:* m", {"allow": True, "type": "b", "access": "m"}),
    ("a 7:* r", {"allow": True, "type": "a", "major": 7, "access": "r"}),
])
def test_device_cgroup_rules(text: str, rule: dict[str, Any]) -> None:
    assert device_cgroup_rule(text, 0) == rule


@pytest.mark.parametrize("text", ["c 1:3", "x 1:3 rwm", "c 1:3 rwx", "c a:3 r", "c 1:3 rr",
                                  " c 1:3 r"])
def test_bad_device_cgroup_rule(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid device cgroup format"):
        device_cgroup_rule(text, 0)


def _mapping(host: str, container: str = "", perms: str = "") -> Any:
    req = parse_create_request({"HostConfig": {"Devices": [
        {"PathOnHost": host, "PathInContainer": container, "CgroupPermissions": perms}]}})
    return req.host_config.resources.devices


def test_mapped_device_reads_host_node() -> None:
    nodes, rules = mapped_devices(_mapping("/dev/null", "/dev/mynull", "rw"))
    st = os.stat("/dev/null")
    assert nodes == [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                      "fileMode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}]
    assert rules == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    nodes, rules = mapped_devices(_mapping("/dev/zero"))
    assert nodes[0]["path"] == "/dev/zero" and rules[0]["access"] == "rwm"


def test_mapped_device_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidArgument, match="not a device node"):
        mapped_devices(_mapping(str(tmp_path / "file")))
    with pytest.raises(InvalidArgument, match="error gathering device information"):
        mapped_devices(_mapping("/dev/no-such-device"))
    with pytest.raises(InvalidArgument, match="invalid device mode: rwx"):
        mapped_devices(_mapping("/dev/null", perms="rwx"))
    with pytest.raises(InvalidArgument, match="must be an absolute path"):
        mapped_devices(_mapping("dev/null"))


def test_host_devices_skip_pts_and_console() -> None:
    devices = host_devices("/dev")
    paths = {d["path"] for d in devices}
    assert "/dev/null" in paths
    assert "/dev/console" not in paths
    assert not any(p.startswith(("/dev/pts/", "/dev/shm/", "/dev/mqueue/")) for p in paths)


def test_probe_reads_this_host() -> None:
    host = HostInfo.probe()
    assert host.machine == os.uname().machine and host.hostname == os.uname().nodename
    assert host.ncpu >= 1 and 0 < host.nofile_max <= 1 << 30
    assert host.capability_available(0) or host.bounding_caps == 0
    assert not host.capability_available(host.cap_last_cap + 1)
