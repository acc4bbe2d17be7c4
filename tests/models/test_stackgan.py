"""StackGAN v1: the PyTorch release's classes, the TensorFlow release's classes from its checkpoint, the
conditioning-augmentation variants, full-size key sets and the errors for files of the wrong stage or release."""
import json
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _paths import PARITY_DIR, SHARED  # noqa: E402

import textgan  # noqa: E402
from textgan.convert import from_official, read_tf_checkpoint  # noqa: E402
from textgan.errors import ArchitectureMismatchError  # noqa: E402
from textgan.losses import kl_loss  # noqa: E402
from textgan.models.stackgan import STAGE1_G, STAGE2_G  # noqa: E402
from textgan.models.stackgan_fast import OptimizedStackGAN  # noqa: E402
from textgan.models.stackgan_tf import StackGANTFStage2G, stackgan_tf_from_checkpoint  # noqa: E402
from textgan.nn import ConditioningAugmentation  # noqa: E402

TF_TINY = SHARED / "tf" / "stackgan_tiny_v1"


def _fixture(name):
    tensors = load_file(str(PARITY_DIR / f"{name}.safetensors"))
    part = lambda p: {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}  # noqa: E731
    return part("state/"), part("input/"), part("output/")


# ------------------------------------------------------------------------------- TensorFlow release


@pytest.mark.parametrize("stage", [1, 2])
def test_tf_model_from_the_checkpoint_reproduces_golden_io(stage):
    golden = load_file(str(TF_TINY / "golden_io.safetensors"))
    net = stackgan_tf_from_checkpoint(TF_TINY / "stackgan_tiny.ckpt", stage=stage)
    emb, z = golden["in/embedding"], golden["in/z"]
    zero = torch.zeros(emb.shape[0], net.ef_dim)  # the golden run has no augmentation: c = mean
    nhwc = lambda x: x.permute(0, 2, 3, 1)  # noqa: E731
    with torch.no_grad():
        if stage == 1:
            _, lr, mean, log_sigma = net(emb, z, zero)
            got = {"fake_lr_nhwc": nhwc(lr), "g_mean": mean, "g_log_sigma": log_sigma}
        else:
            lr, hr, mean, log_sigma = net(emb, z, zero, zero)
            got = {"fake_lr_nhwc": nhwc(lr), "fake_hr_nhwc": nhwc(hr), "hr_mean": mean, "hr_log_sigma": log_sigma}
    for name, value in got.items():
        torch.testing.assert_close(value, golden[f"out/{name}"], atol=1e-5, rtol=1e-4, msg=name)


def test_tf_kinds_of_from_official_and_mapping_input():
    ckpt = read_tf_checkpoint(TF_TINY / "stackgan_tiny.ckpt")
    a = from_official("stackgan_tf", TF_TINY / "stackgan_tiny.ckpt")
    b = stackgan_tf_from_checkpoint(dict(ckpt.read_all()))
    assert isinstance(a, StackGANTFStage2G) and a.config == b.config
    assert a.config == dict(gf_dim=8, cond_dim=8, r_num=4, z_dim=10, text_dim=32, stage1_gf_dim=8, stage1_cond_dim=8)
    assert from_official("stackgan_tf_stage1", TF_TINY / "stackgan_tiny.ckpt").config["imsize"] == 64


def test_tf_full_size_variable_list_builds_the_birds_network():
    data = json.loads((SHARED / "tf" / "stackgan_reconstructed_varlist.json").read_text())
    names = {n: torch.empty(s, device="meta") for n, s, *_ in data["generators_test_phase"]}
    names.update({n: torch.empty(s, device="meta") for n, s, *_ in data["discriminators_train_phase"]})
    names["g_net/custom_conv2d/custom_conv2d/w/Adam"] = torch.empty(1, device="meta")  # training state: ignored
    net = stackgan_tf_from_checkpoint(names)
    assert net.config == dict(gf_dim=128, cond_dim=128, r_num=4, z_dim=100, text_dim=1024, stage1_gf_dim=128,
                              stage1_cond_dim=128)
    assert len(net.state_dict()) > 0


def test_tf_checkpoint_errors():
    ckpt = dict(read_tf_checkpoint(TF_TINY / "stackgan_tiny.ckpt").read_all())
    stage1_only = {k: v for k, v in ckpt.items() if not k.startswith("hr_g_net/")}
    with pytest.raises(ArchitectureMismatchError, match="Stage-I checkpoint"):
        stackgan_tf_from_checkpoint(stage1_only)
    assert stackgan_tf_from_checkpoint(stage1_only, stage=1).config["gf_dim"] == 8
    with pytest.raises(ArchitectureMismatchError, match="no 'g_net/'"):
        stackgan_tf_from_checkpoint({"d_net/x": torch.zeros(1)})
    broken = {k: v for k, v in ckpt.items() if "custom_conv2d_9/" not in k}
    with pytest.raises(ArchitectureMismatchError, match="custom_conv2d"):
        stackgan_tf_from_checkpoint(broken)


def test_tf_conditioning_augmentation_is_leaky_with_exp_log_sigma():
    ca = ConditioningAugmentation(6, 3, variant="tf")
    x = torch.randn(4, 6)
    eps = torch.randn(4, 3)
    c, mean, log_sigma = ca(x, eps)
    raw = torch.nn.functional.leaky_relu(ca.fc(x), 0.2)
    torch.testing.assert_close(mean, raw[:, :3])
    torch.testing.assert_close(c, mean + eps * torch.exp(log_sigma))
    drawn, m, ls = ca(torch.randn(500, 6), generator=torch.Generator().manual_seed(0))
    eps_drawn = (drawn - m) / torch.exp(ls)
    assert eps_drawn.abs().max() <= 2 + 1e-4 and eps_drawn.abs().max() > 1.5  # tf.truncated_normal: ±2
    # the TF KL_loss, -log σ + (exp(2 log σ) + μ² - 1) / 2, is kl_loss(μ, 2 log σ)
    tf_kl = torch.mean(-log_sigma + 0.5 * (-1 + torch.exp(2 * log_sigma) + mean ** 2))
    torch.testing.assert_close(kl_loss(mean, 2 * log_sigma), tf_kl)


# ------------------------------------------------------------------------------- PyTorch release


@pytest.mark.parametrize("prefix,kind", [("stackgan_stage1_G", "stackgan_stage1"), ("stackgan_stage2_G", "stackgan"),
                                         ("stackgan_stage1_D", "stackgan_stage1_discriminator"),
                                         ("stackgan_stage2_D", "stackgan_discriminator")])
def test_full_size_modules_have_exactly_the_official_keys(prefix, kind):
    for path in sorted(PARITY_DIR.glob(f"{prefix}.keys-*.json")):
        shapes = {k: tuple(v) for k, v in json.loads(path.read_text()).items()}
        module = from_official(kind, {k: torch.empty(s, device="meta") for k, s in shapes.items()})
        assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == shapes, path.name


def test_coco_sizes_and_parameter_counts_match_the_notes():
    with torch.device("meta"):
        g = textgan.stackgan()
        count = lambda m: sum(t.numel() for t in m.state_dict().values() if t.dim())  # noqa: E731
        assert g.config["gf_dim"] == 192 and g.config["r_num"] == 2 and len(g.state_dict()) == 103
        assert round(count(g) / 1e6, 1) == 57.2 and round(count(g.STAGE1_G) / 1e6, 2) == 20.07
        assert round(count(textgan.stackgan(part="discriminator")) / 1e6, 1) == 159.9
    assert not any(p.requires_grad for p in g.STAGE1_G.parameters())


def test_legacy_file_without_batchnorm_counters_loads(tmp_path):
    state, inputs, outputs = _fixture("stackgan_stage2_G")
    legacy = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(legacy, tmp_path / "netG_epoch_90.pth")
    net = from_official("stackgan", tmp_path / "netG_epoch_90.pth")
    with torch.no_grad():
        _, fake, _, _ = net(inputs["text_embedding"], inputs["noise"], inputs["eps"], inputs["eps_stage1"])
    torch.testing.assert_close(fake, outputs["fake_img"], atol=1e-5, rtol=1e-4)


def test_stage1_inside_stage2_is_the_stage1_generator():
    s2, inputs, outputs = _fixture("stackgan_stage2_G")
    net = from_official("stackgan", s2)
    stage1 = {k[len("STAGE1_G."):]: v for k, v in s2.items() if k.startswith("STAGE1_G.")}
    alone = from_official("stackgan_stage1", stage1)
    with torch.no_grad():
        _, img, _, _ = alone(inputs["text_embedding"], inputs["noise"], inputs["eps_stage1"])
    torch.testing.assert_close(img, outputs["stage1_img"], atol=1e-5, rtol=1e-4)
    assert isinstance(net.STAGE1_G, STAGE1_G) and net.STAGE1_G.config == alone.config


def test_noise_comes_from_the_generator_or_eps():
    torch.manual_seed(0)
    net = STAGE2_G(gf_dim=4, cond_dim=3, r_num=1, z_dim=5, text_dim=6, stage1_gf_dim=2).eval()
    text, z = torch.randn(2, 6), torch.randn(2, 5)
    with torch.no_grad():
        a = net(text, z, generator=torch.Generator().manual_seed(1))[1]
        b = net(text, z, generator=torch.Generator().manual_seed(1))[1]
        c = net(text, z, generator=torch.Generator().manual_seed(2))[1]
        g = torch.Generator().manual_seed(1)  # the authors' draw order: Stage-I's ε, then Stage-II's
        e1, e2 = torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g)
        d = net(text, z, e2, e1)[1]
    assert torch.equal(a, b) and not torch.equal(a, c)
    torch.testing.assert_close(a, d)
    with pytest.raises(ValueError, match="eps"):
        net(text, z, torch.zeros(2, 4))


def test_optimized_generator_matches_at_full_depth():
    state, inputs, outputs = _fixture("stackgan_stage2_G")
    net = from_official("stackgan", state)
    fast = net.optimize_for_inference()
    args = (inputs["text_embedding"], inputs["noise"], inputs["eps"], inputs["eps_stage1"])
    s1, img, mu, logvar = fast(*args)  # exact rewrites: float32 rounding only (the DF-GAN rewrite is held to 1e-4 too)
    torch.testing.assert_close(img, outputs["fake_img"], atol=1e-4, rtol=0)
    torch.testing.assert_close(s1, outputs["stage1_img"], atol=1e-4, rtol=0)
    torch.testing.assert_close(mu, outputs["mu"], atol=1e-6, rtol=1e-5)
    assert fast.state_dict().keys() == net.state_dict().keys()


def test_optimized_generator_winograd_kernels_match_the_plain_module(monkeypatch):
    """The Winograd paths (16 px 3x3 convolutions, up blocks on the up-sampled map), forced onto a small net,
    and the fallbacks that use the same stored weights (Winograd off, float64) agree with the plain module."""
    from textgan.models import stackgan_fast

    monkeypatch.setattr(stackgan_fast, "WINOGRAD_UP_MIN_CHANNELS", 1)  # every up block on maps <= 32 px
    torch.manual_seed(0)
    net = STAGE2_G(gf_dim=8, cond_dim=3, r_num=2, z_dim=5, text_dim=6, stage1_gf_dim=4).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):  # away from identity, so that folding is exercised
                m.running_mean.normal_(0, 0.2), m.running_var.uniform_(0.5, 2), m.weight.uniform_(0.5, 1.5)
    text, z, e1, e2 = torch.randn(3, 6), torch.randn(3, 5), torch.randn(3, 3), torch.randn(3, 3)
    with torch.no_grad():
        ref = net(text, z, e2, e1)
    fast = OptimizedStackGAN(net)
    assert fast._winograd_up == {"s1up1", "s1up2", "s1up3", "s1up4", "up1", "up2"}
    assert {"joint", "res0a", "res1b"} <= fast._winograd_layers
    for out in (fast(text, z, e2, e1), fast(text, z, e2, e1)):  # the second call: transformed weights cached
        for got, want in zip(out, ref):
            torch.testing.assert_close(got, want, atol=1e-4, rtol=0)
    assert fast._packed["res0a"].shape == (16, 32, 32) and fast._packed["up1"].shape == (9, 32, 16)
    plain = OptimizedStackGAN(net, winograd=False)
    assert not plain._winograd_up
    torch.testing.assert_close(plain(text, z, e2, e1)[1], ref[1], atol=1e-4, rtol=0)
    wide = fast.double()  # off the Winograd path: up blocks fold their 3x3 weight per call
    torch.testing.assert_close(wide(text.double(), z.double(), e2.double(), e1.double())[1], ref[1].double(),
                               atol=1e-4, rtol=0)


def test_factory():
    assert type(textgan.stackgan(stage=1, gf_dim=2)).__name__ == "STAGE1_G"
    assert type(textgan.stackgan(variant="tf", gf_dim=4, stage1_gf_dim=2)).__name__ == "StackGANTFStage2G"
    assert type(textgan.stackgan(part="discriminator", stage=1, df_dim=2)).__name__ == "STAGE1_D"
    with pytest.raises(ValueError, match="stage"):
        textgan.stackgan(stage=3)
    with pytest.raises(ValueError, match="discriminator"):
        textgan.stackgan(variant="tf", part="discriminator")
    tags = {t: textgan.get_pretrained(t) for t in ("stackgan-coco", "stackgan-birds", "stackgan-flowers")}
    assert tags["stackgan-coco"].original_filename == "netG_epoch_90.pth"
    assert tags["stackgan-birds"].converter == "stackgan_tf"


# --------------------------------------------------------------------------------------- bad input


def test_wrong_stage_or_network_gets_a_clear_error(tmp_path):
    s1, _, _ = _fixture("stackgan_stage1_G")
    s2, _, _ = _fixture("stackgan_stage2_G")
    d1, _, _ = _fixture("stackgan_stage1_D")
    d2, _, _ = _fixture("stackgan_stage2_D")
    cases = [("stackgan", s1, "Stage-I generator.*kind 'stackgan_stage1'"),
             ("stackgan_stage1", s2, "whole Stage-II generator.*kind 'stackgan'"),
             ("stackgan", d2, "discriminator"),
             ("stackgan_discriminator", s2, "generator, not a discriminator"),
             ("stackgan_discriminator", d1, "Stage-I discriminator"),
             ("stackgan_stage1_discriminator", d2, "Stage-II discriminator")]
    for kind, state, message in cases:
        torch.save(state, tmp_path / "file.pth")
        with pytest.raises(ArchitectureMismatchError, match=message) as info:
            from_official(kind, tmp_path / "file.pth")
        assert str(tmp_path / "file.pth") in str(info.value)


def test_tf_checkpoint_asked_for_as_coco_gets_a_clear_error():
    for kind in ("stackgan", "stackgan_stage1"):
        with pytest.raises(ArchitectureMismatchError, match="TensorFlow checkpoint.*stackgan_tf") as info:
            from_official(kind, TF_TINY / "stackgan_tiny.ckpt")
        assert "stackgan_tiny.ckpt" in str(info.value)
