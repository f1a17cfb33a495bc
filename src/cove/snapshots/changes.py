"""What a snapshot changed on top of its parent: docker's ``GET /containers/{id}/changes``.

Two ways to the same answer:

- overlay: walk the snapshot's own upper directory only.  A 0/0 character
  device is a deletion; an entry the layers below do not have is an addition;
  one they have is a modification when its metadata differs; an opaque
  directory hides every lower entry it does not hold again, each a deletion.
- native: walk the snapshot's full tree beside its parent's (docker's
  ``ChangesDirs``): present only in the new tree is an addition, only in the
  old one a deletion, in both with different metadata a modification.

Metadata differs as docker judges it: type and mode, owner, device number,
and for non-directories size and mtime (equal when the seconds agree and one
side has no nanoseconds: tar keeps whole seconds), plus the file capability.
A deleted or added directory is one change; its contents are not listed for a
deletion and are listed for an addition.  Every directory above a change is
itself reported modified (docker does so, so that commit keeps its metadata).
"""

from __future__ import annotations

import enum
import os
import stat
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from cove.snapshots.layers import find_in_lowers

_CAPABILITY = "security.capability"


class ChangeKind(enum.IntEnum):
    MODIFIED = 0
    ADDED = 1
    DELETED = 2


@dataclass(frozen=True, order=True)
class Change:
    path: str  # absolute inside the root filesystem: "/etc/hosts"
    kind: ChangeKind

    def to_dict(self) -> dict[str, object]:
        """The Engine API's FilesystemChange: ``{"Path": "/etc/x", "Kind": 0}``."""
        return {"Path": self.path, "Kind": int(self.kind)}


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _capability(path: str) -> bytes | None:
    try:
        return os.getxattr(path, _CAPABILITY, follow_symlinks=False)
    except OSError:
        return None


def _same_time(a: int, b: int) -> bool:
    sa, na = divmod(a, 1_000_000_000)
    sb, nb = divmod(b, 1_000_000_000)
    return sa == sb and (na in (nb, 0) or nb == 0)


def differs(old: os.stat_result, old_path: str, new: os.stat_result, new_path: str) -> bool:
    """Whether ``new`` is a modification of ``old`` (see the module's rules)."""
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != \
            (new.st_mode, new.st_uid, new.st_gid, new.st_rdev):
        return True
    if not stat.S_ISDIR(new.st_mode) and (
            old.st_size != new.st_size or not _same_time(old.st_mtime_ns, new.st_mtime_ns)):
        return True
    return _capability(old_path) != _capability(new_path)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def _sorted_names(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _visible_layers(lowers: Sequence[str], rel: str) -> list[str]:
    """The layers (newest first) whose directory ``rel`` shows in the overlay of ``lowers``."""
    layers = list(lowers)
    parts = [p for p in rel.split("/") if p]
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        kept: list[str] = []
        for layer in layers:
            path = os.path.join(layer, prefix)
            st = _lstat(path)
            if st is None:
                continue  # this layer has nothing there; the ones below may
            if not stat.S_ISDIR(st.st_mode):
                break  # a whiteout or a file hides every layer below
            kept.append(layer)
            if _is_opaque(path):
                break
        layers = kept
    return layers


def _lower_names(lowers: Sequence[str], rel: str) -> set[str]:
    """The names the overlay of ``lowers`` shows in directory ``rel``."""
    seen: set[str] = set()
    names: set[str] = set()
    for layer in _visible_layers(lowers, rel):
        path = os.path.join(layer, rel) if rel else layer
        for name in _sorted_names(path):
            if name in seen:
                continue
            seen.add(name)
            st = _lstat(os.path.join(path, name))
            if st is not None and not _is_whiteout(st):
                names.add(name)
    return names


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _added(root: str, rel: str) -> Iterator[Change]:
    """Everything under the added directory ``rel`` of ``root``."""
    for name in _sorted_names(os.path.join(root, rel)):
        child = _join(rel, name)
        yield Change("/" + child, ChangeKind.ADDED)
        st = _lstat(os.path.join(root, child))
        if st is not None and stat.S_ISDIR(st.st_mode):
            yield from _added(root, child)


def overlay_changes(upper: str, lowers: Sequence[str]) -> list[Change]:
    """The changes an overlay upper directory makes to ``lowers`` (newest first)."""
    out: list[Change] = []

    def walk(rel: str) -> None:
        here = os.path.join(upper, rel) if rel else upper
        names = _sorted_names(here)
        if rel and _is_opaque(here):
            for gone in sorted(_lower_names(lowers, rel) - set(names)):
                out.append(Change("/" + _join(rel, gone), ChangeKind.DELETED))
        for name in names:
            child = _join(rel, name)
            path = os.path.join(upper, child)
            st = os.lstat(path)
            if _is_whiteout(st):
                out.append(Change("/" + child, ChangeKind.DELETED))
                continue
            lower = find_in_lowers(lowers, child, directory=None)
            if lower is None:
                out.append(Change("/" + child, ChangeKind.ADDED))
                if stat.S_ISDIR(st.st_mode):
                    out.extend(_added(upper, child))
                continue
            lst = os.lstat(lower)
            if stat.S_ISDIR(lst.st_mode) != stat.S_ISDIR(st.st_mode):
                # a directory replaced a file (its contents are all new) or the reverse
                out.append(Change("/" + child, ChangeKind.MODIFIED))
                if stat.S_ISDIR(st.st_mode):
                    out.extend(_added(upper, child))
                continue
            if differs(lst, lower, st, path):
                out.append(Change("/" + child, ChangeKind.MODIFIED))
            if stat.S_ISDIR(st.st_mode):
                walk(child)

    walk("")
    return _finish(out)


def tree_changes(new: str, old: str | None) -> list[Change]:
    """The changes from the tree ``old`` (None: empty) to the tree ``new``."""
    if old is None:
        return _finish(list(_added(new, "")))
    out: list[Change] = []

    def walk(rel: str) -> None:
        new_dir = os.path.join(new, rel) if rel else new
        old_dir = os.path.join(old, rel) if rel else old
        new_names = _sorted_names(new_dir)
        old_names = set(_sorted_names(old_dir))
        for name in sorted(old_names - set(new_names)):
            out.append(Change("/" + _join(rel, name), ChangeKind.DELETED))
        for name in new_names:
            child = _join(rel, name)
            npath, opath = os.path.join(new, child), os.path.join(old, child)
            nst = os.lstat(npath)
            ost = _lstat(opath) if name in old_names else None
            if ost is None:
                out.append(Change("/" + child, ChangeKind.ADDED))
                if stat.S_ISDIR(nst.st_mode):
                    out.extend(_added(new, child))
                continue
            if differs(ost, opath, nst, npath):
                out.append(Change("/" + child, ChangeKind.MODIFIED))
            if stat.S_ISDIR(nst.st_mode):
                if stat.S_ISDIR(ost.st_mode):
                    walk(child)
                else:
                    out.extend(_added(new, child))

    walk("")
    return _finish(out)


def _finish(changes: list[Change]) -> list[Change]:
    """Each directory above a change reported modified (unless added); sorted by path."""
    by_path = {c.path: c for c in changes}
    for change in changes:
        parent = os.path.dirname(change.path)
        while parent != "/" and parent not in by_path:
            by_path[parent] = Change(parent, ChangeKind.MODIFIED)
            parent = os.path.dirname(parent)
    return sorted(by_path.values(), key=lambda c: c.path.split("/"))


__all__ = ["Change", "ChangeKind", "differs", "overlay_changes", "tree_changes"]


def without_mount_points(changes: list[Change], mount_points: Collection[str]) -> list[Change]:
    """The changes minus the stubs a runtime made to mount over (Docker's init layer).

    A bind target such as /etc/hosts or /sbin/docker-init that the image lacked is
    created empty in the container's layer by the runtime; Docker keeps those in an
    init layer that diff and commit never show. Here they are dropped when they were
    added, and so are directories reported modified only because of them.
    """
    points = {p.rstrip("/") or "/" for p in mount_points}
    kept = [c for c in changes if not (c.kind == ChangeKind.ADDED and c.path in points)]
    dropped = {c.path for c in changes if c not in kept}
    if not dropped:
        return changes
    others = [c.path for c in kept]

    def only_for_stubs(directory: str) -> bool:
        prefix = directory.rstrip("/") + "/"
        below_stub = any(d.startswith(prefix) for d in dropped)
        below_other = any(o.startswith(prefix) for o in others if o != directory)
        return below_stub and not below_other

    return [c for c in kept if not (c.kind == ChangeKind.MODIFIED and only_for_stubs(c.path))]
