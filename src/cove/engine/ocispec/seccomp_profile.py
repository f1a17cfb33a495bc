"""The ``linux.seccomp`` object of a container: Cove's default profile, or the caller's.

Cove's default lives in ``seccomp_default.json`` (next to this module) in a
format of its own: groups of allowed syscalls, groups allowed only with a
capability, syscalls always refused, and a few argument rules. For one
container it becomes an OCI object for the host's architectures and the
container's effective capabilities: allowed syscalls return ALLOW, every other
syscall the file names fails with EPERM, and a syscall it does not name fails
with ENOSYS (libcs fall back from an "unimplemented" newer syscall, not from a
"forbidden" one).

``seccomp=<JSON>`` security options carry a profile's content (the docker CLI
reads the file). Both Docker's format (``archMap``, ``includes``/``excludes``
by capability, architecture and kernel version, ``name`` or ``names``) and a
plain OCI ``linux.seccomp`` object are accepted.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Collection, Mapping
from functools import cache
from importlib import resources
from typing import Any

from cove.errors import InvalidArgument, Unsupported

__all__ = ["custom_seccomp", "default_seccomp"]

_PROFILE = "seccomp_default.json"
# uname machine -> Go's GOARCH, which Docker profiles use in includes.arches.
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
           "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}
_NATIVE_SCMP = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}


@cache
def _profile_text() -> str:
    # Read once per process: the file is package data and never changes under us.
    return resources.files(__package__).joinpath(_PROFILE).read_text(encoding="utf-8")


def _errno(name: str) -> int:
    value = getattr(errno, name, None)
    if not isinstance(value, int):
        raise InvalidArgument(f"{_PROFILE}: unknown errno name {name}")
    return value


def default_seccomp(capabilities: Collection[str], machine: str) -> dict[str, Any]:
    """Cove's default profile for a container with these effective capabilities."""
    profile: dict[str, Any] = json.loads(_profile_text())
    archs = profile["architectures"].get(machine)
    if archs is None:
        raise Unsupported(f"the default seccomp profile has no architectures for host "
                          f"{machine}; run with seccomp=unconfined or give a profile")
    denied_errno = _errno(profile["deniedErrno"])
    allowed: list[str] = [n for names in profile["allow"].values() for n in names]
    refused: list[str] = list(profile["deny"])
    for cap, names in profile["allowWithCapability"].items():
        (allowed if cap in capabilities else refused).extend(names)
    allowed_set = set(allowed)

    entries: list[dict[str, Any]] = []
    ruled: set[str] = set()
    for rule in profile["argumentRules"]:
        name = rule["name"]
        unless = rule.get("unlessCapability")
        if unless is not None and unless in capabilities:
            continue
        ruled.add(name)
        entries.extend(_argument_rule(rule, name, denied_errno))
    allowed_set -= ruled
    refused_set = set(refused) - allowed_set - ruled
    # Stable order keeps generated specs diffable between daemon versions.
    if allowed_set:
        entries.insert(0, {"names": sorted(allowed_set), "action": "SCMP_ACT_ALLOW"})
    if refused_set:
        entries.append({"names": sorted(refused_set), "action": "SCMP_ACT_ERRNO",
                        "errnoRet": denied_errno})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": _errno(profile["defaultErrno"]),
        "architectures": list(archs),
        "syscalls": entries,
    }


def _argument_rule(rule: Mapping[str, Any], name: str,
                   denied_errno: int) -> list[dict[str, Any]]:
    fail = _errno(rule["errno"]) if "errno" in rule else denied_errno
    refuse = {"names": [name], "action": "SCMP_ACT_ERRNO", "errnoRet": fail}
    if "allowWhenMasked" in rule:
        cond = rule["allowWhenMasked"]
        arg = {"index": cond["index"], "value": cond["mask"], "valueTwo": cond["equals"],
               "op": "SCMP_CMP_MASKED_EQ"}
        return [{"names": [name], "action": "SCMP_ACT_ALLOW", "args": [arg]}, refuse]
    if "allowWhenEquals" in rule:
        cond = rule["allowWhenEquals"]
        out = [{"names": [name], "action": "SCMP_ACT_ALLOW",
                "args": [{"index": cond["index"], "value": v, "op": "SCMP_CMP_EQ"}]}
               for v in cond["values"]]
        return [*out, refuse]
    if "denyWhenMasked" in rule:
        cond = rule["denyWhenMasked"]
        refusals = [{**refuse, "args": [{"index": cond["index"], "value": cond["mask"],
                                         "valueTwo": v, "op": "SCMP_CMP_MASKED_EQ"}]}
                    for v in cond["values"]]
        return [*refusals, {"names": [name], "action": "SCMP_ACT_ALLOW"}]
    return [refuse]


def custom_seccomp(text: str, capabilities: Collection[str], machine: str,
                   field: str = "HostConfig.SecurityOpt") -> dict[str, Any]:
    """A ``seccomp=<JSON>`` profile (Docker's format or OCI's) as an OCI object, checked by
    Cove's compiler so a bad profile fails at create, not at start."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"invalid {field}: seccomp profile is not valid JSON: "
                              f"{exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"invalid {field}: seccomp profile must be a JSON object")
    spec = _from_docker_format(doc, capabilities, machine, field)
    from cove.linux.seccomp import compile_seccomp

    compile_seccomp(spec, field=f"{field} seccomp profile")
    return spec


def _from_docker_format(doc: dict[str, Any], capabilities: Collection[str], machine: str,
                        field: str) -> dict[str, Any]:
    out: dict[str, Any] = {k: doc[k] for k in ("defaultAction", "defaultErrnoRet", "flags",
                                               "listenerPath", "listenerMetadata")
                           if doc.get(k) is not None}
    if "defaultAction" not in out:
        raise InvalidArgument(f"invalid {field}: seccomp profile has no defaultAction")
    archs = list(doc.get("architectures") or [])
    arch_map = doc.get("archMap") or []
    if archs and arch_map:
        raise InvalidArgument(f"invalid {field}: seccomp profile: 'architectures' and "
                              "'archMap' were specified in the seccomp profile, use either "
                              "'architectures' or 'archMap'")
    native = _NATIVE_SCMP.get(machine)
    for item in arch_map if isinstance(arch_map, list) else ():
        if isinstance(item, dict) and item.get("architecture") == native:
            archs = [native, *(item.get("subArchitectures") or [])]
    if archs:
        out["architectures"] = archs
    goarch = _GOARCH.get(machine, machine)
    kernel = _kernel_version()
    syscalls = []
    for i, call in enumerate(doc.get("syscalls") or []):
        if not isinstance(call, dict):
            raise InvalidArgument(f"invalid {field}: seccomp profile syscalls[{i}] must be "
                                  "an object")
        if not _applies(call, capabilities, goarch, kernel):
            continue
        names = list(call.get("names") or [])
        if call.get("name"):
            if names:
                raise InvalidArgument(f"invalid {field}: seccomp profile syscalls[{i}]: "
                                      "use either 'name' or 'names'")
            names = [call["name"]]
        entry = {k: call[k] for k in ("action", "errnoRet", "args") if call.get(k) is not None}
        entry["names"] = names
        syscalls.append(entry)
    out["syscalls"] = syscalls
    return out


def _applies(call: Mapping[str, Any], capabilities: Collection[str], goarch: str,
             kernel: tuple[int, ...]) -> bool:
    inc = call.get("includes") or {}
    exc = call.get("excludes") or {}
    if inc.get("arches") and goarch not in inc["arches"]:
        return False
    if inc.get("caps") and not all(c in capabilities for c in inc["caps"]):
        return False
    if inc.get("minKernel") and kernel < _version_tuple(str(inc["minKernel"])):
        return False
    if exc.get("arches") and goarch in exc["arches"]:
        return False
    return not (exc.get("caps") and any(c in capabilities for c in exc["caps"]))


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("-")[0].split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _kernel_version() -> tuple[int, ...]:
    return _version_tuple(os.uname().release)
