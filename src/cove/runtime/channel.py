"""Typed messages between the runtime (parent) and the container's setup processes.

A pair of pipes carries length-prefixed JSON messages. Every message has a
``kind`` from :class:`Msg`; each side calls :meth:`Channel.expect` with the kind
the protocol says comes next, so an out-of-order message is an error naming
what was expected. A child that fails sends ``error`` with its message, which
``expect`` raises in the parent as :class:`ChildError` carrying that text.

Both pipe ends are close-on-exec: when the child finally ``execve``\\ s the
user's program the parent sees end-of-file, which is how it learns that the
exec succeeded.
"""

from __future__ import annotations

import os
import struct

from cove import fastjson
from cove.errors import CoveError

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any


class Msg:
    """Message kinds (plain constants: enum costs milliseconds to import)."""

    GO = "go"                        # the runtime put the child in its cgroup: proceed
    USERNS_READY = "userns-ready"    # child unshared its user ns: map it
    USERNS_MAPPED = "userns-mapped"  # parent wrote uid_map/gid_map
    INIT_PID = "init-pid"            # intermediate child reports the container process' pid
    CGROUP_READY = "cgroup-ready"    # the init is in its cgroup (which exists): cgroup mounts ok
    RUN_HOOKS = "run-hooks"          # mounts are done: parent runs prestart/createRuntime
    HOOKS_DONE = "hooks-done"
    CONSOLE = "console"              # a pty master follows (SCM_RIGHTS, on the console socket)
    READY = "ready"                  # set-up done, waiting for start
    ERROR = "error"


class ChildError(CoveError):
    """The container's set-up process reported a failure."""


class ChannelClosed(CoveError):
    """The peer closed its end (it exited or exec'd) before sending the expected message."""


_LEN = struct.Struct("!I")


class Channel:
    """One end of the parent↔child protocol: read from ``rfd``, write to ``wfd``."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.wfd = wfd

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        """Return (parent end, child end); after fork each side calls ``keep`` on its own."""
        p_r, c_w = os.pipe()
        c_r, p_w = os.pipe()
        return cls(p_r, p_w), cls(c_r, c_w)

    def close(self) -> None:
        for fd in (self.rfd, self.wfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.rfd = self.wfd = -1

    def send(self, kind: str, **payload: Any) -> None:
        payload["kind"] = kind
        data = fastjson.dumps(payload).encode()
        buf = _LEN.pack(len(data)) + data
        try:
            while buf:
                n = os.write(self.wfd, buf)
                buf = buf[n:]
        except BrokenPipeError:
            # The peer is gone; if it said why before leaving, that is the error.
            self._raise_pending_error(kind)

    def _raise_pending_error(self, kind: str) -> None:
        while (msg := self.recv()) is not None:
            if msg.get("kind") == Msg.ERROR:
                raise ChildError(str(msg.get("message", "unknown error")))
        raise ChannelClosed(f"container set-up process exited before receiving {kind!r}")

    def send_error(self, message: str) -> None:
        """Report a failure; once the channel is closed (after ``ready``), on stderr."""
        try:
            if self.wfd < 0:
                raise OSError("channel closed")
            self.send(Msg.ERROR, message=message)
        except OSError:
            try:
                os.write(2, f"cove-runtime: container process: {message}\n".encode())
            except OSError:
                pass

    def _read_exact(self, size: int) -> bytes | None:
        chunks = []
        while size:
            chunk = os.read(self.rfd, size)
            if not chunk:
                return None
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def recv(self) -> dict[str, Any] | None:
        """Next message, or None at end-of-file."""
        head = self._read_exact(_LEN.size)
        if head is None:
            return None
        body = self._read_exact(_LEN.unpack(head)[0])
        if body is None:
            return None
        msg: dict[str, Any] = fastjson.loads(body)
        return msg

    def expect(self, kind: str, *, eof_ok: bool = False) -> dict[str, Any] | None:
        msg = self.recv()
        if msg is None:
            if eof_ok:
                return None
            raise ChannelClosed(f"container set-up process exited before sending {kind!r}")
        got = msg.get("kind")
        if got == Msg.ERROR:
            raise ChildError(str(msg.get("message", "unknown error")))
        if got != kind:
            raise ChildError(f"protocol error: expected {kind!r}, got {got!r}")
        return msg
