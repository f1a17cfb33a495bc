"""Shared test helpers: a base OCI config and a driver for the cove-runtime CLI."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPECS = (REPO.parent / "shared" / "specs") if (REPO.parent / "shared").is_dir() else Path(
    os.environ.get("COVE_SPECS", "/work/shared/specs"))
RUNTIME_BIN = str(REPO / ".venv" / "bin" / "cove-runtime")

_BASE: dict[str, Any] = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0},
        "args": ["true"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"],
        "cwd": "/",
        "capabilities": {
            k: ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            for k in ("bounding", "effective", "permitted")
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True,
    },
    "root": {"path": "rootfs", "readonly": False},
    "hostname": "cove-test",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ],
    "linux": {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    },
}


def base_config(args: list[str] | None = None, **process: Any) -> dict[str, Any]:
    """A fresh copy of a runc-like default config; tests edit it before writing."""
    cfg = copy.deepcopy(_BASE)
    if args is not None:
        cfg["process"]["args"] = args
    cfg["process"].update(process)
    return cfg


def write_bundle(bundle: Path, rootfs: Path, config: dict[str, Any]) -> Path:
    """Write config.json into ``bundle`` whose root.path points at ``rootfs``."""
    bundle.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(config)
    cfg.setdefault("root", {})["path"] = str(rootfs)
    (bundle / "config.json").write_text(json.dumps(cfg, indent=2))
    return bundle


class Runtime:
    """Drives the cove-runtime CLI against one private --root; `close` deletes what is left.

    Commands that leave a container process behind (create, run -d, exec -d) must
    not have pipes as stdio (the container would hold them open), so their output
    goes to a file per container, read back with :meth:`output`.
    """

    def __init__(self, root: Path, workdir: Path, binary: str = RUNTIME_BIN) -> None:
        self.root = root
        self.workdir = workdir
        self.binary = binary

    def cmd(self, *args: str) -> list[str]:
        return [self.binary, "--root", str(self.root), *args]

    def run(self, *args: str, check: bool = True, timeout: float = 30,
            input: bytes | None = None, **kw: Any) -> subprocess.CompletedProcess[bytes]:
        if "stdout" not in kw and "stderr" not in kw:
            kw["capture_output"] = True
        if input is None:
            kw.setdefault("stdin", subprocess.DEVNULL)
        res = subprocess.run(self.cmd(*args), timeout=timeout, input=input, check=False, **kw)
        if check and res.returncode != 0:
            raise AssertionError(f"{args} exited {res.returncode}: "
                                 f"{(res.stderr or b'').decode(errors='replace')}")
        return res

    def out_path(self, cid: str) -> Path:
        return self.workdir / f"{cid}.out"

    def detached(self, *args: str, cid: str, check: bool = True,
                 **kw: Any) -> subprocess.CompletedProcess[bytes]:
        """Run a command whose container keeps our stdio: send it to the output file."""
        with open(self.out_path(cid), "ab") as out:
            res = subprocess.run(self.cmd(*args), stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=out, timeout=30, check=False, **kw)
        if check and res.returncode != 0:
            raise AssertionError(f"{args} exited {res.returncode}: {self.output(cid)}")
        return res

    def create(self, cid: str, bundle: Path, *extra: str, check: bool = True,
               **kw: Any) -> subprocess.CompletedProcess[bytes]:
        return self.detached("create", "--bundle", str(bundle), *extra, cid, cid=cid,
                             check=check, **kw)

    def output(self, cid: str) -> str:
        path = self.out_path(cid)
        return path.read_text(errors="replace") if path.exists() else ""

    def state(self, cid: str) -> dict[str, Any]:
        return json.loads(self.run("state", cid).stdout)  # type: ignore[no-any-return]

    def wait_stopped(self, cid: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            if st["status"] == "stopped" or time.monotonic() > deadline:
                return st
            time.sleep(0.02)

    def run_to_end(self, cid: str, bundle: Path) -> str:
        """create, start, wait for exit, delete; returns the container's output."""
        self.create(cid, bundle)
        self.run("start", cid)
        st = self.wait_stopped(cid)
        assert st["status"] == "stopped", st
        self.run("delete", cid)
        return self.output(cid)

    def close(self) -> None:
        if not self.root.exists():
            return
        for cid in os.listdir(self.root):
            self.run("delete", "--force", cid, check=False)
