"""POST /containers/prune, /images/prune, /volumes/prune, /networks/prune, /build/prune
and GET /system/df.

Each prune takes docker's ``filters`` and Cove's ``dry_run`` (list what would go and the
bytes it frees, change nothing).  The work is :class:`cove.engine.prune_service.PruneService`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cove.api.handlers.container_views import summary_view
from cove.api.http import Request, Response, json_response
from cove.api.router import Router
from cove.engine.prune_service import PruneService

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext


def build_service(ctx: DaemonContext) -> PruneService:
    service = PruneService(ctx.images, ctx.containers, ctx.services.get("volumes"),
                           ctx.events)
    # Creates take the shared side so a prune never removes what a run is about to use.
    ctx.containers.create_guard = service.lock.shared
    ctx.services["prune"] = service
    return service


def register(router: Router, ctx: DaemonContext) -> None:
    service = build_service(ctx)

    @router.post("/containers/prune")
    def containers(req: Request) -> Response:
        r = service.prune_containers(req.json_filters(), dry_run=req.flag("dry_run"))
        return json_response({"ContainersDeleted": r.deleted, "SpaceReclaimed": r.reclaimed})

    @router.post("/images/prune")
    def images(req: Request) -> Response:
        r = service.prune_images(req.json_filters(), dry_run=req.flag("dry_run"))
        return json_response({"ImagesDeleted": r.deleted, "SpaceReclaimed": r.reclaimed})

    @router.post("/volumes/prune")
    def volumes(req: Request) -> Response:
        r = service.prune_volumes(req.json_filters(), dry_run=req.flag("dry_run"))
        return json_response({"VolumesDeleted": r.deleted, "SpaceReclaimed": r.reclaimed})

    @router.post("/networks/prune")
    def networks(req: Request) -> Response:
        r = service.prune_networks(req.json_filters(), dry_run=req.flag("dry_run"))
        return json_response({"NetworksDeleted": r.deleted})

    @router.post("/build/prune")
    def build(req: Request) -> Response:
        req.flag("all")
        r = service.prune_build_cache(req.json_filters(), dry_run=req.flag("dry_run"))
        return json_response({"CachesDeleted": r.deleted, "SpaceReclaimed": r.reclaimed})

    @router.get("/system/df")
    def df(req: Request) -> Response:
        usage = service.disk_usage()
        containers: list[dict[str, Any]] = []
        for c, rw, rootfs in usage["Containers"]:
            view = summary_view(c)
            view["SizeRw"], view["SizeRootFs"] = rw, rootfs
            containers.append(view)
        volumes = []
        for v, size, refs in usage["Volumes"]:
            doc = v.to_api()
            doc["UsageData"] = {"Size": size, "RefCount": refs}
            volumes.append(doc)
        return json_response({"LayersSize": usage["LayersSize"], "Images": usage["Images"],
                              "Containers": containers, "Volumes": volumes,
                              "BuildCache": []})
