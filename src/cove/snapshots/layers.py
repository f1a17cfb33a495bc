"""Apply an OCI image layer (a tar stream, maybe gzip or zstd) to a directory.

One streaming pass: the compression is found by its magic bytes (whatever the
media type claims), the uncompressed tar is hashed for the diff_id while it is
extracted, and its size is capped (a decompression bomb aborts).

Every entry is placed with directory file descriptors: the parent directory of
an entry is resolved component by component from ``dest``; a symlink met on
the way is followed *inside* ``dest`` (absolute targets restart at ``dest``,
``..`` never climbs above it), and the final component is never followed. So a
symlink planted by this or an earlier layer can never make a later entry land
outside ``dest``.

Whiteouts follow the image spec's layer.md: ``.wh.<name>`` removes ``name`` of
the lower layers, ``.wh..wh..opq`` hides every lower entry of its directory;
neither hides entries of the same layer. With ``for_overlay=True`` the layer is
written as an overlayfs upper directory instead: a whiteout becomes a 0/0
character device and an opaque directory gets ``trusted.overlay.opaque=y``.

Such an upper directory does not see the layers below it, so a hard link to a
file of a lower layer cannot be made as is.  Given those layers (``lowers``),
the file is copied up into this layer first, with its metadata, and the link
made to the copy: the merged view is the same, as docker does it.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import posixpath
import queue
import shutil
import stat
import tarfile
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Final, cast

from cove.errors import InvalidArgument

log = logging.getLogger(__name__)

WHITEOUT_PREFIX: Final = ".wh."
OPAQUE_WHITEOUT: Final = ".wh..wh..opq"
DEFAULT_MAX_BYTES: Final = 64 << 30
_CHUNK: Final = 1 << 20
_MAX_LINKS: Final = 255
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"
_XATTR_PAX: Final = "SCHILY.xattr."
_DIR_FLAGS: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class LayerError(InvalidArgument):
    """A layer is malformed or hostile; the message names the entry."""


@dataclass(frozen=True)
class LayerStats:
    """What applying a layer produced."""

    size: int  # bytes of the uncompressed tar
    diff_id: str  # "sha256:<hex>" of the uncompressed tar
    compression: str  # "gzip", "zstd" or "none"
    skipped: tuple[str, ...] = field(default=())  # entries left out (devices when unprivileged)


# --------------------------------------------------------------------------- streams


class _Prefixed:
    """A reader that first returns bytes already read (the sniffed magic)."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        self._head = head
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if n < 0:
                return head + self._raw.read()
            if len(head) >= n:
                self._head = head[n:]
                return head[:n]
            return head + self._raw.read(n - len(head))
        return self._raw.read(n)


class _GzipReader:
    """Streaming gunzip of concatenated members with zlib (no seeking).

    ``read(n)`` returns at most ``n`` bytes straight from ``decompress`` (a short
    read, never empty before the end): no buffer is joined or sliced.  The
    reader runs in the prefetch thread, and large copies there hold the GIL
    while the extracting thread waits to come back from each of its syscalls.
    """

    def __init__(self, raw: _Prefixed) -> None:
        self._raw = raw
        self._z = zlib.decompressobj(31)
        self._eof = False
        self._in_member = False

    def _next(self, limit: int) -> bytes:
        """Up to ``limit`` decompressed bytes; b"" only at the end of the stream."""
        while not self._eof:
            data = self._z.unconsumed_tail or self._raw.read(_CHUNK)
            if not data:
                self._eof = True
                if self._in_member:
                    raise LayerError("layer gzip stream is truncated")
                break
            self._in_member = True
            out = self._z.decompress(data, limit)
            while self._z.eof:  # a member ends: the next starts in its unused data
                rest = self._z.unused_data
                self._z = zlib.decompressobj(31)
                self._in_member = bool(rest)
                if rest:
                    more = self._z.decompress(rest, max(1, limit - len(out)))
                    out = out + more if out else more
                if len(out) >= limit:
                    break
            if out:
                return out
        return b""

    def read(self, n: int = -1) -> bytes:
        if n >= 0:
            return self._next(max(1, n)) if n else b""
        parts = []
        while chunk := self._next(_CHUNK * 4):
            parts.append(chunk)
        return b"".join(parts)


class _Measured:
    """Hashes and counts the uncompressed tar; aborts past ``limit`` bytes."""

    def __init__(self, raw: _Reader, limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.size += len(data)
        if self.size > self._limit:
            raise LayerError(f"layer is larger than {self._limit} bytes uncompressed"
                             " (decompression bomb?)")
        self.digest.update(data)
        return data


_Reader = _Prefixed | _GzipReader | BinaryIO


class _Prefetch:
    """Decompresses and hashes in a thread while the caller extracts.

    zlib, zstd and hashlib release the GIL on large buffers, so the decompression
    overlaps with the tar parsing and file writes (as ``tar -xz`` does with its
    gzip child). The thread's errors are raised from :meth:`read`.
    """

    def __init__(self, raw: _Measured) -> None:
        self._raw = raw
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=8)
        self._buf = memoryview(b"")
        self._done = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="layer-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        item: bytes | BaseException
        while not self._stop.is_set():
            try:
                item = self._raw.read(_CHUNK * 2)
            except BaseException as exc:
                item = exc
            while not self._stop.is_set():
                try:
                    self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not isinstance(item, bytes) or not item:
                return

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            parts = [bytes(self._buf)]
            self._buf = memoryview(b"")
            while chunk := self.read(_CHUNK * 4):
                parts.append(chunk)
            return b"".join(parts)
        if not self._buf and not self._done:
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._done = True
                raise item
            if not item:
                self._done = True
            self._buf = memoryview(item)
        out = self._buf[:n]
        self._buf = self._buf[n:]
        return bytes(out)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def _open_decompressed(stream: BinaryIO) -> tuple[_Reader, str]:
    head = b""
    while len(head) < 4:
        more = stream.read(4 - len(head))
        if not more:
            break
        head += more
    raw = _Prefixed(head, stream)
    if head.startswith(_GZIP_MAGIC):
        return _GzipReader(raw), "gzip"
    if head.startswith(_ZSTD_MAGIC):
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], raw), read_size=_CHUNK,
                                                            read_across_frames=True)
        return reader, "zstd"
    return raw, "none"


# --------------------------------------------------------------------------- paths


def _clean_name(name: str, what: str = "path") -> str:
    """The entry's path relative to the root ('' for the root); refuses escapes."""
    if "\x00" in name:
        raise LayerError(f"layer entry {name!r}: NUL in {what}")
    rel = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
    if rel == ".." or rel.startswith("../"):
        raise LayerError(f"layer entry {name!r}: {what} escapes the layer root")
    return "" if rel == "." else rel


class _Root:
    """Directory-fd operations confined to one root directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, _DIR_FLAGS)
        # resolved directories by entry path; dropped whenever anything is removed or
        # replaced, so a cached fd is always the directory the path resolves to now
        self._cache: dict[str, int] = {}

    def invalidate(self) -> None:
        for fd in self._cache.values():
            os.close(fd)
        self._cache.clear()

    def close(self) -> None:
        self.invalidate()
        os.close(self.fd)

    def open_dir(self, rel: str, *, create: bool, entry: str) -> int:
        """An fd (the caller's to close) of directory ``rel``; see :meth:`_resolve`."""
        cached = self._cache.get(rel)
        if cached is not None:
            return os.dup(cached)
        fd = self._resolve(rel, create=create, entry=entry)
        if len(self._cache) >= 1024:
            self.invalidate()
        self._cache[rel] = os.dup(fd)
        return fd

    def _resolve(self, rel: str, *, create: bool, entry: str) -> int:
        """An fd of directory ``rel``, symlinks resolved inside the root.

        Missing directories are made (mode 0755) when ``create``; a non-directory
        on the way is an error naming ``entry``.
        """
        stack = [os.dup(self.fd)]
        pending = [c for c in rel.split("/") if c and c != "."]
        pending.reverse()
        links = 0
        try:
            while pending:
                part = pending.pop()
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop())
                    continue
                cur = stack[-1]
                try:
                    st = os.stat(part, dir_fd=cur, follow_symlinks=False)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=cur)
                    st = os.stat(part, dir_fd=cur, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    links += 1
                    if links > _MAX_LINKS:
                        raise LayerError(f"layer entry {entry!r}: too many symlinks")
                    target = os.readlink(part, dir_fd=cur)
                    if target.startswith("/"):
                        for fd in stack[1:]:
                            os.close(fd)
                        del stack[1:]
                    parts = [c for c in target.split("/") if c and c != "."]
                    pending.extend(reversed(parts))
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise LayerError(f"layer entry {entry!r}: {part!r} on its path is not a"
                                     " directory")
                stack.append(os.open(part, _DIR_FLAGS, dir_fd=cur))
            result = stack.pop()
            return result
        finally:
            for fd in stack:
                os.close(fd)

    def parent(self, rel: str, *, create: bool = True) -> tuple[int, str]:
        """(fd of the parent dir, last component) of entry ``rel`` (not followed)."""
        head, _, base = rel.rpartition("/")
        return self.open_dir(head, create=create, entry=rel), base


def _remove_at(dirfd: int, name: str) -> None:
    """Remove whatever ``name`` is in ``dirfd`` (a directory recursively)."""
    try:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dirfd)
    else:
        os.unlink(name, dir_fd=dirfd)


def _lstat_at(dirfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


# --------------------------------------------------------------------------- applier


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def find_in_lowers(lowers: Sequence[str], rel: str, *, directory: bool | None = False
                   ) -> str | None:
    """The path of ``rel`` in the overlay of ``lowers`` (newest first), or None.

    ``rel`` must be a directory with ``directory``, anything else without it
    (``None``: any type).
    Whiteouts and opaque directories hide what is below them, as in the
    kernel's merge.  No symlink is followed: a path through one is not found.
    """
    parts = [p for p in rel.split("/") if p]
    if not parts:
        return None
    for lower in lowers:
        opaque_above = False
        path = lower
        for i, part in enumerate(parts):
            path = os.path.join(path, part)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                break  # not in this layer: look below, unless an opaque dir hides it
            if _is_whiteout(st):
                return None
            if i == len(parts) - 1:
                if directory is None or stat.S_ISDIR(st.st_mode) == directory:
                    return path
                return None
            if not stat.S_ISDIR(st.st_mode):
                return None  # a file or symlink there hides the lower directories
            if _is_opaque(path):
                opaque_above = True
        if opaque_above:
            return None
    return None


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        if name.startswith("trusted.overlay."):
            continue  # overlayfs' own markers belong to the lower layer
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False))
        except OSError as exc:
            log.warning("copy-up of %s: xattr %s not set: %s", src, name, exc.strerror)


class _Applier:
    def __init__(self, dest: str, *, for_overlay: bool, privileged: bool,
                 lowers: Sequence[str] = ()) -> None:
        self.root = _Root(dest)
        self.lowers = tuple(lowers)
        self.for_overlay = for_overlay
        self.privileged = privileged
        self.written: set[str] = set()  # entries of this layer (whiteouts spare them)
        self.dir_times: list[tuple[str, int]] = []
        self.skipped: list[str] = []

    def close(self) -> None:
        self.root.close()

    def apply(self, tar: tarfile.TarFile) -> None:
        for info in tar:
            self.entry(tar, info)
        self.finish()

    def entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        rel = _clean_name(info.name)
        if not rel:
            return  # the root itself: the snapshot owns its metadata
        base = posixpath.basename(rel)
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(rel, base)
            return
        dirfd, name = self.root.parent(rel)
        try:
            self.place(tar, info, rel, dirfd, name)
        except OSError as exc:
            raise LayerError(f"layer entry {info.name!r}: {exc.strerror or exc}") from exc
        finally:
            os.close(dirfd)
        self.written.add(rel)

    # ---- whiteouts

    def whiteout(self, rel: str, base: str) -> None:
        parent_rel = posixpath.dirname(rel)
        try:
            dirfd = self.root.open_dir(parent_rel, create=self.for_overlay, entry=rel)
        except FileNotFoundError:
            return  # nothing below to hide
        try:
            if base == OPAQUE_WHITEOUT:
                if self.for_overlay:
                    os.setxattr(f"/proc/self/fd/{dirfd}", "trusted.overlay.opaque", b"y")
                else:
                    self.root.invalidate()
                    self._prune(dirfd, parent_rel)
                return
            name = base[len(WHITEOUT_PREFIX):]
            if not name or name in (".", "..") or name.startswith(WHITEOUT_PREFIX):
                raise LayerError(f"layer entry {rel!r}: invalid whiteout")
            target = posixpath.join(parent_rel, name) if parent_rel else name
            if target in self.written:
                return  # a whiteout hides lower layers only
            self.root.invalidate()
            _remove_at(dirfd, name)
            if self.for_overlay:
                os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dirfd)
        except OSError as exc:
            raise LayerError(f"layer entry {rel!r}: {exc.strerror or exc}") from exc
        finally:
            os.close(dirfd)

    def _prune(self, dirfd: int, rel: str) -> None:
        """Remove the lower content of a directory, keeping this layer's entries."""
        for name in os.listdir(dirfd):
            child = posixpath.join(rel, name) if rel else name
            if child not in self.written:
                _remove_at(dirfd, name)
                continue
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                sub = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
                try:
                    self._prune(sub, child)
                finally:
                    os.close(sub)

    # ---- entries

    def place(self, tar: tarfile.TarFile, info: tarfile.TarInfo, rel: str, dirfd: int,
              name: str) -> None:
        old = _lstat_at(dirfd, name)
        if info.isdir():
            if old is not None and not stat.S_ISDIR(old.st_mode):
                self.root.invalidate()
                os.unlink(name, dir_fd=dirfd)
                old = None
            if old is None:
                os.mkdir(name, 0o700, dir_fd=dirfd)
            fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
            try:
                self.meta_fd(fd, info)
            finally:
                os.close(fd)
            self.dir_times.append((rel, _ns(info.mtime)))
            return
        if old is not None:
            self.root.invalidate()
            if stat.S_ISDIR(old.st_mode):
                shutil.rmtree(name, dir_fd=dirfd)
            else:
                os.unlink(name, dir_fd=dirfd)
        if info.isreg():
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
            try:
                src: IO[bytes] | None
                if info.sparse is None and tar.fileobj is not None \
                        and tar.fileobj.tell() == info.offset_data:
                    # straight from the stream: tarfile's file object adds two copies;
                    # tarfile skips to the next header itself
                    src = cast(IO[bytes], tar.fileobj)
                else:
                    src = tar.extractfile(info)
                if src is not None:
                    left = info.size
                    while left > 0:
                        chunk = src.read(min(_CHUNK, left))
                        if not chunk:
                            raise LayerError(f"layer entry {info.name!r}: truncated")
                        _write_all(fd, chunk)
                        left -= len(chunk)
                self.meta_fd(fd, info)
            finally:
                os.close(fd)
        elif info.issym():
            os.symlink(info.linkname, name, dir_fd=dirfd)
            if self.privileged:
                os.chown(name, info.uid, info.gid, dir_fd=dirfd, follow_symlinks=False)
            self.xattrs(f"/proc/self/fd/{dirfd}/{name}", info, follow=False)
            os.utime(name, ns=(_ns(info.mtime),) * 2, dir_fd=dirfd,
                     follow_symlinks=False)
        elif info.islnk():
            self.hardlink(info, dirfd, name)
        elif info.ischr() or info.isblk() or info.isfifo():
            if not self.privileged and not info.isfifo():
                log.warning("layer entry %r: device node skipped (not privileged)", info.name)
                self.skipped.append(rel)
                return
            kind = (stat.S_IFCHR if info.ischr() else
                    stat.S_IFBLK if info.isblk() else stat.S_IFIFO)
            os.mknod(name, kind | 0o600, os.makedev(info.devmajor, info.devminor),
                     dir_fd=dirfd)
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
            try:
                path = f"/proc/self/fd/{fd}"
                if self.privileged:
                    os.chown(path, info.uid, info.gid)
                os.chmod(path, info.mode & 0o7777)
                self.xattrs(path, info, follow=True)
                os.utime(path, ns=(_ns(info.mtime),) * 2)
            finally:
                os.close(fd)
        else:
            log.warning("layer entry %r: unsupported type %r skipped", info.name, info.type)
            self.skipped.append(rel)

    def hardlink(self, info: tarfile.TarInfo, dirfd: int, name: str) -> None:
        target = _clean_name(info.linkname, f"hard link {info.name!r} target")
        if not target:
            raise LayerError(f"layer entry {info.name!r}: hard link to the root")
        try:
            tfd, tname = self.root.parent(target, create=False)
        except FileNotFoundError:
            tfd, tname = self.copy_up(info, target)
        try:
            st = _lstat_at(tfd, tname)
            if st is None:
                os.close(tfd)
                tfd = -1
                tfd, tname = self.copy_up(info, target)
                st = _lstat_at(tfd, tname)
            if st is None or _is_whiteout(st):
                raise LayerError(f"layer entry {info.name!r}: hard link target"
                                 f" {info.linkname!r} does not exist in the layer")
            if stat.S_ISDIR(st.st_mode):
                raise LayerError(f"layer entry {info.name!r}: hard link to a directory")
            os.link(tname, name, src_dir_fd=tfd, dst_dir_fd=dirfd, follow_symlinks=False)
        finally:
            if tfd >= 0:
                os.close(tfd)

    def copy_up(self, info: tarfile.TarInfo, target: str) -> tuple[int, str]:
        """Copy ``target`` from the lower layers into this one; (its dir fd, its name)."""
        source = find_in_lowers(self.lowers, target) if self.for_overlay else None
        if source is None:
            raise LayerError(f"layer entry {info.name!r}: hard link target {info.linkname!r}"
                             " does not exist in the layer")
        # Parent directories the upper lacks take the lower ones' metadata, so
        # the merged view does not change; their mtimes are set again at the end.
        parts = target.split("/")
        for depth in range(1, len(parts)):
            rel = "/".join(parts[:depth])
            dirfd, name = self.root.parent(rel, create=False)
            try:
                if _lstat_at(dirfd, name) is not None:
                    continue
                lower_dir = find_in_lowers(self.lowers, rel, directory=True)
                lst = os.lstat(lower_dir) if lower_dir else None
                os.mkdir(name, 0o755 if lst is None else 0o700, dir_fd=dirfd)
                if lst is not None:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=dirfd)
                    try:
                        if self.privileged:
                            os.fchown(fd, lst.st_uid, lst.st_gid)
                        os.fchmod(fd, stat.S_IMODE(lst.st_mode))
                    finally:
                        os.close(fd)
                    self.dir_times.append((rel, lst.st_mtime_ns))
            finally:
                os.close(dirfd)
        dirfd, name = self.root.parent(target, create=False)
        try:
            st = os.lstat(source)
            if stat.S_ISREG(st.st_mode):
                src = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                try:
                    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
                    try:
                        while chunk := os.read(src, _CHUNK):
                            _write_all(fd, chunk)
                        if self.privileged:
                            os.fchown(fd, st.st_uid, st.st_gid)
                        os.fchmod(fd, stat.S_IMODE(st.st_mode))
                        _copy_xattrs(source, f"/proc/self/fd/{fd}")
                        os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
                    finally:
                        os.close(fd)
                finally:
                    os.close(src)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(source), name, dir_fd=dirfd)
                if self.privileged:
                    os.chown(name, st.st_uid, st.st_gid, dir_fd=dirfd, follow_symlinks=False)
            elif self.privileged:  # a device node or fifo
                os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dirfd)
                os.chown(name, st.st_uid, st.st_gid, dir_fd=dirfd, follow_symlinks=False)
            else:
                raise LayerError(f"layer entry {info.name!r}: hard link to a device node of"
                                 " a lower layer (not privileged)")
        except BaseException:
            os.close(dirfd)
            raise
        log.debug("layer entry %r: copied %s up from a lower layer", info.name, target)
        return dirfd, name

    def meta_fd(self, fd: int, info: tarfile.TarInfo) -> None:
        if self.privileged:
            os.fchown(fd, info.uid, info.gid)
        os.fchmod(fd, info.mode & 0o7777)  # after chown, which clears setuid
        self.xattrs(f"/proc/self/fd/{fd}", info, follow=True)
        if not info.isdir():
            os.utime(fd, ns=(_ns(info.mtime),) * 2)

    def xattrs(self, path: str, info: tarfile.TarInfo, *, follow: bool) -> None:
        for key, value in info.pax_headers.items():
            if not key.startswith(_XATTR_PAX):
                continue
            attr = key[len(_XATTR_PAX):]
            raw = value.encode("utf-8", "surrogateescape")
            try:
                os.setxattr(path, attr, raw, follow_symlinks=follow)
            except OSError as exc:
                if exc.errno in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    log.warning("layer entry %r: xattr %s not set: %s", info.name, attr,
                                exc.strerror)
                    continue
                raise

    def finish(self) -> None:
        for rel, mtime in reversed(self.dir_times):
            try:
                fd = self.root.open_dir(rel, create=False, entry=rel)
            except (FileNotFoundError, LayerError):
                continue  # removed or replaced later in the layer
            try:
                os.utime(fd, ns=(mtime,) * 2)
            finally:
                os.close(fd)


def _ns(mtime: float) -> int:
    """A tar mtime (PAX allows fractions) in nanoseconds."""
    return round(mtime * 1_000_000_000) if isinstance(mtime, float) else int(mtime) * 10**9


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


def apply_layer(stream: BinaryIO, dest: str, *, media_type: str | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, for_overlay: bool = False,
                privileged: bool | None = None, lowers: Sequence[str] = ()) -> LayerStats:
    """Extract the layer in ``stream`` onto ``dest`` and return its size and diff_id.

    ``media_type`` is informational: the compression is detected from the data.
    ``privileged`` (default: running as root) allows device nodes and ownership.
    ``lowers`` (with ``for_overlay``): the directories of the layers below,
    newest first, where a hard link's target missing from ``dest`` is found
    and copied up.
    """
    del media_type  # detection by magic bytes is authoritative
    if privileged is None:
        privileged = os.geteuid() == 0
    reader, compression = _open_decompressed(stream)
    measured = _Measured(reader, max_bytes)
    prefetch = _Prefetch(measured)
    applier = _Applier(dest, for_overlay=for_overlay, privileged=privileged, lowers=lowers)
    try:
        try:
            with tarfile.open(fileobj=prefetch, mode="r|", bufsize=_CHUNK) as tar:  # type: ignore[call-overload]
                applier.apply(tar)
        except tarfile.TarError as exc:
            raise LayerError(f"layer is not a valid tar stream: {exc}") from exc
        except (zlib.error, EOFError, zstd_error()) as exc:
            raise LayerError(f"layer {compression} stream is corrupt: {exc}") from exc
        while prefetch.read(_CHUNK):  # the end-of-archive padding counts in the diff_id
            pass
    finally:
        prefetch.close()
        applier.close()
    return LayerStats(size=measured.size, diff_id="sha256:" + measured.digest.hexdigest(),
                      compression=compression, skipped=tuple(applier.skipped))
