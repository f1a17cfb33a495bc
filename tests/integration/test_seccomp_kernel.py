"""Compiled filters loaded into the real kernel, each in a forked child.

A child sets no_new_privs, installs the filter, makes syscalls and reports
what happened as JSON over a pipe; it always leaves with ``os._exit``.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import signal
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cove.errors import SyscallError
from cove.linux import libc as L
from cove.linux import seccomp as S
from cove.linux import syscall_table as T
from tests.seccomp_util import docker_profile, in_child

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's"),
]

NR = T.X86_64
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def raw(name: str, *args: int) -> int:
    """A raw syscall with 64-bit arguments: the result, or -errno."""
    ctypes.set_errno(0)
    res = int(_libc.syscall(ctypes.c_long(NR[name]), *(ctypes.c_ulonglong(a) for a in args)))
    return -ctypes.get_errno() if res == -1 else res


def load(config: dict[str, Any]) -> int | None:
    """In the child: compile, set no_new_privs, install."""
    prog = S.compile_seccomp(config)
    L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)
    return S.install(prog)


def test_errno_action_and_errno_ret(tmp_path: Path) -> None:
    def body() -> list[int]:
        load({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV}]})
        results = []
        for call, path in ((os.mkdir, tmp_path / "a"), (os.rmdir, tmp_path)):
            try:
                call(path)
                results.append(0)
            except OSError as exc:
                results.append(exc.errno)
        return results

    status, results = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert results == [errno.EPERM, errno.EXDEV]
    assert not (tmp_path / "a").exists() and tmp_path.exists()


def test_default_errno_with_an_allowlist() -> None:
    def body() -> list[int]:
        # What this child still needs: write the report, exit, and whatever
        # ctypes and the allocator do in between.
        allow = ["write", "exit_group", "exit", "brk", "mmap", "munmap", "mprotect",
                 "rt_sigprocmask", "rt_sigaction", "futex", "getppid", "close", "madvise"]
        load({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOTTY,
              "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]})
        return [raw("getuid"), raw("getppid"), raw("getpid")]

    status, (uid, ppid, pid) = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert uid == -errno.ENOTTY and pid == -errno.ENOTTY
    assert ppid == os.getpid()


@pytest.mark.parametrize(("op", "value", "value_two", "probes"), [
    ("SCMP_CMP_EQ", 0x1_0000_0005, 0, [5, 0x1_0000_0005, 0x2_0000_0005, 0x1_0000_0004]),
    ("SCMP_CMP_NE", 0x1_0000_0005, 0, [5, 0x1_0000_0005, 0x1_0000_0006]),
    ("SCMP_CMP_GT", 0x1_0000_0005, 0, [0xFFFF_FFFF, 0x1_0000_0005, 0x1_0000_0006,
                                       0x2_0000_0000, 2**64 - 1]),
    ("SCMP_CMP_GE", 0x1_0000_0005, 0, [0x1_0000_0004, 0x1_0000_0005, 0x1_FFFF_FFFF, 6]),
    ("SCMP_CMP_LT", 0x1_0000_0005, 0, [0, 0x1_0000_0004, 0x1_0000_0005, 0x9_0000_0000]),
    ("SCMP_CMP_LE", 0x1_0000_0005, 0, [0x1_0000_0005, 0x1_0000_0006, 0x0_FFFF_FFFF]),
    ("SCMP_CMP_MASKED_EQ", 0xF_0000_00FF, 0x3_0000_0010,
     [0x3_0000_0010, 0x3_1234_5610, 0x3_0000_0011, 0x2_0000_0010, 0x13_0000_0010]),
])
def test_argument_operators_in_the_kernel(op: str, value: int, value_two: int,
                                          probes: list[int]) -> None:
    # getppid ignores its arguments, but the filter sees all 64 bits of them.
    def body() -> list[int]:
        load({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
             "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op}]}]})
        return [raw("getppid", 0, probe) for probe in probes]

    _, results = in_child(body)
    def expected(a: int) -> bool:
        return {"SCMP_CMP_EQ": a == value, "SCMP_CMP_NE": a != value, "SCMP_CMP_GT": a > value,
                "SCMP_CMP_GE": a >= value, "SCMP_CMP_LT": a < value, "SCMP_CMP_LE": a <= value,
                "SCMP_CMP_MASKED_EQ": a & value == value_two}[op]

    want = [-errno.EACCES if expected(p) else os.getpid() for p in probes]
    assert results == want
    assert -errno.EACCES in results and os.getpid() in results  # both outcomes probed


def test_personality_blocked_only_for_one_value() -> None:
    def body() -> list[int]:
        load({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EINVAL,
             "args": [{"index": 0, "value": 0x0040000, "op": "SCMP_CMP_EQ"}]}]})
        # 0xffffffff only queries; ADDR_NO_RANDOMIZE (0x0040000) would change it.
        return [raw("personality", 0xFFFFFFFF), raw("personality", 0x0040000)]

    _, (query, change) = in_child(body)
    assert query >= 0
    assert change == -errno.EINVAL


def test_rules_or_and_args_and_in_the_kernel() -> None:
    def body() -> list[int]:
        load({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EDOM,
             "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_GE"},
                      {"index": 0, "value": 20, "op": "SCMP_CMP_LE"}]},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ERANGE,
             "args": [{"index": 0, "value": 99, "op": "SCMP_CMP_EQ"}]}]})
        return [raw("getppid", a) for a in (9, 10, 20, 21, 99)]

    _, results = in_child(body)
    ppid = os.getpid()
    assert results == [ppid, -errno.EDOM, -errno.EDOM, ppid, -errno.ERANGE]


def test_masked_eq_on_socket_domain() -> None:
    def body() -> list[int]:
        import socket

        load({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EAFNOSUPPORT,
             "args": [{"index": 0, "value": 0xFF, "valueTwo": socket.AF_INET6,
                       "op": "SCMP_CMP_MASKED_EQ"}]}]})
        out = []
        for family in (socket.AF_INET, socket.AF_INET6, socket.AF_UNIX):
            try:
                socket.socket(family, socket.SOCK_DGRAM).close()
                out.append(0)
            except OSError as exc:
                out.append(exc.errno)
        return out

    _, results = in_child(body)
    assert results == [0, errno.EAFNOSUPPORT, 0]


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL",
                                    "SCMP_ACT_KILL_THREAD"])
def test_kill_actions_end_the_process_with_sigsys(action: str) -> None:
    def body() -> str:
        load({"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"names": ["getppid"], "action": action}]})
        raw("getppid")
        return "survived"

    status, report = in_child(body)
    assert report is None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


def test_trap_sends_sigsys_to_a_handler() -> None:
    def body() -> list[int]:
        caught: list[int] = []

        def handler(signum: int, frame: object) -> None:
            caught.append(signum)

        signal.signal(signal.SIGSYS, handler)
        load({"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRAP"}]})
        raw("getppid")
        return caught

    status, caught = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert caught == [signal.SIGSYS]


def test_trace_without_a_tracer_fails_with_enosys() -> None:
    def body() -> int:
        load({"defaultAction": "SCMP_ACT_ALLOW",
              "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_TRACE"}]})
        return raw("getppid")

    _, result = in_child(body)
    assert result == -errno.ENOSYS


def test_log_and_allow_let_the_call_through() -> None:
    def body() -> list[int]:
        load({"defaultAction": "SCMP_ACT_LOG", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
              "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ALLOW"}]})
        return [raw("getppid"), raw("getpid")]

    _, (ppid, pid) = in_child(body)
    assert ppid == os.getpid() and pid > 0 and pid != ppid


def test_filter_is_really_there() -> None:
    def body() -> dict[str, str]:
        load({"defaultAction": "SCMP_ACT_ALLOW"})
        with open("/proc/self/status") as f:
            return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)

    _, status = in_child(body)
    assert status["Seccomp"].strip() == "2"
    assert status["NoNewPrivs"].strip() == "1"


def test_install_without_no_new_privs_or_cap_sys_admin_is_named() -> None:
    def body() -> str:
        prog = S.compile_seccomp({"defaultAction": "SCMP_ACT_ALLOW"})
        os.setresuid(65534, 65534, 65534)  # drops CAP_SYS_ADMIN; no_new_privs unset
        try:
            S.install(prog)
        except SyscallError as exc:
            return str(exc)
        return "installed"

    _, message = in_child(body)
    assert "needs no_new_privs or CAP_SYS_ADMIN" in message


SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp)


def test_notify_returns_a_working_listener_fd() -> None:
    def body() -> dict[str, Any]:
        fd = load({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent.sock",
                   "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY",
                                 "args": [{"index": 0, "value": 77, "op": "SCMP_CMP_EQ"}]}]})
        assert fd is not None
        link = os.readlink(f"/proc/self/fd/{fd}")
        worker = os.fork()  # inherits the filter and asks; we answer
        if worker == 0:
            os._exit(0 if raw("getppid", 77) == 4242 else 1)
        notif = bytearray(80)  # struct seccomp_notif, zeroed as the kernel demands
        fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, notif)
        notif_id, pid, _flags, nr = struct.unpack_from("=QIIi", notif)
        (arg0,) = struct.unpack_from("=Q", notif, 16 + 16)
        fcntl.ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, bytearray(struct.pack("=QqiI", notif_id,
                                                                        4242, 0, 0)))
        _, status = os.waitpid(worker, 0)
        return {"link": link, "pid_ok": pid == worker, "nr": nr, "arg0": arg0,
                "worker": os.waitstatus_to_exitcode(status), "unnotified": raw("getppid", 1)}

    status, out = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out["link"] == "anon_inode:seccomp notify"
    assert out["pid_ok"] and out["nr"] == NR["getppid"] and out["arg0"] == 77
    assert out["worker"] == 0  # the worker's getppid returned our 4242
    assert out["unnotified"] == os.getpid()


def test_docker_default_profile_runs_programs_and_denies_the_dangerous() -> None:
    def body() -> dict[str, Any]:
        load(docker_profile())
        out: dict[str, Any] = {}
        child = os.fork()
        if child == 0:
            try:
                os.execv("/bin/true", ["true"])
            finally:
                os._exit(127)
        out["true"] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1])
        r, w = os.pipe()
        child = os.fork()
        if child == 0:
            try:
                os.dup2(w, 1)
                os.execv("/bin/sh", ["sh", "-c", "echo hello; ls / > /dev/null"])
            finally:
                os._exit(127)
        os.close(w)
        out["sh"] = (os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), os.read(r, 100).decode())
        out["unshare"] = -_errno(lambda: L.unshare(L.CLONE_NEWUSER))
        out["mount"] = -_errno(lambda: L.mount("none", "/mnt", "tmpfs"))
        # clone with a namespace flag is refused by the MASKED_EQ rule.
        out["clone_newuts"] = raw("clone", L.CLONE_NEWUTS | signal.SIGCHLD, 0, 0, 0, 0)
        out["personality_query"] = raw("personality", 0xFFFFFFFF)
        out["personality_change"] = raw("personality", 0x0040000)
        out["clone3"] = raw("clone3", 0, 0)
        return out

    status, out = in_child(body)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out["true"] == 0
    assert out["sh"] == [0, "hello\n"]
    assert out["unshare"] == -errno.EPERM
    assert out["mount"] == -errno.EPERM
    assert out["clone_newuts"] == -errno.EPERM
    assert out["personality_query"] >= 0
    assert out["personality_change"] == -errno.EPERM
    assert out["clone3"] == -errno.ENOSYS


def _errno(call: Callable[[], object]) -> int:
    try:
        call()
    except SyscallError as exc:
        return exc.errno
    return 0
