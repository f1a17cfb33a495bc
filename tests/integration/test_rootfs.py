"""Root filesystem: mounts of every type, /dev, masked and read-only paths, symlink escapes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Runtime, base_config


def test_readonly_root(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    cfg = base_config(["sh", "-c", "touch /x 2>&1 || echo refused; touch /tmp/y || true"])
    cfg["root"]["readonly"] = True
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "refused" in out and "Read-only file system" in out


def test_bind_mounts_and_tmpfs(runtime: Runtime, make_bundle: Callable[..., Path],
                               tmp_path: Path, cid: str) -> None:
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "f").write_text("from-host")
    hostfile = tmp_path / "hostfile"
    hostfile.write_text("single-file")
    script = ("cat /data/f; cat /etc/single; echo w > /data/new 2>/dev/null || echo ro-ok; "
              "grep ' /scratch ' /proc/mounts; grep ' /data ' /proc/mounts")
    cfg = base_config(["sh", "-c", script])
    cfg["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(host), "options": ["rbind", "ro"]},
        {"destination": "/etc/single", "type": "bind", "source": str(hostfile),
         "options": ["bind"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]},
    ]
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "from-host" in out and "single-file" in out and "ro-ok" in out
    scratch = next(line for line in out.splitlines() if " /scratch " in line)
    assert "tmpfs" in scratch and "nosuid" in scratch and "noexec" in scratch
    assert "size=1024k" in scratch and "mode=700" in scratch
    data = next(line for line in out.splitlines() if " /data " in line)
    assert " ro," in data or " ro " in data
    assert not (host / "new").exists()


def test_relative_bind_source_is_bundle_relative(runtime: Runtime,
                                                 make_bundle: Callable[..., Path],
                                                 cid: str) -> None:
    cfg = base_config(["cat", "/mnt/config.json"])
    cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": ".",
                          "options": ["bind", "ro"]})
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert '"ociVersion"' in out


def test_dev_setup(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    cfg = base_config(["sh", "-c", "ls -l /dev /dev/pts; readlink /dev/fd /dev/ptmx; "
                                   "head -c 4 /dev/zero | wc -c"])
    cfg["linux"]["devices"] = [{"path": "/dev/fuse-like", "type": "c", "major": 1, "minor": 3,
                                "fileMode": 0o640, "uid": 1000, "gid": 1000}]
    out = runtime.run_to_end(cid, make_bundle(cfg))
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        assert any(line.startswith("crw-rw-rw-") and line.endswith(" " + name)
                   for line in out.splitlines()), name
    fuse = next(line for line in out.splitlines() if line.endswith("fuse-like"))
    assert fuse.startswith("crw-r-----") and " user " in fuse
    assert "/proc/self/fd" in out and "pts/ptmx" in out
    assert "ptmx" in out
    assert out.strip().endswith("4")


def test_masked_and_readonly_paths(runtime: Runtime, make_bundle: Callable[..., Path],
                                   cid: str) -> None:
    masked_file = next(p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list")
                        if os.path.exists(p))
    script = (f"wc -c < {masked_file}; ls /sys/firmware | wc -l; "
              "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null || echo ro-sys")
    out = runtime.run_to_end(cid, make_bundle(base_config(["sh", "-c", script])))
    assert out.split() == ["0", "0", "ro-sys"]


def test_sysctl(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    cfg = base_config(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/msgmax"])
    cfg["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.msgmax": "12345"}
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert out.split() == ["1", "12345"]
    assert Path("/proc/sys/kernel/msgmax").read_text().strip() != "12345"


def test_symlink_cannot_send_mount_outside_rootfs(runtime: Runtime,
                                                  make_bundle: Callable[..., Path],
                                                  private_rootfs: Path, tmp_path: Path,
                                                  cid: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (private_rootfs / "evil").symlink_to("/../../../../../../" + str(outside).lstrip("/"))
    (private_rootfs / "evil2").symlink_to("../../../../../../../" + str(outside).lstrip("/"))
    cfg = base_config(["sh", "-c", "ls -d /evil/sub /evil2/deeper/x && echo inside"])
    cfg["mounts"] += [
        {"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"},
        {"destination": "/evil2/deeper/x", "type": "tmpfs", "source": "tmpfs"},
    ]
    out = runtime.run_to_end(cid, make_bundle(cfg, rootfs=private_rootfs))
    assert "inside" in out
    assert list(outside.iterdir()) == [], "a mount point was created outside the rootfs"
    # the directories were made inside the rootfs instead
    assert (private_rootfs / str(outside).lstrip("/") / "sub").is_dir()


def test_cgroup_mount(runtime: Runtime, make_bundle: Callable[..., Path], cid: str) -> None:
    cfg = base_config(["sh", "-c", "ls /sys/fs/cgroup; cat /proc/self/cgroup"])
    cfg["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                          "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]})
    cfg["linux"]["namespaces"].append({"type": "cgroup"})
    out = runtime.run_to_end(cid, make_bundle(cfg))
    assert "memory" in out or "cgroup.procs" in out


@pytest.mark.parametrize(("propagation", "tag"), [("private", None), ("shared", "shared:"),
                                                   ("unbindable", "unbindable")])
def test_rootfs_propagation(runtime: Runtime, make_bundle: Callable[..., Path], cid: str,
                            propagation: str, tag: str | None) -> None:
    cfg = base_config(["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"])
    cfg["linux"]["rootfsPropagation"] = propagation
    out = runtime.run_to_end(cid, make_bundle(cfg))
    root_line = out.strip().splitlines()[0]
    if tag is None:
        assert "shared:" not in root_line and "master:" not in root_line
        assert "unbindable" not in root_line
    else:
        assert tag in root_line, root_line
