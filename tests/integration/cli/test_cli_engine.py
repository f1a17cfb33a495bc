"""``cove`` end to end against a private coved (tests/engine_fixtures.py).

Every command runs the real launcher with ``-H unix://<the daemon's socket>``;
containers are busybox, removed after each test by the fixture.
"""

from __future__ import annotations

import io
import json
import os
import select
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine_fixtures import (
    COVE,
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="coved needs root")


def ok(engine: Engine, *args: str, input: bytes | None = None) -> str:
    r = engine.cove(*args, input=input)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout.decode()


def test_run_ps_logs_rm(engine: Engine) -> None:
    r = engine.cove("run", "--name", "hello", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"out\n" and r.stderr == b"err\n"
    lines = ok(engine, "ps", "-a").splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                                "PORTS", "NAMES"]
    assert len(lines) == 2 and lines[1].endswith("   hello")
    assert '"sh -c echo out; ech\u2026"' in lines[1] and "Exited (0)" in lines[1]
    assert ok(engine, "ps", "-q") == ""
    r = engine.cove("logs", "hello")
    assert r.stdout == b"out\n" and r.stderr == b"err\n"
    assert ok(engine, "rm", "hello") == "hello\n"
    assert ok(engine, "ps", "-aq") == ""


def test_exit_codes(engine: Engine) -> None:
    assert engine.cove("run", "busybox", "sh", "-c", "exit 3").returncode == 3
    r = engine.cove("run", "busybox", "no-such-command")
    assert r.returncode == 127
    assert r.stderr.startswith(b"cove: Error response from daemon: ")
    r = engine.cove("run", "--name", "bad name!", "busybox")
    assert r.returncode == 125 and b"Error response from daemon" in r.stderr
    r = engine.cove("run", "--cpus", "lots", "busybox")
    assert r.returncode == 125 and b'for "--cpus" flag' in r.stderr
    r = engine.cove("rm", "no-such-container")
    assert r.returncode == 1
    assert r.stderr.startswith(b"Error response from daemon: ") and b"no-such-container" in \
        r.stderr


def test_run_rm_removes_container(engine: Engine) -> None:
    r = engine.cove("run", "--rm", "--name", "gone", "busybox", "sh", "-c", "echo bye; exit 2")
    assert r.returncode == 2 and r.stdout == b"bye\n"
    deadline = time.monotonic() + 5
    while "gone" in ok(engine, "ps", "-a", "--format", "{{.Names}}"):
        assert time.monotonic() < deadline, "--rm container still listed"
        time.sleep(0.05)


def test_stdin_is_passed_and_closed(engine: Engine) -> None:
    r = engine.cove("run", "-i", "busybox", "sh", "-c", "tr a-z A-Z; echo end",
                    input=b"hello\nworld\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"HELLO\nWORLD\nend\n"


def test_detached_lifecycle_and_formats(engine: Engine) -> None:
    cid = ok(engine, "run", "-d", "--name", "svc", "-l", "tier=front", "-e", "A=1",
             "busybox", "sleep", "300").strip()
    assert len(cid) == 64
    assert ok(engine, "ps", "-q") == cid[:12] + "\n"
    assert ok(engine, "ps", "--no-trunc", "-q") == cid + "\n"
    assert ok(engine, "ps", "--format", "{{.Names}} {{.Label \"tier\"}} {{.State}}") == \
        "svc front running\n"
    assert ok(engine, "ps", "--filter", "label=tier=front", "--format", "{{.Names}}") == "svc\n"
    assert ok(engine, "ps", "--filter", "name=nomatch", "-q") == ""
    row = json.loads(ok(engine, "ps", "--format", "json"))
    assert row["Names"] == "svc" and row["ID"] == cid[:12]
    assert ok(engine, "inspect", "-f", "{{.State.Running}} {{.Config.Cmd}} "
              "{{index .Config.Labels \"tier\"}}", "svc") == "true [sleep 300] front\n"
    env = ok(engine, "container", "inspect", "--format", "{{json .Config.Env}}", "svc")
    assert "A=1" in json.loads(env)
    doc = json.loads(ok(engine, "inspect", "svc"))
    assert isinstance(doc, list) and doc[0]["Id"] == cid
    r = engine.cove("inspect", "svc", "ghost")
    assert r.returncode == 1 and r.stderr == b"Error: No such object: ghost\n"
    assert ok(engine, "rename", "svc", "svc2") == ""
    assert ok(engine, "stop", "-t", "1", "svc2") == "svc2\n"
    assert ok(engine, "inspect", "-f", "{{.State.Status}}", "svc2") == "exited\n"
    assert ok(engine, "wait", "svc2") == "137\n"
    assert ok(engine, "start", "svc2") == "svc2\n"
    assert ok(engine, "kill", "-s", "KILL", "svc2") == "svc2\n"
    assert ok(engine, "rm", "-f", "svc2") == "svc2\n"


def test_create_then_start_attached(engine: Engine) -> None:
    cid = ok(engine, "create", "--name", "later", "busybox", "sh", "-c", "echo started; "
             "exit 4").strip()
    assert ok(engine, "ps", "-a", "--filter", "status=created", "-q") == cid[:12] + "\n"
    r = engine.cove("start", "-a", "later")
    assert r.returncode == 4 and r.stdout == b"started\n"


def test_create_body_reaches_the_daemon(engine: Engine) -> None:
    ok(engine, "create", "--name", "cfg", "-m", "64m", "--cpus", "0.5", "--restart",
       "on-failure:2", "-w", "/tmp", "-u", "1000", "--hostname", "boxy", "--stop-signal",
       "TERM", "--ulimit", "nofile=100:200", "busybox", "true")
    host = json.loads(ok(engine, "inspect", "-f", "{{json .HostConfig}}", "cfg"))
    assert host["Memory"] == 64 << 20 and host["NanoCpus"] == 500_000_000
    assert host["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}]
    config = json.loads(ok(engine, "inspect", "-f", "{{json .Config}}", "cfg"))
    assert (config["WorkingDir"], config["User"], config["Hostname"]) == ("/tmp", "1000",
                                                                         "boxy")
    assert config["StopSignal"] == "SIGTERM"


def test_events_since(engine: Engine) -> None:
    start = str(int(time.time()) - 1)
    ok(engine, "run", "--name", "ev", "busybox", "true")
    until = str(int(time.time()) + 1)
    out = ok(engine, "events", "--since", start, "--until", until, "--filter", "container=ev",
             "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}")
    assert "container create ev" in out and "container start ev" in out


def test_version_and_info(engine: Engine) -> None:
    out = ok(engine, "version", "--format", "{{.Server.ApiVersion}}")
    assert out == "1.47\n"
    assert ok(engine, "info", "--format", "{{.Images}}") == "1\n"


@pytest.fixture
def pty_cove(engine: Engine) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``cove run -it`` on a real pseudo-terminal."""
    import pty

    master, slave = pty.openpty()
    _set_size(master, 30, 100)
    proc = subprocess.Popen([str(COVE), "-H", engine.host, "run", "-it", "--name", "tty",
                             "busybox", "sh"], stdin=slave, stdout=slave, stderr=slave,
                            env=engine.env(), start_new_session=True)
    os.close(slave)
    try:
        # The shell's banner comes through cove's pump, so cove's terminal is raw by
        # then; typed earlier, Ctrl-Q would be eaten as XON by the cooked terminal.
        _read_until(master, b"built-in commands")
        yield proc, master
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def _set_size(fd: int, rows: int, cols: int) -> None:
    import fcntl
    import struct
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _read_until(fd: int, needle: bytes, timeout: float = 20) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while needle not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} in {data!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_interactive_tty_and_exit_code(engine: Engine,
                                       pty_cove: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, master = pty_cove
    os.write(master, b"echo $((6*7))\r")
    _read_until(master, b"42")
    os.write(master, b"exit 5\r")
    assert proc.wait(timeout=20) == 5
    assert ok(engine, "inspect", "-f", "{{.Config.Tty}}", "tty") == "true\n"


def test_ctrl_p_ctrl_q_detaches(engine: Engine,
                                pty_cove: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, master = pty_cove
    os.write(master, b"echo ready\r")
    _read_until(master, b"ready")
    os.write(master, b"\x10\x11")
    assert proc.wait(timeout=20) == 0
    assert ok(engine, "inspect", "-f", "{{.State.Running}}", "tty") == "true\n"


def test_window_size_follows_the_terminal(engine: Engine,
                                          pty_cove: tuple[subprocess.Popen[bytes], int]) -> None:
    proc, master = pty_cove
    os.write(master, b"stty size\r")
    _read_until(master, b"30 100")
    _set_size(master, 40, 120)
    # the pty is not cove's controlling terminal (own session), so signal it directly
    os.kill(proc.pid, signal.SIGWINCH)
    time.sleep(0.3)
    os.write(master, b"stty size\r")
    _read_until(master, b"40 120")
    os.write(master, b"exit\r")
    assert proc.wait(timeout=20) == 0


def _wait_for_output(proc: subprocess.Popen[bytes], needle: bytes, timeout: float = 20) -> bytes:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    return _read_until(fd, needle, timeout)


def test_signals_are_proxied_to_the_container(engine: Engine) -> None:
    proc = subprocess.Popen([str(COVE), "-H", engine.host, "run", "--name", "sig", "busybox",
                             "sh", "-c", "trap 'echo got TERM; exit 7' TERM; echo armed; "
                             "while true; do sleep 0.1; done"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=engine.env())
    try:
        _wait_for_output(proc, b"armed")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 7
        assert proc.stdout is not None and proc.stdout.read() == b"got TERM\n"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_attach_follows_output_and_returns_exit_code(engine: Engine) -> None:
    ok(engine, "run", "-d", "--name", "ticker", "busybox", "sh", "-c",
       "while true; do echo tick; sleep 0.1; done")
    proc = subprocess.Popen([str(COVE), "-H", engine.host, "attach", "--no-stdin", "ticker"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=engine.env())
    try:
        _wait_for_output(proc, b"tick\ntick\n")
        assert ok(engine, "kill", "ticker") == "ticker\n"
        assert proc.wait(timeout=20) == 137
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    r = engine.cove("attach", "ticker")
    assert r.returncode == 1
    assert r.stderr == b"You cannot attach to a stopped container, start it first\n"


def test_exec_streams_env_and_exit_codes(engine: Engine) -> None:
    ok(engine, "run", "-d", "--name", "box", "busybox", "sleep", "300")
    r = engine.cove("exec", "-e", "X=5", "-w", "/tmp", "box", "sh", "-c",
                    "echo $X $PWD; echo oops >&2; exit 4")
    assert r.returncode == 4
    assert r.stdout == b"5 /tmp\n" and r.stderr == b"oops\n"
    r = engine.cove("exec", "-i", "box", "sh", "-c", "tr a-z A-Z", input=b"quiet\n")
    assert r.returncode == 0 and r.stdout == b"QUIET\n"
    assert engine.cove("exec", "box", "no-such-command").returncode == 127
    assert ok(engine, "exec", "-d", "box", "sh", "-c", "echo detached > /tmp/d") == ""
    deadline = time.monotonic() + 10
    while engine.cove("exec", "box", "cat", "/tmp/d").stdout != b"detached\n":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    r = engine.cove("exec", "ghost", "true")
    assert r.returncode == 1 and r.stderr.startswith(b"Error response from daemon: ")


def test_exec_tty_on_a_pty(engine: Engine) -> None:
    import pty

    ok(engine, "run", "-d", "--name", "box", "busybox", "sleep", "300")
    master, slave = pty.openpty()
    _set_size(master, 25, 90)
    proc = subprocess.Popen([str(COVE), "-H", engine.host, "exec", "-it", "box", "sh"],
                            stdin=slave, stdout=slave, stderr=slave, env=engine.env(),
                            start_new_session=True)
    os.close(slave)
    try:
        time.sleep(0.5)
        os.write(master, b"stty size; tty\r")
        out = _read_until(master, b"/dev/pts/")
        assert b"25 90" in out
        _set_size(master, 33, 77)
        os.kill(proc.pid, signal.SIGWINCH)
        time.sleep(0.3)
        os.write(master, b"stty size\r")
        _read_until(master, b"33 77")
        os.write(master, b"exit 6\r")
        assert proc.wait(timeout=20) == 6
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_images_inspect_tag_history_rmi(engine: Engine) -> None:
    lines = ok(engine, "images").splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].startswith("busybox      latest    ")
    image_id = ok(engine, "image", "inspect", "-f", "{{.Id}}", "busybox").strip()
    assert image_id.startswith("sha256:")
    assert ok(engine, "images", "-q") == image_id[7:19] + "\n"
    assert ok(engine, "images", "--no-trunc", "-q") == image_id + "\n"
    assert ok(engine, "inspect", "--type", "image", "-f", "{{.Os}} {{.Config.Cmd}}",
              "busybox") == "linux [sh]\n"
    assert ok(engine, "tag", "busybox", "127.0.0.1:5000/team/bb:v1") == ""
    assert sorted(ok(engine, "images", "--format", "{{.Repository}}:{{.Tag}}").split()) == [
        "127.0.0.1:5000/team/bb:v1", "busybox:latest"]
    assert ok(engine, "images", "--filter", "reference=busybox", "--format",
              "{{.Repository}}") == "busybox\n"
    history = ok(engine, "history", "--format", "{{.ID}}|{{.Size}}", "busybox").splitlines()
    assert history and history[0].startswith(image_id[7:19] + "|")
    assert ok(engine, "rmi", "127.0.0.1:5000/team/bb:v1") == \
        "Untagged: 127.0.0.1:5000/team/bb:v1\n"
    r = engine.cove("rmi", "no-such-image")
    assert r.returncode == 1 and r.stderr.startswith(b"Error response from daemon: ")
    r = engine.cove("image", "inspect", "no-such-image")
    assert r.returncode == 1
    assert r.stderr == b"Error response from daemon: No such image: no-such-image\n"


def test_save_load_round_trip(engine: Engine, tmp_path: Path) -> None:
    archive = tmp_path / "busybox.tar"
    ok(engine, "save", "-o", str(archive), "busybox")
    with tarfile.open(archive) as tar:
        assert "manifest.json" in tar.getnames()
    ok(engine, "tag", "busybox", "keep:1")  # the image stays while its other name goes
    assert ok(engine, "rmi", "busybox") == "Untagged: busybox:latest\n"
    assert ok(engine, "load", "-i", str(archive)) == "Loaded image: busybox:latest\n"
    assert "busybox" in ok(engine, "images", "--format", "{{.Repository}}")
    ok(engine, "rmi", "keep:1")
    r = engine.cove("load", input=archive.read_bytes())
    assert r.returncode == 0 and b"busybox:latest" in r.stdout


def test_cp_both_ways(engine: Engine, tmp_path: Path) -> None:
    ok(engine, "run", "-d", "--name", "box", "busybox", "sleep", "300")
    src = tmp_path / "payload"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "sub" / "b.txt").write_text("beta\n")
    r = engine.cove("cp", str(src), "box:/tmp")
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(b"Successfully copied ")
    assert ok(engine, "exec", "box", "cat", "/tmp/payload/a.txt",
              "/tmp/payload/sub/b.txt") == "alpha\nbeta\n"
    assert ok(engine, "exec", "box", "stat", "-c", "%u", "/tmp/payload/a.txt") == "0\n"
    ok(engine, "cp", "-q", str(src / "a.txt"), "box:/tmp/renamed.txt")
    assert ok(engine, "exec", "box", "cat", "/tmp/renamed.txt") == "alpha\n"
    out = tmp_path / "back"
    ok(engine, "cp", "box:/tmp/payload", str(out))
    assert (out / "sub" / "b.txt").read_text() == "beta\n"
    ok(engine, "cp", "box:/tmp/renamed.txt", str(tmp_path))
    assert (tmp_path / "renamed.txt").read_text() == "alpha\n"
    r = engine.cove("cp", "box:/tmp/payload/a.txt", "-")
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        member = tar.extractfile("a.txt")
        assert member is not None and member.read() == b"alpha\n"
    r = engine.cove("cp", "-", "box:/tmp", input=r.stdout)
    assert r.returncode == 0, r.stderr
    assert ok(engine, "exec", "box", "cat", "/tmp/a.txt") == "alpha\n"
    r = engine.cove("cp", "box:/no/such/file", str(tmp_path / "x"))
    assert r.returncode == 1 and r.stderr.startswith(b"Error response from daemon: ")
    r = engine.cove("cp", "ghost:/etc/hosts", str(tmp_path / "x"))
    assert r.returncode == 1 and r.stderr.startswith(b"Error response from daemon: ")


def test_top_diff_stats_pause_commit_export(engine: Engine, tmp_path: Path) -> None:
    ok(engine, "run", "-d", "--name", "box", "busybox", "sleep", "300")
    top = ok(engine, "top", "box").splitlines()
    assert "PID" in top[0].split() and any("sleep 300" in line for line in top[1:])
    ok(engine, "exec", "box", "sh", "-c", "echo x > /tmp/new")
    assert "A /tmp/new" in ok(engine, "diff", "box").splitlines()
    row = ok(engine, "stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}} {{.MemUsage}}",
             "box")
    name, pids, usage = row.split(" ", 2)
    assert name == "box" and int(pids) >= 1 and " / " in usage
    ok(engine, "pause", "box")
    assert ok(engine, "ps", "--format", "{{.Status}}").rstrip().endswith("(Paused)")
    ok(engine, "unpause", "box")
    image = ok(engine, "commit", "-c", "ENV COMMITTED=1", "-m", "snap", "box",
               "snap:1").strip()
    assert image.startswith("sha256:")
    assert ok(engine, "run", "--rm", "snap:1", "sh", "-c",
              "cat /tmp/new; echo $COMMITTED") == "x\n1\n"
    ok(engine, "export", "-o", str(tmp_path / "fs.tar"), "box")
    with tarfile.open(tmp_path / "fs.tar") as tar:
        names = tar.getnames()
    assert "tmp/new" in names or "./tmp/new" in names
    ok(engine, "rmi", "snap:1")


def test_logs_follow_ends_with_the_container(engine: Engine) -> None:
    ok(engine, "run", "-d", "--name", "talker", "busybox", "sh", "-c",
       "for i in 1 2 3; do echo line $i; sleep 0.2; done")
    r = engine.cove("logs", "-f", "talker")
    assert r.returncode == 0 and r.stdout == b"line 1\nline 2\nline 3\n"
    assert ok(engine, "logs", "--tail", "1", "talker") == "line 3\n"
    assert ok(engine, "logs", "--until", "1h", "talker") == ""  # until an hour ago
    assert ok(engine, "logs", "--since", "1h", "talker").count("line") == 3


def test_run_rm_removes_a_container_that_failed_to_start(engine: Engine) -> None:
    r = engine.cove("run", "--rm", "--name", "never", "busybox", "no-such-command")
    assert r.returncode == 127
    assert ok(engine, "ps", "-a", "--filter", "name=never", "-q") == ""
    r = engine.cove("run", "-d", "--rm", "--name", "never2", "busybox", "no-such-command")
    assert r.returncode == 127
    assert ok(engine, "ps", "-a", "--filter", "name=never2", "-q") == ""


def test_run_by_image_id(engine: Engine) -> None:
    image_id = ok(engine, "image", "inspect", "-f", "{{.Id}}", "busybox").strip()
    for ref in (image_id, image_id.removeprefix("sha256:"), image_id[7:19]):
        assert ok(engine, "run", "--rm", ref, "echo", "by id") == "by id\n"
