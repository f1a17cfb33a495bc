"""Device rules → writes to the v1 devices controller (devices.allow / devices.deny).

The v1 kernel keeps a default (allow or deny all) plus a list of exceptions
keyed by exact (type, major, minor). Writing "a" to devices.deny or
devices.allow resets the default and clears the list; any other rule written to
the file that disagrees with the default adds an exception, and one that agrees
removes the same-key exception's bits. So, starting from "deny a" and writing
the rules in order:

* identical-key rules and any-device resets follow last-match-wins exactly;
* a later, narrower rule that agrees with the default cannot carve a hole out
  of an earlier wildcard exception (deny "c 1:3 w" after allow "c *:* rwm"
  leaves 1:3 writable) — the kernel cannot express it. The v2 eBPF program has
  no such limit.

The kernel reads "a" as "everything" whatever follows it, so a partial rule of
type "a" ({"allow": false, "access": "m"}) is written as a "c" and a "b" rule.
"""

from __future__ import annotations

from cove.runtime.cgroups.devices import DeviceRule

ALLOW, DENY = "devices.allow", "devices.deny"


def _num(value: int | None) -> str:
    return "*" if value is None else str(value)


def compile_v1(rules: list[DeviceRule]) -> list[tuple[str, str]]:
    """The (file, line) writes, in order, that install ``rules`` on a v1 cgroup."""
    writes = [(DENY, "a")]
    for rule in rules:
        target = ALLOW if rule.allow else DENY
        if rule.is_any_device() and rule.access == "mrw":
            writes.append((target, "a"))
            continue
        for dev_type in ("c", "b") if rule.type == "a" else (rule.type,):
            writes.append((target, f"{dev_type} {_num(rule.major)}:{_num(rule.minor)} "
                                   f"{rule.access}"))
    return writes
