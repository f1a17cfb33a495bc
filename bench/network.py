"""Network benchmark (issue 6 "Measures"): coved beside a private dockerd with networking.

1. ``docker network create benchnet``, then --count concurrent ``run -d --network benchnet
   busybox sleep`` until all are running, and the same with ``--network none``: the
   network's share of the total, (t_user - t_none) / t_user, and its cost per container;
2. container-to-container TCP throughput over the network's bridge, beside the host's
   loopback and a plain veth pair between two network namespaces of the bench's own (MB/s,
   median of --runs, the runs going round all routes in turn): busybox ``dd | nc`` into
   ``nc -l`` in the containers (docker exec) and, the same busybox binary, from the host
   in the containers' network namespaces (nsenter --net: none of the containers' seccomp
   filter and cgroups on nc's many small reads and writes); and a Python sender with
   1 MiB writes, likewise from the host;
3. latency of A lookups of a container's name against the embedded resolver
   (127.0.0.11:53) from another container's network namespace: --lookups queries sent one
   after another by a Python client entered with nsenter (no process per lookup).

The dockerd gets a bridge (10.205.200.1/24), iptables rules and address pools
(10.205.208.0/20) of its own for the run; everything it leaves (docker0, its bridges, its
iptables chains and the jumps to them, the FORWARD policy, net.ipv4.ip_forward) is removed
or restored afterwards. Packets go only to loopback and to addresses inside the bench's
namespaces; no outside name is resolved. Run as root:
.venv/bin/python bench/network.py [--count 50] [--runs 3] [--lookups 500]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from engine import busybox_docker_tar, remove_all  # noqa: E402
from tests.dockerd_fixtures import DOCKERD, DockerD  # noqa: E402
from tests.engine_fixtures import (  # noqa: E402
    Engine,
    load_busybox,
    remove_network_leftovers,
)
from tests.image_fixtures import tar_tree  # noqa: E402

DOCKER = "/usr/local/bin/docker"
BUSYBOX = "/bin/busybox"
NET = "benchnet"
# Kernel objects of this bench carry the prefix "cvb"; its subnets are in 10.205.0.0/16.
COVE_NETWORK: dict[str, object] = {"bridge": "cvbc0", "firewall-table": "cvb", "dns": ["127.0.0.1"],
                "bip": "10.205.100.1/24",
                "default-address-pools": [{"base": "10.205.112.0/20", "size": 24}]}
COVE_BRIDGE = "cvbc1"  # benchnet's bridge on coved
DOCKER_BRIDGE = "cvbd1"  # benchnet's bridge on dockerd
DOCKER_NETWORK_ARGS = ["--bip", "10.205.200.1/24", "--iptables=true", "--ip6tables=false",
                       "--default-address-pool", "base=10.205.208.0/20,size=24",
                       "--userland-proxy=false", "--dns", "127.0.0.1"]
DOCKER_CHAINS = ("DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1",
                 "DOCKER-ISOLATION-STAGE-2", "DOCKER-FORWARD")
NETNS = ("cvb-a", "cvb-b")
VETH = ("cvbva", "cvbvb")
VETH_ADDRS = ("10.205.0.1/30", "10.205.0.2/30")
LOOPBACK_PORT = 18400
PORT = 5001

# The server takes its stdin from a FIFO it holds open for reading and writing: busybox nc
# ends the connection when its stdin ends, and /dev/null ends at once.
NC_SERVER = ("{bb} mkfifo {fifo}; exec 3<>{fifo}; "
             "while true; do {bb} nc -l -p {port} <&3 >/dev/null; done")
# busybox dd prints no rate and its date no nanoseconds: /proc/uptime times the run (10 ms
# steps; each run lasts seconds).
UPTIME = "$({bb} cut -d' ' -f1 /proc/uptime | {bb} tr -d .)"
NC_CLIENT = ("s=" + UPTIME + "; {bb} dd if=/dev/zero bs=1M count={mib} 2>/dev/null | "
             "{bb} nc {ip} {port}; e=" + UPTIME + "; echo $((e - s))")

PY_SERVER = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(1)
print("ready", flush=True)
buf = bytearray(1 << 20)
while True:
    c, _ = s.accept()
    while c.recv_into(buf):
        pass
    c.close()
"""
PY_CLIENT = r"""
import socket, sys, time
ip, port, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
buf = bytes(1 << 20)
t0 = time.perf_counter()
c = socket.create_connection((ip, port))
for _ in range(mib):
    c.sendall(buf)
c.shutdown(socket.SHUT_WR)
c.recv(1)  # the server's close: all the data was read
print(time.perf_counter() - t0)
"""
DNS_CLIENT = r"""
import json, socket, statistics, struct, sys, time
name, n = sys.argv[1], int(sys.argv[2])
qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("127.0.0.11", 53))
lat, failed, warm = [], 0, 20
for i in range(n + warm):
    qid = i & 0xFFFF
    t0 = time.perf_counter()
    s.send(struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1))
    try:
        while True:
            data = s.recv(4096)
            if struct.unpack(">H", data[:2])[0] == qid:
                break
    except socket.timeout:
        failed += 1
        continue
    dt = time.perf_counter() - t0
    if data[3] & 0xF or struct.unpack(">H", data[6:8])[0] == 0:
        failed += 1
    elif i >= warm:
        lat.append(dt)
lat.sort()
print(json.dumps({"n": len(lat), "failed": failed, "median": statistics.median(lat),
                  "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))]}))
"""


@dataclass
class Side:
    """One engine under test: how to reach it and what the bench measured."""

    name: str
    env: dict[str, str]
    bridge: str
    figures: dict[str, float]


def run(cmd: list[str], env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 300) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.decode().strip()}")
    return proc.stdout.decode()


def concurrent_runs(side: Side, count: int, network: str, tag: str) -> float:
    def one(i: int) -> None:
        run([DOCKER, "run", "-d", "--network", network, "--name", f"{tag}{i}", "busybox",
             "sleep", "300"], side.env)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - t0


def measure_setup(sides: list[Side], count: int, runs: int) -> None:
    print(f"1. {count} concurrent run -d until running (median of {runs})")
    for side in sides:
        times: dict[str, list[float]] = {NET: [], "none": []}
        for r in range(runs):
            for network in (NET, "none"):
                times[network].append(concurrent_runs(side, count, network, f"s{r}{network[0]}"))
                remove_all([DOCKER], side.env)
        t_user, t_none = statistics.median(times[NET]), statistics.median(times["none"])
        share = (t_user - t_none) / t_user
        per = (t_user - t_none) / count
        side.figures.update(setup=t_user, setup_none=t_none, setup_per=per)
        print(f"  {side.name:<8} --network {NET} {t_user:6.2f} s   --network none "
              f"{t_none:6.2f} s   network share {share * 100:5.1f} %   "
              f"{per * 1000:6.1f} ms/container")
    if len(sides) == 2:
        cove, dock = sides[0].figures, sides[1].figures
        print(f"  ratio coved/dockerd: total {cove['setup'] / dock['setup']:.2f}   network "
              f"setup per container {ratio(cove['setup_per'], dock['setup_per'])} "
              "(goal <= 0.5)")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b > 0 else "n/a"


@dataclass
class End:
    """How to run a program at one end of a route: a command prefix and its environment."""

    prefix: list[str]
    env: dict[str, str] | None = None


@dataclass
class Route:
    """A place two endpoints talk through. busybox nc runs at the ends proper (in the
    containers, docker exec); Python, and busybox nc a second time, run on the host in the
    ends' network namespaces (nsenter --net), with no container around them."""

    name: str
    server: End
    client: End
    server_netns: End
    client_netns: End
    ip: str
    port: int  # nc's; Python's server listens on the next one, the host's nc on the one after
    fifo: str  # the nc server's FIFO at the server end
    host_fifo: str  # the same on the host, when the ends are containers


def nc_once(client: End, ip: str, port: int, mib: int) -> float:
    """MB/s of one busybox dd | nc run from client to ip:port."""
    for _ in range(20):
        out = run([*client.prefix, BUSYBOX, "sh", "-c", NC_CLIENT.format(
            bb=BUSYBOX, mib=mib, ip=ip, port=port)], client.env, check=False)
        centis = int(out.strip().splitlines()[-1]) if out.strip() else 0
        if centis > 0:
            return mib * 1048576 / (centis / 100) / 1e6
        time.sleep(0.2)  # the server's nc between two connections: not listening yet
    raise RuntimeError(f"nc to {ip}:{port} never got through")


def py_once(client: End, ip: str, port: int, mib: int) -> float:
    out = run([*client.prefix, sys.executable, "-c", PY_CLIENT, ip, str(port), str(mib)],
              client.env)
    return mib * 1048576 / float(out.strip()) / 1e6


def size_for(once: Callable[[int], float], seconds: float) -> int:
    """MiB for a run of about `seconds` (a short probe tells the rate)."""
    return max(64, int(once(128) * 1e6 / 1048576 * seconds))


@contextlib.contextmanager
def server(end: End, cmd: list[str], ready: bool = False) -> Iterator[None]:
    """cmd at end, in a session of its own whose processes are killed after; with ready,
    once it printed its first line (listening)."""
    proc = subprocess.Popen([*end.prefix, *cmd], env=end.env, start_new_session=True,
                            stdout=subprocess.PIPE if ready else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        if ready:
            assert proc.stdout is not None
            if not proc.stdout.readline().strip():
                raise RuntimeError(f"{' '.join(cmd[:2])} did not start")
        time.sleep(0.3)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def nc_server(fifo: str, port: int) -> list[str]:
    return [BUSYBOX, "sh", "-c", NC_SERVER.format(bb=BUSYBOX, fifo=fifo, port=port)]


def methods(route: Route, stack: contextlib.ExitStack) -> dict[str, Callable[[int], float]]:
    """Start route's servers (until stack closes); the ways to measure it, by name: "nc" at
    the ends, "nc-netns" from the host in the ends' network namespaces (when the ends are
    containers), "python" likewise."""
    out: dict[str, Callable[[int], float]] = {}
    stack.enter_context(server(route.server, nc_server(route.fifo, route.port)))
    out["nc"] = lambda mib: nc_once(route.client, route.ip, route.port, mib)
    if route.host_fifo:
        stack.enter_context(server(route.server_netns, nc_server(route.host_fifo,
                                                                 route.port + 2)))
        out["nc-netns"] = lambda mib: nc_once(route.client_netns, route.ip, route.port + 2, mib)
    stack.enter_context(server(route.server_netns, [sys.executable, "-c", PY_SERVER,
                                                    str(route.port + 1)], ready=True))
    out["python"] = lambda mib: py_once(route.client_netns, route.ip, route.port + 1, mib)
    return out


def throughput(routes: list[Route], runs: int, seconds: float) -> dict[str, dict[str, float]]:
    """Median MB/s by route and method. The runs go round all routes in turn, so that the
    load of a shared machine weighs on each alike."""
    with contextlib.ExitStack() as stack:
        ways = {route.name: methods(route, stack) for route in routes}
        sizes = {(name, m): size_for(once, seconds) for name, by in ways.items()
                 for m, once in by.items()}
        rates: dict[tuple[str, str], list[float]] = {key: [] for key in sizes}
        for _ in range(runs):
            for (name, m), mib in sizes.items():
                rates[(name, m)].append(ways[name][m](mib))
    out: dict[str, dict[str, float]] = {}
    for (name, m), values in rates.items():
        out.setdefault(name, {})[m] = statistics.median(values)
    return out


@contextlib.contextmanager
def veth_pair() -> Iterator[None]:
    """Two network namespaces joined by a plain veth pair (the reference for a bridge)."""
    try:
        for ns in NETNS:
            run(["ip", "netns", "add", ns])
        run(["ip", "link", "add", VETH[0], "netns", NETNS[0], "type", "veth", "peer", "name",
             VETH[1], "netns", NETNS[1]])
        for ns, dev, addr in zip(NETNS, VETH, VETH_ADDRS, strict=True):
            run(["ip", "-n", ns, "addr", "add", addr, "dev", dev])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        yield
    finally:
        for ns in NETNS:
            run(["ip", "netns", "del", ns], check=False)


def netns_of(side: Side, container: str) -> tuple[str, str]:
    """(the network namespace file, the address on benchnet) of a running container."""
    info = json.loads(run([DOCKER, "inspect", container], side.env))[0]
    key = info["NetworkSettings"].get("SandboxKey") or ""
    if not key or not os.path.exists(key):
        key = f"/proc/{info['State']['Pid']}/ns/net"
    return key, info["NetworkSettings"]["Networks"][NET]["IPAddress"]


def start_pair(side: Side) -> tuple[str, str, str, str]:
    """A server and a client container on benchnet: their netns files and addresses."""
    for name in ("srv", "cli"):
        run([DOCKER, "run", "-d", "--network", NET, "--name", name, "busybox", "sleep",
             "300"], side.env)
    srv_ns, srv_ip = netns_of(side, "srv")
    cli_ns, cli_ip = netns_of(side, "cli")
    return srv_ns, srv_ip, cli_ns, cli_ip


def measure_throughput(sides: list[Side], top: Path, runs: int, seconds: float) -> None:
    print(f"2. TCP throughput, MB/s (median of {runs}, runs of about {seconds:.1f} s): busybox "
          "dd | nc, in the containers and from the host in their netns; Python, 1 MiB writes")
    host = End([])
    srv, cli = End(["ip", "netns", "exec", NETNS[1]]), End(["ip", "netns", "exec", NETNS[0]])
    routes = [Route("host loopback", host, host, host, host, "127.0.0.1", LOOPBACK_PORT,
                    str(top / "lo.fifo"), ""),
              Route("host veth", srv, cli, srv, cli, VETH_ADDRS[1].split("/")[0], PORT,
                    str(top / "veth.fifo"), "")]
    for side in sides:
        srv_ns, srv_ip, cli_ns, _ = start_pair(side)
        routes.append(Route(f"{side.name} bridge", End([DOCKER, "exec", "srv"], side.env),
                            End([DOCKER, "exec", "cli"], side.env),
                            End(["nsenter", f"--net={srv_ns}"]),
                            End(["nsenter", f"--net={cli_ns}"]), srv_ip, PORT, "/tmp/nc.fifo",
                            str(top / f"{side.name}.fifo")))
    with veth_pair():
        rates = throughput(routes, runs, seconds)
    print(f"  {'':<16} {'nc':>8} {'nc-netns':>9} {'python':>8}   bridge/veth "
          "(nc, nc-netns, python)   bridge/loopback (same)")
    lo, veth = rates["host loopback"], rates["host veth"]
    for route in routes:
        r = rates[route.name]
        line = (f"  {route.name:<16} {r['nc']:8.1f} {r.get('nc-netns', r['nc']):9.1f} "
                f"{r['python']:8.1f}")
        if route.host_fifo:
            by_veth = (r["nc"] / veth["nc"], r["nc-netns"] / veth["nc"],
                       r["python"] / veth["python"])
            by_lo = (r["nc"] / lo["nc"], r["nc-netns"] / lo["nc"], r["python"] / lo["python"])
            line += (f"   {'  '.join(f'{x:.2f}' for x in by_veth):<22}   "
                     f"{'  '.join(f'{x:.2f}' for x in by_lo)}")
        print(line)
    for side in sides:
        side.figures.update({f"tput-{k}": v for k, v in rates[f"{side.name} bridge"].items()})
    print("  (goal: bridge/veth >= 0.90)")


def measure_published(sides: list[Side], runs: int, seconds: float) -> None:
    """A published port reached from the host's loopback (hairpin NAT: DNAT in the output
    hook, route_localnet, masquerade) against the container's own address."""
    print(f"4. TCP from the host to a container, MB/s (median of {runs}, Python, 1 MiB "
          "writes): through 127.0.0.1:<published port> vs to the container's address")
    port = LOOPBACK_PORT + 10
    for side in sides:
        run([DOCKER, "run", "-d", "--network", NET, "--name", "pub", "-p",
             f"127.0.0.1:{port}:{port}", "busybox", "sleep", "300"], side.env)
        ns, ip = netns_of(side, "pub")
        with server(End(["nsenter", f"--net={ns}"]), [sys.executable, "-c", PY_SERVER,
                                                      str(port)], ready=True):
            host = End([])
            direct = size_for(functools.partial(py_once, host, ip, port), seconds)
            rates: dict[str, list[float]] = {"published": [], "direct": []}
            for _ in range(runs):
                rates["published"].append(py_once(host, "127.0.0.1", port, direct))
                rates["direct"].append(py_once(host, ip, port, direct))
        pub, dir_ = (statistics.median(rates[k]) for k in ("published", "direct"))
        print(f"  {side.name:<8} published {pub:8.1f}   direct {dir_:8.1f}   "
              f"ratio {pub / dir_:.2f}")
        side.figures.update({"published": pub, "direct": dir_})
        run([DOCKER, "rm", "-f", "pub"], side.env, check=False)


def measure_dns(sides: list[Side], lookups: int) -> None:
    print(f"3. DNS: {lookups} A lookups of a container's name at 127.0.0.11, one at a time")
    for side in sides:
        cli_ns, _ = netns_of(side, "cli")
        out = run(["nsenter", f"--net={cli_ns}", sys.executable, "-c", DNS_CLIENT, "srv",
                   str(lookups)])
        r = json.loads(out)
        side.figures.update(dns=r["median"], dns_p99=r["p99"])
        print(f"  {side.name:<8} median {r['median'] * 1e6:7.1f} us   p99 "
              f"{r['p99'] * 1e6:7.1f} us   ({r['n']} answered, {r['failed']} failed)")
    if len(sides) == 2:
        cove, dock = sides[0].figures, sides[1].figures
        print(f"  ratio coved/dockerd median {cove['dns'] / dock['dns']:.2f}  p99 "
              f"{cove['dns_p99'] / dock['dns_p99']:.2f}")


@dataclass
class HostState:
    """What dockerd may change on the host, read before it starts."""

    forward_policy: str
    ip_forward: str

    @classmethod
    def read(cls) -> HostState:
        policy = "ACCEPT"
        for line in run(["iptables", "-t", "filter", "-S", "FORWARD"]).splitlines():
            if line.startswith("-P FORWARD "):
                policy = line.split()[2]
        return cls(policy, Path("/proc/sys/net/ipv4/ip_forward").read_text().strip())


def remove_docker_leftovers(before: HostState, bridges: set[str]) -> None:
    """dockerd's bridges, iptables chains and the rules that jump to them or name its
    bridges; then the FORWARD policy and ip_forward as they were."""
    for bridge in bridges:
        run(["ip", "link", "del", bridge], check=False)
    names = re.compile(r"(-j|-g) (" + "|".join(DOCKER_CHAINS) + r")\b|[io] (" +
                       "|".join(re.escape(b) for b in bridges) + r")\b")
    for table in ("filter", "nat"):
        for line in run(["iptables", "-t", table, "-S"]).splitlines():
            parts = line.split()
            if len(parts) > 2 and parts[0] == "-A" and parts[1] not in DOCKER_CHAINS and \
                    names.search(line):
                subprocess.run(["iptables", "-t", table, "-D", *parts[1:]], check=False,
                               capture_output=True)
        chains = [line.split()[1] for line in run(["iptables", "-t", table, "-S"]).splitlines()
                  if line.startswith("-N ") and line.split()[1] in DOCKER_CHAINS]
        for chain in chains:
            run(["iptables", "-t", table, "-F", chain], check=False)
        for chain in chains:
            run(["iptables", "-t", table, "-X", chain], check=False)
    run(["iptables", "-t", "filter", "-P", "FORWARD", before.forward_policy], check=False)
    Path("/proc/sys/net/ipv4/ip_forward").write_text(before.ip_forward + "\n")


def create_network(side: Side) -> None:
    run([DOCKER, "network", "create", "-o", f"com.docker.network.bridge.name={side.bridge}",
         NET], side.env)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.5, help="length of a throughput run")
    ap.add_argument("--lookups", type=int, default=500)
    ap.add_argument("--parts", default="1,2,3,4", help="which measures to run (1,2,3,4)")
    args = ap.parse_args()
    top = Path(tempfile.mkdtemp(prefix="cove-bench-network-"))
    top.chmod(0o755)
    engine = Engine(top / "cove", "/cvb-bench")
    engine.log_level = "info"  # as a production daemon runs: no per-request debug lines
    engine.top.mkdir()
    (engine.top / "daemon.json").write_text(json.dumps(COVE_NETWORK))
    from tests.cni_fixtures import nft_tables
    tables_before = nft_tables()
    before = HostState.read()
    dockerd = (DockerD(top / "docker", "/cvb-bench-docker", DOCKER_NETWORK_ARGS)
               if os.path.exists(DOCKERD) else None)
    docker_bridges = {"docker0", DOCKER_BRIDGE}
    sides: list[Side] = []
    try:
        from cove.busybox import build_rootfs
        load_busybox(engine.root, tar_tree(build_rootfs(top / "bb")))
        engine.start()
        sides.append(Side("coved", engine.env(), COVE_BRIDGE, {}))
        if dockerd is None:
            print(f"  (no {DOCKERD}: coved's figures alone)")
        else:
            dockerd.top.mkdir()
            try:
                dockerd.start()
            except RuntimeError as e:
                log = (dockerd.top / "dockerd.log").read_text()[-600:]
                print(f"  dockerd did not start with networking ({e}): coved's figures alone\n"
                      f"{log}")
                dockerd.stop()
                dockerd = None
        if dockerd is not None:
            tar = top / "busybox.tar"
            busybox_docker_tar(tar)
            run([DOCKER, "load", "-i", str(tar)], dockerd.env())
            sides.append(Side("dockerd", dockerd.env(), DOCKER_BRIDGE, {}))
        for side in sides:
            create_network(side)
        parts = set(args.parts.split(","))
        if "1" in parts:
            measure_setup(sides, args.count, args.runs)
        if "2" in parts or "3" in parts:
            if "2" in parts:
                measure_throughput(sides, top, args.runs, args.seconds)
            else:
                for side in sides:
                    start_pair(side)
            if "3" in parts:
                measure_dns(sides, args.lookups)
        if "4" in parts:
            measure_published(sides, args.runs, args.seconds)
    finally:
        with contextlib.suppress(Exception):
            remove_all([DOCKER], engine.env())
        with contextlib.suppress(Exception):
            run([DOCKER, "network", "rm", NET], engine.env(), check=False)
        engine.stop()
        if dockerd is not None:
            with contextlib.suppress(Exception):
                remove_all([DOCKER], dockerd.env())
            with contextlib.suppress(Exception):
                ids = run([DOCKER, "network", "ls", "-q", "--no-trunc"], dockerd.env()).split()
                docker_bridges.update(f"br-{i[:12]}" for i in ids)
                run([DOCKER, "network", "rm", NET], dockerd.env(), check=False)
            dockerd.stop()
        from tests.engine_fixtures import _kill_monitors, _remove_cgroups, _unmount_under
        _kill_monitors(engine.top)
        _unmount_under(top)
        _remove_cgroups("/cvb-bench")
        _remove_cgroups("/cvb-bench-docker")
        remove_network_leftovers(engine.root, COVE_NETWORK)
        if dockerd is not None:
            remove_docker_leftovers(before, docker_bridges)
        from tests.cni_fixtures import remove_new_empty_tables
        remove_new_empty_tables(tables_before)  # iptables-nft's, once dockerd's rules are gone
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
