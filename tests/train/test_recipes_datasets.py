"""The recipes on the CUB-200 replica (AttnGAN layout: captions.pickle word ids, class ids, char-CNN-RNN
embeddings) through ``--data cub:PATH``: a few tiny steps, finite losses, the dataset's vocabulary and
embedding width reach the models."""
from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from _paths import DATASETS_DIR  # noqa: E402
from test_recipes import COMMON, TINY  # noqa: E402

from textgan.train import run_recipe  # noqa: E402

CUB = DATASETS_DIR / "cub"
pytestmark = pytest.mark.skipif(not (CUB / "train" / "filenames.pickle").is_file(), reason="no CUB replica")


@pytest.mark.parametrize("name", ["damsm", "dfgan", "attngan", "gan-int-cls", "sisgan", "stackgan-stage1"])
def test_tiny_recipe_on_the_cub_replica(name, tmp_path):
    overrides = {**COMMON, **{k: v for k, v in TINY[name].items() if not k.startswith("data.length")}}
    trainer = run_recipe(name, tmp_path, data=f"cub:{CUB}", overrides=overrides, progress=False)
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert all(math.isfinite(float(v)) for r in rows for v in r.values())
    vocab = len(trainer.dataset.vocab)
    task = trainer.task
    if name == "gan-int-cls":  # the layout's 1024-d char-CNN-RNN vectors, not a text encoder, condition it
        assert task.netG.config["txt_dim"] == 1024
    elif name == "stackgan-stage1":
        assert task.netG.config["text_dim"] == 1024
    elif name == "sisgan":
        assert task.word_vectors.weight.shape[0] == vocab
    else:
        assert task.text_encoder.vocab_size == vocab
    if name in ("dfgan", "attngan", "gan-int-cls"):  # the pipeline tokenises with the dataset's vocabulary
        import textgan

        pipe = textgan.load_pretrained(str(tmp_path / "pipeline"))
        assert len(pipe.tokenizer.vocab) == vocab


def test_cub_needs_its_folder(tmp_path):
    with pytest.raises(ValueError, match="cub:PATH"):
        run_recipe("dfgan", tmp_path, data="cub", overrides=COMMON, progress=False)
