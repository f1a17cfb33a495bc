"""Exec instances: created, started once, inspected, and forgotten.

Sessions live in memory only, as Docker's do: they do not survive a restart of
coved (a process started by exec keeps running under its runtime, but the new
daemon knows no exec id for it). A session is dropped a few minutes after its
process ended, and at once when its container is removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cove.engine.containers import model
from cove.engine.exec_process import (
    ExecProcess,
    ExecSpec,
    ExecStartError,
    build_process,
    validate_spec,
)
from cove.errors import Conflict, InvalidArgument, NotFound

if TYPE_CHECKING:
    from cove.engine.containers.model import Container
    from cove.engine.containers.service import ContainerService
    from cove.engine.events import EventLog

log = logging.getLogger("cove.engine.exec")

# How long an ended session stays inspectable (the docker CLI reads the exit code
# right after the stream ends; scripts may look later).
RETENTION_SECONDS = 300.0


class ExecSession:
    def __init__(self, exec_id: str, container_id: str, spec: ExecSpec) -> None:
        self.id = exec_id
        self.container_id = container_id
        self.spec = spec
        self.running = False
        self.started = False
        self.exit_code: int | None = None
        self.pid = 0
        self.ended_at: float | None = None
        self.master = -1  # the pty master while a tty session runs (for resize)
        # A resize that came before the pty existed, applied when it does.
        self.pending_size: tuple[int, int] | None = None
        self.lock = threading.Lock()
        self.done = threading.Event()

    def inspect(self) -> dict[str, Any]:
        spec = self.spec
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
            "ProcessConfig": {"tty": spec.tty, "entrypoint": spec.cmd[0],
                              "arguments": spec.cmd[1:], "privileged": spec.privileged,
                              "user": spec.user},
            "OpenStdin": spec.attach_stdin, "OpenStderr": spec.attach_stderr,
            "OpenStdout": spec.attach_stdout, "CanRemove": False,
            "ContainerID": self.container_id, "DetachKeys": spec.detach_keys,
            "Pid": self.pid,
        }


@dataclass(frozen=True)
class CapturedRun:
    """A command run to completion with its output kept (health checks)."""

    exit_code: int
    output: str
    timed_out: bool = False


class ExecManager:
    def __init__(self, containers: ContainerService, events: EventLog, workdir: str) -> None:
        self.containers = containers
        self.events = events
        self.workdir = workdir
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        # Sessions do not survive a daemon restart: their work dirs are leftovers.
        for name in os.listdir(workdir):
            shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
        self._lock = threading.Lock()
        self._sessions: dict[str, ExecSession] = {}

    # -- the registry ----------------------------------------------------------------------

    def _expire(self) -> None:
        now = time.monotonic()
        with self._lock:
            for sid, s in list(self._sessions.items()):
                if s.ended_at is not None and now - s.ended_at > RETENTION_SECONDS:
                    del self._sessions[sid]

    def get(self, exec_id: str) -> ExecSession:
        self._expire()
        with self._lock:
            session = self._sessions.get(exec_id)
        if session is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return session

    def ids_for(self, container_id: str) -> list[str]:
        """The container's ExecIDs as Docker lists them: sessions not yet ended."""
        with self._lock:
            return [s.id for s in self._sessions.values()
                    if s.container_id == container_id and s.exit_code is None]

    def _running_container(self, ref: str) -> Container:
        c = self.containers.get(ref)
        if c.state.status == model.PAUSED:
            raise Conflict(f"Container {ref} is paused, unpause the container before exec")
        if c.state.status == model.RESTARTING:
            raise Conflict(f"Container {c.id} is restarting, wait until the container "
                           "is running")
        if not c.state.running:
            raise Conflict(f"container {c.id} is not running")
        return c

    def create(self, ref: str, body: dict[str, Any]) -> ExecSession:
        c = self._running_container(ref)
        spec = validate_spec(body)
        if spec.detach_keys:
            from cove.engine.stdio import parse_detach_keys
            parse_detach_keys(spec.detach_keys)
        self._expire()
        session = ExecSession(secrets.token_hex(32), c.id, spec)
        with self._lock:
            self._sessions[session.id] = session
        self._emit(c, f"exec_create: {' '.join(spec.cmd)}", session)
        return session

    def _emit(self, c: Container, action: str, session: ExecSession,
              **extra: str) -> None:
        attrs = {"image": c.image, "name": c.name, "execID": session.id, **extra}
        self.events.emit("container", action, c.id, attrs)

    # -- starting --------------------------------------------------------------------------

    def begin(self, session: ExecSession) -> Container:
        """Claim the session for one start; refused (409) if it ran or its container stopped."""
        c = self._running_container(session.container_id)
        with session.lock:
            if session.exit_code is not None:
                raise Conflict(f"Error: Exec command {session.id} has already run")
            if session.started:
                raise Conflict(f"Error: Exec command {session.id} is already running")
            session.started = True
            session.running = True
        return c

    def launch(self, session: ExecSession, c: Container, *, stdin: int | None,
               stdout: int | None, stderr: int | None) -> ExecProcess:
        """Start the runtime for a begun session. On failure the session is finished."""
        try:
            import json
            with open(os.path.join(c.bundle, "config.json")) as f:
                template = json.load(f).get("process") or {}
            try:
                process = build_process(template, session.spec, c.rootfs)
            except InvalidArgument as e:
                from cove.engine.exec_process import start_failure
                raise start_failure(str(e), session.spec.cmd[0]) from None
            proc = ExecProcess(self.containers.runtime(c.runtime), c.id,
                               os.path.join(self.workdir, session.id), process,
                               stdin, stdout, stderr)
        except ExecStartError as e:
            self.finish(session, e.exit_code)
            raise
        except BaseException:
            self.finish(session, 126)
            raise
        self._emit(c, f"exec_start: {' '.join(session.spec.cmd)}", session)
        return proc

    def mark_started(self, session: ExecSession, proc: ExecProcess) -> None:
        session.pid = proc.pid()

    def attach_master(self, session: ExecSession, master: int) -> None:
        """The session's pty is known: resizes reach it from now on."""
        from cove.engine.exec_stream import set_window
        with session.lock:
            session.master = master
            size, session.pending_size = session.pending_size, None
        if size is not None:
            with contextlib.suppress(OSError):
                set_window(master, *size)

    def finish(self, session: ExecSession, exit_code: int,
               proc: ExecProcess | None = None) -> None:
        with session.lock:
            session.exit_code = exit_code
            session.running = False
            session.master = -1
            session.ended_at = time.monotonic()
        if proc is not None:
            proc.close()
        session.done.set()
        with contextlib.suppress(NotFound):
            c = self.containers.get(session.container_id)
            self._emit(c, "exec_die", session, exitCode=str(exit_code))

    def start_detached(self, session: ExecSession) -> None:
        """Docker's Detach: answer once the process runs; its end is recorded later."""
        c = self.begin(session)
        spec = session.spec
        proc = self.launch(session, c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE if spec.tty else subprocess.DEVNULL)
        if spec.tty:
            master = proc.receive_console()
            if master >= 0:
                if spec.console_size is not None:
                    from cove.engine.exec_stream import set_window
                    with contextlib.suppress(OSError):
                        set_window(master, *spec.console_size)
                self.attach_master(session, master)
        if not proc.wait_started():
            proc.popen.wait()
            err = proc.failure()
            self.finish(session, err.exit_code, proc)
            raise err
        self.mark_started(session, proc)
        threading.Thread(target=self._wait_detached, args=(session, proc),
                         name=f"exec-{session.id[:12]}", daemon=True).start()

    def _wait_detached(self, session: ExecSession, proc: ExecProcess) -> None:
        try:
            if proc.master >= 0:
                # Nobody reads a detached tty: drain it so that the process never blocks.
                with contextlib.suppress(OSError):
                    while os.read(proc.master, 65536):
                        pass
            code = proc.popen.wait()
        except Exception:
            log.exception("exec %s: waiting for the process failed", session.id[:12])
            code = 128
        self.finish(session, code, proc)

    def resize(self, exec_id: str, height: int, width: int) -> None:
        session = self.get(exec_id)
        if not session.spec.tty:
            # Docker's check: only a tty can be resized.
            raise InvalidArgument(f"exec {exec_id} has no tty to resize")
        with session.lock:
            master = session.master
            if master < 0:
                session.pending_size = (height, width)
                return
            from cove.engine.exec_stream import set_window
            with contextlib.suppress(OSError):
                set_window(master, height, width)

    # -- for health checks -----------------------------------------------------------------

    def run_captured(self, c: Container, cmd: list[str], timeout: float,
                     max_output: int = 4096,
                     cancelled: Callable[[], bool] = lambda: False) -> CapturedRun:
        """Run ``cmd`` in the running container, output (stdout+stderr) capped, with a
        deadline after which the process is killed. Not registered as a session."""
        spec = ExecSpec(cmd=list(cmd))
        try:
            with open(os.path.join(c.bundle, "config.json")) as f:
                import json
                template = json.load(f).get("process") or {}
            process = build_process(template, spec, c.rootfs)
        except (OSError, ValueError, InvalidArgument) as e:
            return CapturedRun(126, str(e))
        workdir = os.path.join(self.workdir, "hc-" + secrets.token_hex(8))
        try:
            proc = ExecProcess(self.containers.runtime(c.runtime), c.id, workdir, process,
                               subprocess.DEVNULL, subprocess.PIPE, subprocess.STDOUT)
        except OSError as e:
            return CapturedRun(126, str(e))
        try:
            return self._collect(proc, timeout, max_output, cancelled)
        finally:
            proc.close()

    def _collect(self, proc: ExecProcess, timeout: float, max_output: int,
                 cancelled: Callable[[], bool]) -> CapturedRun:
        import select
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        out = bytearray()
        deadline = time.monotonic() + timeout
        timed_out = False
        ended_at: float | None = None
        while True:
            now = time.monotonic()
            if ended_at is None and proc.popen.poll() is not None:
                ended_at = now
            if ended_at is not None and now - ended_at > 0.2:
                break
            if ended_at is None and (now > deadline or cancelled()):
                timed_out = now > deadline
                proc.kill()
                if not proc.started():
                    with contextlib.suppress(ProcessLookupError):
                        proc.popen.kill()
                proc.popen.wait()
                break
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                data = os.read(fd, 65536)
                if not data:
                    if ended_at is None:
                        proc.popen.wait()
                    break
                if len(out) < max_output:
                    out += data[:max_output - len(out)]
        code = proc.popen.wait()
        text = out.decode(errors="replace")
        if timed_out:
            return CapturedRun(-1, text, timed_out=True)
        if not proc.started():
            err = proc.failure(text)
            return CapturedRun(err.exit_code, str(err))
        return CapturedRun(code, text)

    # -- ContainerListener -----------------------------------------------------------------

    def container_started(self, c: Container) -> None:
        pass

    def container_exited(self, c: Container) -> None:
        pass

    def container_removed(self, c: Container) -> None:
        with self._lock:
            for sid, s in list(self._sessions.items()):
                if s.container_id == c.id:
                    del self._sessions[sid]
