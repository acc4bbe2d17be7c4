"""StackGAN-v2 (StackGAN++): key-by-key match with the authors' modules, loading their 'module.'-prefixed files,
noise from a generator or explicit tensors, clear errors, the birds pipeline and `textgan convert stackgan-v2`.

Parity of the outputs with the authors' code is in tests/parity (fixtures tests/data/parity_extra/stackgan_v2_*)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import textgan
from textgan.cli import main
from textgan.convert import from_official
from textgan.errors import ArchitectureMismatchError
from textgan.models.stackgan_v2 import D_NET, G_NET, stackgan_v2_pipeline
from textgan.text.charcnnrnn import CharCNNRNN

DATA = Path(__file__).resolve().parents[1] / "data"
EXTRA = DATA / "parity_extra"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from convert import t7_writer as w  # noqa: E402

NETS = {"G_NET": ("stackgan_v2", None), "D_NET64": ("stackgan_v2_discriminator", 64),
        "D_NET128": ("stackgan_v2_discriminator", 128), "D_NET256": ("stackgan_v2_discriminator", 256)}


def _keys(config):
    return json.loads((DATA / f"stackgan_v2_keys_{config}.json").read_text())


def _fixture(fid):
    t = load_file(str(EXTRA / f"{fid}.safetensors"))
    split = {g: {k.split("/", 1)[1]: v for k, v in t.items() if k.startswith(g + "/")}
             for g in ("state", "input", "output")}
    return split["state"], split["input"], split["output"]


@pytest.mark.parametrize("config", ["birds", "uncond"])
@pytest.mark.parametrize("net", sorted(NETS))
def test_state_dict_matches_the_authors_key_by_key(config, net):
    """The authors' full-size modules (birds_3stages.yml, *_3stages_color.yml), dumped by
    parity_extra/make_keys_stackgan_v2.py: a released-style file ('module.' keys, no num_batches_tracked)
    loads through from_official with every size inferred, and its state_dict has the same keys, order and shapes."""
    official = _keys(config)[net]
    kind, imsize = NETS[net]
    released = {"module." + k: torch.empty(s, device="meta") for k, s in official.items()
                if not k.endswith("num_batches_tracked")}
    model = from_official(kind, released)
    assert [(k, list(v.shape)) for k, v in model.state_dict().items()] == list(official.items())
    cond = config == "birds"
    assert model.config["b_condition"] is cond
    if imsize:
        assert model.config == dict(df_dim=64, emb_dim=128 if cond else 0, imsize=imsize, b_condition=cond)
    else:
        assert model.config == dict(gf_dim=64, z_dim=100, emb_dim=128 if cond else 0, text_dim=1024 if cond else 0,
                                    r_num=2, branch_num=3, b_condition=cond)
    # the registered defaults are the releases' sizes
    with torch.device("meta"):
        default = textgan.create_model(kind, b_condition=cond, **({"imsize": imsize} if imsize else {}))
    assert {k: list(v.shape) for k, v in default.state_dict().items()} == official


def test_released_generator_file_round_trip(tmp_path):
    state, inputs, outputs = _fixture("stackgan_v2_G.cond_gf4_e6_z5_t12_r2_br3_b1")
    path = tmp_path / "netG_210000.pth"
    torch.save({"module." + k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, path)
    g = from_official("stackgan_v2", path)
    assert g.config["branch_num"] == 3 and g.config["emb_dim"] == 6
    with torch.no_grad():
        imgs, mu, logvar = g(inputs["z_code"], inputs["text_embedding"], inputs["eps"])
    assert torch.equal(imgs[-1], outputs["fake_img_256"]) and torch.equal(mu, outputs["mu"])
    # CLI without a text encoder: the network alone, loadable by create_model
    assert main(["convert", "stackgan-v2", str(path), "-o", str(tmp_path / "g")]) == 0
    again = textgan.create_model("stackgan_v2", pretrained=str(tmp_path / "g"))
    with torch.no_grad():
        assert torch.equal(again(inputs["z_code"], inputs["text_embedding"], inputs["eps"])[0][-1], imgs[-1])
    d_state = _fixture("stackgan_v2_D.im128_uncond_df2_b2")[0]
    torch.save({"module." + k: v for k, v in d_state.items()}, tmp_path / "netD1.pth")
    assert main(["convert", "stackgan-v2", str(tmp_path / "netD1.pth"), "-o", str(tmp_path / "d")]) == 0
    d = textgan.create_model("stackgan_v2_discriminator", pretrained=str(tmp_path / "d"))
    assert d.config == dict(df_dim=2, emb_dim=0, imsize=128, b_condition=False)


def test_noise_comes_from_the_given_generator_or_tensor():
    torch.manual_seed(0)
    g = G_NET(gf_dim=4, z_dim=5, emb_dim=3, text_dim=6, r_num=1, branch_num=2).eval()
    z, text = torch.randn(2, 5), torch.randn(2, 6)
    state = torch.get_rng_state()
    with torch.no_grad():
        a = g(z, text, generator=torch.Generator().manual_seed(4))[0][-1]
        b = g(z, text, eps=torch.randn(2, 3, generator=torch.Generator().manual_seed(4)))[0][-1]
        c = g(z, text, generator=torch.Generator().manual_seed(5))[0][-1]
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is never touched
    assert torch.equal(a, b) and not torch.equal(a, c)
    u = G_NET(gf_dim=4, z_dim=5, branch_num=1, b_condition=False).eval()
    assert not hasattr(u, "ca_net") and u.extra_noise_dim == 0
    imgs, mu, logvar = u(z)
    assert imgs[0].shape == (2, 3, 64, 64) and mu is None and logvar is None


def test_bad_input_gets_clear_errors(tmp_path):
    g_state = _fixture("stackgan_v2_G.uncond_gf3_z6_br1_b4")[0]
    d_state = _fixture("stackgan_v2_D.im64_cond_df3_e5_b4")[0]
    with pytest.raises(ArchitectureMismatchError, match="discriminator.*stackgan_v2_discriminator"):
        from_official("stackgan_v2", d_state)
    with pytest.raises(ArchitectureMismatchError, match="generator.*'stackgan_v2'"):
        from_official("stackgan_v2_discriminator", g_state)
    with pytest.raises(ArchitectureMismatchError, match="StackGAN-v2.*use kind 'stackgan_v2'"):
        from_official("stackgan", {"module." + k: v for k, v in g_state.items()})
    with pytest.raises(ArchitectureMismatchError, match="use kind 'stackgan_v2_discriminator'"):
        from_official("stackgan_discriminator", d_state)
    v1 = textgan.create_model("stackgan", gf_dim=4, cond_dim=3, r_num=1, z_dim=5, text_dim=6, stage1_gf_dim=2)
    with pytest.raises(ArchitectureMismatchError, match="StackGAN v1 generator"):
        from_official("stackgan_v2", v1.state_dict())
    uncond = from_official("stackgan_v2", g_state)
    with pytest.raises(ValueError, match="unconditional"):
        uncond(torch.randn(1, 6), torch.randn(1, 1024))
    cond = G_NET(gf_dim=4, z_dim=5, emb_dim=3, text_dim=6, branch_num=1)
    with pytest.raises(ValueError, match="text_embedding"):
        cond(torch.randn(1, 5))
    with pytest.raises(ValueError, match=r"z_code must be \(batch, 5\)"):
        cond(torch.randn(1, 4), torch.randn(1, 6))
    with pytest.raises(ValueError, match="branch_num"):
        G_NET(branch_num=5)
    with pytest.raises(ValueError, match=r"\(batch, 3, 64, 64\)"):
        D_NET(df_dim=2, imsize=64)(torch.randn(1, 3, 128, 128))
    with pytest.raises(ArchitectureMismatchError, match="unconditional"):
        stackgan_v2_pipeline(uncond, CharCNNRNN(conv1_dim=4, conv2_dim=4, cnn_dim=4, emb_dim=4))


def _encoder_t7(path, emb_dim):
    torch.manual_seed(0)
    enc = CharCNNRNN(conv1_dim=10, conv2_dim=9, cnn_dim=7, emb_dim=emb_dim, rnn_type="gru", pool3=False).eval()
    with torch.no_grad():
        for p in enc.parameters():
            p.uniform_(-0.3, 0.3)
    w.write(w.sje_checkpoint(w.char_cnn_rnn_from_state(enc.state_dict(), pool3=False, gru=True)), path)
    return enc


def test_birds_pipeline_end_to_end(tmp_path):
    """official-layout netG (module. keys) + char-CNN-RNN .t7 → `textgan convert stackgan-v2` → load_pretrained
    → 256 px images, deterministic under a seed, equal to the generator on the drawn noise; precomputed embeddings."""
    state = _fixture("stackgan_v2_G.cond_gf4_e6_z5_t12_r2_br3_b1")[0]
    torch.save({"module." + k: v for k, v in state.items()}, tmp_path / "netG_210000.pth")
    enc = _encoder_t7(tmp_path / "lm_sje_birds.t7", emb_dim=state["ca_net.fc.weight"].shape[1])
    assert main(["convert", "stackgan-v2", str(tmp_path / "netG_210000.pth"), "--text-encoder",
                 str(tmp_path / "lm_sje_birds.t7"), "--tag", "stackgan-v2-birds", "-o", str(tmp_path / "out")]) == 0
    pipe = textgan.load_pretrained(str(tmp_path / "out"))
    assert type(pipe).__name__ == "StackGANPipeline" and pipe.tag == "stackgan-v2-birds"
    prompts = ["a small red bird", "a bird with a yellow belly"]
    a = pipe(prompts, generator=torch.Generator().manual_seed(0), output_type="pt")
    b = pipe(prompts, generator=torch.Generator().manual_seed(0), output_type="pt", batch_size=1)
    assert a.images.shape == (2, 3, 256, 256)
    torch.testing.assert_close(a.images, b.images, atol=1e-5, rtol=0)
    noise, eps = pipe._draw(2, torch.Generator().manual_seed(0), None)
    assert torch.equal(noise, a.noise) and eps.shape == (2, 6)
    g = from_official("stackgan_v2", tmp_path / "netG_210000.pth")
    with torch.no_grad():
        want = g(noise, enc(pipe.tokenizer(prompts)[0])[1], eps)[0][-1]
    torch.testing.assert_close(a.images, want.add(1).mul(0.5).clamp(0, 1), atol=1e-5, rtol=1e-4)
    emb = np.random.RandomState(0).randn(2, 10, enc.config["emb_dim"]).astype(np.float32)
    out = pipe.from_embeddings(emb, caption_index=3, generator=torch.Generator().manual_seed(0), output_type="np")
    assert out.images.shape == (2, 256, 256, 3)


@pytest.mark.parametrize("fid", ["stackgan_v2_G.cond_gf4_e6_z5_t12_r2_br3_b1", "stackgan_v2_G.uncond_gf3_z6_br1_b4",
                                 "stackgan_v2_G.cond_gf6_e5_z4_t9_r0_br2_b3"])
def test_fused_inference_path_matches_the_authors_outputs(fid):
    state, inputs, outputs = _fixture(fid)
    g = from_official("stackgan_v2", state)
    fast = g.optimize_for_inference()
    assert fast.fused_inference and not g.fused_inference and fast.state_dict().keys() == g.state_dict().keys()
    with torch.no_grad():
        imgs = fast(inputs["z_code"], inputs.get("text_embedding"), inputs.get("eps"))[0]
    for img in imgs:
        torch.testing.assert_close(img, outputs[f"fake_img_{img.shape[-1]}"], atol=1e-5, rtol=1e-4)
    # training and gradient-recording calls always take the op-by-op path
    z = inputs["z_code"].clone().requires_grad_(True)
    fast(z, inputs.get("text_embedding"), inputs.get("eps"))[0][-1].sum().backward()
    assert z.grad is not None


def test_pipeline_optimize_uses_the_fused_path(tmp_path):
    state = _fixture("stackgan_v2_G.cond_gf6_e5_z4_t9_r0_br2_b3")[0]
    torch.manual_seed(0)
    enc = CharCNNRNN(conv1_dim=6, conv2_dim=5, cnn_dim=4, emb_dim=state["ca_net.fc.weight"].shape[1]).eval()
    pipe = stackgan_v2_pipeline(from_official("stackgan_v2", state), enc, tag="stackgan-v2-birds")
    a = pipe("a tiny bird", generator=torch.Generator().manual_seed(1), output_type="pt").images
    pipe.optimize()
    assert pipe.generator.fused_inference and not pipe._plain_generator.fused_inference
    b = pipe("a tiny bird", generator=torch.Generator().manual_seed(1), output_type="pt").images
    assert a.shape == (1, 3, 128, 128)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
