"""Layer unpack benchmark: cove's apply_layer against GNU tar on the same layer.

Generates a layer of about ``--mb`` MB (many small files, some large ones, half
of the bytes compressible text, half random), writes it plain and gzip'd and
zstd'd, then times each: ``apply_layer`` (which also hashes the diff_id) and
``tar -xf`` / ``tar -xzf`` / ``tar --zstd -xf`` into fresh directories on the
same filesystem. Runs alternate; the best of ``--runs`` is reported, with the
page cache warm for the input; neither side fsyncs (writeback is flushed
between runs, untimed).

Run as root, from the repository:  .venv/bin/python bench/unpack.py [--mb 100]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

import zstandard

from cove.snapshots.layers import apply_layer


def make_layer(total: int, seed: int = 1) -> bytes:
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(8))
             for _ in range(500)]
    buf = io.BytesIO()
    made = 0
    n = 0
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in range(40):
            info = tarfile.TarInfo(f"usr/share/d{d}")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        while made < total:
            n += 1
            big = n % 50 == 0
            size = rng.randint(1 << 20, 8 << 20) if big else rng.randint(200, 64 << 10)
            if n % 2:
                data = rng.randbytes(size)
            else:
                data = b"".join(rng.choices(words, k=size // 8 + 1))[:size]
            info = tarfile.TarInfo(f"usr/share/d{n % 40}/f{n}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
            made += size
    return buf.getvalue()


def timed(fn: object, dest: str) -> float:
    """Wall time of ``fn`` into a fresh ``dest``; writeback is flushed before, not timed."""
    os.mkdir(dest)
    os.sync()
    t0 = time.perf_counter()
    fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - t0
    shutil.rmtree(dest)
    os.sync()
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/tmp")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="cove-unpack-", dir=args.dir)
    try:
        raw = make_layer(args.mb << 20)
        blobs = {"plain": raw, "gzip": gzip.compress(raw, 6),
                 "zstd": zstandard.ZstdCompressor(level=3).compress(raw)}
        tar_flags = {"plain": ["-xf"], "gzip": ["-xzf"], "zstd": ["--zstd", "-xf"]}
        paths = {}
        for kind, blob in blobs.items():
            paths[kind] = os.path.join(work, f"layer.{kind}")
            with open(paths[kind], "wb") as fh:
                fh.write(blob)
        print(f"layer: {len(raw) / 1e6:.1f} MB uncompressed; "
              + ", ".join(f"{k} {len(b) / 1e6:.1f} MB" for k, b in blobs.items()))
        print(f"{'format':8} {'cove s':>8} {'cove MB/s':>10} {'tar s':>8} {'tar MB/s':>9}"
              f" {'ratio':>6}")
        for kind, path in paths.items():
            dest = os.path.join(work, "out")
            best_c = best_t = float("inf")
            for _ in range(args.runs):
                def cove(path: str = path, dest: str = dest) -> None:
                    with open(path, "rb", buffering=0) as fh:
                        apply_layer(fh, dest)  # type: ignore[arg-type]

                def tar(path: str = path, dest: str = dest, kind: str = kind) -> None:
                    subprocess.run(["tar", *tar_flags[kind], path, "-C", dest,
                                    "--same-owner", "-p"], check=True)

                best_c = min(best_c, timed(cove, dest))
                best_t = min(best_t, timed(tar, dest))
            mb = len(raw) / 1e6
            print(f"{kind:8} {best_c:8.3f} {mb / best_c:10.0f} {best_t:8.3f} {mb / best_t:9.0f}"
                  f" {best_c / best_t:6.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
