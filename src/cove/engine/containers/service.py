"""The container lifecycle: create, start, stop, kill, wait, remove, and exits.

Every change follows the same order: do the work, write the record, then answer. A
daemon killed in between finds the record of the last acknowledged state and
reconciles it with what really runs (``reconcile``). Requests on one container are
serialised by its lock; the exit of a container is handled on the watcher's thread
under the same lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal as signal_mod
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from cove.engine import monitor
from cove.engine.containers import model
from cove.engine.containers.logrotate import LogRotator, RotationTarget
from cove.engine.containers.logs import LogQuery, stream_logs
from cove.engine.containers.model import Container
from cove.engine.containers.store import ContainerStore, validate_name
from cove.engine.events import EventLog
from cove.engine.loopback import bring_loopback_up, has_own_network_namespace
from cove.engine.oci_runtime import LibraryRuntime, OciRuntime, find_runtime
from cove.engine.volumes.container_mounts import discard as discard_volumes
from cove.engine.volumes.container_mounts import plan_mounts
from cove.engine.volumes.copyup import copy_image_content
from cove.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, NotModified

if TYPE_CHECKING:
    from cove.engine.containers.specs import SpecBuilder
    from cove.engine.networks.service import NetworkService
    from cove.engine.volumes import VolumeService
    from cove.engine.volumes.service import Hold
    from cove.images.service import ImageService

log = logging.getLogger("cove.engine.containers")

DEFAULT_STOP_TIMEOUT = 10
# Restart back-off: 100 ms doubling up to a minute, reset after 10 s of running (Docker's).
BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0


@dataclass
class EngineConfig:
    root: str
    exec_root: str
    default_runtime: str = "cove-runtime"
    runtimes: dict[str, str] | None = None
    log_max_size: int = 10 * 1024 * 1024
    log_max_file: int = 3
    init_path: str = "/usr/bin/tini-static"


def signal_number(value: str | int | None, default: int = signal_mod.SIGTERM) -> int:
    """SIGTERM, TERM, 15 → 15; Docker's validation wording on bad input."""
    if value is None or value == "":
        return default
    if isinstance(value, int):
        number = value
    else:
        text = value.strip().upper()
        if text.isdigit():
            number = int(text)
        else:
            name = text if text.startswith("SIG") else "SIG" + text
            try:
                number = int(signal_mod.Signals[name])
            except KeyError:
                if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
                    number = _rt_signal(name)
                else:
                    raise InvalidArgument(f"Invalid signal: {value}") from None
    if not 0 < number < 65:
        raise InvalidArgument(f"Invalid signal: {value}")
    return number


def _rt_signal(name: str) -> int:
    base, _, offset = name.partition("+") if "+" in name else name.partition("-")
    n = int(signal_mod.SIGRTMIN) if base == "SIGRTMIN" else int(signal_mod.SIGRTMAX)
    if offset:
        n = n + int(offset) if "+" in name else n - int(offset)
    return n


class PendingAttach:
    def __init__(self) -> None:
        self.ready = threading.Event()
        self.connected = threading.Event()


class ContainerListener(Protocol):
    """Told about runs of containers (health checks, stats...); called without locks held."""

    def container_started(self, c: Container) -> None: ...

    def container_exited(self, c: Container) -> None: ...

    def container_removed(self, c: Container) -> None: ...


class ContainerService:
    def __init__(self, config: EngineConfig, images: ImageService, specs: SpecBuilder,
                 events: EventLog) -> None:
        self.config = config
        self.images = images
        self.specs = specs
        self.events = events
        self.store = ContainerStore(config.root)
        self.exec_dir = os.path.join(config.exec_root, "containers")
        self.exit_dir = os.path.join(config.exec_root, "exits")
        self.socket_dir = os.path.join(config.exec_root, "attach")
        for d in (self.exec_dir, self.exit_dir, self.socket_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self._runtimes: dict[str, OciRuntime] = {}
        self._changed = threading.Condition()
        self._backoff: dict[str, float] = {}
        self._timers: dict[str, threading.Timer] = {}
        self._closing = False
        # Clients attached before start: start connects them to the monitor before the
        # process runs, so they miss none of its output.
        self._attachers: dict[str, list[PendingAttach]] = {}
        # Ends of runs (exits and failed starts) per container: an attached client
        # follows the output until this changes.
        self._ends: dict[str, int] = {}
        self.listeners: list[ContainerListener] = []
        # Set by the prune handlers: creates and prunes exclude each other (prune_lock.py).
        self.create_guard: Callable[[], contextlib.AbstractContextManager[object]] = (
            contextlib.nullcontext)
        # Named and anonymous volumes (set by the daemon; None: volume mounts refused).
        self.volumes: VolumeService | None = None
        # Networks (set by the daemon; None: containers get their own loopback only).
        self.networks: NetworkService | None = None
        specs.resolver = self._namespace_of
        self.watcher = monitor.ExitWatcher(self._on_monitor_exit)
        self.rotator = LogRotator(self._rotation_targets)

    # -- helpers ---------------------------------------------------------------------------

    def runtime(self, name: str) -> OciRuntime:
        rt = self._runtimes.get(name)
        if rt is None:
            table = self.config.runtimes or {}
            path = find_runtime(table.get(name, name))
            root = os.path.join(self.config.exec_root, "runtime", name)
            # Cove's own runtime is also a library of this process: its verbs other than
            # create and exec run in-process (see LibraryRuntime).
            own = name in ("cove-runtime", "cove") and name not in table
            rt = LibraryRuntime(path, root) if own else OciRuntime(path, root)
            self._runtimes[name] = rt
        return rt

    def known_runtime(self, name: str) -> str:
        allowed = {"cove-runtime", "runc", "crun", *(self.config.runtimes or {})}
        if name not in allowed:
            raise InvalidArgument(f"Unknown runtime specified {name}")
        find_runtime((self.config.runtimes or {}).get(name, name))
        return name

    def paths(self, c: Container) -> monitor.MonitorPaths:
        return monitor.MonitorPaths(os.path.join(self.exec_dir, c.id), self.exit_dir,
                                    self.socket_dir)

    def get(self, ref: str) -> Container:
        return self.store.get(ref)

    def _attrs(self, c: Container, **extra: str) -> dict[str, str]:
        attrs = {"image": c.image, "name": c.name}
        labels = c.config.get("Labels") or {}
        attrs.update({str(k): str(v) for k, v in labels.items()})
        attrs.update(extra)
        return attrs

    def _tell(self, what: str, c: Container) -> None:
        for listener in list(self.listeners):
            try:
                getattr(listener, what)(c)
            except Exception:
                log.exception("listener %r failed on %s", listener, what)

    def _changed_now(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _save(self, c: Container) -> None:
        self.store.save(c)
        self._changed_now()

    def _namespace_of(self, kind: str, ref: str) -> str:
        """The namespace file of a running container, for --pid/--ipc/--network container:X."""
        other = self.get(ref)
        if other.state.status != model.RUNNING or other.state.pid <= 0:
            raise Conflict(f"cannot join container {ref}: it is not running")
        name = {"network": "net", "mount": "mnt"}.get(kind, kind)
        return f"/proc/{other.state.pid}/ns/{name}"

    # -- create ----------------------------------------------------------------------------

    def create(self, body: dict[str, Any], name: str | None) -> Container:
        # Shared with other creates, exclusive of prunes: the image (and volumes) looked
        # up below cannot be pruned before the records that keep them are written.
        with self.create_guard():
            return self._create(body, name)

    def _create(self, body: dict[str, Any], name: str | None) -> Container:
        if not isinstance(body, dict):
            raise InvalidArgument("container config must be a JSON object")
        image_ref = body.get("Image")
        if not isinstance(image_ref, str) or not image_ref:
            raise InvalidArgument("Config cannot be empty in order to create a container")
        if name:
            name = validate_name(name)
        host_config = body.get("HostConfig") or {}
        if not isinstance(host_config, dict):
            raise InvalidArgument("HostConfig must be a JSON object")
        runtime_name = self.known_runtime(host_config.get("Runtime") or
                                          self.config.default_runtime)
        try:
            image = self.images.get(image_ref)
        except NotFound:
            raise NotFound(f"No such image: {image_ref}") from None
        image_info = self.images.inspect(image_ref)
        image_config = image_info.get("Config") or {}
        cid = self.store.new_id()
        # Validate and merge before anything is created on disk.
        plan = self.specs.plan(body, image_config, container_id=cid)
        endpoints: dict[str, dict[str, Any]] = {}
        if self.networks is not None:
            from cove.engine.networks.ports import port_requests
            port_requests(plan.host_config, plan.config)  # bad bindings refused at create
            self.networks.check_links(plan.host_config)
            endpoints = self.networks.plan_endpoints(
                plan.host_config, body.get("NetworkingConfig") or {}, plan.config)
        c = Container(
            id=cid, name=name or "", created=model.now_rfc3339(), image=image_ref,
            image_id=image.id, config=plan.config, host_config=plan.host_config,
            networking_config=body.get("NetworkingConfig") or {}, runtime=runtime_name,
            driver=getattr(self.images, "snapshotter_name", "overlay"),
            path=plan.path, args=plan.args, endpoints=endpoints)
        self.store.reserve(c)
        cdir = self.store.dir_of(cid)
        created_volumes: list[str] = []
        try:
            stack = contextlib.ExitStack()
            with stack:
                c.bundle = os.path.join(self.exec_dir, cid)
                os.makedirs(c.bundle, mode=0o700, exist_ok=True)
                c.rootfs = os.path.join(cdir, "rootfs")
                os.makedirs(c.rootfs, mode=0o755, exist_ok=True)
                c.log_path = os.path.join(cdir, f"{cid}-json.log")
                c.hostname_path = os.path.join(cdir, "hostname")
                c.hosts_path = os.path.join(cdir, "hosts")
                c.resolv_conf_path = os.path.join(cdir, "resolv.conf")
                self._write_etc_files(c)
                self.images.prepare_rootfs(image_ref, cid)
                self._mount_rootfs(c)
                if self.volumes is not None:
                    # Held until the record names them: no prune takes them meanwhile.
                    hold = stack.enter_context(self.volumes.hold())
                    created_volumes = self._plan_volumes(c, hold)
                # A full spec now: every remaining error (users, devices) surfaces at create.
                self._write_spec(c)
                self._save(c)
        except BaseException:
            self._undo_create(c)
            if self.volumes is not None and created_volumes:
                discard_volumes(self.volumes, created_volumes)
            raise
        self.events.emit("container", "create", cid, self._attrs(c))
        return c

    def _plan_volumes(self, c: Container, hold: Hold) -> list[str]:
        """Inspect's Mounts for ``c``, with its volumes made and filled from the image;
        returns the volumes made for it (to remove if the create fails later)."""
        assert self.volumes is not None
        plan = plan_mounts(self.volumes, hold, c.config, c.host_config,
                           lambda ref: self.get(ref).mounts)
        c.mounts = plan.mounts
        for name, destination in plan.copy_up:
            copy_image_content(c.rootfs, destination, self.volumes.get(name).mountpoint)
        return plan.created

    def _remove_anonymous_volumes(self, c: Container) -> None:
        assert self.volumes is not None
        for m in c.mounts:
            name = str(m.get("Name") or "")
            if m.get("Type") != "volume" or not name:
                continue
            try:
                if self.volumes.get(name).anonymous:
                    self.volumes.remove(name)
            except Exception as e:
                # Another container still uses it (VolumesFrom), or it is gone: Docker
                # keeps the container's removal and says nothing either.
                log.info("volume %s of %s kept: %s", name, c.id, e)

    def _undo_create(self, c: Container) -> None:
        with contextlib.suppress(Exception):
            self._unmount_rootfs(c)
        with contextlib.suppress(Exception):
            self.images.release_rootfs(c.id)
        shutil.rmtree(os.path.join(self.exec_dir, c.id), ignore_errors=True)
        self.store.release(c)

    def _write_etc_files(self, c: Container) -> None:
        if self.networks is not None:
            from cove.engine.networks import etc
            etc.write_files(c, self.networks)
            return
        hostname = c.config.get("Hostname") or c.id[:12]
        domain = c.config.get("Domainname") or ""
        with open(c.hostname_path, "w") as f:
            f.write(hostname + "\n")
        fqdn = f"{hostname}.{domain}" if domain else hostname
        hosts = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
                 "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix",
                 "ff02::1\tip6-allnodes", "ff02::2\tip6-allrouters"]
        for entry in c.host_config.get("ExtraHosts") or []:
            host, _, addr = str(entry).partition(":")
            if addr:
                hosts.append(f"{addr}\t{host}")
        hosts.append(f"127.0.1.1\t{fqdn} {hostname}" if domain else f"127.0.1.1\t{hostname}")
        with open(c.hosts_path, "w") as f:
            f.write("\n".join(hosts) + "\n")
        # No network yet beyond loopback: the host's resolvers, minus loopback ones
        # that would point into the container itself.
        lines = []
        with contextlib.suppress(OSError), open("/etc/resolv.conf") as src:
            for line in src:
                parts = line.split()
                if parts[:1] == ["nameserver"] and len(parts) > 1 and \
                        parts[1].startswith("127."):
                    continue
                lines.append(line.rstrip("\n"))
        dns = c.host_config.get("Dns") or []
        if dns:
            lines = [ln for ln in lines if not ln.startswith("nameserver")]
            lines += [f"nameserver {d}" for d in dns]
        for key, field_name in (("search", "DnsSearch"), ("options", "DnsOptions")):
            values = c.host_config.get(field_name) or []
            if values:
                lines = [ln for ln in lines if not ln.startswith(key)]
                lines.append(f"{key} {' '.join(values)}")
        with open(c.resolv_conf_path, "w") as f:
            f.write("\n".join(lines) + ("\n" if lines else ""))

    def _mount_rootfs(self, c: Container) -> None:
        if os.path.ismount(c.rootfs):
            return
        mounts = self.images.snapshotter.mounts(self.images.rootfs_key(c.id))
        from cove.snapshots.base import mount_all
        mount_all(mounts, c.rootfs)

    def ensure_rootfs(self, c: Container) -> None:
        """The rootfs mounted for a request on a stopped container (cp): it is unmounted
        at each exit, as Docker does, and mounted again on demand. Caller holds the lock."""
        if self._exists(c.id):
            self._mount_rootfs(c)

    def _unmount_rootfs(self, c: Container) -> None:
        from cove.snapshots.base import unmount_all
        if os.path.ismount(c.rootfs):
            unmount_all(c.rootfs)

    def _write_spec(self, c: Container, netns: str | None = None) -> dict[str, Any]:
        spec = self.specs.build(c, init_path=self.config.init_path,
                                network_namespace=netns)
        import json
        path = os.path.join(c.bundle, "config.json")
        with open(path + ".tmp", "w") as f:
            json.dump(spec, f)
        os.rename(path + ".tmp", path)
        return spec

    # -- start -----------------------------------------------------------------------------

    def start(self, ref: str) -> Container:
        c = self.get(ref)
        with self.store.lock(c.id):
            if c.state.status == model.PAUSED:
                raise Conflict("cannot start a paused container, try unpause instead")
            if c.state.running:
                raise NotModified(f"container {c.id} is already running")
            if c.state.status == model.REMOVING:
                raise Conflict(f"container {c.id} is marked for removal and cannot be started")
            c.state.stopped_by_user = False
            error: Exception | None = None
            try:
                self._start_locked(c)
            except Exception as e:
                error = e
        if error is not None:
            # Docker removes an --rm container whose start failed (it never exits, so
            # no auto-removal would follow), then reports the start's error.
            if c.host_config.get("AutoRemove"):
                with contextlib.suppress(Exception):
                    self.remove(c.id, force=True, volumes=True)
            raise error
        return c

    def _start_locked(self, c: Container) -> None:
        rt = self.runtime(c.runtime)
        # A previous run's runtime state (after a daemon crash) would block create.
        rt.delete(c.id, force=True)
        self._mount_rootfs(c)
        if self.volumes is not None:
            for m in c.mounts:
                if m.get("Type") == "volume":
                    self.volumes.mountpoint(str(m.get("Name")))  # a device volume's mount
                    self.events.emit("volume", "mount", str(m.get("Name")), {
                        "container": c.id, "destination": str(m.get("Destination")),
                        "driver": str(m.get("Driver") or "local"),
                        "propagation": str(m.get("Propagation") or ""),
                        "read/write": "true" if m.get("RW") else "false"})
        netns = self.networks.setup(c) if self.networks is not None else None
        try:
            own_netns = has_own_network_namespace(self._write_spec(c, netns))
        except BaseException:
            self._network_down(c)
            raise
        paths = self.paths(c)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(paths.directory, "oom"))
        log_type = (c.host_config.get("LogConfig") or {}).get("Type") or "json-file"
        cfg = c.config
        req = monitor.MonitorRequest(
            container_id=c.id, bundle=c.bundle, runtime_path=rt.path, runtime_root=rt.root,
            log_path=None if log_type == "none" else c.log_path, paths=paths,
            terminal=bool(cfg.get("Tty")), stdin=bool(cfg.get("OpenStdin")),
            leave_stdin_open=bool(cfg.get("OpenStdin")) and not cfg.get("StdinOnce"),
            log_size_max=self._log_max_size(c))
        try:
            conmon_pid, pid = monitor.launch(req)
        except Exception as e:
            c.state.error = str(e)
            c.state.exit_code = 127 if "not found" in str(e) or "no such file" in str(e) \
                else 126 if "permission denied" in str(e) else 128
            c.state.status = model.EXITED if c.state.started_at != model.ZERO_TIME \
                else model.CREATED
            self._network_down(c)
            self._save(c)
            self._run_ended(c.id)
            raise
        self._connect_attachers(c)
        try:
            if own_netns:
                # Created, not started: the init waits, so no user code runs before lo is up.
                bring_loopback_up(pid)
            rt.start(c.id)
        except Exception as e:
            with contextlib.suppress(Exception):
                rt.kill(c.id, signal_mod.SIGKILL)
            c.state.error = str(e)
            self._network_down(c)
            self._save(c)
            self._run_ended(c.id)
            raise
        st = c.state
        st.status = model.RUNNING
        st.pid = pid
        st.monitor_pid = conmon_pid
        st.started_at = model.now_rfc3339()
        st.error = ""
        st.exit_code = 0
        st.oom_killed = False
        st.stop_signal_ignored = False
        if (c.config.get("Healthcheck") or {}).get("Test") not in (None, [], ["NONE"]):
            st.health = model.Health()
        self._save(c)
        self.watcher.watch(c.id, conmon_pid)
        self.events.emit("container", "start", c.id, self._attrs(c))
        self._tell("container_started", c)

    def run_generation(self, cid: str) -> int:
        return self._ends.get(cid, 0)

    def idle_until_run_ends(self, cid: str, generation: int, seconds: float) -> None:
        """Sleep up to ``seconds``, less if the run ``generation`` of ``cid`` ends."""
        with self._changed:
            if self._ends.get(cid, 0) == generation:
                self._changed.wait(seconds)

    def _run_ended(self, cid: str) -> None:
        self._ends[cid] = self._ends.get(cid, 0) + 1
        self._changed_now()

    def wait_for_start(self, cid: str, gone: Callable[[], bool]) -> PendingAttach | None:
        """For an attach before start: block until the monitor exists (or give up)."""
        pending = PendingAttach()
        with self._changed:
            self._attachers.setdefault(cid, []).append(pending)
        try:
            while not pending.ready.wait(0.5):
                if gone() or self._closing or not self._exists(cid):
                    return None
            return pending
        finally:
            with self._changed:
                waiting = self._attachers.get(cid, [])
                if pending in waiting:
                    waiting.remove(pending)

    def _connect_attachers(self, c: Container) -> None:
        with self._changed:
            pending = list(self._attachers.pop(c.id, []))
        for p in pending:
            p.ready.set()
        for p in pending:
            p.connected.wait(5.0)

    def _log_limits(self, c: Container) -> tuple[int, int]:
        """(max-size, max-file) from the container's log opts, else the daemon's."""
        opts = (c.host_config.get("LogConfig") or {}).get("Config") or {}
        size = self.config.log_max_size
        files = self.config.log_max_file
        if opts.get("max-size"):
            from cove.engine.units import parse_bytes
            size = parse_bytes(str(opts["max-size"]))
        if opts.get("max-file"):
            files = int(str(opts["max-file"]))
        return size, files

    def _log_max_size(self, c: Container) -> int:
        # conmon's own cap (see logrotate.py): room for what a fast writer adds between
        # two rotation checks, so that it only matters while the daemon is down.
        size = self._log_limits(c)[0]
        return max(2 * size, size + 8 * 1024 * 1024)

    def _rotation_targets(self) -> list[RotationTarget]:
        out = []
        for c in self.store.all():
            if c.state.status not in (model.RUNNING, model.PAUSED):
                continue
            if ((c.host_config.get("LogConfig") or {}).get("Type") or "json-file") == "none":
                continue
            size, files = self._log_limits(c)
            out.append(RotationTarget(c.log_path, os.path.join(c.bundle, "ctl"), size, files))
        return out

    # -- exits -----------------------------------------------------------------------------

    def _on_monitor_exit(self, cid: str) -> None:
        try:
            c = self.store.get(cid)
        except NotFound:
            return
        with self.store.lock(c.id):
            if not c.state.running:
                return
            self._record_exit(c)
        self._after_exit(c)

    def _record_exit(self, c: Container) -> None:
        paths = self.paths(c)
        code = monitor.read_exit_status(paths, c.id)
        st = c.state
        if code is None:
            st.error = "the container's monitor ended without recording an exit status"
            code = 255
        st.exit_code = code
        st.oom_killed = monitor.oom_happened(paths)
        st.status = model.EXITED
        st.pid = 0
        st.monitor_pid = 0
        st.finished_at = model.now_rfc3339()
        if st.health is not None:
            st.health.status = "unhealthy" if st.health.status != "healthy" else "healthy"
        with contextlib.suppress(Exception):
            self.runtime(c.runtime).delete(c.id, force=True)
        self._network_down(c)
        # As Docker: a stopped container's rootfs is not mounted (the start mounts it
        # again; cp mounts it on demand), so a prune or rm later has nothing to unmount.
        try:
            self._unmount_rootfs(c)
        except Exception as e:
            log.warning("rootfs of %s stays mounted: %s", c.id[:12], e)
        self._save(c)
        self._run_ended(c.id)
        attrs = self._attrs(c, exitCode=str(code))
        if st.oom_killed:
            self.events.emit("container", "oom", c.id, self._attrs(c))
        self.events.emit("container", "die", c.id, attrs)

    def _after_exit(self, c: Container) -> None:
        self._tell("container_exited", c)
        if self._closing:
            return
        if c.host_config.get("AutoRemove") and not self._should_restart(c):
            with contextlib.suppress(Exception):
                self.remove(c.id, force=True, volumes=True)
            return
        if self._should_restart(c):
            self._schedule_restart(c)

    def _should_restart(self, c: Container) -> bool:
        policy = c.host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if c.state.stopped_by_user or name in ("no", ""):
            return False
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            limit = int(policy.get("MaximumRetryCount") or 0)
            return c.state.exit_code != 0 and (limit == 0 or c.state.restart_count < limit)
        return False

    def _schedule_restart(self, c: Container) -> None:
        ran_for = time.time() - _seconds(c.state.started_at)
        delay = self._backoff.get(c.id, 0.0)
        delay = BACKOFF_START if ran_for >= BACKOFF_RESET_AFTER or delay == 0 \
            else min(delay * 2, BACKOFF_MAX)
        self._backoff[c.id] = delay
        with self.store.lock(c.id):
            c.state.status = model.RESTARTING
            self._save(c)

        def restart() -> None:
            self._timers.pop(c.id, None)
            with self.store.lock(c.id):
                if c.state.status != model.RESTARTING or self._closing:
                    return
                c.state.restart_count += 1
                try:
                    self._start_locked(c)
                except Exception as e:
                    log.warning("restart of %s failed: %s", c.id[:12], e)
                    c.state.status = model.EXITED
                    self._save(c)
                    return
            self.events.emit("container", "restart", c.id, self._attrs(c))

        timer = threading.Timer(delay, restart)
        timer.daemon = True
        self._timers[c.id] = timer
        timer.start()

    def _cancel_restart(self, c: Container) -> None:
        timer = self._timers.pop(c.id, None)
        if timer is not None:
            timer.cancel()
        if c.state.status == model.RESTARTING:
            c.state.status = model.EXITED
            self._save(c)

    # -- stop, kill, wait ------------------------------------------------------------------

    def kill(self, ref: str, sig: str | int | None = None) -> Container:
        c = self.get(ref)
        number = signal_number(sig, signal_mod.SIGKILL)
        with self.store.lock(c.id):
            if c.state.status == model.RESTARTING:
                c.state.stopped_by_user = True
                self._cancel_restart(c)
                return c
            if not c.state.running:
                raise Conflict(f"Cannot kill container: {c.id}: Container {c.id} is not running")
            if number in (signal_mod.SIGKILL, signal_mod.SIGTERM, signal_mod.SIGINT):
                c.state.stopped_by_user = True
                self._save(c)
            try:
                self.runtime(c.runtime).kill(c.id, number)
            except FailedPrecondition:
                raise Conflict(f"Cannot kill container: {c.id}: Container {c.id} is not "
                               "running") from None
        self.events.emit("container", "kill", c.id, self._attrs(c, signal=str(number)))
        return c

    def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> bool:
        """Stop signal, grace period, SIGKILL. True when SIGKILL was needed."""
        c = self.get(ref)
        with self.store.lock(c.id):
            if c.state.status == model.RESTARTING:
                c.state.stopped_by_user = True
                self._cancel_restart(c)
                return False
            if not c.state.running:
                raise NotModified(f"container {c.id} is not running")
            c.state.stopped_by_user = True
            self._save(c)
            rt = self.runtime(c.runtime)
            if c.state.status == model.PAUSED:
                # A frozen process cannot act on its signal: SIGKILL only, as Docker.
                rt.kill(c.id, signal_mod.SIGKILL)
                with contextlib.suppress(Exception):
                    rt.resume(c.id)
            number = signal_number(sig or c.config.get("StopSignal"))
            if timeout is None:
                timeout = c.config.get("StopTimeout")
                if timeout is None:
                    timeout = DEFAULT_STOP_TIMEOUT
            # Already gone (it exited between our check and the signal): the wait
            # below sees the exit.
            with contextlib.suppress(NotFound, FailedPrecondition):
                rt.kill(c.id, number)
        killed = False
        if timeout < 0:
            self._wait_exit(c, None)
        elif not self._wait_exit(c, float(timeout)):
            with self.store.lock(c.id):
                if c.state.running:
                    killed = True
                    c.state.stop_signal_ignored = True
                    self._save(c)
                    with contextlib.suppress(Exception):
                        self.runtime(c.runtime).kill(c.id, signal_mod.SIGKILL, True)
            self._wait_exit(c, 30.0)
        self.events.emit("container", "stop", c.id, self._attrs(c))
        return killed

    def _wait_exit(self, c: Container, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._changed:
                if not c.state.running or c.state.status == model.RESTARTING:
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(timeout=min(left, 1.0) if left is not None else 1.0)
            # Outside the condition: the exit handler takes the container lock and then
            # the condition, so holding the condition here would deadlock with it.
            if c.state.running and not monitor.process_alive(c.state.monitor_pid):
                self._on_monitor_exit(c.id)

    def wait(self, ref: str, condition: str = "not-running",
             cancelled: Callable[[], bool] | None = None) -> dict[str, Any]:
        c = self.get(ref)
        if condition not in ("not-running", "next-exit", "removed", ""):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        with self._changed:
            if condition == "next-exit":
                # Docker waits for the next exit even if the container is not running now.
                finished = c.state.finished_at
                while c.state.finished_at == finished:
                    if cancelled is not None and cancelled():
                        break
                    self._changed.wait(timeout=0.5)
                    if c.state.running and not monitor.process_alive(c.state.monitor_pid):
                        self._changed.release()
                        try:
                            self._on_monitor_exit(c.id)
                        finally:
                            self._changed.acquire()
            elif condition == "removed":
                while self._exists(c.id):
                    if cancelled is not None and cancelled():
                        break
                    self._changed.wait(timeout=0.5)
            else:
                while c.state.running or c.state.status == model.RESTARTING:
                    if cancelled is not None and cancelled():
                        break
                    self._changed.wait(timeout=0.5)
        error = {"Message": c.state.error} if c.state.error else None
        return {"StatusCode": c.state.exit_code, "Error": error}

    def _exists(self, cid: str) -> bool:
        try:
            self.store.get(cid)
            return True
        except NotFound:
            return False

    def restart(self, ref: str, timeout: int | None = None, sig: str | None = None) -> None:
        c = self.get(ref)
        if c.state.running:
            with contextlib.suppress(NotModified):
                self.stop(c.id, timeout, sig)
        with self.store.lock(c.id):
            self._cancel_restart(c)
            c.state.stopped_by_user = False
            if not c.state.running:
                self._start_locked(c)
        self.events.emit("container", "restart", c.id, self._attrs(c))

    # -- pause -----------------------------------------------------------------------------

    def pause(self, ref: str) -> None:
        c = self.get(ref)
        with self.store.lock(c.id):
            if not c.state.running:
                raise Conflict(f"Container {c.id} is not running")
            if c.state.status == model.PAUSED:
                raise Conflict(f"Container {c.id} is already paused")
            self.runtime(c.runtime).pause(c.id)
            c.state.status = model.PAUSED
            self._save(c)
        self.events.emit("container", "pause", c.id, self._attrs(c))

    def unpause(self, ref: str) -> None:
        c = self.get(ref)
        with self.store.lock(c.id):
            if c.state.status != model.PAUSED:
                raise Conflict(f"Container {c.id} is not paused")
            self.runtime(c.runtime).resume(c.id)
            c.state.status = model.RUNNING
            self._save(c)
        self.events.emit("container", "unpause", c.id, self._attrs(c))

    # -- remove, rename --------------------------------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self.get(ref)
        with self.store.lock(c.id):
            if c.state.status == model.PAUSED and not force:
                raise Conflict(f"cannot remove container \"/{c.name}\": container is paused "
                               "and must be unpaused first")
            if c.state.running and c.state.status != model.RESTARTING and not force:
                raise Conflict(f"cannot remove container \"/{c.name}\": container is running: "
                               "stop the container before removing or force remove")
            self._cancel_restart(c)
            c.state.stopped_by_user = True
            if c.state.running:
                rt = self.runtime(c.runtime)
                with contextlib.suppress(Exception):
                    rt.kill(c.id, signal_mod.SIGKILL, True)
                if c.state.status == model.PAUSED:
                    with contextlib.suppress(Exception):
                        rt.resume(c.id)
        if c.state.running:
            self._wait_exit(c, 30.0)
        with self.store.lock(c.id):
            with contextlib.suppress(Exception):
                self.runtime(c.runtime).delete(c.id, force=True)
            self._network_down(c)
            self._unmount_rootfs(c)
            self.images.release_rootfs(c.id)
            shutil.rmtree(os.path.join(self.exec_dir, c.id), ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.paths(c).exit_file(c.id))
            self.store.release(c)
            self._backoff.pop(c.id, None)
        self._changed_now()
        if volumes and self.volumes is not None:
            self._remove_anonymous_volumes(c)
        self._tell("container_removed", c)
        self.events.emit("container", "destroy", c.id, self._attrs(c))

    # -- networks --------------------------------------------------------------------------

    def _network_down(self, c: Container) -> None:
        if self.networks is not None and c.sandbox:
            try:
                self.networks.teardown(c)
            except Exception:
                log.exception("network teardown of %s failed", c.id[:12])

    def connect_network(self, ref: str, network: str, settings: dict[str, Any]) -> None:
        if self.networks is None:
            raise FailedPrecondition("networking is disabled in this daemon")
        c = self.get(ref)
        with self.store.lock(c.id):
            if not self._exists(c.id):  # removed while this request waited for the lock
                raise NotFound(f"No such container: {ref}")
            if c.state.status == model.PAUSED:
                raise Conflict(f"Container {c.id} is paused")
            self.networks.connect(c, network, settings)
            self._save(c)

    def disconnect_network(self, ref: str, network: str, force: bool = False) -> None:
        if self.networks is None:
            raise FailedPrecondition("networking is disabled in this daemon")
        c = self.get(ref)
        with self.store.lock(c.id):
            if not self._exists(c.id):
                raise NotFound(f"No such container: {ref}")
            try:
                self.networks.disconnect(c, network, force)
            finally:
                self._save(c)

    def remove_link(self, linker: str, alias: str) -> None:
        """DELETE /containers/<linker>/<alias>?link=1: the legacy link goes (on the next
        start), both containers stay."""
        from cove.engine.networks.links import parse_links
        c = self.get(linker)
        with self.store.lock(c.id):
            links = list(c.host_config.get("Links") or [])
            kept = [entry for entry, link in zip(links, parse_links(links), strict=True)
                    if link.alias != alias]
            if len(kept) == len(links):
                raise NotFound(f"Link {alias} does not exist for container /{c.name}")
            c.host_config["Links"] = kept or None
            self._save(c)

    def rename(self, ref: str, new_name: str) -> None:
        c = self.get(ref)
        with self.store.lock(c.id):
            old = c.name
            self.store.rename(c, new_name)
            if self.networks is not None:
                self.networks.dns_changed()
        self.events.emit("container", "rename", c.id, self._attrs(c, oldName="/" + old))

    # -- logs ------------------------------------------------------------------------------

    def logs(self, ref: str, query: LogQuery) -> tuple[Container, Iterator[bytes]]:
        c = self.get(ref)
        log_type = (c.host_config.get("LogConfig") or {}).get("Type") or "json-file"
        if log_type == "none":
            raise InvalidArgument(
                'configured logging driver does not support reading')
        generation = self.run_generation(c.id)
        return c, stream_logs(c.log_path, query, bool(c.config.get("Tty")),
                              lambda: c.state.running and self._exists(c.id),
                              lambda t: self.idle_until_run_ends(c.id, generation, t))

    # -- daemon start and stop -------------------------------------------------------------

    def _clean_leftovers(self) -> None:
        """Undo creates that a crash interrupted: nothing half-created survives a restart."""
        from cove.snapshots.base import unmount_all
        for cid in self.store.leftovers:
            log.warning("removing %s: a create that did not finish", cid[:12])
            cdir = self.store.dir_of(cid)
            rootfs = os.path.join(cdir, "rootfs")
            with contextlib.suppress(Exception):
                if os.path.ismount(rootfs):
                    unmount_all(rootfs)
            if os.path.ismount(rootfs):
                log.error("cannot unmount %s; leaving it", rootfs)
                continue
            with contextlib.suppress(Exception):
                self.images.release_rootfs(cid)
            shutil.rmtree(os.path.join(self.exec_dir, cid), ignore_errors=True)
            shutil.rmtree(cdir, ignore_errors=True)
        self.store.leftovers.clear()

    def reconcile(self) -> None:
        """Match the records with what runs now (after a restart or crash of the daemon)."""
        self._clean_leftovers()
        restart: list[Container] = []
        for c in self.store.all():
            with self.store.lock(c.id):
                if c.state.running and monitor.process_alive(c.state.monitor_pid) and \
                        _is_monitor_of(c.state.monitor_pid, c.id):
                    self.watcher.watch(c.id, c.state.monitor_pid)
                    continue
                if c.state.running:
                    if c.state.status == model.RESTARTING:
                        c.state.status = model.EXITED
                        self._save(c)
                    else:
                        self._record_exit(c)
                policy = (c.host_config.get("RestartPolicy") or {}).get("Name")
                if policy in ("always", "unless-stopped") and not c.state.stopped_by_user:
                    restart.append(c)
        if self.networks is not None:
            try:
                self.networks.reconcile(lambda c: c.state.running)
            except Exception:
                log.exception("network reconciliation failed")
        for c in restart:
            try:
                with self.store.lock(c.id):
                    self._start_locked(c)
            except Exception as e:
                log.warning("could not restart %s: %s", c.id[:12], e)

    def close(self) -> None:
        self._closing = True
        self.rotator.close()
        for timer in list(self._timers.values()):
            timer.cancel()
        self.watcher.close()


def _is_monitor_of(pid: int, cid: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().split(b"\0")
    except OSError:
        return False
    return bool(args) and os.path.basename(args[0]) == b"conmon" and cid.encode() in args


def _seconds(rfc3339: str) -> float:
    from cove.engine.timeutil import parse_rfc3339
    try:
        return parse_rfc3339(rfc3339)
    except InvalidArgument:
        return 0.0
