"""Networks across daemon crashes, macvlan, forwarding to upstream resolvers, CNI
conflist networks, and the API schema of the network endpoints.

Each test with its own daemon (its own bridge, nftables table and subnets); traffic
stays between its containers and 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api_schema import docker_nulls_dropped, validate_response
from tests.engine_fixtures import Engine, private_engine
from tests.integration.netengine.conftest import docker, links, ok
from tests.integration.netengine.test_networks import HTTPD, inspect, wait_port


def bridge_ports(bridge: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show", "master", bridge], capture_output=True,
                         text=True, check=False).stdout
    return [line.split(": ")[1].split("@")[0] for line in out.splitlines()]


def bridge_of(engine: Engine, network: str) -> str:
    return "cove-" + engine.request("GET", f"/networks/{network}")[1]["Id"][:10]


def netns_files(engine: Engine) -> list[str]:
    return os.listdir(os.path.join(engine.exec_root, "netns"))


def leases(engine: Engine) -> dict[str, dict[str, str]]:
    out = {}
    for p in (engine.root / "network").glob("*.json"):
        record = json.loads(p.read_text())
        out[record["name"]] = {a: o for pool in record["pools"]
                               for a, o in pool["leases"].items()}
    return out


def table(engine: Engine) -> str:
    return subprocess.run(["nft", "list", "table", "ip", str(engine.network["firewall-table"])],
                          capture_output=True, text=True, check=False).stdout


def test_networks_survive_a_daemon_kill_and_nothing_leaks(busybox_layer_tar: bytes) -> None:
    with private_engine(busybox_layer_tar) as e:
        ok(e, "network", "create", "keep")
        ok(e, "run", "-d", "--name", "srv", "--network", "keep", "-p", "18301:80", "busybox",
           *HTTPD)
        ok(e, "run", "-d", "--name", "short", "--network", "keep", "-p", "18302:80",
           "busybox", "sh", "-c", "sleep 2")
        srv = inspect(e, "srv")["Id"]
        assert srv[:12].encode() in wait_port("127.0.0.1", 18301)
        bridge = bridge_of(e, "keep")
        assert len(bridge_ports(bridge)) == 2
        e.stop(signal.SIGKILL)
        # While no daemon runs: published ports keep working; "short" exits.
        assert srv[:12].encode() in wait_port("127.0.0.1", 18301)
        time.sleep(2.5)
        e.start()
        assert inspect(e, "short")["State"]["Status"] == "exited"
        # The exited one's namespace, lease, veth and rules are gone; srv's are kept.
        assert netns_files(e) == [srv]
        assert list(leases(e)["keep"].values()) == \
            [inspect(e, "srv")["NetworkSettings"]["Networks"]["keep"]["EndpointID"]]
        assert "18302" not in table(e) and "18301" in table(e)
        assert len(bridge_ports(bridge)) == 1  # short's veth went with its namespace
        # The resolver answers again after the restart, and the port is held again.
        out = ok(e, "run", "--rm", "--network", "keep", "busybox", "sh", "-c",
                 "timeout 5 wget -qO- http://srv/hostname")
        assert srv[:12] in out
        proc = docker(e, "run", "-d", "-p", "18301:80", "busybox", *HTTPD)
        assert "port is already allocated" in proc.stderr
        # And after removal: nothing of srv's is left.
        ok(e, "rm", "-f", "srv", "short")
        ok(e, "network", "rm", "keep")
        e.remove_all_containers()
        assert netns_files(e) == []
        assert all(not v for v in leases(e).values())
        assert "18301" not in table(e) and bridge not in table(e)
        assert bridge not in links()
        assert str(e.network["bridge"]) in links()


@pytest.fixture(name="parent")
def parent_fixture() -> Iterator[str]:
    """A veth pair standing in for a host NIC (there is no dummy driver here)."""
    name = "cvtm" + uuid.uuid4().hex[:6]
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"],
                   check=True)
    subprocess.run(["ip", "link", "set", name + "p", "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


def test_macvlan_network(busybox_layer_tar: bytes, parent: str) -> None:
    with private_engine(busybox_layer_tar) as e:
        ok(e, "network", "create", "-d", "macvlan", "--subnet", "10.250.20.0/24",
           "-o", f"parent={parent}", "mv")
        ok(e, "run", "-d", "--name", "m1", "--network", "mv", "busybox", *HTTPD)
        out = ok(e, "run", "--rm", "--network", "mv", "busybox", "sh", "-c",
                 "ip -o link show eth0; timeout 5 wget -qO- http://m1/hostname")
        assert "macvlan" in out or "@if" in out
        assert inspect(e, "m1")["Id"][:12] in out
        ok(e, "rm", "-f", "m1")
        ok(e, "network", "rm", "mv")
        assert parent in links()


class FakeUpstream:
    """A DNS server on 127.0.0.205:53 answering every A query with 10.250.99.99."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.205", 53))
        self.queries: list[bytes] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.queries.append(data)
            end = 12
            while data[end]:
                end += data[end] + 1
            question = data[12:end + 5]
            answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([10, 250, 99, 99])
            reply = data[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + question + answer
            self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.sock.close()


def test_unknown_names_are_forwarded_to_the_containers_dns(busybox_layer_tar: bytes) -> None:
    upstream = FakeUpstream()
    try:
        with private_engine(busybox_layer_tar) as e:
            ok(e, "network", "create", "fw")
            out = ok(e, "run", "--rm", "--network", "fw", "--dns", "127.0.0.205", "busybox",
                     "nslookup", "-type=a", "outside.example", "127.0.0.11")
            assert "10.250.99.99" in out
            assert any(b"outside" in q for q in upstream.queries)
            # Container names are never asked upstream.
            ok(e, "run", "-d", "--name", "inside", "--network", "fw", "--dns", "127.0.0.205",
               "busybox", "sleep", "60")
            upstream.queries.clear()
            out = ok(e, "run", "--rm", "--network", "fw", "--dns", "127.0.0.205", "busybox",
                     "nslookup", "-type=a", "inside", "127.0.0.11")
            assert inspect(e, "inside")["NetworkSettings"]["Networks"]["fw"]["IPAddress"] in out
            assert not any(b"inside" in q for q in upstream.queries)
    finally:
        upstream.close()


def test_network_responses_match_the_api_schema(busybox_layer_tar: bytes) -> None:
    with private_engine(busybox_layer_tar) as e:
        status, created = e.request("POST", "/networks/create", {
            "Name": "schema", "Labels": {"a": "b"},
            "IPAM": {"Config": [{"Subnet": "10.250.21.0/24"}]}})
        validate_response("/networks/create", "post", status, created)
        ok(e, "run", "-d", "--name", "s1", "--network", "schema", "-p", "80", "busybox",
           *HTTPD)
        for path in ("/networks", "/networks/schema"):
            status, body = e.request("GET", path)
            validate_response(path.replace("schema", "{id}"), "get", status,
                              docker_nulls_dropped(body))
        status, body = e.request("GET", "/containers/s1/json")
        validate_response("/containers/{id}/json", "get", status, docker_nulls_dropped(body))
        status, body = e.request("GET", "/containers/json")
        validate_response("/containers/json", "get", status, docker_nulls_dropped(body))
        status, body = e.request("GET", "/networks/nosuch")
        assert status == 404 and "nosuch" in body["message"]
        status, body = e.request("POST", "/networks/create", {"Name": "bad name!"})
        assert status == 400


@pytest.fixture(name="cni_dir")
def cni_dir_fixture() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="cove-cni-"))
    try:
        yield top
    finally:
        subprocess.run(["rm", "-rf", str(top)], check=False)


def _cni_cleanup(bridge: str, subnet: str) -> None:
    subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
    for tbl in ("nat", "filter"):
        rules = subprocess.run(["iptables", "-t", tbl, "-S"], capture_output=True, text=True,
                               check=False).stdout.splitlines()
        for rule in rules:
            if rule.startswith("-A") and ("cove-cnit" in rule or subnet in rule):
                import shlex
                subprocess.run(["iptables", "-t", tbl, "-D", *shlex.split(rule)[1:]],
                               check=False, capture_output=True)


def test_cni_conflist_network_carries_traffic_and_publishes(busybox_layer_tar: bytes,
                                                            cni_dir: Path) -> None:
    bridge = "cvtc" + uuid.uuid4().hex[:6]
    subnet = "10.250.30.0/24"
    conflist = {
        "cniVersion": "1.0.0", "name": "cove-cnit",
        "plugins": [
            {"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": False,
             "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(cni_dir / "ipam")}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "tuning", "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}},
            {"type": "bandwidth", "capabilities": {"bandwidth": True}},
        ]}
    (cni_dir / "net.d").mkdir()
    (cni_dir / "net.d" / "10-cove-cnit.conflist").write_text(json.dumps(conflist))
    (cni_dir / "net.d" / "20-broken.conflist").write_text('{"cniVersion": "1.0.0", "name":')
    daemon_json = json.dumps({"cni-config-dir": [str(cni_dir / "net.d")]})
    try:
        with private_engine(busybox_layer_tar, daemon_json) as e:
            # The conflist is a network by its name, as soon as it is used.
            ok(e, "run", "-d", "--name", "c1", "--network", "cove-cnit", "-p", "18310:80",
               "busybox", *HTTPD)
            addr = inspect(e, "c1")["NetworkSettings"]["Networks"]["cove-cnit"]["IPAddress"]
            assert addr.startswith("10.250.30.")
            out = ok(e, "run", "--rm", "--network", "cove-cnit", "busybox", "sh", "-c",
                     f"timeout 5 wget -qO- http://{addr}/hostname")
            assert inspect(e, "c1")["Id"][:12] in out
            # portmap publishes it on the host (through the bridge's gateway address)
            assert inspect(e, "c1")["Id"][:12].encode() in wait_port("10.250.30.1", 18310)
            assert ok(e, "port", "c1", "80").strip().endswith(":18310")
            # A configuration that fails to parse names its file; a plugin error shows
            # the plugin's CNI code and message.
            (cni_dir / "net.d" / "30-bad.conflist").write_text(json.dumps(
                {"cniVersion": "1.0.0", "name": "cove-cnibad",
                 "plugins": [{"type": "bridge", "bridge": bridge,
                              "ipam": {"type": "host-local",
                                       "ranges": [[{"subnet": "not-a-subnet"}]]}}]}))
            proc = docker(e, "run", "--rm", "--network", "cove-cnibad", "busybox", "true")
            assert proc.returncode != 0 and "20-broken.conflist" in proc.stderr, proc.stderr
            (cni_dir / "net.d" / "20-broken.conflist").unlink()
            proc = docker(e, "run", "--rm", "--network", "cove-cnibad", "busybox", "true")
            assert proc.returncode != 0 and 'plugin "bridge" failed' in proc.stderr, proc.stderr
            assert "CNI error" in proc.stderr, proc.stderr
            assert netns_files(e) == [inspect(e, "c1")["Id"]]
            ok(e, "rm", "-f", "c1")
            assert netns_files(e) == []
            lease_dir = cni_dir / "ipam" / "cove-cnit"
            assert not [p for p in lease_dir.iterdir() if p.name.startswith("10.250.30.")]
            rules = subprocess.run(["iptables-save"], capture_output=True, text=True,
                                   check=False).stdout
            assert "18310" not in rules
    finally:
        _cni_cleanup(bridge, subnet)


def test_default_bind_address_keeps_published_ports_on_loopback(
        busybox_layer_tar: bytes) -> None:
    with private_engine(busybox_layer_tar, json.dumps({"ip": "127.0.0.1"})) as e:
        ok(e, "run", "-d", "--name", "lo1", "-p", "18320:80", "-p", "127.0.0.2:18321:80",
           "busybox", *HTTPD)
        ports = inspect(e, "lo1")["NetworkSettings"]["Ports"]["80/tcp"]
        assert {"HostIp": "127.0.0.1", "HostPort": "18320"} in ports
        assert {"HostIp": "127.0.0.2", "HostPort": "18321"} in ports  # named: kept
        cid = inspect(e, "lo1")["Id"][:12].encode()
        assert cid in wait_port("127.0.0.1", 18320)
        assert cid in wait_port("127.0.0.2", 18321)
        # not on the host's other addresses (here: the default bridge's gateway)
        gateway = e.request("GET", "/networks/bridge")[1]["IPAM"]["Config"][0]["Gateway"]
        with pytest.raises(OSError):
            wait_port(gateway, 18320, timeout=0.5)
        assert "127.0.0.1" in ok(e, "network", "inspect", "-f",
                                 '{{index .Options "com.docker.network.bridge.host_binding_ipv4"}}',
                                 "bridge")


def test_network_events(busybox_layer_tar: bytes) -> None:
    with private_engine(busybox_layer_tar) as e:
        since = str(int(time.time()) - 1)
        ok(e, "network", "create", "ev")
        ok(e, "run", "-d", "--name", "evc", "busybox", "sleep", "60")
        ok(e, "network", "connect", "ev", "evc")
        ok(e, "network", "disconnect", "ev", "evc")
        ok(e, "network", "rm", "ev")
        until = str(int(time.time()) + 1)
        out = ok(e, "events", "--since", since, "--until", until, "--filter", "type=network",
                 "--format", "{{.Action}} {{.Actor.Attributes.name}}")
        lines = [line for line in out.splitlines() if line.endswith(" ev")]
        assert lines == ["create ev", "connect ev", "disconnect ev", "destroy ev"], out
