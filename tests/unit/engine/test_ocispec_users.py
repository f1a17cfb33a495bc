"""User resolution inside a fake, hostile rootfs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cove.engine.ocispec import resolve_user
from cove.engine.ocispec.users import read_rootfs_file
from cove.errors import InvalidArgument

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n"
          "app:x:1000:1001:App:/home/app:/bin/sh\n"
          "# a comment line\n"
          "broken line\n")
GROUP = ("root:x:0:\n"
         "wheel:x:10:root,app\n"
         "app:x:1001:\n"
         "audio:x:29:app\n"
         "staff:x:50:\n")


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    return root


@pytest.mark.parametrize(("user", "uid", "gid", "gids", "home"), [
    ("", 0, 0, (0, 10), "/root"),
    ("root", 0, 0, (0, 10), "/root"),
    ("app", 1000, 1001, (1001, 10, 29), "/home/app"),
    ("1000", 1000, 1001, (1001, 10, 29), "/home/app"),
    ("app:staff", 1000, 50, (50,), "/home/app"),
    ("app:77", 1000, 77, (77,), "/home/app"),
    ("4242", 4242, 0, (0,), "/"),
    ("4242:4343", 4242, 4343, (4343,), "/"),
    ("daemon", 1, 1, (1,), "/usr/sbin"),
])
def test_resolve(rootfs: Path, user: str, uid: int, gid: int, gids: tuple[int, ...],
                 home: str) -> None:
    r = resolve_user(str(rootfs), user)
    assert (r.uid, r.gid, r.additional_gids, r.home) == (uid, gid, gids, home)


def test_group_add(rootfs: Path) -> None:
    r = resolve_user(str(rootfs), "app", ["staff", "4000"])
    assert r.additional_gids == (1001, 10, 29, 50, 4000)


@pytest.mark.parametrize(("user", "group_add", "message"), [
    ("nobody", (), "unable to find user nobody: no matching entries in passwd file"),
    ("app:nogroup", (), "unable to find group nogroup: no matching entries in group file"),
    ("app", ("nogroup",), "unable to find group nogroup"),
    ("99999999999", (), "uids and gids must be in range 0-2147483647"),
    ("app:", (), "empty group"),
])
def test_errors(rootfs: Path, user: str, group_add: tuple[str, ...], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        resolve_user(str(rootfs), user, group_add)


def test_no_passwd_file_numeric_user_works(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    r = resolve_user(str(tmp_path / "empty"), "123:456")
    assert (r.uid, r.gid, r.additional_gids) == (123, 456, (456,))
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        resolve_user(str(tmp_path / "empty"), "app")


def test_absolute_symlink_to_host_file_stays_in_rootfs(tmp_path: Path) -> None:
    # /etc/passwd -> /etc/shadow must read the rootfs's /etc/shadow, never the host's.
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/shadow", root / "etc/passwd")
    (root / "etc/shadow").write_text("evil:x:4000:4000::/evil:/bin/sh\n")
    r = resolve_user(str(root), "evil")
    assert (r.uid, r.home) == (4000, "/evil")
    with pytest.raises(InvalidArgument, match="unable to find user root"):
        resolve_user(str(root), "root")


def test_symlink_to_missing_target_outside_is_no_file(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc/shadow", root / "etc/passwd")  # no /etc/shadow in the rootfs
    os.symlink("../../../../../../etc/gshadow", root / "etc/group")
    assert read_rootfs_file(str(root), "/etc/passwd") is None
    assert read_rootfs_file(str(root), "/etc/group") is None
    assert resolve_user(str(root), "0").uid == 0


def test_symlink_loop_refused(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.symlink("../../etc/passwd", root / "etc/passwd")
    with pytest.raises(InvalidArgument, match="symbolic links"):
        resolve_user(str(root), "app")


def test_etc_symlinked_to_host_root(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    root.mkdir()
    os.symlink("/", root / "etc")  # /etc -> / inside the rootfs: there is no /passwd
    assert read_rootfs_file(str(root), "/etc/passwd") is None


def test_not_a_regular_file(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc/passwd").mkdir(parents=True)
    with pytest.raises(InvalidArgument, match="not a regular file"):
        read_rootfs_file(str(root), "/etc/passwd")
    os.mkfifo(root / "etc/group")  # a FIFO would block a naive reader forever
    with pytest.raises(InvalidArgument, match="not a regular file"):
        read_rootfs_file(str(root), "/etc/group")


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_device_node_is_never_opened(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    os.mknod(root / "etc/passwd", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # /dev/zero
    with pytest.raises(InvalidArgument, match="not a regular file"):
        resolve_user(str(root), "app")


def test_oversized_file_refused(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    with open(root / "etc/passwd", "wb") as f:
        f.truncate(17 << 20)  # sparse: costs no disk
    with pytest.raises(InvalidArgument, match="larger than"):
        resolve_user(str(root), "app")
