"""Parity adapters for SSA-GAN (ssagan_*) and SEMA (sema_*) fixtures: modules built from the weights only."""
from textgan.convert import from_official
from textgan.models.sema import SEMAResidualBlock
from textgan.models.ssagan import SSAGANBlock


def _ssagan_G(state, inputs, meta):
    img, masks = from_official("ssagan", state)(inputs["noise"], inputs["sent_emb"], return_masks=True)
    out = {"img": img}
    out.update({f"mask_{m.shape[-1]}": m for m in masks})  # named by their size, as the fixtures
    return out


def _ssagan_D(state, inputs, meta):
    net = from_official("ssagan_discriminator", state)
    features = net(inputs["img"])
    return {"features": features, "logits": net.COND_DNET(features, inputs["sent_emb"])}


def _ssagan_block(state, inputs, meta):
    out, logits = SSAGANBlock.from_state_dict(state)(inputs["x"], inputs["y"], inputs["fusion_mask"])
    return {"out": out} if logits is None else {"out": out, "mask_logits": logits}


def _sema_G(state, inputs, meta):
    return {"img": from_official("sema", state)(inputs["noise"], inputs["sent_emb"])}


def _sema_resD(state, inputs, meta):
    return {"out": SEMAResidualBlock.from_state_dict(state)(inputs["x"])}


ADAPTERS = {
    "ssagan_G": _ssagan_G,
    "ssagan_D": _ssagan_D,
    "ssagan_block": _ssagan_block,
    "sema_G": _sema_G,
    "sema_resD": _sema_resD,
}
