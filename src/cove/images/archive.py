"""Image archives: ``docker save``/``docker load`` tars, OCI layout tars, import, export.

``save`` writes the format Docker 25+ writes, which both older and newer
``docker load`` read: an OCI layout (``oci-layout``, ``index.json``,
``blobs/sha256/<hex>``) plus Docker's ``manifest.json`` (``[{Config,
RepoTags, Layers}]`` with paths into ``blobs/``) and ``repositories``.
``format="oci"`` writes the plain OCI layout.

``load`` reads one pass over the tar (a pipe is fine): every regular file is
streamed into the content store, files under ``blobs/<alg>/<hex>`` through an
ingest that must hash to their name.  Then the images are assembled from
``index.json`` (OCI and Docker 25+) or from ``manifest.json`` alone (Docker's
legacy ``<id>/layer.tar`` per-layer directories, whose plain tar layers keep
the Docker media type); every config must parse and its diff_ids match the
layers.  Entry names are checked: an absolute path, a ``..`` or a symlink
leading out of the archive is refused, and nothing is ever written outside the
content store.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import io
import ipaddress
import json
import logging
import os
import posixpath
import tarfile
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO, cast
from urllib.parse import urlsplit

from cove.content import BlobNotFound, ContentStore
from cove.content.errors import DigestMismatch
from cove.errors import InvalidArgument, NotFound, SyscallError
from cove.images.changes import apply_changes
from cove.images.oci_layout import children
from cove.images.reference import Reference, parse_reference
from cove.images.treetar import write_tree
from cove.metadata import Descriptor as MetaDescriptor
from cove.metadata import MetadataStore
from cove.oci.digest import parse_digest
from cove.oci.image import (
    ANNOTATION_REF_NAME,
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MEDIA_TYPE_DOCKER_CONFIG,
    MEDIA_TYPE_DOCKER_LAYER,
    MEDIA_TYPE_DOCKER_LAYER_GZIP,
    MEDIA_TYPE_DOCKER_LAYER_ZSTD,
    MEDIA_TYPE_DOCKER_MANIFEST,
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_INDEX,
    MEDIA_TYPE_OCI_LAYER,
    MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_LAYER_ZSTD,
    MEDIA_TYPE_OCI_MANIFEST,
    NONDISTRIBUTABLE_MEDIA_TYPES,
    Descriptor,
    History,
    ImageConfig,
    Index,
    Manifest,
    canonical_json,
    host_platform,
    parse_config,
    parse_manifest,
    select_platform,
)

log = logging.getLogger(__name__)

ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"
CHUNK = 1 << 20
MAX_METADATA_FILE = 16 << 20  # manifest.json, index.json, repositories, legacy json
MAX_METADATA_TOTAL = 64 << 20  # all of them together, held in memory
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_METADATA_FILES = frozenset({"manifest.json", "index.json", "oci-layout", "repositories"})


class ArchiveError(InvalidArgument):
    """An image archive is malformed or hostile; the message names the entry."""


# -- save -------------------------------------------------------------------------------


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    tar.addfile(info)


def _reachable(store: ContentStore, roots: list[Descriptor]) -> list[Descriptor]:
    seen: set[str] = set()
    out: list[Descriptor] = []

    def walk(desc: Descriptor, optional: bool) -> None:
        if desc.digest in seen:
            return
        seen.add(desc.digest)
        if not store.exists(desc.digest):
            if optional or desc.media_type in NONDISTRIBUTABLE_MEDIA_TYPES:
                log.debug("save: %s %s not held, left out", desc.media_type, desc.digest)
                return
            raise BlobNotFound(desc.digest)
        is_index = desc.media_type in INDEX_MEDIA_TYPES
        for child in children(store, desc):
            walk(child, is_index)  # an index's other platforms may not have been pulled
        out.append(desc)

    for root in roots:
        walk(root, False)
    return out


def _blob_name(digest: str) -> str:
    algorithm, encoded = parse_digest(digest)
    return f"blobs/{algorithm}/{encoded}"


def _image_manifest(store: ContentStore, desc: Descriptor) -> Manifest:
    """The platform manifest of ``desc`` (an index resolves to the host's platform)."""
    parsed = parse_manifest(store.read(desc.digest), desc.media_type)
    if isinstance(parsed, Index):
        return _image_manifest(store, select_platform(parsed))
    return parsed


def save(
    store: ContentStore,
    images: list[tuple[str, Descriptor]],
    out: BinaryIO,
    *,
    format: str = "docker",
) -> None:
    """Write ``images`` (reference name, manifest or index descriptor) as a tar to ``out``."""
    if format not in ("docker", "oci"):
        raise InvalidArgument(f"unknown archive format {format!r} (expected docker or oci)")
    refs: list[Reference | None] = []
    for name, _ in images:
        refs.append(parse_reference(name).default_tag() if name else None)
    blobs = _reachable(store, [desc for _, desc in images])
    entries: list[Descriptor] = []
    for ref, desc in zip(refs, images, strict=True):
        annotations = dict(desc[1].annotations)
        annotations.pop(ANNOTATION_REF_NAME, None)
        if ref is not None:
            if format == "docker":
                annotations[ANNOTATION_CONTAINERD_NAME] = str(ref)
                if ref.tag:
                    annotations[ANNOTATION_REF_NAME] = ref.tag
            else:
                annotations[ANNOTATION_REF_NAME] = str(ref)
        entries.append(
            Descriptor(
                media_type=desc[1].media_type,
                digest=desc[1].digest,
                size=desc[1].size,
                annotations=annotations,
                platform=desc[1].platform,
            )
        )
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        _add_dir(tar, "blobs")
        for algorithm in sorted({parse_digest(b.digest)[0] for b in blobs}):
            _add_dir(tar, f"blobs/{algorithm}")
        for blob in blobs:
            info = tarfile.TarInfo(_blob_name(blob.digest))
            info.size = store.size(blob.digest)
            info.mode = 0o444
            with store.open(blob.digest) as f:
                tar.addfile(info, f)
        _add_bytes(tar, "oci-layout", canonical_json({"imageLayoutVersion": "1.0.0"}))
        index = Index(manifests=tuple(entries), media_type=MEDIA_TYPE_OCI_INDEX)
        _add_bytes(tar, "index.json", index.to_json())
        if format == "docker":
            _add_docker_metadata(store, tar, refs, images)


def _add_docker_metadata(
    store: ContentStore,
    tar: tarfile.TarFile,
    refs: list[Reference | None],
    images: list[tuple[str, Descriptor]],
) -> None:
    by_config: dict[str, dict[str, object]] = {}
    order: list[str] = []
    repositories: dict[str, dict[str, str]] = {}
    for ref, (_, desc) in zip(refs, images, strict=True):
        manifest = _image_manifest(store, desc)
        entry = by_config.get(manifest.config.digest)
        if entry is None:
            entry = {
                "Config": _blob_name(manifest.config.digest),
                "RepoTags": [],
                "Layers": [_blob_name(layer.digest) for layer in manifest.layers],
            }
            by_config[manifest.config.digest] = entry
            order.append(manifest.config.digest)
        if ref is not None and ref.tag:
            tags = cast(list[str], entry["RepoTags"])
            if ref.familiar() not in tags:
                tags.append(ref.familiar())
            top = parse_digest(manifest.layers[-1].digest)[1] if manifest.layers else ""
            repositories.setdefault(ref.familiar_name(), {})[ref.tag] = top
    docs = [by_config[d] for d in order]
    for doc in docs:
        if not doc["RepoTags"]:
            doc["RepoTags"] = None
    _add_bytes(tar, "manifest.json", json.dumps(docs, separators=(",", ":")).encode())
    if repositories:
        _add_bytes(tar, "repositories", json.dumps(repositories, sort_keys=True).encode())


# -- load -------------------------------------------------------------------------------


def _member_path(name: str) -> str:
    """A tar member's path, relative and normalized; ArchiveError for an escape."""
    if "\x00" in name:
        raise ArchiveError(f"archive entry {name!r}: NUL in the name")
    if name.startswith("/"):
        raise ArchiveError(f"archive entry {name!r}: absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"archive entry {name!r}: '..' in the path")
    return "/".join(parts)


@dataclass
class _Archive:
    """What one pass over the tar found."""

    files: dict[str, str] = field(default_factory=dict)  # path -> digest in the store
    links: dict[str, str] = field(default_factory=dict)  # symlink path -> target path
    metadata: dict[str, bytes] = field(default_factory=dict)  # small json files

    def resolve(self, path: object, what: str) -> str:
        """The digest of the file at ``path`` (following symlinks inside the archive)."""
        if not isinstance(path, str) or not path:
            raise ArchiveError(f"{what}: expected a path inside the archive, got {path!r}")
        if path.startswith("/") or ".." in path.split("/"):
            raise ArchiveError(f"{what}: {path!r} points outside the archive")
        current = _member_path(path)
        for _ in range(16):
            if current in self.files:
                return self.files[current]
            if current not in self.links:
                raise ArchiveError(f"{what}: {path!r} is not in the archive")
            current = self.links[current]
        raise ArchiveError(f"{what}: {path!r}: too many levels of symlinks")


def _spool(store: ContentStore, tar: tarfile.TarFile, member: tarfile.TarInfo,
           path: str) -> str:
    """Stream one member into the store; verified against its name under blobs/."""
    expected: str | None = None
    parts = path.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        try:
            expected = f"{parts[1]}:{parts[2]}"
            parse_digest(expected)
        except InvalidArgument:
            expected = None
    src = tar.extractfile(member)
    if src is None:
        raise ArchiveError(f"archive entry {member.name!r}: unreadable")
    if expected is not None and store.exists(expected):
        return expected  # already held; content-addressed, no need to copy
    ref = f"load:{uuid.uuid4().hex}"
    try:
        with store.writer(ref, expected=expected, size=member.size) as writer:
            while chunk := src.read(CHUNK):
                writer.write(chunk)
            return writer.commit()
    except DigestMismatch as exc:
        raise ArchiveError(
            f"archive entry {member.name!r}: content does not match its digest"
            f" (got {exc.actual})"
        ) from None


def _read_archive(store: ContentStore, inp: BinaryIO) -> _Archive:
    archive = _Archive()
    held = 0
    try:
        with tarfile.open(fileobj=inp, mode="r|*") as tar:
            for member in tar:
                path = _member_path(member.name)
                if member.isdir() or not path:
                    continue
                if member.issym():
                    target = posixpath.normpath(
                        posixpath.join(posixpath.dirname(path), member.linkname)
                    )
                    if member.linkname.startswith("/") or target.split("/")[0] == "..":
                        raise ArchiveError(
                            f"archive entry {member.name!r}: symlink to {member.linkname!r}"
                            " points outside the archive"
                        )
                    archive.links[path] = target
                    continue
                if member.islnk():
                    target = _member_path(member.linkname)
                    if target not in archive.files:
                        raise ArchiveError(
                            f"archive entry {member.name!r}: hard link to a missing"
                            f" entry {member.linkname!r}"
                        )
                    archive.files[path] = archive.files[target]
                    continue
                if not member.isreg():
                    raise ArchiveError(
                        f"archive entry {member.name!r}: unexpected file type in an image archive"
                    )
                small = path in _METADATA_FILES or path.endswith(("/json", "/VERSION"))
                if small:
                    held += member.size
                    if member.size > MAX_METADATA_FILE or held > MAX_METADATA_TOTAL:
                        raise ArchiveError(f"archive entry {member.name!r}: too large"
                                           " (metadata files are limited in size)")
                    src = tar.extractfile(member)
                    assert src is not None
                    archive.metadata[path] = src.read()
                    continue
                archive.files[path] = _spool(store, tar, member, path)
    except tarfile.TarError as exc:
        raise ArchiveError(f"not a valid tar archive: {exc}") from exc
    except (EOFError, zlib.error) as exc:
        raise ArchiveError(f"archive is truncated or corrupt: {exc}") from exc
    return archive


def _json(data: bytes, what: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{what} is not valid JSON: {exc}") from None


def _compression(store: ContentStore, digest: str) -> str:
    with store.open(digest) as f:
        head = f.read(4)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    return "none"


class _GunzipReader:
    """A gzip-decompressing reader (multi-member streams included)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        self._pending = b""

    def read(self, n: int = -1) -> bytes:
        size = CHUNK if n < 0 else n
        while True:
            if self._inflater.unconsumed_tail:
                data = self._inflater.decompress(self._inflater.unconsumed_tail, size)
            elif self._inflater.eof:
                rest = self._inflater.unused_data
                if not rest:
                    rest = self._raw.read(CHUNK)
                    if not rest:
                        return b""
                self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
                data = self._inflater.decompress(rest, size)
            else:
                chunk = self._raw.read(CHUNK)
                if not chunk:
                    raise EOFError("gzip stream ends early")
                data = self._inflater.decompress(chunk, size)
            if data:
                return data


def _diff_id(store: ContentStore, digest: str) -> str:
    """The sha256 of the layer's uncompressed tar."""
    kind = _compression(store, digest)
    if kind == "none" and digest.startswith("sha256:"):
        return digest
    hasher = hashlib.sha256()
    with store.open(digest) as f:
        if kind == "zstd":
            import zstandard

            reader = zstandard.ZstdDecompressor().stream_reader(
                cast(IO[bytes], f), read_across_frames=True
            )
            try:
                while chunk := reader.read(CHUNK):
                    hasher.update(chunk)
            except zstandard.ZstdError as exc:
                raise ArchiveError(f"layer {digest}: corrupt zstd stream: {exc}") from None
        elif kind == "gzip":
            gunzip = _GunzipReader(f)
            try:
                while chunk := gunzip.read(CHUNK):
                    hasher.update(chunk)
            except (zlib.error, EOFError) as exc:
                raise ArchiveError(f"layer {digest}: corrupt gzip stream: {exc}") from None
        else:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
    return "sha256:" + hasher.hexdigest()


def _check_image(store: ContentStore, desc: Descriptor, where: str) -> None:
    """Every blob an image reaches is present with the right size; configs parse and
    their diff_ids match the layers."""
    if not store.exists(desc.digest):
        if desc.media_type in NONDISTRIBUTABLE_MEDIA_TYPES:
            return
        raise ArchiveError(f"{where}: blob {desc.digest} is not in the archive")
    size = store.size(desc.digest)
    if size != desc.size:
        raise ArchiveError(f"{where}: blob {desc.digest} is {size} bytes, descriptor says"
                           f" {desc.size}")
    if desc.media_type not in MANIFEST_MEDIA_TYPES | INDEX_MEDIA_TYPES:
        return
    try:
        parsed = parse_manifest(store.read(desc.digest), desc.media_type)
    except InvalidArgument as exc:
        raise ArchiveError(f"{where}: manifest {desc.digest}: {exc}") from None
    if isinstance(parsed, Index):
        held = [c for c in parsed.manifests if store.exists(c.digest)]
        if not held:
            raise ArchiveError(f"{where}: none of the index's manifests is in the archive")
        for i, child in enumerate(parsed.manifests):
            if store.exists(child.digest):  # other platforms may have been left out
                _check_image(store, child, f"{where}.manifests[{i}]")
        return
    _check_image(store, parsed.config, f"{where}.config")
    try:
        config = parse_config(store.read(parsed.config.digest))
    except InvalidArgument as exc:
        raise ArchiveError(f"{where}: config {parsed.config.digest}: {exc}") from None
    if len(config.diff_ids) != len(parsed.layers):
        raise ArchiveError(f"{where}: {len(parsed.layers)} layers for"
                           f" {len(config.diff_ids)} rootfs.diff_ids")
    for i, (layer, diff_id) in enumerate(zip(parsed.layers, config.diff_ids, strict=True)):
        _check_image(store, layer, f"{where}.layers[{i}]")
        if store.exists(layer.digest) and _diff_id(store, layer.digest) != diff_id:
            raise ArchiveError(f"{where}.layers[{i}]: layer {layer.digest} does not match"
                               f" rootfs.diff_ids[{i}] {diff_id}")


def _normal_name(name: str) -> str | None:
    try:
        return str(parse_reference(name).default_tag())
    except InvalidArgument:
        return None


def _legacy_image(store: ContentStore, archive: _Archive, entry: object,
                  where: str) -> Descriptor:
    """A Docker schema2 manifest for one manifest.json entry (put into the store)."""
    if not isinstance(entry, dict):
        raise ArchiveError(f"{where}: must be an object")
    config_digest = archive.resolve(entry.get("Config"), f"{where}.Config")
    layer_paths = entry.get("Layers")
    if not isinstance(layer_paths, list) or not layer_paths:
        raise ArchiveError(f"{where}.Layers: must be a non-empty array of paths")
    try:
        config = parse_config(store.read(config_digest))
    except InvalidArgument as exc:
        raise ArchiveError(f"{where}.Config: {exc}") from None
    if len(config.diff_ids) != len(layer_paths):
        raise ArchiveError(f"{where}: {len(layer_paths)} layers for"
                           f" {len(config.diff_ids)} rootfs.diff_ids")
    media = {"none": MEDIA_TYPE_DOCKER_LAYER, "gzip": MEDIA_TYPE_DOCKER_LAYER_GZIP,
             "zstd": MEDIA_TYPE_DOCKER_LAYER_ZSTD}
    layers: list[Descriptor] = []
    for i, path in enumerate(layer_paths):
        digest = archive.resolve(path, f"{where}.Layers[{i}]")
        if _diff_id(store, digest) != config.diff_ids[i]:
            raise ArchiveError(f"{where}.Layers[{i}]: {path!r} does not match"
                               f" rootfs.diff_ids[{i}] {config.diff_ids[i]}")
        layers.append(Descriptor(media_type=media[_compression(store, digest)],
                                 digest=digest, size=store.size(digest)))
    manifest = Manifest(
        config=Descriptor(media_type=MEDIA_TYPE_DOCKER_CONFIG, digest=config_digest,
                          size=store.size(config_digest)),
        layers=tuple(layers),
        media_type=MEDIA_TYPE_DOCKER_MANIFEST,
    )
    data = manifest.to_json()
    store.put(data)
    return Descriptor.of(MEDIA_TYPE_DOCKER_MANIFEST, data)


def _repo_tags(entry: object, where: str) -> list[str]:
    tags = entry.get("RepoTags") if isinstance(entry, dict) else None
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ArchiveError(f"{where}.RepoTags: must be an array of strings")
    out = []
    for tag in tags:
        name = _normal_name(tag)
        if name is None:
            raise ArchiveError(f"{where}.RepoTags: invalid reference {tag!r}")
        out.append(name)
    return out


def load(store: ContentStore, inp: BinaryIO) -> list[tuple[str | None, Descriptor]]:
    """Read a docker-save or OCI layout tar into ``store``.

    Returns (normalized name or None, manifest or index descriptor) pairs; a
    descriptor appears once per name.  The caller records the names (see
    :func:`load_into`); until then the blobs are unreferenced.
    """
    archive = _read_archive(store, inp)
    docker_entries: list[object] = []
    if "manifest.json" in archive.metadata:
        doc = _json(archive.metadata["manifest.json"], "manifest.json")
        if not isinstance(doc, list):
            raise ArchiveError("manifest.json: must be an array")
        docker_entries = doc
    results: list[tuple[str | None, Descriptor]] = []
    if "index.json" in archive.metadata:
        if "oci-layout" in archive.metadata:
            layout = _json(archive.metadata["oci-layout"], "oci-layout")
            version = layout.get("imageLayoutVersion") if isinstance(layout, dict) else None
            if not isinstance(version, str) or version.split(".")[0] != "1":
                raise ArchiveError(f"oci-layout: unsupported imageLayoutVersion {version!r}")
        try:
            index = parse_manifest(archive.metadata["index.json"], MEDIA_TYPE_OCI_INDEX)
        except InvalidArgument as exc:
            raise ArchiveError(f"index.json: {exc}") from None
        if not isinstance(index, Index):
            raise ArchiveError("index.json: is not an image index")
        tags_by_config: dict[str, list[str]] = {}
        for i, entry in enumerate(docker_entries):
            where = f"manifest.json[{i}]"
            config_path = entry.get("Config") if isinstance(entry, dict) else None
            config_digest = archive.resolve(config_path, f"{where}.Config")
            tags_by_config.setdefault(config_digest, []).extend(_repo_tags(entry, where))
        for i, desc in enumerate(index.manifests):
            _check_image(store, desc, f"index.json.manifests[{i}]")
            names: list[str] = []
            full = desc.annotations.get(ANNOTATION_CONTAINERD_NAME)
            ref_name = desc.annotations.get(ANNOTATION_REF_NAME)
            for candidate in (full, ref_name):
                if candidate and ("/" in candidate or ":" in candidate):
                    name = _normal_name(candidate)
                    if name is not None:
                        names.append(name)
                        break
            if desc.media_type in MANIFEST_MEDIA_TYPES:
                manifest = parse_manifest(store.read(desc.digest), desc.media_type)
                assert isinstance(manifest, Manifest)
                for name in tags_by_config.get(manifest.config.digest, []):
                    if name not in names:
                        names.append(name)
            if names:
                results.extend((name, desc) for name in names)
            else:
                results.append((None, desc))
        return results
    if not docker_entries:
        raise ArchiveError(
            "not an image archive: no manifest.json (docker save) or index.json (OCI layout)"
        )
    for i, entry in enumerate(docker_entries):
        where = f"manifest.json[{i}]"
        desc = _legacy_image(store, archive, entry, where)
        names = _repo_tags(entry, where)
        if names:
            results.extend((name, desc) for name in names)
        else:
            results.append((None, desc))
    return results


def _meta(desc: Descriptor) -> MetaDescriptor:
    return MetaDescriptor(media_type=desc.media_type, digest=desc.digest, size=desc.size)


def record_refs(store: ContentStore, metadata: MetadataStore, desc: Descriptor) -> None:
    """Record the content edges from ``desc`` down to its layers, for GC."""
    for child in children(store, desc):
        if store.exists(child.digest):
            metadata.add_content_refs(desc.digest, [child.digest])
            record_refs(store, metadata, child)


def load_into(
    store: ContentStore, metadata: MetadataStore, inp: BinaryIO
) -> list[tuple[str | None, Descriptor]]:
    """:func:`load`, then name the images in ``metadata`` (unnamed ones as dangling
    ``<none>@digest``) and record their content edges, under a lease so GC cannot
    remove the blobs in between."""
    from cove.metadata.store import DANGLING_PREFIX

    with metadata.lease(labels={"cove.load": "1"}) as lease_id:
        loaded = load(store, inp)
        for _, desc in loaded:
            metadata.lease_add(lease_id, content=[desc.digest])
            record_refs(store, metadata, desc)
        metadata.put_images(
            (name or DANGLING_PREFIX + desc.digest, _meta(desc), None) for name, desc in loaded
        )
    return loaded


# -- import -----------------------------------------------------------------------------


def _loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class _HashingReader:
    """Reads through ``raw`` while hashing and counting what passed."""

    raw: IO[bytes]
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)
    size: int = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hasher.update(data)
        self.size += len(data)
        return data


def _open_url(url: str) -> tuple[BinaryIO, http.client.HTTPConnection]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise InvalidArgument(f"import from {url}: only http:// URLs on loopback are supported")
    if not _loopback_host(host):
        raise InvalidArgument(
            f"import from {url}: refusing a non-loopback host {host!r}"
            " (only localhost and 127.0.0.0/8 are allowed)"
        )
    conn = http.client.HTTPConnection(host, parts.port or 80, timeout=60)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request("GET", path)
        response = conn.getresponse()
    except OSError as exc:
        conn.close()
        raise SyscallError(f"import from {url}: {exc}", getattr(exc, "errno", 0) or 0) from exc
    if response.status != 200:
        conn.close()
        raise NotFound(f"import from {url}: HTTP {response.status} {response.reason}")
    return cast(BinaryIO, response), conn


def _layer_media(kind: str) -> str:
    return {"gzip": MEDIA_TYPE_OCI_LAYER_GZIP, "zstd": MEDIA_TYPE_OCI_LAYER_ZSTD}.get(
        kind, MEDIA_TYPE_OCI_LAYER
    )


def _check_rootfs_tar(store: ContentStore, digest: str) -> None:
    """The blob must decompress to a tar whose entries stay inside the root."""
    kind = _compression(store, digest)
    with store.open(digest) as f:
        try:
            source: IO[bytes] = f
            if kind == "zstd":
                import zstandard

                source = cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(
                    cast(IO[bytes], f), read_across_frames=True
                ))
            elif kind == "gzip":
                source = cast(IO[bytes], _GunzipReader(f))
            with tarfile.open(fileobj=source, mode="r|") as tar:
                for member in tar:
                    name = member.name.lstrip("/")
                    if ".." in name.split("/"):
                        raise InvalidArgument(f"rootfs tarball entry {member.name!r}:"
                                              " '..' in the path")
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise InvalidArgument(f"the imported file is not a valid (compressed) tar: {exc}"
                                  ) from exc


def import_rootfs(
    store: ContentStore,
    source: BinaryIO | str | os.PathLike[str],
    *,
    changes: list[str] | None = None,
    message: str | None = None,
) -> Descriptor:
    """A rootfs tarball (plain, gzip or zstd) as a one-layer image; returns its manifest.

    ``source`` is an open binary stream (stdin), a path, or an ``http://`` URL
    on loopback.  ``changes`` are ``--change`` instructions (see
    :mod:`cove.images.changes`); they are checked before anything is read.
    """
    base = ImageConfig(architecture=host_platform().architecture, os="linux", diff_ids=())
    config = apply_changes(base, list(changes or []))  # refuse bad changes early
    conn: http.client.HTTPConnection | None = None
    label = "-"
    if isinstance(source, str) and "://" in source:
        label = source
        stream, conn = _open_url(source)
    elif isinstance(source, str | os.PathLike):
        label = os.fspath(source)
        try:
            stream = open(source, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise NotFound(f"import: {label}: no such file") from None
        except OSError as exc:
            raise SyscallError(f"import: cannot open {label}: {exc.strerror}",
                               exc.errno or 0) from exc
    else:
        stream = source
    try:
        with store.writer(f"import:{uuid.uuid4().hex}") as writer:
            while chunk := stream.read(CHUNK):
                writer.write(chunk)
            layer_digest = writer.commit()
    finally:
        if stream is not source:
            stream.close()
        if conn is not None:
            conn.close()
    _check_rootfs_tar(store, layer_digest)
    diff_id = _diff_id(store, layer_digest)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    platform = host_platform()
    config = dataclasses.replace(
        config,
        variant=platform.variant,
        diff_ids=(diff_id,),
        created=created,
        history=(History(created=created, created_by=f"Imported from {label}",
                         comment=message),),
    )
    config_bytes = config.to_json()
    layer = Descriptor(media_type=_layer_media(_compression(store, layer_digest)),
                       digest=layer_digest, size=store.size(layer_digest))
    config_desc = Descriptor.of(MEDIA_TYPE_OCI_CONFIG, config_bytes)
    store.put(config_bytes, config_desc.digest)
    manifest_bytes = Manifest(config=config_desc, layers=(layer,)).to_json()
    store.put(manifest_bytes)
    return Descriptor.of(MEDIA_TYPE_OCI_MANIFEST, manifest_bytes)


# -- export -----------------------------------------------------------------------------


def export_tree(root_dir: str, out: BinaryIO) -> None:
    """Write the filesystem under ``root_dir`` as a tar stream (like ``docker export``)."""
    if not os.path.isdir(root_dir):
        raise NotFound(f"export: {root_dir}: not a directory")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        write_tree(root_dir, tar)


def iter_names(loaded: list[tuple[str | None, Descriptor]]) -> Iterator[str]:
    """The names among ``load`` results (for messages like ``Loaded image: ...``)."""
    for name, _ in loaded:
        if name is not None:
            yield parse_reference(name).familiar()


__all__ = [
    "ArchiveError",
    "export_tree",
    "import_rootfs",
    "iter_names",
    "load",
    "load_into",
    "record_refs",
    "save",
]
