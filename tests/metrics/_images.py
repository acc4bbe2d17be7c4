"""Small image folders for the metrics tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_images(folder: Path, count: int, seed: int = 0, sizes=((40, 48),), modes=("RGB",)) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        h, w = sizes[i % len(sizes)]
        mode = modes[i % len(modes)]
        arr = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        img = Image.fromarray(arr)
        img = img.convert(mode) if mode != "RGB" else img
        img.save(folder / f"{i:04d}.png")
    return folder


def dist_worker(rank: int, world: int, port: int, folder: str, weights: str, out: str) -> None:
    """One rank of the 2-process gloo test: statistics of ``folder`` written to ``out.RANK.npz``."""
    import os

    import torch
    import torch.distributed as dist

    from textgan.metrics import FeatureExtractor, feature_statistics

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        stats = feature_statistics(folder, FeatureExtractor("tf", weights), batch_size=5)
        np.savez(f"{out}.{rank}.npz", mu=stats.mu, sigma=stats.sigma, n=stats.n)
    finally:
        dist.destroy_process_group()
