"""AttnGAN: full-size keys, legacy files, stage counts, the fused path, the mask quirk, and the pipeline end to end.

The end-to-end test writes files in the authors' released layout (bare state dicts, legacy non-zip pickles,
protocol 2, no ``num_batches_tracked``) from the attngan_G fixture weights, converts them with
``textgan convert attngan``, loads the folder and generates.
"""
import json
import sys
import warnings
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import DATASETS_DIR, PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.convert import from_official  # noqa: E402
from textgan.convert.official import attngan_pipeline_from_official  # noqa: E402
from textgan.models.attngan import AttnGANGenerator  # noqa: E402
from textgan.text import Vocabulary  # noqa: E402

CUB_CAPTIONS = DATASETS_DIR / "cub" / "captions.pickle"
COCO_CAPTIONS = DATASETS_DIR / "coco" / "captions.pickle"


def _fixture(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


def _shapes(name, size):
    return {k: tuple(v) for k, v in json.loads((PARITY_DIR / f"{name}.keys-{size}.json").read_text()).items()}


def _legacy(sd):
    """What a 2018 file holds: no num_batches_tracked (PyTorch < 0.4.1)."""
    return {k: v.clone() for k, v in sd.items() if not k.endswith("num_batches_tracked")}


# ------------------------------------------------------------------------------------ sizes and keys


@pytest.mark.parametrize("prefix,kind", [("attngan_G", "attngan"), ("attngan_D64", "attngan_discriminator"),
                                         ("attngan_D128", "attngan_discriminator"),
                                         ("attngan_D256", "attngan_discriminator"),
                                         ("attngan_cnn_encoder", "damsm_image_encoder")])
@pytest.mark.parametrize("size", ["birds", "coco"])
def test_full_size_modules_have_exactly_the_official_keys(prefix, kind, size):
    shapes = _shapes(prefix, size)
    module = from_official(kind, {k: torch.empty(s, device="meta") for k, s in shapes.items()})
    assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == shapes
    # and the same file as released in 2018, without the BatchNorm counters
    legacy = {k: torch.empty(s, device="meta") for k, s in shapes.items() if not k.endswith("num_batches_tracked")}
    assert set(from_official(kind, legacy).state_dict()) == set(shapes)


def test_full_size_configs_and_parameter_counts_match_the_notes():
    birds = from_official("attngan", {k: torch.empty(s, device="meta") for k, s in _shapes("attngan_G", "birds").items()})
    coco = from_official("attngan", {k: torch.empty(s, device="meta") for k, s in _shapes("attngan_G", "coco").items()})
    assert birds.config == dict(ngf=32, nz=100, cond_dim=256, ca_dim=100, r_num=2, branch_num=3, mask_broadcast="official")
    assert coco.config["ngf"] == 48 and coco.config["r_num"] == 3
    # the notes count every stored value (parameters and BN statistics, not the counters)
    count = lambda m: round(sum(v.numel() for k, v in m.state_dict().items()  # noqa: E731
                                if not k.endswith("num_batches_tracked")) / 1e6, 2)
    assert (count(birds), count(coco)) == (7.12, 13.87)
    assert (len(birds.state_dict()), len(coco.state_dict())) == (97, 121)
    shapes = _shapes("attngan_global_attention", "birds")
    assert shapes == {"conv_context.weight": (32, 256, 1, 1)}
    enc = from_official("damsm_image_encoder", {k: torch.empty(s, device="meta")
                                                for k, s in _shapes("attngan_cnn_encoder", "birds").items()})
    assert enc.config == dict(nef=256, width_divisor=1, align_corners=True, input_size=299)


@pytest.mark.parametrize("branch_num,r_num", [(1, 2), (2, 0), (3, 2), (4, 1)])
def test_stage_count_and_blocks_are_read_off_the_weights(branch_num, r_num):
    with torch.device("meta"):
        gen = AttnGANGenerator(ngf=2, nz=5, cond_dim=6, ca_dim=3, r_num=r_num, branch_num=branch_num)
    rebuilt = from_official("attngan", gen.state_dict())
    assert rebuilt.config["branch_num"] == branch_num
    if branch_num > 1:
        assert rebuilt.config["r_num"] == r_num


def test_a_stage_count_beyond_the_authors_three_makes_larger_images():
    torch.manual_seed(0)
    gen = AttnGANGenerator(ngf=1, nz=3, cond_dim=4, ca_dim=2, r_num=0, branch_num=4).eval()
    with torch.no_grad():
        images, maps, _, _ = gen(torch.randn(1, 3), torch.randn(1, 4), torch.randn(1, 4, 2))
    assert [i.shape[-1] for i in images] == [64, 128, 256, 512] and [m.shape[-1] for m in maps] == [64, 128, 256]


def test_legacy_pickles_from_the_torch_0_3_era_load(tmp_path):
    state, _, _ = _fixture("attngan_G")
    path = tmp_path / "bird_AttnGAN2.pth"
    torch.save(_legacy(state), path, _use_new_zipfile_serialization=False, pickle_protocol=2)
    loaded = from_official("attngan", path).state_dict()
    assert set(loaded) == set(state)
    for k, v in state.items():  # the counters, absent from the file, are 0 (unused in eval mode)
        assert torch.equal(loaded[k], v if not k.endswith("num_batches_tracked") else torch.tensor(0))


def test_wrong_files_get_errors_that_name_them(tmp_path):
    d, _, _ = _fixture("attngan_D64")
    torch.save(d, tmp_path / "netD0.pth")
    with pytest.raises(textgan.errors.ArchitectureMismatchError, match="netD0.pth.*ca_net.fc.weight"):
        from_official("attngan", tmp_path / "netD0.pth")
    g, _, _ = _fixture("attngan_G")
    del g["h_net2.att.conv_context.weight"]
    with pytest.raises(textgan.errors.StateDictMismatchError, match="h_net2.att.conv_context.weight"):
        from_official("attngan", g)


# ------------------------------------------------------------------------- forward, quirks, fast path


def _small(branch_num=3, **kw):
    torch.manual_seed(0)
    gen = AttnGANGenerator(ngf=2, nz=5, cond_dim=6, ca_dim=3, r_num=1, branch_num=branch_num, **kw)
    with torch.no_grad():  # non-trivial BN statistics so that folding them is really tested
        for m in gen.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.7, 1.3)
                m.bias.normal_(0, 0.1)
    return gen.eval()


def _inputs(lengths, nz=5, cond=6, ca=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    batch, longest = len(lengths), max(lengths)
    mask = torch.arange(longest)[None] >= torch.tensor(lengths)[:, None]
    words = torch.randn(batch, cond, longest, generator=g).masked_fill(mask[:, None], 0.0)
    return (torch.randn(batch, nz, generator=g), torch.randn(batch, cond, generator=g), words, mask,
            torch.randn(batch, ca, generator=g))


def test_fused_inference_matches_the_op_by_op_path():
    gen = _small(branch_num=2)
    args = _inputs([4, 2, 3])
    with torch.no_grad():
        ref = gen(*args)
        gen.fused_inference = True
        for channels_last in (True, False):
            gen.channels_last = channels_last
            fast = gen(*args)
            for a, b in zip(ref[0] + ref[1], fast[0] + fast[1]):
                torch.testing.assert_close(b, a, atol=2e-5, rtol=1e-4)
        with torch.inference_mode():
            torch.testing.assert_close(gen(*args)[0][-1], ref[0][-1], atol=2e-5, rtol=1e-4)
    # derived weights follow the parameters (no stale cache)
    with torch.no_grad():
        gen.h_net2.upsample[1].weight.mul_(1.5)
        gen.fused_inference = False
        ref2 = gen(*args)[0][-1]
        gen.fused_inference = True
        torch.testing.assert_close(gen(*args)[0][-1], ref2, atol=2e-5, rtol=1e-4)
    assert not torch.allclose(ref2, ref[0][-1])
    # gradients always take the op-by-op path
    gen.fused_inference = True
    out = gen(*args)[0][-1]
    assert out.requires_grad
    gen.fused_inference = False
    fast = gen.for_inference()
    assert fast.fused_inference and not gen.fused_inference and fast.state_dict().keys() == gen.state_dict().keys()
    with torch.no_grad():
        torch.testing.assert_close(fast(*args)[0][-1], gen(*args)[0][-1], atol=2e-5, rtol=1e-4)


def test_ca_noise_comes_from_the_argument_or_the_generator():
    gen = _small(branch_num=1)
    z, s, w, m, eps = _inputs([2, 2])
    with torch.no_grad():
        a = gen(z, s, w, m, eps)[0][0]
        b = gen(z, s, w, m, generator=torch.Generator().manual_seed(5))[0][0]
        c = gen(z, s, w, m, generator=torch.Generator().manual_seed(5))[0][0]
        mu, logvar = gen.ca_net.encode(s)
        d = gen(z, s, w, m, torch.zeros_like(eps))[0][0]
    assert torch.equal(b, c) and not torch.equal(a, b)
    torch.testing.assert_close(gen.ca_net(s, torch.zeros_like(eps))[0], mu)  # eps = 0 gives mu
    assert d.shape == (2, 3, 64, 64)


def test_mask_quirk_is_the_default_and_per_sample_is_one_argument_away():
    gen = _small(branch_num=2)
    z, s, w, m, eps = _inputs([4, 1, 3])
    with torch.no_grad():
        official = gen(z, s, w, m, eps)
        corrected = gen(z, s, w, m, eps, mask_broadcast="per_sample")
        alone = gen(z[1:2], s[1:2], w[1:2, :, :1], m[1:2, :1], eps[1:2])
    assert gen.mask_broadcast == "official"
    # per sample: the padded words of the one-word caption get no attention; officially they do
    assert corrected[1][0][1, 1:].abs().max() == 0
    assert official[1][0][1, 1:].abs().max() > 0
    # per sample, a sample does not depend on its batch-mates (nor on padding)
    torch.testing.assert_close(corrected[0][-1][1:2], alone[0][-1], atol=1e-5, rtol=1e-4)
    assert not torch.allclose(official[0][-1][1:2], alone[0][-1], atol=1e-4)
    gen.mask_broadcast = "per_sample"
    assert gen.config["mask_broadcast"] == "per_sample" and gen.h_net2.att.mask_broadcast == "per_sample"
    with pytest.raises(ValueError, match="mask_broadcast"):
        gen.mask_broadcast = "sometimes"


def test_bad_generator_inputs_name_the_argument():
    gen = _small(branch_num=2)
    z, s, w, m, eps = _inputs([2, 2])
    with pytest.raises(ValueError, match="sentence must be .* text encoder"):
        gen(z, torch.randn(2, 7), w, m, eps)
    with pytest.raises(ValueError, match="words must be"):
        gen(z, s, w[:, :5], m, eps)
    with pytest.raises(ValueError, match="word_mask"):
        gen(z, s, w, m[:, :1], eps)
    with pytest.raises(ValueError, match="ca_noise"):
        gen(z, s, w, m, eps[:, :2])
    with pytest.raises(ValueError, match="all padding"):
        gen(z, s, w, torch.ones_like(m), eps)


def test_discriminator_heads_and_sizes():
    for size in (64, 128, 256):
        d = textgan.create_model("attngan_discriminator", ndf=2, cond_dim=5, imsize=size).eval()
        with torch.no_grad():
            code = d(torch.zeros(2, 3, size, size))
            assert code.shape == (2, 16, 4, 4)
            assert d.cond_logits(code, torch.zeros(2, 5)).shape == (2,)
            assert d.uncond_logits(code).shape == (2,)
    no_uncond = from_official("attngan_discriminator",
                              {k: v for k, v in _fixture("attngan_D64")[0].items() if not k.startswith("UNCOND")})
    assert no_uncond.config["uncond"] is False and no_uncond.UNCOND_DNET is None
    with pytest.raises(ValueError, match="64, 128 or 256"):
        textgan.create_model("attngan_discriminator", imsize=32)
    with pytest.raises(ValueError, match=r"\(batch, 3, 64, 64\)"):
        d = textgan.create_model("attngan_discriminator", ndf=2, cond_dim=5)
        d(torch.zeros(1, 3, 128, 128))


# ----------------------------------------------------------------------- pipeline, end to end (CLI)


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    """The authors' release layout: bare G_NET state dict + DAMSM text encoder, Python-2-era legacy pickles."""
    folder = tmp_path_factory.mktemp("attngan_official")
    g, _, _ = _fixture("attngan_G")
    torch.save(_legacy(g), folder / "bird_AttnGAN2.pth", _use_new_zipfile_serialization=False, pickle_protocol=2)
    nef = g["ca_net.fc.weight"].shape[1]
    torch.manual_seed(0)
    enc = textgan.create_model("damsm_text_encoder", vocab_size=len(Vocabulary.from_file(CUB_CAPTIONS)), hidden_dim=nef)
    torch.save(enc.state_dict(), folder / "text_encoder200.pth", _use_new_zipfile_serialization=False,
               pickle_protocol=2)
    torch.manual_seed(1)
    other = textgan.create_model("damsm_text_encoder", vocab_size=len(Vocabulary.from_file(CUB_CAPTIONS)),
                                 hidden_dim=nef + 2)
    torch.save(other.state_dict(), folder / "text_encoder_wide.pth")
    return folder


@pytest.fixture(scope="module")
def converted(official_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("attngan_converted") / "attngan-tiny"
    rc = main(["convert", "attngan", str(official_files / "bird_AttnGAN2.pth"), "--text-encoder",
               str(official_files / "text_encoder200.pth"), "--captions", str(CUB_CAPTIONS), "--tag", "attngan-birds",
               "-o", str(out)])
    assert rc == 0
    return out


PROMPTS = ["a small bird with a red head", "this bird has wings that are black and a short pointed bill",
           "a yellow bird"]


def test_converted_pipeline_generates_deterministic_images_of_the_right_size(converted):
    pipe = textgan.load_pretrained(converted)
    assert pipe.family == "attngan" and pipe.tag == "attngan-birds" and pipe.truncation is None
    assert pipe.generator.mask_broadcast == "per_sample"
    out = pipe(PROMPTS, generator=torch.Generator().manual_seed(0), output_type="pt")
    assert out.images.shape == (3, 3, 256, 256)
    one = [pipe(PROMPTS[0], generator=torch.Generator().manual_seed(s), output_type="pt").images for s in (0, 0, 1)]
    assert torch.equal(one[0], one[1]) and not torch.allclose(one[0], one[2])
    # batching never changes an image (float rounding aside, which the tiny random fixture network amplifies
    # to ~5e-5) ...
    alone = pipe(PROMPTS, generator=torch.Generator().manual_seed(0), output_type="pt", batch_size=1)
    torch.testing.assert_close(alone.images, out.images, atol=2e-4, rtol=0)
    # ... which the authors' mask broadcast would break: there an image depends on the other prompts' lengths
    pipe.generator.mask_broadcast = "official"
    quirk = pipe(PROMPTS, generator=torch.Generator().manual_seed(0), output_type="pt")
    assert (quirk.images - alone.images).abs().max() > 0.05


def test_pipeline_images_are_the_official_generator_outputs_for_one_caption(converted, official_files):
    pipe = textgan.load_pretrained(converted)
    g = torch.Generator().manual_seed(3)
    out = pipe(PROMPTS[1], generator=g, output_type="pt")
    official = from_official("attngan", official_files / "bird_AttnGAN2.pth")  # official mask broadcast
    ids, lengths = pipe.tokenizer([PROMPTS[1]])
    with torch.no_grad():
        words, sent = pipe.text_encoder(ids, lengths)
        noise, eps = pipe._draw(1, torch.Generator().manual_seed(3), None)
        image = official(noise, sent, words, ids == 0, eps)[0][-1]
    torch.testing.assert_close(out.images, image.add(1).mul(0.5).clamp(0, 1), atol=1e-6, rtol=0)


def test_attention_maps_render_to_a_png(converted, tmp_path):
    from textgan.viz import attention_figure, render_attention

    pipe = textgan.load_pretrained(converted)
    fig = attention_figure(pipe, PROMPTS[0], generator=torch.Generator().manual_seed(0))
    words = pipe.tokenizer.tokenize(PROMPTS[0])
    assert fig.size == ((1 + len(words)) * (256 + 2), 14 + 256)
    fig.save(tmp_path / "attention.png")
    assert Image.open(tmp_path / "attention.png").size == fig.size
    assert pipe(PROMPTS[0], generator=torch.Generator().manual_seed(0)).images[0].size == (256, 256)
    tile = render_attention(torch.zeros(3, 64, 64), torch.rand(3, 8, 8), ["a", "red", "bird"])
    assert tile.size == (4 * 66, 14 + 64)
    with pytest.raises(ValueError, match="maps for 3 words"):
        render_attention(torch.zeros(3, 64, 64), torch.rand(2, 8, 8), ["a", "red", "bird"])


def test_long_prompts_are_truncated_to_18_words_with_a_warning(converted):
    pipe = textgan.load_pretrained(converted)
    long = " ".join(["a small red bird with black wings and a short tail"] * 3)  # 33 known words
    with pytest.warns(UserWarning, match="33 known words.*first 18"):
        ids, lengths = pipe.tokenizer([long, "a bird"])
    assert lengths.tolist() == [18, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipe.tokenizer(["a small red bird"])  # short prompts: no warning
    with pytest.warns(UserWarning, match="first 18"):
        out = pipe(long, generator=torch.Generator().manual_seed(0), output_type="pt")
    first18 = " ".join(long.split()[:18])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = pipe(first18, generator=torch.Generator().manual_seed(0), output_type="pt")
    assert torch.equal(out.images, same.images)


def test_convert_rejects_files_that_do_not_belong_together(official_files, tmp_path, capsys):
    g = official_files / "bird_AttnGAN2.pth"
    # the captions of another dataset: its vocabulary does not match the text encoder
    rc = main(["convert", "attngan", str(g), "--text-encoder", str(official_files / "text_encoder200.pth"),
               "--captions", str(COCO_CAPTIONS), "-o", str(tmp_path / "a")])
    err = capsys.readouterr().err
    assert rc == 2 and "captions.pickle" in err and "text_encoder200.pth" in err and "words" in err
    # a text encoder whose width is not the generator's condition size
    rc = main(["convert", "attngan", str(g), "--text-encoder", str(official_files / "text_encoder_wide.pth"),
               "--captions", str(CUB_CAPTIONS), "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert rc == 2 and "text_encoder_wide.pth" in err and "do not belong together" in err
    with pytest.raises(textgan.errors.ArchitectureMismatchError, match="16-d sentences"):
        attngan_pipeline_from_official(g, text_encoder=official_files / "text_encoder_wide.pth", captions=CUB_CAPTIONS)
    # the text encoder given as the generator
    rc = main(["convert", "attngan", str(official_files / "text_encoder200.pth"), "--text-encoder",
               str(official_files / "text_encoder200.pth"), "--captions", str(CUB_CAPTIONS), "-o", str(tmp_path / "c")])
    assert rc == 2 and "text_encoder200.pth" in capsys.readouterr().err
    assert not any((tmp_path / n).exists() for n in "abc")


def test_official_mask_can_be_kept_at_conversion(official_files, tmp_path):
    rc = main(["convert", "attngan", str(official_files / "bird_AttnGAN2.pth"), "--text-encoder",
               str(official_files / "text_encoder200.pth"), "--captions", str(CUB_CAPTIONS), "--mask-broadcast",
               "official", "-o", str(tmp_path / "o")])
    assert rc == 0
    assert textgan.load_pretrained(tmp_path / "o").generator.mask_broadcast == "official"


def test_registered_tags_describe_the_released_files():
    for tag, filename, words in (("attngan-birds", "bird_AttnGAN2.pth", "5450"), ("attngan-coco", "coco_AttnGAN2.pth", "27297")):
        t = textgan.get_pretrained(tag)
        assert t.original_filename == filename and t.converter == "attngan" and t.hub_id == f"textgan/{tag}"
        assert t.original_url.startswith("https://drive.google.com/") and "MIT" in t.license
        assert set(t.parts) == {"attngan", "damsm_text_encoder"} and words in t.notes
        assert {m.name for m in t.metrics} == {"IS", "R-precision"}


# --------------------------------------------------------------------------- DAMSM image encoder


def test_inception_trunk_takes_torchvision_and_damsm_state_dicts():
    from textgan.models.inception import DAMSMImageEncoder, InceptionV3

    with torch.device("meta"):
        tv = InceptionV3()  # torchvision inception_v3() names: trunk + AuxLogits + fc
    keys = set(tv.state_dict())
    assert {"AuxLogits.conv0.conv.weight", "AuxLogits.conv1.bn.running_var", "AuxLogits.fc.bias", "fc.weight",
            "Mixed_7c.branch3x3dbl_3b.bn.weight"} <= keys
    damsm = set(_shapes("attngan_cnn_encoder", "birds"))
    assert damsm - keys == {"emb_features.weight", "emb_cnn_code.weight", "emb_cnn_code.bias"}
    assert {k for k in keys - damsm} == {k for k in keys if k.startswith(("AuxLogits.", "fc."))}
    # a torchvision state dict becomes the trunk of a new encoder (heads initialised as the authors do)
    torch.manual_seed(0)
    narrow = InceptionV3(width_divisor=16)
    enc = DAMSMImageEncoder.from_torchvision(narrow.state_dict(), nef=7)
    assert enc.config["width_divisor"] == 16 and enc.emb_cnn_code.weight.shape == (7, 128)
    assert torch.equal(enc.Mixed_6e.branch_pool.conv.weight, narrow.Mixed_6e.branch_pool.conv.weight)
    assert enc.emb_features.weight.abs().max() <= 0.1
    with pytest.raises(ValueError, match="width_divisor"):
        InceptionV3(width_divisor=3)


def test_image_encoder_align_corners_switch():
    from textgan.models.inception import DAMSMImageEncoder

    torch.manual_seed(0)
    enc = DAMSMImageEncoder(nef=3, width_divisor=16, input_size=107).eval()  # small input keeps the test fast
    assert DAMSMImageEncoder().align_corners is True  # PyTorch 0.3, what the released encoders were trained with
    image = torch.rand(1, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        default, modern = enc(image)[0], enc(image, align_corners=False)[0]
        same_size = torch.rand(1, 3, 107, 107) * 2 - 1
        torch.testing.assert_close(enc(same_size)[0], enc(same_size, align_corners=False)[0])  # no resize: no effect
    assert default.shape == (1, 3, 5, 5) and (default - modern).abs().max() > 1e-3 * default.abs().max()
    with pytest.raises(ValueError, match=r"\(batch, 3, H, W\)"):
        enc(torch.zeros(1, 64, 64))
