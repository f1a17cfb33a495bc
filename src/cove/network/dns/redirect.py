"""127.0.0.11:53 inside a container, sent on to the embedded server's own ports.

The embedded server listens on 127.0.0.11 at kernel-chosen ports, so port 53 stays
free for the container's own processes (dnsmasq, coredns... binding 0.0.0.0:53), as
with Docker. A nat chain on the output hook of the container's namespace rewrites
the destination of what is sent to 127.0.0.11:53 (UDP and TCP) to those ports;
conntrack rewrites the source of the replies back to 127.0.0.11:53 (the reverse of
the DNAT, applied on the way in), so a client checking where its answer came from
(busybox, glibc, musl) accepts it.

``dnat to 127.0.0.11:<port>`` rather than ``redirect``: in the output hook
``redirect`` sends to 127.0.0.1, where nothing of ours listens.

The table is written whole in one transaction (created, deleted, created again: the
usual way to replace a table that may or may not exist with nft 1.0), so writing it
again with other ports is atomic and attaching twice leaves one table. The nftables
context must be made by a thread inside the container's namespace: libnftables binds
its netlink socket to the namespace of the thread that creates it.
"""

from __future__ import annotations

import ipaddress

from cove.errors import CoveError, InvalidArgument
from cove.network.firewall.nft import Nft

TABLE = "cove-dns"  # in family ip, inside the container's namespace
CHAIN = "output"
PRIORITY = -100  # dstnat, as any nat output chain


class RedirectError(CoveError):
    """The DNS redirection could not be written into a container's namespace."""


def _port(port: int, what: str) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise InvalidArgument(f"invalid {what} port {port!r} for the DNS redirection")
    return port


def redirect_script(address: str, port: int, udp_port: int, tcp_port: int) -> str:
    """The nft script that sends ``address:port`` (UDP and TCP) to ``address:udp_port``
    and ``address:tcp_port``, replacing any earlier table of ours."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ValueError as e:
        raise InvalidArgument(f"invalid address {address!r} for the DNS redirection") from e
    port = _port(port, "listening")
    udp_port = _port(udp_port, "UDP")
    tcp_port = _port(tcp_port, "TCP")
    return (
        f"table ip {TABLE} {{}}\n"
        f"delete table ip {TABLE}\n"
        f"table ip {TABLE} {{\n"
        f"\tchain {CHAIN} {{\n"
        f"\t\ttype nat hook output priority {PRIORITY}; policy accept;\n"
        f"\t\tip daddr {ip} udp dport {port} dnat to {ip}:{udp_port}\n"
        f"\t\tip daddr {ip} tcp dport {port} dnat to {ip}:{tcp_port}\n"
        f"\t}}\n"
        f"}}\n"
    )


def install(nft: Nft, address: str, port: int, udp_port: int, tcp_port: int,
            where: str) -> None:
    """Write the redirection through ``nft``, a context made inside the namespace
    ``where`` names (for the error message); RedirectError when nftables refuses."""
    script = redirect_script(address, port, udp_port, tcp_port)
    try:
        nft.run(script)
    except CoveError as e:
        raise RedirectError(f"cannot redirect {address}:{port} to ports {udp_port}/udp and "
                            f"{tcp_port}/tcp in {where}: {e}") from e
