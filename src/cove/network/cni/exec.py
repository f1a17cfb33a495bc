"""Running one CNI plugin binary (SPEC.md "Section 3: Execution Protocol").

The protocol: parameters in CNI_* environment variables, the network configuration on
stdin, a result or an error object on stdout; exit status 0 means success.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cove.errors import CoveError, InvalidArgument, NotFound

from .config import PluginConfig

log = logging.getLogger(__name__)

DEFAULT_PLUGIN_DIRS: tuple[str, ...] = ("/usr/lib/cni", "/opt/cni/bin")
DEFAULT_TIMEOUT = 60.0
_STDERR_TAIL = 2000


class CniPluginError(CoveError):
    """A plugin failed. ``code``/``msg``/``details`` come from its CNI error object.

    ``code`` is 0 when the plugin gave no error object (crash, timeout, garbage on stdout);
    ``details`` then holds the tail of its stderr.
    """

    def __init__(self, plugin: str, command: str, code: int, msg: str, details: str = "") -> None:
        what = f"CNI error {code}: {msg}" if code else msg
        text = f'plugin "{plugin}" failed on {command} ({what})'
        super().__init__(f"{text}: {details}" if details else text)
        self.plugin = plugin
        self.command = command
        self.code = code
        self.msg = msg
        self.details = details


class CniPluginNotFound(CniPluginError, NotFound):
    """The plugin type names no executable in the plugin dirs."""

    def __init__(self, plugin: str, plugin_dirs: Sequence[str]) -> None:
        where = os.pathsep.join(plugin_dirs) or "(no plugin dirs)"
        super().__init__(plugin, "lookup", 0, f"no executable in {where}")
        self.args = (f'CNI plugin "{plugin}" not found: no executable in {where}',)


def format_cni_args(args: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """CNI_ARGS: ``K=V;K2=V2`` (SPEC.md); keys and values may hold neither ';' nor '='."""
    pairs = list(args.items()) if isinstance(args, Mapping) else list(args)
    for key, value in pairs:
        if not key or any(c in key for c in ";=") or ";" in value:
            raise InvalidArgument(f"invalid CNI_ARGS entry {key!r}={value!r}: "
                                  "keys need a name without ';' or '=', values no ';'")
    return ";".join(f"{k}={v}" for k, v in pairs)


def runtime_config_for(plugin: PluginConfig, capability_args: Mapping[str, Any]) -> dict[str, Any]:
    """The ``runtimeConfig`` a plugin gets: only capabilities it declares (SPEC.md §2 / libcni)."""
    return {k: v for k, v in capability_args.items() if k in plugin.capabilities}


def plugin_stdin(network_name: str, cni_version: str, plugin: PluginConfig, *,
                 prev_result: Mapping[str, Any] | None = None,
                 capability_args: Mapping[str, Any] | None = None,
                 extra: Mapping[str, Any] | None = None) -> bytes:
    """The plugin's own config with the list-level fields injected, as libcni's buildOneConfig."""
    conf = dict(plugin.raw)
    conf["name"] = network_name
    conf["cniVersion"] = cni_version
    # Stale keys from the file must not masquerade as what the runtime passes.
    conf.pop("prevResult", None)
    conf.pop("runtimeConfig", None)
    if prev_result is not None:
        conf["prevResult"] = prev_result
    runtime_config = runtime_config_for(plugin, capability_args or {})
    if runtime_config:
        conf["runtimeConfig"] = runtime_config
    if extra:
        conf.update(extra)
    return json.dumps(conf, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Invocation:
    """The CNI_* parameters of one call."""

    command: str
    container_id: str = ""
    netns: str = ""
    ifname: str = ""
    args: str = ""


class PluginExecutor:
    """Finds plugin binaries and runs them; one process per call, killed on timeout."""

    def __init__(self, plugin_dirs: Sequence[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.plugin_dirs = tuple(plugin_dirs) if plugin_dirs is not None else DEFAULT_PLUGIN_DIRS
        self.timeout = timeout

    def find(self, plugin_type: str) -> str:
        for d in self.plugin_dirs:
            path = os.path.join(d, plugin_type)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
        raise CniPluginNotFound(plugin_type, self.plugin_dirs)

    def _env(self, call: Invocation) -> dict[str, str]:
        # Inherit PATH and the rest (portmap and firewall run iptables from PATH), but
        # never a CNI_* variable of our own environment.
        env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
        env.update(CNI_COMMAND=call.command, CNI_CONTAINERID=call.container_id,
                   CNI_NETNS=call.netns, CNI_IFNAME=call.ifname, CNI_ARGS=call.args,
                   CNI_PATH=os.pathsep.join(self.plugin_dirs))
        return env

    def run(self, plugin_type: str, call: Invocation, stdin: bytes) -> dict[str, Any] | None:
        """Run the plugin; its stdout object on success (None if it printed nothing)."""
        path = self.find(plugin_type)
        log.debug("CNI %s %s container=%s ifname=%s", call.command, plugin_type,
                  call.container_id, call.ifname)
        # A session of its own, so a timeout kills whatever the plugin started too.
        try:
            proc = subprocess.Popen(
                [path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=self._env(call), start_new_session=True, close_fds=True)
        except OSError as exc:
            raise CniPluginError(plugin_type, call.command, 0,
                                 f"cannot execute {path}: {exc.strerror}") from None
        try:
            out, err = proc.communicate(stdin, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
            raise CniPluginError(plugin_type, call.command, 0,
                                 f"timed out after {self.timeout:g}s and was killed",
                                 _tail(err)) from None
        if err:
            log.debug("CNI %s %s stderr: %s", call.command, plugin_type, _tail(err))
        if proc.returncode != 0:
            raise _error_from_output(plugin_type, call.command, proc.returncode, out, err)
        if not out.strip():
            return None
        try:
            obj = json.loads(out)
        except ValueError:
            raise CniPluginError(plugin_type, call.command, 0, "printed output that is not JSON",
                                 _tail(out)) from None
        if not isinstance(obj, dict):
            raise CniPluginError(plugin_type, call.command, 0,
                                 "printed JSON that is not an object", _tail(out))
        return obj


def _tail(data: bytes) -> str:
    return data[-_STDERR_TAIL:].decode("utf-8", "replace").strip()


def _error_from_output(plugin: str, command: str, status: int, out: bytes,
                       err: bytes) -> CniPluginError:
    try:
        obj = json.loads(out)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and isinstance(obj.get("code"), int):
        return CniPluginError(plugin, command, obj["code"], str(obj.get("msg", "")),
                              str(obj.get("details", "") or ""))
    where = "stderr: " + _tail(err) if err.strip() else "no stderr"
    if out.strip():
        where = f"stdout: {_tail(out)}; {where}"
    return CniPluginError(plugin, command, 0,
                          f"exited with status {status} without a CNI error object", where)
