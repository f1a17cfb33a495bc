"""``start``: release a created container's process to exec the user's program."""

from __future__ import annotations

import os
import select

from cove.errors import FailedPrecondition
from cove.runtime.context import RuntimeContext
from cove.runtime.lookup import load
from cove.runtime.status import Status, require


def start(ctx: RuntimeContext, container_id: str) -> None:
    state, status = load(ctx, container_id)
    require(container_id, status, status.can_start(), "start")
    fifo_path = ctx.store.exec_fifo(container_id)
    try:
        # Non-blocking: a dead init would otherwise leave us waiting forever.
        fd = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise FailedPrecondition(f"cannot start container {container_id}: "
                                 "it was started already") from exc
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(50):
                data = os.read(fd, 1)
                if data:
                    break
            if not state.alive():
                raise FailedPrecondition(f"cannot start container {container_id}: "
                                         "its process exited before start")
    finally:
        os.close(fd)
    try:
        os.unlink(fifo_path)
    except FileNotFoundError:
        pass
    hooks = state.config.get("hooks") or {}
    if hooks.get("poststart"):
        from cove.runtime.hooks import run_hooks_best_effort

        run_hooks_best_effort(state.config, "poststart", state.oci_state(Status.RUNNING))
