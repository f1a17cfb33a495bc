"""Per-container monitors: Debian's conmon, and the watcher that notices their end.

conmon (the monitor podman and CRI-O use) is the parent of the container's init after
create: it holds the stdio, writes the log file, keeps the attach socket, and writes
the exit status to ``<exit dir>/<id>`` when the container ends. It is a small C program
(about 1 MiB of PSS), and it does not depend on the daemon: a container keeps running,
logging and gets its exit status recorded while coved is stopped, crashed or upgraded.

The daemon learns about exits through pidfds of the monitors, all in one epoll set
watched by one thread.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cove.engine.oci_runtime import OciRuntimeError, runtime_message
from cove.errors import CoveError

log = logging.getLogger("cove.engine.monitor")

CONMON = "/usr/bin/conmon"


class MonitorError(CoveError):
    """conmon could not be started or reported a failure."""


@dataclass
class MonitorPaths:
    """Where one container's monitor keeps its files."""

    directory: str  # the container's directory under exec-root
    exit_dir: str
    socket_dir: str

    @property
    def conmon_pidfile(self) -> str:
        return os.path.join(self.directory, "conmon.pid")

    @property
    def container_pidfile(self) -> str:
        return os.path.join(self.directory, "init.pid")

    @property
    def monitor_log(self) -> str:
        return os.path.join(self.directory, "conmon.log")

    def exit_file(self, cid: str) -> str:
        return os.path.join(self.exit_dir, cid)


@dataclass
class MonitorRequest:
    container_id: str
    bundle: str
    runtime_path: str
    runtime_root: str
    log_path: str | None  # None: log driver "none"
    paths: MonitorPaths
    terminal: bool = False
    stdin: bool = False
    leave_stdin_open: bool = False
    log_size_max: int = -1
    timeout: float = 60


def attach_key(cid: str) -> str:
    # conmon names the attach socket's directory after the "uuid"; short keeps the
    # unix socket path under its 108-byte limit.
    return cid[:16]


def launch(req: MonitorRequest) -> tuple[int, int]:
    """Start conmon, which runs ``runtime create``; returns (conmon pid, container pid)."""
    for d in (req.paths.directory, req.paths.exit_dir, req.paths.socket_dir):
        os.makedirs(d, mode=0o700, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(req.paths.exit_file(req.container_id))
    read_fd, write_fd = os.pipe2(os.O_CLOEXEC)
    args = [
        CONMON, "--api-version", "1",
        "-c", req.container_id, "-u", attach_key(req.container_id),
        "-n", req.container_id,
        "-r", req.runtime_path, "--runtime-arg", "--root", "--runtime-arg", req.runtime_root,
        "-b", req.bundle,
        "-p", req.paths.container_pidfile, "-P", req.paths.conmon_pidfile,
        "--exit-dir", req.paths.exit_dir, "--socket-dir-path", req.paths.socket_dir,
        "--persist-dir", req.paths.directory,
        "-l", f"k8s-file:{req.log_path}" if req.log_path else "none:",
        "--log-level", "warning",
    ]
    if req.log_size_max > 0:
        args += ["--log-size-max", str(req.log_size_max)]
    if req.terminal:
        args.append("-t")
    if req.stdin:
        args.append("-i")
        if req.leave_stdin_open:
            args.append("--leave-stdin-open")
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
           "_OCI_SYNCPIPE": str(write_fd)}
    try:
        with open(req.paths.monitor_log, "ab") as errlog:
            proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=errlog, stderr=errlog, env=env,
                cwd=req.paths.directory, pass_fds=(write_fd,), close_fds=True,
                start_new_session=True)
    except OSError as e:
        os.close(read_fd)
        os.close(write_fd)
        raise MonitorError(f"cannot start conmon: {e}") from e
    os.close(write_fd)
    try:
        proc.wait(timeout=req.timeout)
        message = _read_sync(read_fd, req.timeout)
    finally:
        os.close(read_fd)
    if message is None:
        raise MonitorError(f"conmon exited without reporting (see {req.paths.monitor_log})")
    pid = message.get("data")
    if not isinstance(pid, int) or pid <= 0:
        detail = runtime_message(str(message.get("message") or ""))
        raise OciRuntimeError(f"OCI runtime create failed: {detail}")
    with open(req.paths.conmon_pidfile) as f:
        conmon_pid = int(f.read().strip())
    return conmon_pid, pid


def _read_sync(fd: int, timeout: float) -> dict[str, object] | None:
    deadline = time.monotonic() + timeout
    buf = b""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while time.monotonic() < deadline:
        if not poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        with contextlib.suppress(ValueError):
            value = json.loads(buf)
            if isinstance(value, dict):
                return value
    if buf:
        with contextlib.suppress(ValueError):
            value = json.loads(buf)
            if isinstance(value, dict):
                return value
    return None


def read_exit_status(paths: MonitorPaths, cid: str) -> int | None:
    try:
        with open(paths.exit_file(cid)) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def oom_happened(paths: MonitorPaths) -> bool:
    """conmon leaves an ``oom`` file in its persist dir when the cgroup saw an OOM kill."""
    return os.path.exists(os.path.join(paths.directory, "oom"))


def process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0): look at its state too.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class ExitWatcher:
    """One thread, one epoll: calls ``on_exit(key)`` when a watched process ends."""

    def __init__(self, on_exit: Callable[[str], None]) -> None:
        self._on_exit = on_exit
        self._epoll = select.epoll()
        self._lock = threading.Lock()
        self._fds: dict[int, str] = {}
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name="exit-watcher", daemon=True)
        self._thread.start()

    def watch(self, key: str, pid: int) -> None:
        """Watch ``pid``; if it is already gone, report it at once (in this thread)."""
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._report(key)
            return
        with self._lock:
            self._fds[fd] = key
            self._epoll.register(fd, select.EPOLLIN)

    def _report(self, key: str) -> None:
        try:
            self._on_exit(key)
        except Exception:
            log.exception("handling the exit of %s failed", key)

    def _loop(self) -> None:
        while not self._stopping:
            try:
                events = self._epoll.poll()
            except InterruptedError:
                continue
            for fd, _ in events:
                if fd == self._wake_r:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_r, 512)
                    continue
                with self._lock:
                    key = self._fds.pop(fd, None)
                    with contextlib.suppress(OSError):
                        self._epoll.unregister(fd)
                os.close(fd)
                if key is not None:
                    # Not on this thread: a slow handler must not delay other exits.
                    threading.Thread(target=self._report, args=(key,), name="exit",
                                     daemon=True).start()

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        self._thread.join(timeout=2)
