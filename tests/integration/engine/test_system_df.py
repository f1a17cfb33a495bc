"""GET /system/df: its shape (the v1.47 schema), sizes that match what prune then
reclaims, and `system df [-v]` printed by cove exactly as the docker CLI prints it."""

from __future__ import annotations

import docker
import pytest

from tests.api_schema import docker_nulls_dropped, validate_response
from tests.engine_fixtures import (
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
    vengine_fixture,
)
from tests.integration.engine.test_prune_api import (
    create,
    dangling_image,
    pengine_fixture,
    run_to_exit,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture", "pengine_fixture",
           "vengine_fixture"]


def _populate(engine: Engine) -> str:
    """Two stopped containers that wrote data, a running one, a dangling image, an
    anonymous volume with data and a named one in use; returns the running one."""
    run_to_exit(engine, ["sh", "-c", "head -c 200000 /dev/urandom > /a"])
    run_to_exit(engine, ["sh", "-c", "head -c 50000 /dev/urandom > /b"],
                Binds=["dfvol:/data"])
    dangling_image(engine)
    status, vol = engine.request("POST", "/volumes/create", {})
    assert status == 201, vol
    with open(vol["Mountpoint"] + "/payload", "wb") as f:
        f.write(b"x" * 30000)
    running = create(engine, ["sleep", "60"])
    assert engine.request("POST", f"/containers/{running}/start")[0] == 204
    return running


def test_df_shape_and_sizes_match_prune(pengine: Engine) -> None:
    _populate(pengine)
    status, df = pengine.request("GET", "/v1.47/system/df")
    assert status == 200, df
    validate_response("/system/df", "get", 200, docker_nulls_dropped(df))
    assert df["BuildCache"] == []
    assert df["LayersSize"] >= sum(i["Size"] for i in df["Images"]) - sum(
        i["SharedSize"] for i in df["Images"])
    stopped = [c for c in df["Containers"] if c["State"] != "running"]
    assert len(stopped) == 2
    assert all(c["SizeRootFs"] >= c["SizeRw"] > 0 for c in stopped)
    assert sum(c["SizeRw"] for c in stopped) >= 250000
    volumes = {v["Name"]: v["UsageData"] for v in df["Volumes"]}
    assert volumes["dfvol"]["RefCount"] == 1
    anonymous = [u for n, u in volumes.items() if n != "dfvol"]
    assert len(anonymous) == 1 and anonymous[0]["RefCount"] == 0
    assert anonymous[0]["Size"] >= 30000

    status, got = pengine.request("POST", "/containers/prune")
    assert status == 200
    assert got["SpaceReclaimed"] == sum(c["SizeRw"] for c in stopped)
    status, got = pengine.request("POST", "/volumes/prune")
    assert status == 200 and len(got["VolumesDeleted"]) == 1, got
    assert got["SpaceReclaimed"] == anonymous[0]["Size"]


def test_docker_cli_df_matches_cove(pengine: Engine) -> None:
    _populate(pengine)
    for args in (["system", "df"], ["system", "df", "-v"]):
        # -v shows ages ("Less than a second ago", "1 second ago"): the two runs are
        # compared again when a second boundary fell between them.
        for _ in range(3):
            theirs = pengine.docker(*args)
            ours = pengine.cove(*args)
            assert theirs.returncode == 0, theirs.stderr
            assert ours.returncode == 0, ours.stderr
            if ours.stdout == theirs.stdout:
                break
        assert ours.stdout.decode() == theirs.stdout.decode()
    text = pengine.docker("system", "df").stdout.decode()
    assert text.startswith("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n")
    assert "Containers      3         1" in text
    assert "Local Volumes   2         1" in text


def test_docker_sdk_df(pengine: Engine) -> None:
    _populate(pengine)
    client = docker.DockerClient(base_url=pengine.host, version="1.47")
    try:
        df = client.df()
    finally:
        client.close()
    assert {"LayersSize", "Images", "Containers", "Volumes", "BuildCache"} <= set(df)
    assert len(df["Containers"]) == 3
    assert any(v["Name"] == "dfvol" for v in df["Volumes"])


def test_df_empty_engine_answers(pengine: Engine) -> None:
    status, df = pengine.request("GET", "/system/df")
    assert status == 200
    validate_response("/system/df", "get", 200, docker_nulls_dropped(df))
    assert df["Containers"] == [] and df["BuildCache"] == []
    assert [i["RepoTags"] for i in df["Images"]] == [["busybox:latest"]]


@pytest.mark.parametrize("args", [["system", "df", "--bogus"], ["system", "df", "extra"]])
def test_df_bad_flags(pengine: Engine, args: list[str]) -> None:
    r = pengine.cove(*args)
    assert r.returncode != 0
