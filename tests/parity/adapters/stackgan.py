"""Parity adapters for StackGAN-Pytorch: CA_NET, STAGE1_G, STAGE1_D, STAGE2_G (wrapping STAGE1_G) and STAGE2_D.

Modules are built from the fixture's official state dict through ``textgan.convert.from_official`` (sizes read
off the weights); the conditioning-augmentation ε the official code draws is the fixture's ``input/eps``
(``input/eps_stage1`` for the Stage-I generator inside Stage-II).
"""
from textgan.convert import from_official
from textgan.nn import ConditioningAugmentation


def _ca_net(state, inputs, meta):
    in_dim, cond_dim = ConditioningAugmentation.infer_sizes(state["fc.weight"].shape, "relu")
    net = ConditioningAugmentation(in_dim, cond_dim, variant="relu")
    net.load_state_dict(state, strict=True)
    c_code, mu, logvar = net.eval()(inputs["text_embedding"], inputs["eps"])
    return {"c_code": c_code, "mu": mu, "logvar": logvar}


def _stage1_g(state, inputs, meta):
    net = from_official("stackgan_stage1", state)
    none, fake_img, mu, logvar = net(inputs["text_embedding"], inputs["noise"], inputs["eps"])
    assert none is None
    return {"fake_img": fake_img, "mu": mu, "logvar": logvar}


def _stage2_g(state, inputs, meta):
    net = from_official("stackgan", state)
    stage1_img, fake_img, mu, logvar = net(inputs["text_embedding"], inputs["noise"], inputs["eps"],
                                           inputs["eps_stage1"])
    return {"stage1_img": stage1_img, "fake_img": fake_img, "mu": mu, "logvar": logvar}


def _discriminator(kind):
    def adapter(state, inputs, meta):
        net = from_official(kind, state)
        code = net(inputs["image"])
        out = {"img_embedding": code, "cond_logits": net.get_cond_logits(code, inputs["c_code"])}
        if net.get_uncond_logits is not None:
            out["uncond_logits"] = net.get_uncond_logits(code)
        return out

    return adapter


ADAPTERS = {
    "stackgan_ca_net": _ca_net,
    "stackgan_stage1_G": _stage1_g,
    "stackgan_stage1_D": _discriminator("stackgan_stage1_discriminator"),
    "stackgan_stage2_G": _stage2_g,
    "stackgan_stage2_D": _discriminator("stackgan_discriminator"),
}
