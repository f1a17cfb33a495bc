"""CNI configuration parsing/validation, stdin building, CNI_ARGS, result typing (pure)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cove.errors import InvalidArgument, NotFound
from cove.network.cni import (
    CniConfigError,
    CniNetworkNotFound,
    convert_result,
    find_network,
    format_cni_args,
    list_networks,
    load_conflist,
    mac_of,
    parse_conf,
    parse_conflist,
    parse_result,
    plugin_stdin,
    primary_ipv4,
    runtime_config_for,
)
from cove.network.cni.result import CniResultError


def _conflist(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "cniVersion": "1.0.0", "name": "cvcni-unit",
        "plugins": [{"type": "bridge", "bridge": "cvcni9"},
                    {"type": "portmap", "capabilities": {"portMappings": True}}]}
    base.update(overrides)
    return base


def _write(path: Path, obj: Any) -> Path:
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_parse_conflist_keeps_bytes_plugins_and_capabilities() -> None:
    data = json.dumps(_conflist(disableCheck=True, disableGC="true")).encode()
    net = parse_conflist(data, "x.conflist")
    assert net.name == "cvcni-unit"
    assert net.cni_version == "1.0.0"
    assert [p.type for p in net.plugins] == ["bridge", "portmap"]
    assert net.plugins[1].capabilities == frozenset({"portMappings"})
    assert net.capabilities == frozenset({"portMappings"})
    assert net.raw_bytes == data
    assert net.disable_check is True
    assert net.disable_gc is True


@pytest.mark.parametrize(("obj", "problem"), [
    ("{\n  \"name\": \"x\",\n  oops\n}", "not valid JSON: Expecting property name enclosed in "
                                         "double quotes at line 3 column 3"),
    ([1, 2], "top level must be a JSON object"),
    (_conflist(name=None), "missing 'name'"),
    (_conflist(name="bad/name"), "invalid network name 'bad/name'"),
    (_conflist(name="-x"), "invalid network name '-x'"),
    (_conflist(cniVersion=None), "missing 'cniVersion'"),
    (_conflist(cniVersion="0.2.0"), "unsupported cniVersion '0.2.0'"),
    (_conflist(cniVersion="9.9.9"), "unsupported cniVersion '9.9.9'"),
    (_conflist(plugins=None), "missing 'plugins'"),
    (_conflist(plugins=[]), "'plugins' is empty"),
    (_conflist(plugins={"type": "bridge"}), "'plugins' must be an array"),
    (_conflist(plugins=[{"bridge": "x"}]), "plugins[0] is missing 'type'"),
    (_conflist(plugins=[{"type": "bridge"}, {"type": ""}]), "plugins[1] is missing 'type'"),
    (_conflist(plugins=[{"type": "../bin/sh"}]), "invalid plugin type '../bin/sh'"),
    (_conflist(plugins=[{"type": "x", "capabilities": {"a": 1}}]),
     "'capabilities' must map names to booleans"),
    (_conflist(disableCheck="maybe"), "'disableCheck' must be a boolean"),
])
def test_invalid_conflist_names_file_and_problem(tmp_path: Path, obj: Any, problem: str) -> None:
    path = _write(tmp_path / "10-bad.conflist", {k: v for k, v in obj.items() if v is not None}
                  if isinstance(obj, dict) else obj if isinstance(obj, str) else json.dumps(obj))
    with pytest.raises(CniConfigError) as info:
        load_conflist(str(path))
    assert isinstance(info.value, InvalidArgument)
    assert str(path) in str(info.value)
    assert problem in str(info.value)


def test_cni_versions_picks_highest_supported() -> None:
    net = parse_conflist(json.dumps(_conflist(
        cniVersion=None, cniVersions=["0.4.0", "1.1.0", "7.0.0"])).encode())
    assert net.cni_version == "1.1.0"
    with pytest.raises(CniConfigError, match="none of cniVersions"):
        parse_conflist(json.dumps(_conflist(cniVersions=["7.0.0"], cniVersion="6.0.0")).encode())


def test_single_conf_is_wrapped_into_a_list(tmp_path: Path) -> None:
    conf = {"cniVersion": "0.4.0", "name": "cvcni-single", "type": "bridge",
            "capabilities": {"ips": True}}
    net = load_conflist(str(_write(tmp_path / "20-one.conf", conf)))
    assert net.name == "cvcni-single"
    assert net.cni_version == "0.4.0"
    assert len(net.plugins) == 1
    assert net.plugins[0].raw == conf
    assert json.loads(net.raw_bytes)["plugins"] == [conf]
    with pytest.raises(CniConfigError, match="missing 'type'"):
        parse_conf(json.dumps({"cniVersion": "1.0.0", "name": "x"}).encode(), "y.conf")


def test_find_network_order_conflist_first_then_lexical(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    # libcni order per dir: *.conflist (lexical), then *.conf/*.json (lexical).
    _write(a / "00-first.conf", {"cniVersion": "1.0.0", "name": "dup", "type": "bridge"})
    _write(a / "50-list.conflist", _conflist(name="dup"))
    _write(a / "10-other.json", {"cniVersion": "1.0.0", "name": "other", "type": "macvlan"})
    _write(a / "ignored.txt", "not json")
    _write(b / "00-later.conflist", _conflist(name="inb"))
    (a / "dir.conflist").mkdir()
    assert find_network([str(a), str(b)], "dup").source == str(a / "50-list.conflist")
    assert find_network([str(a), str(b)], "other").plugins[0].type == "macvlan"
    assert find_network([str(a), str(b)], "inb").source == str(b / "00-later.conflist")
    names = [n.name for n in list_networks([str(a), str(b), str(tmp_path / "missing")])]
    assert names == ["dup", "other", "inb"]
    with pytest.raises(CniNetworkNotFound) as info:
        find_network([str(a)], "nope")
    assert isinstance(info.value, NotFound)


def test_find_network_reports_broken_file(tmp_path: Path) -> None:
    _write(tmp_path / "10-broken.conflist", '{"name": "x",')
    with pytest.raises(CniConfigError, match="10-broken.conflist: not valid JSON"):
        find_network([str(tmp_path)], "x")


def test_runtime_config_only_for_declared_capabilities() -> None:
    net = parse_conflist(json.dumps(_conflist(plugins=[
        {"type": "portmap", "capabilities": {"portMappings": True, "ips": False}},
        {"type": "tuning", "capabilities": {"mac": True}},
        {"type": "bridge", "runtimeConfig": {"stale": 1}, "prevResult": {"stale": 1}},
    ])).encode())
    caps = {"portMappings": [{"hostPort": 1, "containerPort": 2}], "ips": ["10.204.0.5/24"],
            "mac": "02:00:00:00:00:01", "bandwidth": {"ingressRate": 1}}
    assert runtime_config_for(net.plugins[0], caps) == {"portMappings": caps["portMappings"]}
    assert runtime_config_for(net.plugins[1], caps) == {"mac": caps["mac"]}
    stdin = json.loads(plugin_stdin("cvcni-unit", "1.0.0", net.plugins[0], capability_args=caps))
    assert stdin["runtimeConfig"] == {"portMappings": caps["portMappings"]}
    assert stdin["name"] == "cvcni-unit"
    assert stdin["cniVersion"] == "1.0.0"
    assert "prevResult" not in stdin
    prev = {"cniVersion": "1.0.0", "ips": []}
    stdin = json.loads(plugin_stdin("n", "1.0.0", net.plugins[2], prev_result=prev,
                                    capability_args=caps))
    assert stdin["prevResult"] == prev
    assert "runtimeConfig" not in stdin  # bridge declares nothing; the file's stale key is gone


def test_cni_args_format() -> None:
    assert format_cni_args({"IgnoreUnknown": "1", "K8S_POD_NAME": "web"}) == \
        "IgnoreUnknown=1;K8S_POD_NAME=web"
    assert format_cni_args([("A", "x=y")]) == "A=x=y"
    assert format_cni_args({}) == ""
    for bad in ({"A;B": "1"}, {"A": "1;B=2"}, {"": "x"}, {"A=B": "x"}):
        with pytest.raises(InvalidArgument, match="invalid CNI_ARGS entry"):
            format_cni_args(bad)


_RESULT_040: dict[str, Any] = {
    "cniVersion": "0.4.0",
    "interfaces": [{"name": "cvcni0", "mac": "0e:00:00:00:00:01"},
                   {"name": "veth1", "mac": "0e:00:00:00:00:02"},
                   {"name": "eth0", "mac": "9e:00:00:00:00:03", "sandbox": "/run/netns/x"}],
    "ips": [{"version": "6", "interface": 2, "address": "fd00::2/64"},
            {"version": "4", "interface": 2, "address": "10.204.1.2/24",
             "gateway": "10.204.1.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.204.1.1"}, {"dst": "10.9.0.0/16"}],
    "dns": {"nameservers": ["10.204.1.1"], "search": ["example"]},
}


def test_result_parse_and_helpers() -> None:
    result = parse_result(_RESULT_040)
    assert [i.name for i in result.interfaces] == ["cvcni0", "veth1", "eth0"]
    assert result.interfaces[2].sandbox == "/run/netns/x"
    assert str(result.ips[1].address) == "10.204.1.2/24"
    assert str(result.ips[1].gateway) == "10.204.1.1"
    assert str(result.routes[0].dst) == "0.0.0.0/0"
    assert result.routes[1].gw is None
    assert result.dns.nameservers == ("10.204.1.1",)
    assert primary_ipv4(result, "eth0") == ("10.204.1.2/24", "10.204.1.1")
    assert primary_ipv4(result, "cvcni0") is None
    assert mac_of(result, "eth0") == "9e:00:00:00:00:03"
    assert mac_of(result, "eth9") is None
    bare = parse_result({"cniVersion": "1.0.0", "ips": [{"address": "10.204.3.4/16"}]})
    assert primary_ipv4(bare, "eth0") == ("10.204.3.4/16", None)


def test_result_version_conversion() -> None:
    v1 = convert_result(_RESULT_040, "1.0.0")
    assert v1["cniVersion"] == "1.0.0"
    assert all("version" not in ip for ip in v1["ips"])
    back = convert_result(v1, "0.3.1")
    assert [ip["version"] for ip in back["ips"]] == ["6", "4"]
    assert _RESULT_040["ips"][0]["version"] == "6"  # input untouched


@pytest.mark.parametrize("bad", [
    {"ips": [{"address": "nonsense"}]},
    {"ips": [{"address": "10.0.0.1/24", "interface": 5}], "interfaces": []},
    {"interfaces": [{"mac": "x"}]},
    {"dns": {"nameservers": "10.0.0.1"}},
])
def test_result_malformed(bad: dict[str, Any]) -> None:
    with pytest.raises(CniResultError):
        parse_result({"cniVersion": "1.0.0", **bad})
