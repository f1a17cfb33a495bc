"""The snapshotter interface (containerd's Prepare/View/Commit/Mounts/Remove).

A snapshot is named by a key. ``prepare`` makes an *active* (writable) snapshot
on top of a committed parent, ``view`` a read-only one, ``commit`` turns an
active snapshot into a committed one under a new name; ``mounts`` says how to
mount a snapshot. A snapshot with children cannot be removed.

Metadata (name → id, kind, parent) lives in one JSON file under the root,
rewritten atomically (temp file, fsync, rename, fsync of the directory) under
an flock, so a crash leaves the old or the new state, never a mix.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from cove.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    SyscallError,
)
from cove.linux import libc

if TYPE_CHECKING:
    from cove.snapshots.changes import Change

_SCHEMA = 1

# mount(2) copies at most one page of option data: a longer lowerdir list is cut.
_MOUNT_DATA_MAX = 4095
_CLONE_FS = 0x00000200
_PATH_OPTIONS = ("lowerdir=", "upperdir=", "workdir=")


class Kind(enum.Enum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Mount:
    """One mount(2) call: ``type`` ("bind", "overlay"), ``source`` and ``options``."""

    type: str
    source: str
    options: tuple[str, ...] = ()

    def mount(self, target: str) -> None:
        ro = "ro" in self.options
        if self.type == "bind":
            flags = libc.MS_BIND | (libc.MS_REC if "rbind" in self.options else 0)
            libc.mount(self.source, target, None, flags)
            if ro:
                libc.mount(None, target, None,
                           libc.MS_REMOUNT | libc.MS_BIND | libc.MS_RDONLY)
            return
        data = ",".join(o for o in self.options if o not in ("ro", "rw"))
        flags = libc.MS_RDONLY if ro else 0
        if len(data.encode()) > _MOUNT_DATA_MAX and self.type == "overlay":
            _mount_relative(self, target, flags)
            return
        libc.mount(self.source, target, self.type, flags, data)

    @staticmethod
    def unmount(target: str) -> None:
        libc.umount(target, libc.UMOUNT_NOFOLLOW)


def _relative_options(options: tuple[str, ...]) -> tuple[str, str]:
    """(common directory, option data with the layer paths relative to it)."""
    paths: list[str] = []
    for opt in options:
        for prefix in _PATH_OPTIONS:
            if opt.startswith(prefix):
                paths.extend(opt[len(prefix):].split(":"))
    base = os.path.commonpath(paths)
    out = []
    for opt in options:
        if opt in ("ro", "rw"):
            continue
        text = opt
        for prefix in _PATH_OPTIONS:
            if opt.startswith(prefix):
                rel = [os.path.relpath(p, base) for p in opt[len(prefix):].split(":")]
                text = prefix + ":".join(rel)
        out.append(text)
    return base, ",".join(out)


def _mount_relative(m: Mount, target: str, flags: int) -> None:
    """An overlay mount whose layer list is too long for one page of options.

    Docker shortens the paths with symlinks (``l/<id>``) and mounts from a
    child that did chdir; containerd forks a child that does chdir too.  Here
    a short-lived thread unshares its filesystem context (CLONE_FS: its own
    cwd, the process's stays), changes into the layers' common directory and
    mounts with paths relative to it: each layer then costs a few bytes
    (``123/fs``), so the kernel's own limit of 500 layers is reached before
    the page is full.  No symlinks to keep in step, no fork of a threaded
    process.
    """
    base, data = _relative_options(m.options)
    if len(data.encode()) > _MOUNT_DATA_MAX:
        raise InvalidArgument(f"overlay mount on {target}: too many layers for one mount"
                              f" ({len(data)} bytes of options even with relative paths)")
    target = os.path.abspath(target)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            libc.unshare(_CLONE_FS)
            os.chdir(base)
            libc.mount(m.source, target, m.type, flags, data)
        except BaseException as exc:  # raised again in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="overlay-mount")
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


def mount_all(mounts: list[Mount], target: str) -> None:
    for m in mounts:
        m.mount(target)


def unmount_all(target: str) -> None:
    """Unmount everything stacked on ``target``."""
    while True:
        try:
            Mount.unmount(target)
        except SyscallError as exc:
            if exc.errno == errno.EINVAL:  # nothing (left) mounted there
                return
            raise


@contextlib.contextmanager
def mounted(mounts: list[Mount], target: str) -> Iterator[str]:
    """Mount ``mounts`` on ``target`` for the body; always unmounted after."""
    mount_all(mounts, target)
    try:
        yield target
    finally:
        unmount_all(target)


@dataclass(frozen=True)
class Info:
    name: str
    kind: Kind
    parent: str | None
    created: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Usage:
    size: int  # bytes on disk (hard links counted once)
    inodes: int


class Snapshotter(Protocol):
    root: str

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]: ...
    def view(self, key: str, parent: str | None = None) -> list[Mount]: ...
    def commit(self, name: str, key: str) -> None: ...
    def mounts(self, key: str) -> list[Mount]: ...
    def remove(self, key: str) -> None: ...
    def stat(self, key: str) -> Info: ...
    def walk(self) -> Iterator[Info]: ...
    def usage(self, key: str) -> Usage: ...
    def changes(self, key: str) -> list[Change]:
        """What snapshot ``key`` changes on top of its parent (docker's container diff)."""
        ...
    def diff_source(self, key: str) -> str:
        """The directory where each added or modified path of :meth:`changes` is read."""
        ...


def tree_usage(path: str) -> Usage:
    size = inodes = 0
    seen: set[tuple[int, int]] = set()
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(top, name))
            if st.st_nlink > 1:
                ident = (st.st_dev, st.st_ino)
                if ident in seen:
                    continue
                seen.add(ident)
            inodes += 1
            size += st.st_blocks * 512
    return Usage(size=size, inodes=inodes)


class MetaStore:
    """The snapshots' records, in ``<root>/metadata.json``; ids index ``<root>/snapshots``."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(os.path.join(self.root, "snapshots"), mode=0o700, exist_ok=True)
        self._file = os.path.join(self.root, "metadata.json")
        self._lock_path = os.path.join(self.root, "metadata.lock")

    def snapshot_dir(self, ident: str) -> str:
        return os.path.join(self.root, "snapshots", ident)

    @contextlib.contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The records for a read-modify-write; written back if the body returns."""
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            yield data
            after = json.dumps(data, sort_keys=True)
            if after != before:
                self._write_text(after)
        finally:
            os.close(fd)

    def read(self) -> dict[str, Any]:
        return self._read()

    def _read(self) -> dict[str, Any]:
        try:
            with open(self._file, encoding="utf-8") as fh:
                data: dict[str, Any] = json.load(fh)
        except FileNotFoundError:
            return {"schema": _SCHEMA, "next_id": 1, "snapshots": {}}
        if data.get("schema") != _SCHEMA:
            raise FailedPrecondition(f"{self._file}: unknown schema {data.get('schema')!r}")
        return data

    def _write_text(self, text: str) -> None:
        # One encode by the C encoder: json.dump to a file encodes in Python, chunk by
        # chunk, which dominated a snapshot removal once hundreds of records exist.
        tmp = f"{self._file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._file)
        dfd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def info_of(name: str, rec: dict[str, Any]) -> Info:
    return Info(name=name, kind=Kind(rec["kind"]), parent=rec.get("parent"),
                created=rec["created"], labels=dict(rec.get("labels", {})))


class StoreBase:
    """Bookkeeping shared by the implementations: records, parents, remove rules."""

    def __init__(self, root: str) -> None:
        self.meta = MetaStore(root)
        self.root = self.meta.root

    # ---- hooks for implementations
    def _create_dirs(self, path: str, kind: Kind, parent_path: str | None) -> None:
        raise NotImplementedError

    def _mounts(self, path: str, kind: Kind, chain: list[str]) -> list[Mount]:
        raise NotImplementedError

    def _commit_dirs(self, path: str) -> None:
        """Tidy an active snapshot's dirs when it is committed."""

    def _changes(self, fs: str, chain: list[str]) -> list[Change]:
        raise NotImplementedError

    # ---- common
    def _record(self, data: dict[str, Any], key: str) -> dict[str, Any]:
        rec: dict[str, Any] | None = data["snapshots"].get(key)
        if rec is None:
            raise NotFound(f"snapshot {key!r} does not exist")
        return rec

    def _chain(self, data: dict[str, Any], key: str | None) -> list[str]:
        """Dirs of ``key`` and its ancestors, newest first."""
        out: list[str] = []
        while key is not None:
            rec = self._record(data, key)
            out.append(self.meta.snapshot_dir(rec["id"]))
            key = rec.get("parent")
        return out

    def _new(self, key: str, parent: str | None, kind: Kind) -> list[Mount]:
        if not key:
            raise InvalidArgument("snapshot key must not be empty")
        with self.meta.locked() as data:
            if key in data["snapshots"]:
                raise AlreadyExists(f"snapshot {key!r} already exists")
            if parent is not None:
                prec = self._record(data, parent)
                if prec["kind"] != Kind.COMMITTED.value:
                    raise FailedPrecondition(f"parent {parent!r} of snapshot {key!r} is not"
                                             " committed")
            ident = str(data["next_id"])
            data["next_id"] += 1
            path = self.meta.snapshot_dir(ident)
            chain = self._chain(data, parent)
            os.mkdir(path, 0o700)
            try:
                self._create_dirs(path, kind, chain[0] if chain else None)
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
            data["snapshots"][key] = {"id": ident, "kind": kind.value, "parent": parent,
                                      "created": time.time()}
            return self._mounts(path, kind, chain)

    def prepare(self, key: str, parent: str | None = None) -> list[Mount]:
        return self._new(key, parent, Kind.ACTIVE)

    def view(self, key: str, parent: str | None = None) -> list[Mount]:
        return self._new(key, parent, Kind.VIEW)

    def mounts(self, key: str) -> list[Mount]:
        data = self.meta.read()
        rec = self._record(data, key)
        if rec["kind"] == Kind.COMMITTED.value:
            raise FailedPrecondition(f"snapshot {key!r} is committed; make a view to mount it")
        return self._mounts(self.meta.snapshot_dir(rec["id"]), Kind(rec["kind"]),
                            self._chain(data, rec.get("parent")))

    def commit(self, name: str, key: str) -> None:
        with self.meta.locked() as data:
            rec = self._record(data, key)
            if rec["kind"] != Kind.ACTIVE.value:
                raise FailedPrecondition(f"snapshot {key!r} is {rec['kind']}, not active")
            if name in data["snapshots"]:
                raise AlreadyExists(f"snapshot {name!r} already exists")
            self._commit_dirs(self.meta.snapshot_dir(rec["id"]))
            del data["snapshots"][key]
            rec["kind"] = Kind.COMMITTED.value
            data["snapshots"][name] = rec

    def remove(self, key: str) -> None:
        with self.meta.locked() as data:
            rec = self._record(data, key)
            children = sorted(k for k, r in data["snapshots"].items() if r.get("parent") == key)
            if children:
                raise FailedPrecondition(f"snapshot {key!r} has children: {', '.join(children)}")
            del data["snapshots"][key]
            path = self.meta.snapshot_dir(rec["id"])
        # the record is gone first: a crash leaves an orphan dir, never a dangling record
        shutil.rmtree(path, ignore_errors=True)

    def stat(self, key: str) -> Info:
        return info_of(key, self._record(self.meta.read(), key))

    def walk(self) -> Iterator[Info]:
        data = self.meta.read()
        for name in sorted(data["snapshots"]):
            yield info_of(name, data["snapshots"][name])

    def usage(self, key: str) -> Usage:
        rec = self._record(self.meta.read(), key)
        return tree_usage(os.path.join(self.meta.snapshot_dir(rec["id"]), "fs"))

    def changes(self, key: str) -> list[Change]:
        data = self.meta.read()
        rec = self._record(data, key)
        fs = os.path.join(self.meta.snapshot_dir(rec["id"]), "fs")
        return self._changes(fs, [os.path.join(p, "fs")
                                  for p in self._chain(data, rec.get("parent"))])

    def diff_source(self, key: str) -> str:
        rec = self._record(self.meta.read(), key)
        return os.path.join(self.meta.snapshot_dir(rec["id"]), "fs")
