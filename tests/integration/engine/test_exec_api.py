"""Exec through the Engine API, the real docker CLI and the docker SDK."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.engine_fixtures import (
    DOCKER,
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]


def _run(engine: Engine, cmd: list[str], name: str | None = None, **extra: Any) -> str:
    path = "/containers/create" + (f"?name={name}" if name else "")
    status, body = engine.request("POST", path, {"Image": "busybox", "Cmd": cmd, **extra})
    assert status == 201, body
    cid = str(body["Id"])
    status, body = engine.request("POST", f"/containers/{cid}/start")
    assert status == 204, body
    return cid


@pytest.fixture
def sleeper(engine: Engine) -> Iterator[str]:
    cid = _run(engine, ["sleep", "600"], name="exec-target")
    yield cid
    engine.request("DELETE", f"/containers/{cid}?force=1")


@pytest.fixture
def client(engine: Engine) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=engine.host, version="1.47")
    yield c
    c.close()


def _start_hijacked(engine: Engine, exec_id: str, body: dict[str, Any],
                    stdin: bytes | None = None) -> tuple[bytes, bytes]:
    """Start an exec on a raw connection; (response head, everything after it)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(engine.socket)
    data = json.dumps(body).encode()
    sock.sendall(b"POST /v1.47/exec/%s/start HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: Upgrade\r\nUpgrade: tcp\r\n"
                 b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                 % (exec_id.encode(), len(data), data))
    if stdin is not None:
        sock.sendall(stdin)
        sock.shutdown(socket.SHUT_WR)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head, rest


def _demux(raw: bytes) -> dict[int, bytes]:
    out = {1: b"", 2: b""}
    while raw:
        assert len(raw) >= 8, raw
        stream, size = raw[0], int.from_bytes(raw[4:8], "big")
        out[stream] = out.get(stream, b"") + raw[8:8 + size]
        raw = raw[8 + size:]
    return out


def _create_exec(engine: Engine, cid: str, **config: Any) -> str:
    status, body = engine.request("POST", f"/containers/{cid}/exec", config)
    assert status == 201, body
    return str(body["Id"])


def test_exec_api_multiplexed_output_and_exit_code(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "echo out; echo err >&2; exit 3"],
                       AttachStdout=True, AttachStderr=True)
    status, info = engine.request("GET", f"/exec/{eid}/json")
    assert status == 200
    assert info["Running"] is False and info["ExitCode"] is None
    assert info["ContainerID"] == sleeper
    assert info["ProcessConfig"] == {"tty": False, "entrypoint": "sh",
                                     "arguments": ["-c", "echo out; echo err >&2; exit 3"],
                                     "privileged": False, "user": ""}
    head, rest = _start_hijacked(engine, eid, {"Detach": False, "Tty": False})
    assert head.startswith(b"HTTP/1.1 101")
    assert b"application/vnd.docker.multiplexed-stream" in head
    streams = _demux(rest)
    assert streams[1] == b"out\n"
    assert streams[2] == b"err\n"
    status, info = engine.request("GET", f"/exec/{eid}/json")
    assert info["ExitCode"] == 3 and info["Running"] is False
    assert info["Pid"] > 0
    # An ended exec is no longer among the container's ExecIDs (Docker's).
    status, cinfo = engine.request("GET", f"/containers/{sleeper}/json")
    assert eid not in (cinfo["ExecIDs"] or [])
    # An exec runs once.
    status, body = engine.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 409, body
    assert "has already run" in body["message"]


def test_exec_stdin_is_closed_when_client_half_closes(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "cat; echo done"],
                       AttachStdin=True, AttachStdout=True, AttachStderr=True)
    _, rest = _start_hijacked(engine, eid, {}, stdin=b"hello\nworld\n")
    assert _demux(rest)[1] == b"hello\nworld\ndone\n"
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 0


def test_exec_env_user_workdir_and_container_env(engine: Engine) -> None:
    cid = _run(engine, ["sleep", "600"], Env=["FROMCONTAINER=1"])
    eid = _create_exec(engine, cid, Cmd=["sh", "-c", "echo $FOO $FROMCONTAINER; id -u; "
                                         "id -g; pwd; echo $HOME"],
                       Env=["FOO=bar"], User="nobody", WorkingDir="/tmp",
                       AttachStdout=True, AttachStderr=True)
    _, rest = _start_hijacked(engine, eid, {})
    out = _demux(rest)
    lines = out[1].decode().split("\n")
    assert lines[0] == "bar 1", out
    assert lines[1] == "65534"
    assert lines[2] == "65534"
    assert lines[3] == "/tmp"
    eid = _create_exec(engine, cid, Cmd=["id", "-u"], User="1234:5",
                       AttachStdout=True)
    _, rest = _start_hijacked(engine, eid, {})
    assert _demux(rest)[1] == b"1234\n"


def test_exec_command_not_found_is_127_with_dockers_message(engine: Engine,
                                                            sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["nosuchcommand"], AttachStdout=True,
                       AttachStderr=True)
    _, rest = _start_hijacked(engine, eid, {})
    out = _demux(rest)
    assert b"OCI runtime exec failed" in out[1], out
    assert b'"nosuchcommand": executable file not found in $PATH' in out[1]
    info = engine.request("GET", f"/exec/{eid}/json")[1]
    assert info["ExitCode"] == 127 and info["Running"] is False
    # Not executable: 126.
    eid = _create_exec(engine, sleeper, Cmd=["/etc/passwd"], AttachStdout=True)
    _start_hijacked(engine, eid, {})
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 126
    # Unknown user: the start fails, 126.
    eid = _create_exec(engine, sleeper, Cmd=["true"], User="nosuchuser",
                       AttachStdout=True)
    _, rest = _start_hijacked(engine, eid, {})
    assert b"unable to find user nosuchuser" in _demux(rest)[1]
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 126


def test_exec_bad_requests(engine: Engine, sleeper: str) -> None:
    status, body = engine.request("POST", "/containers/nope/exec", {"Cmd": ["true"]})
    assert status == 404 and body["message"] == "No such container: nope"
    status, body = engine.request("POST", f"/containers/{sleeper}/exec", {"Cmd": []})
    assert status == 400 and "No exec command specified" in body["message"]
    status, body = engine.request("POST", f"/containers/{sleeper}/exec",
                                  {"Cmd": ["true"], "Env": [1]})
    assert status == 400 and "Env" in body["message"]
    status, body = engine.request("POST", f"/containers/{sleeper}/exec",
                                  {"Cmd": ["true"], "ConsoleSize": [1]})
    assert status == 400 and "ConsoleSize" in body["message"]
    status, body = engine.request("POST", f"/containers/{sleeper}/exec",
                                  {"Cmd": ["true"], "WorkingDir": "relative"})
    assert status == 400 and "absolute path" in body["message"]
    status, body = engine.request("POST", f"/containers/{sleeper}/exec",
                                  {"Cmd": ["true"], "DetachKeys": "ctrl-"})
    assert status == 400 and "detach keys" in body["message"].lower()
    status, body = engine.request("POST", f"/containers/{sleeper}/exec", b"[1",
                                  headers={"Content-Type": "application/json"})
    assert status == 400
    status, body = engine.request("GET", "/exec/0123456789/json")
    assert status == 404 and body["message"] == "No such exec instance: 0123456789"
    status, body = engine.request("POST", "/exec/0123456789/start", {"Detach": True})
    assert status == 404
    status, body = engine.request("POST", "/exec/0123456789/resize?h=1&w=1")
    assert status == 404
    eid = _create_exec(engine, sleeper, Cmd=["true"])
    status, body = engine.request("POST", f"/exec/{eid}/resize?h=x&w=1")
    assert status == 400
    assert engine.request("GET", "/_ping")[0] == 200


def test_exec_refused_in_stopped_or_paused_container(engine: Engine) -> None:
    cid = _run(engine, ["sleep", "600"], name="exec-paused")
    eid = _create_exec(engine, cid, Cmd=["true"])
    assert engine.request("POST", f"/containers/{cid}/pause")[0] == 204
    status, body = engine.request("POST", "/containers/exec-paused/exec", {"Cmd": ["true"]})
    assert status == 409
    assert body["message"] == ("Container exec-paused is paused, unpause the container "
                               "before exec")
    status, body = engine.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 409
    assert engine.request("POST", f"/containers/{cid}/unpause")[0] == 204
    engine.request("POST", f"/containers/{cid}/kill")
    engine.request("POST", f"/containers/{cid}/wait")
    status, body = engine.request("POST", f"/containers/{cid}/exec", {"Cmd": ["true"]})
    assert status == 409
    assert body["message"] == f"container {cid} is not running"
    # Removing the container forgets its exec sessions.
    assert engine.request("DELETE", f"/containers/{cid}")[0] == 204
    assert engine.request("GET", f"/exec/{eid}/json")[0] == 404


def test_exec_detached_runs_and_records_exit(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "sleep 0.5; touch /tmp/d; exit 4"])
    status, body = engine.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 200, body
    info = engine.request("GET", f"/exec/{eid}/json")[1]
    assert info["Running"] is True and info["Pid"] > 0
    assert eid in engine.request("GET", f"/containers/{sleeper}/json")[1]["ExecIDs"]
    deadline = time.monotonic() + 10
    while engine.request("GET", f"/exec/{eid}/json")[1]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 4
    # Not found, detached: an error answer, the exit code recorded.
    eid = _create_exec(engine, sleeper, Cmd=["nosuchcommand"])
    status, body = engine.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 400
    assert "executable file not found" in body["message"]
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 127


def test_exec_tty_over_api_with_resize(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "sleep 0.5; stty size; exit 5"],
                       Tty=True, AttachStdout=True, ConsoleSize=[20, 70])
    head, rest = _start_hijacked(engine, eid, {"Tty": True})
    assert b"application/vnd.docker.raw-stream" in head
    assert rest.strip() == b"20 70", rest
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 5
    # A resize while it runs reaches the pty.
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "sleep 1; stty size"], Tty=True,
                       AttachStdout=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(engine.socket)
    sock.sendall(b"POST /exec/%s/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                 b"Upgrade: tcp\r\nContent-Length: 2\r\n\r\n{}" % eid.encode())
    time.sleep(0.4)
    assert engine.request("POST", f"/exec/{eid}/resize?h=33&w=99")[0] == 200
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.partition(b"\r\n\r\n")[2].strip() == b"33 99"


def test_docker_cli_exec(engine: Engine, sleeper: str) -> None:
    r = engine.docker("exec", "exec-target", "sh", "-c", "echo hi; echo oops >&2; exit 9")
    assert r.returncode == 9, r
    assert r.stdout == b"hi\n"
    assert r.stderr == b"oops\n"
    r = engine.docker("exec", "-i", "exec-target", "sh", "-c", "tr a-z A-Z",
                      input=b"piped stdin\n")
    assert r.returncode == 0, r
    assert r.stdout == b"PIPED STDIN\n"
    r = engine.docker("exec", "-e", "A=b", "-u", "nobody", "-w", "/tmp", "exec-target",
                      "sh", "-c", "echo $A $(id -u) $(pwd)")
    assert r.stdout == b"b 65534 /tmp\n", r
    r = engine.docker("exec", "exec-target", "nosuchcommand")
    assert r.returncode == 127, r
    assert b"executable file not found in $PATH" in r.stdout + r.stderr
    r = engine.docker("exec", "-d", "exec-target", "sh", "-c", "echo detached > /tmp/det")
    assert r.returncode == 0, r
    deadline = time.monotonic() + 10
    while engine.docker("exec", "exec-target", "cat", "/tmp/det").stdout != b"detached\n":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_docker_cli_exec_tty(engine: Engine, sleeper: str) -> None:
    # `script` gives the docker CLI a terminal, so that -t is allowed.
    env = engine.env()
    cmd = f"{DOCKER} exec -it exec-target sh -c 'tty; exit 6'"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env, capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert r.returncode == 6, r
    assert b"/dev/pts/" in r.stdout


def test_sdk_exec_run(client: docker.DockerClient, sleeper: str) -> None:
    container = client.containers.get(sleeper)
    result = container.exec_run(["sh", "-c", "echo sdk; exit 2"])
    assert result.exit_code == 2
    assert result.output == b"sdk\n"
    result = container.exec_run("sh -c 'echo o; echo e >&2'", demux=True)
    assert result.output == (b"o\n", b"e\n")
    result = container.exec_run(["env"], environment={"SDKVAR": "x"}, user="nobody",
                                workdir="/tmp")
    assert b"SDKVAR=x" in result.output
    result = container.exec_run(["sh", "-c", "echo tty"], tty=True)
    assert result.output == b"tty\r\n"


def test_privileged_exec_has_all_capabilities(engine: Engine, sleeper: str) -> None:
    def cap_eff(privileged: bool) -> int:
        eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "grep CapEff /proc/self/status"],
                           Privileged=privileged, AttachStdout=True)
        _, rest = _start_hijacked(engine, eid, {})
        out = _demux(rest)[1]
        assert out.startswith(b"CapEff"), out
        return int(out.split()[1], 16)

    assert cap_eff(True) > cap_eff(False)


def test_exec_work_dirs_are_cleaned(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["true"], AttachStdout=True)
    _start_hijacked(engine, eid, {})
    assert os.listdir(engine.exec_root / "execs") == []


def test_exec_client_gone_lets_the_process_finish(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "sleep 0.5; echo late; "
                                             "touch /tmp/finished"],
                       AttachStdout=True, AttachStderr=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(engine.socket)
    sock.sendall(b"POST /exec/%s/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                 b"Upgrade: tcp\r\nContent-Length: 2\r\n\r\n{}" % eid.encode())
    time.sleep(0.2)
    sock.close()
    deadline = time.monotonic() + 10
    while engine.request("GET", f"/exec/{eid}/json")[1]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 0
    assert engine.docker("exec", "exec-target", "test", "-f", "/tmp/finished").returncode == 0


def test_exec_background_child_does_not_hold_the_stream(engine: Engine,
                                                        sleeper: str) -> None:
    started = time.monotonic()
    r = engine.docker("exec", "exec-target", "sh", "-c", "sleep 30 & echo bg")
    assert r.returncode == 0, r
    assert r.stdout == b"bg\n"
    assert time.monotonic() - started < 10


def test_exec_killed_by_signal_and_container_exit(engine: Engine) -> None:
    cid = _run(engine, ["sleep", "600"])
    eid = _create_exec(engine, cid, Cmd=["sh", "-c", "kill -9 $$"], AttachStdout=True)
    _start_hijacked(engine, eid, {})
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 137
    # An exec whose container is killed ends with it.
    eid = _create_exec(engine, cid, Cmd=["sleep", "600"])
    assert engine.request("POST", f"/exec/{eid}/start", {"Detach": True})[0] == 200
    engine.request("POST", f"/containers/{cid}/kill")
    deadline = time.monotonic() + 10
    while engine.request("GET", f"/exec/{eid}/json")[1]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert engine.request("GET", f"/exec/{eid}/json")[1]["ExitCode"] == 137


def test_concurrent_execs(client: docker.DockerClient, sleeper: str) -> None:
    from concurrent.futures import ThreadPoolExecutor
    container = client.containers.get(sleeper)

    def one(i: int) -> tuple[int, bytes]:
        r = container.exec_run(["sh", "-c", f"echo {i}; exit {i % 5}"])
        return r.exit_code, r.output

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert results == [(i % 5, f"{i}\n".encode()) for i in range(16)]


def test_exec_start_twice_while_running(engine: Engine, sleeper: str) -> None:
    eid = _create_exec(engine, sleeper, Cmd=["sleep", "2"])
    assert engine.request("POST", f"/exec/{eid}/start", {"Detach": True})[0] == 200
    status, body = engine.request("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 409
    assert body["message"] == f"Error: Exec command {eid} is already running"


def test_docker_cli_exec_tty_detach_keys(engine: Engine, sleeper: str) -> None:
    # ctrl-p ctrl-q typed on the terminal detaches the client; the process runs on.
    cmd = f"{DOCKER} exec -it exec-target sh -c 'sleep 3; touch /tmp/after-detach'"
    started = time.monotonic()
    proc = subprocess.Popen(["script", "-qec", cmd, "/dev/null"], env=engine.env(),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)
        assert proc.stdin is not None
        proc.stdin.write(b"\x10\x11")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert time.monotonic() - started < 2.9, (out, err)
    assert b"read escape sequence" in out + err
    assert engine.docker("exec", "exec-target", "test", "-f",
                         "/tmp/after-detach").returncode != 0
    deadline = time.monotonic() + 10
    while engine.docker("exec", "exec-target", "test", "-f",
                        "/tmp/after-detach").returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_exec_events(engine: Engine, sleeper: str) -> None:
    since = time.time()
    eid = _create_exec(engine, sleeper, Cmd=["sh", "-c", "exit 3"], AttachStdout=True)
    _start_hijacked(engine, eid, {})
    # The stream can end a moment before the exit is recorded (and exec_die emitted).
    deadline = time.monotonic() + 10
    while engine.request("GET", f"/exec/{eid}/json")[1]["Running"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    status, raw = engine.request("GET", f"/events?since={since:.3f}&until={time.time():.3f}")
    assert status == 200
    text = raw.decode() if isinstance(raw, bytes) else json.dumps(raw)
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    mine = [(e["Action"], e["Actor"]["Attributes"]) for e in events
            if e["Actor"]["Attributes"].get("execID") == eid]
    assert [a for a, _ in mine] == ["exec_create: sh -c exit 3", "exec_start: sh -c exit 3",
                                    "exec_die"]
    assert mine[2][1]["exitCode"] == "3"
    assert mine[0][1]["name"] == "exec-target"
