"""SEMA: sizes from the weights, the authors' bare netG.pth end to end (0.8 × truncated noise), bad input."""
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import DATASETS_DIR, PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.convert import from_official  # noqa: E402
from textgan.nn import FusionUpBlock, ResidualDownBlock  # noqa: E402
from textgan.text import Vocabulary  # noqa: E402

CAPTIONS = DATASETS_DIR / "coco" / "captions.pickle"


def _fixture(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


def test_sizes_come_from_the_weights():
    state, _, _ = _fixture("sema_G")
    g = from_official("sema", state)
    # the authors' affine input is the literal 356 = nz + sentence; here it is read off the weights
    assert g.config == {"ngf": 4, "nz": 8, "cond_dim": 16, "affine_hidden": 20}
    assert isinstance(g.block0, FusionUpBlock) and not g.block0.upsample and not hasattr(g.block0, "gamma")
    assert textgan.models.sema.SEMAResidualBlock is ResidualDownBlock


def test_files_of_other_families_are_rejected_with_the_right_kind(tmp_path):
    state, _, _ = _fixture("dfgan2020_G")
    torch.save(state, tmp_path / "netG.pth")
    with pytest.raises(textgan.errors.ArchitectureMismatchError, match="netG.pth.*dfgan2020"):
        from_official("sema", tmp_path / "netG.pth")
    sema, _, _ = _fixture("sema_G")
    narrow = dict(sema, **{"fc.weight": torch.zeros(sema["fc.weight"].shape[0], 30)})  # noise wider than the condition
    with pytest.raises(textgan.errors.ArchitectureMismatchError, match="cat\\(noise, sentence\\)"):
        from_official("sema", narrow)


def _text_encoder(vocab_size, hidden, seed=0):
    torch.manual_seed(seed)
    return textgan.create_model("damsm_text_encoder", vocab_size=vocab_size, embedding_dim=12,
                                hidden_dim=hidden).state_dict()


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The authors' layout: a bare netG.pth (no prefix) + the DAMSM text_encoder100.pth."""
    folder = tmp_path_factory.mktemp("sema_official")
    state, _, _ = _fixture("sema_G")
    torch.save(state, folder / "netG.pth")
    cond = state["block0.fuse1.affine0.fc_gamma.linear1.weight"].shape[1] - state["fc.weight"].shape[1]
    torch.save(_text_encoder(len(Vocabulary.from_file(CAPTIONS)), cond), folder / "text_encoder100.pth")
    return folder


def test_convert_load_pretrained_and_generate(official, tmp_path):
    out = tmp_path / "sema-tiny"
    assert main(["convert", "sema", str(official / "netG.pth"), "--text-encoder", str(official / "text_encoder100.pth"),
                 "--captions", str(CAPTIONS), "--tag", "sema-coco", "-o", str(out)]) == 0
    pipe = textgan.load_pretrained(out)
    assert pipe.family == "sema" and pipe.truncation == 0.8  # sampling.py: 0.8 × truncnorm(−2, 2)
    _, inputs, outputs = _fixture("sema_G")
    with torch.no_grad():
        torch.testing.assert_close(pipe.generator(inputs["noise"], inputs["sent_emb"]), outputs["img"],
                                   atol=1e-5, rtol=1e-4)
    prompts = ["a man riding a horse", "two dogs on the grass"]
    a = pipe(prompts, num_images_per_prompt=2, generator=torch.Generator().manual_seed(0), output_type="pt")
    b = pipe(prompts, num_images_per_prompt=2, generator=torch.Generator().manual_seed(0), output_type="pt")
    c = pipe(prompts, num_images_per_prompt=2, generator=torch.Generator().manual_seed(1), output_type="pt")
    assert a.images.shape == (4, 3, 256, 256)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert a.noise.abs().max() <= 1.6 + 1e-6  # truncated at ±2, scaled by 0.8
    image = pipe(prompts[0], generator=torch.Generator().manual_seed(0)).images[0]
    assert image.size == (256, 256)


def test_text_encoder_of_the_wrong_width_is_rejected(official, tmp_path, capsys):
    torch.save(_text_encoder(len(Vocabulary.from_file(CAPTIONS)), 10), tmp_path / "text_encoder100.pth")
    rc = main(["convert", "sema", str(official / "netG.pth"), "--text-encoder", str(tmp_path / "text_encoder100.pth"),
               "--captions", str(CAPTIONS), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2 and "netG.pth" in err and "text_encoder100.pth" in err and "16-d" in err and "10-d" in err
    assert not (tmp_path / "out").exists()
