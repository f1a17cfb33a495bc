"""The /volumes endpoints through the Engine API, the docker CLI and the docker SDK."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest

from tests.api_schema import validate_definition, validate_response
from tests.engine_fixtures import (
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
    vengine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture", "vengine_fixture"]


def test_create_inspect_list_remove(vengine: Engine) -> None:
    status, body = vengine.request("POST", "/v1.47/volumes/create",
                                   {"Name": "apivol", "Labels": {"team": "a"}})
    assert status == 201, body
    validate_response("/volumes/create", "post", 201, body)
    assert body["Name"] == "apivol" and body["Driver"] == "local"
    assert body["Mountpoint"] == str(vengine.root / "volumes" / "apivol" / "_data")
    assert os.path.isdir(body["Mountpoint"])
    status, got = vengine.request("GET", "/v1.47/volumes/apivol")
    assert status == 200 and got == body
    validate_definition("Volume", got)
    status, listing = vengine.request("GET", "/v1.47/volumes")
    assert status == 200
    validate_response("/volumes", "get", 200, listing)
    assert [v["Name"] for v in listing["Volumes"]] == ["apivol"]
    filters = quote(json.dumps({"label": ["team=b"]}))
    status, listing = vengine.request("GET", f"/volumes?filters={filters}")
    assert status == 200 and listing["Volumes"] == []
    status, _ = vengine.request("DELETE", "/v1.47/volumes/apivol")
    assert status == 204
    assert not (vengine.root / "volumes" / "apivol").exists()


def test_bad_requests(vengine: Engine) -> None:
    status, body = vengine.request("GET", "/volumes/nosuch")
    assert status == 404 and body["message"] == "get nosuch: no such volume"
    status, body = vengine.request("DELETE", "/volumes/nosuch")
    assert status == 404
    status, _ = vengine.request("DELETE", "/volumes/nosuch?force=1")
    assert status == 204
    status, body = vengine.request("POST", "/volumes/create", {"Name": "bad/name"})
    assert status == 400 and "invalid characters" in body["message"]
    status, body = vengine.request("POST", "/volumes/create",
                                   {"Name": "opts", "DriverOpts": {"colour": "red"}})
    assert status == 400 and "colour" in body["message"]
    status, body = vengine.request("POST", "/volumes/create", {"Labels": ["x"]})
    assert status == 400 and "Labels" in body["message"]
    until = quote(json.dumps({"until": ["1h"]}))
    status, body = vengine.request("GET", f"/volumes?filters={until}")
    assert status == 400 and "until" in body["message"]
    status, body = vengine.request("GET", "/volumes")
    assert body["Volumes"] == []


def test_docker_cli(vengine: Engine) -> None:
    r = vengine.docker("volume", "create", "--label", "k=v", "clivol")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "clivol"
    r = vengine.docker("volume", "inspect", "clivol")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["Labels"] == {"k": "v"}
    r = vengine.docker("volume", "ls", "-q", "--filter", "label=k=v")
    assert r.stdout.decode().split() == ["clivol"]
    r = vengine.docker("volume", "rm", "nosuch")
    assert r.returncode != 0 and b"no such volume" in r.stderr
    r = vengine.docker("volume", "rm", "clivol")
    assert r.returncode == 0, r.stderr


def test_docker_sdk(vengine: Engine) -> None:
    import docker
    client = docker.DockerClient(base_url=vengine.host, version="1.47")
    try:
        v = client.volumes.create(name="sdkvol", labels={"x": "y"})
        assert v.name == "sdkvol"
        assert client.volumes.get("sdkvol").attrs["Labels"] == {"x": "y"}
        assert [x.name for x in client.volumes.list()] == ["sdkvol"]
        with pytest.raises(docker.errors.NotFound):
            client.volumes.get("nosuch")
        v.remove()
        assert client.volumes.list() == []
    finally:
        client.close()


def test_cove_cli_matches_docker(vengine: Engine) -> None:
    r = vengine.cove("volume", "create", "--label", "team=a", "--name", "cv1")
    assert r.returncode == 0 and r.stdout == b"cv1\n", r.stderr
    r = vengine.cove("volume", "create", "cv2")
    assert r.returncode == 0 and r.stdout == b"cv2\n", r.stderr
    for args in (["volume", "ls"], ["volume", "ls", "-q"],
                 ["volume", "ls", "--filter", "label=team=a"],
                 ["volume", "ls", "--filter", "name=2", "--format", "{{.Name}} {{.Driver}}"],
                 ["volume", "ls", "--format", "table {{.Name}}\t{{.Labels}}\t{{.Scope}}"],
                 ["volume", "inspect", "cv1"],
                 ["volume", "inspect", "-f", "{{.Name}} {{.Mountpoint}}", "cv1", "cv2"]):
        ours, theirs = vengine.cove(*args), vengine.docker(*args)
        assert theirs.returncode == 0, theirs.stderr
        assert (ours.returncode, ours.stdout) == (0, theirs.stdout), (args, ours.stderr)
    r = vengine.cove("volume", "inspect", "nosuch")
    assert r.returncode == 1 and b"no such volume" in r.stderr
    r = vengine.cove("volume", "ls", "--filter", "bogus")
    assert r.returncode == 125
    r = vengine.cove("volume", "create", "--opt", "noequals", "x1")
    assert r.returncode == 125
    args = ("volume", "create", "--name", "n1", "n2")
    ours, theirs = vengine.cove(*args), vengine.docker(*args)
    assert (ours.returncode, ours.stderr) == (theirs.returncode, theirs.stderr) == \
        (1, b"conflicting options: cannot specify a volume-name through both --name and "
            b"as a positional arg\n")
    cid = vengine.docker("create", "-v", "cv1:/d", "busybox", "true").stdout.decode().strip()
    r = vengine.cove("volume", "rm", "cv1", "cv2")
    assert r.returncode == 1 and r.stdout == b"cv2\n"
    assert f"volume is in use - [{cid}]".encode() in r.stderr
    r = vengine.cove("volume", "rm", "-f", "nosuch")
    assert r.returncode == 0 and r.stdout == b"nosuch\n"
