"""Every registered model: forward shapes, gradients reach every parameter, save/load, seeded determinism."""
import pytest
import torch

import textgan

# small sizes for each registered model, and the inputs its forward takes (authors' positional order)
SMALL = {
    "dfgan": dict(ngf=2, nz=5, cond_dim=6, imsize=32),
    "dfgan_discriminator": dict(ndf=2, imsize=32),
    "dfgan_condition_head": dict(ndf=2, cond_dim=6),
    "dfgan2020": dict(ngf=2, nz=5, cond_dim=6, affine_hidden=7),
    "dfgan2020_discriminator": dict(ndf=2, cond_dim=6),
    "damsm_text_encoder": dict(vocab_size=11, embedding_dim=8, hidden_dim=6),
    "ssagan": dict(ngf=2, nz=5, cond_dim=6, affine_hidden=7, mask_hidden=3),
    "ssagan_discriminator": dict(ndf=2, cond_dim=6),
    "sema": dict(ngf=2, nz=5, cond_dim=6, affine_hidden=7),
    "sisgan": dict(channels=(3, 4, 5), vgg_widths=(2, 3, 4, 5), text_dim=6, cond_dim=4, num_residual=2),
    "sisgan_discriminator": dict(channels=(2, 3, 4, 5), bottleneck=3, text_dim=6, cond_dim=4),
    "sisgan_text_encoder": dict(embed_dim=5, hidden_dim=4),
    "sisgan_vse": dict(embed_dim=5, vgg_widths=(8, 8, 8, 8, 8), fc_dim=6, num_classes=0),
    "char_cnn_rnn": dict(conv1_dim=6, conv2_dim=5, cnn_dim=4, emb_dim=7),
    "gan_int_cls": dict(ngf=2, nz=5, embed_dim=6, projected_dim=3),
    "gan_int_cls_discriminator": dict(ndf=2, embed_dim=6, projected_dim=3),
    "gan_int_cls_lua": dict(ngf=2, nz=5, txt_dim=6, nt=3),
    "gan_int_cls_lua_discriminator": dict(ndf=2, txt_dim=6, nt=3),
    "attngan": dict(ngf=2, nz=5, cond_dim=6, ca_dim=3, r_num=1, branch_num=2),
    "attngan_discriminator": dict(ndf=2, cond_dim=6, imsize=64),
    "damsm_image_encoder": dict(nef=5, width_divisor=16, input_size=107),  # 5x5 region features (299: 17x17)
    "stackgan": dict(gf_dim=4, cond_dim=3, r_num=1, z_dim=5, text_dim=6, stage1_gf_dim=2),
    "stackgan_stage1": dict(gf_dim=2, cond_dim=3, z_dim=5, text_dim=6),
    "stackgan_discriminator": dict(df_dim=2, cond_dim=3),
    "stackgan_stage1_discriminator": dict(df_dim=2, cond_dim=3),
    "stackgan_tf": dict(gf_dim=4, cond_dim=3, r_num=1, z_dim=5, text_dim=6, stage1_gf_dim=2),
    "stackgan_tf_stage1": dict(gf_dim=2, cond_dim=3, z_dim=5, text_dim=6),
    "stackgan_v2": dict(gf_dim=4, z_dim=5, emb_dim=3, text_dim=6, r_num=1, branch_num=2),
    "stackgan_v2_discriminator": dict(df_dim=2, emb_dim=3, imsize=64),
}


def example_inputs(name, cfg, batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    if name in ("dfgan", "dfgan2020", "ssagan", "sema"):
        return torch.randn(batch, cfg["nz"], generator=g), torch.randn(batch, cfg["cond_dim"], generator=g)
    if name == "dfgan_discriminator":
        size = cfg["imsize"]
        return (torch.rand(batch, 3, size, size, generator=g) * 2 - 1,)
    if name in ("dfgan2020_discriminator", "ssagan_discriminator"):
        return (torch.rand(batch, 3, 256, 256, generator=g) * 2 - 1,)
    if name == "dfgan_condition_head":
        return torch.randn(batch, 8 * cfg["ndf"], 4, 4, generator=g), torch.randn(batch, cfg["cond_dim"], generator=g)
    if name == "damsm_text_encoder":
        lengths = torch.tensor([2, 5, 3][:batch])
        ids = torch.randint(1, cfg["vocab_size"], (batch, 5), generator=g)
        ids[torch.arange(5)[None] >= lengths[:, None]] = 0
        return ids, lengths
    if name == "sisgan":  # (image, sentence, conditioning noise)
        return (torch.rand(batch, 3, 16, 16, generator=g) * 2 - 1, torch.randn(batch, cfg["text_dim"], generator=g),
                torch.randn(batch, cfg["cond_dim"], generator=g))
    if name == "sisgan_discriminator":
        return torch.rand(batch, 3, 64, 64, generator=g) * 2 - 1, torch.randn(batch, cfg["text_dim"], generator=g)
    if name in ("sisgan_text_encoder", "sisgan_vse"):  # zero-padded word vectors and their lengths
        lengths = torch.tensor([2, 5, 3][:batch])
        words = torch.randn(batch, 5, cfg["embed_dim"], generator=g) * (torch.arange(5)[None, :, None] < lengths[:, None, None])
        if name == "sisgan_text_encoder":
            return words, lengths
        return torch.randn(batch, 3, 224, 224, generator=g), words, lengths
    if name == "char_cnn_rnn":  # 201 character ids (0 after the end of each text) and the text lengths
        lengths = torch.tensor([40, 201, 7][:batch])
        ids = torch.randint(1, 71, (batch, 201), generator=g) * (torch.arange(201)[None] < lengths[:, None])
        return ids, lengths
    if name in ("gan_int_cls", "gan_int_cls_lua"):  # ports: (embed, z); Lua: (noise, text)
        text = torch.randn(batch, cfg.get("embed_dim", cfg.get("txt_dim")), generator=g)
        z = torch.randn(batch, cfg["nz"], generator=g)
        return (text, z) if name == "gan_int_cls" else (z, text)
    if name in ("gan_int_cls_discriminator", "gan_int_cls_lua_discriminator"):
        return (torch.rand(batch, 3, 64, 64, generator=g) * 2 - 1,
                torch.randn(batch, cfg.get("embed_dim", cfg.get("txt_dim")), generator=g))
    if name == "attngan":  # (noise, sentence, words, word_mask, ca_noise): captions of 4, 2 and 3 words
        lengths = torch.tensor([4, 2, 3][:batch])
        mask = torch.arange(4)[None] >= lengths[:, None]
        words = torch.randn(batch, cfg["cond_dim"], 4, generator=g).masked_fill(mask[:, None], 0.0)
        return (torch.randn(batch, cfg["nz"], generator=g), torch.randn(batch, cfg["cond_dim"], generator=g), words,
                mask, torch.randn(batch, cfg["ca_dim"], generator=g))
    if name == "attngan_discriminator":
        return (torch.rand(batch, 3, cfg["imsize"], cfg["imsize"], generator=g) * 2 - 1,)
    if name == "damsm_image_encoder":
        return (torch.rand(batch, 3, 64, 64, generator=g) * 2 - 1,)
    if name == "stackgan_v2":  # (noise, text, eps)
        return (torch.randn(batch, cfg["z_dim"], generator=g), torch.randn(batch, cfg["text_dim"], generator=g),
                torch.randn(batch, cfg["emb_dim"], generator=g))
    if name == "stackgan_v2_discriminator":  # (image, condition)
        return (torch.rand(batch, 3, cfg["imsize"], cfg["imsize"], generator=g) * 2 - 1,
                torch.randn(batch, cfg["emb_dim"], generator=g))
    if name.startswith("stackgan") and not name.endswith("discriminator"):  # (text, noise, eps[, eps_stage1])
        text, z = torch.randn(batch, cfg["text_dim"], generator=g), torch.randn(batch, cfg["z_dim"], generator=g)
        eps = torch.randn(batch, cfg["cond_dim"], generator=g)
        return (text, z, eps) if name.endswith("stage1") else (text, z, eps, torch.randn(batch, cfg["cond_dim"], generator=g))
    if name.startswith("stackgan"):
        size = 64 if "stage1" in name else 256
        return (torch.rand(batch, 3, size, size, generator=g) * 2 - 1,)
    raise KeyError(name)


def expected_shapes(name, cfg, batch=3):
    if name == "dfgan":
        return [(batch, 3, cfg["imsize"], cfg["imsize"])]
    if name in ("dfgan2020", "ssagan", "sema"):
        return [(batch, 3, 256, 256)]
    if name == "dfgan_discriminator":
        return [(batch, 8 * cfg["ndf"], 4, 4)]
    if name in ("dfgan2020_discriminator", "ssagan_discriminator"):
        return [(batch, 16 * cfg["ndf"], 4, 4)]
    if name == "dfgan_condition_head":
        return [(batch, 1, 1, 1)]
    if name == "damsm_text_encoder":
        return [(batch, cfg["hidden_dim"], 5), (batch, cfg["hidden_dim"])]
    if name == "sisgan":
        return [(batch, 3, 16, 16), (batch, cfg["cond_dim"]), (batch, cfg["cond_dim"])]
    if name == "sisgan_discriminator":
        return [(batch,)]
    if name == "sisgan_text_encoder":
        return [(batch, cfg["hidden_dim"])]
    if name == "sisgan_vse":
        return [(batch, cfg["embed_dim"]), (batch, cfg["embed_dim"])]
    if name == "char_cnn_rnn":  # per-step RNN states, embedding
        return [(batch, cfg["cnn_dim"], 18), (batch, cfg["emb_dim"])]
    if name in ("gan_int_cls", "gan_int_cls_lua"):
        return [(batch, 3, 64, 64)]
    if name == "gan_int_cls_discriminator":
        return [(batch,), (batch, 8 * cfg["ndf"], 4, 4)]
    if name == "gan_int_cls_lua_discriminator":
        return [(batch,)]
    if name == "attngan":  # images per stage, attention maps per next stage, mu, logvar
        sizes = [64 * 2 ** k for k in range(cfg["branch_num"])]
        return ([(batch, 3, s, s) for s in sizes] + [(batch, 4, s, s) for s in sizes[:-1]]
                + [(batch, cfg["ca_dim"])] * 2)
    if name == "attngan_discriminator":
        return [(batch, 8 * cfg["ndf"], 4, 4), (batch,), (batch,)]
    if name == "damsm_image_encoder":
        s = (cfg["input_size"] - 3) // 2 - 1  # Conv2d_1a_3x3 and Conv2d_2a_3x3
        s = ((s - 3) // 2 + 1) - 2  # max pool, Conv2d_4a_3x3
        s = ((s - 3) // 2 + 1 - 3) // 2 + 1  # max pool, Mixed_6a
        return [(batch, cfg["nef"], s, s), (batch, cfg["nef"])]
    if name in ("stackgan_stage1", "stackgan_tf_stage1"):  # (image, mu, logvar); the authors' leading None dropped
        return [(batch, 3, 64, 64)] + [(batch, cfg["cond_dim"])] * 2
    if name in ("stackgan", "stackgan_tf"):
        return [(batch, 3, 64, 64), (batch, 3, 256, 256)] + [(batch, cfg["cond_dim"])] * 2
    if name == "stackgan_v2":  # images per branch, mu, logvar
        return [(batch, 3, 64 * 2 ** k, 64 * 2 ** k) for k in range(cfg["branch_num"])] + [(batch, cfg["emb_dim"])] * 2
    if name == "stackgan_v2_discriminator":  # [cond, uncond] probabilities
        return [(batch,), (batch,)]
    if name in ("stackgan_discriminator", "stackgan_stage1_discriminator"):  # code, cond (, uncond) logits
        return [(batch, 8 * cfg["df_dim"], 4, 4)] + [(batch,)] * (2 if name == "stackgan_discriminator" else 1)
    raise KeyError(name)


def _outputs(model, inputs, name):
    out = model(*inputs)
    out = list(out) if isinstance(out, tuple) else [out]
    if name in ("dfgan2020_discriminator", "ssagan_discriminator"):  # the head is part of this module: exercise it too
        out.append(model.COND_DNET(out[0], torch.randn(out[0].shape[0], model.config["cond_dim"])))
    if name == "attngan":  # (images per stage, attention maps, mu, logvar)
        out = [*out[0], *out[1], *out[2:]]
    if name == "attngan_discriminator":  # both heads are part of this module
        out += [model.cond_logits(out[0], torch.randn(out[0].shape[0], model.config["cond_dim"])),
                model.uncond_logits(out[0])]
    if name in ("stackgan_v2", "stackgan_v2_discriminator"):  # ([images per branch], mu, logvar) / [cond, uncond]
        out = [*out[0], *out[1:]]
    if name.startswith("stackgan"):
        out = [o for o in out if o is not None]  # STAGE1_G returns (None, image, mu, logvar)
    if name in ("stackgan_discriminator", "stackgan_stage1_discriminator"):  # the heads are part of this module
        out.append(model.get_cond_logits(out[0], torch.randn(out[0].shape[0], model.config["cond_dim"])))
        if model.get_uncond_logits is not None:
            out.append(model.get_uncond_logits(out[0]))
    return out


def test_every_registered_model_has_a_small_config():
    assert set(textgan.list_models()) == set(SMALL)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_forward_shapes(name):
    cfg = SMALL[name]
    model = textgan.create_model(name, **cfg).eval()
    with torch.no_grad():
        outs = _outputs(model, example_inputs(name, cfg), name)
    assert [tuple(o.shape) for o in outs[: len(expected_shapes(name, cfg))]] == expected_shapes(name, cfg)
    assert all(torch.isfinite(o).all() for o in outs)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_backward_reaches_every_parameter(name):
    cfg = SMALL[name]
    torch.manual_seed(0)
    model = textgan.create_model(name, **cfg).train()
    # scalar gammas start at 0 and affines at identity (the papers' init), which would hide gradients
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    if name == "damsm_text_encoder":
        model.drop.p = 0.0
    loss = sum(o.float().pow(2).mean() for o in _outputs(model, example_inputs(name, cfg), name))
    loss.backward()
    unused = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    # the authors' D blocks own a 1x1 shortcut they never use when the width does not change
    unused = [n for n in unused if not n.endswith(("conv_s.weight", "conv_s.bias"))]
    # StackGAN's Stage-II generator freezes the Stage-I it holds (requires_grad=False, as the authors' code)
    unused = [n for n in unused if not (name in ("stackgan", "stackgan_tf") and n.startswith("STAGE1_G."))]
    assert not unused


@pytest.mark.parametrize("name", sorted(SMALL))
def test_save_load_round_trip(name, tmp_path):
    cfg = SMALL[name]
    model = textgan.create_model(name, **cfg).eval()
    textgan.save_model(model, tmp_path)
    loaded = textgan.create_model(name, pretrained=str(tmp_path))
    assert loaded.config == model.config
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    inputs = example_inputs(name, cfg)
    with torch.no_grad():
        for a, b in zip(_outputs(model, inputs, name)[:1], _outputs(loaded, inputs, name)[:1]):
            assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_seeded_construction_and_forward_are_deterministic(name):
    cfg = SMALL[name]
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = textgan.create_model(name, **cfg).eval()
        with torch.no_grad():
            outs.append(_outputs(model, example_inputs(name, cfg, seed=7), name)[0])
    assert torch.equal(outs[0], outs[1])


def test_create_model_errors_name_the_problem(tmp_path):
    with pytest.raises(textgan.errors.UnknownModelError, match="unknown model 'nope'"):
        textgan.create_model("nope")
    with pytest.raises(textgan.errors.UnknownModelError, match="no pretrained weights 'mars'.*birds"):
        textgan.create_model("dfgan", pretrained="mars")
    textgan.save_model(textgan.create_model("dfgan", **SMALL["dfgan"]), tmp_path)
    with pytest.raises(textgan.errors.CheckpointError, match="no weights for model 'dfgan2020'"):
        textgan.create_model("dfgan2020", pretrained=str(tmp_path))
    with pytest.raises(textgan.errors.StateDictMismatchError, match="ngf"):
        textgan.create_model("dfgan", pretrained=str(tmp_path), ngf=3)


def test_family_factories_build_each_part():
    import inspect

    from textgan import factories

    for name in factories.__all__:
        factory = getattr(textgan, name)
        assert factory.__doc__
        if "part" in inspect.signature(factory).parameters:
            with pytest.raises(ValueError, match="part must be one of"):
                factory(part="nope")
    g = textgan.dfgan(**SMALL["dfgan"])
    assert g.registry_name == "dfgan"
    d = textgan.dfgan(part="discriminator", **SMALL["dfgan_discriminator"])
    assert d.registry_name == "dfgan_discriminator"
