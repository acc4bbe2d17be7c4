"""Parity adapters for the SISGAN fixtures (sisgan_G, sisgan_G_vgg, sisgan_D, sisgan_vse_text).

The original generator draws its conditioning noise with ``torch.randn`` inside ``forward``; the fixtures
stored that draw as ``input/z``, which textgan takes as the explicit ``noise`` argument.
"""
from textgan.convert import from_official


def _generator(state, inputs, meta):
    out = from_official("sisgan", state)(inputs["image"], inputs["txt_feat"], inputs["z"])
    return {"image": out.image, "z_mean": out.z_mean, "z_log_stddev": out.z_log_stddev}


def _discriminator(state, inputs, meta):
    return {"logit": from_official("sisgan_discriminator", state)(inputs["image"], inputs["txt_feat"])}


def _vse_text(state, inputs, meta):
    encoder = from_official("sisgan_text_encoder", state)
    return {"txt_feat_packed": encoder(inputs["word_vectors"], inputs["lengths"]),
            "txt_feat_unpacked": encoder(inputs["word_vectors"])}


ADAPTERS = {"sisgan_G": _generator, "sisgan_G_vgg": _generator, "sisgan_D": _discriminator,
            "sisgan_vse_text": _vse_text}
