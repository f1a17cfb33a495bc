"""The content store: verified, resumable, never partially visible."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

from cove.content import (
    BlobNotFound,
    ContentStore,
    DigestMismatch,
    IngestLocked,
    SizeMismatch,
)
from cove.errors import InvalidArgument, NotFound
from cove.oci.digest import digest_bytes, new_hasher, parse_digest


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(str(tmp_path / "content"))


def blob_files(store: ContentStore) -> list[str]:
    found = []
    for dirpath, _, names in os.walk(os.path.join(store.root, "blobs")):
        found += [os.path.join(dirpath, n) for n in names]
    return found


# -- digests ---------------------------------------------------------------------


def test_parse_digest_accepts_sha256_and_sha512() -> None:
    assert parse_digest("sha256:" + "a" * 64) == ("sha256", "a" * 64)
    assert parse_digest("sha512:" + "0" * 128) == ("sha512", "0" * 128)


@pytest.mark.parametrize(
    "value",
    [
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "md5:" + "a" * 32,
        "a" * 64,
        "",
        "sha256:" + "g" * 64,
    ],
)
def test_parse_digest_refuses(value: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_digest(value)
    assert repr(value) in str(info.value)


def test_digest_bytes_and_hasher() -> None:
    assert digest_bytes(b"abc") == sha(b"abc")
    assert digest_bytes(b"abc", "sha512") == "sha512:" + hashlib.sha512(b"abc").hexdigest()
    h = new_hasher(sha(b""))
    h.update(b"abc")
    assert h.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    with pytest.raises(InvalidArgument):
        digest_bytes(b"", "md5")


# -- put / read ------------------------------------------------------------------


def test_put_read_and_idempotent(store: ContentStore) -> None:
    digest = store.put(b"hello")
    assert digest == sha(b"hello")
    assert store.put(b"hello", digest) == digest
    assert store.exists(digest)
    assert store.size(digest) == 5
    assert store.read(digest) == b"hello"
    with store.open(digest) as f:
        assert f.read() == b"hello"
    assert list(store.digests()) == [digest]
    assert store.path(digest) == os.path.join(store.root, "blobs", "sha256", digest[7:])
    assert os.listdir(os.path.join(store.root, "ingest")) == []


def test_put_mismatch_stores_nothing(store: ContentStore) -> None:
    with pytest.raises(DigestMismatch) as info:
        store.put(b"hello", sha(b"other"))
    assert sha(b"other") in str(info.value) and sha(b"hello") in str(info.value)
    assert blob_files(store) == []


def test_missing_blob(store: ContentStore) -> None:
    digest = sha(b"missing")
    assert not store.exists(digest)
    for call in (store.read, store.size, store.open):
        with pytest.raises(BlobNotFound) as info:
            call(digest)
        assert isinstance(info.value, NotFound)
        assert digest in str(info.value)
    store.delete(digest)  # idempotent


def test_delete(store: ContentStore) -> None:
    digest = store.put(b"x")
    store.delete(digest)
    store.delete(digest)
    assert not store.exists(digest)
    assert list(store.digests()) == []


def test_sha512(store: ContentStore) -> None:
    data = b"sha512 content"
    expected = "sha512:" + hashlib.sha512(data).hexdigest()
    assert store.put(data, algorithm="sha512") == expected
    assert store.read(expected) == data
    with store.writer("w512", expected=digest_bytes(b"zz", "sha512"), size=2) as w:
        w.write(b"zz")
        assert w.commit() == digest_bytes(b"zz", "sha512")
    assert sorted(store.digests()) == sorted([expected, digest_bytes(b"zz", "sha512")])


def test_invalid_digest_path(store: ContentStore) -> None:
    with pytest.raises(InvalidArgument):
        store.path("sha256:../../etc/passwd")


# -- writers ---------------------------------------------------------------------


def test_writer_streams_and_commits(store: ContentStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    with store.writer("layer", expected=sha(data), size=len(data)) as w:
        for i in range(0, len(data), 65536):
            w.write(data[i : i + 65536])
        assert w.offset == len(data)
        assert w.commit() == sha(data)
    assert store.read(sha(data)) == data
    assert os.listdir(os.path.join(store.root, "ingest")) == []
    assert os.stat(store.path(sha(data))).st_mode & 0o222 == 0


def test_resume_after_close(store: ContentStore) -> None:
    data = b"0123456789" * 1000
    w = store.writer("ref-1", expected=sha(data), size=len(data))
    assert w.offset == 0
    w.write(data[:4000])
    w.close()
    assert not store.exists(sha(data))
    w = store.writer("ref-1", expected=sha(data), size=len(data))
    assert w.offset == 4000  # the HTTP Range start
    w.write(data[4000:])
    assert w.commit() == sha(data)
    assert store.read(sha(data)) == data


def test_context_manager_keeps_on_success_drops_on_error(store: ContentStore) -> None:
    with store.writer("keep") as w:
        w.write(b"abc")
    with store.writer("keep") as w:
        assert w.offset == 3
    with pytest.raises(RuntimeError), store.writer("keep") as w:
        raise RuntimeError("boom")
    with store.writer("keep") as w:
        assert w.offset == 0


def test_abort_drops_partial_data(store: ContentStore) -> None:
    w = store.writer("ref")
    w.write(b"partial")
    w.close()
    store.abort("ref")
    store.abort("ref")  # idempotent
    with store.writer("ref") as w:
        assert w.offset == 0


def test_commit_digest_mismatch(store: ContentStore) -> None:
    w = store.writer("bad", expected=sha(b"good"))
    w.write(b"evil")
    with pytest.raises(DigestMismatch) as info:
        w.commit()
    assert sha(b"good") in str(info.value)
    assert blob_files(store) == []
    with store.writer("bad") as w2:  # the bad data was dropped
        assert w2.offset == 0


def test_commit_short_size(store: ContentStore) -> None:
    w = store.writer("short", size=10)
    w.write(b"12345")
    with pytest.raises(SizeMismatch) as info:
        w.commit()
    assert "10" in str(info.value)
    assert blob_files(store) == []


def test_size_exceeded_refused_at_once(store: ContentStore) -> None:
    w = store.writer("bomb", size=8)
    w.write(b"12345")
    with pytest.raises(SizeMismatch):
        w.write(b"6789")
    assert w.offset == 5
    w.abort()
    assert blob_files(store) == []


def test_resume_over_size_refused(store: ContentStore) -> None:
    with store.writer("grown") as w:
        w.write(b"123456")
    with pytest.raises(SizeMismatch):
        store.writer("grown", size=4)


def test_same_content_twice_dedupes(store: ContentStore) -> None:
    for ref in ("a", "b"):
        with store.writer(ref) as w:
            w.write(b"same")
            assert w.commit() == sha(b"same")
    assert list(store.digests()) == [sha(b"same")]
    assert os.listdir(os.path.join(store.root, "ingest")) == []


def test_concurrent_writer_refused(store: ContentStore) -> None:
    first = store.writer("shared")
    try:
        with pytest.raises(IngestLocked) as info:
            store.writer("shared")
        assert "shared" in str(info.value)
        with pytest.raises(IngestLocked):
            store.abort("shared")
        store.writer("other").close()  # other refs are free
    finally:
        first.close()
    store.writer("shared").abort()


def test_concurrent_writer_in_other_process_refused(store: ContentStore) -> None:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_fd)
            w = store.writer("cross")
            w.write(b"x")
            os.write(write_fd, b"1")
            time.sleep(30)
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"1"
        with pytest.raises(IngestLocked):
            store.writer("cross")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
    # the lock dies with its holder; the partial byte remains for a resume
    with store.writer("cross") as w:
        assert w.offset == 1


def test_killed_writer_leaves_nothing_in_blobs(store: ContentStore) -> None:
    data = os.urandom(1 << 20)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            os.close(read_fd)
            w = store.writer("crash", expected=sha(data), size=len(data))
            w.write(data[: 1 << 19])
            os.write(write_fd, b"1")
            time.sleep(30)  # killed here, mid-write
            w.write(data[1 << 19 :])
            w.commit()
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        assert os.read(read_fd, 1) == b"1"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(read_fd)
    assert blob_files(store) == []
    assert list(store.digests()) == []
    with store.writer("crash", expected=sha(data), size=len(data)) as w:
        assert w.offset == 1 << 19
        w.write(data[w.offset :])
        assert w.commit() == sha(data)
    assert store.read(sha(data)) == data


def test_closed_writer_refuses_writes(store: ContentStore) -> None:
    w = store.writer("done")
    w.close()
    with pytest.raises(ValueError):
        w.write(b"x")
    store.abort("done")
