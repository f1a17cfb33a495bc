"""Turn the current (container) process into the configured one, then exec it.

Shared by the container's init and by ``exec``: resource limits, the user and
its groups, capabilities, no_new_privs, seccomp, cwd, and the final execve.
Order matters and follows the kernel's rules: limits and the bounding set
need privileges we drop later; seccomp without no_new_privs needs
CAP_SYS_ADMIN, so it goes in before the capabilities are reduced.
"""

from __future__ import annotations

import errno
import os
import resource

from cove.errors import CoveError, InvalidArgument
from cove.linux import libc as L

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Final

RLIMITS: Final[dict[str, int]] = {
    "RLIMIT_AS": resource.RLIMIT_AS, "RLIMIT_CORE": resource.RLIMIT_CORE,
    "RLIMIT_CPU": resource.RLIMIT_CPU, "RLIMIT_DATA": resource.RLIMIT_DATA,
    "RLIMIT_FSIZE": resource.RLIMIT_FSIZE, "RLIMIT_LOCKS": 10,
    "RLIMIT_MEMLOCK": resource.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": resource.RLIMIT_MSGQUEUE,
    "RLIMIT_NICE": resource.RLIMIT_NICE, "RLIMIT_NOFILE": resource.RLIMIT_NOFILE,
    "RLIMIT_NPROC": resource.RLIMIT_NPROC, "RLIMIT_RSS": resource.RLIMIT_RSS,
    "RLIMIT_RTPRIO": resource.RLIMIT_RTPRIO, "RLIMIT_RTTIME": resource.RLIMIT_RTTIME,
    "RLIMIT_SIGPENDING": resource.RLIMIT_SIGPENDING, "RLIMIT_STACK": resource.RLIMIT_STACK,
}
_RLIM_MAX: Final = 2**64 - 1


class ProcessSetupError(CoveError):
    """The container process could not be configured as asked."""


def validate_rlimits(rlimits: Any, field: str = "process.rlimits") -> None:
    seen: set[str] = set()
    for i, rl in enumerate(rlimits or []):
        kind = rl.get("type")
        if kind not in RLIMITS:
            raise InvalidArgument(f"{field}[{i}].type: unknown resource limit {kind!r}")
        if kind in seen:
            raise InvalidArgument(f"{field}[{i}].type: duplicate resource limit {kind}")
        seen.add(kind)
        if int(rl["soft"]) > int(rl["hard"]):
            raise InvalidArgument(f"{field}[{i}]: soft limit {rl['soft']} exceeds hard "
                                  f"limit {rl['hard']}")


def set_rlimits(rlimits: Any) -> None:
    for rl in rlimits or []:
        soft = min(int(rl["soft"]), _RLIM_MAX)
        hard = min(int(rl["hard"]), _RLIM_MAX)
        soft = resource.RLIM_INFINITY if soft == _RLIM_MAX else soft
        hard = resource.RLIM_INFINITY if hard == _RLIM_MAX else hard
        try:
            resource.setrlimit(RLIMITS[rl["type"]], (soft, hard))
        except (ValueError, OSError) as exc:
            raise ProcessSetupError(f"setrlimit {rl['type']} soft={rl['soft']} "
                                    f"hard={rl['hard']}: {exc}") from exc


def set_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as exc:
        raise ProcessSetupError(f"set oomScoreAdj {value}: {exc.strerror}") from exc


def lookup_executable(arg0: str, env: list[str]) -> str:
    """Resolve argv[0] with the container's PATH, as execvp would, inside the container."""
    if "/" in arg0:
        if not os.path.exists(arg0):
            raise ProcessSetupError(f'exec: "{arg0}": no such file or directory')
        return arg0
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    for entry in env:
        if entry.startswith("PATH="):
            path = entry[5:]
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", arg0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise ProcessSetupError(f'exec: "{arg0}": executable file not found in $PATH')


class UserSpec:
    def __init__(self, uid: int = 0, gid: int = 0, additional_gids: tuple[int, ...] = (),
                 umask: int | None = None) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids = additional_gids
        self.umask = umask

    @classmethod
    def from_config(cls, user: Mapping[str, Any] | None) -> UserSpec:
        user = user or {}
        return cls(uid=int(user.get("uid", 0)), gid=int(user.get("gid", 0)),
                   additional_gids=tuple(int(g) for g in user.get("additionalGids") or ()),
                   umask=user.get("umask"))


def switch_user(user: UserSpec, capabilities: Mapping[str, Any] | None) -> None:
    """Groups, gid, uid, then the capability sets; keeps caps across the uid change."""
    from cove.linux import capabilities as caps

    caps.drop_bounding(capabilities)
    L.prctl(L.PR_SET_KEEPCAPS, 1)
    try:
        os.setgroups(list(user.additional_gids))
    except OSError as exc:
        # setgroups is denied in a user namespace with setgroups=deny; only an error
        # if groups were actually asked for.
        if user.additional_gids or exc.errno != errno.EPERM:
            raise ProcessSetupError(f"setgroups {list(user.additional_gids)}: "
                                    f"{exc.strerror}") from exc
    try:
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
    except OSError as exc:
        raise ProcessSetupError(f"set user {user.uid}:{user.gid}: {exc.strerror}") from exc
    L.prctl(L.PR_SET_KEEPCAPS, 0)
    caps.apply_capabilities(capabilities)
    if user.umask is not None:
        os.umask(int(user.umask))


def enter_cwd(cwd: str) -> None:
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise ProcessSetupError(f"chdir to cwd ({cwd!r}) set in config.json failed: "
                                f"{exc.strerror}") from exc
    # A cwd reached through a leaked host fd shows as unreachable (CVE-2024-21626).
    try:
        here = os.getcwd()
    except OSError as exc:
        raise ProcessSetupError(f"current working directory {cwd!r} is outside the container"
                                ) from exc
    if not here.startswith("/"):
        raise ProcessSetupError(f"current working directory {cwd!r} is outside the container")


def close_inherited_fds(keep_upto: int) -> None:
    """Mark every fd above ``keep_upto`` close-on-exec: nothing of the host leaks in."""
    try:
        L.close_range(keep_upto + 1, 0xFFFFFFFF, L.CLOSE_RANGE_CLOEXEC)
    except CoveError:
        import fcntl

        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd > keep_upto:
                try:
                    fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
                except OSError:
                    pass


def exec_process(path: str, args: list[str], env: list[str]) -> None:
    environ = {}
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep:
            environ[key] = value
    os.execve(path, args, environ)


def prepare(proc: Mapping[str, Any], seccomp_prog: Any, preserve_fds: int,
            install_seccomp: Callable[[], None]) -> str:
    """Configure this process as ``proc`` asks, up to (not including) the exec.

    Returns the resolved executable. Seccomp goes in here only without
    no_new_privs (it then needs CAP_SYS_ADMIN, which is about to be dropped);
    with no_new_privs, :func:`launch` installs it as late as possible.
    """
    set_oom_score_adj(proc.get("oomScoreAdj"))
    set_rlimits(proc.get("rlimits"))
    if proc.get("noNewPrivileges"):
        L.prctl(L.PR_SET_NO_NEW_PRIVS, 1)
    elif seccomp_prog is not None:
        install_seccomp()
    close_inherited_fds(2 + preserve_fds)
    switch_user(UserSpec.from_config(proc.get("user")), proc.get("capabilities"))
    enter_cwd(proc.get("cwd") or "/")
    args = list(proc.get("args") or [])
    if not args:
        raise ProcessSetupError("process.args: no program to run")
    return lookup_executable(args[0], list(proc.get("env") or []))


def launch(path: str, proc: Mapping[str, Any], seccomp_prog: Any,
           install_seccomp: Callable[[], None]) -> None:
    if seccomp_prog is not None and proc.get("noNewPrivileges"):
        install_seccomp()
    exec_process(path, list(proc["args"]), list(proc.get("env") or []))
