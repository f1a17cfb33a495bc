"""OCI image layouts (image-spec ``image-layout.md``): write images out, read them in.

A layout directory holds ``oci-layout`` (the version marker), ``index.json``
(the entry points, each named by an ``org.opencontainers.image.ref.name``
annotation) and ``blobs/<alg>/<hex>``.  Writing hard-links blobs out of the
content store where it can and copies them otherwise; reading streams every
reachable blob into the store through a verified ingest, so a corrupted or
hostile layout cannot put a blob under the wrong digest.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator

from cove.content import BlobNotFound, ContentStore
from cove.errors import InvalidArgument, NotFound, SyscallError
from cove.oci.digest import parse_digest
from cove.oci.image import (
    ANNOTATION_REF_NAME,
    INDEX_MEDIA_TYPES,
    MANIFEST_MEDIA_TYPES,
    MEDIA_TYPE_OCI_INDEX,
    NONDISTRIBUTABLE_MEDIA_TYPES,
    Descriptor,
    Index,
    canonical_json,
    parse_manifest,
)

log = logging.getLogger(__name__)

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_VERSION = "1.0.0"
CHUNK = 1 << 20


def _blob_path(root: str, digest: str) -> str:
    algorithm, encoded = parse_digest(digest)
    return os.path.join(root, "blobs", algorithm, encoded)


def _atomic_write(path: str, data: bytes) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def children(store: ContentStore, desc: Descriptor) -> list[Descriptor]:
    """The descriptors a manifest or index refers to (none for other blobs)."""
    if desc.media_type not in MANIFEST_MEDIA_TYPES | INDEX_MEDIA_TYPES:
        return []
    parsed = parse_manifest(store.read(desc.digest), desc.media_type)
    if isinstance(parsed, Index):
        return list(parsed.manifests)
    return [parsed.config, *parsed.layers]


def _reachable(store: ContentStore, roots: list[Descriptor]) -> Iterator[Descriptor]:
    """Every descriptor reachable from ``roots`` (each digest once), children first."""
    seen: set[str] = set()

    def walk(desc: Descriptor) -> Iterator[Descriptor]:
        if desc.digest in seen:
            return
        seen.add(desc.digest)
        if not store.exists(desc.digest):
            if desc.media_type in NONDISTRIBUTABLE_MEDIA_TYPES:
                log.debug("skipping non-distributable layer %s", desc.digest)
                return
            raise BlobNotFound(desc.digest)
        for child in children(store, desc):
            yield from walk(child)
        yield desc

    for root in roots:
        yield from walk(root)


def _export_blob(store: ContentStore, digest: str, dest_dir: str) -> None:
    target = _blob_path(dest_dir, digest)
    size = store.size(digest)
    try:
        if os.stat(target).st_size == size:
            return  # content-addressed: same name, same size, same bytes
    except FileNotFoundError:
        pass
    directory = os.path.dirname(target)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{os.path.basename(target)}")
    try:
        try:
            os.link(store.path(digest), tmp)
        except OSError:  # another filesystem, or links refused: copy
            shutil.copyfile(store.path(digest), tmp)
            os.chmod(tmp, 0o444)
        os.rename(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise SyscallError(
            f"cannot write blob {target}: {exc.strerror or exc}", exc.errno or 0
        ) from exc


def write_layout(
    store: ContentStore, dest_dir: str, manifests: list[tuple[str, Descriptor]]
) -> None:
    """Write (or add to) the OCI layout at ``dest_dir``: the named manifests or
    indexes and every blob they reach.  Entries of an existing index.json with
    other names are kept; one with the same name is replaced."""
    blobs = list(_reachable(store, [desc for _, desc in manifests]))
    try:
        for algorithm in {parse_digest(d.digest)[0] for d in blobs}:
            os.makedirs(os.path.join(dest_dir, "blobs", algorithm), exist_ok=True)
    except OSError as exc:
        raise SyscallError(
            f"cannot create layout {dest_dir}: {exc.strerror}", exc.errno or 0
        ) from exc
    for desc in blobs:
        _export_blob(store, desc.digest, dest_dir)

    entries: list[Descriptor] = []
    names = {name for name, _ in manifests if name}
    index_path = os.path.join(dest_dir, INDEX_FILE)
    if os.path.exists(index_path):
        for old in _read_index(dest_dir).manifests:
            if old.annotations.get(ANNOTATION_REF_NAME) not in names:
                entries.append(old)
    for name, desc in manifests:
        annotations = dict(desc.annotations)
        if name:
            annotations[ANNOTATION_REF_NAME] = name
        entries.append(
            Descriptor(
                media_type=desc.media_type,
                digest=desc.digest,
                size=desc.size,
                urls=desc.urls,
                annotations=annotations,
                platform=desc.platform,
                artifact_type=desc.artifact_type,
            )
        )
    index = Index(manifests=tuple(entries), media_type=MEDIA_TYPE_OCI_INDEX)
    _atomic_write(
        os.path.join(dest_dir, LAYOUT_FILE),
        canonical_json({"imageLayoutVersion": LAYOUT_VERSION}),
    )
    _atomic_write(index_path, index.to_json())


def _read_index(src_dir: str) -> Index:
    path = os.path.join(src_dir, INDEX_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFound(f"{path}: not an OCI layout (no index.json)") from None
    try:
        parsed = parse_manifest(data, MEDIA_TYPE_OCI_INDEX)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
    if not isinstance(parsed, Index):
        raise InvalidArgument(f"{path}: is not an image index")
    return parsed


def _check_layout_file(src_dir: str) -> None:
    path = os.path.join(src_dir, LAYOUT_FILE)
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"{path}: not an OCI layout (no oci-layout file)") from None
    except ValueError:
        raise InvalidArgument(f"{path}: is not valid JSON") from None
    version = doc.get("imageLayoutVersion") if isinstance(doc, dict) else None
    if not isinstance(version, str):
        raise InvalidArgument(f"{path}: imageLayoutVersion: is required")
    if version.split(".", 1)[0] != "1":
        raise InvalidArgument(f"{path}: imageLayoutVersion: unsupported version {version!r}")


def _import_blob(src_dir: str, store: ContentStore, desc: Descriptor) -> bool:
    """Copy one blob into the store through a verified ingest; False if absent
    and allowed to be (non-distributable)."""
    if store.exists(desc.digest):
        return True
    path = _blob_path(src_dir, desc.digest)
    try:
        src = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except FileNotFoundError:
        if desc.media_type in NONDISTRIBUTABLE_MEDIA_TYPES:
            return False
        raise NotFound(f"{path}: blob {desc.digest} missing from the layout") from None
    with src, store.writer(f"oci-layout:{desc.digest}", expected=desc.digest, size=desc.size) as w:
        if w.offset:
            src.seek(w.offset)
        while chunk := src.read(CHUNK):
            w.write(chunk)
        w.commit()
    return True


def read_layout(src_dir: str, store: ContentStore) -> list[tuple[str | None, Descriptor]]:
    """Import every blob reachable from the layout's index.json into ``store``
    (each verified against its digest and size); return the index entries with
    their ref names (None where unnamed)."""
    _check_layout_file(src_dir)
    index = _read_index(src_dir)
    seen: set[str] = set()

    def walk(desc: Descriptor) -> None:
        if desc.digest in seen:
            return
        seen.add(desc.digest)
        if not _import_blob(src_dir, store, desc):
            return
        for child in children(store, desc):
            walk(child)

    for desc in index.manifests:
        walk(desc)
    return [(d.annotations.get(ANNOTATION_REF_NAME), d) for d in index.manifests]
