"""Namespaces: new ones, joined ones, user namespace id mappings, hostname."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.helpers import Runtime, base_config


def test_new_namespaces_differ_from_host(runtime: Runtime, make_bundle: Callable[..., Path],
                                         cid: str) -> None:
    cfg = base_config(["sleep", "30"])
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    runtime.create(cid, make_bundle(cfg))
    pid = runtime.state(cid)["pid"]
    for ns in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        assert os.readlink(f"/proc/{pid}/ns/{ns}") != os.readlink(f"/proc/self/ns/{ns}"), ns
    assert os.readlink(f"/proc/{pid}/ns/user") == os.readlink("/proc/self/ns/user")


def test_hostname_domainname_and_net(runtime: Runtime, make_bundle: Callable[..., Path],
                                     cid: str) -> None:
    cfg = base_config(["sh", "-c", "hostname; cat /proc/sys/kernel/domainname; ls /sys/class/net"])
    cfg["hostname"] = "box1"
    cfg["domainname"] = "example.test"
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert out.split() == ["box1", "example.test", "lo"]


def test_join_namespace_by_path(runtime: Runtime, make_bundle: Callable[..., Path],
                                cid: str) -> None:
    first = cid + "-a"
    runtime.create(first, make_bundle(base_config(["sleep", "30"])))
    pid = runtime.state(first)["pid"]
    cfg = base_config(["sleep", "30"])
    cfg["linux"]["namespaces"] = [
        {"type": "network", "path": f"/proc/{pid}/ns/net"},
        {"type": "uts", "path": f"/proc/{pid}/ns/uts"},
        {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
    ]
    del cfg["hostname"]
    second = cid + "-b"
    runtime.create(second, make_bundle(cfg))
    pid2 = runtime.state(second)["pid"]
    assert os.readlink(f"/proc/{pid2}/ns/net") == os.readlink(f"/proc/{pid}/ns/net")
    assert os.readlink(f"/proc/{pid2}/ns/uts") == os.readlink(f"/proc/{pid}/ns/uts")
    assert os.readlink(f"/proc/{pid2}/ns/pid") != os.readlink(f"/proc/{pid}/ns/pid")


def test_user_namespace_mappings(runtime: Runtime, make_bundle: Callable[..., Path],
                                 tmp_path: Path, busybox_rootfs: Path, cid: str) -> None:
    cfg = base_config(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u"])
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys"]
    out = runtime.run_to_end(cid, make_bundle(cfg))
    lines = [" ".join(line.split()) for line in out.strip().splitlines()]
    assert lines == ["0 200000 65536", "0 200000 65536", "0"]


def test_unknown_namespace_path(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                                ) -> None:
    cfg = base_config()
    cfg["linux"]["namespaces"].append({"type": "cgroup", "path": "/proc/nonexistent/ns/cgroup"})
    res = runtime.create(cid, make_bundle(cfg), check=False)
    assert res.returncode != 0
    assert "linux.namespaces" in runtime.output(cid)
    assert not (runtime.root / cid).exists()


def test_time_namespace_offsets(runtime: Runtime, make_bundle: Callable[..., Path],
                                cid: str) -> None:
    if not os.path.exists("/proc/self/ns/time"):
        import pytest

        pytest.skip("kernel without time namespaces")
    cfg = base_config(["cat", "/proc/uptime"])
    cfg["linux"]["namespaces"].append({"type": "time"})
    cfg["linux"]["timeOffsets"] = {"boottime": {"secs": 1000000, "nanosecs": 0},
                                   "monotonic": {"secs": 5, "nanosecs": 0}}
    out = runtime.run_to_end(cid, make_bundle(cfg))
    host_uptime = float(Path("/proc/uptime").read_text().split()[0])
    assert float(out.split()[0]) > host_uptime + 999000


def test_delete_force_of_a_create_that_died_early(runtime: Runtime, cid: str) -> None:
    (runtime.root / cid).mkdir(parents=True)
    assert runtime.run("delete", cid, check=False).returncode != 0
    runtime.run("delete", "--force", cid)
    assert not (runtime.root / cid).exists()


def test_net_devices_moved_in(runtime: Runtime, make_bundle: Callable[..., Path],
                              cid: str) -> None:
    import subprocess

    dev, peer = "cvt" + cid[-8:], "cvp" + cid[-8:]
    subprocess.run(["ip", "link", "add", dev, "type", "veth", "peer", "name", peer], check=True)
    try:
        cfg = base_config(["ls", "/sys/class/net"])
        cfg["linux"]["netDevices"] = {dev: {"name": "inner0"}}
        out = runtime.run_to_end(cid, make_bundle(cfg))
        assert sorted(out.split()) == ["inner0", "lo"]
    finally:
        subprocess.run(["ip", "link", "del", peer], check=False, capture_output=True)
        subprocess.run(["ip", "link", "del", dev], check=False, capture_output=True)


def test_net_devices_unknown_device(runtime: Runtime, make_bundle: Callable[..., Path],
                                    cid: str) -> None:
    cfg = base_config(["true"])
    cfg["linux"]["netDevices"] = {"nosuchdev0": {}}
    res = runtime.create(cid, make_bundle(cfg), check=False)
    assert res.returncode != 0
    assert "nosuchdev0" in runtime.output(cid)
    assert not (runtime.root / cid).exists()
