"""A private dockerd (Debian's docker.io) for interoperability tests and benchmarks.

Its own data-root, exec-root and socket; no bridge, no iptables or forwarding changes
(unless given networking flags of its own), containers' cgroups under their own parent.
Tests skip when /usr/sbin/dockerd is absent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

DOCKER = "/usr/local/bin/docker"
DOCKERD = "/usr/sbin/dockerd"


def pids_named(name: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm") as f:
                if f.read().strip() == name:
                    out.append(int(entry))
        except OSError:
            continue
    return out


# dockerd's networking flags unless told otherwise: it touches no host network state.
NO_NETWORK_ARGS = ("--bridge=none", "--iptables=false", "--ip6tables=false",
                   "--ip-forward=false", "--ip-masq=false")


class DockerD:
    def __init__(self, top: Path, cgroup_parent: str = "/cove-bench-docker",
                 network_args: list[str] | None = None) -> None:
        """network_args replace NO_NETWORK_ARGS (a dockerd with a bridge and iptables rules
        of its own; whoever passes them removes what dockerd leaves)."""
        self.top = top
        self.cgroup_parent = cgroup_parent
        self.network_args = list(NO_NETWORK_ARGS if network_args is None else network_args)
        self.sock = top / "docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=f"unix://{self.sock}",
                    DOCKER_CONFIG=str(self.top / "cfg"))

    def start(self) -> None:
        log = open(self.top / "dockerd.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [DOCKERD, "--data-root", str(self.top / "root"), "--exec-root",
             str(self.top / "exec"), "--pidfile", str(self.top / "dockerd.pid"),
             "-H", f"unix://{self.sock}", *self.network_args,
             "--cgroup-parent", self.cgroup_parent],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        for _ in range(300):
            if subprocess.run([DOCKER, "version"], env=self.env(), capture_output=True,
                              check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("dockerd did not start: see " + str(self.top / "dockerd.log"))

    def own_pids(self) -> list[int]:
        """dockerd and the containerd it started."""
        assert self.proc is not None
        pids = [self.proc.pid]
        for pid in pids_named("containerd"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(self.top).encode() in f.read():
                    pids.append(pid)
        return pids

    def shim_pids(self) -> list[int]:
        out = []
        for pid in pids_named("containerd-shim"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(self.top).encode() in f.read():
                    out.append(pid)
        return out

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


