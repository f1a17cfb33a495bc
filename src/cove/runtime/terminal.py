"""Pseudo-terminals for containers: made inside the container, master sent out by SCM_RIGHTS."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

from cove.errors import CoveError
from cove.linux import libc as L

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Final

TIOCSPTLCK: Final = 0x40045431
TIOCGPTN: Final = 0x80045430


class TerminalError(CoveError):
    """The pty could not be made or handed over."""


def open_pty() -> tuple[int, str]:
    """Open a new pty from this mount namespace's /dev/ptmx; returns (master fd, slave path)."""
    try:
        master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise TerminalError(f"open /dev/ptmx: {exc.strerror}") from exc
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    (num,) = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))
    return master, f"/dev/pts/{num}"


def set_size(fd: int, console_size: object) -> None:
    """Apply process.consoleSize ({"height", "width"}) before the process starts: a program
    that asks for its size at once must not see 0x0 (engines resize only later)."""
    if not isinstance(console_size, dict):
        return
    rows, cols = console_size.get("height"), console_size.get("width")
    if isinstance(rows, int) and isinstance(cols, int) and rows > 0 and cols > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def attach_slave(slave_path: str, console: bool) -> None:
    """Make the slave this process' controlling terminal and stdio; bind it to /dev/console."""
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    if console:
        if not os.path.lexists("/dev/console"):
            fd = os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
            os.close(fd)
        L.mount(slave_path, "/dev/console", None, L.MS_BIND)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    if slave > 2:
        os.close(slave)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def send_master(sock_fd: int, master: int) -> None:
    """Hand the master to whoever listens on --console-socket (runc's protocol)."""
    import socket

    sock = socket.socket(fileno=sock_fd)
    try:
        socket.send_fds(sock, [b"/dev/ptmx"], [master])
    except OSError as exc:
        raise TerminalError(f"send pty master to console socket: {exc.strerror}") from exc
    finally:
        sock.close()


def connect_unix(path: str) -> int:
    """A connected AF_UNIX stream socket to ``path``, as a bare fd (OSError on failure)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise
    return sock.detach()


def connect_console_socket(path: str) -> int:
    try:
        return connect_unix(path)
    except OSError as exc:
        raise TerminalError(f"connect to console socket {path}: {exc.strerror}") from exc
