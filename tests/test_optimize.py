"""optimize_for_inference: same images as the plain generator, original module untouched."""
import pytest
import torch
import torch.nn.functional as F

from textgan.models.dfgan import DFGAN2020Generator, DFGANGenerator
import textgan.optimize as topt
from textgan.optimize import (OptimizedDFGANGenerator, optimize_for_inference, upsample_conv_transpose_weight,
                              upsample_conv_weight)

TOL = 1e-4


def _randomise(gen: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial weights: the affines' output layers start at the identity and DF-GAN 2020's residual
    scale at 0, which would hide errors in the conditioning and residual paths."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in gen.named_parameters():
            if "linear2" in name:
                p.add_(torch.randn(p.shape, generator=g) * 0.3)
            elif name.endswith("gamma"):
                p.fill_(0.8)
            else:
                p.mul_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
    return gen.eval()


def _inputs(gen, batch, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, gen.nz, generator=g), torch.randn(batch, gen.cond_dim, generator=g)


def _snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


GENERATORS = {
    "dfgan-64": lambda: DFGANGenerator(ngf=4, imsize=64),
    "dfgan-256": lambda: DFGANGenerator(ngf=4, imsize=256),
    "dfgan-128-odd-sizes": lambda: DFGANGenerator(ngf=3, nz=7, cond_dim=11, imsize=128, ch_size=1),
    "dfgan2020": lambda: DFGAN2020Generator(ngf=2, nz=10, cond_dim=12, affine_hidden=16),
}


@pytest.mark.parametrize("name", list(GENERATORS))
@pytest.mark.parametrize("batch", [1, 3])
def test_matches_plain_module(name, batch):
    gen = _randomise(GENERATORS[name]())
    noise, sentence = _inputs(gen, batch)
    with torch.no_grad():
        expected = gen(noise, sentence)
    assert expected.std() > 1e-2  # the weights make a non-trivial image
    fast = optimize_for_inference(gen)
    out = fast(noise, sentence)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert out.is_contiguous()  # plain NCHW, whatever the internal layout
    assert (out - expected).abs().max().item() < TOL


@pytest.mark.parametrize("options", [
    dict(channels_last=False), dict(fold_upsample=False), dict(fuse_conditioning=False),
    dict(chunk_size=1), dict(chunk_size=2), dict(chunk_size=0),
])
def test_every_option_gives_the_same_images(options):
    gen = _randomise(DFGANGenerator(ngf=4, imsize=64), seed=3)
    noise, sentence = _inputs(gen, 5)
    with torch.no_grad():
        expected = gen(noise, sentence)
    out = optimize_for_inference(gen, **options)(noise, sentence)
    assert out.is_contiguous()
    assert (out - expected).abs().max().item() < TOL


def test_original_state_dict_untouched():
    gen = _randomise(DFGANGenerator(ngf=4, imsize=64))
    before = _snapshot(gen)
    keys = list(gen.state_dict())
    ptrs = {k: v.data_ptr() for k, v in gen.state_dict().items()}
    fast = optimize_for_inference(gen)
    fast(*_inputs(gen, 2))
    after = gen.state_dict()
    assert list(after) == keys
    for k in keys:
        assert after[k].data_ptr() == ptrs[k]
        assert torch.equal(after[k], before[k]), k
    assert all(p.requires_grad for p in gen.parameters())
    # the optimised module saves as the original: same keys, same tensors
    assert list(fast.state_dict()) == keys
    assert all(torch.equal(fast.state_dict()[k], before[k]) for k in keys)
    assert fast.original is gen


def test_snapshot_refresh_and_load_state_dict():
    gen = _randomise(DFGANGenerator(ngf=4, imsize=64))
    other = _randomise(DFGANGenerator(ngf=4, imsize=64), seed=5)
    noise, sentence = _inputs(gen, 2)
    fast = optimize_for_inference(gen)
    old = fast(noise, sentence)
    with torch.no_grad():
        gen.load_state_dict(other.state_dict())
        expected = other(noise, sentence)
    assert torch.equal(fast(noise, sentence), old)  # a snapshot: unchanged until refreshed
    fast.refresh()
    assert (fast(noise, sentence) - expected).abs().max().item() < TOL
    fast2 = optimize_for_inference(_randomise(DFGANGenerator(ngf=4, imsize=64), seed=9))
    fast2.load_state_dict(other.state_dict())
    assert (fast2(noise, sentence) - expected).abs().max().item() < TOL


def test_outputs_need_no_grad_and_keep_training_mode():
    gen = _randomise(DFGANGenerator(ngf=4, imsize=64)).train()
    fast = optimize_for_inference(gen)
    out = fast(*_inputs(gen, 1))
    assert not out.requires_grad
    assert gen.training  # the original is left as it was


def test_upsample_conv_weight_equals_upsample_then_conv():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 6, 7, generator=g)
    w = torch.randn(4, 5, 3, 3, generator=g)
    expected = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), w, padding=1)
    y = F.conv2d(x, upsample_conv_weight(w), padding=1)  # (2, 16, 7, 8)
    phases = y.view(2, 2, 2, 4, 7, 8)  # (B, a, b, O, H+1, W+1)
    out = torch.empty_like(expected)
    for a in range(2):
        for b in range(2):
            out[:, :, a::2, b::2] = phases[:, a, b, :, a:a + 6, b:b + 7]
    assert (out - expected).abs().max().item() < 1e-4


def test_upsample_conv_transpose_weight_equals_upsample_then_conv():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5, 6, 7, generator=g)
    w = torch.randn(4, 5, 3, 3, generator=g)
    b = torch.randn(4, generator=g)
    expected = F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest"), w, b, padding=1)
    out = F.conv_transpose2d(x, upsample_conv_transpose_weight(w), b, stride=2, padding=1)
    assert out.shape == expected.shape
    assert (out - expected).abs().max().item() < 1e-4


@pytest.mark.parametrize("name", ["dfgan-64", "dfgan2020"])
def test_phase_convolution_mode(monkeypatch, name):
    monkeypatch.setattr(topt, "_UPSAMPLE_MODE", "phase")
    gen = _randomise(GENERATORS[name]())
    noise, sentence = _inputs(gen, 2)
    with torch.no_grad():
        expected = gen(noise, sentence)
    fast = optimize_for_inference(gen)
    assert all(b.phase for b in fast.blocks if b.upsample)
    assert (fast(noise, sentence) - expected).abs().max().item() < TOL


def test_rejects_other_modules():
    with pytest.raises(TypeError, match="DFGANGenerator"):
        optimize_for_inference(torch.nn.Linear(2, 2))


def test_delegates_to_a_model_s_own_method():
    class Own(torch.nn.Linear):
        def optimize_for_inference(self):
            return "fast"

    assert optimize_for_inference(Own(2, 2)) == "fast"
    with pytest.raises(TypeError, match="own optimize_for_inference"):
        optimize_for_inference(Own(2, 2), chunk_size=1)
    with pytest.raises(ValueError):
        optimize_for_inference(DFGANGenerator(ngf=2, imsize=64), chunk_size=-1)


def test_is_a_module_that_moves_with_to():
    fast = optimize_for_inference(_randomise(DFGANGenerator(ngf=4, imsize=64)))
    assert isinstance(fast, OptimizedDFGANGenerator)
    fast.to(torch.float64)
    assert fast.w_rgb.dtype == torch.float64
    assert "channels_last=True" in repr(fast)
    # everything derived is a non-persistent buffer: no parameters of its own, nothing of its own to save
    assert list(fast.parameters()) == [] and all(k in fast.original.state_dict() for k in fast.state_dict())
