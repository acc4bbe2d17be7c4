"""GAN-INT-CLS: the PyTorch ports' files, Reed's Lua .t7 networks, the gan-int-cls pipeline and GAN-INT."""
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "convert"))
import t7_writer as w  # noqa: E402
from _paths import PARITY_DIR  # noqa: E402

import textgan  # noqa: E402
from textgan.cli import main  # noqa: E402
from textgan.convert import from_lua_module, gan_int_cls_from_torch7, gan_int_cls_pipeline, read_torch7  # noqa: E402
from textgan.errors import ArchitectureMismatchError  # noqa: E402
from textgan.models.gan_int_cls import average_captions, gan_int_batch, interpolate_text  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Small convolutions on a shared 2-core machine run far faster on one thread (no OpenMP spinning)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _fixture(name):
    t = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in t.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


def _randomised(model, seed=0):
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        for n, b in model.named_buffers():
            if n.endswith("running_var"):
                b.uniform_(0.5, 2.0)
            elif n.endswith("running_mean"):
                b.normal_(0, 0.2)
    return model.eval()


# ------------------------------------------------------------------------------- the PyTorch ports


def test_port_checkpoints_with_module_prefix_convert_through_the_cli(tmp_path):
    g, gi, go = _fixture("ganintcls_G")
    d, di, do = _fixture("ganintcls_D")
    # aelnouby's trainer saves DataParallel state dicts: gen_<epoch>.pth / disc_<epoch>.pth with 'module.' keys
    torch.save({"module." + k: v for k, v in g.items()}, tmp_path / "gen_190.pth")
    torch.save({"module." + k: v for k, v in d.items()}, tmp_path / "disc_190.pth")
    assert main(["convert", "gan-int-cls", str(tmp_path / "gen_190.pth"), "-o", str(tmp_path / "G")]) == 0
    assert main(["convert", "gan-int-cls", str(tmp_path / "disc_190.pth"), "-o", str(tmp_path / "D")]) == 0
    gen = textgan.create_model("gan_int_cls", pretrained=str(tmp_path / "G"))
    disc = textgan.create_model("gan_int_cls_discriminator", pretrained=str(tmp_path / "D"))
    with torch.no_grad():
        torch.testing.assert_close(gen(gi["embed"], gi["z"]), go["image"], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(gen(gi["embed"], gi["z"][:, :, 0, 0]), go["image"], atol=1e-5, rtol=1e-4)
        score, features = disc(di["image"], di["embed"])
    torch.testing.assert_close(score, do["score"], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(features, do["features"], atol=1e-5, rtol=1e-4)


def test_full_size_ports_have_the_released_keys():
    for name, model, params in (("ganintcls_G", "gan_int_cls", 4_756_736),
                                ("ganintcls_D", "gan_int_cls_discriminator", 2_899_072)):
        with torch.device("meta"):
            net = textgan.create_model(model)
        keys = json.loads((PARITY_DIR / f"{name}.keys.json").read_text())["keys"]
        assert {k: v["shape"] for k, v in keys.items()} == {k: list(v.shape) for k, v in net.state_dict().items()}
        assert sum(p.numel() for p in net.parameters()) == params


# ------------------------------------------------------------------------------- Reed's Lua networks


@pytest.mark.parametrize("res_blocks,bn_version", [(1, 2), (1, 1), (2, 2)])
def test_lua_generator_t7_converts_through_the_cli(tmp_path, res_blocks, bn_version):
    g = _randomised(textgan.create_model("gan_int_cls_lua", ngf=4, nz=7, txt_dim=12, nt=5, res_blocks=res_blocks))
    # as released: a bare nn.Sequential, cudnn-converted, CUDA tensors, parameters flattened by getParameters()
    w.write(w.lua_generator(g, bn_version=bn_version), tmp_path / "net_G.t7")
    assert main(["convert", "gan-int-cls", str(tmp_path / "net_G.t7"), "-o", str(tmp_path / "out")]) == 0
    loaded = textgan.create_model("gan_int_cls_lua", pretrained=str(tmp_path / "out"))
    assert loaded.config == g.config
    noise, text = torch.randn(3, 7), torch.randn(3, 12)
    with torch.no_grad():
        want = g(noise, text)
        torch.testing.assert_close(loaded(noise, text), want, atol=1e-6, rtol=1e-5)
        # the file run module by module with Lua's table semantics: {noise (B, nz, 1, 1), text}
        lua = from_lua_module(read_torch7(tmp_path / "net_G.t7"))
        torch.testing.assert_close(lua([noise[:, :, None, None], text]), want, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("text_bn,act3", [(True, False), (False, True)])
def test_lua_discriminator_t7_converts(tmp_path, text_bn, act3):
    d = _randomised(textgan.create_model("gan_int_cls_lua_discriminator", ndf=4, txt_dim=12, nt=5, text_bn=text_bn,
                                         act3=act3))
    w.write(w.lua_discriminator(d, bn_version=1), tmp_path / "net_D.t7")
    assert main(["convert", "gan-int-cls", str(tmp_path / "net_D.t7"), "-o", str(tmp_path / "out")]) == 0
    loaded = textgan.create_model("gan_int_cls_lua_discriminator", pretrained=str(tmp_path / "out"))
    assert loaded.config == d.config
    image, text = torch.rand(2, 3, 64, 64) * 2 - 1, torch.randn(2, 12)
    with torch.no_grad():
        torch.testing.assert_close(loaded(image, text), d(image, text), atol=1e-6, rtol=1e-5)
        lua = from_lua_module(read_torch7(tmp_path / "net_D.t7"))
        torch.testing.assert_close(lua([image, text]).reshape(-1), d(image, text), atol=1e-6, rtol=1e-5)


def test_lua_networks_of_other_shapes_are_refused(tmp_path):
    g = _randomised(textgan.create_model("gan_int_cls_lua", ngf=2, nz=3, txt_dim=4, nt=2))
    net = w.lua_generator(g, flatten=False)
    net.fields["modules"][0].fields["modules"][1].fields["modules"][1].fields["negval"] = 0.1
    w.write(net, tmp_path / "a.t7")
    with pytest.raises(ArchitectureMismatchError, match=r"a\.t7.*LeakyReLU\(0\.1\), expected LeakyReLU\(0\.2\)"):
        gan_int_cls_from_torch7(tmp_path / "a.t7")
    net = w.lua_generator(g, flatten=False)
    del net.fields["modules"][-1]  # no Tanh
    w.write(net, tmp_path / "b.t7")
    with pytest.raises(ArchitectureMismatchError, match=r"not a GAN-INT-CLS generator.*nn\.Tanh"):
        gan_int_cls_from_torch7(tmp_path / "b.t7")
    w.write(w.sje_checkpoint(w.char_cnn_rnn_from_state(
        textgan.create_model("char_cnn_rnn", conv1_dim=2, conv2_dim=2, cnn_dim=2, emb_dim=4).state_dict(),
        pool3=False, gru=True)), tmp_path / "enc.t7")
    with pytest.raises(ArchitectureMismatchError, match="char_cnn_rnn_from_torch7"):
        gan_int_cls_from_torch7(tmp_path / "enc.t7")


# ------------------------------------------------------------------------------- pipelines


@pytest.fixture(scope="module")
def reed_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reed")
    torch.manual_seed(0)
    enc = textgan.create_model("char_cnn_rnn", conv1_dim=8, conv2_dim=8, cnn_dim=6, emb_dim=12).eval()
    g = _randomised(textgan.create_model("gan_int_cls_lua", ngf=4, nz=7, txt_dim=12, nt=5))
    d = _randomised(textgan.create_model("gan_int_cls_lua_discriminator", ndf=4, txt_dim=12, nt=5))
    w.write(w.sje_checkpoint(w.char_cnn_rnn_from_state(enc.state_dict(), pool3=False, gru=True)), folder / "enc.t7")
    w.write(w.lua_generator(g), folder / "net_G.t7")
    w.write(w.lua_discriminator(d), folder / "net_D.t7")
    return folder, enc, g, d


def test_pipeline_from_the_t7_files(reed_files, tmp_path):
    folder, enc, g, d = reed_files
    out = tmp_path / "pipe"
    assert main(["convert", "gan-int-cls", str(folder / "net_G.t7"), "--text-encoder", str(folder / "enc.t7"),
                 "--discriminator", str(folder / "net_D.t7"), "--tag", "gan-int-cls-birds", "-o", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["family"] == "gan-int-cls" and config["tokenizer"]["type"] == "chars"
    assert config["sampling"]["truncation"] is None
    pipe = textgan.load_pretrained(out, with_discriminator=True)
    assert pipe.discriminator.config == d.config
    prompts = ["This bird is RED, with 2 black wings.", "a yellow flower \u2014 with petals"]
    res = pipe(prompts, num_images_per_prompt=2, generator=torch.Generator().manual_seed(0), output_type="pt")
    ids, _ = pipe.tokenizer(prompts)
    with torch.no_grad():
        text = enc(ids)[1].repeat_interleave(2, 0)
        want = ((g(res.noise, text) + 1) / 2).clamp(0, 1)
    assert res.images.shape == (4, 3, 64, 64)
    torch.testing.assert_close(res.images, want, atol=1e-6, rtol=1e-5)
    again = pipe(prompts, num_images_per_prompt=2, generator=torch.Generator().manual_seed(0), output_type="pt",
                 batch_size=1)
    torch.testing.assert_close(again.images, res.images, atol=1e-6, rtol=0)


def test_pipeline_checks_and_the_port_generator(reed_files):
    folder, enc, g, _ = reed_files
    with pytest.raises(ArchitectureMismatchError, match="discriminator"):
        gan_int_cls_pipeline(folder / "net_D.t7", folder / "enc.t7")
    other = textgan.create_model("char_cnn_rnn", conv1_dim=4, conv2_dim=4, cnn_dim=4, emb_dim=9)
    with pytest.raises(ArchitectureMismatchError, match="12-d text embeddings"):
        gan_int_cls_pipeline(folder / "net_G.t7", other)
    port = _randomised(textgan.create_model("gan_int_cls", ngf=2, nz=5, embed_dim=12, projected_dim=3))
    pipe = gan_int_cls_pipeline(port, enc, tokenizer="lua-demo")
    res = pipe("a bird", generator=torch.Generator().manual_seed(1), output_type="pt")
    with torch.no_grad():  # the ports' generator is called G(embed, z): pipeline_inputs keeps that order
        want = ((port(enc(pipe.tokenizer(["a bird"])[0])[1], res.noise) + 1) / 2).clamp(0, 1)
    torch.testing.assert_close(res.images, want, atol=1e-6, rtol=1e-5)
    assert pipe.tokenizer.lowercase is False


def test_registered_tags():
    for tag, g_file, enc_file in (("gan-int-cls-birds", "cub_v2_nc4_cls0.5_int1.0_ngf128_ndf64_600_net_G.t7",
                                   "lm_sje_nc4_cub_hybrid_gru18_a1_c512_0.00070_1_10_trainvalids.txt_iter30000.t7"),
                                  ("gan-int-cls-flowers", "flowers_v2_nc1_cls0.5_int1.0_ngf128_ndf128_200_net_G.t7",
                                   "lm_sje_flowers_c10_hybrid_0.00070_1_10_trainvalids.txt_iter16400.t7")):
        t = textgan.get_pretrained(tag)
        assert t.family == "gan-int-cls" and t.original_filename == g_file and enc_file in t.text_encoder_url
        assert t.original_url.startswith("https://drive.google.com/") and t.resolution == 64
        assert set(t.parts) == {"gan_int_cls_lua", "char_cnn_rnn"} and t.license.startswith("MIT")


# ------------------------------------------------------------------------------- GAN-INT


def test_gan_int_interpolation():
    a, b = torch.randn(4), torch.randn(4)
    line = interpolate_text(a, b, 5)
    assert line.shape == (5, 4) and torch.equal(line[0], a) and torch.allclose(line[-1], b)
    torch.testing.assert_close(line[2], (a + b) / 2)
    ab = interpolate_text(torch.randn(3, 4), torch.randn(3, 4), [0.25, 0.75])
    assert ab.shape == (2, 3, 4)
    t = torch.randn(6, 4)
    batch = gan_int_batch(t)  # main_cls_int.lua interp_type=1: the batch, then (t_a + t_b) / 2 of its halves
    assert batch.shape == (9, 4) and torch.equal(batch[:6], t)
    torch.testing.assert_close(batch[6:], (t[:3] + t[3:]) / 2)
    with pytest.raises(ValueError, match="even"):
        gan_int_batch(torch.randn(3, 4))
    assert torch.allclose(average_captions(torch.ones(2, 4, 3) * torch.arange(4.0)[None, :, None]), torch.full((2, 3), 1.5))
