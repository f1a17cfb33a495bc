"""Volume records on disk: ``<root>/volumes/<name>/volume.json`` beside ``_data``.

A record is written atomically (temp file, fsync, rename, directory fsync) before
the client hears of the volume, so a daemon killed at any instant finds either no
volume or a whole one; a directory without a record is a create that never finished
and is removed at load.
"""

from __future__ import annotations

import json
import logging
import os
import shutil

from cove.engine.atomicfile import write_atomic
from cove.engine.volumes.local import is_mounted
from cove.engine.volumes.model import Volume
from cove.errors import FailedPrecondition

log = logging.getLogger("cove.engine.volumes.store")

RECORD = "volume.json"
DATA = "_data"


class VolumeStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "volumes")
        os.makedirs(self.root, mode=0o701, exist_ok=True)

    def dir_of(self, name: str) -> str:
        return os.path.join(self.root, name)

    def data_of(self, name: str) -> str:
        return os.path.join(self.root, name, DATA)

    def load(self) -> dict[str, Volume]:
        out: dict[str, Volume] = {}
        for name in sorted(os.listdir(self.root)):
            path = os.path.join(self.root, name, RECORD)
            try:
                with open(path, "rb") as f:
                    out[name] = Volume.from_record(json.loads(f.read()))
            except FileNotFoundError:
                if os.path.isdir(os.path.join(self.root, name)) and \
                        not is_mounted(self.data_of(name)):
                    log.warning("removing %s: a volume create that never finished",
                                self.dir_of(name))
                    shutil.rmtree(self.dir_of(name), ignore_errors=True)
            except (OSError, ValueError, TypeError) as e:
                log.error("skipping volume record %s: %s", path, e)
        return out

    def save(self, volume: Volume) -> None:
        os.makedirs(self.data_of(volume.name), mode=0o755, exist_ok=True)
        write_atomic(os.path.join(self.dir_of(volume.name), RECORD),
                      json.dumps(volume.to_record()).encode())

    def delete(self, name: str) -> None:
        # The record goes first: a crash halfway leaves a record-less directory,
        # which the next load clears, never a record whose data is half gone.
        if is_mounted(self.data_of(name)):
            # Never remove files through a mount: they would be the device's own.
            raise FailedPrecondition(f"remove {name}: {self.data_of(name)} is still mounted")
        try:
            os.unlink(os.path.join(self.dir_of(name), RECORD))
        except FileNotFoundError:
            pass
        shutil.rmtree(self.dir_of(name), ignore_errors=True)
