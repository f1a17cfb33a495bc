"""Container lifecycle benchmark: cove-runtime against runc and crun.

Each run is one cycle of ``create`` → ``start`` → wait for the container to
exit → ``delete`` of a busybox container whose process is ``true``. Every
runtime gets the same bundle and its own private ``--root``; the runtimes take
turns within each run, so drift on the machine hits them alike.

Time is wall-clock per cycle, the runtimes spawned directly (posix_spawn).

Memory is the peak RSS of the runtime's own processes, taken from the rusage
that ``wait4`` returns for each runtime call (that process and the helpers it
waited for). A child's ru_maxrss also counts the memory of the process it was
forked from, as it was before exec: spawned from this Python process, every
call would report at least this process's own RSS. So the peak RSS comes from
a few extra cycles in which each call is started by GNU time (a small process)
and reports its own rusage; those cycles are not timed. The container's init
is reparented to this process (a child subreaper) and waited for; its peak,
which includes the runtime's image before it exec'd the container's process,
is shown apart as "init RSS". RUSAGE_CHILDREN would mix the two.

Run as root, from the repository:  .venv/bin/python bench/runtime.py [--runs 50]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import select
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

REPO: Final = Path(__file__).resolve().parent.parent
try:
    from cove.busybox import build_rootfs
except ImportError:  # run with a python that lacks the editable install
    sys.path.insert(0, str(REPO / "src"))
    from cove.busybox import build_rootfs

PR_SET_CHILD_SUBREAPER: Final = 36
STAGES: Final = ("create", "start", "wait", "delete")
WAIT_TIMEOUT_S: Final = 10.0
GNU_TIME: Final = "/usr/bin/time"  # Debian package time
# Debian 12's crun (1.8.1) refuses ociVersion 1.2.0; nothing below is newer than 1.0.
OCI_VERSION: Final = "1.0.2"


def bench_config() -> dict[str, Any]:
    """The one config.json every runtime runs: busybox ``true``, runc-like defaults."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["true"],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount", "network")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


class BenchError(Exception):
    """A runtime call failed; the message says which and what it printed."""


@dataclass
class Runtime:
    """One runtime under test, its private state root and what was measured."""

    name: str
    binary: str
    root: Path
    log: Path
    cycles_ms: list[float] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    peak_rss_kib: int = 0
    init_rss_kib: int = 0
    error: str | None = None


def _maxrss_kib(rusage: Any) -> int:
    return int(rusage.ru_maxrss)  # Linux reports KiB


class Runner:
    """Spawns runtime commands with no pipes (the container inherits create's stdio)."""

    def __init__(self, workdir: Path) -> None:
        self.devnull_r = os.open(os.devnull, os.O_RDONLY)
        self.devnull_w = os.open(os.devnull, os.O_WRONLY)
        self.rss_file = workdir / "maxrss"
        self.gnu_time = GNU_TIME if os.access(GNU_TIME, os.X_OK) else None

    def close(self) -> None:
        os.close(self.devnull_r)
        os.close(self.devnull_w)

    def call(self, rt: Runtime, *args: str, probe_rss: bool = False) -> int:
        """Run ``rt.binary --root ROOT ARGS``; raises on failure.

        With ``probe_rss`` the call is started by GNU time and its peak RSS (KiB)
        is returned; otherwise 0.
        """
        argv = [rt.binary, "--root", str(rt.root), *args]
        if probe_rss and self.gnu_time is not None:
            argv = [self.gnu_time, "-f", "%M", "-o", str(self.rss_file), *argv]
        log_fd = os.open(rt.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            offset = os.fstat(log_fd).st_size
            pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, self.devnull_r, 0),
                (os.POSIX_SPAWN_DUP2, self.devnull_w, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ])
        finally:
            os.close(log_fd)
        _, status, _ = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            with open(rt.log, "rb") as f:
                f.seek(offset)
                said = f.read()[-2000:].decode(errors="replace").strip()
            raise BenchError(f"{rt.name} {args[0]} exited {code}: {said or '(no output)'}")
        if argv[0] != self.gnu_time:
            return 0
        return int(self.rss_file.read_text().split()[-1])

    def wait_exit(self, rt: Runtime, pid: int) -> int:
        """Wait for the container's init to exit; returns its maxrss if it was our child."""
        try:
            _, _, rusage = os.wait4(pid, 0)
            return _maxrss_kib(rusage)
        except ChildProcessError:
            pass
        # Not reparented to us (a runtime that keeps a monitor process): watch a pidfd.
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return 0
        try:
            ready, _, _ = select.select([pidfd], [], [], WAIT_TIMEOUT_S)
            if not ready:
                raise BenchError(f"{rt.name}: container pid {pid} still running after "
                                 f"{WAIT_TIMEOUT_S:.0f} s")
        finally:
            os.close(pidfd)
        return 0


def reap_strays() -> None:
    """Collect orphans reparented to us (helpers of a runtime, a container's init)."""
    while True:
        try:
            pid, _, _ = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def cycle(runner: Runner, rt: Runtime, bundle: Path, cid: str, mode: str) -> None:
    """One create → start → wait → delete; mode is "time", "rss" or "warmup"."""
    probe = mode == "rss"
    pid_file = rt.root.parent / f"{cid}.pid"
    marks = [time.perf_counter_ns()]
    rss = [runner.call(rt, "create", "--bundle", str(bundle), "--pid-file", str(pid_file), cid,
                       probe_rss=probe)]
    marks.append(time.perf_counter_ns())
    rss.append(runner.call(rt, "start", cid, probe_rss=probe))
    marks.append(time.perf_counter_ns())
    try:
        init_pid = int(pid_file.read_text().strip())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{rt.name} create: no pid in --pid-file ({exc})") from exc
    init_rss = runner.wait_exit(rt, init_pid)
    marks.append(time.perf_counter_ns())
    rss.append(runner.call(rt, "delete", cid, probe_rss=probe))
    marks.append(time.perf_counter_ns())
    pid_file.unlink(missing_ok=True)
    reap_strays()
    if mode == "time":
        rt.cycles_ms.append((marks[-1] - marks[0]) / 1e6)
        for i, stage in enumerate(STAGES):
            rt.stages_ms[stage].append((marks[i + 1] - marks[i]) / 1e6)
    if probe:
        rt.peak_rss_kib = max(rt.peak_rss_kib, *rss)
    if mode != "warmup":
        rt.init_rss_kib = max(rt.init_rss_kib, init_rss)


def cleanup_runtime(runner: Runner, rt: Runtime) -> None:
    """delete --force whatever is left in the runtime's private root."""
    if not rt.root.is_dir():
        return
    for entry in sorted(rt.root.iterdir()):
        if entry.is_dir():
            try:
                runner.call(rt, "delete", "--force", entry.name)
            except (BenchError, OSError) as exc:
                print(f"cleanup: {exc}", file=sys.stderr)
    reap_strays()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summary(rt: Runtime) -> dict[str, Any]:
    out: dict[str, Any] = {"binary": rt.binary}
    if rt.error is not None:
        out["error"] = rt.error
    if rt.cycles_ms:
        out.update({
            "runs": len(rt.cycles_ms),
            "median_ms": round(statistics.median(rt.cycles_ms), 3),
            "p95_ms": round(percentile(rt.cycles_ms, 95), 3),
            "peak_rss_kib": rt.peak_rss_kib or None,  # None: not measured
            "init_peak_rss_kib": rt.init_rss_kib or None,
            "stage_median_ms": {s: round(statistics.median(v), 3)
                                for s, v in rt.stages_ms.items()},
        })
    return out


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    cove = results.get("cove", {})
    out: dict[str, dict[str, float]] = {}
    if "median_ms" not in cove:
        return out
    for name, res in results.items():
        if name == "cove" or "median_ms" not in res:
            continue
        out[f"cove/{name}"] = {
            key: round(cove[key] / res[key], 3)
            for key in ("median_ms", "p95_ms", "peak_rss_kib") if cove[key] and res[key]
        }
    return out


def print_table(results: dict[str, dict[str, Any]], rates: dict[str, dict[str, float]],
                runs: int, stage_times: bool) -> None:
    print(f"{runs} runs of create → start → wait → delete (busybox true), "
          f"kernel {platform.release()}")
    print(f"{'runtime':<10} {'median ms':>10} {'p95 ms':>8} {'peak RSS MiB':>13} "
          f"{'init RSS MiB':>13}")
    def mib(kib: int | None) -> str:
        return "n/a" if kib is None else f"{kib / 1024:.1f}"

    for name, res in results.items():
        error = res.get("error", "no result").splitlines()[0][:120]
        if "median_ms" not in res:
            print(f"{name:<10} skipped: {error}")
            continue
        print(f"{name:<10} {res['median_ms']:>10.1f} {res['p95_ms']:>8.1f} "
              f"{mib(res['peak_rss_kib']):>13} {mib(res['init_peak_rss_kib']):>13}")
        if "error" in res:
            print(f"{'':<10} then failed: {error}")
    for name, rate in rates.items():
        cells = [f"{rate[k]:.2f}" if k in rate else "-"
                 for k in ("median_ms", "p95_ms", "peak_rss_kib")]
        print(f"{name:<10} {cells[0]:>10} {cells[1]:>8} {cells[2]:>13}")
    if stage_times:
        print()
        print(f"{'medians ms':<10} " + " ".join(f"{s:>8}" for s in STAGES))
        for name, res in results.items():
            if "stage_median_ms" in res:
                stages = res["stage_median_ms"]
                print(f"{name:<10} " + " ".join(f"{stages[s]:>8.1f}" for s in STAGES))


def find_runtimes(args: argparse.Namespace) -> dict[str, str]:
    candidates = {
        "cove": args.cove,
        "runc": shutil.which("runc") or "",
        "crun": shutil.which("crun") or "",
    }
    wanted = args.runtimes.split(",") if args.runtimes else list(candidates)
    found: dict[str, str] = {}
    for name in wanted:
        if name not in candidates:
            raise SystemExit(f"unknown runtime {name!r}: choose from {', '.join(candidates)}")
        binary = candidates[name]
        if binary and os.access(binary, os.X_OK):
            found[name] = binary
        elif args.runtimes or name == "cove":
            print(f"{name}: not found ({binary or 'not on PATH'}), skipped", file=sys.stderr)
    return found


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--runs", type=int, default=50, help="measured cycles per runtime (50)")
    p.add_argument("--runtimes", default="",
                   help="comma-separated subset of cove,runc,crun (default: all installed)")
    p.add_argument("--cove", default=str(REPO / ".venv" / "bin" / "cove-runtime"),
                   help="the cove-runtime executable (default: the repo's .venv)")
    p.add_argument("--rss-runs", type=int, default=5,
                   help="extra untimed cycles that measure peak RSS (5)")
    p.add_argument("--stage-times", action="store_true",
                   help="also print the median time of create, start, wait and delete")
    p.add_argument("--json", action="store_true", help="end with the results as one JSON line")
    args = p.parse_args(argv)
    if args.runs < 1 or args.rss_runs < 0:
        p.error("--runs must be at least 1 and --rss-runs at least 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("bench/runtime.py must run as root", file=sys.stderr)
        return 2
    binaries = find_runtimes(args)
    if not binaries:
        print("no runtime to measure", file=sys.stderr)
        return 2

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)

    workdir = Path(tempfile.mkdtemp(prefix="cove-bench-"))
    runner = Runner(workdir)
    runtimes = [Runtime(name, binary, workdir / f"root-{name}", workdir / f"{name}.log")
                for name, binary in binaries.items()]
    prefix = f"bench-{os.getpid()}"
    try:
        bundle = workdir / "bundle"
        build_rootfs(bundle / "rootfs")
        (bundle / "config.json").write_text(json.dumps(bench_config(), indent=2))

        # One warm-up cycle each, then the RSS cycles, then the timed ones; the
        # runtimes take turns, the first one rotating. A failing runtime is left out.
        plan = [("warmup", 0)]
        if runner.gnu_time is not None:
            plan += [("rss", i) for i in range(args.rss_runs)]
        else:
            print(f"{GNU_TIME} not found (Debian package time): no peak RSS", file=sys.stderr)
        plan += [("time", i) for i in range(args.runs)]
        for n, (mode, i) in enumerate(plan):
            shift = n % len(runtimes)
            for rt in runtimes[shift:] + runtimes[:shift]:
                if rt.error is not None:
                    continue
                try:
                    cycle(runner, rt, bundle, f"{prefix}-{rt.name}-{mode}-{i}", mode)
                except BenchError as exc:
                    rt.error = str(exc) if mode == "warmup" else f"{mode} run {i}: {exc}"
                    print(f"{rt.name} left out: {rt.error}", file=sys.stderr)
                    cleanup_runtime(runner, rt)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for rt in runtimes:
            cleanup_runtime(runner, rt)
        runner.close()
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    results = {rt.name: summary(rt) for rt in runtimes}
    rates = ratios(results)
    print_table(results, rates, args.runs, args.stage_times)
    if args.json:
        print(json.dumps({"runs": args.runs, "kernel": platform.release(),
                          "results": results, "ratios": rates}, sort_keys=True))
    # The subject failing is a failure; a reference runtime that cannot run here is not.
    cove_failed = "cove" in results and results["cove"].get("error") is not None
    return 1 if cove_failed or not any(rt.cycles_ms for rt in runtimes) else 0


if __name__ == "__main__":
    sys.exit(main())
