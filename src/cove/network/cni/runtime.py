"""The runtime side of CNI: run a network's plugin chain and keep libcni's result cache.

SPEC.md "Section 4: Plugin Delegation / Invoking a network configuration list":
ADD runs the plugins in order, each given the previous one's result as ``prevResult``;
DEL runs them in reverse with the cached ADD result as ``prevResult`` (0.4.0+); CHECK
(0.4.0+) runs them in order with the cached result; GC and STATUS are 1.1.0.

The cache is byte-compatible with libcni (libcni/api.go, ``cachedInfo``):
``<cache_dir>/results/<network>-<containerid>-<ifname>`` holding
``{"kind": "cniCacheV1", "containerId", "config" (base64 of the list's bytes), "ifName",
"networkName", "netns", "cniArgs" ([[k, v], ...]), "capabilityArgs", "result"}``.
Because it holds the exact configuration used, a DEL after a daemon restart needs
nothing but the cache.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cove.errors import AlreadyExists, CoveError, NotFound, Unsupported

from .config import (
    NetworkConfigList,
    parse_conflist,
    validate_container_id,
    validate_ifname,
    validate_network_name,
    version_at_least,
)
from .exec import (
    DEFAULT_TIMEOUT,
    CniPluginError,
    Invocation,
    PluginExecutor,
    format_cni_args,
    plugin_stdin,
)
from .result import CniResultError, Result, convert_result, parse_result

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "/var/lib/cni"
CACHE_KIND = "cniCacheV1"
#: The VERSION request's own cniVersion; plugins answer with every version they speak.
_VERSION_QUERY = "1.1.0"


class CniCacheError(CoveError):
    """A cache entry exists but cannot be read or written; the message names the file."""


class CniGCError(CoveError):
    """Some of a GC's deletions or plugin GC calls failed; ``errors`` holds each one."""

    def __init__(self, network: str, errors: Sequence[CoveError]) -> None:
        super().__init__(f"GC of CNI network {network!r}: {len(errors)} failure(s): "
                         + "; ".join(str(e) for e in errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class Attachment:
    """One cached attachment: a container's interface on a network."""

    network: str
    container_id: str
    ifname: str
    netns: str = ""
    cni_args: tuple[tuple[str, str], ...] = ()
    capability_args: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""


@dataclass(frozen=True)
class _CacheEntry:
    attachment: Attachment
    config: bytes
    result: dict[str, Any] | None


class CniRuntime:
    """Runs CNI chains with plugins from ``plugin_dirs``, caching results in ``cache_dir``.

    Calls for one attachment must not run concurrently (the caller serialises per
    container); different attachments may.
    """

    def __init__(self, plugin_dirs: Sequence[str] | None = None,
                 cache_dir: str = DEFAULT_CACHE_DIR, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.executor = PluginExecutor(plugin_dirs, timeout)
        self.cache_dir = cache_dir
        # plugin path -> (mtime_ns, supported versions): VERSION is asked once per binary.
        self._versions: dict[str, tuple[int, frozenset[str]]] = {}

    # -- cache ---------------------------------------------------------------------------

    def _results_dir(self) -> str:
        return os.path.join(self.cache_dir, "results")

    def cache_path(self, network: str, container_id: str, ifname: str) -> str:
        return os.path.join(self._results_dir(), f"{network}-{container_id}-{ifname}")

    def _write_cache(self, net: NetworkConfigList, call: Invocation,
                     cni_args: Mapping[str, str], capability_args: Mapping[str, Any],
                     result: Mapping[str, Any]) -> None:
        info: dict[str, Any] = {
            "kind": CACHE_KIND,
            "containerId": call.container_id,
            # Go marshals []byte as base64; keeping that makes the file readable by libcni.
            "config": base64.b64encode(net.raw_bytes).decode(),
            "ifName": call.ifname,
            "networkName": net.name,
        }
        if call.netns:
            info["netns"] = call.netns
        if cni_args:
            info["cniArgs"] = [[k, v] for k, v in cni_args.items()]
        if capability_args:
            info["capabilityArgs"] = dict(capability_args)
        info["result"] = dict(result)
        path = self.cache_path(net.name, call.container_id, call.ifname)
        directory = os.path.dirname(path)
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            try:
                with os.fdopen(fd, "w") as f:
                    json.dump(info, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:
            raise CniCacheError(f"CNI cache {path}: cannot write: {exc.strerror}") from None

    def _read_cache_file(self, path: str) -> _CacheEntry | None:
        """The entry at ``path``; None if absent or not a cniCacheV1 entry."""
        try:
            with open(path, "rb") as f:
                info = json.loads(f.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("CNI cache %s is unreadable, ignoring it: %s", path, exc)
            return None
        if not isinstance(info, dict) or info.get("kind") != CACHE_KIND:
            log.warning("CNI cache %s is not a %s entry, ignoring it", path, CACHE_KIND)
            return None
        raw_config = info.get("config")
        config: bytes
        try:
            if isinstance(raw_config, str):
                config = base64.b64decode(raw_config, validate=True)
            elif isinstance(raw_config, dict):
                config = json.dumps(raw_config).encode()
            else:
                config = b""
        except (binascii.Error, ValueError):
            config = b""
        args = info.get("cniArgs") or []
        result = info.get("result")
        attachment = Attachment(
            network=str(info.get("networkName", "")),
            container_id=str(info.get("containerId", "")),
            ifname=str(info.get("ifName", "")),
            netns=str(info.get("netns", "")),
            cni_args=tuple((str(a[0]), str(a[1])) for a in args
                           if isinstance(a, list) and len(a) == 2),
            capability_args=dict(info.get("capabilityArgs") or {}),
            path=path)
        return _CacheEntry(attachment, config, result if isinstance(result, dict) else None)

    def _find_cache(self, network: str | None, container_id: str,
                    ifname: str) -> _CacheEntry | None:
        if network is not None:
            return self._read_cache_file(self.cache_path(network, container_id, ifname))
        # Without a network name, the entry is found by its content: an interface of a
        # container is attached to at most one network.
        for att in self.cached_attachments(container_id):
            if att.ifname == ifname:
                return self._read_cache_file(att.path)
        return None

    def _remove_cache(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CniCacheError(f"CNI cache {path}: cannot remove: {exc.strerror}") from None

    def cached_attachments(self, container_id: str | None = None) -> list[Attachment]:
        """Every attachment in the cache (optionally of one container), in file-name order."""
        try:
            names = sorted(os.listdir(self._results_dir()))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            if name.startswith(".tmp-"):
                continue
            if container_id is not None and f"-{container_id}-" not in name:
                continue
            entry = self._read_cache_file(os.path.join(self._results_dir(), name))
            if entry is None:
                continue
            att = entry.attachment
            if not att.network or not att.ifname:
                continue
            if container_id is not None and att.container_id != container_id:
                continue
            out.append(att)
        return out

    def cached_result(self, network: str, container_id: str, ifname: str) -> Result | None:
        """The result of the last ADD of this attachment, if cached."""
        entry = self._read_cache_file(self.cache_path(network, container_id, ifname))
        if entry is None or entry.result is None:
            return None
        return parse_result(entry.result)

    # -- chain operations ----------------------------------------------------------------

    @staticmethod
    def _invocation(command: str, container_id: str, netns: str, ifname: str,
                    args: Mapping[str, str]) -> Invocation:
        validate_container_id(container_id)
        validate_ifname(ifname)
        return Invocation(command, container_id, netns, ifname, format_cni_args(args))

    def add(self, netconf: NetworkConfigList, container_id: str, netns: str, ifname: str, *,
            args: Mapping[str, str] | None = None,
            capability_args: Mapping[str, Any] | None = None) -> Result:
        """Attach: run the chain's ADDs, cache and return the final result.

        If any plugin fails, the whole list is DELeted (reverse order, best effort) before
        the error is raised, so nothing stays half-attached. An attachment that is already
        cached is refused (AlreadyExists): the spec forbids a second ADD without a DEL, and a
        rollback of it would tear down the working first one.
        """
        validate_network_name(netconf.name)
        cni_args = dict(args or {})
        caps = dict(capability_args or {})
        call = self._invocation("ADD", container_id, netns, ifname, cni_args)
        if self._read_cache_file(self.cache_path(netconf.name, container_id, ifname)):
            raise AlreadyExists(f"CNI network {netconf.name!r} is already attached to "
                                f"{container_id}/{ifname} (DEL it first)")
        prev: dict[str, Any] | None = None
        try:
            for plugin in netconf.plugins:
                stdin = plugin_stdin(netconf.name, netconf.cni_version, plugin,
                                     prev_result=prev, capability_args=caps)
                out = self.executor.run(plugin.type, call, stdin)
                if out is None:
                    raise CniPluginError(plugin.type, "ADD", 0, "printed no result")
                prev = out
            assert prev is not None  # parse_conflist refuses an empty plugin list
            result = parse_result(prev)
            self._write_cache(netconf, call, cni_args, caps, prev)
        except Exception as exc:
            self._rollback(netconf, call, prev, caps, exc)
            raise
        log.info("CNI network %s attached %s/%s", netconf.name, container_id, ifname)
        return result

    def _rollback(self, netconf: NetworkConfigList, add: Invocation,
                  prev: dict[str, Any] | None, caps: Mapping[str, Any],
                  cause: BaseException) -> None:
        # The result so far is the best prevResult there is: plugins that undo
        # per-address state (firewall, portmap) find their addresses in it.
        call = Invocation("DEL", add.container_id, add.netns, add.ifname, add.args)
        for plugin in reversed(netconf.plugins):
            stdin = plugin_stdin(netconf.name, netconf.cni_version, plugin,
                                 prev_result=prev, capability_args=caps)
            try:
                self.executor.run(plugin.type, call, stdin)
            except CoveError as exc:
                log.warning("CNI network %s: DEL after failed ADD (%s): %s",
                            netconf.name, cause, exc)

    def _resolve(self, netconf: NetworkConfigList | None, container_id: str, ifname: str,
                 network: str | None) -> tuple[NetworkConfigList | None, _CacheEntry | None]:
        name = network if network is not None else (netconf.name if netconf else None)
        entry = self._find_cache(name, container_id, ifname)
        if netconf is None and entry is not None:
            netconf = parse_conflist(entry.config, f"CNI cache {entry.attachment.path}")
        return netconf, entry

    @staticmethod
    def _prev_from_cache(netconf: NetworkConfigList,
                         entry: _CacheEntry | None) -> dict[str, Any] | None:
        if entry is None or entry.result is None:
            return None
        # Plugins expect prevResult in the configuration's version (libcni: GetAsVersion).
        return convert_result(entry.result, netconf.cni_version)

    def delete(self, netconf: NetworkConfigList | None, container_id: str, netns: str,
               ifname: str, *, args: Mapping[str, str] | None = None,
               capability_args: Mapping[str, Any] | None = None,
               network: str | None = None) -> None:
        """Detach: the chain's DELs in reverse, then drop the cache entry.

        ``netconf=None`` uses the configuration saved in the cache (after a restart);
        ``netns`` may be "" when the namespace is already gone. ``args`` and
        ``capability_args`` default to those cached at ADD. Without a configuration and
        without a cache entry there is nothing to undo: a no-op. A plugin failure stops
        the DEL and keeps the cache entry, so the DEL can be retried.
        """
        netconf, entry = self._resolve(netconf, container_id, ifname, network)
        if netconf is None:
            log.debug("CNI DEL %s/%s: no configuration and no cache entry, nothing to do",
                      container_id, ifname)
            return
        cni_args, caps = self._args_for(entry, args, capability_args)
        call = self._invocation("DEL", container_id, netns, ifname, cni_args)
        prev = (self._prev_from_cache(netconf, entry)
                if version_at_least(netconf.cni_version, "0.4.0") else None)
        for plugin in reversed(netconf.plugins):
            stdin = plugin_stdin(netconf.name, netconf.cni_version, plugin,
                                 prev_result=prev, capability_args=caps)
            self.executor.run(plugin.type, call, stdin)
        self._remove_cache(self.cache_path(netconf.name, container_id, ifname))
        if entry is not None and entry.attachment.path != self.cache_path(
                netconf.name, container_id, ifname):
            self._remove_cache(entry.attachment.path)
        log.info("CNI network %s detached %s/%s", netconf.name, container_id, ifname)

    @staticmethod
    def _args_for(entry: _CacheEntry | None, args: Mapping[str, str] | None,
                  capability_args: Mapping[str, Any] | None,
                  ) -> tuple[dict[str, str], dict[str, Any]]:
        cached_args = dict(entry.attachment.cni_args) if entry else {}
        cached_caps = dict(entry.attachment.capability_args) if entry else {}
        return (dict(args) if args is not None else cached_args,
                dict(capability_args) if capability_args is not None else cached_caps)

    def check(self, netconf: NetworkConfigList | None, container_id: str, netns: str,
              ifname: str, *, args: Mapping[str, str] | None = None,
              capability_args: Mapping[str, Any] | None = None,
              network: str | None = None) -> None:
        """CHECK the attachment against the cached ADD result; raises CniPluginError if not ok.

        Needs cniVersion 0.4.0 or later (Unsupported otherwise); a list with
        ``disableCheck`` is not checked at all.
        """
        netconf, entry = self._resolve(netconf, container_id, ifname, network)
        if netconf is not None:
            if not version_at_least(netconf.cni_version, "0.4.0"):
                raise Unsupported(f"CNI network {netconf.name!r} has cniVersion "
                                  f"{netconf.cni_version}; CHECK needs 0.4.0 or later")
            if netconf.disable_check:
                return
        if netconf is None or entry is None or entry.result is None:
            where = network or (netconf.name if netconf else "(any network)")
            raise NotFound(f"CNI CHECK of {where} for {container_id}/{ifname}: "
                           "no cached ADD result")
        cni_args, caps = self._args_for(entry, args, capability_args)
        call = self._invocation("CHECK", container_id, netns, ifname, cni_args)
        prev = self._prev_from_cache(netconf, entry)
        for plugin in netconf.plugins:
            stdin = plugin_stdin(netconf.name, netconf.cni_version, plugin,
                                 prev_result=prev, capability_args=caps)
            self.executor.run(plugin.type, call, stdin)

    def version(self, plugin_type: str) -> dict[str, Any]:
        """The plugin's VERSION answer: ``{"cniVersion", "supportedVersions": [...]}``."""
        stdin = json.dumps({"cniVersion": _VERSION_QUERY}).encode()
        out = self.executor.run(plugin_type, Invocation("VERSION"), stdin)
        if out is None or not isinstance(out.get("supportedVersions"), list):
            raise CniPluginError(plugin_type, "VERSION", 0,
                                 "answered without a supportedVersions list")
        return out

    def _supports(self, plugin_type: str, version: str) -> bool:
        path = self.executor.find(plugin_type)
        mtime = os.stat(path).st_mtime_ns
        known = self._versions.get(path)
        if known is None or known[0] != mtime:
            supported = frozenset(str(v) for v in self.version(plugin_type)["supportedVersions"])
            known = (mtime, supported)
            self._versions[path] = known
        return version in known[1]

    def validate(self, netconf: NetworkConfigList) -> frozenset[str]:
        """Check that every plugin exists and speaks the list's cniVersion (libcni's
        ValidateNetworkList); returns the capabilities the list declares.

        Raises CniPluginNotFound for a missing binary, Unsupported for a version mismatch.
        """
        for plugin in netconf.plugins:
            if not self._supports(plugin.type, netconf.cni_version):
                raise Unsupported(
                    f"CNI network {netconf.name!r}: plugin {plugin.type!r} does not support "
                    f"cniVersion {netconf.cni_version}")
        return netconf.capabilities

    def gc(self, netconf: NetworkConfigList, valid: Sequence[tuple[str, str]]) -> None:
        """Remove every attachment of the network that is not in ``valid`` (container, ifname).

        Cached attachments not listed are DELeted (as libcni's GCNetworkList does); then,
        for cniVersion 1.1.0, each plugin that speaks 1.1.0 gets a GC call with
        ``cni.dev/valid-attachments``; older plugins are skipped. ``disableGC`` skips all.
        Failures are collected and raised together (CniGCError) after everything ran.
        """
        if netconf.disable_gc:
            log.debug("CNI network %s has disableGC; not collecting", netconf.name)
            return
        keep = {(cid, ifname) for cid, ifname in valid}
        errors: list[CoveError] = []
        for att in self.cached_attachments():
            if att.network != netconf.name or (att.container_id, att.ifname) in keep:
                continue
            try:
                self.delete(netconf, att.container_id, att.netns, att.ifname)
            except CoveError as exc:
                errors.append(exc)
        if version_at_least(netconf.cni_version, "1.1.0"):
            listed = [{"containerID": cid, "ifname": ifname} for cid, ifname in sorted(keep)]
            # The 1.1.0 spec text names the key "cni.dev/attachments" in one place and
            # "cni.dev/valid-attachments" in another; libcni sends both (cni issue #1101).
            extra = {"cni.dev/valid-attachments": listed, "cni.dev/attachments": listed}
            for plugin in netconf.plugins:
                try:
                    if not self._supports(plugin.type, "1.1.0"):
                        log.debug("CNI plugin %s does not speak 1.1.0; no GC", plugin.type)
                        continue
                    stdin = plugin_stdin(netconf.name, netconf.cni_version, plugin, extra=extra)
                    self.executor.run(plugin.type, Invocation("GC"), stdin)
                except CoveError as exc:
                    errors.append(exc)
        if errors:
            raise CniGCError(netconf.name, errors)

    def status(self, netconf: NetworkConfigList) -> None:
        """STATUS (1.1.0): raises CniPluginError (codes 50-53) if a plugin is not ready.

        Lists older than 1.1.0 and plugins that do not speak 1.1.0 are taken as ready.
        """
        if not version_at_least(netconf.cni_version, "1.1.0"):
            return
        for plugin in netconf.plugins:
            if not self._supports(plugin.type, "1.1.0"):
                continue
            stdin = plugin_stdin(netconf.name, netconf.cni_version, plugin)
            self.executor.run(plugin.type, Invocation("STATUS"), stdin)


__all__ = ["Attachment", "CniCacheError", "CniGCError", "CniResultError", "CniRuntime"]
