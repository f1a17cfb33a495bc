"""The OCI lifecycle through the CLI: create → start → stopped → delete, and its guards."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import SPECS, Runtime, base_config
from tests.schema import validator


def _eventually(check: Callable[[], object], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def cgroup_dirs(cid: str) -> list[str]:
    out = []
    for ctrl in os.listdir("/sys/fs/cgroup"):
        path = f"/sys/fs/cgroup/{ctrl}/cove/{cid}"
        if os.path.exists(path):
            out.append(path)
    return out


def test_create_start_delete(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                             ) -> None:
    bundle = make_bundle(base_config(["sh", "-c", "echo hello from $(hostname)"]))
    runtime.create(cid, bundle, "--pid-file", str(bundle / "pid"))
    st = runtime.state(cid)
    assert st["status"] == "created"
    assert st["id"] == cid and st["bundle"] == str(bundle)
    assert st["pid"] > 0
    assert int((bundle / "pid").read_text()) == st["pid"]
    validator("state-schema.json").validate(st)
    # The process exists and is waiting: nothing ran yet.
    assert os.path.exists(f"/proc/{st['pid']}")
    assert "hello" not in runtime.output(cid)
    runtime.run("start", cid)
    st = runtime.wait_stopped(cid)
    assert st["status"] == "stopped"
    validator("state-schema.json").validate(st)
    assert "hello from cove-test" in runtime.output(cid)
    runtime.run("delete", cid)
    res = runtime.run("state", cid, check=False)
    assert res.returncode != 0
    assert b"does not exist" in res.stderr
    assert not (runtime.root / cid).exists()
    assert cgroup_dirs(cid) == []


def test_running_state_and_guards(runtime: Runtime, make_bundle: Callable[..., Path],
                                  cid: str) -> None:
    bundle = make_bundle(base_config(["sleep", "30"]))
    runtime.create(cid, bundle)
    # delete of a created (not stopped) container must fail and change nothing
    res = runtime.run("delete", cid, check=False)
    assert res.returncode != 0
    assert runtime.state(cid)["status"] == "created"
    runtime.run("start", cid)
    assert runtime.state(cid)["status"] == "running"
    again = runtime.run("start", cid, check=False)
    assert again.returncode != 0 and b"running" in again.stderr
    res = runtime.run("delete", cid, check=False)
    assert res.returncode != 0 and b"not stopped" in res.stderr
    assert runtime.state(cid)["status"] == "running"
    runtime.run("kill", cid, "KILL")
    assert runtime.wait_stopped(cid)["status"] == "stopped"
    res = runtime.run("kill", cid, "TERM", check=False)
    assert res.returncode != 0
    runtime.run("delete", cid)


def test_delete_force_running(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                              ) -> None:
    runtime.create(cid, make_bundle(base_config(["sleep", "30"])))
    runtime.run("start", cid)
    pid = runtime.state(cid)["pid"]
    runtime.run("delete", "--force", cid)
    assert not os.path.exists(f"/proc/{pid}/exe") or \
        "Z" in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]
    assert not (runtime.root / cid).exists()
    assert cgroup_dirs(cid) == []


def test_kill_signal_names(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                           ) -> None:
    script = ("trap 'echo got-usr1; exit 7' USR1; touch /tmp/trapped; "
              "while true; do sleep 0.05; done")
    runtime.create(cid, make_bundle(base_config(["sh", "-c", script])))
    runtime.run("start", cid)
    pid = runtime.state(cid)["pid"]
    assert _eventually(lambda: os.path.exists(f"/proc/{pid}/root/tmp/trapped"))
    runtime.run("kill", cid, "SIGUSR1")
    assert runtime.wait_stopped(cid)["status"] == "stopped"
    assert "got-usr1" in runtime.output(cid)
    assert runtime.run("kill", cid, "NOPE", check=False).returncode != 0


def test_duplicate_id_rejected(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                               ) -> None:
    bundle = make_bundle(base_config(["sleep", "30"]))
    runtime.create(cid, bundle)
    pid = runtime.state(cid)["pid"]
    res = runtime.create(cid, bundle, check=False)
    assert res.returncode != 0
    assert "exists" in runtime.output(cid)
    assert runtime.state(cid)["pid"] == pid
    assert runtime.state(cid)["status"] == "created"


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", "-x", "with space"])
def test_invalid_ids(runtime: Runtime, make_bundle: Callable[..., Path], bad_id: str) -> None:
    bundle = make_bundle(base_config())
    res = runtime.run("create", "--bundle", str(bundle), bad_id, check=False)
    assert res.returncode != 0
    assert not runtime.root.exists() or os.listdir(runtime.root) == []


def test_run_foreground_exit_code(runtime: Runtime, make_bundle: Callable[..., Path],
                                  cid: str) -> None:
    bundle = make_bundle(base_config(["sh", "-c", "echo out; echo err >&2; exit 3"]))
    res = runtime.run("run", "--bundle", str(bundle), cid, check=False)
    assert res.returncode == 3
    assert res.stdout == b"out\n"
    assert b"err" in res.stderr
    assert not (runtime.root / cid).exists()


def test_run_killed_by_signal(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                              ) -> None:
    # Without a pid namespace the process is not an init, which SIGKILL from
    # inside its own namespace could not kill.
    cfg = base_config(["sh", "-c", "kill -9 $$"])
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    bundle = make_bundle(cfg)
    res = runtime.run("run", "--bundle", str(bundle), cid, check=False)
    assert res.returncode == 128 + 9


def test_run_detach(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    bundle = make_bundle(base_config(["sleep", "30"]))
    runtime.detached("run", "--detach", "--bundle", str(bundle), cid, cid=cid)
    assert runtime.state(cid)["status"] == "running"


def test_list_formats(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    runtime.create(cid, make_bundle(base_config(["sleep", "30"])))
    table = runtime.run("list").stdout.decode()
    assert table.splitlines()[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert cid in table and "created" in table
    items = json.loads(runtime.run("list", "--format", "json").stdout)
    assert [i["id"] for i in items] == [cid]
    assert items[0]["status"] == "created"
    assert runtime.run("list", "-q").stdout.decode().split() == [cid]


def test_ps_and_pause_resume(runtime: Runtime, make_bundle: Callable[..., Path], cid: str
                             ) -> None:
    script = "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done"
    runtime.create(cid, make_bundle(base_config(["sh", "-c", script])))
    runtime.run("start", cid)
    pid = runtime.state(cid)["pid"]
    count = Path(f"/proc/{pid}/root/tmp/count")
    assert _eventually(count.exists)
    pids = json.loads(runtime.run("ps", "--format", "json", cid).stdout)
    assert pid in pids
    table = runtime.run("ps", cid).stdout.decode()
    assert "PID" in table.splitlines()[0] and str(pid) in table
    runtime.run("pause", cid)
    assert runtime.state(cid)["status"] == "paused"
    assert runtime.run("pause", cid, check=False).returncode != 0
    before = count.read_text()
    time.sleep(0.3)
    assert count.read_text() == before, "a paused container kept running"
    runtime.run("resume", cid)
    assert runtime.state(cid)["status"] == "running"
    assert _eventually(lambda: count.read_text() not in (before, ""))
    assert runtime.run("resume", cid, check=False).returncode != 0


def test_kill_all(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    runtime.create(cid, make_bundle(base_config(["sh", "-c", "sleep 30 & sleep 30 & wait"])))
    runtime.run("start", cid)
    assert _eventually(
        lambda: len(json.loads(runtime.run("ps", "--format", "json", cid).stdout)) >= 3)
    runtime.run("kill", "--all", cid, "KILL")
    assert runtime.wait_stopped(cid)["status"] == "stopped"


def test_start_of_dead_created_container_fails(runtime: Runtime,
                                               make_bundle: Callable[..., Path],
                                               cid: str) -> None:
    runtime.create(cid, make_bundle(base_config(["true"])))
    runtime.run("kill", cid, "KILL")
    runtime.wait_stopped(cid)
    res = runtime.run("start", cid, check=False, timeout=10)
    assert res.returncode != 0
    runtime.run("delete", cid)


def test_spec_and_features_validate(tmp_path: Path, runtime: Runtime) -> None:
    runtime.run("spec", "--bundle", str(tmp_path))
    cfg = json.loads((tmp_path / "config.json").read_text())
    validator("config-schema.json").validate(cfg)
    assert cfg["process"]["args"] == ["sh"]
    res = runtime.run("spec", "--bundle", str(tmp_path), check=False)
    assert res.returncode != 0 and b"exists" in res.stderr
    features = json.loads(runtime.run("features").stdout)
    validator("features-schema.json").validate(features)
    assert "user" in features["linux"]["namespaces"]


def test_usage_errors(runtime: Runtime) -> None:
    assert runtime.run("start", check=False).returncode != 0
    assert runtime.run("nosuchcommand", check=False).returncode != 0
    assert runtime.run("create", "--bogus", "x", check=False).returncode != 0
    assert runtime.run("state", "nosuch", check=False).returncode != 0
    assert SPECS.is_dir()


def test_closed_stdio_is_not_reused(runtime: Runtime, make_bundle: Callable[..., Path],
                                    cid: str) -> None:
    """With fd 0 closed, the runtime's own pipes must not become the container's stdin."""
    import subprocess

    bundle = make_bundle(base_config(["sh", "-c", "ls -l /proc/self/fd/0"]))
    out = subprocess.run(
        ["sh", "-c", f'exec 0<&-; exec "$@" >{runtime.out_path(cid)} 2>&1', "sh",
         *runtime.cmd("run", "--bundle", str(bundle), cid)],
        check=False, timeout=30)
    assert out.returncode == 0, runtime.output(cid)
    assert "/dev/null" in runtime.output(cid)
