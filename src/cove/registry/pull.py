"""Pull: index -> manifest (platform) -> config and layers, several blobs at once.

Blobs go into the store first and the manifests last, so an interrupted pull
leaves no image, only blobs (and partly written ones, which the next pull
resumes with HTTP Range requests from where they stopped).
"""

from __future__ import annotations

import json
import logging
import platform as _platform
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from cove.errors import InvalidArgument, NotFound
from cove.registry.client import (
    MEDIA_DOCKER_LIST,
    MEDIA_OCI_INDEX,
    RegistryClient,
)
from cove.registry.progress import MessageSink, Reporter, reporter, retry_text, short_id
from cove.registry.store import BlobStore

log = logging.getLogger(__name__)

BlobProgress = Callable[[str, int, int], None]  # (digest, bytes done, total)

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le"}


def host_platform() -> str:
    machine = _platform.machine()
    return "linux/" + _ARCH.get(machine, machine)


def _json(data: bytes, what: str) -> dict[str, object]:
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"{what}: not JSON: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{what}: not a JSON object")
    return doc


def _descriptor(d: object, what: str) -> tuple[str, int]:
    if not isinstance(d, dict):
        raise InvalidArgument(f"{what}: bad descriptor")
    digest, size = d.get("digest"), d.get("size")
    if not isinstance(digest, str) or not isinstance(size, int) or size < 0:
        raise InvalidArgument(f"{what}: descriptor without digest or size")
    return digest, size


def is_index(media_type: str, doc: dict[str, object]) -> bool:
    return media_type in (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST) or (
        "manifests" in doc and "layers" not in doc
    )


def select_platform(index: dict[str, object], want: str, what: str) -> str:
    """Digest of the index entry for ``os/arch[/variant]``."""
    parts = want.split("/")
    os_, arch = parts[0], parts[1] if len(parts) > 1 else ""
    variant = parts[2] if len(parts) > 2 else ""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise InvalidArgument(f"{what}: index without manifests")
    for m in entries:
        if not isinstance(m, dict):
            continue
        p = m.get("platform")
        if not isinstance(p, dict):
            continue
        if p.get("os") == os_ and p.get("architecture") == arch:
            if variant and p.get("variant") not in (variant, None):
                continue
            return _descriptor(m, what)[0]
    raise NotFound(f"{what}: no manifest for platform {want}")


def pull(
    client: RegistryClient,
    store: BlobStore,
    repo: str,
    ref: str,
    platform: str | None = None,
    *,
    progress: BlobProgress | None = None,
    workers: int = 3,
    events: Reporter | MessageSink | None = None,
) -> str:
    """Pull ``repo:ref`` into ``store``; returns the digest ``ref`` resolved to.

    That is the index's digest for a multi-platform image (the index and the
    one platform's manifest are stored), else the manifest's.  ``events``
    receives docker's pull messages for the layers ("Pulling fs layer",
    "Downloading", "Download complete", "Already exists", ...; see
    :mod:`cove.registry.progress`), from the download threads too.
    """
    want = platform or host_platform()
    what = f"{client.host}/{repo}:{ref}"
    out = reporter(events)
    top, top_type, top_digest = client.get_manifest(repo, ref)
    out.status(f"Pulling from {repo}", ref)
    manifests = [(top, top_digest)]
    doc = _json(top, what)
    if is_index(top_type, doc):
        digest = select_platform(doc, want, what)
        data, _, digest = client.get_manifest(repo, digest)
        manifests.insert(0, (data, digest))
        doc = _json(data, f"{what}@{digest}")
    layers = doc.get("layers")
    if not isinstance(layers, list):
        raise InvalidArgument(f"{what}: manifest without layers")
    config = _descriptor(doc.get("config"), what)
    blobs = [config] + [_descriptor(layer, what) for layer in layers]
    unique: dict[str, int] = {}
    for digest, size in blobs:
        unique.setdefault(digest, size)
    present = {d for d in unique if store.exists(d)}
    todo = [(d, size) for d, size in unique.items() if d not in present]
    # An image whose blobs are all here gets no layer lines, as docker prints
    # none for an image it has; a layer shared with another image "Already exists".
    quiet = not todo
    for digest, size in unique.items():
        shown = digest != config[0] and not quiet  # docker does not show the config blob
        if digest in present:
            if progress is not None:
                progress(digest, size, size)
            if shown:
                out.status("Already exists", short_id(digest))
        elif shown:
            out.status("Pulling fs layer", short_id(digest))
    if out.enabled:
        queued = [d for d, _ in todo if d != config[0]][max(1, workers):]
        for digest in queued:
            out.status("Waiting", short_id(digest))

    def fetch(item: tuple[str, int]) -> None:
        digest, size = item
        ident = short_id(digest) if digest != config[0] and out.enabled else None

        def cb(done: int, _total: int) -> None:
            if progress is not None:
                progress(digest, done, size)
            if ident is not None:
                out.bytes("Downloading", ident, done, size)

        def retrying(delay: float, _exc: BaseException) -> None:
            if ident is not None:
                out.status(retry_text(delay), ident)

        # Not ``with``: the store drops the partial data when its block fails,
        # and an interrupted download must stay for the next pull to resume.
        w = store.writer(f"pull-{digest}", expected=digest, size=size)
        try:
            client.fetch_blob(repo, digest, w, size=size, progress=cb, on_retry=retrying)
            if ident is not None:
                out.status("Verifying Checksum", ident)
            w.commit()
        finally:
            w.close()
        if ident is not None:
            out.status("Download complete", ident)

    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
            for future in [pool.submit(fetch, item) for item in todo]:
                future.result()
    for data, digest in manifests:
        store.put(data, expected=digest)
    log.info("pulled %s (%s)", what, top_digest)
    return top_digest
