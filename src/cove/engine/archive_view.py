"""A container's filesystem as a process inside it sees it, walked from the host.

`docker cp` must reach a container in any state (created, running, stopped). Its
root filesystem stays mounted on the host at ``c.rootfs`` for its whole life, but
its bind mounts (/etc/hosts, /etc/hostname, /etc/resolv.conf, volumes) live only in
the container's own mount namespace. Rather than entering that namespace (which
needs a running container and a forked helper in a threaded daemon), this module
replays the binds of the OCI spec: the walk goes through the rootfs with directory
file descriptors, and a path that is a bind's destination continues in the bind's
host source. So one code path serves every container state. Mounts that are not
binds (tmpfs such as /dev/shm, proc, sysfs) have no host path and are not seen:
cp reaches the rootfs directory under them, as Docker's cp does.

Every component is resolved by hand, the securejoin way (cove.runtime.securejoin):
a symlink's absolute target restarts at the container's root, ``..`` never climbs
above it, and each directory is opened with ``O_NOFOLLOW`` relative to its parent's
fd, so a symlink swapped in by a running container fails the open instead of
leading the walk out of the container.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import posixpath
import stat
from dataclasses import dataclass
from typing import Any

from cove.engine.archive_errors import NotADirectory, PathNotFound, ReadOnlyTarget
from cove.engine.archive_mount import open_detached_root
from cove.errors import InvalidArgument
from cove.runtime.securejoin import secure_join

log = logging.getLogger(__name__)

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_LINKS = 255
_ROOT_READONLY = "container rootfs is marked read-only"
_VOLUME_READONLY = "mounted volume is marked read-only"


@dataclass(frozen=True)
class BindMount:
    """A bind mount of the container: ``destination`` (clean, inside) ← ``source`` (host)."""

    destination: str
    source: str
    readonly: bool


@dataclass
class Dir:
    """An open directory of the container: its fd (owned), path, and filesystem."""

    fd: int
    path: str  # absolute and clean, as the container sees it
    mount: BindMount | None  # the bind holding its entries; None: the rootfs

    def child_path(self, name: str) -> str:
        return posixpath.join(self.path, name)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass
class Located:
    """One object of the container: ``name`` in ``parent``, its final link not followed.

    ``name`` is "" for the root itself. ``mount_point`` is set when the object is a
    bind's destination: then it *is* the bind's source on the host.
    """

    parent: Dir
    name: str
    path: str
    mount_point: BindMount | None

    def lstat(self) -> os.stat_result:
        if self.mount_point is not None:
            return os.stat(self.mount_point.source)
        if not self.name:
            return os.stat(self.parent.fd)
        return os.stat(self.name, dir_fd=self.parent.fd, follow_symlinks=False)

    def open(self, flags: int) -> int:
        """An fd of the object itself; a symlink here fails (ELOOP) rather than leads."""
        if self.mount_point is not None:
            # The source is the host's own path (trusted); the kernel followed it too.
            return os.open(self.mount_point.source, (flags & ~os.O_NOFOLLOW) | os.O_CLOEXEC)
        if not self.name:
            return os.open(".", flags | os.O_CLOEXEC, dir_fd=self.parent.fd)
        return os.open(self.name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.parent.fd)

    def open_dir(self) -> Dir:
        mount = self.mount_point if self.mount_point is not None else self.parent.mount
        return Dir(self.open(DIR_FLAGS), self.path, mount)

    def readlink(self) -> str:
        if self.mount_point is not None:
            return os.readlink(self.mount_point.source)
        return os.readlink(self.name, dir_fd=self.parent.fd)

    def close(self) -> None:
        self.parent.close()


def clean_path(path: str) -> str:
    """``path`` as an absolute clean container path (lexically, as Docker does first)."""
    if "\x00" in path:
        raise InvalidArgument(f"invalid path {path!r}: contains a NUL byte")
    # normpath keeps a leading "//" (POSIX leaves it implementation-defined): strip first.
    return posixpath.normpath("/" + path.lstrip("/")) if path.strip("/") else "/"


class ContainerView:
    """Symlink-safe access to one container's files, bind mounts included."""

    def __init__(self, rootfs: str, mounts: list[BindMount], *, readonly_rootfs: bool,
                 container: str) -> None:
        self.rootfs = rootfs
        self.readonly_rootfs = readonly_rootfs
        self.container = container  # as the client named it, for error messages
        self.mounts = {m.destination: m for m in mounts}
        # Through a detached clone of the mount, so that an open transfer never
        # keeps rm from unmounting the rootfs (archive_mount explains).
        self._tree_fd, self._root_fd = open_detached_root(rootfs)

    def close(self) -> None:
        for fd in (self._root_fd, self._tree_fd):
            if fd >= 0:
                os.close(fd)
        self._root_fd = self._tree_fd = -1

    def __enter__(self) -> ContainerView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- resolution

    def root(self) -> Dir:
        return Dir(os.dup(self._root_fd), "/", self.mounts.get("/"))

    def resolve_dir(self, path: str, *, create: bool = False, shown: str | None = None) -> Dir:
        """The directory ``path`` with every symlink followed inside the container.

        With ``create``, missing directories are made (0755, root-owned, as Docker's
        MkdirAll) where the filesystem is writable. ``shown`` is the path named in
        errors (the client's, not the resolved one).
        """
        shown = shown if shown is not None else path
        stack = [self.root()]
        pending = [p for p in path.split("/") if p and p != "."]
        pending.reverse()
        links = 0
        try:
            while pending:
                part = pending.pop()
                if part == "..":
                    if len(stack) > 1:
                        stack.pop().close()
                    continue
                cur = stack[-1]
                cpath = cur.child_path(part)
                bind = self.mounts.get(cpath)
                if bind is not None:
                    stack.append(self._open_bind(bind, shown))
                    continue
                try:
                    st = os.stat(part, dir_fd=cur.fd, follow_symlinks=False)
                except FileNotFoundError:
                    if not create:
                        raise PathNotFound(shown, self.container) from None
                    self.check_writable(cur)
                    try:
                        os.mkdir(part, 0o755, dir_fd=cur.fd)
                    except FileExistsError:
                        pass  # made meanwhile (a running container): look again
                    st = os.stat(part, dir_fd=cur.fd, follow_symlinks=False)
                if stat.S_ISLNK(st.st_mode):
                    links += 1
                    if links > _MAX_LINKS:
                        raise InvalidArgument(
                            f"too many levels of symbolic links in {shown}")
                    target = os.readlink(part, dir_fd=cur.fd)
                    if target.startswith("/"):
                        for d in stack[1:]:
                            d.close()
                        del stack[1:]
                    pending.extend(reversed([p for p in target.split("/") if p and p != "."]))
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    raise NotADirectory(f"{shown}: {cpath} is not a directory")
                try:
                    fd = os.open(part, DIR_FLAGS, dir_fd=cur.fd)
                except OSError as e:
                    raise self._os_error(e, shown) from None
                stack.append(Dir(fd, cpath, cur.mount))
            return stack.pop()
        except OSError as e:
            raise self._os_error(e, shown) from None
        finally:
            for d in stack:
                d.close()

    def locate(self, path: str, *, follow_final: bool, shown: str | None = None) -> Located:
        """The object at ``path``; its last component followed only with ``follow_final``."""
        shown = shown if shown is not None else path
        path = clean_path(path)
        links = 0
        while True:
            if path == "/":
                root = self.root()
                return Located(root, "", "/", None)
            parent_path, name = posixpath.split(path)
            parent = self.resolve_dir(parent_path, shown=shown)
            cpath = parent.child_path(name)
            found = Located(parent, name, cpath, self.mounts.get(cpath))
            try:
                st = found.lstat()
            except FileNotFoundError:
                parent.close()
                raise PathNotFound(shown, self.container) from None
            except OSError as e:
                parent.close()
                raise self._os_error(e, shown) from None
            if not follow_final or not stat.S_ISLNK(st.st_mode) or found.mount_point:
                return found
            links += 1
            if links > _MAX_LINKS:
                parent.close()
                raise InvalidArgument(f"too many levels of symbolic links in {shown}")
            target = found.readlink()
            parent.close()
            joined = target if target.startswith("/") else f"{parent.path}/{target}"
            head, _, last = joined.rpartition("/")
            if last in ("", ".", ".."):
                # The link names a directory ("dir/", ".."): resolve it whole; its
                # resolved path has no symlinks left, so cleaning it is safe.
                d = self.resolve_dir(joined, shown=shown)
                path = d.path
                follow_final = False
            else:
                d = self.resolve_dir(head or "/", shown=shown)
                path = d.child_path(last)
            d.close()

    def check_writable(self, d: Dir) -> None:
        """Refuse a write into ``d`` when its filesystem is read-only (HTTP 403)."""
        if d.mount is None:
            if self.readonly_rootfs:
                raise ReadOnlyTarget(_ROOT_READONLY)
        elif d.mount.readonly:
            raise ReadOnlyTarget(_VOLUME_READONLY)

    def _open_bind(self, bind: BindMount, shown: str) -> Dir:
        try:
            fd = os.open(bind.source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise PathNotFound(shown, self.container) from None
        except NotADirectoryError:
            raise NotADirectory(f"{shown}: {bind.destination} is not a directory") from None
        return Dir(fd, bind.destination, bind)

    def _os_error(self, e: OSError, shown: str) -> Exception:
        if e.errno == errno.ENOENT:
            return PathNotFound(shown, self.container)
        if e.errno == errno.ENOTDIR:
            return NotADirectory(f"{shown}: not a directory")
        if e.errno == errno.ELOOP:
            # O_NOFOLLOW met a symlink that was a directory a moment before.
            return InvalidArgument(f"{shown}: changed while it was being resolved")
        if e.errno == errno.EROFS:
            return ReadOnlyTarget(f"{shown}: read-only file system")
        return e


# --------------------------------------------------------------------------- building


def spec_bind_mounts(bundle: str, rootfs: str) -> list[BindMount] | None:
    """The bind mounts of the container's OCI spec (<bundle>/config.json), or None.

    A destination is resolved inside the rootfs as the runtime does when it mounts
    (securejoin), so a bind over a symlinked path is found where it really is.
    """
    try:
        with open(os.path.join(bundle, "config.json"), "rb") as f:
            spec: Any = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("%s/config.json unreadable (%s): binds not visible to cp", bundle, e)
        return None
    out: list[BindMount] = []
    for m in spec.get("mounts") or []:
        if not isinstance(m, dict):
            continue
        options = [str(o) for o in m.get("options") or []]
        if m.get("type") != "bind" and "bind" not in options and "rbind" not in options:
            continue  # tmpfs, proc, sysfs...: not files the host can reach
        source, dest = m.get("source"), m.get("destination")
        if not isinstance(source, str) or not isinstance(dest, str) or not source.startswith("/"):
            continue
        real = secure_join(rootfs, clean_path(dest))
        inside = "/" + os.path.relpath(real, rootfs)
        out.append(BindMount(clean_path(inside), source, "ro" in options))
    return out
