"""/containers/{id}/top, /stats, /update, /port; and the health checks' registration."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from cove.api.http import BadRequest, Request, Response, StreamResponse, json_response
from cove.api.router import Router
from cove.engine.cgroup_update import CgroupWriter, plan_update
from cove.engine.container_cgroup import CgroupHost
from cove.engine.containers import model
from cove.engine.health import HealthMonitor
from cove.engine.stats import StatsReader, empty_stats, with_previous
from cove.engine.top import top
from cove.errors import Conflict, CoveError

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext
    from cove.engine.containers.model import Container
    from cove.engine.exec_sessions import ExecManager

log = logging.getLogger("cove.api.extras")

# Docker's stats collector samples once a second; stream=false waits for two samples
# so that precpu_stats is a real previous reading.
STATS_INTERVAL = 1.0


def register(router: Router, ctx: DaemonContext) -> None:
    containers = ctx.containers
    execs: ExecManager | None = ctx.services.get("exec")
    if execs is None:
        from cove.engine.exec_sessions import ExecManager
        execs = ExecManager(containers, ctx.events,
                            os.path.join(ctx.config.exec_root, "execs"))
    health = HealthMonitor(containers, execs, ctx.events)
    containers.listeners.append(health)
    ctx.services["health"] = health
    health.resume()
    cgroups = CgroupHost()
    reader = StatsReader(cgroups)
    writer = CgroupWriter(cgroups)

    def running(c: Container) -> None:
        if c.state.status == model.RESTARTING:
            raise Conflict(f"Container {c.id} is restarting, wait until the container "
                           "is running")
        if not c.state.running:
            raise Conflict(f"container {c.id} is not running")

    @router.get("/containers/{id}/top")
    def top_(req: Request) -> Response:
        c = containers.get(req.params["id"])
        running(c)
        pids = containers.runtime(c.runtime).pids(c.id)
        return json_response(top(pids, req.arg("ps_args") or "-ef"))

    @router.get("/containers/{id}/stats")
    def stats(req: Request) -> Response:
        c = containers.get(req.params["id"])
        stream = req.flag("stream", True)
        one_shot = req.flag("one-shot")
        if stream and one_shot:
            raise BadRequest("cannot have stream=true and one-shot=true")

        def sample() -> dict[str, Any]:
            return reader.sample(cgroups.of(c.bundle, c.id), c.state.pid)

        live = c.state.status in (model.RUNNING, model.PAUSED)
        if not stream:
            if not live:
                return json_response(empty_stats(c.id, c.name))
            first = sample()
            if one_shot:
                return json_response(with_previous(first, None, c.id, c.name))
            time.sleep(STATS_INTERVAL)
            return json_response(with_previous(sample(), first, c.id, c.name))

        def chunks() -> Iterator[bytes]:
            previous: dict[str, Any] | None = None
            if not live:
                yield _line(empty_stats(c.id, c.name))
                return
            while c.state.status in (model.RUNNING, model.PAUSED) and not req.client_gone():
                started = time.monotonic()
                current = sample()
                yield _line(with_previous(current, previous, c.id, c.name))
                previous = current
                left = STATS_INTERVAL - (time.monotonic() - started)
                if left > 0:
                    time.sleep(left)

        return StreamResponse(chunks())

    @router.post("/containers/{id}/update")
    def update(req: Request) -> Response:
        body = req.json(required=True)
        if not isinstance(body, dict):
            raise BadRequest("update body must be a JSON object")
        c = containers.get(req.params["id"])
        with containers.store.lock(c.id):
            live = c.state.status in (model.RUNNING, model.PAUSED)
            cg = cgroups.of(c.bundle, c.id) if live else None
            try:
                plan = plan_update(body, c.host_config,
                                   writer.host_cpusets(cg) if cg is not None else None)
            except CoveError as e:
                raise type(e)(f"Cannot update container {c.id}: {e}") from None
            before = c.host_config
            merged = {**before, **plan.changes}
            warnings = list(plan.warnings)
            resources = set(plan.changes) - {"RestartPolicy"}
            if cg is not None and resources:
                warnings += writer.apply(cg, merged, before, resources, c.id)
            c.host_config = merged
            try:
                containers.store.save(c)
            except BaseException:
                c.host_config = before
                if cg is not None and resources:
                    # Put the running limits back too: a refused update changes nothing.
                    writer.apply(cg, before, merged, resources, c.id)
                raise
        ctx.events.emit("container", "update", c.id, {"image": c.image, "name": c.name})
        return json_response({"Warnings": warnings})

    @router.get("/containers/{id}/port")
    def port(req: Request) -> Response:
        c = containers.get(req.params["id"])
        return json_response(published_ports(c))


def published_ports(c: Container) -> dict[str, list[dict[str, str]] | None]:
    """The HostConfig's PortBindings as NetworkSettings.Ports shows them: only while the
    container runs, and nothing with the "none" network (Cove has no port publishing
    yet: these are the asked bindings, not sockets that listen)."""
    if not c.state.running or c.host_config.get("NetworkMode") == "none":
        return {}
    out: dict[str, list[dict[str, str]] | None] = {}
    for key, bindings in (c.host_config.get("PortBindings") or {}).items():
        name = key if "/" in key else f"{key}/tcp"
        items = []
        for b in bindings or []:
            if not isinstance(b, dict):
                continue
            items.append({"HostIp": str(b.get("HostIp") or "0.0.0.0"),
                          "HostPort": str(b.get("HostPort") or "")})
        out[name] = items or None
    return out


def _line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode() + b"\n"
