"""The runtime side of the CNI spec (0.3.0 … 1.1.0): configs, plugin exec, chains, cache."""

from __future__ import annotations

from .config import (
    SUPPORTED_VERSIONS,
    CniConfigError,
    CniNetworkNotFound,
    NetworkConfigList,
    PluginConfig,
    find_network,
    list_networks,
    load_conflist,
    parse_conf,
    parse_conflist,
)
from .exec import (
    DEFAULT_PLUGIN_DIRS,
    CniPluginError,
    CniPluginNotFound,
    PluginExecutor,
    format_cni_args,
    plugin_stdin,
    runtime_config_for,
)
from .result import (
    DNS,
    CniResultError,
    Interface,
    IPConfig,
    Result,
    Route,
    convert_result,
    mac_of,
    parse_result,
    primary_ipv4,
)
from .runtime import DEFAULT_CACHE_DIR, Attachment, CniCacheError, CniGCError, CniRuntime

__all__ = [
    "DEFAULT_CACHE_DIR",
    "DEFAULT_PLUGIN_DIRS",
    "DNS",
    "SUPPORTED_VERSIONS",
    "Attachment",
    "CniCacheError",
    "CniConfigError",
    "CniGCError",
    "CniNetworkNotFound",
    "CniPluginError",
    "CniPluginNotFound",
    "CniResultError",
    "CniRuntime",
    "IPConfig",
    "Interface",
    "NetworkConfigList",
    "PluginConfig",
    "PluginExecutor",
    "Result",
    "Route",
    "convert_result",
    "find_network",
    "format_cni_args",
    "list_networks",
    "load_conflist",
    "mac_of",
    "parse_conf",
    "parse_conflist",
    "parse_result",
    "plugin_stdin",
    "primary_ipv4",
    "runtime_config_for",
]
