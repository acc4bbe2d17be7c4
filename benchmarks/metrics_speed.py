"""Speed of textgan's metrics alone (no peers needed): the Fréchet distance at 2048-d, and feature extraction with
and without textgan's optimisations (BatchNorm folded, channels-last) interleaved in one process.

    python benchmarks/metrics_speed.py [--images 200] [--repeats 5]

The unoptimised path runs the same operations as pytorch-fid's network (NCHW, BatchNorm, no_grad), so the
ratio is measured side by side under the same load; benchmarks/metrics_peers.py measures pytorch-fid itself.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from metrics_peers import random_statistics  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    from textgan.metrics import FeatureExtractor, frechet_distance
    from textgan.metrics.inception import FIDInceptionV3, random_inception

    stats = random_statistics()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frechet_distance(*stats)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            frechet_distance(*stats)
            times.append(time.perf_counter() - t)
    print(f"Fréchet distance 2048-d: median {statistics.median(times):.3f} s, min {min(times):.3f} s "
          f"over {args.repeats} (torch threads {torch.get_num_threads()})")

    model = random_inception(FIDInceptionV3, seed=0)
    fast = FeatureExtractor("tf", model=model)
    plain = FeatureExtractor("tf", model=model, optimize=False)
    x = torch.rand(args.batch_size, 3, 299, 299) * 2 - 1
    fast.forward_input(x[:2]), plain.forward_input(x[:2])
    t_fast = t_plain = 0.0
    done = 0
    while done < args.images:  # alternate batch by batch so that both see the same load
        t = time.perf_counter()
        a = fast.forward_input(x)
        t_fast += time.perf_counter() - t
        t = time.perf_counter()
        b = plain.forward_input(x)
        t_plain += time.perf_counter() - t
        done += args.batch_size
    err = float((a - b).abs().max() / b.abs().max())
    print(f"features, {done} images at 299 px: optimised {done / t_fast:.2f} img/s, plain (pytorch-fid's ops) "
          f"{done / t_plain:.2f} img/s, ratio {t_plain / t_fast:.2f}x, max rel diff {err:.1e}")


if __name__ == "__main__":
    main()
