"""``delete``: remove a stopped container (or, with --force, stop it first)."""

from __future__ import annotations

import os

from cove.errors import CoveError, FailedPrecondition, NotFound
from cove.runtime.context import RuntimeContext
from cove.runtime.lookup import cgroup_of, load
from cove.runtime.procwait import wait_gone
from cove.runtime.status import Status

# Literal, not signal.SIGKILL: the signal module imports enum (ms on every call).
SIGKILL = 9



def delete(ctx: RuntimeContext, container_id: str, force: bool = False) -> None:
    try:
        state, status = load(ctx, container_id)
    except NotFound:
        # A create killed before it wrote any state leaves only its directory.
        if force and os.path.isdir(ctx.store.dir(container_id)):
            ctx.store.remove(container_id)
            return
        raise
    if not status.can_delete() and not force:
        raise FailedPrecondition(f"cannot delete container {container_id} that is not "
                                 f"stopped: {status.value}")
    cgroup = cgroup_of(state)
    if status is not Status.STOPPED:
        # Thaw first: a frozen process cannot act on SIGKILL.
        try:
            cgroup.kill_all(SIGKILL)
            cgroup.thaw()
        except CoveError as exc:
            ctx.log.debug("kill_all %s: %s", container_id, exc)
        if state.alive():
            try:
                os.kill(state.pid, SIGKILL)
            except ProcessLookupError:
                pass
        if not wait_gone(state.pid, state.pid_start_time, 10.0):
            raise FailedPrecondition(f"container {container_id}: process {state.pid} did not "
                                     "exit after SIGKILL")
    elif cgroup.exists() and cgroup.pids():
        # The init is gone but (without a pid namespace) others may remain.
        cgroup.kill_all(SIGKILL)
    try:
        cgroup.destroy()
    except CoveError as exc:
        raise FailedPrecondition(f"delete {container_id}: {exc}") from exc
    hooks = state.config.get("hooks") or {}
    if hooks.get("poststop"):
        from cove.runtime.hooks import run_hooks_best_effort

        run_hooks_best_effort(state.config, "poststop", state.oci_state(Status.STOPPED))
    ctx.store.remove(container_id)
