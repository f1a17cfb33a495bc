"""Cove's firewall on nftables: the ``Firewall`` keeping Cove's table, and the runner.

Scripts run through libnftables (ctypes), or through ``nft -f -`` without it. One
script is one netlink batch, hence one kernel transaction: either all of it applies
or none. libnftables opens its netlink socket in ``nft_ctx_new``, so an Nft (and a
Firewall) acts on the network namespace of the thread that created it, whichever
thread calls it later (the ``nft`` binary fallback: that of the calling thread).

The hooks, priorities and the operator's ``cove-user`` chain are described in
:mod:`cove.network.firewall.rules` and docs/networking-firewall.md.
"""

from __future__ import annotations

import ctypes
import logging
import shutil
import subprocess
import threading
import time

from cove.errors import CoveError, InvalidArgument, NotFound
from cove.network.firewall.rules import (
    DEFAULT_TABLE,
    FwNetwork,
    PortMapping,
    build_ruleset,
    destroy_script,
)

log = logging.getLogger(__name__)

_LIBRARY = "libnftables.so.1"


class FirewallError(CoveError):
    """nftables refused a script; the message carries nft's own error text."""


class _Lib:
    """The few libnftables entry points Cove needs, with their C signatures."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.ctx_new = lib.nft_ctx_new
        self.ctx_new.argtypes = [ctypes.c_uint32]
        self.ctx_new.restype = ctypes.c_void_p
        self.buffer_output = lib.nft_ctx_buffer_output
        self.buffer_output.argtypes = [ctypes.c_void_p]
        self.buffer_output.restype = ctypes.c_int
        self.buffer_error = lib.nft_ctx_buffer_error
        self.buffer_error.argtypes = [ctypes.c_void_p]
        self.buffer_error.restype = ctypes.c_int
        self.run_cmd = lib.nft_run_cmd_from_buffer
        self.run_cmd.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self.run_cmd.restype = ctypes.c_int
        self.output_buffer = lib.nft_ctx_get_output_buffer
        self.output_buffer.argtypes = [ctypes.c_void_p]
        self.output_buffer.restype = ctypes.c_char_p
        self.error_buffer = lib.nft_ctx_get_error_buffer
        self.error_buffer.argtypes = [ctypes.c_void_p]
        self.error_buffer.restype = ctypes.c_char_p
        self.ctx_free = lib.nft_ctx_free
        self.ctx_free.argtypes = [ctypes.c_void_p]
        self.ctx_free.restype = None


def _load() -> _Lib | None:
    try:
        return _Lib(ctypes.CDLL(_LIBRARY))
    except OSError as exc:
        log.debug("%s not loadable (%s); using the nft binary", _LIBRARY, exc)
        return None


class Nft:
    """An nftables context; ``run`` executes one script as one transaction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib = _load()
        self._ctx: int | None = None
        if self._lib is not None:
            ctx = self._lib.ctx_new(0)
            if not ctx:
                raise FirewallError("nft_ctx_new failed: cannot create an nftables context")
            self._lib.buffer_output(ctx)
            self._lib.buffer_error(ctx)
            self._ctx = ctx
        elif shutil.which("nft") is None:
            raise FirewallError(f"neither {_LIBRARY} nor the nft binary is available")

    def run(self, script: str) -> str:
        """Run ``script``; return nft's output; raise FirewallError with nft's error text."""
        with self._lock:
            if self._lib is None:
                return self._run_binary(script)
            if self._ctx is None:
                raise FirewallError("the nftables context is closed")
            rc = self._lib.run_cmd(self._ctx, script.encode())
            # Reading the buffers also resets them for the next call.
            out = (self._lib.output_buffer(self._ctx) or b"").decode(errors="replace")
            err = (self._lib.error_buffer(self._ctx) or b"").decode(errors="replace")
        if rc != 0:
            raise FirewallError(f"nftables rejected the ruleset: {err.strip() or f'rc={rc}'}")
        return out

    def close(self) -> None:
        with self._lock:
            if self._lib is not None and self._ctx is not None:
                self._lib.ctx_free(self._ctx)
            self._ctx = None

    @staticmethod
    def _run_binary(script: str) -> str:
        proc = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            raise FirewallError(f"nftables rejected the ruleset: {proc.stderr.strip()}")
        return proc.stdout


class Firewall:
    """Cove's nftables table, rewritten whole from an in-memory model on every change.

    The model is the list of networks and the port mappings of each owner (container
    id). The first commit after a daemon (re)start replaces whatever a crashed daemon
    left in Cove's chains; the operator's ``cove-user`` chain is kept.
    """

    def __init__(self, table: str = DEFAULT_TABLE) -> None:
        self.table = table
        self._nft = Nft()
        self._lock = threading.Lock()
        self._networks: list[FwNetwork] = []
        self._ports: dict[str, list[PortMapping]] = {}

    def set_networks(self, networks: list[FwNetwork]) -> None:
        """Replace the networks and commit."""
        bridges = [n.bridge for n in networks]
        if len(set(bridges)) != len(bridges):
            raise InvalidArgument(f"firewall networks name a bridge twice: {bridges}")
        with self._lock:
            previous = self._networks
            self._networks = list(networks)
            try:
                self._commit()
            except BaseException:
                self._networks = previous
                raise

    def set_ports(self, owner: str, mappings: list[PortMapping]) -> None:
        """Replace ``owner``'s published ports (``[]`` removes them) and commit."""
        with self._lock:
            if not mappings and owner not in self._ports:
                return  # nothing of owner's in the table: no transaction needed
            previous = dict(self._ports)
            if mappings:
                self._ports[owner] = list(mappings)
            else:
                self._ports.pop(owner, None)
            try:
                self._commit()
            except BaseException:
                self._ports = previous  # the model stays what the kernel holds
                raise

    def sync(self) -> None:
        """Write the table from the model in one transaction."""
        with self._lock:
            self._commit()

    def destroy(self) -> None:
        """Delete the whole table, the operator's ``cove-user`` chain included."""
        with self._lock:
            self._nft.run(destroy_script(self.table))

    def rules_text(self) -> str:
        """The script ``sync`` runs (for tests and debugging)."""
        with self._lock:
            return self._script()

    def close(self) -> None:
        self._nft.close()

    def _script(self) -> str:
        mappings = [m for owner in sorted(self._ports) for m in self._ports[owner]]
        return build_ruleset(self.table, self._networks, mappings)

    def _commit(self) -> None:
        script = self._script()
        started = time.perf_counter()
        self._nft.run(script)
        log.debug("firewall table %s written in %.2f ms", self.table,
                  (time.perf_counter() - started) * 1000)


def enable_ip_forward() -> bool:
    """Turn on IPv4 forwarding if it is off; return whether it was changed."""
    path = "/proc/sys/net/ipv4/ip_forward"
    with open(path) as f:
        if f.read().strip() != "0":
            return False
    with open(path, "w") as f:
        f.write("1")
    log.info("enabled net.ipv4.ip_forward for container networks")
    return True


def set_route_localnet(bridge: str, enabled: bool = True) -> None:
    """Set net.ipv4.conf.<bridge>.route_localnet, so that the host's connections to
    127.0.0.1:<published port>, DNATed to a container, may leave by the bridge."""
    if not bridge or "/" in bridge or bridge in (".", ".."):
        raise InvalidArgument(f"invalid bridge name {bridge!r}")
    path = f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet"
    try:
        with open(path, "w") as f:
            f.write("1" if enabled else "0")
    except FileNotFoundError as exc:
        raise NotFound(f"cannot set route_localnet: no interface {bridge}") from exc
