"""/containers/{id}/exec and /exec/{id}/...: create, start (hijacked), resize, inspect."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
from typing import TYPE_CHECKING, Any

from cove.api.http import (
    BadRequest,
    HijackedResponse,
    Request,
    Response,
    empty_response,
    json_response,
)
from cove.api.router import Router
from cove.engine.exec_process import ExecStartError, console_size
from cove.engine.exec_sessions import ExecManager, ExecSession
from cove.engine.exec_stream import ClientSide, failure_text, relay_pipes, relay_tty
from cove.engine.stdio import parse_detach_keys

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext

log = logging.getLogger("cove.api.exec")


class ExecStartFailed(ExecStartError):
    """A detached start whose process never ran: the client's command was at fault
    when it was not found (Docker answers 400 then), else the runtime (500)."""

    def __init__(self, error: ExecStartError) -> None:
        super().__init__(str(error), error.exit_code)
        self.http_status = 400 if error.exit_code == 127 else 500


def register(router: Router, ctx: DaemonContext) -> None:
    manager = ExecManager(ctx.containers, ctx.events,
                          os.path.join(ctx.config.exec_root, "execs"))
    ctx.services["exec"] = manager
    ctx.exec_ids_provider = manager.ids_for
    ctx.containers.listeners.append(manager)

    @router.post("/containers/{id}/exec")
    def create(req: Request) -> Response:
        body = req.json(required=True)
        if not isinstance(body, dict):
            raise BadRequest("exec config must be a JSON object")
        session = manager.create(req.params["id"], body)
        return json_response({"Id": session.id}, 201)

    @router.post("/exec/{id}/start")
    def start(req: Request) -> Response:
        session = manager.get(req.params["id"])
        body = req.json_object()
        size = console_size(body.get("ConsoleSize"))
        if size is not None:
            from dataclasses import replace
            session.spec = replace(session.spec, console_size=size)
        if body.get("Detach"):
            try:
                manager.start_detached(session)
            except ExecStartError as e:
                raise ExecStartFailed(e) from None
            return empty_response(200)
        c = manager.begin(session)
        tty = session.spec.tty
        sock, rfile = req.hijack(multiplexed=not tty)
        client = ClientSide(sock, rfile)
        try:
            _run_attached(manager, session, c, client)
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        return HijackedResponse()

    @router.post("/exec/{id}/resize")
    def resize(req: Request) -> Response:
        h, w = req.int_arg("h"), req.int_arg("w")
        if h is None or w is None or h < 0 or w < 0 or h > 65535 or w > 65535:
            raise BadRequest("resize needs h and w as integers from 0 to 65535")
        manager.resize(req.params["id"], h, w)
        return empty_response(200)

    @router.get("/exec/{id}/json")
    def inspect(req: Request) -> Response:
        return json_response(manager.get(req.params["id"]).inspect())


def _run_attached(manager: ExecManager, session: ExecSession, c: Any,
                  client: ClientSide) -> None:
    spec = session.spec
    pipe = subprocess.PIPE
    try:
        if spec.tty:
            proc = manager.launch(session, c, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=pipe)
        else:
            proc = manager.launch(session, c,
                                  stdin=pipe if spec.attach_stdin else subprocess.DEVNULL,
                                  stdout=pipe, stderr=pipe)
    except ExecStartError as e:
        client.send(_as_output(failure_text(e), spec.tty))
        return
    except Exception as e:
        # launch() has finished the session; the client gets the reason in its stream.
        log.exception("exec %s could not start", session.id[:12])
        client.send(_as_output(f"cannot start the exec process: {e}\r\n".encode(),
                               spec.tty))
        return
    code = 126
    try:
        if spec.tty:
            def on_master(master: int) -> None:
                manager.attach_master(session, master)
                manager.mark_started(session, proc)

            code = relay_tty(proc, client, spec.attach_stdin,
                             parse_detach_keys(spec.detach_keys), spec.console_size,
                             on_master)
        else:
            code = relay_pipes(proc, client, spec.attach_stdout, spec.attach_stderr,
                               spec.attach_stdin, lambda: manager.mark_started(session, proc))
    except ExecStartError as e:
        code = e.exit_code
        client.send(_as_output(failure_text(e), spec.tty))
    except Exception:
        log.exception("exec %s failed", session.id[:12])
    finally:
        # The exit code is recorded before the connection closes: the docker CLI asks
        # for it as soon as its stream ends.
        manager.finish(session, code, proc)


def _as_output(text: bytes, tty: bool) -> bytes:
    from cove.engine.containers.logs import frame
    return text if tty else frame(1, text)
