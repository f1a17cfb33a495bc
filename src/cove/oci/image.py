"""The OCI image model (image-spec 1.1) and Docker's schema2 equivalents.

Plain typed classes for descriptors, platforms, manifests, indexes and image
configs; parsers that validate every field the OCI schemas require, with
``InvalidArgument`` naming the field (``layers[1].digest``); ``to_json``
producing canonical bytes (sorted keys, no whitespace).  Pure data, no I/O
besides reading the host's machine name for the default platform.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from cove.errors import InvalidArgument, NotFound
from cove.oci.digest import digest_bytes, parse_digest

# -- media types -----------------------------------------------------------------

MEDIA_TYPE_OCI_DESCRIPTOR = "application/vnd.oci.descriptor.v1+json"
MEDIA_TYPE_OCI_LAYOUT_HEADER = "application/vnd.oci.layout.header.v1+json"
MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_TYPE_OCI_EMPTY = "application/vnd.oci.empty.v1+json"
MEDIA_TYPE_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_TYPE_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_TYPE_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_TYPE_OCI_LAYER_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar"
MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"

MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_TYPE_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_TYPE_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MEDIA_TYPE_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MEDIA_TYPE_DOCKER_LAYER_ZSTD = "application/vnd.docker.image.rootfs.diff.tar.zstd"
MEDIA_TYPE_DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar"
MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
MEDIA_TYPE_DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"

MANIFEST_MEDIA_TYPES = frozenset({MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST})
INDEX_MEDIA_TYPES = frozenset({MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST})
CONFIG_MEDIA_TYPES = frozenset({MEDIA_TYPE_OCI_CONFIG, MEDIA_TYPE_DOCKER_CONFIG})
LAYER_MEDIA_TYPES = frozenset(
    {
        MEDIA_TYPE_OCI_LAYER,
        MEDIA_TYPE_OCI_LAYER_GZIP,
        MEDIA_TYPE_OCI_LAYER_ZSTD,
        MEDIA_TYPE_OCI_LAYER_NONDIST,
        MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP,
        MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD,
        MEDIA_TYPE_DOCKER_LAYER,
        MEDIA_TYPE_DOCKER_LAYER_GZIP,
        MEDIA_TYPE_DOCKER_LAYER_ZSTD,
        MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
        MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
    }
)
NONDISTRIBUTABLE_MEDIA_TYPES = frozenset(
    {
        MEDIA_TYPE_OCI_LAYER_NONDIST,
        MEDIA_TYPE_OCI_LAYER_NONDIST_GZIP,
        MEDIA_TYPE_OCI_LAYER_NONDIST_ZSTD,
        MEDIA_TYPE_DOCKER_FOREIGN_LAYER,
        MEDIA_TYPE_DOCKER_FOREIGN_LAYER_GZIP,
    }
)
SCHEMA1_MEDIA_TYPES = frozenset({MEDIA_TYPE_DOCKER_SCHEMA1, MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED})

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"

_MEDIA_TYPE_RE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
_INT64_MAX = (1 << 63) - 1

JSON = dict[str, Any]


def canonical_json(obj: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes we hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- field checks ------------------------------------------------------------------


def _bad(where: str, problem: str) -> InvalidArgument:
    return InvalidArgument(f"{where}: {problem}")


def _object(value: Any, where: str) -> JSON:
    if not isinstance(value, dict):
        raise _bad(where, f"must be an object, not {type(value).__name__}")
    return value


def _get(obj: JSON, key: str, where: str, *, required: bool = False) -> Any:
    if key not in obj:
        if required:
            raise _bad(f"{where}{key}", "is required")
        return None
    return obj[key]


def _string(obj: JSON, key: str, where: str, *, required: bool = False) -> str | None:
    value = _get(obj, key, where, required=required)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _bad(f"{where}{key}", f"must be a string, not {type(value).__name__}")
    return value


def _strings(obj: JSON, key: str, where: str, *, nullable: bool = False) -> list[str] | None:
    value = _get(obj, key, where)
    if value is None:
        if key in obj and not nullable:
            raise _bad(f"{where}{key}", "must be an array of strings, not null")
        return None
    if not isinstance(value, list):
        raise _bad(f"{where}{key}", "must be an array of strings")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise _bad(f"{where}{key}[{i}]", "must be a string")
    return list(value)


def _string_map(
    obj: JSON, key: str, where: str, *, nullable: bool = False
) -> dict[str, str] | None:
    value = _get(obj, key, where)
    if value is None:
        if key in obj and not nullable:
            raise _bad(f"{where}{key}", "must be an object of strings, not null")
        return None
    mapping = _object(value, f"{where}{key}")
    for name, item in mapping.items():
        if not isinstance(item, str):
            raise _bad(f"{where}{key}[{name!r}]", "must be a string")
    return dict(mapping)


def _object_map(obj: JSON, key: str, where: str) -> dict[str, JSON] | None:
    value = _get(obj, key, where)
    if value is None:
        return None
    mapping = _object(value, f"{where}{key}")
    for name, item in mapping.items():
        _object(item, f"{where}{key}[{name!r}]")
    return dict(mapping)


def _bool(obj: JSON, key: str, where: str) -> bool | None:
    value = _get(obj, key, where)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _bad(f"{where}{key}", "must be a boolean")
    return value


def _media_type(obj: JSON, key: str, where: str, *, required: bool = False) -> str | None:
    value = _string(obj, key, where, required=required)
    if value is not None and not _MEDIA_TYPE_RE.fullmatch(value):
        raise _bad(f"{where}{key}", f"invalid media type {value!r}")
    return value


def _digest(obj: JSON, key: str, where: str) -> str:
    value = _string(obj, key, where, required=True)
    assert value is not None
    try:
        parse_digest(value)
    except InvalidArgument as exc:
        raise _bad(f"{where}{key}", str(exc)) from None
    return value


def _schema_version(obj: JSON, where: str) -> int:
    value = _get(obj, "schemaVersion", where, required=True)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{where}schemaVersion", "must be an integer")
    if value == 1:
        raise _bad(
            f"{where}schemaVersion",
            "Docker image manifest schema 1 is not supported (deprecated; "
            "push the image again with a current client to get schema 2)",
        )
    if value != 2:
        raise _bad(f"{where}schemaVersion", f"unsupported version {value} (expected 2)")
    return int(value)


# -- the model -----------------------------------------------------------------------


@dataclass(frozen=True)
class Platform:
    """The platform an image (or one manifest of an index) runs on."""

    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, value: Any, where: str = "platform") -> Platform:
        obj = _object(value, where)
        prefix = f"{where}."
        architecture = _string(obj, "architecture", prefix, required=True)
        os_name = _string(obj, "os", prefix, required=True)
        assert architecture is not None and os_name is not None
        features = _strings(obj, "os.features", prefix) or []
        return cls(
            architecture=architecture,
            os=os_name,
            variant=_string(obj, "variant", prefix),
            os_version=_string(obj, "os.version", prefix),
            os_features=tuple(features),
        )

    def to_dict(self) -> JSON:
        out: JSON = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        return out

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a blob is, how big, and its digest."""

    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    platform: Platform | None = None
    artifact_type: str | None = None
    data: str | None = None  # embedded content, base64

    @classmethod
    def from_dict(cls, value: Any, where: str = "descriptor") -> Descriptor:
        obj = _object(value, where)
        prefix = f"{where}."
        media_type = _media_type(obj, "mediaType", prefix, required=True)
        assert media_type is not None
        digest = _digest(obj, "digest", prefix)
        size = _get(obj, "size", prefix, required=True)
        if isinstance(size, bool) or not isinstance(size, int):
            raise _bad(f"{prefix}size", "must be an integer")
        if not 0 <= size <= _INT64_MAX:
            raise _bad(f"{prefix}size", f"out of range: {size}")
        data = _string(obj, "data", prefix)
        if data is not None:
            try:
                raw = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise _bad(f"{prefix}data", "is not valid base64") from None
            if len(raw) != size:
                raise _bad(f"{prefix}data", f"holds {len(raw)} bytes, size says {size}")
            algorithm, _ = parse_digest(digest)
            if digest_bytes(raw, algorithm) != digest:
                raise _bad(f"{prefix}data", f"does not match digest {digest}")
        platform = obj.get("platform")
        where_platform = f"{prefix}platform"
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            urls=tuple(_strings(obj, "urls", prefix) or ()),
            annotations=_string_map(obj, "annotations", prefix) or {},
            platform=None if platform is None else Platform.from_dict(platform, where_platform),
            artifact_type=_media_type(obj, "artifactType", prefix),
            data=data,
        )

    def to_dict(self) -> JSON:
        out: JSON = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        if self.data is not None:
            out["data"] = self.data
        return out

    @classmethod
    def of(cls, media_type: str, data: bytes, **extra: Any) -> Descriptor:
        """The descriptor of ``data`` (sha256)."""
        return cls(media_type=media_type, digest=digest_bytes(data), size=len(data), **extra)


@dataclass(frozen=True)
class Manifest:
    """An image manifest: a config and its layers (OCI or Docker schema2)."""

    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str | None = MEDIA_TYPE_OCI_MANIFEST
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    schema_version: int = 2

    def to_dict(self) -> JSON:
        out: JSON = {
            "schemaVersion": self.schema_version,
            "config": self.config.to_dict(),
            "layers": [layer.to_dict() for layer in self.layers],
        }
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.subject is not None:
            out["subject"] = self.subject.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())


@dataclass(frozen=True)
class Index:
    """An image index (or Docker manifest list): one manifest per platform."""

    manifests: tuple[Descriptor, ...]
    media_type: str | None = MEDIA_TYPE_OCI_INDEX
    annotations: dict[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str | None = None
    schema_version: int = 2

    def to_dict(self) -> JSON:
        out: JSON = {
            "schemaVersion": self.schema_version,
            "manifests": [m.to_dict() for m in self.manifests],
        }
        if self.media_type:
            out["mediaType"] = self.media_type
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.subject is not None:
            out["subject"] = self.subject.to_dict()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())


@dataclass(frozen=True)
class History:
    created: str | None = None
    created_by: str | None = None
    author: str | None = None
    comment: str | None = None
    empty_layer: bool = False

    def to_dict(self) -> JSON:
        out: JSON = {}
        for key in ("created", "created_by", "author", "comment"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.empty_layer:
            out["empty_layer"] = True
        return out


@dataclass(frozen=True)
class ImageConfig:
    """An image configuration: platform, run defaults (``config``), rootfs and history.

    Fields Cove does not model (Docker's Healthcheck, Shell, OnBuild, ...) are
    kept in ``raw`` and written back by :meth:`to_dict`.
    """

    architecture: str
    os: str
    diff_ids: tuple[str, ...]
    variant: str | None = None
    os_version: str | None = None
    os_features: tuple[str, ...] = ()
    created: str | None = None
    author: str | None = None
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    exposed_ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    stop_signal: str | None = None
    args_escaped: bool | None = None
    history: tuple[History, ...] = ()
    raw: JSON = field(default_factory=dict, compare=False, repr=False)

    @property
    def platform(self) -> Platform:
        return Platform(self.architecture, self.os, self.variant, self.os_version)

    def to_dict(self) -> JSON:
        out: JSON = dict(self.raw)
        out["architecture"] = self.architecture
        out["os"] = self.os
        for key, value in (
            ("variant", self.variant),
            ("os.version", self.os_version),
            ("created", self.created),
            ("author", self.author),
        ):
            if value is not None:
                out[key] = value
            else:
                out.pop(key, None)
        if self.os_features:
            out["os.features"] = list(self.os_features)
        cfg: JSON = dict(out.get("config") or {})
        fields: tuple[tuple[str, Any], ...] = (
            ("Env", list(self.env) if self.env else None),
            ("Cmd", list(self.cmd) if self.cmd is not None else None),
            ("Entrypoint", list(self.entrypoint) if self.entrypoint is not None else None),
            ("WorkingDir", self.working_dir or None),
            ("User", self.user or None),
            ("Labels", dict(self.labels) if self.labels else None),
            ("ExposedPorts", {p: {} for p in self.exposed_ports} or None),
            ("Volumes", {v: {} for v in self.volumes} or None),
            ("StopSignal", self.stop_signal),
            ("ArgsEscaped", self.args_escaped),
        )
        for key, value in fields:
            if value is not None:
                cfg[key] = value
            else:
                cfg.pop(key, None)
        if cfg:
            out["config"] = cfg
        else:
            out.pop("config", None)
        out["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        if self.history:
            out["history"] = [h.to_dict() for h in self.history]
        else:
            out.pop("history", None)
        return out

    def to_json(self) -> bytes:
        return canonical_json(self.to_dict())


# -- parsing -------------------------------------------------------------------------


def _load(data: bytes, what: str) -> JSON:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{what} must be a JSON object, not {type(doc).__name__}")
    return doc


def _descriptors(obj: JSON, key: str, *, min_items: int = 0) -> tuple[Descriptor, ...]:
    value = _get(obj, key, "", required=True)
    if not isinstance(value, list):
        raise _bad(key, "must be an array")
    if len(value) < min_items:
        raise _bad(key, f"must hold at least {min_items} descriptor(s)")
    return tuple(Descriptor.from_dict(item, f"{key}[{i}]") for i, item in enumerate(value))


def parse_manifest(data: bytes, media_type: str | None = None) -> Manifest | Index:
    """Parse a manifest or an index, told apart by ``mediaType`` (the document's or
    the transport's, e.g. a Content-Type) or, failing both, by its fields."""
    if media_type is not None:
        media_type = media_type.split(";", 1)[0].strip() or None
    if media_type in SCHEMA1_MEDIA_TYPES:
        raise InvalidArgument(
            f"mediaType: {media_type}: Docker image manifest schema 1 is not supported"
        )
    doc = _load(data, "manifest")
    declared = _media_type(doc, "mediaType", "")
    _schema_version(doc, "")
    if (
        declared is not None
        and media_type is not None
        and declared != media_type
        and media_type not in ("application/json", "application/octet-stream")
    ):
        raise _bad("mediaType", f"{declared!r} does not match the expected {media_type!r}")
    kind = declared or media_type
    if kind in INDEX_MEDIA_TYPES or (kind not in MANIFEST_MEDIA_TYPES and "manifests" in doc):
        if kind is not None and kind not in INDEX_MEDIA_TYPES and declared is not None:
            raise _bad("mediaType", f"unsupported manifest media type {kind!r}")
        if "config" in doc or "layers" in doc:
            raise _bad("manifests", "an index cannot also have config or layers")
        return Index(
            manifests=_descriptors(doc, "manifests"),
            media_type=declared,
            annotations=_string_map(doc, "annotations", "") or {},
            subject=_subject(doc),
            artifact_type=_media_type(doc, "artifactType", ""),
        )
    if kind is not None and kind not in MANIFEST_MEDIA_TYPES and declared is not None:
        raise _bad("mediaType", f"unsupported manifest media type {kind!r}")
    if "manifests" in doc:
        raise _bad("manifests", "a manifest cannot also have manifests")
    return Manifest(
        config=Descriptor.from_dict(_get(doc, "config", "", required=True), "config"),
        layers=_descriptors(doc, "layers", min_items=1),
        media_type=declared,
        annotations=_string_map(doc, "annotations", "") or {},
        subject=_subject(doc),
        artifact_type=_media_type(doc, "artifactType", ""),
    )


def _subject(doc: JSON) -> Descriptor | None:
    value = doc.get("subject")
    return None if value is None else Descriptor.from_dict(value, "subject")


def parse_config(data: bytes) -> ImageConfig:
    """Parse and validate an image config (OCI or Docker, they are the same shape)."""
    doc = _load(data, "image config")
    architecture = _string(doc, "architecture", "", required=True)
    os_name = _string(doc, "os", "", required=True)
    assert architecture is not None and os_name is not None
    rootfs = _object(_get(doc, "rootfs", "", required=True), "rootfs")
    rootfs_type = _string(rootfs, "type", "rootfs.", required=True)
    if rootfs_type != "layers":
        raise _bad("rootfs.type", f"must be 'layers', not {rootfs_type!r}")
    diff_ids = _strings(rootfs, "diff_ids", "rootfs.")
    if diff_ids is None:
        raise _bad("rootfs.diff_ids", "is required")
    for i, diff_id in enumerate(diff_ids):
        try:
            parse_digest(diff_id)
        except InvalidArgument as exc:
            raise _bad(f"rootfs.diff_ids[{i}]", str(exc)) from None
    cfg_value = doc.get("config")
    cfg = {} if cfg_value is None else _object(cfg_value, "config")
    p = "config."
    cmd = _strings(cfg, "Cmd", p, nullable=True)
    entrypoint = _strings(cfg, "Entrypoint", p, nullable=True)
    ports = _object_map(cfg, "ExposedPorts", p) or {}
    volumes_value = cfg.get("Volumes")
    volumes = {} if volumes_value is None else (_object_map(cfg, "Volumes", p) or {})
    history_value = doc.get("history")
    history: list[History] = []
    if history_value is not None:
        if not isinstance(history_value, list):
            raise _bad("history", "must be an array")
        for i, item in enumerate(history_value):
            where = f"history[{i}]."
            entry = _object(item, f"history[{i}]")
            history.append(
                History(
                    created=_string(entry, "created", where),
                    created_by=_string(entry, "created_by", where),
                    author=_string(entry, "author", where),
                    comment=_string(entry, "comment", where),
                    empty_layer=bool(_bool(entry, "empty_layer", where)),
                )
            )
    non_empty = sum(1 for h in history if not h.empty_layer)
    if history and non_empty != len(diff_ids):
        raise _bad(
            "history",
            f"{non_empty} non-empty entries for {len(diff_ids)} rootfs.diff_ids",
        )
    return ImageConfig(
        architecture=architecture,
        os=os_name,
        diff_ids=tuple(diff_ids),
        variant=_string(doc, "variant", ""),
        os_version=_string(doc, "os.version", ""),
        os_features=tuple(_strings(doc, "os.features", "") or ()),
        created=_string(doc, "created", ""),
        author=_string(doc, "author", ""),
        env=tuple(_strings(cfg, "Env", p, nullable=True) or ()),
        cmd=None if cmd is None else tuple(cmd),
        entrypoint=None if entrypoint is None else tuple(entrypoint),
        working_dir=_string(cfg, "WorkingDir", p) or "",
        user=_string(cfg, "User", p) or "",
        labels=_string_map(cfg, "Labels", p, nullable=True) or {},
        exposed_ports=tuple(ports),
        volumes=tuple(volumes),
        stop_signal=_string(cfg, "StopSignal", p),
        args_escaped=_bool(cfg, "ArgsEscaped", p),
        history=tuple(history),
        raw=doc,
    )


# -- platforms -------------------------------------------------------------------------

_MACHINES: dict[str, tuple[str, str | None]] = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
    "loongarch64": ("loong64", None),
}


def host_platform() -> Platform:
    """The OCI platform of this host (GOARCH naming: amd64, arm64/v8, arm/v7, ...)."""
    machine = os.uname().machine
    architecture, variant = _MACHINES.get(machine, (machine, None))
    return Platform(architecture=architecture, os="linux", variant=variant)


def _normal_variant(architecture: str, variant: str | None) -> str | None:
    if architecture == "arm64" and variant in (None, "", "v8"):
        return "v8"
    if architecture == "arm" and not variant:
        return "v7"
    return variant or None


def select_platform(
    index: Index,
    os: str = "linux",
    architecture: str | None = None,
    variant: str | None = None,
) -> Descriptor:
    """The index's manifest for os/architecture[/variant] (default: the host's).

    Without a variant, an entry without one is preferred, then the host's
    variant for that architecture, then the first match.
    """
    if architecture is None:
        host = host_platform()
        architecture = host.architecture
        preferred = host.variant
    else:
        preferred = None
    candidates: list[Descriptor] = []
    for desc in index.manifests:
        plat = desc.platform
        if plat is None or plat.os != os or plat.architecture != architecture:
            continue
        if desc.media_type not in MANIFEST_MEDIA_TYPES | INDEX_MEDIA_TYPES:
            continue
        if variant is not None and _normal_variant(architecture, plat.variant) != (
            _normal_variant(architecture, variant)
        ):
            continue
        candidates.append(desc)
    if not candidates:
        wanted = "/".join([os, architecture] + ([variant] if variant else []))
        available = sorted({str(d.platform) for d in index.manifests if d.platform is not None})
        raise NotFound(
            f"no matching manifest for {wanted} in the manifest list entries"
            f" (available: {', '.join(available) or 'none'})"
        )
    if variant is None:
        normal = _normal_variant(architecture, preferred)
        for desc in candidates:
            assert desc.platform is not None
            if _normal_variant(architecture, desc.platform.variant) == normal:
                return desc
    return candidates[0]
