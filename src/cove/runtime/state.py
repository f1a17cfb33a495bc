"""Durable per-container state under the runtime root (``<root>/<id>/state.json``).

The file is written atomically (temp file, rename) so that concurrent
``state``/``list`` calls never see half a file.
The live status is derived, not stored: the stored value only distinguishes
``creating`` from ``created``; whether the process is still alive, whether it
has been started (the exec fifo is gone) and whether it is frozen are read
from the system on every call.
"""

from __future__ import annotations

import marshal
import os
import sys

from cove.errors import AlreadyExists, InvalidArgument, NotFound
from cove.runtime.status import Status

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any, Final

STATE_FILE: Final = "state.json"
# A marshal copy of state.json: reading it avoids importing json (and re, enum)
# in start/kill/delete. Tagged with the interpreter version, whose marshal
# format it is; any mismatch falls back to the JSON file.
STATE_CACHE: Final = "state.bin"
EXEC_FIFO: Final = "exec.fifo"
OCI_VERSION: Final = "1.2.0"
DEFAULT_ROOT: Final = "/run/cove-runtime"
_ID_CHARS: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.+-")


def validate_id(container_id: str) -> str:
    if not container_id:
        raise InvalidArgument("container id cannot be empty")
    if (len(container_id) > 1024 or not set(container_id) <= _ID_CHARS
            or not container_id[0].isalnum() or not container_id.isascii()):
        raise InvalidArgument(f"invalid container id {container_id!r}: use letters, digits, "
                              "'_', '.', '+' and '-', starting with a letter or digit")
    return container_id


def process_start_time(pid: int) -> int | None:
    """Start time (clock ticks since boot) of ``pid``, or None if it is gone or a zombie.

    Comparing it with the stored value guards against pid reuse.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = raw[raw.rfind(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


class ContainerState:
    """What the runtime remembers about one container between invocations."""

    def __init__(self, id: str, bundle: str, config: dict[str, Any],
                 status: Status = Status.CREATING, pid: int = 0, pid_start_time: int = 0,
                 created: str = "", owner: str = "root", rootfs: str = "",
                 annotations: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.id = id
        self.bundle = bundle
        self.config = config
        self.status = status
        self.pid = pid
        self.pid_start_time = pid_start_time
        self.created = created
        self.owner = owner
        self.rootfs = rootfs
        self.annotations = annotations or {}
        self.extra = extra or {}

    # ---- persistence -------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "ociVersion": OCI_VERSION, "id": self.id, "status": self.status.value,
            "pid": self.pid, "pidStartTime": self.pid_start_time, "bundle": self.bundle,
            "rootfs": self.rootfs, "created": self.created, "owner": self.owner,
            "annotations": self.annotations, "config": self.config, "extra": self.extra,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ContainerState:
        return cls(id=data["id"], bundle=data["bundle"], config=data["config"],
                   status=Status.of(data["status"]), pid=data["pid"],
                   pid_start_time=data["pidStartTime"], created=data["created"],
                   owner=data.get("owner", "root"), rootfs=data.get("rootfs", ""),
                   annotations=data.get("annotations") or {}, extra=data.get("extra") or {})

    # ---- live view ---------------------------------------------------------------

    def alive(self) -> bool:
        return self.pid > 0 and process_start_time(self.pid) == self.pid_start_time

    def oci_state(self, status: Status) -> dict[str, Any]:
        """The state object of the spec (also what hooks get on stdin)."""
        out: dict[str, Any] = {"ociVersion": OCI_VERSION, "id": self.id,
                               "status": status.value, "bundle": self.bundle}
        if status is not Status.STOPPED and self.pid:
            out["pid"] = self.pid
        elif self.pid:
            out["pid"] = 0
        if self.annotations:
            out["annotations"] = self.annotations
        return out


class StateStore:
    """All containers of one runtime root."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)

    def dir(self, container_id: str) -> str:
        return os.path.join(self.root, validate_id(container_id))

    def reserve(self, container_id: str) -> str:
        """Claim the id: make its directory, failing if the id is taken."""
        os.makedirs(self.root, mode=0o711, exist_ok=True)
        path = self.dir(container_id)
        try:
            os.mkdir(path, 0o711)
        except FileExistsError as exc:
            raise AlreadyExists(f"container with id exists: {container_id}") from exc
        return path

    def save(self, state: ContainerState) -> None:
        from cove import fastjson

        path = self.dir(state.id)
        doc = state.to_json()
        # Readers prefer the cache; writing it last means a reader between the two
        # renames simply sees the previous state, never a mix.
        _write_atomic(path, STATE_FILE, fastjson.dumps(doc).encode())
        _write_atomic(path, STATE_CACHE, _CACHE_TAG + marshal.dumps(doc))

    def load(self, container_id: str) -> ContainerState:
        base = self.dir(container_id)
        path = os.path.join(base, STATE_FILE)
        try:
            doc = _read_cache(os.path.join(base, STATE_CACHE))
            if doc is None:
                from cove import fastjson

                with open(path, "rb") as f:
                    doc = fastjson.loads(f.read())
            return ContainerState.from_json(doc)
        except FileNotFoundError as exc:
            raise NotFound(f"container does not exist: {container_id}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidArgument(f"container {container_id}: corrupt state file {path}: {exc}"
                                  ) from exc

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if os.path.exists(os.path.join(self.root, n, STATE_FILE)))

    def exec_fifo(self, container_id: str) -> str:
        return os.path.join(self.dir(container_id), EXEC_FIFO)

    def remove(self, container_id: str) -> None:
        path = self.dir(container_id)
        for name in (STATE_FILE, STATE_CACHE, EXEC_FIFO, f".{STATE_FILE}.tmp",
                     f".{STATE_CACHE}.tmp"):
            try:
                os.unlink(os.path.join(path, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass


_CACHE_TAG: Final = f"cove-state marshal {marshal.version} {sys.version_info[:2]}\n".encode()


def _write_atomic(directory: str, name: str, data: bytes) -> None:
    """Write-then-rename: readers see the old or the new file, never a torn one.

    No fsync: this state describes live processes, which a power loss ends too;
    the default root (/run) is a tmpfs where fsync is a no-op anyway. What must
    survive a crash of the runtime itself is covered by the rename.
    """
    tmp = os.path.join(directory, f".{name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.rename(tmp, os.path.join(directory, name))


def _read_cache(cache: str) -> dict[str, Any] | None:
    """The marshal copy, if it is there and in this interpreter's format."""
    try:
        with open(cache, "rb") as f:
            raw = f.read()
        if not raw.startswith(_CACHE_TAG):
            return None
        doc = marshal.loads(raw[len(_CACHE_TAG):])
    except (OSError, ValueError, EOFError, TypeError):
        return None
    return doc if isinstance(doc, dict) else None


def live_status(store: StateStore, state: ContainerState, frozen: bool | None = None) -> Status:
    """Derive the current status from the stored one and the live system.

    ``frozen`` is asked of the cgroup only when the caller passes it (it costs a
    cgroup read, which ``state`` pays but ``start`` does not need).
    """
    if state.status is Status.CREATING:
        return Status.CREATING if state.alive() else Status.STOPPED
    if not state.alive():
        return Status.STOPPED
    if os.path.exists(store.exec_fifo(state.id)):
        return Status.CREATED
    if frozen:
        return Status.PAUSED
    return Status.RUNNING
