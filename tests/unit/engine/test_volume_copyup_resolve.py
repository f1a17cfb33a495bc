"""Copy-up into an empty volume, and the record's HostConfig resolved for the builder."""

from __future__ import annotations

import os
from pathlib import Path

from cove.engine.volumes.copyup import copy_image_content
from cove.engine.volumes.resolve import resolved_host_config


def test_copy_keeps_owner_and_mode(tmp_path: Path) -> None:
    rootfs, data = tmp_path / "rootfs", tmp_path / "data"
    (rootfs / "srv" / "sub").mkdir(parents=True)
    (rootfs / "srv" / "sub" / "f").write_text("x")
    os.chown(rootfs / "srv" / "sub" / "f", 1234, 4321)
    os.chmod(rootfs / "srv", 0o711)
    data.mkdir()
    assert copy_image_content(str(rootfs), "/srv", str(data))
    st = (data / "sub" / "f").stat()
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert data.stat().st_mode & 0o777 == 0o711
    # Not empty any more: nothing is copied over what the volume holds.
    (data / "sub" / "f").write_text("mine")
    assert not copy_image_content(str(rootfs), "/srv", str(data))
    assert (data / "sub" / "f").read_text() == "mine"


def test_symlinks_resolve_inside_the_rootfs(tmp_path: Path) -> None:
    rootfs, data, outside = tmp_path / "rootfs", tmp_path / "data", tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host")
    (rootfs / "inner").mkdir(parents=True)
    (rootfs / "inner" / "ok").write_text("image")
    (rootfs / "vol").symlink_to(str(outside))  # absolute: must mean <rootfs>/<outside>
    (rootfs / "rel").symlink_to("../../outside")
    data.mkdir()
    assert not copy_image_content(str(rootfs), "/vol", str(data))
    assert not copy_image_content(str(rootfs), "/rel", str(data))
    assert os.listdir(data) == []
    (rootfs / "link").symlink_to("/inner")
    assert copy_image_content(str(rootfs), "/link", str(data))
    assert (data / "ok").read_text() == "image"


def test_resolved_host_config() -> None:
    mounts = [
        {"Type": "volume", "Name": "v", "Source": "/vols/v/_data", "Destination": "/data",
         "RW": False},
        {"Type": "volume", "Name": "m", "Source": "/vols/m/_data", "Destination": "/m",
         "RW": True},
        {"Type": "volume", "Name": "a" * 64, "Source": "/vols/a/_data",
         "Destination": "/anon", "RW": True},
        {"Type": "bind", "Source": "/host", "Destination": "/h", "RW": True},
        {"Type": "tmpfs", "Source": "", "Destination": "/t", "RW": True},
    ]
    out = resolved_host_config({
        "Binds": ["v:/data:ro,nocopy", "/host:/h"],
        "Mounts": [{"Type": "volume", "Source": "m", "Target": "/m"},
                   {"Type": "tmpfs", "Target": "/t"}],
        "Memory": 5}, mounts)
    assert out["Binds"] == ["/vols/v/_data:/data:ro", "/host:/h", "/vols/a/_data:/anon"]
    assert out["Mounts"] == [{"Type": "bind", "Source": "/vols/m/_data", "Target": "/m",
                              "ReadOnly": False}, {"Type": "tmpfs", "Target": "/t"}]
    assert out["Memory"] == 5
