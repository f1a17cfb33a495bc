from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cove.busybox import build_rootfs
from tests.helpers import Runtime


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    """A pristine busybox rootfs; tests that write to their rootfs copy it first."""
    top = Path(tempfile.mkdtemp(prefix="cove-test-rootfs-"))
    try:
        yield build_rootfs(top / "rootfs")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(root=tmp_path / "state")
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle"
    path.mkdir()
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests need root")
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(skip)
