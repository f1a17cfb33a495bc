"""The image endpoints of the Engine API: directly, with the real docker CLI and the SDK."""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import io
import json
import os
import socket
import tarfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.api_schema import validate_definition, validate_response
from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture
from tests.registry_fixtures import (
    REGISTRY_USERS,
    Registry,
    auth_registry_fixture,
    needs_registry,
    registry_fixture,
    tls_registry_fixture,
    token_registry_fixture,
)

__all__ = ["auth_registry_fixture", "busybox_layer_tar", "coved_fixture", "engine_fixture",
           "registry_fixture", "tls_registry_fixture", "token_registry_fixture"]


def _ok(proc: Any) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return str(proc.stdout.decode())


def _create(engine: Engine, image: str = "busybox", cmd: list[str] | None = None) -> str:
    status, body = engine.request("POST", "/containers/create",
                                  {"Image": image, "Cmd": cmd or ["true"]})
    assert status == 201, body
    return str(body["Id"])


def _lines(raw: Any) -> list[dict[str, Any]]:
    """A JSON-lines body (the test client decodes a one-line body itself)."""
    if isinstance(raw, dict):
        return [raw]
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def _auth_header(user: str = "", password: str = "", server: str = "") -> str:
    doc = {"username": user, "password": password, "serveraddress": server}
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


@pytest.fixture(name="client")
def client_fixture(engine: Engine) -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=engine.host, version="1.47")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(name="scratch_tags")
def scratch_tags_fixture(engine: Engine) -> Iterator[list[str]]:
    """Names a test adds; removed afterwards (busybox:latest itself is kept)."""
    names: list[str] = []
    try:
        yield names
    finally:
        engine.remove_all_containers()
        for name in names:
            engine.request("DELETE", f"/images/{name}?force=1")


# -- list, inspect, history ------------------------------------------------------------


def test_list_inspect_history_match_the_spec(engine: Engine) -> None:
    status, items = engine.request("GET", "/v1.47/images/json")
    assert status == 200
    validate_response("/images/json", "get", 200, items)
    busybox = [i for i in items if "busybox:latest" in i["RepoTags"]]
    assert len(busybox) == 1
    image_id = busybox[0]["Id"]
    assert image_id.startswith("sha256:") and busybox[0]["Size"] > 0

    status, info = engine.request("GET", "/v1.47/images/busybox/json")
    assert status == 200
    validate_definition("ImageInspect", info)
    assert info["Id"] == image_id
    assert info["RepoTags"] == ["busybox:latest"]
    assert info["Config"]["Cmd"] == ["sh"]
    # By ID, by short ID and by the full name: the same image.
    for ref in (image_id, image_id[7:19], "docker.io/library/busybox:latest"):
        status, again = engine.request("GET", f"/images/{ref}/json")
        assert status == 200 and again["Id"] == image_id, ref

    status, hist = engine.request("GET", "/images/busybox:latest/history")
    assert status == 200
    validate_response("/images/{name}/history", "get", 200, hist)
    assert hist[0]["Id"] == image_id
    assert hist[0]["Tags"] == ["busybox:latest"]
    assert hist[0]["CreatedBy"] == "cove.busybox.build_rootfs"


def test_list_filters_and_shared_size(engine: Engine, scratch_tags: list[str]) -> None:
    scratch_tags.append("filtered/one:1")
    assert engine.request("POST", "/images/busybox/tag?repo=filtered/one&tag=1")[0] == 201
    q = urllib.parse.quote(json.dumps({"reference": ["filtered/*"]}))
    status, items = engine.request("GET", f"/images/json?filters={q}")
    assert status == 200
    # As docker: only the names that match are shown.
    assert [i["RepoTags"] for i in items] == [["filtered/one:1"]]
    q = urllib.parse.quote(json.dumps({"label": ["org.cove.test=busybox"]}))
    assert len(engine.request("GET", f"/images/json?filters={q}")[1]) == 1
    q = urllib.parse.quote(json.dumps({"label": ["org.cove.test=nope"]}))
    assert engine.request("GET", f"/images/json?filters={q}")[1] == []
    q = urllib.parse.quote(json.dumps({"dangling": ["true"]}))
    assert engine.request("GET", f"/images/json?filters={q}")[1] == []
    status, items = engine.request("GET", "/images/json?shared-size=1")
    assert status == 200 and items[0]["SharedSize"] == 0


def test_bad_input_gets_clear_errors(engine: Engine) -> None:
    status, body = engine.request("GET", "/images/json?filters=%7Bnot-json")
    assert status == 400 and "filters" in body["message"]
    q = urllib.parse.quote(json.dumps({"colour": ["red"]}))
    status, body = engine.request("GET", f"/images/json?filters={q}")
    assert status == 400 and body["message"] == "invalid filter 'colour'"
    q = urllib.parse.quote(json.dumps({"dangling": ["maybe"]}))
    assert engine.request("GET", f"/images/json?filters={q}")[0] == 400
    status, body = engine.request("GET", "/images/nope:1/json")
    assert status == 404 and body["message"] == "No such image: nope:1"
    assert "\n" not in body["message"]
    assert engine.request("GET", "/images/nope/history")[0] == 404
    assert engine.request("DELETE", "/images/nope:2")[0] == 404
    status, body = engine.request("POST", "/images/busybox/tag?repo=team/UPPER")
    assert status == 400 and "lowercase" in body["message"]
    assert engine.request("POST", "/images/busybox/tag")[0] == 400
    assert engine.request("POST", "/images/nope/tag?repo=x")[0] == 404
    status, body = engine.request("POST", "/images/create")
    assert status == 400
    status, body = engine.request("POST", "/images/create?fromImage=Bad%20Name")
    assert status == 400
    status, body = engine.request("GET", "/images/search?term=busybox")
    assert status == 501 and "not supported" in body["message"]


# -- tag and remove ----------------------------------------------------------------------


def test_tag_then_untag_keeps_the_image(engine: Engine, scratch_tags: list[str]) -> None:
    scratch_tags.append("team/app:1.0")
    status, _ = engine.request("POST", "/v1.47/images/busybox:latest/tag?repo=team/app&tag=1.0")
    assert status == 201
    _, info = engine.request("GET", "/images/team/app:1.0/json")
    assert sorted(info["RepoTags"]) == ["busybox:latest", "team/app:1.0"]
    status, result = engine.request("DELETE", "/images/team/app:1.0")
    assert status == 200
    validate_response("/images/{name}", "delete", 200, result)
    assert result == [{"Untagged": "team/app:1.0"}]
    assert engine.request("GET", "/images/busybox/json")[0] == 200
    # A second name stops removal by ID without force, with docker's wording.
    assert engine.request("POST", "/images/busybox/tag?repo=team/app&tag=2")[0] == 201
    scratch_tags.append("team/app:2")
    status, body = engine.request("DELETE", f"/images/{info['Id']}")
    assert status == 409
    assert "(must be forced) - image is referenced in multiple repositories" in body["message"]


def test_rmi_refuses_an_image_a_stopped_container_uses(engine: Engine,
                                                       scratch_tags: list[str]) -> None:
    scratch_tags.append("inuse:1")
    assert engine.request("POST", "/images/busybox/tag?repo=inuse&tag=1")[0] == 201
    status, info = engine.request("GET", "/images/inuse:1/json")
    image_id = info["Id"]
    # inuse:1 becomes the image's only name (busybox:latest is put back at the end).
    assert engine.request("DELETE", "/images/busybox:latest")[0] == 200
    try:
        cid = _create(engine, "inuse:1")
        status, body = engine.request("DELETE", "/images/inuse:1")
        assert status == 409
        assert body["message"] == (
            'conflict: unable to remove repository reference "inuse:1" (must force) - '
            f"container {cid[:12]} is using its referenced image {image_id[7:19]}")
        status, body = engine.request("DELETE", f"/images/{image_id}")
        assert status == 409
        assert body["message"] == (
            f"conflict: unable to delete {image_id[7:19]} (must be forced) - image is "
            f"being used by stopped container {cid[:12]}")
        # The docker CLI says the same and fails.
        proc = engine.docker("rmi", "inuse:1")
        assert proc.returncode != 0
        assert b"unable to remove repository reference" in proc.stderr
        # Running: not even force deletes it by ID.
        assert engine.request("POST", "/containers/create?name=runner",
                              {"Image": "inuse:1", "Cmd": ["sleep", "30"]})[0] == 201
        assert engine.request("POST", "/containers/runner/start")[0] == 204
        status, body = engine.request("DELETE", f"/images/{image_id}?force=1")
        assert status == 409 and "(cannot be forced) - image is being used by running" \
            in body["message"]
        # Forced by name: the name goes, the image stays (dangling) for its containers.
        status, result = engine.request("DELETE", "/images/inuse:1?force=1")
        assert status == 200 and result == [{"Untagged": "inuse:1"}]
        assert engine.request("GET", f"/images/{image_id}/json")[0] == 200
        q = urllib.parse.quote(json.dumps({"dangling": ["true"]}))
        assert [i["Id"] for i in engine.request("GET", f"/images/json?filters={q}")[1]] \
            == [image_id]
    finally:
        engine.remove_all_containers()
        engine.request("POST", f"/images/{image_id}/tag?repo=busybox&tag=latest")
    assert engine.request("GET", "/images/busybox:latest/json")[1]["Id"] == image_id


def test_forced_rmi_by_id_keeps_a_stopped_containers_layers(
        engine: Engine, busybox_layer_tar: bytes, scratch_tags: list[str]) -> None:
    status, raw = engine.request(
        "POST", "/images/create?fromSrc=-&repo=gone/soon&tag=1&changes=CMD%20echo%20still%20here",
        busybox_layer_tar)
    assert status == 200
    scratch_tags.append("gone/soon:1")
    image_id = _lines(raw)[0]["status"]
    cid = _create(engine, "gone/soon:1", ["sh", "-c", "echo still here"])
    status, result = engine.request("DELETE", f"/images/{image_id}?force=1")
    assert status == 200
    assert result == [{"Untagged": "gone/soon:1"}, {"Deleted": image_id}]
    assert engine.request("GET", f"/images/{image_id}/json")[0] == 404
    # The container keeps its root filesystem: it still starts and runs.
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    status, body = engine.request("POST", f"/containers/{cid}/wait")
    assert status == 200 and body["StatusCode"] == 0
    _, logs = engine.request("GET", f"/containers/{cid}/logs?stdout=1")
    assert logs.endswith(b"still here\n")
    # By name, forced past a stopped container: untagged and deleted as well.
    status, raw = engine.request("POST", "/images/create?fromSrc=-&repo=gone/later&tag=1",
                                 busybox_layer_tar)
    scratch_tags.append("gone/later:1")
    image_id = _lines(raw)[0]["status"]
    cid = _create(engine, "gone/later:1", ["true"])
    out = _ok(engine.docker("rmi", "-f", "gone/later:1"))
    assert out.splitlines() == ["Untagged: gone/later:1", f"Deleted: {image_id}"]
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204


def test_docker_cli_images_tag_history_rmi(engine: Engine, scratch_tags: list[str]) -> None:
    scratch_tags.append("cli/tagged:v1")
    _ok(engine.docker("tag", "busybox", "cli/tagged:v1"))
    out = _ok(engine.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
    assert "cli/tagged:v1" in out and "busybox:latest" in out
    out = _ok(engine.docker("images", "-q", "--filter", "reference=cli/*"))
    assert len(out.split()) == 1
    image_id = _ok(engine.docker("image", "inspect", "-f", "{{.Id}}", "cli/tagged:v1")).strip()
    out = _ok(engine.docker("image", "ls", "-a", "--digests", "--no-trunc"))
    assert image_id in out and "DIGEST" in out.splitlines()[0]
    out = _ok(engine.docker("history", "--no-trunc", "cli/tagged:v1"))
    assert "cove.busybox.build_rootfs" in out
    out = _ok(engine.docker("image", "inspect", "--format", "{{json .RepoTags}}", "cli/tagged:v1"))
    assert "cli/tagged:v1" in out
    out = _ok(engine.docker("rmi", "cli/tagged:v1"))
    assert "Untagged: cli/tagged:v1" in out
    proc = engine.docker("rmi", "cli/tagged:v1")
    assert proc.returncode == 1 and b"No such image: cli/tagged:v1" in proc.stderr


def test_docker_sdk_list_get_tag_remove(client: docker.DockerClient,
                                        scratch_tags: list[str]) -> None:
    image = client.images.get("busybox")
    assert "busybox:latest" in image.tags
    scratch_tags.append("sdk/img:1")
    assert image.tag("sdk/img", "1")
    assert {t for i in client.images.list() for t in i.tags} >= {"busybox:latest", "sdk/img:1"}
    assert [i.id for i in client.images.list(name="sdk/img")] == [image.id]
    client.images.remove("sdk/img:1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("sdk/img:1")
    assert image.history()[0]["Id"] == image.id


# -- registries: pull, push, login ------------------------------------------------------


def _pull(engine: Engine, image: str, tag: str = "", auth: str | None = None,
          ) -> tuple[int, Any]:
    query = urllib.parse.urlencode({"fromImage": image, "tag": tag})
    headers = {"X-Registry-Auth": auth} if auth is not None else {}
    return engine.request("POST", f"/v1.47/images/create?{query}", headers=headers,
                          timeout=120)


def _push_copy(engine: Engine, host: str, repo: str, tags: list[str]) -> None:
    """busybox under ``host/repo:tag`` in the registry; the local names go again."""
    name = f"{host}/{repo}:{tags[0]}"
    _ok(engine.docker("tag", "busybox", name))
    try:
        _ok(engine.docker("push", name, timeout=120))
    finally:
        _ok(engine.docker("rmi", name))


@needs_registry
def test_docker_cli_push_then_pull_round_trip(engine: Engine, registry: Registry,
                                              scratch_tags: list[str]) -> None:
    name = f"{registry.host}/team/bb:1"
    scratch_tags.append(name)
    _ok(engine.docker("tag", "busybox", name))
    out = _ok(engine.docker("push", name, timeout=120))
    assert "The push refers to repository" in out and "digest: sha256:" in out
    pushed_digest = out.split("digest: ")[1].split()[0]
    local_id = engine.request("GET", f"/images/{name}/json")[1]["Id"]
    _ok(engine.docker("rmi", name))
    assert engine.request("GET", f"/images/{name}/json")[0] == 404
    out = _ok(engine.docker("pull", name, timeout=120))
    assert f"Digest: {pushed_digest}" in out
    assert f"Status: Downloaded newer image for {name}" in out
    status, info = engine.request("GET", f"/images/{name}/json")
    assert status == 200 and info["Id"] == local_id
    assert f"{registry.host}/team/bb@{pushed_digest}" in info["RepoDigests"]
    # Again: nothing new.
    assert "Image is up to date" in _ok(engine.docker("pull", name, timeout=120))


@needs_registry
def test_pull_stream_and_errors_over_the_api(engine: Engine, registry: Registry,
                                             scratch_tags: list[str]) -> None:
    _push_copy(engine, registry.host, "api/bb", ["7"])
    name = f"{registry.host}/api/bb:7"
    scratch_tags.append(name)
    status, raw = _pull(engine, f"{registry.host}/api/bb", "7", auth=_auth_header())
    assert status == 200
    messages = _lines(raw)
    for m in messages:
        validate_definition("CreateImageInfo", m)
    assert (messages[0]["status"], messages[0]["id"]) == ("Pulling from api/bb", "7")
    assert messages[-1]["status"] == f"Status: Downloaded newer image for {name}"
    assert not any("error" in m for m in messages)
    # Unknown repository and unknown tag: statuses before any stream, docker's words.
    status, body = _pull(engine, f"{registry.host}/api/nothing-here", "latest")
    assert status == 404
    assert body["message"].startswith(
        f"pull access denied for {registry.host}/api/nothing-here, repository does not "
        "exist or may require 'docker login'")
    status, body = _pull(engine, f"{registry.host}/api/bb", "nope")
    assert status == 404
    assert body["message"] == (f"manifest for {registry.host}/api/bb:nope not found: "
                               "manifest unknown: manifest unknown")
    proc = engine.docker("pull", f"{registry.host}/api/bb:nope")
    assert proc.returncode == 1 and b"manifest unknown" in proc.stderr
    # Bad credentials header: refused as such.
    status, body = _pull(engine, f"{registry.host}/api/bb", "7", auth="%%%not-base64")
    assert status == 400 and "X-Registry-Auth" in body["message"]
    status, body = _pull(engine, "127.0.0.1:1/x", "1")
    assert status == 500 and "connection refused" in body["message"]


@needs_registry
def test_pull_by_digest_and_all_tags(engine: Engine, registry: Registry,
                                     scratch_tags: list[str]) -> None:
    for tag in ("a", "b"):
        _push_copy(engine, registry.host, "multi/bb", [tag])
        scratch_tags.append(f"{registry.host}/multi/bb:{tag}")
    status, raw = _pull(engine, f"{registry.host}/multi/bb")  # no tag: every tag
    assert status == 200, raw
    statuses = [m.get("status") for m in _lines(raw)]
    assert statuses.count("Pulling from multi/bb") == 2
    _, info = engine.request("GET", f"/images/{registry.host}/multi/bb:a/json")
    assert sorted(info["RepoTags"]) == sorted(
        ["busybox:latest", f"{registry.host}/multi/bb:a", f"{registry.host}/multi/bb:b"])
    digest = info["RepoDigests"][0].split("@")[1]
    status, raw = _pull(engine, f"{registry.host}/multi/bb", digest)
    assert status == 200 and _lines(raw)[-1]["status"].startswith("Status:")
    scratch_tags.append(f"{registry.host}/multi/bb@{digest}")


@needs_registry
def test_docker_sdk_pull(client: docker.DockerClient, engine: Engine, registry: Registry,
                         scratch_tags: list[str]) -> None:
    _push_copy(engine, registry.host, "sdk/bb", ["3"])
    scratch_tags.append(f"{registry.host}/sdk/bb:3")
    image = client.images.pull(f"{registry.host}/sdk/bb", tag="3")
    assert f"{registry.host}/sdk/bb:3" in image.tags
    with pytest.raises(docker.errors.NotFound):
        client.images.pull(f"{registry.host}/sdk/missing", tag="1")


@needs_registry
def test_login_push_pull_with_htpasswd(engine: Engine, auth_registry: Registry,
                                       scratch_tags: list[str]) -> None:
    host = auth_registry.host
    user, password = next(iter(REGISTRY_USERS.items()))
    status, body = engine.request("POST", "/auth", {"username": user, "password": "wrong",
                                                    "serveraddress": host})
    assert status == 401 and body["message"].startswith(f"login attempt to {host} failed")
    status, body = engine.request("POST", "/auth", {"username": user, "password": password,
                                                    "serveraddress": f"https://{host}/v2/"})
    assert status == 200
    validate_response("/auth", "post", 200, body)
    assert body["Status"] == "Login Succeeded"
    assert engine.request("POST", "/auth", b"[1,2]")[0] == 400
    proc = engine.docker("login", "-u", user, "--password-stdin", host, input=b"wrong\n")
    assert proc.returncode != 0
    assert f"login attempt to {host} failed".encode() in proc.stderr, proc.stderr
    name = f"{host}/private/bb:1"
    scratch_tags.append(name)
    _ok(engine.docker("tag", "busybox", name))
    # Not logged in: the push stream ends with the registry's refusal.
    proc = engine.docker("push", name, timeout=120)
    assert proc.returncode != 0 and b"unauthorized" in proc.stderr.lower() + proc.stdout.lower()
    status, raw = engine.request("POST", f"/images/{host}/private/bb/push?tag=1",
                                 headers={"X-Registry-Auth": _auth_header()})
    assert status == 200
    last = _lines(raw)[-1]
    validate_definition("PushImageInfo", last)
    assert "unauthorized" in last["error"] and last["errorDetail"]["message"] == last["error"]
    out = _ok(engine.docker("login", "-u", user, "--password-stdin", host,
                            input=password.encode() + b"\n"))
    assert "Login Succeeded" in out
    _ok(engine.docker("push", name, timeout=120))
    _ok(engine.docker("rmi", name))
    status, body = _pull(engine, f"{host}/private/bb", "1")  # anonymous
    assert status == 404 and "may require 'docker login'" in body["message"]
    _ok(engine.docker("pull", name, timeout=120))
    assert engine.request("GET", f"/images/{name}/json")[0] == 200


@needs_registry
def test_bearer_token_registry_through_the_api(engine: Engine, token_registry: Registry,
                                               scratch_tags: list[str]) -> None:
    host = token_registry.host
    user, password = next(iter(REGISTRY_USERS.items()))
    status, body = engine.request("POST", "/auth", {"username": user, "password": password,
                                                    "serveraddress": host})
    assert status == 200 and body["Status"] == "Login Succeeded"
    status, body = engine.request("POST", "/auth", {"username": user, "password": "nope",
                                                    "serveraddress": host})
    assert status == 401 and "bad credentials" in body["message"]
    name = f"{host}/tok/bb:1"
    scratch_tags.append(name)
    assert engine.request("POST", f"/images/busybox/tag?repo={host}/tok/bb&tag=1")[0] == 201
    auth = _auth_header(user, password, host)
    status, raw = engine.request("POST", f"/images/{host}/tok/bb/push?tag=1",
                                 headers={"X-Registry-Auth": auth}, timeout=120)
    assert status == 200 and not any("error" in m for m in _lines(raw)), raw
    assert engine.request("DELETE", f"/images/{name}")[0] == 200
    status, body = _pull(engine, f"{host}/tok/bb", "1")
    assert status == 404 and "may require 'docker login'" in body["message"]
    status, raw = _pull(engine, f"{host}/tok/bb", "1", auth=auth)
    assert status == 200 and _lines(raw)[-1]["status"].startswith("Status: Downloaded")


@needs_registry
def test_docker_sdk_login_and_push(client: docker.DockerClient, engine: Engine,
                                   auth_registry: Registry, scratch_tags: list[str]) -> None:
    host = auth_registry.host
    user, password = next(iter(REGISTRY_USERS.items()))
    with pytest.raises(docker.errors.APIError) as refused:
        client.login(username=user, password="wrong", registry=host, reauth=True)
    assert refused.value.status_code == 401
    assert client.login(username=user, password=password, registry=host,
                        reauth=True)["Status"] == "Login Succeeded"
    for tag in ("x", "y"):
        scratch_tags.append(f"{host}/sdk/pushed:{tag}")
        assert client.images.get("busybox").tag(f"{host}/sdk/pushed", tag)
    auth = {"username": user, "password": password}
    # No tag: every local tag of the repository (docker push --all-tags).
    messages = list(client.images.push(f"{host}/sdk/pushed", auth_config=auth, stream=True,
                                       decode=True))
    assert not [m for m in messages if "error" in m], messages
    assert sum(1 for m in messages if "digest: sha256:" in m.get("status", "")) == 2
    status, raw = _pull(engine, f"{host}/sdk/pushed", "y",
                        auth=_auth_header(user, password, host))
    assert status == 200 and "Image is up to date" in _lines(raw)[-1]["status"]


@needs_registry
def test_untrusted_tls_registry_is_named_as_such(engine: Engine,
                                                 tls_registry: Registry) -> None:
    host = tls_registry.host
    status, body = _pull(engine, f"{host}/any/thing", "1")
    assert status == 500
    assert "TLS certificate not trusted" in body["message"] and "ca.crt" in body["message"]
    status, body = engine.request("POST", "/auth", {"username": "a", "password": "b",
                                                    "serveraddress": host})
    assert status == 500 and "TLS certificate not trusted" in body["message"]


def test_push_of_an_unknown_image_is_404(engine: Engine) -> None:
    status, body = engine.request("POST", "/images/127.0.0.1:1/none/push?tag=1",
                                  headers={"X-Registry-Auth": _auth_header()})
    assert status == 404
    assert body["message"] == "An image does not exist locally with the tag: 127.0.0.1:1/none:1"


class SlowProxy:
    """A TCP proxy to a local registry that sends its answers slowly (and can cut them)."""

    def __init__(self, upstream: str, rate: int = 512 << 10) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._rate = rate
        self._server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self.active = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self._server.accept()
            except OSError:
                return
            up = socket.create_connection(self._upstream)
            with self._lock:
                self._conns += [down, up]
                self.active += 1
            threading.Thread(target=self._pump, args=(down, up, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, self._rate), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, rate: int) -> None:
        try:
            while data := src.recv(16 << 10):
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            if rate:
                with self._lock:
                    self.active -= 1

    def cut(self) -> None:
        """Stop listening and break every connection (a network cut)."""
        # shutdown first: close() alone leaves a blocked accept() accepting.
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        with self._lock:
            conns = list(self._conns)
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def _random_rootfs_tar(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return buf.getvalue()


def _stream_until(engine: Engine, path: str, marker: bytes) -> socket.socket:
    """Start a streamed request on a raw socket; return it once ``marker`` was read."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(60)
    sock.connect(engine.socket)
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: cove\r\nContent-Length: 0\r\n\r\n".encode())
    seen = b""
    while marker not in seen:
        data = sock.recv(65536)
        assert data, seen
        seen += data
    return sock


def _wait_for(predicate: Any, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(name="big_image")
def big_image_fixture(engine: Engine, registry: Registry) -> Iterator[str]:
    """A 4 MB single-layer image in the registry as team/big:1 (and not held locally)."""
    status, body = engine.request("POST", "/images/create?fromSrc=-&repo=big/local&tag=1",
                                  _random_rootfs_tar(4 << 20),
                                  headers={"Content-Type": "application/x-tar"})
    assert status == 200, body
    name = f"{registry.host}/team/big:1"
    _ok(engine.docker("tag", "big/local:1", name))
    _ok(engine.docker("push", name, timeout=120))
    _ok(engine.docker("rmi", name, "big/local:1"))
    try:
        yield "team/big:1"
    finally:
        status, items = engine.request("GET", "/images/json")
        for item in items:
            if any("big" in t for t in item["RepoTags"]) or not item["RepoTags"]:
                engine.request("DELETE", f"/images/{item['Id']}?force=1")


@needs_registry
def test_pull_cancelled_by_the_client_leaves_nothing(engine: Engine, registry: Registry,
                                                     big_image: str) -> None:
    proxy = SlowProxy(registry.host)
    try:
        name = f"{proxy.host}/{big_image}"
        query = urllib.parse.urlencode({"fromImage": name})
        sock = _stream_until(engine, f"/images/create?{query}", b'"Downloading"')
        sock.close()
        # The daemon stops at its next progress message and drops its registry
        # connections, long before the slow download could have ended.
        assert _wait_for(lambda: proxy.active == 0, timeout=5), proxy.active
        assert engine.request("GET", f"/images/{name}/json")[0] == 404
        assert engine.request("GET", "/_ping")[0] == 200
    finally:
        proxy.cut()


@needs_registry
def test_concurrent_pulls_of_one_image(engine: Engine, registry: Registry,
                                       big_image: str) -> None:
    name = f"{registry.host}/{big_image}"
    results: list[tuple[int, Any]] = []

    def pull() -> None:
        results.append(_pull(engine, name))

    threads = [threading.Thread(target=pull) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 3
    for status, raw in results:
        assert status == 200
        lines = _lines(raw)
        assert not [m for m in lines if "error" in m], lines
        assert lines[-1]["status"].startswith("Status: ")
    status, info = engine.request("GET", f"/images/{name}/json")
    assert status == 200 and info["RepoTags"] == [name]


@needs_registry
def test_pull_cut_by_the_network_ends_with_an_error_line(engine: Engine, registry: Registry,
                                                         big_image: str) -> None:
    proxy = SlowProxy(registry.host)
    name = f"{proxy.host}/{big_image}"
    query = urllib.parse.urlencode({"fromImage": name})
    sock = _stream_until(engine, f"/images/create?{query}", b'"Downloading"')
    try:
        proxy.cut()
        rest = b""
        while b"errorDetail" not in rest or not rest.endswith(b"0\r\n\r\n"):
            data = sock.recv(65536)
            if not data:
                break
            rest += data
    finally:
        sock.close()
    errors = [json.loads(line) for line in rest.split(b"\r\n") if b"errorDetail" in line]
    assert len(errors) == 1, rest[-2000:]
    assert len(errors) == 1 and errors[0]["error"] == errors[0]["errorDetail"]["message"]
    assert engine.request("GET", f"/images/{name}/json")[0] == 404


# -- import, save, load, prune ----------------------------------------------------------


def _run_logs(engine: Engine, image: str) -> bytes:
    """Run ``image``'s own command to its end; its output (multiplexed frames removed)."""
    cid = _create_default(engine, image)
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    assert engine.request("POST", f"/containers/{cid}/wait")[0] == 200
    _, raw = engine.request("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    out = b""
    while raw:
        size = int.from_bytes(raw[4:8], "big")
        out += raw[8:8 + size]
        raw = raw[8 + size:]
    engine.request("DELETE", f"/containers/{cid}?force=1")
    return out


def _create_default(engine: Engine, image: str) -> str:
    status, body = engine.request("POST", "/containers/create", {"Image": image})
    assert status == 201, body
    return str(body["Id"])


def _blob_files(engine: Engine) -> set[str]:
    content = engine.root / "image" / "content"
    return {str(p.relative_to(content)) for p in content.rglob("*") if p.is_file()}


def test_import_save_load_round_trip_with_docker_cli(engine: Engine, tmp_path: Path,
                                                     busybox_layer_tar: bytes,
                                                     scratch_tags: list[str]) -> None:
    scratch_tags.append("imp/bb:1")
    rootfs = tmp_path / "rootfs.tar.gz"
    rootfs.write_bytes(busybox_layer_tar)
    out = _ok(engine.docker("import", "--change", 'CMD ["echo", "imported"]',
                            "--message", "from the test", str(rootfs), "imp/bb:1"))
    image_id = out.strip()
    assert image_id.startswith("sha256:")
    _, hist = engine.request("GET", "/images/imp/bb:1/history")
    assert hist[0]["Comment"] == "from the test"
    assert hist[0]["CreatedBy"] == "Imported from -"  # the CLI sends the file as the body
    assert _run_logs(engine, "imp/bb:1") == b"imported\n"

    saved = tmp_path / "imp.tar"
    _ok(engine.docker("save", "-o", str(saved), "imp/bb:1"))
    with tarfile.open(saved) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest[0]["RepoTags"] == ["imp/bb:1"]
    _ok(engine.docker("rmi", "imp/bb:1"))
    assert engine.request("GET", f"/images/{image_id}/json")[0] == 404
    out = _ok(engine.docker("load", "-i", str(saved)))
    assert out.strip() == "Loaded image: imp/bb:1"
    assert engine.request("GET", "/images/imp/bb:1/json")[1]["Id"] == image_id
    # Unpacked as well as named: it runs at once.
    assert _run_logs(engine, "imp/bb:1") == b"imported\n"
    # docker save | docker load through a pipe, and docker save | gzip | docker load.
    data = engine.docker("save", "imp/bb:1").stdout
    _ok(engine.docker("rmi", "imp/bb:1"))
    assert "Loaded image: imp/bb:1" in _ok(engine.docker("load", input=data))
    _ok(engine.docker("rmi", "imp/bb:1"))
    out = _ok(engine.docker("load", input=gzip.compress(data)))
    assert "Loaded image: imp/bb:1" in out


def test_docker_sdk_save_and_load(client: docker.DockerClient, engine: Engine,
                                  scratch_tags: list[str]) -> None:
    scratch_tags.append("sdk/saved:1")
    image = client.images.get("busybox")
    image.tag("sdk/saved", "1")
    data = b"".join(client.images.get("sdk/saved:1").save(named="sdk/saved:1"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and "index.json" in names
    client.images.remove("sdk/saved:1")
    loaded = client.images.load(data)
    assert [i.id for i in loaded] == [image.id]
    assert "sdk/saved:1" in client.images.get(image.id).tags
    # Several names in one save (GET /images/get?names=...).
    status, raw = engine.request("GET", "/images/get?names=busybox&names=sdk/saved:1")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert sorted(t for m in manifest for t in m["RepoTags"]) == ["busybox:latest",
                                                                  "sdk/saved:1"]
    status, body = engine.request("GET", "/images/get?names=nope:1")
    assert status == 404 and body["message"] == "No such image: nope:1"


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_bad_archives_are_refused_and_leave_nothing(engine: Engine) -> None:
    images_before = engine.request("GET", "/images/json")[1]
    blobs_before = _blob_files(engine)
    layer = _tar({"hello": b"hi"})
    digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    cases = {
        "garbage": b"this is not a tar at all" * 100,
        "no manifest": _tar({"hello.txt": b"hi"}),
        "manifest not json": _tar({"manifest.json": b"{nope"}),
        "missing layer": _tar({"manifest.json": json.dumps(
            [{"Config": "c.json", "RepoTags": ["half/loaded:1"],
              "Layers": ["l/layer.tar"]}]).encode(), "c.json": b"{}"}),
        "bad config": _tar({f"blobs/sha256/{digest[7:]}": layer, "manifest.json": json.dumps(
            [{"Config": "c.json", "RepoTags": ["half/loaded:2"],
              "Layers": [f"blobs/sha256/{digest[7:]}"]}]).encode(), "c.json": b"[]"}),
        "digest lies": _tar({"blobs/sha256/" + "0" * 64: layer}),
    }
    for what, body in cases.items():
        status, reply = engine.request("POST", "/images/load?quiet=1", body,
                                       headers={"Content-Type": "application/x-tar"})
        assert status == 400, (what, reply)
        assert reply["message"] and "\n" not in reply["message"], what
    assert engine.request("GET", "/images/json")[1] == images_before
    assert _blob_files(engine) == blobs_before
    status, reply = engine.request("POST", "/images/create?fromSrc=-&repo=bad/import",
                                   b"not a tarball" * 50)
    assert status == 400 and "tar" in reply["message"]
    assert _blob_files(engine) == blobs_before
    status, reply = engine.request(
        "POST", "/images/create?fromSrc=http://192.0.2.1/rootfs.tar&repo=bad/url")
    assert status == 400 and "loopback" in reply["message"]
    status, reply = engine.request("POST", "/images/create?fromSrc=-&changes=FROB%20x",
                                   _tar({"a": b"b"}))
    assert status == 400
    assert engine.request("GET", "/_ping")[0] == 200


def test_import_from_a_loopback_url(engine: Engine, tmp_path: Path, busybox_layer_tar: bytes,
                                    scratch_tags: list[str]) -> None:
    import http.server

    (tmp_path / "rootfs.tgz").write_bytes(busybox_layer_tar)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/rootfs.tgz"
        query = urllib.parse.urlencode({"fromSrc": url, "repo": "url/img", "tag": "2",
                                        "changes": "ENV FROM_URL=1"})
        status, raw = engine.request("POST", f"/images/create?{query}")
        scratch_tags.append("url/img:2")
        assert status == 200, raw
        image_id = _lines(raw)[0]["status"]
        _, info = engine.request("GET", "/images/url/img:2/json")
        assert info["Id"] == image_id and "FROM_URL=1" in info["Config"]["Env"]
        status, body = engine.request(
            "POST", f"/images/create?fromSrc={url}.missing&repo=url/none")
        assert status == 404
    finally:
        server.shutdown()
        server.server_close()


def test_prune_dangling_and_by_label(engine: Engine, busybox_layer_tar: bytes,
                                     scratch_tags: list[str]) -> None:
    scratch_tags.append("prune/x:1")

    def import_(change: str) -> str:
        status, raw = engine.request(
            "POST", "/images/create?" + urllib.parse.urlencode(
                {"fromSrc": "-", "repo": "prune/x:1", "changes": change}),
            _random_rootfs_tar(64 << 10))
        assert status == 200, raw
        return str(_lines(raw)[0]["status"])

    old = import_("LABEL keep=no")
    new = import_("LABEL keep=yes")  # the name moves: the first image is dangling now
    q = urllib.parse.quote(json.dumps({"dangling": ["true"]}))
    assert [i["Id"] for i in engine.request("GET", f"/images/json?filters={q}")[1]] == [old]
    status, body = engine.request("POST", "/images/prune?filters=%7Bbad")
    assert status == 400
    q = urllib.parse.quote(json.dumps({"colour": ["red"]}))
    assert engine.request("POST", f"/images/prune?filters={q}")[0] == 400
    status, body = engine.request("POST", "/v1.47/images/prune")
    assert status == 200
    validate_response("/images/prune", "post", 200, body)
    assert body["ImagesDeleted"] == [{"Deleted": old}] and body["SpaceReclaimed"] > 0
    assert engine.request("GET", f"/images/{old}/json")[0] == 404
    # All unused images with a label: the busybox image (no such label) stays.
    q = urllib.parse.quote(json.dumps({"dangling": ["false"], "label": ["keep=yes"]}))
    status, body = engine.request("POST", f"/images/prune?filters={q}")
    assert status == 200
    assert body["ImagesDeleted"] == [{"Untagged": "prune/x:1"}, {"Deleted": new}]
    assert engine.request("GET", "/images/busybox/json")[0] == 200
    out = _ok(engine.docker("image", "prune", "-f"))
    assert "Total reclaimed space" in out


def test_list_filters_by_time(engine: Engine, scratch_tags: list[str]) -> None:
    status, raw = engine.request("POST", "/images/create?fromSrc=-&repo=time/new:1",
                                 _random_rootfs_tar(1024))
    assert status == 200
    scratch_tags.append("time/new:1")
    new_id = _lines(raw)[0]["status"]
    busybox_id = engine.request("GET", "/images/busybox/json")[1]["Id"]

    def ids(filters: dict[str, list[str]]) -> list[str]:
        q = urllib.parse.quote(json.dumps(filters))
        status, items = engine.request("GET", f"/images/json?filters={q}")
        assert status == 200, items
        return [i["Id"] for i in items]

    assert ids({"since": ["busybox"]}) == [new_id]
    assert ids({"before": ["time/new:1"]}) == [busybox_id]
    assert ids({"until": ["2026-06-01T00:00:00Z"]}) == [busybox_id]  # busybox: 2026-01-01
    assert set(ids({"until": [str(int(time.time()) + 60)]})) == {new_id, busybox_id}
    q = urllib.parse.quote(json.dumps({"since": ["nope:1"]}))
    assert engine.request("GET", f"/images/json?filters={q}")[0] == 404
    q = urllib.parse.quote(json.dumps({"until": ["not a time"]}))
    assert engine.request("GET", f"/images/json?filters={q}")[0] == 400


def test_image_events(engine: Engine, scratch_tags: list[str]) -> None:
    since = time.time()
    scratch_tags.append("events/x:1")
    assert engine.request("POST", "/images/busybox/tag?repo=events/x&tag=1")[0] == 201
    assert engine.request("GET", "/images/events/x:1/get")[0] == 200
    assert engine.request("DELETE", "/images/events/x:1")[0] == 200
    q = urllib.parse.quote(json.dumps({"type": ["image"]}))
    status, raw = engine.request("GET", f"/events?since={since:.3f}&until={time.time() + 1:.3f}"
                                 f"&filters={q}")
    assert status == 200
    events = _lines(raw)
    actions = [(e["Action"], e["Actor"]["Attributes"].get("name")) for e in events]
    assert ("tag", "events/x:1") in actions
    assert ("save", "events/x:1") in actions
    assert ("untag", "events/x:1") in actions
    image_id = engine.request("GET", "/images/busybox/json")[1]["Id"]
    assert {e["Actor"]["ID"] for e in events
            if e["Actor"]["Attributes"].get("name") == "events/x:1"} == {image_id}


def test_clients_leaving_mid_save_leave_no_pipes_or_threads(engine: Engine) -> None:
    assert engine.proc is not None
    fd_dir = Path(f"/proc/{engine.proc.pid}/fd")
    task_dir = Path(f"/proc/{engine.proc.pid}/task")

    def pipes() -> int:
        count = 0
        for p in fd_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):  # closed meanwhile
                count += os.readlink(p).startswith("pipe:")
        return count

    def threads() -> int:
        return len(list(task_dir.iterdir()))

    engine.request("GET", "/_ping")
    before = (pipes(), threads())
    for _ in range(5):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(engine.socket)
        sock.sendall(b"GET /images/busybox/get HTTP/1.1\r\nHost: cove\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.close()
    assert _wait_for(lambda: pipes() <= before[0] and threads() <= before[1], timeout=10), \
        (before, pipes(), threads())
    status, raw = engine.request("GET", "/images/busybox/get")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        assert "manifest.json" in tar.getnames()
