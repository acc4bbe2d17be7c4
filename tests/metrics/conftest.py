"""Fixtures of the metrics tests: tiny (width ÷ 16) randomly initialised Inception weights in the layouts of
pytorch-fid's and torchvision's files, and small image folders."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sys

sys.path.insert(0, str(Path(__file__).parent))
from _images import write_images  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data" / "metrics"


@pytest.fixture(scope="session")
def fid_weights(tmp_path_factory) -> Path:
    from textgan.metrics.inception import FIDInceptionV3, random_inception

    path = tmp_path_factory.mktemp("weights") / "pt_inception_tiny.pth"
    torch.save(random_inception(FIDInceptionV3, width_divisor=16, seed=0).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def torchvision_weights(tmp_path_factory) -> Path:
    from textgan.metrics.inception import InceptionV3, random_inception

    path = tmp_path_factory.mktemp("weights") / "inception_v3_google_tiny.pth"
    torch.save(random_inception(InceptionV3, width_divisor=16, seed=1).state_dict(), path)
    return path


@pytest.fixture(scope="session")
def image_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    return write_images(root / "a", 16, seed=0), write_images(root / "b", 16, seed=1)
