"""Image benchmark: pull and unpack against skopeo and tar, through a local registry.

Makes a test image of about ``--mb`` MB in 5 layers (generated files, half
compressible), pushes it with Cove to Debian's ``docker-registry`` on 127.0.0.1,
then times:

a. ``pull`` into an empty store (download, verify, unpack into snapshots), and
   the download alone (the registry client into a content store), beside
   ``skopeo copy docker://... oci:...`` (download only: skopeo does not unpack);
b. unpack of the same 5 layers with ``apply_layer`` beside ``tar -xzf``, in MB/s
   of uncompressed layer;
c. ``pull`` of a second image sharing 4 of the 5 layers into the store that
   already holds the first.

Where Debian's docker.io is installed, a private dockerd (own root and socket, no
bridge, no iptables) times ``docker pull`` of the same two images too. Run as root:
.venv/bin/python bench/images.py [--mb 200]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.dockerd_fixtures import DOCKER, DOCKERD, DockerD  # noqa: E402
from tests.registry_fixtures import start_registry  # noqa: E402

from cove.content import ContentStore  # noqa: E402
from cove.images.service import ImageService  # noqa: E402
from cove.registry import RegistryClient  # noqa: E402
from cove.registry import pull as registry_pull  # noqa: E402
from cove.snapshots import apply_layer  # noqa: E402


def make_layer_tar(total: int, seed: int) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(8))
             for _ in range(500)]
    buf = io.BytesIO()
    made = n = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in range(20):
            info = tarfile.TarInfo(f"data{seed}/d{d}")
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        while made < total:
            n += 1
            size = rng.randint(1 << 20, 6 << 20) if n % 40 == 0 else rng.randint(200, 96 << 10)
            data = rng.randbytes(size) if n % 2 else \
                b"".join(rng.choices(words, k=size // 8 + 1))[:size]
            info = tarfile.TarInfo(f"data{seed}/d{n % 20}/f{n}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
            made += size
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def drop_caches_untimed() -> None:
    subprocess.run(["sync"], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="image size in MB (200)")
    parser.add_argument("--json", action="store_true", help="end with a JSON line")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    top = Path(tempfile.mkdtemp(prefix="cove-bench-images-"))
    registry = None
    results: dict[str, float] = {}
    try:
        registry = start_registry(top / "registry")
        host = registry.host
        per_layer = args.mb * (1 << 20) // 5
        tars = [make_layer_tar(per_layer, seed) for seed in range(1, 6)]
        blobs = [gz(t) for t in tars]
        raw_mb = sum(len(t) for t in tars) / 1e6
        print(f"image: 5 layers, {raw_mb:.0f} MB uncompressed, "
              f"{sum(len(b) for b in blobs) / 1e6:.0f} MB gzip; registry {host}")

        src = ImageService(top / "src")
        ref1, ref2 = f"{host}/bench/app:1", f"{host}/bench/app:2"
        cfg = {"config": {"Cmd": ["sh"]}}
        src.create_image(blobs, cfg, ref1)
        src.create_image([*blobs[:4], gz(make_layer_tar(per_layer, 99))], cfg, ref2)
        src.push(ref1)
        src.push(ref2)

        # (a) pull into an empty store, and download only, and skopeo
        dst = ImageService(top / "dst")
        drop_caches_untimed()
        results["pull"] = timed(lambda: dst.pull(ref1))
        store = ContentStore(str(top / "dl"))
        client = RegistryClient(host)
        drop_caches_untimed()
        results["download"] = timed(lambda: registry_pull(client, store, "bench/app", "1"))
        client.close_all()
        if shutil.which("skopeo"):
            drop_caches_untimed()
            results["skopeo"] = timed(lambda: subprocess.run(
                ["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                 f"docker://{ref1}", f"oci:{top / 'skopeo'}:1"], check=True))

        # (b) unpack: apply_layer vs tar -xzf on the same gzip layers
        def cove_unpack() -> None:
            dest = top / "unpack-cove"
            dest.mkdir()
            for blob in blobs:
                apply_layer(io.BytesIO(blob), str(dest))

        def tar_unpack() -> None:
            dest = top / "unpack-tar"
            dest.mkdir()
            for i, blob in enumerate(blobs):
                path = top / f"layer{i}.tgz"
                if not path.exists():
                    path.write_bytes(blob)
                subprocess.run(["tar", "-xzf", str(path), "-C", str(dest)], check=True)

        for i, blob in enumerate(blobs):
            (top / f"layer{i}.tgz").write_bytes(blob)
        best_cove = best_tar = float("inf")
        for _ in range(3):
            for name in ("unpack-cove", "unpack-tar"):
                shutil.rmtree(top / name, ignore_errors=True)
            drop_caches_untimed()
            best_tar = min(best_tar, timed(tar_unpack))
            drop_caches_untimed()
            best_cove = min(best_cove, timed(cove_unpack))
        results["unpack_cove"], results["unpack_tar"] = best_cove, best_tar

        # (c) a second image sharing 4 of 5 layers
        drop_caches_untimed()
        results["pull_shared"] = timed(lambda: dst.pull(ref2))

        # a private dockerd (Debian's docker.io), when installed: docker pull of the same
        # two images into its empty store (127.0.0.0/8 registries are insecure-allowed).
        if os.path.exists(DOCKERD):
            dockerd = DockerD(top / "dockerd", "/cove-bench-images-docker")
            dockerd.top.mkdir()
            try:
                dockerd.start()

                def docker_pull(ref: str) -> None:
                    subprocess.run([DOCKER, "pull", "-q", ref], env=dockerd.env(),
                                   capture_output=True, check=True)
                drop_caches_untimed()
                results["docker_pull"] = timed(lambda: docker_pull(ref1))
                drop_caches_untimed()
                results["docker_pull_shared"] = timed(lambda: docker_pull(ref2))
            finally:
                subprocess.run([DOCKER, "rmi", "-f", ref1, ref2], env=dockerd.env(),
                               capture_output=True, check=False)
                dockerd.stop()

        print(f"{'measure':34} {'seconds':>8}  note")
        print(f"{'a. cove pull (download+unpack)':34} {results['pull']:8.2f}  "
              f"{raw_mb / results['pull']:.0f} MB/s")
        print(f"{'a. cove download only':34} {results['download']:8.2f}")
        if "skopeo" in results:
            print(f"{'a. skopeo copy docker:// oci:':34} {results['skopeo']:8.2f}  "
                  f"cove download / skopeo = {results['download'] / results['skopeo']:.2f}")
        print(f"{'b. cove apply_layer x5':34} {best_cove:8.2f}  {raw_mb / best_cove:.0f} MB/s")
        print(f"{'b. tar -xzf x5':34} {best_tar:8.2f}  {raw_mb / best_tar:.0f} MB/s, "
              f"cove/tar = {best_cove / best_tar:.2f}")
        print(f"{'c. cove pull sharing 4 of 5':34} {results['pull_shared']:8.2f}")
        if "docker_pull" in results:
            print(f"{'a. docker pull (dockerd)':34} {results['docker_pull']:8.2f}  "
                  f"cove pull / docker pull = {results['pull'] / results['docker_pull']:.2f}")
            print(f"{'c. docker pull sharing 4 of 5':34} {results['docker_pull_shared']:8.2f}  "
                  f"cove / docker = "
                  f"{results['pull_shared'] / results['docker_pull_shared']:.2f}")
        else:
            print("docker engine: /usr/sbin/dockerd not installed, not measured")
        if args.json:
            print(json.dumps(results))
        return 0
    finally:
        if registry is not None:
            registry.stop()
        with open("/proc/mounts") as f:
            left = [line.split()[1] for line in f if line.split()[1].startswith(str(top))]
        for target in reversed(left):  # a safety net: the service unmounts its own
            subprocess.run(["umount", "-l", target], check=False)
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
