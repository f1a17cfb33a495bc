"""/_ping, /version, /info, /events."""

from __future__ import annotations

import os
import platform
import threading
import time
from typing import TYPE_CHECKING, Any

from cove.api.http import BytesResponse, Request, Response, StreamResponse, json_response
from cove.api.router import API_VERSION, MIN_API_VERSION, Router
from cove.engine.events import Event
from cove.engine.timeutil import parse_since
from cove.errors import InvalidArgument

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext

VERSION = "0.1.0"
_EVENT_FILTERS = {"container", "image", "event", "type", "label", "network", "volume",
                  "daemon", "scope", "node", "service", "config", "secret", "plugin"}


def register(router: Router, ctx: DaemonContext) -> None:
    def ping(req: Request) -> Response:
        return BytesResponse(b"OK", 200, "text/plain; charset=utf-8",
                             {"Cache-Control": "no-cache, no-store, must-revalidate",
                              "Pragma": "no-cache", "Builder-Version": "1"})

    router.add("GET", "/_ping", ping)
    router.add("HEAD", "/_ping", ping)

    @router.get("/version")
    def version(req: Request) -> Response:
        uname = os.uname()
        return json_response({
            "Platform": {"Name": "Cove Engine"},
            "Components": [{"Name": "Engine", "Version": VERSION,
                            "Details": {"ApiVersion": API_VERSION,
                                        "MinAPIVersion": MIN_API_VERSION,
                                        "Os": "linux", "Arch": _arch()}}],
            "Version": VERSION, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "", "GoVersion": f"python{platform.python_version()}",
            "Os": "linux", "Arch": _arch(), "KernelVersion": uname.release,
            "BuildTime": "",
        })

    @router.get("/info")
    def info(req: Request) -> Response:
        cs = ctx.containers.store.all()
        running = sum(1 for c in cs if c.state.status == "running")
        paused = sum(1 for c in cs if c.state.status == "paused")
        uname = os.uname()
        mem = _mem_total()
        images = len(ctx.images.list())
        cgroup_v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        return json_response({
            "ID": _daemon_id(ctx), "Containers": len(cs), "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": len(cs) - running - paused,
            "Images": images, "Driver": getattr(ctx.images.snapshotter, "name", "overlay"),
            "DriverStatus": [], "Plugins": {"Volume": ["local"], "Network": ["null", "host"],
                                            "Log": ["json-file", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "OomKillDisable": True,
            "IPv4Forwarding": True, "Debug": ctx.config.log_level == "debug",
            "NFd": len(os.listdir("/proc/self/fd")), "NGoroutines": threading.active_count(),
            "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if cgroup_v2 else "1",
            "NEventsListener": 0, "KernelVersion": uname.release,
            "OperatingSystem": _os_name(), "OSVersion": "", "OSType": "linux",
            "Architecture": uname.machine, "NCPU": os.cpu_count() or 1, "MemTotal": mem,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"],
                               "Mirrors": []},
            "GenericResources": [], "DockerRootDir": ctx.config.root,
            "HttpProxy": "", "HttpsProxy": "", "NoProxy": "", "Name": uname.nodename,
            "Labels": [], "ExperimentalBuild": False, "ServerVersion": VERSION,
            "Runtimes": {name: {"path": name} for name in
                         ("cove-runtime", "runc", "crun", *ctx.config.runtimes)},
            "DefaultRuntime": ctx.config.default_runtime, "Swarm": {
                "LocalNodeState": "inactive", "ControlAvailable": False, "NodeID": "",
                "NodeAddr": "", "Error": "", "RemoteManagers": []},
            "LiveRestoreEnabled": True, "Isolation": "", "InitBinary": "docker-init",
            "SecurityOptions": ["name=seccomp,profile=builtin", "name=no-new-privileges"],
            "Warnings": [],
        })

    @router.get("/events")
    def events(req: Request) -> Response:
        filters = req.json_filters()
        for key in filters:
            if key not in _EVENT_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        now = time.time()
        since = req.arg("since")
        until = req.arg("until")
        since_ns = int(parse_since(since, now, name="since") * 1e9) if since else None
        until_ns = int(parse_since(until, now, name="until") * 1e9) if until else None
        stop = threading.Event()

        def chunks() -> Any:
            import json
            try:
                if until_ns is not None and until_ns <= time.time_ns():
                    items: Any = ctx.events.since(since_ns, until_ns)
                else:
                    items = ctx.events.follow(since_ns, until_ns, stop)
                for e in items:
                    if e is None:
                        if req.client_gone():
                            return
                        continue
                    if _event_matches(e, filters):
                        yield json.dumps(e.to_api()).encode() + b"\n"
            finally:
                stop.set()

        return StreamResponse(chunks())


def _event_matches(e: Event, f: dict[str, list[str]]) -> bool:
    if "type" in f and e.type not in f["type"]:
        return False
    if "event" in f and e.action not in f["event"] and \
            e.action.split(":")[0] not in f["event"]:
        return False
    if "container" in f:
        if e.type != "container":
            return False
        name = e.attributes.get("name", "")
        if not any(e.actor_id.startswith(v) or v in (name, "/" + name) for v in f["container"]):
            return False
    if "image" in f:
        image = e.attributes.get("image", "") if e.type == "container" else e.actor_id
        if not any(v in (image, e.actor_id) or image.startswith(v + ":") for v in f["image"]):
            return False
    if "label" in f:
        for wanted in f["label"]:
            key, sep, value = wanted.partition("=")
            if key not in e.attributes or (sep and e.attributes[key] != value):
                return False
    return True


def _arch() -> str:
    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _daemon_id(ctx: DaemonContext) -> str:
    path = os.path.join(ctx.config.root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        import uuid
        value = str(uuid.uuid4())
        with open(path, "w") as f:
            f.write(value)
        return value
