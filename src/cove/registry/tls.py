"""TLS for registries: system CAs plus Docker-style ``certs.d`` per-registry files.

``<certs_dir>/<host:port>/`` may hold ``*.crt`` CA certificates (``ca.crt``)
and a client pair ``client.cert`` / ``client.key``.
"""

from __future__ import annotations

import ipaddress
import os
import ssl


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``name[:port]`` or ``[v6]:port``) names this machine's loopback."""
    name = host_name(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_name(host: str) -> str:
    """The host part of ``host[:port]`` without brackets."""
    if host.startswith("["):
        return host[1 : host.index("]")]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def context_for(host: str, certs_dir: str) -> ssl.SSLContext:
    """A verifying client context: system CAs, then the registry's own certs.d files."""
    ctx = ssl.create_default_context()
    hostdir = os.path.join(certs_dir, host)
    try:
        names = sorted(os.listdir(hostdir))
    except (FileNotFoundError, NotADirectoryError):
        return ctx
    for name in names:
        path = os.path.join(hostdir, name)
        if name.endswith(".crt"):
            ctx.load_verify_locations(cafile=path)
        elif name.endswith(".cert"):
            key = path[: -len(".cert")] + ".key"
            if not os.path.exists(key):
                raise FileNotFoundError(f"{path}: client certificate without its key {key}")
            ctx.load_cert_chain(path, key)
    return ctx


def has_certs(host: str, certs_dir: str) -> bool:
    """Whether certs.d has a directory for this registry (then it speaks TLS)."""
    return os.path.isdir(os.path.join(certs_dir, host))
