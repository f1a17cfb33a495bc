"""The busybox OCI image: reproducible, and valid by the OCI model's parsers."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from cove.busybox import find_busybox
from cove.content import ContentStore
from cove.errors import NotFound
from cove.images.busybox_image import build_busybox_image
from cove.oci.image import (
    MEDIA_TYPE_OCI_MANIFEST,
    Manifest,
    host_platform,
    parse_config,
    parse_manifest,
)


@pytest.fixture(autouse=True)
def _need_busybox() -> None:
    try:
        find_busybox()
    except NotFound as exc:
        pytest.skip(str(exc))
    if os.geteuid() != 0:
        pytest.skip("build_rootfs chowns /home/user: needs root")


def test_build_is_deterministic(tmp_path: Path) -> None:
    a = ContentStore(str(tmp_path / "a"))
    b = ContentStore(str(tmp_path / "b"))
    desc_a, config_a = build_busybox_image(a)
    desc_b, config_b = build_busybox_image(b)
    assert desc_a.digest == desc_b.digest
    assert config_a == config_b
    assert sorted(a.digests()) == sorted(b.digests())
    assert len(list(a.digests())) == 3


def test_manifest_and_config_validate(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "s"))
    desc, config_digest = build_busybox_image(store, tag_name="busybox:test")
    assert desc.media_type == MEDIA_TYPE_OCI_MANIFEST
    assert desc.annotations["org.opencontainers.image.ref.name"] == "busybox:test"
    manifest = parse_manifest(store.read(desc.digest), desc.media_type)
    assert isinstance(manifest, Manifest)
    assert manifest.config.digest == config_digest
    config = parse_config(store.read(config_digest))
    assert config.os == "linux"
    assert config.architecture == host_platform().architecture
    assert config.cmd == ("sh",)
    assert any(e.startswith("PATH=") for e in config.env)
    assert len(config.history) == 1
    (layer,) = manifest.layers
    tar_bytes = gzip.decompress(store.read(layer.digest))
    assert config.diff_ids == ("sha256:" + hashlib.sha256(tar_bytes).hexdigest(),)
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
    by_name = {m.name: m for m in members}
    assert by_name["bin/busybox"].isreg() and by_name["bin/busybox"].mode == 0o755
    assert by_name["bin/sh"].issym() and by_name["bin/sh"].linkname == "busybox"
    assert by_name["tmp"].mode == 0o1777
    assert by_name["home/user"].uid == 1000
    assert {m.mtime for m in members} == {1_704_067_200}
    assert all(m.uid == 0 for m in members if m.name != "home/user")
