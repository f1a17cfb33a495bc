"""Stay with a container process in the foreground: forward signals, proxy a tty, reap.

Used by ``run`` and ``exec`` without ``--detach``. The runtime is a child
subreaper, so the container process (orphaned when the intermediate process
exits) is re-parented to it and its exit status can be collected.
"""

from __future__ import annotations

import os
import select
import signal
import sys

from cove.linux import libc as L

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from typing import Any, Final

_FORWARDED: Final = tuple(
    s for s in signal.Signals
    if s not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, signal.SIGWINCH)
)


def become_subreaper() -> None:
    L.prctl(L.PR_SET_CHILD_SUBREAPER, 1)


def exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def receive_master(sock_fd: int) -> int:
    import socket

    sock = socket.socket(fileno=sock_fd)
    try:
        _, fds, _, _ = socket.recv_fds(sock, 1024, 1)
    finally:
        sock.close()
    if not fds:
        raise OSError("no pty master received from the container")
    return fds[0]


def wait_for(pid: int, master: int = -1) -> int:
    """Forward signals to ``pid``, proxy the tty ``master`` if any, return its exit code."""
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for sig in _FORWARDED:
        try:
            signal.signal(sig, forward)
        except (OSError, ValueError):
            pass
    try:
        pidfd = L.pidfd_open(pid)
    except Exception:
        pidfd = -1
    saved_tty = _raw_stdin() if master >= 0 else None
    try:
        if master >= 0:
            _resize(master)
            signal.signal(signal.SIGWINCH, lambda *_: _resize(master))
        return _loop(pid, pidfd, master)
    finally:
        if saved_tty is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, saved_tty)
        if pidfd >= 0:
            os.close(pidfd)


def _loop(pid: int, pidfd: int, master: int) -> int:
    stdin_open = master >= 0
    while True:
        fds = [f for f in (pidfd, master if master >= 0 else -1, 0 if stdin_open else -1)
               if f >= 0]
        if pidfd < 0 and master < 0:
            _, status = os.waitpid(pid, 0)
            return exit_code(status)
        ready, _, _ = select.select(fds, [], [], None)
        if master >= 0 and master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                data = b""
            if data:
                _write_all(1, data)
            else:
                os.close(master)
                master = -1
        if stdin_open and 0 in ready and master >= 0:
            data = os.read(0, 65536)
            if data:
                _write_all(master, data)
            else:
                stdin_open = False
        if pidfd in ready:
            while master >= 0:  # drain what the process printed last
                r, _, _ = select.select([master], [], [], 0.05)
                if not r:
                    break
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                _write_all(1, data)
            _, status = os.waitpid(pid, 0)
            _reap_others()
            return exit_code(status)


def _reap_others() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _raw_stdin() -> Any:
    if not sys.stdin.isatty():
        return None
    import termios
    import tty

    saved = termios.tcgetattr(0)
    tty.setraw(0)
    return saved


def _resize(master: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(1, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(master, termios.TIOCSWINSZ, size)
    except OSError:
        pass
