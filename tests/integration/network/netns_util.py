"""Named network namespaces for the network library tests (``ip netns``, lo up)."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def named_netns(name: str) -> Iterator[str]:
    """/run/netns/<name> with lo up, deleted after (also one an interrupted run left)."""
    with contextlib.suppress(subprocess.CalledProcessError):
        ip("netns", "del", name)
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield f"/run/netns/{name}"
    finally:
        ip("netns", "del", name)
