"""A real OCI image of the busybox root filesystem, built offline and reproducibly.

The layer is a gzip tar of :func:`cove.busybox.build_rootfs` with sorted
entries, a fixed mtime and the building user mapped to root; gzip carries no
timestamp.  Building twice gives the same layer, config and manifest digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from cove.busybox import build_rootfs
from cove.content import ContentStore
from cove.images.treetar import write_tree
from cove.oci.image import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_LAYER_GZIP,
    MEDIA_TYPE_OCI_MANIFEST,
    Descriptor,
    History,
    ImageConfig,
    Manifest,
    host_platform,
)

# 2024-01-01T00:00:00Z: every entry's mtime and the config's created time.
EPOCH = 1_704_067_200
CREATED = "2024-01-01T00:00:00Z"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def layer_tar(rootfs: str) -> bytes:
    """The uncompressed, reproducible tar of ``rootfs``."""
    me = os.geteuid()
    my_group = os.getegid()

    def owner(uid: int, gid: int) -> tuple[int, int]:
        return (0 if uid == me else uid), (0 if gid == my_group else gid)

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        write_tree(rootfs, tar, mtime=EPOCH, owner=owner, xattrs=False)
    return raw.getvalue()


def build_busybox_image(
    store: ContentStore, *, tag_name: str = "busybox:latest"
) -> tuple[Descriptor, str]:
    """Put the busybox layer, config and manifest into ``store``.

    Returns the manifest descriptor (annotated with ``tag_name`` as its ref
    name, which is not part of the manifest bytes) and the config digest.
    """
    top = tempfile.mkdtemp(prefix="cove-busybox-image-")
    try:
        rootfs = build_rootfs(Path(top) / "rootfs")
        tar_bytes = layer_tar(str(rootfs))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    layer = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    platform = host_platform()
    config = ImageConfig(
        architecture=platform.architecture,
        os="linux",
        variant=platform.variant,
        diff_ids=(diff_id,),
        created=CREATED,
        env=(DEFAULT_PATH,),
        cmd=("sh",),
        history=(History(created=CREATED, created_by="cove.images.busybox_image"),),
    )
    config_bytes = config.to_json()
    layer_desc = Descriptor.of(MEDIA_TYPE_OCI_LAYER_GZIP, layer)
    config_desc = Descriptor.of(MEDIA_TYPE_OCI_CONFIG, config_bytes)
    manifest_bytes = Manifest(config=config_desc, layers=(layer_desc,)).to_json()
    store.put(layer, layer_desc.digest)
    store.put(config_bytes, config_desc.digest)
    store.put(manifest_bytes)
    manifest = Descriptor.of(
        MEDIA_TYPE_OCI_MANIFEST,
        manifest_bytes,
        annotations={"org.opencontainers.image.ref.name": tag_name},
    )
    return manifest, config_desc.digest
