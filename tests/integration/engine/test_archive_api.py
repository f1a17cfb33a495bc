"""`docker cp` against coved: the archive endpoints through the real docker CLI, the
docker SDK and raw API calls, with hostile archives and hostile container symlinks.

Every hostile test points the container's symlinks (or the archive's names) at a
canary directory on the host and checks afterwards that the canary was not touched:
whatever the container's links say, the writes must land inside the container.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import resource
import shutil
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import docker
import pytest

from tests.engine_fixtures import Engine, busybox_layer_tar, coved_fixture, engine_fixture

__all__ = ["busybox_layer_tar", "coved_fixture", "engine_fixture"]

GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_STICKY = 1 << 20


# --------------------------------------------------------------------------- helpers


class Canary:
    """A host directory the container's links point at; it must stay as it was."""

    def __init__(self, top: Path) -> None:
        self.top = top
        self.dir = top / "canary"
        self.dir.mkdir()
        (self.dir / "canary").write_text("untouched\n")
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, tuple[int, int, float]]:
        out = {}
        for p in [self.top, *self.top.rglob("*")]:
            st = p.lstat()
            out[str(p)] = (st.st_mode, st.st_size, st.st_mtime)
        return out

    def assert_untouched(self) -> None:
        assert self.snapshot() == self.before
        assert (self.dir / "canary").read_text() == "untouched\n"


@pytest.fixture(name="canary")
def canary_fixture() -> Iterator[Canary]:
    top = Path(tempfile.mkdtemp(prefix="cove-cp-canary-"))
    try:
        canary = Canary(top)
        yield canary
        canary.assert_untouched()
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.fixture(name="workdir")
def workdir_fixture() -> Iterator[Path]:
    top = Path(tempfile.mkdtemp(prefix="cove-cp-work-"))
    try:
        yield top
    finally:
        shutil.rmtree(top, ignore_errors=True)


def create(engine: Engine, name: str, *, start: bool = True, **host_config: Any) -> str:
    body: dict[str, Any] = {"Image": "busybox", "Cmd": ["sleep", "300"]}
    if host_config:
        body["HostConfig"] = host_config
    status, out = engine.request("POST", f"/containers/create?name={name}", body)
    assert status == 201, out
    if start:
        assert engine.request("POST", f"/containers/{name}/start")[0] == 204
    return str(out["Id"])


def make_tar(*entries: tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            if isinstance(entry, tuple):
                info, data = entry
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(entry)
    return buf.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, *, link: str = "", mode: int = 0o644,
          uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = 1_700_000_000
    return info


def put(engine: Engine, ctr: str, path: str, data: bytes, **params: str) -> tuple[int, Any]:
    query = "&".join([f"path={quote(path)}", *(f"{k}={v}" for k, v in params.items())])
    return engine.request("PUT", f"/containers/{ctr}/archive?{query}", data,
                          headers={"Content-Type": "application/x-tar"})


def get(engine: Engine, ctr: str, path: str) -> tuple[int, Any]:
    return engine.request("GET", f"/containers/{ctr}/archive?path={quote(path)}")


def members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def read_file(engine: Engine, ctr: str, path: str) -> bytes:
    status, data = get(engine, ctr, path)
    assert status == 200, data
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        first = tar.next()
        assert first is not None and first.isreg(), first
        f = tar.extractfile(first)
        assert f is not None
        return f.read()


def path_stat(engine: Engine, ctr: str, path: str) -> tuple[int, dict[str, Any] | None]:
    """HEAD: the status and the decoded X-Docker-Container-Path-Stat header."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(engine.socket)
    conn = http.client.HTTPConnection("localhost", timeout=30)
    conn.sock = sock
    try:
        conn.request("HEAD", f"/v1.47/containers/{ctr}/archive?path={quote(path)}")
        resp = conn.getresponse()
        resp.read()
        header = resp.getheader("X-Docker-Container-Path-Stat")
        return resp.status, json.loads(base64.b64decode(header)) if header else None
    finally:
        conn.close()

# --------------------------------------------------------------------------- docker CLI


def test_cli_copies_a_file_both_ways(engine: Engine, workdir: Path) -> None:
    create(engine, "cp1")
    src = workdir / "hello.txt"
    src.write_bytes(b"hello from the host\n")
    src.chmod(0o640)
    proc = engine.docker("cp", str(src), "cp1:/tmp/")
    assert proc.returncode == 0, proc.stderr
    assert read_file(engine, "cp1", "/tmp/hello.txt") == b"hello from the host\n"
    # to a new name, then back to the host under another new name
    assert engine.docker("cp", str(src), "cp1:/tmp/renamed").returncode == 0
    proc = engine.docker("cp", "cp1:/tmp/renamed", str(workdir / "back.txt"))
    assert proc.returncode == 0, proc.stderr
    assert (workdir / "back.txt").read_bytes() == b"hello from the host\n"
    assert (workdir / "back.txt").stat().st_mode & 0o777 == 0o640
    # a file of the image
    proc = engine.docker("cp", "cp1:/etc/passwd", str(workdir / "passwd"))
    assert proc.returncode == 0, proc.stderr
    assert b"root:" in (workdir / "passwd").read_bytes()


def test_cli_directory_versus_its_contents(engine: Engine, workdir: Path) -> None:
    create(engine, "cp2")
    tree = workdir / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_text("a\n")
    (tree / "sub" / "b").write_text("b\n")
    # dir → a missing name: created with that name
    assert engine.docker("cp", str(tree), "cp2:/tmp/newname").returncode == 0
    assert read_file(engine, "cp2", "/tmp/newname/sub/b") == b"b\n"
    # dir → an existing dir: copied into it, under its own name
    assert engine.docker("cp", str(tree), "cp2:/tmp/").returncode == 0
    assert read_file(engine, "cp2", "/tmp/tree/a") == b"a\n"
    # dir/. → an existing dir: its contents only
    assert engine.docker("cp", f"{tree}/.", "cp2:/tmp/newname").returncode == 0
    status, data = get(engine, "cp2", "/tmp/newname/.")
    assert status == 200
    names = set(members(data))
    assert {".", "./a", "./sub", "./sub/b"} <= names, names
    assert not any(n.startswith("./tree") for n in names)
    # and back: ctr:dir/. into an existing host dir gives the contents
    out = workdir / "out"
    out.mkdir()
    proc = engine.docker("cp", "cp2:/tmp/tree/.", str(out))
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == ["a", "sub"]
    proc = engine.docker("cp", "cp2:/tmp/tree", str(out))
    assert proc.returncode == 0, proc.stderr
    assert (out / "tree" / "sub" / "b").read_text() == "b\n"
    proc = engine.docker("cp", "cp2:/tmp/tree", str(workdir / "fresh"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(workdir / "fresh")) == ["a", "sub"]


def test_cli_tar_streams_on_stdin_and_stdout(engine: Engine) -> None:
    create(engine, "cp3")
    data = make_tar(entry("d", tarfile.DIRTYPE, mode=0o755), (entry("d/f"), b"streamed\n"))
    proc = engine.docker("cp", "-", "cp3:/tmp", input=data)
    assert proc.returncode == 0, proc.stderr
    proc = engine.docker("cp", "cp3:/tmp/d", "-")
    assert proc.returncode == 0, proc.stderr
    got = members(proc.stdout)
    assert set(got) == {"d", "d/f"}
    assert got["d/f"].size == len(b"streamed\n")


def test_cli_errors(engine: Engine, workdir: Path) -> None:
    create(engine, "cp4")
    proc = engine.docker("cp", "cp4:/nope", str(workdir / "x"))
    assert proc.returncode != 0
    assert b"Could not find the file /nope in container cp4" in proc.stderr
    f = workdir / "f"
    f.write_text("x")
    # the destination's parent is a file
    proc = engine.docker("cp", str(f), "cp4:/etc/passwd/x")
    assert proc.returncode != 0
    assert b"not a directory" in proc.stderr


def test_symlinks_are_archived_as_links_unless_followed(engine: Engine,
                                                        workdir: Path) -> None:
    create(engine, "cp5")
    tar = make_tar(entry("tmp/link", tarfile.SYMTYPE, link="/etc"),
                   entry("tmp/rel", tarfile.SYMTYPE, link="../etc/passwd"))
    assert put(engine, "cp5", "/", tar)[0] == 200
    status, data = get(engine, "cp5", "/tmp/link")
    assert status == 200
    got = members(data)
    assert list(got) == ["link"] and got["link"].issym() and got["link"].linkname == "/etc"
    # a trailing "/" follows the last link: the directory, named as the client wrote it
    status, data = get(engine, "cp5", "/tmp/link/")
    assert status == 200
    got = members(data)
    assert got["link"].isdir() and "link/passwd" in got
    status, st = path_stat(engine, "cp5", "/tmp/rel")
    assert status == 200 and st is not None
    assert st["mode"] & GO_MODE_SYMLINK and st["linkTarget"] == "/etc/passwd"
    assert st["name"] == "rel"
    # the CLI with -L copies what the link points at
    proc = engine.docker("cp", "-L", "cp5:/tmp/rel", str(workdir / "p"))
    assert proc.returncode == 0, proc.stderr
    assert b"root:" in (workdir / "p").read_bytes()
    proc = engine.docker("cp", "cp5:/tmp/link", str(workdir / "l"))
    assert proc.returncode == 0, proc.stderr
    assert os.readlink(workdir / "l") == "/etc"
    # a destination that is a link to a directory: the CLI follows its linkTarget
    (workdir / "into").write_text("through the link\n")
    proc = engine.docker("cp", str(workdir / "into"), "cp5:/tmp/link")
    assert proc.returncode == 0, proc.stderr
    assert read_file(engine, "cp5", "/etc/into") == b"through the link\n"


# --------------------------------------------------------------------------- SDK


def test_sdk_get_and_put_archive_with_stat(engine: Engine) -> None:
    create(engine, "cp6")
    client = docker.DockerClient(base_url=engine.host)
    try:
        ctr = client.containers.get("cp6")
        data = make_tar((entry("x.txt", mode=0o600), b"sdk\n"))
        assert ctr.put_archive("/tmp", data) is True
        chunks, st = ctr.get_archive("/tmp/x.txt")
        got = members(b"".join(chunks))
        assert got["x.txt"].mode == 0o600 and got["x.txt"].size == 4
        assert st["name"] == "x.txt" and st["size"] == 4
        assert st["mode"] == 0o600
        assert st["mtime"].startswith("2023-11-14T22:13:20")
        _, st = ctr.get_archive("/tmp")
        assert st["mode"] == GO_MODE_DIR | GO_MODE_STICKY | 0o777
        with pytest.raises(docker.errors.NotFound, match="Could not find the file"):
            ctr.get_archive("/nope")
        with pytest.raises(docker.errors.NotFound):
            ctr.put_archive("/nope", data)
        with pytest.raises(docker.errors.APIError, match="extraction point is not a dir"):
            ctr.put_archive("/etc/passwd", data)
    finally:
        client.close()


def test_created_and_stopped_containers(engine: Engine) -> None:
    create(engine, "cp7", start=False)
    assert put(engine, "cp7", "/", make_tar((entry("made"), b"before start\n")))[0] == 200
    assert read_file(engine, "cp7", "/made") == b"before start\n"
    assert engine.request("POST", "/containers/cp7/start")[0] == 204
    assert read_file(engine, "cp7", "/made") == b"before start\n"
    assert engine.request("POST", "/containers/cp7/stop?t=0")[0] in (204, 304)
    assert put(engine, "cp7", "/", make_tar((entry("after"), b"stopped\n")))[0] == 200
    assert read_file(engine, "cp7", "/after") == b"stopped\n"


def test_etc_binds_are_seen_as_the_container_sees_them(engine: Engine) -> None:
    cid = create(engine, "cp8", start=False)
    _, info = engine.request("GET", "/containers/cp8/json")
    hosts = Path(info["HostsPath"]).read_bytes()
    assert read_file(engine, "cp8", "/etc/hosts") == hosts
    assert engine.request("POST", f"/containers/{cid}/start")[0] == 204
    # The start adds the container's address (as Docker's does): compare with that.
    hosts = Path(info["HostsPath"]).read_bytes()
    assert b"\tcp8" not in hosts and info["Id"][:12].encode() in hosts
    status, data = get(engine, "cp8", "/etc")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        f = tar.extractfile("etc/hosts")
        assert f is not None and f.read() == hosts
    # replacing a bound file is refused as the kernel would (busy), not done on the host
    status, body = put(engine, "cp8", "/etc", make_tar((entry("hosts"), b"evil\n")))
    assert status == 409, body
    # and so is replacing a directory with a mount below it
    status, body = put(engine, "cp8", "/", make_tar((entry("etc"), b"evil\n")))
    assert status == 409 and "/etc/" in body["message"], body
    assert Path(info["HostsPath"]).read_bytes() == hosts
    assert read_file(engine, "cp8", "/etc/passwd").startswith(b"root:")


def test_ownership_and_no_overwrite(engine: Engine) -> None:
    create(engine, "cp9")
    tar = make_tar((entry("own", uid=1234, gid=4321), b"x"))
    assert put(engine, "cp9", "/tmp", tar)[0] == 200
    assert members(get(engine, "cp9", "/tmp/own")[1])["own"].uid == 0
    assert put(engine, "cp9", "/tmp", tar, copyUIDGID="1")[0] == 200
    got = members(get(engine, "cp9", "/tmp/own")[1])["own"]
    assert (got.uid, got.gid) == (1234, 4321)
    clash = make_tar((entry("etc"), b"not a dir"))
    status, body = put(engine, "cp9", "/", clash, noOverwriteDirNonDir="true")
    assert status == 400 and "cannot overwrite directory" in body["message"]
    assert read_file(engine, "cp9", "/etc/passwd").startswith(b"root:")
    clash = make_tar(entry("own", tarfile.DIRTYPE, mode=0o755))
    status, body = put(engine, "cp9", "/tmp", clash, noOverwriteDirNonDir="1")
    assert status == 400 and "cannot overwrite non-directory" in body["message"]
    # without the flag the directory replaces the file, as Docker does
    assert put(engine, "cp9", "/tmp", clash)[0] == 200
    status, data = get(engine, "cp9", "/tmp/own")
    assert status == 200 and members(data)["own"].isdir()


def test_compressed_uploads_are_accepted(engine: Engine) -> None:
    import gzip
    create(engine, "cp17")
    data = gzip.compress(make_tar((entry("z"), b"from a gzip stream\n")))
    assert put(engine, "cp17", "/tmp", data)[0] == 200
    assert read_file(engine, "cp17", "/tmp/z") == b"from a gzip stream\n"
    # an empty body is an empty archive (Go's tar reader sees EOF at once)
    assert put(engine, "cp17", "/tmp", b"")[0] == 200


def test_read_only_rootfs_is_refused(engine: Engine) -> None:
    create(engine, "cp10", ReadonlyRootfs=True)
    status, body = put(engine, "cp10", "/tmp", make_tar((entry("f"), b"x")))
    assert status == 403, body
    assert body["message"] == "container rootfs is marked read-only"
    assert get(engine, "cp10", "/tmp/f")[0] == 404


def test_events_are_emitted(engine: Engine) -> None:
    since = time.time() - 1
    cid = create(engine, "cp11")
    assert put(engine, "cp11", "/tmp", make_tar((entry("f"), b"x")))[0] == 200
    assert get(engine, "cp11", "/tmp/f")[0] == 200
    until = time.time() + 1
    status, raw = engine.request("GET", f"/events?since={since:.3f}&until={until:.3f}")
    assert status == 200
    text = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    actions = [e["Action"] for e in map(json.loads, text.decode().splitlines())
               if e.get("id") == cid or e.get("Actor", {}).get("ID") == cid]
    assert "extract-to-dir" in actions and "archive-path" in actions


# --------------------------------------------------------------------------- hostile


def test_container_symlink_to_host_paths_stays_inside(engine: Engine, canary: Canary,
                                                      workdir: Path) -> None:
    create(engine, "evil1")
    target = str(canary.dir)
    tar = make_tar(entry("evil", tarfile.SYMTYPE, link=target),
                   entry("evilroot", tarfile.SYMTYPE, link="/"),
                   entry("evilup", tarfile.SYMTYPE, link="../../../../../../../.." + target))
    assert put(engine, "evil1", "/", tar)[0] == 200
    f = workdir / "x"
    f.write_text("payload\n")
    # /evil leads to a path the container lacks: not found, never the host's dir
    proc = engine.docker("cp", str(f), "evil1:/evil/x")
    assert proc.returncode != 0
    assert b"Could not find the file" in proc.stderr
    # once the container has that path, the copy lands there
    assert put(engine, "evil1", "/", make_tar(entry(target.lstrip("/"), tarfile.DIRTYPE,
                                                    mode=0o755)))[0] == 200
    for link in ("evil", "evilup"):
        proc = engine.docker("cp", str(f), f"evil1:/{link}/x-{link}")
        assert proc.returncode == 0, proc.stderr
        assert read_file(engine, "evil1", f"{target}/x-{link}") == b"payload\n"
    # a link to / is the container's /: the copy lands in its copy of the canary path
    proc = engine.docker("cp", str(f), f"evil1:/evilroot{target}/x-root")
    assert proc.returncode == 0, proc.stderr
    assert read_file(engine, "evil1", f"{target}/x-root") == b"payload\n"
    # reading through the links reads the container's files
    status, data = get(engine, "evil1", "/evil/")
    assert status == 200
    assert "evil/canary" not in members(data)


def test_hostile_archive_names_are_contained(engine: Engine, canary: Canary) -> None:
    create(engine, "evil2")
    target = str(canary.dir)
    # "../" climbing out of the extraction directory is refused, as Docker does
    up = "../" * 12 + target.lstrip("/") + "/pwned"
    status, body = put(engine, "evil2", "/tmp", make_tar((entry(up), b"x")))
    assert status == 400 and "outside of" in body["message"], body
    # an absolute name is taken from the extraction directory
    status, body = put(engine, "evil2", "/tmp", make_tar((entry(target + "/abs"), b"x")))
    assert status == 200, body
    assert read_file(engine, "evil2", f"/tmp{target}/abs") == b"x"


def test_symlink_then_file_tricks_are_contained(engine: Engine, canary: Canary) -> None:
    create(engine, "evil3")
    target = str(canary.dir)
    tar = make_tar(
        entry("l", tarfile.SYMTYPE, link=target),
        (entry("l/pwned"), b"1"),
        entry("up", tarfile.SYMTYPE, link="../" * 12),
        (entry(f"up{target}/pwned2"), b"2"),
        entry("c1", tarfile.SYMTYPE, link="/c2"),
        entry("c2", tarfile.SYMTYPE, link="/c3"),
        entry("c3", tarfile.SYMTYPE, link=target),
        (entry("c1/pwned3"), b"3"),
    )
    status, body = put(engine, "evil3", "/", tar)
    assert status == 200, body
    for name, data in (("pwned", b"1"), ("pwned2", b"2"), ("pwned3", b"3")):
        assert read_file(engine, "evil3", f"{target}/{name}") == data
    status, data = get(engine, "evil3", "/c1/")
    assert status == 200
    assert {"c1/pwned", "c1/pwned2", "c1/pwned3"} <= set(members(data))


def test_hard_links_and_devices_are_contained(engine: Engine, canary: Canary) -> None:
    create(engine, "evil4")
    host_passwd = os.stat("/etc/passwd")
    out = "../" * 12 + "etc/passwd"
    status, body = put(engine, "evil4", "/tmp", make_tar(entry("h", tarfile.LNKTYPE,
                                                               link=out)))
    assert status == 400 and "outside of" in body["message"], body
    # an absolute link target is the extraction directory's, i.e. the container's here
    status, body = put(engine, "evil4", "/", make_tar(entry("h2", tarfile.LNKTYPE,
                                                            link="/etc/passwd")))
    assert status == 200, body
    assert read_file(engine, "evil4", "/h2").startswith(b"root:")
    # a link through a symlink to the host canary reaches the container's path only
    tar = make_tar(entry("s", tarfile.SYMTYPE, link=str(canary.dir)),
                   entry("h3", tarfile.LNKTYPE, link="s/canary"))
    status, body = put(engine, "evil4", "/", tar)
    assert status == 400, body
    assert os.stat("/etc/passwd").st_nlink == host_passwd.st_nlink
    dev = entry("null2", tarfile.CHRTYPE, mode=0o666)
    dev.devmajor, dev.devminor = 1, 3
    assert put(engine, "evil4", "/tmp", make_tar(dev))[0] == 200
    assert get(engine, "evil4", "/tmp/null2")[0] == 404


def test_bad_requests(engine: Engine) -> None:
    create(engine, "cp12")
    assert get(engine, "nosuch", "/")[0] == 404
    status, body = get(engine, "cp12", "")
    assert status == 400 and "path" in body["message"]
    status, body = put(engine, "cp12", "/tmp", b"this is not a tar archive" * 40)
    assert status == 400 and "tar" in body["message"], body
    status, st = path_stat(engine, "cp12", "/nope")
    assert status == 404 and st is None
    status, st = path_stat(engine, "cp12", "/tmp/.")
    assert status == 200 and st is not None and st["name"] == "."
    status, body = get(engine, "cp12", "/etc/passwd/")
    assert status == 400 and "not a directory" in body["message"], body
    assert path_stat(engine, "cp12", "/etc/passwd/.")[0] == 400
    # the daemon is still fine
    assert engine.request("GET", "/_ping")[0] == 200


def test_volumes_are_reached_and_their_read_only_flag_kept(engine: Engine,
                                                          workdir: Path) -> None:
    vol = workdir / "vol"
    vol.mkdir()
    (vol / "from-host").write_text("host file\n")
    create(engine, "cp13", ReadonlyRootfs=True,
           Binds=[f"{vol}:/data", f"{vol}:/rodata:ro"])
    # the rootfs is read-only, the volume is not: the copy lands in the host dir
    status, body = put(engine, "cp13", "/data", make_tar((entry("in"), b"via cp\n")))
    assert status == 200, body
    assert (vol / "in").read_bytes() == b"via cp\n"
    assert read_file(engine, "cp13", "/data/from-host") == b"host file\n"
    status, data = get(engine, "cp13", "/data")
    assert status == 200 and {"data/from-host", "data/in"} <= set(members(data))
    status, body = put(engine, "cp13", "/rodata", make_tar((entry("no"), b"x")))
    assert status == 403 and body["message"] == "mounted volume is marked read-only"
    assert not (vol / "no").exists()
    # an entry of a tar extracted at / that walks into the read-only volume
    status, body = put(engine, "cp13", "/data", make_tar(
        entry("up", tarfile.SYMTYPE, link="/rodata"), (entry("up/no2"), b"x")))
    assert status == 403, body
    assert not (vol / "no2").exists()
    proc = engine.docker("cp", str(vol / "from-host"), "cp13:/tmp/")
    assert proc.returncode != 0 and b"read-only" in proc.stderr


def test_large_files_hard_links_and_overwrites(engine: Engine, workdir: Path) -> None:
    create(engine, "cp14")
    big = os.urandom(3 << 20) * 3  # 9 MiB, several chunks each way
    tar = make_tar(entry("d", tarfile.DIRTYPE, mode=0o755), (entry("d/big"), big),
                   entry("d/twin", tarfile.LNKTYPE, link="d/big"))
    assert put(engine, "cp14", "/tmp", tar)[0] == 200
    status, data = get(engine, "cp14", "/tmp/d")
    assert status == 200
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        got = {m.name: m for m in t.getmembers()}
        f = t.extractfile("d/big")
        assert f is not None and f.read() == big
    # the second name of the inode is archived as a hard link to the first
    assert got["d/twin"].islnk() and got["d/twin"].linkname == "d/big"
    # an existing file is replaced by the CLI's copy
    src = workdir / "big"
    src.write_bytes(b"smaller now\n")
    proc = engine.docker("cp", str(src), "cp14:/tmp/d/big")
    assert proc.returncode == 0, proc.stderr
    assert read_file(engine, "cp14", "/tmp/d/big") == b"smaller now\n"
    assert read_file(engine, "cp14", "/tmp/d/twin") == big  # the other link kept its data
    # the whole root, as the CLI copies it out
    out = workdir / "rootcopy"
    proc = engine.docker("cp", "cp14:/", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (out / "tmp" / "d" / "big").read_bytes() == b"smaller now\n"
    assert (out / "etc" / "passwd").read_bytes().startswith(b"root:")
    # into an existing directory: the root's contents
    proc = engine.docker("cp", "cp14:/", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (out / "rootcopy").exists() and (out / "tmp" / "d").is_dir()


def test_wide_trees_keep_few_directories_open(engine: Engine) -> None:
    """A directory's fd is closed once its entries are out: with the daemon held to
    256 open files, a tree of 600 directories still archives whole."""
    create(engine, "cp15")
    tar = make_tar(entry("w", tarfile.DIRTYPE, mode=0o755),
                   *((entry(f"w/d{i:03}/f"), b"%d" % i) for i in range(600)))
    assert put(engine, "cp15", "/tmp", tar)[0] == 200
    assert engine.proc is not None
    pid = engine.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (256, hard))
    try:
        status, data = get(engine, "cp15", "/tmp/w")
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    assert status == 200
    names = set(members(data))
    assert len(names) == 1 + 600 * 2 and "w/d599/f" in names


def test_running_container_sees_what_cp_wrote_and_back(engine: Engine, workdir: Path) -> None:
    create(engine, "cp16")
    probe = engine.docker("exec", "cp16", "true")
    if probe.returncode != 0:
        pytest.skip(f"docker exec unavailable here: {probe.stderr.decode().strip()}")
    src = workdir / "in.txt"
    src.write_text("into the running container\n")
    assert engine.docker("cp", str(src), "cp16:/tmp/in.txt").returncode == 0
    proc = engine.docker("exec", "cp16", "cat", "/tmp/in.txt")
    assert proc.returncode == 0 and proc.stdout == b"into the running container\n"
    proc = engine.docker("exec", "cp16", "stat", "-c", "%u:%g", "/tmp/in.txt")
    assert proc.stdout.strip() == b"0:0"
    # written by the container (its rootfs and its /etc/hosts bind), read by cp
    assert engine.docker("exec", "cp16", "sh", "-c",
                         "echo made inside > /tmp/out.txt; echo 10.9.9.9 extra >> /etc/hosts"
                         ).returncode == 0
    assert read_file(engine, "cp16", "/tmp/out.txt") == b"made inside\n"
    assert read_file(engine, "cp16", "/etc/hosts").endswith(b"10.9.9.9 extra\n")


def test_rm_during_a_download_goes_through(engine: Engine) -> None:
    """The stream reads through a detached clone of the rootfs mount: rm -f unmounts
    and removes the container meanwhile, and the download still completes."""
    cid = create(engine, "cp18")
    big = os.urandom(1 << 20) * 24
    assert put(engine, "cp18", "/tmp", make_tar((entry("big"), big)))[0] == 200
    _, info = engine.request("GET", "/containers/cp18/json")
    rootfs = info["GraphDriver"]["Data"]["MergedDir"]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(engine.socket)
    conn = http.client.HTTPConnection("localhost", timeout=60)
    conn.sock = sock
    try:
        conn.request("GET", "/containers/cp18/archive?path=/tmp/big")
        resp = conn.getresponse()
        assert resp.status == 200
        head = resp.read(64 << 10)
        assert engine.request("DELETE", f"/containers/{cid}?force=1")[0] == 204
        assert not os.path.ismount(rootfs)
        data = head + resp.read()
    finally:
        conn.close()
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        f = t.extractfile("big")
        assert f is not None and f.read() == big
