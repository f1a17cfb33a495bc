"""Hostile and concurrent clients: the daemon answers, survives, and stays consistent."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import quote

import docker
import pytest

from tests.api_schema import docker_nulls_dropped, validate_response
from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]


def _raw(engine: Engine, data: bytes, read: bool = True) -> bytes:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(engine.socket)
        sock.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GET /_ping HTTP/1.1\r\nNo-Colon-Here\r\n\r\n",
    b"POST /containers/create HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    b"POST /containers/create HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
    b"POST /containers/create HTTP/1.1\r\nContent-Type: application/json\r\n"
    b"Content-Length: 7\r\nConnection: close\r\n\r\n[1,2,3]",
])
def test_malformed_requests_get_400(engine: Engine, request_bytes: bytes) -> None:
    answer = _raw(engine, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert engine.request("GET", "/_ping")[0] == 200


def test_clients_that_vanish_mid_stream(engine: Engine) -> None:
    status, body = engine.request("POST", "/containers/create",
                                  {"Image": "busybox",
                                   "Cmd": ["sh", "-c", "while true; do echo t; sleep 0.05; done"]})
    cid = body["Id"]
    engine.request("POST", f"/containers/{cid}/start")
    for path in (f"/containers/{cid}/logs?stdout=1&follow=1", "/events",
                 f"/containers/{cid}/wait"):
        method = "POST" if path.endswith("/wait") else "GET"
        _raw(engine, f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), read=False)
    # A hijacked attach whose client goes away at once.
    _raw(engine, f"POST /containers/{cid}/attach?stream=1&stdout=1 HTTP/1.1\r\n"
                 "Upgrade: tcp\r\nConnection: Upgrade\r\n\r\n".encode(), read=False)
    time.sleep(0.5)
    assert engine.request("GET", "/_ping")[0] == 200
    status, info = engine.request("GET", f"/containers/{cid}/json")
    assert info["State"]["Running"] is True
    assert engine.request("DELETE", f"/containers/{cid}?force=1")[0] == 204


def test_concurrent_requests_on_one_container_are_serialised(engine: Engine) -> None:
    status, body = engine.request("POST", "/containers/create",
                                  {"Image": "busybox", "Cmd": ["sleep", "1000"],
                                   "HostConfig": {"Init": True}})
    cid = body["Id"]
    results: list[int] = []
    lock = threading.Lock()

    def hit(method: str, path: str) -> None:
        code = engine.request(method, path)[0]
        with lock:
            results.append(code)

    threads = [threading.Thread(target=hit, args=("POST", f"/containers/{cid}/start"))
               for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Exactly one start did it; the others found it running.
    assert sorted(results) == [204] + [304] * 5
    results.clear()
    threads = [threading.Thread(target=hit, args=("POST", f"/containers/{cid}/stop?t=5"))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(204) >= 1 and set(results) <= {204, 304}
    info = engine.request("GET", f"/containers/{cid}/json")[1]
    assert info["State"]["Status"] == "exited"


def test_inspect_and_list_match_the_api_schema(engine: Engine) -> None:
    status, body = engine.request("POST", "/containers/create?name=schema",
                                  {"Image": "busybox", "Cmd": ["sleep", "100"],
                                   "Labels": {"a": "b"}, "Env": ["X=1"],
                                   "HostConfig": {"Memory": 64 << 20, "Init": True}})
    assert status == 201
    validate_response("/containers/create", "post", 201, body)
    engine.request("POST", "/containers/schema/start")
    status, info = engine.request("GET", "/containers/schema/json")
    # Docker answers null for unset Entrypoint/Volumes/OnBuild, Aliases... although its
    # swagger does not mark them nullable; Cove answers as Docker does.
    validate_response("/containers/{id}/json", "get", 200, docker_nulls_dropped(info))
    assert info["HostConfig"]["Memory"] == 64 << 20
    assert "X=1" in info["Config"]["Env"]
    status, items = engine.request("GET", "/containers/json")
    validate_response("/containers/json", "get", 200, docker_nulls_dropped(items))
    status, version = engine.request("GET", "/version")
    validate_response("/version", "get", 200, version)
    status, info = engine.request("GET", "/info")
    validate_response("/info", "get", 200, info)


def test_docker_sdk_drives_the_engine(engine: Engine) -> None:
    client = docker.DockerClient(base_url=engine.host, version="1.47")
    try:
        out = client.containers.run("busybox", ["sh", "-c", "echo sdk; exit 0"], remove=True)
        assert out == b"sdk\n"
        c = client.containers.run("busybox", ["sleep", "100"], detach=True, name="sdk1",
                                  labels={"k": "v"}, init=True)
        c.reload()
        assert c.status == "running"
        assert [x.name for x in client.containers.list(filters={"label": "k=v"})] == ["sdk1"]
        c.stop(timeout=5)
        result: dict[str, Any] = c.wait()
        assert result["StatusCode"] == 143
        c.remove()
        with pytest.raises(docker.errors.NotFound):
            client.containers.get("sdk1")
        # create, not run: run would pull the missing image from Docker Hub.
        with pytest.raises(docker.errors.ImageNotFound):
            client.containers.create("no-such-image:1", ["true"])
    finally:
        client.close()


def test_events_stream_reports_the_lifecycle(engine: Engine) -> None:
    since = time.time()
    status, body = engine.request("POST", "/containers/create?name=ev",
                                  {"Image": "busybox", "Cmd": ["true"]})
    engine.request("POST", "/containers/ev/start")
    engine.request("POST", "/containers/ev/wait")
    engine.request("DELETE", "/containers/ev")
    until = time.time() + 0.5
    time.sleep(0.6)
    filters = quote(json.dumps({"container": ["ev"], "type": ["container"]}))
    status, raw = engine.request(
        "GET", f"/events?since={since}&until={until}&filters={filters}")
    assert status == 200
    actions = [json.loads(line)["Action"] for line in raw.splitlines() if line.strip()]
    assert actions == ["create", "start", "die", "destroy"]
