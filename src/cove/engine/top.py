"""``top``: the host's ``ps`` output, restricted to a container's processes (Docker's way)."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from cove.errors import InvalidArgument

# Docker refuses renaming a column to something PID-like (ps -o pid=PID...): the PID
# column is how rows are matched to the container.
_RENAMED_PID = re.compile(r"\s+(\S*)=\s*(PID\S*)")
PS_TIMEOUT = 30.0


def validate_ps_args(ps_args: str) -> None:
    for key, value in _RENAMED_PID.findall(" " + ps_args):
        if key != "pid":
            raise InvalidArgument(f'specifying "{key}={value}" is not allowed')


def parse_ps_output(output: str, pids: set[int]) -> dict[str, Any]:
    """{"Titles": [...], "Processes": [[...]]}: the rows whose PID is one of ``pids``."""
    lines = [ln for ln in output.splitlines() if ln.strip()]
    if not lines:
        raise InvalidArgument("ps printed nothing")
    titles = lines[0].split()
    try:
        pid_index = titles.index("PID")
    except ValueError:
        raise InvalidArgument("Couldn't find PID field in ps output") from None
    processes = []
    for line in lines[1:]:
        # The last column (the command) may hold spaces: it takes the rest of the line.
        fields = line.split(None, len(titles) - 1)
        if len(fields) <= pid_index:
            continue
        try:
            pid = int(fields[pid_index])
        except ValueError:
            raise InvalidArgument(f"unexpected pid {fields[pid_index]!r} in ps output") \
                from None
        if pid in pids:
            processes.append(fields)
    return {"Titles": titles, "Processes": processes}


def top(pids: list[int], ps_args: str = "-ef") -> dict[str, Any]:
    """Run the host's ps with the client's arguments (whitespace-separated)."""
    args = ps_args.split() if ps_args.strip() else ["-ef"]
    validate_ps_args(ps_args)
    try:
        proc = subprocess.run(["ps", *args], capture_output=True, text=True,
                              timeout=PS_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InvalidArgument(f"ps: {e}") from None
    if proc.returncode != 0:
        message = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else \
            f"exit status {proc.returncode}"
        raise InvalidArgument(f"ps: {message}")
    return parse_ps_output(proc.stdout, set(pids))
