"""The OCI runtime (cove-runtime, runc, crun) driven through its runc-style CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from typing import Any

from cove.errors import CoveError, FailedPrecondition, NotFound

_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


class OciRuntimeError(CoveError):
    """The OCI runtime refused or failed; the message is the runtime's own."""


def runtime_message(stderr: str) -> str:
    """The runtime's error text without the logrus decoration."""
    messages = []
    for line in stderr.splitlines():
        m = _MSG.search(line)
        if m:
            messages.append(m.group(1).replace('\\"', '"').replace("\\\\", "\\"))
        elif line.strip():
            messages.append(line.strip())
    return "; ".join(messages) or "the OCI runtime failed without a message"


def find_runtime(name: str) -> str:
    """A runtime name (or path) to an absolute path; cove-runtime is the venv's own."""
    if os.path.isabs(name):
        if not os.access(name, os.X_OK):
            raise NotFound(f"OCI runtime {name} not found or not executable")
        return name
    if name in ("cove-runtime", "cove"):
        import sys
        own = os.path.join(os.path.dirname(sys.executable), "cove-runtime")
        if os.access(own, os.X_OK):
            return own
        name = "cove-runtime"
    found = shutil.which(name)
    if found is None:
        raise NotFound(f"unknown or invalid runtime name: {name}")
    return found


class OciRuntime:
    def __init__(self, path: str, root: str) -> None:
        self.path = path
        self.root = root
        os.makedirs(root, mode=0o700, exist_ok=True)

    def base_args(self) -> list[str]:
        return [self.path, "--root", self.root]

    def _run(self, *args: str, timeout: float = 60) -> str:
        proc = subprocess.run(self.base_args() + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0:
            message = runtime_message(proc.stderr)
            if "does not exist" in message or "not found" in message:
                raise NotFound(message)
            if "not running" in message or "not stopped" in message or \
                    "not paused" in message or "is paused" in message or \
                    "is stopped" in message:
                raise FailedPrecondition(message)
            raise OciRuntimeError(message)
        return proc.stdout

    def start(self, cid: str) -> None:
        self._run("start", cid)

    def kill(self, cid: str, signal: int, all_processes: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_processes else []) + [cid, str(signal)]
        self._run(*args)

    def has_state(self, cid: str) -> bool:
        """runc, crun and cove-runtime all keep a container's state in <root>/<id>."""
        return os.path.lexists(os.path.join(self.root, cid))

    def delete(self, cid: str, force: bool = False) -> None:
        # An interpreter start saved when there is nothing to delete (the usual case
        # after an exit already cleaned up).
        if not self.has_state(cid):
            return
        try:
            self._run("delete", *(["--force"] if force else []), cid)
        except NotFound:
            pass

    def state(self, cid: str) -> dict[str, Any] | None:
        try:
            out = self._run("state", cid)
        except NotFound:
            return None
        value = json.loads(out)
        return value if isinstance(value, dict) else None

    def pause(self, cid: str) -> None:
        self._run("pause", cid)

    def resume(self, cid: str) -> None:
        self._run("resume", cid)

    def pids(self, cid: str) -> list[int]:
        out = self._run("ps", "--format", "json", cid)
        value = json.loads(out or "[]")
        return [int(p) for p in value] if isinstance(value, list) else []


class LibraryRuntime(OciRuntime):
    """cove-runtime's verbs called in-process instead of through its binary.

    The code is the one the ``cove-runtime`` command runs, on the same state root;
    what is saved is an interpreter start (and the imports) per call — about 15 ms for
    each start, kill and delete of every container. ``create`` and ``exec`` still run
    the binary: conmon must be the parent of the container's init, and exec needs a
    process to wait in.
    """

    def _context(self) -> Any:
        # One per call: a context holds no locks, and calls come from many threads.
        from cove.runtime.context import RuntimeContext
        return RuntimeContext(self.root)

    def start(self, cid: str) -> None:
        from cove.runtime.start import start
        start(self._context(), cid)

    def kill(self, cid: str, signal: int, all_processes: bool = False) -> None:
        from cove.runtime.kill import kill
        kill(self._context(), cid, signal, all_processes)

    def delete(self, cid: str, force: bool = False) -> None:
        if not self.has_state(cid):
            return
        from cove.runtime.delete import delete
        try:
            delete(self._context(), cid, force)
        except NotFound:
            pass

    def state(self, cid: str) -> dict[str, Any] | None:
        from cove.runtime.query import state
        try:
            return state(self._context(), cid)
        except NotFound:
            return None

    def pause(self, cid: str) -> None:
        from cove.runtime.pause import pause
        pause(self._context(), cid)

    def resume(self, cid: str) -> None:
        from cove.runtime.pause import resume
        resume(self._context(), cid)

    def pids(self, cid: str) -> list[int]:
        from cove.runtime.query import pids
        return list(pids(self._context(), cid))
