"""Helpers for the seccomp and capability tests.

Docker's profile as an OCI object, a BPF interpreter, and running a function in
a forked child (filters and capability changes must not touch the test process).
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import struct
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

DOCKER_PROFILE = Path("/work/shared/specs/seccomp-default-profile.json")
for _parent in Path(__file__).resolve().parents:
    if (_parent / "shared/specs/seccomp-default-profile.json").exists():
        DOCKER_PROFILE = _parent / "shared/specs/seccomp-default-profile.json"
        break

# Docker's default capability set (what `docker run` grants without --cap-add).
DOCKER_DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
# Docker's profile names architectures the Go way.
_GO_ARCH = {"SCMP_ARCH_X86_64": "amd64", "SCMP_ARCH_AARCH64": "arm64"}

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_AARCH64 = 0xC00000B7
AUDIT_ARCH_ARM = 0x40000028

RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_NOTIFY = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000


def docker_profile(native: str = "SCMP_ARCH_X86_64",
                   caps: tuple[str, ...] = DOCKER_DEFAULT_CAPS) -> dict[str, Any]:
    """Docker's default profile turned into the OCI object, as dockerd does for a container.

    Entries are kept when every capability in ``includes.caps`` is granted, the
    architecture is in ``includes.arches`` (if given), and neither
    ``excludes`` list matches.
    """
    raw = json.loads(DOCKER_PROFILE.read_text())
    arch = _GO_ARCH[native]
    archs: list[str] = []
    for entry in raw["archMap"]:
        if entry["architecture"] == native:
            archs = [native, *(entry.get("subArchitectures") or [])]
    syscalls = []
    for call in raw["syscalls"]:
        inc, exc = call.get("includes") or {}, call.get("excludes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if any(c not in caps for c in inc.get("caps") or []):
            continue
        if arch in (exc.get("arches") or []) or any(c in caps for c in exc.get("caps") or []):
            continue
        syscalls.append({k: v for k, v in call.items()
                         if k in ("names", "action", "errnoRet", "args")})
    return {"defaultAction": raw["defaultAction"], "defaultErrnoRet": raw["defaultErrnoRet"],
            "architectures": archs, "syscalls": syscalls}


def run_filter(program: bytes, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """Run a classic-BPF seccomp program on one syscall, as the kernel would."""
    full = (*args, *(0,) * (6 - len(args)))
    data = struct.pack("=IIQ6Q", nr & 0xFFFFFFFF, arch, 0, *full)
    insns = list(struct.iter_unpack("=HBBI", program))
    pc, acc = 0, 0
    for _ in range(len(insns)):  # forward jumps only: each instruction runs at most once
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # ld [k]
            assert k % 4 == 0 and k + 4 <= len(data), f"bad load offset {k}"
            acc = int.from_bytes(data[k:k + 4], sys.byteorder)
            pc += 1
        elif code == 0x54:  # and #k
            acc &= k
            pc += 1
        elif code == 0x05:  # ja
            pc += 1 + k
        elif code in (0x15, 0x25, 0x35):  # jeq, jgt, jge
            taken = {0x15: acc == k, 0x25: acc > k, 0x35: acc >= k}[code]
            pc += 1 + (jt if taken else jf)
        elif code == 0x06:  # ret #k
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x} at {pc}")
    raise AssertionError("program ran off its end")


def in_child(body: Callable[[], Any], timeout: float = 20.0) -> tuple[int, Any]:
    """Run ``body`` in a forked child; return its wait status and what it returned."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(rfd)
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGSYS would dump core
            out = json.dumps({"ok": body()})
        except BaseException:
            out = json.dumps({"error": traceback.format_exc()})
            code = 1
        try:
            os.write(wfd, out.encode())
        finally:
            os._exit(code)
    os.close(wfd)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([rfd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            data += chunk
        else:
            raise AssertionError("child timed out")
    finally:
        os.close(rfd)
        done, status = os.waitpid(pid, os.WNOHANG)
        if not done:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
    report = json.loads(data) if data else {}
    if "error" in report:
        raise AssertionError("child failed:\n" + report["error"])
    return status, report.get("ok")
