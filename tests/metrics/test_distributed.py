"""Feature statistics under torch.distributed (2 gloo processes) equal one process's exactly (~6 s on an idle
2-core machine, ~30 s when it is shared)."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).parent))
from _images import dist_worker, write_images  # noqa: E402

from textgan.metrics import FeatureExtractor, feature_statistics  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed not built")
def test_two_gloo_processes_give_one_process_statistics(tmp_path, fid_weights):
    folder = write_images(tmp_path / "imgs", 23, seed=5)  # 5 batches of 5: an uneven last round
    mp.start_processes(dist_worker, args=(2, _free_port(), str(folder), str(fid_weights), str(tmp_path / "s")),
                       nprocs=2, join=True, start_method="spawn")
    torch.set_num_threads(1)  # the same kernels as the workers
    try:
        one = feature_statistics(folder, FeatureExtractor("tf", fid_weights), batch_size=5)
    finally:
        torch.set_num_threads(2)
    for rank in (0, 1):
        with np.load(tmp_path / f"s.{rank}.npz") as f:
            assert int(f["n"]) == 23
            assert np.array_equal(f["mu"], one.mu) and np.array_equal(f["sigma"], one.sigma), rank
