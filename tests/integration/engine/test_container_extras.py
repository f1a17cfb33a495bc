"""top, stats, update and port: the API, the real docker CLI and the docker SDK."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.engine_fixtures import (
    CGROUP_ROOT,
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

MiB = 1024 * 1024
V2 = os.path.exists(os.path.join(CGROUP_ROOT, "cgroup.controllers"))


def _run(engine: Engine, cmd: list[str], name: str | None = None, **extra: Any) -> str:
    path = "/containers/create" + (f"?name={name}" if name else "")
    status, body = engine.request("POST", path, {"Image": "busybox", "Cmd": cmd, **extra})
    assert status == 201, body
    cid = str(body["Id"])
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    return cid


def _cgroup_file(engine: Engine, cid: str, controller: str, name: str) -> str:
    spec = json.loads((engine.exec_root / "containers" / cid / "config.json").read_text())
    rel = spec["linux"]["cgroupsPath"].lstrip("/")
    base = Path(CGROUP_ROOT) if V2 else Path(CGROUP_ROOT) / controller
    return (base / rel / name).read_text().strip()


@pytest.fixture
def sleeper(engine: Engine) -> Iterator[str]:
    cid = _run(engine, ["sleep", "600"], name="extras")
    yield cid
    engine.request("DELETE", f"/containers/{cid}?force=1")


@pytest.fixture
def client(engine: Engine) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=engine.host, version="1.47")
    yield c
    c.close()


# -- top ------------------------------------------------------------------------------------

def test_top_lists_only_the_containers_processes(engine: Engine) -> None:
    cid = _run(engine, ["sh", "-c", "sleep 601 & sleep 602"])
    status, body = engine.request("GET", f"/containers/{cid}/top")
    assert status == 200, body
    assert body["Titles"][:2] == ["UID", "PID"] and body["Titles"][-1] == "CMD"
    commands = sorted(p[-1] for p in body["Processes"])
    # (busybox sh execs its last command: the shell itself is gone.)
    assert commands == ["sleep 601", "sleep 602"], body
    host_pids = {int(p[1]) for p in body["Processes"]}
    assert os.getpid() not in host_pids
    status, body = engine.request("GET", f"/containers/{cid}/top?ps_args=aux")
    assert status == 200
    assert body["Titles"][:3] == ["USER", "PID", "%CPU"]
    assert len(body["Processes"]) == 2


def test_top_errors(engine: Engine) -> None:
    cid = _run(engine, ["sleep", "600"])
    status, body = engine.request("GET", f"/containers/{cid}/top?ps_args=-o%20user=PID")
    assert status == 400 and 'specifying "user=PID" is not allowed' in body["message"]
    status, body = engine.request("GET", f"/containers/{cid}/top?ps_args=--bogus-flag")
    assert status == 400 and body["message"].startswith("ps:")
    status, body = engine.request("GET", f"/containers/{cid}/top?ps_args=-o%20user")
    assert status == 400 and "PID field" in body["message"]
    engine.request("POST", f"/containers/{cid}/kill")
    engine.request("POST", f"/containers/{cid}/wait")
    status, body = engine.request("GET", f"/containers/{cid}/top")
    assert status == 409 and body["message"] == f"container {cid} is not running"
    assert engine.request("GET", "/containers/nope/top")[0] == 404


def test_top_cli_and_sdk(engine: Engine, sleeper: str, client: docker.DockerClient) -> None:
    r = engine.docker("top", "extras")
    assert r.returncode == 0, r
    assert b"sleep 600" in r.stdout and b"PID" in r.stdout
    top = client.containers.get(sleeper).top()
    assert [p[-1] for p in top["Processes"]] == ["sleep 600"]


# -- stats ----------------------------------------------------------------------------------

def test_stats_one_shot_and_two_samples(engine: Engine) -> None:
    cid = _run(engine, ["sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; "
                                    "sleep 600"])
    time.sleep(0.3)
    status, s = engine.request("GET", f"/containers/{cid}/stats?stream=false&one-shot=true")
    assert status == 200, s
    assert s["id"] == cid and s["name"].startswith("/")
    assert s["pids_stats"]["current"] >= 1
    assert s["memory_stats"]["usage"] > 0
    assert s["memory_stats"]["limit"] > 0
    assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert s["cpu_stats"]["system_cpu_usage"] > 0
    assert s["cpu_stats"]["online_cpus"] >= 1
    assert s["preread"] == "0001-01-01T00:00:00Z"
    assert s["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    status, s = engine.request("GET", f"/containers/{cid}/stats?stream=false")
    assert status == 200
    assert s["preread"] != "0001-01-01T00:00:00Z" and s["preread"] < s["read"]
    assert s["precpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert s["precpu_stats"]["system_cpu_usage"] < s["cpu_stats"]["system_cpu_usage"]
    status, body = engine.request("GET", f"/containers/{cid}/stats?stream=true&one-shot=1")
    assert status == 400


def test_stats_stream_gives_a_sample_a_second(engine: Engine, sleeper: str) -> None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(engine.socket)
    sock.sendall(b"GET /containers/%s/stats HTTP/1.1\r\nHost: x\r\n\r\n" % sleeper.encode())
    data = b""
    started = time.monotonic()
    while data.count(b'"read"') < 3:
        chunk = sock.recv(65536)
        assert chunk
        data += chunk
    elapsed = time.monotonic() - started
    sock.close()
    assert 1.5 < elapsed < 5
    docs = [json.loads(line) for line in _dechunk(data.partition(b"\r\n\r\n")[2])
            .splitlines() if line.strip()]
    assert docs[1]["preread"] == docs[0]["read"]
    assert docs[2]["precpu_stats"] == docs[1]["cpu_stats"]
    # The daemon is fine after the client went away mid-stream.
    assert engine.request("GET", "/_ping")[0] == 200


def _dechunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        try:
            size = int(size_line, 16)
        except ValueError:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def test_stats_of_a_stopped_container_are_zero(engine: Engine) -> None:
    cid = _run(engine, ["true"])
    engine.request("POST", f"/containers/{cid}/wait")
    status, s = engine.request("GET", f"/containers/{cid}/stats?stream=false")
    assert status == 200
    assert s["read"] == "0001-01-01T00:00:00Z"
    assert s["memory_stats"] == {} and s["pids_stats"] == {}


def test_stats_cli_and_sdk(engine: Engine, sleeper: str, client: docker.DockerClient) -> None:
    r = engine.docker("stats", "--no-stream", "--format",
                      "{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}", "extras")
    assert r.returncode == 0, r
    name, mem, pids, cpu = r.stdout.decode().strip().split("|")
    assert name == "extras"
    assert pids == "1"
    used, limit = mem.split(" / ")
    assert used != "0B" and limit != "0B", mem
    assert cpu.endswith("%")
    s = client.containers.get(sleeper).stats(stream=False)
    assert s["pids_stats"]["current"] == 1


# -- update ---------------------------------------------------------------------------------

def test_update_writes_the_cgroup_and_persists(engine: Engine, sleeper: str) -> None:
    body = {"Memory": 64 * MiB, "MemorySwap": 128 * MiB, "MemoryReservation": 32 * MiB,
            "CpuShares": 512, "NanoCpus": 500_000_000, "PidsLimit": 50, "CpusetCpus": "0",
            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}}
    status, out = engine.request("POST", f"/containers/{sleeper}/update", body)
    assert status == 200, out
    assert out == {"Warnings": []}
    if V2:
        assert _cgroup_file(engine, sleeper, "memory", "memory.max") == str(64 * MiB)
        assert _cgroup_file(engine, sleeper, "memory", "memory.swap.max") == str(64 * MiB)
        assert _cgroup_file(engine, sleeper, "cpu", "cpu.max") == "50000 100000"
    else:
        assert _cgroup_file(engine, sleeper, "memory", "memory.limit_in_bytes") == \
            str(64 * MiB)
        assert _cgroup_file(engine, sleeper, "memory", "memory.memsw.limit_in_bytes") == \
            str(128 * MiB)
        assert _cgroup_file(engine, sleeper, "memory", "memory.soft_limit_in_bytes") == \
            str(32 * MiB)
        assert _cgroup_file(engine, sleeper, "cpu", "cpu.shares") == "512"
        assert _cgroup_file(engine, sleeper, "cpu", "cpu.cfs_quota_us") == "50000"
        assert _cgroup_file(engine, sleeper, "cpu", "cpu.cfs_period_us") == "100000"
    assert _cgroup_file(engine, sleeper, "pids", "pids.max") == "50"
    assert _cgroup_file(engine, sleeper, "cpuset", "cpuset.cpus") == "0"
    s = engine.request("GET", f"/containers/{sleeper}/stats?stream=false&one-shot=1")[1]
    assert s["memory_stats"]["limit"] == 64 * MiB
    assert s["pids_stats"]["limit"] == 50
    # Saved with the record: a restarted daemon still has them.
    engine.stop()
    engine.start()
    hc = engine.request("GET", f"/containers/{sleeper}/json")[1]["HostConfig"]
    assert hc["Memory"] == 64 * MiB and hc["MemorySwap"] == 128 * MiB
    assert hc["NanoCpus"] == 500_000_000 and hc["PidsLimit"] == 50
    assert hc["CpuShares"] == 512 and hc["CpusetCpus"] == "0"
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    # Unlimited pids again.
    status, out = engine.request("POST", f"/containers/{sleeper}/update", {"PidsLimit": -1})
    assert status == 200
    assert _cgroup_file(engine, sleeper, "pids", "pids.max") == "max"


def test_update_errors_change_nothing(engine: Engine, sleeper: str) -> None:
    def refused(body: dict[str, Any], status: int, text: str) -> None:
        got, out = engine.request("POST", f"/containers/{sleeper}/update", body)
        assert got == status, out
        assert text in out["message"], out
        assert out["message"].startswith(f"Cannot update container {sleeper}: ")

    refused({"Memory": 64 * MiB}, 409, "Memory limit should be smaller than already set "
            "memoryswap limit, update the memoryswap at the same time")
    refused({"Memory": 1000, "MemorySwap": -1}, 400, "Minimum memory limit allowed is 6MB")
    refused({"Memory": 64 * MiB, "MemorySwap": 32 * MiB}, 400,
            "Minimum memoryswap limit should be larger than memory limit")
    refused({"CpusetCpus": "0-99"}, 400, "Requested CPUs are not available")
    refused({"NanoCpus": 100 * 1_000_000_000}, 400, "Range of CPUs is from 0.01 to")
    refused({"NanoCpus": 500_000_000, "CpuQuota": 50000}, 400, "Conflicting options")
    refused({"BlkioWeight": 5}, 400, "Range of blkio weight is from 10 to 1000")
    refused({"RestartPolicy": {"Name": "sometimes"}}, 400, "invalid restart policy")
    refused({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}, 400,
            "maximum retry count can only be used with 'on-failure'")
    refused({"Memory": "lots"}, 400, "invalid Memory")
    status, out = engine.request("POST", f"/containers/{sleeper}/update", b"[",
                                 headers={"Content-Type": "application/json"})
    assert status == 400
    hc = engine.request("GET", f"/containers/{sleeper}/json")[1]["HostConfig"]
    assert not hc.get("Memory") and not hc.get("NanoCpus")
    assert engine.request("POST", "/containers/nope/update", {"Memory": 0})[0] == 404


@pytest.mark.skipif(V2, reason="memory below usage is refused by cgroup v1 writes only")
def test_update_memory_below_usage_is_refused_and_undone(engine: Engine) -> None:
    cid = _run(engine, ["sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 "
                                    "2>/dev/null; sleep 600"])
    deadline = time.monotonic() + 10
    while int(_cgroup_file(engine, cid, "memory", "memory.usage_in_bytes")) < 24 * MiB:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, out = engine.request("POST", f"/containers/{cid}/update",
                                 {"Memory": 100 * MiB, "MemorySwap": 100 * MiB})
    assert status == 200, out
    status, out = engine.request("POST", f"/containers/{cid}/update",
                                 {"Memory": 8 * MiB, "MemorySwap": 8 * MiB,
                                  "PidsLimit": 20})
    assert status == 409, out
    assert "unable to set memory limit to 8388608 (current usage:" in out["message"]
    assert _cgroup_file(engine, cid, "memory", "memory.limit_in_bytes") == str(100 * MiB)
    assert _cgroup_file(engine, cid, "memory", "memory.memsw.limit_in_bytes") == \
        str(100 * MiB)
    hc = engine.request("GET", f"/containers/{cid}/json")[1]["HostConfig"]
    assert hc["Memory"] == 100 * MiB and not hc.get("PidsLimit")


def test_update_of_a_stopped_container_is_saved(engine: Engine) -> None:
    status, body = engine.request("POST", "/containers/create",
                                  {"Image": "busybox", "Cmd": ["true"]})
    cid = body["Id"]
    status, out = engine.request("POST", f"/containers/{cid}/update", {"CpuShares": 256})
    assert status == 200, out
    assert engine.request("GET", f"/containers/{cid}/json")[1]["HostConfig"]["CpuShares"] \
        == 256


def test_update_cli_and_sdk(engine: Engine, sleeper: str, client: docker.DockerClient) -> None:
    r = engine.docker("update", "--memory", "100m", "--memory-swap", "200m", "--cpus", "0.5",
                      "--pids-limit", "40", "extras")
    assert r.returncode == 0, r
    assert r.stdout.strip() == b"extras"
    assert _cgroup_file(engine, sleeper, "pids", "pids.max") == "40"
    memory_file = "memory.max" if V2 else "memory.limit_in_bytes"
    assert _cgroup_file(engine, sleeper, "memory", memory_file) == str(100 * MiB)
    r = engine.docker("update", "--memory", "300m", "extras")
    assert r.returncode != 0
    assert b"update the memoryswap at the same time" in r.stderr
    result = client.containers.get(sleeper).update(mem_limit="150m", memswap_limit="300m")
    assert result == {"Warnings": []}
    assert _cgroup_file(engine, sleeper, "memory", memory_file) == str(150 * MiB)


# -- port -----------------------------------------------------------------------------------

def test_port_shows_the_bindings_of_a_running_container(engine: Engine) -> None:
    cid = _run(engine, ["sleep", "600"],
               HostConfig={"PortBindings": {"80/tcp": [{"HostPort": "8080"}],
                                            "53/udp": [{"HostIp": "127.0.0.1",
                                                        "HostPort": "5353"}]}})
    status, ports = engine.request("GET", f"/containers/{cid}/port")
    assert status == 200
    assert ports == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}],
                     "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}
    cid = _run(engine, ["sleep", "600"], HostConfig={
        "NetworkMode": "none", "PortBindings": {"80/tcp": [{"HostPort": "8081"}]}})
    assert engine.request("GET", f"/containers/{cid}/port") == (200, {})
    assert engine.request("GET", "/containers/nope/port")[0] == 404


# -- pure code, both cgroup versions (no daemon) ---------------------------------------------

class _Host:
    def __init__(self, v2: bool) -> None:
        self.v2 = v2


def test_parse_ps_output_keeps_spaces_in_the_command() -> None:
    from cove.engine.top import parse_ps_output, validate_ps_args

    out = ("UID  PID  PPID CMD\n"
           "root 10   1    sh -c sleep 1 & wait\n"
           "root 11   10   sleep 1\n"
           "root 99   1    other\n")
    top = parse_ps_output(out, {10, 11})
    assert top["Titles"] == ["UID", "PID", "PPID", "CMD"]
    assert top["Processes"] == [["root", "10", "1", "sh -c sleep 1 & wait"],
                                ["root", "11", "10", "sleep 1"]]
    validate_ps_args("-o pid=PID,args")
    with pytest.raises(Exception, match="is not allowed"):
        validate_ps_args("-o user=PID")


def test_v2_stats_are_read_from_unified_files(tmp_path: Path) -> None:
    from cove.engine.container_cgroup import ContainerCgroup
    from cove.engine.stats import StatsReader

    files = {"cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n"
                         "nr_periods 4\nnr_throttled 1\nthrottled_usec 20\n",
             "memory.current": "4096\n", "memory.max": "8192\n",
             "memory.stat": "anon 100\ninactive_file 50\n",
             "pids.current": "3\n", "pids.max": "max\n",
             "io.stat": "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    s = StatsReader(_Host(True)).sample(ContainerCgroup(str(tmp_path), {}), 0)  # type: ignore[arg-type]
    assert s["cpu_stats"]["cpu_usage"] == {"total_usage": 1_500_000,
                                           "usage_in_kernelmode": 500_000,
                                           "usage_in_usermode": 1_000_000}
    assert s["cpu_stats"]["throttling_data"] == {"periods": 4, "throttled_periods": 1,
                                                 "throttled_time": 20_000}
    assert s["memory_stats"] == {"usage": 4096, "limit": 8192,
                                 "stats": {"anon": 100, "inactive_file": 50}}
    assert s["pids_stats"] == {"current": 3}
    assert s["blkio_stats"]["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 10},
        {"major": 8, "minor": 0, "op": "write", "value": 20}]
    assert "networks" not in s


def test_v2_update_writes_unified_files(tmp_path: Path) -> None:
    from cove.engine.cgroup_update import CgroupWriter
    from cove.engine.container_cgroup import ContainerCgroup

    for name in ("memory.max", "memory.swap.max", "memory.low", "cpu.weight", "cpu.max",
                 "pids.max", "cpuset.cpus", "io.weight"):
        (tmp_path / name).write_text("max\n")
    merged = {"Memory": 64 * MiB, "MemorySwap": 96 * MiB, "MemoryReservation": 32 * MiB,
              "CpuShares": 1024, "NanoCpus": 1_500_000_000, "PidsLimit": 9,
              "CpusetCpus": "0", "BlkioWeight": 10}
    cg = ContainerCgroup(str(tmp_path), {})
    warnings = CgroupWriter(_Host(True)).apply(cg, merged, {}, set(merged), "c1")  # type: ignore[arg-type]
    assert warnings == []
    read = {p.name: p.read_text() for p in tmp_path.iterdir()}
    assert read == {"memory.max": str(64 * MiB), "memory.swap.max": str(32 * MiB),
                    "memory.low": str(32 * MiB), "cpu.weight": "100",
                    "cpu.max": "150000 100000", "pids.max": "9", "cpuset.cpus": "0",
                    "io.weight": "default 1"}


def test_v1_update_missing_files_are_warnings(tmp_path: Path) -> None:
    from cove.engine.cgroup_update import CgroupWriter
    from cove.engine.container_cgroup import ContainerCgroup

    (tmp_path / "memory").mkdir()
    (tmp_path / "blkio").mkdir()
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    cg = ContainerCgroup(None, {"memory": str(tmp_path / "memory"),
                                "blkio": str(tmp_path / "blkio")})
    merged = {"Memory": 64 * MiB, "MemorySwap": 128 * MiB, "BlkioWeight": 300}
    warnings = CgroupWriter(_Host(False)).apply(  # type: ignore[arg-type]
        cg, merged, {}, {"Memory", "MemorySwap", "BlkioWeight"}, "c1")
    assert (tmp_path / "memory" / "memory.limit_in_bytes").read_text() == str(64 * MiB)
    assert any("swap limit" in w for w in warnings)
    assert any("Block I/O weight" in w for w in warnings)


def test_plan_update_rules() -> None:
    from cove.engine.cgroup_update import plan_update
    from cove.errors import Conflict, InvalidArgument

    plan = plan_update({"Memory": 64 * MiB, "MemorySwap": -1, "PidsLimit": 0}, {})
    assert plan.changes == {"Memory": 64 * MiB, "MemorySwap": -1, "PidsLimit": 0}
    # Within the swap already set: no new swap needed.
    assert plan_update({"Memory": 32 * MiB}, {"MemorySwap": 64 * MiB}).changes == \
        {"Memory": 32 * MiB}
    assert plan_update({"Memory": 99 * MiB}, {"MemorySwap": -1}).changes == \
        {"Memory": 99 * MiB}
    with pytest.raises(Conflict):
        plan_update({"CpuQuota": 50000}, {"NanoCpus": 10**9})
    with pytest.raises(InvalidArgument, match="You should always set the Memory limit"):
        plan_update({"MemorySwap": 64 * MiB}, {})
    with pytest.raises(InvalidArgument, match="Requested memory nodes are not available"):
        plan_update({"CpusetMems": "3"}, {}, ("0-1", "0"))
    with pytest.raises(Conflict, match="AutoRemove"):
        plan_update({"RestartPolicy": {"Name": "always"}}, {"AutoRemove": True})
    assert plan_update({}, {}).changes == {}


def test_network_stats_leave_out_loopback_and_the_host_netns() -> None:
    from cove.engine.stats import network_stats

    # Our own namespace is the host's: no networks, not the host's interfaces.
    assert network_stats(os.getpid()) == {}
    assert network_stats(0) == {}
    # A process in a netns of its own: its interfaces but loopback.
    import subprocess
    proc = subprocess.Popen(["unshare", "--net", "sh", "-c",
                             "ip link add d0 type veth peer name d1 && "
                             "exec sleep 10"])
    try:
        deadline = time.monotonic() + 5
        while "d0" not in network_stats(proc.pid):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        stats = network_stats(proc.pid)
        assert set(stats) == {"d0", "d1"}
        assert set(stats["d0"]) == {"rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
                                    "tx_bytes", "tx_packets", "tx_errors", "tx_dropped"}
    finally:
        proc.kill()
        proc.wait()
