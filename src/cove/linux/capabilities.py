"""Linux capabilities: names, validation, and setting a process's sets.

The OCI ``process.capabilities`` object names five sets. Applying them takes
two steps with a uid change between them, and the caller owns that change::

    drop_bounding(caps)                # needs CAP_SETPCAP: still root
    prctl(PR_SET_KEEPCAPS, 1)          # keep permitted across setresuid
    setgroups(...); setresgid(...); setresuid(...)
    prctl(PR_SET_KEEPCAPS, 0)
    apply_capabilities(caps)           # capset, then the ambient set

Why this order: dropping from the bounding set needs CAP_SETPCAP in the
effective set, which a non-root uid has lost; the uid change clears the
effective and ambient sets (and without KEEPCAPS the permitted set too), so
capset and the ambient raises come after it.

``None`` for the whole object leaves the process's capabilities as they are
(as runc does); a missing set inside the object means an empty set.
Capabilities this kernel does not know (above ``/proc/sys/kernel/cap_last_cap``)
are skipped with a warning, as runc does, so one config runs on old and new
kernels alike.
"""

from __future__ import annotations

import os

from cove.errors import InvalidArgument, SyscallError
from cove.lazylog import get_logger

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, Final

_log = get_logger(__name__)

# capabilities(7), <linux/capability.h>; numbers are the bit positions.
CAPABILITIES: Final[dict[str, int]] = {
    "CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
    "CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
    "CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
    "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
    "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
    "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
    "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
    "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
    "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
    "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
    "CAP_CHECKPOINT_RESTORE": 40,
}
CAP_LAST_KNOWN: Final = 40
SETS: Final = ("bounding", "effective", "inheritable", "permitted", "ambient")

_CAP_LAST_CAP_PATH: Final = "/proc/sys/kernel/cap_last_cap"
_LINUX_CAPABILITY_VERSION_3: Final = 0x20080522


def all_capability_names() -> list[str]:
    """Every capability this module knows, in bit order (for ``features``)."""
    return sorted(CAPABILITIES, key=CAPABILITIES.__getitem__)


def capability_name(number: int) -> str:
    for name, value in CAPABILITIES.items():
        if value == number:
            return name
    return f"CAP_{number}"


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open(_CAP_LAST_CAP_PATH, "rb") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        pass
    # No /proc (or a foreign one): ask the bounding set, which answers EINVAL
    # for numbers past the kernel's last capability.
    from cove.linux import libc as L

    cap = 0
    while cap < 63:
        try:
            L.prctl(L.PR_CAPBSET_READ, cap + 1)
        except SyscallError:
            break
        cap += 1
    return cap


def validate_capabilities(caps: Mapping[str, Any] | None,
                          field: str = "process.capabilities") -> None:
    """Check that every set is a list of known capability names.

    Also checks the one rule that a config alone can break and the kernel
    would only report later, obscurely: an ambient capability must also be in
    both the permitted and the inheritable sets.
    """
    if caps is None:
        return
    if not _is_mapping(caps):
        raise InvalidArgument(f"{field}: must be an object, not {type(caps).__name__}")
    for set_name in SETS:
        _names(caps, set_name, field)
    permitted = set(_names(caps, "permitted", field))
    inheritable = set(_names(caps, "inheritable", field))
    for i, name in enumerate(_names(caps, "ambient", field)):
        if name not in permitted or name not in inheritable:
            raise InvalidArgument(f"{field}.ambient[{i}]: {name} must also be in the permitted "
                                  "and inheritable sets (the kernel refuses to raise it)")


def drop_bounding(caps: Mapping[str, Any] | None) -> None:
    """Drop every capability not in ``caps["bounding"]`` from the bounding set.

    Runs while the process still has CAP_SETPCAP (before the uid change).
    """
    if caps is None:
        return
    from cove.linux import libc as L

    top = last_cap()
    keep = _mask(_names(caps, "bounding", "process.capabilities"), top, "bounding")
    for cap in range(top + 1):
        if keep & (1 << cap) or not L.prctl(L.PR_CAPBSET_READ, cap):
            continue  # kept, or already gone: dropping again would need CAP_SETPCAP
        try:
            L.prctl(L.PR_CAPBSET_DROP, cap)
        except SyscallError as exc:
            raise SyscallError(f"drop {capability_name(cap)} from the bounding set: "
                               f"{_strerror(exc.errno)} (needs CAP_SETPCAP)", exc.errno) from exc


def apply_capabilities(caps: Mapping[str, Any] | None) -> None:
    """Set the effective, permitted and inheritable sets, then the ambient set.

    Runs after the uid change (see the module docstring for the order).
    """
    if caps is None:
        return
    field = "process.capabilities"
    top = last_cap()
    effective = _mask(_names(caps, "effective", field), top, "effective")
    permitted = _mask(_names(caps, "permitted", field), top, "permitted")
    inheritable = _mask(_names(caps, "inheritable", field), top, "inheritable")
    _capset(effective, permitted, inheritable)
    _set_ambient(_names(caps, "ambient", field), top)


def _capset(effective: int, permitted: int, inheritable: int) -> None:
    import ctypes

    from cove.linux import libc as L

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    header = Header(_LINUX_CAPABILITY_VERSION_3, 0)
    # Version 3 takes the 64-bit sets as two 32-bit halves, low half first.
    data = (Data * 2)(*(Data((effective >> shift) & 0xFFFFFFFF, (permitted >> shift) & 0xFFFFFFFF,
                             (inheritable >> shift) & 0xFFFFFFFF) for shift in (0, 32)))
    try:
        L.syscall("capset", ctypes.byref(header), data)
    except SyscallError as exc:
        raise SyscallError(
            f"capset (effective {effective:#x}, permitted {permitted:#x}, inheritable "
            f"{inheritable:#x}): {_strerror(exc.errno)} (effective must be within permitted; "
            "permitted can only shrink; inheritable must be within the bounding set)",
            exc.errno) from exc


def _set_ambient(names: list[str], top: int) -> None:
    from cove.linux import libc as L

    try:
        L.prctl(L.PR_CAP_AMBIENT, L.PR_CAP_AMBIENT_CLEAR_ALL)
    except SyscallError as exc:
        raise SyscallError(f"clear the ambient capability set: {_strerror(exc.errno)}",
                           exc.errno) from exc
    for name in names:
        cap = CAPABILITIES[name]
        if cap > top:
            continue  # warned about by _mask for the permitted set already
        try:
            L.prctl(L.PR_CAP_AMBIENT, L.PR_CAP_AMBIENT_RAISE, cap)
        except SyscallError as exc:
            raise SyscallError(f"raise ambient capability {name}: {_strerror(exc.errno)} (it "
                               "must be in the permitted and inheritable sets)",
                               exc.errno) from exc


def _names(caps: Mapping[str, Any], set_name: str, field: str) -> list[str]:
    """The validated names of one set; a missing set is empty."""
    value = caps.get(set_name)
    if value is None:
        return []
    where = f"{field}.{set_name}"
    if not isinstance(value, list | tuple):
        raise InvalidArgument(f"{where}: must be a list of capability names, "
                              f"not {type(value).__name__}")
    for i, name in enumerate(value):
        if not isinstance(name, str):
            raise InvalidArgument(f"{where}[{i}]: must be a string, not {type(name).__name__}")
        if name not in CAPABILITIES:
            raise InvalidArgument(f'{where}[{i}]: unknown capability "{name}"{_hint(name)}')
    return list(value)


def _hint(name: str) -> str:
    guess = name.upper()
    if not guess.startswith("CAP_"):
        guess = "CAP_" + guess
    return f" (did you mean {guess}?)" if guess in CAPABILITIES else ""


def _mask(names: Iterable[str], top: int, set_name: str) -> int:
    """The bit mask of ``names``, leaving out (with a warning) what the kernel lacks."""
    mask = 0
    unknown = []
    for name in names:
        cap = CAPABILITIES[name]
        if cap > top:
            unknown.append(name)
        else:
            mask |= 1 << cap
    if unknown:
        _log.warning("process.capabilities.%s: the kernel does not know %s (last capability "
                     "%d); ignoring", set_name, ", ".join(unknown), top)
    return mask


def _is_mapping(value: object) -> bool:
    # Duck-typed: collections.abc costs an import on the runtime's hot path.
    return hasattr(value, "get") and hasattr(value, "keys")


def _strerror(err: int) -> str:
    return os.strerror(err)
