"""``run``: create and start a container, then (without --detach) stay with it and clean up."""

from __future__ import annotations

import os

from cove.runtime import foreground as fg
from cove.runtime.context import RuntimeContext
from cove.runtime.create import CreateOptions, create
from cove.runtime.start import start


def run(ctx: RuntimeContext, container_id: str, opts: CreateOptions, *, detach: bool,
        keep: bool = False) -> int:
    proxy = -1
    if not detach and not opts.console_socket:

        from cove.oci.runtime_config import load_config

        if (load_config(opts.bundle).get("process") or {}).get("terminal"):
            import socket

            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            proxy = ours.detach()
            opts.console_fd = theirs.detach()
    if not detach:
        fg.become_subreaper()
    try:
        state = create(ctx, container_id, opts)
    finally:
        if opts.console_fd >= 0:
            os.close(opts.console_fd)
            opts.console_fd = -1
    try:
        try:
            start(ctx, container_id)
        except BaseException:
            if detach:
                from cove.runtime.delete import delete

                delete(ctx, container_id, force=True)
            raise
        if detach:
            return 0
        master = fg.receive_master(proxy) if proxy >= 0 else -1
        return fg.wait_for(state.pid, master)
    finally:
        if not detach and not keep:
            from cove.runtime.delete import delete

            delete(ctx, container_id, force=True)
