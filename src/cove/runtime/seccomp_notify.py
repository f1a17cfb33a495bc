"""Hand a seccomp user-notification fd to the agent listening on ``listenerPath``.

The message is the spec's "container process state": JSON naming the fds that
travel with it (SCM_RIGHTS), the container's pid, the listener metadata and
the container state.
"""

from __future__ import annotations

import os

from cove import fastjson
from cove.errors import CoveError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from cove.runtime.init import InitPlan


class SeccompNotifyError(CoveError):
    """The seccomp listener could not be reached."""


def connect_listener(path: str) -> int:
    from cove.runtime.terminal import connect_unix

    try:
        return connect_unix(path)
    except OSError as exc:
        raise SeccompNotifyError(f"linux.seccomp.listenerPath {path}: {exc.strerror}") from exc


def send_listener(plan: InitPlan, listener_fd: int) -> None:
    import socket

    if plan.listener_fd < 0:
        os.close(listener_fd)
        return
    message = {
        "ociVersion": "1.2.0",
        "fds": ["seccompFd"],
        "pid": plan.state_for_hooks.get("pid", 0),
        "metadata": plan.seccomp.listener_metadata if plan.seccomp else "",
        "state": plan.state_for_hooks,
    }
    sock = socket.socket(fileno=plan.listener_fd)
    try:
        socket.send_fds(sock, [fastjson.dumps(message, compact=False).encode()], [listener_fd])
    finally:
        sock.close()
        os.close(listener_fd)
        plan.listener_fd = -1
