"""The metadata database: images, filters, GC graph, leases, migrations, crashes, concurrency."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cove.errors import AlreadyExists, FailedPrecondition, NotFound
from cove.metadata import DatabaseLocked, Descriptor, GcPlan, ImageFilters, MetadataStore
from cove.metadata.schema import MIGRATIONS, SCHEMA_VERSION
from cove.metadata.store import DANGLING_PREFIX

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def dg(n: int | str) -> str:
    return "sha256:" + f"{n}".rjust(64, "0")


def desc(n: int | str, media_type: str = MANIFEST) -> Descriptor:
    return Descriptor(media_type, dg(n), 100)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    s = MetadataStore(tmp_path / "meta.db")
    yield s
    s.close()


# -- opening ---------------------------------------------------------------------------------


def test_pragmas(store: MetadataStore) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 10000
    assert store.schema_version == SCHEMA_VERSION
    assert store.integrity_check() == []


def test_reopen_keeps_data(tmp_path: Path) -> None:
    with MetadataStore(tmp_path / "m.db") as s:
        s.put_image("docker.io/library/busybox:latest", desc(1))
    with MetadataStore(tmp_path / "m.db") as s:
        assert s.get_image("docker.io/library/busybox:latest").target == desc(1)


def test_migrates_v1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute(
        "INSERT INTO images VALUES (?, ?, ?, ?, ?, ?, ?)",
        ("docker.io/library/busybox:1", MANIFEST, dg(7), 42, 1, 2, '{"a": "b"}'),
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with MetadataStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        img = s.get_image("docker.io/library/busybox:1")
        assert img.target == Descriptor(MANIFEST, dg(7), 42)
        assert img.labels == {"a": "b"}
        assert img.created == 1
        # v2 tables exist and work
        s.add_container("c1", image=img.name, image_target=img.target.digest, snapshot_key="k")
        assert s.gc([dg(7)], ["k"]) == GcPlan(frozenset(), frozenset())
        assert s.integrity_check() == []


def test_refuses_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(FailedPrecondition, match="newer"):
        MetadataStore(path)


# -- images ----------------------------------------------------------------------------------


def test_crud(store: MetadataStore) -> None:
    name = "docker.io/library/busybox:latest"
    a = store.put_image(name, desc(1, INDEX), {"k": "v"})
    got = store.get_image(name)
    assert got == a
    assert got.target.media_type == INDEX
    time.sleep(0.001)
    b = store.put_image(name, desc(1, INDEX), {"k": "w"})
    assert b.created == a.created
    assert b.updated > a.updated
    assert store.get_image(name).labels == {"k": "w"}
    assert [i.name for i in store.list_images()] == [name]
    assert store.delete_image(name).name == name
    with pytest.raises(NotFound, match="No such image"):
        store.get_image(name)
    with pytest.raises(NotFound):
        store.delete_image(name)


def test_images_by_target(store: MetadataStore) -> None:
    store.put_image("docker.io/library/a:1", desc(1))
    store.put_image("docker.io/library/a:2", desc(1))
    store.put_image("docker.io/library/b:1", desc(2))
    assert [i.name for i in store.images_by_target(dg(1))] == [
        "docker.io/library/a:1",
        "docker.io/library/a:2",
    ]
    assert store.images_by_target(dg(3)) == []


def test_retag_leaves_dangling(store: MetadataStore) -> None:
    store.put_image("docker.io/library/a:latest", desc(1))
    store.put_image("docker.io/library/a:latest", desc(2))
    dangling = store.list_images(ImageFilters(dangling=True))
    assert [i.name for i in dangling] == [DANGLING_PREFIX + dg(1)]
    assert dangling[0].dangling
    # tagging the old target again removes its dangling record
    store.put_image("docker.io/library/a:old", desc(1))
    assert store.list_images(ImageFilters(dangling=True)) == []
    # a:old was the only name of dg(1): moving it leaves dg(1) dangling again
    store.put_image("docker.io/library/a:old", desc(2))
    assert [i.name for i in store.list_images(ImageFilters(dangling=True))] == [
        DANGLING_PREFIX + dg(1)
    ]
    # moving a name off a target that another name still holds (a:latest) adds nothing
    store.put_image("docker.io/library/a:old", desc(3))
    assert [i.name for i in store.list_images(ImageFilters(dangling=True))] == [
        DANGLING_PREFIX + dg(1)
    ]


def test_filters(store: MetadataStore) -> None:
    store.put_image("docker.io/library/busybox:latest", desc(1), {"env": "prod", "x": ""})
    store.put_image("docker.io/library/busybox:1.36", desc(2), {"env": "dev"})
    store.put_image("docker.io/user/app:v1", desc(3))
    store.put_image("127.0.0.1:5000/team/app:1.2", desc(4), {"env": "prod"})
    store.put_image("docker.io/library/alpine:3", desc(5))
    store.put_image("docker.io/library/alpine:3", desc(6))  # leaves dg(5) dangling

    def names(f: ImageFilters) -> list[str]:
        return [i.name for i in store.list_images(f)]

    assert names(ImageFilters(dangling=True)) == [DANGLING_PREFIX + dg(5)]
    assert len(names(ImageFilters(dangling=False))) == 5
    assert names(ImageFilters(labels=["env=prod"])) == [
        "127.0.0.1:5000/team/app:1.2",
        "docker.io/library/busybox:latest",
    ]
    assert len(names(ImageFilters(labels=["env"]))) == 3
    assert names(ImageFilters(labels=["env=prod", "x"])) == ["docker.io/library/busybox:latest"]
    assert names(ImageFilters(labels=["x="])) == ["docker.io/library/busybox:latest"]
    # label!=: out when every condition matches (docker's MatchKVList)
    assert names(ImageFilters(dangling=False, not_labels=["env"])) == [
        "docker.io/library/alpine:3", "docker.io/user/app:v1"]
    assert names(ImageFilters(labels=["env"], not_labels=["env=prod"])) == [
        "docker.io/library/busybox:1.36"]
    assert len(names(ImageFilters(dangling=False, not_labels=["env=prod", "x"]))) == 4
    assert names(ImageFilters(references=["busybox"])) == [
        "docker.io/library/busybox:1.36",
        "docker.io/library/busybox:latest",
    ]
    assert names(ImageFilters(references=["busybox:1.*"])) == ["docker.io/library/busybox:1.36"]
    assert names(ImageFilters(references=["busy*"])) == [
        "docker.io/library/busybox:1.36",
        "docker.io/library/busybox:latest",
    ]
    # '*' does not cross '/', as in docker's path.Match
    assert names(ImageFilters(references=["*"])) == [
        "docker.io/library/alpine:3",
        "docker.io/library/busybox:1.36",
        "docker.io/library/busybox:latest",
    ]
    assert names(ImageFilters(references=["*/app"])) == ["docker.io/user/app:v1"]
    assert names(ImageFilters(references=["*/*/app:1.?"])) == ["127.0.0.1:5000/team/app:1.2"]
    assert names(ImageFilters(references=["[ab]*:3", "user/*"])) == [
        "docker.io/library/alpine:3",
        "docker.io/user/app:v1",
    ]
    assert names(ImageFilters(references=["busybox"], labels=["env=dev"])) == [
        "docker.io/library/busybox:1.36"
    ]


def test_delete_refuses_image_in_use(store: MetadataStore) -> None:
    name = "docker.io/library/busybox:latest"
    store.put_image(name, desc(1))
    store.add_container("abcdef0123456789", image=name, image_target=dg(1), snapshot_key="c")
    with pytest.raises(FailedPrecondition) as exc:
        store.delete_image(name)
    assert str(exc.value).startswith(
        f'conflict: unable to remove repository reference "{name}" (must force) - '
        "container abcdef012345 is using its referenced image"
    )
    assert store.containers_using(store.get_image(name)) == ["abcdef0123456789"]
    store.delete_image(name, force=True)
    with pytest.raises(NotFound):
        store.get_image(name)


def test_containers(store: MetadataStore) -> None:
    store.add_container("c1", image=None, image_target=None, snapshot_key=None)
    with pytest.raises(AlreadyExists):
        store.add_container("c1", image=None, image_target=None, snapshot_key=None)
    store.remove_container("c1")
    with pytest.raises(NotFound):
        store.remove_container("c1")


# -- GC --------------------------------------------------------------------------------------


def _record_image(
    store: MetadataStore,
    index: str,
    manifest: str,
    config: str,
    layers: list[str],
    chain: list[str],
) -> None:
    """index -> manifest -> config + layers; config -> top snapshot; chain base..top."""
    store.add_content_refs(index, [manifest])
    store.add_content_refs(manifest, [config, *layers])
    parent = None
    for key in chain:
        store.put_snapshot(key, parent)
        parent = key
    store.add_snapshot_ref(config, chain[-1])


def test_gc_shared_layers(store: MetadataStore) -> None:
    shared = [dg("l1"), dg("l2")]
    _record_image(store, dg("ia"), dg("ma"), dg("ca"), [*shared, dg("la")], ["s1", "s2", "sa"])
    _record_image(store, dg("ib"), dg("mb"), dg("cb"), [*shared, dg("lb")], ["s1", "s2", "sb"])
    store.put_image("docker.io/library/a:1", Descriptor(INDEX, dg("ia"), 1))
    store.put_image("docker.io/library/b:1", Descriptor(INDEX, dg("ib"), 1))
    all_blobs = [dg(x) for x in ("ia", "ma", "ca", "la", "ib", "mb", "cb", "lb", "l1", "l2")]
    all_snaps = ["s1", "s2", "sa", "sb"]
    stray = dg("stray")
    plan = store.gc([*all_blobs, stray], [*all_snaps, "orphan"])
    assert plan == GcPlan(frozenset({stray}), frozenset({"orphan"}))

    store.delete_image("docker.io/library/a:1")
    plan = store.gc(all_blobs, all_snaps)
    assert plan.blobs_to_delete == {dg("ia"), dg("ma"), dg("ca"), dg("la")}
    assert plan.snapshots_to_delete == {"sa"}
    store.forget(plan)
    assert store.content_children(dg("ma")) == []
    assert store.content_children(dg("mb")) != []

    store.delete_image("docker.io/library/b:1")
    plan = store.gc(all_blobs, all_snaps)
    assert plan.blobs_to_delete == set(all_blobs)
    assert plan.snapshots_to_delete == set(all_snaps)


def test_gc_container_keeps_image_and_snapshots(store: MetadataStore) -> None:
    _record_image(store, dg("i"), dg("m"), dg("c"), [dg("l")], ["base", "top"])
    store.put_image("docker.io/library/a:1", Descriptor(INDEX, dg("i"), 1))
    store.put_snapshot("rw-c1", "top")
    store.add_container(
        "c1", image="docker.io/library/a:1", image_target=dg("i"), snapshot_key="rw-c1"
    )
    store.delete_image("docker.io/library/a:1", force=True)
    blobs = [dg(x) for x in "imcl"]
    snaps = ["base", "top", "rw-c1"]
    assert store.gc(blobs, snaps) == GcPlan(frozenset(), frozenset())
    store.remove_container("c1")
    plan = store.gc(blobs, snaps)
    assert plan.blobs_to_delete == set(blobs)
    assert plan.snapshots_to_delete == set(snaps)


def test_gc_container_snapshot_only(store: MetadataStore) -> None:
    """A container's own snapshot keeps its parents alive even with no image record."""
    store.put_snapshot("base", None)
    store.put_snapshot("rw", "base")
    store.add_container("c", image=None, image_target=None, snapshot_key="rw")
    assert store.gc([], ["base", "rw", "x"]).snapshots_to_delete == {"x"}


def test_gc_cycle_terminates(store: MetadataStore) -> None:
    store.add_content_refs(dg(1), [dg(2)])
    store.add_content_refs(dg(2), [dg(1)])
    store.put_image("docker.io/library/a:1", desc(1))
    assert store.gc([dg(1), dg(2), dg(3)], []).blobs_to_delete == {dg(3)}


# -- leases ----------------------------------------------------------------------------------


def test_lease_protects_in_flight_pull(store: MetadataStore) -> None:
    store.add_content_refs(dg("m"), [dg("l")])
    with store.lease(ttl=60) as lease_id:
        store.lease_add(lease_id, content=[dg("m")], snapshots=["s"])
        assert store.list_leases() == [lease_id]
        assert store.gc([dg("m"), dg("l"), dg("x")], ["s", "t"]) == GcPlan(
            frozenset({dg("x")}), frozenset({"t"})
        )
    assert store.list_leases() == []
    plan = store.gc([dg("m"), dg("l")], ["s"])
    assert plan.blobs_to_delete == {dg("m"), dg("l")}
    assert plan.snapshots_to_delete == {"s"}


def test_expired_lease_is_collected(store: MetadataStore) -> None:
    lease_id = store.create_lease(ttl=0.01)
    store.lease_add(lease_id, content=[dg(1)])
    forever = store.create_lease(ttl=None)
    store.lease_add(forever, content=[dg(2)])
    time.sleep(0.02)
    assert store.gc([dg(1), dg(2)], []).blobs_to_delete == {dg(1)}
    assert store.list_leases() == [forever]
    with pytest.raises(NotFound):
        store.lease_add(lease_id, content=[dg(3)])
    with pytest.raises(NotFound):
        store.delete_lease(lease_id)


def test_lease_released_on_error(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError), store.lease() as lease_id:
        store.lease_add(lease_id, content=[dg(1)])
        raise RuntimeError("pull failed")
    assert store.list_leases() == []


# -- crash safety and concurrency ------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from cove.metadata import Descriptor, MetadataStore
    s = MetadataStore(sys.argv[1])
    d = lambda n: Descriptor("m", "sha256:" + str(n).rjust(64, "0"), 1)
    print("ready", flush=True)
    i = 0
    while True:
        s.put_images([(f"r/b{i}:{j}", d(i * 1000 + j), {"batch": str(i)}) for j in range(300)])
        i += 1
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.5])
def test_killed_writer_leaves_whole_batches(tmp_path: Path, delay: float) -> None:
    path = tmp_path / "crash.db"
    MetadataStore(path).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with MetadataStore(path) as s:
        assert s.integrity_check() == []
        counts: dict[str, int] = {}
        for img in s.list_images():
            counts[img.labels["batch"]] = counts.get(img.labels["batch"], 0) + 1
        assert counts, "the writer committed nothing before it was killed"
        assert set(counts.values()) == {300}
        assert sorted(int(b) for b in counts) == list(range(len(counts)))


def _write_many(path: str, prefix: str, n: int) -> None:
    s = MetadataStore(path)
    for i in range(n):
        s.put_image(f"r/{prefix}:{i}", desc(f"{prefix}{i}"))
        s.add_content_refs(dg(f"{prefix}{i}"), [dg("shared")])
    s.close()


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = str(tmp_path / "conc.db")
    MetadataStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(path, p, 150)) for p in ("a", "b")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    with MetadataStore(path) as s:
        assert len(s.list_images()) == 300
        assert s.integrity_check() == []


def _hold_lock(path: str, seconds: float, ready: multiprocessing.synchronize.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT OR REPLACE INTO images VALUES ('held', 'm', 'sha256:x', 1, 1, 1, '{}')")
    ready.set()
    time.sleep(seconds)
    db.execute("COMMIT")
    db.close()


def test_busy_timeout(tmp_path: Path) -> None:
    path = str(tmp_path / "busy.db")
    MetadataStore(path).close()
    ctx = multiprocessing.get_context("spawn")

    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, 0.5, ready))
    holder.start()
    assert ready.wait(30)
    patient = MetadataStore(path, busy_timeout=10)
    start = time.monotonic()
    patient.put_image("r/after:1", desc(1))  # waits for the holder, then succeeds
    assert time.monotonic() - start >= 0.2
    holder.join(30)
    assert {i.name for i in patient.list_images()} == {"held", "r/after:1"}
    patient.close()

    ready = ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(path, 2.0, ready))
    holder.start()
    assert ready.wait(30)
    impatient = MetadataStore(path, busy_timeout=0.1)
    with pytest.raises(DatabaseLocked, match="locked"):
        impatient.put_image("r/never:1", desc(2))
    holder.join(30)
    with pytest.raises(NotFound):
        impatient.get_image("r/never:1")
    impatient.close()


def test_collect_deletes_children_first_and_forgets(store: MetadataStore) -> None:
    _record_image(store, dg("i"), dg("m"), dg("c"), [dg("l")], ["base", "mid", "top"])
    blobs = [dg(x) for x in "imcl"]
    deleted: list[str] = []
    plan = store.collect(blobs, ["mid", "base", "top"], deleted.append, deleted.append)
    assert deleted[:3] == ["top", "mid", "base"]
    assert set(deleted[3:]) == set(blobs) == plan.blobs_to_delete
    assert store.content_children(dg("m")) == []
    assert store.content_children(dg("c")) == []


def test_collect_failure_keeps_records(store: MetadataStore) -> None:
    store.add_content_refs(dg("m"), [dg("l")])

    def fail(digest: str) -> None:
        raise OSError(f"cannot remove {digest}")

    with pytest.raises(OSError, match="cannot remove"):
        store.collect([dg("m"), dg("l")], [], fail, lambda key: None)
    assert store.content_children(dg("m")) == [(dg("l"), "content")]


def test_collect_blocks_writers_while_deleting(tmp_path: Path) -> None:
    path = tmp_path / "gc.db"
    gc_store = MetadataStore(path)
    other = MetadataStore(path, busy_timeout=0.05)

    def delete_blob(digest: str) -> None:
        with pytest.raises(DatabaseLocked):
            other.put_image("r/late:1", Descriptor(MANIFEST, digest, 1))

    gc_store.collect([dg(1)], [], delete_blob, lambda key: None)
    other.put_image("r/late:1", desc(1))  # fine once the collection is over
    gc_store.close()
    other.close()


def test_durable_commits_use_full_sync(store: MetadataStore) -> None:
    """Container records, image removal and leases commit with synchronous=FULL."""
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)

    def synced(action: object) -> bool:
        statements.clear()
        assert callable(action)
        action()
        commit = statements.index("COMMIT")
        return "PRAGMA synchronous = FULL" in statements[:commit]

    assert not synced(lambda: store.put_image("r/a:1", desc(1)))
    assert not synced(lambda: store.add_content_refs(dg(1), [dg(2)]))
    assert synced(lambda: store.add_container("c", image=None, image_target=None, snapshot_key="k"))
    assert synced(lambda: store.remove_container("c"))
    assert synced(lambda: store.delete_image("r/a:1"))
    assert synced(lambda: store.create_lease(ttl=1))
    store._db.set_trace_callback(None)
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1
