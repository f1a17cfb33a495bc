"""Between a hijacked client connection and an exec process: pipes or a pty.

Without a tty the process's stdout and stderr are pipes, sent to the client in
Docker's multiplexed framing; with one, the pty master's bytes go out raw. The
client's bytes are the process's stdin; when the client half-closes (the docker CLI
does at the end of its stdin), the process's stdin is closed. A client that goes
away stops only the copying: the process runs on, its output drained and dropped,
until it ends, so that its exit code is still recorded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable
from typing import BinaryIO

from cove.engine.containers.logs import frame
from cove.engine.exec_process import ExecProcess, ExecStartError

# After the process ended, how long output may still trickle in (a background child
# of the process may hold the pipe open forever: it is not waited for).
DRAIN_GRACE = 0.2
_READ = 65536


class ClientSide:
    """The hijacked connection: sends never raise; a failed send marks the client gone."""

    def __init__(self, sock: socket.socket, rfile: BinaryIO) -> None:
        self.sock = sock
        self.rfile = rfile
        self.gone = False
        self._send_lock = threading.Lock()

    def send(self, data: bytes) -> None:
        if self.gone or not data:
            return
        with self._send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.gone = True

    def read_some(self) -> bytes:
        """What the client sent next (bytes the HTTP reader buffered come first)."""
        read1 = getattr(self.rfile, "read1", None)
        if read1 is not None:
            data: bytes = read1(_READ)
            return data
        return self.rfile.read(1)

    def hang_up(self) -> None:
        self.gone = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


def set_window(master: int, height: int, width: int) -> None:
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class _DetachMatcher:
    """Docker's detach keys (ctrl-p ctrl-q by default) in the client's stdin."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.matched = 0

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        if not self.keys:
            return data, False
        out = bytearray()
        for b in data:
            if b == self.keys[self.matched]:
                self.matched += 1
                if self.matched == len(self.keys):
                    return bytes(out), True
                continue
            if self.matched:
                out += self.keys[:self.matched]
                self.matched = 0
            out.append(b)
        return bytes(out), False


def _pump_stdin(client: ClientSide, write: Callable[[bytes], None], close: Callable[[], None],
                detach_keys: bytes, stop: threading.Event) -> None:
    matcher = _DetachMatcher(detach_keys)
    try:
        while not stop.is_set():
            data = client.read_some()
            if not data:
                close()
                return
            data, detached = matcher.feed(data)
            if data:
                write(data)
            if detached:
                client.hang_up()
                return
    except (OSError, ValueError):
        # The process or the client went away (ValueError: the connection was closed
        # under the reader): either way stdin is over.
        with contextlib.suppress(OSError, ValueError):
            close()


def relay_pipes(proc: ExecProcess, client: ClientSide, stdout: bool, stderr: bool,
                stdin: bool, on_started: Callable[[], None]) -> int:
    """Copy until the process ends; its exit code (ExecStartError if it never ran)."""
    stop = threading.Event()
    if stdin and proc.stdin is not None:
        pipe = proc.stdin

        def write(data: bytes) -> None:
            pipe.write(data)
            pipe.flush()

        threading.Thread(target=_pump_stdin, args=(client, write, pipe.close, b"", stop),
                         name="exec-stdin", daemon=True).start()
    streams: dict[int, int] = {}
    for number, pipe_out in ((1, proc.stdout), (2, proc.stderr)):
        if pipe_out is not None:
            streams[pipe_out.fileno()] = number
    wanted = {1: stdout, 2: stderr}
    # The runtime's own error (the process never ran) arrives on the same stderr pipe:
    # stderr is held back until the process is known to have started.
    pending = bytearray()
    started = False
    ended_at: float | None = None
    try:
        while streams:
            if not started and proc.started():
                started = True
                on_started()
                if wanted[2] and pending:
                    client.send(frame(2, bytes(pending)))
                pending.clear()
            if ended_at is None and proc.popen.poll() is not None:
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() - ended_at > DRAIN_GRACE:
                break
            timeout = 0.05 if (pending or ended_at is not None) else 0.5
            ready, _, _ = select.select(list(streams), [], [], timeout)
            for fd in ready:
                try:
                    data = os.read(fd, _READ)
                except OSError:
                    data = b""
                if not data:
                    del streams[fd]
                    continue
                number = streams[fd]
                if number == 2 and not started and not proc.started():
                    pending += data
                    continue
                if number == 2 and not started:
                    started = True
                    on_started()
                    if wanted[2] and pending:
                        client.send(frame(2, bytes(pending)))
                    pending.clear()
                if wanted[number]:
                    client.send(frame(number, data))
        code = proc.popen.wait()
        if not proc.started():
            raise proc.failure(pending.decode(errors="replace"))
        if not started:
            on_started()
        if pending and wanted[2]:
            client.send(frame(2, bytes(pending)))
        return code
    finally:
        stop.set()


def relay_tty(proc: ExecProcess, client: ClientSide, stdin: bool, detach_keys: bytes,
              size: tuple[int, int] | None, on_master: Callable[[int], None]) -> int:
    """The same over a pty: raw bytes both ways, resizes by ``set_window``."""
    master = proc.receive_console()
    if master < 0:
        proc.popen.wait()
        err = proc.popen.stderr.read().decode(errors="replace") if proc.popen.stderr else ""
        raise proc.failure(err)
    if size is not None:
        with contextlib.suppress(OSError):
            set_window(master, *size)
    on_master(master)
    stop = threading.Event()
    if stdin:
        def write(data: bytes) -> None:
            while data:
                n = os.write(master, data)
                data = data[n:]

        # A pty has no half-close: the end of the client's stdin is not the process's.
        threading.Thread(target=_pump_stdin,
                         args=(client, write, lambda: None, detach_keys, stop),
                         name="exec-tty-stdin", daemon=True).start()
    ended_at: float | None = None
    try:
        while True:
            if ended_at is None and proc.popen.poll() is not None:
                ended_at = time.monotonic()
            if ended_at is not None and time.monotonic() - ended_at > DRAIN_GRACE:
                break
            ready, _, _ = select.select([master], [], [], 0.05 if ended_at else 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, _READ)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                data = b""  # EIO: every slave end is closed
            if not data:
                break
            client.send(data)
        code = proc.popen.wait()
        if proc.popen.stderr is not None:
            proc.popen.stderr.close()
        if not proc.started():
            raise proc.failure()
        return code
    finally:
        stop.set()


def failure_text(error: ExecStartError) -> bytes:
    """How Docker shows a start failure inside the stream: the message and CRLF."""
    return str(error).encode() + b"\r\n"
