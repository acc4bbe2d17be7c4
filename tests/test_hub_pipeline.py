"""Pipelines and models through the (loopback) Hub: push, load by hf-hub id, by tag, offline, pinned."""
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import DATASETS_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.text import Tokenizer, Vocabulary  # noqa: E402


def _pipeline(seed=0):
    torch.manual_seed(seed)
    vocab = Vocabulary.from_captions_pickle(DATASETS_DIR / "cub" / "captions.pickle")
    enc = textgan.create_model("damsm_text_encoder", vocab_size=len(vocab), hidden_dim=8)
    gen = textgan.create_model("dfgan", ngf=2, nz=6, cond_dim=8, imsize=32)
    disc = textgan.create_model("dfgan_discriminator", ndf=2, imsize=32)
    return textgan.TextToImagePipeline(Tokenizer(vocab), enc, gen, family="dfgan", truncation=0.88,
                                       discriminator=disc, tag="dfgan-birds")


def _images(pipe):
    return pipe(["a red bird", "a white bird"], generator=torch.Generator().manual_seed(0), output_type="pt").images


def test_push_then_load_by_hub_id_tag_and_create_model(fake_hub, monkeypatch):
    pipe = _pipeline()
    pipe.push_to_hub("textgan/dfgan-birds")
    for name in ("hf-hub:textgan/dfgan-birds", "dfgan-birds"):
        loaded = textgan.load_pretrained(name)
        assert torch.equal(_images(loaded), _images(pipe))
    gen = textgan.create_model("dfgan", pretrained="birds")
    assert gen.config == pipe.generator.config
    assert all(torch.equal(a, b) for a, b in zip(gen.state_dict().values(), pipe.generator.state_dict().values()))
    disc = textgan.dfgan(pretrained="dfgan-birds", part="discriminator")
    assert disc.config == pipe.discriminator.config
    enc = textgan.damsm_text_encoder(pretrained="dfgan-birds")
    assert enc.vocab_size == pipe.text_encoder.vocab_size
    # offline with the warm cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert torch.equal(_images(textgan.load_pretrained("dfgan-birds")), _images(pipe))


def test_revision_pinning_loads_the_old_weights(fake_hub):
    first, second = _pipeline(0), _pipeline(1)
    old = first.push_to_hub("org/tiny")
    second.push_to_hub("org/tiny")
    assert torch.equal(_images(textgan.load_pretrained("hf-hub:org/tiny")), _images(second))
    assert torch.equal(_images(textgan.load_pretrained("hf-hub:org/tiny", revision=old.oid)), _images(first))


def test_missing_repository_and_cold_offline_cache(fake_hub, monkeypatch):
    with pytest.raises(textgan.errors.PretrainedNotFoundError, match="org/absent"):
        textgan.load_pretrained("hf-hub:org/absent")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(textgan.errors.PretrainedNotFoundError, match="HF_HUB_OFFLINE") as info:
        textgan.load_pretrained("dfgan-coco")
    # and it says where the authors' own file is and how to convert it
    assert "state_epoch_290.pth" in str(info.value) and "textgan convert dfgan" in str(info.value)
    with pytest.raises(textgan.errors.PretrainedNotFoundError, match="netG.pth"):
        textgan.create_model("dfgan2020", pretrained=True)
