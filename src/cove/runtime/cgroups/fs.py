"""The one place that touches cgroupfs files: reads, writes, mkdir and rmdir.

Every ``OSError`` leaves this module as a :class:`SyscallError` naming the path
(and, for writes, the value), so the managers above never decode a bare errno.
Imports are kept to builtins: this module is loaded on every ``cove-runtime``
call that asks about a container's cgroup.
"""

from __future__ import annotations

import errno as E
import os
import time

from cove.errors import SyscallError
from cove.lazylog import get_logger

log = get_logger(__name__)

# Set on every directory a Cove manager created, so that a later ``destroy`` (in
# another process) removes the parents it made and only those. cgroupfs keeps
# trusted.* xattrs in kernel memory for the life of the directory.
CREATED_XATTR = "trusted.cove.created"


def os_error(action: str, path: str, exc: OSError) -> SyscallError:
    err = exc.errno or 0
    reason = os.strerror(err) if err else str(exc)
    return SyscallError(f"{action} {path}: {reason}", err)


def write(path: str, value: str) -> None:
    """One ``write(2)`` of ``value``: cgroupfs parses each write as one command."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise os_error("open", path, exc) from exc
    try:
        os.write(fd, value.encode())
    except OSError as exc:
        err = exc.errno or 0
        raise SyscallError(f"write {value!r} to {path}: {os.strerror(err)}", err) from exc
    finally:
        os.close(fd)


def read(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode().strip()
    except OSError as exc:
        raise os_error("read", path, exc) from exc


def read_optional(path: str) -> str | None:
    """The file's content, or None when the file (or its cgroup) does not exist."""
    try:
        return read(path)
    except SyscallError as exc:
        if exc.errno == E.ENOENT:
            return None
        raise


def read_int(path: str) -> int:
    text = read(path)
    try:
        return int(text)
    except ValueError:
        raise SyscallError(f"read {path}: expected an integer, got {text!r}") from None


def read_keyed(path: str) -> dict[str, str]:
    """Parse flat keyed files such as cgroup.events or cpu.stat ("key value" lines)."""
    out: dict[str, str] = {}
    for line in read(path).splitlines():
        key, _, value = line.partition(" ")
        out[key] = value.strip()
    return out


def exists(path: str) -> bool:
    return os.path.exists(path)


def procs(cgroup_dir: str) -> list[int]:
    """Process ids listed in one cgroup directory (not its children)."""
    text = read_optional(os.path.join(cgroup_dir, "cgroup.procs"))
    return [int(x) for x in text.split()] if text else []


def procs_recursive(cgroup_dir: str) -> list[int]:
    pids: list[int] = []
    for d in subtree(cgroup_dir, bottom_up=False):
        pids.extend(procs(d))
    return pids


def subtree(top: str, *, bottom_up: bool) -> list[str]:
    """``top`` and every cgroup below it; a missing ``top`` gives an empty list."""
    dirs: list[str] = []

    def walk(d: str) -> None:
        try:
            entries = list(os.scandir(d))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise os_error("list", d, exc) from exc
        if not bottom_up:
            dirs.append(d)
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                walk(e.path)
        if bottom_up:
            dirs.append(d)

    walk(top)
    return dirs


def _mark_created(path: str) -> None:
    try:
        os.setxattr(path, CREATED_XATTR, b"1")
    except OSError as exc:
        # Without the mark the directory is simply never removed as a parent.
        log.debug("cannot mark %s as created by cove: %s", path, exc)


def created_by_cove(path: str) -> bool:
    try:
        return os.getxattr(path, CREATED_XATTR) == b"1"
    except OSError:
        return False


def make_dirs(base: str, leaf: str, attempts: int = 20) -> list[str]:
    """Create ``leaf`` and its missing parents below ``base``; return the ones made.

    A concurrent ``destroy`` of a sibling container may remove a shared empty
    parent between our mkdirs (we then see ENOENT), so the walk is retried.
    """
    rel = os.path.relpath(leaf, base)
    parts = [] if rel == "." else rel.split(os.sep)
    for attempt in range(attempts):
        made: list[str] = []
        path = base
        try:
            for part in parts:
                path = os.path.join(path, part)
                try:
                    os.mkdir(path, 0o755)
                except FileExistsError:
                    continue
                _mark_created(path)
                made.append(path)
            return made
        except FileNotFoundError:
            if attempt + 1 == attempts:
                raise SyscallError(f"mkdir {path}: a parent keeps disappearing", E.ENOENT) from None
            time.sleep(0.001)
        except OSError as exc:
            raise os_error("mkdir", path, exc) from exc
    return []


def rmdir_retry(path: str, deadline: float) -> bool:
    """rmdir, retrying EBUSY until ``deadline`` (processes still exiting).

    Returns False if the directory was already gone.
    """
    delay = 0.001
    while True:
        try:
            os.rmdir(path)
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno != E.EBUSY or time.monotonic() >= deadline:
                raise os_error("rmdir", path, exc) from exc
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def remove_tree(top: str, timeout: float) -> None:
    """Remove ``top`` and every cgroup below it, deepest first."""
    deadline = time.monotonic() + timeout
    for d in subtree(top, bottom_up=True):
        rmdir_retry(d, deadline)


def remove_created_parents(base: str, leaf: str) -> None:
    """Remove the now-empty parents of ``leaf`` (up to ``base``) that cove created.

    Stops at the first parent that is not ours or still in use (another
    container below it makes rmdir fail with EBUSY or ENOTEMPTY).
    """
    parent = os.path.dirname(leaf)
    while parent != base and parent.startswith(base + os.sep):
        if os.path.isdir(parent):
            if not created_by_cove(parent):
                return
            try:
                os.rmdir(parent)
            except OSError as exc:
                if exc.errno in (E.EBUSY, E.ENOTEMPTY, E.EEXIST):
                    return
                if exc.errno != E.ENOENT:
                    raise os_error("rmdir", parent, exc) from exc
        parent = os.path.dirname(parent)
