"""/containers/{id}/archive: `docker cp` in both directions (HEAD, GET, PUT).

The work is in cove.engine.archive_ops; this module maps query parameters, the
stat header, per-container locking and events.

Reads (HEAD, GET) hold the container's lock only while its view is opened: a
stalled client must not block stop, kill or exit handling, and the view works
through a detached clone of the rootfs mount (engine/archive_mount.py), so an rm
meanwhile unmounts and removes the container while the stream goes on from what
it holds open. An upload (PUT) holds the lock to the end, as Docker does: its
writes must not race with rm deleting the snapshot under them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cove.api.http import Request, Response, StreamResponse, empty_response
from cove.api.router import Router
from cove.engine import archive_ops
from cove.engine.archive_stat import STAT_HEADER

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext
    from cove.engine.archive_view import ContainerView
    from cove.engine.containers.model import Container

log = logging.getLogger(__name__)


def register(router: Router, ctx: DaemonContext) -> None:
    containers = ctx.containers

    def attributes(c: Container) -> dict[str, str]:
        attrs = {str(k): str(v) for k, v in (c.config.get("Labels") or {}).items()}
        attrs.update({"image": c.image, "name": c.name})
        return attrs

    def open_locked(c: Container, ref: str) -> ContainerView:
        """The container's view, opened under its lock (never a half-created or
        half-removed container's)."""
        with containers.store.lock(c.id):
            containers.ensure_rootfs(c)
            return archive_ops.open_view(c, ref)

    def stat_only(req: Request) -> Response:
        ref = req.params["id"]
        c = containers.get(ref)
        path = req.arg("path") or ""
        with open_locked(c, ref) as view:
            info = archive_ops.stat_path(view, path)
        resp = empty_response(200)
        resp.headers[STAT_HEADER] = info.header_value()
        return resp

    @router.get("/containers/{id}/archive")
    def get_archive(req: Request) -> Response:
        if req.method == "HEAD":
            return stat_only(req)
        ref = req.params["id"]
        c = containers.get(ref)
        path = req.arg("path") or ""
        view = open_locked(c, ref)
        try:
            info, chunks = archive_ops.archive_path(view, path)
        except BaseException:
            view.close()
            raise
        ctx.events.emit("container", "archive-path", c.id, attributes(c))
        return StreamResponse(chunks, 200, "application/x-tar",
                              headers={STAT_HEADER: info.header_value()})

    router.add("HEAD", "/containers/{id}/archive", stat_only)

    @router.put("/containers/{id}/archive")
    def put_archive(req: Request) -> Response:
        ref = req.params["id"]
        c = containers.get(ref)
        path = req.arg("path") or ""
        no_overwrite = req.flag("noOverwriteDirNonDir")
        copy_uid_gid = req.flag("copyUIDGID")
        with containers.store.lock(c.id):
            containers.ensure_rootfs(c)
            with archive_ops.open_view(c, ref) as view:
                extractor = archive_ops.prepare_extract(view, path,
                                                        no_overwrite_dir_non_dir=no_overwrite,
                                                        copy_uid_gid=copy_uid_gid)
                count = archive_ops.extract(extractor, req.body)
        log.debug("cp into %s:%s: %d entries", c.short_id, path, count)
        ctx.events.emit("container", "extract-to-dir", c.id, attributes(c))
        return empty_response(200)
