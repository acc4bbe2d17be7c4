"""CUB loader throughput at 256 px (0, 1, 2 workers) against the DF-GAN 2022 training step that consumes it.

    python benchmarks/datasets.py --images 96 --batch-size 8

Data: a CUB replica in the AttnGAN/DF-GAN layout written by tests/data/replica_maker.py (filenames/class_info/
embeddings/captions pickles, text/, CUB_200_2011/ with bounding boxes) with CUB-sized JPEGs (random pixels,
sides 300-500 px, like CUB's ~500x375 photos; random pixels make JPEG decoding slower than photos, so the loader
figure is pessimistic). The loader is ``DataLoader(CUB200(root, "train", image_size=256), batch_size, shuffle=True,
num_workers=w)``: decode, RGB, bbox crop, Resize(304), RandomCrop(256), flip, [-1, 1] tensor, random caption with
AttnGAN's 18-word subset, embedding. items/s is measured after the first batch (worker start-up excluded).

The step: :class:`textgan.train.tasks.DFGANTask` (form 2022, ngf = ndf = 32, z 100, 256-d sentences, 256 px),
``train_step`` on loader batches (sentences given: the frozen text encoder is outside the timing, as in
benchmarks/train.py). The loader must produce images faster than the step consumes them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "data"))


def _make_data(root: Path, images: int) -> Path:
    import replica_maker as rm

    per_class = 8
    n_classes = max(1, images // per_class)
    rm.make_cub(root, train_classes=list(range(2, 2 + n_classes)), test_classes=[1], per_class=per_class,
                seed=0, long_caption=30, size_range=(300, 500))
    return root


def loader_rate(root: Path, batch: int, workers: int, batches: int) -> float:
    from textgan.data import CUB200

    ds = CUB200(root, "train", image_size=256)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True,
                                         persistent_workers=workers > 0)
    done, n, t = 0, 0, None
    while done < batches + 1:
        for b in loader:
            if t is None:
                t = time.perf_counter()  # after the first batch: start-up excluded
            else:
                n += b["image"].shape[0]
            done += 1
            if done >= batches + 1:
                break
    return n / (time.perf_counter() - t)


def step_rate(root: Path, batch: int, steps: int, warmup: int = 1) -> float:
    from textgan.data import CUB200
    from textgan.train.tasks import DFGANTask
    from textgan.train.trainer import StepContext

    task = DFGANTask(form="2022", ngf=32, ndf=32, nz=100, imsize=256, encoder_dim=256, seed=0)

    class _T:  # the bits of Trainer a StepContext reads
        device = torch.device("cpu")
        world_size = 1
        scalers: dict = {}
        task_generator = torch.Generator().manual_seed(0)
        optimizers = task.optimizers

        @staticmethod
        def _autocast():
            import contextlib

            return contextlib.nullcontext()

    ctx = StepContext(_T())
    b = next(iter(torch.utils.data.DataLoader(CUB200(root, "train", image_size=256, seed=0), batch_size=batch)))
    sent = torch.randn(batch, 256)
    task._encode = lambda _: sent
    for _ in range(warmup):
        task.train_step(b, ctx)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        task.train_step(b, ctx)
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=96)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--batches", type=int, default=10, help="timed loader batches per worker count")
    ap.add_argument("--steps", type=int, default=3, help="timed DF-GAN steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed DF-GAN steps first")
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = _make_data(Path(tmp) / "birds", args.images)
        rates = {w: loader_rate(root, args.batch_size, w, args.batches) for w in args.workers}
        step = step_rate(root, args.batch_size, args.steps, args.warmup)
    out = {"batch": args.batch_size, "steps": args.steps, "warmup": args.warmup, "images": args.images,
           "loader_items_per_s": rates,
           "dfgan_step_images_per_s": step, "torch_threads": torch.get_num_threads(),
           "cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
           "load_average": os.getloadavg()}
    print(f"| workers | CUB loader items/s (256 px, batch {args.batch_size}) |\n|---:|---:|")
    for w, r in rates.items():
        print(f"| {w} | {r:.1f} |")
    print(f"\nDF-GAN 2022 training step (256 px, batch {args.batch_size}): {step:.2f} images/s; "
          f"slowest loader / step = {min(rates.values()) / step:.1f}x")
    print(f"torch threads {out['torch_threads']}, cpus {out['cpus']}, load average {out['load_average']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
