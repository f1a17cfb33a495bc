"""Read-only verbs: ``state``, ``list`` and ``ps``."""

from __future__ import annotations

from cove.errors import CoveError
from cove.runtime.context import RuntimeContext
from cove.runtime.lookup import cgroup_of, load

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any


def state(ctx: RuntimeContext, container_id: str) -> dict[str, Any]:
    st, status = load(ctx, container_id, check_frozen=True)
    out = st.oci_state(status)
    out["pid"] = st.pid if status.value != "stopped" else 0
    # runc's extra fields, which engines read.
    out["rootfs"] = st.rootfs
    out["created"] = st.created
    out["owner"] = st.owner
    return out


def list_containers(ctx: RuntimeContext) -> list[dict[str, Any]]:
    out = []
    for cid in ctx.store.ids():
        try:
            out.append(state(ctx, cid))
        except CoveError as exc:
            ctx.log.warning("skipping %s: %s", cid, exc)
    return out


def pids(ctx: RuntimeContext, container_id: str) -> list[int]:
    st, status = load(ctx, container_id)
    if status.value == "stopped":
        return []
    cgroup = cgroup_of(st)
    return sorted(cgroup.pids()) if cgroup.exists() else [st.pid]
