"""PUT /containers/{id}/archive: extract an uploaded tar into a container directory.

The tar is read as it arrives (tarfile's stream mode; gzip, bzip2 and xz are
recognised as Docker's Untar does). Each entry is placed with directory fds from
the container view: its parent directory is resolved inside the container (symlinks
of the container or of earlier entries are followed, confined to the container's
root, binds included), and its own name is never followed. So ``../`` names,
absolute names, a symlink to / or to a host path followed by a file through it, and
hard links all stay inside the container.

Docker's rules kept: names are relative to the extraction directory (an absolute
name is taken from it; one that climbs out of it is refused, as are hard links whose
target does), an existing entry is replaced unless both are directories (merged),
``noOverwriteDirNonDir`` refuses a directory/non-directory swap, entries are owned
by the container's root (0:0) unless ``copyUIDGID``. Not kept: device nodes are
skipped (a node made from an upload is a way to reach host devices from a stopped
container's rootfs), and xattrs are not applied.
"""

from __future__ import annotations

import errno
import logging
import os
import posixpath
import shutil
import stat
import tarfile
from typing import IO, Final, Protocol, cast

from cove.engine.archive_errors import (
    MountPointBusy,
    NotADirectory,
    PathNotFound,
    ReadOnlyTarget,
    UnsafeArchiveEntry,
    WouldOverwrite,
)
from cove.engine.archive_view import DIR_FLAGS, BindMount, ContainerView, Dir
from cove.errors import CoveError, InvalidArgument

log = logging.getLogger(__name__)

_CHUNK: Final = 1 << 20
_MAX_CACHED_DIRS: Final = 512
# What a bad archive (not the host) causes: a 400 naming the entry.
_CLIENT_ERRNOS: Final = frozenset({
    errno.EEXIST, errno.ENOTDIR, errno.EISDIR, errno.EXDEV, errno.EPERM, errno.ENAMETOOLONG,
    errno.ELOOP, errno.ENOTEMPTY, errno.EMLINK, errno.EINVAL, errno.ENOENT})


class Readable(Protocol):
    def read(self, size: int = ...) -> bytes: ...


class ArchiveError(InvalidArgument):
    """The upload is not a tar archive Docker would accept: 400."""


class _Peeked:
    """A reader that gives back the bytes read to see whether there is a body at all."""

    def __init__(self, head: bytes, raw: Readable) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            if 0 <= size < len(head):
                self._head = head[size:]
                return head[:size]
            return head
        return self._raw.read(size if size >= 0 else _CHUNK)


class Extractor:
    """Places the entries of one tar under ``dest`` (a directory of ``view``)."""

    def __init__(self, view: ContainerView, dest: Dir, *, copy_uid_gid: bool,
                 no_overwrite_dir_non_dir: bool, shown: str) -> None:
        self.view = view
        self.dest = dest
        self.copy_uid_gid = copy_uid_gid
        self.no_overwrite = no_overwrite_dir_non_dir
        self.shown = shown  # the destination as the client named it
        self._dirs: dict[str, Dir] = {}
        self._dir_times: list[tuple[str, int]] = []
        self.skipped: list[str] = []

    # ---- driving

    def extract(self, body: Readable) -> int:
        """Extract the whole stream; the number of entries placed."""
        head = body.read(tarfile.BLOCKSIZE)
        if not head:
            return 0  # an empty body is an empty archive, as for Go's tar reader
        count = 0
        try:
            with tarfile.open(fileobj=cast(IO[bytes], _Peeked(head, body)), mode="r|*",
                              bufsize=_CHUNK) as tar:
                for info in tar:
                    self.entry(tar, info)
                    count += 1
        except tarfile.TarError as e:
            raise ArchiveError(f"Error processing tar file: {e}") from None
        except EOFError as e:
            raise ArchiveError(f"Error processing tar file: truncated stream ({e})") from None
        finally:
            self._finish_dirs()
            self._forget_dirs()
        return count

    def close(self) -> None:
        """Close the destination and every cached directory (not the view)."""
        self._forget_dirs()
        self.dest.close()

    def _forget_dirs(self) -> None:
        for d in self._dirs.values():
            d.close()
        self._dirs.clear()

    def _dir(self, rel: str, *, create: bool = True) -> Dir:
        """The directory ``rel`` (of the destination), resolved inside the container."""
        cached = self._dirs.get(rel)
        if cached is None:
            path = posixpath.join(self.dest.path, rel) if rel else self.dest.path
            cached = self.view.resolve_dir(path, create=create, shown=path)
            self._dirs[rel] = cached
        return cached

    # ---- one entry

    def _clean(self, name: str, what: str) -> str:
        if "\x00" in name:
            raise UnsafeArchiveEntry(f"tar entry {name!r}: NUL byte in its {what}")
        # Cleaned first, as Docker does: "/../x" is "/x", i.e. "x" of the destination.
        rel = posixpath.normpath(name).lstrip("/") or "."
        if rel == ".." or rel.startswith("../"):
            raise UnsafeArchiveEntry(f"tar entry {name!r}: {what} is outside of {self.shown!r}")
        return "" if rel == "." else rel

    def entry(self, tar: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        rel = self._clean(info.name, "name")
        if not rel:
            return  # "." itself: the destination already exists
        if len(self._dirs) >= _MAX_CACHED_DIRS:
            self._forget_dirs()  # here, never while an entry holds one of them
        if info.ischr() or info.isblk():
            log.warning("cp into %s: device node %r skipped", self.shown, info.name)
            self.skipped.append(rel)
            return
        parent = self._dir(posixpath.dirname(rel))
        name = posixpath.basename(rel)
        cpath = parent.child_path(name)
        self.view.check_writable(parent)
        try:
            self._place(tar, info, rel, parent, name, self.view.mounts.get(cpath))
        except OSError as e:
            raise self._entry_error(info, e) from None

    def _entry_error(self, info: tarfile.TarInfo, e: OSError) -> Exception:
        if e.errno == errno.EROFS:
            return ReadOnlyTarget(f"tar entry {info.name!r}: read-only file system")
        message = f"Error processing tar file: {info.name}: {e.strerror or e}"
        if e.errno in _CLIENT_ERRNOS:
            return InvalidArgument(message)
        return CoveError(message)  # the host's trouble (ENOSPC, EIO...): 500

    def _place(self, tar: tarfile.TarFile, info: tarfile.TarInfo, rel: str, parent: Dir,
               name: str, bind: BindMount | None) -> None:
        old: os.stat_result | None
        try:
            old = os.stat(bind.source) if bind is not None else \
                os.stat(name, dir_fd=parent.fd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None:
            old_dir = stat.S_ISDIR(old.st_mode)
            if self.no_overwrite and old_dir and not info.isdir():
                raise WouldOverwrite(f"cannot overwrite directory {parent.child_path(name)!r} "
                                     f"with non-directory {info.name!r}")
            if self.no_overwrite and not old_dir and info.isdir():
                raise WouldOverwrite(f"cannot overwrite non-directory "
                                     f"{parent.child_path(name)!r} with directory "
                                     f"{info.name!r}")
            if bind is not None:
                if old_dir and info.isdir():
                    return  # merge into the volume; its root's owner and mode are the host's
                raise MountPointBusy(f"cannot replace {bind.destination}: it is a mount point"
                                     " (device or resource busy)")
            if old_dir and info.isdir():
                self._dir_meta(parent, name, info, rel)
                return
            if old_dir:
                below = parent.child_path(name) + "/"
                held = sorted(d for d in self.view.mounts if d.startswith(below))
                if held:
                    # In the container the kernel would refuse (EBUSY); here only the
                    # rootfs placeholder would go, but the answer must be the same.
                    raise MountPointBusy(f"cannot replace {below.rstrip('/')}: {held[0]} "
                                         "is mounted below it (device or resource busy)")
                shutil.rmtree(name, dir_fd=parent.fd)
            else:
                os.unlink(name, dir_fd=parent.fd)
            # Cached fds may be of directories that were below what went.
            self._forget_dirs()
            parent = self._dir(posixpath.dirname(rel))
        if info.isdir():
            os.mkdir(name, 0o700, dir_fd=parent.fd)
            self._dir_meta(parent, name, info, rel)
        elif info.isreg():
            self._regular(tar, info, parent, name)
        elif info.issym():
            os.symlink(info.linkname, name, dir_fd=parent.fd)
            uid, gid = self._owner(info)
            os.chown(name, uid, gid, dir_fd=parent.fd, follow_symlinks=False)
            os.utime(name, ns=(_ns(info.mtime),) * 2, dir_fd=parent.fd,
                     follow_symlinks=False)
        elif info.islnk():
            self._hardlink(info, parent, name)
        elif info.isfifo():
            os.mknod(name, stat.S_IFIFO | 0o600, dir_fd=parent.fd)
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent.fd)
            try:
                proc = f"/proc/self/fd/{fd}"
                os.chown(proc, *self._owner(info))
                os.chmod(proc, info.mode & 0o7777)
                os.utime(proc, ns=(_ns(info.mtime),) * 2)
            finally:
                os.close(fd)
        else:
            log.warning("cp into %s: entry %r of tar type %r skipped", self.shown,
                        info.name, info.type)
            self.skipped.append(rel)

    def _owner(self, info: tarfile.TarInfo) -> tuple[int, int]:
        return (info.uid, info.gid) if self.copy_uid_gid else (0, 0)

    def _meta_fd(self, fd: int, info: tarfile.TarInfo) -> None:
        os.fchown(fd, *self._owner(info))
        os.fchmod(fd, info.mode & 0o7777)  # after chown, which clears set-id bits

    def _dir_meta(self, parent: Dir, name: str, info: tarfile.TarInfo, rel: str) -> None:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent.fd)
        try:
            self._meta_fd(fd, info)
        finally:
            os.close(fd)
        # Set last: entries written into it would change it again.
        self._dir_times.append((rel, _ns(info.mtime)))

    def _regular(self, tar: tarfile.TarFile, info: tarfile.TarInfo, parent: Dir,
                 name: str) -> None:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=parent.fd)
        try:
            src = tar.extractfile(info)
            left = info.size
            while src is not None and left > 0:
                chunk = src.read(min(_CHUNK, left))
                if not chunk:
                    raise ArchiveError(f"Error processing tar file: {info.name}: truncated")
                _write_all(fd, chunk)
                left -= len(chunk)
            self._meta_fd(fd, info)
            os.utime(fd, ns=(_ns(info.mtime),) * 2)
        finally:
            os.close(fd)

    def _hardlink(self, info: tarfile.TarInfo, parent: Dir, name: str) -> None:
        # Docker joins the link name to the extraction directory, not to the root.
        target = self._clean(info.linkname, f"hard link target {info.linkname!r}")
        if not target:
            raise UnsafeArchiveEntry(f"tar entry {info.name!r}: hard link to a directory")
        try:
            tparent = self._dir(posixpath.dirname(target), create=False)
        except (PathNotFound, NotADirectory):
            raise ArchiveError(f"Error processing tar file: {info.name}: hard link target "
                               f"{info.linkname!r} does not exist") from None
        tname = posixpath.basename(target)
        if tparent.child_path(tname) in self.view.mounts:
            raise MountPointBusy(f"tar entry {info.name!r}: hard link to the mount point "
                                 f"{tparent.child_path(tname)}")
        os.link(tname, name, src_dir_fd=tparent.fd, dst_dir_fd=parent.fd,
                follow_symlinks=False)

    def _finish_dirs(self) -> None:
        for rel, mtime in reversed(self._dir_times):
            try:
                d = self._dir(rel, create=False)
                os.utime(d.fd, ns=(mtime, mtime))
            except Exception as e:  # replaced or removed later in the archive
                log.debug("cp into %s: mtime of %s not set: %s", self.shown, rel, e)


def _ns(mtime: float) -> int:
    return round(mtime * 1_000_000_000) if isinstance(mtime, float) else int(mtime) * 10**9


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
