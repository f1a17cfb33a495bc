"""config.json of the OCI runtime spec 1.2 (Linux), as a tree of checkers.

The tree mirrors schema/config-schema.json, config-linux.json, defs.json and
defs-linux.json field by field, so a reviewer can hold the two side by side.
Where a rule goes beyond the schema, a comment starting with ``SPEC:`` quotes
the spec's MUST/REQUIRED it enforces, and ``COVE:`` marks a value the spec
allows but this runtime does not support (config.md "Valid values": runtimes
MAY support a subset and MUST generate an error for unsupported values).
Rules that span sections (namespaces vs. mappings) live in
:mod:`cove.oci.runtime_config`.

Not here on purpose: syscall names (cove.linux.seccomp compiles them) and the
meaning of cgroup resources (cove.runtime.cgroups.validate_resources); only the
shape of those sections is checked.

Patterns are plain string tests rather than ``re``: faster, and they follow the
ECMA-262 meaning of ``$`` (end of input) that the schema was written for, where
Python's ``re`` would also accept a trailing newline.
"""

from __future__ import annotations

from cove.oci import spec_values as V
from cove.oci._checks import (
    Invalid,
    an_object,
    array,
    boolean,
    integer,
    map_of,
    obj,
    one_of,
    string,
    string_map,
    string_where,
    strings,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the CLI path
if TYPE_CHECKING:
    from typing import Final

_DIGITS: Final = frozenset("0123456789")
_UPPER: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SEMVER_ID_CHARS: Final = frozenset(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
_CPU_LIST_CHARS: Final = frozenset("0123456789, -")


# -- string formats --------------------------------------------------------------------------

def is_semver(text: str) -> bool:
    """SemVer 2.0.0: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], no leading zeros in numbers."""
    text, plus, build = text.partition("+")
    if plus and not _dotted_identifiers(build, numbers_canonical=False):
        return False
    text, dash, prerelease = text.partition("-")
    if dash and not _dotted_identifiers(prerelease, numbers_canonical=True):
        return False
    parts = text.split(".")
    return len(parts) == 3 and all(_is_canonical_number(p) for p in parts)


def _is_canonical_number(part: str) -> bool:
    return bool(part) and _DIGITS.issuperset(part) and (part == "0" or part[0] != "0")


def _dotted_identifiers(text: str, numbers_canonical: bool) -> bool:
    for ident in text.split("."):
        if not ident or not _SEMVER_ID_CHARS.issuperset(ident):
            return False
        # Pre-release numeric identifiers must not have leading zeros; build ones may.
        if numbers_canonical and _DIGITS.issuperset(ident) and not _is_canonical_number(ident):
            return False
    return True


def _is_rlimit_name(text: str) -> bool:  # ^RLIMIT_[A-Z]+$
    return len(text) > 7 and text.startswith("RLIMIT_") and _UPPER.issuperset(text[7:])


def _is_page_size(text: str) -> bool:  # ^[1-9][0-9]*[KMG]B$
    return (len(text) >= 3 and text[0] != "0" and _DIGITS.issuperset(text[:-2])
            and text[-2] in "KMG" and text[-1] == "B")


def _is_mem_bw_schema(text: str) -> bool:  # ^MB:[^\n]*$
    return text.startswith("MB:") and "\n" not in text


def _is_absolute(text: str) -> bool:
    return text.startswith("/")


# -- shared definitions (defs.json, defs-linux.json) -----------------------------------------

INT32: Final = integer(-(2**31), 2**31 - 1, "int32")
INT64: Final = integer(-(2**63), 2**63 - 1, "int64")
UINT16: Final = integer(0, 2**16 - 1, "uint16")
UINT32: Final = integer(0, 2**32 - 1, "uint32")
UINT64: Final = integer(0, 2**64 - 1, "uint64")
ANY_INTEGER: Final = integer(None, None, "")
FILE_MODE: Final = integer(0, 0o777, "a file mode")

SEMVER: Final = string_where(is_semver, "a SemVer 2.0.0 version (like 1.2.0)")
# SPEC: paths below "MUST be absolute"/"MUST be an absolute path" (schema: any string).
ABSOLUTE_PATH: Final = string_where(_is_absolute, "an absolute path")
ABSOLUTE_PATHS: Final = array(ABSOLUTE_PATH)

ID_MAPPING: Final = obj({"containerID": UINT32, "hostID": UINT32, "size": UINT32},
                        required=("containerID", "hostID", "size"))
ID_MAPPINGS: Final = array(ID_MAPPING)

HOOK: Final = obj({
    "path": ABSOLUTE_PATH,  # SPEC: "path MUST be absolute"
    "args": strings,
    "env": strings,
    "timeout": integer(1, None, "a hook timeout"),
}, required=("path",))


# -- top-level sections (config-schema.json) -------------------------------------------------

def _mount_mappings_paired(mount: dict[str, object], path: str) -> None:
    # SPEC: mount uidMappings "MUST be specified along with gidMappings" (and vice versa).
    has_uid, has_gid = "uidMappings" in mount, "gidMappings" in mount
    if has_uid != has_gid:
        missing = "gidMappings" if has_uid else "uidMappings"
        present = "uidMappings" if has_uid else "gidMappings"
        raise Invalid(f"{path}.{missing}", f"required when {present} is set")


MOUNT: Final = obj({
    # COVE: Linux allows deprecated relative destinations (taken relative to "/");
    # cove accepts only absolute ones, like mounts on every other platform.
    "destination": ABSOLUTE_PATH,
    "source": string,
    "options": strings,
    "type": string,
    "uidMappings": ID_MAPPINGS,
    "gidMappings": ID_MAPPINGS,
}, required=("destination",), post=_mount_mappings_paired)

ROOT: Final = obj({"path": string, "readonly": boolean}, required=("path",))

RLIMIT: Final = obj({
    "type": string_where(_is_rlimit_name, "a resource limit name (RLIMIT_[A-Z]+)"),
    "soft": UINT64,
    "hard": UINT64,
}, required=("type", "soft", "hard"))

CPU_LIST: Final = string_where(lambda s: _CPU_LIST_CHARS.issuperset(s),
                               'a CPU list (digits, ",", "-" and spaces, like "0-3,7")')

PROCESS: Final = obj({
    "terminal": boolean,
    "consoleSize": obj({"height": UINT64, "width": UINT64}, required=("height", "width")),
    "cwd": ABSOLUTE_PATH,  # SPEC: "This value MUST be an absolute path."
    "env": strings,
    # SPEC: "at least one entry is REQUIRED (non-Windows)".
    "args": array(string, min_items=1),
    "commandLine": string,
    "user": obj({
        "uid": UINT32,
        "gid": UINT32,
        "umask": UINT32,
        "additionalGids": array(UINT32),
        "username": string,
    }, required=("uid", "gid")),  # SPEC: POSIX user "uid (int, REQUIRED)", "gid (..REQUIRED)"
    # Capability names are not checked: the spec wants unknown ones logged, not refused.
    "capabilities": obj({name: strings for name in
                         ("bounding", "permitted", "effective", "inheritable", "ambient")}),
    "apparmorProfile": string,
    "oomScoreAdj": ANY_INTEGER,
    "selinuxLabel": string,
    "ioPriority": obj({
        "class": one_of("I/O priority class", V.IOPRIO_CLASSES),
        "priority": INT32,
    }, required=("class", "priority")),  # SPEC: "priority (int, REQUIRED)"
    "noNewPrivileges": boolean,
    "scheduler": obj({
        "policy": one_of("scheduler policy", V.SCHEDULER_POLICIES),
        "nice": INT32,
        "priority": INT32,
        "flags": array(one_of("scheduler flag", V.SCHEDULER_FLAGS)),
        "runtime": UINT64,
        "deadline": UINT64,
        "period": UINT64,
    }, required=("policy",)),
    # SPEC: "If rlimits contains duplicated entries with same type, the runtime MUST
    # generate an error."
    "rlimits": array(RLIMIT, unique="type", noun="resource limit"),
    "execCPUAffinity": obj({"initial": CPU_LIST, "final": CPU_LIST}),
}, required=("cwd", "args"))

HOOKS: Final = obj({name: array(HOOK) for name in V.HOOK_NAMES})


# -- linux (config-linux.json) ---------------------------------------------------------------

def _device_numbers_unless_fifo(device: dict[str, object], path: str) -> None:
    # SPEC: devices[] "major, minor (int64, REQUIRED unless type is p)".
    if device["type"] != "p":
        for field in ("major", "minor"):
            if field not in device:
                raise Invalid(f"{path}.{field}", 'required unless type is "p"')


DEVICE: Final = obj({
    "type": one_of("device type", V.DEVICE_TYPES),
    "path": ABSOLUTE_PATH,  # SPEC: "full path to device inside container"
    "fileMode": FILE_MODE,
    "major": INT64,
    "minor": INT64,
    "uid": UINT32,
    "gid": UINT32,
}, required=("type", "path"), post=_device_numbers_unless_fifo)

NAMESPACE: Final = obj({
    "type": one_of("namespace type", V.NAMESPACE_TYPES),
    "path": ABSOLUTE_PATH,  # SPEC: "This value MUST be an absolute path"
}, required=("type",))

_BLOCK_IO_THROTTLE: Final = array(obj({"major": INT64, "minor": INT64, "rate": UINT64},
                                      required=("major", "minor")))

RESOURCES: Final = obj({
    "unified": string_map(),
    "devices": array(obj({
        "allow": boolean,
        "type": string,
        "major": INT64,
        "minor": INT64,
        "access": string,
    }, required=("allow",))),
    "pids": obj({"limit": INT64}, required=("limit",)),
    "blockIO": obj({
        "weight": UINT16,
        "leafWeight": UINT16,
        "throttleReadBpsDevice": _BLOCK_IO_THROTTLE,
        "throttleWriteBpsDevice": _BLOCK_IO_THROTTLE,
        "throttleReadIOPSDevice": _BLOCK_IO_THROTTLE,
        "throttleWriteIOPSDevice": _BLOCK_IO_THROTTLE,
        "weightDevice": array(obj({
            "major": INT64,
            "minor": INT64,
            "weight": UINT16,
            "leafWeight": UINT16,
        }, required=("major", "minor"))),
    }),
    "cpu": obj({
        "cpus": string,
        "mems": string,
        "period": UINT64,
        "quota": INT64,
        "burst": UINT64,
        "realtimePeriod": UINT64,
        "realtimeRuntime": INT64,
        "shares": UINT64,
        "idle": INT64,
    }),
    "hugepageLimits": array(obj({
        "pageSize": string_where(_is_page_size, 'a huge page size (like "2MB" or "1GB")'),
        "limit": UINT64,
    }, required=("pageSize", "limit"))),
    "memory": obj({
        "kernel": INT64,
        "kernelTCP": INT64,
        "limit": INT64,
        "reservation": INT64,
        "swap": INT64,
        "swappiness": UINT64,
        "disableOOMKiller": boolean,
        "useHierarchy": boolean,
        "checkBeforeUpdate": boolean,
    }),
    "network": obj({
        "classID": UINT32,
        "priorities": array(obj({"name": string, "priority": UINT32},
                                required=("name", "priority"))),
    }),
    "rdma": map_of(obj({"hcaHandles": UINT32, "hcaObjects": UINT32})),
})


def _listener_metadata_needs_path(seccomp: dict[str, object], path: str) -> None:
    # SPEC: listenerMetadata "MUST NOT be set if listenerPath is not set".
    if "listenerMetadata" in seccomp and "listenerPath" not in seccomp:
        raise Invalid(f"{path}.listenerMetadata", "must not be set without listenerPath")


_SECCOMP_ACTION: Final = one_of("seccomp action", V.SECCOMP_ACTIONS)

SECCOMP: Final = obj({
    "defaultAction": _SECCOMP_ACTION,
    "defaultErrnoRet": UINT32,
    "flags": array(one_of("seccomp flag", V.SECCOMP_FLAGS)),
    "listenerPath": string,
    "listenerMetadata": string,
    "architectures": array(one_of("seccomp architecture", V.SECCOMP_ARCHS)),
    "syscalls": array(obj({
        "names": array(string, min_items=1),
        "action": _SECCOMP_ACTION,
        "errnoRet": UINT32,
        "args": array(obj({
            "index": UINT32,
            "value": UINT64,
            "valueTwo": UINT64,
            "op": one_of("seccomp operator", V.SECCOMP_OPERATORS),
        }, required=("index", "value", "op"))),
    }, required=("names", "action"))),
}, required=("defaultAction",), post=_listener_metadata_needs_path)

LINUX: Final = obj({
    "devices": array(DEVICE),
    "netDevices": map_of(obj({"name": string})),
    "uidMappings": ID_MAPPINGS,
    "gidMappings": ID_MAPPINGS,
    # SPEC: "If a namespaces field contains duplicated namespaces with same type, the
    # runtime MUST generate an error."
    "namespaces": array(NAMESPACE, unique="type", noun="namespace type"),
    "resources": RESOURCES,
    "cgroupsPath": string,
    "rootfsPropagation": one_of("rootfs propagation", V.ROOTFS_PROPAGATIONS),
    "seccomp": SECCOMP,
    "sysctl": string_map(),
    # SPEC: maskedPaths/readonlyPaths "The values MUST be absolute paths".
    "maskedPaths": ABSOLUTE_PATHS,
    "readonlyPaths": ABSOLUTE_PATHS,
    "mountLabel": string,
    "intelRdt": obj({
        "closID": string,
        "schemata": strings,
        "l3CacheSchema": string,
        "memBwSchema": string_where(_is_mem_bw_schema, 'a memory bandwidth schema ("MB:...", '
                                                       "one line)"),
        "enableMonitoring": boolean,
    }),
    "memoryPolicy": obj({
        "mode": one_of("memory policy mode", V.MEMORY_POLICY_MODES),
        "nodes": string,
        "flags": array(one_of("memory policy flag", V.MEMORY_POLICY_FLAGS)),
    }),
    # SPEC: personality "domain (string, REQUIRED)".
    "personality": obj({
        "domain": one_of("personality domain", V.PERSONALITY_DOMAINS),
        "flags": strings,
    }, required=("domain",)),
    # COVE: the schema leaves other clock names open; the kernel offsets only these two.
    "timeOffsets": map_of(obj({"secs": INT64, "nanosecs": UINT32}),
                          keys=V.TIME_NAMESPACE_CLOCKS, noun="time namespace clock"),
})


CONFIG: Final = obj({
    "ociVersion": SEMVER,  # SPEC: "MUST be in SemVer v2.0.0 format"
    "hooks": HOOKS,
    # SPEC: annotation "Keys MUST NOT be an empty string", "Values MUST be strings".
    "annotations": string_map(nonempty_keys=True),
    "hostname": string,
    "domainname": string,
    "mounts": array(MOUNT),
    "root": ROOT,
    "process": PROCESS,
    "linux": LINUX,
    # Other platforms' sections: a Linux runtime ignores their content.
    "solaris": an_object,
    "windows": an_object,
    "vm": an_object,
    "zos": an_object,
    "freebsd": an_object,
}, required=("ociVersion", "root"))  # SPEC: root "On all other platforms [than Windows],
                                     # this field is REQUIRED."
