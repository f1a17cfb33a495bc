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


def test_planned_volumes_are_held_until_the_record_names_them(tmp_path: Path) -> None:
    from cove.engine.volumes import VolumeService
    from cove.engine.volumes.container_mounts import plan_mounts

    svc = VolumeService(str(tmp_path))  # no container records: only the hold protects
    with svc.hold() as hold:
        plan = plan_mounts(svc, hold, {"Image": "x", "Volumes": {"/anon": {}}},
                           {"Binds": ["named:/n"]}, lambda ref: [])
        assert sorted(plan.created) == sorted(m["Name"] for m in plan.mounts)
        assert svc.prune({"all": ["true"]}) == ([], 0)
    assert sorted(svc.prune({"all": ["true"]})[0]) == sorted(plan.created)


def test_failed_plan_removes_what_it_made(tmp_path: Path) -> None:
    import pytest

    from cove.engine.volumes import VolumeService
    from cove.engine.volumes.container_mounts import plan_mounts
    from cove.errors import InvalidArgument

    svc = VolumeService(str(tmp_path))
    made: list[str] = []
    real_create = svc.create

    def create(*args: object, **kw: object) -> object:
        volume = real_create(*args, **kw)  # type: ignore[arg-type]
        made.append(volume.name)
        return volume

    svc.create = create  # type: ignore[method-assign]
    # The named volume is made first; the second's driver options then fail.
    with svc.hold() as hold, pytest.raises(InvalidArgument, match="invalid option key"):
        plan_mounts(svc, hold, {"Image": "x"}, {
            "Binds": ["named:/n"],
            "Mounts": [{"Type": "volume", "Source": "second", "Target": "/s",
                        "VolumeOptions": {"DriverConfig": {"Options": {"bogus": "1"}}}}]},
            lambda ref: [])
    assert made == ["named"]
    assert svc.list() == []
