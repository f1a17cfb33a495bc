"""The image service end to end: create, push, remove (GC), pull, unpack, rootfs, rmi, prune.

Runs as root against the real kernel (overlay or native snapshots) and Debian's
docker-registry on 127.0.0.1; every mount is unmounted and every server stopped.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from cove.errors import FailedPrecondition, InvalidArgument, NotFound
from cove.images.chain import chain_ids
from cove.images.service import ImageService
from cove.metadata import ImageFilters
from cove.oci.digest import digest_bytes
from cove.oci.image import host_platform
from cove.registry import RegistryClient
from cove.registry import push as registry_push
from cove.snapshots import mounted
from tests.image_fixtures import (  # noqa: F401 (fixtures)
    BUSYBOX_CONFIG,
    BUSYBOX_NAME,
    busybox_image_fixture,
    busybox_layer_fixture,
    image_service_fixture,
    make_busybox_image,
    tar_tree,
)
from tests.registry_fixtures import (  # noqa: F401 (fixtures)
    Registry,
    needs_registry,
    registry_fixture,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)")

SPEC = Path("/work/shared/specs/docker-engine-api/v1.47.yaml")
if not SPEC.exists():
    SPEC = Path(__file__).resolve().parents[3] / "shared/specs/docker-engine-api/v1.47.yaml"


# -- a minimal reader of the swagger definitions (PyYAML is not installed) --------------


def _definition_schema(name: str) -> dict[str, Any]:
    """JSON schema of a top-level definition's properties: their types and required keys.

    Reads only what is needed from the indentation: ``  Name:`` opens the definition,
    ``required:`` lists at 4 spaces, properties at 6 with ``type:``, ``$ref`` and
    ``x-nullable`` at 8.  Nested ``$ref``s become ``object`` (checked by type only).
    """
    lines = SPEC.read_text().splitlines()
    start = lines.index(f"  {name}:")
    block: list[str] = []
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith("   "):
            break
        block.append(line)
    required: list[str] = []
    props: dict[str, dict[str, Any]] = {}
    section = ""
    current = ""
    for line in block:
        if re.fullmatch(r"    \S.*", line):
            section = line.strip().rstrip(":")
            continue
        if section == "required" and (m := re.fullmatch(r"      - (\w+)", line)):
            required.append(m.group(1))
        if section != "properties":
            continue
        if m := re.fullmatch(r"      (\w+):", line):
            current = m.group(1)
            props[current] = {}
        elif current and (m := re.fullmatch(r"        (type|\$ref|x-nullable): \"?([^\"]+)\"?",
                                             line)):
            props[current][m.group(1)] = m.group(2)
    schema_props: dict[str, Any] = {}
    for key, p in props.items():
        kind = p.get("type", "object" if "$ref" in p else None)
        if kind is None:
            schema_props[key] = {}
            continue
        types = [kind] + (["null"] if p.get("x-nullable") != "false" else [])
        schema_props[key] = {"type": types}
    return {"type": "object", "properties": schema_props, "required": required,
            "additionalProperties": False}


def _service_is_empty(service: ImageService) -> None:
    assert list(service.content.digests()) == []
    blobs = Path(service.content.root) / "blobs"
    if blobs.exists():
        assert [p for p in blobs.rglob("*") if p.is_file()] == []
    assert list(service.snapshotter.walk()) == []
    assert os.listdir(os.path.join(service.snapshotter.root, "snapshots")) == []


def _push_name(registry: Registry, repo: str = "cove/busybox", tag: str = "1.0") -> str:
    return f"{registry.host}/{repo}:{tag}"


# -- tests ------------------------------------------------------------------------------


def test_chain_ids_follow_the_image_spec() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a]) == [a]
    assert chain_ids([a, b]) == [a, digest_bytes(f"{a} {b}".encode())]


def test_created_image_is_unpacked_into_a_chain(
    image_service: ImageService, busybox_image: Any
) -> None:
    svc = image_service
    assert busybox_image.chain == tuple(chain_ids(svc.inspect(BUSYBOX_NAME)["RootFS"]["Layers"]))
    keys = {i.name for i in svc.snapshotter.walk()}
    assert keys == set(busybox_image.chain)
    assert svc.get(busybox_image.id[7:19]).name == f"docker.io/{BUSYBOX_NAME}"


@needs_registry
def test_push_remove_pull_round_trip(
    image_service: ImageService, busybox_layer: bytes, registry: Registry, tmp_path: Path
) -> None:
    svc = image_service
    name = _push_name(registry)
    built = make_busybox_image(svc, busybox_layer, name)
    pushed = svc.push(name)
    assert pushed == built.target.digest

    assert svc.remove(name) == [{"Untagged": name}, {"Deleted": built.id}]
    _service_is_empty(svc)
    with pytest.raises(NotFound, match="No such image"):
        svc.inspect(name)

    seen: list[tuple[str, int, int]] = []
    pulled = svc.pull(name, progress=lambda d, done, total: seen.append((d, done, total)))
    assert pulled.target.digest == built.target.digest
    assert pulled.id == built.id
    assert pulled.chain == built.chain
    assert {i.name for i in svc.snapshotter.walk()} == set(pulled.chain)
    assert seen, "the pull reported progress"

    # Pulling again downloads nothing: every blob reports as already complete.
    again: list[tuple[str, int, int]] = []
    svc.pull(name, progress=lambda d, done, total: again.append((d, done, total)))
    assert again and all(done == total for _, done, total in again)
    assert {i.name for i in svc.snapshotter.walk()} == set(pulled.chain)

    # A container's root filesystem: the image's files, writes in its own layer.
    target = tmp_path / "rootfs"
    target.mkdir()
    mounts = svc.prepare_rootfs(name, "c1")
    try:
        with mounted(mounts, str(target)):
            assert (target / "bin/busybox").is_file()
            (target / "written-by-c1").write_text("hello")
            (target / "etc/hostname").write_text("changed\n")
        view = tmp_path / "view"
        view.mkdir()
        vkey = "check-view"
        with mounted(svc.snapshotter.view(vkey, pulled.chain[-1]), str(view)):
            assert not (view / "written-by-c1").exists()
            assert (view / "etc/hostname").read_text() == "cove\n"
        svc.snapshotter.remove(vkey)
        upper = svc.snapshotter.usage(svc.rootfs_key("c1"))
        assert upper.inodes >= 1

        # rmi refuses an image in use, untagging one of two names is fine
        with pytest.raises(FailedPrecondition, match="conflict: unable to remove repository"):
            svc.remove(name)
        svc.tag(name, "cove-test/other:2")
        assert svc.remove("cove-test/other:2") == [{"Untagged": "cove-test/other:2"}]
        with pytest.raises(FailedPrecondition, match="must be forced"):
            svc.remove(pulled.id)
        assert svc.list()[0]["Containers"] == 1
    finally:
        shutil.rmtree(target / "never-there", ignore_errors=True)
        svc.release_rootfs("c1")
    assert svc.remove(name) == [{"Untagged": name}, {"Deleted": pulled.id}]
    _service_is_empty(svc)


def test_force_remove_keeps_what_a_container_uses(
    image_service: ImageService, busybox_image: Any, tmp_path: Path
) -> None:
    svc = image_service
    svc.prepare_rootfs(BUSYBOX_NAME, "c2")
    try:
        out = svc.remove(BUSYBOX_NAME, force=True)
        assert out[0] == {"Untagged": BUSYBOX_NAME}
        # the container's image target is still a GC root
        assert {i.name for i in svc.snapshotter.walk()} >= set(busybox_image.chain)
        assert svc.content.exists(busybox_image.config_digest)
    finally:
        svc.release_rootfs("c2")
    svc.collect()
    _service_is_empty(svc)


def test_tag_and_rmi_semantics(image_service: ImageService, busybox_image: Any) -> None:
    svc = image_service
    svc.tag(BUSYBOX_NAME, "example.com/team/app:1")
    svc.tag(busybox_image.id, "app")
    [summary] = svc.list()
    assert summary["Id"] == busybox_image.id
    assert summary["RepoTags"] == ["app:latest", BUSYBOX_NAME, "example.com/team/app:1"]
    with pytest.raises(FailedPrecondition, match="referenced in multiple repositories"):
        svc.remove(busybox_image.id)
    assert svc.remove("app") == [{"Untagged": "app:latest"}]
    assert svc.content.exists(busybox_image.config_digest)
    out = svc.remove(busybox_image.id, force=True)
    assert out[-1] == {"Deleted": busybox_image.id}
    assert svc.list() == []
    _service_is_empty(svc)
    with pytest.raises(NotFound, match="No such image: nothing:here"):
        svc.remove("nothing:here")


def test_inspect_matches_the_engine_api_schema(
    image_service: ImageService, busybox_image: Any
) -> None:
    svc = image_service
    doc = svc.inspect(BUSYBOX_NAME)
    jsonschema.validate(json.loads(json.dumps(doc)), _definition_schema("ImageInspect"))
    assert doc["Id"] == busybox_image.id
    assert doc["RepoTags"] == [BUSYBOX_NAME]
    assert doc["RepoDigests"] == [f"cove-test/busybox@{busybox_image.target.digest}"]
    assert doc["Author"] == "cove tests"
    assert doc["Created"] == "2026-01-01T00:00:00Z"
    assert doc["Config"]["Cmd"] == ["sh"]
    assert doc["Config"]["Labels"] == {"org.cove.test": "busybox"}
    assert doc["Config"]["Env"] == BUSYBOX_CONFIG["config"]["Env"]
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Size"] > 0
    for summary in svc.list():
        jsonschema.validate(summary, _definition_schema("ImageSummary"))
    hist = svc.history(BUSYBOX_NAME)
    assert hist[0]["Id"] == busybox_image.id
    assert hist[0]["CreatedBy"] == "cove.busybox.build_rootfs"
    assert hist[0]["Tags"] == [BUSYBOX_NAME]
    by_id = svc.inspect(busybox_image.id[len("sha256:"):][:12])
    assert by_id["Id"] == busybox_image.id


def test_prune_removes_dangling_images(
    image_service: ImageService, busybox_image: Any, tmp_path: Path
) -> None:
    svc = image_service
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "hello.txt").write_text("hi\n")
    other = svc.create_image([tar_tree(extra)], {"config": {"Labels": {"k": "v"}}},
                             BUSYBOX_NAME)
    # the name moved: the busybox image is now dangling
    assert [i.name for i in svc.metadata.list_images(ImageFilters(dangling=True))] == [
        f"<none>@{busybox_image.target.digest}"
    ]
    listed = {s["Id"]: s for s in svc.list()}
    assert listed[busybox_image.id]["RepoTags"] == []
    deleted, freed = svc.prune()
    assert deleted == [{"Deleted": busybox_image.id}]
    assert freed > 0
    assert not any(i.name in busybox_image.chain for i in svc.snapshotter.walk())
    assert [s["Id"] for s in svc.list()] == [other.id]
    # prune -a with a label filter that does not match leaves it; one that does removes it
    assert svc.prune(all=True, filters={"label": ["k=w"]})[0] == []
    deleted, _ = svc.prune(all=True, filters={"label": ["k=v"]})
    assert deleted == [{"Untagged": BUSYBOX_NAME}, {"Deleted": other.id}]
    _service_is_empty(svc)


def test_layer_with_wrong_diff_id_is_refused(
    image_service: ImageService, busybox_layer: bytes
) -> None:
    svc = image_service
    config = json.loads(json.dumps(BUSYBOX_CONFIG))
    config["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]}
    with pytest.raises(InvalidArgument, match="does not match the config"):
        svc.create_image([busybox_layer], config, "cove-test/bad")
    assert svc.list() == []
    svc.collect()
    _service_is_empty(svc)


@needs_registry
def test_pull_of_a_layer_with_wrong_diff_id_leaves_nothing(
    tmp_path: Path, busybox_layer: bytes, registry: Registry
) -> None:
    # A second store builds the lying image and pushes it with the registry client.
    with ImageService(tmp_path / "maker") as maker:
        config = json.loads(json.dumps(BUSYBOX_CONFIG))
        config["rootfs"] = {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]}
        config.update(architecture=host_platform().architecture, os="linux")
        config_bytes = json.dumps(config).encode()
        layer_digest = maker.content.put(busybox_layer)
        config_digest = maker.content.put(config_bytes)
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config_bytes)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": layer_digest, "size": len(busybox_layer)}],
        }).encode()
        manifest_digest = maker.content.put(manifest)
        with RegistryClient(registry.host) as client:
            registry_push(client, maker.content, "cove/liar", "1", manifest_digest)
    with ImageService(tmp_path / "victim") as svc:
        with pytest.raises(InvalidArgument, match="diff_id"):
            svc.pull(f"{registry.host}/cove/liar:1")
        assert svc.list() == []
        assert svc.metadata.list_leases() == []
        svc.collect()
        _service_is_empty(svc)


def _tar(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A gzip layer of files (bytes) and directories (None), in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


@pytest.mark.parametrize("kind", ["overlay", "native"])
def test_layers_stack_share_and_whiteout(
    kind: str, tmp_path: Path, busybox_layer: bytes
) -> None:
    with ImageService(tmp_path / "cove", snapshotter=kind) as svc:
        top = _tar([
            ("etc/", None), ("etc/.wh.hostname", b""),
            ("home/", None), ("home/.wh..wh..opq", b""), ("home/new", b"n\n"),
            ("opt/", None), ("opt/app", b"app\n"),
        ])
        two = svc.create_image([busybox_layer, top], {"config": {"Cmd": ["sh"]}}, "two")
        base = svc.create_image([busybox_layer], {}, "one")
        assert base.chain[0] == two.chain[0]
        assert {i.name for i in svc.snapshotter.walk()} == set(two.chain)  # base reused
        target = tmp_path / "rootfs"
        target.mkdir()
        try:
            with mounted(svc.prepare_rootfs("two", "c3"), str(target)):
                assert (target / "bin/busybox").is_file()
                assert not (target / "etc/hostname").exists()
                assert (target / "etc/passwd").exists()
                assert os.listdir(target / "home") == ["new"]
                assert (target / "opt/app").read_text() == "app\n"
        finally:
            svc.release_rootfs("c3")
        svc.remove("two")
        assert {i.name for i in svc.snapshotter.walk()} == set(base.chain)
        svc.remove("one")
        _service_is_empty(svc)


@pytest.mark.parametrize("kind", ["overlay", "native"])
def test_hard_link_to_a_file_of_a_lower_layer(
    kind: str, tmp_path: Path, busybox_layer: bytes
) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("bin/sh-again")
        info.type, info.linkname = tarfile.LNKTYPE, "bin/busybox"
        tar.addfile(info)
    with ImageService(tmp_path / "cove", snapshotter=kind) as svc:
        svc.create_image([busybox_layer, gzip.compress(buf.getvalue(), mtime=0)], {}, "linked")
        target = tmp_path / "rootfs"
        target.mkdir()
        try:
            with mounted(svc.prepare_rootfs("linked", "c4"), str(target)):
                again = os.stat(target / "bin/sh-again")
                assert again.st_ino == os.stat(target / "bin/busybox").st_ino
                assert again.st_mode & 0o111
        finally:
            svc.release_rootfs("c4")


@needs_registry
def test_pull_of_an_index_keeps_the_index_and_unpacks_the_host_platform(
    tmp_path: Path, busybox_layer: bytes, registry: Registry
) -> None:
    host = host_platform()
    with ImageService(tmp_path / "maker") as maker:
        image = make_busybox_image(maker, busybox_layer, "cove-test/multi:1")
        manifest_size = maker.content.size(image.manifest_digest)
        other = {"architecture": "s390x" if host.architecture != "s390x" else "amd64",
                 "os": "linux"}
        foreign = maker.create_image([busybox_layer], dict(other), "cove-test/foreign:1")
        plat = {"architecture": host.architecture, "os": "linux"}
        if host.variant:
            plat["variant"] = host.variant
        index = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "digest": foreign.manifest_digest,
                 "size": maker.content.size(foreign.manifest_digest), "platform": other},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                 "digest": image.manifest_digest, "size": manifest_size, "platform": plat},
            ],
        }).encode()
        index_digest = maker.content.put(index)
        with RegistryClient(registry.host) as client:
            registry_push(client, maker.content, "cove/multi", "1", index_digest)
    with ImageService(tmp_path / "puller") as svc:
        pulled = svc.pull(f"{registry.host}/cove/multi:1")
        assert pulled.target.digest == index_digest
        assert pulled.target.media_type == "application/vnd.oci.image.index.v1+json"
        assert pulled.manifest_digest == image.manifest_digest
        assert pulled.id == image.id
        assert svc.metadata.list_leases() == []
        assert svc.inspect(pulled.id)["RepoDigests"] == [
            f"{registry.host}/cove/multi@{index_digest}"
        ]
        svc.remove(f"{registry.host}/cove/multi:1")
        _service_is_empty(svc)


def _statuses(events: list[dict[str, Any]], ident: str | None = None) -> list[str]:
    return [e["status"] for e in events
            if "status" in e and (ident is None or e.get("id") == ident)]


@needs_registry
def test_pull_and_push_report_docker_messages(
    image_service: ImageService, busybox_layer: bytes, registry: Registry
) -> None:
    svc = image_service
    name = _push_name(registry, "cove/events")
    built = make_busybox_image(svc, busybox_layer, name)
    record = svc.get(name)
    config = svc.inspect(name)
    layer_digest = json.loads(svc.content.read(record.manifest_digest))["layers"][0]["digest"]
    layer_id = layer_digest[7:19]
    diff_id = config["RootFS"]["Layers"][0][7:19]

    pushed: list[dict[str, Any]] = []
    svc.push(name, events=pushed.append)
    assert pushed[0] == {"status": f"The push refers to repository [{registry.host}/cove/events]"}
    assert _statuses(pushed, diff_id)[0] == "Preparing"
    assert _statuses(pushed, diff_id)[-1] == "Pushed"
    assert any(e.get("status") == "Pushing" and e["progressDetail"]["total"] > 0
               for e in pushed if e.get("id") == diff_id)
    size = len(svc.content.read(built.target.digest))
    assert pushed[-2] == {"status": f"1.0: digest: {built.target.digest} size: {size}"}
    assert pushed[-1] == {"progressDetail": {}, "aux": {
        "Tag": "1.0", "Digest": built.target.digest, "Size": size}}
    again: list[dict[str, Any]] = []
    svc.push(name, events=again.append)
    assert _statuses(again, diff_id) == ["Preparing", "Layer already exists"]
    other = _push_name(registry, "cove/events-copy")
    svc.tag(name, other)
    mounted_events: list[dict[str, Any]] = []
    svc.push(other, events=mounted_events.append, mount_from="cove/events")
    assert _statuses(mounted_events, diff_id) == ["Preparing", "Mounted from cove/events"]
    svc.remove(other)

    svc.remove(name)
    pulled: list[dict[str, Any]] = []
    svc.pull(name, events=pulled.append)
    assert pulled[0] == {"status": "Pulling from cove/events", "progressDetail": {},
                         "id": "1.0"}
    layer = _statuses(pulled, layer_id)
    steps = [s for n, s in enumerate(layer) if n == 0 or layer[n - 1] != s]
    assert steps == ["Pulling fs layer", "Downloading", "Verifying Checksum",
                     "Download complete", "Extracting", "Pull complete"]
    down = [e for e in pulled if e.get("status") == "Downloading"]
    assert down[-1]["progressDetail"]["current"] == down[-1]["progressDetail"]["total"]
    assert down[-1]["progress"].startswith("[" + "=" * 50 + ">]")
    assert pulled[-2:] == [{"status": f"Digest: {built.target.digest}"},
                           {"status": f"Status: Downloaded newer image for {name}"}]
    # No other ids than the layer's and the tag's: the config blob is not shown.
    assert {e["id"] for e in pulled if "id" in e} == {"1.0", layer_id}

    second: list[dict[str, Any]] = []
    svc.pull(name, events=second.append)
    assert second == [  # an image it has: no layer lines, as docker prints
        {"status": "Pulling from cove/events", "progressDetail": {}, "id": "1.0"},
        {"status": f"Digest: {built.target.digest}"},
        {"status": f"Status: Image is up to date for {name}"},
    ]

    # an image sharing the layer: "Already exists" for it
    with_more = svc.create_image([busybox_layer, _tar([("extra", b"x")])], {},
                                 _push_name(registry, "cove/events-more"))
    svc.push(with_more.name)
    svc.remove(with_more.name)
    third: list[dict[str, Any]] = []
    svc.pull(with_more.name, events=third.append)
    assert _statuses(third, layer_id) == ["Already exists"]
    assert third[-1] == {"status": "Status: Downloaded newer image for "
                         f"{_push_name(registry, 'cove/events-more')}"}


def test_list_filters_before_since_and_not_label(
    image_service: ImageService, tmp_path: Path
) -> None:
    svc = image_service
    made = []
    for n, labels in enumerate([{"tier": "base"}, {"tier": "app"}, {}]):
        d = tmp_path / f"l{n}"
        d.mkdir()
        (d / f"f{n}").write_text(str(n))
        made.append(svc.create_image(
            [tar_tree(d)],
            {"created": f"2024-01-0{n + 1}T00:00:00.{n}Z", "config": {"Labels": labels}},
            f"cove-test/f{n}:1"))
    ids = [m.id for m in made]

    def listed(filters: dict[str, list[str]]) -> list[str]:
        return [s["Id"] for s in svc.list(filters)]

    assert listed({}) == ids[::-1]
    assert listed({"before": ["cove-test/f2:1"]}) == [ids[1], ids[0]]
    assert listed({"since": ["cove-test/f0:1"]}) == [ids[2], ids[1]]
    assert listed({"since": [ids[0][7:19]], "before": ["cove-test/f2:1"]}) == [ids[1]]
    assert listed({"label!": ["tier"]}) == [ids[2]]
    assert listed({"label!": ["tier=base"]}) == [ids[2], ids[1]]
    assert listed({"label": ["tier"], "label!": ["tier=app"]}) == [ids[0]]
    assert listed({"until": ["2024-01-02T12:00:00Z"]}) == [ids[1], ids[0]]
    with pytest.raises(NotFound, match="No such image"):
        svc.list({"before": ["cove-test/none:1"]})
    with pytest.raises(InvalidArgument, match="invalid filter"):
        svc.list({"size": ["1"]})

    # prune -a with label!=: the images carrying the label stay
    deleted, _ = svc.prune(all=True, filters={"label!": ["tier"]})
    assert deleted == [{"Untagged": "cove-test/f2:1"}, {"Deleted": ids[2]}]
    deleted, _ = svc.prune(all=True, filters={"label!": ["tier=base"]})
    assert deleted == [{"Untagged": "cove-test/f1:1"}, {"Deleted": ids[1]}]
    assert listed({}) == [ids[0]]
