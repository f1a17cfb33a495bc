"""OCI device-cgroup rules, normalised, with the one semantic both backends implement.

Semantic (OCI config-linux "Allowed Device Paths", applied in listed order):
start from *deny everything*; for an access to device (type, major, minor) with
access bit b (r, w or m), the **last** rule that matches the device and names
b decides. An access asking for several bits (open O_RDWR asks r and w) is
allowed only if every bit is.

The cgroup v2 eBPF program (:mod:`devices_bpf`) implements exactly this. The
cgroup v1 kernel list (:mod:`devices_v1`) can only approximate it when rules
overlap without being identical (it keeps a default plus exact-key
exceptions); see there.

Rules are validated before they get here (:mod:`validate`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

ACCESS_BITS = "mrw"  # in the order of the kernel's BPF_DEVCG_ACC_{MKNOD,READ,WRITE}
WILDCARD = None


class DeviceRule:
    __slots__ = ("access", "allow", "major", "minor", "type")

    def __init__(self, allow: bool, type: str = "a", major: int | None = None,
                 minor: int | None = None, access: str = "rwm") -> None:
        self.allow = allow
        self.type = type  # "a" (any), "b" or "c"
        self.major = major  # None: any
        self.minor = minor
        self.access = "".join(c for c in ACCESS_BITS if c in access)

    def matches(self, dev_type: str, major: int, minor: int) -> bool:
        return (self.type in ("a", dev_type)
                and (self.major is None or self.major == major)
                and (self.minor is None or self.minor == minor))

    def is_any_device(self) -> bool:
        return self.type == "a" and self.major is None and self.minor is None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DeviceRule) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[bool, str, int | None, int | None, str]:
        return (self.allow, self.type, self.major, self.minor, self.access)

    def __repr__(self) -> str:
        maj = "*" if self.major is None else self.major
        mnr = "*" if self.minor is None else self.minor
        return f"{'allow' if self.allow else 'deny'} {self.type} {maj}:{mnr} {self.access}"


def _number(value: Any) -> int | None:
    return None if value is None or value == -1 else int(value)


def normalize(rules: Iterable[Mapping[str, Any]]) -> list[DeviceRule]:
    """OCI rule objects → :class:`DeviceRule`; absent type is "a", access "rwm", -1 is any."""
    out = []
    for r in rules:
        access = r.get("access")
        out.append(DeviceRule(bool(r["allow"]), r.get("type") or "a", _number(r.get("major")),
                              _number(r.get("minor")), "rwm" if access is None else access))
    return out


def allowed(rules: list[DeviceRule], dev_type: str, major: int, minor: int,
            access: str) -> bool:
    """The reference semantic: may this access happen under ``rules``?"""
    for bit in access:
        decision = False
        for rule in rules:
            if bit in rule.access and rule.matches(dev_type, major, minor):
                decision = rule.allow
        if not decision:
            return False
    return True


def per_bit(rules: list[DeviceRule]) -> dict[str, tuple[bool, list[DeviceRule]]]:
    """For each access bit: (default decision, rules that can override it, last first).

    A rule matching every device for bit b makes all earlier rules for b
    irrelevant and becomes b's default; only the rules after it remain. This
    keeps the typical "deny all, then allow a few" list from costing one test
    per rule per bit for the deny-all.
    """
    out: dict[str, tuple[bool, list[DeviceRule]]] = {}
    for bit in ACCESS_BITS:
        default = False
        relevant: list[DeviceRule] = []
        for rule in rules:
            if bit not in rule.access:
                continue
            if rule.is_any_device():
                default, relevant = rule.allow, []
            else:
                relevant.append(rule)
        relevant.reverse()
        # Checked last-first, the earliest rules decide only if nothing later
        # matched; one that agrees with the default changes nothing.
        while relevant and relevant[-1].allow == default:
            relevant.pop()
        out[bit] = (default, relevant)
    return out


def default_device_rules() -> list[dict[str, Any]]:
    """Allow rules for the devices the OCI spec says every container has.

    /dev/null, zero, full, random, urandom, tty, console, ptmx and the devpts
    ptys. A runtime core that applies a config's rules verbatim appends these
    (as runc does) so a "deny all" list still leaves the container usable.
    """
    chars = [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2)]
    rules: list[dict[str, Any]] = [
        {"allow": True, "type": "c", "major": maj, "minor": mnr, "access": "rwm"}
        for maj, mnr in chars]
    rules.append({"allow": True, "type": "c", "major": 136, "access": "rwm"})  # /dev/pts/*
    return rules
