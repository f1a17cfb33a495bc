"""Fixtures for image tests: an ImageService under tmp_path and an offline busybox image.

The busybox layer is a gzip tar of :func:`cove.busybox.build_rootfs`, entries sorted,
mtimes fixed, owned by root; it is built once per session.  Import the fixtures with
``from tests.image_fixtures import busybox_layer_fixture, image_service_fixture, ...``.
"""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.busybox import build_rootfs
from cove.images.service import ImageRecord, ImageService

BUSYBOX_NAME = "cove-test/busybox:latest"
BUSYBOX_CONFIG: dict[str, Any] = {
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
        "WorkingDir": "/",
        "Labels": {"org.cove.test": "busybox"},
    },
    "author": "cove tests",
    "created": "2026-01-01T00:00:00Z",
    "history": [{"created": "2026-01-01T00:00:00Z",
                 "created_by": "cove.busybox.build_rootfs"}],
}


def tar_tree(root: Path, *, compress: bool = True) -> bytes:
    """A layer of the tree at ``root``: sorted entries, mtime 0, uid/gid kept, gzip optional."""
    buf = io.BytesIO()

    def fix(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(root)), recursive=False, filter=fix)
    data = buf.getvalue()
    return gzip.compress(data, mtime=0) if compress else data


@pytest.fixture(name="busybox_layer", scope="session")
def busybox_layer_fixture() -> Iterator[bytes]:
    """The gzipped busybox layer (bytes), built once."""
    top = Path(tempfile.mkdtemp(prefix="cove-test-layer-"))
    try:
        yield tar_tree(build_rootfs(top / "rootfs"))
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(name="image_service")
def image_service_fixture(tmp_path: Path) -> Iterator[ImageService]:
    """A fresh ImageService rooted in tmp_path/cove."""
    service = ImageService(tmp_path / "cove")
    try:
        yield service
    finally:
        service.close()


def make_busybox_image(service: ImageService, layer: bytes,
                       name: str = BUSYBOX_NAME) -> ImageRecord:
    return service.create_image([layer], BUSYBOX_CONFIG, name)


@pytest.fixture(name="busybox_image")
def busybox_image_fixture(image_service: ImageService, busybox_layer: bytes) -> ImageRecord:
    """The busybox image, named ``cove-test/busybox:latest`` in ``image_service``."""
    return make_busybox_image(image_service, busybox_layer)
