"""Device rules → a BPF_PROG_TYPE_CGROUP_DEVICE program, loaded and attached to a v2 cgroup.

cgroup v2 has no devices controller: the kernel runs every BPF device program
attached to the cgroup (and its ancestors) with

    struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }

where access_type = (access << 16) | type, access a mask of MKNOD=1, READ=2,
WRITE=4, type BLOCK=1 or CHAR=2; returning 0 denies with EPERM.

The program implements :mod:`devices`' semantic literally, one access bit at a
time (an access may ask for several)::

    for bit in (m, r, w) if requested:
        for rule in rules for bit, last first:
            if rule matches (type, major, minor): allowed → next bit, denied → return 0
        no match: the bit's default (deny, or a later any-device rule)
    return 1

Only forward jumps are emitted, so the verifier has no loops to prove. The
program is attached with BPF_F_ALLOW_MULTI and replaces any earlier program
attached to the same cgroup (an update), new first so there is no window with
no program. The license string only matters for GPL-only helpers, which this
program does not call.
"""

from __future__ import annotations

import ctypes
import errno as E
import os
import struct
import sys

from cove.errors import SyscallError, Unsupported
from cove.lazylog import get_logger
from cove.linux import libc as L
from cove.runtime.cgroups.devices import ACCESS_BITS, DeviceRule, per_bit

log = get_logger(__name__)

# bpf(2) commands and constants (include/uapi/linux/bpf.h).
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16
BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6
BPF_F_ALLOW_MULTI = 2
DEVCG_DEV = {"b": 1, "c": 2}
DEVCG_ACC = {"m": 1, "r": 2, "w": 4}
LICENSE = b"Apache-2.0\0"
PROG_NAME = b"cove_devices"

# Instruction classes/opcodes used (see Documentation/bpf/standardization/instruction-set.rst).
_LDX_MEM_W = 0x61  # dst = *(u32 *)(src + off)
_ALU64_MOV_K = 0xB7
_ALU64_MOV_X = 0xBF
_ALU64_AND_K = 0x57
_ALU64_RSH_K = 0x77
_JMP_JA = 0x05
_JMP_JNE_K = 0x55
_JMP_JSET_K = 0x45
_JMP_EXIT = 0x95
R0, R1, R2, R3, R4, R5, R6 = range(7)


class Insn:
    """One instruction; a jump names its target label until :func:`assemble` resolves it."""

    __slots__ = ("code", "dst", "imm", "off", "src", "target")

    def __init__(self, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0,
                 target: str | None = None) -> None:
        self.code, self.dst, self.src, self.off, self.imm = code, dst, src, off, imm
        self.target = target

    def __repr__(self) -> str:
        return (f"Insn({self.code:#04x}, dst=r{self.dst}, src=r{self.src}, off={self.off}, "
                f"imm={self.imm}, target={self.target})")


class _Program:
    def __init__(self) -> None:
        self.insns: list[Insn] = []
        self.labels: dict[str, int] = {}
        self._n = 0

    def label(self) -> str:
        self._n += 1
        return f"L{self._n}"

    def place(self, label: str) -> None:
        self.labels[label] = len(self.insns)

    def emit(self, code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0,
             target: str | None = None) -> None:
        self.insns.append(Insn(code, dst, src, off, imm, target))

    def used(self, label: str) -> bool:
        return any(i.target == label for i in self.insns)


def build_program(rules: list[DeviceRule]) -> list[Insn]:
    """The resolved instructions implementing ``rules`` (see the module docstring)."""
    p = _Program()
    deny = p.label()
    p.emit(_LDX_MEM_W, R2, R1, 0)  # access_type
    p.emit(_ALU64_MOV_X, R3, R2)
    p.emit(_ALU64_AND_K, R3, imm=0xFFFF)  # r3 = device type
    p.emit(_ALU64_MOV_X, R4, R2)
    p.emit(_ALU64_RSH_K, R4, imm=16)  # r4 = requested access bits
    p.emit(_LDX_MEM_W, R5, R1, 4)  # major
    p.emit(_LDX_MEM_W, R6, R1, 8)  # minor
    for bit, (default_allow, overriding) in per_bit(rules).items():
        if default_allow and not overriding:
            continue  # nothing can deny this bit
        next_bit = p.label()
        p.emit(_JMP_JSET_K, R4, imm=DEVCG_ACC[bit], off=1)  # requested: skip the jump out
        p.emit(_JMP_JA, target=next_bit)
        for rule in overriding:
            next_rule = p.label()
            if rule.type != "a":
                p.emit(_JMP_JNE_K, R3, imm=DEVCG_DEV[rule.type], target=next_rule)
            if rule.major is not None:
                p.emit(_JMP_JNE_K, R5, imm=rule.major, target=next_rule)
            if rule.minor is not None:
                p.emit(_JMP_JNE_K, R6, imm=rule.minor, target=next_rule)
            p.emit(_JMP_JA, target=next_bit if rule.allow else deny)
            p.place(next_rule)
        if not default_allow:
            p.emit(_JMP_JA, target=deny)
        p.place(next_bit)
    p.emit(_ALU64_MOV_K, R0, imm=1)
    p.emit(_JMP_EXIT)
    if p.used(deny):  # the verifier rejects unreachable instructions
        p.place(deny)
        p.emit(_ALU64_MOV_K, R0, imm=0)
        p.emit(_JMP_EXIT)
    for pc, insn in enumerate(p.insns):
        if insn.target is not None:
            insn.off = p.labels[insn.target] - pc - 1
    return p.insns


def encode(insns: list[Insn]) -> bytes:
    """struct bpf_insn {u8 code; u8 dst:4, src:4; s16 off; s32 imm;}, little-endian."""
    if sys.byteorder != "little":
        raise Unsupported("device programs are only built for little-endian machines")
    return b"".join(struct.pack("<BBhi", i.code, (i.src << 4) | i.dst, i.off, i.imm)
                    for i in insns)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char], what: str) -> int:
    try:
        return L.syscall("bpf", ctypes.c_int(cmd), attr, ctypes.c_uint(len(attr)))
    except SyscallError as exc:
        raise SyscallError(f"bpf {what}: {os.strerror(exc.errno)}", exc.errno) from exc


def load(insns: list[Insn]) -> int:
    """BPF_PROG_LOAD; returns the program fd. On failure the verifier log is in the error."""
    code = ctypes.create_string_buffer(encode(insns))
    lic = ctypes.create_string_buffer(LICENSE)

    def attempt(log_buf: ctypes.Array[ctypes.c_char] | None) -> int:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIQQ", attr, 0, BPF_PROG_TYPE_CGROUP_DEVICE, len(insns),
                         ctypes.addressof(code), ctypes.addressof(lic))
        if log_buf is not None:
            struct.pack_into("<IIQ", attr, 24, 1, len(log_buf), ctypes.addressof(log_buf))
        struct.pack_into("16s", attr, 48, PROG_NAME)
        return _bpf(BPF_PROG_LOAD, attr, f"load device program ({len(insns)} insns)")

    try:
        return attempt(None)
    except SyscallError as exc:
        if exc.errno not in (E.EINVAL, E.EACCES):  # ask the verifier why
            raise
        log_buf = ctypes.create_string_buffer(1 << 16)
        try:
            return attempt(log_buf)
        except SyscallError as again:
            text = log_buf.value.decode(errors="replace").strip()[-2000:]
            raise SyscallError(f"{again}; verifier: {text}", again.errno) from again


def _open_dir(cgroup_dir: str) -> int:
    try:
        return os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise SyscallError(f"open {cgroup_dir}: {os.strerror(exc.errno or 0)}",
                           exc.errno or 0) from exc


def attached(cgroup_dir: str) -> list[int]:
    """Ids of the device programs attached to ``cgroup_dir`` itself."""
    dfd = _open_dir(cgroup_dir)
    try:
        ids = (ctypes.c_uint32 * 64)()
        attr = ctypes.create_string_buffer(64)
        struct.pack_into("<IIII", attr, 0, dfd, BPF_CGROUP_DEVICE, 0, 0)
        struct.pack_into("<QI", attr, 16, ctypes.addressof(ids), len(ids))
        _bpf(BPF_PROG_QUERY, attr, f"query device programs of {cgroup_dir}")
        count = struct.unpack_from("<I", attr, 24)[0]
        return list(ids[:count])
    finally:
        os.close(dfd)


def _prog_fd(prog_id: int) -> int:
    attr = ctypes.create_string_buffer(16)
    struct.pack_into("<I", attr, 0, prog_id)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr, f"open program id {prog_id}")


def attach(cgroup_dir: str, prog_fd: int, *, replace_existing: bool = True) -> None:
    """Attach ``prog_fd`` to ``cgroup_dir``, then detach what was there before."""
    old = attached(cgroup_dir) if replace_existing else []
    dfd = _open_dir(cgroup_dir)
    try:
        attr = ctypes.create_string_buffer(32)
        struct.pack_into("<IIII", attr, 0, dfd, prog_fd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)
        _bpf(BPF_PROG_ATTACH, attr, f"attach device program to {cgroup_dir}")
        for prog_id in old:
            fd = _prog_fd(prog_id)
            try:
                struct.pack_into("<IIII", attr, 0, dfd, fd, BPF_CGROUP_DEVICE, 0)
                _bpf(BPF_PROG_DETACH, attr, f"detach old device program {prog_id} "
                                            f"from {cgroup_dir}")
            finally:
                os.close(fd)
    finally:
        os.close(dfd)


def apply(cgroup_dir: str, rules: list[DeviceRule]) -> None:
    """Build, load and attach the program for ``rules``; the cgroup keeps it alive."""
    insns = build_program(rules)
    log.debug("device program for %s: %d rules, %d insns (%s)", cgroup_dir, len(rules),
              len(insns), ACCESS_BITS)
    fd = load(insns)
    try:
        attach(cgroup_dir, fd)
    finally:
        os.close(fd)
