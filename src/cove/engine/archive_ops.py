"""`docker cp`'s three daemon operations on a container: stat, archive, extract.

Path rules are Docker's (daemon/archive.go): the path is made absolute and cleaned,
keeping a trailing "/" or "/."; its directory part is resolved inside the container
with every symlink followed, and its last component is followed only when the path
ends in "/" or "/." (GET and HEAD). PUT resolves the whole path, last component
included, and it must be a directory. The archive's root entry is named after the
path's last component as the client wrote it ("." for "dir/.").
"""

from __future__ import annotations

import logging
import os
import posixpath
import stat
from collections.abc import Iterator

from cove.engine.archive_errors import NotADirectory, PathNotFound, RootfsUnavailable
from cove.engine.archive_extract import Extractor, Readable
from cove.engine.archive_read import TarStream
from cove.engine.archive_stat import PathStat, go_file_mode, rfc3339_nano
from cove.engine.archive_view import (
    BindMount,
    ContainerView,
    Located,
    clean_path,
    spec_bind_mounts,
)
from cove.engine.containers.model import Container
from cove.errors import InvalidArgument

log = logging.getLogger(__name__)


def open_view(c: Container, shown: str) -> ContainerView:
    """The view of ``c``'s files; ``shown`` is the container as the client named it."""
    if not c.rootfs or not os.path.ismount(c.rootfs):
        raise RootfsUnavailable(f"container {shown}: its root filesystem is not mounted")
    mounts = spec_bind_mounts(c.bundle, c.rootfs) if c.bundle else None
    if mounts is None:
        # No spec yet: the daemon's own files are bound over these paths at start.
        mounts = [BindMount(dest, src, False) for dest, src in (
            ("/etc/hostname", c.hostname_path), ("/etc/hosts", c.hosts_path),
            ("/etc/resolv.conf", c.resolv_conf_path)) if src]
    return ContainerView(c.rootfs, mounts,
                         readonly_rootfs=bool(c.host_config.get("ReadonlyRootfs")),
                         container=shown)


def _follows_last(path: str) -> bool:
    return path.endswith("/") or path.endswith("/.") or clean_path(path) == "/"


def _base_name(path: str) -> str:
    """Go's filepath.Base of the client's path with a trailing "/." kept as "."."""
    if path.endswith("/.") or path == ".":
        return "."
    cleaned = clean_path(path)
    return "/" if cleaned == "/" else posixpath.basename(cleaned)


def _check_path(path: str | None) -> str:
    if not path:
        raise InvalidArgument("path is required: the path of a file or directory "
                              "in the container")
    return path


def locate(view: ContainerView, path: str) -> Located:
    obj = view.locate(path, follow_final=_follows_last(path), shown=path)
    if path.endswith("/") or path.endswith("/."):
        # "file/" names a directory that is not there (ENOTDIR, as lstat says).
        try:
            is_dir = stat.S_ISDIR(obj.lstat().st_mode)
        except BaseException:
            obj.close()
            raise
        if not is_dir:
            obj.close()
            raise NotADirectory(f"{path}: not a directory")
    return obj


def stat_path(view: ContainerView, path: str) -> PathStat:
    path = _check_path(path)
    obj = locate(view, path)
    try:
        return _stat_of(view, obj, path)
    finally:
        obj.close()


def _stat_of(view: ContainerView, obj: Located, path: str) -> PathStat:
    st = obj.lstat()
    link_target = ""
    if stat.S_ISLNK(st.st_mode):
        link_target = _link_target(view, path)
    return PathStat(name=_base_name(path), size=st.st_size, mode=go_file_mode(st.st_mode),
                    mtime=rfc3339_nano(st.st_mtime_ns), link_target=link_target)


def _link_target(view: ContainerView, path: str) -> str:
    """Where a symlink leads in the container, fully resolved (Docker's linkTarget)."""
    try:
        target = view.locate(path, follow_final=True, shown=path)
    except PathNotFound:
        # Dangling: Docker still names where it points; keep the link's text.
        parent = view.locate(path, follow_final=False, shown=path)
        try:
            text = parent.readlink()
            base = posixpath.dirname(parent.path)
        finally:
            parent.close()
        return clean_path(text if text.startswith("/") else posixpath.join(base, text))
    target.close()
    return target.path


def archive_path(view: ContainerView, path: str) -> tuple[PathStat, Iterator[bytes]]:
    """The stat of ``path`` and its tar stream; the stream owns and closes the view."""
    path = _check_path(path)
    obj = locate(view, path)
    try:
        info = _stat_of(view, obj, path)
    except BaseException:
        obj.close()
        raise
    # Entries are "<base>/x" with the base as the client wrote it (Docker's rebase);
    # "dir/." gives "./x". The root gives "/x": the CLI, copying to a new name,
    # puts that name in front of the entries of "/" (and of no other base).
    name = _base_name(path)
    return info, TarStream(view, obj, "" if name == "/" else name)


def prepare_extract(view: ContainerView, path: str, *, no_overwrite_dir_non_dir: bool,
                    copy_uid_gid: bool) -> Extractor:
    """An extractor into directory ``path``, refused early when it cannot be written."""
    path = _check_path(path)
    try:
        dest = view.resolve_dir(clean_path(path), shown=path)
    except NotADirectory:
        raise NotADirectory("extraction point is not a directory") from None
    try:
        view.check_writable(dest)
    except BaseException:
        dest.close()
        raise
    return Extractor(view, dest, copy_uid_gid=copy_uid_gid,
                     no_overwrite_dir_non_dir=no_overwrite_dir_non_dir, shown=path)


def extract(extractor: Extractor, body: Readable) -> int:
    """Extract the tar in ``body``; the number of entries. Closes the extractor."""
    try:
        count = extractor.extract(body)
    finally:
        extractor.close()
    if extractor.skipped:
        log.warning("cp into %s:%s: %d entries skipped (device nodes or unknown types)",
                    extractor.view.container, extractor.shown, len(extractor.skipped))
    return count
