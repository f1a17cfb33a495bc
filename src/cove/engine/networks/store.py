"""Network records on disk: ``<root>/network/<id>.json``, each written atomically.

The record carries the address pool and its leases, so it is rewritten whenever an
address is leased or released: after a crash the daemon finds every lease it gave.
"""

from __future__ import annotations

import json
import logging
import os
import threading

from cove.engine.atomicfile import write_atomic
from cove.engine.networks.model import Network
from cove.errors import AlreadyExists, NotFound

log = logging.getLogger(__name__)


class NetworkStore:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "network")
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self._by_id: dict[str, Network] = {}
        # One lock for the records and their pools: leases are small, short operations.
        self.lock = threading.RLock()
        for entry in sorted(os.listdir(self.dir)):
            if entry.endswith(".tmp"):
                os.unlink(os.path.join(self.dir, entry))
                continue
            if not entry.endswith(".json"):
                continue
            try:
                with open(os.path.join(self.dir, entry), "rb") as f:
                    net = Network.from_record(json.loads(f.read()))
            except (OSError, ValueError, KeyError) as e:
                log.error("skipping unreadable network record %s: %s", entry, e)
                continue
            self._by_id[net.id] = net

    def all(self) -> list[Network]:
        with self.lock:
            return list(self._by_id.values())

    def find(self, ref: str) -> Network:
        """By full id, exact name, or unique id prefix (Docker's lookup order)."""
        with self.lock:
            if ref in self._by_id:
                return self._by_id[ref]
            for net in self._by_id.values():
                if net.name == ref:
                    return net
            if ref:
                matches = [n for n in self._by_id.values() if n.id.startswith(ref)]
                if len(matches) == 1:
                    return matches[0]
                if len(matches) > 1:
                    raise NotFound(f"network {ref} is ambiguous ({len(matches)} matches found "
                                   "based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def add(self, net: Network) -> None:
        with self.lock:
            if any(n.name == net.name for n in self._by_id.values()):
                raise AlreadyExists(f"network with name {net.name} already exists")
            self._write(net)
            self._by_id[net.id] = net

    def save(self, net: Network) -> None:
        """Rewrite the record of a network in the store (a removed one stays removed:
        a lease released after the removal must not bring its record back)."""
        with self.lock:
            if self._by_id.get(net.id) is net:
                self._write(net)

    def _write(self, net: Network) -> None:
        data = json.dumps(net.to_record(), separators=(",", ":")).encode()
        write_atomic(os.path.join(self.dir, net.id + ".json"), data)

    def remove(self, net: Network) -> None:
        with self.lock:
            try:
                os.unlink(os.path.join(self.dir, net.id + ".json"))
            except FileNotFoundError:
                pass
            self._by_id.pop(net.id, None)
