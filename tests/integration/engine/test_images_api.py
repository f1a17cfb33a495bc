"""The image endpoints of the Engine API: directly, with the real docker CLI and the SDK."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from tests.api_schema import validate_definition, validate_response
from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture
from tests.registry_fixtures import (
    auth_registry_fixture,
    registry_fixture,
)

__all__ = ["auth_registry_fixture", "busybox_layer_tar", "coved_fixture", "engine_fixture",
           "registry_fixture"]


def _ok(proc: Any) -> str:
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return str(proc.stdout.decode())


def _create(engine: Engine, image: str = "busybox", cmd: list[str] | None = None) -> str:
    status, body = engine.request("POST", "/containers/create",
                                  {"Image": image, "Cmd": cmd or ["true"]})
    assert status == 201, body
    return str(body["Id"])


def _lines(raw: bytes) -> list[dict[str, Any]]:
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


def test_docker_cli_images_tag_history_rmi(engine: Engine, scratch_tags: list[str]) -> None:
    scratch_tags.append("cli/tagged:v1")
    _ok(engine.docker("tag", "busybox", "cli/tagged:v1"))
    out = _ok(engine.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"))
    assert "cli/tagged:v1" in out and "busybox:latest" in out
    out = _ok(engine.docker("images", "-q", "--filter", "reference=cli/*"))
    assert len(out.split()) == 1
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
