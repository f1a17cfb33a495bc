"""GET /containers/{id}/archive: a container's file or tree as a streamed tar.

The tar is written by hand (tarfile's headers, our own data blocks) so that a file
of any size streams through in bounded memory, and so that every file is read
through the container view's directory fds: nothing under the root entry is
followed (symlinks are stored as links), and a bind mount met on the way is read
from its host source, as the container sees it.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
from collections.abc import Iterator
from typing import Final

from cove.engine.archive_view import ContainerView, Dir, Located

log = logging.getLogger(__name__)

_BLOCK: Final = tarfile.BLOCKSIZE
_CHUNK: Final = 1 << 20
_FLUSH_AT: Final = 64 << 10


class TarStream:
    """The tar of one container object, as an iterator of chunks.

    It owns the view and the object, and closes them when exhausted or closed,
    also when closed before the first chunk (a generator would not run its
    ``finally`` then, and the fds would leak).
    """

    def __init__(self, view: ContainerView, top: Located, top_name: str) -> None:
        self._view = view
        self._top = top
        self._chunks = self._produce(top_name)

    def _produce(self, top_name: str) -> Iterator[bytes]:
        writer = _TarWriter(self._view)
        yield from writer.tree(self._top, top_name)
        yield from writer.end()

    def __iter__(self) -> TarStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        self._top.close()
        self._view.close()


class _TarWriter:
    def __init__(self, view: ContainerView) -> None:
        self._view = view
        self._pending: list[bytes] = []
        self._pending_size = 0
        # (st_dev, st_ino) of regular files with several links → first entry name,
        # so later names become hard links as in Docker's archives.
        self._inodes: dict[tuple[int, int], str] = {}

    def _buffer(self, data: bytes) -> Iterator[bytes]:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _FLUSH_AT:
            yield self._flush()

    def _flush(self) -> bytes:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_size = 0
        return data

    def tree(self, top: Located, top_name: str) -> Iterator[bytes]:
        # Depth first, children in name order (Go's filepath.Walk order). A directory
        # stays open while its children are pending (they are reached through its fd),
        # and is closed by the marker pushed below them: open fds stay bounded by the
        # depth of the tree, not its number of directories.
        work: list[tuple[Located, str] | Dir] = [(top, top_name or "/")]
        try:
            while work:
                item = work.pop()
                if isinstance(item, Dir):
                    item.close()
                    continue
                obj, name = item
                st = self._lstat(obj)
                if st is None:
                    continue
                yield from self.entry(obj, name, st)
                if not stat.S_ISDIR(st.st_mode):
                    continue
                try:
                    d = obj.open_dir()
                except OSError as e:
                    # Gone, or swapped for a symlink by a running container since the
                    # lstat (O_NOFOLLOW refused it): its entries are left out.
                    log.warning("archive of %s: %s; its contents left out", obj.path,
                                e.strerror)
                    continue
                work.append(d)
                for child in sorted(os.listdir(d.fd), reverse=True):
                    cpath = d.child_path(child)
                    work.append((Located(d, child, cpath, self._view.mounts.get(cpath)),
                                 f"{name.rstrip('/')}/{child}"))
        finally:
            # Stopped early (client gone, error): the open directories are exactly
            # those whose markers are still on the stack.
            for item in work:
                if isinstance(item, Dir):
                    item.close()

    @staticmethod
    def _lstat(obj: Located) -> os.stat_result | None:
        try:
            return obj.lstat()
        except FileNotFoundError:
            return None  # removed while we walked (a running container)

    def entry(self, obj: Located, name: str, st: os.stat_result) -> Iterator[bytes]:
        info = tarfile.TarInfo(name)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = st.st_uid, st.st_gid
        info.mtime = int(st.st_mtime)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            info.type = tarfile.DIRTYPE
        elif stat.S_ISLNK(mode):
            info.type = tarfile.SYMTYPE
            info.linkname = obj.readlink()
        elif stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            first = self._inodes.get(key) if st.st_nlink > 1 else None
            if first is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = first
            else:
                if st.st_nlink > 1:
                    self._inodes[key] = name
                info.type = tarfile.REGTYPE
                info.size = st.st_size
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif stat.S_ISFIFO(mode):
            info.type = tarfile.FIFOTYPE
        else:
            log.debug("archive of %s: socket skipped (tar cannot hold it)", obj.path)
            return
        header = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        yield from self._buffer(header)
        if info.type == tarfile.REGTYPE and info.size:
            yield self._flush()
            yield from self._file_data(obj, info.size)

    def _file_data(self, obj: Located, size: int) -> Iterator[bytes]:
        """Exactly ``size`` bytes (the header is out): a file that changed size meanwhile
        is cut or padded with zeros, as the header can no longer be taken back."""
        left = size
        try:
            fd = obj.open(os.O_RDONLY)
        except OSError as e:
            log.warning("archive of %s: unreadable (%s); zeros sent", obj.path, e.strerror)
            fd = -1
        try:
            while left > 0 and fd >= 0:
                chunk = os.read(fd, min(_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk
        finally:
            if fd >= 0:
                os.close(fd)
        if left:
            log.warning("archive of %s: shrank while read; padded", obj.path)
        pad = left + (-size) % _BLOCK
        while pad:
            n = min(pad, _CHUNK)
            yield bytes(n)
            pad -= n

    def end(self) -> Iterator[bytes]:
        self._pending.append(bytes(2 * _BLOCK))
        yield self._flush()

