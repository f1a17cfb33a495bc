"""Container networking through the real docker CLI and the API: user networks with
names, isolation, published ports, shared namespaces, connect/disconnect, bad input.

Traffic only flows between this daemon's own containers and 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time

import pytest

from tests.engine_fixtures import Engine
from tests.integration.netengine.conftest import docker, links, ok

HTTPD = ["httpd", "-f", "-p", "80", "-h", "/etc"]
# Debian's busybox-static wget crashes (SIGSEGV) when given -T: `timeout N wget` instead.


def inspect(engine: Engine, ref: str) -> dict:
    status, body = engine.request("GET", f"/containers/{ref}/json")
    assert status == 200, body
    return body


def address(engine: Engine, ref: str, network: str) -> str:
    return str(inspect(engine, ref)["NetworkSettings"]["Networks"][network]["IPAddress"])


def wait_port(host: str, port: int, timeout: float = 5.0) -> bytes:
    """An HTTP GET of /hostname through (host, port); retried while httpd starts."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.sendall(b"GET /hostname HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
                return data
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_containers_reach_each_other_by_name_and_alias(net: Engine) -> None:
    ok(net, "network", "create", "front")
    ok(net, "run", "-d", "--name", "web", "--network", "front", "--network-alias", "www",
       "busybox", *HTTPD)
    out = ok(net, "run", "--rm", "--network", "front", "busybox", "sh", "-c",
             "ping -c1 -W3 web >/dev/null && timeout 5 wget -qO- http://www/hostname && "
             "timeout 5 wget -qO- http://web.front/hostname && cat /etc/resolv.conf")
    web_id = inspect(net, "web")["Id"]
    assert out.count(web_id[:12]) == 2, out
    assert "nameserver 127.0.0.11" in out
    settings = inspect(net, "web")["NetworkSettings"]["Networks"]["front"]
    assert settings["IPAddress"] and settings["Gateway"] and settings["EndpointID"]
    assert {"web", "www", web_id[:12]} <= set(settings["DNSNames"])
    # An unknown name is forwarded (to the daemon's --dns, 127.0.0.1, where nothing
    # answers): the lookup fails, fast.
    proc = docker(net, "run", "--rm", "--network", "front", "busybox", "nslookup",
                  "nosuchname.invalid", "127.0.0.11")
    assert proc.returncode != 0


def test_networks_are_isolated_and_default_bridge_has_no_names(net: Engine) -> None:
    ok(net, "network", "create", "one")
    ok(net, "network", "create", "two")
    ok(net, "run", "-d", "--name", "a1", "--network", "one", "busybox", *HTTPD)
    target = address(net, "a1", "one")
    proc = docker(net, "run", "--rm", "--network", "two", "busybox", "sh", "-c",
                  f"timeout 2 wget -qO- http://{target}/hostname; echo rc=$?")
    assert "rc=0" not in proc.stdout, proc.stdout
    proc = docker(net, "run", "--rm", "--network", "two", "busybox", "nslookup", "a1")
    assert proc.returncode != 0
    # The default bridge: reachable by address, not by name (as in Docker).
    ok(net, "run", "-d", "--name", "b1", "busybox", *HTTPD)
    b1 = address(net, "b1", "bridge")
    out = ok(net, "run", "--rm", "busybox", "sh", "-c",
             f"timeout 3 wget -qO- http://{b1}/hostname; ping -c1 -W1 b1 >/dev/null 2>&1; "
             "echo rc=$?; cat /etc/resolv.conf")
    assert inspect(net, "b1")["Id"][:12] in out and "rc=0" not in out
    assert "127.0.0.11" not in out and "nameserver 127.0.0.1" in out
    # Top-level (legacy) fields are the default bridge's.
    assert inspect(net, "b1")["NetworkSettings"]["IPAddress"] == b1


def test_internal_network_has_no_route_out(net: Engine) -> None:
    ok(net, "network", "create", "--internal", "--subnet", "10.250.7.0/24", "inner")
    out = ok(net, "run", "--rm", "--network", "inner", "busybox", "sh", "-c", "ip route")
    assert "default" not in out and "10.250.7.0/24" in out
    # the host's side (the bridge address that would be the gateway) is not reachable
    proc = docker(net, "run", "--rm", "--network", "inner", "busybox", "sh", "-c",
                  "ping -c1 -W1 10.250.7.1 >/dev/null 2>&1; echo rc=$?")
    assert "rc=0" not in proc.stdout


def test_published_port_answers_on_loopback_and_is_released(net: Engine) -> None:
    ok(net, "run", "-d", "--name", "pub", "-p", "127.0.0.1:18081:80", "-p", "18082:80",
       "busybox", *HTTPD)
    cid = inspect(net, "pub")["Id"]
    assert cid[:12].encode() in wait_port("127.0.0.1", 18081)
    assert cid[:12].encode() in wait_port("127.0.0.1", 18082)
    assert sorted(ok(net, "port", "pub", "80").split()) == ["0.0.0.0:18082", "127.0.0.1:18081"]
    ports = inspect(net, "pub")["NetworkSettings"]["Ports"]["80/tcp"]
    assert {"HostIp": "127.0.0.1", "HostPort": "18081"} in ports
    # A busy host port: Docker's words, and the container is not left half-configured.
    proc = docker(net, "run", "-d", "--name", "clash", "-p", "18082:80", "busybox", *HTTPD)
    assert proc.returncode != 0
    assert "Bind for 0.0.0.0:18082 failed: port is already allocated" in proc.stderr
    assert inspect(net, "clash")["NetworkSettings"]["SandboxKey"] == ""
    assert os.listdir(os.path.join(net.exec_root, "netns")) == [cid]
    ok(net, "stop", "-t", "1", "pub")
    with pytest.raises(OSError):
        wait_port("127.0.0.1", 18081, timeout=0.5)
    table = subprocess.run(["nft", "list", "table", "ip", str(net.network["firewall-table"])],
                           capture_output=True, text=True, check=True).stdout
    assert "18081" not in table and "18082" not in table
    # The port is free again for the host.
    with socket.socket() as s:
        s.bind(("0.0.0.0", 18082))


def test_publish_all_uses_exposed_ports(net: Engine) -> None:
    ok(net, "run", "-d", "--name", "pa", "-P", "--expose", "80", "busybox", *HTTPD)
    line = ok(net, "port", "pa", "80/tcp").split()[0]
    host_port = int(line.rpartition(":")[2])
    assert host_port > 1024
    assert inspect(net, "pa")["Id"][:12].encode() in wait_port("127.0.0.1", host_port)
    summary = [c for c in net.request("GET", "/containers/json")[1] if c["Names"] == ["/pa"]]
    assert summary[0]["Ports"] == [{"IP": "0.0.0.0", "PrivatePort": 80,
                                    "PublicPort": host_port, "Type": "tcp"}]


def test_container_network_mode_shares_loopback(net: Engine) -> None:
    ok(net, "run", "-d", "--name", "owner", "busybox", "httpd", "-f", "-p", "127.0.0.1:8080",
       "-h", "/etc")
    out = ok(net, "run", "--rm", "--network", "container:owner", "busybox", "timeout", "3",
             "wget", "-qO-", "http://127.0.0.1:8080/hostname")
    assert inspect(net, "owner")["Id"][:12] in out


def test_host_network(net: Engine) -> None:
    out = ok(net, "run", "--rm", "--network", "host", "busybox", "cat", "/etc/hostname")
    assert out.strip() == os.uname().nodename
    assert inspect_none_ok(net)


def inspect_none_ok(net: Engine) -> bool:
    out = ok(net, "run", "--rm", "--network", "none", "busybox", "ip", "-o", "link")
    return [line.split(": ")[1] for line in out.splitlines()] == ["lo"]


def test_connect_and_disconnect_while_running(net: Engine) -> None:
    ok(net, "network", "create", "left")
    ok(net, "network", "create", "right")
    ok(net, "run", "-d", "--name", "srv", "--network", "right", "busybox", *HTTPD)
    ok(net, "run", "-d", "--name", "cli", "--network", "left", "busybox", "sleep", "300")
    fetch = ["exec", "cli", "timeout", "3", "wget", "-qO-", "http://srv/hostname"]
    assert docker(net, *fetch).returncode != 0
    ok(net, "network", "connect", "--alias", "client", "right", "cli")
    assert inspect(net, "srv")["Id"][:12] in ok(net, *fetch)
    links_in = ok(net, "exec", "cli", "ip", "-o", "-4", "addr")
    assert "eth1" in links_in
    # srv resolves the new member by its alias, and /etc/hosts has its second address
    assert docker(net, "exec", "srv", "ping", "-c1", "-W2", "client").returncode == 0
    assert address(net, "cli", "right") in ok(net, "exec", "cli", "cat", "/etc/hosts")
    view = net.request("GET", "/networks/right")[1]
    assert {c["Name"] for c in view["Containers"].values()} == {"srv", "cli"}
    ok(net, "network", "disconnect", "right", "cli")
    assert docker(net, *fetch).returncode != 0
    assert "eth1" not in ok(net, "exec", "cli", "ip", "-o", "-4", "addr")
    assert "right" not in inspect(net, "cli")["NetworkSettings"]["Networks"]
    proc = docker(net, "network", "disconnect", "right", "cli")
    assert proc.returncode != 0 and "is not connected" in proc.stderr


def test_fixed_address_mac_and_etc_files(net: Engine) -> None:
    ok(net, "network", "create", "--subnet", "10.250.8.0/24", "--ip-range",
       "10.250.8.128/25", "--gateway", "10.250.8.254", "fixed")
    out = ok(net, "run", "--rm", "--network", "fixed", "--ip", "10.250.8.9",
             "--mac-address", "02:42:aa:bb:cc:dd", "--hostname", "box", "--add-host",
             "db:10.1.2.3", "--add-host", "gw:host-gateway", "--dns-search", "example.test",
             "busybox", "sh", "-c",
             "ip -o -4 addr show eth0; ip link show eth0; ip route; cat /etc/hosts "
             "/etc/hostname /etc/resolv.conf")
    assert "10.250.8.9/24" in out and "02:42:aa:bb:cc:dd" in out
    assert "default via 10.250.8.254" in out
    assert "10.1.2.3\tdb" in out and "10.250.8.254\tgw" in out and "10.250.8.9\tbox" in out
    assert "search example.test" in out and "nameserver 127.0.0.11" in out
    ok(net, "run", "-d", "--name", "auto", "--network", "fixed", "busybox", "sleep", "60")
    assert address(net, "auto", "fixed").startswith("10.250.8.1")  # from the ip-range
    proc = docker(net, "run", "--rm", "--network", "fixed", "--ip", address(net, "auto",
                                                                             "fixed"),
                  "busybox", "true")
    assert proc.returncode != 0 and "Address already in use" in proc.stderr


def test_network_commands_and_bad_input(net: Engine) -> None:
    names = [line.split()[1] for line in ok(net, "network", "ls").splitlines()[1:]]
    assert {"bridge", "host", "none"} <= set(names)
    ok(net, "network", "create", "--subnet", "10.250.9.0/24", "--label", "team=a", "lab")
    bad = [
        (["network", "create", "--subnet", "10.250.9.128/25", "clash"], "overlaps"),
        (["network", "create", "--subnet", "10.250.10.0/33", "x1"], "invalid CIDR"),
        (["network", "create", "--subnet", "nonsense", "x2"], "invalid"),
        (["network", "create", "--subnet", "10.250.11.0/24", "--gateway", "10.250.12.1",
          "x3"], "gateway"),
        (["network", "create", "lab"], "already exists"),
        (["network", "create", "--driver", "nosuch", "x4"], "not found"),
        (["run", "--rm", "--network", "nosuchnet", "busybox", "true"], "not found"),
        (["network", "rm", "bridge"], "pre-defined"),
        (["network", "create", "-d", "macvlan", "-o", "parent=nosuch0", "x5"], "parent"),
    ]
    for args, words in bad:
        proc = docker(net, *args)
        assert proc.returncode != 0, args
        assert words in proc.stderr, (args, proc.stderr)
    names = [line.split()[1] for line in ok(net, "network", "ls").splitlines()[1:]]
    assert not {"clash", "x1", "x2", "x3", "x4", "x5"} & set(names)
    assert ok(net, "network", "ls", "-q", "--filter", "label=team=a").split() == \
        [json.loads(ok(net, "network", "inspect", "lab"))[0]["Id"][:12]]
    ok(net, "run", "-d", "--name", "user", "--network", "lab", "busybox", "sleep", "60")
    proc = docker(net, "network", "rm", "lab")
    assert proc.returncode != 0 and "active endpoints" in proc.stderr
    ok(net, "rm", "-f", "user")
    ok(net, "network", "create", "spare")
    assert sorted(ok(net, "network", "prune", "-f").split()[-2:]) == ["lab", "spare"]


def test_nothing_left_after_rm_network_rm_and_prune(net: Engine) -> None:
    ok(net, "network", "create", "tmpnet")
    bridge = "cove-" + json.loads(ok(net, "network", "inspect", "tmpnet"))[0]["Id"][:10]
    ok(net, "run", "-d", "--name", "t1", "--network", "tmpnet", "-p", "18090:80",
       "busybox", *HTTPD)
    assert bridge in links() and len(bridge_ports(bridge)) == 1
    veth = bridge_ports(bridge)[0]
    ok(net, "rm", "-f", "t1")
    assert bridge_ports(bridge) == [] and veth not in links()
    assert not os.listdir(os.path.join(net.exec_root, "netns"))
    ok(net, "network", "rm", "tmpnet")
    assert bridge not in links()
    table = subprocess.run(["nft", "list", "table", "ip", str(net.network["firewall-table"])],
                           capture_output=True, text=True, check=True).stdout
    assert bridge not in table and "18090" not in table
    rules = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True,
                           check=False).stdout
    assert bridge not in rules
    leases = [json.loads(p.read_text())
              for p in (net.root / "network").glob("*.json")]
    assert all(not pool["leases"] for n in leases for pool in n["pools"])
    # prune removes unused networks and their bridges too
    ok(net, "network", "create", "unused")
    spare = "cove-" + json.loads(ok(net, "network", "inspect", "unused"))[0]["Id"][:10]
    assert spare in links()
    assert "unused" in ok(net, "network", "prune", "-f")
    assert spare not in links()


def bridge_ports(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                         text=True, check=False).stdout
    return [line.split(": ")[1].split("@")[0] for line in out.splitlines()]


def test_links_on_the_default_bridge_and_on_a_user_network(net: Engine) -> None:
    ok(net, "run", "-d", "--name", "db", "-e", "FOO=1", "--expose", "5432", "busybox",
       *HTTPD)
    db = inspect(net, "db")
    ip = db["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    out = ok(net, "run", "--rm", "--name", "app", "--link", "db:mydb", "busybox", "sh", "-c",
             "env | sort; cat /etc/hosts; ping -c1 -W2 mydb >/dev/null && echo reached")
    assert "MYDB_NAME=/app/mydb" in out and "MYDB_ENV_FOO=1" in out
    assert f"MYDB_PORT=tcp://{ip}:5432" in out
    assert f"MYDB_PORT_5432_TCP_ADDR={ip}" in out and "MYDB_PORT_5432_TCP_PROTO=tcp" in out
    assert f"{ip}\tmydb {db['Id'][:12]} db" in out and "reached" in out
    assert "MYDB_ENV_PATH" not in out
    ok(net, "create", "--name", "app2", "--link", "db", "busybox", "true")
    assert inspect(net, "app2")["HostConfig"]["Links"] == ["/db:/app2/db"]
    proc = docker(net, "run", "--rm", "--link", "nosuch:x", "busybox", "true")
    assert proc.returncode != 0 and "could not get container for nosuch" in proc.stderr
    ok(net, "stop", "-t", "0", "db")
    proc = docker(net, "start", "app2")
    assert proc.returncode != 0 and "non running container" in proc.stderr
    # On a user network a link is an alias only the linking container knows.
    ok(net, "network", "create", "linked")
    ok(net, "run", "-d", "--name", "svc", "--network", "linked", "busybox", *HTTPD)
    out = ok(net, "run", "--rm", "--network", "linked", "--link", "svc:backend", "busybox",
             "timeout", "5", "wget", "-qO-", "http://backend/hostname")
    assert inspect(net, "svc")["Id"][:12] in out
    proc = docker(net, "run", "--rm", "--network", "linked", "busybox", "nslookup",
                  "backend", "127.0.0.11")
    assert proc.returncode != 0
