"""``docker commit``: a container's changes as a new layer, and the new image's config.

The layer is a tar of the changes in the image spec's whiteout form: each
added or modified path as an entry read from the snapshot's diff source, each
deleted one as ``.wh.<name>`` (an opaque directory thus becomes the directory
plus one whiteout per hidden entry, which the spec treats the same).  It is
gzipped straight into the content store while its diff_id is hashed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import posixpath
import tarfile
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol, cast

from cove.images.changes import apply_changes
from cove.images.treetar import add_path
from cove.oci.image import History, ImageConfig, canonical_json, parse_config
from cove.snapshots import Change, ChangeKind

WHITEOUT_PREFIX = ".wh."
GZIP_LEVEL = 6  # docker's default level: a commit should not wait on level 9

# The keys of a container config that belong in an image config's "config".
RUN_CONFIG_KEYS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                   "Labels", "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell")


class Writable(Protocol):
    def write(self, data: bytes) -> object: ...


class _Hashing:
    """Hashes what tar writes (the diff_id) and passes it to the gzip stream."""

    def __init__(self, out: Writable) -> None:
        self.digest = hashlib.sha256()
        self._out = out

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self._out.write(data)
        return len(data)


def write_diff(source: str, changes: Sequence[Change], out: Writable) -> str:
    """Write the gzipped layer of ``changes`` (read from ``source``) to ``out``; its diff_id."""
    gz = gzip.GzipFile(fileobj=cast(IO[bytes], out), mode="wb", mtime=0,
                       compresslevel=GZIP_LEVEL)
    hashing = _Hashing(gz)
    seen: dict[tuple[int, int], str] = {}
    now = int(time.time())
    with tarfile.open(fileobj=hashing, mode="w|",  # type: ignore[call-overload]
                      format=tarfile.PAX_FORMAT) as tar:
        for change in sorted(changes, key=lambda c: c.path.split("/")):
            rel = change.path.lstrip("/")
            if change.kind is ChangeKind.DELETED:
                head, base = posixpath.split(rel)
                info = tarfile.TarInfo(posixpath.join(head, WHITEOUT_PREFIX + base))
                info.mode, info.mtime = 0o644, now
                tar.addfile(info)
            else:
                add_path(tar, os.path.join(source, rel), rel, seen)
    gz.close()
    return "sha256:" + hashing.digest.hexdigest()


def commit_config(
    base: ImageConfig,
    *,
    diff_id: str | None,
    run_config: Mapping[str, Any] | None = None,
    changes: Sequence[str] = (),
    author: str | None = None,
    comment: str | None = None,
    created_by: str | None = None,
    created: str,
) -> ImageConfig:
    """The committed image's config: ``base`` with the run config replaced (docker's
    container config, when given), ``changes`` applied, and one more history entry
    and diff_id (an empty-layer entry when nothing changed)."""
    raw = base.to_dict()
    if run_config is not None:
        run = {k: run_config[k] for k in RUN_CONFIG_KEYS if run_config.get(k) is not None}
        raw["config"] = run
    if comment:
        raw["comment"] = comment  # docker's image JSON keeps it; inspect shows it
    else:
        raw.pop("comment", None)
    config = apply_changes(parse_config(canonical_json(raw)), list(changes))
    history = list(config.history)
    if not history and config.diff_ids:
        # Without history the layers would be misattributed: one entry for each.
        history = [History(created=config.created) for _ in config.diff_ids]
    history.append(History(created=created, created_by=created_by, author=author or None,
                           comment=comment or None, empty_layer=diff_id is None))
    diff_ids = config.diff_ids + ((diff_id,) if diff_id is not None else ())
    return dataclasses.replace(config, author=author or None, created=created,
                               history=tuple(history), diff_ids=diff_ids)


__all__ = ["RUN_CONFIG_KEYS", "commit_config", "write_diff"]
