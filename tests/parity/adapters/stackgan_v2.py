"""Parity adapters for StackGAN-v2 (StackGAN++): G_NET (1-3 branches, text-conditional or not) and
D_NET64/128/256 (with or without the conditional head), fixtures in tests/data/parity_extra.

Modules are built from the fixture's official state dict through ``textgan.convert.from_official`` (every
size, the branch count, the image size and whether it is conditional read off the weights); the CA ε the
official code draws is the fixture's ``input/eps``.
"""
from textgan.convert import from_official


def _generator(state, inputs, meta):
    net = from_official("stackgan_v2", state)
    imgs, mu, logvar = net(inputs["z_code"], inputs.get("text_embedding"), inputs.get("eps"))
    out = {f"fake_img_{im.shape[-1]}": im for im in imgs}
    if mu is not None:
        out.update(mu=mu, logvar=logvar)
    return out


def _discriminator(state, inputs, meta):
    net = from_official("stackgan_v2_discriminator", state)
    if "c_code" not in inputs:
        return {"logits": net(inputs["image"])[0]}
    cond, uncond = net(inputs["image"], inputs["c_code"])
    return {"cond_logits": cond, "uncond_logits": uncond, "logits_without_c": net(inputs["image"])[0]}


ADAPTERS = {"stackgan_v2_G": _generator, "stackgan_v2_D": _discriminator}
