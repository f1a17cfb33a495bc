"""/containers/... endpoints: lifecycle, inspect, list, logs, attach, wait."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any, BinaryIO

from cove.api.handlers.container_views import (
    inspect_view,
    matches,
    summary_view,
    validate_ps_filters,
)
from cove.api.http import (
    BadRequest,
    HijackedResponse,
    Request,
    Response,
    StreamResponse,
    empty_response,
    json_response,
)
from cove.api.router import Router
from cove.engine.containers.logs import LogQuery, live_size, parse_time_arg
from cove.engine.stdio import (
    AttachStreams,
    attach,
    connect_attach_socket,
    parse_detach_keys,
)

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext
    from cove.engine.containers.model import Container
    from cove.engine.containers.service import ContainerService


def register(router: Router, ctx: DaemonContext) -> None:
    containers = ctx.containers

    @router.post("/containers/create")
    def create(req: Request) -> Response:
        body = req.json(required=True)
        if not isinstance(body, dict):
            raise BadRequest("container config must be a JSON object")
        c = containers.create(body, req.arg("name"))
        return json_response({"Id": c.id, "Warnings": []}, 201)

    @router.get("/containers/json")
    def list_(req: Request) -> Response:
        filters = req.json_filters()
        validate_ps_filters(filters)
        show_all = req.flag("all")
        limit = req.int_arg("limit", -1) or -1
        latest = req.flag("latest")
        items = sorted(containers.store.all(), key=lambda c: c.created, reverse=True)
        if "before" in filters:
            ref = containers.get(filters["before"][0])
            items = [c for c in items if c.created < ref.created]
        if "since" in filters:
            ref = containers.get(filters["since"][0])
            items = [c for c in items if c.created > ref.created]
        if not show_all and limit <= 0 and not latest and "status" not in filters \
                and "exited" not in filters:
            items = [c for c in items if c.state.status in ("running", "paused",
                                                            "restarting")]
        items = [c for c in items if matches(c, filters, ctx.image_matcher)]
        if latest:
            items = items[:1]
        elif limit > 0:
            items = items[:limit]
        size = req.flag("size")
        return json_response([summary_view(c, size) for c in items])

    @router.get("/containers/{id}/json")
    def inspect(req: Request) -> Response:
        c = containers.get(req.params["id"])
        view = inspect_view(c, ctx.exec_ids(c.id), api_version=req.version)
        if req.flag("size"):
            view["SizeRw"], view["SizeRootFs"] = ctx.container_sizes(c)
        return json_response(view)

    @router.post("/containers/{id}/start")
    def start(req: Request) -> Response:
        req.body.drain()
        containers.start(req.params["id"])
        return empty_response()

    @router.post("/containers/{id}/stop")
    def stop(req: Request) -> Response:
        timeout = req.int_arg("t")
        killed = containers.stop(req.params["id"], timeout, req.arg("signal"))
        resp = empty_response()
        if killed:
            # Beyond Docker: tell the client that PID 1 ignored the stop signal.
            resp.headers["X-Cove-Stop-Signal-Ignored"] = "true"
        return resp

    @router.post("/containers/{id}/restart")
    def restart(req: Request) -> Response:
        containers.restart(req.params["id"], req.int_arg("t"), req.arg("signal"))
        return empty_response()

    @router.post("/containers/{id}/kill")
    def kill(req: Request) -> Response:
        containers.kill(req.params["id"], req.arg("signal") or None)
        return empty_response()

    @router.post("/containers/{id}/pause")
    def pause(req: Request) -> Response:
        containers.pause(req.params["id"])
        return empty_response()

    @router.post("/containers/{id}/unpause")
    def unpause(req: Request) -> Response:
        containers.unpause(req.params["id"])
        return empty_response()

    @router.post("/containers/{id}/rename")
    def rename(req: Request) -> Response:
        name = req.arg("name")
        if not name:
            raise BadRequest("missing query parameter 'name'")
        containers.rename(req.params["id"], name)
        return empty_response()

    @router.delete("/containers/{id}")
    def remove(req: Request) -> Response:
        containers.remove(req.params["id"], force=req.flag("force"), volumes=req.flag("v"))
        return empty_response()

    @router.delete("/containers/{ref:path}")
    def remove_link(req: Request) -> Response:
        # "/containers/<linker>/<alias>?link=1": a legacy link of <linker> goes, both
        # containers stay (a container's own name never holds a slash).
        linker, _, alias = req.params["ref"].strip("/").rpartition("/")
        if not req.flag("link") or not linker:
            from cove.errors import NotFound
            raise NotFound(f"No such container: {req.params['ref']}")
        containers.remove_link(linker, alias)
        return empty_response()

    @router.post("/containers/{id}/wait")
    def wait(req: Request) -> Response:
        condition = req.arg("condition") or "not-running"
        c = containers.get(req.params["id"])
        conn_closed = threading.Event()

        def chunks() -> Any:
            # Headers go out first (the docker CLI waits for them before `start`);
            # the body follows when the condition is met.
            yield b""
            result = containers.wait(
                c.id, condition, lambda: conn_closed.is_set() or req.client_gone())
            yield _json_line(result)

        if condition not in ("not-running", "next-exit", "removed"):
            raise BadRequest(f"invalid condition: {condition!r}")
        return StreamResponse(_closing(chunks(), conn_closed))

    @router.get("/containers/{id}/logs")
    def logs(req: Request) -> Response:
        stdout, stderr = req.flag("stdout"), req.flag("stderr")
        if not stdout and not stderr:
            raise BadRequest("Bad parameters: you must choose at least one stream")
        tail_arg = req.arg("tail") or "all"
        try:
            tail = None if tail_arg == "all" else int(tail_arg)
        except ValueError:
            raise BadRequest(f"invalid tail value {tail_arg!r}") from None
        query = LogQuery(stdout=stdout, stderr=stderr, since=parse_time_arg(req.arg("since")),
                         until=parse_time_arg(req.arg("until")), tail=tail,
                         timestamps=req.flag("timestamps"), follow=req.flag("follow"))
        c, chunks = containers.logs(req.params["id"], query)
        content_type = "application/vnd.docker.raw-stream" if c.config.get("Tty") else \
            "application/vnd.docker.multiplexed-stream"
        return StreamResponse(_first_empty(chunks), content_type=content_type)

    @router.post("/containers/{id}/attach")
    def attach_(req: Request) -> Response:
        c = containers.get(req.params["id"])
        streams = AttachStreams(stdin=req.flag("stdin"), stdout=req.flag("stdout"),
                                stderr=req.flag("stderr"), logs=req.flag("logs"),
                                stream=req.flag("stream"))
        detach = parse_detach_keys(req.arg("detachKeys"))
        tty = bool(c.config.get("Tty"))
        history = b""
        if streams.logs:
            _, chunks = containers.logs(c.id, LogQuery(stdout=streams.stdout,
                                                       stderr=streams.stderr))
            history = b"".join(chunks)
        sock, rfile = req.hijack(multiplexed=not tty)
        with contextlib.suppress(OSError):
            if history:
                sock.sendall(history)
        if streams.stream:
            _stream_attach(containers, c, sock, rfile, streams, tty, detach, req)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
        return HijackedResponse()

    @router.post("/containers/{id}/resize")
    def resize(req: Request) -> Response:
        c = containers.get(req.params["id"])
        h, w = req.int_arg("h"), req.int_arg("w")
        if h is None or w is None or h < 0 or w < 0:
            raise BadRequest("resize needs h and w as non-negative integers")
        ctx.resize_container(c, h, w)
        return empty_response(200)


def _stream_attach(containers: ContainerService, c: Container, sock: socket.socket,
                   rfile: BinaryIO, streams: AttachStreams, tty: bool, detach: bytes,
                   req: Request) -> None:
    paths = containers.paths(c)
    log_path = None if ((c.host_config.get("LogConfig") or {}).get("Type") == "none") \
        else c.log_path
    offset = live_size(c.log_path)
    generation = containers.run_generation(c.id)

    def running() -> bool:
        # Until this run (or the one about to start) ends.
        return containers.run_generation(c.id) == generation and not req.client_gone()

    mon = None
    if not c.state.running:
        # Attached before start (docker run): the monitor does not exist yet. Wait for
        # it; start goes on only once this client is connected.
        pending = containers.wait_for_start(c.id, req.client_gone)
        if pending is None:
            return
        try:
            if streams.stdin or log_path is None:
                mon = connect_attach_socket(paths, c.id)
        except Exception:
            mon = None
        finally:
            pending.connected.set()
    attach(log_path, paths, c.id, sock, rfile, streams, tty, detach, offset, running, mon,
           lambda t: containers.idle_until_run_ends(c.id, generation, t))


def _json_line(value: Any) -> bytes:
    import json
    return json.dumps(value).encode() + b"\n"


def _first_empty(chunks: Any) -> Any:
    """Send the headers at once, even when the first log line is far away (logs -f)."""
    yield b""
    yield from chunks


def _closing(chunks: Any, closed: threading.Event) -> Any:
    try:
        yield from chunks
    finally:
        closed.set()

