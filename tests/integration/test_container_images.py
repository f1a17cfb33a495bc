"""What the engine needs of a container's filesystem: diff, commit and export.

On both snapshotters, as root against the real kernel; every mount is undone.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cove.errors import NotFound
from cove.images.service import ImageService
from cove.snapshots import mounted, overlay_works
from tests.image_fixtures import busybox_layer_fixture, tar_tree  # noqa: F401 (fixtures)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)")


@pytest.fixture(params=["overlay", "native"])
def svc(request: pytest.FixtureRequest, tmp_path: Path, busybox_layer: bytes
        ) -> Iterator[ImageService]:
    if request.param == "overlay" and not overlay_works(str(tmp_path / "probe")):
        pytest.skip("overlayfs not usable here")
    data = tmp_path / "data-layer"
    (data / "data").mkdir(parents=True)
    (data / "data/a").write_text("a")
    (data / "data/b").write_text("b")
    with ImageService(tmp_path / "cove", snapshotter=request.param) as service:
        service.create_image([busybox_layer, tar_tree(data)],
                             {"author": "base author", "config": {"Cmd": ["sh"]}},
                             "cove-test/base:1")
        yield service


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "rootfs"
    path.mkdir()
    yield path
    assert not os.path.ismount(path), "a test left a mount behind"


def edit(svc: ImageService, container: str, target: Path) -> None:
    with mounted(svc.prepare_rootfs("cove-test/base:1", container), str(target)):
        (target / "etc/new").write_text("new\n")
        (target / "etc/hostname").write_text("edited\n")
        (target / "etc/group").unlink()
        shutil.rmtree(target / "data")
        (target / "data").mkdir()
        (target / "data/c").write_text("c")


def names(tar_bytes: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        return set(tar.getnames())


def test_changes(svc: ImageService, target: Path) -> None:
    with mounted(svc.prepare_rootfs("cove-test/base:1", "c0"), str(target)):
        pass
    assert svc.changes("c0") == []
    edit(svc, "c1", target)
    assert svc.changes("c1") == [
        {"Path": "/data", "Kind": 0}, {"Path": "/data/a", "Kind": 2},
        {"Path": "/data/b", "Kind": 2}, {"Path": "/data/c", "Kind": 1},
        {"Path": "/etc", "Kind": 0}, {"Path": "/etc/group", "Kind": 2},
        {"Path": "/etc/hostname", "Kind": 0}, {"Path": "/etc/new", "Kind": 1},
    ]
    with pytest.raises(NotFound, match="No such container: nope"):
        svc.changes("nope")
    svc.release_rootfs("c0")
    svc.release_rootfs("c1")


def test_commit_makes_an_image_of_the_changes(svc: ImageService, target: Path) -> None:
    base = svc.get("cove-test/base:1")
    edit(svc, "c1", target)
    record = svc.commit("c1", "cove-test/committed:2",
                        config={"Cmd": ["cat", "/etc/new"], "Env": ["A=1"], "Hostname": "h",
                                "Labels": {"from": "config"}},
                        changes=["LABEL extra=yes", "WORKDIR /data"],
                        author="Jane <j@example.com>", comment="my edits",
                        created_by="/bin/sh -c edit")
    assert record.name == "docker.io/cove-test/committed:2"
    assert record.chain[:2] == base.chain and len(record.chain) == 3
    info = svc.inspect("cove-test/committed:2")
    assert info["Author"] == "Jane <j@example.com>" and info["Comment"] == "my edits"
    assert info["Config"]["Cmd"] == ["cat", "/etc/new"] and info["Config"]["Env"] == ["A=1"]
    assert info["Config"]["Labels"] == {"from": "config", "extra": "yes"}
    assert info["Config"]["WorkingDir"] == "/data"
    assert info["Config"]["Hostname"] == ""  # container-only keys stay out of the image
    top = svc.history("cove-test/committed:2")[0]
    assert (top["CreatedBy"], top["Comment"]) == ("/bin/sh -c edit", "my edits")
    assert top["Size"] > 0 and len(svc.history("cove-test/committed:2")) == 3

    # a container of the new image sees the edits, opaque directory included
    with mounted(svc.prepare_rootfs("cove-test/committed:2", "c2"), str(target)):
        assert (target / "etc/new").read_text() == "new\n"
        assert (target / "etc/hostname").read_text() == "edited\n"
        assert not (target / "etc/group").exists()
        assert (target / "etc/passwd").exists()
        assert sorted(os.listdir(target / "data")) == ["c"]
        assert (target / "bin/busybox").is_file()
    assert svc.changes("c2") == []

    # nothing changed: an empty-layer history entry, the same layers, a dangling image
    again = svc.commit("c2")
    assert again.name.startswith("<none>@") and again.chain == record.chain
    assert svc.history(again.id)[0]["Size"] == 0
    for c in ("c1", "c2"):
        svc.release_rootfs(c)
    svc.remove(again.id)
    svc.remove("cove-test/committed:2")
    assert {i.name for i in svc.snapshotter.walk()} == set(base.chain)


def test_export_of_a_container_filesystem(svc: ImageService, target: Path) -> None:
    edit(svc, "c1", target)
    # exported while the container's own mount is live
    with mounted(svc.snapshotter.mounts(svc.rootfs_key("c1")), str(target)):
        out = io.BytesIO()
        svc.export_rootfs("c1", out)
        (target / "etc/later").write_text("x")  # the live mount still writes
    got = names(out.getvalue())
    assert {"etc/new", "data/c", "bin/busybox", "etc/passwd"} <= got
    assert "etc/group" not in got and "data/a" not in got
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        member = tar.extractfile("etc/hostname")
        assert member is not None and member.read() == b"edited\n"
        assert not any(".wh." in n for n in tar.getnames())
    assert os.listdir(os.path.join(svc.root, "tmp")) == []
    with pytest.raises(NotFound):
        svc.export_rootfs("nope", io.BytesIO())
    svc.release_rootfs("c1")
