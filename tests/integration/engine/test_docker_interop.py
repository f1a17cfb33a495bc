"""Images move between coved and a real Docker engine with docker save / docker load.

Needs Debian's docker.io (dockerd); skipped without it. The dockerd is private: its own
root and socket, no bridge, no iptables changes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dockerd_fixtures import DOCKER, DOCKERD, DockerD
from tests.engine_fixtures import (
    Engine,
    _remove_cgroups,
    _unmount_under,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

pytestmark = pytest.mark.skipif(not os.path.exists(DOCKERD), reason="no dockerd (docker.io)")


@pytest.fixture(scope="module")
def dockerd() -> Iterator[DockerD]:
    top = Path(tempfile.mkdtemp(prefix="cove-dockerd-"))
    parent = f"/cove-test-docker-{uuid.uuid4().hex[:8]}"
    d = DockerD(top, parent)
    try:
        d.start()
        yield d
    finally:
        d.stop()
        _unmount_under(top)
        _remove_cgroups(parent)
        shutil.rmtree(top, ignore_errors=True)


def _docker(d: DockerD, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([DOCKER, *args], env=d.env(), capture_output=True, timeout=120,
                          check=False)


def test_save_and_load_both_ways(engine: Engine, dockerd: DockerD, tmp_path: Path) -> None:
    # coved -> dockerd
    assert engine.docker("tag", "busybox", "interop/fromcove:1").returncode == 0
    saved = tmp_path / "fromcove.tar"
    with open(saved, "wb") as f:
        assert subprocess.run([DOCKER, "save", "interop/fromcove:1"], env=engine.env(),
                              stdout=f, timeout=60, check=False).returncode == 0
    proc = _docker(dockerd, "load", "-i", str(saved))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"Loaded image: interop/fromcove:1\n"
    proc = _docker(dockerd, "run", "--rm", "--network", "none", "interop/fromcove:1",
                   "echo", "cove image on dockerd")
    assert proc.stdout == b"cove image on dockerd\n", proc.stderr
    cove_id = engine.docker("image", "inspect", "-f", "{{.Id}}", "interop/fromcove:1").stdout
    assert _docker(dockerd, "image", "inspect", "-f", "{{.Id}}",
                   "interop/fromcove:1").stdout == cove_id
    # dockerd -> coved
    assert _docker(dockerd, "tag", "interop/fromcove:1", "interop/fromdocker:2").returncode == 0
    saved = tmp_path / "fromdocker.tar"
    with open(saved, "wb") as f:
        assert subprocess.run([DOCKER, "save", "interop/fromdocker:2"], env=dockerd.env(),
                              stdout=f, timeout=60, check=False).returncode == 0
    proc = engine.docker("load", "-i", str(saved))
    assert proc.returncode == 0, proc.stderr
    proc = engine.docker("run", "--rm", "interop/fromdocker:2", "echo", "docker image on coved")
    assert proc.stdout == b"docker image on coved\n", proc.stderr
    _docker(dockerd, "rmi", "-f", "interop/fromcove:1", "interop/fromdocker:2")
    engine.docker("rmi", "-f", "interop/fromcove:1", "interop/fromdocker:2")
