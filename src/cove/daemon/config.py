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
}


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
        else:
            setattr(cfg, attr, value)
    for attr in ("root", "exec_root", "hosts", "default_runtime", "log_level", "group",
                 "tls", "snapshotter", "insecure_tcp", "cgroup_parent", "certs_dir"):
        value = getattr(args, attr)
        if value is not None:
            setattr(cfg, attr, value)
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
    for key in cfg.log_opts:
        if key not in ("max-size", "max-file", "compress", "labels", "env", "tag", "mode",
                       "max-buffer-size"):
            raise InvalidArgument(f"unknown log opt {key!r}")
