"""apply_layer: compression detection, diff_id, whiteouts, metadata and hostile layers."""

from __future__ import annotations

import gzip
import hashlib
import io
import logging
import os
import stat
import tarfile
from collections.abc import Iterable
from pathlib import Path

import pytest
import zstandard

from cove.snapshots.layers import LayerError, apply_layer


def make_tar(entries: Iterable[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in entries:
            if isinstance(item, tuple):
                info, data = item
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(item)
    return buf.getvalue()


def f(name: str, data: bytes = b"x", mode: int = 0o644, **kw: object) -> tuple[
        tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = 1_000_000
    for k, v in kw.items():
        setattr(info, k, v)
    return info, data


def d(name: str, mode: int = 0o755, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 1_000_000
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    info.mtime = 1_000_000
    return info


def wh(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return f(name, b"", 0o000)


def apply(raw: bytes, dest: Path, **kw: object) -> object:
    return apply_layer(io.BytesIO(raw), str(dest), **kw)  # type: ignore[arg-type]


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """(dest, outside): writes to ``outside`` prove an escape."""
    dest = tmp_path / "root"
    outside = tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    return dest, outside


def assert_untouched(outside: Path) -> None:
    assert list(outside.iterdir()) == []


# ---- compression and diff_id

@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_detects_compression_and_diff_id(tmp_path: Path, compress: str) -> None:
    raw = make_tar([d("etc"), f("etc/hosts", b"127.0.0.1 localhost\n")])
    blob = {"none": raw, "gzip": gzip.compress(raw),
            "zstd": zstandard.ZstdCompressor().compress(raw)}[compress]
    stats = apply_layer(io.BytesIO(blob), str(tmp_path), media_type="application/whatever")
    assert stats.compression == compress
    assert stats.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert stats.size == len(raw)
    assert (tmp_path / "etc/hosts").read_bytes() == b"127.0.0.1 localhost\n"


def test_gzip_multi_member_and_truncated(tmp_path: Path) -> None:
    raw = make_tar([f("a", b"1" * 100_000)])
    two = gzip.compress(raw[:5000]) + gzip.compress(raw[5000:])
    stats = apply(two, tmp_path)
    assert stats.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()  # type: ignore[attr-defined]
    other = tmp_path / "t"
    other.mkdir()
    with pytest.raises(LayerError):
        apply(gzip.compress(raw)[:-40], other)


def test_bomb_aborts(tmp_path: Path) -> None:
    raw = make_tar([f("zeros", b"\0" * 5_000_000)])
    with pytest.raises(LayerError, match="decompression bomb"):
        apply(gzip.compress(raw), tmp_path, max_bytes=1_000_000)


def test_not_a_tar(tmp_path: Path) -> None:
    with pytest.raises(LayerError):
        apply(gzip.compress(b"hello world" * 100), tmp_path)


# ---- metadata

def test_metadata_preserved(tmp_path: Path) -> None:
    xattr_file = f("bin/ping", b"ELF", 0o4755, uid=1234, gid=5678)
    xattr_file[0].pax_headers = {"SCHILY.xattr.user.note": "hello"}
    raw = make_tar([
        d("bin", 0o755), xattr_file,
        d("tmp", 0o1777), d("g", 0o2750, uid=7, gid=8),
        link("bin/sh", "busybox"),
        f("bin/busybox", b"BB", 0o755),
        link("bin/hl", "bin/busybox", tarfile.LNKTYPE),
    ])
    apply(raw, tmp_path)
    st = os.stat(tmp_path / "bin/ping")
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_mtime == 1_000_000
    assert os.getxattr(tmp_path / "bin/ping", "user.note") == b"hello"
    assert stat.S_IMODE(os.stat(tmp_path / "tmp").st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(tmp_path / "g").st_mode) == 0o2750
    assert os.stat(tmp_path / "g").st_mtime == 1_000_000
    assert os.readlink(tmp_path / "bin/sh") == "busybox"
    assert os.lstat(tmp_path / "bin/sh").st_mtime == 1_000_000
    assert os.stat(tmp_path / "bin/hl").st_ino == os.stat(tmp_path / "bin/busybox").st_ino


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for mknod")
def test_devices_when_privileged(tmp_path: Path) -> None:
    null = tarfile.TarInfo("dev/null")
    null.type, null.devmajor, null.devminor, null.mode = tarfile.CHRTYPE, 1, 3, 0o666
    fifo = tarfile.TarInfo("dev/fifo")
    fifo.type, fifo.mode = tarfile.FIFOTYPE, 0o644
    apply(make_tar([null, fifo]), tmp_path)
    st = os.lstat(tmp_path / "dev/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert stat.S_IMODE(st.st_mode) == 0o666
    assert stat.S_ISFIFO(os.lstat(tmp_path / "dev/fifo").st_mode)


def test_devices_skipped_unprivileged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    null = tarfile.TarInfo("dev/null")
    null.type, null.devmajor, null.devminor = tarfile.CHRTYPE, 1, 3
    disk = tarfile.TarInfo("dev/sda")
    disk.type, disk.devmajor, disk.devminor = tarfile.BLKTYPE, 8, 0
    with caplog.at_level(logging.WARNING):
        stats = apply_layer(io.BytesIO(make_tar([null, disk, f("ok")])), str(tmp_path),
                            privileged=False)
    assert stats.skipped == ("dev/null", "dev/sda")
    assert not (tmp_path / "dev/null").exists() and not (tmp_path / "dev/sda").exists()
    assert (tmp_path / "ok").exists()
    assert "device node skipped" in caplog.text


# ---- whiteouts (native)

def test_whiteout_removes_lower(tmp_path: Path) -> None:
    apply(make_tar([d("a"), f("a/keep"), f("a/gone"), d("a/sub"), f("a/sub/x")]), tmp_path)
    apply(make_tar([wh("a/.wh.gone"), wh("a/.wh.sub")]), tmp_path)
    assert sorted(os.listdir(tmp_path / "a")) == ["keep"]


def test_whiteout_spares_same_layer(tmp_path: Path) -> None:
    apply(make_tar([f("a")]), tmp_path)
    apply(make_tar([f("a", b"new"), wh(".wh.a")]), tmp_path)
    assert (tmp_path / "a").read_bytes() == b"new"


def test_opaque_dir(tmp_path: Path) -> None:
    apply(make_tar([d("a"), f("a/old"), d("a/d"), f("a/d/old")]), tmp_path)
    apply(make_tar([d("a"), d("a/d"), f("a/d/new"), wh("a/.wh..wh..opq"), f("a/new")]),
          tmp_path)
    assert sorted(os.listdir(tmp_path / "a")) == ["d", "new"]
    assert os.listdir(tmp_path / "a/d") == ["new"]


def test_overlay_whiteouts(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("overlay whiteouts and trusted xattrs need root")
    apply(make_tar([d("a"), wh("a/.wh.gone"), wh("a/.wh..wh..opq"), f("a/new")]), tmp_path,
          for_overlay=True)
    st = os.lstat(tmp_path / "a/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)
    assert os.getxattr(tmp_path / "a", "trusted.overlay.opaque") == b"y"
    assert not any(n.startswith(".wh.") for n in os.listdir(tmp_path / "a"))


def test_type_changes_across_layers(tmp_path: Path) -> None:
    apply(make_tar([d("x"), f("x/inner"), f("y"), link("z", "/etc")]), tmp_path)
    apply(make_tar([f("x", b"now a file"), d("y"), f("y/in"), d("z"), f("z/passwd")]),
          tmp_path)
    assert (tmp_path / "x").read_bytes() == b"now a file"
    assert (tmp_path / "y/in").exists()
    assert not os.path.islink(tmp_path / "z") and (tmp_path / "z/passwd").exists()


# ---- hostile layers

def test_dotdot_refused(sandbox: tuple[Path, Path]) -> None:
    dest, outside = sandbox
    with pytest.raises(LayerError, match=r"\.\./outside/evil"):
        apply(make_tar([f("../outside/evil")]), dest)
    with pytest.raises(LayerError):
        apply(make_tar([f("a/../../outside/evil")]), dest)
    assert_untouched(outside)


def test_absolute_contained(sandbox: tuple[Path, Path]) -> None:
    dest, outside = sandbox
    apply(make_tar([f(str(outside / "evil"))]), dest)
    assert_untouched(outside)
    assert (dest / str(outside / "evil").lstrip("/")).exists()


@pytest.mark.parametrize("target", ["abs", "rel"])
def test_symlink_escape_across_layers(sandbox: tuple[Path, Path], target: str) -> None:
    dest, outside = sandbox
    to = str(outside) if target == "abs" else os.path.relpath(outside, dest)
    apply(make_tar([link("esc", to)]), dest)
    apply(make_tar([f("esc/evil", b"pwn")]), dest)  # lands inside dest, not outside
    assert_untouched(outside)
    # the symlink within one layer too, and as a hard link target
    apply(make_tar([link("esc2", to), f("esc2/evil2")]), dest)
    assert_untouched(outside)


def test_hardlink_outside_refused(sandbox: tuple[Path, Path]) -> None:
    dest, outside = sandbox
    secret = outside / "secret"
    secret.write_text("s")
    with pytest.raises(LayerError, match="hl"):
        apply(make_tar([link("hl", "../outside/secret", tarfile.LNKTYPE)]), dest)
    apply(make_tar([link("esc", str(outside))]), dest)
    with pytest.raises(LayerError, match="does not exist"):
        apply(make_tar([link("hl2", "esc/secret", tarfile.LNKTYPE)]), dest)
    assert os.stat(secret).st_nlink == 1
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]


def test_whiteout_through_symlink_contained(sandbox: tuple[Path, Path]) -> None:
    dest, outside = sandbox
    (outside / "victim").write_text("v")
    apply(make_tar([link("esc", str(outside))]), dest)
    apply(make_tar([wh("esc/.wh.victim"), wh("esc/.wh..wh..opq")]), dest)
    assert (outside / "victim").exists()


def test_symlink_replaced_by_dir(sandbox: tuple[Path, Path]) -> None:
    dest, outside = sandbox
    apply(make_tar([link("lib", str(outside))]), dest)
    apply(make_tar([d("lib"), f("lib/x")]), dest)
    assert (dest / "lib").is_dir() and not (dest / "lib").is_symlink()
    assert_untouched(outside)


def test_in_root_symlink_dir_followed(tmp_path: Path) -> None:
    apply(make_tar([d("usr"), d("usr/lib"), link("lib", "usr/lib")]), tmp_path)
    apply(make_tar([f("lib/libc.so", b"c")]), tmp_path)
    assert (tmp_path / "usr/lib/libc.so").read_bytes() == b"c"
    assert os.path.islink(tmp_path / "lib")


def test_dir_replaced_by_symlink_in_same_layer(sandbox: tuple[Path, Path]) -> None:
    """A directory resolved for earlier entries, then swapped for a symlink outside."""
    dest, outside = sandbox
    apply(make_tar([d("a"), f("a/x"), link("a", str(outside)), f("a/y", b"pwn"),
                    link("b", str(outside)), f("b/z")]), dest)
    assert_untouched(outside)
    assert (dest / str(outside).lstrip("/") / "y").exists()


@pytest.mark.parametrize("compress", ["none", "gzip", "zstd"])
def test_large_files_exact(tmp_path: Path, compress: str) -> None:
    big = os.urandom(3_500_001)
    text = b"abc" * 1_000_003
    raw = make_tar([f("big", big), f("small", b"s"), f("text", text), f("empty", b"")])
    blob = {"none": raw, "gzip": gzip.compress(raw),
            "zstd": zstandard.ZstdCompressor().compress(raw)}[compress]
    stats = apply(blob, tmp_path)
    assert (tmp_path / "big").read_bytes() == big
    assert (tmp_path / "small").read_bytes() == b"s"
    assert (tmp_path / "text").read_bytes() == text
    assert (tmp_path / "empty").read_bytes() == b""
    assert stats.diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()  # type: ignore[attr-defined]


def test_truncated_tar(tmp_path: Path) -> None:
    raw = make_tar([f("big", os.urandom(100_000))])
    with pytest.raises(LayerError, match="big|tar"):
        apply(raw[:50_000], tmp_path)
