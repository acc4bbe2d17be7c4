"""Parity adapters for AttnGAN: G_NET, D_NET64/128/256, GlobalAttentionGeneral, CNN_ENCODER and the DAMSM losses.

Every module is built from the fixture's weights through the public converters (sizes, stage counts and the
Inception width are read off the weights); only the call follows the fixture's JSON.
"""
import torch

from textgan.convert import from_official
from textgan.losses import damsm_sentence_loss, damsm_words_loss, kl_loss
from textgan.nn import WordAttention


def _generator(state, inputs, meta):
    net = from_official("attngan", state)
    images, maps, mu, logvar = net(inputs["z_code"], inputs["sent_emb"], inputs["word_embs"], inputs.get("mask"),
                                   inputs["eps"])
    out = {"mu": mu, "logvar": logvar}
    for k, image in enumerate(images, start=1):
        out[f"fake_img{k}_{image.shape[-1]}"] = image
    for k, att in enumerate(maps, start=1):
        out[f"att{k}"] = att
    return out


def _discriminator(state, inputs, meta):
    net = from_official("attngan_discriminator", state)
    code = net(inputs["image"])
    out = {"x_code4": code, "cond_logits": net.cond_logits(code, inputs["sent_emb"])}
    if net.UNCOND_DNET is not None:
        out["uncond_logits"] = net.uncond_logits(code)
    return out


def _attention(state, inputs, meta):
    idf, cdf = state["conv_context.weight"].shape[:2]
    net = WordAttention(idf, cdf, mask_broadcast="official")
    net.load_state_dict(state, strict=True)
    weighted, attn = net(inputs["input"], inputs["context"], inputs["mask"])
    nomask_weighted, nomask_attn = net(inputs["input"], inputs["context"])
    return {"weightedContext": weighted, "attn": attn, "nomask/weightedContext": nomask_weighted,
            "nomask/attn": nomask_attn}


def _image_encoder(state, inputs, meta):
    net = from_official("damsm_image_encoder", state)
    # oneDNN runs the first (3 -> C, stride 2) convolution with another kernel when it has a single thread, and
    # this random narrow trunk amplifies that 1-ulp difference ~100x (to ~4e-5). So run with the thread count
    # the fixture was made with: recorded in the extra fixtures' JSON; the shared ones were made multi-threaded
    # (any count >= 2 reproduces them exactly, 1 does not).
    threads = torch.get_num_threads()
    torch.set_num_threads(int(meta.get("environment", {}).get("threads", max(2, threads))))
    try:
        features, code = net(inputs["image"], align_corners=False)  # the official code on torch >= 0.4
        features_2018, code_2018 = net(inputs["image"], align_corners=True)  # torch 0.3, as trained
    finally:
        torch.set_num_threads(threads)
    return {"features": features, "cnn_code": code, "align_corners_true/features": features_2018,
            "align_corners_true/cnn_code": code_2018}


def _losses(state, inputs, meta):
    cfg = meta.get("config_model_relevant", {})  # the fixture's TRAIN.SMOOTH.GAMMA1/2/3 (no weights to read them off)
    g1, g2, g3 = (float(cfg.get(f"TRAIN.SMOOTH.GAMMA{i}", d)) for i, d in ((1, 4.0), (2, 5.0), (3, 10.0)))
    out = {}
    for tag, class_ids in (("no_class_ids", None), ("with_class_ids", inputs["class_ids"])):
        w0, w1, maps = damsm_words_loss(inputs["img_features"], inputs["words_emb"], inputs["cap_lens"],
                                        inputs["labels"], class_ids, gamma1=g1, gamma2=g2, gamma3=g3)
        s0, s1 = damsm_sentence_loss(inputs["cnn_code"], inputs["sent_emb"], inputs["labels"], class_ids, gamma3=g3)
        out.update({f"{tag}/w_loss0": w0, f"{tag}/w_loss1": w1, f"{tag}/s_loss0": s0, f"{tag}/s_loss1": s1})
        out.update({f"att_maps/{i}": m for i, m in enumerate(maps)})
    out["kl_loss"] = kl_loss(inputs["mu"], inputs["logvar"])
    return out


ADAPTERS = {
    "attngan_G": _generator,
    "attngan_D64": _discriminator,
    "attngan_D128": _discriminator,
    "attngan_D256": _discriminator,
    "attngan_global_attention": _attention,
    "attngan_cnn_encoder": _image_encoder,
    "attngan_damsm_losses": _losses,
}
