"""Specs built by cove.engine.ocispec, run by cove-runtime on the real kernel.

The container reports what it sees (capabilities, ids, env, cwd, rlimit, a write to
the read-only rootfs, an unshare blocked by seccomp) on stdout; the test checks it.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from cove.engine.ocispec import (
    DEFAULT_CAPABILITIES,
    SpecOptions,
    build_spec,
    parse_create_request,
    parse_image_config,
)
from cove.engine.ocispec.host import HostInfo
from cove.linux.capabilities import CAPABILITIES
from tests.helpers import SPECS, Runtime
from tests.schema import validator

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
]

_SCRIPT = (
    "grep CapEff /proc/self/status; id -u; id -g; pwd; echo ENV_A=$A; ulimit -n; "
    "if touch /rootfs-write-probe 2>/dev/null; then echo RW; else echo RO; fi; "
    "if unshare -m true 2>/dev/null; then echo UNSHARE_OK; else echo UNSHARE_BLOCKED; fi; "
    "hostname"
)


def _cap_mask(names: tuple[str, ...] | list[str]) -> int:
    return sum(1 << CAPABILITIES[n] for n in names)


def _run(runtime: Runtime, tmp_path: Path, spec: dict[str, Any]) -> tuple[int, str]:
    cid = f"ocispec-test-{uuid.uuid4().hex[:10]}"
    bundle = tmp_path / cid
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(spec))
    with open(runtime.out_path(cid), "wb") as out:
        res = runtime.run("run", "--bundle", str(bundle), cid, check=False, stdout=out,
                          stderr=out, timeout=60)
    runtime.run("delete", "--force", cid, check=False)
    return res.returncode, runtime.output(cid)


@pytest.fixture
def rootfs(private_rootfs: Path) -> Path:
    etc = private_rootfs / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                "app:x:1234:2345:app:/home/app:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\napp:x:2345:\nextra:x:3456:app\n")
    (private_rootfs / "work").mkdir()
    return private_rootfs


def _build(rootfs: Path, body: dict[str, Any], cid: str = "ocispec0123456789") -> Any:
    request = parse_create_request(body)
    image = parse_image_config({"Env": ["PATH=/bin:/usr/bin", "A=image"],
                                "Cmd": ["sh", "-c", "exit 3"], "WorkingDir": "/work"})
    built = build_spec(request, image, SpecOptions(
        rootfs=str(rootfs), container_id=cid,
        cgroup_parent=f"/ocispec-test-{uuid.uuid4().hex[:8]}", host=HostInfo.probe()))
    errors = sorted(validator("config-schema.json").iter_errors(built.spec), key=str)
    assert not errors, errors[0]
    return built


def test_default_container_sees_docker_defaults(runtime: Runtime, tmp_path: Path,
                                                rootfs: Path) -> None:
    built = _build(rootfs, {
        "User": "app", "Env": ["A=request"], "Hostname": "probe",
        "Cmd": ["sh", "-c", _SCRIPT],
        "HostConfig": {"ReadonlyRootfs": True,
                       "Ulimits": [{"Name": "nofile", "Soft": 4096, "Hard": 8192}]},
    })
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    lines = out.split()
    # A non-root user keeps no effective capabilities across execve (no ambient set).
    assert "CapEff:" in lines and lines[lines.index("CapEff:") + 1] == "0000000000000000"
    assert lines[2:10] == ["1234", "2345", "/work", "ENV_A=request", "4096", "RO",
                           "UNSHARE_BLOCKED", "probe"], out


def test_root_container_caps_and_seccomp(runtime: Runtime, tmp_path: Path,
                                         rootfs: Path) -> None:
    built = _build(rootfs, {"Cmd": ["sh", "-c", _SCRIPT],
                            "HostConfig": {"CapAdd": ["sys_admin"], "CapDrop": ["NET_RAW"]}})
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    expected = [c for c in DEFAULT_CAPABILITIES if c != "CAP_NET_RAW"] + ["CAP_SYS_ADMIN"]
    # Docker's 1048576, unless this host (no CAP_SYS_RESOURCE here) cannot raise that far.
    nofile = min(1048576, HostInfo.probe().nofile_max)
    lines = out.split()
    assert int(lines[1], 16) == _cap_mask(expected)
    # With CAP_SYS_ADMIN the profile allows unshare; the rootfs is writable; nofile default.
    assert lines[2:10] == ["0", "0", "/work", "ENV_A=image", str(nofile), "RW", "UNSHARE_OK",
                           "ocispec01234"], out


def test_default_root_container_cannot_unshare(runtime: Runtime, tmp_path: Path,
                                               rootfs: Path) -> None:
    built = _build(rootfs, {"Cmd": ["sh", "-c", _SCRIPT]})
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    lines = out.split()
    assert int(lines[1], 16) == _cap_mask(DEFAULT_CAPABILITIES)
    assert "UNSHARE_BLOCKED" in lines, out


def _status(out: str, key: str) -> str:
    line = next(x for x in out.splitlines() if x.startswith(key + ":"))
    return line.split(":", 1)[1].strip()


_STATUS_SCRIPT = "cat /proc/self/status; echo GROUPS=$(id -G); mount"


def test_groups_no_new_privs_and_seccomp_mode(runtime: Runtime, tmp_path: Path,
                                             rootfs: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "marker").write_text("hello")
    built = _build(rootfs, {
        "User": "app", "Cmd": ["sh", "-c", _STATUS_SCRIPT + "; cat /data/marker"],
        "HostConfig": {"GroupAdd": ["4444"], "SecurityOpt": ["no-new-privileges"],
                       "Binds": [f"{data}:/data:ro"], "Tmpfs": {"/scratch": "size=1m"}},
    })
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    assert _status(out, "NoNewPrivs") == "1"
    assert _status(out, "Seccomp") == "2"  # filter mode
    assert "GROUPS=2345 3456 4444" in out
    assert " on /scratch type tmpfs " in out and out.rstrip().endswith("hello")


def test_privileged_has_every_capability_and_no_filter(runtime: Runtime, tmp_path: Path,
                                                        rootfs: Path) -> None:
    built = _build(rootfs, {"Cmd": ["sh", "-c", _STATUS_SCRIPT],
                            "HostConfig": {"Privileged": True}})
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    assert int(_status(out, "CapEff"), 16) == _cap_mask(list(built.capabilities))
    assert _status(out, "Seccomp") == "0"
    assert "sysfs on /sys type sysfs (rw" in out


# Everyday work a default container must be able to do under Cove's profile: processes,
# pipes, files, links, modes, time, /proc, sockets on loopback.
_WORKLOAD = (
    "set -e; ls / >/dev/null; date >/dev/null; mkdir -p /tmp/w; cd /tmp/w; "
    "echo data >f; chmod 600 f; chown 1234:2345 f; ln -s f l; ln f h; mv h h2; "
    "cat l | md5sum >/dev/null; sleep 0.05 & wait; ps >/dev/null; "
    "dd if=/dev/urandom of=r bs=1k count=4 2>/dev/null; sync; rm -rf /tmp/w; "
    "(nc -l -p 7777 -s 127.0.0.1 >/tmp/got &) ; sleep 0.2; "
    "echo hi | nc 127.0.0.1 7777 || true; ip link set lo up 2>/dev/null || true; "
    "echo WORKLOAD_OK"
)


def test_everyday_workload_passes_the_default_profile(runtime: Runtime, tmp_path: Path,
                                                      rootfs: Path) -> None:
    built = _build(rootfs, {"Cmd": ["sh", "-c", _WORKLOAD]})
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0 and "WORKLOAD_OK" in out, out


def test_dockers_own_profile_as_seccomp_option(runtime: Runtime, tmp_path: Path,
                                               rootfs: Path) -> None:
    profile = (SPECS / "seccomp-default-profile.json").read_text()
    built = _build(rootfs, {"Cmd": ["sh", "-c", _SCRIPT],
                            "HostConfig": {"SecurityOpt": [f"seccomp={profile}"]}})
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    assert "UNSHARE_BLOCKED" in out.split(), out


_LATENCY = Path("/dev/cpu_dma_latency")  # 10:259, readable (4 bytes), not a default device


def _device_request(rootfs: Path, script: str) -> Any:
    return _build(rootfs, {"Cmd": ["sh", "-c", script], "HostConfig": {
        "Devices": [{"PathOnHost": str(_LATENCY), "PathInContainer": "/dev/lat",
                     "CgroupPermissions": "r"}],
        "Sysctls": {"kernel.shmmni": "1234", "net.ipv4.ip_unprivileged_port_start": "80"}}})


@pytest.mark.skipif(not _LATENCY.exists(), reason="no /dev/cpu_dma_latency on this host")
def test_devices_and_sysctls(runtime: Runtime, tmp_path: Path, rootfs: Path) -> None:
    script = ("head -c 4 /dev/lat | wc -c; cat /proc/sys/kernel/shmmni; "
              "cat /proc/sys/net/ipv4/ip_unprivileged_port_start; "
              "mknod /tmp/other c 1 11; head -c 4 /tmp/other 2>&1 | grep -c 'not permitted'")
    built = _device_request(rootfs, script)
    assert {"allow": True, "type": "c", "major": 10, "minor": 259, "access": "r"} in \
        built.spec["linux"]["resources"]["devices"]
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 0, out
    # The mapped node reads; the sysctls are set; a node the container makes itself for
    # a device nobody allowed cannot be opened (the devices cgroup's "deny all").
    assert out.split() == ["4", "1234", "80", "1"], out


@pytest.mark.skipif(not _LATENCY.exists(), reason="no /dev/cpu_dma_latency on this host")
def test_read_only_device_cannot_be_written(runtime: Runtime, tmp_path: Path,
                                            rootfs: Path) -> None:
    built = _device_request(rootfs, "echo 0 > /dev/lat")
    code, out = _run(runtime, tmp_path, built.spec)
    assert code != 0 and "Operation not permitted" in out, out


_TINI = Path("/usr/bin/tini-static")


@pytest.mark.skipif(not _TINI.exists(), reason="no static tini (Debian package tini)")
def test_init_runs_as_pid_one_on_a_read_only_rootfs(runtime: Runtime, tmp_path: Path,
                                                   rootfs: Path) -> None:
    request = parse_create_request({
        "Cmd": ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 7"],
        "HostConfig": {"Init": True, "ReadonlyRootfs": True}})
    built = build_spec(request, parse_image_config({}), SpecOptions(
        rootfs=str(rootfs), container_id="ocispecinit0123", init_path=str(_TINI),
        cgroup_parent=f"/ocispec-test-{uuid.uuid4().hex[:8]}", host=HostInfo.probe()))
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 7, out  # tini passes the exit status on
    assert "/sbin/docker-init -- sh -c" in out, out


def test_image_cmd_exit_code(runtime: Runtime, tmp_path: Path, rootfs: Path) -> None:
    built = _build(rootfs, {})
    code, out = _run(runtime, tmp_path, built.spec)
    assert code == 3, out
