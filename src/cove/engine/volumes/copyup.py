"""Docker's copy-up: the first mount of an empty volume takes the image's content at
the mount point (files, ownership, modes, times, xattrs), unless ``nocopy``."""

from __future__ import annotations

import logging
import os
import subprocess

from cove.errors import FailedPrecondition
from cove.runtime.securejoin import secure_join

log = logging.getLogger("cove.engine.volumes.copyup")


def copy_image_content(rootfs: str, destination: str, data_dir: str) -> bool:
    """Copy ``rootfs``/``destination`` (symlinks resolved inside the rootfs) into an
    empty ``data_dir``; False when there was nothing to copy or it was not empty."""
    source = secure_join(rootfs, destination)
    if not os.path.isdir(source) or os.path.islink(source):
        return False
    if os.listdir(data_dir):
        return False
    # cp -a of "src/." onto the existing directory also gives it the source
    # directory's owner and mode, as Docker's copy does; --one-file-system keeps
    # a mount inside the image path out.
    done = subprocess.run(["cp", "-a", "--one-file-system", "--", source + "/.", data_dir],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FailedPrecondition(f"copying the image's {destination} into volume directory "
                                 f"{data_dir}: {done.stderr.strip()}")
    log.debug("copied %s of the image into %s", destination, data_dir)
    return True
