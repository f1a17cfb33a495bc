"""MetadataStore: the engine's SQLite database (WAL) of names, graph edges, containers, leases.

Durability: the database runs ``synchronous=NORMAL`` in WAL mode, so every
transaction is atomic and survives a crash of the process; a power loss may
undo the last few commits but never corrupts the file.  Losing a recent
``put_image`` or content edge after a power loss is harmless (the name is gone,
its blobs become unreferenced and a pull restores them).  Mutations whose loss
could make GC delete something still in use, or resurrect a name whose blobs
were deleted, commit with ``synchronous=FULL``: container records, image
removal and leases.  WAL frames are written in order, so a FULL commit also
makes every earlier commit durable.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cove.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cove.images.reference import parse_reference
from cove.metadata.schema import MIGRATIONS, SCHEMA_VERSION

log = logging.getLogger(__name__)

# Names of images whose tag moved elsewhere (docker's "<none>:<none>").
DANGLING_PREFIX = "<none>@"


class DatabaseLocked(FailedPrecondition):
    """Another process held the database for longer than the busy timeout."""


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class Image:
    name: str
    target: Descriptor
    created: int  # ns since the epoch
    updated: int
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def dangling(self) -> bool:
        return self.name.startswith(DANGLING_PREFIX)


@dataclass(frozen=True, slots=True)
class Container:
    """What the image service records of a container: its image and its snapshot."""

    id: str
    image: str | None  # the name it was created from
    image_target: str | None  # that name's target digest then
    snapshot_key: str | None


@dataclass(frozen=True, slots=True)
class ImageFilters:
    """Docker's ``images --filter``: every given condition must hold (label/reference: any).

    ``not_labels`` is ``label!=``: an image is left out when it matches every one
    of them (docker's ``MatchKVList``). ``before``/``since`` (image names or IDs)
    and ``until`` (a time) need the images' configs: the image service applies
    them, the database ignores them.
    """

    dangling: bool | None = None
    labels: Sequence[str] = ()  # "key" or "key=value"; all must match
    references: Sequence[str] = ()  # globs on the familiar name[:tag]; any may match
    not_labels: Sequence[str] = ()  # "key" or "key=value"; out when all match
    before: str | None = None  # only images created before this image
    since: str | None = None  # only images created after this image
    until: Sequence[str] = ()  # only images created before each of these times


@dataclass(frozen=True, slots=True)
class GcPlan:
    blobs_to_delete: frozenset[str]
    snapshots_to_delete: frozenset[str]


def _now() -> int:
    return time.time_ns()


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """Go's path.Match: ``*`` and ``?`` never match '/', ``[...]`` classes, ``\\`` escapes."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            end = pattern.find("]", i + 2)
            if end == -1:
                raise InvalidArgument(f"invalid reference filter pattern: {pattern!r}")
            body = pattern[i + 1 : end]
            if body.startswith("^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


def _reference_matches(pattern: re.Pattern[str], name: str) -> bool:
    try:
        ref = parse_reference(name)
    except InvalidArgument:
        return False
    familiar_full = ref.familiar_name() + (f":{ref.tag}" if ref.tag else "")
    return bool(pattern.fullmatch(familiar_full) or pattern.fullmatch(ref.familiar_name()))


def _labels_match(labels: dict[str, str], wanted: Sequence[str]) -> bool:
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


class MetadataStore:
    """One connection to the metadata database; make one per thread or process."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        try:
            self._db = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout, check_same_thread=True
            )
        except sqlite3.Error as e:
            raise FailedPrecondition(f"open metadata database {self.path}: {e}") from e
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise FailedPrecondition(f"metadata database {self.path}: journal_mode is {mode}")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> MetadataStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def _write(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); FULL sync for durable ones."""
        db = self._db
        if durable:
            db.execute("PRAGMA synchronous = FULL")
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise self._locked(e) from e
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.OperationalError as e:
                db.execute("ROLLBACK")
                raise self._locked(e) from e
        finally:
            if durable:
                db.execute("PRAGMA synchronous = NORMAL")

    def _locked(self, e: sqlite3.OperationalError) -> Exception:
        if "locked" in str(e) or "busy" in str(e):
            return DatabaseLocked(f"metadata database {self.path}: {e}")
        return e

    def _migrate(self) -> None:
        if self.schema_version == SCHEMA_VERSION:
            return  # opening an up-to-date database takes no write lock
        with self._write(durable=True) as db:
            version = int(db.execute("PRAGMA user_version").fetchone()[0])
            if version > SCHEMA_VERSION:
                raise FailedPrecondition(
                    f"metadata database {self.path} has schema version {version}, "
                    f"newer than this Cove's {SCHEMA_VERSION}"
                )
            for target in range(version, SCHEMA_VERSION):
                log.info("migrating %s from schema %d to %d", self.path, target, target + 1)
                for statement in MIGRATIONS[target].split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def integrity_check(self) -> list[str]:
        """``PRAGMA integrity_check`` plus ``foreign_key_check``; empty when healthy."""
        rows = [r[0] for r in self._db.execute("PRAGMA integrity_check")]
        problems = [] if rows == ["ok"] else rows
        problems += [repr(tuple(r)) for r in self._db.execute("PRAGMA foreign_key_check")]
        return problems

    # -- images ------------------------------------------------------------------------------

    @staticmethod
    def _image(row: tuple[Any, ...]) -> Image:
        name, media_type, digest, size, created, updated, labels = row
        return Image(
            name=str(name),
            target=Descriptor(str(media_type), str(digest), int(size)),
            created=int(created),
            updated=int(updated),
            labels=json.loads(str(labels)),
        )

    _IMAGE_COLUMNS = "name, media_type, digest, size, created, updated, labels"

    def _put_image(
        self,
        db: sqlite3.Connection,
        name: str,
        target: Descriptor,
        labels: dict[str, str] | None,
        keep_dangling: bool,
    ) -> Image:
        if not name:
            raise InvalidArgument("image name must not be empty")
        if target.size < 0:
            raise InvalidArgument(f"image {name}: negative size {target.size}")
        now = _now()
        old = db.execute(f"SELECT {self._IMAGE_COLUMNS} FROM images WHERE name = ?", (name,))
        prev = old.fetchone()
        created = now
        if prev is not None:
            prior = self._image(prev)
            created = prior.created
            if keep_dangling and prior.target.digest != target.digest:
                self._leave_dangling(db, prior, now)
        if not name.startswith(DANGLING_PREFIX):
            # A tagged name now holds the target: no dangling record is needed for it.
            db.execute("DELETE FROM images WHERE name = ?", (DANGLING_PREFIX + target.digest,))
        labels_json = json.dumps(labels or {}, sort_keys=True)
        db.execute(
            "INSERT INTO images (name, media_type, digest, size, created, updated, labels) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "media_type = excluded.media_type, digest = excluded.digest, "
            "size = excluded.size, updated = excluded.updated, labels = excluded.labels",
            (name, target.media_type, target.digest, target.size, created, now, labels_json),
        )
        return Image(name, target, created, now, dict(labels or {}))

    def _leave_dangling(self, db: sqlite3.Connection, prior: Image, now: int) -> None:
        """Keep an untagged record of ``prior.target`` if no other name holds it."""
        others = db.execute(
            "SELECT 1 FROM images WHERE digest = ? AND name != ? LIMIT 1",
            (prior.target.digest, prior.name),
        ).fetchone()
        if others is None:
            db.execute(
                "INSERT OR IGNORE INTO images (name, media_type, digest, size, created, updated,"
                " labels) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    DANGLING_PREFIX + prior.target.digest,
                    prior.target.media_type,
                    prior.target.digest,
                    prior.target.size,
                    prior.created,
                    now,
                    json.dumps(prior.labels, sort_keys=True),
                ),
            )

    def put_image(
        self,
        name: str,
        target: Descriptor,
        labels: dict[str, str] | None = None,
        *,
        keep_dangling: bool = True,
    ) -> Image:
        """Create or move ``name`` to ``target``.

        When the name moves off a target that no other name holds, that target stays
        as a dangling image (``<none>@digest``), as docker keeps ``<none>:<none>``.
        """
        with self._write() as db:
            return self._put_image(db, name, target, labels, keep_dangling)

    def put_images(
        self, items: Iterable[tuple[str, Descriptor, dict[str, str] | None]]
    ) -> list[Image]:
        """Several ``put_image`` in one transaction: all or none."""
        with self._write() as db:
            return [self._put_image(db, n, t, lab, True) for n, t, lab in items]

    def get_image(self, name: str) -> Image:
        row = self._db.execute(
            f"SELECT {self._IMAGE_COLUMNS} FROM images WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            raise NotFound(f"No such image: {name}")
        return self._image(row)

    def list_images(self, filters: ImageFilters | None = None) -> list[Image]:
        rows = self._db.execute(f"SELECT {self._IMAGE_COLUMNS} FROM images ORDER BY name")
        images = [self._image(r) for r in rows]
        if filters is None:
            return images
        patterns = [_glob_regex(p) for p in filters.references]
        out = []
        for image in images:
            if filters.dangling is not None and image.dangling != filters.dangling:
                continue
            if filters.labels and not _labels_match(image.labels, filters.labels):
                continue
            if filters.not_labels and _labels_match(image.labels, filters.not_labels):
                continue
            if patterns and not any(_reference_matches(p, image.name) for p in patterns):
                continue
            out.append(image)
        return out

    def images_by_target(self, digest: str) -> list[Image]:
        rows = self._db.execute(
            f"SELECT {self._IMAGE_COLUMNS} FROM images WHERE digest = ? ORDER BY name", (digest,)
        )
        return [self._image(r) for r in rows]

    def delete_image(self, name: str, *, force: bool = False) -> Image:
        """Remove a name; refuses one a container was created from unless ``force``."""
        with self._write(durable=True) as db:
            row = db.execute(
                f"SELECT {self._IMAGE_COLUMNS} FROM images WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise NotFound(f"No such image: {name}")
            image = self._image(row)
            if not force:
                user = db.execute(
                    "SELECT id FROM containers WHERE image = ? OR image_target = ? LIMIT 1",
                    (name, image.target.digest),
                ).fetchone()
                if user is not None:
                    raise FailedPrecondition(
                        f'conflict: unable to remove repository reference "{name}" '
                        f"(must force) - container {str(user[0])[:12]} is using its "
                        f"referenced image {image.target.digest.split(':')[-1][:12]}"
                    )
            db.execute("DELETE FROM images WHERE name = ?", (name,))
            return image

    # -- the graph ---------------------------------------------------------------------------

    def add_content_refs(self, parent: str, children: Iterable[str]) -> None:
        """Record that blob ``parent`` references each blob in ``children``."""
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO content_refs (parent, child, kind) "
                "VALUES (?, ?, 'content')",
                [(parent, c) for c in children],
            )

    def add_snapshot_ref(self, parent: str, snapshot_key: str) -> None:
        """Record that blob ``parent`` (e.g. an image config) needs snapshot ``snapshot_key``."""
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO content_refs (parent, child, kind) "
                "VALUES (?, ?, 'snapshot')",
                (parent, snapshot_key),
            )

    def put_snapshot(self, key: str, parent: str | None) -> None:
        """Record a snapshot and its parent in the chain."""
        with self._write() as db:
            db.execute(
                "INSERT INTO snapshot_refs (key, parent) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET parent = excluded.parent",
                (key, parent),
            )

    def content_children(self, parent: str) -> list[tuple[str, str]]:
        rows = self._db.execute(
            "SELECT child, kind FROM content_refs WHERE parent = ? ORDER BY kind, child", (parent,)
        )
        return [(str(c), str(k)) for c, k in rows]

    # -- containers --------------------------------------------------------------------------

    def add_container(
        self,
        container_id: str,
        *,
        image: str | None,
        image_target: str | None,
        snapshot_key: str | None,
    ) -> None:
        with self._write(durable=True) as db:
            try:
                db.execute(
                    "INSERT INTO containers (id, image, image_target, snapshot_key, created) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (container_id, image, image_target, snapshot_key, _now()),
                )
            except sqlite3.IntegrityError as e:
                raise AlreadyExists(f"container {container_id} already exists") from e

    def remove_container(self, container_id: str) -> None:
        with self._write(durable=True) as db:
            cur = db.execute("DELETE FROM containers WHERE id = ?", (container_id,))
            if cur.rowcount == 0:
                raise NotFound(f"No such container: {container_id}")

    def container(self, container_id: str) -> Container:
        row = self._db.execute(
            "SELECT id, image, image_target, snapshot_key FROM containers WHERE id = ?",
            (container_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"No such container: {container_id}")
        return Container(str(row[0]), row[1], row[2], row[3])

    def containers_using(self, image: Image) -> list[str]:
        rows = self._db.execute(
            "SELECT id FROM containers WHERE image = ? OR image_target = ? ORDER BY id",
            (image.name, image.target.digest),
        )
        return [str(r[0]) for r in rows]

    # -- leases ------------------------------------------------------------------------------

    def create_lease(self, ttl: float | None = None, labels: dict[str, str] | None = None) -> str:
        lease_id = uuid.uuid4().hex
        now = _now()
        expires = None if ttl is None else now + int(ttl * 1e9)
        with self._write(durable=True) as db:
            db.execute(
                "INSERT INTO leases (id, created, expires, labels) VALUES (?, ?, ?, ?)",
                (lease_id, now, expires, json.dumps(labels or {}, sort_keys=True)),
            )
        return lease_id

    def delete_lease(self, lease_id: str) -> None:
        with self._write(durable=True) as db:
            cur = db.execute("DELETE FROM leases WHERE id = ?", (lease_id,))
            if cur.rowcount == 0:
                raise NotFound(f"lease {lease_id} not found")

    def lease_add(
        self, lease_id: str, *, content: Iterable[str] = (), snapshots: Iterable[str] = ()
    ) -> None:
        """Protect blobs and snapshots under a lease."""
        rows = [(lease_id, "content", d) for d in content]
        rows += [(lease_id, "snapshot", k) for k in snapshots]
        with self._write(durable=True) as db:
            try:
                db.executemany(
                    "INSERT OR IGNORE INTO lease_resources (lease_id, kind, resource) "
                    "VALUES (?, ?, ?)",
                    rows,
                )
            except sqlite3.IntegrityError as e:
                raise NotFound(f"lease {lease_id} not found") from e

    def list_leases(self) -> list[str]:
        return [str(r[0]) for r in self._db.execute("SELECT id FROM leases ORDER BY created")]

    @contextmanager
    def lease(
        self, ttl: float | None = 3600.0, labels: dict[str, str] | None = None
    ) -> Iterator[str]:
        """A lease for the duration of the block; released on exit.

        The ttl bounds how long a crashed holder can keep resources alive.
        """
        lease_id = self.create_lease(ttl, labels)
        try:
            yield lease_id
        finally:
            self.delete_lease(lease_id)

    # -- garbage collection ------------------------------------------------------------------

    def gc(self, content_digests: Iterable[str], snapshot_keys: Iterable[str]) -> GcPlan:
        """Which of the given blobs and snapshots nothing reaches.

        Roots: image targets, containers' image targets and snapshots, resources of
        unexpired leases.  Edges: content_refs and the snapshot chain.  Expired leases
        are deleted.  The caller deletes the returned objects, then calls ``forget``;
        between the two a writer may reference a planned object, so prefer ``collect``.
        """
        with self._write() as db:
            return self._plan(db, content_digests, snapshot_keys)

    def collect(
        self,
        content_digests: Iterable[str],
        snapshot_keys: Iterable[str],
        delete_blob: Callable[[str], None],
        delete_snapshot: Callable[[str], None],
    ) -> GcPlan:
        """Plan, delete and forget in one write transaction.

        The write lock is held while the callbacks delete, so no image, container or
        lease can start referencing a planned object in between; a pull that adds a
        blob to its lease afterwards finds it gone and fetches it again.  Snapshots are
        deleted children first.  If a callback raises, the records stay (the next
        collection retries) and the error propagates.
        """
        with self._write() as db:
            plan = self._plan(db, content_digests, snapshot_keys)
            for key in self._children_first(db, plan.snapshots_to_delete):
                delete_snapshot(key)
            for digest in sorted(plan.blobs_to_delete):
                delete_blob(digest)
            self._forget(db, plan)
            return plan

    @staticmethod
    def _children_first(db: sqlite3.Connection, keys: frozenset[str]) -> list[str]:
        parent_of = {
            str(k): None if p is None else str(p)
            for k, p in db.execute("SELECT key, parent FROM snapshot_refs")
        }

        def depth(key: str) -> int:
            n = 0
            current = parent_of.get(key)
            while current is not None and n <= len(parent_of):
                n += 1
                current = parent_of.get(current)
            return n

        return sorted(keys, key=lambda k: (-depth(k), k))

    def _plan(
        self,
        db: sqlite3.Connection,
        content_digests: Iterable[str],
        snapshot_keys: Iterable[str],
    ) -> GcPlan:
        db.execute("DELETE FROM leases WHERE expires IS NOT NULL AND expires <= ?", (_now(),))
        content_roots = {str(r[0]) for r in db.execute("SELECT digest FROM images")}
        snapshot_roots: set[str] = set()
        for target, key in db.execute("SELECT image_target, snapshot_key FROM containers"):
            if target is not None:
                content_roots.add(str(target))
            if key is not None:
                snapshot_roots.add(str(key))
        for kind, resource in db.execute("SELECT kind, resource FROM lease_resources"):
            (content_roots if kind == "content" else snapshot_roots).add(str(resource))
        edges: dict[str, list[tuple[str, str]]] = {}
        for parent, child, kind in db.execute("SELECT parent, child, kind FROM content_refs"):
            edges.setdefault(str(parent), []).append((str(child), str(kind)))
        chain = {
            str(k): None if p is None else str(p)
            for k, p in db.execute("SELECT key, parent FROM snapshot_refs")
        }

        live_content: set[str] = set()
        live_snapshots: set[str] = set()
        stack = list(content_roots)
        while stack:
            digest = stack.pop()
            if digest in live_content:
                continue
            live_content.add(digest)
            for child, kind in edges.get(digest, ()):
                if kind == "content":
                    stack.append(child)
                else:
                    snapshot_roots.add(child)
        for key in snapshot_roots:
            current: str | None = key
            while current is not None and current not in live_snapshots:
                live_snapshots.add(current)
                current = chain.get(current)
        return GcPlan(
            blobs_to_delete=frozenset(set(content_digests) - live_content),
            snapshots_to_delete=frozenset(set(snapshot_keys) - live_snapshots),
        )

    def forget(self, plan: GcPlan) -> None:
        """Drop the graph records of objects the caller has deleted."""
        with self._write() as db:
            self._forget(db, plan)

    @staticmethod
    def _forget(db: sqlite3.Connection, plan: GcPlan) -> None:
        db.executemany(
            "DELETE FROM content_refs WHERE parent = ?",
            [(d,) for d in plan.blobs_to_delete],
        )
        db.executemany(
            "DELETE FROM snapshot_refs WHERE key = ?",
            [(k,) for k in plan.snapshots_to_delete],
        )
        db.executemany(
            "DELETE FROM content_refs WHERE kind = 'snapshot' AND child = ?",
            [(k,) for k in plan.snapshots_to_delete],
        )
