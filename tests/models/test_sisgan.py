"""SISGAN: modules, quirks, converters, the edit pipeline and `textgan convert sisgan` / `textgan edit`.

Official-output parity of every sisgan_* fixture (shared and tests/data/parity_extra) runs in
tests/parity/test_parity.py; here are the full-size key lists, the quirks, the pipeline and the CLI.
"""
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan import TextGuidedEditPipeline  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.convert import from_official  # noqa: E402
from textgan.errors import ArchitectureMismatchError, CheckpointError, EmptyPromptError  # noqa: E402
from textgan.losses import pairwise_ranking_loss  # noqa: E402
from textgan.models.sisgan import SISGANDiscriminator, SISGANGenerator  # noqa: E402
from textgan.text import SISGANTextEncoder, VisualSemanticEmbedding, WordVectors, sisgan_tokenize  # noqa: E402

_spec = importlib.util.spec_from_file_location("wv_tests", Path(__file__).resolve().parents[1] / "text" / "test_word_vectors.py")
_wv_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_wv_tests)
write_fasttext_bin = _wv_tests.write_fasttext_bin

WORDS = ["</s>", "this", "bird", "has", "a", "red", "head", "and", "white", "belly", "small", "yellow", "wings"]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """These models are small: with one thread they run faster, above all on a shared, loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fixture(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


def _keys(name):
    return {k: tuple(v["shape"]) for k, v in json.loads((PARITY_DIR / f"{name}.keys.json").read_text())["keys"].items()}


# ------------------------------------------------------------------------------------------ modules


@pytest.mark.parametrize("name,kind,params", [("sisgan_G_vgg", "sisgan", 31_028_931), ("sisgan_G", "sisgan", 26_014_851),
                                               ("sisgan_D", "sisgan_discriminator", 3_937_217),
                                               ("sisgan_vse_text", "sisgan_text_encoder", 541_800),
                                               ("sisgan_vse", "sisgan_vse", 140_128_144)])
def test_full_size_modules_have_exactly_the_official_keys(name, kind, params):
    shapes = _keys(name)
    # PyTorch 0.2 files, as released, have no num_batches_tracked: the converter adds them
    state = {k: torch.empty(s, device="meta") for k, s in shapes.items() if not k.endswith("num_batches_tracked")}
    module = from_official(kind, state)
    got = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    # the VSE's feat_extractor.* are the classifier's own modules, registered twice in the original
    assert got == {k: s for k, s in shapes.items() if not k.startswith("feat_extractor.")}
    assert sum(p.numel() for p in module.parameters()) == params


def test_generator_quirks_are_kept():
    state, inputs, _ = _fixture("sisgan_G_vgg")
    g = from_official("sisgan", state)
    convs = [m for m in g.encoder if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 10 and all(c.dilation == (1, 1) for c in convs)  # the original dilates BatchNorms
    dilated = SISGANGenerator(**{**g.config, "dilate_vgg": True})
    dilated.load_state_dict(g.state_dict())
    dilated.eval()
    with torch.no_grad():
        out = g(inputs["image"], inputs["txt_feat"], inputs["z"])
        assert not torch.allclose(dilated(inputs["image"], inputs["txt_feat"], inputs["z"]).image, out.image)
        # LeakyReLU on log sigma: negative values are 0.2 x the linear map
        raw = inputs["txt_feat"] @ state["log_sigma.0.weight"].t()
        torch.testing.assert_close(out.z_log_stddev, torch.where(raw > 0, raw, 0.2 * raw))
    g.train()
    assert not g.encoder.training and g.residual_blocks.training  # the frozen VGG keeps its running statistics


def test_generator_noise_is_explicit_or_from_a_given_generator():
    g = textgan.create_model("sisgan", channels=(3, 4, 5), vgg_widths=(2, 3, 4, 5), text_dim=6, cond_dim=4).eval()
    image, text = torch.randn(2, 3, 16, 16), torch.randn(2, 6)
    with pytest.raises(ValueError, match="noise"):
        g(image, text)
    state = torch.get_rng_state()
    with torch.no_grad():
        a = g(image, text, generator=torch.Generator().manual_seed(3))
        b = g(image, text, g.sample_noise(2, torch.Generator().manual_seed(3)))
    assert torch.equal(torch.get_rng_state(), state)  # no hidden draw from the global generator
    assert torch.equal(a.image, b.image)
    with pytest.raises(ValueError, match="shape"):
        g(image, text, torch.randn(2, 5))


def test_generator_batch_rows_are_independent():
    state, inputs, _ = _fixture("sisgan_G")
    g = from_official("sisgan", state)
    with torch.no_grad():
        full = g(inputs["image"], inputs["txt_feat"], inputs["z"]).image
        one = g(inputs["image"][1:2], inputs["txt_feat"][1:2], inputs["z"][1:2]).image
    torch.testing.assert_close(one, full[1:2], atol=1e-6, rtol=0)


def test_discriminator_logits_keep_the_batch_dimension():
    state, inputs, expected = _fixture("sisgan_D")
    d = from_official("sisgan_discriminator", state)
    with torch.no_grad():
        one = d(inputs["image"][:1], inputs["txt_feat"][:1])  # the original's squeeze gives a 0-d tensor here
    assert one.shape == (1,)
    torch.testing.assert_close(one, expected["logit"][:1], atol=1e-5, rtol=1e-4)


def test_text_encoder_packed_equals_each_sentence_alone():
    state, inputs, _ = _fixture("sisgan_vse_text")
    enc = from_official("sisgan_text_encoder", state)
    words, lengths = inputs["word_vectors"], inputs["lengths"]
    with torch.no_grad():
        packed = enc(words, lengths)
        for i, n in enumerate(lengths.tolist()):
            torch.testing.assert_close(packed[i], enc(words[i:i + 1, :n])[0], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="at least one word"):
        enc(words, torch.tensor([0, 2, 3]))
    with pytest.raises(ValueError, match="shape"):
        enc(words, torch.tensor([1, 2]))


def test_text_encoder_reads_a_vse_file_or_a_bare_gru(tmp_path):
    state, inputs, expected = _fixture("sisgan_vse_text")
    vse = VisualSemanticEmbedding(300, vgg_widths=(2, 2, 2, 2, 2), fc_dim=4, num_classes=3)
    full = {**vse.state_dict(), **state}
    full.update({"feat_extractor." + k[len("img_encoder.classifier."):]: v for k, v in full.items()
                 if k.startswith(("img_encoder.classifier.0.", "img_encoder.classifier.3."))})
    torch.save(full, tmp_path / "text_embedding_birds.pth")
    torch.save({k[len("txt_encoder."):]: v for k, v in state.items()}, tmp_path / "gru.pth")
    for path in ("text_embedding_birds.pth", "gru.pth"):
        enc = from_official("sisgan_text_encoder", tmp_path / path)
        with torch.no_grad():
            torch.testing.assert_close(enc(inputs["word_vectors"], inputs["lengths"]), expected["txt_feat_packed"],
                                       atol=1e-5, rtol=1e-4)
    whole = from_official("sisgan_vse", tmp_path / "text_embedding_birds.pth")
    assert whole.feat_extractor[0] is whole.img_encoder.classifier[0]
    full["feat_extractor.0.weight"] = full["feat_extractor.0.weight"] + 1
    with pytest.raises(CheckpointError, match="feat_extractor.0.weight differs"):
        from_official("sisgan_vse", full)
    with pytest.raises(ArchitectureMismatchError, match="txt_encoder.weight_ih_l0"):
        from_official("sisgan_text_encoder", _fixture("sisgan_D")[0])


def test_vse_image_side_needs_224_pixels():
    vse = VisualSemanticEmbedding(5, vgg_widths=(2, 2, 2, 2, 3), fc_dim=6).eval()
    with torch.no_grad():
        img, txt = vse(torch.randn(2, 3, 224, 224), torch.randn(2, 4, 5), torch.tensor([4, 2]))
    assert img.shape == txt.shape == (2, 5)
    with pytest.raises(ValueError, match="224x224"):
        vse.encode_image(torch.randn(1, 3, 64, 64))
    enc = vse.text_encoder()
    with torch.no_grad():
        torch.testing.assert_close(enc(torch.ones(1, 3, 5)), vse.encode_text(torch.ones(1, 3, 5)))


def test_pairwise_ranking_loss_is_kiros_hinge():
    g = torch.Generator().manual_seed(0)
    x, v = torch.randn(5, 7, generator=g), torch.randn(5, 7, generator=g)
    xn, vn = x / x.norm(dim=1, keepdim=True), v / v.norm(dim=1, keepdim=True)
    s = xn @ vn.t()
    want = sum(max(0.0, 0.2 - s[i, i] + s[i, j]) + max(0.0, 0.2 - s[j, j] + s[i, j])
               for i in range(5) for j in range(5) if i != j) / 5
    torch.testing.assert_close(pairwise_ranking_loss(x, v), torch.as_tensor(want, dtype=torch.float32))
    assert pairwise_ranking_loss(x, x * 3, margin=0.0) == 0
    with pytest.raises(ValueError, match="both be"):
        pairwise_ranking_loss(x, v[:4])


def test_tokenizer_is_lower_case_word_runs():
    assert sisgan_tokenize("This small bird has a RED crown, and white belly!") == [
        "this", "small", "bird", "has", "a", "red", "crown", "and", "white", "belly"]
    assert sisgan_tokenize(" ... !") == []


# ------------------------------------------------------------------------------------------ pipeline


@pytest.fixture(scope="module")
def official_files(tmp_path_factory):
    """The released layout, made from the fixture weights: models/birds.pth (PyTorch 0.2 style: no
    num_batches_tracked), models/text_embedding_birds.pth (the whole VSE state dict, feat_extractor twice),
    and a 300-d fastText .bin."""
    folder = tmp_path_factory.mktemp("official")
    g, _, _ = _fixture("sisgan_G_vgg")
    torch.save({k: v for k, v in g.items() if not k.endswith("num_batches_tracked")}, folder / "birds.pth")
    text, _, _ = _fixture("sisgan_vse_text")
    torch.manual_seed(0)
    vse = VisualSemanticEmbedding(300, vgg_widths=(2, 2, 2, 2, 2), fc_dim=4, num_classes=3)
    full = {**vse.state_dict(), **text}
    full.update({"feat_extractor." + k[len("img_encoder.classifier."):]: v for k, v in full.items()
                 if k.startswith(("img_encoder.classifier.0.", "img_encoder.classifier.3."))})
    torch.save(full, folder / "text_embedding_birds.pth")
    matrix = np.random.default_rng(0).standard_normal((len(WORDS) + 211, 300)).astype(np.float32) * 0.3
    write_fasttext_bin(folder / "wiki.en.bin", WORDS, matrix, minn=3, maxn=6)
    d, _, _ = _fixture("sisgan_D")
    torch.save(d, folder / "D.pth")
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((75, 101, 3)) * 255).astype(np.uint8)).save(folder / "bird.jpg", quality=95)
    return folder


@pytest.fixture(scope="module")
def converted(official_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "sisgan-tiny"
    f = official_files
    assert main(["convert", "sisgan", str(f / "birds.pth"), "--text-embedding", str(f / "text_embedding_birds.pth"),
                 "--word-vectors", str(f / "wiki.en.bin"), "--discriminator", str(f / "D.pth"),
                 "--tag", "sisgan-birds", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def pipe(converted):
    return textgan.load_pretrained(converted)


def test_convert_writes_a_loadable_folder(converted, pipe):
    names = {p.name for p in converted.iterdir()}
    assert {"config.json", "model.safetensors", "text_encoder.safetensors", "word_vectors.safetensors",
            "discriminator.safetensors", "README.md"} <= names
    config = json.loads((converted / "config.json").read_text())
    assert config["pipeline"] == "TextGuidedEditPipeline" and config["tag"] == "sisgan-birds"
    assert config["image"] == {"size": 64, "resize_mode": "crop"}
    assert isinstance(pipe, TextGuidedEditPipeline) and len(pipe.word_vectors) == len(WORDS)
    assert textgan.load_pretrained(converted, with_discriminator=True).discriminator is not None


def test_cli_edit_writes_an_image_of_the_input_size_deterministically(official_files, converted, tmp_path, capsys):
    args = [str(official_files / "bird.jpg"), "this bird has a red head", "--model", str(converted), "-q"]
    for name, seed in (("a.png", "0"), ("b.png", "0"), ("c.png", "1")):
        assert main(["edit", *args, "--seed", seed, "-o", str(tmp_path / name)]) == 0
    a, b, c = (np.asarray(Image.open(tmp_path / n)) for n in ("a.png", "b.png", "c.png"))
    assert a.shape == (75, 101, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert main(["edit", *args[:2], "a small yellow bird", *args[2:], "-o", str(tmp_path / "many")]) == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["000.png", "001.png"]
    assert main(["edit", *args, "-o", str(tmp_path / "x.jpg")]) == 0
    assert Image.open(tmp_path / "x.jpg").size == (101, 75)


def test_pipeline_is_the_original_composition(pipe, official_files):
    image = Image.open(official_files / "bird.jpg")
    noise = torch.randn(1, 128)
    out = pipe(image, "This bird has a red head.", noise=noise, output_type="pt")
    # test.py: Scale(74) (bilinear, py2 integer sizes), CenterCrop(64), ToTensor, VGG normalisation
    scaled = image.resize((74 * 101 // 75, 74), Image.BILINEAR)
    left = int(np.floor((scaled.size[0] - 64) / 2 + 0.5))
    crop = np.asarray(scaled.crop((left, 5, left + 64, 69)), dtype=np.float32) / 255
    x = pipe.generator.normalize_input(torch.from_numpy(crop).permute(2, 0, 1)[None])
    words = pipe.word_vectors.lookup([["this", "bird", "has", "a", "red", "head"]])[0]
    with torch.no_grad():
        feat = pipe.text_encoder(torch.from_numpy(words))
        want = pipe.generator(x, feat, noise).image.add(1).mul(0.5).clamp(0, 1)
    torch.testing.assert_close(out.model_images, want, atol=1e-6, rtol=0)
    assert out.images[0].shape == (3, 75, 101)
    # outside the crop window the picture is untouched
    original = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
    torch.testing.assert_close(out.images[0][:, :, :3], original[:, :, :3])


def test_pipeline_pairs_and_batches_without_changing_edits(pipe, official_files):
    image = Image.open(official_files / "bird.jpg")
    prompts = ["a red bird", "a small yellow bird with white wings", "this bird has a white belly"]
    gen = lambda: torch.Generator().manual_seed(5)  # noqa: E731
    one = pipe(image, prompts, generator=gen(), batch_size=1, output_type="np")
    all_ = pipe(image, prompts, generator=gen(), batch_size=16, output_type="np")
    torch.testing.assert_close(one.model_images, all_.model_images, atol=1e-5, rtol=0)
    assert one.prompts == prompts and len(one.images) == 3 and one.images[0].shape == (75, 101, 3)
    alone = pipe(image, prompts[1], noise=one.noise[1:2], output_type="np")
    torch.testing.assert_close(alone.model_images[0], one.model_images[1], atol=1e-5, rtol=0)
    pair = pipe([image, image.transpose(Image.FLIP_LEFT_RIGHT)], ["a red bird", "a red bird"], generator=gen())
    assert len(pair.images) == 2
    with pytest.raises(ValueError, match="2 images and 3 prompts"):
        pipe([image, image], prompts)


def test_pipeline_stretch_mode_and_small_images(pipe):
    small = Image.new("RGB", (20, 9), (200, 30, 30))
    for mode in ("crop", "stretch"):
        out = pipe(small, "a red bird", generator=torch.Generator().manual_seed(0), resize_mode=mode)
        assert out.images[0].size == (20, 9) and out.model_images.shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match="resize_mode"):
        pipe(small, "a red bird", resize_mode="zoom")


def test_grayscale_and_cmyk_images_are_converted_to_rgb(pipe, official_files, tmp_path):
    rgb = Image.open(official_files / "bird.jpg").convert("RGB")
    gray = rgb.convert("L")
    cmyk = rgb.convert("CMYK")
    cmyk.save(tmp_path / "cmyk.jpg")
    gen = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    a = pipe(gray, "a red bird", generator=gen())
    b = pipe(gray.convert("RGB"), "a red bird", generator=gen())
    assert a.images[0].mode == "RGB" and a.images[0].size == gray.size
    assert np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))
    for item in (cmyk, tmp_path / "cmyk.jpg", rgb.convert("RGBA"), rgb.convert("P")):
        out = pipe(item, "a red bird", generator=gen())
        assert out.images[0].mode == "RGB" and out.images[0].size == rgb.size


def test_bad_inputs_get_clear_errors(pipe, official_files, converted, tmp_path, capsys):
    image = Image.open(official_files / "bird.jpg")
    for empty in ("", "  ?! ..."):
        with pytest.raises(EmptyPromptError, match="has no words"):
            pipe(image, empty)
    with pytest.raises(EmptyPromptError):
        pipe(image, [])
    with pytest.raises(TypeError, match="PIL image or a path"):
        pipe(np.zeros((8, 8, 3), np.uint8), "a red bird")
    with pytest.raises(FileNotFoundError, match="no such file"):
        pipe(tmp_path / "nope.jpg", "a red bird")
    (tmp_path / "not_an_image.jpg").write_text("hello")
    with pytest.raises(ValueError, match="not an image"):
        pipe(tmp_path / "not_an_image.jpg", "a red bird")
    assert main(["edit", str(official_files / "bird.jpg"), "!!!", "--model", str(converted), "-o",
                 str(tmp_path / "e.png")]) == 2
    assert "has no words" in capsys.readouterr().err
    # a .bin that is not a fastText model
    (tmp_path / "wiki.en.bin").write_bytes(b"\x00\x01binary junk" * 50)
    f = official_files
    rc = main(["convert", "sisgan", str(f / "birds.pth"), "--text-embedding", str(f / "text_embedding_birds.pth"),
               "--word-vectors", str(tmp_path / "wiki.en.bin"), "-o", str(tmp_path / "out")])
    assert rc == 2 and "is not a fastText model" in capsys.readouterr().err
    # files swapped: the generator file given as the text embedding
    rc = main(["convert", "sisgan", str(f / "birds.pth"), "--text-embedding", str(f / "birds.pth"),
               "--word-vectors", str(f / "wiki.en.bin"), "-o", str(tmp_path / "out")])
    assert rc == 2 and "txt_encoder.weight_ih_l0" in capsys.readouterr().err


def test_word_vectors_of_another_width_are_refused(official_files, tmp_path):
    write_fasttext_bin(tmp_path / "small.bin", WORDS, np.zeros((len(WORDS) + 5, 8), np.float32))
    with pytest.raises(ArchitectureMismatchError, match="300-d word vectors"):
        TextGuidedEditPipeline.from_official(official_files / "birds.pth",
                                             text_embedding=official_files / "text_embedding_birds.pth",
                                             word_vectors=tmp_path / "small.bin")


def test_save_pretrained_round_trip(pipe, tmp_path, official_files):
    folder = pipe.save_pretrained(tmp_path / "again")
    again = TextGuidedEditPipeline.from_pretrained(folder)
    image = Image.open(official_files / "bird.jpg")
    a = pipe(image, "a red bird", generator=torch.Generator().manual_seed(9))
    b = again(image, "a red bird", generator=torch.Generator().manual_seed(9))
    assert torch.equal(a.model_images, b.model_images)
    assert isinstance(again.word_vectors.matrix, np.memmap)


def test_plain_encoder_pipeline(tmp_path):
    state, _, _ = _fixture("sisgan_G")
    text, _, _ = _fixture("sisgan_vse_text")
    wv = WordVectors(WORDS, np.random.default_rng(3).standard_normal((len(WORDS), 300)).astype(np.float32))
    pipe = TextGuidedEditPipeline(wv, from_official("sisgan_text_encoder", text), from_official("sisgan", state),
                                  image_size=128, resize_mode="stretch")
    out = pipe(Image.new("RGB", (50, 60)), "a red bird", generator=torch.Generator().manual_seed(0))
    assert out.model_images.shape == (1, 3, 128, 128) and out.images[0].size == (50, 60)
    assert isinstance(pipe.generator, SISGANGenerator) and not pipe.generator.use_vgg
    assert isinstance(SISGANDiscriminator(), torch.nn.Module) and isinstance(SISGANTextEncoder(), torch.nn.Module)


def test_hub_round_trip_by_tag(pipe, official_files, fake_hub):
    pipe.push_to_hub("textgan/sisgan-birds")
    image = Image.open(official_files / "bird.jpg")
    want = pipe(image, "a red bird", generator=torch.Generator().manual_seed(4)).model_images
    loaded = textgan.load_pretrained("sisgan-birds")  # the registered tag points at textgan/sisgan-birds
    assert isinstance(loaded, TextGuidedEditPipeline)
    assert torch.equal(loaded(image, "a red bird", generator=torch.Generator().manual_seed(4)).model_images, want)
    generator = textgan.create_model("sisgan", pretrained="birds")
    assert generator.config == pipe.generator.config
