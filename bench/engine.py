"""Engine benchmark: coved beside dockerd, through the real docker CLI and cove's own.

Starts a private coved (and, when /usr/sbin/dockerd exists — Debian's docker.io —
a private dockerd with no bridge and no iptables changes), loads the busybox image
into both, then measures:

1. ``run --rm busybox true`` end to end: ``cove`` → coved, ``docker`` → coved,
   ``docker`` → dockerd (median of --runs);
2. 50 concurrent ``run -d busybox sleep`` until all are running;
3. memory each running container costs beyond its own processes, at 50 containers:
   its monitor's PSS (conmon / containerd-shim) plus the daemons' PSS growth / 50;
4. ``ps`` latency with the 50 containers (median of --runs).

Every container runs with ``--network none`` on both engines (coved has no networks
yet). Run as root: .venv/bin/python bench/engine.py [--runs 10] [--count 50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.dockerd_fixtures import DOCKERD, DockerD, pids_named  # noqa: E402
from tests.engine_fixtures import (  # noqa: E402
    bench_engine,
    load_busybox,
    remove_network_leftovers,
)
from tests.image_fixtures import tar_tree  # noqa: E402

from cove.content import ContentStore  # noqa: E402
from cove.images.archive import save  # noqa: E402
from cove.images.busybox_image import build_busybox_image  # noqa: E402

DOCKER = "/usr/local/bin/docker"
COVE = str(REPO / ".venv" / "bin" / "cove")


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {proc.stderr.decode().strip()}")
    return elapsed


def busybox_docker_tar(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ContentStore(os.path.join(tmp, "content"))
        desc, _ = build_busybox_image(store, tag_name="busybox:latest")
        with open(path, "wb") as out:
            save(store, [("busybox:latest", desc)], out, format="docker")


def run_series(label: str, cmd: list[str], env: dict[str, str], runs: int) -> float:
    timed(cmd, env)  # warm-up
    times = [timed(cmd, env) for _ in range(runs)]
    median = statistics.median(times)
    print(f"  {label:<28} median {median * 1000:7.1f} ms  (min {min(times) * 1000:.1f})")
    return median


def concurrent_runs(base: list[str], env: dict[str, str], count: int, tag: str) -> float:
    def one(i: int) -> None:
        timed([*base, "run", "-d", "--network", "none", "--name", f"{tag}{i}", "busybox",
               "sleep", "600"], env)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(one, range(count)))
    return time.perf_counter() - t0


def remove_all(base: list[str], env: dict[str, str]) -> None:
    ids = subprocess.run([*base, "ps", "-aq"], env=env, capture_output=True,
                         check=False).stdout.split()
    if ids:
        subprocess.run([*base, "rm", "-f", *[i.decode() for i in ids]], env=env,
                       capture_output=True, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--count", type=int, default=50)
    args = ap.parse_args()
    top = Path(tempfile.mkdtemp(prefix="cove-bench-engine-"))
    top.chmod(0o755)
    engine = bench_engine(top / "cove", "/cove-bench")
    dockerd = DockerD(top / "docker") if os.path.exists(DOCKERD) else None
    results: dict[str, float] = {}
    try:
        from cove.busybox import build_rootfs
        load_busybox(engine.root, tar_tree(build_rootfs(top / "bb")))
        engine.start()
        cove_env = engine.env()
        if dockerd is not None:
            dockerd.top.mkdir()
            dockerd.start()
            tar = top / "busybox.tar"
            busybox_docker_tar(tar)
            subprocess.run([DOCKER, "load", "-i", str(tar)], env=dockerd.env(),
                           capture_output=True, check=True)
        print("1. run --rm busybox true")
        run_args = ["run", "--rm", "--network", "none", "busybox", "true"]
        results["cove"] = run_series("cove -> coved", [COVE, *run_args], cove_env, args.runs)
        results["docker-coved"] = run_series("docker -> coved", [DOCKER, *run_args], cove_env,
                                             args.runs)
        if dockerd is not None:
            results["docker-dockerd"] = run_series("docker -> dockerd", [DOCKER, *run_args],
                                                   dockerd.env(), args.runs)
            print(f"  ratio cove/dockerd {results['cove'] / results['docker-dockerd']:.2f}  "
                  f"docker->coved/dockerd "
                  f"{results['docker-coved'] / results['docker-dockerd']:.2f}  (goal <= 0.25)")

        print(f"2. {args.count} concurrent run -d")
        assert engine.proc is not None
        daemon_before = pss_kib(engine.proc.pid)
        results["conc-cove"] = concurrent_runs([COVE], cove_env, args.count, "c")
        print(f"  cove -> coved               {results['conc-cove']:.2f} s")
        docker_before = 0
        if dockerd is not None:
            docker_before = sum(pss_kib(p) for p in dockerd.own_pids())
            results["conc-docker"] = concurrent_runs([DOCKER], dockerd.env(), args.count, "d")
            print(f"  docker -> dockerd           {results['conc-docker']:.2f} s   ratio "
                  f"{results['conc-cove'] / results['conc-docker']:.2f} (goal <= 0.5)")

        print(f"3. memory per running container at {args.count}")
        time.sleep(1)
        conmons = [p for p in pids_named("conmon")
                   if str(engine.top).encode() in Path(f"/proc/{p}/cmdline").read_bytes()]
        monitors = sum(pss_kib(p) for p in conmons)
        daemon_growth = max(pss_kib(engine.proc.pid) - daemon_before, 0)
        per = (monitors + daemon_growth) / max(len(conmons), 1)
        print(f"  coved: {len(conmons)} conmon, PSS {monitors / len(conmons):.0f} KiB each; "
              f"daemon +{daemon_growth} KiB -> {per:.0f} KiB/container "
              f"({per / 1024:.2f} MiB, goal <= 2 MiB)")
        if dockerd is not None:
            shims = dockerd.shim_pids()
            shim_pss = sum(pss_kib(p) for p in shims)
            growth = max(sum(pss_kib(p) for p in dockerd.own_pids()) - docker_before, 0)
            dper = (shim_pss + growth) / max(args.count, 1)
            print(f"  dockerd: {len(shims)} shims, PSS {shim_pss / max(len(shims), 1):.0f} KiB "
                  f"each; daemons +{growth} KiB -> {dper:.0f} KiB/container")

        print(f"4. ps with {args.count} containers")
        run_series("cove ps", [COVE, "ps"], cove_env, args.runs)
        run_series("docker ps -> coved", [DOCKER, "ps"], cove_env, args.runs)
        if dockerd is not None:
            run_series("docker ps -> dockerd", [DOCKER, "ps"], dockerd.env(), args.runs)
    finally:
        with contextlib.suppress(Exception):
            remove_all([COVE], engine.env())
        engine.stop()
        if dockerd is not None:
            with contextlib.suppress(Exception):
                remove_all([DOCKER], dockerd.env())
            dockerd.stop()
        from tests.engine_fixtures import _kill_monitors, _remove_cgroups, _unmount_under
        _kill_monitors(engine.top)
        _unmount_under(top)
        _remove_cgroups("/cove-bench")
        remove_network_leftovers(engine.root, engine.network, engine.tables_before)
        _remove_cgroups("/cove-bench-docker")
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
