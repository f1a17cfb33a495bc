"""Compile an OCI ``linux.seccomp`` object to a classic-BPF filter and load it.

No libseccomp: :func:`compile_seccomp` validates the config and writes the
filter itself, :func:`install` hands it to seccomp(2).

Shape of the program (the kernel runs it on every syscall)::

    load arch; one jeq per ABI (native first) -> that ABI's section; else KILL_PROCESS
    section:  load nr; binary search over number ranges -> a return, or a rule block
    block:    the syscall's conditional rules in config order, first match wins;
              then its unconditional action, or the default action
    rule:     its argument conditions ANDed, each on both 32-bit halves of the arg

Numbers with the same outcome that sit next to each other form one range, so
the search is ~log2(ranges) jumps deep, not one jump per listed syscall. BPF
jumps only go forward with 8-bit offsets; the program is emitted backwards so
every target is known when a jump is written, and a far target gets a 32-bit
``ja`` trampoline (or a nearby copy of the ``ret``).

Semantics where the spec is silent (libseccomp has no single documented rule):
for one syscall, rules with ``args`` are tried first in config order; two
rules without ``args`` that disagree are an error. Conditions on the same
argument within a rule are ANDed (runc would split them into separate rules).

The x86_64 section also carries x32 syscalls (same AUDIT_ARCH, number with bit
0x40000000): they go to the x32 section if SCMP_ARCH_X32 is listed, otherwise
they kill the process; -1 (a syscall skipped by a tracer) is left to the
default action.
"""

from __future__ import annotations

import os
import sys

from cove.errors import InvalidArgument, SyscallError, Unsupported
from cove.lazylog import get_logger

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import ModuleType
    from typing import Any, Final, TypeAlias

    # (arg index, operator, value, valueTwo)
    _Cond: TypeAlias = tuple[int, str, int, int]
    # (conditions ANDed, return value)
    _Rule: TypeAlias = tuple[tuple[_Cond, ...], int]
    # A jump target: an emitted instruction (its index from the end) or a return value.
    _Target: TypeAlias = "int | _Ret"

_log = get_logger(__name__)

# seccomp(2) and <linux/seccomp.h>
SECCOMP_SET_MODE_FILTER: Final = 1
SECCOMP_FILTER_FLAG_TSYNC: Final = 1 << 0
SECCOMP_FILTER_FLAG_LOG: Final = 1 << 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW: Final = 1 << 2
SECCOMP_FILTER_FLAG_NEW_LISTENER: Final = 1 << 3
SECCOMP_FILTER_FLAG_TSYNC_ESRCH: Final = 1 << 4
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: Final = 1 << 5

SECCOMP_RET_KILL_PROCESS: Final = 0x80000000
SECCOMP_RET_KILL_THREAD: Final = 0x00000000
SECCOMP_RET_TRAP: Final = 0x00030000
SECCOMP_RET_ERRNO: Final = 0x00050000
SECCOMP_RET_USER_NOTIF: Final = 0x7FC00000
SECCOMP_RET_TRACE: Final = 0x7FF00000
SECCOMP_RET_LOG: Final = 0x7FFC0000
SECCOMP_RET_ALLOW: Final = 0x7FFF0000

# <linux/audit.h>: EM_* | __AUDIT_ARCH_64BIT (0x80000000) | __AUDIT_ARCH_LE (0x40000000)
AUDIT_ARCH_X86_64: Final = 0xC000003E
AUDIT_ARCH_I386: Final = 0x40000003
AUDIT_ARCH_AARCH64: Final = 0xC00000B7
AUDIT_ARCH_ARM: Final = 0x40000028
X32_SYSCALL_BIT: Final = 0x40000000

# <linux/bpf_common.h>
BPF_LD_W_ABS: Final = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_ALU_AND_K: Final = 0x04 | 0x50 | 0x00  # BPF_ALU | BPF_AND | BPF_K
BPF_JA: Final = 0x05 | 0x00  # BPF_JMP | BPF_JA
BPF_JEQ_K: Final = 0x05 | 0x10
BPF_JGT_K: Final = 0x05 | 0x20
BPF_JGE_K: Final = 0x05 | 0x30
BPF_RET_K: Final = 0x06 | 0x00
BPF_MAXINSNS: Final = 4096
_MAX_OFFSET: Final = 255  # jt/jf are 8 bits

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
_DATA_NR: Final = 0
_DATA_ARCH: Final = 4
_DATA_ARGS: Final = 16

_EPERM: Final = 1
_MAX_ERRNO: Final = 4095  # the kernel clamps SECCOMP_RET_ERRNO data to this

_ACTIONS: Final[dict[str, int]] = {
    "SCMP_ACT_KILL": SECCOMP_RET_KILL_THREAD,  # libseccomp's name for kill-thread
    "SCMP_ACT_KILL_PROCESS": SECCOMP_RET_KILL_PROCESS,
    "SCMP_ACT_KILL_THREAD": SECCOMP_RET_KILL_THREAD,
    "SCMP_ACT_TRAP": SECCOMP_RET_TRAP,
    "SCMP_ACT_ERRNO": SECCOMP_RET_ERRNO,
    "SCMP_ACT_TRACE": SECCOMP_RET_TRACE,
    "SCMP_ACT_ALLOW": SECCOMP_RET_ALLOW,
    "SCMP_ACT_LOG": SECCOMP_RET_LOG,
    "SCMP_ACT_NOTIFY": SECCOMP_RET_USER_NOTIF,
}
# Actions whose 16-bit data the config sets with errnoRet (ERRNO: the errno;
# TRACE: the value the tracer reads with PTRACE_GETEVENTMSG).
_DATA_LIMIT: Final[dict[str, int]] = {"SCMP_ACT_ERRNO": _MAX_ERRNO, "SCMP_ACT_TRACE": 0xFFFF}
_BAD_ARCH_RET: Final = SECCOMP_RET_KILL_PROCESS

_OPERATORS: Final = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
                     "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")

_FLAGS: Final[dict[str, int]] = {
    "SECCOMP_FILTER_FLAG_TSYNC": SECCOMP_FILTER_FLAG_TSYNC,
    "SECCOMP_FILTER_FLAG_LOG": SECCOMP_FILTER_FLAG_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": SECCOMP_FILTER_FLAG_SPEC_ALLOW,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
}

# Every architecture name the runtime spec's schema allows. Those a process on
# this host cannot use are accepted and have nothing to filter.
_SPEC_ARCHS: Final = (
    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X", "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
)
# The ABIs we can filter: AUDIT_ARCH and the table in cove.linux.syscall_table.
_ABIS: Final[dict[str, tuple[int, str]]] = {
    "SCMP_ARCH_X86_64": (AUDIT_ARCH_X86_64, "X86_64"),
    "SCMP_ARCH_X86": (AUDIT_ARCH_I386, "X86"),
    "SCMP_ARCH_X32": (AUDIT_ARCH_X86_64, "X32"),
    "SCMP_ARCH_AARCH64": (AUDIT_ARCH_AARCH64, "AARCH64"),
    "SCMP_ARCH_ARM": (AUDIT_ARCH_ARM, "ARM"),
}
# uname machine -> (native ABI, compat ABIs the kernel also accepts)
_HOSTS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "x86_64": ("SCMP_ARCH_X86_64", ("SCMP_ARCH_X86", "SCMP_ARCH_X32")),
    "aarch64": ("SCMP_ARCH_AARCH64", ("SCMP_ARCH_ARM",)),
}
_TABLES: Final = ("X86_64", "X86", "X32", "AARCH64", "ARM")


class SeccompProgram:
    """A compiled filter, ready for :func:`install`.

    ``program`` is the packed ``struct sock_filter`` array; ``flags`` are the
    exact seccomp(2) flags :func:`install` passes (NEW_LISTENER included when
    the filter uses SCMP_ACT_NOTIFY). A plain class, not a dataclass:
    importing :mod:`dataclasses` costs milliseconds on every runtime call.
    """

    __slots__ = ("flags", "listener_metadata", "listener_path", "program", "uses_notify")

    def __init__(self, program: bytes, flags: int = 0, listener_path: str | None = None,
                 listener_metadata: str = "", uses_notify: bool = False) -> None:
        self.program = program
        self.flags = flags
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.uses_notify = uses_notify

    @property
    def instructions(self) -> int:
        return len(self.program) // 8

    def _key(self) -> tuple[bytes, int, str | None, str, bool]:
        return (self.program, self.flags, self.listener_path, self.listener_metadata,
                self.uses_notify)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SeccompProgram):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"SeccompProgram(<{self.instructions} instructions>, flags={self.flags:#x}, "
                f"listener_path={self.listener_path!r}, uses_notify={self.uses_notify})")


def supported_actions() -> list[str]:
    return list(_ACTIONS)


def supported_archs() -> list[str]:
    """Architectures whose syscalls this runtime can filter."""
    return list(_ABIS)


def supported_operators() -> list[str]:
    return list(_OPERATORS)


def supported_flags() -> list[str]:
    return list(_FLAGS)


def compile_seccomp(config: Mapping[str, Any], *,
                    field: str = "linux.seccomp") -> SeccompProgram:
    """Validate an OCI ``linux.seccomp`` object and compile it for this host.

    Raises :class:`InvalidArgument` naming the offending field, or
    :class:`Unsupported` on a host architecture without syscall tables.
    """
    return _compile(config, field, os.uname().machine)


def install(program: SeccompProgram) -> int | None:
    """Load ``program`` into the kernel for the calling thread.

    The caller must have set no_new_privs or hold CAP_SYS_ADMIN. Returns the
    user-notification listener fd when the filter uses SCMP_ACT_NOTIFY.
    """
    import ctypes

    from cove.linux import libc as L

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    buf = ctypes.create_string_buffer(program.program, len(program.program))
    fprog = SockFprog(program.instructions, ctypes.addressof(buf))
    try:
        res = L.syscall("seccomp", ctypes.c_uint(SECCOMP_SET_MODE_FILTER),
                        ctypes.c_uint(program.flags), ctypes.byref(fprog))
    except SyscallError as exc:
        raise _install_error(exc.errno, program) from exc
    if program.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER:
        return res
    if res > 0:  # TSYNC without NEW_LISTENER: the id of a thread that could not sync
        raise SyscallError(f"seccomp: thread {res} could not be synchronized to the filter "
                           "(SECCOMP_FILTER_FLAG_TSYNC)")
    return None


def _install_error(err: int, program: SeccompProgram) -> SyscallError | Unsupported:
    import errno as E

    what = (f"seccomp: load the filter ({program.instructions} instructions, "
            f"flags {program.flags:#x})")
    reason = os.strerror(err)
    if err == E.EACCES:
        return SyscallError(f"{what}: {reason} (needs no_new_privs or CAP_SYS_ADMIN)", err)
    if err == E.ENOSYS:
        return Unsupported(f"{what}: the kernel has no seccomp filter support")
    if err == E.EINVAL:
        return Unsupported(f"{what}: {reason} (a flag or an action this kernel does not "
                           "support?)")
    if err == E.EBUSY:
        return SyscallError(f"{what}: {reason} (a filter with a notify listener is "
                            "already installed)", err)
    if err == E.ENOMEM:
        return SyscallError(f"{what}: {reason} (the filters of this thread exceed the "
                            "kernel's total length limit?)", err)
    return SyscallError(f"{what}: {reason}", err)


# --------------------------------------------------------------------- parsing


class _Entry:
    """One validated ``syscalls[]`` entry."""

    __slots__ = ("action", "action_name", "conds", "index", "names")

    def __init__(self, index: int, names: list[str], action_name: str, action: int,
                 conds: tuple[_Cond, ...]) -> None:
        self.index = index
        self.names = names
        self.action_name = action_name
        self.action = action
        self.conds = conds


class _Config:
    """The validated ``linux.seccomp`` object."""

    __slots__ = ("archs", "default", "entries", "flags", "listener_metadata", "listener_path",
                 "uses_notify")

    def __init__(self, default: int, archs: list[str], flags: int, entries: list[_Entry],
                 listener_path: str | None, listener_metadata: str) -> None:
        self.default = default
        self.archs = archs
        self.flags = flags
        self.entries = entries
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata
        self.uses_notify = any(e.action_name == "SCMP_ACT_NOTIFY" for e in entries)


def _parse(config: object, field: str, tables: ModuleType) -> _Config:
    cfg = _mapping(config, field)
    action_name, default = _parse_action(cfg, "defaultAction", "defaultErrnoRet", field)
    if action_name == "SCMP_ACT_NOTIFY":
        # Every syscall of the runtime between loading the filter and exec
        # (handing over the listener fd included) would wait for an agent that
        # has no listener yet.
        raise InvalidArgument(f"{field}.defaultAction: SCMP_ACT_NOTIFY cannot be the default "
                              "action")
    archs = [_choice(a, f"{field}.architectures[{i}]", _SPEC_ARCHS, "architecture")
             for i, a in enumerate(_list(cfg.get("architectures"), f"{field}.architectures"))]
    flags = 0
    for i, name in enumerate(_list(cfg.get("flags"), f"{field}.flags")):
        flags |= _FLAGS[_choice(name, f"{field}.flags[{i}]", tuple(_FLAGS), "flag")]
    entries = [_parse_entry(item, i, f"{field}.syscalls[{i}]", tables)
               for i, item in enumerate(_list(cfg.get("syscalls"), f"{field}.syscalls"))]
    path = _optional_str(cfg.get("listenerPath"), f"{field}.listenerPath")
    metadata = _optional_str(cfg.get("listenerMetadata"), f"{field}.listenerMetadata")
    if metadata and not path:
        raise InvalidArgument(f"{field}.listenerMetadata: set without listenerPath")
    parsed = _Config(default, archs, flags, entries, path or None, metadata or "")
    _check_notify(parsed, field)
    return parsed


def _check_notify(parsed: _Config, field: str) -> None:
    if parsed.uses_notify:
        if not parsed.listener_path:
            raise InvalidArgument(f"{field}.listenerPath: required when SCMP_ACT_NOTIFY is "
                                  "used (the listener fd is sent there)")
        parsed.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER
        if parsed.flags & SECCOMP_FILTER_FLAG_TSYNC:
            # TSYNC returns a thread id on failure, which would be mistaken
            # for the listener fd; TSYNC_ESRCH makes it fail with ESRCH instead.
            parsed.flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    elif parsed.flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV:
        raise InvalidArgument(f"{field}.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a "
                              "SCMP_ACT_NOTIFY rule")


def _parse_action(obj: Mapping[str, Any], key: str, errno_key: str,
                  where: str) -> tuple[str, int]:
    """The action's name and its encoded return value (with its errno/trace data)."""
    if obj.get(key) is None:
        raise InvalidArgument(f"{where}.{key}: required")
    name = _choice(obj[key], f"{where}.{key}", tuple(_ACTIONS), "action")
    data_value = obj.get(errno_key)
    limit = _DATA_LIMIT.get(name)
    if data_value is None:
        data = _EPERM if limit is not None else 0
    elif limit is None:
        raise InvalidArgument(f"{where}.{errno_key}: {name} takes no errno (only "
                              "SCMP_ACT_ERRNO and SCMP_ACT_TRACE do)")
    else:
        data = _uint(data_value, f"{where}.{errno_key}", limit)
    return name, _ACTIONS[name] | data


def _parse_entry(item: object, index: int, where: str, tables: ModuleType) -> _Entry:
    entry = _mapping(item, where)
    names = _list(entry.get("names"), f"{where}.names")
    if not names:
        raise InvalidArgument(f"{where}.names: must list at least one syscall")
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InvalidArgument(f"{where}.names[{i}]: must be a string, not "
                                  f"{type(name).__name__}")
        if not _known_anywhere(name, tables):
            raise InvalidArgument(f'{where}.names[{i}]: unknown syscall "{name}"')
    action_name, action = _parse_action(entry, "action", "errnoRet", where)
    conds = tuple(_parse_arg(arg, f"{where}.args[{i}]")
                  for i, arg in enumerate(_list(entry.get("args"), f"{where}.args")))
    return _Entry(index, list(names), action_name, action, conds)


def _parse_arg(item: object, where: str) -> _Cond:
    arg = _mapping(item, where)
    for key in ("index", "value", "op"):
        if arg.get(key) is None:
            raise InvalidArgument(f"{where}.{key}: required")
    index = _uint(arg["index"], f"{where}.index", 5)
    op = _choice(arg["op"], f"{where}.op", _OPERATORS, "operator")
    value = _uint(arg["value"], f"{where}.value", 0xFFFFFFFFFFFFFFFF)
    value_two = 0
    if arg.get("valueTwo") is not None:
        value_two = _uint(arg["valueTwo"], f"{where}.valueTwo", 0xFFFFFFFFFFFFFFFF)
    return (index, op, value, value_two)


def _known_anywhere(name: str, tables: ModuleType) -> bool:
    return (any(name in getattr(tables, t) for t in _TABLES)
            or name in tables.OTHER_ARCH_NAMES)


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    # Duck-typed: collections.abc costs an import on the runtime's hot path.
    if not (hasattr(value, "get") and hasattr(value, "keys")):
        raise InvalidArgument(f"{where}: must be an object, not {type(value).__name__}")
    return value  # type: ignore[return-value]


def _list(value: object, where: str) -> list[Any] | tuple[Any, ...]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidArgument(f"{where}: must be a list, not {type(value).__name__}")
    return value


def _choice(value: object, where: str, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        raise InvalidArgument(f"{where}: unknown {what} {shown}")
    return value


def _uint(value: object, where: str, limit: int) -> int:
    # bool is an int subclass; JSON true is not a number.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(f"{where}: must be an unsigned integer, not {value!r}")
    if not 0 <= value <= limit:
        raise InvalidArgument(f"{where}: {value} is out of range (0 to {limit})")
    return value


def _optional_str(value: object, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"{where}: must be a string, not {type(value).__name__}")
    return value


# ------------------------------------------------------------------- assembly


class _Ret:
    """A jump target that is a ``ret`` of this value, emitted near where it is needed.

    Interned per program (:meth:`_Generator.ret`), so the default (identity)
    equality is right and cheap: a target is equal only to itself.
    """

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


class _Asm:
    """A BPF program written backwards, from its last instruction to its first.

    A label is an instruction's index in that reversed list; a jump placed at
    reversed index ``i`` reaches label ``t`` with offset ``i - t - 1``. Only
    jumps may be preceded by inserted trampolines or ``ret`` copies: a
    statement must fall through to the instruction emitted just before it,
    which :meth:`stmt` guarantees with its ``then`` target.
    """

    def __init__(self) -> None:
        self.rev: list[tuple[int, int, int, int]] = []
        self._rets: dict[int, int] = {}  # ret value -> label of its latest copy

    def _append(self, code: int, jt: int, jf: int, k: int) -> int:
        self.rev.append((code, jt, jf, k))
        return len(self.rev) - 1

    def _label(self, target: _Target, slack: int) -> int:
        """A label for ``target``; ``ret`` targets get a copy if theirs is out of reach."""
        if isinstance(target, int):
            return target
        at = self._rets.get(target.value)
        if at is None or len(self.rev) - at - 1 > _MAX_OFFSET - slack:
            at = self._append(BPF_RET_K, 0, 0, target.value)
            self._rets[target.value] = at
        return at

    def goto(self, target: _Target) -> int:
        """An instruction that continues at ``target`` (a ``ret`` copies itself)."""
        if isinstance(target, _Ret):
            at = self._append(BPF_RET_K, 0, 0, target.value)
            self._rets[target.value] = at
            return at
        return self._append(BPF_JA, 0, 0, len(self.rev) - target - 1)

    def jump(self, code: int, k: int, jt: _Target, jf: _Target) -> _Target:
        """``if A <code> k goto jt else goto jf``; both may be far away."""
        if jt == jf:
            return jt
        # Up to two instructions (a trampoline or ret for each side) may land
        # between this jump and its targets, hence the slack.
        t = self._label(jt, 2)
        f = self._label(jf, 1)
        if len(self.rev) - t - 1 > _MAX_OFFSET - 1:
            t = self.goto(t)
        if len(self.rev) - f - 1 > _MAX_OFFSET:
            f = self.goto(f)
        here = len(self.rev)
        return self._append(code, here - t - 1, here - f - 1, k)

    def stmt(self, code: int, k: int, then: _Target) -> int:
        """A non-jump instruction that falls through to ``then``."""
        if then != len(self.rev) - 1:
            self.goto(then)
        return self._append(code, 0, 0, k)

    def assemble(self) -> bytes:
        import struct

        insns = self.rev[::-1]
        return struct.pack("=" + "HBBI" * len(insns), *(x for insn in insns for x in insn))


# ------------------------------------------------------------------ generation


class _Syscall:
    """Every rule for one syscall name (or, merged, for one number of an ABI)."""

    __slots__ = ("conditional", "unconditional", "where")

    def __init__(self) -> None:
        self.conditional: list[_Rule] = []
        self.unconditional: int | None = None
        self.where = ""  # the entry that set the unconditional action, for errors

    def add(self, conds: tuple[_Cond, ...], action: int, where: str, field: str) -> None:
        if conds:
            self.conditional.append((conds, action))
        elif self.unconditional is None:
            self.unconditional = action
            self.where = where
        elif self.unconditional != action:
            raise InvalidArgument(f"{field}.{where} conflicts with {self.where}")

    def merged(self, other: _Syscall, field: str) -> _Syscall:
        both = _Syscall()
        for sc in (self, other):
            for conds, action in sc.conditional:
                both.add(conds, action, sc.where, field)
            if sc.unconditional is not None:
                both.add((), sc.unconditional, sc.where, field)
        return both


def _by_name(entries: list[_Entry], field: str) -> dict[str, _Syscall]:
    """The entries regrouped by syscall name, rules in config order."""
    out: dict[str, _Syscall] = {}
    for entry in entries:
        for i, name in enumerate(entry.names):
            where = f'syscalls[{entry.index}].names[{i}] ("{name}", {entry.action_name})'
            out.setdefault(name, _Syscall()).add(entry.conds, entry.action, where, field)
    return out


class _Generator:
    """Writes one program: sections per ABI, rule blocks shared between them."""

    def __init__(self, parsed: _Config, field: str, tables: ModuleType) -> None:
        self.asm = _Asm()
        self.field = field
        self.tables = tables
        self.rets: dict[int, _Ret] = {}
        self.default_value = parsed.default
        self.default = self.ret(parsed.default)
        self.syscalls = _by_name(parsed.entries, field)
        self.blocks: dict[tuple[tuple[_Rule, ...], int], _Target] = {}
        little = sys.byteorder == "little"
        self.lo_half = 0 if little else 4  # offset of an argument's low 32 bits
        self.hi_half = 4 if little else 0

    def ret(self, value: int) -> _Ret:
        if value not in self.rets:
            self.rets[value] = _Ret(value)
        return self.rets[value]

    def program(self, abis: list[str]) -> bytes:
        """Sections for ``abis`` (native first), behind the architecture dispatch."""
        sections: dict[str, _Target] = {}
        # Backwards: the last section first; x32 before x86_64, which jumps to it.
        for abi in reversed(abis):
            sections[abi] = self.section(abi, sections.get("SCMP_ARCH_X32"))
        dispatch: _Target = self.ret(_BAD_ARCH_RET)
        for abi in reversed(abis):
            if abi != "SCMP_ARCH_X32":  # reached through the x86_64 section
                dispatch = self.asm.jump(BPF_JEQ_K, _ABIS[abi][0], sections[abi], dispatch)
        self.asm.stmt(BPF_LD_W_ABS, _DATA_ARCH, dispatch)
        return self.asm.assemble()

    def section(self, abi: str, x32: _Target | None) -> _Target:
        table: dict[str, int] = getattr(self.tables, _ABIS[abi][1])
        ranges = [(nr, nr, target) for nr, target in sorted(self.targets(table).items())]
        if abi == "SCMP_ARCH_X86_64":
            # x32 numbers; 0xffffffff (-1) stays with the default action.
            ranges.append((X32_SYSCALL_BIT, 0xFFFFFFFE, x32 or self.ret(_BAD_ARCH_RET)))
        tree = self.search(*_intervals(ranges, self.default))
        if abi == "SCMP_ARCH_X32":
            return tree  # entered from the x86_64 search with nr still loaded
        return self.asm.stmt(BPF_LD_W_ABS, _DATA_NR, tree)

    def targets(self, table: dict[str, int]) -> dict[int, _Target]:
        """Where each syscall number with rules goes (emitting rule blocks as needed)."""
        by_nr: dict[int, _Syscall] = {}
        for name, sc in self.syscalls.items():
            nr = table.get(name)
            if nr is None:
                continue  # a syscall of another ABI
            # Two names for one number (ARM's sync_file_range2) share the rules.
            by_nr[nr] = by_nr[nr].merged(sc, self.field) if nr in by_nr else sc
        out: dict[int, _Target] = {}
        for nr, sc in by_nr.items():
            target = self.block(sc)
            if target is not self.default:
                out[nr] = target
        return out

    def block(self, sc: _Syscall) -> _Target:
        fallback = sc.unconditional if sc.unconditional is not None else self.default_value
        if not sc.conditional:
            return self.ret(fallback)
        rules = list(sc.conditional)
        while rules and rules[-1][1] == fallback:
            rules.pop()  # a last rule that ends where not matching ends anyway
        key = (tuple(rules), fallback)
        if key not in self.blocks:
            target: _Target = self.ret(fallback)
            for conds, action in reversed(rules):
                matched: _Target = self.ret(action)
                for cond in reversed(conds):
                    matched = self.condition(cond, matched, target)
                target = matched
            self.blocks[key] = target
        return self.blocks[key]

    def search(self, bounds: list[int], targets: list[_Target]) -> _Target:
        """Binary search: interval ``i`` starts at ``bounds[i]`` and goes to ``targets[i]``."""
        if len(targets) == 1:
            return targets[0]
        mid = len(targets) // 2
        upper = self.search(bounds[mid:], targets[mid:])
        lower = self.search(bounds[:mid], targets[:mid])
        return self.asm.jump(BPF_JGE_K, bounds[mid], upper, lower)

    def condition(self, cond: _Cond, ok: _Target, fail: _Target) -> _Target:
        """Code testing one 64-bit argument condition, as both 32-bit halves."""
        index, op, value, value_two = cond
        lo_off = _DATA_ARGS + 8 * index + self.lo_half
        hi_off = _DATA_ARGS + 8 * index + self.hi_half
        hi, lo = value >> 32, value & 0xFFFFFFFF
        if op == "SCMP_CMP_MASKED_EQ":
            low = self.masked(lo_off, lo, value_two & 0xFFFFFFFF, ok, fail)
            return self.masked(hi_off, hi, value_two >> 32, low, fail)
        if op == "SCMP_CMP_EQ":
            low = self.word(lo_off, BPF_JEQ_K, lo, ok, fail)
            return self.word(hi_off, BPF_JEQ_K, hi, low, fail)
        if op == "SCMP_CMP_NE":
            low = self.word(lo_off, BPF_JEQ_K, lo, fail, ok)
            return self.word(hi_off, BPF_JEQ_K, hi, low, ok)
        # Orderings: the high halves decide unless equal, then the low halves.
        # LT and LE are the negations of GE and GT.
        yes, no = (ok, fail) if op in ("SCMP_CMP_GT", "SCMP_CMP_GE") else (fail, ok)
        low_jump = BPF_JGT_K if op in ("SCMP_CMP_GT", "SCMP_CMP_LE") else BPF_JGE_K
        low = self.word(lo_off, low_jump, lo, yes, no)
        # After "hi > value's hi" fails, hi == 0 is certain when value's hi is 0.
        equal = low if hi == 0 else self.asm.jump(BPF_JEQ_K, hi, low, no)
        return self.asm.stmt(BPF_LD_W_ABS, hi_off, self.asm.jump(BPF_JGT_K, hi, yes, equal))

    def word(self, offset: int, code: int, k: int, jt: _Target, jf: _Target) -> _Target:
        return self.asm.stmt(BPF_LD_W_ABS, offset, self.asm.jump(code, k, jt, jf))

    def masked(self, offset: int, mask: int, datum: int, ok: _Target,
               fail: _Target) -> _Target:
        """``(word & mask) == datum``, folded when the answer is known in advance."""
        if datum & ~mask:
            return fail
        if mask == 0:
            return ok
        test = self.asm.jump(BPF_JEQ_K, datum, ok, fail)
        if mask != 0xFFFFFFFF:
            test = self.asm.stmt(BPF_ALU_AND_K, mask, test)
        return self.asm.stmt(BPF_LD_W_ABS, offset, test)


def _intervals(ranges: list[tuple[int, int, _Target]],
               default: _Target) -> tuple[list[int], list[_Target]]:
    """Cover 0..2**32-1 with ``ranges`` (sorted, disjoint) and ``default`` between them.

    Neighbours with the same target merge, so allow-lists collapse into runs.
    """
    bounds: list[int] = []
    targets: list[_Target] = []

    def add(start: int, target: _Target) -> None:
        if not targets or targets[-1] != target:
            bounds.append(start)
            targets.append(target)

    cursor = 0
    for start, end, target in ranges:
        if start > cursor:
            add(cursor, default)
        add(start, target)
        cursor = end + 1
    if cursor <= 0xFFFFFFFF:
        add(cursor, default)
    return bounds, targets


def _host_abis(machine: str, listed: list[str], field: str) -> list[str]:
    """The ABIs to filter: the native one, then the listed compat ABIs of this host."""
    if machine not in _HOSTS:
        raise Unsupported(f"{field}: no syscall tables for host architecture {machine}")
    native, compat = _HOSTS[machine]
    return [native, *(abi for abi in compat if abi in listed)]


def _compile(config: Mapping[str, Any], field: str, machine: str) -> SeccompProgram:
    from cove.linux import syscall_table

    parsed = _parse(config, field, syscall_table)
    abis = _host_abis(machine, parsed.archs, field)
    code = _Generator(parsed, field, syscall_table).program(abis)
    count = len(code) // 8
    if count > BPF_MAXINSNS:
        raise InvalidArgument(f"{field}: the filter needs {count} BPF instructions, more than "
                              f"the kernel's limit of {BPF_MAXINSNS}")
    if "logging" in sys.modules:  # never import logging just for this
        _log.debug("seccomp: %d instructions for %s", count, ", ".join(abis))
    return SeccompProgram(code, parsed.flags, parsed.listener_path,
                          parsed.listener_metadata, parsed.uses_notify)
