"""Registry client against Debian's docker-registry on 127.0.0.1 (and skopeo)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from cove.errors import NotFound
from cove.registry import (
    CredentialStore,
    PermissionDenied,
    RegistryClient,
    Unauthenticated,
    Unavailable,
    login,
    logout,
    pull,
    push,
)
from cove.registry.client import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST
from tests.registry_fixtures import (  # noqa: F401 (the *_fixture names are fixtures)
    Registry,
    auth_registry_fixture,
    closed_port,
    make_store,
    mtls_registry_fixture,
    needs_registry,
    registry_fixture,
    tls_registry_fixture,
    token_registry_fixture,
)

pytestmark = needs_registry


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buf.getvalue(), mtime=0)


def make_image(store: Any, seed: str = "a", big: int = 0) -> str:
    """Write a two-layer OCI image into ``store``; returns the manifest digest."""
    layers = [layer({"hello.txt": f"hello {seed}\n".encode()}),
              layer({"data.bin": os.urandom(big) if big else seed.encode() * 1000})]
    diff_ids = [sha(gzip.decompress(x)) for x in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    for blob in [config, *layers]:
        store.put(blob, expected=sha(blob))
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(x), "size": len(x)} for x in layers],
    }).encode()
    return str(store.put(manifest, expected=sha(manifest)))


def blobs_of(store: Any, manifest_digest: str) -> list[str]:
    doc = json.loads(store.read(manifest_digest))
    return [doc["config"]["digest"]] + [x["digest"] for x in doc["layers"]]


def test_push_then_pull_round_trip(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    seen: dict[str, tuple[int, int]] = {}
    with RegistryClient(registry.host) as client:
        assert push(client, src, "team/app", "1.0", digest) == digest
        assert client.tags("team/app") == ["1.0"]
        data, media_type, got = client.get_manifest("team/app", "1.0")
        assert (got, media_type) == (digest, MEDIA_OCI_MANIFEST)
        info = client.head_manifest("team/app", "1.0")
        assert info is not None and info.digest == digest
        dst = make_store(tmp_path / "dst")
        pulled = pull(client, dst, "team/app", "1.0", "linux/amd64",
                      progress=lambda d, done, total: seen.__setitem__(d, (done, total)))
    assert pulled == digest
    assert dst.read(digest) == src.read(digest)
    for blob in blobs_of(src, digest):
        assert dst.read(blob) == src.read(blob)
        assert seen[blob][0] == seen[blob][1]


def test_push_skips_present_blobs_and_mounts(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(registry.host) as client:
        push(client, src, "one/app", "v1", digest)
        config = blobs_of(src, digest)[0]
        with src.open(config) as f:
            assert not client.push_blob("one/app", config, len(src.read(config)), f)
        # A mount from another repository uploads nothing.
        with src.open(config) as f:
            assert not client.push_blob("two/app", config, len(src.read(config)), f,
                                        mount_from="one/app")
        assert client.blob_exists("two/app", config) == len(src.read(config))


def test_chunked_upload(registry: Registry, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    with RegistryClient(registry.host) as client:
        assert client.push_blob("chunks/app", sha(data), len(data), io.BytesIO(data),
                                chunk_size=64 * 1024)
        assert client.blob_exists("chunks/app", sha(data)) == len(data)


class Interrupt(Exception):
    pass


def test_pull_resumes_with_range(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src, big=3 << 20)
    big = blobs_of(src, digest)[2]
    size = len(src.read(big))
    sent: list[tuple[str, str, dict[str, str]]] = []

    class Spy(RegistryClient):
        def _roundtrip(self, method: str, path: str, headers: dict[str, str],
                       body: Any) -> Any:
            sent.append((method, path, dict(headers)))
            return super()._roundtrip(method, path, headers, body)

    with Spy(registry.host) as client:
        push(client, src, "resume/app", "1", digest)
        dst = make_store(tmp_path / "dst")

        def cut(d: str, done: int, total: int) -> None:
            if d == big and done >= 1 << 20:
                raise Interrupt

        with pytest.raises(Interrupt):
            pull(client, dst, "resume/app", "1", progress=cut, workers=1)
        assert not dst.exists(digest)  # no image after an interrupted pull
        sent.clear()
        pull(client, dst, "resume/app", "1")
    gets = [h for m, p, h in sent if m == "GET" and p.endswith(big)]
    assert len(gets) == 1, sent
    start = int(gets[0]["Range"].removeprefix("bytes=").rstrip("-"))
    assert (1 << 20) <= start < size
    assert dst.read(big) == src.read(big)
    assert dst.exists(digest)


def test_manifest_unknown(registry: Registry) -> None:
    with RegistryClient(registry.host) as client, pytest.raises(NotFound) as e:
        client.get_manifest("no/such", "latest")
    assert f"{registry.host}/no/such:latest" in str(e.value)
    assert "manifest unknown" in str(e.value)


def test_closed_port_is_unavailable() -> None:
    host = f"127.0.0.1:{closed_port()}"
    with RegistryClient(host) as client, pytest.raises(Unavailable) as e:
        client.get_manifest("any/repo", "latest")
    assert host in str(e.value) and "connection refused" in str(e.value)


def test_basic_auth(auth_registry: Registry, tmp_path: Path) -> None:
    creds = CredentialStore(str(tmp_path / "docker" / "config.json"))
    with pytest.raises(Unauthenticated) as e:
        login(auth_registry.host, "alice", "wrong", creds)
    assert auth_registry.host in str(e.value)
    with RegistryClient(auth_registry.host) as anon, pytest.raises(Unauthenticated):
        anon.tags("team/app")
    login(auth_registry.host, "alice", "wonderland", creds)
    doc = json.loads((tmp_path / "docker" / "config.json").read_text())
    assert doc["auths"][auth_registry.host]["auth"] == "YWxpY2U6d29uZGVybGFuZA=="
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(auth_registry.host, credentials=creds) as client:
        push(client, src, "team/app", "1", digest)
        assert pull(client, make_store(tmp_path / "dst"), "team/app", "1") == digest
    logout(auth_registry.host, creds)
    assert creds.get(auth_registry.host) is None
    with pytest.raises(NotFound):
        logout(auth_registry.host, creds)


def test_bearer_auth(token_registry: Registry, tmp_path: Path) -> None:
    assert token_registry.token is not None
    creds = CredentialStore(str(tmp_path / "config.json"))
    with RegistryClient(token_registry.host) as anon, pytest.raises(Unauthenticated):
        anon.get_manifest("team/app", "1")
    with pytest.raises(Unauthenticated, match="token server"):
        login(token_registry.host, "alice", "wrong", creds)
    login(token_registry.host, "alice", "wonderland", creds)
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(token_registry.host, credentials=creds) as client:
        push(client, src, "team/app", "1", digest)
        n = len(token_registry.token.requests)
        assert pull(client, make_store(tmp_path / "dst"), "team/app", "1") == digest
    scopes = [r["query"].get("scope") for r in token_registry.token.requests]
    assert ["repository:team/app:pull,push"] in scopes
    # Tokens are cached per scope: the pull asked for one pull-scoped token at most.
    assert len(token_registry.token.requests) - n <= 1


def test_tls_with_certs_d(tls_registry: Registry, tmp_path: Path) -> None:
    assert tls_registry.ca is not None
    certs = tmp_path / "certs.d"
    with RegistryClient(tls_registry.host, certs_dir=str(certs)) as client, \
            pytest.raises(PermissionDenied) as e:
        client.tags("team/app")
    assert "certificate" in str(e.value)
    (certs / tls_registry.host).mkdir(parents=True)
    shutil.copy(tls_registry.ca.ca_cert, certs / tls_registry.host / "ca.crt")
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(tls_registry.host, certs_dir=str(certs)) as client:
        push(client, src, "team/app", "1", digest)
        assert pull(client, make_store(tmp_path / "dst"), "team/app", "1") == digest


needs_skopeo = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")


@needs_skopeo
def test_skopeo_sees_cove_push(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(registry.host) as client:
        push(client, src, "interop/app", "1", digest)
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{registry.host}/interop/app:1"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    assert json.loads(out)["Digest"] == digest


@needs_skopeo
def test_cove_pulls_skopeo_copy(registry: Registry, tmp_path: Path) -> None:
    # An OCI layout written by hand from a store, copied in by skopeo.
    src = make_store(tmp_path / "src")
    digest = make_image(src, seed="s")
    layout = tmp_path / "layout"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    for d in [digest, *blobs_of(src, digest)]:
        (layout / "blobs" / "sha256" / d.split(":")[1]).write_bytes(src.read(d))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": MEDIA_OCI_MANIFEST, "digest": digest, "size": len(src.read(digest)),
        "annotations": {"org.opencontainers.image.ref.name": "1"}}]}))
    subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:1",
         f"docker://{registry.host}/from/skopeo:1"],
        check=True, capture_output=True, timeout=60,
    )
    with RegistryClient(registry.host) as client:
        dst = make_store(tmp_path / "dst")
        got = pull(client, dst, "from/skopeo", "1")
    assert dst.exists(got)
    for blob in blobs_of(dst, got):
        assert dst.exists(blob)


def test_insecure_tls_registry_skips_verification(tls_registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    certs = str(tmp_path / "empty-certs.d")
    with RegistryClient(tls_registry.host, certs_dir=certs, insecure=True) as client:
        push(client, src, "team/app", "1", digest)
        assert client.get_manifest("team/app", "1")[2] == digest


def test_index_push_and_platform_pull(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    amd = make_image(src, seed="amd")
    arm = make_image(src, seed="arm")
    index = json.dumps({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": [
        {"mediaType": MEDIA_OCI_MANIFEST, "digest": d, "size": len(src.read(d)),
         "platform": {"os": "linux", "architecture": arch}}
        for d, arch in [(amd, "amd64"), (arm, "arm64")]]}).encode()
    index_digest = src.put(index)
    with RegistryClient(registry.host) as client:
        assert push(client, src, "multi/app", "1", index_digest) == index_digest
        dst = make_store(tmp_path / "dst")
        assert pull(client, dst, "multi/app", "1", "linux/arm64") == index_digest
        with pytest.raises(NotFound) as e:
            pull(client, make_store(tmp_path / "none"), "multi/app", "1", "linux/s390x")
        assert "linux/s390x" in str(e.value)
    assert dst.exists(index_digest) and dst.exists(arm) and not dst.exists(amd)
    assert all(dst.exists(b) for b in blobs_of(src, arm))


def test_second_pull_downloads_nothing(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(registry.host) as client:
        push(client, src, "again/app", "1", digest)
        dst = make_store(tmp_path / "dst")
        pull(client, dst, "again/app", "1")
        fetched: list[str] = []
        original = client.fetch_blob
        client.fetch_blob = lambda *a, **k: fetched.append(a[1]) or original(*a, **k)  # type: ignore[method-assign]
        pull(client, dst, "again/app", "1")
    assert fetched == []


def test_tls_client_certificate(mtls_registry: Registry, tmp_path: Path) -> None:
    ca = mtls_registry.ca
    assert ca is not None
    certs = tmp_path / "certs.d"
    hostdir = certs / mtls_registry.host
    hostdir.mkdir(parents=True)
    shutil.copy(ca.ca_cert, hostdir / "ca.crt")
    with RegistryClient(mtls_registry.host, certs_dir=str(certs)) as client, \
            pytest.raises(Unavailable) as e:
        client.tags("team/app")  # the server wants a client certificate
    assert f"{mtls_registry.host}: TLS handshake failed" in str(e.value)
    shutil.copy(ca.client_cert, hostdir / "client.cert")
    shutil.copy(ca.client_key, hostdir / "client.key")
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(mtls_registry.host, certs_dir=str(certs)) as client:
        push(client, src, "team/app", "1", digest)
        assert client.tags("team/app") == ["1"]


@needs_skopeo
def test_skopeo_copies_cove_push(registry: Registry, tmp_path: Path) -> None:
    src = make_store(tmp_path / "src")
    digest = make_image(src)
    with RegistryClient(registry.host) as client:
        push(client, src, "interop/copy", "1", digest)
    layout = tmp_path / "out"
    subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{registry.host}/interop/copy:1",
         f"oci:{layout}:1"],
        check=True, capture_output=True, timeout=60,
    )
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["digest"] == digest
    for blob in blobs_of(src, digest):
        assert (layout / "blobs" / "sha256" / blob.split(":")[1]).read_bytes() == src.read(blob)
