"""GET /networks, POST /networks/create, GET and DELETE /networks/{id},
POST /networks/{id}/connect and /disconnect.

POST /networks/prune belongs to the prune handlers, which call the same service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cove.api.http import BadRequest, Request, Response, empty_response, json_response
from cove.api.router import Router

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext
    from cove.engine.networks.service import NetworkService


def _container_ref(body: dict[str, Any]) -> str:
    ref = body.get("Container")
    if not isinstance(ref, str) or not ref:
        raise BadRequest("Container is required: the name or id of a container")
    return ref


def register(router: Router, ctx: DaemonContext) -> None:
    networks: NetworkService | None = ctx.containers.networks
    if networks is None:
        return
    containers = ctx.containers

    @router.get("/networks")
    def network_list(req: Request) -> Response:
        found = networks.matching(req.json_filters())
        # Docker lists networks without their containers (inspect has them).
        return json_response([n.to_api({}) for n in found])

    @router.post("/networks/create")
    def network_create(req: Request) -> Response:
        net, warning = networks.create(req.json_object())
        return json_response({"Id": net.id, "Warning": warning}, 201)

    @router.get("/networks/{id}")
    def network_inspect(req: Request) -> Response:
        net = networks.get(req.params["id"])
        scope = req.arg("scope") or ""
        if scope and scope != "local":
            from cove.errors import NotFound
            raise NotFound(f"network {req.params['id']} not found")
        return json_response(networks.view(net))

    @router.delete("/networks/{id}")
    def network_remove(req: Request) -> Response:
        networks.remove(req.params["id"])
        return empty_response(204)

    @router.post("/networks/{id}/connect")
    def network_connect(req: Request) -> Response:
        body = req.json_object()
        settings = body.get("EndpointConfig") or {}
        if not isinstance(settings, dict):
            raise BadRequest("EndpointConfig must be an object")
        containers.connect_network(_container_ref(body), req.params["id"], settings)
        return empty_response(200)

    @router.post("/networks/{id}/disconnect")
    def network_disconnect(req: Request) -> Response:
        body = req.json_object()
        containers.disconnect_network(_container_ref(body), req.params["id"],
                                      force=bool(body.get("Force")))
        return empty_response(200)
