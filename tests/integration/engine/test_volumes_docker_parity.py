"""inspect's Mounts and volume documents side by side with a private real dockerd.

The same `docker create` runs against both daemons; Mounts must agree field by field
once the daemons' own roots and the random names of anonymous volumes are masked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
def dockerd(coved: Engine) -> Iterator[DockerD]:
    top = Path(tempfile.mkdtemp(prefix="cove-dockerd-vol-"))
    parent = f"/cove-test-docker-{uuid.uuid4().hex[:8]}"
    d = DockerD(top, parent)
    try:
        d.start()
        saved = top / "bb.tar"
        assert coved.docker("save", "-o", str(saved), "busybox:latest").returncode == 0
        assert _docker(d, "load", "-i", str(saved)).returncode == 0
        yield d
    finally:
        with_ids = _docker(d, "ps", "-aq").stdout.decode().split()
        if with_ids:
            _docker(d, "rm", "-fv", *with_ids)
        _docker(d, "volume", "prune", "-af")
        d.stop()
        _unmount_under(top)
        _remove_cgroups(parent)
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(name="hostdir")
def hostdir_fixture() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="cove-vol-parity-"))
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _docker(d: DockerD, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([DOCKER, *args], env=d.env(), capture_output=True, timeout=120,
                          check=False)


def _masked(mounts: list[dict[str, Any]], root: str) -> list[dict[str, Any]]:
    out = []
    for original in sorted(mounts, key=lambda m: str(m["Destination"])):
        m = dict(original)
        m["Source"] = str(m["Source"]).replace(root, "<root>")
        if re.fullmatch(r"[0-9a-f]{64}", str(m.get("Name", ""))):
            m["Source"] = m["Source"].replace(m["Name"], "<anon>")
            m["Name"] = "<anon>"
        out.append(m)
    return out


CASES = [
    ["-v", "pv1:/named"],
    ["-v", "pv2:/ro:ro"],
    ["-v", "pv3:/nc:nocopy"],
    ["-v", "/anon"],
    ["-v", "{host}:/h"],
    ["-v", "{host}:/hro:ro"],
    ["-v", "{host}:/hz:rw,z"],
    ["--mount", "type=volume,src=pv4,dst=/m"],
    ["--mount", "type=volume,dst=/manon"],
    ["--mount", "type=volume,src=pv5,dst=/mro,readonly"],
    ["--mount", "type=bind,src={host},dst=/b"],
    ["--mount", "type=bind,src={host},dst=/bs,bind-propagation=rslave"],
    ["--mount", "type=tmpfs,dst=/t,tmpfs-size=1m"],
    ["--tmpfs", "/tt"],
]


@pytest.mark.parametrize("args", CASES, ids=[" ".join(c) for c in CASES])
def test_mounts_match_docker(engine: Engine, dockerd: DockerD, hostdir: Path,
                             args: list[str]) -> None:
    args = [a.replace("{host}", str(hostdir)) for a in args]
    ours = engine.docker("create", *args, "busybox", "true")
    theirs = _docker(dockerd, "create", *args, "busybox", "true")
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    try:
        got = json.loads(engine.docker("inspect", "-f", "{{json .Mounts}}",
                                       ours.stdout.decode().strip()).stdout)
        want = json.loads(_docker(dockerd, "inspect", "-f", "{{json .Mounts}}",
                                  theirs.stdout.decode().strip()).stdout)
        assert _masked(got, str(engine.root)) == \
            _masked(want, str(dockerd.top / "root")), args
    finally:
        engine.docker("rm", "-v", ours.stdout.decode().strip())
        _docker(dockerd, "rm", "-v", theirs.stdout.decode().strip())
        for name in ("pv1", "pv2", "pv3", "pv4", "pv5"):
            engine.docker("volume", "rm", name)
            _docker(dockerd, "volume", "rm", name)


def test_volume_documents_match_docker(engine: Engine, dockerd: DockerD) -> None:
    args = ["volume", "create", "--label", "a=b", "--opt", "type=tmpfs", "--opt",
            "device=tmpfs", "--opt", "o=size=1m", "pdoc"]
    try:
        assert engine.docker(*args).returncode == 0
        assert _docker(dockerd, *args).returncode == 0
        got = json.loads(engine.docker("volume", "inspect", "pdoc").stdout)[0]
        want = json.loads(_docker(dockerd, "volume", "inspect", "pdoc").stdout)[0]
        for doc in (got, want):
            doc.pop("CreatedAt")
        got["Mountpoint"] = got["Mountpoint"].replace(str(engine.root), "<root>")
        want["Mountpoint"] = want["Mountpoint"].replace(str(dockerd.top / "root"), "<root>")
        assert got == want
        for cmd in (["volume", "rm", "nosuch"], ["volume", "inspect", "nosuch"]):
            ours, theirs = engine.docker(*cmd), _docker(dockerd, *cmd)
            assert ours.returncode == theirs.returncode
            assert ours.stderr == theirs.stderr
    finally:
        engine.docker("volume", "rm", "-f", "pdoc")
        _docker(dockerd, "volume", "rm", "-f", "pdoc")


# Unlike dockerd, coved refuses bad --tmpfs options at create, not at start (see
# test_volumes_containers.py).
BAD = [
    (["-v", "pvb:rel"], "must be absolute"),
    (["-v", "bad!name:/x"], "invalid characters for a local volume name"),
    (["-v", "pvd1:/same", "-v", "pvd2:/same"], "Duplicate mount point: /same"),
    (["--mount", "type=bind,src=rel,dst=/x"], "must be absolute"),
    (["--mount", "type=bind,src=/nonexistent-cove-path,dst=/x"],
     "bind source path does not exist: /nonexistent-cove-path"),
    (["--mount", "type=volume,dst=rel"], "must be absolute"),
    (["--volumes-from", "nosuchctr"], "No such container: nosuchctr"),
]


@pytest.mark.parametrize(("args", "words"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_mounts_refused_like_docker(engine: Engine, dockerd: DockerD, args: list[str],
                                        words: str) -> None:
    ours = engine.docker("create", *args, "busybox", "true")
    theirs = _docker(dockerd, "create", *args, "busybox", "true")
    try:
        assert theirs.returncode != 0, theirs.stdout
        assert ours.returncode == theirs.returncode, (ours.stderr, theirs.stderr)
        assert words.encode() in ours.stderr, (ours.stderr, theirs.stderr)
        assert words.encode() in theirs.stderr, (ours.stderr, theirs.stderr)
        assert engine.docker("volume", "ls", "-q").stdout == b""
    finally:
        for out, run in ((ours, engine.docker), (theirs, lambda *a: _docker(dockerd, *a))):
            if out.returncode == 0:
                run("rm", "-v", out.stdout.decode().strip())
