"""A container's /etc/hostname, /etc/hosts and /etc/resolv.conf, as Docker writes them.

The files live in the container's directory and are bind-mounted into it; they are
rewritten in place (never replaced by a rename), so a running container sees a
network connected later in its /etc/hosts.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from cove.network import etcfiles

if TYPE_CHECKING:
    from cove.engine.containers.model import Container
    from cove.engine.networks.service import NetworkService

HOST_RESOLV_CONF = "/etc/resolv.conf"


def _read(path: str) -> str:
    with contextlib.suppress(OSError), open(path) as f:
        return f.read()
    return ""


def _write(path: str, text: str) -> None:
    if not path:
        return
    with open(path, "w") as f:
        f.write(text)


def host_nameservers() -> list[str]:
    return etcfiles.nameservers(_read(HOST_RESOLV_CONF))


def _dns_settings(c: Container, service: NetworkService | None
                  ) -> tuple[list[str], list[str], list[str]]:
    h = c.host_config
    dns = list(h.get("Dns") or [])
    search = list(h.get("DnsSearch") or [])
    options = list(h.get("DnsOptions") or [])
    if service is not None:
        dns = dns or list(service.config.dns)
        search = search or list(service.config.dns_search)
        options = options or list(service.config.dns_options)
    return dns, search, options


def _uses_embedded(c: Container) -> bool:
    attachments = (getattr(c, "sandbox", None) or {}).get("attachments") or {}
    return any(att.get("dns") for att in attachments.values())


def needs_fallback_resolver(c: Container, service: NetworkService) -> bool:
    """Default bridge only, and no usable nameserver in the host's file: Cove serves the
    container from 127.0.0.11 (forwarding only) where Docker would fall back to Google's
    public servers."""
    if _uses_embedded(c) or not getattr(c, "sandbox", None):
        return False
    if not (c.sandbox.get("attachments") or {}):
        return False
    dns, _, _ = _dns_settings(c, service)
    if dns:
        return False
    return not [s for s in host_nameservers() if not _loopback(s)]


def _loopback(server: str) -> bool:
    return server.startswith("127.") or server == "::1"


def write_files(c: Container, service: NetworkService | None) -> None:
    hostname = str(c.config.get("Hostname") or c.id[:12])
    domain = str(c.config.get("Domainname") or "")
    _write(c.hostname_path, hostname + "\n")
    attachments = (getattr(c, "sandbox", None) or {}).get("attachments") or {}
    addresses = [str(att["address"]) for att in attachments.values() if att.get("address")]
    hosts = etcfiles.hosts_file(
        hostname, domain, addresses, list(c.host_config.get("ExtraHosts") or []),
        host_gateway=_host_gateway(c, service))
    links = (getattr(c, "sandbox", None) or {}).get("link_hosts") or []
    _write(c.hosts_path, hosts + "".join(line + "\n" for line in links))
    dns, search, options = _dns_settings(c, service)
    embedded = _uses_embedded(c) or (service is not None and
                                     needs_fallback_resolver(c, service))
    _write(c.resolv_conf_path, etcfiles.resolv_conf(
        _read(HOST_RESOLV_CONF), embedded=embedded, dns=dns, search=search,
        options=options))


def _host_gateway(c: Container, service: NetworkService | None) -> str:
    """``--add-host name:host-gateway``: the gateway of the container's first network."""
    attachments = (getattr(c, "sandbox", None) or {}).get("attachments") or {}
    for att in attachments.values():
        if att.get("gateway"):
            return str(att["gateway"])
    if service is not None:
        with contextlib.suppress(Exception):
            pool = service.store.find("bridge").pool()
            if pool is not None:
                return pool.gateway
    return "127.0.0.1"


def write_shared(c: Container, mode: str, service: NetworkService) -> None:
    """``--network host``: the host's files; ``container:<id>``: the other container's."""
    hostname = str(c.config.get("Hostname") or c.id[:12])
    _write(c.hostname_path, hostname + "\n")
    if mode == "host":
        hosts = _read("/etc/hosts")
        extra = etcfiles.hosts_file(hostname, "", [], list(c.host_config.get("ExtraHosts")
                                                          or []),
                                    host_gateway="127.0.0.1")
        extra_lines = [ln for ln in extra.splitlines()
                       if ln and ln not in hosts.splitlines()
                       and not ln.split("\t")[0].startswith(("127.0.0.1", "::1", "fe00",
                                                             "ff0"))]
        _write(c.hosts_path, hosts + ("\n".join(extra_lines) + "\n" if extra_lines else ""))
        dns, search, options = _dns_settings(c, service)
        if dns:
            _write(c.resolv_conf_path, etcfiles.resolv_conf(
                _read(HOST_RESOLV_CONF), embedded=False, dns=dns, search=search,
                options=options))
            return
        # The host's own file (its loopback resolvers are reachable from the host's
        # namespace), with the container's search and options lines, if any, instead.
        lines = [ln for ln in _read(HOST_RESOLV_CONF).splitlines()
                 if not (search and ln.startswith("search")) and
                 not (options and ln.startswith("options"))]
        if search:
            lines.append("search " + " ".join(s for s in search if s != "."))
        if options:
            lines.append("options " + " ".join(options))
        _write(c.resolv_conf_path, "\n".join(lines) + "\n")
        return
    other = service.container(mode.partition(":")[2])
    if other is None:
        return
    _write(c.hosts_path, _read(other.hosts_path))
    _write(c.resolv_conf_path, _read(other.resolv_conf_path))
