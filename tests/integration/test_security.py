"""Seccomp and terminal handling in real containers."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers import SPECS, Runtime, base_config
from tests.seccomp_util import docker_profile


def test_seccomp_errno_and_args(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                                ) -> None:
    cfg = base_config(["sh", "-c", "mkdir /tmp/x 2>&1; echo mk=$?; nice -n 5 true; echo n=$?"])
    cfg["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            # setpriority(which=PRIO_PROCESS(0), ...) refused only with that argument
            {"names": ["setpriority"], "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
        ],
    }
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "Operation not permitted" in out and "mk=1" in out
    assert "n=0" not in out


def test_docker_default_profile(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                                ) -> None:
    assert (SPECS / "seccomp-default-profile.json").exists()
    seccomp = docker_profile()
    cfg = base_config(["sh", "-c", "echo works; unshare -m true 2>&1; echo u=$?"])
    cfg["linux"]["seccomp"] = seccomp
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "works" in out
    assert "u=0" not in out


def test_console_socket(runtime: Runtime, make_bundle: Callable[..., Path], tmp_path: Path,
                        cid: str) -> None:
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    try:
        cfg = base_config(["sh", "-c", "tty; echo TERM=$TERM; sleep 0.2"], terminal=True)
        runtime.create(cid, make_bundle(cfg), "--console-socket", sock_path)
        conn, _ = server.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        conn.close()
        assert len(fds) == 1
        master = fds[0]
        runtime.run("start", cid)
        data = b""
        deadline = time.monotonic() + 5
        while b"TERM=" not in data and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data += os.read(master, 1024)
                except OSError:
                    break
        os.close(master)
        text = data.decode()
        assert "/dev/pts/0" in text or "/dev/console" in text
        assert "TERM=xterm" in text
    finally:
        server.close()


def test_terminal_requires_console_socket(runtime: Runtime, make_bundle: Callable[..., Path],
                                          cid: str) -> None:
    res = runtime.create(cid, make_bundle(base_config(["true"], terminal=True)), check=False)
    assert res.returncode != 0
    assert "console-socket" in runtime.output(cid)
    assert not (runtime.root / cid).exists()


def test_memory_limit_cgroup(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                             ) -> None:
    cfg = base_config(["sleep", "30"])
    cfg["linux"]["cgroupsPath"] = f"/cove-test/{cid}"
    cfg["linux"]["resources"] = {"memory": {"limit": 64 * 1024 * 1024},
                                 "pids": {"limit": 50}}
    runtime.create(cid, make_bundle(cfg))
    pid = runtime.state(cid)["pid"]
    if os.path.isdir("/sys/fs/cgroup/memory"):
        limit = Path(f"/sys/fs/cgroup/memory/cove-test/{cid}/memory.limit_in_bytes")
        pids_max = Path(f"/sys/fs/cgroup/pids/cove-test/{cid}/pids.max")
    else:
        limit = Path(f"/sys/fs/cgroup/cove-test/{cid}/memory.max")
        pids_max = Path(f"/sys/fs/cgroup/cove-test/{cid}/pids.max")
    assert int(limit.read_text()) == 64 * 1024 * 1024
    assert pids_max.read_text().strip() == "50"
    assert f"/cove-test/{cid}" in Path(f"/proc/{pid}/cgroup").read_text()
    runtime.run("delete", "--force", cid)
    assert not limit.parent.exists()


def test_device_cgroup_deny_all_keeps_default_devices(runtime: Runtime,
                                                      make_bundle: Callable[..., Path],
                                                      cid: str) -> None:
    script = ("echo x > /dev/null && echo null-ok; head -c1 /dev/urandom >/dev/null && "
              "echo urandom-ok; mknod /tmp/disk b 8 0 2>&1 || echo mknod-denied")
    cfg = base_config(["sh", "-c", script])
    cfg["process"]["capabilities"] = {k: ["CAP_MKNOD", "CAP_CHOWN"]
                                      for k in ("bounding", "effective", "permitted")}
    cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "null-ok" in out and "urandom-ok" in out
    assert "mknod-denied" in out


def test_seccomp_notify_listener_gets_the_fd(runtime: Runtime,
                                             make_bundle: Callable[..., Path],
                                             tmp_path: Path, cid: str) -> None:
    import json

    sock_path = str(tmp_path / "agent.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    server.settimeout(10)
    try:
        cfg = base_config(["sh", "-c", "mkdir /tmp/x 2>&1; echo rc=$?"])
        cfg["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock_path,
            "listenerMetadata": "meta-1",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
        }
        runtime.create(cid, make_bundle(cfg))
        runtime.run("start", cid)
        conn, _ = server.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 65536, 1)
        conn.close()
        state = json.loads(msg)
        assert state["fds"] == ["seccompFd"] and state["metadata"] == "meta-1"
        assert state["state"]["id"] == cid and len(fds) == 1
        os.close(fds[0])  # no agent: the notified syscall then fails
        assert runtime.wait_stopped(cid)["status"] == "stopped"
        out = runtime.output(cid)
        assert "rc=0" not in out and "rc=" in out
    finally:
        server.close()


def test_run_with_terminal_proxies_the_pty(runtime: Runtime, make_bundle: Callable[..., Path],
                                           cid: str) -> None:
    cfg = base_config(["sh", "-c", "tty; echo hi-from-tty; exit 4"], terminal=True)
    res = runtime.run("run", "--bundle", str(make_bundle(cfg)), cid, check=False,
                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    out = res.stdout.decode()
    assert res.returncode == 4, res.stderr
    assert "hi-from-tty" in out and "/dev/" in out and "not a tty" not in out


def test_exec_tty(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    runtime.create(cid, make_bundle(base_config(["sleep", "30"])))
    runtime.run("start", cid)
    res = runtime.run("exec", "-t", cid, "sh", "-c", "tty; echo on-tty", check=False,
                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    assert "/dev/pts/" in out and "on-tty" in out
