"""The swarm endpoints of a node that is in no swarm, answered as Docker answers them
(clients such as docker-py rely on it: ``leave_swarm(force=True)`` takes the 503 for
"nothing to leave")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cove.api.http import Request, Response
from cove.api.router import Router
from cove.errors import CoveError, Unsupported

if TYPE_CHECKING:
    from cove.daemon.context import DaemonContext

NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm '
               'join" to connect this node to swarm and try again.')


class NotInSwarm(CoveError):
    """Docker's errdefs.Unavailable for swarm requests on a node outside any swarm."""

    http_status = 503


def register(router: Router, ctx: DaemonContext) -> None:
    def not_manager(req: Request) -> Response:
        raise NotInSwarm(NOT_MANAGER)

    for path in ("/swarm", "/swarm/unlockkey", "/nodes", "/services", "/tasks", "/secrets",
                 "/configs", "/nodes/{id}", "/services/{id}", "/tasks/{id}",
                 "/secrets/{id}", "/configs/{id}"):
        router.get(path)(not_manager)

    @router.post("/swarm/leave")
    def leave(req: Request) -> Response:
        raise NotInSwarm("This node is not part of a swarm")

    @router.post("/swarm/init")
    def init(req: Request) -> Response:
        raise Unsupported("swarm mode is not supported by Cove yet")

    @router.post("/swarm/join")
    def join(req: Request) -> Response:
        raise Unsupported("swarm mode is not supported by Cove yet")
