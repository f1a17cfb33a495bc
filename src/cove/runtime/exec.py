"""``exec``: run one more process inside a running container.

Same shape as create: the runtime forks an intermediate process, puts it in
the container's cgroup, which joins the container's namespaces and forks the
new process (so it lands in the container's pid namespace); that process
configures itself from the container's config (user, capabilities, rlimits,
seccomp, no_new_privs) with the caller's overrides, reports ``ready`` and execs.
"""

from __future__ import annotations

import copy
import os

from cove import fastjson
from cove.errors import InvalidArgument
from cove.linux import libc as L
from cove.runtime import foreground as fg
from cove.runtime import process as P
from cove.runtime.channel import Channel, Msg
from cove.runtime.context import RuntimeContext
from cove.runtime.create import write_pid_file
from cove.runtime.init import _child_main, fork_and_report
from cove.runtime.lookup import cgroup_of, load
from cove.runtime.namespaces import PROC_NAMES, join_namespaces, open_namespaces
from cove.runtime.preload import preload_for, seal_imports
from cove.runtime.state import ContainerState
from cove.runtime.status import require

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class ExecOptions:
    def __init__(self, *, process_file: str | None = None, args: list[str] | None = None,
                 tty: bool = False, detach: bool = False, pid_file: str | None = None,
                 cwd: str | None = None, env: list[str] | None = None, user: str | None = None,
                 additional_gids: list[str] | None = None, caps: list[str] | None = None,
                 no_new_privs: bool = False, console_socket: str | None = None,
                 preserve_fds: int = 0) -> None:
        self.process_file = process_file
        self.args = args or []
        self.tty = tty
        self.detach = detach
        self.pid_file = pid_file
        self.cwd = cwd
        self.env = env or []
        self.user = user
        self.additional_gids = additional_gids or []
        self.caps = caps or []
        self.no_new_privs = no_new_privs
        self.console_socket = console_socket
        self.preserve_fds = preserve_fds


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    out: dict[str, str] = {}
    for entry in [*base, *extra]:
        key = entry.split("=", 1)[0]
        out[key] = entry
    return list(out.values())


def build_process(state: ContainerState, opts: ExecOptions) -> dict[str, Any]:
    if opts.process_file:
        try:
            with open(opts.process_file, "rb") as f:
                proc: dict[str, Any] = fastjson.loads(f.read())
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"--process {opts.process_file}: {exc}") from exc
        if not isinstance(proc, dict) or not proc.get("args"):
            raise InvalidArgument(f"--process {opts.process_file}: process.args is required")
        proc.setdefault("cwd", "/")
        return proc
    if not opts.args:
        raise InvalidArgument("exec: no command given (ARGS or --process)")
    proc = copy.deepcopy(state.config.get("process") or {})
    proc["args"] = list(opts.args)
    proc["terminal"] = opts.tty
    if opts.cwd:
        proc["cwd"] = opts.cwd
    proc["env"] = _merge_env(list(proc.get("env") or []), opts.env)
    user = dict(proc.get("user") or {})
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        try:
            user["uid"] = int(uid)
            user["gid"] = int(gid) if gid else user.get("gid", 0)
        except ValueError:
            raise InvalidArgument(f"--user {opts.user!r}: expected UID[:GID] numbers") from None
    if opts.additional_gids:
        try:
            user["additionalGids"] = [int(g) for g in opts.additional_gids]
        except ValueError:
            raise InvalidArgument("--additional-gids: expected numbers") from None
    proc["user"] = user
    if opts.caps:
        caps = dict(proc.get("capabilities") or {})
        for kind in ("bounding", "effective", "permitted"):
            caps[kind] = sorted(set(caps.get(kind) or []) | set(opts.caps))
        proc["capabilities"] = caps
    if opts.no_new_privs:
        proc["noNewPrivileges"] = True
    return proc


def exec_process(ctx: RuntimeContext, container_id: str, opts: ExecOptions) -> int:
    state, status = load(ctx, container_id, check_frozen=True)
    require(container_id, status, status.can_exec(), "exec in")
    proc = build_process(state, opts)
    if proc.get("capabilities"):
        from cove.linux.capabilities import validate_capabilities

        validate_capabilities(proc["capabilities"])
    P.validate_rlimits(proc.get("rlimits"))
    linux = state.config.get("linux") or {}
    seccomp_prog = None
    if linux.get("seccomp"):
        from cove.linux.seccomp import compile_seccomp

        seccomp_prog = compile_seccomp(linux["seccomp"])
    paths = _namespace_paths(state)
    terminal = bool(proc.get("terminal"))
    preload_for(state.config, terminal=terminal, seccomp=seccomp_prog is not None,
                exec_only=True)
    console_fd, proxy = -1, -1
    if terminal:
        if opts.console_socket:
            from cove.runtime.terminal import connect_console_socket

            console_fd = connect_console_socket(opts.console_socket)
        elif opts.detach:
            raise InvalidArgument("exec --tty --detach needs --console-socket")
        else:
            import socket

            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            proxy, console_fd = ours.detach(), theirs.detach()
    if not opts.detach:
        fg.become_subreaper()
    cgroup = cgroup_of(state)
    parent, child = Channel.pair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        _child_main(child, lambda: _intermediate(child, paths, proc, seccomp_prog,
                                                 console_fd, opts.preserve_fds))
    child.close()
    if console_fd >= 0:
        os.close(console_fd)
    try:
        try:
            cgroup.add(pid)
        except Exception as exc:
            ctx.log.debug("exec: joining cgroup: %s", exc)
        parent.send(Msg.GO)
        msg = parent.expect(Msg.INIT_PID)
        assert msg is not None
        proc_pid = int(msg["pid"])
        os.waitpid(pid, 0)
        pid = 0
        parent.expect(Msg.READY)
        parent.expect(Msg.ERROR, eof_ok=True)  # EOF: the exec happened
    except BaseException:
        if pid:
            _kill_wait(pid)
        raise
    finally:
        parent.close()
    if opts.pid_file:
        write_pid_file(opts.pid_file, proc_pid)
    if opts.detach:
        return 0
    master = fg.receive_master(proxy) if proxy >= 0 else -1
    return fg.wait_for(proc_pid, master)


def _kill_wait(pid: int) -> None:
    import signal

    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _namespace_paths(state: ContainerState) -> dict[str, str]:
    from cove.runtime.namespaces import same_namespace

    paths = {}
    for ns in (state.config.get("linux") or {}).get("namespaces") or []:
        kind = ns["type"]
        if not same_namespace(state.pid, kind):
            paths[kind] = f"/proc/{state.pid}/ns/{PROC_NAMES[kind]}"
    return paths


def _intermediate(chan: Channel, paths: dict[str, str], proc: dict[str, Any],
                  seccomp_prog: Any, console_fd: int, preserve_fds: int) -> None:
    seal_imports()
    L.prctl(L.PR_SET_DUMPABLE, 0)
    chan.expect(Msg.GO)
    join_namespaces(open_namespaces(paths))
    fork_and_report(chan, lambda: _exec_child(chan, proc, seccomp_prog, console_fd,
                                              preserve_fds))


def _exec_child(chan: Channel, proc: dict[str, Any], seccomp_prog: Any, console_fd: int,
                preserve_fds: int) -> None:
    L.prctl(L.PR_SET_DUMPABLE, 0)
    if proc.get("terminal"):
        from cove.runtime import terminal

        os.setsid()
        master, slave = terminal.open_pty()
        terminal.set_size(master, proc.get("consoleSize"))
        terminal.attach_slave(slave, console=False)
        terminal.send_master(console_fd, master)
        os.close(master)
    install = _seccomp_installer(seccomp_prog)
    path = P.prepare(proc, seccomp_prog, preserve_fds, install)
    chan.send(Msg.READY)
    P.launch(path, proc, seccomp_prog, install)


def _seccomp_installer(prog: Any) -> Callable[[], None]:
    def install() -> None:
        from cove.linux import seccomp

        fd = seccomp.install(prog)
        if fd is not None:
            os.close(fd)

    return install
