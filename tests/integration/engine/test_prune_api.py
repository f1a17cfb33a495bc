"""The prune endpoints through the Engine API: what goes, what stays, dry runs, the
protect label, filters and their errors, and prunes racing with creates."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from tests.api_schema import validate_response
from tests.engine_fixtures import (
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
    vengine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture", "vengine_fixture"]

PROTECT = {"cove.prune.protect": "true"}


def _q(filters: dict[str, list[str]]) -> str:
    return quote(json.dumps(filters))


@pytest.fixture(name="pengine")
def pengine_fixture(vengine: Engine) -> Iterator[Engine]:
    """The engine; afterwards every container, volume and image but busybox is gone."""
    engine = vengine  # removes the containers, then the volumes, after this fixture
    try:
        yield engine
    finally:
        engine.remove_all_containers()
        status, images = engine.request("GET", "/images/json")
        busybox = ""
        for image in images if status == 200 else []:
            if "busybox:latest" in image["RepoTags"]:
                busybox = image["Id"]
        for image in images if status == 200 else []:
            for tag in image["RepoTags"]:
                if tag != "busybox:latest":
                    engine.request("DELETE", f"/images/{quote(tag, safe='')}")
            if image["Id"] != busybox:
                engine.request("DELETE", f"/images/{image['Id']}?force=1")


def create(engine: Engine, cmd: list[str], labels: dict[str, str] | None = None,
           image: str = "busybox:latest", **host: Any) -> str:
    body: dict[str, Any] = {"Image": image, "Cmd": cmd, "Labels": labels or {}}
    if host:
        body["HostConfig"] = host
    status, got = engine.request("POST", "/containers/create", body)
    assert status == 201, got
    return str(got["Id"])


def run_to_exit(engine: Engine, cmd: list[str], **kw: Any) -> str:
    cid = create(engine, cmd, **kw)
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    status, got = engine.request("POST", f"/containers/{cid}/wait")
    assert status == 200 and got["StatusCode"] == 0, got
    return cid


def container_ids(engine: Engine) -> set[str]:
    status, items = engine.request("GET", "/containers/json?all=1")
    assert status == 200
    return {i["Id"] for i in items}


def dangling_image(engine: Engine, labels: dict[str, str] | None = None) -> str:
    """A dangling image: a commit of a container that wrote a file, without a name."""
    cid = run_to_exit(engine, ["sh", "-c", "head -c 65536 /dev/urandom > /blob"])
    status, got = engine.request("POST", f"/commit?container={cid}",
                                 {"Labels": labels or {}})
    assert status == 201, got
    engine.request("DELETE", f"/containers/{cid}")
    return str(got["Id"])


def image_ids(engine: Engine) -> set[str]:
    status, images = engine.request("GET", "/images/json")
    assert status == 200
    return {i["Id"] for i in images}


# -- containers ----------------------------------------------------------------------------


def test_container_prune_keeps_running_and_protected(pengine: Engine) -> None:
    stopped = run_to_exit(pengine, ["sh", "-c", "head -c 100000 /dev/zero > /data"])
    created = create(pengine, ["true"])
    protected = run_to_exit(pengine, ["true"], labels=PROTECT)
    running = create(pengine, ["sleep", "60"])
    assert pengine.request("POST", f"/containers/{running}/start")[0] == 204

    status, dry = pengine.request("POST", "/containers/prune?dry_run=1")
    assert status == 200, dry
    validate_response("/containers/prune", "post", 200, dry)
    assert sorted(dry["ContainersDeleted"]) == sorted([stopped, created])
    assert dry["SpaceReclaimed"] >= 100000
    assert {stopped, created, protected, running} <= container_ids(pengine)

    status, got = pengine.request("POST", "/containers/prune")
    assert status == 200, got
    validate_response("/containers/prune", "post", 200, got)
    assert got == dry
    left = container_ids(pengine)
    assert stopped not in left and created not in left
    assert protected in left and running in left


def test_container_prune_label_and_until_filters(pengine: Engine) -> None:
    a = run_to_exit(pengine, ["true"], labels={"team": "a"})
    b = run_to_exit(pengine, ["true"], labels={"team": "b"})
    plain = run_to_exit(pengine, ["true"])
    status, got = pengine.request("POST", "/containers/prune?filters="
                                  + _q({"label": ["team=a"]}))
    assert status == 200 and got["ContainersDeleted"] == [a], got
    status, got = pengine.request("POST", "/containers/prune?filters="
                                  + _q({"label!": ["team"]}))
    assert status == 200 and got["ContainersDeleted"] == [plain], got
    # until=1h: made less than an hour ago, so kept; a time in the future takes it.
    status, got = pengine.request("POST", "/containers/prune?filters="
                                  + _q({"until": ["1h"]}))
    assert status == 200 and got["ContainersDeleted"] == [], got
    future = str(int(time.time()) + 60)
    status, got = pengine.request("POST", "/containers/prune?filters="
                                  + _q({"until": [future]}))
    assert status == 200 and got["ContainersDeleted"] == [b], got


@pytest.mark.parametrize(("path", "filters", "words"), [
    ("/containers/prune", {"until": ["banana"]}, "until=banana"),
    ("/containers/prune", {"colour": ["red"]}, "invalid filter 'colour'"),
    ("/images/prune", {"until": ["10x"]}, "until=10x"),
    ("/images/prune", {"dangling": ["maybe"]}, "dangling=maybe"),
    ("/volumes/prune", {"until": ["1h"]}, "invalid filter 'until'"),
    ("/networks/prune", {"until": ["yesterday"]}, "until=yesterday"),
    ("/build/prune", {"label": ["=x"]}, "label==x"),
])
def test_invalid_filters_are_400_naming_the_part(pengine: Engine, path: str,
                                                 filters: dict[str, list[str]],
                                                 words: str) -> None:
    stopped = run_to_exit(pengine, ["true"])
    status, got = pengine.request("POST", f"{path}?filters={_q(filters)}")
    assert status == 400, got
    assert words in got["message"]
    assert stopped in container_ids(pengine)


# -- images --------------------------------------------------------------------------------


def test_image_prune_dangling_in_use_protected_and_dry_run(pengine: Engine) -> None:
    loose = dangling_image(pengine)
    used = dangling_image(pengine)
    keeper = dangling_image(pengine, labels=PROTECT)
    user = create(pengine, ["true"], image=used)
    before = image_ids(pengine)

    status, dry = pengine.request("POST", "/images/prune?dry_run=1")
    assert status == 200, dry
    validate_response("/images/prune", "post", 200, dry)
    assert dry["ImagesDeleted"] == [{"Deleted": loose}]
    assert dry["SpaceReclaimed"] >= 65536
    assert image_ids(pengine) == before

    status, got = pengine.request("POST", "/images/prune")
    assert status == 200, got
    validate_response("/images/prune", "post", 200, got)
    assert got["ImagesDeleted"] == dry["ImagesDeleted"]
    # What the dry run announced is what the GC freed.
    assert got["SpaceReclaimed"] == dry["SpaceReclaimed"]
    assert image_ids(pengine) == before - {loose}
    assert {used, keeper} <= image_ids(pengine)
    assert pengine.request("DELETE", f"/containers/{user}")[0] == 204


def test_image_prune_all_keeps_images_containers_use(pengine: Engine) -> None:
    assert pengine.request("POST", "/images/busybox:latest/tag?repo=spare&tag=1")[0] == 201
    assert pengine.request("POST", "/images/busybox:latest/tag?repo=kept&tag=1")[0] == 201
    holder = create(pengine, ["true"])  # keeps busybox (and so its other names) in use
    status, got = pengine.request("POST", "/images/prune?filters="
                                  + _q({"dangling": ["false"]}))
    assert status == 200, got
    assert got["ImagesDeleted"] == []
    assert pengine.request("DELETE", f"/containers/{holder}")[0] == 204
    # Labelled filter: busybox carries no label, so label!=nothing... keeps it all.
    status, got = pengine.request("POST", "/images/prune?filters="
                                  + _q({"dangling": ["false"], "label": ["absent"]}))
    assert status == 200 and got["ImagesDeleted"] == [], got


# -- volumes, networks, build --------------------------------------------------------------


def _volume(engine: Engine, name: str, labels: dict[str, str] | None = None) -> None:
    status, got = engine.request("POST", "/volumes/create",
                                 {"Name": name, "Labels": labels or {}})
    assert status == 201, got


def _volume_names(engine: Engine) -> set[str]:
    status, got = engine.request("GET", "/volumes")
    assert status == 200
    return {v["Name"] for v in got["Volumes"]}


def test_volume_prune_all_protected_and_in_use(pengine: Engine) -> None:
    _volume(pengine, "prune-free")
    _volume(pengine, "prune-used")
    _volume(pengine, "prune-safe", labels=PROTECT)
    user = create(pengine, ["true"], Binds=["prune-used:/data"])
    status, dry = pengine.request("POST", "/volumes/prune?dry_run=1&filters="
                                  + _q({"all": ["true"]}))
    assert status == 200, dry
    validate_response("/volumes/prune", "post", 200, dry)
    assert dry["VolumesDeleted"] == ["prune-free"]
    assert {"prune-free", "prune-used", "prune-safe"} <= _volume_names(pengine)
    # Without all=true only anonymous volumes go.
    status, got = pengine.request("POST", "/volumes/prune")
    assert status == 200 and got["VolumesDeleted"] == [], got
    status, got = pengine.request("POST", "/volumes/prune?filters=" + _q({"all": ["1"]}))
    assert status == 200 and got["VolumesDeleted"] == ["prune-free"], got
    assert {"prune-used", "prune-safe"} <= _volume_names(pengine)
    assert pengine.request("DELETE", f"/containers/{user}")[0] == 204


def test_network_and_build_prune_answer_empty(pengine: Engine) -> None:
    status, got = pengine.request("POST", "/networks/prune?filters="
                                  + _q({"until": ["24h"], "label": ["a=b"]}))
    assert status == 200 and got == {"NetworksDeleted": []}
    validate_response("/networks/prune", "post", 200, got)
    status, got = pengine.request("POST", "/build/prune?all=1")
    assert status == 200 and got == {"CachesDeleted": [], "SpaceReclaimed": 0}
    validate_response("/build/prune", "post", 200, got)


# -- races ---------------------------------------------------------------------------------


def test_prune_racing_with_creates_never_takes_their_image(pengine: Engine) -> None:
    """Creates of a tagged image while prune -a runs in a loop: each create either
    finds the image (and then its container starts) or finds it already gone (404);
    no container is ever left with an image the prune removed."""
    errors: list[str] = []
    made: list[str] = []
    stop = threading.Event()

    def pruner() -> None:
        while not stop.is_set():
            status, got = pengine.request("POST", "/images/prune?filters="
                                          + _q({"dangling": ["false"],
                                                "label!": ["nothing"]}))
            if status != 200:
                errors.append(f"prune {status} {got}")

    def creator(n: int) -> None:
        for i in range(6):
            tag = f"racer{n}-{i}"
            pengine.request("POST", f"/images/busybox:latest/tag?repo={tag}&tag=1")
            status, got = pengine.request("POST", "/containers/create",
                                          {"Image": f"{tag}:1", "Cmd": ["true"]})
            if status == 201:
                made.append(got["Id"])
            elif status != 404:
                errors.append(f"create {status} {got}")

    holder = create(pengine, ["true"])  # busybox:latest itself stays
    threads = [threading.Thread(target=creator, args=(n,)) for n in range(3)]
    prune_thread = threading.Thread(target=pruner)
    prune_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    prune_thread.join(120)
    assert not errors, errors
    assert made
    for cid in made:
        status, got = pengine.request("POST", f"/containers/{cid}/start")
        assert status == 204, got
        status, got = pengine.request("POST", f"/containers/{cid}/wait")
        assert status == 200 and got["StatusCode"] == 0, got
    assert pengine.request("DELETE", f"/containers/{holder}")[0] == 204
