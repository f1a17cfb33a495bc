"""save, load and import for the Engine API, on top of :mod:`cove.images.archive`.

The archive module reads and writes the tars; this one picks the images to save
(docker's rules for names) and makes loaded and imported images usable at once:
each is unpacked into snapshots and named in one step, so ``docker run`` works
right after ``docker load``, and a load whose unpacking fails names nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import BinaryIO

from cove.content import ContentStore
from cove.errors import InvalidArgument, NotFound
from cove.images import archive
from cove.images.reference import Reference, parse_reference
from cove.images.service import ImageRecord, ImageService
from cove.metadata import Descriptor as MetaDescriptor
from cove.metadata.store import DANGLING_PREFIX
from cove.oci.image import Descriptor

log = logging.getLogger(__name__)


def _oci(desc: MetaDescriptor) -> Descriptor:
    return Descriptor(media_type=desc.media_type, digest=desc.digest, size=desc.size)


def _meta(desc: Descriptor) -> MetaDescriptor:
    return MetaDescriptor(media_type=desc.media_type, digest=desc.digest, size=desc.size)


def _repository_tags(images: ImageService, ref: Reference) -> list[str]:
    return [i.name for i in images.metadata.list_images()
            if not i.dangling and parse_reference(i.name).repository == ref.repository
            and parse_reference(i.name).tag is not None]


def select_for_save(images: ImageService, names: Iterable[str]) -> list[tuple[str, Descriptor]]:
    """(stored name or "", target) of each image to save, as ``docker save`` picks them.

    A name with a tag or digest is that image; a bare repository name is every
    tag of it held here; an ID is the image without a name.  An unknown one is
    NotFound before anything is written.
    """
    out: list[tuple[str, Descriptor]] = []
    seen: set[tuple[str, str]] = set()
    for given in names:
        if not given:
            raise InvalidArgument("image name must not be empty")
        picked: list[tuple[str, MetaDescriptor]] = []
        ref: Reference | None
        try:
            ref = parse_reference(given)
        except InvalidArgument:
            ref = None
        if ref is not None and ref.name_only:
            picked = [(n, images.metadata.get_image(n).target)
                      for n in _repository_tags(images, ref)]
        if not picked:
            try:
                record = images.get(given)
            except NotFound:
                raise NotFound(f"No such image: {given}") from None
            stored = ""
            if ref is not None and not ref.name_only:
                try:
                    stored = images.metadata.get_image(str(ref)).name
                except NotFound:
                    stored = ""
            picked = [(stored, record.target)]
        for name, target in picked:
            if (name, target.digest) not in seen:
                seen.add((name, target.digest))
                out.append((name, _oci(target)))
    return out


def save(store: ContentStore, selected: list[tuple[str, Descriptor]], out: BinaryIO) -> None:
    """The tar of ``docker save`` (runs on a writer thread: the store, not the service)."""
    archive.save(store, selected, out)


def _register(images: ImageService, lease: str, name: str, target: Descriptor) -> ImageRecord:
    # The service has no public "unpack and name" for content already in the store;
    # its pull path's step is the one that makes an image runnable.
    return images._register(lease, name, _meta(target))


def _name_all(images: ImageService, lease: str,
              items: list[tuple[str | None, Descriptor]]) -> list[ImageRecord]:
    """Unpack and name each image; on failure take back the names this call added."""
    added: list[str] = []
    records: list[ImageRecord] = []
    try:
        for name, desc in items:
            stored = name or DANGLING_PREFIX + desc.digest
            try:
                images.metadata.get_image(stored)
            except NotFound:
                added.append(stored)
            archive.record_refs(images.content, images.metadata, desc)
            records.append(_register(images, lease, stored, desc))
    except BaseException:
        for stored in added:
            try:
                images.metadata.delete_image(stored, force=True)
            except NotFound:
                pass
        raise
    return records


def load(images: ImageService, stream: BinaryIO) -> list[tuple[str | None, ImageRecord]]:
    """``docker load``: every image of the tar, unpacked and named (all or none)."""
    try:
        with images.metadata.lease(labels={"cove.load": "1"}) as lease:
            loaded = archive.load(images.content, stream)
            images.metadata.lease_add(lease, content=[d.digest for _, d in loaded])
            records = _name_all(images, lease, loaded)
    except BaseException:
        # What the archive put in the store is unreferenced now: take it away.
        _collect(images)
        raise
    return [(name, record) for (name, _), record in zip(loaded, records, strict=True)]


def import_image(images: ImageService, source: BinaryIO | str, *, repo: str | None,
                 changes: list[str], message: str | None) -> ImageRecord:
    """``docker import``: a rootfs tarball (body or loopback URL) as a one-layer image."""
    name: str | None = None
    if repo:
        name = str(parse_reference(repo).default_tag())
    try:
        with images.metadata.lease(labels={"cove.import": repo or "-"}) as lease:
            desc = archive.import_rootfs(images.content, source, changes=changes,
                                         message=message)
            images.metadata.lease_add(lease, content=[desc.digest])
            return _name_all(images, lease, [(name, desc)])[0]
    except BaseException:
        _collect(images)
        raise


def _collect(images: ImageService) -> None:
    try:
        images.collect()
    except Exception:
        log.exception("garbage collection after a failed load/import")


def loaded_message(name: str | None, record: ImageRecord) -> str:
    """docker's line for one loaded image."""
    if name:
        return f"Loaded image: {parse_reference(name).familiar()}\n"
    return f"Loaded image ID: {record.id}\n"


__all__ = ["import_image", "load", "loaded_message", "save", "select_for_save"]
