"""Closed value sets of the OCI runtime spec 1.2 (enums of the schema, names of the features doc).

Shared by the config validator (what is accepted) and the ``features`` document
(what is advertised), so the two cannot drift apart. Tuples, sorted where the
order carries no meaning, so error messages and ``features`` output are stable.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms on the CLI path
if TYPE_CHECKING:
    from typing import Final

OCI_VERSION: Final = "1.2.0"
OCI_VERSION_MIN: Final = "1.0.0"

NAMESPACE_TYPES: Final = ("cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts")

# In the order the lifecycle runs them (config.md "POSIX-platform Hooks").
HOOK_NAMES: Final = ("prestart", "createRuntime", "createContainer", "startContainer",
                     "poststart", "poststop")

ROOTFS_PROPAGATIONS: Final = ("private", "shared", "slave", "unbindable")
DEVICE_TYPES: Final = ("b", "c", "p", "u")
IOPRIO_CLASSES: Final = ("IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE", "IOPRIO_CLASS_RT")
SCHEDULER_POLICIES: Final = ("SCHED_BATCH", "SCHED_DEADLINE", "SCHED_FIFO", "SCHED_IDLE",
                             "SCHED_ISO", "SCHED_OTHER", "SCHED_RR")
SCHEDULER_FLAGS: Final = ("SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_KEEP_PARAMS",
                          "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_RECLAIM",
                          "SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_UTIL_CLAMP_MAX",
                          "SCHED_FLAG_UTIL_CLAMP_MIN")
MEMORY_POLICY_MODES: Final = ("MPOL_BIND", "MPOL_DEFAULT", "MPOL_INTERLEAVE", "MPOL_LOCAL",
                              "MPOL_PREFERRED", "MPOL_PREFERRED_MANY",
                              "MPOL_WEIGHTED_INTERLEAVE")
MEMORY_POLICY_FLAGS: Final = ("MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES",
                              "MPOL_F_STATIC_NODES")
PERSONALITY_DOMAINS: Final = ("LINUX", "LINUX32")
# The clocks a time namespace can offset (time_namespaces(7)).
TIME_NAMESPACE_CLOCKS: Final = ("boottime", "monotonic")

SECCOMP_ACTIONS: Final = ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                          "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                          "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP")
SECCOMP_OPERATORS: Final = ("SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                            "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE")
SECCOMP_ARCHS: Final = ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_LOONGARCH64",
                        "SCMP_ARCH_M68K", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
                        "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
                        "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
                        "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE",
                        "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
                        "SCMP_ARCH_SH", "SCMP_ARCH_SHEB", "SCMP_ARCH_X32", "SCMP_ARCH_X86",
                        "SCMP_ARCH_X86_64")
SECCOMP_FLAGS: Final = ("SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")

# capabilities(7), in kernel number order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40).
CAPABILITIES: Final = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

# The option strings of config.md "Linux mount options" the runtime interprets itself
# (anything else is passed to mount(2) as filesystem data, which features must not list).
# Mirrors cove.runtime.mount_options (a unit test keeps them equal); the spec's SHOULD
# option "symfollow" is absent because the runtime does not interpret it yet.
MOUNT_OPTIONS: Final = (
    "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap",
    "iversion", "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec",
    "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
    "nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount",
    "rexec", "ridmap", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime",
    "rnostrictatime", "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw",
    "rshared", "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
    "silent", "slave", "strictatime", "suid", "sync", "tmpcopyup", "unbindable",
)
