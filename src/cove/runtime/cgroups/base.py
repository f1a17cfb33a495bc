"""Behaviour shared by the v1 and v2 managers: membership, signalling, removal.

A subclass says which directories it owns (``_targets``), which one lists the
processes (``_procs_dir``) and how it freezes; everything else is here.
"""

from __future__ import annotations

import os
import time

from cove.errors import CoveError, FailedPrecondition, SyscallError
from cove.lazylog import get_logger
from cove.runtime.cgroups import fs

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ms
if TYPE_CHECKING:
    from collections.abc import Callable

log = get_logger(__name__)

FREEZE_TIMEOUT = 5.0  # seconds for a freeze to settle before giving up (and thawing)
DESTROY_TIMEOUT = 2.0  # seconds of EBUSY retries while the last processes exit


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> None:
    """Poll ``check()`` with a growing sleep until it is true, or raise after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while not check():
        if time.monotonic() >= deadline:
            raise FailedPrecondition(f"{what}: not done after {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def signal_pids(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass  # exited between listing and signalling
        except OSError as exc:
            raise SyscallError(f"kill pid {pid} with signal {sig}: {exc.strerror}",
                               exc.errno or 0) from exc


class ManagerBase:
    """Template for a cgroup manager; see :class:`cove.runtime.cgroups.CgroupManager`."""

    def _targets(self) -> list[tuple[str, str]]:
        """(hierarchy mount point, this cgroup's directory in it) for every hierarchy."""
        raise NotImplementedError

    def _procs_dir(self) -> str | None:
        """The directory whose cgroup.procs (recursively) lists the processes."""
        raise NotImplementedError

    def _can_freeze(self) -> bool:
        raise NotImplementedError

    def _kill_whole_cgroup(self, sig: int) -> bool:
        """Signal everything in one kernel operation if the layout can; True if done."""
        return False

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def frozen(self) -> bool:
        raise NotImplementedError

    def create(self) -> None:
        for base, d in self._targets():
            fs.make_dirs(base, d)

    def add(self, pid: int) -> None:
        for _, d in self._targets():
            fs.write(os.path.join(d, "cgroup.procs"), str(pid))

    def exists(self) -> bool:
        return any(os.path.isdir(d) for _, d in self._targets())

    def pids(self) -> list[int]:
        d = self._procs_dir()
        return sorted(set(fs.procs_recursive(d))) if d else []

    def kill_all(self, sig: int) -> None:
        """Signal every process; frozen meanwhile so that none forks past the list.

        The freezer state is restored afterwards: a paused container stays
        paused (a SIGKILL then lands when it is thawed).
        """
        if not self.exists() or self._kill_whole_cgroup(sig):
            return
        froze = False
        if self._can_freeze() and not self.frozen():
            try:
                self.freeze()
                froze = True
            except CoveError as exc:
                log.warning("kill_all: could not freeze first, signalling anyway: %s", exc)
        try:
            signal_pids(self.pids(), sig)
        finally:
            if froze:
                self.thaw()

    def destroy(self) -> None:
        for base, d in self._targets():
            fs.remove_tree(d, DESTROY_TIMEOUT)
            fs.remove_created_parents(base, d)
