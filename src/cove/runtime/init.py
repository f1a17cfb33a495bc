"""The container side of ``create``: the intermediate process and the container's init.

Reads top to bottom as the create sequence, seen from inside:

1. intermediate (forked by the runtime): waits until the runtime has put it in
   the cgroup, joins namespaces given by path, unshares the user namespace and
   waits for its id maps, unshares the rest, forks the init (which is the
   first process of the new pid and time namespaces), reports its pid, exits;
2. init: builds the rootfs, asks the runtime to run the prestart and
   createRuntime hooks, runs createContainer hooks, pivots, configures the
   process, reports ``ready``, then blocks on the exec fifo until ``start``
   opens it, runs startContainer hooks and execs the user's program.

Errors anywhere are sent over the channel and raised in the runtime.
"""

from __future__ import annotations

import os

from cove.linux import libc as L
from cove.runtime import process as P
from cove.runtime import rootfs as R
from cove.runtime.channel import Channel, Msg
from cove.runtime.namespaces import NamespacePlan, join_namespaces, open_namespaces
from cove.runtime.preload import seal_imports
from cove.runtime.securejoin import mkdir_all_in_root

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class InitPlan:
    """Everything the container's processes need, computed by the runtime before fork."""

    def __init__(self, config: dict[str, Any], namespaces: NamespacePlan,
                 rootfs: R.RootfsPlan, *, exec_fifo_fd: int = -1, console_fd: int = -1,
                 preserve_fds: int = 0, seccomp: Any = None,
                 state_for_hooks: dict[str, Any] | None = None,
                 time_offsets: dict[str, Any] | None = None) -> None:
        self.config = config
        self.namespaces = namespaces
        self.rootfs = rootfs
        self.exec_fifo_fd = exec_fifo_fd
        self.console_fd = console_fd
        self.preserve_fds = preserve_fds
        self.seccomp = seccomp  # cove.linux.seccomp.SeccompProgram or None
        self.state_for_hooks = state_for_hooks or {}
        self.time_offsets = time_offsets or {}
        self.listener_fd = -1

    @property
    def process(self) -> dict[str, Any]:
        proc: dict[str, Any] = self.config.get("process") or {}
        return proc


def _child_main(chan: Channel, body: Any) -> None:
    """Run ``body`` in a forked child; never return into the runtime's code."""
    code = 1
    try:
        body()
        code = 0
    except BaseException as exc:
        chan.send_error(str(exc) or type(exc).__name__)
    finally:
        os._exit(code)


def intermediate(plan: InitPlan, chan: Channel) -> None:
    _child_main(chan, lambda: _intermediate(plan, chan))


def _write_time_offsets(offsets: dict[str, Any]) -> None:
    lines = "".join(f"{clock} {int(v.get('secs', 0))} {int(v.get('nanosecs', 0))}\n"
                    for clock, v in offsets.items())
    if lines:
        with open("/proc/self/timens_offsets", "w") as f:
            f.write(lines)


def _intermediate(plan: InitPlan, chan: Channel) -> None:
    seal_imports()
    L.prctl(L.PR_SET_DUMPABLE, 0)
    chan.expect(Msg.GO)
    ns = plan.namespaces
    join_namespaces(open_namespaces(ns.join))
    if "user" in ns.create:
        L.unshare(L.CLONE_NEWUSER)
        chan.send(Msg.USERNS_READY)
        chan.expect(Msg.USERNS_MAPPED)
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    flags = ns.unshare_flags(user=False)
    if flags:
        L.unshare(flags)
    if "time" in ns.create:
        _write_time_offsets(plan.time_offsets)
    fork_and_report(chan, lambda: _init(plan, chan))


def fork_and_report(chan: Channel, body: Callable[[], None]) -> None:
    """Fork the process that enters the new pid namespace and report its pid.

    The child shares the channel; it must not talk before INIT_PID is sent, so it
    waits for a gate that closes when this (intermediate) process exits.
    """
    gate_r, gate_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(gate_w)
        os.read(gate_r, 1)
        os.close(gate_r)
        _child_main(chan, body)
    chan.send(Msg.INIT_PID, pid=pid)


def _init(plan: InitPlan, chan: Channel) -> None:
    L.prctl(L.PR_SET_DUMPABLE, 0)
    os.setsid()
    config = plan.config
    proc = plan.process
    linux = config.get("linux") or {}
    rp = plan.rootfs
    R.prepare_root(rp)
    cgroup_ready = False
    for mnt in rp.mounts:
        if not cgroup_ready and mnt.get("type") in ("cgroup", "cgroup2"):
            chan.expect(Msg.CGROUP_READY)  # the container's cgroup dirs exist from here
            cgroup_ready = True
        R.mount_one(rp, mnt)
    R.setup_dev(rp)
    cwd = proc.get("cwd") or "/"
    if cwd != "/":
        # runc makes a missing working directory; inside the rootfs, never through it.
        mkdir_all_in_root(rp.rootfs, cwd)
    if plan.seccomp is not None and plan.seccomp.listener_path:
        from cove.runtime.seccomp_notify import connect_listener

        plan.listener_fd = connect_listener(plan.seccomp.listener_path)
    if not cgroup_ready:
        chan.expect(Msg.CGROUP_READY)
    chan.send(Msg.RUN_HOOKS)
    chan.expect(Msg.HOOKS_DONE)
    if (config.get("hooks") or {}).get("createContainer"):
        from cove.runtime.hooks import run_hooks

        run_hooks(config, "createContainer", plan.state_for_hooks)
    R.pivot(rp)

    if proc.get("terminal"):
        _setup_terminal(plan)
    if plan.namespaces.has("uts") or "hostname" in config:
        if config.get("hostname") is not None:
            L.sethostname(config["hostname"])
        if config.get("domainname") is not None:
            L.setdomainname(config["domainname"])
    for key, value in (linux.get("sysctl") or {}).items():
        _write_sysctl(key, value)
    R.readonly_paths(linux.get("readonlyPaths") or [])
    R.mask_paths(linux.get("maskedPaths") or [])
    if (config.get("root") or {}).get("readonly"):
        R.make_root_readonly()
    R.final_propagation(rp)

    path = P.prepare(proc, plan.seccomp, plan.preserve_fds, _install_seccomp_for(plan))

    chan.send(Msg.READY)
    chan.close()
    fifo = os.open(f"/proc/self/fd/{plan.exec_fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    os.write(fifo, b"0")
    os.close(fifo)
    os.close(plan.exec_fifo_fd)
    if (config.get("hooks") or {}).get("startContainer"):
        from cove.runtime.hooks import run_hooks

        run_hooks(config, "startContainer", dict(plan.state_for_hooks, status="running"))
    P.launch(path, proc, plan.seccomp, _install_seccomp_for(plan))


def _install_seccomp_for(plan: InitPlan) -> Callable[[], None]:
    def install() -> None:
        from cove.linux import seccomp

        listener = seccomp.install(plan.seccomp)
        if listener is not None:
            from cove.runtime.seccomp_notify import send_listener

            send_listener(plan, listener)

    return install


def _write_sysctl(key: str, value: str) -> None:
    path = "/proc/sys/" + key.replace(".", "/")
    try:
        with open(path, "w") as f:
            f.write(str(value))
    except OSError as exc:
        raise P.ProcessSetupError(f"linux.sysctl: set {key}={value}: {exc.strerror}") from exc


def _setup_terminal(plan: InitPlan) -> None:
    from cove.runtime import terminal

    master, slave = terminal.open_pty()
    terminal.set_size(master, plan.process.get("consoleSize"))
    terminal.attach_slave(slave, console=True)
    if plan.console_fd >= 0:
        terminal.send_master(plan.console_fd, master)
        plan.console_fd = -1
    os.close(master)
