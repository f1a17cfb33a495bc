"""OCI image layouts: our own round trip, hostile layouts, and skopeo both ways."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from cove.content import ContentStore, DigestMismatch, SizeMismatch
from cove.errors import InvalidArgument, NotFound
from cove.images.oci_layout import read_layout, write_layout
from cove.oci import image as im
from cove.oci.digest import digest_bytes

SKOPEO = shutil.which("skopeo")


def make_image(store: ContentStore, text: str = "hello") -> im.Descriptor:
    """A tiny image: one gzip layer with a few files, its config and manifest."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, body in (("etc/motd", text), ("bin/hello", "#!/bin/sh\necho hi\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mode = 0o755
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(body.encode()))
        d = tarfile.TarInfo("var/empty")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        tar.addfile(d)
    tar_bytes = raw.getvalue()
    layer = gzip.compress(tar_bytes, mtime=0)
    config = im.ImageConfig(
        architecture="amd64",
        os="linux",
        diff_ids=(digest_bytes(tar_bytes),),
        cmd=("/bin/hello",),
        env=("PATH=/bin",),
    )
    config_bytes = config.to_json()
    store.put(layer)
    store.put(config_bytes)
    manifest = im.Manifest(
        config=im.Descriptor.of(im.MEDIA_TYPE_OCI_CONFIG, config_bytes),
        layers=(im.Descriptor.of(im.MEDIA_TYPE_OCI_LAYER_GZIP, layer),),
    )
    manifest_bytes = manifest.to_json()
    store.put(manifest_bytes)
    return im.Descriptor.of(im.MEDIA_TYPE_OCI_MANIFEST, manifest_bytes)


def layout_files(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def test_write_then_read_round_trip(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "a"))
    desc = make_image(store)
    layout = tmp_path / "layout"
    write_layout(store, str(layout), [("v1", desc)])
    assert json.loads((layout / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"] == {im.ANNOTATION_REF_NAME: "v1"}
    assert len(layout_files(layout)) == 5  # oci-layout, index.json, 3 blobs

    other = ContentStore(str(tmp_path / "b"))
    entries = read_layout(str(layout), other)
    assert [(name, d.digest) for name, d in entries] == [("v1", desc.digest)]
    assert sorted(other.digests()) == sorted(store.digests())


def test_write_adds_and_replaces_names(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "a"))
    one, two = make_image(store, "one"), make_image(store, "two")
    layout = str(tmp_path / "layout")
    write_layout(store, layout, [("v1", one)])
    write_layout(store, layout, [("v2", two)])
    write_layout(store, layout, [("v1", two)])
    entries = read_layout(layout, ContentStore(str(tmp_path / "b")))
    assert sorted((n or "", d.digest) for n, d in entries) == sorted(
        [("v1", two.digest), ("v2", two.digest)]
    )


def test_write_refuses_missing_blob(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "a"))
    desc = make_image(store)
    manifest = im.parse_manifest(store.read(desc.digest))
    assert isinstance(manifest, im.Manifest)
    store.delete(manifest.layers[0].digest)
    with pytest.raises(NotFound, match=manifest.layers[0].digest):
        write_layout(store, str(tmp_path / "layout"), [("v1", desc)])


def _layout_with_image(tmp_path: Path) -> tuple[Path, im.Manifest]:
    store = ContentStore(str(tmp_path / "a"))
    desc = make_image(store)
    layout = tmp_path / "layout"
    write_layout(store, str(layout), [("v1", desc)])
    manifest = im.parse_manifest(store.read(desc.digest))
    assert isinstance(manifest, im.Manifest)
    return layout, manifest


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def test_read_refuses_corrupted_blob(tmp_path: Path) -> None:
    layout, manifest = _layout_with_image(tmp_path)
    path = _blob(layout, manifest.layers[0].digest)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.unlink()  # a hard link into store a: replace, never modify it
    path.write_bytes(bytes(data))
    other = ContentStore(str(tmp_path / "b"))
    with pytest.raises(DigestMismatch, match=manifest.layers[0].digest):
        read_layout(str(layout), other)
    assert not other.exists(manifest.layers[0].digest)


def test_read_refuses_oversized_blob(tmp_path: Path) -> None:
    layout, manifest = _layout_with_image(tmp_path)
    path = _blob(layout, manifest.config.digest)
    body = path.read_bytes()
    path.unlink()
    path.write_bytes(body + b" " * 4096)
    with pytest.raises(SizeMismatch):
        read_layout(str(layout), ContentStore(str(tmp_path / "b")))


def test_read_refuses_missing_blob_and_bad_layout(tmp_path: Path) -> None:
    layout, manifest = _layout_with_image(tmp_path)
    _blob(layout, manifest.config.digest).unlink()
    with pytest.raises(NotFound, match=manifest.config.digest):
        read_layout(str(layout), ContentStore(str(tmp_path / "b")))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "2.0.0"}')
    with pytest.raises(InvalidArgument, match="imageLayoutVersion"):
        read_layout(str(layout), ContentStore(str(tmp_path / "b")))
    (layout / "oci-layout").unlink()
    with pytest.raises(NotFound, match="oci-layout"):
        read_layout(str(layout), ContentStore(str(tmp_path / "b")))


def _skopeo(*args: str) -> bytes:
    assert SKOPEO is not None
    proc = subprocess.run(
        [SKOPEO, "--insecure-policy", *args], capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


@pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
def test_skopeo_reads_ours_and_we_read_skopeos(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "store"))
    desc = make_image(store)
    ours = tmp_path / "ours"
    write_layout(store, str(ours), [("tag", desc)])

    raw = _skopeo("inspect", "--raw", f"oci:{ours}:tag")
    assert raw == store.read(desc.digest)
    assert digest_bytes(raw) == desc.digest
    config = json.loads(_skopeo("inspect", "--config", f"oci:{ours}:tag"))
    assert config["config"]["Cmd"] == ["/bin/hello"]

    copied = tmp_path / "copied"
    _skopeo("copy", "--quiet", f"oci:{ours}:tag", f"oci:{copied}:tag")
    other = ContentStore(str(tmp_path / "other"))
    entries = read_layout(str(copied), other)
    assert [(name, d.digest) for name, d in entries] == [("tag", desc.digest)]
    assert sorted(other.digests()) == sorted(store.digests())
    for digest in store.digests():
        assert other.read(digest) == store.read(digest)
    assert os.listdir(os.path.join(other.root, "ingest")) == []


@pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
def test_index_round_trip_through_skopeo(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "store"))
    amd, arm = make_image(store, "amd64"), make_image(store, "arm64")
    index = im.Index(
        manifests=(
            im.Descriptor(
                amd.media_type, amd.digest, amd.size, platform=im.Platform("amd64", "linux")
            ),
            im.Descriptor(
                arm.media_type, arm.digest, arm.size, platform=im.Platform("arm64", "linux", "v8")
            ),
        )
    )
    index_bytes = index.to_json()
    store.put(index_bytes)
    top = im.Descriptor.of(im.MEDIA_TYPE_OCI_INDEX, index_bytes)
    ours = tmp_path / "ours"
    write_layout(store, str(ours), [("multi", top)])
    assert _skopeo("inspect", "--raw", f"oci:{ours}:multi") == index_bytes

    copied = tmp_path / "copied"
    _skopeo("copy", "--quiet", "--all", f"oci:{ours}:multi", f"oci:{copied}:multi")
    other = ContentStore(str(tmp_path / "other"))
    [(name, desc)] = read_layout(str(copied), other)
    assert (name, desc.digest) == ("multi", top.digest)
    parsed = im.parse_manifest(other.read(desc.digest), desc.media_type)
    assert isinstance(parsed, im.Index)
    assert im.select_platform(parsed, architecture="arm64").digest == arm.digest
    assert sorted(other.digests()) == sorted(store.digests())
