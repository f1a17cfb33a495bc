"""The image service: pull, push, tag, remove, list, inspect, prune, container rootfs.

It composes the content store (``<root>/content``), the metadata database
(``<root>/metadata.db``) and the snapshotter chosen once for ``<root>/snapshots``.

Every operation that adds objects runs under a metadata lease, so a concurrent
garbage collection never removes half-written work, and a failed pull or create
leaves no image: its blobs and snapshots are unreferenced once the lease ends
and the next collection removes them.

Layers are unpacked into committed snapshots keyed by their OCI chain ID; the
unpacked diff_id must equal the config's ``rootfs.diff_ids[n]``, else the image
is refused.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

from cove.content import ContentStore
from cove.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cove.images.archive import export_tree
from cove.images.chain import chain_ids
from cove.images.commit import commit_config, write_diff
from cove.images.filters import PRUNE_KEYS, image_filters, parse_time_ns, until_seconds
from cove.images.reference import Reference, parse_reference
from cove.metadata import Descriptor, Image, ImageFilters, MetadataStore
from cove.metadata.store import DANGLING_PREFIX
from cove.oci.image import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_LAYER,
    MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_MANIFEST,
    ImageConfig,
    Index,
    Manifest,
    canonical_json,
    host_platform,
    parse_config,
    parse_manifest,
    select_platform,
)
from cove.oci.image import Descriptor as OciDescriptor
from cove.registry import CredentialStore, RegistryClient
from cove.registry import pull as registry_pull
from cove.registry import push as registry_push
from cove.registry.progress import MessageSink, Reporter, reporter, short_id
from cove.snapshots import (
    Mount,
    NativeSnapshotter,
    OverlaySnapshotter,
    Snapshotter,
    apply_layer,
    choose_snapshotter,
    mounted,
)
from cove.snapshots.changes import without_mount_points

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (digest, bytes done, total)
LayerSource = bytes | str | Path  # a layer tar (maybe compressed), its file, or a directory

_ID_PREFIX = "sha256:"


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """An image as the service sees it: a name, its target and what that resolves to."""

    name: str
    target: Descriptor  # the index or manifest the name points at
    manifest_digest: str  # the platform's manifest (== target.digest without an index)
    config_digest: str
    chain: tuple[str, ...]  # chain IDs (snapshot keys), base first

    @property
    def id(self) -> str:
        """Docker's image ID: the config digest."""
        return self.config_digest


@dataclass(frozen=True, slots=True)
class _Resolved:
    manifest_digest: str
    manifest: Manifest
    config_digest: str
    config: ImageConfig


def _rfc3339(ns: int) -> str:
    t = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(value: str | None) -> int:
    """Seconds since the epoch of an RFC 3339 time (0 when absent or unreadable)."""
    if not value:
        return 0
    text = value.strip().replace("Z", "+00:00")
    if "." in text:  # fromisoformat takes at most microseconds
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return int(datetime.datetime.fromisoformat(text).timestamp())
    except ValueError:
        return 0


def _parse_platform(platform: str | None) -> tuple[str, str | None, str | None]:
    if not platform:
        return "linux", None, None
    parts = platform.split("/")
    if len(parts) < 2 or len(parts) > 3 or not all(parts):
        raise InvalidArgument(f'invalid platform "{platform}": want os/arch[/variant]')
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _tar_dir(path: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(path)):
            tar.add(os.path.join(path, name), arcname=name)
    return buf.getvalue()


def _layer_bytes(source: LayerSource) -> bytes:
    """A layer blob: directories are tarred and gzipped, tar files and bytes kept as they are."""
    if isinstance(source, bytes):
        data = source
    elif os.path.isdir(source):
        data = _tar_dir(str(source))
    else:
        with open(source, "rb") as fh:
            data = fh.read()
    if data[:2] == b"\x1f\x8b":
        return data
    return gzip.compress(data, mtime=0)


def _diff_id(layer: bytes) -> str:
    raw = layer
    if layer[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(layer)
        except (OSError, EOFError, zlib.error) as e:
            raise InvalidArgument(f"layer is not valid gzip: {e}") from None
    return _ID_PREFIX + hashlib.sha256(raw).hexdigest()


def _normal_name(ref: str) -> Reference:
    return parse_reference(ref).default_tag()


class ImageService:
    """Images under ``root`` (e.g. /var/lib/cove): a store, a database, a snapshotter."""

    def __init__(
        self,
        root: str | Path,
        *,
        certs_dir: str = "/etc/cove/certs.d",
        snapshotter: str | None = None,
    ) -> None:
        """``snapshotter``: "overlay" or "native" to force one (default: detected once)."""
        self.root = str(root)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.content = ContentStore(os.path.join(self.root, "content"))
        self.metadata = MetadataStore(os.path.join(self.root, "metadata.db"))
        snapshots = os.path.join(self.root, "snapshots")
        self.snapshotter: Snapshotter
        if snapshotter is None:
            self.snapshotter = choose_snapshotter(snapshots)
        elif snapshotter == "overlay":
            self.snapshotter = OverlaySnapshotter(snapshots)
        elif snapshotter == "native":
            self.snapshotter = NativeSnapshotter(snapshots)
        else:
            raise InvalidArgument(f"unknown snapshotter {snapshotter!r}: overlay or native")
        self.certs_dir = certs_dir

    def close(self) -> None:
        self.metadata.close()

    def __enter__(self) -> ImageService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading images ----------------------------------------------------------------------

    def _resolve_target(self, target: Descriptor, platform: str | None = None) -> _Resolved:
        data = self.content.read(target.digest)
        doc = parse_manifest(data, target.media_type)
        manifest_digest = target.digest
        if isinstance(doc, Index):
            os_, arch, variant = _parse_platform(platform)
            desc = select_platform(doc, os_, arch, variant)
            manifest_digest = desc.digest
            doc = parse_manifest(self.content.read(desc.digest), desc.media_type)
            if isinstance(doc, Index):
                raise InvalidArgument(f"{target.digest}: nested index is not supported")
        config = parse_config(self.content.read(doc.config.digest))
        if len(config.diff_ids) != len(doc.layers):
            raise InvalidArgument(
                f"manifest {manifest_digest}: {len(doc.layers)} layers but the config has "
                f"{len(config.diff_ids)} diff_ids"
            )
        return _Resolved(manifest_digest, doc, doc.config.digest, config)

    def _record(self, image: Image) -> ImageRecord:
        r = self._resolve_target(image.target)
        return ImageRecord(image.name, image.target, r.manifest_digest, r.config_digest,
                           tuple(chain_ids(r.config.diff_ids)))

    def _config_digest(self, image: Image) -> str | None:
        try:
            return self._resolve_target(image.target).config_digest
        except (NotFound, InvalidArgument):
            return None

    def _find(self, name_or_id: str) -> list[Image]:
        """The images a name or an (abbreviated) ID names; all names of the ID's image."""
        try:
            ref = _normal_name(name_or_id)
        except InvalidArgument:
            ref = None
        if ref is not None:
            try:
                return [self.metadata.get_image(str(ref))]
            except NotFound:
                pass
        hex_part = name_or_id.removeprefix(_ID_PREFIX).lower()
        if hex_part and len(hex_part) <= 64 and all(c in "0123456789abcdef" for c in hex_part):
            by_id: dict[str, list[Image]] = {}
            for image in self.metadata.list_images():
                cid = self._config_digest(image)
                if cid is not None and cid.removeprefix(_ID_PREFIX).startswith(hex_part):
                    by_id.setdefault(cid, []).append(image)
                elif image.target.digest == name_or_id:
                    by_id.setdefault(image.target.digest, []).append(image)
            if len(by_id) == 1:
                return next(iter(by_id.values()))
            if len(by_id) > 1:
                raise InvalidArgument(f"ambiguous image ID prefix: {name_or_id}")
        raise NotFound(f"No such image: {name_or_id}")

    def get(self, name_or_id: str) -> ImageRecord:
        return self._record(self._find(name_or_id)[0])

    # -- adding images -----------------------------------------------------------------------

    def _layer_dir(self, mounts: list[Mount]) -> tuple[str, bool, tuple[str, ...]]:
        """Where to extract into a fresh active snapshot, whether in overlay form, and
        the layers below (newest first) when in overlay form."""
        for m in mounts:
            if m.type == "overlay":
                upper = ""
                lowers: tuple[str, ...] = ()
                for opt in m.options:
                    if opt.startswith("upperdir="):
                        upper = opt[len("upperdir="):]
                    elif opt.startswith("lowerdir="):
                        lowers = tuple(opt[len("lowerdir="):].split(":"))
                if upper:
                    return upper, True, lowers
            if m.type == "bind":
                return m.source, isinstance(self.snapshotter, OverlaySnapshotter), ()
        raise InvalidArgument(f"cannot unpack into mounts {mounts!r}")

    def _snapshot_exists(self, key: str) -> bool:
        try:
            self.snapshotter.stat(key)
        except NotFound:
            return False
        return True

    def _unpack(self, lease: str, r: _Resolved, out: Reporter | None = None
                ) -> tuple[str, ...]:
        """Unpack every layer not yet present; returns the chain IDs.

        ``out`` hears docker's "Extracting" (compressed bytes read) and "Pull
        complete" for each layer unpacked here.
        """
        chain = chain_ids(r.config.diff_ids)
        parent: str | None = None
        for n, (layer, key) in enumerate(zip(r.manifest.layers, chain, strict=True)):
            self.metadata.lease_add(lease, snapshots=[key])
            if not self._snapshot_exists(key):
                active = f"extract-{uuid.uuid4().hex}-{key}"
                self.metadata.lease_add(lease, snapshots=[active])
                mounts = self.snapshotter.prepare(active, parent)
                try:
                    dest, overlay_form, lowers = self._layer_dir(mounts)
                    with self.content.open(layer.digest) as stream:
                        source: BinaryIO = stream
                        if out is not None and out.enabled:
                            source = cast(BinaryIO, _Counted(stream, out, short_id(layer.digest),
                                                               layer.size))
                        stats = apply_layer(source, dest, media_type=layer.media_type,
                                            for_overlay=overlay_form, lowers=lowers)
                    if stats.diff_id != r.config.diff_ids[n]:
                        raise InvalidArgument(
                            f"layer {layer.digest}: unpacked diff_id {stats.diff_id} does not "
                            f"match the config's rootfs.diff_ids[{n}] {r.config.diff_ids[n]}"
                        )
                    try:
                        self.snapshotter.commit(key, active)
                    except AlreadyExists:  # a concurrent pull unpacked it first
                        self.snapshotter.remove(active)
                except BaseException:
                    if self._snapshot_exists(active):
                        self.snapshotter.remove(active)
                    raise
                if out is not None:
                    out.status("Pull complete", short_id(layer.digest))
                log.debug("unpacked %s as %s", layer.digest, key)
            self.metadata.put_snapshot(key, parent)
            self.metadata.add_snapshot_ref(r.config_digest, key)
            parent = key
        return tuple(chain)

    def _register(
        self, lease: str, name: str, target: Descriptor, platform: str | None = None,
        labels: dict[str, str] | None = None, out: Reporter | None = None,
    ) -> ImageRecord:
        """Record the graph below ``target``, unpack its layers, then name it."""
        self.metadata.lease_add(lease, content=[target.digest])
        r = self._resolve_target(target, platform)
        blobs = [r.config_digest] + [layer.digest for layer in r.manifest.layers]
        self.metadata.lease_add(lease, content=[r.manifest_digest, *blobs])
        if r.manifest_digest != target.digest:
            self.metadata.add_content_refs(target.digest, [r.manifest_digest])
        self.metadata.add_content_refs(r.manifest_digest, blobs)
        chain = self._unpack(lease, r, out)
        # The config's labels ride on the name, so the database filters by them.
        self.metadata.put_image(name, target, dict(r.config.labels) if labels is None else labels)
        return ImageRecord(name, target, r.manifest_digest, r.config_digest, chain)

    def _client(
        self, ref: Reference, insecure: bool, credentials: CredentialStore | None
    ) -> RegistryClient:
        return RegistryClient(ref.domain, insecure=insecure, certs_dir=self.certs_dir,
                              credentials=credentials)

    def _lease_remote(
        self, client: RegistryClient, lease: str, repo: str, ref: str, platform: str | None
    ) -> str | None:
        """Put every blob the pull will write under ``lease`` before it is written.

        A collection running during the download then keeps what is already
        committed.  Returns the platform (``os/arch[/variant]``) chosen from an
        index, so the registry pull picks the same manifest.
        """
        data, media_type, digest = client.get_manifest(repo, ref)
        doc = parse_manifest(data, media_type)
        digests = [digest]
        chosen = platform
        if isinstance(doc, Index):
            os_, arch, variant = _parse_platform(platform)
            desc = select_platform(doc, os_, arch, variant)
            if desc.platform is not None:
                chosen = "/".join(
                    [desc.platform.os, desc.platform.architecture]
                    + ([desc.platform.variant] if desc.platform.variant else [])
                )
            data, media_type, _ = client.get_manifest(repo, desc.digest)
            digests.append(desc.digest)
            doc = parse_manifest(data, media_type)
            if isinstance(doc, Index):
                raise InvalidArgument(f"{repo}@{desc.digest}: nested index is not supported")
        digests += [doc.config.digest] + [layer.digest for layer in doc.layers]
        self.metadata.lease_add(lease, content=digests)
        return chosen

    def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        progress: Progress | None = None,
        insecure: bool = False,
        credentials: CredentialStore | None = None,
        events: MessageSink | None = None,
    ) -> ImageRecord:
        """Pull ``ref`` (tag ``latest`` by default), unpack it, and name it.

        ``events`` receives the messages of docker's ``POST /images/create``
        stream (dicts to serialise as JSON lines), from several threads but
        one call at a time; errors are raised, not sent.
        """
        reference = _normal_name(ref)
        registry_ref = reference.digest or reference.tag
        assert registry_ref is not None
        _parse_platform(platform)
        out = reporter(events)
        try:
            before: str | None = self.metadata.get_image(str(reference)).target.digest
        except NotFound:
            before = None
        with self.metadata.lease(labels={"pull": str(reference)}) as lease:
            client = self._client(reference, insecure, credentials)
            try:
                chosen = self._lease_remote(client, lease, reference.path, registry_ref,
                                            platform)
                digest = registry_pull(client, self.content, reference.path, registry_ref,
                                       chosen, progress=progress, events=out)
            finally:
                client.close_all()
            data = self.content.read(digest)
            media_type = parse_manifest(data).media_type or MEDIA_TYPE_OCI_MANIFEST
            target = Descriptor(media_type, digest, len(data))
            record = self._register(lease, str(reference), target, platform, out=out)
        out.status(f"Digest: {digest}")
        if before == digest:
            out.status(f"Status: Image is up to date for {reference.familiar()}")
        else:
            out.status(f"Status: Downloaded newer image for {reference.familiar()}")
        return record

    def push(
        self,
        ref: str,
        *,
        progress: Progress | None = None,
        insecure: bool = False,
        credentials: CredentialStore | None = None,
        events: MessageSink | None = None,
        mount_from: str | None = None,
    ) -> str:
        """Push the image named ``ref``; returns the pushed manifest (or index) digest.

        ``events`` receives the messages of docker's ``POST /images/{name}/push``
        stream, ending with ``<tag>: digest: ... size: N`` and the ``aux`` object.
        ``mount_from``: a repository of the same registry (``team/base``) whose
        blobs are mounted rather than uploaded ("Mounted from team/base").
        """
        reference = _normal_name(ref)
        image = self.metadata.get_image(str(reference))
        tag = reference.tag or image.target.digest
        out = reporter(events)
        out.status(f"The push refers to repository [{reference.repository}]")
        client = self._client(reference, insecure, credentials)
        try:
            return registry_push(client, self.content, reference.path, tag,
                                 image.target.digest, progress=progress, events=out,
                                 mount_from=mount_from)
        finally:
            client.close_all()

    def create_image(
        self,
        layers: Sequence[LayerSource],
        config: dict[str, Any],
        name: str,
    ) -> ImageRecord:
        """Make an OCI image from layer tars or directories (gzipped) and a config.

        ``config`` is an OCI image config; ``architecture``/``os`` default to the
        host's, ``rootfs.diff_ids`` are computed unless given.
        """
        reference = _normal_name(name)
        blobs = [_layer_bytes(layer) for layer in layers]
        doc = json.loads(json.dumps(config))
        if "architecture" not in doc or "os" not in doc:
            host = host_platform()
            doc.setdefault("architecture", host.architecture)
            doc.setdefault("os", host.os)
            if host.variant:
                doc.setdefault("variant", host.variant)
        rootfs = doc.setdefault("rootfs", {"type": "layers"})
        rootfs.setdefault("type", "layers")
        if "diff_ids" not in rootfs:
            rootfs["diff_ids"] = [_diff_id(b) for b in blobs]
        doc.setdefault("created", _rfc3339(time.time_ns()))
        config_bytes = canonical_json(doc)
        parse_config(config_bytes)
        with self.metadata.lease(labels={"create": str(reference)}) as lease:
            layer_descs = []
            for blob in blobs:
                digest = self.content.put(blob)
                self.metadata.lease_add(lease, content=[digest])
                gz = blob[:2] == b"\x1f\x8b"
                media = MEDIA_TYPE_OCI_LAYER_GZIP if gz else MEDIA_TYPE_OCI_LAYER
                layer_descs.append(OciDescriptor(media, digest, len(blob)))
            config_digest = self.content.put(config_bytes)
            self.metadata.lease_add(lease, content=[config_digest])
            manifest = Manifest(
                config=OciDescriptor(MEDIA_TYPE_OCI_CONFIG, config_digest, len(config_bytes)),
                layers=tuple(layer_descs),
            )
            data = manifest.to_json()
            digest = self.content.put(data)
            target = Descriptor(MEDIA_TYPE_OCI_MANIFEST, digest, len(data))
            return self._register(lease, str(reference), target)

    # -- names -------------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> ImageRecord:
        image = self._find(source)[0]
        name = str(_normal_name(target))
        new = self.metadata.put_image(name, image.target, image.labels)
        return self._record(new)

    def remove(self, name_or_id: str, force: bool = False) -> list[dict[str, str]]:
        """docker rmi: untag; delete the image when no name is left; then collect.

        Returns docker's ``[{"Untagged": ...}, {"Deleted": ...}]`` items.
        """
        images = self._find(name_or_id)
        out: list[dict[str, str]] = []
        by_name = False
        try:
            by_name = self.metadata.get_image(str(_normal_name(name_or_id))) == images[0]
        except (InvalidArgument, NotFound):
            pass
        target = images[0].target
        config_id = self._config_digest(images[0]) or target.digest
        if by_name:
            others = [i for i in self.metadata.images_by_target(target.digest)
                      if i.name != images[0].name]
            # Untagging one of several names never conflicts with a container.
            self.metadata.delete_image(images[0].name, force=force or bool(others))
            out.append({"Untagged": _display(images[0].name)})
            if others:
                return out
        else:
            if len(images) > 1 and not force:
                raise FailedPrecondition(
                    f"conflict: unable to delete {_short(config_id)} (must be forced) - image "
                    "is referenced in multiple repositories"
                )
            users = self.metadata.containers_using(images[0])
            if users and not force:
                raise FailedPrecondition(
                    f"conflict: unable to delete {_short(config_id)} (must be forced) - image "
                    f"is being used by stopped container {users[0][:12]}"
                )
            for image in images:
                self.metadata.delete_image(image.name, force=True)
                if not image.dangling:
                    out.append({"Untagged": _display(image.name)})
        if not self.metadata.images_by_target(target.digest):
            out.append({"Deleted": config_id})
        self.collect()
        return out

    # -- garbage collection ------------------------------------------------------------------

    def collect(self) -> tuple[list[str], int]:
        """Delete unreferenced blobs and snapshots; returns (deleted objects, bytes freed)."""
        freed = 0
        deleted: list[str] = []

        def delete_blob(digest: str) -> None:
            nonlocal freed
            try:
                freed += self.content.size(digest)
            except NotFound:
                pass
            self.content.delete(digest)
            deleted.append(digest)

        def delete_snapshot(key: str) -> None:
            nonlocal freed
            try:
                freed += self.snapshotter.usage(key).size
            except NotFound:
                pass
            self.snapshotter.remove(key)
            deleted.append(key)

        keys = [info.name for info in self.snapshotter.walk()]
        self.metadata.collect(list(self.content.digests()), keys, delete_blob, delete_snapshot)
        return deleted, freed

    def prune(
        self, all: bool = False, filters: dict[str, list[str]] | None = None
    ) -> tuple[list[dict[str, str]], int]:
        """docker image prune: dangling images (every unused one with ``all``).

        Filters: ``until`` (a time as seconds, RFC 3339 or a duration like ``10m``),
        ``label`` (``key``, ``key=value``) and ``label!`` (left out when every one
        matches, as docker does).  Images a container uses stay.
        """
        wanted = image_filters(filters, PRUNE_KEYS)
        until = [until_seconds(v) for v in wanted.until]
        candidates = self.metadata.list_images(
            ImageFilters(dangling=None if all else True, labels=wanted.labels,
                         not_labels=wanted.not_labels)
        )
        deleted: list[dict[str, str]] = []
        gone_targets: set[str] = set()
        for image in candidates:
            if any(image.created >= u * 1_000_000_000 for u in until):
                continue
            if self.metadata.containers_using(image):
                continue
            config_id = self._config_digest(image) or image.target.digest
            self.metadata.delete_image(image.name)
            if not image.dangling:
                deleted.append({"Untagged": _display(image.name)})
            if not self.metadata.images_by_target(image.target.digest) and (
                image.target.digest not in gone_targets
            ):
                gone_targets.add(image.target.digest)
                deleted.append({"Deleted": config_id})
        _, freed = self.collect()
        return deleted, freed

    # -- listing and inspection --------------------------------------------------------------

    def _created_ns(self, image: Image) -> int:
        """When the image was made (its config's ``created``; else when it was recorded)."""
        try:
            created = self._resolve_target(image.target).config.created
        except (NotFound, InvalidArgument):
            created = None
        return parse_time_ns(created) or image.created

    def _groups(self, images: list[Image]) -> dict[str, list[Image]]:
        groups: dict[str, list[Image]] = {}
        for image in images:
            groups.setdefault(image.target.digest, []).append(image)
        return groups

    def _size(self, chain: Sequence[str]) -> int:
        total = 0
        for key in chain:
            try:
                total += self.snapshotter.usage(key).size
            except NotFound:
                pass
        return total

    @staticmethod
    def _names(images: list[Image]) -> tuple[list[str], list[str]]:
        tags: list[str] = []
        digests: list[str] = []
        for image in images:
            if image.dangling:
                continue
            ref = parse_reference(image.name)
            if ref.tag is not None:
                tags.append(ref.familiar())
            digest = ref.digest or image.target.digest
            rd = f"{ref.familiar_name()}@{digest}"
            if rd not in digests:
                digests.append(rd)
        return sorted(tags), sorted(digests)

    def inspect(self, name_or_id: str) -> dict[str, Any]:
        """docker image inspect: the Engine API's ImageInspect."""
        image = self._find(name_or_id)[0]
        images = self.metadata.images_by_target(image.target.digest)
        r = self._resolve_target(image.target)
        c = r.config
        tags, digests = self._names(images)
        chain = chain_ids(c.diff_ids)
        run = c.raw.get("config") if isinstance(c.raw.get("config"), dict) else {}
        assert isinstance(run, dict)
        config: dict[str, Any] = {
            "Hostname": "", "Domainname": "", "User": c.user,
            "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
            "ExposedPorts": {p: {} for p in c.exposed_ports} or None,
            "Tty": False, "OpenStdin": False, "StdinOnce": False,
            "Env": list(c.env),
            "Cmd": None if c.cmd is None else list(c.cmd),
            "Image": "",
            "Volumes": {v: {} for v in c.volumes} or None,
            "WorkingDir": c.working_dir,
            "Entrypoint": None if c.entrypoint is None else list(c.entrypoint),
            "OnBuild": run.get("OnBuild"),
            "Labels": dict(c.labels) or None,
        }
        if c.stop_signal:
            config["StopSignal"] = c.stop_signal
        if isinstance(run.get("Healthcheck"), dict):
            config["Healthcheck"] = run["Healthcheck"]
        if isinstance(run.get("Shell"), list):
            config["Shell"] = run["Shell"]
        out: dict[str, Any] = {
            "Id": r.config_digest,
            "RepoTags": tags,
            "RepoDigests": digests,
            "Parent": "",
            "Comment": str(c.raw.get("comment") or ""),
            "Created": c.created or _rfc3339(image.created),
            "DockerVersion": "",
            "Author": c.author or "",
            "Config": config,
            "Architecture": c.architecture,
            "Os": c.os,
            "Size": self._size(chain),
            "GraphDriver": {
                "Name": type(self.snapshotter).__name__.removesuffix("Snapshotter").lower(),
                "Data": {"chain": chain[-1]} if chain else {},
            },
            "RootFS": {"Type": "layers", "Layers": list(c.diff_ids)},
            "Metadata": {"LastTagTime": _rfc3339(max(i.updated for i in images))},
        }
        if c.variant:
            out["Variant"] = c.variant
        if c.os_version:
            out["OsVersion"] = c.os_version
        return out

    def history(self, name_or_id: str) -> list[dict[str, Any]]:
        """docker history: one item per history entry, newest first."""
        image = self._find(name_or_id)[0]
        r = self._resolve_target(image.target)
        c = r.config
        tags, _ = self._names(self.metadata.images_by_target(image.target.digest))
        chain = chain_ids(c.diff_ids)
        sizes = []
        for n, key in enumerate(chain):
            try:
                sizes.append(self.snapshotter.usage(key).size)
            except NotFound:
                sizes.append(r.manifest.layers[n].size)
        entries: list[tuple[str | None, str, str, int]] = []
        if c.history:
            layer = 0
            for h in c.history:
                size = 0
                if not h.empty_layer and layer < len(sizes):
                    size = sizes[layer]
                    layer += 1
                entries.append((h.created, h.created_by or "", h.comment or "", size))
        else:
            entries = [(c.created, "", "", s) for s in sizes]
        out: list[dict[str, Any]] = []
        for i, (created, by, comment, size) in enumerate(reversed(entries)):
            out.append({
                "Id": r.config_digest if i == 0 else "<missing>",
                "Created": _parse_time(created),
                "CreatedBy": by,
                "Tags": tags if i == 0 else None,
                "Size": size,
                "Comment": comment,
            })
        return out

    # -- container root filesystems ----------------------------------------------------------

    @staticmethod
    def rootfs_key(container_id: str) -> str:
        return f"container-{container_id}"

    def prepare_rootfs(self, image: str, container_id: str) -> list[Mount]:
        """A writable snapshot on the image's layers for ``container_id``; its mounts."""
        found = self._find(image)[0]
        key = self.rootfs_key(container_id)
        # The container record first: from then on GC keeps the image's chain.
        self.metadata.add_container(container_id, image=found.name,
                                    image_target=found.target.digest, snapshot_key=key)
        try:
            record = self._record(found)
            for chain_key in record.chain:
                if not self._snapshot_exists(chain_key):
                    raise NotFound(f"image {found.name}: layer snapshot {chain_key} is missing")
            return self.snapshotter.prepare(key, record.chain[-1] if record.chain else None)
        except BaseException:
            self.metadata.remove_container(container_id)
            raise

    def _container_key(self, container_id: str) -> str:
        key = self.rootfs_key(container_id)
        if not self._snapshot_exists(key):
            raise NotFound(f"No such container: {container_id}")
        return key

    def changes(self, container_id: str, *,
                mount_points: Collection[str] = ()) -> list[dict[str, Any]]:
        """docker diff: the Engine API's ``[{"Path": "/etc/x", "Kind": 0|1|2}]``
        (modified, added, deleted) of the container's root filesystem, by path.
        ``mount_points``: the container's mount targets, whose stubs are not changes."""
        key = self._container_key(container_id)
        diff = without_mount_points(self.snapshotter.changes(key), mount_points)
        return [c.to_dict() for c in diff]

    def commit(
        self,
        container_id: str,
        reference: str | None = None,
        *,
        config: dict[str, Any] | None = None,
        changes: Sequence[str] = (),
        author: str | None = None,
        comment: str | None = None,
        created_by: str | None = None,
        mount_points: Collection[str] = (),
    ) -> ImageRecord:
        """docker commit: the container's changes as a new layer on its image.

        ``config``: the container's config as docker holds it (``Cmd``, ``Env``,
        ``Labels``, ...), which becomes the image's run config (default: the
        image's); ``changes`` are ``--change`` instructions applied after it.
        Nothing changed gives an empty-layer history entry and no layer, as
        docker does.  The image is named ``reference``, else left dangling.
        The caller pauses a running container first if it wants a consistent copy.
        """
        key = self._container_key(container_id)
        record = self.metadata.container(container_id)
        name = str(_normal_name(reference)) if reference else None
        base_layers: tuple[OciDescriptor, ...] = ()
        if record.image_target:
            data = self.content.read(record.image_target)
            media = parse_manifest(data).media_type or MEDIA_TYPE_OCI_MANIFEST
            r = self._resolve_target(Descriptor(media, record.image_target, len(data)))
            base, base_layers = r.config, r.manifest.layers
        else:
            host = host_platform()
            base = ImageConfig(architecture=host.architecture, os=host.os, diff_ids=(),
                               variant=host.variant)
        # The stubs the runtime made to mount over are not the container's work.
        diff = without_mount_points(self.snapshotter.changes(key), mount_points)
        created = _rfc3339(time.time_ns())
        with self.metadata.lease(labels={"commit": container_id}) as lease:
            layers = list(base_layers)
            diff_id = None
            if diff:
                with self.content.writer(f"commit-{uuid.uuid4().hex}") as writer:
                    diff_id = write_diff(self.snapshotter.diff_source(key), diff, writer)
                    digest = writer.commit()
                self.metadata.lease_add(lease, content=[digest])
                layers.append(OciDescriptor(MEDIA_TYPE_OCI_LAYER_GZIP, digest,
                                            self.content.size(digest)))
            new = commit_config(base, diff_id=diff_id, run_config=config, changes=changes,
                                author=author, comment=comment, created_by=created_by,
                                created=created)
            config_bytes = new.to_json()
            config_digest = self.content.put(config_bytes)
            self.metadata.lease_add(lease, content=[config_digest])
            manifest = Manifest(
                config=OciDescriptor(MEDIA_TYPE_OCI_CONFIG, config_digest, len(config_bytes)),
                layers=tuple(layers),
            ).to_json()
            manifest_digest = self.content.put(manifest)
            target = Descriptor(MEDIA_TYPE_OCI_MANIFEST, manifest_digest, len(manifest))
            return self._register(lease, name or DANGLING_PREFIX + manifest_digest, target)

    def export_rootfs(self, container_id: str, out: BinaryIO) -> None:
        """docker export: the container's root filesystem as a tar stream on ``out``.

        Mounts a read-only view of the container's snapshot (its changes over
        its image's layers) on a private directory for the duration; a running
        container's own mount is left alone.
        """
        key = self._container_key(container_id)
        mounts = [_read_only(m) for m in self.snapshotter.mounts(key)]
        scratch = os.path.join(self.root, "tmp")
        os.makedirs(scratch, mode=0o700, exist_ok=True)
        target = tempfile.mkdtemp(prefix=f"export-{container_id[:12]}-", dir=scratch)
        try:
            with mounted(mounts, target):
                export_tree(target, out)
        finally:
            os.rmdir(target)

    def release_rootfs(self, container_id: str) -> None:
        """Remove the container's snapshot and its record (the image stays)."""
        key = self.rootfs_key(container_id)
        if self._snapshot_exists(key):
            self.snapshotter.remove(key)
        self.metadata.remove_container(container_id)


    # Last in the class: its name shadows the builtin in later annotations.
    def list(
        self, filters: ImageFilters | Mapping[str, Sequence[str]] | None = None
    ) -> list[dict[str, Any]]:
        """docker images: one ImageSummary per image (config digest), newest first.

        ``filters``: an ImageFilters, or docker's filter map (see
        :func:`cove.images.filters.image_filters`).
        """
        if filters is not None and not isinstance(filters, ImageFilters):
            filters = image_filters(filters)
        before = since = None
        if filters is not None and filters.before:
            before = self._created_ns(self._find(filters.before)[0])
        if filters is not None and filters.since:
            since = self._created_ns(self._find(filters.since)[0])
        until = [until_seconds(u) * 1e9 for u in (filters.until if filters else ())]
        out: list[dict[str, Any]] = []
        for images in self._groups(self.metadata.list_images(filters)).values():
            try:
                record = self._record(images[0])
                config = self._resolve_target(images[0].target).config
            except (NotFound, InvalidArgument) as e:
                log.warning("image %s is unreadable: %s", images[0].name, e)
                continue
            created_ns = parse_time_ns(config.created) or images[0].created
            if before is not None and not created_ns < before:
                continue
            if since is not None and not created_ns > since:
                continue
            if any(created_ns > u for u in until):
                continue
            tags, digests = self._names(images)
            created = _parse_time(config.created) or images[0].created // 1_000_000_000
            size = self._size(record.chain)
            out.append({
                "Id": record.id,
                "ParentId": "",
                "RepoTags": tags,
                "RepoDigests": digests,
                "Created": created,
                "Size": size,
                "SharedSize": -1,
                "Labels": dict(config.labels),
                "Containers": sum(len(self.metadata.containers_using(i)) for i in images),
            })
        out.sort(key=lambda s: (-int(s["Created"]), str(s["Id"])))
        return out


def _read_only(m: Mount) -> Mount:
    """``m`` as a read-only mount that shares no work dir with a live mount of it."""
    if m.type == "overlay":
        opts = {o.split("=", 1)[0]: o.split("=", 1)[1] for o in m.options if "=" in o}
        lowers = [opts["upperdir"]] if "upperdir" in opts else []
        if opts.get("lowerdir"):
            lowers.append(opts["lowerdir"])
        return Mount("overlay", m.source, ("lowerdir=" + ":".join(lowers), "ro"))
    if m.type == "bind":
        return Mount("bind", m.source, (*[o for o in m.options if o != "rw"], "ro"))
    return m


class _Counted:
    """A layer blob's stream that reports docker's "Extracting" progress as it is read."""

    def __init__(self, raw: BinaryIO, out: Reporter, ident: str, total: int) -> None:
        self._raw = raw
        self._out = out
        self._ident = ident
        self._total = total
        self._done = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._done += len(data)
            self._out.bytes("Extracting", self._ident, self._done, self._total)
        return data


def _short(digest: str) -> str:
    return digest.removeprefix(_ID_PREFIX)[:12]


def _display(name: str) -> str:
    try:
        return parse_reference(name).familiar()
    except InvalidArgument:
        return name


__all__ = ["ImageRecord", "ImageService", "LayerSource", "Progress"]
