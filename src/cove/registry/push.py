"""Push: blobs (HEAD first, cross-repository mount when asked), then manifests."""

from __future__ import annotations

import logging
from collections.abc import Callable

from cove.errors import InvalidArgument
from cove.registry.client import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, RegistryClient
from cove.registry.pull import BlobProgress, _descriptor, _json, is_index
from cove.registry.store import BlobStore

log = logging.getLogger(__name__)


def _media_type(doc: dict[str, object]) -> str:
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    return MEDIA_OCI_INDEX if "manifests" in doc else MEDIA_OCI_MANIFEST


def push(
    client: RegistryClient,
    store: BlobStore,
    repo: str,
    tag: str,
    manifest_digest: str,
    *,
    mount_from: str | None = None,
    progress: BlobProgress | None = None,
) -> str:
    """Push the manifest or index ``manifest_digest`` from ``store`` as ``repo:tag``.

    An index's child manifests are pushed when the store has them (by digest).
    Returns the pushed digest.
    """
    data = store.read(manifest_digest)
    what = f"{client.host}/{repo}:{tag}"
    doc = _json(data, f"{what} ({manifest_digest})")
    if is_index(_media_type(doc), doc):
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise InvalidArgument(f"{what}: index without manifests")
        for entry in entries:
            digest, _ = _descriptor(entry, what)
            if store.exists(digest):
                push(client, store, repo, digest, digest, mount_from=mount_from, progress=progress)
    else:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise InvalidArgument(f"{what}: manifest without layers")
        blobs = [_descriptor(doc.get("config"), what)]
        blobs += [_descriptor(layer, what) for layer in layers]
        for digest, size in blobs:
            cb = None if progress is None else _bind(progress, digest)
            with store.open(digest) as stream:
                client.push_blob(repo, digest, size, stream, mount_from=mount_from, progress=cb)
    pushed = client.put_manifest(repo, tag, data, _media_type(doc))
    if pushed != manifest_digest:
        raise InvalidArgument(f"{what}: pushed {pushed}, expected {manifest_digest}")
    log.info("pushed %s (%s)", what, pushed)
    return pushed


def _bind(progress: BlobProgress, digest: str) -> Callable[[int, int], None]:
    return lambda done, total: progress(digest, done, total)
