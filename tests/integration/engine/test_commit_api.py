"""POST /commit, GET /containers/{id}/export and /changes: API, docker CLI and SDK."""

from __future__ import annotations

import io
import json
import tarfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.api_schema import validate_definition, validate_response
from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

WRITE = "echo hello > /greeting && mkdir -p /new/sub && echo x > /new/sub/f && rm /bin/arp"


def _ok(proc: Any) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return str(proc.stdout.decode())


def _run(engine: Engine, image: str, cmd: list[str] | None = None,
         name: str | None = None) -> str:
    """Create and start; wait for the end; the container's id."""
    body: dict[str, Any] = {"Image": image}
    if cmd is not None:
        body["Cmd"] = cmd
    path = "/containers/create" + (f"?name={name}" if name else "")
    status, reply = engine.request("POST", path, body)
    assert status == 201, reply
    cid = str(reply["Id"])
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    status, reply = engine.request("POST", f"/containers/{cid}/wait")
    assert status == 200 and reply["StatusCode"] == 0, reply
    return cid


def _output(engine: Engine, image: str, cmd: list[str] | None = None) -> bytes:
    cid = _run(engine, image, cmd)
    _, raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    out = b""
    while raw:
        size = int.from_bytes(raw[4:8], "big")
        out += raw[8:8 + size]
        raw = raw[8 + size:]
    engine.request("DELETE", f"/containers/{cid}?force=1")
    return out


@pytest.fixture(name="made_images")
def made_images_fixture(engine: Engine) -> Iterator[list[str]]:
    """Images a test commits; removed afterwards with the containers."""
    made: list[str] = []
    try:
        yield made
    finally:
        engine.remove_all_containers()
        for ref in made:
            engine.request("DELETE", f"/images/{ref}?force=1")


def test_diff_commit_export_with_docker_cli(engine: Engine, tmp_path: Path,
                                            made_images: list[str]) -> None:
    cid = _run(engine, "busybox", ["sh", "-c", WRITE])
    out = _ok(engine.docker("diff", cid)).splitlines()
    assert "A /greeting" in out
    assert "A /new" in out and "A /new/sub/f" in out
    assert "C /bin" in out and "D /bin/arp" in out

    made_images.append("committed/img:1")
    out = _ok(engine.docker("commit", "-c", 'CMD ["cat", "/greeting"]', "-m", "a message",
                            "-a", "Cove Tester <t@example.com>", cid, "committed/img:1"))
    image_id = out.strip()
    assert image_id.startswith("sha256:")
    status, info = engine.request("GET", "/images/committed/img:1/json")
    assert status == 200 and info["Id"] == image_id
    validate_definition("ImageInspect", info)
    assert info["Author"] == "Cove Tester <t@example.com>"
    assert info["Comment"] == "a message"
    assert info["Config"]["Cmd"] == ["cat", "/greeting"]
    assert len(info["RootFS"]["Layers"]) == 2
    _, hist = engine.request("GET", "/images/committed/img:1/history")
    assert hist[0]["CreatedBy"] == f"sh -c {WRITE}" and hist[0]["Comment"] == "a message"
    # The new image runs with its changes and its new default command.
    assert _output(engine, "committed/img:1") == b"hello\n"
    assert _output(engine, "committed/img:1", ["sh", "-c", "test -e /bin/arp || echo gone"]) \
        == b"gone\n"

    target = tmp_path / "export.tar"
    _ok(engine.docker("export", "-o", str(target), cid))
    with tarfile.open(target) as tar:
        names = set(tar.getnames())
        greeting = tar.extractfile("greeting")
        assert greeting is not None and greeting.read() == b"hello\n"
    assert "bin/sh" in names and "new/sub/f" in names and "bin/arp" not in names


def test_commit_over_the_api_with_config_overrides(engine: Engine,
                                                   made_images: list[str]) -> None:
    cid = _run(engine, "busybox", ["sh", "-c", "echo v1 > /version"])
    status, changes = engine.request("GET", f"/v1.47/containers/{cid}/changes")
    assert status == 200
    validate_response("/containers/{id}/changes", "get", 200, changes)
    assert {"Path": "/version", "Kind": 1} in changes
    query = urllib.parse.urlencode({"container": cid, "repo": "api/commit", "tag": "2",
                                    "comment": "over the API", "changes": "ENV FROM_CHANGE=yes"})
    made_images.append("api/commit:2")
    status, reply = engine.request(
        "POST", f"/v1.47/commit?{query}",
        {"Env": ["GREETING=hi"], "Cmd": ["sh", "-c", "echo $GREETING $FROM_CHANGE; cat /version"],
         "Labels": {"made.by": "test"}})
    assert status == 201, reply
    validate_definition("IdResponse", reply)
    _, info = engine.request("GET", "/images/api/commit:2/json")
    assert info["Id"] == reply["Id"]
    assert info["Config"]["Labels"] == {"made.by": "test"}
    assert _output(engine, "api/commit:2") == b"hi yes\nv1\n"
    # No repo: an unnamed (dangling) image, known by its ID.
    status, reply = engine.request("POST", f"/commit?container={cid}")
    assert status == 201
    made_images.append(reply["Id"])
    assert engine.request("GET", f"/images/{reply['Id']}/json")[1]["RepoTags"] == []


def test_commit_of_a_running_container_pauses_it_only_meanwhile(
        engine: Engine, made_images: list[str]) -> None:
    status, reply = engine.request("POST", "/containers/create?name=busy",
                                   {"Image": "busybox",
                                    "Cmd": ["sh", "-c", "echo up > /up; sleep 60"]})
    assert status == 201
    cid = reply["Id"]
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    made_images.append("running/commit:1")
    for _ in range(100):
        if any(c["Path"] == "/up" for c in engine.request(
                "GET", f"/containers/{cid}/changes")[1]):
            break
        time.sleep(0.05)
    since = time.time()
    status, reply = engine.request("POST", "/commit?container=busy&repo=running/commit&tag=1")
    assert status == 201, reply
    _, state = engine.request("GET", f"/containers/{cid}/json")
    assert state["State"]["Status"] == "running"
    q = urllib.parse.quote(json.dumps({"container": [cid]}))
    _, raw = engine.request("GET", f"/events?since={since:.3f}&until={time.time() + 1:.3f}"
                            f"&filters={q}")
    lines = [raw] if isinstance(raw, dict) else \
        [json.loads(line) for line in raw.splitlines() if line.strip()]
    assert [e["Action"] for e in lines] == ["pause", "unpause", "commit"]
    assert _output(engine, "running/commit:1", ["cat", "/up"]) == b"up\n"


def test_bad_requests(engine: Engine) -> None:
    cid = _run(engine, "busybox", ["true"])
    assert engine.request("POST", "/commit")[0] == 400
    status, body = engine.request("POST", "/commit?container=nope")
    assert status == 404 and body["message"] == "No such container: nope"
    assert engine.request("POST", f"/commit?container={cid}&repo=Bad%20Repo")[0] == 400
    assert engine.request("POST", f"/commit?container={cid}&tag=only")[0] == 400
    status, body = engine.request("POST", f"/commit?container={cid}&changes=FROB%20it")
    assert status == 400
    status, body = engine.request("POST", f"/commit?container={cid}", b"{not json",
                                  headers={"Content-Type": "application/json"})
    assert status == 400 and "JSON" in body["message"]
    assert engine.request("GET", "/containers/nope/changes")[0] == 404
    assert engine.request("GET", "/containers/nope/export")[0] == 404
    proc = engine.docker("diff", "nope")
    assert proc.returncode == 1 and b"No such container: nope" in proc.stderr
    assert engine.request("GET", "/_ping")[0] == 200


def test_docker_sdk_commit_diff_export(engine: Engine, made_images: list[str]) -> None:
    client = docker.DockerClient(base_url=engine.host, version="1.47")
    try:
        container = client.containers.create("busybox", ["sh", "-c", "echo sdk > /sdk"])
        container.start()
        assert container.wait()["StatusCode"] == 0
        assert {"Path": "/sdk", "Kind": 1} in container.diff()
        made_images.append("sdk/commit:1")
        image = container.commit(repository="sdk/commit", tag="1", message="from the SDK")
        assert "sdk/commit:1" in image.tags
        data = b"".join(container.export())
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            sdk_file = tar.extractfile("sdk")
            assert sdk_file is not None and sdk_file.read() == b"sdk\n"
        assert json.loads(json.dumps(image.attrs))["Comment"] == "from the SDK"
    finally:
        client.close()
