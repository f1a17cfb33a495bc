"""The engine's container lifecycle through the Engine API and the real docker CLI."""

from __future__ import annotations

import signal
import time

from tests.engine_fixtures import (
    COVE,
    DOCKER,
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]


def _create(engine: Engine, cmd: list[str], name: str | None = None,
            **extra: object) -> str:
    path = "/v1.47/containers/create" + (f"?name={name}" if name else "")
    status, body = engine.request("POST", path, {"Image": "busybox", "Cmd": cmd, **extra})
    assert status == 201, body
    return str(body["Id"])


def _wait(engine: Engine, cid: str) -> int:
    status, body = engine.request("POST", f"/containers/{cid}/wait")
    assert status == 200, body
    return int(body["StatusCode"])


def test_create_start_wait_logs_remove(engine: Engine) -> None:
    cid = _create(engine, ["sh", "-c", "echo out; echo err >&2; exit 7"], name="life1")
    status, info = engine.request("GET", "/containers/life1/json")
    assert status == 200
    assert info["State"]["Status"] == "created"
    assert info["Name"] == "/life1"
    assert info["Path"] == "sh"
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    assert _wait(engine, cid) == 7
    status, raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    assert status == 200
    # Multiplexed frames: stream byte, 3 zero bytes, big-endian length.
    frames = []
    while raw:
        stream, size = raw[0], int.from_bytes(raw[4:8], "big")
        frames.append((stream, raw[8:8 + size]))
        raw = raw[8 + size:]
    assert (1, b"out\n") in frames
    assert (2, b"err\n") in frames
    status, info = engine.request("GET", f"/containers/{cid}/json")
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 7
    assert engine.request("DELETE", f"/containers/{cid}")[0] == 204
    assert engine.request("GET", f"/containers/{cid}/json")[0] == 404


def test_bad_requests_get_clear_errors(engine: Engine) -> None:
    status, body = engine.request("POST", "/containers/create", {"Image": "nope:1"})
    assert status == 404
    assert "No such image: nope:1" in body["message"]
    status, body = engine.request("POST", "/containers/create", b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert status == 400
    assert "JSON" in body["message"]
    _create(engine, ["true"], name="dup")
    status, body = engine.request("POST", "/containers/create?name=dup",
                                  {"Image": "busybox", "Cmd": ["true"]})
    assert status == 409
    assert "already in use" in body["message"]
    status, body = engine.request("POST", "/containers/create?name=bad%20name",
                                  {"Image": "busybox", "Cmd": ["true"]})
    assert status == 400
    status, body = engine.request("GET", "/containers/doesnotexist/json")
    assert status == 404
    assert body["message"] == "No such container: doesnotexist"
    bogus = "%7B%22bogus%22%3A%5B%22x%22%5D%7D"
    status, body = engine.request("GET", f"/containers/json?filters={bogus}")
    assert status == 400
    assert "bogus" in body["message"]
    # The daemon is still fine.
    assert engine.request("GET", "/_ping")[0] == 200


def test_running_container_cannot_be_removed_without_force(engine: Engine) -> None:
    cid = _create(engine, ["sleep", "1000"])
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    status, body = engine.request("DELETE", f"/containers/{cid}")
    assert status == 409
    assert "running" in body["message"]
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 304
    assert engine.request("DELETE", f"/containers/{cid}?force=1")[0] == 204


def test_stop_reports_an_ignored_stop_signal(engine: Engine) -> None:
    # sh as PID 1 has no SIGTERM handler and the kernel drops the signal.
    cid = _create(engine, ["sleep", "1000"], StopTimeout=1)
    engine.request("POST", f"/containers/{cid}/start")
    t0 = time.monotonic()
    status, _ = engine.request("POST", f"/containers/{cid}/stop?t=1")
    assert status == 204
    assert time.monotonic() - t0 < 10
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    assert info["State"]["ExitCode"] == 137
    assert info["State"]["StopSignalIgnored"] is True


def test_stop_with_init_exits_143(engine: Engine) -> None:
    cid = _create(engine, ["sleep", "1000"], HostConfig={"Init": True})
    engine.request("POST", f"/containers/{cid}/start")
    status, _ = engine.request("POST", f"/containers/{cid}/stop?t=5")
    assert status == 204
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    assert info["State"]["ExitCode"] == 143
    assert info["State"]["StopSignalIgnored"] is False


def test_docker_cli_run_attached_gets_output_and_exit_code(engine: Engine) -> None:
    proc = engine.docker("run", "--rm", "busybox", "sh", "-c", "echo hi; echo oops >&2; exit 4")
    assert proc.returncode == 4, proc.stderr
    assert proc.stdout == b"hi\n"
    assert proc.stderr == b"oops\n"
    proc = engine.docker("run", "-i", "--rm", "busybox", "cat", input=b"through stdin\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"through stdin\n"
    assert engine.docker("ps", "-aq").stdout == b""


def test_docker_cli_ps_and_inspect(engine: Engine) -> None:
    proc = engine.docker("run", "-d", "--name", "pstest", "--label", "team=a", "busybox",
                         "sleep", "1000")
    assert proc.returncode == 0, proc.stderr
    cid = proc.stdout.decode().strip()
    out = engine.docker("ps", "--format", "{{.Names}} {{.Status}}").stdout.decode()
    assert out.startswith("pstest Up")
    out = engine.docker("ps", "-q", "--filter", "label=team=a", "--no-trunc").stdout.decode()
    assert out.strip() == cid
    assert engine.docker("ps", "-q", "--filter", "label=team=b").stdout == b""
    out = engine.docker("inspect", "-f", "{{.State.Running}} {{.Config.Image}}",
                        "pstest").stdout.decode()
    assert out.strip() == "true busybox"
    assert engine.docker("rm", "-f", "pstest").returncode == 0


def test_containers_outlive_the_daemon(engine: Engine) -> None:
    cid = _create(engine, ["sh", "-c", "echo before; sleep 2; echo after; exit 5"])
    engine.request("POST", f"/containers/{cid}/start")
    time.sleep(0.5)
    engine.stop(signal.SIGKILL)
    time.sleep(2.5)  # the container ends while no daemon runs
    engine.start()
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 5
    raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1")[1]
    assert b"before\n" in raw and b"after\n" in raw


def test_running_container_is_picked_up_after_restart(engine: Engine) -> None:
    cid = _create(engine, ["sleep", "1000"], HostConfig={"Init": True})
    engine.request("POST", f"/containers/{cid}/start")
    engine.stop(signal.SIGTERM)
    engine.start()
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    assert info["State"]["Status"] == "running"
    assert engine.request("POST", f"/containers/{cid}/kill?signal=TERM")[0] == 204
    assert _wait(engine, cid) == 143


def test_restart_policy_on_failure(engine: Engine) -> None:
    cid = _create(engine, ["sh", "-c", "exit 3"],
                  HostConfig={"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 2}})
    engine.request("POST", f"/containers/{cid}/start")
    deadline = time.monotonic() + 15
    info: dict[str, object] = {}
    while time.monotonic() < deadline:
        info = engine.request("GET", f"/containers/{cid}/json")[1]
        if info["RestartCount"] == 2 and info["State"]["Status"] == "exited":  # type: ignore[index]
            break
        time.sleep(0.1)
    assert info["RestartCount"] == 2
    assert info["State"]["ExitCode"] == 3  # type: ignore[index]


def test_cove_stop_says_when_pid1_ignored_the_signal(engine: Engine) -> None:
    assert engine.cove("run", "-d", "--name", "deaf", "busybox", "sleep", "100").returncode == 0
    proc = engine.cove("stop", "-t", "1", "deaf")
    assert proc.returncode == 0
    assert proc.stdout == b"deaf\n"
    assert b"ignored the stop signal" in proc.stderr and b"--init" in proc.stderr
    assert engine.cove("run", "-d", "--init", "--name", "hears", "busybox", "sleep",
                       "100").returncode == 0
    proc = engine.cove("stop", "-t", "5", "hears")
    assert proc.returncode == 0 and proc.stderr == b""


def test_a_tty_has_the_client_size_from_the_start(engine: Engine) -> None:
    # `stty size` runs before any resize request can arrive: the size comes from
    # HostConfig.ConsoleSize through process.consoleSize.
    import os
    import subprocess
    env = engine.env()
    for cmd in (f"stty rows 30 cols 100; {DOCKER} run -it --rm busybox stty size",
                f"stty rows 31 cols 90; {COVE} -H {engine.host} run -it --rm busybox stty size"):
        proc = subprocess.run(["script", "-qc", cmd, os.devnull], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
                              check=False)
        assert proc.returncode == 0, proc.stdout
        # (The docker CLI under script may echo a ^@ first.)
        assert proc.stdout.replace(b"^@", b"").strip() in (b"30 100", b"31 90"), proc.stdout


def test_diff_and_commit_leave_out_mount_stubs(engine: Engine) -> None:
    # busybox has no /etc/resolv.conf and no /sbin/docker-init: the runtime makes empty
    # files to bind over. Docker keeps those in an init layer that diff never shows.
    assert engine.docker("run", "-d", "--init", "--name", "stubs", "busybox", "sleep",
                         "100").returncode == 0
    assert engine.docker("exec", "stubs", "sh", "-c", "echo hi > /newfile").returncode == 0
    assert engine.docker("diff", "stubs").stdout == b"A /newfile\n"
    assert engine.docker("commit", "stubs", "stubs:1").returncode == 0
    proc = engine.docker("run", "--rm", "stubs:1", "sh", "-c",
                         "cat /newfile; test -e /sbin/docker-init || echo no-init-stub")
    assert proc.stdout == b"hi\nno-init-stub\n", proc.stderr
    engine.docker("rm", "-f", "stubs")
    engine.docker("rmi", "stubs:1")


def test_inspect_size_counts_what_the_container_wrote(engine: Engine) -> None:
    cid = _create(engine, ["sh", "-c", "head -c 300000 /dev/zero > /blob"])
    engine.request("POST", f"/containers/{cid}/start")
    assert _wait(engine, cid) == 0
    info = engine.request("GET", f"/containers/{cid}/json?size=1")[1]
    assert 300000 <= info["SizeRw"] < 400000
    assert info["SizeRootFs"] > info["SizeRw"]


def test_loopback_is_up_in_the_container(engine: Engine) -> None:
    for extra in ([], ["--network", "none"]):
        proc = engine.docker("run", "--rm", *extra, "busybox", "sh", "-c",
                             "ip link show lo | grep -q UP && ping -c1 -W2 127.0.0.1 >/dev/null"
                             " && echo ok")
        assert proc.stdout == b"ok\n", (extra, proc.stderr)
