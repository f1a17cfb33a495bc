"""``cove network ...`` and the run/create network flags: request bodies and output.

Pure parts (IPAM pairing, natural sort, rows, typed inspect) are tested as
functions; the verbs run as the real ``cove`` launcher against a FakeDaemon. Where
the docker CLI is installed, the same commands also run through it against the
same scripted daemon: docker's stdout, exit code, stderr and request bodies are
the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.cli.commands.networks import (
    NetworkRow,
    go_time_string,
    ipam_config,
    natural_key,
    typed_network,
)
from cove.cli.errors import CliError, UsageError
from cove.cli.flags import FlagSet
from cove.cli.gotemplate import Template
from cove.cli.runopts import CREATE_FLAGS, build_create_body, network_endpoints
from cove.cli.tables import ListFormat
from tests.unit.cli.fake_daemon import FakeDaemon, Reply, error_reply, json_reply

COVE = str(Path(sys.executable).parent / "cove")
DOCKER = "/usr/local/bin/docker"

BRIDGE: dict[str, Any] = {
    "Name": "bridge", "Id": "f" * 64, "Created": "2026-11-29T08:00:00.123456789Z",
    "Scope": "local", "Driver": "bridge", "EnableIPv4": True, "EnableIPv6": False,
    "IPAM": {"Driver": "default", "Options": None,
             "Config": [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]},
    "Internal": False, "Attachable": False, "Ingress": False, "ConfigFrom": {"Network": ""},
    "ConfigOnly": False, "Containers": {},
    "Options": {"com.docker.network.bridge.default_bridge": "true"}, "Labels": {}}
NET10 = dict(BRIDGE, Name="net10", Id="a" * 64, Created="2026-11-29T08:00:00Z",
             EnableIPv4=False, EnableIPv6=True, Internal=True, Labels={"a": "1"},
             IPAM={"Driver": "default", "Options": {}, "Config": []}, Options={})
NET9 = dict(BRIDGE, Name="net9", Id="b" * 64, Created="2026-11-29T09:00:00+01:00",
            Driver="macvlan", EnableIPv4=False,
            IPAM={"Driver": "default", "Options": None, "Config": None},
            Containers=None, Options=None, Labels=None)
LONG = dict(BRIDGE, Name="Net-with-a-name-longer-than-the-rest", Id="c" * 64,
            Driver="null", Created="2026-11-29T08:00:00Z", Options={},
            IPAM={"Driver": "default", "Options": None, "Config": []},
            Containers={"d" * 64: {"Name": "web", "EndpointID": "e" * 64,
                                   "MacAddress": "02:42:ac:11:00:02",
                                   "IPv4Address": "172.17.0.2/16", "IPv6Address": ""}})
NETWORKS: list[dict[str, Any]] = [BRIDGE, NET10, NET9, LONG]


# -- create: IPAM pairing, as docker's createIPAMConfig ---------------------------------------


def test_ipam_pairs_each_address_with_its_subnet() -> None:
    config = ipam_config(["10.1.0.0/16", "10.2.0.0/16"], ["10.1.1.0/24"], ["10.2.0.1"],
                         {"a": "10.1.0.5", "b": "10.2.0.9"})
    assert config == [
        {"Subnet": "10.1.0.0/16", "IPRange": "10.1.1.0/24",
         "AuxiliaryAddresses": {"a": "10.1.0.5"}},
        {"Subnet": "10.2.0.0/16", "Gateway": "10.2.0.1", "AuxiliaryAddresses": {"b": "10.2.0.9"}},
    ]
    assert ipam_config(["fd00::/64"], [], ["fd00::1"], {}) == [
        {"Subnet": "fd00::/64", "Gateway": "fd00::1"}]
    assert ipam_config([], [], [], {}) == []
    assert ipam_config(["10.1.0.0/016"], [], ["10.1.0.1"], {}) == [
        {"Subnet": "10.1.0.0/016", "Gateway": "10.1.0.1"}]
    # docker checks a lone subnet no further: the daemon judges it
    assert ipam_config(["bad"], [], [], {}) == [{"Subnet": "bad"}]


@pytest.mark.parametrize(("subnets", "ranges", "gateways", "aux", "message"), [
    ([], [], ["10.1.0.1"], {}, "every ip-range or gateway must have a corresponding subnet"),
    (["10.1.0.0/16"], [], ["10.1.0.1", "10.1.0.2"], {},
     "every ip-range or gateway must have a corresponding subnet"),
    (["10.1.0.0/16"], [], ["10.2.0.1"], {}, "no matching subnet for gateway 10.2.0.1"),
    (["10.1.0.0/16"], [], ["bad"], {}, "no matching subnet for gateway bad"),
    (["10.1.0.0/16"], ["10.2.0.0/24"], [], {}, "no matching subnet for range 10.2.0.0/24"),
    (["10.1.0.0/16"], ["bad"], [], {}, "invalid CIDR address: bad"),
    (["10.1.0.0/16"], ["10.1.0.0"], [], {}, "invalid CIDR address: 10.1.0.0"),
    (["10.1.0.0/16"], ["10.1.1.0/33"], [], {}, "invalid CIDR address: 10.1.1.0/33"),
    (["10.1.0.0/16"], [], [], {"a": "10.2.0.1"}, "no matching subnet for aux-address 10.2.0.1"),
    (["10.1.0.0/16"], [], [], {"a": ""}, "no matching subnet for aux-address "),
    (["10.1.0.0/16", "10.1.2.0/24"], [], [], {},
     "multiple overlapping subnet configuration is not supported"),
    (["10.1.0.0/16", "bad"], [], [], {}, "invalid subnet: invalid CIDR address: bad"),
    (["bad", "10.1.0.0/16"], [], [], {}, "invalid subnet: invalid CIDR address: bad"),
    (["10.1.0.0/33"], [], ["10.1.0.1"], {}, "invalid subnet: invalid CIDR address: 10.1.0.0/33"),
    (["10.1.0.0/x"], [], ["10.1.0.1"], {}, "invalid subnet: invalid CIDR address: 10.1.0.0/x"),
    (["fe80::/64"], [], ["10.1.0.1"], {}, "no matching subnet for gateway 10.1.0.1"),
    (["10.1.0.0/16", "10.2.0.0/16"], [], ["10.1.0.1", "10.1.0.2"], {},
     "cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet "
     "(10.1.0.0/16)"),
    (["10.1.0.0/16", "10.2.0.0/16"], ["10.1.1.0/24", "10.1.2.0/24"], [], {},
     "cannot configure multiple ranges (10.1.2.0/24, 10.1.1.0/24) on the same subnet "
     "(10.1.0.0/16)"),
])
def test_ipam_errors_in_dockers_words(subnets: list[str], ranges: list[str],
                                      gateways: list[str], aux: dict[str, str],
                                      message: str) -> None:
    with pytest.raises(CliError) as info:
        ipam_config(subnets, ranges, gateways, aux)
    assert info.value.message == message
    assert info.value.exit_code == 1


# -- ls: order, rows ------------------------------------------------------------------------


def test_natural_order_is_sortorders() -> None:
    names = ["net10", "net9", "bridge", "Net-x", "a01", "a1", "a001", "a", "a1b", "a10", "_x",
             "9", "10", "host"]
    assert sorted(names, key=natural_key) == [
        "9", "10", "Net-x", "_x", "a", "a1", "a1b", "a01", "a001", "a10", "bridge", "host",
        "net9", "net10"]


def test_go_time_string() -> None:
    assert go_time_string("2026-11-29T08:00:00.123456789Z") == \
        "2026-11-29 08:00:00.123456789 +0000 UTC"
    assert go_time_string("2026-11-29T08:00:00.120000000Z") == "2026-11-29 08:00:00.12 +0000 UTC"
    assert go_time_string("2026-11-29T08:00:00Z") == "2026-11-29 08:00:00 +0000 UTC"
    assert go_time_string("") == "0001-01-01 00:00:00 +0000 UTC"
    if os.environ.get("TZ", "UTC") in ("UTC", ""):
        assert go_time_string("2026-11-29T09:00:00+01:00") == "2026-11-29 09:00:00 +0100 +0100"


def test_rows_and_table() -> None:
    rows = [NetworkRow(n) for n in sorted(NETWORKS, key=lambda n: natural_key(n["Name"]))]
    listing = ListFormat("", NetworkRow.DEFAULT, NetworkRow.HEADERS)
    assert listing.render(rows).splitlines() == [
        "NETWORK ID     NAME                                   DRIVER    SCOPE",
        "cccccccccccc   Net-with-a-name-longer-than-the-rest   null      local",
        "ffffffffffff   bridge                                 bridge    local",
        "bbbbbbbbbbbb   net9                                   macvlan   local",
        "aaaaaaaaaaaa   net10                                  bridge    local",
    ]
    row = NetworkRow(NET10)
    assert (row.IPv4, row.IPv6, row.Internal, row.Labels, row.Label("a"), row.Label("z")) == \
        ("false", "true", "true", "a=1", "1", "")
    assert row.to_json() == {
        "CreatedAt": "2026-11-29 08:00:00 +0000 UTC", "Driver": "bridge", "ID": "aaaaaaaaaaaa",
        "IPv4": "false", "IPv6": "true", "Internal": "true", "Labels": "a=1", "Name": "net10",
        "Scope": "local"}
    assert NetworkRow(NET10, trunc=False).ID == "a" * 64


# -- inspect: Go's typed struct -------------------------------------------------------------


def test_typed_network_prints_as_go_struct() -> None:
    fmt = ("{{.IPAM}}|{{.Containers}}|{{.Labels}}|{{.Options}}|{{.ConfigFrom}}|{{.Created}}|"
           "{{.Peers}}|{{.Services}}|{{.EnableIPv4}}|{{json .IPAM}}")
    assert Template(fmt).execute(typed_network(dict(NET9, Created="2026-11-29T08:00:00Z"))) == (
        "{default map[] []}|map[]|map[]|map[]|{}|2026-11-29 08:00:00 +0000 UTC|[]|map[]|"
        'false|{"Driver":"default","Options":null,"Config":null}')
    assert Template(fmt).execute(typed_network(BRIDGE)).startswith(
        "{default map[] [{172.17.0.0/16  172.17.0.1 map[]}]}|map[]|map[]|"
        "map[com.docker.network.bridge.default_bridge:true]|{}|"
        "2026-11-29 08:00:00.123456789 +0000 UTC|[]|map[]|true|"
        '{"Driver":"default","Options":null,"Config":[{"Subnet":"172.17.0.0/16",'
        '"Gateway":"172.17.0.1"}]}')
    assert Template("{{.Containers}}").execute(typed_network(LONG)) == (
        f"map[{'d' * 64}:{{web {'e' * 64} 02:42:ac:11:00:02 172.17.0.2/16 }}]")
    assert Template("{{.ID}} {{.Name}}").execute(typed_network(BRIDGE)) == f"{'f' * 64} bridge"


# -- run/create: --network and friends ------------------------------------------------------


RUN_OPTS = FlagSet("cove create", "[OPTIONS] IMAGE [COMMAND] [ARG...]", "", CREATE_FLAGS,
                   interspersed=False, min_args=1)


def _networking(*argv: str) -> tuple[str, dict[str, Any]]:
    opts, _ = RUN_OPTS.parse([*argv, "busybox"])
    return network_endpoints(opts)


def test_network_flags_build_dockers_endpoints() -> None:
    assert _networking() == ("default", {"default": {}})
    assert _networking("--network", "n1") == ("n1", {})
    assert _networking("--net", "n1", "--network", "n2") == ("n1", {"n1": {}, "n2": {}})
    assert _networking("--network", "n1", "--network", "n2", "--ip", "10.0.0.2",
                       "--network-alias", "x") == (
        "n1", {"n1": {"IPAMConfig": {"IPv4Address": "10.0.0.2"}, "Aliases": ["x"]}, "n2": {}})
    assert _networking("--network", "n1", "--ip6", "fd00::2", "--link-local-ip",
                       "169.254.1.1", "--link", "a:b", "--mac-address",
                       "02:42:ac:11:00:02") == (
        "n1", {"n1": {"IPAMConfig": {"IPv6Address": "fd00::2", "LinkLocalIPs": ["169.254.1.1"]},
                      "Links": ["a:b"], "MacAddress": "02:42:ac:11:00:02"}})
    # the long syntax (keys and values lowercased, as docker does)
    assert _networking("--network", "name=N1,alias=a1,alias=a2,ip=10.0.0.3,ip6=fd00::3,"
                       "mac-address=02:42:ac:11:00:09,driver-opt=k=v,"
                       "link-local-ip=169.254.0.1,gw-priority=3") == (
        "n1", {"n1": {"IPAMConfig": {"IPv4Address": "10.0.0.3", "IPv6Address": "fd00::3",
                                     "LinkLocalIPs": ["169.254.0.1"]},
                      "Aliases": ["a1", "a2"], "DriverOpts": {"k": "v"}, "GwPriority": 3,
                      "MacAddress": "02:42:ac:11:00:09"}})
    # docker leaves these to the daemon
    assert _networking("--network", "bridge", "--ip", "10.0.0.2") == (
        "bridge", {"bridge": {"IPAMConfig": {"IPv4Address": "10.0.0.2"}}})
    assert _networking("--network", "container:abc") == ("container:abc", {})
    # --link on the default bridge is a legacy link (HostConfig.Links), not an endpoint's
    opts, _ = RUN_OPTS.parse(["--link", "a:b", "busybox"])
    body = build_create_body(opts, "busybox", [])
    assert body["HostConfig"]["Links"] == ["a:b"]
    assert body["NetworkingConfig"] == {"EndpointsConfig": {"default": {}}}


@pytest.mark.parametrize(("argv", "message"), [
    (["--network", "n1", "--network", "n1"], 'network "n1" is specified multiple times'),
    (["--network", "host", "--network", "n1"],
     "conflicting options: cannot attach both user-defined and non-user-defined network-modes"),
    (["--network-alias", "a"],
     "network-scoped aliases are only supported for user-defined networks"),
    (["--network", "bridge", "--network-alias", "a"],
     "network-scoped aliases are only supported for user-defined networks"),
    (["--network", ""], "no name set for network"),
    (["--network", "name=n1,alias=y", "--network-alias", "x"],
     "conflicting options: cannot specify both --network-alias and per-network alias"),
    (["--network", "name=n1,ip=10.0.0.1", "--ip", "10.0.0.2"],
     "conflicting options: cannot specify both --ip and per-network IPv4 address"),
    (["--network", "name=n1,mac-address=zz"], "zz is not a valid mac address"),
])
def test_network_flag_conflicts(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as info:
        _networking(*argv)
    assert info.value.message == message
    assert info.value.exit_code == 125


@pytest.mark.parametrize(("value", "message"), [
    ("name=n1,bogus=1", "invalid field key bogus"),
    ("alias=a", "network name/id is not specified"),
    ("name=n1,x", "invalid field x"),
    ("name=n1,gw-priority=x", "invalid gw-priority (x): invalid syntax"),
    ("name=n1,driver-opt=x", "invalid key value pair format in driver options"),
])
def test_network_long_syntax_errors(value: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        _networking("--network", value)
    assert info.value.message == f'invalid argument "{value}" for "--network" flag: {message}'


# -- the verbs against a scripted daemon ----------------------------------------------------


def _script(daemon: FakeDaemon) -> None:
    ping = Reply(200, b"OK", content_type="text/plain", headers={"Api-Version": "1.47"})
    daemon.route("GET", "/_ping", ping)
    daemon.route("HEAD", "/_ping", ping)
    daemon.route("GET", "/networks", json_reply(NETWORKS))
    daemon.route("POST", "/networks/create", json_reply({"Id": "1" * 64, "Warning": ""}, 201))
    for net in NETWORKS:
        daemon.route("GET", f"/networks/{net['Name']}", json_reply(net))
    daemon.route("GET", "/networks/*", error_reply(404, "network missing not found"))
    daemon.route("DELETE", "/networks/net9", Reply(204))
    daemon.route("DELETE", "/networks/*", error_reply(404, "network missing not found"))
    daemon.route("POST", "/networks/net9/connect", Reply(200))
    daemon.route("POST", "/networks/net9/disconnect", Reply(200))
    daemon.route("POST", "/networks/prune", json_reply({"NetworksDeleted": ["net9", "net10"]}))
    daemon.route("POST", "/networks/*", error_reply(404, "network missing not found"))


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[FakeDaemon]:
    d = FakeDaemon(str(tmp_path / "cove.sock"))
    _script(d)
    try:
        yield d
    finally:
        d.close()


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "COVE_HOST")}
    env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
    return env


def cove(daemon: FakeDaemon, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "COVE_HOST")}
    return subprocess.run([COVE, "-H", daemon.host, *args], capture_output=True, timeout=30,
                          env=env, check=False)


def _bodies(daemon: FakeDaemon, path_prefix: str = "/networks") -> list[Any]:
    return [r.json() if r.body else None for r in daemon.requests
            if r.path.startswith(path_prefix)]


def test_create_sends_dockers_body_and_prints_the_id(daemon: FakeDaemon) -> None:
    r = cove(daemon, "network", "create", "-d", "macvlan", "--subnet", "10.1.0.0/16,10.2.0.0/16",
             "--gateway", "10.2.0.1", "--ip-range", "10.1.1.0/24", "--aux-address",
             "a=10.1.0.5", "-o", "parent=eth0", "--label", "l1", "--label", "k=v",
             "--ipam-opt", "p=q", "--internal", "--attachable", "--ipv6", "--scope", "local",
             "n1")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"1" * 64 + b"\n", b"")
    assert daemon.find("POST", "/networks/create")[0].json() == {
        "Driver": "macvlan", "Scope": "local", "EnableIPv6": True,
        "IPAM": {"Driver": "default", "Options": {"p": "q"}, "Config": [
            {"Subnet": "10.1.0.0/16", "IPRange": "10.1.1.0/24",
             "AuxiliaryAddresses": {"a": "10.1.0.5"}},
            {"Subnet": "10.2.0.0/16", "Gateway": "10.2.0.1"}]},
        "Internal": True, "Attachable": True, "Ingress": False, "ConfigOnly": False,
        "ConfigFrom": None, "Options": {"parent": "eth0"}, "Labels": {"l1": "", "k": "v"},
        "Name": "n1"}
    r = cove(daemon, "network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1",
             "n2")
    assert (r.returncode, r.stdout, r.stderr) == (
        1, b"", b"no matching subnet for gateway 10.2.0.1\n")
    assert len(daemon.find("POST", "/networks/create")) == 1  # refused before asking
    r = cove(daemon, "network", "create")
    assert r.returncode == 1
    assert r.stderr.startswith(b"cove: 'cove network create' requires 1 argument\n")


def test_ls_sorts_naturally_and_sends_filters(daemon: FakeDaemon) -> None:
    r = cove(daemon, "network", "ls", "-f", "driver=bridge", "--filter", "label=a=1")
    assert r.returncode == 0, r.stderr
    assert [line.split()[1] for line in r.stdout.decode().splitlines()] == [
        "ID", "Net-with-a-name-longer-than-the-rest", "bridge", "net9", "net10"]
    assert json.loads(daemon.find("GET", "/networks")[0].arg("filters") or "") == {
        "driver": ["bridge"], "label": ["a=1"]}
    r = cove(daemon, "network", "list", "-q", "--no-trunc")
    assert r.stdout.decode().split() == ["c" * 64, "f" * 64, "b" * 64, "a" * 64]
    r = cove(daemon, "network", "ls", "-q", "--format", "{{.Name}}")  # a template wins over -q
    assert r.stdout.decode().split()[0] == "Net-with-a-name-longer-than-the-rest"
    r = cove(daemon, "network", "ls", "--format", "raw")
    assert r.stdout.decode().startswith(
        "network_id: cccccccccccc\nname: Net-with-a-name-longer-than-the-rest\n"
        "driver: null\nscope: local\n\nnetwork_id: ffffffffffff\n")
    r = cove(daemon, "network", "ls", "--format", "{{.Bogus}}")
    assert r.returncode == 1
    assert r.stderr.startswith(b"failed to execute template:")


def test_inspect_output_and_errors(daemon: FakeDaemon) -> None:
    r = cove(daemon, "network", "inspect", "net9", "missing", "bridge")
    assert r.returncode == 1
    assert json.loads(r.stdout) == [NET9, BRIDGE]
    assert r.stdout.startswith(b'[\n    {\n        "Name": "net9",\n')
    assert r.stderr == b"Error response from daemon: network missing not found\n"
    r = cove(daemon, "network", "inspect", "missing")
    assert (r.returncode, r.stdout) == (1, b"[]\n")
    r = cove(daemon, "network", "inspect", "-f", "{{.Name}} {{.Driver}}", "net9", "bridge")
    assert (r.returncode, r.stdout) == (0, b"net9 macvlan\nbridge bridge\n")
    r = cove(daemon, "network", "inspect", "-f", "{{.Nope}}", "net9")
    assert (r.returncode, r.stdout, r.stderr) == (
        1, b"\n", b'template parsing error: template: :1:2: executing "" at <.Nope>: '
        b'map has no entry for key "Nope"\n')
    r = cove(daemon, "network", "inspect", "-f", "{{.Name", "net9")
    assert r.returncode == 64
    r = cove(daemon, "network", "inspect", "-v", "--format", "json", "net9")
    assert json.loads(r.stdout) == [NET9]
    assert daemon.find("GET", "/networks/net9")[-1].arg("verbose") == "true"


def test_rm_reports_each_failure_and_force_ignores_missing(daemon: FakeDaemon) -> None:
    r = cove(daemon, "network", "rm", "net9", "missing", "net9")
    assert (r.returncode, r.stdout, r.stderr) == (
        1, b"net9\nnet9\n",
        b"Error response from daemon: network missing not found\nexit status 1\n")
    r = cove(daemon, "network", "remove", "-f", "missing", "net9")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"net9\n", b"")


def test_connect_and_disconnect_bodies(daemon: FakeDaemon) -> None:
    r = cove(daemon, "network", "connect", "--ip", "10.0.0.5", "--ip6", "fd00::5", "--alias",
             "a1,a3", "--alias", "a2", "--link", "x:y", "--driver-opt", "k=v",
             "--gw-priority", "5", "--link-local-ip", "169.254.0.1", "net9", "c1")
    assert (r.returncode, r.stdout, r.stderr) == (0, b"", b"")
    endpoint = daemon.find("POST", "/networks/net9/connect")[0].json()["EndpointConfig"]
    assert {k: v for k, v in endpoint.items() if v not in ("", 0, None)} == {
        "IPAMConfig": {"IPv4Address": "10.0.0.5", "IPv6Address": "fd00::5",
                       "LinkLocalIPs": ["169.254.0.1"]},
        "Links": ["x:y"], "Aliases": ["a1", "a3", "a2"], "DriverOpts": {"k": "v"},
        "GwPriority": 5}
    r = cove(daemon, "network", "connect", "--driver-opt", "k", "net9", "c1")
    assert (r.returncode, r.stderr) == (1, b"invalid key/value pair format in driver options\n")
    r = cove(daemon, "network", "disconnect", "-f", "net9", "c1")
    assert r.returncode == 0
    assert daemon.find("POST", "/networks/net9/disconnect")[0].json() == {
        "Container": "c1", "Force": True}
    r = cove(daemon, "network", "disconnect", "missing", "c1")
    assert (r.returncode, r.stderr) == (
        1, b"Error response from daemon: network missing not found\n")


def test_prune_and_group_help(daemon: FakeDaemon) -> None:
    r = cove(daemon, "network", "prune", "-f")
    assert (r.returncode, r.stdout) == (0, b"Deleted Networks:\nnet9\nnet10\n\n")
    r = cove(daemon, "network", "--help")
    assert r.returncode == 0
    for verb in ("connect", "create", "disconnect", "inspect", "ls", "prune", "rm"):
        assert f"\n  {verb}".encode() in r.stdout
    assert b"network     Manage networks" in cove(daemon, "--help").stdout


# -- the docker CLI on the same script ------------------------------------------------------


PARITY: list[list[str]] = [
    ["network", "ls"],
    ["network", "ls", "-q"],
    ["network", "ls", "--no-trunc", "-q"],
    ["network", "ls", "--format", "table {{.ID}}\\t{{.IPv6}}\\t{{.Internal}}\\t{{.CreatedAt}}"],
    ["network", "ls", "--format", "{{.Name}} {{.IPv4}} {{.Label \"a\"}} {{.Labels}}"],
    ["network", "ls", "--format", "json"],
    ["network", "ls", "--format", "raw"],
    ["network", "ls", "-q", "--format", "raw"],
    ["network", "ls", "extra"],
    ["network", "ls", "--format", "table {{.Name}}\\t{{.Label \"com.x-y_z\"}}\\t{{.Label \"a\"}}"],
    ["network", "inspect", "net9"],
    ["network", "inspect", "net9", "missing", "bridge"],
    ["network", "inspect", "missing"],
    ["network", "inspect", "--format", "json", "net9", "bridge"],
    ["network", "inspect", "-f", "{{.IPAM}}|{{.Containers}}|{{.Options}}|{{.ConfigFrom}}|"
     "{{.Peers}}|{{.Services}}|{{json .IPAM}}|{{.Created}}", "bridge", LONG["Name"], "net9"],
    ["network", "inspect", "-f", "{{.Name}}", "missing"],
    ["network", "inspect", "-f", "{{.Name", "net9"],
    ["network", "inspect", "-f", "{{.Nope}}", "net9"],
    ["network", "inspect", "-f", "{{.Id}} {{.ID}}", "net9"],
    ["network", "inspect"],
    ["network", "create", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.1.0.1", "--ip-range",
     "10.1.1.0/24", "--aux-address", "x=10.1.0.9", "-o", "a=b", "--label", "k", "--ipv4=false",
     "--ipv6", "--ipam-driver", "other", "--config-from", "base", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--gateway", "10.2.0.1", "n1"],
    ["network", "create", "--subnet", "10.1.0.0/16", "--subnet", "10.1.2.0/24", "n1"],
    ["network", "create", "--gateway", "10.1.0.1", "n1"],
    ["network", "create", "--label", "=a", "n1"],
    ["network", "create", "a", "b"],
    ["network", "rm", "net9", "missing", "net9"],
    ["network", "rm", "-f", "missing"],
    ["network", "rm"],
    ["network", "connect", "net9", "c1"],
    ["network", "connect", "--ip", "10.0.0.5", "--ip6", "fd00::5", "--alias", "a1,a2",
     "--link", "x:y", "--driver-opt", "k=v", "--gw-priority", "5", "net9", "c1"],
    ["network", "connect", "missing", "c1"],
    ["network", "connect", "net9"],
    ["network", "disconnect", "-f", "net9", "c1"],
    ["network", "disconnect", "missing", "c1"],
    ["network", "prune", "-f"],
]


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="no docker CLI")
@pytest.mark.parametrize("args", PARITY, ids=[" ".join(a) for a in PARITY])
def test_same_as_docker_on_the_same_daemon(tmp_path: Path, args: list[str]) -> None:
    outcomes: list[tuple[subprocess.CompletedProcess[bytes], FakeDaemon]] = []
    for exe in ([DOCKER], [COVE]):
        d = FakeDaemon(str(tmp_path / f"{len(outcomes)}.sock"))
        _script(d)
        try:
            r = subprocess.run([*exe, "-H", d.host, *args], capture_output=True, timeout=30,
                               env=_env(tmp_path), check=False)
        finally:
            d.close()
        outcomes.append((r, d))
    (want, docker_daemon), (got, cove_daemon) = outcomes
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), (
        want.stderr, got.stderr)
    assert got.stderr == want.stderr.replace(b"docker", b"cove")
    wanted = [(r.method, r.path, r.json() if r.body else None)
              for r in docker_daemon.requests
              if r.path != "/_ping" and not (r.method == "GET" and args[1] == "rm")]
    sent = [(r.method, r.path, r.json() if r.body else None) for r in cove_daemon.requests]
    assert sent == wanted


RUN_PARITY: list[list[str]] = [
    ["create", "busybox"],
    ["create", "--network", "n1", "busybox"],
    ["create", "--net", "n1", "--network", "n2", "--ip", "10.0.0.2", "--network-alias", "x",
     "busybox"],
    ["create", "--network", "n1", "--ip", "10.0.0.2", "--ip6", "fd00::2", "--link-local-ip",
     "169.254.1.1", "--link", "a:b", "busybox"],
    ["create", "--network", "name=N1,alias=a1,alias=a2,ip=10.0.0.3,ip6=fd00::3,"
     "mac-address=02:42:ac:11:00:09,driver-opt=k=v,link-local-ip=169.254.0.1,gw-priority=3",
     "--network", "n2", "busybox"],
    ["create", "--network", "bridge", "--ip", "10.0.0.2", "busybox"],
    ["create", "--network", "container:abc", "busybox"],
    ["create", "--link", "a:b", "busybox"],
    ["create", "--network", "name=n1,bogus=1", "busybox"],
    ["create", "--network", "alias=a", "busybox"],
    ["create", "--network", "name=n1,gw-priority=x", "busybox"],
    ["run", "--network", "host", "--network", "n1", "busybox"],
    ["run", "--network", "n1", "--network", "n1", "busybox"],
    ["run", "--network-alias", "a", "busybox"],
    ["run", "--network", "", "busybox"],
    ["run", "--network", "name=n1,alias=y", "--network-alias", "x", "busybox"],
    ["run", "--network", "name=n1,mac-address=zz", "busybox"],
]


def _networking_sent(daemon: FakeDaemon) -> list[Any]:
    """What the create bodies say about networks, zero values left out (docker sends them)."""
    out = []
    for req in daemon.find("POST", "/containers/create"):
        body = req.json()
        endpoints = {name: {k: v for k, v in (ep or {}).items() if v not in ("", 0, None, [], {})}
                     for name, ep in body["NetworkingConfig"]["EndpointsConfig"].items()}
        out.append((body["HostConfig"]["NetworkMode"], body["HostConfig"].get("Links"),
                    endpoints))
    return out


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="no docker CLI")
@pytest.mark.parametrize("args", RUN_PARITY, ids=[" ".join(a) for a in RUN_PARITY])
def test_network_flags_as_docker_sends_them(tmp_path: Path, args: list[str]) -> None:
    outcomes: list[tuple[subprocess.CompletedProcess[bytes], FakeDaemon]] = []
    for exe in ([DOCKER], [COVE]):
        d = FakeDaemon(str(tmp_path / f"{len(outcomes)}.sock"))
        _script(d)
        d.route("POST", "/containers/create", json_reply({"Id": "c" * 64, "Warnings": []}, 201))
        try:
            r = subprocess.run([*exe, "-H", d.host, *args], capture_output=True, timeout=30,
                               env=_env(tmp_path), check=False)
        finally:
            d.close()
        outcomes.append((r, d))
    (want, docker_daemon), (got, cove_daemon) = outcomes
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), (
        want.stderr, got.stderr)
    if args[0] == "run":  # (cove create's own errors lack docker's "docker: " prefix)
        assert got.stderr == want.stderr.replace(b"docker", b"cove")
    assert _networking_sent(cove_daemon) == _networking_sent(docker_daemon)
