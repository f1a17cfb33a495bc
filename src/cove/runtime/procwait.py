"""Waiting for a process that may not be our child to go away."""

from __future__ import annotations

import os
import time

from cove.runtime.state import process_start_time


def wait_gone(pid: int, start_time: int | None, timeout: float) -> bool:
    """Wait until ``pid`` has exited (or is a zombie); True if it did in time.

    The container's init is usually not our child (it was re-parented when the
    intermediate process exited), so waitpid cannot be used; the start time
    guards against a recycled pid.
    """
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while time.monotonic() < deadline:
        now = process_start_time(pid)
        if now is None or (start_time is not None and now != start_time):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            return True
        time.sleep(delay)
        delay = min(delay * 2, 0.02)
    return False
