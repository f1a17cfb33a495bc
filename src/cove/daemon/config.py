"""coved's configuration: command-line flags over /etc/cove/daemon.json over defaults.

daemon.json uses dockerd's key names where the two overlap (data-root, exec-root,
hosts, default-runtime, runtimes, log-level, log-opts, tls*, group), so an operator's
habits carry over.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cove.errors import InvalidArgument

DEFAULT_CONFIG_FILE = "/etc/cove/daemon.json"
# Bounded by default, unlike Docker's unbounded json-file default (moby#8911).
DEFAULT_LOG_OPTS = {"max-size": "10m", "max-file": "3"}


@dataclass
class DaemonConfig:
    root: str = "/var/lib/cove"
    exec_root: str = "/run/cove"
    hosts: list[str] = field(default_factory=lambda: ["unix:///run/cove/cove.sock"])
    default_runtime: str = "cove-runtime"
    runtimes: dict[str, str] = field(default_factory=dict)
    log_level: str = "info"
    log_opts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_LOG_OPTS))
    group: str = "cove"
    tls: bool = False
    tls_verify: bool = False
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure_tcp: bool = False
    snapshotter: str | None = None
    certs_dir: str = "/etc/cove/certs.d"
    init_path: str = "/usr/bin/tini-static"
    # Containers' cgroups go under this path in every hierarchy (dockerd's --cgroup-parent).
    cgroup_parent: str = "/cove"
    # Networking (dockerd's names; see cove.engine.networks.config for the meanings).
    bridge: str = "cove0"
    bip: str = "10.77.0.1/16"
    default_address_pools: list[dict[str, Any]] = field(
        default_factory=lambda: [{"base": "10.78.0.0/15", "size": 24}])
    ip: str = "0.0.0.0"
    iptables: bool = True
    ip_forward: bool = True
    ip_masq: bool = True
    icc: bool = True
    mtu: int = 0
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_opts: list[str] = field(default_factory=list)
    firewall_table: str = "cove"
    cni_config_dirs: list[str] = field(default_factory=lambda: ["/etc/cni/net.d"])
    cni_plugin_dirs: list[str] = field(default_factory=lambda: ["/usr/lib/cni", "/opt/cni/bin"])

    @property
    def pidfile(self) -> str:
        return os.path.join(self.exec_root, "coved.pid")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="coved", description="Cove's container engine daemon")
    p.add_argument("--config-file", default=None,
                   help=f"daemon configuration file (default {DEFAULT_CONFIG_FILE})")
    p.add_argument("--root", "--data-root", dest="root", default=None,
                   help="persistent state (default /var/lib/cove)")
    p.add_argument("--exec-root", default=None, help="runtime state (default /run/cove)")
    p.add_argument("-H", "--host", dest="hosts", action="append", default=None,
                   help="socket to listen on: unix:///path or tcp://host:port (repeatable)")
    p.add_argument("--runtime", "--default-runtime", dest="default_runtime", default=None,
                   help="OCI runtime: cove-runtime, runc, crun or a path")
    p.add_argument("-l", "--log-level", default=None,
                   choices=["debug", "info", "warn", "warning", "error", "fatal"])
    p.add_argument("-G", "--group", default=None, help="group that may use the unix socket")
    p.add_argument("--tls", action="store_true", default=None)
    p.add_argument("--tlsverify", action="store_true", default=None)
    p.add_argument("--tlscacert", default=None)
    p.add_argument("--tlscert", default=None)
    p.add_argument("--tlskey", default=None)
    p.add_argument("--insecure-tcp", action="store_true", default=None,
                   help="allow a tcp:// host without TLS (anyone who can reach it is root)")
    p.add_argument("--certs-dir", default=None,
                   help="per-registry CAs and client certificates (default /etc/cove/certs.d)")
    p.add_argument("--cgroup-parent", default=None,
                   help="parent cgroup of the containers' cgroups (default /cove)")
    p.add_argument("-b", "--bridge", default=None,
                   help='the default network\'s bridge (default cove0; "none": no default '
                   "network)")
    p.add_argument("--bip", default=None,
                   help="the default bridge's address and prefix (default 10.77.0.1/16)")
    p.add_argument("--ip", default=None,
                   help="default address published ports listen on (default 0.0.0.0; "
                   "127.0.0.1 keeps them on loopback)")
    p.add_argument("--dns", action="append", default=None,
                   help="DNS server for containers (repeatable)")
    p.add_argument("--iptables", default=None, choices=["true", "false"],
                   help="manage Cove's nftables table (default true)")
    p.add_argument("--snapshotter", "--storage-driver", dest="snapshotter", default=None,
                   choices=["overlay", "overlay2", "native", "vfs"])
    return p


def _from_file(path: str, required: bool) -> dict[str, Any]:
    try:
        with open(path) as f:
            value = json.load(f)
    except FileNotFoundError:
        if required:
            raise InvalidArgument(f"configuration file {path} not found") from None
        return {}
    except ValueError as e:
        raise InvalidArgument(f"configuration file {path} is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise InvalidArgument(f"configuration file {path} must hold a JSON object")
    return value


_FILE_KEYS = {
    "data-root": "root", "exec-root": "exec_root", "hosts": "hosts",
    "default-runtime": "default_runtime", "log-level": "log_level", "group": "group",
    "tls": "tls", "tlsverify": "tls_verify", "tlscacert": "tls_ca", "tlscert": "tls_cert",
    "tlskey": "tls_key", "storage-driver": "snapshotter", "snapshotter": "snapshotter",
    "runtimes": "runtimes", "log-opts": "log_opts", "log-driver": None, "debug": None,
    "init-path": "init_path", "cgroup-parent": "cgroup_parent", "certs-dir": "certs_dir",
    "bridge": "bridge", "bip": "bip", "default-address-pools": "default_address_pools",
    "ip": "ip", "iptables": "iptables", "ip-forward": "ip_forward", "ip-masq": "ip_masq",
    "icc": "icc", "mtu": "mtu", "dns": "dns", "dns-search": "dns_search",
    "dns-opts": "dns_opts", "firewall-table": "firewall_table",
    "cni-config-dir": "cni_config_dirs", "cni-plugin-dirs": "cni_plugin_dirs",
}
_BOOL_KEYS = {"iptables", "ip_forward", "ip_masq", "icc", "tls", "tls_verify"}
_LIST_KEYS = {"dns", "dns_search", "dns_opts", "cni_config_dirs", "cni_plugin_dirs"}


def load(argv: list[str]) -> DaemonConfig:
    args = parser().parse_args(argv)
    cfg = DaemonConfig()
    path = args.config_file or DEFAULT_CONFIG_FILE
    for key, value in _from_file(path, required=args.config_file is not None).items():
        if key not in _FILE_KEYS:
            raise InvalidArgument(f"unknown key {key!r} in {path}")
        attr = _FILE_KEYS[key]
        if attr is None:
            continue
        if attr == "runtimes":
            if not isinstance(value, dict):
                raise InvalidArgument(f"{path}: runtimes must be an object")
            cfg.runtimes = {str(name): str((spec or {}).get("path", name))
                            for name, spec in value.items()}
        elif attr == "log_opts":
            if not isinstance(value, dict):
                raise InvalidArgument(f"{path}: log-opts must be an object")
            cfg.log_opts.update({str(k): str(v) for k, v in value.items()})
        elif attr == "hosts":
            if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
                raise InvalidArgument(f"{path}: hosts must be a list of strings")
            cfg.hosts = list(value)
        elif attr in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise InvalidArgument(f"{path}: {key} must be true or false")
            setattr(cfg, attr, value)
        elif attr in _LIST_KEYS:
            items = [value] if isinstance(value, str) and attr.startswith("cni_config") \
                else value
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise InvalidArgument(f"{path}: {key} must be a list of strings")
            setattr(cfg, attr, list(items))
        elif attr == "mtu":
            if not isinstance(value, int) or isinstance(value, bool) or \
                    not (value == 0 or 68 <= value <= 65535):
                raise InvalidArgument(f"{path}: mtu must be 68-65535")
            cfg.mtu = value
        elif attr == "default_address_pools":
            if not isinstance(value, list) or not all(
                    isinstance(v, dict) and isinstance(v.get("base"), str)
                    and isinstance(v.get("size"), int) for v in value):
                raise InvalidArgument(f"{path}: default-address-pools must be a list of "
                                      '{"base": "a.b.c.d/n", "size": n}')
            cfg.default_address_pools = list(value)
        else:
            if not isinstance(value, str):
                raise InvalidArgument(f"{path}: {key} must be a string")
            setattr(cfg, attr, value)
    for attr in ("root", "exec_root", "hosts", "default_runtime", "log_level", "group",
                 "tls", "snapshotter", "insecure_tcp", "cgroup_parent", "certs_dir",
                 "bridge", "bip", "ip", "dns"):
        value = getattr(args, attr)
        if value is not None:
            setattr(cfg, attr, value)
    if args.iptables is not None:
        cfg.iptables = args.iptables == "true"
    for flag, attr in (("tlsverify", "tls_verify"), ("tlscacert", "tls_ca"),
                       ("tlscert", "tls_cert"), ("tlskey", "tls_key")):
        value = getattr(args, flag)
        if value is not None:
            setattr(cfg, attr, value)
    if cfg.snapshotter in ("overlay2",):
        cfg.snapshotter = "overlay"
    if cfg.snapshotter == "vfs":
        cfg.snapshotter = "native"
    if not cfg.cgroup_parent.startswith("/"):
        cfg.cgroup_parent = "/" + cfg.cgroup_parent
    cfg.root = os.path.abspath(cfg.root)
    cfg.exec_root = os.path.abspath(cfg.exec_root)
    validate(cfg)
    return cfg


def validate(cfg: DaemonConfig) -> None:
    for host in cfg.hosts:
        if host.startswith("unix://"):
            if not host[len("unix://"):].startswith("/"):
                raise InvalidArgument(f"invalid host {host!r}: unix socket path must be absolute")
        elif host.startswith("tcp://"):
            if not cfg.tls_verify and not cfg.insecure_tcp:
                raise InvalidArgument(
                    f"refusing to listen on {host} without --tlsverify: anyone reaching it "
                    "would be root on this host (use --insecure-tcp to force it)")
            if cfg.tls_verify and not (cfg.tls_ca and cfg.tls_cert and cfg.tls_key):
                raise InvalidArgument("--tlsverify needs --tlscacert, --tlscert and --tlskey")
        else:
            raise InvalidArgument(f"invalid host {host!r}: want unix:///path or tcp://host:port")
    validate_network(cfg)
    for key in cfg.log_opts:
        if key not in ("max-size", "max-file", "compress", "labels", "env", "tag", "mode",
                       "max-buffer-size"):
            raise InvalidArgument(f"unknown log opt {key!r}")


def validate_network(cfg: DaemonConfig) -> None:
    import ipaddress
    if cfg.bridge != "none" and not (0 < len(cfg.bridge) <= 15 and "/" not in cfg.bridge):
        raise InvalidArgument(f"invalid bridge {cfg.bridge!r}: an interface name of 1-15 "
                              "characters")
    try:
        bip = ipaddress.ip_interface(cfg.bip)
    except ValueError:
        raise InvalidArgument(f"invalid bip {cfg.bip!r}: want a.b.c.d/n") from None
    if not isinstance(bip, ipaddress.IPv4Interface) or "/" not in cfg.bip or \
            bip.ip in (bip.network.network_address, bip.network.broadcast_address):
        raise InvalidArgument(f"invalid bip {cfg.bip!r}: want the gateway's IPv4 address "
                              "and prefix, e.g. 10.77.0.1/16")
    for value in (cfg.ip, *cfg.dns):
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise InvalidArgument(f"invalid IP address {value!r}") from None
    if not cfg.firewall_table or not all(c.isalnum() or c in "_-" for c in cfg.firewall_table):
        raise InvalidArgument(f"invalid firewall-table {cfg.firewall_table!r}")
    from cove.engine.networks.ipam import SubnetPools
    SubnetPools(tuple((str(p["base"]), int(p["size"]))
                      for p in cfg.default_address_pools)).validate()


def network_config(cfg: DaemonConfig) -> Any:
    """The engine's NetworkConfig for ``cfg``."""
    from cove.engine.networks.config import NetworkConfig
    from cove.engine.networks.ipam import SubnetPools
    return NetworkConfig(
        bridge=cfg.bridge, bip=cfg.bip,
        pools=SubnetPools(tuple((str(p["base"]), int(p["size"]))
                                for p in cfg.default_address_pools)),
        default_bind_ip=cfg.ip, iptables=cfg.iptables, ip_forward=cfg.ip_forward,
        ip_masq=cfg.ip_masq, icc=cfg.icc, mtu=cfg.mtu, dns=tuple(cfg.dns),
        dns_search=tuple(cfg.dns_search), dns_options=tuple(cfg.dns_opts),
        firewall_table=cfg.firewall_table, cni_config_dirs=tuple(cfg.cni_config_dirs),
        cni_plugin_dirs=tuple(cfg.cni_plugin_dirs))
