"""Prune through the real docker CLI, Cove's CLI (same words as docker's) and the docker
SDK: prompts, -f, filters, --dry-run, and system prune -af --volumes keeping what is used."""

from __future__ import annotations

import re

import docker

from tests.engine_fixtures import (
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
    vengine_fixture,
)
from tests.integration.engine.test_prune_api import (
    PROTECT,
    container_ids,
    create,
    dangling_image,
    image_ids,
    pengine_fixture,
    run_to_exit,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture", "pengine_fixture",
           "vengine_fixture"]

HEX = re.compile(r"[0-9a-f]{64}")


def _volumes(engine: Engine) -> set[str]:
    status, got = engine.request("GET", "/volumes")
    assert status == 200
    return {v["Name"] for v in got["Volumes"]}


def _shape(text: bytes) -> str:
    return HEX.sub("<id>", text.decode())


def test_container_prune_docker_and_cove_print_alike(pengine: Engine) -> None:
    outputs = []
    for tool in (pengine.docker, pengine.cove):
        a = run_to_exit(pengine, ["true"])
        b = run_to_exit(pengine, ["true"])
        kept = run_to_exit(pengine, ["true"], labels=PROTECT)
        r = tool("container", "prune", "-f")
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        assert out.startswith("Deleted Containers:\n")
        assert a in out and b in out and kept not in out
        assert re.search(r"\n\nTotal reclaimed space: [0-9.]+k?B\n$", out), out
        left = container_ids(pengine)
        assert a not in left and b not in left and kept in left
        outputs.append(_shape(r.stdout).replace(a, "<id>"))
        pengine.remove_all_containers()
    assert outputs[0] == outputs[1]


def test_prompt_answer_no_keeps_everything(pengine: Engine) -> None:
    stopped = run_to_exit(pengine, ["true"])
    for args in (["container", "prune"], ["system", "prune", "-a", "--volumes"],
                 ["volume", "prune", "-a"], ["image", "prune", "-a"], ["network", "prune"]):
        theirs = pengine.docker(*args, input=b"n\n")
        ours = pengine.cove(*args, input=b"n\n")
        assert theirs.returncode == ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout, args
        assert b"Are you sure you want to continue? [y/N] " in ours.stdout
    assert stopped in container_ids(pengine)


def test_prompt_answer_yes_from_stdin(pengine: Engine) -> None:
    stopped = run_to_exit(pengine, ["true"])
    r = pengine.cove("container", "prune", input=b"y\n")
    assert r.returncode == 0, r.stderr
    assert stopped in r.stdout.decode()
    assert stopped not in container_ids(pengine)


def test_filters_through_both_clis(pengine: Engine) -> None:
    a = run_to_exit(pengine, ["true"], labels={"team": "a"})
    b = run_to_exit(pengine, ["true"], labels={"team": "b"})
    r = pengine.docker("container", "prune", "-f", "--filter", "label=team=a")
    assert r.returncode == 0 and a in r.stdout.decode() and b not in r.stdout.decode()
    r = pengine.cove("container", "prune", "-f", "--filter", "label!=team=b")
    assert r.returncode == 0 and b not in r.stdout.decode()
    assert b in container_ids(pengine)
    for tool in (pengine.docker, pengine.cove):
        r = tool("container", "prune", "-f", "--filter", "until=banana")
        assert r.returncode != 0
        assert "until=banana" in r.stderr.decode()
    assert b in container_ids(pengine)


def test_cove_dry_run_changes_nothing(pengine: Engine) -> None:
    stopped = run_to_exit(pengine, ["sh", "-c", "head -c 100000 /dev/zero > /z"])
    loose = dangling_image(pengine)
    status, vol = pengine.request("POST", "/volumes/create", {})
    assert status == 201
    before = (container_ids(pengine), image_ids(pengine), _volumes(pengine))
    r = pengine.cove("system", "prune", "-a", "--volumes", "--dry-run")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "Would delete Containers:\n" in out and stopped in out
    assert f"deleted: {loose}" in out
    assert vol["Name"] in out
    assert "Are you sure" not in out
    assert re.search(r"Total reclaimable space: [0-9.]+kB\n$", out), out
    assert (container_ids(pengine), image_ids(pengine), _volumes(pengine)) == before
    for verb in ("container", "image", "volume", "network", "builder"):
        r = pengine.cove(verb, "prune", "--dry-run")
        assert r.returncode == 0, (verb, r.stderr)
    assert (container_ids(pengine), image_ids(pengine), _volumes(pengine)) == before


def test_docker_system_prune_all_volumes_keeps_what_is_used(pengine: Engine) -> None:
    stopped = run_to_exit(pengine, ["true"])
    loose = dangling_image(pengine)
    status, anon = pengine.request("POST", "/volumes/create", {})
    assert status == 201
    assert pengine.request("POST", "/volumes/create", {"Name": "named-kept"})[0] == 201
    assert pengine.request("POST", "/volumes/create", {"Name": "used-kept"})[0] == 201
    assert pengine.request("POST", "/images/busybox:latest/tag?repo=extra&tag=1")[0] == 201
    running = create(pengine, ["sleep", "60"], Binds=["used-kept:/data"])
    assert pengine.request("POST", f"/containers/{running}/start")[0] == 204
    r = pengine.docker("system", "prune", "-af", "--volumes")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert stopped in out and loose in out and anon["Name"] in out
    assert "Total reclaimed space:" in out
    assert container_ids(pengine) == {running}
    assert loose not in image_ids(pengine)
    # Anonymous volumes only, as docker does; the running container's image stays.
    assert {"named-kept", "used-kept"} <= _volumes(pengine)
    assert anon["Name"] not in _volumes(pengine)
    status, images = pengine.request("GET", "/images/json")
    assert any("busybox:latest" in i["RepoTags"] for i in images)


def test_docker_sdk_prunes(pengine: Engine) -> None:
    stopped = run_to_exit(pengine, ["true"])
    loose = dangling_image(pengine)
    client = docker.DockerClient(base_url=pengine.host, version="1.47")
    try:
        got = client.containers.prune()
        assert got["ContainersDeleted"] == [stopped]
        got = client.images.prune(filters={"dangling": True})
        assert got["ImagesDeleted"] == [{"Deleted": loose}]
        assert got["SpaceReclaimed"] > 0
        got = client.volumes.prune()
        assert got == {"VolumesDeleted": [], "SpaceReclaimed": 0}
        assert client.networks.prune() == {"NetworksDeleted": []}
    finally:
        client.close()
