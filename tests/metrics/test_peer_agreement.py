"""Agreement with pytorch-fid, clean-fid and scipy, checked without them: their outputs on the same files were
stored by benchmarks/metrics_peers.py (run in a separate environment) in tests/data/metrics/."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from textgan.metrics import FeatureExtractor, FIDInceptionV3, clean_resize
from textgan.metrics._resize import preprocess
from textgan.metrics.inception import random_inception

DATA = Path(__file__).resolve().parents[1] / "data" / "metrics"
REPORT = json.loads((DATA / "peer_reference.json").read_text())


def test_clean_resize_gives_clean_fids_pixels():
    for name, ref in REPORT["clean_resize"].items():
        arr = clean_resize(np.array(Image.open(DATA / "resize" / name).convert("RGB")))
        assert arr.shape == (299, 299, 3) and arr.dtype == np.float32
        assert hashlib.sha256(arr.tobytes()).hexdigest() == ref["sha256"], name
        assert ref["equal"], f"{name}: clean-fid's resizer gave other pixels when recorded"


def test_fid_network_has_pytorch_fids_keys_and_shapes():
    keys = json.loads((DATA / "pt_inception_keys.json").read_text())
    with torch.device("meta"):
        ours = {k: list(v.shape) for k, v in FIDInceptionV3().state_dict().items()}
    assert ours == keys


def test_tf_features_match_pytorch_fid_on_the_same_weights():
    # the same randomly initialised full-size weights file the benchmark gave pytorch-fid (seed 0)
    files = sorted((DATA / "images").glob("*.png"))
    assert len(files) == 8
    images = [Image.open(p).convert("RGB") for p in files]
    model = random_inception(FIDInceptionV3, seed=0, calibration=preprocess(images, "tf"))
    extractor = FeatureExtractor("tf", model=model, optimize=False)
    ours = extractor(images).numpy()
    peer = np.load(DATA / "pytorch_fid_features8.npy")
    scale = np.abs(peer).max()
    assert scale > 0.1, "degenerate features"
    # float32 through 94 layers, torch 2.13 here vs the peers' 2.14: agreement to ~1e-5 of the feature scale
    np.testing.assert_allclose(ours, peer, rtol=1e-4, atol=1e-4 * scale)


def test_recorded_comparison_meets_the_bounds():
    if REPORT["fid_tf"]["abs_diff"] is None:
        pytest.skip("the stored report comes from a quick run without full-rank statistics")
    assert REPORT["fid_tf"]["abs_diff"] <= 1e-3
    assert REPORT["frechet_2048"]["rel_diff"] <= 1e-6
    assert REPORT["pt_inception_keys_match"]
