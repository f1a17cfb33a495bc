"""Cove's networks on a host where a real dockerd (Debian's docker.io) runs with its own
bridge and iptables rules: dockerd sets the FORWARD policy to DROP and adds its chains.

The dockerd here is private (its own root, socket, bridge address) and everything it
adds to the host (docker0, its chains and jumps, the FORWARD policy, ip_forward) is put
back as it was afterwards.
"""

from __future__ import annotations

import shlex
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dockerd_fixtures import DOCKER, DOCKERD, DockerD
from tests.engine_fixtures import Engine, private_engine
from tests.integration.netengine.conftest import ok
from tests.integration.netengine.test_networks import HTTPD, inspect, wait_port

pytestmark = pytest.mark.skipif(not Path(DOCKERD).exists(), reason="no dockerd installed")


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True,
                          check=False)


def _forward_policy() -> str:
    first = _iptables("-S", "FORWARD").stdout.splitlines()[:1]
    return first[0].split()[-1] if first else "ACCEPT"


def _remove_docker_rules() -> None:
    for table in ("filter", "nat"):
        rules = _iptables("-t", table, "-S").stdout.splitlines()
        for rule in rules:
            words = shlex.split(rule)
            if words[:1] == ["-A"] and not words[1].startswith("DOCKER") and \
                    ("DOCKER" in rule or "docker0" in rule):
                _iptables("-t", table, "-D", *words[1:])
        for rule in rules:
            words = shlex.split(rule)
            if words[:1] == ["-N"] and words[1].startswith("DOCKER"):
                _iptables("-t", table, "-F", words[1])
        for rule in rules:
            words = shlex.split(rule)
            if words[:1] == ["-N"] and words[1].startswith("DOCKER"):
                _iptables("-t", table, "-X", words[1])


# dockerd with its bridge and iptables (the default a host runs with).
NETWORKED = ["--bip", "10.207.0.1/24"]


@pytest.fixture(name="dockerd")
def dockerd_fixture() -> Iterator[DockerD]:
    policy = _forward_policy()
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        forward = f.read().strip()
    had_docker0 = subprocess.run(["ip", "link", "show", "docker0"], capture_output=True,
                                 check=False).returncode == 0
    if had_docker0:
        pytest.skip("a docker0 bridge exists already: another dockerd runs on this host")
    top = Path(tempfile.mkdtemp(prefix="cove-dockerd-net-"))
    d = DockerD(top, network_args=NETWORKED)
    try:
        # dockerd 20.10 sets the DROP policy when it is the one enabling forwarding
        # (newer ones always do): start it as on a fresh host.
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("0")
        d.start()
        if _forward_policy() != "DROP":
            _iptables("-P", "FORWARD", "DROP")
        yield d
    finally:
        d.stop()
        _remove_docker_rules()
        _iptables("-P", "FORWARD", policy)
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write(forward)
        subprocess.run(["ip", "link", "del", "docker0"], capture_output=True, check=False)
        subprocess.run(["umount", "-R", "-l", str(top)], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", str(top)], check=False)


def _check_traffic(e: Engine, port: int) -> None:
    ok(e, "network", "create", "coexist")
    ok(e, "run", "-d", "--name", "srv", "--network", "coexist", "-p", f"{port}:80",
       "busybox", *HTTPD)
    srv = inspect(e, "srv")["Id"][:12]
    out = ok(e, "run", "--rm", "--network", "coexist", "busybox", "sh", "-c",
             "timeout 5 wget -qO- http://srv/hostname")
    assert srv in out
    assert srv.encode() in wait_port("127.0.0.1", port)
    # and from the default bridge through the published port on the host's address
    gateway = e.request("GET", "/networks/bridge")[1]["IPAM"]["Config"][0]["Gateway"]
    out = ok(e, "run", "--rm", "busybox", "sh", "-c",
             f"timeout 5 wget -qO- http://{gateway}:{port}/hostname")
    assert srv in out


def test_cove_networks_work_beside_a_running_dockerd(busybox_layer_tar: bytes,
                                                     dockerd: DockerD) -> None:
    assert _forward_policy() == "DROP"  # what dockerd does to the host
    with private_engine(busybox_layer_tar) as e:
        _check_traffic(e, 18351)
        # Docker's own containers still work too (Cove took nothing from them).
        proc = subprocess.run([DOCKER, "network", "ls"], env=dockerd.env(),
                              capture_output=True, text=True, check=False)
        assert proc.returncode == 0 and "bridge" in proc.stdout


def test_cove_started_before_dockerd(busybox_layer_tar: bytes) -> None:
    with private_engine(busybox_layer_tar) as e:
        ok(e, "network", "create", "early")  # Cove's rules are in before dockerd's
        gen = dockerd_fixture.__wrapped__()  # type: ignore[attr-defined]
        next(gen)
        try:
            assert _forward_policy() == "DROP"
            _check_traffic(e, 18352)
        finally:
            next(gen, None)
