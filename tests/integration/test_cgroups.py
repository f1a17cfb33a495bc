"""The cgroup managers against the real kernel (root).

Every test works below its own ``/cove-test-<random>`` cgroup, kills what it
forked and removes the directories in a fixture, on failure too; the fixture
then asserts that nothing is left in any hierarchy.

This host is hybrid (v1 controllers + a controller-less cgroup2 at
/sys/fs/cgroup/unified), so the v1 manager is tested with resources, and the v2
manager on the unified mount for what works without controllers: membership,
freeze, cgroup.kill, process listing and the eBPF device program. The v2
resource files are written against a fake cgroupfs tree instead (the kernel
has no controller there to accept them); on a pure-v2 host the v2 manager
tests run against the real root.
"""

from __future__ import annotations

import errno
import json
import mmap
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cove.errors import FailedPrecondition, InvalidArgument, Unsupported
from cove.runtime import cgroups
from cove.runtime.cgroups import devices_bpf, fs
from cove.runtime.cgroups.detect import detect
from cove.runtime.cgroups.v1 import V1Manager
from cove.runtime.cgroups.v2 import V2Manager
from tests.helpers import RUNTIME_BIN, base_config, write_bundle

ROOT = "/sys/fs/cgroup"
LAYOUT = detect(ROOT)
V1 = LAYOUT.mode in ("v1", "hybrid")
needs_v1 = pytest.mark.skipif(not V1, reason="host has no cgroup v1 hierarchies")
MiB = 1 << 20


def _v2_root() -> str | None:
    if LAYOUT.mode == "v2" or LAYOUT.unified is not None:
        assert LAYOUT.unified is not None
        return LAYOUT.unified.mountpoint
    return None


V2_ROOT = _v2_root()
needs_v2 = pytest.mark.skipif(V2_ROOT is None, reason="host has no cgroup2 hierarchy")


def _hierarchy_mounts() -> list[str]:
    mounts = [h.mountpoint for h in LAYOUT.v1]
    if LAYOUT.unified is not None:
        mounts.append(LAYOUT.unified.mountpoint)
    return mounts


def _force_remove(top: str) -> None:
    """Last-resort cleanup that does not trust the code under test."""
    for mount in _hierarchy_mounts():
        path = os.path.join(mount, top.lstrip("/"))
        for d in fs.subtree(path, bottom_up=True):
            for pid in fs.procs(d):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


class Children:
    """Forked children that start their body only once the test has put them in a cgroup."""

    def __init__(self) -> None:
        self.pids: list[int] = []

    def spawn(self, body: Callable[[], str]) -> Child:
        child = Child(body)
        self.pids.append(child.pid)
        return child

    def reap_all(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


class Child:
    def __init__(self, body: Callable[[], str]) -> None:
        go_r, self._go = os.pipe()
        self._out, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                os.close(self._go)
                os.close(self._out)
                os.read(go_r, 1)
                os.write(out_w, body().encode())
            except BaseException as exc:
                os.write(out_w, f"error: {exc!r}".encode())
                code = 1
            finally:
                os._exit(code)
        os.close(go_r)
        os.close(out_w)
        self.pid = pid
        self.status: int | None = None

    def go(self) -> None:
        os.write(self._go, b"g")
        os.close(self._go)

    def result(self, timeout: float = 10) -> str:
        """What the body returned (read until the child closes its end)."""
        deadline = time.monotonic() + timeout
        os.set_blocking(self._out, False)
        data = b""
        while time.monotonic() < deadline:
            try:
                chunk = os.read(self._out, 4096)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            if not chunk:
                break
            data += chunk
        return data.decode()

    def wait(self) -> int:
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status


@pytest.fixture
def children() -> Iterator[Children]:
    kids = Children()
    try:
        yield kids
    finally:
        kids.reap_all()


@pytest.fixture
def top() -> Iterator[str]:
    """A unique top-level cgroup name; asserts nothing is left below it afterwards."""
    name = f"/cove-test-{secrets.token_hex(4)}"
    yield name
    left = [os.path.join(m, name.lstrip("/")) for m in _hierarchy_mounts()
            if os.path.exists(os.path.join(m, name.lstrip("/")))]
    _force_remove(name)
    assert not left, f"cgroup directories left behind: {left}"


def _cleanup(m: cgroups.CgroupManager) -> None:
    try:
        m.thaw()
    except Exception:
        pass
    m.kill_all(signal.SIGKILL)
    m.destroy()


@pytest.fixture
def v1(top: str) -> Iterator[V1Manager]:
    if not V1:
        pytest.skip("host has no cgroup v1 hierarchies")
    m = cgroups.open_manager(f"{top}/c", "unused")
    assert isinstance(m, V1Manager)
    try:
        yield m
    finally:
        _cleanup(m)


@pytest.fixture
def v2(top: str) -> Iterator[V2Manager]:
    if V2_ROOT is None:
        pytest.skip("host has no cgroup2 hierarchy")
    m = cgroups.open_manager(f"{top}/c", "unused", root=V2_ROOT)
    assert isinstance(m, V2Manager)
    try:
        yield m
    finally:
        _cleanup(m)


def _sleeper() -> str:
    time.sleep(60)
    return "woke"


def _read(path: str) -> str:
    return Path(path).read_text().strip()


def _open_results(paths: list[tuple[str, int]]) -> str:
    out = []
    for path, flags in paths:
        try:
            os.close(os.open(path, flags))
            out.append("ok")
        except OSError as exc:
            out.append(errno.errorcode[exc.errno or 0])
    return " ".join(out)


# --- v1 (and hybrid) -------------------------------------------------------------------------

@needs_v1
def test_create_add_paths_stats_destroy(v1: V1Manager, top: str, children: Children) -> None:
    v1.create()
    paths = v1.paths()
    assert {"memory", "pids", "freezer", "devices", "cpu"} <= set(paths)
    assert all(os.path.isdir(d) for d in paths.values())
    assert v1.exists()
    child = children.spawn(_sleeper)
    v1.add(child.pid)
    own = _read(f"/proc/{child.pid}/cgroup")
    for line in own.splitlines():
        _, ctrls, path = line.split(":", 2)
        assert path == f"{top}/c", line  # joined in every hierarchy, unified included
    assert v1.pids() == [child.pid]
    stats = v1.stats()
    assert stats["pids"] == {"current": 1, "limit": None}
    assert stats["memory"]["limit"] is None
    binds = dict((name, d) for d, name in v1.v1_mount_binds())
    assert binds["memory"] == paths["memory"] and binds["systemd"] == paths["name=systemd"]
    v1.kill_all(signal.SIGKILL)
    assert os.WTERMSIG(child.wait()) == signal.SIGKILL
    v1.destroy()
    assert not v1.exists()
    assert not any(os.path.exists(os.path.join(m, top.lstrip("/"))) for m in _hierarchy_mounts())
    v1.destroy()  # idempotent


@needs_v1
def test_memory_limit_read_back_and_enforced(v1: V1Manager, children: Children) -> None:
    v1.create()
    v1.set({"memory": {"limit": 32 * MiB, "swap": 32 * MiB, "reservation": 16 * MiB,
                       "swappiness": 0, "disableOOMKiller": False}})
    mem = v1.paths()["memory"]
    assert int(_read(f"{mem}/memory.limit_in_bytes")) == 32 * MiB
    assert int(_read(f"{mem}/memory.soft_limit_in_bytes")) == 16 * MiB
    assert int(_read(f"{mem}/memory.swappiness")) == 0
    if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
        assert int(_read(f"{mem}/memory.memsw.limit_in_bytes")) == 32 * MiB
    assert v1.stats()["memory"]["limit"] == 32 * MiB

    def hog() -> str:
        blocks = [b"\x01" * (8 * MiB) for _ in range(16)]  # 128 MiB, every page touched
        return f"survived {len(blocks)}"

    child = children.spawn(hog)
    v1.add(child.pid)
    child.go()
    assert os.WIFSIGNALED(child.wait()), child.result()
    assert os.WTERMSIG(child.wait()) == signal.SIGKILL  # the OOM killer
    # Raising the limit later orders memsw before the limit (memsw >= limit).
    v1.set({"memory": {"limit": 64 * MiB, "swap": 64 * MiB}})
    assert int(_read(f"{mem}/memory.limit_in_bytes")) == 64 * MiB


@needs_v1
def test_cpu_shares_quota_and_cpuset(v1: V1Manager, children: Children) -> None:
    v1.create()
    v1.set({"cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "0", "mems": "0"}})
    paths = v1.paths()
    assert _read(f"{paths['cpu']}/cpu.shares") == "512"
    assert _read(f"{paths['cpu']}/cpu.cfs_quota_us") == "20000"
    assert _read(f"{paths['cpu']}/cpu.cfs_period_us") == "100000"
    assert _read(f"{paths['cpuset']}/cpuset.cpus") == "0"

    def spin() -> str:
        start = time.monotonic()
        while time.monotonic() - start < 1.0:
            pass
        t = os.times()
        with open("/proc/self/status") as f:
            cpus = next(ln.split()[1] for ln in f if ln.startswith("Cpus_allowed_list"))
        return f"{t.user + t.system:.3f} {cpus}"

    child = children.spawn(spin)
    v1.add(child.pid)
    child.go()
    used, cpus = child.result().split()
    assert cpus == "0"
    # 20 ms per 100 ms: about 0.2 s of CPU in one second of wall time.
    assert float(used) < 0.5, used


@needs_v1
def test_pids_limit_stops_a_small_fork_bomb(v1: V1Manager, children: Children) -> None:
    v1.create()
    v1.set({"pids": {"limit": 4}})
    assert _read(f"{v1.paths()['pids']}/pids.max") == "4"

    def bomb() -> str:
        made: list[int] = []
        refused = 0
        for _ in range(10):
            try:
                pid = os.fork()
            except BlockingIOError:  # EAGAIN from the pids controller
                refused += 1
                continue
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            made.append(pid)
        for pid in made:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        return f"{len(made)} {refused}"

    child = children.spawn(bomb)
    v1.add(child.pid)
    child.go()
    assert child.result() == "3 7"  # the child itself is the 4th task


@needs_v1
def test_device_rules_enforced_last_match_wins(v1: V1Manager, children: Children) -> None:
    v1.create()
    v1.set({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},    # null: read
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},  # zero: all
        {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"},   # ...but write
    ]})
    listed = _read(f"{v1.paths()['devices']}/devices.list").splitlines()
    assert sorted(listed) == ["c 1:3 r", "c 1:5 rm"]
    child = children.spawn(lambda: _open_results([
        ("/dev/null", os.O_WRONLY), ("/dev/null", os.O_RDONLY), ("/dev/zero", os.O_RDONLY),
        ("/dev/zero", os.O_WRONLY), ("/dev/full", os.O_RDONLY)]))
    v1.add(child.pid)
    child.go()
    assert child.result() == "EPERM ok ok EPERM EPERM"


@needs_v1
def test_device_rules_start_from_deny_all(v1: V1Manager, children: Children) -> None:
    # No leading deny-all rule: the list is still an allowlist (runc's 2021 advisory).
    v1.create()
    v1.set({"devices": [{"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"}]})
    assert _read(f"{v1.paths()['devices']}/devices.list") == "c 1:5 r"
    child = children.spawn(lambda: _open_results([("/dev/zero", os.O_RDONLY),
                                                  ("/dev/null", os.O_RDONLY)]))
    v1.add(child.pid)
    child.go()
    assert child.result() == "ok EPERM"


def _counter() -> tuple[mmap.mmap, Callable[[], int]]:
    shared = mmap.mmap(-1, 8)  # MAP_SHARED: the forked child's writes are seen here

    def value() -> int:
        return int.from_bytes(shared[0:8], "little")

    return shared, value


def _busy(shared: mmap.mmap) -> Callable[[], str]:
    def body() -> str:
        n = 0
        while True:
            n += 1
            # Slice assignment is one memcpy; struct.pack_into zero-fills first, and a
            # reader could catch the 0.
            shared[0:8] = n.to_bytes(8, "little")

    return body


def _assert_freeze_stops(m: cgroups.CgroupManager, children: Children) -> None:
    shared, value = _counter()
    child = children.spawn(_busy(shared))
    m.add(child.pid)
    child.go()
    deadline = time.monotonic() + 5
    while value() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert value() > 0, child.result(timeout=0.5)
    m.freeze()
    assert m.frozen()
    before = value()
    time.sleep(0.3)
    assert value() == before, "a frozen child kept running"
    m.thaw()
    assert not m.frozen()
    time.sleep(0.2)
    assert value() > before, "a thawed child did not resume"


@needs_v1
def test_freeze_and_thaw_stop_a_busy_child(v1: V1Manager, children: Children) -> None:
    v1.create()
    _assert_freeze_stops(v1, children)


@needs_v1
def test_kill_all_signals_every_process(v1: V1Manager, children: Children) -> None:
    v1.create()
    r, w = os.pipe()

    def parent_of_one() -> str:
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(60)
            os._exit(0)
        os.write(w, str(grandchild).encode())
        time.sleep(60)
        return "not killed"

    child = children.spawn(parent_of_one)
    v1.add(child.pid)
    child.go()
    grandchild = int(os.read(r, 32))
    os.close(r)
    os.close(w)
    assert v1.pids() == sorted([child.pid, grandchild])
    v1.kill_all(signal.SIGTERM)  # v1: freeze, signal each, thaw
    assert os.WTERMSIG(child.wait()) == signal.SIGTERM
    deadline = time.monotonic() + 5
    while v1.pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert v1.pids() == []
    assert not v1.frozen()


@needs_v1
def test_destroy_retries_while_processes_exit(v1: V1Manager, children: Children) -> None:
    v1.create()
    child = children.spawn(_sleeper)
    v1.add(child.pid)
    os.kill(child.pid, signal.SIGKILL)  # dying, not necessarily gone yet
    v1.destroy()
    assert not v1.exists()
    child.wait()


@needs_v1
def test_destroy_keeps_parents_it_did_not_create_and_shared_ones(top: str) -> None:
    a = cgroups.open_manager(f"{top}/shared/a", "a")
    b = cgroups.open_manager(f"{top}/shared/b", "b")
    mine = os.path.join(LAYOUT.v1[0].mountpoint, top.lstrip("/"), "shared")
    try:
        a.create()
        b.create()
        a.destroy()
        assert os.path.isdir(mine), "a parent still holding b was removed"
        b.destroy()
        assert not os.path.exists(os.path.dirname(mine)), "created parents were left"
        # A parent made by someone else stays.
        foreign = os.path.join(LAYOUT.v1[0].mountpoint, top.lstrip("/"))
        os.mkdir(foreign)
        c = cgroups.open_manager(f"{top}/c", "c")
        c.create()
        c.destroy()
        assert os.path.isdir(foreign)
        os.rmdir(foreign)
    finally:
        for m in (a, b):
            m.destroy()


@needs_v1
def test_set_validates_everything_before_writing(v1: V1Manager) -> None:
    v1.create()
    limit_file = f"{v1.paths()['memory']}/memory.limit_in_bytes"
    before = _read(limit_file)
    with pytest.raises(InvalidArgument, match=r"linux\.resources\.pids\.limit: must be an integer"):
        v1.set({"memory": {"limit": 32 * MiB}, "pids": {"limit": "10"}})
    assert _read(limit_file) == before


def test_bad_resources_rejected_before_anything_is_created(top: str) -> None:
    with pytest.raises(InvalidArgument, match=r"linux\.resources\.memory\.limit: must be an"):
        cgroups.validate_resources({"memory": {"limit": "1g"}})
    with pytest.raises(InvalidArgument,
                       match=r"linux\.resources\.hugepageLimits\[0\]\.pageSize"):
        cgroups.validate_resources({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]})
    if "hugetlb" not in LAYOUT.controllers():
        with pytest.raises(Unsupported, match="hugetlb controller is not available"):
            cgroups.validate_resources({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})
    assert not any(os.path.exists(os.path.join(m, top.lstrip("/"))) for m in _hierarchy_mounts())


def test_runtime_create_refuses_bad_resources_without_leaving_a_cgroup(
        top: str, tmp_path: Path, busybox_rootfs: Path) -> None:
    config = base_config(["true"])
    config["linux"]["cgroupsPath"] = f"{top}/ctr"
    config["linux"]["resources"] = {"cpu": {"shares": 1}}
    bundle = write_bundle(tmp_path / "bundle", busybox_rootfs, config)
    res = subprocess.run([RUNTIME_BIN, "--root", str(tmp_path / "state"), "create", "--bundle",
                          str(bundle), "cgbad"], capture_output=True, timeout=30, check=False)
    try:
        assert res.returncode != 0
        assert b"linux.resources.cpu.shares" in res.stderr, res.stderr
        assert not any(os.path.exists(os.path.join(m, top.lstrip("/")))
                       for m in _hierarchy_mounts())
    finally:
        subprocess.run([RUNTIME_BIN, "--root", str(tmp_path / "state"), "delete", "--force",
                        "cgbad"], capture_output=True, timeout=30, check=False)


@needs_v1
def test_open_manager_is_deterministic_across_processes(v1: V1Manager, top: str) -> None:
    v1.create()
    code = ("import json; from cove.runtime import cgroups; "
            f"m = cgroups.open_manager({top + '/c'!r}, 'x'); "
            "print(json.dumps([m.paths(), m.exists()]))")
    out = subprocess.run([os.path.join(os.path.dirname(RUNTIME_BIN), "python"), "-c", code],
                         capture_output=True, check=True, timeout=30).stdout
    assert json.loads(out) == [v1.paths(), True]


# --- v2 (the real root on a v2 host; the controller-less unified mount on hybrid) -----------

@needs_v2
def test_v2_create_add_pids_kill_destroy(v2: V2Manager, top: str, children: Children) -> None:
    v2.create()
    assert os.path.isdir(v2.dir) and v2.paths() == {"unified": v2.dir}
    child = children.spawn(_sleeper)
    v2.add(child.pid)
    assert v2.pids() == [child.pid]
    assert fs.read_keyed(f"{v2.dir}/cgroup.events")["populated"] == "1"
    v2.kill_all(signal.SIGKILL)  # cgroup.kill
    assert os.WTERMSIG(child.wait()) == signal.SIGKILL
    v2.destroy()
    assert not os.path.exists(os.path.join(V2_ROOT or "", top.lstrip("/")))


@needs_v2
def test_v2_freeze_and_thaw_stop_a_busy_child(v2: V2Manager, children: Children) -> None:
    v2.create()
    _assert_freeze_stops(v2, children)


@needs_v2
def test_v2_kill_all_keeps_a_paused_container_paused(v2: V2Manager, children: Children) -> None:
    v2.create()
    child = children.spawn(_sleeper)
    v2.add(child.pid)
    v2.freeze()
    v2.kill_all(signal.SIGTERM)  # not SIGKILL: the freeze/signal/thaw path
    # v2 lets a fatal signal kill a frozen task; the cgroup itself stays frozen.
    assert v2.frozen()
    v2.thaw()
    assert os.WTERMSIG(child.wait()) == signal.SIGTERM


@needs_v2
def test_v2_ebpf_device_program_enforced_and_replaced(v2: V2Manager,
                                                      children: Children) -> None:
    v2.create()
    v2.set({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 5, "access": "w"},
    ]})
    first = devices_bpf.attached(v2.dir)
    assert len(first) == 1
    probes = [("/dev/null", os.O_WRONLY), ("/dev/null", os.O_RDONLY),
              ("/dev/zero", os.O_RDONLY), ("/dev/zero", os.O_WRONLY),
              ("/dev/zero", os.O_RDWR), ("/dev/full", os.O_RDONLY)]
    child = children.spawn(lambda: _open_results(probes))
    v2.add(child.pid)
    child.go()
    assert child.result() == "EPERM ok ok EPERM EPERM EPERM"
    # An update swaps the program: exactly one stays attached, the new one.
    v2.set({"devices": [{"allow": True, "access": "rwm"}]})
    second = devices_bpf.attached(v2.dir)
    assert len(second) == 1 and second != first
    child = children.spawn(lambda: _open_results(probes))
    v2.add(child.pid)
    child.go()
    assert child.result() == "ok ok ok ok ok ok"


@needs_v2
def test_v2_refuses_limits_without_controllers(v2: V2Manager) -> None:
    v2.create()
    missing = {"memory", "pids"} - v2.controllers()
    if not missing:
        pytest.skip("memory and pids are delegated here")
    ctrl = sorted(missing)[0]
    res = {"memory": {"limit": 64 * MiB}} if ctrl == "memory" else {"pids": {"limit": 5}}
    with pytest.raises(Unsupported, match=f"the {ctrl} controller is not enabled"):
        v2.set(res)


@needs_v2
def test_v2_frozen_is_false_for_a_missing_cgroup(top: str) -> None:
    assert V2_ROOT is not None
    m = cgroups.open_manager(f"{top}/never", "x", root=V2_ROOT)
    assert not m.exists() and not m.frozen() and m.pids() == []
    m.kill_all(signal.SIGKILL)
    m.destroy()


# --- v2 resource files, against a fake cgroupfs ----------------------------------------------
# The unified mount here has no controllers, so the kernel would refuse memory.max and the
# rest. The manager is pointed at a directory tree laid out like cgroupfs (interface files
# pre-created, as the kernel would); fs.write is recorded, and writing a file that does not
# exist still fails, so a misspelt interface file is caught.

V2_FILES = ["cgroup.procs", "cgroup.controllers", "cgroup.subtree_control", "cgroup.freeze",
            "cgroup.events", "memory.max", "memory.low", "memory.swap.max", "memory.high",
            "memory.current", "cpu.weight", "cpu.max", "cpu.max.burst", "cpu.idle",
            "cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max",
            "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "rdma.max"]
CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma"


@pytest.fixture
def fake_v2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
            ) -> tuple[V2Manager, list[tuple[str, str]]]:
    root = tmp_path / "cgroup"
    root.mkdir()
    (root / "cgroup.controllers").write_text(CONTROLLERS + "\n")
    (root / "cgroup.subtree_control").write_text("")
    m = V2Manager(str(root), str(root / "cove" / "c1"))
    writes: list[tuple[str, str]] = []
    real_write = fs.write

    def record(path: str, value: str) -> None:
        writes.append((os.path.relpath(path, root), value))
        real_write(path, value)

    monkeypatch.setattr(fs, "write", record)
    m.create()
    for name in V2_FILES:
        (root / "cove" / "c1" / name).write_text("")
    (root / "cove" / "c1" / "cgroup.controllers").write_text(CONTROLLERS + "\n")
    (root / "cove" / "c1" / "memory.current").write_text(f"{8 * MiB}\n")
    writes.clear()
    return m, writes


def test_v2_resource_files(fake_v2: tuple[V2Manager, list[tuple[str, str]]]) -> None:
    m, writes = fake_v2
    m.set({
        "memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 32 * MiB,
                   "swappiness": 60, "kernel": 1 << 30, "checkBeforeUpdate": True},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000,
                "cpus": "0-1", "mems": "0", "idle": 0},
        "pids": {"limit": -1},
        "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": MiB}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 0}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 30}],
        "rdma": {"mlx5_0": {"hcaHandles": 3}},
        "unified": {"memory.high": "50000000"},
    })
    d = "cove/c1/"
    assert writes == [
        (d + "cpuset.cpus", "0-1"), (d + "cpuset.mems", "0"),
        (d + "memory.swap.max", str(32 * MiB)),  # 96 MiB memory+swap - 64 MiB memory
        (d + "memory.max", str(64 * MiB)), (d + "memory.low", str(32 * MiB)),
        (d + "cpu.weight", "100"), (d + "cpu.max", "50000 100000"),
        (d + "cpu.max.burst", "1000"), (d + "cpu.idle", "0"),
        (d + "pids.max", "max"),
        (d + "io.weight", "default 4950"), (d + "io.weight", "8:0 910"),
        (d + "io.max", f"8:0 rbps={MiB}"), (d + "io.max", "8:0 wiops=max"),
        (d + "hugetlb.2MB.max", str(1 << 30)), (d + "hugetlb.2MB.rsvd.max", str(1 << 30)),
        (d + "rdma.max", "mlx5_0 hca_handle=3"),
        (d + "memory.high", "50000000"),
    ]


def test_v2_bfq_weight_and_unlimited_memory(
        fake_v2: tuple[V2Manager, list[tuple[str, str]]]) -> None:
    m, writes = fake_v2
    Path(m.dir, "io.bfq.weight").write_text("")
    m.set({"memory": {"limit": -1}, "blockIO": {"weight": 500}, "cpu": {"quota": -1}})
    assert writes == [("cove/c1/memory.swap.max", "max"), ("cove/c1/memory.max", "max"),
                      ("cove/c1/cpu.max", "max"), ("cove/c1/io.bfq.weight", "default 500")]


def test_v2_check_before_update_and_missing_controller(
        fake_v2: tuple[V2Manager, list[tuple[str, str]]]) -> None:
    m, writes = fake_v2
    with pytest.raises(FailedPrecondition, match="below the current usage"):
        m.set({"memory": {"limit": 4 * MiB, "checkBeforeUpdate": True}})
    Path(m.dir, "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(Unsupported, match=r"memory\.limit: the memory controller is not enabled"):
        m.set({"memory": {"limit": 64 * MiB}})
    with pytest.raises(Unsupported, match="disableOOMKiller"):
        m.set({"memory": {"disableOOMKiller": True}})
    assert writes == []


def test_v2_create_enables_controllers_down_the_path(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "cgroup"
    (root / "cove").mkdir(parents=True)
    for d in (root, root / "cove"):
        (d / "cgroup.controllers").write_text("cpu memory pids\n")
        (d / "cgroup.subtree_control").write_text("")
    (root / "cgroup.subtree_control").write_text("memory\n")
    writes: list[tuple[str, str]] = []
    monkeypatch.setattr(fs, "write", lambda p, v: writes.append((os.path.relpath(p, root), v)))
    V2Manager(str(root), str(root / "cove" / "c1")).create()
    assert writes == [("cgroup.subtree_control", "+cpu"), ("cgroup.subtree_control", "+pids"),
                      ("cove/cgroup.subtree_control", "+cpu"),
                      ("cove/cgroup.subtree_control", "+memory"),
                      ("cove/cgroup.subtree_control", "+pids")]
