"""Containers with volumes, bind mounts and tmpfs: the docker CLI, the SDK and the API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engine_fixtures import (
    Engine,
    busybox_layer_tar,
    coved_fixture,
    engine_fixture,
    vengine_fixture,
)

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture", "vengine_fixture"]


@pytest.fixture(name="hostdir")
def hostdir_fixture() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="cove-vol-host-"))
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _ok(r: object) -> str:
    import subprocess
    assert isinstance(r, subprocess.CompletedProcess)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return bytes(r.stdout).decode()


def _volumes(engine: Engine) -> list[dict[str, object]]:
    status, body = engine.request("GET", "/volumes")
    assert status == 200
    return list(body["Volumes"])


def test_named_volume_keeps_data_across_containers(vengine: Engine) -> None:
    _ok(vengine.docker("run", "--rm", "-v", "keep:/data", "busybox",
                       "sh", "-c", "echo kept > /data/f"))
    assert (vengine.root / "volumes" / "keep" / "_data" / "f").read_text() == "kept\n"
    assert _ok(vengine.docker("run", "--rm", "-v", "keep:/d:ro", "busybox",
                              "cat", "/d/f")) == "kept\n"
    r = vengine.docker("run", "--rm", "-v", "keep:/d:ro", "busybox", "touch", "/d/x")
    assert r.returncode != 0 and b"Read-only file system" in r.stderr
    assert [v["Name"] for v in _volumes(vengine)] == ["keep"]


def test_inspect_mounts_as_docker_shows_them(vengine: Engine, hostdir: Path) -> None:
    cid = _ok(vengine.docker(
        "create", "-v", "insp:/named", "-v", f"{hostdir}:/host:ro", "-v", "/anon",
        "--mount", "type=tmpfs,target=/scratch", "--mount", "type=volume,src=insp2,dst=/m",
        "busybox", "true")).strip()
    mounts = json.loads(_ok(vengine.docker("inspect", "-f", "{{json .Mounts}}", cid)))
    by_dest = {m["Destination"]: m for m in mounts}
    vroot = vengine.root / "volumes"
    assert by_dest["/named"] == {
        "Type": "volume", "Name": "insp", "Source": str(vroot / "insp" / "_data"),
        "Destination": "/named", "Driver": "local", "Mode": "z", "RW": True,
        "Propagation": ""}
    assert by_dest["/host"] == {
        "Type": "bind", "Source": str(hostdir), "Destination": "/host", "Mode": "ro",
        "RW": False, "Propagation": "rprivate"}
    anon = by_dest["/anon"]
    assert anon["Type"] == "volume" and len(anon["Name"]) == 64 and anon["Mode"] == ""
    assert by_dest["/scratch"]["Type"] == "tmpfs"
    assert by_dest["/m"]["Name"] == "insp2" and by_dest["/m"]["Mode"] == "z"
    status, info = vengine.request("GET", f"/v1.47/containers/{cid}/json")
    from tests.api_schema import validate_definition
    for m in info["Mounts"]:
        validate_definition("MountPoint", m)
    labels = {v["Name"]: v["Labels"] for v in _volumes(vengine)}
    assert "com.docker.volume.anonymous" in labels[anon["Name"]]
    assert "com.docker.volume.anonymous" not in labels["insp"]


def test_in_use_volume_cannot_be_removed(vengine: Engine) -> None:
    cid = _ok(vengine.docker("create", "-v", "busy:/data", "busybox", "true")).strip()
    r = vengine.docker("volume", "rm", "busy")
    assert r.returncode != 0
    assert f"volume is in use - [{cid}]".encode() in r.stderr
    status, body = vengine.request("DELETE", "/volumes/busy?force=1")
    assert status == 409
    _ok(vengine.docker("rm", cid))
    _ok(vengine.docker("volume", "rm", "busy"))


def test_anonymous_volumes_go_with_rm_v_and_rm(vengine: Engine) -> None:
    cid = _ok(vengine.docker("create", "-v", "/anon", "-v", "named1:/n", "busybox",
                             "true")).strip()
    assert len(_volumes(vengine)) == 2
    _ok(vengine.docker("rm", "-v", cid))
    assert [v["Name"] for v in _volumes(vengine)] == ["named1"]
    _ok(vengine.docker("run", "--rm", "-v", "/anon2", "busybox", "true"))
    assert [v["Name"] for v in _volumes(vengine)] == ["named1"]
    cid = _ok(vengine.docker("create", "-v", "/anon3", "busybox", "true")).strip()
    _ok(vengine.docker("rm", cid))  # without -v the volume stays, as Docker's
    assert len(_volumes(vengine)) == 2


def test_copy_up_from_image_volume_and_nocopy(vengine: Engine) -> None:
    seed = _ok(vengine.docker("run", "-d", "busybox", "sh", "-c",
                              "mkdir -p /vol/sub && echo seed > /vol/sub/f && "
                              "chmod 0750 /vol/sub && chown 1234:4321 /vol/sub/f")).strip()
    _ok(vengine.docker("wait", seed))
    _ok(vengine.docker("commit", "--change", "VOLUME /vol", seed, "volimg:1"))
    try:
        out = _ok(vengine.docker("run", "--rm", "-v", "cpy:/vol", "volimg:1", "sh", "-c",
                                 "cat /vol/sub/f; stat -c '%a %u:%g' /vol/sub /vol/sub/f"))
        assert out.splitlines() == ["seed", "750 0:0", "644 1234:4321"]
        data = vengine.root / "volumes" / "cpy" / "_data" / "sub" / "f"
        assert data.read_text() == "seed\n" and data.stat().st_uid == 1234
        # The image's VOLUME alone makes an anonymous volume, filled the same way.
        out = _ok(vengine.docker("run", "--rm", "volimg:1", "cat", "/vol/sub/f"))
        assert out == "seed\n"
        out = _ok(vengine.docker("run", "--rm", "-v", "nocp:/vol:nocopy", "volimg:1",
                                 "ls", "-A", "/vol"))
        assert out == ""
        out = _ok(vengine.docker("run", "--rm", "--mount",
                                 "type=volume,src=nocp2,dst=/vol,volume-nocopy",
                                 "volimg:1", "ls", "-A", "/vol"))
        assert out == ""
        # A volume with content is not filled again.
        (vengine.root / "volumes" / "cpy" / "_data" / "sub" / "f").write_text("mine\n")
        out = _ok(vengine.docker("run", "--rm", "-v", "cpy:/vol", "volimg:1",
                                 "cat", "/vol/sub/f"))
        assert out == "mine\n"
        assert {v["Name"] for v in _volumes(vengine)} == {"cpy", "nocp", "nocp2"}
    finally:
        vengine.remove_all_containers()
        vengine.docker("rmi", "-f", "volimg:1")


def test_volumes_from_and_read_only_rootfs(vengine: Engine, hostdir: Path) -> None:
    (hostdir / "h").write_text("host\n")
    _ok(vengine.docker("create", "--name", "vsrc", "-v", "shared:/s", "-v",
                       f"{hostdir}:/h", "busybox", "true"))
    out = _ok(vengine.docker("run", "--rm", "--volumes-from", "vsrc", "busybox", "sh", "-c",
                             "echo x > /s/x && cat /h/h"))
    assert out == "host\n"
    r = vengine.docker("run", "--rm", "--volumes-from", "vsrc:ro", "busybox",
                       "touch", "/s/y")
    assert r.returncode != 0 and b"Read-only" in r.stderr
    out = _ok(vengine.docker("run", "--rm", "--read-only", "-v", "shared:/s", "--tmpfs",
                             "/t", "busybox", "sh", "-c",
                             "echo a > /s/a && echo b > /t/b && cat /s/x; "
                             "touch /nope 2>/dev/null || echo refused"))
    assert out.splitlines() == ["x", "refused"]


def test_bind_source_created_and_bad_input(vengine: Engine, hostdir: Path) -> None:
    missing = hostdir / "made" / "here"
    _ok(vengine.docker("run", "--rm", "-v", f"{missing}:/m", "busybox", "true"))
    assert missing.is_dir()
    cases = [
        ({"Binds": ["vol:rel"]}, "mount path must be absolute"),
        ({"Binds": ["bad!name:/x"]}, "invalid characters for a local volume name"),
        ({"Binds": ["v1:/same", "v2:/same"]}, "Duplicate mount point: /same"),
        ({"Mounts": [{"Type": "bind", "Source": "rel", "Target": "/x"}]},
         "mount path must be absolute"),
        ({"Tmpfs": {"/t": "size=1m,bogus"}}, "bogus"),
        ({"Mounts": [{"Type": "volume", "Target": "/v",
                      "TmpfsOptions": {"SizeBytes": 10}}]}, "TmpfsOptions"),
        ({"VolumesFrom": ["nosuchctr"]}, "nosuchctr"),
    ]
    for host_config, words in cases:
        status, body = vengine.request("POST", "/containers/create", {
            "Image": "busybox", "Cmd": ["true"], "Volumes": {"/anon": {}},
            "HostConfig": host_config})
        assert status in (400, 404), (host_config, status, body)
        assert words in body["message"], (host_config, body)
        assert _volumes(vengine) == [], host_config
    # A failure after the volumes were made (an unknown user) removes them again.
    status, body = vengine.request("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "User": "nosuchuser",
        "Volumes": {"/anon": {}}, "HostConfig": {"Binds": ["fresh:/f"]}})
    assert status >= 400, body
    assert _volumes(vengine) == []


def test_volume_driver_options_tmpfs(vengine: Engine) -> None:
    _ok(vengine.docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
                       "--opt", "o=size=1m", "tmpvol"))
    out = _ok(vengine.docker("run", "--rm", "-v", "tmpvol:/t", "busybox", "sh", "-c",
                             "grep ' /t ' /proc/mounts"))
    assert out.startswith("tmpfs /t tmpfs") and "size=1024k" in out
    mountpoint = str(vengine.root / "volumes" / "tmpvol" / "_data")
    assert os.path.ismount(mountpoint)
    _ok(vengine.docker("volume", "rm", "tmpvol"))
    assert not os.path.exists(mountpoint)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_volumes_survive_daemon_restart(vengine: Engine, sig: int) -> None:
    _ok(vengine.docker("run", "--rm", "-v", "durable:/d", "busybox", "sh", "-c",
                       "echo persisted > /d/f"))
    cid = _ok(vengine.docker("create", "-v", "durable:/d", "busybox", "cat", "/d/f")).strip()
    vengine.stop(sig)  # SIGKILL: a crash, the records must be whole
    vengine.start()
    assert [v["Name"] for v in _volumes(vengine)] == ["durable"]
    r = vengine.docker("volume", "rm", "durable")
    assert r.returncode != 0 and b"in use" in r.stderr
    _ok(vengine.docker("start", cid))
    _ok(vengine.docker("wait", cid))
    assert _ok(vengine.docker("logs", cid)) == "persisted\n"


def test_docker_sdk_run_with_volumes(vengine: Engine, hostdir: Path) -> None:
    import docker
    client = docker.DockerClient(base_url=vengine.host, version="1.47")
    try:
        out = client.containers.run(
            "busybox", ["sh", "-c", "echo sdk > /v/f; cat /v/f; ls /h"], remove=True,
            volumes={"sdkvol": {"bind": "/v", "mode": "rw"},
                     str(hostdir): {"bind": "/h", "mode": "ro"}})
        assert out == b"sdk\n"
        assert client.volumes.get("sdkvol").attrs["Mountpoint"].endswith("/sdkvol/_data")
    finally:
        client.close()


def test_cove_cli_run_with_volumes(vengine: Engine, hostdir: Path) -> None:
    (hostdir / "in").write_text("from host\n")
    out = _ok(vengine.cove("run", "--rm", "-v", "covev:/v", "-v", f"{hostdir}:/h:ro",
                           "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
                           "--tmpfs", "/t2:size=2m", "busybox", "sh", "-c",
                           "echo cove > /v/f && cat /h/in && grep -c ' /t2\\? ' "
                           "/proc/mounts"))
    assert out.splitlines() == ["from host", "2"]
    cid = _ok(vengine.cove("create", "--name", "cvsrc", "-v", "/anonc", "busybox",
                           "true")).strip()
    out = _ok(vengine.cove("run", "--rm", "--volumes-from", "cvsrc:ro", "-v", "covev:/v",
                           "busybox", "sh", "-c", "cat /v/f; touch /anonc/x || echo ro"))
    assert out.splitlines()[0] == "cove" and out.splitlines()[-1] == "ro"
    _ok(vengine.cove("rm", "-v", cid))
    assert [v["Name"] for v in _volumes(vengine)] == ["covev"]
    r = vengine.cove("run", "--rm", "-v", "covev:rel", "busybox", "true")
    assert r.returncode == 125 and b"must be absolute" in r.stderr


def test_volume_events(vengine: Engine) -> None:
    import time
    since = time.time() - 0.01
    _ok(vengine.docker("run", "--rm", "-v", "evvol:/e:ro", "busybox", "true"))
    _ok(vengine.docker("volume", "rm", "evvol"))
    status, raw = vengine.request("GET", f"/events?since={since:.3f}&until={time.time():.3f}")
    assert status == 200
    text = raw.decode() if isinstance(raw, bytes) else json.dumps(raw)
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    mine = [e["Action"] for e in events
            if e["Type"] == "volume" and e["Actor"]["ID"] == "evvol"]
    assert mine == ["create", "mount", "destroy"]
    mount = next(e for e in events if e["Type"] == "volume" and e["Action"] == "mount")
    assert mount["Actor"]["Attributes"]["destination"] == "/e"
    assert mount["Actor"]["Attributes"]["read/write"] == "false"


def test_run_rm_failing_start_leaves_no_anonymous_volume(vengine: Engine) -> None:
    r = vengine.docker("run", "--rm", "-v", "/anon", "-v", "kept:/k", "busybox",
                       "/no/such/binary")
    assert r.returncode != 0
    assert vengine.docker("ps", "-aq").stdout == b""
    assert [v["Name"] for v in _volumes(vengine)] == ["kept"]


def test_bind_device_volume_keeps_host_data(vengine: Engine, hostdir: Path) -> None:
    (hostdir / "old").write_text("there\n")
    _ok(vengine.docker("volume", "create", "--opt", "type=none", "--opt", "o=bind",
                       "--opt", f"device={hostdir}", "bindvol"))
    out = _ok(vengine.docker("run", "--rm", "-v", "bindvol:/b", "busybox", "sh", "-c",
                             "cat /b/old; echo new > /b/new"))
    assert out == "there\n" and (hostdir / "new").read_text() == "new\n"
    _ok(vengine.docker("volume", "rm", "bindvol"))
    # Removing the volume unmounts it; the bound host files stay.
    assert sorted(os.listdir(hostdir)) == ["new", "old"]


def test_ps_filter_volume(vengine: Engine) -> None:
    with_vol = _ok(vengine.docker("create", "-v", "psvol:/data", "busybox", "true")).strip()
    _ok(vengine.docker("create", "busybox", "true"))
    for value in ("psvol", "/data"):
        out = _ok(vengine.docker("ps", "-aq", "--no-trunc", "--filter", f"volume={value}"))
        assert out.split() == [with_vol], value
    assert _ok(vengine.docker("ps", "-aq", "--filter", "volume=other")) == ""
