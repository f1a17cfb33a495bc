"""exec: a second process in the container's namespaces, cgroup and security settings."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Runtime, base_config


@pytest.fixture
def running(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> str:
    cfg = base_config(["sleep", "60"], env=["PATH=/bin", "FROM_CONFIG=1"])
    cfg["hostname"] = "exec-host"
    runtime.create(cid, make_bundle(cfg))
    runtime.run("start", cid)
    return cid


def test_exec_sees_container(runtime: Runtime, running: str) -> None:
    res = runtime.run("exec", running, "sh", "-c",
                      "hostname; echo $FROM_CONFIG; ps -o pid,comm | grep -c sleep; "
                      "ls /sys/class/net")
    assert res.stdout.decode().split() == ["exec-host", "1", "1", "lo"]
    pid = runtime.state(running)["pid"]
    assert res.returncode == 0
    assert pid > 0


def test_exec_exit_code_and_flags(runtime: Runtime, running: str) -> None:
    res = runtime.run("exec", "--cwd", "/tmp", "--env", "A=b", "--user", "1000:1000", running,
                      "sh", "-c", 'echo "$(pwd) $A $(id -u):$(id -g)"; exit 5', check=False)
    assert res.returncode == 5
    assert res.stdout.decode().strip() == "/tmp b 1000:1000"


def test_exec_process_json(runtime: Runtime, running: str, tmp_path: Path) -> None:
    proc = {"args": ["sh", "-c", "echo $X; id -u"], "env": ["X=from-json", "PATH=/bin"],
            "cwd": "/", "user": {"uid": 65534, "gid": 65534}}
    path = tmp_path / "process.json"
    path.write_text(json.dumps(proc))
    res = runtime.run("exec", "--process", str(path), running)
    assert res.stdout.decode().split() == ["from-json", "65534"]


def test_exec_in_same_cgroup(runtime: Runtime, running: str) -> None:
    pid = runtime.state(running)["pid"]
    res = runtime.run("exec", running, "cat", "/proc/self/cgroup")
    with open(f"/proc/{pid}/cgroup") as f:
        init_cgroups = f.read()
    assert res.stdout.decode() == init_cgroups


def test_exec_detach_pid_file(runtime: Runtime, running: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "exec.pid"
    runtime.detached("exec", "--detach", "--pid-file", str(pid_file), running, "sleep", "30",
                     cid=running)
    pid = int(pid_file.read_text())
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert f.read().split(b"\0")[0] == b"sleep"
    ps = json.loads(runtime.run("ps", "--format", "json", running).stdout)
    assert pid in ps


def test_exec_missing_binary(runtime: Runtime, running: str) -> None:
    res = runtime.run("exec", running, "no-such-thing", check=False)
    assert res.returncode != 0
    assert b"executable file not found" in res.stderr


def test_exec_in_stopped_container(runtime: Runtime, make_bundle: Callable[..., Path],
                                   cid: str) -> None:
    runtime.create(cid, make_bundle(base_config(["true"])))
    runtime.run("start", cid)
    runtime.wait_stopped(cid)
    res = runtime.run("exec", cid, "true", check=False)
    assert res.returncode != 0 and b"stopped" in res.stderr


def test_exec_applies_seccomp(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                              ) -> None:
    cfg = base_config(["sleep", "60"])
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13}],
    }
    runtime.create(cid, make_bundle(cfg))
    runtime.run("start", cid)
    res = runtime.run("exec", cid, "sh", "-c", "mkdir /tmp/d 2>&1; echo rc=$?", check=False)
    out = res.stdout.decode()
    assert "Permission denied" in out and "rc=1" in out
    assert os.path.exists("/proc/self")


def test_exec_into_user_namespace(runtime: Runtime, make_bundle: Callable[..., Path],
                                  cid: str) -> None:
    cfg = base_config(["sleep", "30"])
    cfg["linux"]["namespaces"].append({"type": "user"})
    cfg["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 65536}]
    cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] != "/sys"]
    runtime.create(cid, make_bundle(cfg))
    runtime.run("start", cid)
    res = runtime.run("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map")
    lines = [" ".join(line.split()) for line in res.stdout.decode().splitlines()]
    assert lines == ["0", "0 300000 65536"]
    pid = runtime.state(cid)["pid"]
    assert os.stat(f"/proc/{pid}").st_uid == 300000
