"""The container lifecycle as an explicit state machine (OCI runtime spec "Lifecycle").

``creating`` → ``created`` → ``running`` (⇄ ``paused``) → ``stopped``. Each verb
asks a guard here before acting, so the rules live in one place and a bad move
gets one consistent message.
"""

from __future__ import annotations

import enum

from cove.errors import FailedPrecondition


class Status(enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"  # not an OCI state; runc reports it and engines rely on it
    STOPPED = "stopped"

    def can_start(self) -> bool:
        return self is Status.CREATED

    def can_kill(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING, Status.PAUSED)

    def can_delete(self) -> bool:
        # The spec: deleting a container that is not stopped MUST fail (no --force).
        return self is Status.STOPPED

    def can_exec(self) -> bool:
        return self in (Status.CREATED, Status.RUNNING)

    def can_pause(self) -> bool:
        return self is Status.RUNNING

    def can_resume(self) -> bool:
        return self is Status.PAUSED


def require(container_id: str, status: Status, allowed: bool, verb: str) -> None:
    """Raise the one message every verb uses for a move the lifecycle forbids."""
    if not allowed:
        raise FailedPrecondition(f"cannot {verb} container {container_id}: it is {status.value}")
