"""Cove's default seccomp profile and ``seccomp=<JSON>`` profiles, compiled by Cove's own
compiler and run through a BPF interpreter on chosen syscalls."""

from __future__ import annotations

import errno
import json
from typing import Any

import pytest

from cove.engine.ocispec import DEFAULT_CAPABILITIES, custom_seccomp, default_seccomp
from cove.errors import InvalidArgument, Unsupported
from cove.linux import seccomp as S
from cove.linux import syscall_table as T
from cove.linux.capabilities import CAPABILITIES
from tests.seccomp_util import DOCKER_PROFILE, run_filter

X86_64 = S.AUDIT_ARCH_X86_64
I386 = S.AUDIT_ARCH_I386
ALLOW = S.SECCOMP_RET_ALLOW
CLONE_NEWUSER = 0x10000000
CLONE_THREAD_FLAGS = 0x3D0F00  # what pthread_create passes


def eperm(n: int = errno.EPERM) -> int:
    return S.SECCOMP_RET_ERRNO | n


def result(profile: dict[str, Any], name: str, *args: int, arch: int = X86_64) -> int:
    program = S._compile(profile, "linux.seccomp", "x86_64")
    table = T.X86_64 if arch == X86_64 else T.X86
    return run_filter(program.program, arch, table[name], args)


@pytest.fixture(scope="module")
def default() -> dict[str, Any]:
    return default_seccomp(DEFAULT_CAPABILITIES, "x86_64")


def test_shape(default: dict[str, Any]) -> None:
    assert default["defaultAction"] == "SCMP_ACT_ERRNO"
    assert default["defaultErrnoRet"] == errno.ENOSYS
    assert default["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    arm = default_seccomp(DEFAULT_CAPABILITIES, "aarch64")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    with pytest.raises(Unsupported):
        default_seccomp(DEFAULT_CAPABILITIES, "mips")


def test_compiles_for_every_cap_set() -> None:
    for caps in ([], list(DEFAULT_CAPABILITIES), ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE"]):
        for machine in ("x86_64", "aarch64"):
            program = S._compile(default_seccomp(caps, machine), "linux.seccomp", machine)
            assert 0 < program.instructions <= S.BPF_MAXINSNS


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("read", (), ALLOW),
    ("execve", (), ALLOW),
    ("chroot", (), ALLOW),  # CAP_SYS_CHROOT is a default capability
    ("mount", (), eperm()),
    ("umount2", (), eperm()),
    ("unshare", (), eperm()),
    ("setns", (), eperm()),
    ("ptrace", (), eperm()),
    ("init_module", (), eperm()),
    ("reboot", (), eperm()),
    ("clock_settime", (), eperm()),
    ("kexec_load", (), eperm()),
    ("keyctl", (), eperm()),
    ("io_uring_setup", (), eperm()),
    ("bpf", (), eperm()),
    ("clone", (CLONE_THREAD_FLAGS,), ALLOW),
    ("clone", (CLONE_NEWUSER,), eperm()),
    ("clone", (CLONE_THREAD_FLAGS | 0x20000,), eperm()),  # CLONE_NEWNS
    ("clone3", (), eperm(errno.ENOSYS)),
    ("personality", (0,), ALLOW),
    ("personality", (0xFFFFFFFF,), ALLOW),
    ("personality", (0x0040000,), eperm()),  # READ_IMPLIES_EXEC
    ("socket", (2,), ALLOW),  # AF_INET
    ("socket", (40,), eperm(errno.EAFNOSUPPORT)),  # AF_VSOCK
    ("socket", (38,), eperm(errno.EAFNOSUPPORT)),  # AF_ALG
    ("socket", (39,), ALLOW),
    ("socket", (41,), ALLOW),
    ("socket", (0xFFFFFFFF_00000028,), eperm(errno.EAFNOSUPPORT)),  # the kernel sees 40
    ("tuxcall", (), eperm(errno.ENOSYS)),  # named nowhere: "not implemented"
])
def test_default_decisions(default: dict[str, Any], name: str, args: tuple[int, ...],
                           expected: int) -> None:
    assert result(default, name, *args) == expected


def test_32bit_abi_is_filtered_too(default: dict[str, Any]) -> None:
    assert result(default, "socketcall", arch=I386) == ALLOW
    assert result(default, "mount", arch=I386) == eperm()


@pytest.mark.parametrize(("cap", "names"), [
    ("CAP_SYS_ADMIN", ["mount", "umount2", "unshare", "setns", "clone3"]),
    ("CAP_SYS_PTRACE", ["ptrace", "process_vm_readv", "process_vm_writev"]),
    ("CAP_SYS_MODULE", ["init_module", "finit_module", "delete_module"]),
    ("CAP_SYS_BOOT", ["reboot"]),
    ("CAP_SYS_TIME", ["settimeofday", "clock_settime"]),
    ("CAP_SYS_NICE", ["mbind", "set_mempolicy"]),
    ("CAP_SYS_RAWIO", ["iopl", "ioperm"]),
    ("CAP_BPF", ["bpf"]),
])
def test_capability_enables(cap: str, names: list[str]) -> None:
    profile = default_seccomp([*DEFAULT_CAPABILITIES, cap], "x86_64")
    for name in names:
        assert result(profile, name) == ALLOW, name


def test_sys_admin_lifts_clone_filter() -> None:
    profile = default_seccomp([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], "x86_64")
    assert result(profile, "clone", CLONE_NEWUSER) == ALLOW


def test_without_sys_chroot_no_chroot() -> None:
    caps = [c for c in DEFAULT_CAPABILITIES if c != "CAP_SYS_CHROOT"]
    assert result(default_seccomp(caps, "x86_64"), "chroot") == eperm()


def test_custom_oci_profile() -> None:
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                       "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    profile = custom_seccomp(text, DEFAULT_CAPABILITIES, "x86_64")
    assert result(profile, "mkdir") == eperm()
    assert result(profile, "mount") == ALLOW


def test_custom_docker_profile_uses_caps_and_arches() -> None:
    text = DOCKER_PROFILE.read_text()
    plain = custom_seccomp(text, DEFAULT_CAPABILITIES, "x86_64")
    assert plain["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert result(plain, "read") == ALLOW
    assert result(plain, "mount") == eperm()
    assert result(plain, "arch_prctl") == ALLOW
    admin = custom_seccomp(text, [*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], "x86_64")
    assert result(admin, "mount") == ALLOW


@pytest.mark.parametrize(("text", "message"), [
    ("not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ("{}", "no defaultAction"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["nosuch"], '
     '"action": "SCMP_ACT_ERRNO"}]}', 'unknown syscall "nosuch"'),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], '
     '"archMap": [{"architecture": "SCMP_ARCH_X86_64"}]}', "use either"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "read", "names": ["write"], '
     '"action": "SCMP_ACT_ALLOW"}]}', "use either 'name' or 'names'"),
])
def test_custom_profile_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        custom_seccomp(text, DEFAULT_CAPABILITIES, "x86_64")


def test_profile_data_is_consistent() -> None:
    # Each syscall has one place in the file; every name is known to Cove's tables (the
    # compiler refuses unknown names, and every name is compiled in some cap set above).
    from cove.engine.ocispec.seccomp_profile import _profile_text

    data = json.loads(_profile_text())
    places: dict[str, str] = {}
    groups = [*(("allow " + k, v) for k, v in data["allow"].items()),
              *(("cap " + k, v) for k, v in data["allowWithCapability"].items()),
              ("deny", data["deny"])]
    for where, names in groups:
        for name in names:
            assert name not in places, f"{name} in {where} and {places[name]}"
            places[name] = where
    for rule in data["argumentRules"]:
        assert rule["name"] in places, rule["name"]
    assert set(data["allowWithCapability"]) <= set(CAPABILITIES)
