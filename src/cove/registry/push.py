"""Push: blobs (HEAD first, cross-repository mount when asked), then manifests."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

from cove.errors import InvalidArgument
from cove.registry.client import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, RegistryClient, Upload
from cove.registry.progress import MessageSink, Reporter, reporter, short_id
from cove.registry.pull import BlobProgress, _descriptor, _json, is_index
from cove.registry.store import BlobStore

log = logging.getLogger(__name__)


def _media_type(doc: dict[str, object]) -> str:
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    return MEDIA_OCI_INDEX if "manifests" in doc else MEDIA_OCI_MANIFEST


def _layer_ids(store: BlobStore, config_digest: str, layers: list[tuple[str, int]]) -> list[str]:
    """The ids docker shows while pushing: the layers' diff_ids (their digests as fallback)."""
    try:
        doc = json.loads(store.read(config_digest))
        diff_ids = doc["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        diff_ids = None
    if not isinstance(diff_ids, list) or len(diff_ids) != len(layers) \
            or not all(isinstance(d, str) for d in diff_ids):
        return [short_id(d) for d, _ in layers]
    return [short_id(d) for d in diff_ids]


_DONE = {Upload.EXISTS: "Layer already exists", Upload.PUSHED: "Pushed"}


def _push_blobs(
    client: RegistryClient,
    store: BlobStore,
    repo: str,
    doc: dict[str, object],
    what: str,
    *,
    mount_from: str | None,
    progress: BlobProgress | None,
    out: Reporter,
    workers: int,
) -> None:
    layers_doc = doc.get("layers")
    if not isinstance(layers_doc, list):
        raise InvalidArgument(f"{what}: manifest without layers")
    config = _descriptor(doc.get("config"), what)
    layers = [_descriptor(layer, what) for layer in layers_doc]
    ids = _layer_ids(store, config[0], layers)
    unique: dict[str, tuple[int, str]] = {}
    for (digest, size), ident in zip(layers, ids, strict=True):
        unique.setdefault(digest, (size, ident))
    for _, ident in unique.values():
        out.status("Preparing", ident)
    for _, ident in list(unique.values())[max(1, workers):]:
        out.status("Waiting", ident)

    def send(digest: str, size: int, ident: str | None) -> None:
        def cb(done: int, total: int) -> None:
            if progress is not None:
                progress(digest, done, total)
            if ident is not None:
                out.bytes("Pushing", ident, done, total)

        with store.open(digest) as stream:
            outcome = client.upload_blob(repo, digest, size, stream, mount_from=mount_from,
                                         progress=cb)
        if outcome is not Upload.PUSHED and progress is not None:
            progress(digest, size, size)
        if ident is not None:
            text = _DONE.get(outcome) or f"Mounted from {mount_from}"
            out.status(text, ident)

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(unique) or 1))) as pool:
        futures = [pool.submit(send, d, size, ident) for d, (size, ident) in unique.items()]
        for future in futures:
            future.result()
    if config[0] not in unique:  # docker pushes the config last, without a progress line
        send(config[0], config[1], None)


def _push(
    client: RegistryClient,
    store: BlobStore,
    repo: str,
    tag: str,
    manifest_digest: str,
    *,
    mount_from: str | None,
    progress: BlobProgress | None,
    out: Reporter,
    workers: int,
) -> bytes:
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
                _push(client, store, repo, digest, digest, mount_from=mount_from,
                      progress=progress, out=out, workers=workers)
    else:
        _push_blobs(client, store, repo, doc, what, mount_from=mount_from, progress=progress,
                    out=out, workers=workers)
    pushed = client.put_manifest(repo, tag, data, _media_type(doc))
    if pushed != manifest_digest:
        raise InvalidArgument(f"{what}: pushed {pushed}, expected {manifest_digest}")
    log.info("pushed %s (%s)", what, pushed)
    return data


def push(
    client: RegistryClient,
    store: BlobStore,
    repo: str,
    tag: str,
    manifest_digest: str,
    *,
    mount_from: str | None = None,
    progress: BlobProgress | None = None,
    events: Reporter | MessageSink | None = None,
    workers: int = 3,
) -> str:
    """Push the manifest or index ``manifest_digest`` from ``store`` as ``repo:tag``.

    An index's child manifests are pushed when the store has them (by digest).
    Layers go up ``workers`` at a time.  ``events`` receives docker's push
    messages ("Preparing", "Pushing", "Pushed", "Layer already exists",
    "Mounted from ...", then ``<tag>: digest: <digest> size: <n>`` and the
    ``aux`` object).  Returns the pushed digest.
    """
    out = reporter(events)
    data = _push(client, store, repo, tag, manifest_digest, mount_from=mount_from,
                 progress=progress, out=out, workers=workers)
    out.status(f"{tag}: digest: {manifest_digest} size: {len(data)}")
    out.emit({"progressDetail": {},
              "aux": {"Tag": tag, "Digest": manifest_digest, "Size": len(data)}})
    return manifest_digest
