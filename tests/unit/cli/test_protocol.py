"""The CLI against a scripted daemon: HTTP framing, hijacked streams, errors → exit codes.

Each test runs the real ``cove`` launcher in a subprocess against a FakeDaemon
on a unix socket in a temporary directory.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.cli.streams import STDERR, STDOUT, frame
from tests.unit.cli.fake_daemon import FakeDaemon, Reply, Request, error_reply, json_reply

COVE = str(Path(sys.executable).parent / "cove")
CID = "4f1c9b2a7d3e" + "0" * 52


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    d = FakeDaemon(str(tmp_path / "cove.sock"))
    try:
        yield d
    finally:
        d.close()


def cove(daemon: FakeDaemon, *args: str, stdin: bytes = b"",
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "COVE_HOST")}
    full_env.update(env or {})
    return subprocess.run([COVE, "-H", daemon.host, *args], input=stdin, capture_output=True,
                          timeout=30, env=full_env, check=False)


CONTAINER = {"Id": CID, "Names": ["/web"], "Image": "busybox", "Command": "sleep 100",
             "Created": int(time.time()) - 120, "State": "running", "Status": "Up 2 minutes",
             "Ports": [], "Labels": {"tier": "front"}}


def test_ps_table_from_chunked_reply(daemon: FakeDaemon) -> None:
    # Created two minutes before this test (not before the module's import: the suite
    # can run for minutes in between).
    body = json.dumps([dict(CONTAINER, Created=int(time.time()) - 120)]).encode()
    daemon.route("GET", "/containers/json",
                 Reply(body=[body[:7], body[7:30], body[30:]], chunked=True))
    r = cove(daemon, "ps", "-a", "--filter", "status=running", "--filter", "label=tier")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith("CONTAINER ID   IMAGE     COMMAND")
    assert lines[1].startswith("4f1c9b2a7d3e   busybox   \"sleep 100\"   2 minutes ago")
    assert lines[1].endswith("web")
    req = daemon.find("GET", "/containers/json")[0]
    assert req.version_prefix == "v1.47"
    assert req.arg("all") == "1"
    assert json.loads(req.arg("filters") or "") == {"status": ["running"], "label": ["tier"]}


def test_ps_quiet_format_and_limit(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/json", json_reply([CONTAINER]))
    r = cove(daemon, "container", "ls", "-q")
    assert r.stdout == b"4f1c9b2a7d3e\n"
    r = cove(daemon, "ps", "--format", "{{.Names}} {{.Label \"tier\"}} {{json .State}}",
             "-n", "2")
    assert r.stdout == b'web front "running"\n'
    assert daemon.requests[-1].arg("limit") == "2"
    r = cove(daemon, "ps", "--no-trunc", "--format", "table {{.ID}}")
    assert r.stdout.decode().splitlines() == ["CONTAINER ID", CID]


def test_daemon_error_message_and_exit_code(daemon: FakeDaemon) -> None:
    daemon.route("DELETE", "/containers/*", error_reply(404, "No such container: nope"))
    r = cove(daemon, "rm", "-f", "nope")
    assert r.returncode == 1
    assert r.stderr == b"Error response from daemon: No such container: nope\n"
    assert daemon.requests[-1].arg("force") == "1"


def test_rm_continues_past_failures(daemon: FakeDaemon) -> None:
    def remove(req: Request) -> Reply:
        if req.path.endswith("/bad"):
            return error_reply(409, "You cannot remove a running container bad")
        return Reply(204)

    daemon.route("DELETE", "/containers/*", remove)
    r = cove(daemon, "rm", "good", "bad", "other")
    assert r.returncode == 1
    assert r.stdout == b"good\nother\n"
    assert b"cannot remove a running container" in r.stderr


def test_bad_flag_value_is_usage_error(daemon: FakeDaemon) -> None:
    r = cove(daemon, "run", "--memory", "lots", "busybox")
    assert r.returncode == 125
    assert r.stderr.startswith(b'invalid argument "lots" for "-m, --memory" flag: invalid size')
    assert r.stderr.endswith(b"\n\nUsage:  cove run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
                             b"Run 'cove run --help' for more information\n")
    r = cove(daemon, "run", "--restart", "sometimes", "busybox")
    assert r.returncode == 125 and b'"--restart" flag' in r.stderr
    assert daemon.requests == []


def test_cannot_connect(tmp_path: Path) -> None:
    r = subprocess.run([COVE, "-H", f"unix://{tmp_path}/none.sock", "ps"], capture_output=True,
                       timeout=30, check=False)
    assert r.returncode == 1
    assert b"Cannot connect to the Docker daemon at unix://" in r.stderr


def test_host_from_environment(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/json", json_reply([]))
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "COVE_HOST")}
    env["DOCKER_HOST"] = daemon.host
    r = subprocess.run([COVE, "ps", "-q"], capture_output=True, timeout=30, env=env, check=False)
    assert r.returncode == 0 and len(daemon.requests) == 1


def _attach_replying(out: list[bytes], tty: bool = False,
                     got_stdin: list[bytes] | None = None) -> Reply:
    def hijack(conn: Any, rfile: Any) -> None:
        if got_stdin is not None:
            data = b""
            while True:
                chunk = rfile.read1(65536)
                if not chunk:
                    break
                data += chunk
            got_stdin.append(data)
        for piece in out:
            conn.sendall(piece)
    return Reply(hijack=hijack)


def _run_routes(daemon: FakeDaemon, create: list[Reply], exit_code: int,
                frames: list[bytes], start: Reply | None = None,
                got_stdin: list[bytes] | None = None) -> None:
    replies = iter(create)
    daemon.route("POST", "/containers/create", lambda _r: next(replies))
    daemon.route("POST", "/images/create", Reply(body=[
        b'{"status":"Pulling from library/busybox","id":"latest"}\r\n',
        b'{"status":"Downloading","id":"aaa","progressDetail":{"current":5,"total":10}}\r\n',
        b'{"status":"Status: Downloaded newer image for busybox:latest"}\r\n'], chunked=True))
    daemon.route("POST", f"/containers/{CID}/attach", _attach_replying(frames,
                                                                      got_stdin=got_stdin))
    daemon.route("POST", f"/containers/{CID}/start", start or Reply(204))

    def wait(_req: Request) -> Reply:
        # answer only after the start, as a daemon would
        for _ in range(200):
            if daemon.find("POST", f"/containers/{CID}/start"):
                break
            time.sleep(0.01)
        return json_reply({"StatusCode": exit_code}, chunked=True)

    daemon.route("POST", f"/containers/{CID}/wait", wait)


def test_run_pulls_missing_image_then_attaches(daemon: FakeDaemon) -> None:
    _run_routes(daemon, [error_reply(404, "No such image: busybox:latest"),
                         json_reply({"Id": CID, "Warnings": ["low memory"]}, 201)],
                exit_code=3,
                frames=[frame(STDOUT, b"hello "), frame(STDOUT, b"world\n"),
                        frame(STDERR, b"oops\n")])
    r = cove(daemon, "run", "--rm", "-e", "A=1", "--name", "web", "-p", "8080:80",
             "--cpus", "1.5", "-m", "64m", "busybox", "sh", "-c", "echo hi")
    assert r.returncode == 3, r.stderr
    assert r.stdout == b"hello world\n"
    err = r.stderr.decode()
    assert "Unable to find image 'busybox:latest' locally" in err
    assert "latest: Pulling from library/busybox" in err
    assert "Downloading" not in err  # progress updates are left out when not a terminal
    assert "WARNING: low memory" in err and err.endswith("oops\n")
    creates = daemon.find("POST", "/containers/create")
    assert len(creates) == 2 and creates[1].arg("name") == "web"
    body = creates[1].json()
    assert body["Image"] == "busybox" and body["Cmd"] == ["sh", "-c", "echo hi"]
    assert body["Env"] == ["A=1"] and body["AttachStdout"] and not body["AttachStdin"]
    host = body["HostConfig"]
    assert host["AutoRemove"] is True and host["NanoCpus"] == 1_500_000_000
    assert host["Memory"] == 64 << 20
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert body["ExposedPorts"] == {"80/tcp": {}}
    pull = daemon.find("POST", "/images/create")[0]
    assert pull.arg("fromImage") == "busybox" and pull.arg("tag") == "latest"
    assert "x-registry-auth" in pull.headers
    assert daemon.find("POST", f"/containers/{CID}/wait")[0].arg("condition") == "removed"
    attach = daemon.find("POST", f"/containers/{CID}/attach")[0]
    assert attach.headers["upgrade"] == "tcp" and attach.arg("stdin") == "0"
    assert attach.arg("detachKeys") == "ctrl-p,ctrl-q"


def test_run_interactive_sends_stdin_and_half_closes(daemon: FakeDaemon) -> None:
    got: list[bytes] = []
    _run_routes(daemon, [json_reply({"Id": CID}, 201)], exit_code=0,
                frames=[frame(STDOUT, b"done\n")], got_stdin=got)
    r = cove(daemon, "run", "-i", "busybox", "cat", stdin=b"line one\nline two\n")
    assert r.returncode == 0, r.stderr
    assert got == [b"line one\nline two\n"]
    assert r.stdout == b"done\n"
    body = daemon.find("POST", "/containers/create")[0].json()
    assert body["OpenStdin"] and body["AttachStdin"] and body["StdinOnce"]


@pytest.mark.parametrize(("message", "code"), [
    ("failed to create task: exec: \"nosuch\": executable file not found in $PATH", 127),
    ("exec /bin/x: permission denied", 126),
    ("cgroup setup failed", 125),
])
def test_run_start_failure_exit_codes(daemon: FakeDaemon, message: str, code: int) -> None:
    _run_routes(daemon, [json_reply({"Id": CID}, 201)], exit_code=0, frames=[],
                start=error_reply(500, message))
    r = cove(daemon, "run", "busybox", "nosuch")
    assert r.returncode == code
    assert message in r.stderr.decode()


def test_run_create_error_is_125_create_is_1(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/create",
                 error_reply(409, 'Conflict. The container name "/web" is already in use'))
    r = cove(daemon, "run", "--name", "web", "busybox")
    assert r.returncode == 125
    assert r.stderr == (b'cove: Error response from daemon: Conflict. The container name "/web" '
                        b"is already in use\n\nRun 'cove run --help' for more information\n")
    r = cove(daemon, "create", "--name", "web", "busybox")
    assert r.returncode == 1  # docker 28: create failures are 1, run's are 125
    assert r.stderr.startswith(b"Error response from daemon: Conflict.")


def test_run_detached_prints_id(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/create", json_reply({"Id": CID}, 201))
    daemon.route("POST", f"/containers/{CID}/start", Reply(204))
    r = cove(daemon, "run", "-d", "--restart", "on-failure:3", "--ulimit", "nofile=10:20",
             "--health-cmd", "true", "--health-interval", "1m30s", "busybox")
    assert r.returncode == 0 and r.stdout == CID.encode() + b"\n"
    body = daemon.find("POST", "/containers/create")[0].json()
    assert body["HostConfig"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert body["HostConfig"]["Ulimits"] == [{"Name": "nofile", "Soft": 10, "Hard": 20}]
    assert body["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90 * 10**9}
    assert not body["AttachStdout"]


def test_logs_demultiplexed(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/web/json", json_reply({"Id": CID, "Config": {"Tty": False}}))
    data = frame(STDOUT, b"out 1\n") + frame(STDERR, b"err 1\n") + frame(STDOUT, b"out 2\n")
    daemon.route("GET", "/containers/web/logs",
                 Reply(body=[data[:3], data[3:17], data[17:]], chunked=True,
                       content_type="application/vnd.docker.multiplexed-stream"))
    r = cove(daemon, "logs", "--tail", "10", "-t", "web")
    assert r.returncode == 0
    assert r.stdout == b"out 1\nout 2\n" and r.stderr == b"err 1\n"
    req = daemon.find("GET", "/containers/web/logs")[0]
    assert req.arg("tail") == "10" and req.arg("timestamps") == "1"


def test_exec_exit_code(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/web/exec", json_reply({"Id": "e1"}, 201))
    daemon.route("POST", "/exec/e1/start", _attach_replying([frame(STDOUT, b"inside\n")]))
    daemon.route("GET", "/exec/e1/json", json_reply({"ExitCode": 7, "Running": False}))
    r = cove(daemon, "exec", "-e", "X=1", "-u", "nobody", "-w", "/tmp", "web", "sh", "-c",
             "exit 7")
    assert r.returncode == 7 and r.stdout == b"inside\n"
    body = daemon.find("POST", "/containers/web/exec")[0].json()
    assert body["Cmd"] == ["sh", "-c", "exit 7"] and body["Env"] == ["X=1"]
    assert body["User"] == "nobody" and body["WorkingDir"] == "/tmp"
    assert daemon.find("POST", "/exec/e1/start")[0].json() == {"Detach": False, "Tty": False}


def test_inspect_formats_and_missing(daemon: FakeDaemon) -> None:
    doc = {"Id": CID, "Name": "/web", "State": {"Pid": 42, "Running": True},
           "Config": {"Env": ["A=1"], "Labels": {"x": "y"}}}
    daemon.route("GET", "/containers/web/json", json_reply(doc))
    daemon.route("GET", "/containers/*", error_reply(404, "No such container"))
    daemon.route("GET", "/images/*", error_reply(404, "No such image"))
    r = cove(daemon, "inspect", "-f", "{{.State.Pid}} {{json .Config.Labels}}", "web")
    assert r.stdout == b'42 {"x":"y"}\n'
    r = cove(daemon, "inspect", "web")
    assert json.loads(r.stdout) == [doc] and r.stdout.startswith(b"[\n    {")
    r = cove(daemon, "inspect", "web", "ghost")
    assert r.returncode == 1 and r.stderr == b"Error: No such object: ghost\n"
    assert json.loads(r.stdout) == [doc]
    r = cove(daemon, "container", "inspect", "ghost")
    assert r.stderr == b"Error response from daemon: No such container\n"


def test_images_table(daemon: FakeDaemon) -> None:
    image = {"Id": "sha256:" + "b" * 64, "RepoTags": ["busybox:latest"], "RepoDigests": [],
             "Created": int(time.time()) - 3 * 86400, "Size": 4_260_000}
    daemon.route("GET", "/images/json", json_reply([image]))
    r = cove(daemon, "images", "--filter", "dangling=false")
    lines = r.stdout.decode().splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].split() == ["busybox", "latest", "bbbbbbbbbbbb", "3", "days", "ago",
                                "4.26MB"]
    assert json.loads(daemon.requests[0].arg("filters") or "") == {"dangling": ["false"]}
    r = cove(daemon, "image", "ls", "-q")
    assert r.stdout == b"bbbbbbbbbbbb\n"


def test_pull_stream_error(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/images/create", Reply(body=[
        b'{"status":"Pulling from x/y","id":"1"}\n',
        b'{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}\n'],
        chunked=True))
    r = cove(daemon, "pull", "127.0.0.1:5000/x/y:1")
    assert r.returncode == 1
    assert r.stdout.decode().startswith("1: Pulling from x/y\n")
    assert r.stderr == b"manifest unknown\n"
    req = daemon.requests[0]
    assert (req.arg("fromImage"), req.arg("tag")) == ("127.0.0.1:5000/x/y", "1")


def test_login_stores_credentials(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("POST", "/auth", json_reply({"Status": "Login Succeeded"}))
    config_dir = tmp_path / "dockercfg"
    r = cove(daemon, "login", "-u", "alice", "--password-stdin", "127.0.0.1:5000",
             stdin=b"s3cret\n", env={"DOCKER_CONFIG": str(config_dir)})
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Login Succeeded\n"
    assert daemon.requests[0].json() == {"username": "alice", "password": "s3cret",
                                         "serveraddress": "127.0.0.1:5000"}
    path = config_dir / "config.json"
    assert path.stat().st_mode & 0o777 == 0o600
    auth = json.loads(path.read_text())["auths"]["127.0.0.1:5000"]["auth"]
    assert base64.b64decode(auth) == b"alice:s3cret"
    # pulls from that registry now carry the credentials
    daemon.route("POST", "/images/create", Reply(body=[b'{"status":"ok"}\n'], chunked=True))
    cove(daemon, "pull", "-q", "127.0.0.1:5000/app", env={"DOCKER_CONFIG": str(config_dir)})
    header = daemon.requests[-1].headers["x-registry-auth"]
    sent = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    assert sent == {"username": "alice", "password": "s3cret", "serveraddress": "127.0.0.1:5000"}
    r = cove(daemon, "logout", "127.0.0.1:5000", env={"DOCKER_CONFIG": str(config_dir)})
    assert r.stdout == b"Removing login credentials for 127.0.0.1:5000\n"
    assert json.loads(path.read_text())["auths"] == {}


def test_login_refused(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("POST", "/auth", error_reply(401, "login attempt failed"))
    r = cove(daemon, "login", "-u", "a", "-p", "b", "localhost:5000",
             env={"DOCKER_CONFIG": str(tmp_path / "c")})
    assert r.returncode == 1 and b"Error response from daemon: login attempt failed" in r.stderr
    assert b"--password-stdin" in r.stderr
    assert not (tmp_path / "c" / "config.json").exists()


def _tar_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.uid = 1234
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _stat_header(name: str, mode: int) -> str:
    return base64.b64encode(json.dumps({"name": name, "size": 5, "mode": mode,
                                        "mtime": "2024-01-01T00:00:00Z",
                                        "linkTarget": ""}).encode()).decode()


def test_cp_from_container(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("GET", "/containers/web/archive", Reply(
        body=[_tar_of({"hosts": b"127.0.0.1 localhost\n"})], chunked=True,
        content_type="application/x-tar",
        headers={"X-Docker-Container-Path-Stat": _stat_header("hosts", 0o644)}))
    r = cove(daemon, "cp", "web:/etc/hosts", str(tmp_path / "copy"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "copy").read_bytes() == b"127.0.0.1 localhost\n"
    assert daemon.requests[0].arg("path") == "/etc/hosts"
    (tmp_path / "dir").mkdir()
    r = cove(daemon, "cp", "-q", "web:/etc/hosts", str(tmp_path / "dir"))
    assert (tmp_path / "dir" / "hosts").read_bytes() == b"127.0.0.1 localhost\n"
    r = cove(daemon, "cp", "web:/etc/hosts", "-")
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        assert tar.getnames() == ["hosts"]


def test_cp_to_container(daemon: FakeDaemon, tmp_path: Path) -> None:
    src = tmp_path / "data"
    src.mkdir()
    (src / "a.txt").write_bytes(b"alpha")
    daemon.route("HEAD", "/containers/web/archive", Reply(
        headers={"X-Docker-Container-Path-Stat": _stat_header("srv", 0o755 | 1 << 31)}))
    daemon.route("PUT", "/containers/web/archive", Reply(200))
    r = cove(daemon, "cp", str(src), "web:/srv")
    assert r.returncode == 0, r.stderr
    put = daemon.find("PUT", "/containers/web/archive")[0]
    assert put.arg("path") == "/srv"
    with tarfile.open(fileobj=io.BytesIO(put.body)) as tar:
        assert sorted(tar.getnames()) == ["data", "data/a.txt"]
        member = tar.getmember("data/a.txt")
        assert member.uid == 0
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"alpha"


def test_cp_to_missing_path_renames(daemon: FakeDaemon, tmp_path: Path) -> None:
    src = tmp_path / "f.txt"
    src.write_bytes(b"x")
    daemon.route("HEAD", "/containers/web/archive", error_reply(404, "no such file"))
    daemon.route("GET", "/containers/web/json", json_reply({"Id": CID}))
    daemon.route("PUT", "/containers/web/archive", Reply(200))
    r = cove(daemon, "cp", str(src), "web:/tmp/renamed.txt")
    assert r.returncode == 0, r.stderr
    put = daemon.find("PUT", "/containers/web/archive")[0]
    assert put.arg("path") == "/tmp"
    with tarfile.open(fileobj=io.BytesIO(put.body)) as tar:
        assert tar.getnames() == ["renamed.txt"]


def test_events_format(daemon: FakeDaemon) -> None:
    events = [{"Type": "container", "Action": "start", "Actor": {"ID": CID, "Attributes": {
        "name": "web", "image": "busybox"}}, "time": 1700000000, "timeNano": 1700000000 * 10**9}]
    daemon.route("GET", "/events", Reply(body=[json.dumps(e).encode() + b"\n" for e in events],
                                         chunked=True))
    r = cove(daemon, "events", "--since", "1699999999", "--format",
             "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    assert r.stdout == b"container start web\n"
    assert daemon.requests[0].arg("since") == "1699999999"
    r = cove(daemon, "events")
    assert r.stdout.decode().rstrip().endswith(
        f"container start {CID} (image=busybox, name=web)")


def test_stop_and_kill_parameters(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/*", Reply(204))
    r = cove(daemon, "stop", "-t", "5", "--signal", "usr1", "a", "b")
    assert r.stdout == b"a\nb\n"
    # signals go to the daemon as typed, as docker sends them
    assert [(q.arg("t"), q.arg("signal")) for q in daemon.requests] == [
        ("5", "usr1"), ("5", "usr1")]
    r = cove(daemon, "kill", "-s", "HUP", "a")
    assert daemon.requests[-1].path == "/containers/a/kill"
    assert daemon.requests[-1].arg("signal") == "HUP"
    r = cove(daemon, "stop", "--time", "7", "a")  # the deprecated spelling still works
    assert daemon.requests[-1].arg("t") == "7"
    r = cove(daemon, "stop", "-t", "x", "a")
    assert r.returncode == 125 and b'"-t, --timeout" flag' in r.stderr


def test_unknown_command() -> None:
    r = subprocess.run([COVE, "frobnicate"], capture_output=True, timeout=30, check=False)
    assert r.returncode == 1 and b"'frobnicate' is not a cove command" in r.stderr


def test_cp_refuses_entries_outside_destination(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("GET", "/containers/web/archive", Reply(
        body=[_tar_of({"d/../../escape": b"bad"})], chunked=True,
        content_type="application/x-tar",
        headers={"X-Docker-Container-Path-Stat": _stat_header("d", 0o755 | 1 << 31)}))
    (tmp_path / "dest").mkdir()
    r = cove(daemon, "cp", "web:/d", str(tmp_path / "dest"))
    assert r.returncode == 1 and b"outside the destination" in r.stderr
    assert not (tmp_path / "escape").exists()


def test_push_tag_rmi_history(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("POST", "/images/127.0.0.1:5000/app/push", Reply(body=[
        b'{"status":"The push refers to repository [127.0.0.1:5000/app]"}\n',
        b'{"status":"Pushed","id":"abc"}\n',
        b'{"status":"1.0: digest: sha256:00 size: 527"}\n'], chunked=True))
    r = cove(daemon, "push", "127.0.0.1:5000/app:1.0")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().splitlines() == [
        "The push refers to repository [127.0.0.1:5000/app]", "abc: Pushed",
        "1.0: digest: sha256:00 size: 527"]
    req = daemon.requests[-1]
    assert req.arg("tag") == "1.0" and "x-registry-auth" in req.headers

    daemon.route("POST", "/images/busybox/tag", Reply(201))
    assert cove(daemon, "tag", "busybox", "127.0.0.1:5000/bb:v1").returncode == 0
    assert (daemon.requests[-1].arg("repo"), daemon.requests[-1].arg("tag")) == (
        "127.0.0.1:5000/bb", "v1")

    daemon.route("DELETE", "/images/busybox", json_reply([
        {"Untagged": "busybox:latest"}, {"Deleted": "sha256:" + "1" * 64}]))
    r = cove(daemon, "rmi", "-f", "busybox")
    assert r.stdout.decode() == f"Untagged: busybox:latest\nDeleted: sha256:{'1' * 64}\n"
    assert daemon.requests[-1].arg("force") == "1"

    daemon.route("GET", "/images/busybox/history", json_reply([
        {"Id": "sha256:" + "2" * 64, "Created": int(time.time()) - 7200,
         "CreatedBy": "/bin/sh -c #(nop) CMD [\"sh\"]", "Size": 0, "Comment": ""},
        {"Id": "<missing>", "Created": int(time.time()) - 7200,
         "CreatedBy": "/bin/sh -c #(nop) ADD file:abc in / ", "Size": 4_260_000,
         "Comment": ""}]))
    lines = cove(daemon, "history", "busybox").stdout.decode().splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert lines[1].startswith("222222222222   2 hours ago   /bin/sh -c #(nop) CMD")
    assert lines[2].startswith("<missing>") and "4.26MB" in lines[2]
    assert cove(daemon, "history", "-q", "busybox").stdout == b"222222222222\n<missing>\n"


def test_save_load_import(daemon: FakeDaemon, tmp_path: Path) -> None:
    archive = _tar_of({"manifest.json": b"[]"})
    daemon.route("GET", "/images/get", Reply(body=[archive], chunked=True,
                                             content_type="application/x-tar"))
    out = tmp_path / "img.tar"
    r = cove(daemon, "save", "-o", str(out), "busybox", "alpine")
    assert r.returncode == 0 and out.read_bytes() == archive
    assert daemon.requests[-1].query["names"] == ["busybox", "alpine"]
    r = cove(daemon, "save", "busybox")
    assert r.stdout == archive

    daemon.route("POST", "/images/load", Reply(
        body=[b'{"stream":"Loaded image: busybox:latest\\n"}\n'], chunked=True))
    r = cove(daemon, "load", "-i", str(out))
    assert r.stdout == b"Loaded image: busybox:latest\n"
    assert daemon.requests[-1].body == archive
    r = cove(daemon, "load", stdin=archive)
    assert daemon.requests[-1].body == archive

    daemon.route("POST", "/images/create", Reply(
        body=[b'{"status":"sha256:' + b"3" * 64 + b'"}\n'], chunked=True))
    r = cove(daemon, "import", "-c", "CMD [\"sh\"]", "-m", "imported", "-", "mine:1",
             stdin=archive)
    assert r.stdout == b"sha256:" + b"3" * 64 + b"\n"
    req = daemon.requests[-1]
    assert (req.arg("fromSrc"), req.arg("repo"), req.arg("tag")) == ("-", "mine", "1")
    assert req.query["changes"] == ['CMD ["sh"]'] and req.arg("message") == "imported"
    assert req.body == archive


def test_image_prune(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/images/prune", json_reply({
        "ImagesDeleted": [{"Untagged": "x:1"}, {"Deleted": "sha256:44"}],
        "SpaceReclaimed": 2_000_000}))
    r = cove(daemon, "image", "prune", "-f", "--filter", "until=24h")
    assert r.stdout.decode() == ("Deleted Images:\nuntagged: x:1\ndeleted: sha256:44\n\n"
                                 "Total reclaimed space: 2MB\n")
    assert json.loads(daemon.requests[-1].arg("filters") or "") == {
        "until": ["24h"], "dangling": ["true"]}
    r = cove(daemon, "image", "prune", stdin=b"n\n")
    # docker asks on stdout
    assert r.returncode == 0 and b"Are you sure you want to continue? [y/N]" in r.stdout
    assert len(daemon.find("POST", "/images/prune")) == 1


def test_container_info_verbs(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/web/top", json_reply({
        "Titles": ["PID", "USER", "COMMAND"], "Processes": [["1", "root", "sleep 100"]]}))
    r = cove(daemon, "top", "web", "-ef")
    assert r.stdout.decode().splitlines() == [  # docker top's columns are 20 wide
        "PID" + " " * 17 + "USER" + " " * 16 + "COMMAND",
        "1" + " " * 19 + "root" + " " * 16 + "sleep 100"]
    assert daemon.requests[-1].arg("ps_args") == "-ef"
    daemon.route("GET", "/containers/web/changes", json_reply([
        {"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/new", "Kind": 1}, {"Path": "/gone",
                                                                      "Kind": 2}]))
    assert cove(daemon, "diff", "web").stdout == b"C /tmp\nA /tmp/new\nD /gone\n"
    daemon.route("GET", "/containers/web/json", json_reply({"Id": CID, "NetworkSettings": {
        "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "53/udp": None}}}))
    assert cove(daemon, "port", "web").stdout == b"80/tcp -> 0.0.0.0:8080\n"
    assert cove(daemon, "port", "web", "80").stdout == b"0.0.0.0:8080\n"
    r = cove(daemon, "port", "web", "53/udp")
    assert r.returncode == 1 and b"No public port '53/udp'" in r.stderr


def test_commit_update_export(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("POST", "/commit", json_reply({"Id": "sha256:55"}, 201))
    r = cove(daemon, "commit", "-m", "msg", "-a", "me", "-c", "ENV A=1", "--pause=false", "web",
             "127.0.0.1:5000/snap:v2")
    assert r.stdout == b"sha256:55\n"
    q = daemon.requests[-1]
    assert (q.arg("container"), q.arg("repo"), q.arg("tag"), q.arg("comment"),
            q.arg("author"), q.arg("pause")) == ("web", "127.0.0.1:5000/snap", "v2", "msg",
                                                 "me", "0")
    assert q.query["changes"] == ["ENV A=1"]
    daemon.route("POST", "/containers/web/update", json_reply({"Warnings": []}))
    r = cove(daemon, "update", "-m", "256m", "--cpus", "2", "--restart", "always", "web")
    assert r.stdout == b"web\n"
    assert daemon.requests[-1].json() == {"Memory": 256 << 20, "NanoCpus": 2_000_000_000,
                                          "RestartPolicy": {"Name": "always",
                                                            "MaximumRetryCount": 0}}
    assert cove(daemon, "update", "web").returncode == 125
    daemon.route("GET", "/containers/web/export", Reply(body=[b"tarbytes"], chunked=True))
    r = cove(daemon, "export", "-o", str(tmp_path / "fs.tar"), "web")
    assert r.returncode == 0 and (tmp_path / "fs.tar").read_bytes() == b"tarbytes"


def test_stats_snapshot(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/web/stats", json_reply({
        "id": CID, "name": "/web",
        "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000,
                      "online_cpus": 1},
        "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
        "memory_stats": {"usage": 1048576, "limit": 10485760}, "pids_stats": {"current": 2}}))
    r = cove(daemon, "stats", "--no-stream", "web")
    lines = r.stdout.decode().splitlines()
    assert lines[0].split()[:4] == ["CONTAINER", "ID", "NAME", "CPU"]
    assert lines[1].split()[:7] == ["4f1c9b2a7d3e", "web", "20.00%", "1MiB", "/", "10MiB",
                                    "10.00%"]
    assert daemon.requests[-1].arg("stream") == "0"
    r = cove(daemon, "stats", "--no-stream", "--format", "{{.Name}}: {{.CPUPerc}}", "web")
    assert r.stdout == b"web: 20.00%\n"


def test_pause_restart_wait(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/*", Reply(204))
    daemon.route("POST", "/containers/web/wait", json_reply({"StatusCode": 9}))
    assert cove(daemon, "pause", "web").stdout == b"web\n"
    assert cove(daemon, "unpause", "web").stdout == b"web\n"
    assert cove(daemon, "restart", "-t", "0", "web").stdout == b"web\n"
    assert daemon.requests[-1].path == "/containers/web/restart"
    assert cove(daemon, "wait", "web").stdout == b"9\n"


def test_run_pull_never_and_always(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/create", error_reply(404, "No such image: bb:latest"))
    r = cove(daemon, "run", "--pull", "never", "bb")
    assert r.returncode == 125 and b"No such image" in r.stderr
    assert not daemon.find("POST", "/images/create")
    r = cove(daemon, "run", "--pull", "sometimes", "bb")
    assert r.returncode == 125 and b"invalid pull option" in r.stderr
    daemon.route("POST", "/images/create", Reply(body=[b'{"status":"ok"}\n'], chunked=True))
    daemon.route("POST", "/containers/create", json_reply({"Id": CID}, 201))
    daemon.route("POST", f"/containers/{CID}/start", Reply(204))
    r = cove(daemon, "run", "-d", "--pull", "always", "--platform", "linux/amd64", "bb:2")
    assert r.returncode == 0
    pull = daemon.find("POST", "/images/create")[0]
    assert (pull.arg("fromImage"), pull.arg("tag"), pull.arg("platform")) == (
        "bb", "2", "linux/amd64")


def test_version_without_daemon_reports_client(tmp_path: Path) -> None:
    r = subprocess.run([COVE, "-H", f"unix://{tmp_path}/none.sock", "version"],
                       capture_output=True, timeout=30, check=False)
    assert r.returncode == 1
    assert r.stdout.startswith(b"Client:\n Version:")
    assert b"Cannot connect" in r.stderr


def test_tty_requires_terminal_input(daemon: FakeDaemon) -> None:
    daemon.route("POST", "/containers/create", json_reply({"Id": CID}, 201))
    r = cove(daemon, "run", "-it", "busybox")
    assert r.returncode == 1 and r.stderr == b"the input device is not a TTY\n"
    assert daemon.requests == []


def test_help_and_groups(daemon: FakeDaemon) -> None:
    r = cove(daemon)
    assert r.returncode == 0 and b"Usage:  cove [OPTIONS] COMMAND" in r.stdout
    r = cove(daemon, "container")
    assert r.returncode == 0 and b"\n  ls          List containers\n" in r.stderr
    r = cove(daemon, "image", "ls", "--help")
    assert r.returncode == 0 and b"--digests" in r.stdout
    r = cove(daemon, "container", "frob")
    assert r.returncode == 1 and b"cove: unknown command: cove container frob" in r.stderr
    assert daemon.requests == []


def test_cp_follow_link_keeps_link_name(daemon: FakeDaemon, tmp_path: Path) -> None:
    def stat(req: Request) -> Reply:
        return Reply(headers={"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps({
            "name": "link", "size": 3, "mode": 0o777 | 1 << 27, "mtime": "",
            "linkTarget": "/data/real"}).encode()).decode()})

    daemon.route("HEAD", "/containers/web/archive", stat)
    daemon.route("GET", "/containers/web/archive", Reply(
        body=[_tar_of({"real": b"abc"})], chunked=True, content_type="application/x-tar",
        headers={"X-Docker-Container-Path-Stat": _stat_header("real", 0o644)}))
    r = cove(daemon, "cp", "-L", "web:/data/link", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert daemon.find("GET", "/containers/web/archive")[0].arg("path") == "/data/real"
    assert (tmp_path / "link").read_bytes() == b"abc"


def test_ps_format_with_size_asks_for_sizes(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/json", json_reply([dict(CONTAINER, SizeRw=2000)]))
    r = cove(daemon, "ps", "--format", "{{.Names}} {{.Size}}")
    assert r.stdout == b"web 2kB\n"
    assert daemon.requests[-1].arg("size") == "1"


def test_run_attach_only_stdout_and_cidfile(daemon: FakeDaemon, tmp_path: Path) -> None:
    _run_routes(daemon, [json_reply({"Id": CID}, 201)], exit_code=0,
                frames=[frame(STDOUT, b"only out\n")])
    cidfile = tmp_path / "cid"
    r = cove(daemon, "run", "-a", "stdout", "--cidfile", str(cidfile), "--detach-keys",
             "ctrl-a,x", "busybox")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"only out\n" and cidfile.read_text() == CID
    attach = daemon.find("POST", f"/containers/{CID}/attach")[0]
    assert (attach.arg("stdout"), attach.arg("stderr"), attach.arg("stdin")) == ("1", "0", "0")
    assert attach.arg("detachKeys") == "ctrl-a,x"
    body = daemon.find("POST", "/containers/create")[0].json()
    assert (body["AttachStdout"], body["AttachStderr"]) == (True, False)
    r = cove(daemon, "run", "--cidfile", str(cidfile), "busybox")
    assert r.returncode == 125 and b"container ID file found" in r.stderr
    r = cove(daemon, "run", "--detach-keys", "ctrl-", "busybox")
    assert r.returncode == 125 and b'for "--detach-keys" flag' in r.stderr
    r = cove(daemon, "run", "-d", "-a", "stdout", "busybox")
    assert r.returncode == 125 and b"Conflicting options: -a and -d" in r.stderr


def test_create_body_from_files_and_mounts(daemon: FakeDaemon, tmp_path: Path) -> None:
    daemon.route("POST", "/containers/create", json_reply({"Id": CID}, 201))
    env_file = tmp_path / "env"
    env_file.write_text("# settings\nFROM_FILE=1\nOVERRIDE=file\n")
    labels = tmp_path / "labels"
    labels.write_text("team=core\n")
    r = cove(daemon, "create", "--env-file", str(env_file), "-e", "OVERRIDE=flag",
             "--label-file", str(labels), "-l", "x=y", "--mount",
             "type=bind,src=/srv,dst=/data,ro", "--tmpfs", "/run:size=64m", "-v", "/cache",
             "-v", "/host:/ctr:ro", "--device", "/dev/fuse", "--cap-add", "net_admin",
             "--sysctl", "net.ipv4.ip_forward=1", "--log-opt", "max-size=10m", "--add-host",
             "db:10.0.0.2", "--dns", "1.1.1.1", "--entrypoint", "", "--init",
             "--no-healthcheck", "--read-only", "--privileged", "--shm-size", "1g",
             "--network", "mynet", "--ip", "10.1.0.5", "--expose", "9000", "-P",
             "--memory-swap", "-1", "--pids-limit", "100", "--group-add", "audio",
             "busybox", "true")
    assert r.returncode == 0, r.stderr
    body = daemon.requests[-1].json()
    assert body["Env"] == ["FROM_FILE=1", "OVERRIDE=file", "OVERRIDE=flag"]
    assert body["Labels"] == {"team": "core", "x": "y"}
    assert body["Entrypoint"] == [""] and body["Healthcheck"] == {"Test": ["NONE"]}
    assert body["Volumes"] == {"/cache": {}} and body["ExposedPorts"] == {"9000/tcp": {}}
    host = body["HostConfig"]
    assert host["Mounts"] == [{"Type": "bind", "Source": "/srv", "Target": "/data",
                               "ReadOnly": True}]
    assert host["Tmpfs"] == {"/run": "size=64m"} and host["Binds"] == ["/host:/ctr:ro"]
    assert host["Devices"] == [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse",
                                "CgroupPermissions": "rwm"}]
    assert host["CapAdd"] == ["CAP_NET_ADMIN"]
    assert host["Sysctls"] == {"net.ipv4.ip_forward": "1"}
    assert host["LogConfig"] == {"Type": "", "Config": {"max-size": "10m"}}
    assert host["ExtraHosts"] == ["db:10.0.0.2"] and host["Dns"] == ["1.1.1.1"]
    assert host["Init"] is True and host["ReadonlyRootfs"] and host["Privileged"]
    assert host["ShmSize"] == 1 << 30 and host["PublishAllPorts"]
    assert host["MemorySwap"] == -1 and host["PidsLimit"] == 100
    assert host["GroupAdd"] == ["audio"] and host["NetworkMode"] == "mynet"
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"mynet": {"IPAMConfig": {
        "IPv4Address": "10.1.0.5"}}}}
    r = cove(daemon, "create", "--no-healthcheck", "--health-cmd", "x", "busybox")
    assert r.returncode == 125 and b"conflicts with --health-*" in r.stderr
    r = cove(daemon, "create", "--env-file", str(tmp_path / "missing"), "busybox")
    assert r.returncode == 125 and b'for "--env-file" flag: open' in r.stderr


def test_stats_streams_until_interrupted(daemon: FakeDaemon) -> None:
    import signal

    daemon.route("GET", "/containers/json", json_reply([CONTAINER]))
    daemon.route("GET", f"/containers/{CID}/stats", json_reply({
        "id": CID, "name": "/web", "memory_stats": {"usage": 1024, "limit": 2048},
        "pids_stats": {"current": 1}}))
    proc = subprocess.Popen([COVE, "-H", daemon.host, "stats", "--format",
                             "{{.Name}} {{.MemPerc}}"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while len(daemon.find("GET", f"/containers/{CID}/stats")) < 2:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    # not a terminal: no screen clearing, one block per sample
    assert out.decode().splitlines()[:2] == ["web 50.00%", "web 50.00%"]
    assert daemon.find("GET", "/containers/json")[0].arg("all") is None


def test_debug_logs_requests(daemon: FakeDaemon) -> None:
    daemon.route("GET", "/containers/json", json_reply([]))
    r = cove(daemon, "-D", "ps", "-q")
    assert r.returncode == 0
    assert b"DEBUG cove.cli.transport: GET /v1.47/containers/json" in r.stderr
    assert b"-> 200" in r.stderr
    r = cove(daemon, "ps", "-q")
    assert r.stderr == b""
    r = cove(daemon, "--log-level", "loud", "ps")
    assert r.returncode == 125 and b"Unable to parse logging level: loud" in r.stderr


def test_bad_formats_are_refused_before_any_request(daemon: FakeDaemon) -> None:
    r = cove(daemon, "ps", "--format", "{{.Foo}}")
    assert r.returncode == 1
    assert r.stderr == (b'failed to execute template: template: :1:2: executing "" at <.Foo>: '
                        b"can't evaluate field Foo in type *ContainerRow\n")
    r = cove(daemon, "images", "--format", "{{.ID")
    assert r.returncode == 1
    assert r.stderr == b"template parsing error: template: :1: unclosed action\n"
    r = cove(daemon, "ps", "--format", "{{.ID")
    assert r.stderr == b"failed to parse template: template: :1: unclosed action\n"
    r = cove(daemon, "events", "--format", "{{.ID")
    assert r.returncode == 64
    assert r.stderr == b"Error parsing format: template: :1: unclosed action\n"
    r = cove(daemon, "history", "--format", "{{.Nope}}", "busybox")
    assert r.returncode == 1 and r.stderr.startswith(b"failed to execute template:")
    r = cove(daemon, "inspect", "--format", "{{.Id", "x")
    assert r.returncode == 64
    assert r.stderr == b"template parsing error: template: :1: unclosed action\n"
    assert daemon.requests == []


def test_argument_count_errors_exit_1(daemon: FakeDaemon) -> None:
    r = cove(daemon, "logs")
    assert r.returncode == 1
    assert r.stderr == (b"cove: 'cove logs' requires 1 argument\n\n"
                        b"Usage:  cove logs [OPTIONS] CONTAINER\n\n"
                        b"Run 'cove logs --help' for more information\n")


def test_login_without_terminal_needs_flags(daemon: FakeDaemon, tmp_path: Path) -> None:
    r = cove(daemon, "login", "127.0.0.1:5000", env={"DOCKER_CONFIG": str(tmp_path)})
    assert r.returncode == 1
    assert r.stderr == b"Error: Cannot perform an interactive login from a non TTY device\n"
    r = cove(daemon, "login", "-p", "x", "--password-stdin", "-u", "a", "r:1",
             env={"DOCKER_CONFIG": str(tmp_path)})
    assert r.returncode == 125 and b"mutually exclusive" in r.stderr
    assert daemon.requests == []
