"""VolumeService on a temp root: records, filters, in-use refusal, prune rules."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from cove.engine.volumes import ANONYMOUS_LABEL, VolumeService
from cove.errors import Conflict, InvalidArgument, NotFound

Mounts = list[tuple[str, Sequence[Mapping[str, Any]]]]


def _service(tmp_path: Any, users: Mounts | None = None) -> VolumeService:
    return VolumeService(str(tmp_path), users=lambda: users or [])


def test_create_get_and_reload(tmp_path: Any) -> None:
    svc = _service(tmp_path)
    v = svc.create("data", labels={"a": "1"})
    assert v.mountpoint == os.path.join(str(tmp_path), "volumes", "data", "_data")
    assert os.path.isdir(v.mountpoint)
    api = v.to_api()
    assert api["Name"] == "data" and api["Driver"] == "local" and api["Scope"] == "local"
    assert api["Labels"] == {"a": "1"}
    # The same name again answers the existing volume, as Docker does.
    assert svc.create("data").labels == {"a": "1"}
    again = _service(tmp_path)
    assert again.get("data").to_api() == api


def test_anonymous_names(tmp_path: Any) -> None:
    v = _service(tmp_path).create()
    assert len(v.name) == 64 and int(v.name, 16) >= 0
    assert ANONYMOUS_LABEL in v.labels


def test_bad_input(tmp_path: Any) -> None:
    svc = _service(tmp_path)
    with pytest.raises(InvalidArgument, match="invalid characters"):
        svc.create("a/b")
    with pytest.raises(InvalidArgument, match='invalid option key: "bogus"'):
        svc.create("xx", driver_opts={"bogus": "1"})
    with pytest.raises(NotFound, match="plugin"):
        svc.create("xx", driver="nfs-thing")
    with pytest.raises(NotFound, match="get nope: no such volume"):
        svc.get("nope")
    with pytest.raises(InvalidArgument, match="invalid filter 'colour'"):
        svc.list({"colour": ["red"]})
    with pytest.raises(InvalidArgument, match="dangling=maybe"):
        svc.list({"dangling": ["maybe"]})
    assert not os.listdir(os.path.join(str(tmp_path), "volumes"))


def test_in_use_refusal_and_filters(tmp_path: Any) -> None:
    users: Mounts = [("c1", [{"Type": "volume", "Name": "used"}])]
    svc = _service(tmp_path, users)
    svc.create("used", labels={"team": "a"})
    svc.create("free", labels={"team": "b"})
    with pytest.raises(Conflict, match=r"remove used: volume is in use - \[c1\]"):
        svc.remove("used")
    assert [v.name for v in svc.list({"dangling": ["true"]})] == ["free"]
    assert [v.name for v in svc.list({"dangling": ["false"]})] == ["used"]
    assert [v.name for v in svc.list({"label": ["team=a"]})] == ["used"]
    assert [v.name for v in svc.list({"label": ["team"]})] == ["free", "used"]
    assert [v.name for v in svc.list({"name": ["fr"]})] == ["free"]
    svc.remove("free")
    svc.remove("free", force=True)
    with pytest.raises(NotFound):
        svc.remove("free")
    assert [v.name for v in svc.list()] == ["used"]


def test_prune_rules(tmp_path: Any) -> None:
    users: Mounts = [("c1", [{"Type": "volume", "Name": "used"}])]
    svc = _service(tmp_path, users)
    anon = svc.create()
    with open(os.path.join(anon.mountpoint, "f"), "wb") as f:
        f.write(b"x" * 5000)
    svc.create("used", labels={ANONYMOUS_LABEL: ""})
    svc.create("named")
    svc.create("kept", labels={"cove.prune.protect": "true"})
    names, size = svc.prune(dry_run=True)
    assert names == [anon.name] and size >= 5000
    assert svc.exists(anon.name)
    with svc.hold(["named"]):
        assert svc.prune({"all": ["true"]}, dry_run=True)[0] == [anon.name]
        with pytest.raises(Conflict):
            svc.remove("named")
    names, _ = svc.prune({"all": ["true"]})
    assert sorted(names) == sorted([anon.name, "named"])
    assert sorted(v.name for v in svc.list()) == ["kept", "used"]


def test_usage_counts_bytes(tmp_path: Any) -> None:
    svc = _service(tmp_path)
    v = svc.create("uu")
    with open(os.path.join(v.mountpoint, "f"), "wb") as f:
        f.write(b"y" * 12345)
    os.link(os.path.join(v.mountpoint, "f"), os.path.join(v.mountpoint, "g"))
    os.mkdir(os.path.join(v.mountpoint, "d"))
    assert svc.usage("uu") == 12345


def test_half_created_volume_is_cleared(tmp_path: Any) -> None:
    _service(tmp_path)
    os.makedirs(os.path.join(str(tmp_path), "volumes", "torn", "_data"))
    svc = _service(tmp_path)
    assert not svc.exists("torn")
    assert not os.path.exists(os.path.join(str(tmp_path), "volumes", "torn"))


def test_local_driver_options(tmp_path: Any) -> None:
    svc = _service(tmp_path)
    with pytest.raises(InvalidArgument, match='missing required option: "device"'):
        svc.create("nodev", driver_opts={"type": "ext4"})
    with pytest.raises(InvalidArgument, match='missing required option: "type"'):
        svc.create("notype", driver_opts={"device": "/dev/sdz"})
    with pytest.raises(InvalidArgument, match="absolute path"):
        svc.create("relbind", driver_opts={"type": "none", "o": "bind", "device": "rel"})
    v = svc.create("tmp1", driver_opts={"type": "tmpfs", "o": "size=1m"})
    assert v.to_api()["Options"] == {"type": "tmpfs", "o": "size=1m"}
    assert not os.path.ismount(v.mountpoint)  # mounted on first use, not at create
    assert [x.name for x in svc.list()] == ["tmp1"]


def test_same_filesystem_bind_is_seen_as_mounted(tmp_path: Any) -> None:
    import subprocess

    from cove.engine.volumes.local import is_mounted
    src, dst = tmp_path / "src dir", tmp_path / "dst dir"  # a space: mountinfo escapes it
    src.mkdir()
    dst.mkdir()
    if subprocess.run(["mount", "--bind", str(src), str(dst)], check=False).returncode:
        pytest.skip("needs root to bind-mount")
    try:
        assert is_mounted(str(dst)) and not is_mounted(str(src))
    finally:
        subprocess.run(["umount", str(dst)], check=False)
    assert not is_mounted(str(dst))


def test_remove_never_deletes_through_a_bind(tmp_path: Any) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "keep").write_text("x")
    svc = _service(tmp_path / "root")
    svc.create("bound", driver_opts={"type": "none", "o": "bind", "device": str(host)})
    try:
        svc.mountpoint("bound")
        svc.remove("bound")
    finally:
        import subprocess
        subprocess.run(["umount", os.path.join(str(tmp_path), "root", "volumes", "bound",
                                               "_data")], check=False, capture_output=True)
    assert os.listdir(host) == ["keep"]
    assert not svc.exists("bound")
