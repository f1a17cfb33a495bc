"""The seccomp compiler: validation messages, and the BPF it writes, run in an interpreter."""

from __future__ import annotations

import errno
import json
import random
import struct
from typing import Any

import pytest

from cove.errors import InvalidArgument, Unsupported
from cove.linux import seccomp as S
from cove.linux import syscall_table as T
from tests.seccomp_util import (
    AUDIT_ARCH_AARCH64,
    AUDIT_ARCH_ARM,
    AUDIT_ARCH_I386,
    AUDIT_ARCH_X86_64,
    DOCKER_PROFILE,
    RET_ALLOW,
    RET_ERRNO,
    RET_KILL_PROCESS,
    RET_KILL_THREAD,
    RET_LOG,
    RET_NOTIFY,
    RET_TRACE,
    RET_TRAP,
    docker_profile,
    run_filter,
)

pytestmark = pytest.mark.timeout(60)

X32_BIT = 0x40000000
NR = T.X86_64


def compile_x86(config: dict[str, Any]) -> S.SeccompProgram:
    return S._compile(config, "linux.seccomp", "x86_64")


def verdict(prog: S.SeccompProgram, name: str, *args: int,
            arch: int = AUDIT_ARCH_X86_64, table: dict[str, int] = NR) -> int:
    return run_filter(prog.program, arch, table[name], args)


def opcodes(prog: S.SeccompProgram) -> list[int]:
    return [code for code, _, _, _ in struct.iter_unpack("=HBBI", prog.program)]


# ------------------------------------------------------------------ validation

ALLOW = {"defaultAction": "SCMP_ACT_ALLOW"}


@pytest.mark.parametrize(("config", "message"), [
    ([], "linux.seccomp: must be an object, not list"),
    ({}, "linux.seccomp.defaultAction: required"),
    ({"defaultAction": "X"}, 'linux.seccomp.defaultAction: unknown action "X"'),
    ({"defaultAction": 3}, "linux.seccomp.defaultAction: unknown action 3"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/s"},
     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1},
     "linux.seccomp.defaultErrnoRet: SCMP_ACT_ALLOW takes no errno"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1},
     "linux.seccomp.defaultErrnoRet: -1 is out of range (0 to 4095)"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 4096},
     "linux.seccomp.defaultErrnoRet: 4096 is out of range (0 to 4095)"),
    ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": True},
     "linux.seccomp.defaultErrnoRet: must be an unsigned integer, not True"),
    ({"defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 70000},
     "linux.seccomp.defaultErrnoRet: 70000 is out of range (0 to 65535)"),
    ({**ALLOW, "architectures": "SCMP_ARCH_X86"},
     "linux.seccomp.architectures: must be a list, not str"),
    ({**ALLOW, "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_VAX"]},
     'linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_VAX"'),
    ({**ALLOW, "flags": ["SECCOMP_FILTER_FLAG_NOPE"]},
     'linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_NOPE"'),
    ({**ALLOW, "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]},
     "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a SCMP_ACT_NOTIFY"),
    ({**ALLOW, "listenerPath": 5}, "linux.seccomp.listenerPath: must be a string, not int"),
    ({**ALLOW, "listenerMetadata": "m"},
     "linux.seccomp.listenerMetadata: set without listenerPath"),
    ({**ALLOW, "syscalls": {"names": ["read"]}},
     "linux.seccomp.syscalls: must be a list, not dict"),
    ({**ALLOW, "syscalls": ["read"]}, "linux.seccomp.syscalls[0]: must be an object, not str"),
    ({**ALLOW, "syscalls": [{"action": "SCMP_ACT_ERRNO"}]},
     "linux.seccomp.syscalls[0].names: must list at least one syscall"),
    ({**ALLOW, "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]},
     "linux.seccomp.syscalls[0].names: must list at least one syscall"),
    ({**ALLOW, "syscalls": [{"names": ["read", 7], "action": "SCMP_ACT_ERRNO"}]},
     "linux.seccomp.syscalls[0].names[1]: must be a string, not int"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["write"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["close"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["foo"], "action": "SCMP_ACT_ERRNO"}]},
     'linux.seccomp.syscalls[3].names[0]: unknown syscall "foo"'),
    ({**ALLOW, "syscalls": [{"names": ["read"]}]},
     "linux.seccomp.syscalls[0].action: required"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_EXPLODE"}]},
     'linux.seccomp.syscalls[0].action: unknown action "SCMP_ACT_EXPLODE"'),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]},
     "linux.seccomp.syscalls[0].errnoRet: SCMP_ACT_KILL takes no errno"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                             "errnoRet": "EPERM"}]},
     "linux.seccomp.syscalls[0].errnoRet: must be an unsigned integer, not 'EPERM'"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": {}}]},
     "linux.seccomp.syscalls[0].args: must be a list, not dict"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 0, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].value: required"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0 to 5)"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].value: 18446744073709551616 is out of range"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 0, "value": 1, "valueTwo": -2,
                                       "op": "SCMP_CMP_MASKED_EQ"}]}]},
     "linux.seccomp.syscalls[0].args[0].valueTwo: -2 is out of range"),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]},
     'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_LIKE"'),
    ({**ALLOW, "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]},
     "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used"),
    ({**ALLOW, "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ERRNO"},
                            {"names": ["write"], "action": "SCMP_ACT_KILL"}]},
     'linux.seccomp.syscalls[1].names[0] ("write", SCMP_ACT_KILL) conflicts with '
     'syscalls[0].names[1] ("write", SCMP_ACT_ERRNO)'),
    ({**ALLOW, "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2}]},
     "linux.seccomp.syscalls[1].names[0] (\"read\", SCMP_ACT_ERRNO) conflicts with"),
])
def test_invalid_config_names_the_field(config: Any, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        compile_x86(config)
    assert message in str(info.value)


def test_field_prefix_is_the_callers() -> None:
    with pytest.raises(InvalidArgument, match=r"^process\.seccomp\.defaultAction: required$"):
        S.compile_seccomp({}, field="process.seccomp")


def test_unknown_host_architecture_is_unsupported() -> None:
    with pytest.raises(Unsupported, match="riscv64"):
        S._compile(ALLOW, "linux.seccomp", "riscv64")


def test_name_known_only_on_other_architectures_is_skipped() -> None:
    # arm_fadvise64_64 (ARM), s390_runtime_instr (s390), spu_run (powerpc):
    # real syscalls, none of them on x86_64 -- skipped, as libseccomp does.
    prog = compile_x86({**ALLOW, "syscalls": [
        {"names": ["arm_fadvise64_64", "s390_runtime_instr", "spu_run", "mkdir"],
         "action": "SCMP_ACT_ERRNO"}]})
    assert verdict(prog, "mkdir") == RET_ERRNO | errno.EPERM
    assert verdict(prog, "rmdir") == RET_ALLOW


def test_unknown_keys_are_ignored() -> None:
    # The spec: unknown properties MUST be ignored (Docker leaves "comment" etc. in).
    prog = compile_x86({**ALLOW, "future": 1, "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "comment": "x", "includes": {}}]})
    assert verdict(prog, "mkdir") == RET_ERRNO | errno.EPERM


# -------------------------------------------------------------------- actions

@pytest.mark.parametrize(("action", "errno_ret", "expected"), [
    ("SCMP_ACT_KILL", None, RET_KILL_THREAD),
    ("SCMP_ACT_KILL_THREAD", None, RET_KILL_THREAD),
    ("SCMP_ACT_KILL_PROCESS", None, RET_KILL_PROCESS),
    ("SCMP_ACT_TRAP", None, RET_TRAP),
    ("SCMP_ACT_ERRNO", None, RET_ERRNO | errno.EPERM),
    ("SCMP_ACT_ERRNO", 0, RET_ERRNO),
    ("SCMP_ACT_ERRNO", errno.EXDEV, RET_ERRNO | errno.EXDEV),
    ("SCMP_ACT_TRACE", None, RET_TRACE | errno.EPERM),
    ("SCMP_ACT_TRACE", 0xBEEF, RET_TRACE | 0xBEEF),
    ("SCMP_ACT_LOG", None, RET_LOG),
    ("SCMP_ACT_NOTIFY", None, RET_NOTIFY),
])
def test_every_action_encodes(action: str, errno_ret: int | None, expected: int) -> None:
    rule: dict[str, Any] = {"names": ["getppid"], "action": action}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    prog = compile_x86({**ALLOW, "listenerPath": "/run/agent.sock", "syscalls": [rule]})
    assert verdict(prog, "getppid") == expected
    assert verdict(prog, "getpid") == RET_ALLOW
    assert prog.uses_notify == (action == "SCMP_ACT_NOTIFY")
    assert bool(prog.flags & S.SECCOMP_FILTER_FLAG_NEW_LISTENER) == prog.uses_notify


@pytest.mark.parametrize(("action", "errno_ret", "expected"), [
    ("SCMP_ACT_ERRNO", None, RET_ERRNO | errno.EPERM),
    ("SCMP_ACT_ERRNO", errno.ENOSYS, RET_ERRNO | errno.ENOSYS),
    ("SCMP_ACT_KILL_PROCESS", None, RET_KILL_PROCESS),
    ("SCMP_ACT_LOG", None, RET_LOG),
    ("SCMP_ACT_TRACE", 7, RET_TRACE | 7),
])
def test_default_action_encodes(action: str, errno_ret: int | None, expected: int) -> None:
    config: dict[str, Any] = {"defaultAction": action,
                              "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}
    if errno_ret is not None:
        config["defaultErrnoRet"] = errno_ret
    prog = compile_x86(config)
    assert verdict(prog, "read") == RET_ALLOW
    assert verdict(prog, "write") == expected
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, 0xFFFFFFFF) == expected
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, 4000) == expected  # unassigned


def test_rules_equal_to_the_default_leave_no_code() -> None:
    plain = compile_x86(ALLOW)
    redundant = compile_x86({**ALLOW, "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["close"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}]}]})
    assert redundant.program == plain.program


# ------------------------------------------------------------------ operators

def py_op(op: str, arg: int, value: int, value_two: int) -> bool:
    return {
        "SCMP_CMP_NE": arg != value, "SCMP_CMP_LT": arg < value, "SCMP_CMP_LE": arg <= value,
        "SCMP_CMP_EQ": arg == value, "SCMP_CMP_GE": arg >= value, "SCMP_CMP_GT": arg > value,
        "SCMP_CMP_MASKED_EQ": arg & value == value_two,
    }[op]


EDGE_VALUES = (0, 1, 5, 0x7FFFFFFF, 0xFFFFFFFF, 0x1_0000_0000, 0x1_0000_0005,
               0x5_0000_0000, 0x5_0000_0005, 0x5_FFFF_FFFF, 0xFFFF_FFFF_0000_0000,
               0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFF)


@pytest.mark.parametrize("op", S.supported_operators())
@pytest.mark.parametrize("value", EDGE_VALUES, ids=hex)
def test_every_operator_on_64_bit_values(op: str, value: int) -> None:
    two = 0x5_0000_0004 if op == "SCMP_CMP_MASKED_EQ" else 0
    prog = compile_x86({**ALLOW, "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 2, "value": value, "valueTwo": two, "op": op}]}]})
    probes = {*EDGE_VALUES, value - 1, value + 1, value ^ (1 << 32), value ^ 1, two}
    for arg in sorted(p & (2**64 - 1) for p in probes):
        want = RET_ERRNO | errno.EPERM if py_op(op, arg, value, two) else RET_ALLOW
        got = verdict(prog, "getppid", 0, 0, arg)
        assert got == want, f"{op} {value:#x}: arg {arg:#x} gave {got:#x}"


def test_masked_eq_like_dockers_clone_rule() -> None:
    ns_flags = 0x7E020000  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
    prog = compile_x86({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": ns_flags, "op": "SCMP_CMP_MASKED_EQ"}]}]})
    assert verdict(prog, "clone", 0x01200011) == RET_ALLOW  # fork()'s flags
    assert verdict(prog, "clone", 0x01200011 | 0x10000000) == RET_ERRNO | errno.EPERM
    assert verdict(prog, "clone", 0x1_0000_0000) == RET_ALLOW  # mask has no high bits


def test_masked_eq_that_can_never_match_is_folded_away() -> None:
    # Datum bits outside the mask: (arg & 0xff) can never be 0x100.
    never = compile_x86({**ALLOW, "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 0xFF, "valueTwo": 0x100, "op": "SCMP_CMP_MASKED_EQ"}]}]})
    assert never.program == compile_x86(ALLOW).program


def test_args_within_a_rule_are_anded() -> None:
    prog = compile_x86({**ALLOW, "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 10, "op": "SCMP_CMP_GE"},
            {"index": 0, "value": 20, "op": "SCMP_CMP_LE"},
            {"index": 1, "value": 7, "op": "SCMP_CMP_EQ"}]}]})
    for a0 in (9, 10, 15, 20, 21):
        for a1 in (7, 8):
            want = RET_ERRNO | 1 if 10 <= a0 <= 20 and a1 == 7 else RET_ALLOW
            assert verdict(prog, "getppid", a0, a1) == want


def test_rules_for_one_syscall_are_ored_first_match_wins() -> None:
    prog = compile_x86({**ALLOW, "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 11,
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]},
        {"names": ["getppid", "getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 2, "op": "SCMP_CMP_LE"}]},
        {"names": ["getppid"], "action": "SCMP_ACT_TRAP"}]})
    assert verdict(prog, "getppid", 1) == RET_ERRNO | 11
    assert verdict(prog, "getppid", 0) == RET_ERRNO | 22
    assert verdict(prog, "getppid", 2) == RET_ERRNO | 22
    assert verdict(prog, "getppid", 3) == RET_TRAP  # unconditional rule, after the others
    assert verdict(prog, "getpid", 1) == RET_ERRNO | 22
    assert verdict(prog, "getpid", 3) == RET_ALLOW


def test_unconditional_rule_listed_first_still_leaves_specific_rules_first() -> None:
    prog = compile_x86({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}]}]})
    assert verdict(prog, "personality", 0xFFFFFFFF) == RET_ALLOW
    assert verdict(prog, "personality", 8) == RET_ERRNO | 13


# ------------------------------------------------------------- architectures

def test_native_architecture_is_always_filtered() -> None:
    prog = compile_x86({**ALLOW, "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert verdict(prog, "mkdir") == RET_ERRNO | 1
    # Unlisted ABIs (i386, x32) and foreign ones are killed, not let through.
    assert run_filter(prog.program, AUDIT_ARCH_I386, T.X86["mkdir"]) == RET_KILL_PROCESS
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, T.X32["mkdir"]) == RET_KILL_PROCESS
    assert run_filter(prog.program, AUDIT_ARCH_AARCH64, 0) == RET_KILL_PROCESS
    # -1 (a syscall a tracer skipped) is not an x32 call: it gets the default.
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, 0xFFFFFFFF) == RET_ALLOW


def test_i386_and_x32_use_their_own_numbers() -> None:
    prog = compile_x86({**ALLOW, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                   "SCMP_ARCH_X32", "SCMP_ARCH_MIPS"],
                        "syscalls": [{"names": ["mkdir", "socketcall"],
                                      "action": "SCMP_ACT_ERRNO"}]})
    mkdir32, mkdirx32 = T.X86["mkdir"], T.X32["mkdir"]
    assert mkdir32 != NR["mkdir"] and mkdirx32 == NR["mkdir"] | X32_BIT
    assert run_filter(prog.program, AUDIT_ARCH_I386, mkdir32) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_I386, NR["mkdir"]) == RET_ALLOW  # i386 symlink
    assert run_filter(prog.program, AUDIT_ARCH_I386, T.X86["socketcall"]) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, mkdirx32) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, X32_BIT | 512) == RET_ALLOW
    assert verdict(prog, "mkdir") == RET_ERRNO | 1


def test_aarch64_host_filters_arm_compat() -> None:
    config = {**ALLOW, "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
              "syscalls": [{"names": ["mkdirat", "cacheflush"], "action": "SCMP_ACT_ERRNO"}]}
    prog = S._compile(config, "linux.seccomp", "aarch64")
    assert run_filter(prog.program, AUDIT_ARCH_AARCH64, T.AARCH64["mkdirat"]) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_ARM, T.ARM["mkdirat"]) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_ARM, T.ARM["cacheflush"]) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, 0) == RET_KILL_PROCESS


# ------------------------------------------------------------------- flags

def test_flags() -> None:
    prog = compile_x86({**ALLOW, "flags": ["SECCOMP_FILTER_FLAG_LOG",
                                           "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]})
    assert prog.flags == S.SECCOMP_FILTER_FLAG_LOG | S.SECCOMP_FILTER_FLAG_SPEC_ALLOW
    assert not prog.uses_notify and prog.listener_path is None


def test_notify_adds_listener_flags() -> None:
    prog = compile_x86({**ALLOW, "listenerPath": "/run/agent.sock", "listenerMetadata": "m",
                        "flags": ["SECCOMP_FILTER_FLAG_TSYNC",
                                  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                        "syscalls": [{"names": ["mknod"], "action": "SCMP_ACT_NOTIFY"}]})
    assert prog.flags == (S.SECCOMP_FILTER_FLAG_TSYNC | S.SECCOMP_FILTER_FLAG_NEW_LISTENER
                          | S.SECCOMP_FILTER_FLAG_TSYNC_ESRCH
                          | S.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
    assert prog.uses_notify
    assert (prog.listener_path, prog.listener_metadata) == ("/run/agent.sock", "m")


def test_listener_path_without_notify_is_kept_but_unused() -> None:
    prog = compile_x86({**ALLOW, "listenerPath": "/run/agent.sock"})
    assert not prog.uses_notify and prog.flags == 0


def test_supported_lists() -> None:
    assert len(S.supported_actions()) == 9 and "SCMP_ACT_KILL_PROCESS" in S.supported_actions()
    assert S.supported_operators() == ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
                                       "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
                                       "SCMP_CMP_MASKED_EQ"]
    assert set(S.supported_archs()) == {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32",
                                        "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}
    assert "SECCOMP_FILTER_FLAG_TSYNC" in S.supported_flags()
    S.supported_actions().clear()  # callers get copies
    assert S.supported_actions()


# ---------------------------------------------------------- Docker's profile

def test_docker_profile_compiles_small_and_right() -> None:
    prog = S.compile_seccomp(docker_profile())
    assert 100 < prog.instructions < 600, prog.instructions
    assert opcodes(prog)[-1] == 0x06  # the kernel insists the last instruction is a ret
    eperm = RET_ERRNO | errno.EPERM
    for name in ("read", "write", "execve", "openat", "futex", "clone", "fchmodat2", "mseal"):
        assert verdict(prog, name) == RET_ALLOW, name
    for name in ("mount", "unshare", "setns", "kexec_load", "bpf", "swapon", "reboot"):
        assert verdict(prog, name) == eperm, name
    assert verdict(prog, "clone3") == RET_ERRNO | errno.ENOSYS
    assert verdict(prog, "clone", 0x01200011) == RET_ALLOW
    assert verdict(prog, "clone", 0x10000000) == eperm  # CLONE_NEWUSER
    assert verdict(prog, "personality", 0xFFFFFFFF) == RET_ALLOW
    assert verdict(prog, "personality", 0x0040000) == eperm
    assert run_filter(prog.program, AUDIT_ARCH_I386, T.X86["socketcall"]) == RET_ALLOW
    assert run_filter(prog.program, AUDIT_ARCH_I386, T.X86["mount"]) == eperm
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, T.X32["read"]) == RET_ALLOW
    assert run_filter(prog.program, AUDIT_ARCH_X86_64, T.X32["mount"]) == eperm


def test_docker_profile_every_listed_syscall_matches_the_profile() -> None:
    profile = docker_profile()
    prog = S.compile_seccomp(profile)
    for abi, arch, table in (("x86_64", AUDIT_ARCH_X86_64, T.X86_64),
                             ("i386", AUDIT_ARCH_I386, T.X86), ("x32", AUDIT_ARCH_X86_64, T.X32)):
        for entry in profile["syscalls"]:
            if entry.get("args"):
                continue
            want = RET_ALLOW if entry["action"] == "SCMP_ACT_ALLOW" else (
                RET_ERRNO | entry.get("errnoRet", errno.EPERM))
            for name in entry["names"]:
                if name in table:
                    assert run_filter(prog.program, arch, table[name]) == want, (abi, name)


def test_docker_profile_for_arm64_compiles() -> None:
    prog = S._compile(docker_profile("SCMP_ARCH_AARCH64"), "linux.seccomp", "aarch64")
    assert 100 < prog.instructions < 600
    assert run_filter(prog.program, AUDIT_ARCH_AARCH64, T.AARCH64["mount"]) == RET_ERRNO | 1
    assert run_filter(prog.program, AUDIT_ARCH_ARM, T.ARM["read"]) == RET_ALLOW


def test_docker_profile_unfiltered_names_its_one_conflict() -> None:
    # Docker's file as is (includes/excludes not applied, archMap ignored as an
    # unknown key): clone3 is both allowed (with CAP_SYS_ADMIN) and ENOSYS.
    raw = json.loads(DOCKER_PROFILE.read_text())
    with pytest.raises(InvalidArgument, match=r'"clone3", SCMP_ACT_ERRNO\) conflicts with '
                                              r'syscalls\[\d+\]\.names\[\d+\] \("clone3"'):
        S.compile_seccomp(raw)
    raw["syscalls"] = [e for e in raw["syscalls"] if e.get("errnoRet") != errno.ENOSYS]
    assert S.compile_seccomp(raw).instructions < 600


# ------------------------------------------- far jumps and a differential test

def test_far_jumps_get_trampolines() -> None:
    # One conditional block per syscall puts most blocks more than 255
    # instructions away from the search that jumps to them.
    names = [n for n in NR if not n.startswith("_")][:200]
    prog = compile_x86({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": [name], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 1, "value": 1000 + i, "op": "SCMP_CMP_EQ"}]}
        for i, name in enumerate(names)]})
    assert prog.instructions > 1000
    assert 0x05 in opcodes(prog)  # at least one ja trampoline
    for i, name in enumerate(names):
        assert verdict(prog, name, 0, 1000 + i) == RET_ALLOW, name
        assert verdict(prog, name, 0, 1001 + i) == RET_ERRNO | 1, name


def test_too_big_a_filter_is_refused() -> None:
    names = [n for n in NR if not n.startswith("_")][:300]
    rules = [{"names": [name], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": j, "value": 2**40 + i, "op": "SCMP_CMP_LT"} for j in range(3)]}
             for i, name in enumerate(names)]
    with pytest.raises(InvalidArgument, match="more than the kernel's limit of 4096"):
        compile_x86({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules})


def reference(config: dict[str, Any], name: str, args: tuple[int, ...]) -> int:
    """The documented semantics, directly: conditional rules in order, then the plain one."""
    def ret(entry: dict[str, Any], action_key: str, errno_key: str) -> int:
        base = {"SCMP_ACT_ALLOW": RET_ALLOW, "SCMP_ACT_ERRNO": RET_ERRNO,
                "SCMP_ACT_TRAP": RET_TRAP, "SCMP_ACT_LOG": RET_LOG}[entry[action_key]]
        return base | (entry.get(errno_key, 1) if base == RET_ERRNO else 0)

    plain = None
    for entry in config["syscalls"]:
        if name not in entry["names"]:
            continue
        conds = entry.get("args") or []
        if not conds:
            plain = plain if plain is not None else ret(entry, "action", "errnoRet")
        elif all(py_op(c["op"], args[c["index"]], c["value"], c.get("valueTwo", 0))
                 for c in conds):
            return ret(entry, "action", "errnoRet")
    return plain if plain is not None else ret(config, "defaultAction", "defaultErrnoRet")


@pytest.mark.parametrize("seed", range(12))
def test_random_profiles_agree_with_the_reference(seed: int) -> None:
    rng = random.Random(seed)
    names = rng.sample(sorted(n for n in NR if not n.startswith("_")), 40)
    interesting = [0, 1, 2, 0xFF, 0x1_0000_0000, 0x1_0000_0001, 2**64 - 1]
    actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_TRAP", "SCMP_ACT_LOG"]
    syscalls: list[dict[str, Any]] = []
    plain_for: dict[str, str] = {}
    for _ in range(60):
        entry: dict[str, Any] = {"names": rng.sample(names, rng.randint(1, 4)),
                                 "action": rng.choice(actions)}
        if entry["action"] == "SCMP_ACT_ERRNO":
            entry["errnoRet"] = rng.randint(0, 40)
        if rng.random() < 0.6:
            entry["args"] = [{"index": rng.randint(0, 2), "value": rng.choice(interesting),
                              "valueTwo": rng.choice(interesting) & 0xFF,
                              "op": rng.choice(S.supported_operators())}
                             for _ in range(rng.randint(1, 3))]
        else:  # keep unconditional actions consistent per name: conflicts are errors
            key = entry["action"] + str(entry.get("errnoRet"))
            entry["names"] = [n for n in entry["names"] if plain_for.setdefault(n, key) == key]
            if not entry["names"]:
                continue
        syscalls.append(entry)
    config = {"defaultAction": rng.choice(actions), "defaultErrnoRet": 5, "syscalls": syscalls}
    if config["defaultAction"] != "SCMP_ACT_ERRNO":
        del config["defaultErrnoRet"]
    prog = compile_x86(config)
    for name in names:
        for _ in range(25):
            args = tuple(rng.choice(interesting) for _ in range(3))
            assert verdict(prog, name, *args) == reference(config, name, args), (name, args)


@pytest.mark.parametrize("distance", [*range(0, 4), *range(248, 262), 600])
@pytest.mark.parametrize("as_labels", [True, False], ids=["labels", "rets"])
def test_assembler_reaches_targets_at_every_distance(distance: int, as_labels: bool) -> None:
    # Both targets sit `distance` unrelated instructions past the jump: around
    # 255 the 8-bit offsets stop reaching and trampolines (or ret copies) must.
    asm = S._Asm()
    far_t: Any = asm.goto(S._Ret(0xAAAA)) if as_labels else S._Ret(0xAAAA)
    far_f: Any = asm.goto(S._Ret(0xBBBB)) if as_labels else S._Ret(0xBBBB)
    if not as_labels:  # make the rets' only copies far away too
        asm.goto(far_t)
        asm.goto(far_f)
    for i in range(distance):
        asm.goto(S._Ret(i))
    jump = asm.jump(S.BPF_JEQ_K, 5, far_t, far_f)
    asm.stmt(S.BPF_LD_W_ABS, 0, jump)
    program = asm.assemble()
    assert run_filter(program, AUDIT_ARCH_X86_64, 5) == 0xAAAA
    assert run_filter(program, AUDIT_ARCH_X86_64, 6) == 0xBBBB
