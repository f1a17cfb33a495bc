"""Container records on disk, one directory per container, and the name index.

``<root>/containers/<id>/container.json`` is replaced atomically (temp file, fsync,
rename, directory fsync), so a daemon killed at any instant finds either the old or
the new record. A container exists for the daemon iff its record exists: directories
without one are leftovers of a create that never finished, and are removed at start.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Iterator

from cove.engine.atomicfile import write_atomic
from cove.engine.containers.model import Container
from cove.engine.containers.names import random_name
from cove.errors import AlreadyExists, InvalidArgument, NotFound

log = logging.getLogger("cove.engine.store")

RECORD = "container.json"
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_HEX = re.compile(r"^[0-9a-f]+$")


class AmbiguousId(InvalidArgument):
    """A prefix that matches several containers."""


def validate_name(name: str) -> str:
    bare = name[1:] if name.startswith("/") else name
    if not _NAME.match(bare):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return bare


class ContainerStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "containers")
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self._lock = threading.RLock()
        self._by_id: dict[str, Container] = {}
        self._by_name: dict[str, str] = {}
        # One lock per container: concurrent requests on a container are serialised.
        self._locks: dict[str, threading.RLock] = {}
        # Directories of creates that never finished (no record): the service cleans
        # them (unmount, release the snapshot) before removing them.
        self.leftovers: list[str] = []
        self._load()

    def _load(self) -> None:
        for entry in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, entry, RECORD)
            try:
                with open(path, "rb") as f:
                    container = Container.from_record(json.loads(f.read()))
            except FileNotFoundError:
                self.leftovers.append(entry)
                continue
            except (ValueError, TypeError, KeyError) as e:
                log.error("container record %s unreadable (%s); skipped", path, e)
                continue
            self._by_id[container.id] = container
            self._by_name[container.name] = container.id

    def dir_of(self, container_id: str) -> str:
        return os.path.join(self.root, container_id)

    def new_id(self) -> str:
        while True:
            cid = secrets.token_hex(32)
            # Docker avoids ids that look like numbers in their short form.
            if not cid[:12].isdigit() and cid not in self._by_id:
                return cid

    def reserve(self, container: Container) -> None:
        """Claim the name and id in memory (not yet on disk): the first step of create."""
        with self._lock:
            if not container.name:
                container.name = self._free_name()
            owner = self._by_name.get(container.name)
            if owner is not None:
                raise AlreadyExists(
                    f'Conflict. The container name "/{container.name}" is already in use by '
                    f'container "{owner}". You have to remove (or rename) that container to '
                    "be able to reuse that name.")
            self._by_name[container.name] = container.id
            self._by_id[container.id] = container
            os.makedirs(self.dir_of(container.id), mode=0o700, exist_ok=True)

    def release(self, container: Container) -> None:
        """Undo reserve/save: forget the container and remove its directory."""
        with self._lock:
            self._by_id.pop(container.id, None)
            if self._by_name.get(container.name) == container.id:
                del self._by_name[container.name]
            self._locks.pop(container.id, None)
        shutil.rmtree(self.dir_of(container.id), ignore_errors=True)

    def _free_name(self) -> str:
        for _ in range(100):
            name = random_name()
            if name not in self._by_name:
                return name
        return f"{random_name()}_{secrets.token_hex(3)}"

    def save(self, container: Container) -> None:
        data = json.dumps(container.to_record(), separators=(",", ":")).encode()
        write_atomic(os.path.join(self.dir_of(container.id), RECORD), data)

    def rename(self, container: Container, new_name: str) -> None:
        new_name = validate_name(new_name)
        with self._lock:
            owner = self._by_name.get(new_name)
            if owner is not None and owner != container.id:
                raise AlreadyExists(
                    f'Error when allocating new name: Conflict. The container name '
                    f'"/{new_name}" is already in use by container "{owner}". You have to '
                    "remove (or rename) that container to be able to reuse that name.")
            old = container.name
            container.name = new_name
            try:
                self.save(container)
            except BaseException:
                container.name = old
                raise
            self._by_name.pop(old, None)
            self._by_name[new_name] = container.id

    def lock(self, container_id: str) -> threading.RLock:
        with self._lock:
            return self._locks.setdefault(container_id, threading.RLock())

    def get(self, ref: str) -> Container:
        """By full id, name (with or without '/'), or unique id prefix — Docker's order."""
        with self._lock:
            if ref in self._by_id:
                return self._by_id[ref]
            name = ref[1:] if ref.startswith("/") else ref
            if name in self._by_name:
                return self._by_id[self._by_name[name]]
            if ref and _HEX.match(ref):
                matches = [c for cid, c in self._by_id.items() if cid.startswith(ref)]
                if len(matches) == 1:
                    return matches[0]
                if len(matches) > 1:
                    raise AmbiguousId(
                        f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    def all(self) -> list[Container]:
        with self._lock:
            return list(self._by_id.values())

    def __iter__(self) -> Iterator[Container]:
        return iter(self.all())
