"""CNI runtime against Debian's real plugins (bridge, host-local, portmap, tuning, bandwidth,
firewall) in a namespace of our own, plus small scripted plugins for the protocol corners
the real ones do not reach (1.1.0 GC/STATUS, error objects, timeouts).

Kernel objects: netns cvcni-a, bridges cvcni0/cvcni1, subnet 10.204.0.0/16, iptables
rules of the portmap/firewall plugins that name our networks or addresses.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cove.errors import AlreadyExists, NotFound, Unsupported
from cove.network.cni import (
    CniConfigError,
    CniGCError,
    CniPluginError,
    CniPluginNotFound,
    CniRuntime,
    find_network,
    load_conflist,
    mac_of,
    primary_ipv4,
)

PLUGIN_DIR = "/usr/lib/cni"
NETNS = "cvcni-a"
NETNS_PATH = f"/var/run/netns/{NETNS}"
BRIDGES = ("cvcni0", "cvcni1")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(f"{PLUGIN_DIR}/bridge"),
    reason="needs root and Debian's containernetworking-plugins in /usr/lib/cni")


def _run(*cmd: str, check: bool = True) -> str:
    return subprocess.run(cmd, check=check, capture_output=True, text=True).stdout


def _cleanup_iptables() -> None:
    """Remove the per-network rules/chains portmap and firewall left for OUR networks only."""
    for table in ("nat", "filter"):
        rules = _run("iptables", "-t", table, "-S", check=False).splitlines()
        for rule in rules:
            mine = ('name: \\"cvcni-' in rule or 'name: "cvcni-' in rule
                    or "10.204." in rule)
            if not rule.startswith("-A ") or not mine:
                continue
            parts = shlex.split(rule)
            _run("iptables", "-t", table, "-D", *parts[1:], check=False)
            if "-j" in parts:
                target = parts[parts.index("-j") + 1]
                if target.startswith(("CNI-DN-", "CNI-")) and target not in (
                        "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "CNI-HOSTPORT-DNAT",
                        "CNI-FORWARD", "CNI-ADMIN"):
                    _run("iptables", "-t", table, "-F", target, check=False)
                    _run("iptables", "-t", table, "-X", target, check=False)


@pytest.fixture
def netns() -> Iterator[str]:
    _run("ip", "netns", "add", NETNS)
    try:
        yield NETNS_PATH
    finally:
        _run("ip", "netns", "del", NETNS, check=False)
        for bridge in BRIDGES:
            _run("ip", "link", "del", bridge, check=False)
        _cleanup_iptables()


@pytest.fixture
def rt(tmp_path: Path) -> CniRuntime:
    return CniRuntime([PLUGIN_DIR], str(tmp_path / "cache"), timeout=30)


def _bridge_plugin(tmp_path: Path, bridge: str, subnet: str) -> dict[str, Any]:
    return {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
            "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                     "dataDir": str(tmp_path / "ipam")}}


def _write_conf(tmp_path: Path, name: str, plugins: list[dict[str, Any]],
                version: str = "1.0.0", **extra: Any) -> Path:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir(exist_ok=True)
    path = conf_dir / f"10-{name}.conflist"
    path.write_text(json.dumps({"cniVersion": version, "name": name, "plugins": plugins,
                                **extra}, indent=2))
    return path


def _connect(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(2)
        return s.recv(16)


@pytest.fixture
def server(netns: str) -> Iterator[None]:
    """A TCP server on 0.0.0.0:8080 in the namespace that answers b"cvcni\\n"."""
    code = ("import socket\n"
            "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind(('0.0.0.0', 8080)); s.listen(); print('ready', flush=True)\n"
            "while True:\n    c, _ = s.accept(); c.sendall(b'cvcni\\n'); c.close()\n")
    proc = subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, "-c", code],
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        yield
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def _links_in_ns() -> str:
    return _run("ip", "-n", NETNS, "-o", "link")


def test_full_chain_add_reach_check_del(tmp_path: Path, rt: CniRuntime, netns: str,
                                        server: None) -> None:
    conf_path = _write_conf(tmp_path, "cvcni-full", [
        _bridge_plugin(tmp_path, "cvcni0", "10.204.1.0/24"),
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "tuning"},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}},
        {"type": "firewall", "backend": "iptables"},
    ])
    net = find_network([str(conf_path.parent)], "cvcni-full")
    caps = {"portMappings": [{"hostPort": 18180, "containerPort": 8080, "protocol": "tcp"}],
            "bandwidth": {"ingressRate": 100_000_000, "ingressBurst": 1_000_000,
                          "egressRate": 100_000_000, "egressBurst": 1_000_000},
            "ips": ["10.204.1.77/24"]}  # no plugin declares "ips": must not reach any
    result = rt.add(net, "cvcni-c1", netns, "eth0", args={"IgnoreUnknown": "1"},
                    capability_args=caps)

    addr = primary_ipv4(result, "eth0")
    assert addr is not None
    cidr, gateway = addr
    ip = cidr.split("/")[0]
    assert cidr.startswith("10.204.1.") and cidr != "10.204.1.77/24"
    assert gateway == "10.204.1.1"
    assert f"inet {cidr}" in _run("ip", "-n", NETNS, "addr", "show", "eth0")
    assert mac_of(result, "eth0") in _links_in_ns()
    assert "inet 10.204.1.1/24" in _run("ip", "addr", "show", "cvcni0")
    host_veth = next(i.name for i in result.interfaces if i.name.startswith("veth"))
    assert "tbf" in _run("tc", "qdisc", "show", "dev", host_veth)  # bandwidth plugin

    # Reachable from the host directly, and through portmap on the bridge address and on
    # 127.0.0.1 (portmap sets route_localnet on the bridge so DNAT of loopback works).
    assert _connect(ip, 8080) == b"cvcni\n"
    assert _connect("10.204.1.1", 18180) == b"cvcni\n"
    assert _connect("127.0.0.1", 18180) == b"cvcni\n"
    assert _run("sysctl", "-n", "net.ipv4.conf.cvcni0.route_localnet").strip() == "1"

    cache = Path(rt.cache_path("cvcni-full", "cvcni-c1", "eth0"))
    info = json.loads(cache.read_text())
    assert info["kind"] == "cniCacheV1"
    assert base64.b64decode(info["config"]) == conf_path.read_bytes()
    assert (info["containerId"], info["ifName"], info["networkName"]) == \
        ("cvcni-c1", "eth0", "cvcni-full")
    assert info["cniArgs"] == [["IgnoreUnknown", "1"]]
    assert info["capabilityArgs"] == caps
    assert info["result"] == dict(result.raw)
    lease = tmp_path / "ipam" / "cvcni-full" / ip
    assert lease.exists()
    assert [(a.network, a.container_id, a.ifname) for a in rt.cached_attachments()] == \
        [("cvcni-full", "cvcni-c1", "eth0")]

    # A second attachment on eth1 (same namespace) is deleted with the config object.
    result2 = rt.add(net, "cvcni-c2", netns, "eth1")
    addr2 = primary_ipv4(result2, "eth1")
    assert addr2 is not None
    rt.delete(net, "cvcni-c2", netns, "eth1")
    assert "eth1" not in _links_in_ns()
    assert not (tmp_path / "ipam" / "cvcni-full" / addr2[0].split("/")[0]).exists()
    assert not Path(rt.cache_path("cvcni-full", "cvcni-c2", "eth1")).exists()

    # "Restart": the config object and file are gone; DEL works from the cache alone.
    del net
    conf_path.unlink()
    rt2 = CniRuntime([PLUGIN_DIR], rt.cache_dir)
    rt2.delete(None, "cvcni-c1", netns, "eth0")
    assert "eth0" not in _links_in_ns()
    assert host_veth not in _run("ip", "-o", "link")
    assert not lease.exists()
    assert not cache.exists()
    assert rt2.cached_attachments() == []
    nat = _run("iptables", "-t", "nat", "-S")
    assert "cvcni-full" not in nat and "18180" not in nat
    assert ip not in _run("iptables", "-S")  # firewall rules for the address are gone
    with pytest.raises(OSError):
        _connect("127.0.0.1", 18180)
    rt2.delete(None, "cvcni-c1", netns, "eth0")  # nothing cached, no config: a no-op


def test_check_ok_then_detects_damage(tmp_path: Path, rt: CniRuntime, netns: str) -> None:
    # portmap is left out: its CHECK in plugins <= 1.2 always fails for IPv4-only
    # results (containernetworking/plugins#819, looks for an ip6tables chain).
    net = load_conflist(str(_write_conf(tmp_path, "cvcni-chk", [
        _bridge_plugin(tmp_path, "cvcni1", "10.204.2.0/24"),
        {"type": "tuning"},
        {"type": "firewall", "backend": "iptables"},
    ])))
    result = rt.add(net, "cvcni-k1", netns, "eth0")
    rt.check(net, "cvcni-k1", netns, "eth0")
    rt.check(None, "cvcni-k1", netns, "eth0")  # from the cache alone
    addr = primary_ipv4(result, "eth0")
    assert addr is not None
    _run("ip", "-n", NETNS, "addr", "del", addr[0], "dev", "eth0")
    with pytest.raises(CniPluginError) as info:
        rt.check(net, "cvcni-k1", netns, "eth0")
    assert info.value.plugin == "bridge"
    assert info.value.command == "CHECK"
    assert info.value.code != 0 and info.value.msg
    rt.check(replace(net, disable_check=True), "cvcni-k1", netns, "eth0")  # not run at all
    rt.delete(net, "cvcni-k1", netns, "eth0")
    with pytest.raises(NotFound, match="no cached ADD result"):
        rt.check(net, "cvcni-k1", netns, "eth0")


def _ipam_leases(tmp_path: Path, network: str) -> list[str]:
    d = tmp_path / "ipam" / network
    return sorted(p.name for p in d.iterdir() if p.name[0].isdigit()) if d.exists() else []


def test_exhausted_range_fails_cleanly(tmp_path: Path, rt: CniRuntime, netns: str) -> None:
    # A /30 holds one address besides the gateway.
    net = load_conflist(str(_write_conf(tmp_path, "cvcni-tiny", [
        _bridge_plugin(tmp_path, "cvcni0", "10.204.3.0/30"), {"type": "tuning"}])))
    rt.add(net, "cvcni-t1", netns, "eth0")
    veths_before = _run("ip", "-o", "link", "show", "master", "cvcni0")
    with pytest.raises(CniPluginError) as info:
        rt.add(net, "cvcni-t2", netns, "eth1")
    err = info.value
    assert err.plugin == "bridge" and err.command == "ADD"
    assert err.code > 0
    assert "10.204.3." in err.msg or "10.204.3." in err.details
    assert f"CNI error {err.code}: {err.msg}" in str(err)
    assert "eth1" not in _links_in_ns()
    assert _run("ip", "-o", "link", "show", "master", "cvcni0") == veths_before
    assert _ipam_leases(tmp_path, "cvcni-tiny") == ["10.204.3.2"]
    assert not Path(rt.cache_path("cvcni-tiny", "cvcni-t2", "eth1")).exists()
    rt.delete(net, "cvcni-t1", netns, "eth0")
    assert _ipam_leases(tmp_path, "cvcni-tiny") == []


def test_mid_chain_failure_undoes_earlier_plugins(tmp_path: Path, rt: CniRuntime,
                                                  netns: str) -> None:
    net = load_conflist(str(_write_conf(tmp_path, "cvcni-mid", [
        _bridge_plugin(tmp_path, "cvcni0", "10.204.4.0/24"), {"type": "cvcni-no-such-plugin"}])))
    with pytest.raises(CniPluginNotFound) as info:
        rt.add(net, "cvcni-m1", netns, "eth0")
    assert info.value.plugin == "cvcni-no-such-plugin"
    assert isinstance(info.value, NotFound)
    assert "eth0" not in _links_in_ns()
    assert _run("ip", "-o", "link", "show", "master", "cvcni0", check=False).strip() == ""
    assert _ipam_leases(tmp_path, "cvcni-mid") == []
    assert rt.cached_attachments() == []


def test_unparsable_conflist_names_file(tmp_path: Path) -> None:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    bad = conf_dir / "05-cvcni-bad.conflist"
    bad.write_text('{"cniVersion": "1.0.0",\n "name": "cvcni-bad",\n "plugins": [,]}')
    with pytest.raises(CniConfigError) as info:
        find_network([str(conf_dir)], "cvcni-bad")
    assert str(bad) in str(info.value)
    assert "line 3 column 14" in str(info.value)


def test_version_of_bridge(rt: CniRuntime) -> None:
    info = rt.version("bridge")
    assert "1.0.0" in info["supportedVersions"]
    assert "0.4.0" in info["supportedVersions"]
    with pytest.raises(CniPluginNotFound, match="no executable in /usr/lib/cni"):
        rt.version("cvcni-nothing")


def test_validate_plugins_and_versions(tmp_path: Path, rt: CniRuntime) -> None:
    plugins: list[dict[str, Any]] = [
        {"type": "bridge"}, {"type": "portmap", "capabilities": {"portMappings": True}}]
    net = load_conflist(str(_write_conf(tmp_path, "cvcni-val", plugins)))
    assert rt.validate(net) == frozenset({"portMappings"})
    # Debian's 1.1.1 plugins stop at spec 1.0.0.
    newer = load_conflist(str(_write_conf(tmp_path, "cvcni-val", plugins, "1.1.0")))
    with pytest.raises(Unsupported, match="plugin 'bridge' does not support cniVersion 1.1.0"):
        rt.validate(newer)
    missing = load_conflist(str(_write_conf(tmp_path, "cvcni-val", [{"type": "cvcni-none"}])))
    with pytest.raises(CniPluginNotFound):
        rt.validate(missing)


# -- scripted plugins -------------------------------------------------------------------

_FAKE = r'''#!{python}
import json, os, sys, time
stdin = sys.stdin.read()
cmd = os.environ["CNI_COMMAND"]
with open({log!r}, "a") as f:
    f.write(json.dumps({{"cmd": cmd, "stdin": json.loads(stdin) if stdin else None,
        "env": {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}}}) + "\n")
if cmd == "VERSION":
    print(json.dumps({{"cniVersion": "1.1.0", "supportedVersions": {versions!r}}}))
    sys.exit(0)
mode = {mode!r}
if mode == "error" and cmd == "ADD":
    print(json.dumps({{"cniVersion": "1.1.0", "code": 11, "msg": "try again later",
                      "details": "pool busy"}}))
    sys.exit(1)
if mode == "garbage" and cmd == "ADD":
    print("panic: runtime error"); sys.stderr.write("goroutine 1 [running]\n"); sys.exit(2)
if mode == "hang" and cmd == "ADD":
    time.sleep(30)
if mode == "unready" and cmd == "STATUS":
    print(json.dumps({{"cniVersion": "1.1.0", "code": 50, "msg": "plugin not available"}}))
    sys.exit(1)
if cmd == "ADD":
    conf = json.loads(stdin)
    prev = conf.get("prevResult") or {{"cniVersion": conf["cniVersion"], "interfaces": [],
                                       "ips": []}}
    prev["interfaces"] = prev["interfaces"] + [{{"name": os.environ["CNI_IFNAME"],
        "mac": "02:00:00:00:00:0" + str(len(prev["interfaces"])), "sandbox": "x"}}]
    prev["ips"] = prev["ips"] or [{{"address": "10.204.9.2/24", "interface": 0}}]
    print(json.dumps(prev))
'''


def _fake_plugin(bin_dir: Path, name: str, log: Path, mode: str = "ok",
                 versions: tuple[str, ...] = ("0.4.0", "1.0.0", "1.1.0")) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(_FAKE.format(python=sys.executable, log=str(log), mode=mode,
                                 versions=list(versions)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _fake_net(tmp_path: Path, name: str, types: list[str], version: str = "1.1.0",
              **extra: Any) -> Any:
    plugins = [{"type": t, "capabilities": {"portMappings": True}} if i == 0 else {"type": t}
               for i, t in enumerate(types)]
    return load_conflist(str(_write_conf(tmp_path, name, plugins, version, **extra)))


def test_protocol_env_stdin_and_chaining(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    _fake_plugin(tmp_path / "bin", "cvcni-p1", log)
    _fake_plugin(tmp_path / "bin", "cvcni-p2", log)
    rt = CniRuntime([str(tmp_path / "bin"), "/nonexistent"], str(tmp_path / "cache"))
    net = _fake_net(tmp_path, "cvcni-proto", ["cvcni-p1", "cvcni-p2"])
    caps = {"portMappings": [{"hostPort": 1}], "mac": "02:11:22:33:44:55"}
    result = rt.add(net, "cvcni-x", "/proc/1/ns/net", "eth3", args={"A": "1", "B": "2"},
                    capability_args=caps)
    assert [i.name for i in result.interfaces] == ["eth3", "eth3"]
    add1, add2 = _calls(log)
    assert add1["env"] == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "cvcni-x",
                           "CNI_NETNS": "/proc/1/ns/net", "CNI_IFNAME": "eth3",
                           "CNI_ARGS": "A=1;B=2",
                           "CNI_PATH": f"{tmp_path / 'bin'}:/nonexistent"}
    assert add1["stdin"]["name"] == "cvcni-proto"
    assert add1["stdin"]["cniVersion"] == "1.1.0"
    assert add1["stdin"]["runtimeConfig"] == {"portMappings": [{"hostPort": 1}]}
    assert "prevResult" not in add1["stdin"]
    assert "runtimeConfig" not in add2["stdin"]
    assert add2["stdin"]["prevResult"]["interfaces"][0]["mac"] == "02:00:00:00:00:00"
    with pytest.raises(AlreadyExists, match="already attached to cvcni-x/eth3"):
        rt.add(net, "cvcni-x", "/proc/1/ns/net", "eth3")
    assert len(_calls(log)) == 2  # refused before any plugin ran
    log.unlink()
    rt.delete(None, "cvcni-x", "", "eth3")  # namespace gone: CNI_NETNS empty is allowed
    del2, del1 = _calls(log)
    assert (del2["cmd"], del1["cmd"]) == ("DEL", "DEL")
    assert del2["stdin"]["type"] == "cvcni-p2"
    assert del1["env"]["CNI_NETNS"] == ""
    assert del1["env"]["CNI_ARGS"] == "A=1;B=2"  # from the cache
    assert del1["stdin"]["prevResult"] == dict(result.raw)
    assert del1["stdin"]["runtimeConfig"] == {"portMappings": [{"hostPort": 1}]}


def test_plugin_errors(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    _fake_plugin(bin_dir, "cvcni-ok", log)
    _fake_plugin(bin_dir, "cvcni-err", log, mode="error")
    _fake_plugin(bin_dir, "cvcni-garbage", log, mode="garbage")
    _fake_plugin(bin_dir, "cvcni-hang", log, mode="hang")
    rt = CniRuntime([str(bin_dir)], str(tmp_path / "cache"), timeout=1)

    net = _fake_net(tmp_path, "cvcni-e1", ["cvcni-ok", "cvcni-err"])
    with pytest.raises(CniPluginError) as info:
        rt.add(net, "cvcni-x", "", "eth0")
    assert (info.value.code, info.value.msg, info.value.details) == \
        (11, "try again later", "pool busy")
    assert str(info.value) == \
        'plugin "cvcni-err" failed on ADD (CNI error 11: try again later): pool busy'
    # Rolled back: DEL for the whole list, in reverse, after the failed ADD.
    assert [(c["cmd"], c["stdin"]["type"]) for c in _calls(log)] == [
        ("ADD", "cvcni-ok"), ("ADD", "cvcni-err"), ("DEL", "cvcni-err"), ("DEL", "cvcni-ok")]
    assert rt.cached_attachments() == []

    with pytest.raises(CniPluginError, match="exited with status 2 without a CNI error") as info:
        rt.add(_fake_net(tmp_path, "cvcni-e2", ["cvcni-garbage"]), "cvcni-x", "", "eth0")
    assert info.value.code == 0
    assert "goroutine 1 [running]" in info.value.details
    assert "panic: runtime error" in info.value.details

    start = time.monotonic()
    with pytest.raises(CniPluginError, match="timed out after 1s"):
        rt.add(_fake_net(tmp_path, "cvcni-e3", ["cvcni-hang"]), "cvcni-x", "", "eth0")
    assert time.monotonic() - start < 10


def test_gc_and_status_1_1(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    _fake_plugin(bin_dir, "cvcni-new", log)
    _fake_plugin(bin_dir, "cvcni-old", log, versions=("0.4.0", "1.0.0"))
    _fake_plugin(bin_dir, "cvcni-unready", log, mode="unready")
    rt = CniRuntime([str(bin_dir)], str(tmp_path / "cache"))
    net = _fake_net(tmp_path, "cvcni-gc", ["cvcni-new", "cvcni-old"], cniVersions=["1.1.0"])
    for cid in ("cvcni-a1", "cvcni-a2"):
        rt.add(net, cid, "", "eth0")
    log.unlink()
    rt.gc(net, [("cvcni-a1", "eth0")])
    calls = [(c["cmd"], c["stdin"].get("type") if c["stdin"] else None,
              c["env"]["CNI_CONTAINERID"]) for c in _calls(log)]
    # The stale attachment is DELeted; only the 1.1.0 plugin gets GC (old one: VERSION only).
    assert calls[:2] == [("DEL", "cvcni-old", "cvcni-a2"), ("DEL", "cvcni-new", "cvcni-a2")]
    assert ("GC", "cvcni-new", "") in calls
    assert ("GC", "cvcni-old", "") not in calls
    gc_call = next(c for c in _calls(log) if c["cmd"] == "GC")
    assert gc_call["stdin"]["cni.dev/valid-attachments"] == [
        {"containerID": "cvcni-a1", "ifname": "eth0"}]
    assert gc_call["stdin"]["cni.dev/attachments"] == gc_call["stdin"][
        "cni.dev/valid-attachments"]
    assert [a.container_id for a in rt.cached_attachments()] == ["cvcni-a1"]

    log.unlink()
    rt.status(net)
    assert [(c["cmd"], c["stdin"]["type"]) for c in _calls(log)] == [("STATUS", "cvcni-new")]
    with pytest.raises(CniPluginError, match="CNI error 50: plugin not available"):
        rt.status(_fake_net(tmp_path, "cvcni-st", ["cvcni-unready"]))

    log.unlink()
    rt.gc(replace(net, disable_gc=True), [])
    rt.status(replace(net, cni_version="1.0.0"))
    rt.gc(replace(net, cni_version="1.0.0"), [("cvcni-a1", "eth0")])
    assert _calls(log) == []  # disableGC / pre-1.1 lists: no GC or STATUS calls

    with pytest.raises(CniGCError, match="cvcni-broken"):
        rt.add(_fake_net(tmp_path, "cvcni-gc2", ["cvcni-new"]), "cvcni-b", "", "eth0")
        broken = _fake_net(tmp_path, "cvcni-gc2", ["cvcni-broken"])
        (bin_dir / "cvcni-broken").write_text("#!/bin/sh\nexit 3\n")
        rt.gc(broken, [])
