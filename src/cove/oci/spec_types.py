"""Static types of config.json (OCI runtime spec 1.2, Linux) for code that reads it.

Import this module only for type checking, so it costs nothing at run time::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from cove.oci.spec_types import Spec

    spec = cast("Spec", load_config(bundle))

A dict that passed :func:`cove.oci.runtime_config.validate_config` has these
shapes (and may carry unknown keys, which the spec says to ignore). ``Required``
marks what the validator guarantees is present.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

NamespaceType = Literal["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"]


class IDMapping(TypedDict):
    containerID: int
    hostID: int
    size: int


class Hook(TypedDict, total=False):
    path: Required[str]
    args: list[str]
    env: list[str]
    timeout: int


class Hooks(TypedDict, total=False):
    prestart: list[Hook]
    createRuntime: list[Hook]
    createContainer: list[Hook]
    startContainer: list[Hook]
    poststart: list[Hook]
    poststop: list[Hook]


class Mount(TypedDict, total=False):
    destination: Required[str]
    source: str
    options: list[str]
    type: str
    uidMappings: list[IDMapping]
    gidMappings: list[IDMapping]


class Root(TypedDict, total=False):
    path: Required[str]
    readonly: bool


class User(TypedDict, total=False):
    uid: Required[int]
    gid: Required[int]
    umask: int
    additionalGids: list[int]
    username: str


class Capabilities(TypedDict, total=False):
    bounding: list[str]
    effective: list[str]
    inheritable: list[str]
    permitted: list[str]
    ambient: list[str]


class Rlimit(TypedDict):
    type: str
    soft: int
    hard: int


class ConsoleSize(TypedDict):
    height: int
    width: int


# "class" is a keyword, so only the functional syntax can spell this one.
IOPriority = TypedDict("IOPriority", {"class": str, "priority": int})


class Scheduler(TypedDict, total=False):
    policy: Required[str]
    nice: int
    priority: int
    flags: list[str]
    runtime: int
    deadline: int
    period: int


class ExecCPUAffinity(TypedDict, total=False):
    initial: str
    final: str


class Process(TypedDict, total=False):
    terminal: bool
    consoleSize: ConsoleSize
    cwd: Required[str]
    env: list[str]
    args: Required[list[str]]
    commandLine: str
    user: User
    capabilities: Capabilities
    apparmorProfile: str
    oomScoreAdj: int
    selinuxLabel: str
    ioPriority: IOPriority
    noNewPrivileges: bool
    scheduler: Scheduler
    rlimits: list[Rlimit]
    execCPUAffinity: ExecCPUAffinity


class Namespace(TypedDict, total=False):
    type: Required[NamespaceType]
    path: str


class Device(TypedDict, total=False):
    type: Required[Literal["b", "c", "p", "u"]]
    path: Required[str]
    fileMode: int
    major: int
    minor: int
    uid: int
    gid: int


class SyscallArg(TypedDict, total=False):
    index: Required[int]
    value: Required[int]
    valueTwo: int
    op: Required[str]


class Syscall(TypedDict, total=False):
    names: Required[list[str]]
    action: Required[str]
    errnoRet: int
    args: list[SyscallArg]


class Seccomp(TypedDict, total=False):
    defaultAction: Required[str]
    defaultErrnoRet: int
    flags: list[str]
    listenerPath: str
    listenerMetadata: str
    architectures: list[str]
    syscalls: list[Syscall]


class TimeOffset(TypedDict, total=False):
    secs: int
    nanosecs: int


class TimeOffsets(TypedDict, total=False):
    boottime: TimeOffset
    monotonic: TimeOffset


class IntelRdt(TypedDict, total=False):
    closID: str
    schemata: list[str]
    l3CacheSchema: str
    memBwSchema: str
    enableMonitoring: bool


class MemoryPolicy(TypedDict, total=False):
    mode: str
    nodes: str
    flags: list[str]


class Personality(TypedDict, total=False):
    domain: Required[Literal["LINUX", "LINUX32"]]
    flags: list[str]


class NetDevice(TypedDict, total=False):
    name: str


class Linux(TypedDict, total=False):
    devices: list[Device]
    netDevices: dict[str, NetDevice]
    uidMappings: list[IDMapping]
    gidMappings: list[IDMapping]
    namespaces: list[Namespace]
    # The cgroup resources are interpreted by cove.runtime.cgroups, which owns their
    # types; here they stay an open mapping.
    resources: dict[str, object]
    cgroupsPath: str
    rootfsPropagation: Literal["private", "shared", "slave", "unbindable"]
    seccomp: Seccomp
    sysctl: dict[str, str]
    maskedPaths: list[str]
    readonlyPaths: list[str]
    mountLabel: str
    intelRdt: IntelRdt
    memoryPolicy: MemoryPolicy
    personality: Personality
    timeOffsets: TimeOffsets


class Spec(TypedDict, total=False):
    ociVersion: Required[str]
    hooks: Hooks
    annotations: dict[str, str]
    hostname: str
    domainname: str
    mounts: list[Mount]
    root: Required[Root]
    process: Process
    linux: Linux
