"""json-file rotation (max-size, max-file) for logs that conmon writes.

conmon can only truncate a log that outgrows its ``--log-size-max``. The daemon rotates
before that: when a running container's log reaches max-size, the files shift
(``log`` → ``log.1`` → … → ``log.<max-file - 1>``, the oldest dropped) and conmon is told
through its control fifo to reopen the log. conmon's own limit is set higher (twice
max-size, at least max-size + 8 MiB), so a stopped daemon still leaves the logs
bounded (at worst one file is truncated) and a burst between two checks does not
lose lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger("cove.engine.logrotate")

CHECK_INTERVAL = 0.2
REOPEN_LOGS = 2  # conmon's control message for "reopen the log files"


@dataclass(frozen=True)
class RotationTarget:
    log_path: str
    control_fifo: str  # <bundle>/ctl
    max_size: int
    max_files: int


def rotate(target: RotationTarget) -> None:
    path = target.log_path
    keep = max(target.max_files, 1)
    if keep == 1:
        old = f"{path}.1"
        os.rename(path, old)
        _reopen(target.control_fifo)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(old)
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(f"{path}.{keep - 1}")
    for n in range(keep - 2, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{path}.{n}", f"{path}.{n + 1}")
    os.rename(path, f"{path}.1")
    _reopen(target.control_fifo)


def _reopen(fifo: str) -> None:
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        os.write(fd, f"{REOPEN_LOGS} 0 0\n".encode())
    finally:
        os.close(fd)


class LogRotator:
    """One thread checking the live logs of running containers."""

    def __init__(self, targets: Callable[[], Iterable[RotationTarget]]) -> None:
        self._targets = targets
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="log-rotate", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(CHECK_INTERVAL):
            try:
                for target in self._targets():
                    try:
                        if os.stat(target.log_path).st_size >= target.max_size:
                            rotate(target)
                    except FileNotFoundError:
                        continue
                    except OSError as e:
                        log.warning("rotating %s failed: %s", target.log_path, e)
            except Exception:
                log.exception("log rotation pass failed")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
