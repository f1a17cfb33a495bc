"""VolumeService: create, list, inspect, remove and prune volumes of the local driver.

Who uses a volume is the containers' business: ``users`` returns each container's
id and its Mounts (inspect's list), so a volume mounted by any container, running or
stopped, is in use. A container being created holds its volumes with ``hold`` until
its record is written, so a remove or prune racing with a ``run`` never takes them.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from cove.engine.containers.model import now_rfc3339
from cove.engine.volumes import filters as F
from cove.engine.volumes import local
from cove.engine.volumes.model import ANONYMOUS_LABEL, LOCAL, Volume, validate_name
from cove.engine.volumes.store import VolumeStore
from cove.errors import AlreadyExists, Conflict, InvalidArgument, NotFound

log = logging.getLogger("cove.engine.volumes")

# (container id, its Mounts as inspect shows them) for every container.
Users = Callable[[], Iterable[tuple[str, Sequence[Mapping[str, Any]]]]]
# Told of each volume created or destroyed: (action, name, attributes), Docker's events.
Notify = Callable[[str, str, dict[str, str]], object]


class VolumeService:
    def __init__(self, root: str, users: Users | None = None,
                 notify: Notify | None = None) -> None:
        self.store = VolumeStore(root)
        self.users: Users = users or (lambda: ())
        self.notify: Notify = notify or (lambda _action, _name, _attrs: None)
        self._lock = threading.RLock()
        self._held: Counter[str] = Counter()
        self._volumes = self.store.load()

    # -- lookups ---------------------------------------------------------------------------

    def get(self, name: str) -> Volume:
        with self._lock:
            v = self._volumes.get(name)
        if v is None:
            raise NotFound(f"get {name}: no such volume")
        return v

    def exists(self, name: str) -> bool:
        with self._lock:
            return name in self._volumes

    def in_use(self, name: str) -> list[str]:
        """Ids of the containers that mount ``name`` (and "creating" while one is made)."""
        ids = [cid for cid, mounts in self.users()
               if any(m.get("Type") == "volume" and m.get("Name") == name for m in mounts)]
        with self._lock:
            if self._held[name] and not ids:
                ids.append("(a container being created)")
        return ids

    def list(self, filters: F.Filters | None = None) -> list[Volume]:
        filters = filters or {}
        F.check(filters, F.LIST_KEYS)
        with self._lock:
            volumes = sorted(self._volumes.values(), key=lambda v: v.name)
        if "dangling" in filters:
            used = self._used_names()
            return [v for v in volumes if F.matches(v, filters, in_use=v.name in used)]
        return [v for v in volumes if F.matches(v, filters, in_use=False)]

    def _used_names(self) -> set[str]:
        used = {str(m.get("Name")) for _cid, mounts in self.users() for m in mounts
                if m.get("Type") == "volume"}
        with self._lock:
            used.update(n for n, count in self._held.items() if count)
        return used

    def usage(self, name: str) -> int:
        """Bytes of the files in the volume (each inode once; directories not counted),
        as Docker's local driver reports a volume's size."""
        root = self.get(name).mountpoint
        seen: set[tuple[int, int]] = set()
        total = 0
        for dirpath, _dirs, files in os.walk(root):
            for entry in files:
                with contextlib.suppress(OSError):
                    st = os.lstat(os.path.join(dirpath, entry))
                    if (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        total += st.st_size
        return total

    # -- changes ---------------------------------------------------------------------------

    def create(self, name: str | None = None, driver: str | None = None,
               driver_opts: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None) -> Volume:
        driver = driver or LOCAL
        if driver != LOCAL:
            raise NotFound(f"error looking up volume plugin {driver}: plugin \"{driver}\" "
                           "not found")
        labels = dict(labels or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
            raise InvalidArgument("Labels must map strings to strings")
        options = local.check_options(driver_opts or {})
        if name:
            validate_name(name)
        else:
            name = secrets.token_hex(32)
            labels.setdefault(ANONYMOUS_LABEL, "")
        with self._lock:
            existing = self._volumes.get(name)
            if existing is not None:
                if existing.driver != driver:
                    raise AlreadyExists(f"create {name}: volume name already exists with a "
                                        f"different driver: {existing.driver}")
                # Docker answers an existing name with that volume, unchanged.
                return existing
            volume = Volume(name=name, created_at=_created_now(),
                            mountpoint=self.store.data_of(name), driver=driver,
                            labels=labels, options=options)
            try:
                self.store.save(volume)
            except OSError as e:
                self.store.delete(name)
                raise InvalidArgument(f"create {name}: {e}") from e
            self._volumes[name] = volume
        log.info("volume %s created", name)
        self.notify("create", name, {"driver": driver})
        return volume

    def remove(self, name: str, force: bool = False) -> None:
        with self._lock:
            if name not in self._volumes:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.in_use(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._delete_locked(name)

    def _delete_locked(self, name: str) -> None:
        volume = self._volumes[name]
        local.unmount(name, volume.mountpoint)
        self.store.delete(name)
        del self._volumes[name]
        log.info("volume %s removed", name)
        self.notify("destroy", name, {"driver": volume.driver})

    def prune(self, filters: F.Filters | None = None,
              dry_run: bool = False) -> tuple[builtins.list[str], int]:
        """Remove unused volumes (only anonymous ones unless ``all``); never one in use
        or protected. Returns the names removed (or that would be) and their bytes."""
        filters = filters or {}
        F.check(filters, F.PRUNE_KEYS)
        every = F.flag(filters, "all")
        deleted: builtins.list[str] = []
        reclaimed = 0
        with self._lock:
            used = self._used_names()
            for volume in sorted(self._volumes.values(), key=lambda v: v.name):
                if volume.name in used or volume.protected:
                    continue
                if not every and not volume.anonymous:
                    continue
                if not F.matches(volume, filters, in_use=False):
                    continue
                size = self.usage(volume.name)
                if not dry_run:
                    try:
                        self._delete_locked(volume.name)
                    except Exception as e:
                        log.warning("prune: volume %s kept: %s", volume.name, e)
                        continue
                deleted.append(volume.name)
                reclaimed += size
        return deleted, reclaimed

    # -- containers ------------------------------------------------------------------------

    @contextlib.contextmanager
    def hold(self, names: Iterable[str] = ()) -> Iterator[Hold]:
        """Count ``names`` (and those added to the hold) as in use while a container that
        mounts them is made; its record takes over once written."""
        hold = Hold(self)
        for name in names:
            hold.add(name)
        try:
            yield hold
        finally:
            hold.release()

    def mountpoint(self, name: str) -> str:
        """The host directory to bind into a container (mounting the device first)."""
        volume = self.get(name)
        local.mount(name, volume.options, volume.mountpoint)
        return volume.mountpoint


class Hold:
    """Volumes a container create is about to use (see ``VolumeService.hold``)."""

    def __init__(self, service: VolumeService) -> None:
        self._service = service
        self.names: builtins.list[str] = []

    def add(self, name: str) -> None:
        with self._service._lock:
            self._service._held[name] += 1
        self.names.append(name)

    def release(self) -> None:
        held = self._service._held
        with self._service._lock:
            for name in self.names:
                held[name] -= 1
                if held[name] <= 0:
                    del held[name]
        self.names = []


def _created_now() -> str:
    # Docker's CreatedAt is RFC 3339 with seconds and the zone.
    return now_rfc3339().split(".")[0] + "Z"
