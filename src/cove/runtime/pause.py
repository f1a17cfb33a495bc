"""``pause`` and ``resume``: freeze and thaw every process of the container."""

from __future__ import annotations

from cove.runtime.context import RuntimeContext
from cove.runtime.lookup import cgroup_of, load
from cove.runtime.status import require


def pause(ctx: RuntimeContext, container_id: str) -> None:
    state, status = load(ctx, container_id, check_frozen=True)
    require(container_id, status, status.can_pause(), "pause")
    cgroup_of(state).freeze()


def resume(ctx: RuntimeContext, container_id: str) -> None:
    state, status = load(ctx, container_id, check_frozen=True)
    require(container_id, status, status.can_resume(), "resume")
    cgroup_of(state).thaw()
