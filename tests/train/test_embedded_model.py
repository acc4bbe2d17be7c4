"""The embedded default model: loads offline with no name, and its images pass the Shapes judge on
held-out phrasings (a 48-caption sample here; the 200-caption figure is in its model card)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import textgan
from textgan.cli import main
from textgan.data.shapes import Shapes, judge, judge_accuracy
from textgan.hub import DEFAULT_MODEL, PACKAGED_MODELS

FOLDER = PACKAGED_MODELS[DEFAULT_MODEL]


@pytest.fixture()
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # nothing cached, nothing downloadable


def test_default_model_is_packaged_and_small():
    config = json.loads((FOLDER / "config.json").read_text())
    for name in config["files"]:
        assert (FOLDER / name).is_file(), name
    assert sum((FOLDER / n).stat().st_size for n in config["files"]) < 8 * 2 ** 20
    assert "python -m textgan.train.embedded" in (FOLDER / "README.md").read_text()  # how it was trained


def test_default_model_passes_the_judge_on_heldout_captions(offline):
    pipe = textgan.load_pretrained()
    assert pipe.tag == "shapes-dfgan64" and pipe.family == "dfgan"
    ds = Shapes("heldout", length=48, seed=0)
    captions = [ds.describe(i)[1] for i in range(len(ds))]
    images = pipe(captions, generator=torch.Generator().manual_seed(0), output_type="np", batch_size=48).images
    acc = judge_accuracy(list(images), captions)
    assert acc["colour"] >= 0.95, acc
    assert acc["shape"] >= 0.90, acc


def test_generate_cli_without_model(offline, tmp_path):
    out = tmp_path / "out.png"
    assert main(["generate", "a large red circle on a white background", "-o", str(out), "-q"]) == 0
    from PIL import Image

    image = Image.open(out)
    assert image.size == (64, 64)
    seen = judge(image, "a large red circle on a white background")
    assert seen["colour"] and seen["background"], seen["seen"]
