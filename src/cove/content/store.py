"""A content-addressed blob store on the local filesystem.

Layout under ``root``::

    blobs/<algorithm>/<hex>      committed blobs, read-only, always complete
    ingest/<sha256(ref)>/        one directory per in-progress write
        ref                      the ref, for humans
        lock                     flock()ed by the one writer allowed at a time
        data                     the bytes received so far (the resume point)

A blob becomes visible only through ``rename(2)`` of a fully written, verified
and fsynced file from ``ingest/`` into ``blobs/`` (same filesystem), followed
by an fsync of the directory, so a crash at any point leaves either no blob or
a complete one.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from types import TracebackType
from typing import BinaryIO

from cove.content.errors import BlobNotFound, DigestMismatch, IngestLocked, SizeMismatch
from cove.errors import InvalidArgument, SyscallError
from cove.oci.digest import SHA256, SHA512, Hasher, check_algorithm, new_hasher, parse_digest

log = logging.getLogger(__name__)

CHUNK = 1 << 20
_ALGORITHMS = (SHA256, SHA512)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _oserror(action: str, path: str, exc: OSError) -> SyscallError:
    return SyscallError(f"{action} {path}: {exc.strerror or exc}", exc.errno or 0)


class ContentStore:
    """Blobs addressed by digest, verified when written, never partially visible."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self._blobs = os.path.join(self.root, "blobs")
        self._ingest = os.path.join(self.root, "ingest")
        try:
            for algorithm in _ALGORITHMS:
                os.makedirs(os.path.join(self._blobs, algorithm), mode=0o755, exist_ok=True)
            os.makedirs(self._ingest, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise _oserror("cannot create content store", self.root, exc) from exc

    def __repr__(self) -> str:
        return f"ContentStore({self.root!r})"

    # -- reading ---------------------------------------------------------------

    def path(self, digest: str) -> str:
        """Where the blob ``digest`` lives (whether or not it exists)."""
        algorithm, encoded = parse_digest(digest)
        return os.path.join(self._blobs, algorithm, encoded)

    def exists(self, digest: str) -> bool:
        return os.path.isfile(self.path(digest))

    def size(self, digest: str) -> int:
        path = self.path(digest)
        try:
            return os.stat(path).st_size
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        except OSError as exc:
            raise _oserror("cannot stat blob", path, exc) from exc

    def read(self, digest: str) -> bytes:
        """The whole blob: for small ones (manifests, configs). Verified when written."""
        path = self.path(digest)
        try:
            with open(path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        except OSError as exc:
            raise _oserror("cannot read blob", path, exc) from exc

    def open(self, digest: str) -> BinaryIO:
        """A binary file object over the blob; the caller closes it."""
        path = self.path(digest)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise BlobNotFound(digest) from None
        except OSError as exc:
            raise _oserror("cannot open blob", path, exc) from exc

    def digests(self) -> Iterator[str]:
        """Every committed blob's digest (unordered)."""
        for algorithm in _ALGORITHMS:
            directory = os.path.join(self._blobs, algorithm)
            try:
                names = os.listdir(directory)
            except FileNotFoundError:
                continue
            for name in names:
                digest = f"{algorithm}:{name}"
                try:
                    parse_digest(digest)
                except InvalidArgument:  # a stray file, not a blob
                    log.debug("ignoring stray file %s in %s", name, directory)
                    continue
                yield digest

    # -- writing ---------------------------------------------------------------

    def put(self, data: bytes, expected: str | None = None, *, algorithm: str = SHA256) -> str:
        """Store ``data`` and return its digest; idempotent. DigestMismatch if not ``expected``."""
        if expected is not None:
            algorithm, _ = parse_digest(expected)
        else:
            check_algorithm(algorithm)
        digest = f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"
        if expected is not None and digest != expected:
            raise DigestMismatch(expected, digest)
        target = self.path(digest)
        if os.path.exists(target):
            return digest
        fd, tmp = tempfile.mkstemp(prefix="put-", dir=self._ingest)
        try:
            try:
                _write_all(fd, data)
                os.fchmod(fd, 0o444)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._publish(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        return digest

    def writer(
        self, ref: str, *, expected: str | None = None, size: int | None = None
    ) -> BlobWriter:
        """Open (or resume) the ingest named ``ref``; one writer per ref at a time."""
        if not ref:
            raise ValueError("an ingest ref must not be empty")
        if size is not None and size < 0:
            raise ValueError(f"negative size {size} for ingest {ref!r}")
        algorithm = parse_digest(expected)[0] if expected is not None else SHA256
        return BlobWriter(self, ref, self._ingest_dir(ref), algorithm, expected, size)

    def abort(self, ref: str) -> None:
        """Drop the partial data of ``ref`` (IngestLocked if a writer has it open)."""
        directory = self._ingest_dir(ref)
        if not os.path.isdir(directory):
            return
        lock_fd = _lock(directory, ref)
        try:
            shutil.rmtree(directory, ignore_errors=True)
        finally:
            os.close(lock_fd)

    def delete(self, digest: str) -> None:
        """Remove a blob; removing a missing one is not an error."""
        path = self.path(digest)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _oserror("cannot delete blob", path, exc) from exc

    # -- internals -------------------------------------------------------------

    def _ingest_dir(self, ref: str) -> str:
        return os.path.join(self._ingest, hashlib.sha256(ref.encode()).hexdigest())

    def _publish(self, source: str, target: str) -> None:
        """Rename a complete, fsynced file into blobs/ and make the rename durable."""
        try:
            os.rename(source, target)
            _fsync_dir(os.path.dirname(target))
        except OSError as exc:
            raise _oserror("cannot commit blob", target, exc) from exc


def _lock(directory: str, ref: str) -> int:
    """Create ``directory`` if needed and take its lock file; IngestLocked if held."""
    lock_path = os.path.join(directory, "lock")
    while True:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise _oserror("cannot open ingest lock", lock_path, exc) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IngestLocked(ref) from None
        except OSError as exc:
            os.close(fd)
            raise _oserror("cannot lock", lock_path, exc) from exc
        # The holder we waited on may have removed the directory (abort/commit)
        # before releasing: a lock on an unlinked inode protects nothing.
        try:
            if os.stat(lock_path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


class BlobWriter:
    """One ingest: bytes written are hashed as they come and committed atomically.

    Use as a context manager: an exception inside the block aborts the ingest
    (drops its data); leaving normally without :meth:`commit` keeps the data
    for a later resume.
    """

    def __init__(
        self,
        store: ContentStore,
        ref: str,
        directory: str,
        algorithm: str,
        expected: str | None,
        size: int | None,
    ) -> None:
        self.ref = ref
        self.expected = expected
        self.total = size
        self._store = store
        self._dir = directory
        self._data_path = os.path.join(directory, "data")
        self._algorithm = algorithm
        self._hasher: Hasher = new_hasher(algorithm)
        self._done = False
        self._lock_fd = _lock(directory, ref)
        try:
            self._fd = os.open(self._data_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            os.close(self._lock_fd)
            raise _oserror("cannot open ingest", self._data_path, exc) from exc
        try:
            ref_path = os.path.join(directory, "ref")
            if not os.path.exists(ref_path):
                with open(ref_path, "w", encoding="utf-8") as f:
                    f.write(ref)
            self.offset = self._rehash()
        except BaseException:
            self._release()
            raise
        if size is not None and self.offset > size:
            found = self.offset
            self.abort()
            raise SizeMismatch(size, found, f"ingest {ref!r}")

    def _rehash(self) -> int:
        """Feed the partial data already on disk to the hasher; return its length."""
        offset = 0
        while True:
            chunk = os.pread(self._fd, CHUNK, offset)
            if not chunk:
                break
            self._hasher.update(chunk)
            offset += len(chunk)
        os.lseek(self._fd, offset, os.SEEK_SET)
        if offset:
            log.debug("resuming ingest %r at %d bytes", self.ref, offset)
        return offset

    def __repr__(self) -> str:
        return f"BlobWriter({self.ref!r}, offset={self.offset})"

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def _check_open(self) -> None:
        if self._done:
            raise ValueError(f"ingest {self.ref!r} is closed")

    def write(self, data: bytes) -> None:
        """Append ``data``; SizeMismatch (nothing written) once it would exceed the size."""
        self._check_open()
        end = self.offset + len(data)
        if self.total is not None and end > self.total:
            raise SizeMismatch(self.total, end, f"ingest {self.ref!r}")
        try:
            _write_all(self._fd, data)
        except OSError as exc:
            raise _oserror("cannot write ingest", self._data_path, exc) from exc
        self._hasher.update(data)
        self.offset = end

    @property
    def digest(self) -> str:
        """The digest of what has been written so far."""
        return f"{self._algorithm}:{self._hasher.hexdigest()}"

    def commit(self) -> str:
        """Verify size and digest, then make the blob visible; returns its digest.

        A mismatch drops the ingest (the data is wrong, resuming cannot fix it).
        """
        self._check_open()
        if self.total is not None and self.offset != self.total:
            found = self.offset
            self.abort()
            raise SizeMismatch(self.total, found, f"ingest {self.ref!r}")
        digest = self.digest
        if self.expected is not None and digest != self.expected:
            self.abort()
            raise DigestMismatch(self.expected, digest, f"ingest {self.ref!r}")
        target = self._store.path(digest)
        if os.path.exists(target):
            log.debug("ingest %r: %s already present", self.ref, digest)
            self.abort()
            return digest
        try:
            os.fchmod(self._fd, 0o444)
            os.fsync(self._fd)
        except OSError as exc:
            raise _oserror("cannot sync ingest", self._data_path, exc) from exc
        self._store._publish(self._data_path, target)
        self.abort()
        return digest

    def close(self) -> None:
        """Stop writing, keeping the partial data for a later resume."""
        if not self._done:
            self._release()

    def abort(self) -> None:
        """Stop writing and drop the partial data."""
        if self._done:
            return
        try:
            shutil.rmtree(self._dir, ignore_errors=True)
        finally:
            self._release()

    def _release(self) -> None:
        self._done = True
        for fd in (self._fd, self._lock_fd):
            try:
                os.close(fd)
            except OSError as exc:
                if exc.errno != errno.EBADF:
                    raise
