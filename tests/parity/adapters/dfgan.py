"""Parity adapters for DF-GAN 2020/2022 fixtures (dfgan_*, dfgan2020_*)."""
from textgan.convert import from_official
from textgan.nn import Affine, FusionUpBlock


def _generator(kind):
    def run(state, inputs, meta):
        net = from_official(kind, state)
        return {"img": net(inputs["noise"], inputs["sent_emb"])}
    return run


def _dfgan_D(state, inputs, meta):
    return {"features": from_official("dfgan_discriminator", state)(inputs["img"])}


def _dfgan_C(state, inputs, meta):
    return {"logits": from_official("dfgan_condition_head", state)(inputs["features"], inputs["sent_emb"])}


def _dfgan2020_D(state, inputs, meta):
    net = from_official("dfgan2020_discriminator", state)
    features = net(inputs["img"])
    return {"features": features, "logits": net.COND_DNET(features, inputs["sent_emb"])}


def _dfgan_affine(state, inputs, meta):
    return {"out": Affine.from_state_dict(state)(inputs["x"], inputs["y"])}


def _dfgan_gblock(state, inputs, meta):
    upsample = bool(meta.get("config_used", {}).get("upsample", True))
    return {"out": FusionUpBlock.from_state_dict(state, upsample=upsample)(inputs["x"], inputs["y"])}


ADAPTERS = {
    "dfgan_G": _generator("dfgan"),
    "dfgan_D": _dfgan_D,
    "dfgan_C": _dfgan_C,
    "dfgan_affine": _dfgan_affine,
    "dfgan_gblock": _dfgan_gblock,
    "dfgan2020_G": _generator("dfgan2020"),
    "dfgan2020_D": _dfgan2020_D,
}
