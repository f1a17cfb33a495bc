"""``kill``: send a signal to the container's process (or to all of them)."""

from __future__ import annotations

import os
import signal

from cove.errors import InvalidArgument
from cove.runtime.context import RuntimeContext
from cove.runtime.lookup import cgroup_of, load
from cove.runtime.status import require


def parse_signal(value: str) -> int:
    """Accept 9, KILL, SIGKILL, sigkill, and RTMIN+3-style names."""
    text = value.strip()
    if text.isdigit():
        num = int(text)
        if 0 < num < signal.NSIG:
            return num
        raise InvalidArgument(f"invalid signal {value!r}")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith(("SIGRTMIN+", "SIGRTMAX-")):
        base, _, off = name.partition("+" if "+" in name else "-")
        if off.isdigit():
            num = (signal.SIGRTMIN + int(off)) if base == "SIGRTMIN" \
                else (signal.SIGRTMAX - int(off))
            if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
                return int(num)
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"invalid signal {value!r}") from None


def kill(ctx: RuntimeContext, container_id: str, sig: int, all_processes: bool = False) -> None:
    state, status = load(ctx, container_id)
    require(container_id, status, status.can_kill(), "kill")
    if all_processes:
        cgroup_of(state).kill_all(sig)
        return
    try:
        os.kill(state.pid, sig)
    except ProcessLookupError:
        pass
