"""The image model: parsing, validation against the OCI schemas, platform choice."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT4

from cove.errors import InvalidArgument, NotFound
from cove.oci import image as im
from cove.oci.digest import digest_bytes
from tests.helpers import SPECS

IMAGE_SPECS = SPECS / "oci-image"


def _retrieve(uri: str) -> Resource[Any]:
    # The image schemas carry absolute ids (https://opencontainers.org/schema/...)
    # and nested ids that move the base of relative $refs: resolve every
    # reference by its file name in the shared specs directory.
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    path = IMAGE_SPECS / name
    if not path.is_file():
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
    return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT4)


def validator(name: str, directory: str = "oci-image") -> Draft4Validator:
    schema = json.loads((SPECS / directory / name).read_text())
    return Draft4Validator(schema, registry=Registry(retrieve=_retrieve))  # type: ignore[call-arg]


CONFIG: dict[str, Any] = {
    "architecture": "amd64",
    "os": "linux",
    "created": "2026-01-01T00:00:00Z",
    "config": {
        "Env": ["PATH=/usr/bin:/bin"],
        "Cmd": ["/bin/sh"],
        "Entrypoint": None,
        "WorkingDir": "/srv",
        "User": "1000:1000",
        "Labels": {"a": "b"},
        "ExposedPorts": {"80/tcp": {}},
        "Volumes": {"/data": {}},
        "StopSignal": "SIGTERM",
        "Healthcheck": {"Test": ["CMD", "true"]},
    },
    "rootfs": {"type": "layers", "diff_ids": [digest_bytes(b"layer-tar")]},
    "history": [
        {"created_by": "ADD rootfs", "created": "2026-01-01T00:00:00Z"},
        {"created_by": "CMD", "empty_layer": True},
    ],
}


def config_bytes(**changes: Any) -> bytes:
    doc = json.loads(json.dumps(CONFIG))
    doc.update(changes)
    return json.dumps(doc).encode()


def manifest_dict(media_type: str = im.MEDIA_TYPE_OCI_MANIFEST) -> dict[str, Any]:
    docker = media_type == im.MEDIA_TYPE_DOCKER_MANIFEST
    cfg = config_bytes()
    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": im.MEDIA_TYPE_DOCKER_CONFIG if docker else im.MEDIA_TYPE_OCI_CONFIG,
            "digest": digest_bytes(cfg),
            "size": len(cfg),
        },
        "layers": [
            {
                "mediaType": im.MEDIA_TYPE_DOCKER_LAYER_GZIP
                if docker
                else im.MEDIA_TYPE_OCI_LAYER_GZIP,
                "digest": digest_bytes(b"layer"),
                "size": 5,
                "annotations": {"k": "v"},
            }
        ],
        "annotations": {"org.opencontainers.image.title": "t"},
    }


def index_dict(media_type: str = im.MEDIA_TYPE_OCI_INDEX) -> dict[str, Any]:
    def entry(arch: str, variant: str | None = None) -> dict[str, Any]:
        plat: dict[str, Any] = {"architecture": arch, "os": "linux"}
        if variant:
            plat["variant"] = variant
        return {
            "mediaType": im.MEDIA_TYPE_OCI_MANIFEST,
            "digest": digest_bytes(f"{arch}{variant}".encode()),
            "size": 100,
            "platform": plat,
        }

    return {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            entry("amd64"),
            entry("arm", "v6"),
            entry("arm", "v7"),
            entry("arm64", "v8"),
            {
                "mediaType": im.MEDIA_TYPE_OCI_MANIFEST,
                "digest": digest_bytes(b"attestation"),
                "size": 10,
                "platform": {"architecture": "unknown", "os": "unknown"},
            },
        ],
    }


# -- parsing and round trips -------------------------------------------------------------


def test_parse_oci_manifest_round_trip() -> None:
    doc = manifest_dict()
    parsed = im.parse_manifest(json.dumps(doc).encode())
    assert isinstance(parsed, im.Manifest)
    assert parsed.config.media_type == im.MEDIA_TYPE_OCI_CONFIG
    assert parsed.layers[0].annotations == {"k": "v"}
    assert parsed.to_dict() == doc
    out = parsed.to_json()
    assert out == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    validator("image-manifest-schema.json", "oci-image").validate(json.loads(out))
    assert im.parse_manifest(out) == parsed


def test_parse_docker_manifest_and_list() -> None:
    parsed = im.parse_manifest(json.dumps(manifest_dict(im.MEDIA_TYPE_DOCKER_MANIFEST)).encode())
    assert isinstance(parsed, im.Manifest)
    assert parsed.media_type == im.MEDIA_TYPE_DOCKER_MANIFEST
    lst = im.parse_manifest(
        json.dumps(index_dict(im.MEDIA_TYPE_DOCKER_MANIFEST_LIST)).encode(),
        im.MEDIA_TYPE_DOCKER_MANIFEST_LIST,
    )
    assert isinstance(lst, im.Index)
    assert len(lst.manifests) == 5


def test_parse_index_round_trip() -> None:
    doc = index_dict()
    parsed = im.parse_manifest(json.dumps(doc).encode(), im.MEDIA_TYPE_OCI_INDEX)
    assert isinstance(parsed, im.Index)
    assert parsed.to_dict() == doc
    validator("image-index-schema.json", "oci-image").validate(json.loads(parsed.to_json()))


def test_detect_without_media_type() -> None:
    m = manifest_dict()
    del m["mediaType"]
    assert isinstance(im.parse_manifest(json.dumps(m).encode()), im.Manifest)
    i = index_dict()
    del i["mediaType"]
    assert isinstance(im.parse_manifest(json.dumps(i).encode()), im.Index)
    # the transport's media type decides when the document has none
    assert isinstance(
        im.parse_manifest(json.dumps(m).encode(), im.MEDIA_TYPE_OCI_MANIFEST + "; charset=x"),
        im.Manifest,
    )


def test_descriptor_embedded_data() -> None:
    d = manifest_dict()
    d["layers"][0]["data"] = base64.b64encode(b"layer").decode()
    parsed = im.parse_manifest(json.dumps(d).encode())
    assert isinstance(parsed, im.Manifest)
    assert parsed.layers[0].data is not None
    d["layers"][0]["data"] = base64.b64encode(b"lay3r").decode()
    with pytest.raises(InvalidArgument, match=r"layers\[0\]\.data"):
        im.parse_manifest(json.dumps(d).encode())


def test_parse_config_round_trip() -> None:
    cfg = im.parse_config(config_bytes())
    assert cfg.env == ("PATH=/usr/bin:/bin",)
    assert cfg.cmd == ("/bin/sh",)
    assert cfg.entrypoint is None
    assert cfg.working_dir == "/srv"
    assert cfg.user == "1000:1000"
    assert cfg.labels == {"a": "b"}
    assert cfg.exposed_ports == ("80/tcp",)
    assert cfg.volumes == ("/data",)
    assert cfg.stop_signal == "SIGTERM"
    assert cfg.diff_ids == (digest_bytes(b"layer-tar"),)
    assert [h.empty_layer for h in cfg.history] == [False, True]
    assert cfg.platform == im.Platform("amd64", "linux")
    out = json.loads(cfg.to_json())
    assert out["config"]["Healthcheck"] == {"Test": ["CMD", "true"]}  # kept
    assert "Entrypoint" not in out["config"]
    validator("config-schema.json", "oci-image").validate(out)
    assert im.parse_config(cfg.to_json()) == cfg


def test_minimal_config_and_null_fields() -> None:
    cfg = im.parse_config(
        json.dumps(
            {
                "architecture": "arm64",
                "os": "linux",
                "config": {"Cmd": None, "Labels": None, "Volumes": None, "Env": None},
                "rootfs": {"type": "layers", "diff_ids": []},
            }
        ).encode()
    )
    assert cfg.cmd is None and cfg.labels == {} and cfg.env == ()
    validator("config-schema.json", "oci-image").validate(json.loads(cfg.to_json()))


def test_built_manifest_validates() -> None:
    cfg = im.Descriptor.of(im.MEDIA_TYPE_OCI_CONFIG, b"{}")
    layer = im.Descriptor.of(im.MEDIA_TYPE_OCI_LAYER_ZSTD, b"zz")
    m = im.Manifest(config=cfg, layers=(layer,))
    validator("image-manifest-schema.json", "oci-image").validate(json.loads(m.to_json()))
    idx = im.Index(
        manifests=(
            im.Descriptor.of(
                im.MEDIA_TYPE_OCI_MANIFEST, m.to_json(), platform=im.Platform("amd64", "linux")
            ),
        )
    )
    validator("image-index-schema.json", "oci-image").validate(json.loads(idx.to_json()))


# -- bad documents, each naming the field ----------------------------------------------


def _mutate(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split("/")]
    target: Any = doc
    for key in keys[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("schemaVersion", _DELETE, "schemaVersion"),
        ("schemaVersion", 3, "schemaVersion"),
        ("schemaVersion", "2", "schemaVersion"),
        ("config", _DELETE, "config"),
        ("config", [], "config"),
        ("config/digest", "sha256:abc", "config.digest"),
        ("config/digest", _DELETE, "config.digest"),
        ("config/size", -1, "config.size"),
        ("config/size", "12", "config.size"),
        ("config/size", True, "config.size"),
        ("config/mediaType", "not a media type", "config.mediaType"),
        ("config/mediaType", _DELETE, "config.mediaType"),
        ("layers", [], "layers"),
        ("layers", _DELETE, "layers"),
        ("layers", {}, "layers"),
        ("layers/0/digest", "md5:" + "a" * 32, "layers[0].digest"),
        ("layers/0/urls", "http://x", "layers[0].urls"),
        ("layers/0/urls", [1], "layers[0].urls[0]"),
        ("layers/0/annotations", {"k": 1}, "layers[0].annotations['k']"),
        ("annotations", [], "annotations"),
        ("mediaType", im.MEDIA_TYPE_OCI_CONFIG, "mediaType"),
        ("subject", {"mediaType": im.MEDIA_TYPE_OCI_MANIFEST}, "subject.digest"),
    ],
)
def test_bad_manifest_names_field(path: str, value: Any, named: str) -> None:
    doc = _mutate(manifest_dict(), path, value)
    schema_errors = list(validator("image-manifest-schema.json", "oci-image").iter_errors(doc))
    with pytest.raises(InvalidArgument) as info:
        im.parse_manifest(json.dumps(doc).encode())
    assert str(info.value).startswith(named + ":") or f" {named}:" in str(info.value), info.value
    # where the schema itself can tell, it agrees that the document is bad
    if path not in ("layers/0/digest", "config/digest", "mediaType", "layers/0/urls"):
        assert schema_errors or path.startswith("schemaVersion")


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("manifests", _DELETE, "manifests"),
        ("manifests/0/platform", {"os": "linux"}, "manifests[0].platform.architecture"),
        ("manifests/0/platform/os", 3, "manifests[0].platform.os"),
        ("manifests/1/size", None, "manifests[1].size"),
        ("manifests/1/platform/os.features", "x", "manifests[1].platform.os.features"),
    ],
)
def test_bad_index_names_field(path: str, value: Any, named: str) -> None:
    doc = _mutate(index_dict(), path, value)
    with pytest.raises(InvalidArgument) as info:
        im.parse_manifest(json.dumps(doc).encode())
    assert str(info.value).startswith(named + ":"), info.value


def test_schema1_refused_clearly() -> None:
    schema1 = {"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []}
    with pytest.raises(InvalidArgument, match="schema 1 is not supported"):
        im.parse_manifest(json.dumps(schema1).encode())
    with pytest.raises(InvalidArgument, match="schema 1 is not supported"):
        im.parse_manifest(b"{}", im.MEDIA_TYPE_DOCKER_SCHEMA1_SIGNED)


@pytest.mark.parametrize("data", [b"not json", b"[1,2]", b"\xff\xfe"])
def test_not_json(data: bytes) -> None:
    with pytest.raises(InvalidArgument, match="manifest"):
        im.parse_manifest(data)
    with pytest.raises(InvalidArgument, match="image config"):
        im.parse_config(data)


def test_mismatched_transport_media_type() -> None:
    with pytest.raises(InvalidArgument, match="mediaType"):
        im.parse_manifest(json.dumps(manifest_dict()).encode(), im.MEDIA_TYPE_OCI_INDEX)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"architecture": None}, "architecture"),
        ({"os": 1}, "os"),
        ({"rootfs": None}, "rootfs"),
        ({"rootfs": {"type": "layers"}}, "rootfs.diff_ids"),
        ({"rootfs": {"type": "tar", "diff_ids": []}}, "rootfs.type"),
        ({"rootfs": {"diff_ids": []}}, "rootfs.type"),
        ({"rootfs": {"type": "layers", "diff_ids": ["sha256:x"]}}, "rootfs.diff_ids[0]"),
        ({"config": {"Env": "A=b"}}, "config.Env"),
        ({"config": {"Cmd": "sh"}}, "config.Cmd"),
        ({"config": {"Entrypoint": [1]}}, "config.Entrypoint[0]"),
        ({"config": {"Labels": {"a": 1}}}, "config.Labels"),
        ({"config": {"ExposedPorts": {"80/tcp": 1}}}, "config.ExposedPorts"),
        ({"config": {"WorkingDir": 1}}, "config.WorkingDir"),
        ({"config": {"ArgsEscaped": "yes"}}, "config.ArgsEscaped"),
        ({"config": "x"}, "config"),
        ({"history": {}}, "history"),
        ({"history": [{"empty_layer": "no"}]}, "history[0].empty_layer"),
        ({"history": [{"created_by": "a"}, {"created_by": "b"}]}, "history"),
    ],
)
def test_bad_config_names_field(change: dict[str, Any], named: str) -> None:
    doc = json.loads(config_bytes())
    for key, value in change.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    with pytest.raises(InvalidArgument) as info:
        im.parse_config(json.dumps(doc).encode())
    assert str(info.value).startswith(named), info.value


# -- platform selection ----------------------------------------------------------------------


def _index() -> im.Index:
    parsed = im.parse_manifest(json.dumps(index_dict()).encode())
    assert isinstance(parsed, im.Index)
    return parsed


def _plat(d: im.Descriptor) -> str:
    return str(d.platform)


def test_select_platform() -> None:
    idx = _index()
    assert _plat(im.select_platform(idx, architecture="amd64")) == "linux/amd64"
    assert _plat(im.select_platform(idx, architecture="arm64")) == "linux/arm64/v8"
    assert _plat(im.select_platform(idx, architecture="arm", variant="v6")) == "linux/arm/v6"
    assert _plat(im.select_platform(idx, architecture="arm")) == "linux/arm/v7"
    assert _plat(im.select_platform(idx, architecture="arm64", variant="v8")) == "linux/arm64/v8"


def test_select_platform_host_default() -> None:
    host = im.host_platform()
    chosen = im.select_platform(_index()) if host.architecture in ("amd64", "arm64") else None
    if chosen is not None:
        assert chosen.platform is not None
        assert chosen.platform.architecture == host.architecture


def test_select_platform_not_found_lists_available() -> None:
    with pytest.raises(NotFound) as info:
        im.select_platform(_index(), architecture="s390x")
    message = str(info.value)
    assert "linux/s390x" in message
    for available in ("linux/amd64", "linux/arm/v6", "linux/arm64/v8"):
        assert available in message
    with pytest.raises(NotFound):
        im.select_platform(_index(), os="windows", architecture="amd64")
    with pytest.raises(NotFound):
        im.select_platform(_index(), architecture="arm", variant="v5")
