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
}


def example_inputs(name, cfg, batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    if name in ("dfgan", "dfgan2020"):
        return torch.randn(batch, cfg["nz"], generator=g), torch.randn(batch, cfg["cond_dim"], generator=g)
    if name == "dfgan_discriminator":
        size = cfg["imsize"]
        return (torch.rand(batch, 3, size, size, generator=g) * 2 - 1,)
    if name == "dfgan2020_discriminator":
        return (torch.rand(batch, 3, 256, 256, generator=g) * 2 - 1,)
    if name == "dfgan_condition_head":
        return torch.randn(batch, 8 * cfg["ndf"], 4, 4, generator=g), torch.randn(batch, cfg["cond_dim"], generator=g)
    if name == "damsm_text_encoder":
        lengths = torch.tensor([2, 5, 3][:batch])
        ids = torch.randint(1, cfg["vocab_size"], (batch, 5), generator=g)
        ids[torch.arange(5)[None] >= lengths[:, None]] = 0
        return ids, lengths
    raise KeyError(name)


def expected_shapes(name, cfg, batch=3):
    if name == "dfgan":
        return [(batch, 3, cfg["imsize"], cfg["imsize"])]
    if name == "dfgan2020":
        return [(batch, 3, 256, 256)]
    if name == "dfgan_discriminator":
        return [(batch, 8 * cfg["ndf"], 4, 4)]
    if name == "dfgan2020_discriminator":
        return [(batch, 16 * cfg["ndf"], 4, 4)]
    if name == "dfgan_condition_head":
        return [(batch, 1, 1, 1)]
    if name == "damsm_text_encoder":
        return [(batch, cfg["hidden_dim"], 5), (batch, cfg["hidden_dim"])]
    raise KeyError(name)


def _outputs(model, inputs, name):
    out = model(*inputs)
    out = list(out) if isinstance(out, tuple) else [out]
    if name == "dfgan2020_discriminator":  # the head is part of this module: exercise it too
        out.append(model.COND_DNET(out[0], torch.randn(out[0].shape[0], model.config["cond_dim"])))
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
