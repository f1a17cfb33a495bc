"""``cove network ...`` and the docker CLI against one coved: the same output, byte for byte.

What docker prints is the reference (stdout, exit code, stderr with cove's name
for docker's). The whole module skips while coved answers 404/501 on /networks.

The networks are made with explicit subnets in 10.213.0.0/16 (a range no other
test here uses), named ``cvnet-*``, and removed after each test.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

import pytest

from tests.engine_fixtures import (
    DOCKER,
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="coved needs root"),
              pytest.mark.skipif(not os.path.exists(DOCKER), reason="no docker CLI")]

PREFIX = "cvnet-"
HEX64 = re.compile(rb"^[0-9a-f]{64}\n$")


@pytest.fixture
def net_engine(engine: Engine) -> Iterator[Engine]:
    """The engine, once it serves /networks; every ``cvnet-*`` network removed after."""
    status, _ = engine.request("GET", "/networks")
    if status in (404, 501):
        pytest.skip(f"coved has no /networks API yet (GET /networks: {status})")
    try:
        yield engine
    finally:
        engine.remove_all_containers()
        status, networks = engine.request("GET", "/networks")
        if status == 200:
            for net in networks:
                if str(net.get("Name", "")).startswith(PREFIX):
                    with contextlib.suppress(Exception):
                        engine.request("DELETE", f"/networks/{net['Id']}")


def same(engine: Engine, *args: str) -> bytes:
    """Run through docker and cove; assert the same result; return the stdout."""
    want = engine.docker(*args)
    got = engine.cove(*args)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), (
        args, want.stderr, got.stderr)
    assert got.stderr == want.stderr.replace(b"docker", b"cove"), args
    return want.stdout


def create(engine: Engine, name: str, subnet: str, *extra: str) -> str:
    r = engine.cove("network", "create", "--subnet", subnet, *extra, PREFIX + name)
    assert r.returncode == 0, r.stderr
    assert HEX64.match(r.stdout), r.stdout
    return r.stdout.decode().strip()


def test_create_prints_the_id_and_refuses_what_docker_refuses(net_engine: Engine) -> None:
    for cli, name, subnet in ((net_engine.docker, "d1", "10.213.1.0/24"),
                              (net_engine.cove, "c1", "10.213.2.0/24")):
        r = cli("network", "create", "--subnet", subnet, "--gateway", subnet[:-4] + "1",
                "--label", "tier=web", PREFIX + name)
        assert r.returncode == 0, r.stderr
        assert HEX64.match(r.stdout), r.stdout
    # the two are alike but for the name, id, subnet and creation time
    fmt = ("{{.Driver}} {{.Scope}} {{.Internal}} {{.Attachable}} {{.EnableIPv6}} "
           "{{.Labels}} {{len .IPAM.Config}} {{.IPAM.Driver}} {{len .Containers}}")
    assert same(net_engine, "network", "inspect", "-f", fmt, PREFIX + "d1") == \
        same(net_engine, "network", "inspect", "-f", fmt, PREFIX + "c1")
    # a name in use, an overlapping subnet, docker's client-side checks
    same(net_engine, "network", "create", "--subnet", "10.213.3.0/24", PREFIX + "c1")
    same(net_engine, "network", "create", "--subnet", "10.213.2.0/25", PREFIX + "c3")
    same(net_engine, "network", "create", "--subnet", "10.213.4.0/24", "--gateway", "10.213.5.1",
         PREFIX + "c4")
    same(net_engine, "network", "create", "--gateway", "10.213.5.1", PREFIX + "c4")
    same(net_engine, "network", "create", "-d", "no-such-driver", PREFIX + "c4")
    same(net_engine, "network", "create")


def test_ls_and_inspect(net_engine: Engine) -> None:
    create(net_engine, "a10", "10.213.10.0/24", "--label", "k=v")
    create(net_engine, "a9", "10.213.9.0/24", "--internal")
    create(net_engine, "B", "10.213.11.0/24")
    for args in (["network", "ls"],
                 ["network", "ls", "-q"],
                 ["network", "ls", "--no-trunc"],
                 ["network", "ls", "--format", "json"],
                 ["network", "ls", "--format", "raw"],
                 ["network", "ls", "--format",
                  "table {{.Name}}\\t{{.Driver}}\\t{{.IPv4}}\\t{{.IPv6}}\\t{{.Internal}}\\t"
                  "{{.Labels}}\\t{{.Label \"k\"}}"],
                 ["network", "ls", "--format", "{{.Name}} {{.CreatedAt}}"],
                 ["network", "ls", "-f", "name=" + PREFIX + "a"],
                 ["network", "ls", "-f", "label=k=v", "-q"],
                 ["network", "ls", "-f", "driver=bridge", "--format", "{{.Name}}"],
                 ["network", "ls", "-f", "type=custom", "--format", "{{.Name}}"],
                 ["network", "ls", "-f", "type=builtin", "--format", "{{.Name}}"],
                 ["network", "ls", "-f", "bogus=1"],
                 ["network", "inspect", PREFIX + "a10"],
                 ["network", "inspect", PREFIX + "a10", PREFIX + "missing", PREFIX + "a9"],
                 ["network", "inspect", "--format", "json", PREFIX + "a9"],
                 ["network", "inspect", "-f", "{{.Name}} {{.IPAM}} {{.Options}} {{.Labels}} "
                  "{{.ConfigFrom}} {{.Peers}} {{.Created}} {{json .IPAM.Config}}",
                  PREFIX + "a10", "bridge"],
                 ["network", "inspect", "-f", "{{.Nope}}", PREFIX + "a10"],
                 ["network", "inspect", "-v", PREFIX + "a9"],
                 ["network", "inspect", PREFIX + "missing"],
                 ["network", "inspect", "bridge"],
                 ["network", "inspect", "host", "none"]):
        same(net_engine, *args)


def in_turn(engine: Engine, undo: tuple[str, ...], *args: str) -> None:
    """A command that changes state: docker's run, ``undo`` (by docker), then cove's run.

    Both must print the same, and leave the same state behind (the networks the
    container is on, with addresses and aliases; the network's containers).
    """
    def state() -> tuple[bytes, bytes]:
        box = engine.docker("inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}"
                            "{{$k}} {{$v.IPAddress}} {{$v.IPAMConfig}} {{$v.Aliases}};{{end}}",
                            PREFIX + "box")
        net = engine.docker("network", "inspect", "-f",
                            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
                            PREFIX + "y")
        return box.stdout, net.stdout

    want = engine.docker(*args)
    want_state = state()
    if want.returncode == 0:
        r = engine.docker(*undo)
        assert r.returncode == 0, r.stderr
    got = engine.cove(*args)
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), (
        args, want.stderr, got.stderr)
    assert got.stderr == want.stderr.replace(b"docker", b"cove"), args
    assert state() == want_state


def test_connect_disconnect(net_engine: Engine) -> None:
    create(net_engine, "x", "10.213.20.0/24")
    create(net_engine, "y", "10.213.21.0/24")
    r = net_engine.cove("run", "-d", "--name", PREFIX + "box", "--network", PREFIX + "x",
                        "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    box, y = PREFIX + "box", PREFIX + "y"
    in_turn(net_engine, ("network", "disconnect", y, box),
            "network", "connect", "--ip", "10.213.21.50", "--alias", "one,two", y, box)
    # connected already (cove's connect above stays), an unknown container or network
    same(net_engine, "network", "connect", y, box)
    same(net_engine, "network", "connect", y, PREFIX + "nobox")
    same(net_engine, "network", "connect", PREFIX + "nonet", box)
    in_turn(net_engine, ("network", "connect", y, box), "network", "disconnect", y, box)
    same(net_engine, "network", "disconnect", y, box)  # not connected
    same(net_engine, "network", "disconnect", PREFIX + "nonet", box)
    same(net_engine, "network", "disconnect", y, PREFIX + "nobox")


def test_rm(net_engine: Engine) -> None:
    create(net_engine, "r1", "10.213.30.0/24")
    create(net_engine, "r2", "10.213.31.0/24")
    r = net_engine.cove("run", "-d", "--name", PREFIX + "user", "--network", PREFIX + "r2",
                        "busybox", "sleep", "300")
    assert r.returncode == 0, r.stderr
    same(net_engine, "network", "rm", PREFIX + "missing")
    same(net_engine, "network", "rm", "-f", PREFIX + "missing")
    same(net_engine, "network", "rm", PREFIX + "r2")  # in use
    same(net_engine, "network", "rm", "bridge")  # predefined
    same(net_engine, "network", "rm")
    r = net_engine.docker("network", "rm", PREFIX + "r1", PREFIX + "missing")
    assert (r.returncode, r.stdout) == (1, (PREFIX + "r1\n").encode())
    create(net_engine, "r1", "10.213.30.0/24")
    got = net_engine.cove("network", "rm", PREFIX + "r1", PREFIX + "missing")
    assert (got.returncode, got.stdout, got.stderr) == (
        r.returncode, r.stdout, r.stderr.replace(b"docker", b"cove"))
