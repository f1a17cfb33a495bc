"""The container lifecycle as an explicit state machine (OCI runtime spec "Lifecycle").

``creating`` → ``created`` → ``running`` (⇄ ``paused``) → ``stopped``. Each verb
asks a guard here before acting, so the rules live in one place and a bad move
gets one consistent message.
"""

from __future__ import annotations

from cove.errors import FailedPrecondition, InvalidArgument

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import ClassVar


class Status:
    """One lifecycle state. A closed set of singletons, compared with ``is``.

    Not an :class:`enum.Enum`: importing enum (with functools and collections)
    costs milliseconds on every CLI call, and these five values are all we need.
    """

    __slots__ = ("value",)
    CREATING: ClassVar[Status]
    CREATED: ClassVar[Status]
    RUNNING: ClassVar[Status]
    PAUSED: ClassVar[Status]  # not an OCI state; runc reports it and engines rely on it
    STOPPED: ClassVar[Status]
    _BY_VALUE: ClassVar[dict[str, Status]]

    def __init__(self, value: str) -> None:
        self.value = value

    @classmethod
    def of(cls, value: str) -> Status:
        try:
            return cls._BY_VALUE[value]
        except KeyError:
            raise InvalidArgument(f"unknown container status {value!r}") from None

    def __repr__(self) -> str:
        return f"Status.{self.value.upper()}"

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


Status.CREATING = Status("creating")
Status.CREATED = Status("created")
Status.RUNNING = Status("running")
Status.PAUSED = Status("paused")
Status.STOPPED = Status("stopped")
Status._BY_VALUE = {s.value: s for s in (Status.CREATING, Status.CREATED, Status.RUNNING,
                                         Status.PAUSED, Status.STOPPED)}


def require(container_id: str, status: Status, allowed: bool, verb: str) -> None:
    """Raise the one message every verb uses for a move the lifecycle forbids."""
    if not allowed:
        raise FailedPrecondition(f"cannot {verb} container {container_id}: it is {status.value}")
