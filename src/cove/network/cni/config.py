"""CNI network configuration: parse and validate .conflist and single-plugin .conf files.

Pure: no plugin is run here. The rules follow the CNI spec (SPEC.md, "Section 1: Network
configuration format") and libcni's loader (libcni/conf.go): a directory is searched for
``*.conflist`` files first, then for the deprecated single-plugin ``*.conf``/``*.json`` files,
each group in lexical order; a single-plugin file is wrapped into a one-plugin list.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cove.errors import InvalidArgument, NotFound

log = logging.getLogger(__name__)

#: Spec versions this runtime speaks, oldest first.
SUPPORTED_VERSIONS: tuple[str, ...] = ("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")

# libcni's utils.ValidateNetworkName / ValidateContainerID: the cache file name is
# "<network>-<container>-<ifname>", so neither may hold a path separator.
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")
_LIST_EXTENSIONS = (".conflist",)
_SINGLE_EXTENSIONS = (".conf", ".json")


class CniConfigError(InvalidArgument):
    """A CNI network configuration (file or bytes) is malformed; the message names the source."""


class CniNetworkNotFound(NotFound):
    """No configuration file in the searched directories defines the asked network."""


def version_tuple(version: str) -> tuple[int, int, int]:
    """``"1.0.0"`` -> ``(1, 0, 0)``; raises ValueError for anything else."""
    parts = version.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"invalid CNI version {version!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def version_at_least(version: str, minimum: str) -> bool:
    return version_tuple(version) >= version_tuple(minimum)


def validate_network_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise InvalidArgument(
            f"invalid CNI network name {name!r}: must match {_NAME_RE.pattern}")


def validate_container_id(container_id: str) -> None:
    if not _NAME_RE.match(container_id):
        raise InvalidArgument(
            f"invalid container id {container_id!r} for CNI: must match {_NAME_RE.pattern}")


def validate_ifname(ifname: str) -> None:
    # The kernel's dev_valid_name(): IFNAMSIZ-1 bytes, no '/', ':' or whitespace.
    bad = (not ifname or len(ifname.encode()) > 15 or ifname in (".", "..")
           or any(c in "/:" or c.isspace() for c in ifname))
    if bad:
        raise InvalidArgument(f"invalid interface name {ifname!r} for CNI")


@dataclass(frozen=True)
class PluginConfig:
    """One entry of a network's ``plugins`` array, as written in the file."""

    type: str
    raw: Mapping[str, Any]
    #: Capabilities the plugin declares as enabled (``"capabilities": {"portMappings": true}``).
    capabilities: frozenset[str] = frozenset()


@dataclass(frozen=True)
class NetworkConfigList:
    """A parsed network configuration list (what libcni calls NetworkConfigList)."""

    name: str
    cni_version: str
    plugins: tuple[PluginConfig, ...]
    disable_check: bool = False
    disable_gc: bool = False
    #: The exact bytes the list was parsed from (a .conf file's bytes are wrapped into a
    #: list first, as libcni does); they are what the result cache stores.
    raw_bytes: bytes = b""
    #: Where the configuration came from (a path, or a label for bytes).
    source: str = "<bytes>"
    capabilities: frozenset[str] = field(default=frozenset())


def _fail(source: str, problem: str) -> CniConfigError:
    return CniConfigError(f"CNI config {source}: {problem}")


def _decode(data: bytes, source: str) -> dict[str, Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _fail(source, f"not UTF-8 (byte {exc.start})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(source, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                    ) from None
    if not isinstance(obj, dict):
        raise _fail(source, f"top level must be a JSON object, not {type(obj).__name__}")
    return obj


def _read_bool(obj: Mapping[str, Any], key: str, source: str) -> bool:
    # libcni accepts a JSON bool or the strings "true"/"false" (any case).
    value = obj.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _fail(source, f"{key!r} must be a boolean, got {value!r}")


def _pick_version(obj: Mapping[str, Any], source: str) -> str:
    """The list's cniVersion; with 1.1's ``cniVersions`` the highest one we support."""
    raw = obj.get("cniVersion")
    if raw is not None and not isinstance(raw, str):
        raise _fail(source, f"'cniVersion' must be a string, got {raw!r}")
    many = obj.get("cniVersions")
    supported = ", ".join(SUPPORTED_VERSIONS)
    if many is not None:
        if not isinstance(many, list) or not all(isinstance(v, str) for v in many):
            raise _fail(source, "'cniVersions' must be an array of strings")
        # Versions this runtime does not implement are skipped, as libcni does.
        usable = [v for v in [*many, *([raw] if raw else [])] if v in SUPPORTED_VERSIONS]
        if not usable:
            raise _fail(source, f"none of cniVersions {many} is supported (supported: {supported})")
        return str(max(usable, key=version_tuple))
    if raw is None:
        raise _fail(source, "missing 'cniVersion'")
    if raw not in SUPPORTED_VERSIONS:
        raise _fail(source, f"unsupported cniVersion {raw!r} (supported: {supported})")
    return raw


def _parse_plugin(obj: Any, where: str, source: str) -> PluginConfig:
    if not isinstance(obj, dict):
        raise _fail(source, f"{where} must be a JSON object")
    ptype = obj.get("type")
    if ptype is None or ptype == "":
        raise _fail(source, f"{where} is missing 'type'")
    if not isinstance(ptype, str):
        raise _fail(source, f"{where}: 'type' must be a string, got {ptype!r}")
    if "/" in ptype or ptype in (".", ".."):
        # The type names a binary inside the plugin dirs; never a path out of them.
        raise _fail(source, f"{where}: invalid plugin type {ptype!r}")
    caps = obj.get("capabilities", {})
    if not isinstance(caps, dict) or not all(isinstance(v, bool) for v in caps.values()):
        raise _fail(source, f"{where} ({ptype}): 'capabilities' must map names to booleans")
    enabled = frozenset(k for k, v in caps.items() if v)
    return PluginConfig(type=ptype, raw=obj, capabilities=enabled)


def _check_name(obj: Mapping[str, Any], source: str) -> str:
    name = obj.get("name")
    if name is None:
        raise _fail(source, "missing 'name'")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(source, f"invalid network name {name!r}: must match {_NAME_RE.pattern}")
    return name


def parse_conflist(data: bytes, source: str = "<bytes>") -> NetworkConfigList:
    """Parse a configuration list (the .conflist format)."""
    obj = _decode(data, source)
    return _from_list_object(obj, data, source)


def _from_list_object(obj: dict[str, Any], data: bytes, source: str) -> NetworkConfigList:
    name = _check_name(obj, source)
    version = _pick_version(obj, source)
    if "plugins" not in obj:
        raise _fail(source, "missing 'plugins'")
    plugins_raw = obj["plugins"]
    if not isinstance(plugins_raw, list):
        raise _fail(source, "'plugins' must be an array")
    if not plugins_raw:
        raise _fail(source, "'plugins' is empty")
    plugins = tuple(_parse_plugin(p, f"plugins[{i}]", source)
                    for i, p in enumerate(plugins_raw))
    caps = frozenset().union(*(p.capabilities for p in plugins))
    return NetworkConfigList(
        name=name, cni_version=version, plugins=plugins,
        disable_check=_read_bool(obj, "disableCheck", source),
        disable_gc=_read_bool(obj, "disableGC", source),
        raw_bytes=data, source=source, capabilities=caps)


def parse_conf(data: bytes, source: str = "<bytes>") -> NetworkConfigList:
    """Parse a single-plugin network config (.conf) and wrap it into a one-plugin list."""
    obj = _decode(data, source)
    name = _check_name(obj, source)
    version = _pick_version(obj, source)
    _parse_plugin(obj, "the plugin", source)
    # Like libcni's ConfListFromConf: the list's bytes are a list built around the plugin.
    wrapped = json.dumps({"name": name, "cniVersion": version, "plugins": [obj]}).encode()
    return _from_list_object({"name": name, "cniVersion": version, "plugins": [obj]},
                             wrapped, source)


def parse_any(data: bytes, source: str = "<bytes>") -> NetworkConfigList:
    """A list if the object has ``plugins``, else a single-plugin config."""
    obj = _decode(data, source)
    if "plugins" in obj or "type" not in obj:
        return _from_list_object(obj, data, source)
    return parse_conf(data, source)


def load_conflist(path: str) -> NetworkConfigList:
    """Load a .conflist, or a single-plugin .conf/.json file (wrapped into a list)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError):
            raise CniNetworkNotFound(f"CNI config {path}: no such file") from None
        raise CniConfigError(f"CNI config {path}: cannot read: {exc.strerror}") from None
    if path.endswith(_LIST_EXTENSIONS):
        return parse_conflist(data, path)
    if path.endswith(_SINGLE_EXTENSIONS):
        return parse_conf(data, path)
    return parse_any(data, path)


def _files(conf_dir: str, extensions: Sequence[str]) -> list[str]:
    try:
        names = os.listdir(conf_dir)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CniConfigError(f"CNI config dir {conf_dir}: cannot list: {exc.strerror}") from None
    out = []
    for name in sorted(names):
        path = os.path.join(conf_dir, name)
        if os.path.splitext(name)[1] in extensions and not os.path.isdir(path):
            out.append(path)
    return out


def config_files(conf_dirs: Sequence[str]) -> list[str]:
    """Every config file in search order: per dir, .conflist files, then .conf/.json."""
    out: list[str] = []
    for d in conf_dirs:
        out += _files(d, _LIST_EXTENSIONS) + _files(d, _SINGLE_EXTENSIONS)
    return out


def list_networks(conf_dirs: Sequence[str]) -> list[NetworkConfigList]:
    """All networks in the dirs, in search order; the first file defining a name wins.

    A malformed file raises CniConfigError naming it (as libcni does), so a broken file
    is noticed instead of silently hiding a network.
    """
    seen: dict[str, NetworkConfigList] = {}
    for path in config_files(conf_dirs):
        net = load_conflist(path)
        if net.name in seen:
            log.debug("CNI network %s in %s is shadowed by %s", net.name, path,
                      seen[net.name].source)
            continue
        seen[net.name] = net
    return list(seen.values())


def find_network(conf_dirs: Sequence[str], name: str) -> NetworkConfigList:
    """The first configuration (in search order) whose name is ``name``."""
    for path in config_files(conf_dirs):
        net = load_conflist(path)
        if net.name == name:
            return net
    raise CniNetworkNotFound(
        f"no CNI network configuration named {name!r} in {', '.join(conf_dirs) or '(no dirs)'}")
