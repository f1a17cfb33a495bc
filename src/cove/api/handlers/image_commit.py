"""POST /commit, GET /containers/{id}/export, GET /containers/{id}/changes.

A container's filesystem as an image, a tar, or a list of changes; the image
service does the work on the container's snapshot (``ImageService.commit``,
``export_rootfs``, ``changes``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from cove.api.http import BadRequest, Request, Response, StreamResponse, json_response
from cove.api.router import Router
from cove.engine.containers.model import PAUSED, Container
from cove.engine.image_stream import piped, worker_service
from cove.errors import NotFound
from cove.images.reference import parse_reference

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext
    from cove.engine.containers.model import Container
    from cove.engine.containers.service import ContainerService
    from cove.images.service import ImageService

log = logging.getLogger(__name__)


def _mount_points(c: Container) -> list[str]:
    """The container's mount targets (from its OCI spec): the runtime's stubs for them
    are Docker's "init layer", which diff and commit leave out."""
    try:
        with open(os.path.join(c.bundle, "config.json")) as f:
            spec = json.load(f)
    except (OSError, ValueError):
        return []
    return [str(m.get("destination", "")) for m in spec.get("mounts") or []
            if isinstance(m, dict) and m.get("destination")]


def _commit_name(repo: str, tag: str) -> str | None:
    """The stored name for ``repo``/``tag`` (None: the image stays unnamed)."""
    if not repo:
        if tag:
            raise BadRequest("tag is given without repo: name the repository to commit to")
        return None
    ref = parse_reference(repo)
    if ref.digest is not None:
        raise BadRequest("refusing to create a tag with a digest reference")
    if tag:
        ref = ref.with_tag(tag)
    return str(ref.default_tag())


def _run_config(c: Container, overrides: dict[str, Any]) -> dict[str, Any]:
    """The container's config with the request's fields that are set on top (docker's merge)."""
    config = dict(c.config)
    for key, value in overrides.items():
        if value not in (None, "", [], {}):
            config[key] = value
    return config


@contextlib.contextmanager
def _paused(containers: ContainerService, c: Container, pause: bool) -> Iterator[None]:
    """Freeze a running container for a consistent copy; thaw it afterwards."""
    if not pause or not c.state.running or c.state.status == PAUSED:
        yield
        return
    containers.pause(c.id)
    try:
        yield
    finally:
        try:
            containers.unpause(c.id)
        except Exception:
            log.exception("container %s: unpause after commit failed", c.id)


def _has_rootfs(images: ImageService, c: Container) -> None:
    try:
        images.snapshotter.stat(images.rootfs_key(c.id))
    except NotFound:
        raise NotFound(f"container {c.id} has no root filesystem") from None


def register(router: Router, ctx: DaemonContext) -> None:
    images = ctx.images
    containers = ctx.containers

    @router.post("/commit")
    def commit(req: Request) -> Response:
        ref = req.arg("container") or ""
        if not ref:
            raise BadRequest("container is required: the container to commit")
        name = _commit_name(req.arg("repo") or "", req.arg("tag") or "")
        overrides = req.json_object()
        changes = [c for c in req.query.get("changes", []) if c]
        c = containers.get(ref)
        with containers.store.lock(c.id), _paused(containers, c, req.flag("pause", True)):
            record = images.commit(
                c.id, name, config=_run_config(c, overrides), changes=changes,
                author=req.arg("author") or None, comment=req.arg("comment") or None,
                created_by=" ".join([c.path, *c.args]).strip() or None,
                mount_points=_mount_points(c))
        familiar = parse_reference(name).familiar() if name else ""
        ctx.events.emit("container", "commit", c.id,
                        {"name": c.name, "image": c.image, "imageID": record.id,
                         "imageRef": familiar, "comment": req.arg("comment") or ""})
        return json_response({"Id": record.id}, 201)

    @router.get("/containers/{id}/changes")
    def changes(req: Request) -> Response:
        c = containers.get(req.params["id"])
        _has_rootfs(images, c)
        return json_response(images.changes(c.id, mount_points=_mount_points(c)))

    @router.get("/containers/{id}/export")
    def export(req: Request) -> Response:
        c = containers.get(req.params["id"])
        _has_rootfs(images, c)

        def write(out: BinaryIO) -> None:
            svc = worker_service(images)
            try:
                svc.export_rootfs(c.id, out)
            finally:
                svc.close()

        ctx.events.emit("container", "export", c.id, {"name": c.name, "image": c.image})
        return StreamResponse(piped(write, name=f"export {c.short_id}"),
                              content_type="application/x-tar")


__all__ = ["register"]
