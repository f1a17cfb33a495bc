"""Copy between our stdio and a hijacked attach/exec connection.

One thread, ``select`` on the socket and stdin: output is demultiplexed (no
tty) or copied raw (tty); input passes a detach-key scanner, and stdin's EOF
half-closes the connection so the container sees its stdin close while we
keep reading what it still prints.
"""

from __future__ import annotations

import os
import select

from cove.cli.streams import STDERR, SYSTEMERR, Demuxer
from cove.cli.tty import DetachScanner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from cove.cli.transport import Connection

EOF_ = "eof"
DETACHED = "detached"


def pump(conn: Connection, *, tty: bool, stdin_fd: int | None, stdout_fd: int,
         stderr_fd: int, detach_keys: bytes = b"") -> str:
    """Run until the daemon closes the stream (EOF_) or the user detaches (DETACHED)."""
    demux = None if tty else Demuxer()
    scanner = DetachScanner(detach_keys)
    reading_stdin = stdin_fd is not None
    sock_fd = conn.fileno()

    def emit(data: bytes) -> None:
        if demux is None:
            _write_all(stdout_fd, data)
            return
        for kind, payload in demux.feed(data):
            _write_all(stderr_fd if kind in (STDERR, SYSTEMERR) else stdout_fd, payload)

    if conn.buf:
        emit(conn.read_some())
    while True:
        watch = [sock_fd] + ([stdin_fd] if reading_stdin and stdin_fd is not None else [])
        ready, _, _ = select.select(watch, [], [])
        if sock_fd in ready:
            data = conn.read_some()
            if not data:
                return EOF_
            emit(data)
        if stdin_fd is not None and stdin_fd in ready:
            try:
                data = os.read(stdin_fd, 32768)
            except OSError:
                data = b""
            if not data:
                reading_stdin = False
                conn.close_write()
                continue
            send, detached = scanner.feed(data)
            if send:
                try:
                    conn.sendall(send)
                except OSError:
                    reading_stdin = False
            if detached:
                return DETACHED


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[n:]
