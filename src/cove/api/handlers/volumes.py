"""GET /volumes, POST /volumes/create, GET and DELETE /volumes/{name}.

POST /volumes/prune belongs to the prune handlers, which call the same service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cove.api.http import BadRequest, Request, Response, empty_response, json_response
from cove.api.router import Router
from cove.engine.volumes import VolumeService

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext


def _string_map(body: dict[str, Any], key: str) -> dict[str, str]:
    value = body.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadRequest(f"invalid {key}: must be an object of strings")
    return {str(k): v for k, v in value.items()}


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"invalid {key}: must be a string")
    return value


def register(router: Router, ctx: DaemonContext) -> None:
    volumes: VolumeService = ctx.services["volumes"]

    @router.get("/volumes")
    def volume_list(req: Request) -> Response:
        found = volumes.list(req.json_filters())
        return json_response({"Volumes": [v.to_api() for v in found], "Warnings": []})

    @router.post("/volumes/create")
    def volume_create(req: Request) -> Response:
        body = req.json_object()
        if body.get("ClusterVolumeSpec"):
            raise BadRequest("ClusterVolumeSpec: cluster volumes need swarm, which Cove "
                             "does not run")
        volume = volumes.create(_text(body, "Name") or None, _text(body, "Driver") or None,
                                _string_map(body, "DriverOpts"), _string_map(body, "Labels"))
        return json_response(volume.to_api(), 201)

    @router.get("/volumes/{name}")
    def volume_inspect(req: Request) -> Response:
        return json_response(volumes.get(req.params["name"]).to_api())

    @router.delete("/volumes/{name}")
    def volume_remove(req: Request) -> Response:
        volumes.remove(req.params["name"], force=req.flag("force"))
        return empty_response(204)
