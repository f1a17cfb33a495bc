"""The metadata database's schema, drawn, with the migrations that build it.

Current version: 2 (``PRAGMA user_version``).  Version 0 is an empty file.

::

    images                          one row per name (a full reference string)
    +-------------+---------+       -> target descriptor of the image (index or manifest)
    | name     PK | TEXT    |
    | media_type  | TEXT    |
    | digest      | TEXT    |  ---- images_by_target (index images_digest, v2)
    | size        | INTEGER |
    | created     | INTEGER |  ns since epoch
    | updated     | INTEGER |
    | labels      | TEXT    |  JSON object
    +-------------+---------+
                  |  digest is a GC root
                  v
    content_refs  (v2)              edges of the content graph, recorded at pull/unpack
    +-------------+---------+
    | parent      | TEXT    |  a blob digest (index, manifest, config)
    | child       | TEXT    |  a blob digest (kind 'content') or a snapshot key ('snapshot')
    | kind        | TEXT    |  'content' | 'snapshot'
    +-------------+---------+  PK (parent, child, kind)
                  |
                  v
    snapshot_refs (v2)              the snapshot chain: key -> parent key
    +-------------+---------+
    | key      PK | TEXT    |
    | parent      | TEXT    |  NULL for a base layer
    +-------------+---------+
                  ^
                  |  snapshot_key and image_target are GC roots
    containers (v2)
    +--------------+--------+
    | id        PK | TEXT   |
    | image        | TEXT   |  the name it was created from (may have been removed since)
    | image_target | TEXT   |  digest of that image's target at creation
    | snapshot_key | TEXT   |  its read-write snapshot
    | created      | INTEGER|
    +--------------+--------+

    leases (v2)                     protect in-flight work (a pull) from GC
    +-------------+---------+       lease_resources (v2)
    | id       PK | TEXT    | <---- | lease_id FK ON DELETE CASCADE
    | created     | INTEGER |       | kind     'content' | 'snapshot'
    | expires     | INTEGER |       | resource digest or snapshot key
    | labels      | TEXT    |       +-- PK (lease_id, kind, resource)
    +-------------+---------+

Version 1 held only ``images``.  Each migration runs inside one transaction
together with the ``user_version`` bump, so a crash leaves the old version.
"""

from __future__ import annotations

SCHEMA_VERSION = 2

_V1 = """
CREATE TABLE images (
    name       TEXT PRIMARY KEY NOT NULL,
    media_type TEXT NOT NULL,
    digest     TEXT NOT NULL,
    size       INTEGER NOT NULL CHECK (size >= 0),
    created    INTEGER NOT NULL,
    updated    INTEGER NOT NULL,
    labels     TEXT NOT NULL DEFAULT '{}'
);
"""

_V2 = """
CREATE INDEX images_digest ON images (digest);
CREATE TABLE content_refs (
    parent TEXT NOT NULL,
    child  TEXT NOT NULL,
    kind   TEXT NOT NULL CHECK (kind IN ('content', 'snapshot')),
    PRIMARY KEY (parent, child, kind)
) WITHOUT ROWID;
CREATE TABLE snapshot_refs (
    key    TEXT PRIMARY KEY NOT NULL,
    parent TEXT
) WITHOUT ROWID;
CREATE TABLE containers (
    id           TEXT PRIMARY KEY NOT NULL,
    image        TEXT,
    image_target TEXT,
    snapshot_key TEXT,
    created      INTEGER NOT NULL
);
CREATE INDEX containers_image ON containers (image);
CREATE INDEX containers_image_target ON containers (image_target);
CREATE TABLE leases (
    id      TEXT PRIMARY KEY NOT NULL,
    created INTEGER NOT NULL,
    expires INTEGER,
    labels  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE lease_resources (
    lease_id TEXT NOT NULL REFERENCES leases (id) ON DELETE CASCADE,
    kind     TEXT NOT NULL CHECK (kind IN ('content', 'snapshot')),
    resource TEXT NOT NULL,
    PRIMARY KEY (lease_id, kind, resource)
) WITHOUT ROWID;
"""

# MIGRATIONS[i] takes the database from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2)

assert len(MIGRATIONS) == SCHEMA_VERSION
