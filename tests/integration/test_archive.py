"""save/load (docker and OCI formats), import of a rootfs tarball, export of a tree."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
import zstandard

from cove.content import ContentStore
from cove.errors import InvalidArgument
from cove.images import archive
from cove.images.archive import ArchiveError, export_tree, import_rootfs, load, load_into, save
from cove.images.busybox_image import build_busybox_image
from cove.metadata import MetadataStore
from cove.oci import image as im
from cove.oci.digest import digest_bytes
from cove.snapshots import apply_layer

SKOPEO = shutil.which("skopeo")


@pytest.fixture
def busybox(tmp_path: Path) -> tuple[ContentStore, im.Descriptor]:
    store = ContentStore(str(tmp_path / "src-store"))
    desc, _ = build_busybox_image(store)
    return store, desc


def saved(store: ContentStore, images: list[tuple[str, im.Descriptor]], fmt: str = "docker"
          ) -> bytes:
    out = io.BytesIO()
    save(store, images, out, format=fmt)
    return out.getvalue()


def members(data: bytes) -> dict[str, bytes | None]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        out: dict[str, bytes | None] = {}
        for m in tar.getmembers():
            f = tar.extractfile(m) if m.isreg() else None
            out[m.name] = f.read() if f else None
        return out


def tar_of(files: dict[str, bytes], *, symlinks: dict[str, str] | None = None) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for name, target in (symlinks or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return raw.getvalue()


def rootfs_tar() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        d = tarfile.TarInfo("etc")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        tar.addfile(d)
        body = b"hello\n"
        info = tarfile.TarInfo("etc/motd")
        info.size = len(body)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(body))
    return raw.getvalue()


# -- save / load ---------------------------------------------------------------------------


def test_docker_save_structure(busybox: tuple[ContentStore, im.Descriptor]) -> None:
    store, desc = busybox
    files = members(saved(store, [("busybox:latest", desc), ("example.com/team/bb:1", desc)]))
    manifest = parse(store, desc)
    (entry,) = json.loads(files["manifest.json"] or b"")
    assert entry["Config"] == "blobs/sha256/" + manifest.config.digest.split(":")[1]
    assert entry["RepoTags"] == ["busybox:latest", "example.com/team/bb:1"]
    assert entry["Layers"] == ["blobs/sha256/" + layer.digest.split(":")[1]
                               for layer in manifest.layers]
    for path in [entry["Config"], *entry["Layers"]]:
        assert hashlib.sha256(files[path] or b"").hexdigest() == path.rsplit("/", 1)[1]
    repositories = json.loads(files["repositories"] or b"")
    assert set(repositories) == {"busybox", "example.com/team/bb"}
    assert repositories["busybox"]["latest"] == entry["Layers"][-1].rsplit("/", 1)[1]
    assert json.loads(files["oci-layout"] or b"") == {"imageLayoutVersion": "1.0.0"}
    index = json.loads(files["index.json"] or b"")
    names = [m["annotations"][archive.ANNOTATION_CONTAINERD_NAME] for m in index["manifests"]]
    assert names == ["docker.io/library/busybox:latest", "example.com/team/bb:1"]
    assert {m["digest"] for m in index["manifests"]} == {desc.digest}


def parse(store: ContentStore, desc: im.Descriptor) -> im.Manifest:
    manifest = im.parse_manifest(store.read(desc.digest), desc.media_type)
    assert isinstance(manifest, im.Manifest)
    return manifest


@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_save_load_round_trip(tmp_path: Path, busybox: tuple[ContentStore, im.Descriptor],
                              fmt: str) -> None:
    store, desc = busybox
    data = saved(store, [("busybox:latest", desc)], fmt)
    fresh = ContentStore(str(tmp_path / "fresh"))
    loaded = load(fresh, io.BytesIO(data))
    assert [(n, d.digest) for n, d in loaded] == [("docker.io/library/busybox:latest",
                                                   desc.digest)]
    assert sorted(fresh.digests()) == sorted(store.digests())
    assert os.listdir(tmp_path / "fresh" / "ingest") == []


def test_load_from_a_pipe_into_metadata(tmp_path: Path,
                                        busybox: tuple[ContentStore, im.Descriptor]) -> None:
    store, desc = busybox
    data = saved(store, [("busybox:1", desc)])
    read_fd, write_fd = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(write_fd, data), os.close(write_fd)))
    writer.start()
    fresh = ContentStore(str(tmp_path / "fresh"))
    with os.fdopen(read_fd, "rb") as pipe, MetadataStore(tmp_path / "meta.db") as meta:
        load_into(fresh, meta, pipe)
        writer.join()
        image = meta.get_image("docker.io/library/busybox:1")
        assert image.target.digest == desc.digest
        manifest = parse(fresh, desc)
        children = {c for c, _ in meta.content_children(desc.digest)}
        assert children == {manifest.config.digest, *(la.digest for la in manifest.layers)}
        assert meta.list_leases() == []


def legacy_save_tar() -> tuple[bytes, str, str]:
    """A docker-save (pre-25) tar made by hand: per-layer dirs with VERSION, json, layer.tar,
    the second layer's layer.tar a symlink to the first (as docker writes duplicates)."""
    layer = rootfs_tar()
    diff_id = digest_bytes(layer)
    config = im.ImageConfig(architecture="amd64", os="linux", diff_ids=(diff_id, diff_id),
                            cmd=("/bin/sh",)).to_json()
    config_hex = hashlib.sha256(config).hexdigest()
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": ["legacy/app:v1"],
                 "Layers": ["aaaa/layer.tar", "bbbb/layer.tar"]}]
    files = {
        f"{config_hex}.json": config,
        "aaaa/VERSION": b"1.0",
        "aaaa/json": b'{"id":"aaaa"}',
        "aaaa/layer.tar": layer,
        "bbbb/VERSION": b"1.0",
        "bbbb/json": b'{"id":"bbbb","parent":"aaaa"}',
        "manifest.json": json.dumps(manifest).encode(),
        "repositories": b'{"legacy/app":{"v1":"bbbb"}}',
    }
    return tar_of(files, symlinks={"bbbb/layer.tar": "../aaaa/layer.tar"}), diff_id, config_hex


def test_legacy_docker_save_loads(tmp_path: Path) -> None:
    data, diff_id, config_hex = legacy_save_tar()
    store = ContentStore(str(tmp_path / "s"))
    ((name, desc),) = load(store, io.BytesIO(data))
    assert name == "docker.io/legacy/app:v1"
    assert desc.media_type == im.MEDIA_TYPE_DOCKER_MANIFEST
    manifest = parse(store, desc)
    assert manifest.config.digest == f"sha256:{config_hex}"
    assert manifest.config.media_type == im.MEDIA_TYPE_DOCKER_CONFIG
    assert [la.digest for la in manifest.layers] == [diff_id, diff_id]
    assert {la.media_type for la in manifest.layers} == {im.MEDIA_TYPE_DOCKER_LAYER}
    # and it saves again in the new format
    again = load(ContentStore(str(tmp_path / "t")), io.BytesIO(saved(store, [(name, desc)])))
    assert [d.digest for _, d in again] == [desc.digest]


@pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
def test_oci_archive_readable_by_skopeo(tmp_path: Path,
                                        busybox: tuple[ContentStore, im.Descriptor]) -> None:
    store, desc = busybox
    path = tmp_path / "bb.tar"
    path.write_bytes(saved(store, [("busybox:latest", desc)], "oci"))
    assert SKOPEO is not None
    out = subprocess.run([SKOPEO, "inspect", "--raw", f"oci-archive:{path}"],
                         check=True, capture_output=True, timeout=60).stdout
    assert hashlib.sha256(out).hexdigest() == desc.digest.split(":")[1]
    cfg = subprocess.run([SKOPEO, "inspect", "--config", f"oci-archive:{path}"],
                         check=True, capture_output=True, timeout=60).stdout
    assert json.loads(cfg)["config"]["Cmd"] == ["sh"]


@pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
def test_docker_archive_readable_by_skopeo(tmp_path: Path,
                                           busybox: tuple[ContentStore, im.Descriptor]) -> None:
    store, desc = busybox
    path = tmp_path / "bb.tar"
    path.write_bytes(saved(store, [("busybox:latest", desc)]))
    assert SKOPEO is not None
    out = subprocess.run([SKOPEO, "inspect", "--config", f"docker-archive:{path}"],
                         check=True, capture_output=True, timeout=60).stdout
    assert json.loads(out)["config"]["Cmd"] == ["sh"]


# -- hostile archives ------------------------------------------------------------------------


def hostile(tmp_path: Path, data: bytes, match: str) -> ContentStore:
    store = ContentStore(str(tmp_path / "victim"))
    with pytest.raises(ArchiveError, match=match):
        load(store, io.BytesIO(data))
    assert os.listdir(tmp_path / "victim" / "ingest") == []
    return store


def test_refuses_dotdot_and_absolute_entries(tmp_path: Path) -> None:
    hostile(tmp_path, tar_of({"../evil": b"x"}), "'..'")
    hostile(tmp_path, tar_of({"/tmp/evil": b"x"}), "absolute path")
    hostile(tmp_path, tar_of({"a": b"x"}, symlinks={"b": "../../etc/passwd"}),
            "outside the archive")
    assert not (tmp_path / "evil").exists()


def test_refuses_manifest_pointing_outside(tmp_path: Path) -> None:
    manifest = [{"Config": "../../etc/passwd", "RepoTags": ["x:1"], "Layers": ["a/layer.tar"]}]
    data = tar_of({"manifest.json": json.dumps(manifest).encode(), "a/layer.tar": rootfs_tar()})
    hostile(tmp_path, data, "outside the archive")
    manifest[0]["Config"] = "/etc/passwd"
    data = tar_of({"manifest.json": json.dumps(manifest).encode(), "a/layer.tar": rootfs_tar()})
    hostile(tmp_path, data, "outside the archive")


def test_refuses_blob_with_wrong_digest(tmp_path: Path,
                                        busybox: tuple[ContentStore, im.Descriptor]) -> None:
    store, desc = busybox
    files = members(saved(store, [("busybox:latest", desc)]))
    config = parse(store, desc).config
    path = "blobs/sha256/" + config.digest.split(":")[1]
    tampered = {n: b for n, b in files.items() if b is not None}
    tampered[path] = (tampered[path] or b"").replace(b'"sh"', b'"rm"')
    victim = hostile(tmp_path, tar_of(tampered), "does not match its digest")
    assert config.digest not in set(victim.digests())


def test_refuses_config_that_is_not_json(tmp_path: Path) -> None:
    config = b"this is not json"
    name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = [{"Config": name, "RepoTags": ["x:1"], "Layers": ["a/layer.tar"]}]
    data = tar_of({"manifest.json": json.dumps(manifest).encode(), name: config,
                   "a/layer.tar": rootfs_tar()})
    hostile(tmp_path, data, "not valid JSON")


def test_refuses_layer_not_matching_diff_id(tmp_path: Path) -> None:
    config = im.ImageConfig(architecture="amd64", os="linux",
                            diff_ids=(digest_bytes(b"other"),)).to_json()
    manifest = [{"Config": "c.json", "RepoTags": None, "Layers": ["a/layer.tar"]}]
    data = tar_of({"manifest.json": json.dumps(manifest).encode(), "c.json": config,
                   "a/layer.tar": rootfs_tar()})
    hostile(tmp_path, data, "does not match")


def test_refuses_a_non_archive(tmp_path: Path) -> None:
    hostile(tmp_path, b"garbage" * 100, "not a valid tar")
    hostile(tmp_path, tar_of({"hello": b"x"}), "not an image archive")


# -- import --------------------------------------------------------------------------------


CHANGES = ['CMD ["/bin/echo", "hi"]', "ENV FOO=bar BAZ=\"two words\"", "WORKDIR /srv",
           "WORKDIR app", "EXPOSE 8080 53/udp", "LABEL a=b", "USER 1000:1000",
           'VOLUME ["/data"]', "STOPSIGNAL SIGINT", "ENTRYPOINT exec foo"]


def check_imported(store: ContentStore, desc: im.Descriptor, tar_bytes: bytes) -> None:
    manifest = parse(store, desc)
    config = im.parse_config(store.read(manifest.config.digest))
    assert config.diff_ids == (digest_bytes(tar_bytes),)
    assert config.cmd == ("/bin/echo", "hi")
    assert config.entrypoint == ("/bin/sh", "-c", "exec foo")
    assert config.env == ("FOO=bar", "BAZ=two words")
    assert config.working_dir == "/srv/app"
    assert set(config.exposed_ports) == {"8080/tcp", "53/udp"}
    assert config.labels == {"a": "b"}
    assert config.user == "1000:1000"
    assert config.volumes == ("/data",)
    assert config.stop_signal == "SIGINT"
    assert config.architecture == im.host_platform().architecture


def test_import_from_file_and_stream(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "s"))
    tar_bytes = rootfs_tar()
    path = tmp_path / "rootfs.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes))
    desc = import_rootfs(store, str(path), changes=CHANGES, message="from a file")
    check_imported(store, desc, tar_bytes)
    assert parse(store, desc).layers[0].media_type == im.MEDIA_TYPE_OCI_LAYER_GZIP
    config = im.parse_config(store.read(parse(store, desc).config.digest))
    assert config.history[0].comment == "from a file"

    stream = io.BytesIO(zstandard.ZstdCompressor().compress(tar_bytes))
    desc = import_rootfs(store, stream, changes=CHANGES)
    check_imported(store, desc, tar_bytes)
    assert parse(store, desc).layers[0].media_type == im.MEDIA_TYPE_OCI_LAYER_ZSTD

    desc = import_rootfs(store, io.BytesIO(tar_bytes))
    assert parse(store, desc).layers[0].media_type == im.MEDIA_TYPE_OCI_LAYER


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_import_from_loopback_url(tmp_path: Path, http_server: tuple[str, Path]) -> None:
    base, root = http_server
    tar_bytes = rootfs_tar()
    (root / "rootfs.tar").write_bytes(tar_bytes)
    store = ContentStore(str(tmp_path / "s"))
    desc = import_rootfs(store, f"{base}/rootfs.tar", changes=CHANGES)
    check_imported(store, desc, tar_bytes)
    with pytest.raises(Exception, match="404"):
        import_rootfs(store, f"{base}/missing.tar")


def test_import_refuses_non_loopback_url_without_connecting(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "s"))
    with mock.patch.object(socket, "create_connection") as connect, \
            mock.patch.object(socket, "getaddrinfo") as resolve:
        for url in ("http://example.com/rootfs.tar", "http://10.0.0.1/x.tar",
                    "https://127.0.0.1/x.tar", "ftp://localhost/x.tar"):
            with pytest.raises(InvalidArgument, match="loopback"):
                import_rootfs(store, url)
        connect.assert_not_called()
        resolve.assert_not_called()


def test_import_refuses_bad_changes_and_bad_tarballs(tmp_path: Path) -> None:
    store = ContentStore(str(tmp_path / "s"))
    for change in ("RUN rm -rf /", "COPY a b", "FROM scratch", "EXPOSE notaport", "CMD"):
        with pytest.raises(InvalidArgument):
            import_rootfs(store, io.BytesIO(rootfs_tar()), changes=[change])
    with pytest.raises(InvalidArgument, match="RUN is not a valid change command"):
        import_rootfs(store, io.BytesIO(rootfs_tar()), changes=["RUN true"])
    with pytest.raises(InvalidArgument, match="not a valid"):
        import_rootfs(store, io.BytesIO(b"not a tar at all" * 64))


# -- export ----------------------------------------------------------------------------------


def test_export_round_trips_through_apply_layer(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "dir/sub").mkdir(parents=True)
    (src / "dir/file").write_bytes(b"data" * 1000)
    os.chmod(src / "dir/file", 0o4755)
    os.chown(src / "dir/file", 1234, 5678)
    os.link(src / "dir/file", src / "hardlink")
    os.symlink("dir/file", src / "symlink")
    os.symlink("/nonexistent/abs", src / "dangling")
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(src / "dir/sub", 0o1777)
    os.chown(src / "dir/sub", 1000, 1000)
    os.utime(src / "dir/file", ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    try:
        os.setxattr(src / "dir/file", "user.cove", b"\x00\xffvalue")
        has_xattr = True
    except OSError:
        has_xattr = False
    out = io.BytesIO()
    export_tree(str(src), out)
    dest = tmp_path / "dest"
    dest.mkdir()
    out.seek(0)
    apply_layer(out, str(dest))

    for name in ("dir", "dir/sub", "dir/file", "hardlink", "symlink", "dangling", "fifo",
                 "null"):
        a, b = os.lstat(src / name), os.lstat(dest / name)
        assert (a.st_mode, a.st_uid, a.st_gid) == (b.st_mode, b.st_uid, b.st_gid), name
        if stat.S_ISLNK(a.st_mode):
            assert os.readlink(src / name) == os.readlink(dest / name)
    assert os.lstat(dest / "null").st_rdev == os.makedev(1, 3)
    assert os.lstat(dest / "hardlink").st_ino == os.lstat(dest / "dir/file").st_ino
    assert (dest / "dir/file").read_bytes() == b"data" * 1000
    assert os.lstat(dest / "dir/file").st_mtime_ns // 1000 == 1_600_000_000_123_456
    if has_xattr:
        assert os.getxattr(dest / "dir/file", "user.cove") == b"\x00\xffvalue"


def test_save_an_index_with_one_platform_held(
    tmp_path: Path, busybox: tuple[ContentStore, im.Descriptor]
) -> None:
    store, desc = busybox
    host = im.host_platform()
    other = im.Descriptor(media_type=im.MEDIA_TYPE_OCI_MANIFEST, digest=digest_bytes(b"absent"),
                          size=6, platform=im.Platform("s390x", "linux"))
    held = im.Descriptor(media_type=desc.media_type, digest=desc.digest, size=desc.size,
                         platform=host)
    index_bytes = im.Index(manifests=(held, other)).to_json()
    store.put(index_bytes)
    index = im.Descriptor.of(im.MEDIA_TYPE_OCI_INDEX, index_bytes)
    data = saved(store, [("busybox:multi", index)])
    (entry,) = json.loads(members(data)["manifest.json"] or b"")
    assert entry["RepoTags"] == ["busybox:multi"]
    fresh = ContentStore(str(tmp_path / "fresh"))
    assert [(n, d.digest) for n, d in load(fresh, io.BytesIO(data))] == [
        ("docker.io/library/busybox:multi", index.digest)
    ]
    assert sorted(fresh.digests()) == sorted(store.digests())


@pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
def test_loads_a_docker_archive_written_by_skopeo(
    tmp_path: Path, busybox: tuple[ContentStore, im.Descriptor]
) -> None:
    store, desc = busybox
    src = tmp_path / "bb-oci.tar"
    src.write_bytes(saved(store, [("busybox:latest", desc)], "oci"))
    dest = tmp_path / "bb-docker.tar"
    assert SKOPEO is not None
    subprocess.run([SKOPEO, "copy", "-q", f"oci-archive:{src}",
                    f"docker-archive:{dest}:example.com/bb:skopeo"],
                   check=True, capture_output=True, timeout=120)
    fresh = ContentStore(str(tmp_path / "fresh"))
    ((name, loaded),) = load(fresh, io.BytesIO(dest.read_bytes()))
    assert name == "example.com/bb:skopeo"
    manifest = parse(fresh, loaded)
    original = parse(store, desc)
    assert manifest.config.digest == original.config.digest
    config = im.parse_config(fresh.read(manifest.config.digest))
    assert config.cmd == ("sh",)
