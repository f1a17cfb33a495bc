"""docker's behaviour in four corners of the CLI: create's parse errors, port, Label headers,
and the management commands run without a verb.

Each runs the real ``cove`` launcher against a FakeDaemon; where the docker CLI is
installed the same command runs through it against the same script, and its exit
code, stdout and stderr (with "docker" read as "cove") are the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cove.cli.main import GROUP_SUMMARIES, GROUPS, group_help
from cove.cli.tables import ListFormat
from tests.unit.cli.fake_daemon import FakeDaemon, Reply, error_reply, json_reply

COVE = str(Path(sys.executable).parent / "cove")
DOCKER = "/usr/local/bin/docker"
needs_docker = pytest.mark.skipif(not os.path.exists(DOCKER), reason="no docker CLI")

PORTS: dict[str, Any] = {
    "8443/tcp": [{"HostIp": "::", "HostPort": "8443"}, {"HostIp": "127.0.0.1", "HostPort": "8443"}],
    "5353/udp": [{"HostIp": "", "HostPort": "5353"}],
    "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}, {"HostIp": "0.0.0.0", "HostPort": "9"}],
    "9/tcp": None, "10/tcp": [],
    "1000/sctp": [{"HostIp": "10.0.0.1", "HostPort": "1000"}],
}
CONTAINER: dict[str, Any] = {
    "Id": "c" * 64, "Names": ["/web"], "Image": "busybox", "ImageID": "sha256:" + "1" * 64,
    "Command": "sh", "Created": 1700000000, "Ports": [], "State": "running",
    "Status": "Up 1 minute", "Labels": {"a.b-c": "v1", "com.x_y": "v2"}, "Mounts": [],
    "NetworkSettings": {"Networks": {}}, "HostConfig": {"NetworkMode": "bridge"}}
VOLUME: dict[str, Any] = {
    "Name": "v1", "Driver": "local", "Mountpoint": "/x", "Labels": {"a.b-c": "q"},
    "Scope": "local", "Options": {}, "CreatedAt": "2026-11-29T08:00:00Z"}
NETWORK: dict[str, Any] = {
    "Name": "n1", "Id": "a" * 64, "Created": "2026-11-29T08:00:00Z", "Scope": "local",
    "Driver": "bridge", "EnableIPv4": True, "EnableIPv6": False, "Internal": False,
    "Labels": {"a.b-c": "w"}, "Options": {}, "Containers": {},
    "IPAM": {"Driver": "default", "Options": None, "Config": []}}


def _script(daemon: FakeDaemon) -> None:
    ping = Reply(200, b"OK", content_type="text/plain", headers={"Api-Version": "1.47"})
    daemon.route("GET", "/_ping", ping)
    daemon.route("HEAD", "/_ping", ping)
    daemon.route("GET", "/containers/json", json_reply([CONTAINER]))
    daemon.route("GET", "/containers/web/json", json_reply(
        {"Id": "c" * 64, "Name": "/web", "State": {"Running": True}, "Config": {},
         "HostConfig": {}, "NetworkSettings": {"Ports": PORTS}}))
    daemon.route("GET", "/containers/*", error_reply(404, "No such container: missing"))
    daemon.route("POST", "/containers/create", json_reply({"Id": "c" * 64, "Warnings": []}, 201))
    daemon.route("GET", "/volumes", json_reply({"Volumes": [VOLUME], "Warnings": []}))
    daemon.route("GET", "/networks", json_reply([NETWORK]))


def _run(exe: str, tmp_path: Path, args: list[str]) -> tuple[subprocess.CompletedProcess[bytes],
                                                             FakeDaemon]:
    daemon = FakeDaemon(str(tmp_path / f"{Path(exe).name}.sock"))
    _script(daemon)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "COVE_HOST")}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    try:
        result = subprocess.run([exe, "-H", daemon.host, *args], capture_output=True,
                                timeout=30, env=env, check=False)
    finally:
        daemon.close()
    return result, daemon


def cove(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return _run(COVE, tmp_path, list(args))[0]


def as_cove(text: bytes) -> bytes:
    """docker's text as cove says it ("Manage Docker" is "Manage Cove")."""
    return text.replace(b"docker", b"cove").replace(b"Docker", b"Cove")


def _same_as_docker(tmp_path: Path, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    want, _ = _run(DOCKER, tmp_path, args)
    got, _ = _run(COVE, tmp_path, args)
    assert (got.returncode, got.stdout, got.stderr) == (
        want.returncode, as_cove(want.stdout), as_cove(want.stderr))
    return got


# -- create: the options' errors read "cove: ..." as run's do ---------------------------------


def test_create_option_errors_have_the_prefix_and_name_create(tmp_path: Path) -> None:
    for argv in (["create"], ["container", "create"]):
        r = cove(tmp_path, *argv, "--network-alias", "a", "busybox")
        assert (r.returncode, r.stdout, r.stderr) == (
            125, b"", b"cove: network-scoped aliases are only supported for user-defined "
            b"networks\n\nRun 'cove create --help' for more information\n")
    # what fails after the options were accepted stays plain, as docker prints it
    r = cove(tmp_path, "create", "--cidfile", str(tmp_path), "busybox")
    assert (r.returncode, r.stderr) == (
        1, f"container ID file found, make sure the other container isn't running or delete "
        f"{tmp_path}\n".encode())


CREATE_PARITY: list[list[str]] = [
    ["create", "--network", "n1", "--network", "n1", "busybox"],
    ["create", "--network-alias", "a", "busybox"],
    ["container", "create", "--network-alias", "a", "busybox"],
    ["create", "--network", "host", "--network", "n1", "busybox"],
    ["create", "--network", "name=n1,bogus=1", "busybox"],
    ["create", "--cidfile", "/", "busybox"],
    ["create", "UPPER"],
    ["create", "busybox"],
    ["run", "--network-alias", "a", "busybox"],
]


@needs_docker
@pytest.mark.parametrize("args", CREATE_PARITY, ids=[" ".join(a) for a in CREATE_PARITY])
def test_create_errors_as_docker(tmp_path: Path, args: list[str]) -> None:
    _same_as_docker(tmp_path, args)


# -- port: docker's natural order of whole lines, Go's JoinHostPort ---------------------------


def test_port_lines_in_natural_order(tmp_path: Path) -> None:
    r = cove(tmp_path, "port", "web")
    assert (r.returncode, r.stderr) == (0, b"")
    assert r.stdout.decode().splitlines() == [
        "80/tcp -> 0.0.0.0:9", "80/tcp -> 0.0.0.0:32768", "1000/sctp -> 10.0.0.1:1000",
        "5353/udp -> :5353", "8443/tcp -> 127.0.0.1:8443", "8443/tcp -> [::]:8443"]
    assert cove(tmp_path, "port", "web", "8443").stdout == b"127.0.0.1:8443\n[::]:8443\n"
    assert cove(tmp_path, "port", "web", "5353/udp").stdout == b":5353\n"
    assert cove(tmp_path, "port", "web", "80/").stdout == b"0.0.0.0:9\n0.0.0.0:32768\n"
    r = cove(tmp_path, "port", "web", "70000")
    assert (r.returncode, r.stderr) == (1, b'Error: invalid port (70000): strconv.ParseUint: '
                                           b'parsing "70000": value out of range\n')


PORT_PARITY: list[list[str]] = [
    ["port", "web"], ["port", "web", "8443"], ["port", "web", "8443/tcp"],
    ["port", "web", "5353/udp"], ["port", "web", "5353"], ["port", "web", "80/"],
    ["port", "web", "9"], ["port", "web", "10"], ["port", "web", "1000/sctp"],
    ["port", "web", "080"], ["port", "web", "70000"], ["port", "web", "x"],
    ["port", "web", "/tcp"], ["port", "missing"],
]


@needs_docker
@pytest.mark.parametrize("args", PORT_PARITY, ids=[" ".join(a) for a in PORT_PARITY])
def test_port_as_docker(tmp_path: Path, args: list[str]) -> None:
    _same_as_docker(tmp_path, args)


# -- {{.Label "a.b-c"}} in a table: the header is "b c" ---------------------------------------


class _Row:
    Name = "r1"

    def Label(self, key: str) -> str:  # noqa: N802 (docker's template field)
        return {"a.b-c": "v"}.get(key, "")


def test_label_header_is_the_keys_last_part() -> None:
    listing = ListFormat('table {{.Name}}\t{{.Label "a.b-c"}}|{{.Label "com.x_y"}}|'
                         '{{.Label "nodots"}}|{{.Label "x."}}|{{.Label "A.B_c-D"}}', "", {})
    assert listing.render([_Row()]) == "NAME      b c|x y|nodots||B c D\nr1        v||||\n"
    assert listing.render([]) == "NAME      b c|x y|nodots||B c D\n"


LABEL_PARITY: list[list[str]] = [
    ["ps", "--format", 'table {{.ID}}\\t{{.Label "a.b-c"}}\\t{{.Label "com.x_y"}}'],
    ["ps", "--format", 'table {{.Label "a.b-c"}} {{.Label "a.b-c" | printf "%s"}}'],
    ["volume", "ls", "--format", 'table {{.Name}}\\t{{.Label "a.b-c"}}'],
    ["network", "ls", "--format", 'table {{.Name}}\\t{{.Label "a.b-c"}}\\t{{.Label "z"}}'],
]


@needs_docker
@pytest.mark.parametrize("args", LABEL_PARITY, ids=[" ".join(a) for a in LABEL_PARITY])
def test_label_headers_as_docker(tmp_path: Path, args: list[str]) -> None:
    r = _same_as_docker(tmp_path, args)
    assert b"LABEL" not in r.stdout


# -- a management command without its verb ----------------------------------------------------


def test_every_verb_of_a_group_is_summarized_or_an_alias() -> None:
    aliases = {"list", "remove"}
    assert set(GROUP_SUMMARIES) == set(GROUPS)
    for group, verbs in GROUPS.items():
        listed = set(GROUP_SUMMARIES[group][1])
        assert listed <= set(verbs), group
        assert set(verbs) - listed - aliases <= ({"ps"} if group == "container" else set()), group


def test_group_alone_prints_its_help_on_stderr(tmp_path: Path) -> None:
    r = cove(tmp_path, "network")
    assert (r.returncode, r.stdout) == (0, b"")
    assert r.stderr.decode() == (
        "Usage:  cove network COMMAND\n\nManage networks\n\nCommands:\n"
        "  connect     Connect a container to a network\n"
        "  create      Create a network\n"
        "  disconnect  Disconnect a container from a network\n"
        "  inspect     Display detailed information on one or more networks\n"
        "  ls          List networks\n"
        "  prune       Remove all unused networks\n"
        "  rm          Remove one or more networks\n\n"
        "Run 'cove network COMMAND --help' for more information on a command.\n")
    r = cove(tmp_path, "volume", "--help")
    assert (r.returncode, r.stdout, r.stderr) == (0, group_help("volume").encode(), b"")
    r = cove(tmp_path, "network", "bogus")
    assert (r.returncode, r.stdout, r.stderr) == (
        1, b"", b"cove: unknown command: cove network bogus\n\nUsage:  cove network\n\n"
        b"Run 'cove network --help' for more information\n")
    r = cove(tmp_path, "network", "--bogus=1")
    assert (r.returncode, r.stderr.splitlines()[0]) == (125, b"unknown flag: --bogus")
    # a verb still runs; "--help VERB" is the verb's help
    assert json.loads(cove(tmp_path, "network", "ls", "--format", "json").stdout)["Name"] == "n1"
    assert cove(tmp_path, "network", "--help", "ls").stdout.startswith(
        b"\nUsage:  cove network ls")


GROUP_PARITY: list[list[str]] = [
    *([g] for g in GROUPS), *([g, "--help"] for g in GROUPS), ["network", "-h"],
    ["volume", "-hh"], ["network", "-x"], ["network", "-hx"], ["network", "-xh"],
    ["network", "--bogus"], ["network", "--bogus=1"], ["network", "-"], ["network", "--"],
    ["network", "--", "ls"], ["network", "bogus"], ["network", "help"],
    ["network", "bogus", "--help"], ["system", "--help", "bogus"],
]


def _without_missing_verbs(group: str, text: bytes) -> bytes:
    """docker's help less the verbs cove does not have (image build, volume update)."""
    if text.startswith(b"DEPRECATED: The legacy builder"):
        text = text.split(b"\n\n", 1)[1]
    verbs = GROUP_SUMMARIES[group][1]
    lines = text.split(b"\n")
    return b"\n".join(line for line in lines if not (
        line.startswith(b"  ") and line.split()[0].decode() not in verbs))


@needs_docker
@pytest.mark.parametrize("args", GROUP_PARITY, ids=[" ".join(a) for a in GROUP_PARITY])
def test_group_without_verb_as_docker(tmp_path: Path, args: list[str]) -> None:
    want, _ = _run(DOCKER, tmp_path, args)
    got, _ = _run(COVE, tmp_path, args)
    group = args[0]
    assert (got.returncode, got.stdout, got.stderr) == (
        want.returncode, as_cove(_without_missing_verbs(group, want.stdout)),
        as_cove(_without_missing_verbs(group, want.stderr)))


def test_ps_does_not_load_the_networks_module(tmp_path: Path) -> None:
    """cove ps stays lean: port's sort key comes from networks.py only when port runs."""
    daemon = FakeDaemon(str(tmp_path / "lean.sock"))
    _script(daemon)
    code = ("import sys; from cove.cli.main import main; rc = main(['-H', sys.argv[1], 'ps']); "
            "print(sorted(m for m in sys.modules if m.startswith('cove.')))")
    try:
        r = subprocess.run([sys.executable, "-c", code, daemon.host], capture_output=True,
                           timeout=30, check=True)
    finally:
        daemon.close()
    loaded = json.loads(r.stdout.splitlines()[-1].replace(b"'", b'"'))
    assert "cove.cli.commands.containers" in loaded
    assert "cove.cli.commands.networks" not in loaded
