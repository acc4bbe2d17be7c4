"""Reading a large TensorFlow V2 checkpoint vs copying its bytes with ``cp``.

Writes a V2 checkpoint of ``--size-mb`` MiB (float32 tensors of a few MB plus small ones, with the test
writer ``tests/convert/tf_writer.py``), warms the page cache, then times, best of ``--repeat``:

* ``cp`` of the ``.data`` shard to a new file in the same directory;
* ``read_tf_checkpoint(prefix, verify=False).read_all()`` (mmap + one copy per tensor);
* the same with ``verify=True``: the tensors' masked CRC-32C values, combined, checked against one CRC over
  each contiguous run of tensors (vectorised with numpy);
* ``ckpt[name]`` for every name with ``verify=True``: one CRC per tensor;
* ``crc32c`` alone over the whole shard (mapped, as ``read_all`` sees it).

Wall time and CPU time (user + system, threads and the ``cp`` child included) are both reported: on a
shared machine the CPU time is the steadier measure of the work done.

Run: ``python benchmarks/tf_read.py [--size-mb 500] [--dir /tmp] [--repeat 3]``.
"""
from __future__ import annotations

import argparse
import gc
import mmap
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "convert"))
import tf_writer  # noqa: E402

from textgan.convert import read_tf_checkpoint  # noqa: E402
from textgan.convert._crc32c import crc32c  # noqa: E402


def make_checkpoint(prefix: Path, size_mb: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    tensors = {}
    total, i = 0, 0
    target = size_mb << 20
    while total < target:
        rows = int(rng.integers(256, 2048))
        cols = min(1024, max(1, (target - total) // (4 * rows)))
        tensors[f"model/block_{i:03d}/conv/kernel"] = rng.standard_normal((rows, cols), dtype=np.float32)
        tensors[f"model/block_{i:03d}/bn/moving_mean"] = rng.standard_normal(cols, dtype=np.float32)
        total += 4 * (rows * cols + cols)
        i += 1
    tf_writer.write_v2(prefix, tensors)
    return total


def _cpu() -> float:
    """CPU seconds (user + system) of this process and its finished children (cp)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def interleaved_best(fns, repeat: int):
    """Best wall time and best CPU time of each function over ``repeat`` rounds, the functions taking turns
    within a round (so a machine shared with other jobs slows them alike)."""
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            gc.collect()
            t, c = time.perf_counter(), _cpu()
            fn()
            wall[i].append(time.perf_counter() - t)
            cpu[i].append(_cpu() - c)
    return [(min(w), min(c)) for w, c in zip(wall, cpu)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--dir", default=None, help="where to write the checkpoint (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tf_read_", dir=args.dir))
    try:
        prefix = folder / "model.ckpt"
        t = time.perf_counter()
        nbytes = make_checkpoint(prefix, args.size_mb)
        data = Path(f"{prefix}.data-00000-of-00001")
        print(f"wrote {nbytes / 2**20:.0f} MiB in {time.perf_counter() - t:.1f} s: {data}")
        with open(data, "rb") as f:  # warm the page cache, as cp and the reader will both find it
            while f.read(1 << 24):
                pass
        copy = folder / "copy.bin"

        def cp() -> None:
            subprocess.run(["cp", str(data), str(copy)], check=True)
            os.remove(copy)

        def read(verify: bool, bulk: bool = True):
            def run() -> None:
                with read_tf_checkpoint(prefix, verify=verify) as ckpt:
                    tensors = list(ckpt.read_all().values()) if bulk else [ckpt[name] for name in ckpt]
                assert sum(t.numel() * t.element_size() for t in tensors) == nbytes
            return run

        def crc_only() -> None:
            with open(data, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                view = np.frombuffer(m, dtype=np.uint8)
                crc32c(view)
                del view

        n_tensors = len(read_tf_checkpoint(prefix))
        names = ["cp of the .data file", "read_all(), verify=False", "read_all(), verify=True",
                 "ckpt[name] for each, verify=True", "crc32c of the whole file alone"]
        fns = [cp, read(False), read(True), read(True, bulk=False), crc_only]
        rows = list(zip(names, interleaved_best(fns, args.repeat)))
        base, base_cpu = rows[0][1]
        mb = nbytes / 1e6
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        print(f"\n{mb:.0f} MB in {n_tensors} tensors, best of {args.repeat}, {os.cpu_count()} CPUs, "
              f"load average {load:.1f}\n")
        print("| what | wall s | MB/s | speed vs cp | CPU s | speed vs cp, CPU time |")
        print("|---|---:|---:|---:|---:|---:|")
        for what, (sec, cpu) in rows:
            print(f"| {what} | {sec:.3f} | {mb / sec:.0f} | {base / sec:.0%} | {cpu:.3f} | {base_cpu / cpu:.0%} |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
