"""One suite for every snapshotter: overlay and native behave the same through their mounts."""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cove.errors import AlreadyExists, FailedPrecondition, NotFound
from cove.snapshots.base import Kind, Mount, Snapshotter, mounted
from cove.snapshots.detect import choose_snapshotter, overlay_works
from cove.snapshots.layers import LayerError, apply_layer
from cove.snapshots.native import NativeSnapshotter
from cove.snapshots.overlay import OverlaySnapshotter

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root")


@pytest.fixture(params=["overlay", "native"])
def sn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Snapshotter]:
    root = str(tmp_path / "snapshots")
    if request.param == "overlay":
        if not overlay_works(root):
            pytest.skip("overlayfs not usable here")
        yield OverlaySnapshotter(root)
    else:
        yield NativeSnapshotter(root)


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "mnt"
    path.mkdir()
    yield path
    assert not os.path.ismount(path), "a test left a mount behind"


def tar_of(*entries: tuple[str, str, bytes | str]) -> bytes:
    """entries: (name, "f"|"d"|"l", data-or-linkname)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_000_000
            if kind == "d":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
                tar.addfile(info)
            else:
                data = payload if isinstance(payload, bytes) else payload.encode()
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def layer(sn: Snapshotter, target: Path, name: str, parent: str | None, raw: bytes) -> None:
    """Unpack ``raw`` into a new committed snapshot ``name`` through its mounts."""
    mounts = sn.prepare(f"extract-{name}", parent)
    with mounted(mounts, str(target)):
        apply_layer(io.BytesIO(raw), str(target))
    sn.commit(name, f"extract-{name}")


def tree(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for top, dirs, files in os.walk(path):
        for n in dirs + files:
            p = Path(top) / n
            rel = str(p.relative_to(path))
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = "-> " + os.readlink(p)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            else:
                out[rel] = p.read_text()
    return out


def test_prepare_commit_chain(sn: Snapshotter, target: Path) -> None:
    layer(sn, target, "l1", None, tar_of(("etc", "d", b""), ("etc/a", "f", "1")))
    layer(sn, target, "l2", "l1", tar_of(("etc/b", "f", "2"), ("bin", "l", "usr/bin")))
    layer(sn, target, "l3", "l2", tar_of(("etc/a", "f", "3")))
    assert sn.stat("l3").parent == "l2" and sn.stat("l3").kind is Kind.COMMITTED
    with mounted(sn.view("v", "l3"), str(target)):
        assert tree(target) == {"etc": "dir", "bin": "-> usr/bin", "etc/a": "3", "etc/b": "2"}
        with pytest.raises(OSError):
            (target / "etc/new").write_text("x")  # views are read-only
    # an active snapshot writes to its own layer only
    with mounted(sn.prepare("rw", "l3"), str(target)):
        (target / "etc/c").write_text("c")
    with mounted(sn.view("v2", "l3"), str(target)):
        assert not (target / "etc/c").exists()
    with mounted(sn.mounts("rw"), str(target)):
        assert (target / "etc/c").read_text() == "c"
    assert {i.name for i in sn.walk()} == {"l1", "l2", "l3", "v", "v2", "rw"}
    assert sn.usage("rw").inodes >= 1


def test_single_layer_view_and_empty(sn: Snapshotter, target: Path) -> None:
    layer(sn, target, "only", None, tar_of(("x", "f", "x")))
    with mounted(sn.view("v", "only"), str(target)):
        assert tree(target) == {"x": "x"}
    with mounted(sn.prepare("empty"), str(target)):
        assert tree(target) == {}


def test_whiteouts_through_mounts(sn: Snapshotter, target: Path) -> None:
    layer(sn, target, "l1", None, tar_of(
        ("a", "d", b""), ("a/keep", "f", "k"), ("a/gone", "f", "g"),
        ("o", "d", b""), ("o/old", "f", "o"), ("o/sub", "d", b""), ("o/sub/old", "f", "o"),
        ("f2d", "f", "file"), ("d2f", "d", b""), ("d2f/x", "f", "x")))
    layer(sn, target, "l2", "l1", tar_of(
        ("a/.wh.gone", "f", b""), ("o", "d", b""), ("o/.wh..wh..opq", "f", b""),
        ("o/new", "f", "n"), ("f2d", "d", b""), ("f2d/in", "f", "i"), ("d2f", "f", "now")))
    with mounted(sn.view("v", "l2"), str(target)):
        assert tree(target) == {"a": "dir", "a/keep": "k", "o": "dir", "o/new": "n",
                                "f2d": "dir", "f2d/in": "i", "d2f": "now"}
    # and once more on top: the whited-out names can come back
    layer(sn, target, "l3", "l2", tar_of(("a/gone", "f", "back"), ("o/sub", "d", b"")))
    with mounted(sn.view("v3", "l3"), str(target)):
        assert (target / "a/gone").read_text() == "back"
        assert list((target / "o/sub").iterdir()) == []


def test_remove_rules(sn: Snapshotter, target: Path) -> None:
    layer(sn, target, "base", None, tar_of(("f", "f", "1")))
    sn.prepare("child", "base")
    with pytest.raises(FailedPrecondition, match="children"):
        sn.remove("base")
    with pytest.raises(AlreadyExists):
        sn.prepare("child", "base")
    with pytest.raises(NotFound):
        sn.prepare("x", "nope")
    with pytest.raises(FailedPrecondition):
        sn.prepare("y", "child")  # parent not committed
    with pytest.raises(FailedPrecondition):
        sn.commit("c2", "base")  # already committed
    sn.remove("child")
    sn.remove("base")
    assert list(sn.walk()) == []
    with pytest.raises(NotFound):
        sn.stat("base")
    assert os.listdir(os.path.join(sn.root, "snapshots")) == []


def test_metadata_persists(sn: Snapshotter, target: Path) -> None:
    layer(sn, target, "l1", None, tar_of(("f", "f", "1")))
    sn.prepare("act", "l1")
    again = type(sn)(sn.root)
    assert {i.name: i.kind for i in again.walk()} == {"l1": Kind.COMMITTED, "act": Kind.ACTIVE}
    assert again.mounts("act") == sn.mounts("act")


def test_metadata_preserved_in_chain(sn: Snapshotter, target: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("suid")
        info.mode, info.uid, info.gid, info.mtime = 0o4755, 1000, 1000, 1_000_000
        info.pax_headers = {"SCHILY.xattr.user.k": "v"}
        tar.addfile(info, io.BytesIO(b""))
        hl = tarfile.TarInfo("hl")
        hl.type, hl.linkname = tarfile.LNKTYPE, "suid"
        tar.addfile(hl)
        dev = tarfile.TarInfo("null")
        dev.type, dev.devmajor, dev.devminor, dev.mode = tarfile.CHRTYPE, 1, 3, 0o666
        tar.addfile(dev)
    layer(sn, target, "l1", None, buf.getvalue())
    layer(sn, target, "l2", "l1", tar_of(("other", "f", "o")))
    with mounted(sn.view("v", "l2"), str(target)):
        st = os.stat(target / "suid")
        assert stat.S_IMODE(st.st_mode) == 0o4755 and (st.st_uid, st.st_gid) == (1000, 1000)
        assert st.st_mtime == 1_000_000
        assert os.getxattr(target / "suid", "user.k") == b"v"
        assert os.stat(target / "hl").st_ino == st.st_ino
        null = os.lstat(target / "null")
        assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)


def test_mount_helpers_roundtrip(tmp_path: Path, target: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    m = Mount("bind", str(src), ("rbind", "ro"))
    m.mount(str(target))
    try:
        assert (target / "f").read_text() == "x"
    finally:
        Mount.unmount(str(target))


def test_detect_prefers_overlay(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    chosen = choose_snapshotter(root)
    expected = OverlaySnapshotter if overlay_works(root) else NativeSnapshotter
    assert type(chosen) is expected
    assert os.listdir(root) == ["snapshots"]  # the probe left nothing behind


def test_overlay_on_overlay_falls_back(tmp_path: Path, target: Path) -> None:
    """Upper dirs on an overlay mount are refused by the kernel: native is chosen."""
    lower, upper, work = (tmp_path / n for n in ("l", "u", "w"))
    for p in (lower, upper, work):
        p.mkdir()
    if not overlay_works(str(tmp_path / "probe")):
        pytest.skip("overlayfs not usable here")
    m = Mount("overlay", "overlay", (f"lowerdir={lower}", f"upperdir={upper}",
                                     f"workdir={work}"))
    with mounted([m], str(target)):
        if overlay_works(str(target / "root")):
            pytest.skip("this kernel accepts overlay upper dirs on overlay")
        assert type(choose_snapshotter(str(target / "root"))) is NativeSnapshotter


def test_overlay_upper_from_layer(tmp_path: Path, target: Path) -> None:
    """A layer unpacked with for_overlay=True hides lower entries once mounted by the kernel."""
    if not overlay_works(str(tmp_path / "probe")):
        pytest.skip("overlayfs not usable here")
    lower, upper, work = (tmp_path / n for n in ("lower", "upper", "work"))
    for p in (lower, upper, work):
        p.mkdir()
    apply_layer(io.BytesIO(tar_of(("a", "d", b""), ("a/gone", "f", "g"), ("a/keep", "f", "k"),
                                  ("o", "d", b""), ("o/old", "f", "o"))), str(lower))
    apply_layer(io.BytesIO(tar_of(("a/.wh.gone", "f", b""), ("o", "d", b""),
                                  ("o/.wh..wh..opq", "f", b""), ("o/new", "f", "n"))),
                str(upper), for_overlay=True)
    m = Mount("overlay", "overlay", (f"lowerdir={lower}", f"upperdir={upper}",
                                     f"workdir={work}"))
    with mounted([m], str(target)):
        assert tree(target) == {"a": "dir", "a/keep": "k", "o": "dir", "o/new": "n"}


def test_long_chain_mounts(sn: Snapshotter, target: Path) -> None:
    """130 layers: more than one page of absolute lowerdir paths, still one mount."""
    parent = None
    for n in range(130):
        layer(sn, target, f"l{n}", parent, tar_of((f"f{n:03}", "f", str(n))))
        parent = f"l{n}"
    mounts = sn.prepare("top", parent)
    if mounts[0].type == "overlay":
        lowerdir = next(o for o in mounts[0].options if o.startswith("lowerdir="))
        assert len(lowerdir) > 4096  # the case the relative-path mount is for
    with mounted(mounts, str(target)):
        names = sorted(os.listdir(target))
        assert names == [f"f{n:03}" for n in range(130)]
        assert (target / "f000").read_text() == "0" and (target / "f129").read_text() == "129"
        (target / "f000").write_text("changed")
    with mounted(sn.view("v", parent), str(target)):
        assert (target / "f000").read_text() == "0"
        assert len(os.listdir(target)) == 130


def unpack_direct(sn: Snapshotter, name: str, parent: str | None, raw: bytes) -> None:
    """Unpack as the image service does: into the snapshot's own directory, not a mount."""
    mounts = sn.prepare(f"extract-{name}", parent)
    m = mounts[0]
    if m.type == "overlay":
        opts = dict(o.split("=", 1) for o in m.options if "=" in o)
        apply_layer(io.BytesIO(raw), opts["upperdir"], for_overlay=True,
                    lowers=opts["lowerdir"].split(":"))
    else:
        apply_layer(io.BytesIO(raw), m.source, for_overlay=isinstance(sn, OverlaySnapshotter))
    sn.commit(name, f"extract-{name}")


def link_of(name: str, target: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mtime = tarfile.LNKTYPE, target, 1_000_000
        tar.addfile(info)
    return buf.getvalue()


def test_hard_link_to_a_lower_layer(sn: Snapshotter, target: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("deep")
        d.type, d.mode, d.uid, d.mtime = tarfile.DIRTYPE, 0o750, 7, 2_000_000
        tar.addfile(d)
        d = tarfile.TarInfo("deep/dir")
        d.type, d.mode, d.uid, d.mtime = tarfile.DIRTYPE, 0o711, 8, 3_000_000
        tar.addfile(d)
        f = tarfile.TarInfo("deep/dir/a")
        f.size, f.mode, f.uid, f.gid, f.mtime = 5, 0o4750, 1000, 1001, 1_500_000
        f.pax_headers = {"SCHILY.xattr.user.k": "v"}
        tar.addfile(f, io.BytesIO(b"hello"))
    unpack_direct(sn, "l1", None, buf.getvalue())
    unpack_direct(sn, "l2", "l1", tar_of(("other", "d", b"")))
    # the link lives elsewhere; its target's directories are not in this layer
    unpack_direct(sn, "l3", "l2", link_of("other/b", "deep/dir/a"))
    with mounted(sn.view("v", "l3"), str(target)):
        a, b = os.stat(target / "deep/dir/a"), os.stat(target / "other/b")
        assert (target / "other/b").read_bytes() == b"hello"
        assert a.st_ino == b.st_ino and a.st_nlink == 2
        assert stat.S_IMODE(a.st_mode) == 0o4750 and (a.st_uid, a.st_gid) == (1000, 1001)
        assert a.st_mtime == 1_500_000
        assert os.getxattr(target / "deep/dir/a", "user.k") == b"v"
        top = os.stat(target / "deep")
        assert (stat.S_IMODE(top.st_mode), top.st_uid, top.st_mtime) == (0o750, 7, 2_000_000)
        sub = os.stat(target / "deep/dir")
        assert (stat.S_IMODE(sub.st_mode), sub.st_uid, sub.st_mtime) == (0o711, 8, 3_000_000)
    with mounted(sn.view("v1", "l1"), str(target)):
        assert os.stat(target / "deep/dir/a").st_nlink == 1  # the lower layer is untouched


def test_hard_link_to_a_hidden_lower_file_is_refused(sn: Snapshotter, target: Path) -> None:
    unpack_direct(sn, "l1", None, tar_of(("d", "d", b""), ("d/a", "f", "x"),
                                         ("e", "d", b""), ("e/a", "f", "y")))
    unpack_direct(sn, "l2", "l1", tar_of(("d/.wh.a", "f", b""), ("e", "d", b""),
                                         ("e/.wh..wh..opq", "f", b"")))
    for n, gone in enumerate(["d/a", "e/a"]):
        with pytest.raises(LayerError, match="does not exist"):
            unpack_direct(sn, f"l3-{n}", "l2", link_of("b", gone))
        sn.remove(f"extract-l3-{n}")


def make_changes(root: Path) -> None:
    """The same edits through any snapshotter's mount."""
    (root / "new-file").write_text("n")
    (root / "etc/a").write_text("changed")
    (root / "etc/b").unlink()
    os.chmod(root / "etc/c", 0o700)
    shutil.rmtree(root / "dir")
    (root / "newdir").mkdir()
    os.chmod(root / "newdir", 0o755)
    (root / "newdir/x").write_text("x")
    shutil.rmtree(root / "o")
    (root / "o").mkdir()
    os.chmod(root / "o", 0o755)
    (root / "o/fresh").write_text("f")
    (root / "f2d").unlink()
    (root / "f2d").mkdir()
    (root / "f2d/in").write_text("i")
    (root / "keep2").write_text("k2")  # same size, later mtime: modified


EXPECTED_CHANGES = [
    ("/dir", 2), ("/etc", 0), ("/etc/a", 0), ("/etc/b", 2), ("/etc/c", 0), ("/f2d", 0),
    ("/f2d/in", 1), ("/keep2", 0), ("/new-file", 1), ("/newdir", 1), ("/newdir/x", 1),
    ("/o", 0), ("/o/fresh", 1), ("/o/old", 2), ("/o/sub", 2),
]


def test_changes_of_a_container_snapshot(sn: Snapshotter, target: Path) -> None:
    layer(sn, target, "l1", None, tar_of(
        ("etc", "d", b""), ("etc/a", "f", "1"), ("etc/b", "f", "2"), ("etc/c", "f", "3"),
        ("dir", "d", b""), ("dir/x", "f", "x"), ("dir/sub", "d", b""), ("dir/sub/y", "f", "y"),
        ("o", "d", b""), ("o/old", "f", "o"), ("o/sub", "d", b""), ("o/sub/old", "f", "o"),
        ("f2d", "f", "file"), ("keep", "f", "k")))
    layer(sn, target, "l2", "l1", tar_of(("etc/d", "f", "4"), ("keep2", "f", "k!")))
    mounts = sn.prepare("c1", "l2")
    assert sn.changes("c1") == []
    with mounted(mounts, str(target)):
        make_changes(target)
    got = [(c.path, int(c.kind)) for c in sn.changes("c1")]
    assert got == EXPECTED_CHANGES
    assert sn.changes("c1")[0].to_dict() == {"Path": "/dir", "Kind": 2}
    # every added or modified path can be read from the diff source
    source = Path(sn.diff_source("c1"))
    for path, kind in got:
        if kind != 2:
            assert os.path.lexists(source / path.lstrip("/")), path
    # a first layer's changes are all additions
    assert [(c.path, int(c.kind)) for c in sn.changes("l1")][:3] == [
        ("/dir", 1), ("/dir/sub", 1), ("/dir/sub/y", 1)]
