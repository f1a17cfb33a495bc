"""Load a container and derive its live status: the first step of every verb."""

from __future__ import annotations

import os

from cove.runtime.context import RuntimeContext
from cove.runtime.state import ContainerState, live_status
from cove.runtime.status import Status

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any


def cgroup_of(state: ContainerState) -> Any:
    from cove.runtime import cgroups

    return cgroups.open_manager(state.extra.get("cgroupsPath"), state.id)


def load(ctx: RuntimeContext, container_id: str, *,
         check_frozen: bool = False) -> tuple[ContainerState, Status]:
    state = ctx.store.load(container_id)
    frozen = None
    if check_frozen and state.alive() and not os.path.exists(ctx.store.exec_fifo(state.id)):
        frozen = cgroup_of(state).frozen()
    return state, live_status(ctx.store, state, frozen)
