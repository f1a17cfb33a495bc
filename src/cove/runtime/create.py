"""``create``: build the container and leave its process waiting for ``start``.

The runtime side of the protocol in :mod:`cove.runtime.init`. Everything that
can be checked is checked before anything is made; once the state directory
exists, any failure unwinds what was made (process, cgroup, state dir) so a
failed create leaves nothing behind.
"""

from __future__ import annotations

import os
import time

from cove.errors import CoveError, InvalidArgument
from cove.runtime import init as I
from cove.runtime.channel import Channel, Msg
from cove.runtime.context import RuntimeContext
from cove.runtime.namespaces import NamespacePlan, id_map_lines, write_id_maps
from cove.runtime.preload import preload_for
from cove.runtime.procwait import wait_gone
from cove.runtime.rootfs import RootfsPlan
from cove.runtime.state import ContainerState, process_start_time, validate_id
from cove.runtime.status import Status

# Literal, not signal.SIGKILL: the signal module imports enum (ms on every call).
SIGKILL = 9

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class CreateOptions:
    def __init__(self, bundle: str = ".", pid_file: str | None = None,
                 console_socket: str | None = None, no_pivot: bool = False,
                 preserve_fds: int = 0) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        # A terminal without --console-socket: `run` in the foreground proxies it itself.
        self.console_fd = -1


def _utc_now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _check_config(config: dict[str, Any], bundle: str) -> tuple[NamespacePlan, str]:
    """Semantic checks the schema cannot make; returns the namespace plan and rootfs path."""
    root = config.get("root") or {}
    rootfs_rel = root.get("path")
    if not rootfs_rel:
        raise InvalidArgument("config.json: root.path: a root filesystem is required")
    rootfs = os.path.realpath(os.path.join(bundle, rootfs_rel))
    if not os.path.isdir(rootfs):
        raise InvalidArgument(f"config.json: root.path: rootfs {rootfs} does not exist "
                              "or is not a directory")
    if not config.get("process"):
        raise InvalidArgument("config.json: process: required to create a container")
    linux = config.get("linux") or {}
    ns = NamespacePlan.from_config(linux.get("namespaces") or [])
    if not ns.has("mount"):
        raise InvalidArgument("config.json: linux.namespaces: a mount namespace is required")
    if "user" in ns.create and not (linux.get("uidMappings") and linux.get("gidMappings")):
        raise InvalidArgument("config.json: linux.uidMappings/gidMappings: required with a new "
                              "user namespace")
    if linux.get("netDevices") and "network" not in ns.create:
        raise InvalidArgument("config.json: linux.netDevices: needs a new network namespace")
    for host_name in linux.get("netDevices") or {}:
        if not os.path.exists(f"/sys/class/net/{host_name}") or "/" in host_name:
            raise InvalidArgument(f"config.json: linux.netDevices: no network device "
                                  f"{host_name!r} on the host")
    for key in linux.get("sysctl") or {}:
        _check_sysctl(key, ns)
    if not ns.has("uts") and config.get("hostname"):
        raise InvalidArgument("config.json: hostname: setting it needs a uts namespace")
    for i, mnt in enumerate(config.get("mounts") or []):
        dest = mnt.get("destination", "")
        if not dest.startswith("/"):
            raise InvalidArgument(f"config.json: mounts[{i}].destination: {dest!r} is not "
                                  "an absolute path")
        if mnt.get("uidMappings") or mnt.get("gidMappings") or \
                {"idmap", "ridmap"} & set(mnt.get("options") or ()):
            raise InvalidArgument(f"config.json: mounts[{i}]: idmapped mounts are not "
                                  "supported by this runtime")
    proc = config["process"]
    from cove.runtime.process import validate_rlimits

    validate_rlimits(proc.get("rlimits"))
    if proc.get("capabilities"):
        from cove.linux.capabilities import validate_capabilities

        validate_capabilities(proc["capabilities"])
    return ns, rootfs


# Sysctls that the kernel keeps per namespace; any other one is host-wide, and a
# container writing it would change the host (runc refuses them too).
_IPC_SYSCTLS = frozenset({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                          "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                          "kernel.shm_rmid_forced"})
_UTS_SYSCTLS = frozenset({"kernel.hostname", "kernel.domainname"})


def _check_sysctl(key: str, ns: NamespacePlan) -> None:
    field = f"config.json: linux.sysctl: {key!r}"
    if not key or "/" in key or ".." in key or key.startswith(".") or key.endswith("."):
        raise InvalidArgument(f"{field}: not a sysctl name")
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        needed = "ipc"
    elif key.startswith("net."):
        needed = "network"
    elif key in _UTS_SYSCTLS:
        needed = "uts"
    else:
        raise InvalidArgument(f"{field}: not namespaced, setting it would change the host")
    if not ns.has(needed):
        raise InvalidArgument(f"{field}: needs the container's own {needed} namespace")


def create(ctx: RuntimeContext, container_id: str, opts: CreateOptions) -> ContainerState:
    from cove.oci.runtime_config import load_config

    validate_id(container_id)
    bundle = os.path.abspath(opts.bundle)
    config = load_config(bundle)
    ns, rootfs = _check_config(config, bundle)
    linux = config.get("linux") or {}
    seccomp_prog = None
    if linux.get("seccomp"):
        from cove.linux.seccomp import compile_seccomp

        seccomp_prog = compile_seccomp(linux["seccomp"])
    from cove.runtime import cgroups

    cgroups.validate_resources(linux.get("resources"))
    if (config["process"].get("terminal") and not opts.console_socket
            and opts.console_fd < 0):
        raise InvalidArgument("process.terminal is set: --console-socket is required "
                              "(the runtime detaches from the container)")

    store = ctx.store
    state_dir = store.reserve(container_id)
    state = ContainerState(id=container_id, bundle=bundle, config=config,
                           rootfs=rootfs, created=_utc_now(),
                           annotations=dict(config.get("annotations") or {}))
    builder = _Builder(ctx, state, opts, ns, seccomp_prog, state_dir)
    try:
        builder.run()
    except BaseException:
        builder.unwind()
        raise
    return state


class _Builder:
    """Holds what create made so far, so a failure can unwind exactly that."""

    def __init__(self, ctx: RuntimeContext, state: ContainerState, opts: CreateOptions,
                 ns: NamespacePlan, seccomp_prog: Any, state_dir: str) -> None:
        self.ctx = ctx
        self.state = state
        self.opts = opts
        self.ns = ns
        self.seccomp = seccomp_prog
        self.state_dir = state_dir
        self.cgroup: Any = None
        self.child = 0
        self.fds: list[int] = []

    def run(self) -> None:
        from cove.runtime import cgroups

        state, config = self.state, self.state.config
        linux = config.get("linux") or {}
        fifo = os.path.join(self.state_dir, "exec.fifo")
        os.mkfifo(fifo, 0o622)
        # Explicitly, past the umask: the container's user (any uid) opens it to write.
        os.chmod(fifo, 0o622)
        fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        self.fds.append(fifo_fd)

        self.cgroup = cgroups.open_manager(linux.get("cgroupsPath"), state.id)
        if self.ns.early_cgroup:
            self._make_cgroup()
        paths = self.cgroup.paths()
        v1_binds = self.cgroup.v1_mount_binds()
        state.extra["cgroupsPath"] = linux.get("cgroupsPath")

        console_fd = self.opts.console_fd
        if config["process"].get("terminal") and self.opts.console_socket:
            from cove.runtime.terminal import connect_console_socket

            console_fd = connect_console_socket(self.opts.console_socket)
            self.fds.append(console_fd)

        root = config.get("root") or {}
        rplan = RootfsPlan(
            rootfs=state.rootfs, bundle=state.bundle, mounts=list(config.get("mounts") or []),
            readonly=bool(root.get("readonly")),
            propagation=linux.get("rootfsPropagation") or "",
            devices=list(linux.get("devices") or []),
            masked_paths=list(linux.get("maskedPaths") or []),
            readonly_paths=list(linux.get("readonlyPaths") or []),
            userns=self.ns.has("user"), cgroupns=self.ns.has("cgroup"),
            cgroup_version=1 if v1_binds else 2, cgroup_paths=paths,
            v1_binds=v1_binds, v1_symlinks=self.cgroup.v1_mount_symlinks(),
            no_pivot=self.opts.no_pivot)
        plan = I.InitPlan(config=config, namespaces=self.ns, rootfs=rplan,
                          exec_fifo_fd=fifo_fd, console_fd=console_fd,
                          preserve_fds=self.opts.preserve_fds, seccomp=self.seccomp,
                          state_for_hooks=state.oci_state(Status.CREATING),
                          time_offsets=dict(linux.get("timeOffsets") or {}))
        preload_for(config, terminal=bool(config["process"].get("terminal")),
                    seccomp=self.seccomp is not None)
        parent, child = Channel.pair()
        self.fds.extend([parent.rfd, parent.wfd])
        pid = os.fork()
        if pid == 0:
            parent.close()
            I.intermediate(plan, child)
        child.close()
        self.child = pid
        self._drive(parent, linux)

    def _make_cgroup(self) -> None:
        from cove.runtime import cgroups

        linux = self.state.config.get("linux") or {}
        self.cgroup.create()
        self.cgroup.set(_with_device_defaults(linux, cgroups.default_device_rules))

    def _drive(self, chan: Channel, linux: dict[str, Any]) -> None:
        state = self.state
        # The intermediate joins the cgroup first only where that matters before the
        # init exists: a new cgroup namespace is rooted where it is unshared. Otherwise
        # the cgroup is made and the init moved in while the init builds its rootfs:
        # the kernel's migration latency (an RCU grace period) then overlaps that work.
        # The init waits for CGROUP_READY before any cgroup mount and before asking
        # for the hooks, so no hook and no user program runs outside the cgroup.
        early = self.ns.early_cgroup
        if early:
            self.cgroup.add(self.child)
        chan.send(Msg.GO)
        if "user" in self.ns.create:
            chan.expect(Msg.USERNS_READY)
            write_id_maps(self.child, id_map_lines(linux.get("uidMappings")),
                          id_map_lines(linux.get("gidMappings")))
            chan.send(Msg.USERNS_MAPPED)
        msg = chan.expect(Msg.INIT_PID)
        assert msg is not None
        state.pid = int(msg["pid"])
        if not early:
            self._make_cgroup()
            self.cgroup.add(state.pid)
        if linux.get("netDevices"):
            from cove.runtime.netdevices import move_net_devices

            move_net_devices(linux["netDevices"], state.pid)
        chan.send(Msg.CGROUP_READY)
        os.waitpid(self.child, 0)
        self.child = 0
        state.pid_start_time = process_start_time(state.pid) or 0
        self.ctx.store.save(state)
        chan.expect(Msg.RUN_HOOKS)
        hooks = state.config.get("hooks") or {}
        if hooks.get("prestart") or hooks.get("createRuntime"):
            from cove.runtime.hooks import run_hooks

            hook_state = state.oci_state(Status.CREATING)
            run_hooks(state.config, "prestart", hook_state)
            run_hooks(state.config, "createRuntime", hook_state)
        chan.send(Msg.HOOKS_DONE)
        chan.expect(Msg.READY)
        state.status = Status.CREATED
        self.ctx.store.save(state)
        if self.opts.pid_file:
            write_pid_file(self.opts.pid_file, state.pid)
        self.close_fds()

    def close_fds(self) -> None:
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []

    def unwind(self) -> None:
        self.close_fds()
        if self.child:
            _kill_quietly(self.child)
            try:
                os.waitpid(self.child, 0)
            except ChildProcessError:
                pass
        if self.state.pid:
            _kill_quietly(self.state.pid)
            wait_gone(self.state.pid, self.state.pid_start_time or None, 2.0)
        if self.cgroup is not None:
            try:
                self.cgroup.kill_all(SIGKILL)
                self.cgroup.destroy()
            except CoveError as exc:
                self.ctx.log.warning("cleanup of cgroup for %s: %s", self.state.id, exc)
        self.ctx.store.remove(self.state.id)


def _with_device_defaults(linux: dict[str, Any],
                          defaults: Callable[[], list[dict[str, Any]]]) -> dict[str, Any] | None:
    """The config's resources, with device rules completed the way runc does.

    A config that restricts devices (typically "deny all" first) still gets the
    always-present ones (/dev/null, /dev/zero, ..., /dev/pts) allowed, after its
    rules so that they win.
    """
    resources: dict[str, Any] | None = linux.get("resources")
    if not resources or not resources.get("devices"):
        return resources
    # linux.devices nodes get no rule of their own, as in runc: the config's rules say
    # what may be done with them (Docker's --device x:y:r allows reads only).
    rules = list(resources["devices"])
    rules.extend(defaults())
    return dict(resources, devices=rules)


def _kill_quietly(pid: int) -> None:
    try:
        os.kill(pid, SIGKILL)
    except ProcessLookupError:
        pass


def write_pid_file(path: str, pid: int) -> None:
    """Atomically, as runc does: engines read it as soon as create returns."""
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".{os.path.basename(path)}")
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)
