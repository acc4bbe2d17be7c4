"""SSA-GAN: the mask blocks, the generator's masks, the authors' file layout end to end, and bad input."""
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
from textgan.nn import MaskedBatchNormAffine, SemanticMaskPredictor, fusion_mask  # noqa: E402
from textgan.text import Vocabulary  # noqa: E402

CAPTIONS = DATASETS_DIR / "cub" / "captions.pickle"


def _fixture(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


# ------------------------------------------------------------------------------------------- blocks


def test_masked_affine_formula_and_init():
    torch.manual_seed(0)
    aff = MaskedBatchNormAffine(5, 3, hidden_dim=4).eval()
    aff.batch_norm2d.running_mean.uniform_(-1, 1)
    aff.batch_norm2d.running_var.uniform_(0.5, 2)
    x, y, m = torch.randn(2, 3, 4, 5), torch.randn(2, 5), torch.rand(2, 1, 4, 5)
    xhat = aff.batch_norm2d(x)
    # the authors' init: γ = β = 0, so the block is a plain BatchNorm whatever the mask
    torch.testing.assert_close(aff(x, y, m), xhat)
    with torch.no_grad():
        for p in aff.parameters():
            p.normal_()
    gamma, beta = aff.fc_gamma(y)[:, :, None, None], aff.fc_beta(y)[:, :, None, None]
    torch.testing.assert_close(aff(x, y, m), (1 + m * gamma) * xhat + m * beta)
    torch.testing.assert_close(aff(x, y, torch.zeros_like(m)), xhat)  # no text where the mask is 0
    assert set(aff.state_dict()) >= {"batch_norm2d.running_mean", "fc_gamma.linear1.weight", "fc_beta.linear2.bias"}
    assert not any(k.startswith("batch_norm2d.weight") for k in aff.state_dict())  # BN without scale/shift


def test_mask_predictor_keys_and_fusion_mask():
    pred = SemanticMaskPredictor(6, 7)
    assert sorted({k.split(".")[0] for k in pred.state_dict()}) == ["0", "1", "3"]
    assert pred(torch.randn(2, 6, 4, 4)).shape == (2, 1, 4, 4)
    rebuilt = SemanticMaskPredictor.from_state_dict(pred.state_dict())
    assert (rebuilt.in_channels, rebuilt.hidden_channels) == (6, 7)
    logits = torch.randn(2, 1, 4, 4) * 3
    up = fusion_mask(logits, (8, 8))
    want = torch.sigmoid(torch.nn.functional.interpolate(logits, size=(8, 8), mode="bilinear", align_corners=True))
    torch.testing.assert_close(up, want)  # resized on the logits, then sigmoid
    torch.testing.assert_close(fusion_mask(logits), torch.sigmoid(logits))


def test_generator_returns_its_masks_at_every_scale():
    torch.manual_seed(0)
    g = textgan.create_model("ssagan", ngf=2, nz=4, cond_dim=6, affine_hidden=5, mask_hidden=3).eval()
    z, s = torch.randn(2, 4), torch.randn(2, 6)
    with torch.no_grad():
        img, masks = g(z, s, return_masks=True)
        torch.testing.assert_close(g(z, s), img, atol=1e-6, rtol=0)  # the masks are a by-product only
    assert img.shape == (2, 3, 256, 256)
    assert [m.shape for m in masks] == [(2, 1, 2 ** k, 2 ** k) for k in range(2, 9)]
    assert all(((m > 0) & (m < 1)).all() for m in masks)
    with pytest.raises(ValueError, match="sentence.*text encoder"):
        g(z, torch.randn(2, 5))


def test_missing_batchnorm_counters_are_tolerated():
    state, inputs, outputs = _fixture("ssagan_G")
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}  # a PyTorch < 0.4.1 file
    assert len(old) < len(state)
    with torch.no_grad():
        img = from_official("ssagan", {"module." + k: v for k, v in old.items()})(inputs["noise"], inputs["sent_emb"])
    torch.testing.assert_close(img, outputs["img"], atol=1e-5, rtol=1e-4)


def test_discriminator_loads_from_the_authors_prefixed_file(tmp_path):
    state, inputs, outputs = _fixture("ssagan_D")
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / "netD_550.pth")
    d = from_official("ssagan_discriminator", tmp_path / "netD_550.pth")
    assert type(d).__name__ == "SSAGANDiscriminator" and d.config == {"ndf": 4, "cond_dim": 16}
    with torch.no_grad():
        feats = d(inputs["img"])
        torch.testing.assert_close(d.COND_DNET(feats, inputs["sent_emb"]), outputs["logits"], atol=1e-5, rtol=1e-4)


# -------------------------------------------------------------------------------------- end to end


def _text_encoder(vocab_size, hidden, seed=0):
    torch.manual_seed(seed)
    return textgan.create_model("damsm_text_encoder", vocab_size=vocab_size, embedding_dim=12,
                                hidden_dim=hidden).state_dict()


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The authors' layout: models/netG_550.pth ('module.' keys, BN buffers) + its fine-tuned text encoder."""
    folder = tmp_path_factory.mktemp("ssagan_official") / "models"
    folder.mkdir()
    state, _, _ = _fixture("ssagan_G")
    torch.save({"module." + k: v for k, v in state.items()}, folder / "netG_550.pth")
    cond = state["block0.affine0.fc_gamma.linear1.weight"].shape[1]
    torch.save(_text_encoder(len(Vocabulary.from_file(CAPTIONS)), cond), folder / "text_encoder_550.pth")
    return folder


@pytest.fixture(scope="module")
def converted(official, tmp_path_factory):
    out = tmp_path_factory.mktemp("ssagan_converted") / "ssagan-tiny"
    assert main(["convert", "ssagan", str(official / "netG_550.pth"), "--text-encoder",
                 str(official / "text_encoder_550.pth"), "--captions", str(CAPTIONS), "--tag", "ssagan-birds",
                 "-o", str(out)]) == 0
    return out


def test_convert_then_load_pretrained_reproduces_the_official_outputs(converted):
    pipe = textgan.load_pretrained(converted)
    assert pipe.family == "ssagan" and pipe.tag == "ssagan-birds"
    assert pipe.truncation is None  # the authors sample plain randn
    _, inputs, outputs = _fixture("ssagan_G")
    with torch.no_grad():
        img, masks = pipe.generator(inputs["noise"], inputs["sent_emb"], return_masks=True)
    torch.testing.assert_close(img, outputs["img"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(masks[-1], outputs["mask_256"], atol=1e-5, rtol=1e-4)


def test_pipeline_images_have_the_right_size_and_follow_the_seed(converted):
    pipe = textgan.load_pretrained(converted)
    prompts = ["a small bird with a red head", "this bird is white"]
    run = lambda seed, **kw: pipe(prompts, generator=torch.Generator().manual_seed(seed), output_type="pt", **kw)  # noqa: E731
    a, b, c = run(0), run(0, batch_size=1), run(1)
    assert a.images.shape == (2, 3, 256, 256)
    torch.testing.assert_close(a.images, b.images, atol=1e-5, rtol=0)  # the batch size never changes an image
    torch.testing.assert_close(run(0).images, a.images, atol=0, rtol=0)  # a seed reproduces the images
    assert not torch.allclose(a.images, c.images)
    assert a.noise.std() > 0.5 and a.noise.abs().max() > 1.6  # plain normal noise, not truncated
    pil = pipe(prompts[0], generator=torch.Generator().manual_seed(0)).images[0]
    assert pil.size == (256, 256)
    pipe.generator = pipe.generator.optimize_for_inference()  # the inference rewrite slots into the pipeline
    torch.testing.assert_close(run(0).images, a.images, atol=1e-5, rtol=0)


def test_text_encoder_of_the_wrong_width_is_rejected(official, tmp_path, capsys):
    torch.save(_text_encoder(len(Vocabulary.from_file(CAPTIONS)), 12), tmp_path / "text_encoder200.pth")
    rc = main(["convert", "ssagan", str(official / "netG_550.pth"), "--text-encoder",
               str(tmp_path / "text_encoder200.pth"), "--captions", str(CAPTIONS), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 2
    assert "netG_550.pth" in err and "text_encoder200.pth" in err and "16-d" in err and "12-d" in err
    assert not (tmp_path / "out").exists()


def test_another_family_file_names_the_right_kind(tmp_path):
    state, _, _ = _fixture("dfgan2020_G")
    torch.save(state, tmp_path / "netG.pth")
    with pytest.raises(textgan.errors.ArchitectureMismatchError, match="netG.pth.*dfgan2020"):
        from_official("ssagan", tmp_path / "netG.pth")


# ------------------------------------------------------------------------------ inference fast path


def _randomized(ngf=16, seed=0):
    """A generator with non-trivial weights, BN statistics and residual scales (the init is an identity)."""
    torch.manual_seed(seed)
    g = textgan.create_model("ssagan", ngf=ngf, nz=6, cond_dim=10, affine_hidden=12).eval()
    with torch.no_grad():
        for mod in g.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.2), mod.running_var.uniform_(0.5, 2.0)
                if mod.affine:
                    mod.weight.uniform_(0.5, 1.5), mod.bias.normal_(0, 0.1)
            elif isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                mod.weight.normal_(0, mod.weight[0].numel() ** -0.5), mod.bias.normal_(0, 0.05)
        for name, p in g.named_parameters():
            if name.endswith("gamma"):
                p.uniform_(0.5, 1.0)
    return g


@pytest.mark.parametrize("ngf,winograd,atol", [(16, True, 1e-4), (2, False, 1e-5)])
def test_optimized_generator_matches_the_plain_one(ngf, winograd, atol):
    g = _randomized(ngf)
    fast = g.optimize_for_inference(winograd=winograd, chunk_size=1)
    assert any(c.winograd for e in fast.blocks for c in (e["c1"], e["c2"])) == winograd  # 128-ch blocks qualify
    z, s = torch.randn(2, 6), torch.randn(2, 10)
    with torch.no_grad():
        want, want_masks = g(z, s, return_masks=True)
    got, masks = fast(z, s, return_masks=True)
    assert got.shape == want.shape and got.is_contiguous()
    torch.testing.assert_close(got, want, atol=atol, rtol=0)
    for m, w in zip(masks, want_masks):
        torch.testing.assert_close(m, w, atol=atol, rtol=0)
    torch.testing.assert_close(fast(z, s), got, atol=0, rtol=0)  # reused buffers never leak between calls


def test_optimized_generator_is_a_snapshot_of_the_original():
    g = _randomized(ngf=2)
    fast = g.optimize_for_inference()
    assert fast.state_dict().keys() == g.state_dict().keys()
    z, s = torch.randn(1, 6), torch.randn(1, 10)
    before = fast(z, s)
    with torch.no_grad():
        g.fc.bias.add_(0.5)
    torch.testing.assert_close(fast(z, s), before, atol=0, rtol=0)
    with torch.no_grad():
        torch.testing.assert_close(fast.refresh()(z, s), g(z, s), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="float32 generators on the CPU"):
        g.double().optimize_for_inference()
    with pytest.raises(ValueError, match="chunk_size"):
        g.float().optimize_for_inference(chunk_size=0)


@pytest.mark.parametrize("hw", [(6, 5), (4, 4), (9, 12)])
def test_winograd_convolution_matches_conv2d(hw):
    from textgan.models.ssagan import _Conv, _Workspace

    torch.manual_seed(1)
    x, w, b = torch.randn(2, *hw, 7), torch.randn(5, 7, 3, 3) / 8, torch.randn(5)
    want = torch.nn.functional.conv2d(x.permute(0, 3, 1, 2), w, b, padding=1).permute(0, 2, 3, 1)
    got = _Conv(w, b, winograd=True)(x, _Workspace())
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
