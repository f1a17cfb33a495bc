"""One exec process: its OCI process spec, and the OCI runtime's ``exec`` that runs it.

The runtime is started in the foreground (no ``--detach``): it becomes a subreaper,
waits for the process and exits with the process's status, so coved, which is the
runtime's parent, learns the exit code without being anyone's subreaper itself.
``--pid-file`` is written only once the process has exec'd; its absence after the
runtime ended means the process never ran, and the runtime's ``--log`` (JSON lines)
says why.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from typing import IO, Any

from cove.engine.oci_runtime import OciRuntime
from cove.errors import CoveError, InvalidArgument

log = logging.getLogger("cove.engine.exec")

# Docker's exit codes for a command that could not be run (chroot/bash convention).
EXIT_CANNOT_INVOKE = 126
EXIT_NOT_FOUND = 127


@dataclass(frozen=True)
class ExecSpec:
    """What the client asked for (ExecConfig), validated."""

    cmd: list[str]
    env: list[str] = field(default_factory=list)
    user: str = ""
    working_dir: str = ""
    tty: bool = False
    privileged: bool = False
    attach_stdin: bool = False
    attach_stdout: bool = False
    attach_stderr: bool = False
    detach_keys: str = ""
    console_size: tuple[int, int] | None = None


class ExecStartError(CoveError):
    """The process could not be started; ``exit_code`` is 126 or 127 as Docker's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    out: dict[str, str] = {}
    for entry in [*base, *extra]:
        out[entry.split("=", 1)[0]] = entry
    return list(out.values())


def _all_capabilities() -> list[str]:
    """Every capability this host can grant: the kernel's, within coved's bounding set
    (a capability coved lacks cannot be given to a process, even a privileged one)."""
    from cove.linux.capabilities import CAPABILITIES, last_cap
    top = last_cap()
    bounding = (1 << (top + 1)) - 1
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                bounding = int(line.split()[1], 16)
    return sorted((n for n, v in CAPABILITIES.items() if v <= top and bounding >> v & 1),
                  key=CAPABILITIES.__getitem__)


def build_process(template: dict[str, Any], spec: ExecSpec, rootfs: str) -> dict[str, Any]:
    """The container's ``process`` with the exec's overrides (Docker's exec semantics).

    Raises InvalidArgument when the user cannot be resolved in the container's files.
    """
    proc = copy.deepcopy(template)
    proc["args"] = list(spec.cmd)
    proc["terminal"] = spec.tty
    proc.pop("consoleSize", None)
    if spec.tty and spec.console_size is not None:
        proc["consoleSize"] = {"height": spec.console_size[0], "width": spec.console_size[1]}
    env = _merge_env(list(proc.get("env") or []), spec.env)
    if spec.working_dir:
        proc["cwd"] = spec.working_dir
    if spec.user:
        from cove.engine.ocispec.users import resolve_user
        resolved = resolve_user(rootfs, spec.user)
        user = dict(proc.get("user") or {})
        user["uid"] = resolved.uid
        user["gid"] = resolved.gid
        user["additionalGids"] = list(resolved.additional_gids)
        proc["user"] = user
        # The container's HOME belongs to its own user: the exec's user gets theirs,
        # unless the exec's Env names one.
        if not any(e.startswith("HOME=") for e in spec.env):
            env = [e for e in env if not e.startswith("HOME=")] + [f"HOME={resolved.home}"]
    if not any(e.startswith("HOME=") for e in env):
        uid = int((proc.get("user") or {}).get("uid", 0))
        env.append("HOME=/root" if uid == 0 else "HOME=/")
    proc["env"] = env
    if spec.privileged:
        caps = _all_capabilities()
        proc["capabilities"] = {k: list(caps) for k in
                                ("bounding", "effective", "permitted")}
        proc.pop("apparmorProfile", None)
        proc.pop("selinuxLabel", None)
    return proc


def start_failure(message: str, arg0: str) -> ExecStartError:
    """Docker's wording and exit code for a process that never ran."""
    lowered = message.lower()
    code = EXIT_CANNOT_INVOKE
    if arg0.lower() in lowered and ("no such file or directory" in lowered
                                    or "executable file not found" in lowered):
        code = EXIT_NOT_FOUND
    return ExecStartError(
        f"OCI runtime exec failed: exec failed: unable to start container process: "
        f"{message}: unknown", code)


class ExecProcess:
    """A running ``<runtime> exec``: its working directory, pid file, console and log."""

    def __init__(self, runtime: OciRuntime, container_id: str, workdir: str,
                 process: dict[str, Any], stdin: int | None, stdout: int | None,
                 stderr: int | None) -> None:
        """Start the runtime; with ``process["terminal"]`` its console socket is waited
        for by :meth:`receive_console`. stdio arguments are subprocess's (PIPE, DEVNULL)."""
        self.workdir = workdir
        self.pid_file = os.path.join(workdir, "pid")
        self.log_file = os.path.join(workdir, "runtime.log")
        self.arg0 = str(process["args"][0])
        self.tty = bool(process.get("terminal"))
        os.makedirs(workdir, mode=0o700, exist_ok=True)
        proc_file = os.path.join(workdir, "process.json")
        with open(proc_file, "w") as f:
            json.dump(process, f)
        args = [*runtime.base_args(), "--log", self.log_file, "--log-format", "json",
                "exec", "--process", proc_file, "--pid-file", self.pid_file]
        self._console: socket.socket | None = None
        if self.tty:
            self._console = self._console_listener()
            # Bound through a descriptor of the directory: exec-roots can be long.
            args += ["--console-socket", f"/proc/{os.getpid()}/fd/{self._dir_fd}/console"]
        args.append(container_id)
        try:
            self.popen = subprocess.Popen(
                args, stdin=stdin, stdout=stdout, stderr=stderr, close_fds=True,
                start_new_session=True)
        except OSError:
            self.close()
            raise
        self.master = -1

    def _console_listener(self) -> socket.socket:
        self._dir_fd = os.open(self.workdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        sock.bind(f"/proc/self/fd/{self._dir_fd}/console")
        sock.listen(1)
        return sock

    @property
    def stdin(self) -> IO[bytes] | None:
        return self.popen.stdin

    @property
    def stdout(self) -> IO[bytes] | None:
        return self.popen.stdout

    @property
    def stderr(self) -> IO[bytes] | None:
        return self.popen.stderr

    def receive_console(self, timeout: float = 30.0) -> int:
        """The pty master sent by the runtime; -1 if the runtime ended without one."""
        assert self._console is not None
        waited = 0.0
        self._console.settimeout(0.05)
        while waited < timeout:
            try:
                conn, _ = self._console.accept()
            except TimeoutError:
                waited += 0.05
                if self.popen.poll() is not None:
                    return -1
                continue
            with conn:
                conn.settimeout(timeout)
                _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
            if fds:
                self.master = fds[0]
                os.set_blocking(self.master, True)
            return self.master
        return -1

    def started(self) -> bool:
        """The process has exec'd (the runtime writes its pid file only then)."""
        return os.path.exists(self.pid_file)

    def pid(self) -> int:
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def wait_started(self, timeout: float = 60.0) -> bool:
        """Until the process runs (True) or the runtime ended without running it."""
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.started():
                return True
            if self.popen.poll() is not None:
                return self.started()
            time.sleep(0.005)
        return self.started()

    def failure(self, stderr_text: str = "") -> ExecStartError:
        """Why the process never ran, from the runtime's log (else its stderr)."""
        message = ""
        with contextlib.suppress(OSError), open(self.log_file, errors="replace") as f:
            for line in f:
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
                        message = str(entry.get("msg") or message)
        if not message:
            message = stderr_text.strip().splitlines()[-1] if stderr_text.strip() else \
                f"the OCI runtime exited with status {self.popen.returncode}"
        return start_failure(message, self.arg0)

    def kill(self) -> None:
        """SIGKILL the exec'd process (a timed-out health check)."""
        pid = self.pid()
        if pid > 0 and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        if self.master >= 0:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = -1
        if self._console is not None:
            with contextlib.suppress(OSError):
                self._console.close()
            self._console = None
            with contextlib.suppress(OSError):
                os.close(self._dir_fd)
        shutil.rmtree(self.workdir, ignore_errors=True)


def validate_spec(body: dict[str, Any]) -> ExecSpec:
    """ExecConfig from a request body, with a clear error naming the bad field."""
    cmd = body.get("Cmd")
    if isinstance(cmd, str):
        cmd = [cmd]
    if not cmd:
        raise InvalidArgument("No exec command specified")
    if not isinstance(cmd, list) or not all(isinstance(a, str) for a in cmd):
        raise InvalidArgument("invalid Cmd: must be a list of strings")
    if not cmd[0]:
        raise InvalidArgument("invalid Cmd: the executable name is empty")
    env = body.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise InvalidArgument("invalid Env: must be a list of strings")
    for e in env:
        if not e or e.startswith("="):
            raise InvalidArgument(f"invalid environment variable: {e!r}")
    for key in ("User", "WorkingDir", "DetachKeys"):
        if not isinstance(body.get(key) or "", str):
            raise InvalidArgument(f"invalid {key}: must be a string")
    working_dir = str(body.get("WorkingDir") or "")
    if working_dir and not working_dir.startswith("/"):
        raise InvalidArgument(f"the working directory '{working_dir}' is invalid, "
                              "it needs to be an absolute path")
    for key in ("AttachStdin", "AttachStdout", "AttachStderr", "Tty", "Privileged"):
        if not isinstance(body.get(key, False) or False, bool):
            raise InvalidArgument(f"invalid {key}: must be a boolean")
    return ExecSpec(
        cmd=list(cmd), env=list(env), user=str(body.get("User") or ""),
        working_dir=working_dir, tty=bool(body.get("Tty")),
        privileged=bool(body.get("Privileged")),
        attach_stdin=bool(body.get("AttachStdin")),
        attach_stdout=bool(body.get("AttachStdout")),
        attach_stderr=bool(body.get("AttachStderr")),
        detach_keys=str(body.get("DetachKeys") or ""),
        console_size=console_size(body.get("ConsoleSize")))


def console_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2 or \
            not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 65536
                    for v in value):
        raise InvalidArgument("invalid ConsoleSize: must be [height, width], "
                              "two non-negative integers")
    if value == [0, 0]:
        return None
    return int(value[0]), int(value[1])
