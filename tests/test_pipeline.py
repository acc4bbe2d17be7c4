"""The text-to-image pipeline: reproducible noise, batching that never changes images, output types."""
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _paths import DATASETS_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan._noise import standard_normal, truncated_normal  # noqa: E402
from textgan.text import Tokenizer, Vocabulary  # noqa: E402


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    vocab = Vocabulary.from_captions_pickle(DATASETS_DIR / "cub" / "captions.pickle")
    encoder = textgan.create_model("damsm_text_encoder", vocab_size=len(vocab), hidden_dim=8)
    generator = textgan.create_model("dfgan", ngf=2, nz=6, cond_dim=8, imsize=32)
    with torch.no_grad():  # leave the identity init so that text and noise both matter
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return textgan.TextToImagePipeline(Tokenizer(vocab), encoder, generator, family="dfgan", truncation=0.88)


PROMPTS = ["a small bird with a red head", "this bird is white with black wings", "a yellow bird"]


def _images(pipe, prompts, seed=0, **kw):
    return pipe(prompts, generator=torch.Generator().manual_seed(seed), output_type="pt", **kw).images


def test_same_seed_same_images_other_seed_other_images(pipe):
    a, b, c = _images(pipe, PROMPTS), _images(pipe, PROMPTS), _images(pipe, PROMPTS, seed=1)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


@pytest.mark.parametrize("batch_size", [1, 2, 4])
def test_batch_size_never_changes_the_images(pipe, batch_size):
    reference = _images(pipe, PROMPTS, num_images_per_prompt=2, batch_size=64)
    got = _images(pipe, PROMPTS, num_images_per_prompt=2, batch_size=batch_size)
    torch.testing.assert_close(got, reference, atol=1e-5, rtol=0)


def test_an_image_depends_on_its_prompt_and_position_only(pipe):
    reference = _images(pipe, PROMPTS)
    other = _images(pipe, [PROMPTS[0], "a big black bird with a long beak", PROMPTS[2]])
    torch.testing.assert_close(other[0], reference[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(other[2], reference[2], atol=1e-5, rtol=0)
    assert not torch.allclose(other[1], reference[1])
    shorter = _images(pipe, PROMPTS[:2])  # fewer prompts after: same images before
    torch.testing.assert_close(shorter, reference[:2], atol=1e-5, rtol=0)


def test_num_images_per_prompt_and_prompt_bookkeeping(pipe):
    out = pipe(PROMPTS[:2], num_images_per_prompt=3, generator=torch.Generator().manual_seed(0), output_type="pt")
    assert out.images.shape == (6, 3, 32, 32)
    assert out.prompts == [PROMPTS[0]] * 3 + [PROMPTS[1]] * 3
    assert out.noise.shape == (6, 6)
    assert not torch.allclose(out.images[0], out.images[1])


def test_output_types(pipe):
    g = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    pt = pipe(PROMPTS[0], generator=g(), output_type="pt").images
    arr = pipe(PROMPTS[0], generator=g(), output_type="np").images
    pil = pipe(PROMPTS[0], generator=g()).images
    assert pt.shape == (1, 3, 32, 32) and 0 <= pt.min() and pt.max() <= 1
    assert arr.shape == (1, 32, 32, 3) and arr.dtype == np.float32
    np.testing.assert_allclose(arr[0], pt[0].permute(1, 2, 0).numpy())
    assert isinstance(pil[0], Image.Image) and pil[0].size == (32, 32) and pil[0].mode == "RGB"
    np.testing.assert_array_equal(np.asarray(pil[0]), np.rint(arr[0] * 255).astype(np.uint8))
    with pytest.raises(ValueError, match="output_type"):
        pipe(PROMPTS[0], output_type="jpeg")


def test_explicit_noise_is_used_as_given(pipe):
    noise = torch.zeros(2, 6)
    a = pipe(PROMPTS[:2], noise=noise, output_type="pt")
    assert torch.equal(a.noise, noise)
    with torch.no_grad():
        sent = pipe.encode_prompt(PROMPTS[:2])
        direct = pipe.generator(noise, sent).add(1).mul(0.5).clamp(0, 1)
    torch.testing.assert_close(a.images, direct)
    with pytest.raises(ValueError, match="noise must have shape"):
        pipe(PROMPTS[:2], noise=torch.zeros(3, 6))


def test_truncation_options(pipe):
    g = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    default = pipe.sample_noise(4000, g())
    assert default.abs().max() <= 2 * 0.88 + 1e-6
    assert torch.equal(default, pipe.sample_noise(4000, g(), truncation=0.88))
    wide = pipe.sample_noise(4000, g(), truncation=False)
    assert wide.abs().max() > 2.5
    assert pipe.sample_noise(4000, g(), truncation=0.5).abs().max() <= 1.0 + 1e-6
    with pytest.raises(ValueError, match="truncation"):
        pipe.sample_noise(2, g(), truncation=-1.0)


def test_noise_rows_do_not_depend_on_how_many_are_drawn():
    g = lambda: torch.Generator().manual_seed(11)  # noqa: E731
    assert torch.equal(truncated_normal((7, 5), g())[:3], truncated_normal((3, 5), g()))
    assert torch.equal(standard_normal((9, 4), g())[:2], standard_normal((2, 4), g()))


def test_truncated_normal_has_the_truncnorm_distribution():
    x = truncated_normal((400_000,), torch.Generator().manual_seed(0)).double()
    phi = math.exp(-2.0) / math.sqrt(2 * math.pi)  # pdf at 2
    mass = math.erf(2 / math.sqrt(2))  # P(|Z| < 2)
    var = 1 - 2 * 2 * phi / mass
    assert abs(x.mean().item()) < 0.005
    assert abs(x.var().item() - var) < 0.005
    assert x.min() >= -2 and x.max() <= 2
    # a tail probability, to check the shape and not just the moments: P(Z > 1 | |Z| < 2)
    p1 = (0.5 * (1 - math.erf(1 / math.sqrt(2))) - 0.5 * (1 - math.erf(2 / math.sqrt(2)))) / mass
    assert abs((x > 1).double().mean().item() - p1) < 0.003
    z = standard_normal((400_000,), torch.Generator().manual_seed(1)).double()
    assert abs(z.mean().item()) < 0.005 and abs(z.var().item() - 1) < 0.01


def test_progress_bar_flag(pipe, capsys):
    pipe(PROMPTS, batch_size=1, generator=torch.Generator().manual_seed(0), progress=True)
    assert "textgan" in capsys.readouterr().err
    pipe(PROMPTS, batch_size=1, generator=torch.Generator().manual_seed(0), progress=False)
    assert capsys.readouterr().err == ""


def test_save_and_load_pretrained_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path)
    loaded = textgan.load_pretrained(tmp_path)
    assert loaded.truncation == 0.88 and loaded.family == "dfgan"
    torch.testing.assert_close(_images(loaded, PROMPTS), _images(pipe, PROMPTS), atol=0, rtol=0)
    card = (tmp_path / "README.md").read_text()
    assert "library_name: textgan" in card and "dfgan" in card


class _WordGenerator(torch.nn.Module):
    """Stands in for a family that reads word features and draws extra noise (AttnGAN-like)."""

    pipeline_inputs = ("noise", "sentence", "words", "word_mask", "extra_noise")
    extra_noise_dim = 3
    config = {"nz": 4}

    def __init__(self):
        super().__init__()
        self.proj = torch.nn.Linear(4 + 8 + 8 + 3, 3 * 4 * 4)

    def forward(self, noise, sentence, words, word_mask, extra):
        keep = (~word_mask).unsqueeze(1).float()
        mean_word = (words * keep).sum(-1) / keep.sum(-1)
        x = self.proj(torch.cat([noise, sentence, mean_word, extra], 1)).view(-1, 3, 4, 4).tanh()
        small = x[:, :, :2, :2]
        return [small, x], {"attention": None}


def test_generator_input_protocol_words_mask_and_extra_noise(pipe):
    torch.manual_seed(0)
    custom = textgan.TextToImagePipeline(pipe.tokenizer, pipe.text_encoder, _WordGenerator(), family="test",
                                         truncation=None)
    prompts = PROMPTS + ["a bird"]
    ref = custom(prompts, generator=torch.Generator().manual_seed(2), output_type="pt", batch_size=64).images
    assert ref.shape == (4, 3, 4, 4)  # the last (largest) stage
    for bs in (1, 3):
        got = custom(prompts, generator=torch.Generator().manual_seed(2), output_type="pt", batch_size=bs).images
        torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)
    other = custom(["a bird", prompts[1]], generator=torch.Generator().manual_seed(2), output_type="pt").images
    torch.testing.assert_close(other[1], ref[1], atol=1e-5, rtol=0)


def test_optimize_keeps_images_and_warns_for_families_without_a_rewrite(pipe):
    import copy
    import warnings

    fast = copy.copy(pipe).optimize()
    assert fast.generator is not pipe.generator
    torch.testing.assert_close(_images(fast, PROMPTS), _images(pipe, PROMPTS), atol=1e-5, rtol=0)
    custom = textgan.TextToImagePipeline(pipe.tokenizer, pipe.text_encoder, _WordGenerator(), family="test")
    with pytest.warns(UserWarning, match="no inference rewrite"):
        custom.optimize()
    assert isinstance(custom.generator, _WordGenerator)
