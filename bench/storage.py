"""Storage benchmark (issue 5 "Measures"): coved beside a private dockerd.

1. ``docker system prune -af --volumes`` on a host with --containers stopped containers
   (each wrote 16 KiB), --images dangling images (commits, 64 KiB each) and --volumes
   unused volumes (anonymous, 64 KiB of data each): wall time and bytes reclaimed (the
   CLI's figure, and the data root's size before and after, ``du``);
2. ``rm`` of a stopped container with a 1 GiB upper layer (written with dd conv=fsync);
3. write throughput of ``dd bs=1M conv=fsync`` inside a container to a named volume, to
   the container's own layer, and of the host's dd to a directory on the same file
   system, with ratios (median of --runs).

Everything is made through the Engine API (the docker SDK, for both engines). Run as root:
.venv/bin/python bench/storage.py [--containers 200] [--images 50] [--volumes 100]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import docker  # noqa: E402
from engine import busybox_docker_tar  # noqa: E402
from tests.dockerd_fixtures import DOCKERD, DockerD  # noqa: E402
from tests.engine_fixtures import (  # noqa: E402
    bench_engine,
    load_busybox,
    remove_network_leftovers,
)
from tests.image_fixtures import tar_tree  # noqa: E402

DOCKER = "/usr/local/bin/docker"
ANONYMOUS = {"com.docker.volume.anonymous": ""}  # what both engines' prune takes by default
DD_RATE = re.compile(r"(\d+) bytes.*copied, ([0-9.]+) s")


def du_bytes(path: Path) -> int:
    # -x: coved leaves a stopped container's overlay mounted, which is no data of its own.
    out = subprocess.run(["du", "-sbx", str(path)], capture_output=True, check=False)
    return int(out.stdout.split()[0]) if out.returncode == 0 else 0


def parallel(fn: Callable[[int], None], count: int, workers: int = 8) -> None:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(fn, range(count)))


def populate(client: docker.DockerClient, containers: int, images: int, volumes: int) -> None:
    def stopped(i: int) -> None:
        c = client.containers.create("busybox:latest", ["sh", "-c",
                                     "head -c 16384 /dev/urandom > /data"],
                                     network_mode="none", name=f"st{i}")
        c.start()
        c.wait()

    def dangling(i: int) -> None:
        c = client.containers.create("busybox:latest", ["sh", "-c",
                                     "head -c 65536 /dev/urandom > /layer"],
                                     network_mode="none", name=f"img{i}")
        c.start()
        c.wait()
        c.commit()  # no repository: a dangling image
        c.remove()

    def volume(i: int) -> None:
        v = client.volumes.create(name=f"bv{i}", labels=ANONYMOUS)
        mountpoint = v.attrs["Mountpoint"]
        with open(os.path.join(mountpoint, "payload"), "wb") as f:
            f.write(os.urandom(65536))

    parallel(stopped, containers)
    parallel(dangling, images)
    parallel(volume, volumes)


def measure_prune(label: str, env: dict[str, str], root: Path) -> tuple[float, str, int]:
    before = du_bytes(root)
    os.sync()  # the dd runs' and the set-up's writeback is no part of either prune
    t0 = time.perf_counter()
    proc = subprocess.run([DOCKER, "system", "prune", "-af", "--volumes"], env=env,
                          capture_output=True, check=False)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{label}: system prune: {proc.stderr.decode().strip()}")
    total = proc.stdout.decode().strip().splitlines()[-1].split(":", 1)[-1].strip()
    freed = before - du_bytes(root)
    print(f"  {label:<8} {elapsed:6.2f} s   CLI says {total:>9}   data root -{freed / 1e6:.1f} MB")
    return elapsed, total, freed


def rm_big(client: docker.DockerClient, label: str) -> float:
    c = client.containers.create("busybox:latest", ["dd", "if=/dev/zero", "of=/big", "bs=1M",
                                 "count=1024", "conv=fsync"], network_mode="none")
    c.start()
    c.wait()
    t0 = time.perf_counter()
    c.remove()
    elapsed = time.perf_counter() - t0
    print(f"  {label:<8} rm with a 1 GiB upper layer: {elapsed * 1000:7.1f} ms")
    return elapsed


def dd_rate(output: str) -> float:
    m = DD_RATE.search(output)
    if m is None:
        raise RuntimeError(f"no dd figures in: {output!r}")
    return int(m.group(1)) / float(m.group(2)) / 1e6


def throughput(client: docker.DockerClient, host_dir: Path, runs: int, mib: int
               ) -> dict[str, float]:
    client.volumes.create(name="ddvol")
    # busybox's dd prints no rate and its date no nanoseconds: the shell times dd's run
    # with /proc/uptime (10 ms steps, hence writes of hundreds of MiB).
    up = "$(cut -d' ' -f1 /proc/uptime | tr -d .)"
    dd = (f"s={up}; dd if=/dev/zero of={{}} bs=1M count={mib} conv=fsync 2>/dev/null; "
          f"e={up}; rm -f {{}}; echo {mib * 1048576} $(((e - s) * 10000000))")
    rates: dict[str, list[float]] = {"volume": [], "layer": [], "host": []}
    for _ in range(runs):
        for kind, target in (("volume", "/vol/f"), ("layer", "/f")):
            out = client.containers.run("busybox:latest", ["sh", "-c", dd.format(target,
                                        target)], volumes={"ddvol": {"bind": "/vol"}},
                                        network_mode="none", remove=True)
            nbytes, ns = out.decode().split()
            rates[kind].append(int(nbytes) / (int(ns) / 1e9) / 1e6)
        target = str(host_dir / "f")
        proc = subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M",
                               f"count={mib}", "conv=fsync"], capture_output=True,
                              check=True)
        os.unlink(target)
        rates["host"].append(dd_rate(proc.stderr.decode()))
    client.volumes.get("ddvol").remove()
    return {k: statistics.median(v) for k, v in rates.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--containers", type=int, default=200)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--volumes", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mib", type=int, default=512, help="size of each dd write")
    ap.add_argument("--parts", default="1,2,3", help="which measures to run (1,2,3)")
    args = ap.parse_args()
    top = Path(tempfile.mkdtemp(prefix="cove-bench-storage-"))
    top.chmod(0o755)
    engine = bench_engine(top / "cove", "/cove-bench-storage")
    dockerd = DockerD(top / "docker") if os.path.exists(DOCKERD) else None
    clients: dict[str, docker.DockerClient] = {}
    try:
        from cove.busybox import build_rootfs
        load_busybox(engine.root, tar_tree(build_rootfs(top / "bb")))
        engine.start()
        clients["coved"] = docker.DockerClient(base_url=engine.host, version="1.47",
                                               timeout=600)
        envs = {"coved": engine.env()}
        roots = {"coved": engine.root}
        if dockerd is not None:
            dockerd.top.mkdir()
            dockerd.start()
            tar = top / "busybox.tar"
            busybox_docker_tar(tar)
            subprocess.run([DOCKER, "load", "-i", str(tar)], env=dockerd.env(),
                           capture_output=True, check=True)
            clients["dockerd"] = docker.DockerClient(base_url=f"unix://{dockerd.sock}",
                                                     version="auto", timeout=600)
            envs["dockerd"] = dockerd.env()
            roots["dockerd"] = dockerd.top / "root"

        parts = set(args.parts.split(","))
        if "3" in parts:
            measure_throughput(clients, top, args.runs, args.mib)
        if "2" in parts:
            measure_rm(clients)
        if "1" in parts:
            compare_prune(clients, envs, roots, args)
    finally:
        for client in clients.values():
            with contextlib.suppress(Exception):
                for c in client.containers.list(all=True):
                    c.remove(force=True)
            with contextlib.suppress(Exception):
                client.volumes.prune(filters={"all": "true"})
            client.close()
        engine.stop()
        if dockerd is not None:
            dockerd.stop()
        from tests.engine_fixtures import _kill_monitors, _remove_cgroups, _unmount_under
        _kill_monitors(engine.top)
        _unmount_under(top)
        _remove_cgroups("/cove-bench-storage")
        remove_network_leftovers(engine.root, engine.network, engine.tables_before)
        _remove_cgroups("/cove-bench-docker")
        shutil.rmtree(top, ignore_errors=True)
    return 0


def measure_throughput(clients: dict[str, docker.DockerClient], top: Path, runs: int,
                       mib: int) -> None:
    print(f"3. dd bs=1M count={mib} conv=fsync, MB/s (median of {runs})")
    host_dir = top / "hostdir"
    host_dir.mkdir()
    for name, client in clients.items():
        r = throughput(client, host_dir, runs, mib)
        print(f"  {name:<8} volume {r['volume']:7.1f}  layer {r['layer']:7.1f}  "
              f"host {r['host']:7.1f}   volume/host {r['volume'] / r['host']:.2f}  "
              f"layer/host {r['layer'] / r['host']:.2f}")


def measure_rm(clients: dict[str, docker.DockerClient]) -> None:
    print("2. container rm with a 1 GiB upper layer")
    rm_times = {name: rm_big(client, name) for name, client in clients.items()}
    if "dockerd" in rm_times:
        print(f"  ratio coved/dockerd {rm_times['coved'] / rm_times['dockerd']:.2f}")


def compare_prune(clients: dict[str, docker.DockerClient], envs: dict[str, dict[str, str]],
                  roots: dict[str, Path], args: argparse.Namespace) -> None:
    print(f"1. system prune -af --volumes: {args.containers} stopped containers, "
          f"{args.images} dangling images, {args.volumes} unused volumes")
    for name, client in clients.items():
        t0 = time.perf_counter()
        populate(client, args.containers, args.images, args.volumes)
        print(f"  {name:<8} made in {time.perf_counter() - t0:.1f} s")
    results = {name: measure_prune(name, envs[name], roots[name]) for name in clients}
    if "dockerd" in results:
        print(f"  ratio coved/dockerd {results['coved'][0] / results['dockerd'][0]:.2f} "
              "(goal <= 1)")


if __name__ == "__main__":
    sys.exit(main())
