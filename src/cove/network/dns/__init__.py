"""Cove's embedded DNS server (127.0.0.11 in containers on user-defined networks)."""

from __future__ import annotations

from cove.network.dns.server import (
    LISTEN_ADDRESS,
    LISTEN_PORT,
    RECORD_TTL,
    DnsServer,
    DnsServerError,
    Records,
    Upstreams,
)
from cove.network.dns.wire import DnsFormatError

__all__ = [
    "LISTEN_ADDRESS",
    "LISTEN_PORT",
    "RECORD_TTL",
    "DnsFormatError",
    "DnsServer",
    "DnsServerError",
    "Records",
    "Upstreams",
]
