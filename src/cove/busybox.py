"""Build a minimal root filesystem from Debian's static busybox, offline.

The result is what tests, benchmarks and the quickstart run: a static
``/bin/busybox`` with one symlink per applet, the usual top-level directories,
and ``/etc/passwd``/``/etc/group`` with root, nobody and an unprivileged user.
Later layers wrap the same tree into an OCI image.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

from cove.errors import NotFound

log = logging.getLogger(__name__)

BUSYBOX_CANDIDATES: Final = ("/bin/busybox", "/usr/bin/busybox")
_DIRS: Final = ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "home/user", "var/run",
                "run", "usr/bin", "usr/sbin", "sbin")
_PASSWD: Final = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "user:x:1000:1000:user:/home/user:/bin/sh\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
_GROUP: Final = (
    "root:x:0:\n"
    "daemon:x:1:\n"
    "wheel:x:10:root\n"
    "user:x:1000:\n"
    "nogroup:x:65534:\n"
)


def find_busybox() -> Path:
    """Return a static busybox binary (Debian's ``busybox-static``)."""
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file() and not path.is_symlink():
            return path
    raise NotFound("static busybox not found: install the Debian package busybox-static")


def applets(busybox: Path) -> list[str]:
    out = subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True)
    return [name for name in out.stdout.split() if name and name != "busybox"]


def build_rootfs(dest: Path, busybox: Path | None = None) -> Path:
    """Create (or refresh) a busybox root filesystem at ``dest``; returns ``dest``."""
    busybox = busybox or find_busybox()
    dest.mkdir(parents=True, exist_ok=True)
    for name in _DIRS:
        (dest / name).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    os.chmod(dest / "root", 0o700)
    os.chown(dest / "home/user", 1000, 1000)
    target = dest / "bin/busybox"
    if target.is_symlink() or target.exists():
        target.unlink()
    shutil.copy2(busybox, target)
    os.chmod(target, 0o755)
    for name in applets(busybox):
        link = dest / "bin" / name
        if not link.is_symlink() and not link.exists():
            link.symlink_to("busybox")
    (dest / "etc/passwd").write_text(_PASSWD)
    (dest / "etc/group").write_text(_GROUP)
    (dest / "etc/hostname").write_text("cove\n")
    (dest / "etc/hosts").write_text("127.0.0.1\tlocalhost\n::1\tlocalhost\n")
    log.debug("busybox rootfs ready at %s", dest)
    return dest


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python -m cove.busybox DEST", file=sys.stderr)
        return 2
    print(build_rootfs(Path(sys.argv[1])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
