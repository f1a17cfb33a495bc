from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.busybox import build_rootfs
from tests.cni_fixtures import new_empty_tables_removed
from tests.helpers import Runtime, write_bundle


@pytest.fixture(scope="session", autouse=True)
def _new_empty_firewall_tables_removed() -> Iterator[None]:
    """Empty nftables tables the session's networking made as a side effect go after it."""
    with new_empty_tables_removed():
        yield


@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    """A pristine busybox rootfs, shared read-only; tests that write copy it first."""
    top = Path(tempfile.mkdtemp(prefix="cove-test-rootfs-"))
    top.chmod(0o755)  # reachable by a user namespace's root (an unmapped host uid)
    try:
        yield build_rootfs(top / "rootfs")
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = Runtime(root=tmp_path / "state", workdir=tmp_path)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle"
    path.mkdir()
    return path


@pytest.fixture
def make_bundle(tmp_path: Path, busybox_rootfs: Path) -> Callable[..., Path]:
    """make_bundle(config, rootfs=None, name=None) -> bundle dir with config.json."""
    def make(config: dict[str, Any], rootfs: Path | None = None,
             name: str | None = None) -> Path:
        return write_bundle(tmp_path / (name or f"bundle-{uuid.uuid4().hex[:8]}"),
                            rootfs or busybox_rootfs, config)

    return make


@pytest.fixture
def private_rootfs(tmp_path: Path, busybox_rootfs: Path) -> Path:
    """A writable copy of the busybox rootfs for tests that change it."""
    dest = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs, dest, symlinks=True)
    return dest


@pytest.fixture
def cid() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="integration tests need root")
        for item in items:
            if "integration" in str(item.fspath):
                item.add_marker(skip)
