"""Docker's capability math: the default set, CapAdd/CapDrop, "ALL", Privileged."""

from __future__ import annotations

from collections.abc import Iterable

from cove.errors import FailedPrecondition, InvalidArgument
from cove.linux.capabilities import CAPABILITIES

__all__ = ["DEFAULT_CAPABILITIES", "all_capabilities", "container_capabilities",
           "normalize_capabilities"]

# Docker's default set (moby's caps.DefaultCapabilities), in bit order.
DEFAULT_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT",
    "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP",
)
_ALL = "ALL"


def all_capabilities(cap_last_cap: int, bounding: int | None = None) -> list[str]:
    """Every capability the host kernel knows (and, given the daemon's ``bounding`` mask,
    the daemon holds), in bit order."""
    return [name for name, bit in sorted(CAPABILITIES.items(), key=lambda kv: kv[1])
            if bit <= cap_last_cap and (bounding is None or bounding >> bit & 1)]


def normalize_capabilities(names: Iterable[str], field_name: str) -> list[str]:
    """Upper-case, ``CAP_`` prefix added, ``ALL`` kept; unknown names raise Docker's
    ``invalid CapAdd: unknown capability: "CAP_FOO"``."""
    out: list[str] = []
    for raw in names:
        name = raw.strip().upper()
        if name == _ALL:
            out.append(_ALL)
            continue
        if not name.startswith("CAP_"):
            name = "CAP_" + name
        if name not in CAPABILITIES:
            raise InvalidArgument(f'invalid {field_name}: unknown capability: "{name}"')
        out.append(name)
    return list(dict.fromkeys(out))


def container_capabilities(cap_add: Iterable[str], cap_drop: Iterable[str], *,
                           privileged: bool, cap_last_cap: int,
                           bounding: int | None = None) -> list[str]:
    """The bounding/effective/permitted set of a container, as Docker computes it.

    Privileged: everything. ALL in CapAdd: everything but CapDrop. ALL in CapDrop:
    only CapAdd. Otherwise the defaults minus CapDrop plus CapAdd. "Everything" is
    what the kernel knows (``cap_last_cap``) and the daemon holds (``bounding``, its
    own bounding set): nobody can hand out more. A capability named in CapAdd that
    the daemon lacks is an error (``FailedPrecondition``), not silently left out.
    """
    adds = normalize_capabilities(cap_add, "CapAdd")
    drops = normalize_capabilities(cap_drop, "CapDrop")
    everything = all_capabilities(cap_last_cap, bounding)
    if privileged:
        return everything
    if _ALL in adds:
        caps = [c for c in everything if c not in drops]
    elif _ALL in drops:
        caps = [c for c in adds if c != _ALL]
    else:
        caps = [c for c in DEFAULT_CAPABILITIES if c not in drops]
        caps += [c for c in adds if c not in caps]
    known = set(everything)
    for cap in caps:
        if cap not in known and cap in adds and CAPABILITIES[cap] <= cap_last_cap:
            raise FailedPrecondition(f"invalid CapAdd: {cap} is not in the daemon's "
                                     "bounding set, so no container can have it")
    return sorted((c for c in caps if c in known), key=CAPABILITIES.__getitem__)
