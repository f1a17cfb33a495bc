"""A private coved for tests: its own root, exec-root, socket and cgroup parent.

``from tests.engine_fixtures import coved_fixture, engine_fixture`` in a test module,
then use ``engine`` (a running daemon with ``busybox:latest`` loaded; every container
is removed after each test). The daemon is started once per module; its teardown
stops it, kills the monitors it left, and removes mounts, cgroups and files.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.busybox import build_rootfs
from tests.image_fixtures import BUSYBOX_CONFIG, tar_tree

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
COVED = VENV_BIN / "coved"
COVE = VENV_BIN / "cove"
DOCKER = "/usr/local/bin/docker"
CGROUP_ROOT = "/sys/fs/cgroup"


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Engine:
    """A running coved and ways to talk to it."""

    def __init__(self, top: Path, cgroup_parent: str) -> None:
        self.top = top
        self.root = top / "root"
        self.exec_root = top / "exec"
        self.socket = str(top / "cove.sock")
        self.cgroup_parent = cgroup_parent
        self.log = top / "coved.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.extra_args: list[str] = []
        self.network: dict[str, object] = {}
        # The host's nftables tables before a benchmark's daemon (bench_engine).
        self.tables_before: set[str] | None = None
        # Tests read the debug log; benchmarks set "info", as a production daemon runs.
        self.log_level = "debug"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["COVE_HOST"] = self.host
        env.pop("DOCKER_CONTEXT", None)
        env["DOCKER_CONFIG"] = str(self.top / "docker-config")
        return env

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(COVED), "--root", str(self.root), "--exec-root", str(self.exec_root),
                 "-H", self.host, "--cgroup-parent", self.cgroup_parent,
                 "--config-file", str(self.top / "daemon.json"), "--log-level", self.log_level,
                 *self.extra_args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"coved exited: {self.log.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/_ping")[0] == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"coved did not answer: {self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None,
                timeout: float = 60) -> tuple[int, Any]:
        """(status, decoded JSON or bytes) of one API call."""
        conn = _UnixConnection(self.socket, timeout)
        try:
            data = None
            hdrs = dict(headers or {})
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.getheader("Content-Type", "").startswith("application/json") and raw:
                try:
                    return resp.status, json.loads(raw)
                except ValueError:
                    return resp.status, raw
            return resp.status, raw
        finally:
            conn.close()

    def docker(self, *args: str, input: bytes | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([DOCKER, *args], env=self.env(), input=input,
                              capture_output=True, timeout=timeout, check=False)

    def cove(self, *args: str, input: bytes | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([str(COVE), "-H", self.host, *args], env=self.env(),
                              input=input, capture_output=True, timeout=timeout, check=False)

    def remove_all_containers(self) -> None:
        status, items = self.request("GET", "/containers/json?all=1")
        if status != 200:
            return
        for item in items:
            self.request("DELETE", f"/containers/{item['Id']}?force=1")


def _kill_monitors(top: Path) -> None:
    """conmon processes started for this daemon (their pid files are under exec-root)."""
    for pidfile in top.glob("exec/containers/*/conmon.pid"):
        with contextlib.suppress(ValueError, OSError):
            pid = int(pidfile.read_text().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if str(top).encode() in f.read():
                    os.kill(pid, signal.SIGKILL)
    for pidfile in top.glob("exec/containers/*/init.pid"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pidfile.read_text().strip()), signal.SIGKILL)


def _unmount_under(path: Path) -> None:
    with open("/proc/self/mountinfo") as f:
        targets = [line.split()[4] for line in f]
    prefix = str(path) + "/"
    for target in sorted((t for t in targets if t.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def _remove_cgroups(parent: str) -> None:
    for hierarchy in Path(CGROUP_ROOT).iterdir():
        top = hierarchy / parent.lstrip("/")
        if not top.is_dir():
            continue
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


@pytest.fixture(scope="session")
def busybox_layer_tar() -> Iterator[bytes]:
    top = Path(tempfile.mkdtemp(prefix="cove-engine-bb-"))
    try:
        yield tar_tree(build_rootfs(top / "rootfs"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


def load_busybox(root: Path, layer: bytes, name: str = "busybox:latest") -> str:
    from cove.images.service import ImageService
    with ImageService(root / "image") as images:
        return images.create_image([layer], BUSYBOX_CONFIG, name).id


def network_settings(tag: str) -> dict[str, object]:
    """daemon.json keys that give a test daemon networks of its own: its own default
    bridge, nftables table and subnets, so several daemons never share one."""
    k = int(tag[:6], 16)
    bip_k = k % (14 * 256)
    pool_k = (k // 4096) % 256
    # "dns": names the embedded resolver does not know go to 127.0.0.1 (nothing answers
    # there), never to the host's own resolvers: tests send no packet off this machine.
    return {"bridge": f"cvt{tag[:8]}", "firewall-table": f"cvt{tag[:8]}", "dns": ["127.0.0.1"],
            "bip": f"10.{210 + bip_k // 256}.{bip_k % 256}.1/24",
            "default-address-pools": [{"base": f"10.{224 + pool_k // 16}."
                                               f"{16 * (pool_k % 16)}.0/20", "size": 24}]}


def remove_network_leftovers(root: Path, settings: dict[str, object],
                             tables_before: set[str] | None = None) -> None:
    """The bridges, nftables table and iptables rules a test daemon made (and, given the
    tables that existed before it, the iptables-nft tables its rules made, once empty)."""
    bridges = {str(settings["bridge"])}
    for record in (root / "network").glob("*.json"):
        with contextlib.suppress(ValueError, OSError):
            data = json.loads(record.read_text())
            if data.get("driver") == "bridge" and data.get("interface"):
                bridges.add(str(data["interface"]))
    for bridge in bridges:
        subprocess.run(["ip", "link", "del", bridge], check=False, capture_output=True)
        for chain_args in (["-i", bridge], ["-o", bridge]):
            while subprocess.run(["iptables", "-D", "FORWARD", *chain_args, "-j", "ACCEPT",
                                  "-m", "comment", "--comment", "cove"],
                                 check=False, capture_output=True).returncode == 0:
                pass
    subprocess.run(["nft", "delete", "table", "ip", str(settings["firewall-table"])],
                   check=False, capture_output=True)
    if tables_before is not None:
        from tests.cni_fixtures import remove_new_empty_tables
        remove_new_empty_tables(tables_before)


def bench_engine(top: Path, cgroup_parent: str) -> Engine:
    """An Engine for a benchmark under ``top`` (made here): log level info as a
    production daemon runs, networks of its own (remove them with
    :func:`remove_network_leftovers` after)."""
    engine = Engine(top, cgroup_parent)
    engine.log_level = "info"  # no per-request debug lines in the figures
    top.mkdir()
    engine.network = network_settings(uuid.uuid4().hex)
    (top / "daemon.json").write_text(json.dumps(engine.network))
    from tests.cni_fixtures import nft_tables
    engine.tables_before = nft_tables()
    return engine


@contextlib.contextmanager
def private_engine(layer: bytes | None, daemon_json: str = "{}",
                   extra_args: list[str] | None = None,
                   start: bool = True) -> Iterator[Engine]:
    """A daemon of its own (root, exec-root, socket, cgroup parent), torn down after."""
    top = Path(tempfile.mkdtemp(prefix="cove-engine-"))
    top.chmod(0o755)
    engine = Engine(top, f"/cove-test-{uuid.uuid4().hex[:8]}")
    engine.extra_args = list(extra_args or [])
    net = network_settings(uuid.uuid4().hex)
    config = json.loads(daemon_json)
    for key, value in net.items():
        config.setdefault(key, value)
    net.update({k: config[k] for k in net})
    engine.network = net
    (top / "daemon.json").write_text(json.dumps(config))
    try:
        if layer is not None:
            load_busybox(engine.root, layer)
        if start:
            engine.start()
        yield engine
    finally:
        with contextlib.suppress(Exception):
            if engine.proc is not None:
                engine.remove_all_containers()
        engine.stop()
        _kill_monitors(top)
        time.sleep(0.1)
        _unmount_under(top)
        _remove_cgroups(engine.cgroup_parent)
        remove_network_leftovers(engine.root, net)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(scope="module", name="coved")
def coved_fixture(busybox_layer_tar: bytes) -> Iterator[Engine]:
    with private_engine(busybox_layer_tar) as engine:
        yield engine


@pytest.fixture(name="engine")
def engine_fixture(coved: Engine) -> Iterator[Engine]:
    if coved.proc is None or coved.proc.poll() is not None:
        coved.start()
    try:
        yield coved
    finally:
        if coved.proc is None or coved.proc.poll() is not None:
            coved.start()
        coved.remove_all_containers()


@pytest.fixture(name="vengine")
def vengine_fixture(engine: Engine) -> Iterator[Engine]:
    """The engine; every container, then every volume, removed after the test."""
    try:
        yield engine
    finally:
        engine.remove_all_containers()
        status, body = engine.request("GET", "/volumes")
        if status == 200:
            for v in body["Volumes"]:
                engine.request("DELETE", f"/volumes/{v['Name']}?force=1")


def python() -> str:
    return sys.executable
